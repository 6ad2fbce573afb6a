"""Constrained decoding in ARC: self-edits valid by construction (they parse and fit the step budget although the
random model never writes JSON by itself), free-form sampling still counted as failures, answers that are grids of
the expected shape, and one-line errors for what cannot be compiled or run."""

import json
import re

import numpy as np
import pytest

from seal.config import LoraConfig, ModelConfig, RunConfig, to_dict
from seal.domains.arc.config import (ArcConfig, ArcDataConfig, ArcEvalConfig, ArcSelfEditConfig, ArcSolveConfig,
                                     ArcTTTConfig)
from seal.domains.arc.domain import ArcDomain, self_edit_constraint
from seal.domains.arc.edit import (EPOCHS_RANGE, LR_MAX, EditConfig, budget_epochs, check_budget, parse_self_edit,
                                   self_edit_prompt)
from seal.domains.arc.format import expected_shape, grid_regex, text_to_grid
from seal.domains.arc.solve import solve_task
from seal.domains.arc.tasks import Example, Task
from seal.errors import ConfigError
from seal.models.constrain import Constraint, compile_constraint
from seal.models.generate import HFGenerator
from seal.models.tokens import chat_prompt

pytest.importorskip("xgrammar")

TASK = Task("shapes", [Example(np.full((2, 3), c), np.full((3, 2), 9 - c)) for c in (1, 2, 3)],
            [Example(np.full((2, 3), 4), np.full((3, 2), 5))])


def test_budget_epochs_keep_every_augmentation_choice_within_the_steps():
    assert budget_epochs(250, 2, 375) == 3  # the paper's cap and batch: 250 pairs x 3 epochs / 2 = 375 steps
    assert budget_epochs(8, 2, 375) == EPOCHS_RANGE[1]
    assert budget_epochs(250, 1, 200) == 0
    worst = EditConfig(True, True, True, True, "all_tokens", 1e-4, budget_epochs(250, 2, 375))
    assert check_budget(worst, 250, 2, 375) is None
    with pytest.raises(ConfigError, match="self_edit.constrained: no epoch count fits"):
        from seal.config import load_config
        load_config(ArcConfig, None, ["self_edit.constrained=true", "ttt.max_steps=100", "ttt.batch_size=1"])


def test_constrained_self_edits_always_parse_and_fit_the_budget(tiny):
    model, tok = tiny
    cfg = ArcConfig(model=ModelConfig(name="tiny-llama"), self_edit=ArcSelfEditConfig(constrained=True))
    prompt = chat_prompt(tok, self_edit_prompt(TASK))
    gen = HFGenerator(model, tok, batch_size=8)
    texts = []
    for seed in range(3):  # 24 samples; the tiny tokenizer needs ~250 tokens for the JSON
        texts += gen.generate([prompt] * 8, max_new_tokens=400, temperature=1.0, seed=seed,
                              constraint=self_edit_constraint(cfg))
    parsed = [parse_self_edit(t) for t in texts]
    assert all(isinstance(p, EditConfig) for p in parsed), [t for t, p in zip(texts, parsed)
                                                            if not isinstance(p, EditConfig)]
    limit = budget_epochs(cfg.ttt.max_examples, cfg.ttt.batch_size, cfg.ttt.max_steps)
    assert limit == 3
    for p in parsed:
        assert check_budget(p, cfg.ttt.max_examples, cfg.ttt.batch_size, cfg.ttt.max_steps) is None
        assert 0 < p.learning_rate <= LR_MAX
    # the model, not the schema, picks the values: the samples differ
    assert len({(p.learning_rate, p.num_train_epochs, p.strategy) for p in parsed}) > 3
    free = gen.generate([prompt] * 8, max_new_tokens=60, temperature=1.0, seed=0)
    assert not any(isinstance(parse_self_edit(t), EditConfig) for t in free)


def test_the_domain_writer_is_constrained_by_the_config():
    from seal.models import load

    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    cfg = ArcConfig(model=ModelConfig(name="tiny-llama"), self_edit=ArcSelfEditConfig(constrained=True),
                    ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8)))
    domain = ArcDomain(model, tok, cfg)
    with domain.writer() as writer:
        texts = writer.generate([domain.self_edit_prompt(TASK)] * 4, max_new_tokens=400, temperature=1.0, seed=3)
    assert all(isinstance(parse_self_edit(t), EditConfig) for t in texts)


def test_expected_shape_and_grid_regex():
    def ex(shape_in, shape_out):
        return Example(np.zeros(shape_in, dtype=int), np.ones(shape_out, dtype=int))

    assert expected_shape([ex((2, 3), (2, 3)), ex((4, 1), (4, 1))], np.zeros((5, 6), dtype=int)) == (5, 6)
    assert expected_shape(TASK.train, np.zeros((7, 7), dtype=int)) == (3, 2)  # every output is 3x2
    assert expected_shape([ex((2, 3), (1, 1)), ex((2, 3), (2, 2))], np.zeros((2, 3), dtype=int)) is None
    assert re.fullmatch(grid_regex((2, 3)), "012\n345") and not re.fullmatch(grid_regex((2, 3)), "012\n34")
    anything = grid_regex(None)
    assert re.fullmatch(anything, "01\n23\n45") and not re.fullmatch(anything, "01\n234")
    assert re.fullmatch(anything, "\n".join(["0" * 30] * 30)) and not re.fullmatch(anything, "0" * 31)
    with pytest.raises(ValueError, match="within 1..30"):
        grid_regex((0, 3))


def test_constrained_answers_are_grids_of_the_expected_shape(tiny):
    model, tok = tiny
    free = solve_task(model, tok, TASK, ArcSolveConfig(views=("Identity()", "Transpose()")))
    constrained = solve_task(model, tok, TASK, ArcSolveConfig(views=("Identity()", "Transpose()"), constrained=True))
    assert free.n_parse_failures == free.n_prompts > 0  # the random model writes no grid by itself
    assert constrained.n_parse_failures == 0 and constrained.details()["constrained_answers"] is True
    assert constrained.n_prompts == free.n_prompts
    # each view's answer is 3x2 in that view, mapped back to the task's orientation: 3x2
    assert constrained.attempts[0] and all(a.shape == (3, 2) for a in constrained.attempts[0])


@pytest.mark.parametrize("constraint, fragment", [
    (Constraint("json", '{"type": "foo"}'), "Unsupported type"),
    (Constraint("json", "not json"), "Failed to parse JSON"),
    (Constraint("regex", "([0-9"), "Unclosed"),
])
def test_a_schema_xgrammar_cannot_compile_is_a_one_line_error(tiny, constraint, fragment):
    model, tok = tiny
    with pytest.raises(ConfigError, match=fragment) as e:
        compile_constraint(constraint, tok, model.config.vocab_size, [tok.eos_token_id])
    assert "\n" not in str(e.value) and str(e.value).startswith(f"constraint: xgrammar cannot compile the "
                                                                f"{constraint.kind}")
    with pytest.raises(ConfigError, match="cannot compile"):  # before any decoding
        HFGenerator(model, tok).generate(["a"], max_new_tokens=4, constraint=[Constraint("regex", "[0-9]"),
                                                                              constraint])


def test_missing_xgrammar_is_a_one_line_error_before_any_work(tmp_path, monkeypatch):
    import seal.models.constrain as constrain
    from seal.domains.arc.plugin import ArcPlugin
    from seal.recipes.eval import run_eval
    from seal.store import create_run

    monkeypatch.setattr(constrain, "is_xgrammar_available", lambda: False)  # xgrammar is installed here
    cfg = ArcConfig(run=RunConfig(root=str(tmp_path)), model=ModelConfig(name="no-such-model"),
                    solve=ArcSolveConfig(constrained=True))
    run = create_run(tmp_path, "arc eval", "t", to_dict(cfg))
    with pytest.raises(ConfigError, match=r"^solve.constrained: constrained decoding needs xgrammar"):
        run_eval(run, cfg, ArcPlugin())


def write_tasks(folder):
    tasks = {"aaaa0001": TASK.to_dict()}
    challenges = folder / "toy_challenges.json"
    challenges.write_text(json.dumps({k: {"train": v["train"], "test": [{"input": t["input"]} for t in v["test"]]}
                                      for k, v in tasks.items()}))
    (folder / "toy_solutions.json").write_text(json.dumps({k: [t["output"] for t in v["test"]]
                                                           for k, v in tasks.items()}))
    return challenges


@pytest.mark.parametrize("constrained", [False, True])
def test_arc_eval_records_the_self_edit_parse_failures(tmp_path, constrained):
    from seal.domains.arc.plugin import ArcPlugin
    from seal.recipes.eval import run_eval
    from seal.domains.arc.results import arc_table as format_table
    from seal.store import create_run

    cfg = ArcConfig(run=RunConfig(root=str(tmp_path / "runs")), model=ModelConfig(name="tiny-llama", dtype="fp32"),
                    data=ArcDataConfig(source=str(write_tasks(tmp_path))),
                    self_edit=ArcSelfEditConfig(k=2, max_new_tokens=400, constrained=constrained),
                    ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8), max_examples=4),
                    solve=ArcSolveConfig(views=("Identity()",), constrained=constrained),
                    eval=ArcEvalConfig(conditions=("ttt-untrained",)))
    run = create_run(tmp_path, "arc eval", "t", to_dict(cfg))
    results = run_eval(run, cfg, ArcPlugin())
    c = results["conditions"]["ttt-untrained"]
    assert c["n"] == 2
    if constrained:
        assert (c["edit_parse_failure_rate"], c["edit_ttt_rate"], c["parse_failure_rate"]) == (0.0, 1.0, 0.0)
        assert results["decoding"] == {"self_edits": "constrained", "answers": "grid grammar"}
    else:
        assert (c["edit_parse_failure_rate"], c["edit_ttt_rate"], c["n_rejected_malformed"]) == (1.0, 0.0, 2)
        assert results["decoding"] == {"self_edits": "free-form", "answers": "free-form"}
    table = format_table(results)
    assert ("   0%" if constrained else " 100%") in table.splitlines()[1]
    assert results["decoding"]["self_edits"] in table


@pytest.mark.slow
def test_smollm2_constrained_self_edits_parse():
    from seal.models import load

    model, tok = load("smollm2-135m-instruct")
    cfg = ArcConfig(model=ModelConfig(name="smollm2-135m-instruct"), self_edit=ArcSelfEditConfig(constrained=True))
    texts = HFGenerator(model, tok, 4).generate([chat_prompt(tok, self_edit_prompt(TASK))] * 4, max_new_tokens=160,
                                                temperature=1.0, seed=0, constraint=self_edit_constraint(cfg))
    parsed = [parse_self_edit(t) for t in texts]
    assert all(isinstance(p, EditConfig) and p.num_train_epochs <= 3 for p in parsed), texts

