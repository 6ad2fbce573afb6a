"""Issue 30, kind 3: lengths the model cannot hold. The context is read from the model's config, generation never runs
past it, documents are cut to it, budgets over it are capped and recorded in the manifest, and a prompt that cannot
fit even alone is one `error:` line before any work; the same for learned positions (GPT-2: an IndexError before)
and RoPE (Llama: silently past its trained context before)."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

from seal.config import InnerConfig, LoraConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.quiz import answer_loglik
from seal.errors import DataError
from seal.inner.train import FastAdapter
from seal.models.builtin import tiny_tokenizer
from seal.models.context import generation_room, model_context, within_context
from seal.models.generate import HFGenerator
from seal.models.tokens import encode
from test_bad_input import seal_in_process

PASSAGES = [{"title": "Quarry", "context": "The quarry at Vell gives grey slate. " * 8,
             "questions": [{"question": "What does the quarry give?", "answer": "grey slate"}]}]


def small_model(arch: str, positions: int):
    """A random-weight 1-layer model with `positions` positions: GPT-2 (a learned position table) or Llama (RoPE)."""
    tok = tiny_tokenizer()
    common = dict(vocab_size=len(tok), eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    if arch == "gpt2":
        config = GPT2Config(n_positions=positions, n_embd=32, n_layer=1, n_head=2, bos_token_id=None, **common)
    else:
        config = LlamaConfig(max_position_embeddings=positions, hidden_size=32, intermediate_size=64,
                             num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, **common)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval(), tok


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_the_context_is_read_from_either_kind_of_config(arch):
    model, _ = small_model(arch, 96)
    assert model_context(model) == 96 and within_context(model, 2048) == 96 and within_context(model, 50) == 50


def test_a_config_without_a_context_caps_nothing():
    assert model_context(object()) is None and generation_room(None, [5000], 1024) == 1024


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_generation_stops_at_the_context(arch):
    model, tok = small_model(arch, 48)
    prompts = ["The quarry at Vell gives grey slate.", "Vell " * 12]
    n = [len(encode(tok, p)) for p in prompts]
    assert max(n) < 48
    widths, generate = [], model.generate  # observed, not replaced: the width of every generated batch

    def observed(**kwargs):
        out = generate(**kwargs)
        widths.append(out.shape[1])
        return out

    model.generate = observed
    gen = HFGenerator(model, tok, batch_size=2)
    out = gen.generate(prompts, max_new_tokens=1024, temperature=1.0, seed=3)  # sampled: no early EOS needed
    model.generate = generate
    assert len(out) == 2 and widths == [48]  # the longest prompt, then new tokens up to the last position
    with pytest.raises(DataError, match=r"prompt of \d+ tokens fills the model's context of 48"):
        gen.generate(["Vell " * 60], max_new_tokens=4)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_documents_longer_than_the_context_are_cut_to_it(arch):
    model, tok = small_model(arch, 40)
    adapter = FastAdapter(model, tok, InnerConfig(lora=LoraConfig(r=2, alpha=4, target_modules=(
        ["c_attn"] if arch == "gpt2" else ["q_proj", "v_proj"])), epochs=1))
    doc = "The quarry at Vell gives grey slate. " * 20
    assert len(tok(doc)["input_ids"]) > 40
    with adapter.trained([doc], seed=0) as stats:
        assert stats.steps == 1 and stats.real_tokens == 40


def test_a_quiz_question_longer_than_the_context_is_a_data_error():
    model, tok = small_model("gpt2", 32)
    p = Passage("p9", "Quarry", "", (QA("What does the quarry give? " * 6, ("grey slate",)),))
    with pytest.raises(DataError, match=r"passage p9, question 1: .* over the model's context of 32 tokens"):
        answer_loglik(model, tok, p, "plain")


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_knowledge_eval_caps_budgets_and_refuses_prompts_that_cannot_fit(arch, tmp_path, capsys):
    model, tok = small_model(arch, 160)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    (tmp_path / "passages.json").write_text(json.dumps(PASSAGES))
    targets = "[c_attn]" if arch == "gpt2" else "[q_proj,v_proj]"
    args = ["knowledge", "eval", "--set", f"model.name={tmp_path / 'model'}", "--set", "model.threads=1",
            "--set", f"data.source={tmp_path / 'passages.json'}", "--set", "inner.epochs=1", "--set", "inner.seeds=1",
            "--set", "inner.lora.r=2", "--set", f"inner.lora.target_modules={targets}",
            "--set", "quiz.max_new_tokens=4", "--set", f"run.root={tmp_path / 'runs'}"]
    # the self-edit prompt (the passage and the instruction) leaves no room in 160 positions: refused before work
    code, out, err = seal_in_process(capsys, [*args, "--set", "eval.conditions=[base,self-edit]"])
    lines = [line for line in err.strip().splitlines() if not line.startswith("Loading weights")]  # transformers'
    assert code == 2 and len(lines) == 1 and "Traceback" not in err + out, err
    assert lines[0].startswith("error: passage ") and "self-edit prompt" in lines[0] and "context of 160" in lines[0]
    # without sampling the run ends: the passage document is cut to the context, the caps are in the manifest
    code, out, err = seal_in_process(capsys, [*args, "--set", "eval.conditions=[base,passage]"])
    assert code == 0, err
    run_dir = sorted((tmp_path / "runs").iterdir())[-1]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["context"] == {"tokens": 160, "capped": {
        "inner.max_doc_tokens": {"asked": 2048, "used": 160}, "self_edit.max_new_tokens": {"asked": 1024, "used": 160}}}
    assert "note: inner.max_doc_tokens=2048 is over the model's" in err and "capped to 160" in err


def test_the_self_quiz_prompt_must_leave_room_under_a_self_quiz_reward():
    import dataclasses

    from seal.domains.knowledge.config import KnowledgeEvalConfig, KnowledgeTrainConfig, RewardConfig
    from seal.domains.knowledge.evaluation import check_lengths

    model, tok = small_model("llama", 96)
    p = Passage("p3", "Quarry", "The quarry at Vell gives grey slate. " * 6, (QA("What?", ("slate",)),))
    cfg = KnowledgeEvalConfig()
    assert check_lengths(cfg, model, tok, [p], self_edits=False)["capped"]["inner.max_doc_tokens"]["used"] == 96
    trained = check_lengths(KnowledgeTrainConfig(), model, tok, [p], self_edits=False)["capped"]
    assert trained["outer.sft.max_length"] == {"asked": 2048, "used": 96}  # the M-step's rows, capped there too
    quizzed = dataclasses.replace(cfg, reward=RewardConfig(kind="self-quiz"))
    with pytest.raises(DataError, match=r"passage p3 \('Quarry'\): its self-quiz prompt .* context of 96 tokens"):
        check_lengths(quizzed, model, tok, [p], self_edits=False)


def test_seal_learn_refuses_a_passage_whose_self_edit_prompt_cannot_fit(tmp_path, capsys):
    model, tok = small_model("llama", 128)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    (tmp_path / "vell.md").write_text("# Vell\n\n" + "The quarry at Vell gives grey slate to the valley. " * 5)
    code, out, err = seal_in_process(capsys, ["learn", str(tmp_path / "vell.md"), "--set",
                                              f"model.name={tmp_path / 'model'}", "--set", "model.threads=1",
                                              "--set", f"run.root={tmp_path / 'runs'}"])
    lines = [line for line in err.strip().splitlines() if not line.startswith("Loading weights")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err + out, err
    assert "('vell: Vell'): its self-edit prompt" in lines[0] and "context of 128 tokens" in lines[0]
    assert lines[0].endswith("a lower learn.max_passage_tokens makes passages shorter")
    assert not list((tmp_path / "runs").glob("*/adapter"))  # refused before any work
