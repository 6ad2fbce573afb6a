import json

import pytest

from seal.domains.arc.edit import (MAX_STEPS, ORACLE_EDIT, EditConfig, EditRejection, check_budget,
                                   parse_self_edit, self_edit_prompt, step_budget)
from seal.domains.arc.tasks import Example, Task

GOOD = {"data_generation": {"use_basic_augmentations": True, "use_size_augmentations": False,
                            "use_chain_augmentations": False, "use_repeat_augmentations": True},
        "training": {"strategy": "output_only", "learning_rate": 1e-4, "num_train_epochs": 2}}


def variant(section, key, value):
    d = json.loads(json.dumps(GOOD))
    if value is KeyError:
        del d[section][key]
    else:
        d[section][key] = value
    return json.dumps(d)


@pytest.mark.parametrize("text", [
    json.dumps(GOOD),
    f"Sure! Here is my plan:\n```json\n{json.dumps(GOOD, indent=2)}\n```\nGood luck.",
    f"I think {{this}} is hard. {json.dumps(GOOD)} trailing {{\"x\": 1}}",
])
def test_valid_edits(text):
    cfg = parse_self_edit(text)
    assert isinstance(cfg, EditConfig)
    assert cfg.use_basic_augmentations and not cfg.use_size_augmentations and cfg.use_repeat_augmentations
    assert cfg.strategy == "output_only" and cfg.learning_rate == 1e-4 and cfg.num_train_epochs == 2
    assert cfg.to_json() == GOOD


@pytest.mark.parametrize("text, fragment", [
    ("no json here", "no JSON object"),
    ('{"data_generation": {"use_basic_augmentations": true,', "no JSON object"),
    ("[1, 2]", "no JSON object"),
    (variant("data_generation", "use_size_augmentations", "false"), "use_size_augmentations must be true or false"),
    (variant("data_generation", "use_size_augmentations", 0), "must be true or false"),
    (variant("data_generation", "use_chain_augmentations", KeyError), "missing use_chain_augmentations"),
    (variant("data_generation", "use_colour_augmentations", True), "unknown key"),
    (variant("training", "strategy", "all"), "strategy must be one of"),
    (variant("training", "learning_rate", 0.1), "learning_rate must be in"),
    (variant("training", "learning_rate", 0), "learning_rate must be in"),
    (variant("training", "learning_rate", -1e-4), "learning_rate must be in"),
    (variant("training", "learning_rate", "1e-4"), "learning_rate must be a number"),
    (variant("training", "num_train_epochs", True), "num_train_epochs must be an integer"),
    (variant("training", "num_train_epochs", 2.0), "num_train_epochs must be an integer"),
    (variant("training", "num_train_epochs", 0), "num_train_epochs must be in"),
    (variant("training", "num_train_epochs", 11), "num_train_epochs must be in"),
    (json.dumps({**GOOD, "extra": 1}), "unknown top-level"),
    (json.dumps({"training": GOOD["training"]}), "'data_generation' must be an object"),
    ('{"data_generation": {}, "training": {"learning_rate": NaN}}', "no JSON object"),
    (variant("training", "learning_rate", 1e300).replace("1e+300", "1e400"), "learning_rate must be in"),
    ('{"data_generation": ' + "[" * 5000 + "]" * 5000 + "}", "no JSON object"),  # past json's recursion limit
])
def test_rejections(text, fragment):
    out = parse_self_edit(text)
    assert isinstance(out, EditRejection), out
    assert fragment in out.reason


def test_budget():
    assert MAX_STEPS == 375
    assert step_budget(250, 1) == 250 and step_budget(125, 3) == 375 and step_budget(250, 2, batch_size=2) == 250
    cfg = parse_self_edit(json.dumps(GOOD))
    assert check_budget(cfg, 187) is None            # 374 steps
    assert "over the budget" in check_budget(cfg, 188)  # 376 steps
    assert check_budget(cfg, 0) is not None
    assert check_budget(ORACLE_EDIT, 250, batch_size=2) is None


def test_oracle_edit():
    assert ORACLE_EDIT.leave_two_out and ORACLE_EDIT.strategy == "output_only"
    assert all(ORACLE_EDIT.to_json()["data_generation"].values())
    assert parse_self_edit(json.dumps(ORACLE_EDIT.to_json())) == ORACLE_EDIT
    assert EditConfig.from_dict(ORACLE_EDIT.to_dict()) == ORACLE_EDIT
    assert ORACLE_EDIT.ttt_kwargs() == {"use_basic": True, "use_size": True, "use_chain": True,
                                        "use_repeat": True, "leave_two_out": True}


def test_self_edit_prompt_shows_demonstrations_not_solutions():
    task = Task("p", [Example([[1, 2]], [[2, 1]])], [Example([[3, 4]], [[9, 9]])])
    prompt = self_edit_prompt(task)
    assert "Input:\n12\nOutput:\n21" in prompt and "Test input:\n34" in prompt and "99" not in prompt
    for key in GOOD["data_generation"]:
        assert key in prompt
    form = prompt[prompt.rindex("{\"data_generation\""):]
    # the form names every key and every allowed strategy, but holds no configuration the model could copy (an
    # example configuration anchored SmolLM2's self-edits on its values: BENCHMARKS.md, "Issue 19")
    for key in GOOD["training"]:
        assert f'"{key}": <' in form
    assert all(s in form for s in ('"output_only"', '"all_tokens"'))
    assert isinstance(parse_self_edit(form), EditRejection)
    assert "0.0001" not in prompt and "1e-4" not in prompt


@pytest.mark.parametrize("config, message", [
    ({"learning_rate": 1e-4}, "'data_generation' is missing use_basic_augmentations"),
    (ORACLE_EDIT.to_dict() | {"learning_rate": "fast"}, "learning_rate must be a number, got 'fast'"),
    (ORACLE_EDIT.to_dict() | {"num_train_epochs": 40}, "num_train_epochs must be in 1..10, got 40"),
    (ORACLE_EDIT.to_dict() | {"lr": 1e-4}, "unknown key(s) lr"),
    (ORACLE_EDIT.to_dict() | {"leave_two_out": "yes"}, "leave_two_out must be true or false"),
    ([1e-4, 2], "expected an object, got list"),
])
def test_a_stored_configuration_is_checked_as_a_self_edit_is(config, message):
    assert EditConfig.from_dict(ORACLE_EDIT.to_dict()) == ORACLE_EDIT
    assert EditConfig.from_dict(ORACLE_EDIT.to_dict() | {"leave_two_out": False}).leave_two_out is False
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EditConfig.from_dict(config)
