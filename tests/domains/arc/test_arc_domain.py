"""The ARC domain with a model: prompts and TTT data in the chat layout, an end-to-end TTT that makes the tiny model
solve a task it could not, rejections that score 0 without raising, skipping tasks that cannot fit, and the configs."""

import json
from pathlib import Path

import numpy as np
import pytest

from seal.config import LoraConfig, ModelConfig, load_config
from seal.domains.arc.config import ArcConfig, ArcSolveConfig, ArcTTTConfig
from seal.domains.arc.domain import ArcDomain
from seal.domains.arc.edit import ORACLE_EDIT, EditConfig, tools_description
from seal.domains.arc.solve import build_prompts, encode_pairs, select_views, solve_task
from seal.domains.arc.tasks import Example, Task
from seal.errors import ConfigError
from seal.inner.lora import lora_state

REPO = Path(__file__).resolve().parents[3]

# The tiny random model cannot learn to copy cells in seconds (measured: colour swaps and copies stay unlearnt at
# every lr/epoch the schema allows), but it reliably learns a rule that ignores the input: "the answer is one cell of
# colour 5". Its base model never writes that, so ICL fails and TTT succeeds.
CONST = Task("const5", [Example(np.full(s, c), np.full((1, 1), 5)) for s, c in
                        [((2, 3), 3), ((3, 3), 7), ((2, 2), 4), ((3, 2), 6)]],
             [Example(np.array([[1, 2], [0, 1]]), np.full((1, 1), 5))])
LEARN = EditConfig(use_basic_augmentations=False, use_size_augmentations=False, use_chain_augmentations=False,
                   use_repeat_augmentations=False, strategy="output_only", learning_rate=1e-2, num_train_epochs=10)


def tiny_cfg(**solve) -> ArcConfig:
    return ArcConfig(model=ModelConfig(name="tiny-llama", dtype="fp32", device="cpu"),
                     ttt=ArcTTTConfig(lora=LoraConfig(r=8, alpha=16), batch_size=1),
                     solve=ArcSolveConfig(**solve))


@pytest.fixture(scope="module")
def domain(tiny):
    from seal.models import load

    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")  # a private copy: the LoRA wraps it
    return ArcDomain(model, tokenizer, tiny_cfg())


def test_prompts_cover_views_and_leave_one_out(tiny):
    _, tok = tiny
    views = select_views(ArcSolveConfig().views)
    prompts = build_prompts(tok, CONST, views, "leave-one-out")
    assert len(views) == 7 and len(prompts) == 7 * 4 * 1  # views x demonstrations left out x test inputs
    assert all(p.text.startswith("<|im_start|>user\n") and p.text.endswith("<|im_start|>assistant\n")
               for p in prompts)
    assert len(build_prompts(tok, CONST, views[:1], "both")) == 5
    one_demo = Task("one", CONST.train[:1], CONST.test)
    assert len(build_prompts(tok, one_demo, views[:1], "leave-one-out")) == 1  # falls back to all demonstrations


def test_ttt_pairs_use_the_inference_layout_and_mask_the_prompt(tiny):
    _, tok = tiny
    examples, dropped = encode_pairs(tok, [("Input:\n12\nOutput:\n", "21")], 10_000, prompt_in_loss=False)
    (ex,) = examples
    assert dropped == 0 and ex.ids[-1] == tok.eos_token_id
    assert tok.decode(ex.ids[:ex.n_prompt]).endswith("<|im_start|>assistant\n")
    assert tok.decode(ex.ids[ex.n_prompt:], skip_special_tokens=True) == "21"
    everything, _ = encode_pairs(tok, [("Input:\n12\nOutput:\n", "21")], 10_000, prompt_in_loss=True)
    assert everything[0].n_prompt == 0 and everything[0].ids == ex.ids
    assert encode_pairs(tok, [("Input:\n12\nOutput:\n", "21")], 5, prompt_in_loss=False) == ([], 1)


def test_ttt_makes_the_tiny_model_solve_what_icl_cannot(domain):
    before = domain.icl(CONST)
    assert before.reward == 0.0 and before.details["solved"] == [False]
    out = domain.evaluate_config(CONST, LEARN, seed=0)
    assert out.reward == 1.0 and out.score == 1.0 and out.base_score == 0.0
    assert out.details["attempts"][0][0] == [[5]] and out.details["solved"] == [True]
    assert out.details["config"] == LEARN.to_dict() and out.details["n_examples"] > 4
    assert out.details["train"]["steps"] == out.details["n_examples"] * 10
    assert out.details["train"]["final_loss"] < out.details["train"]["first_loss"]
    assert set(out.timings) == {"ttt_data_s", "train_s", "solve_s"}
    json.dumps(out.details)  # ready for the store
    # the adapter is reset on exit: the base model answers exactly as before
    assert all(float(v.abs().sum()) == 0 for k, v in lora_state(domain.adapter.model).items() if "lora_B" in k)
    assert domain.icl(CONST).details["attempts"] == before.details["attempts"]
    # the same configuration, written by the model as JSON, goes through `evaluate`
    assert domain.evaluate(CONST, json.dumps(LEARN.to_json()), seed=0).reward == 1.0


@pytest.mark.parametrize("text, fragment", [
    ("I would train a lot!", "no JSON object"),
    ('{"data_generation": {"use_basic_augmentations": true}, "training": {}}', "missing"),
    (json.dumps(EditConfig(True, True, True, True, "output_only", 1e-3, 10).to_json()), "over the budget"),
])
def test_rejected_self_edits_score_zero_with_the_reason(domain, text, fragment):
    out = domain.evaluate(CONST, text, seed=0)
    assert out.reward == 0.0 and out.score == 0.0
    assert fragment in out.details["rejected"]
    assert "train_s" not in out.timings  # nothing was trained


def test_protocol_and_skipping(domain, tiny):
    assert domain.context_id(CONST) == "const5" and Task.from_dict(domain.context_payload(CONST)) == CONST
    prompt = domain.self_edit_prompt(CONST)
    assert prompt.startswith("<|im_start|>user\n") and tools_description() in prompt
    assert domain.check_task(CONST) is None
    model, tok = tiny
    short = tiny_cfg(max_prompt_tokens=20).solve
    result = solve_task(model, tok, CONST, short)
    assert "over the limit of 20" in result.reason and result.solved == [False] and result.n_prompts == 0
    assert ORACLE_EDIT.leave_two_out


def test_every_arc_config_validates(monkeypatch):
    monkeypatch.setenv("SEAL_DATA", "/data")  # configs name SEAL's files under this root
    configs = sorted((REPO / "configs" / "arc").glob("*.yaml"))
    assert {p.name for p in configs} >= {"paper.yaml", "cpu_smollm2.yaml", "curate_cpu.yaml", "seal_cpu.yaml"}
    for path in configs:  # each says how it is run
        cfg = load_config(ArcConfig, path)
        text = path.read_text()
        runs = [c for c in ("eval", "train", "curate") if f"seal arc {c} --config configs/arc/{path.name}" in text]
        assert text.startswith("#") and runs, path.name
        assert cfg.ttt.max_steps == 375
    paper = load_config(ArcConfig, REPO / "configs" / "arc" / "paper.yaml")
    assert paper.model.name == "meta-llama/Llama-3.2-1B-Instruct"
    assert (paper.ttt.lora.r, paper.ttt.lora.alpha, paper.ttt.max_examples) == (128, 16, 250)
    assert paper.ttt.lora.target_modules == ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj")


@pytest.mark.parametrize("override, key", [("eval.conditions=[icl, seal2]", "eval"),
                                           ("solve.views=[Rotate(45)]", "solve"),
                                           ("ttt.max_steps=0", "ttt")])
def test_bad_arc_config_values_name_the_section(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config(ArcConfig, None, [override])
