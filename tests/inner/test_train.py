"""The inner loop on a tiny model: it learns a planted fact, resets exactly, and is deterministic under a seed."""

import copy
import subprocess
import sys

import pytest
import torch

from seal.config import InnerConfig, LoraConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.quiz import PLAIN, QuizConfig, answer_quiz
from seal.inner.lora import attach_lora, lora_state, reset_lora
from seal.inner.train import (TrainExample, FastAdapter, ReferenceAdapter, collate, epoch_batches, tokenize_documents,
                              train_lora)

FACT = Passage("zorbia", "Zorbia", "The capital of Zorbia is Quelmar.",
               (QA("What is the capital of Zorbia?", ("Quelmar",)),))
QUIZ_DOC = PLAIN.format(title="Zorbia", question="What is the capital of Zorbia?") + " Quelmar"
# a trained EOS after the document ends the quiz answer right after the fact (the random model has no other stop)
CFG = InnerConfig(lora=LoraConfig(r=8, alpha=16), learning_rate=1e-2, epochs=30, seeds=1, append_eos=True)


def fresh(tiny):
    model, tokenizer = tiny
    return copy.deepcopy(model), tokenizer


def logits(model, tokenizer, text="Title: Zorbia\nQuestion: What?"):
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_learns_a_planted_fact_and_resets_exactly(tiny):
    model, tokenizer = fresh(tiny)
    before = logits(model, tokenizer)
    adapter = FastAdapter(model, tokenizer, CFG)
    quiz = QuizConfig(max_new_tokens=8)
    with adapter.base() as base:
        assert answer_quiz(base, tokenizer, [FACT], quiz)[0][0] != "Quelmar"
    with adapter.trained([QUIZ_DOC], seed=0) as stats:
        assert stats.losses[-1] < stats.losses[0] / 5
        assert answer_quiz(adapter.model, tokenizer, [FACT], quiz)[0][0] == "Quelmar"
    assert torch.equal(logits(adapter.model, tokenizer), before)  # exact base weights, nothing reloaded


def test_same_seed_same_adapter_and_losses(tiny):
    model, tokenizer = fresh(tiny)
    adapter = FastAdapter(model, tokenizer, InnerConfig(lora=LoraConfig(r=4, alpha=8), epochs=2, batch_size=2))
    docs = ["Zorbia\nThe capital is Quelmar.", "Zorbia\nIt has 12 bridges and a port.", "Zorbia\nFounded 1201."]
    runs = []
    for _ in range(2):
        with adapter.trained(docs, seed=3) as stats:
            runs.append((stats.losses, lora_state(adapter.model)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
    with adapter.trained(docs, seed=4) as other:
        assert other.losses != runs[0][0]


def test_pads_are_masked_and_batches_group_lengths():
    batch = collate([TrainExample([5, 6, 7]), TrainExample([8])], pad_id=0, device="cpu")
    assert batch["labels"].tolist() == [[5, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    lengths = [1, 50, 2, 49, 3, 48, 4, 47]
    batches = epoch_batches(lengths, 2, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(8))
    assert max(abs(lengths[b[0]] - lengths[b[1]]) for b in batches) <= 3  # similar lengths share a batch


def test_reference_mode_trains_on_pads_and_restores_the_base(tiny):
    model, tokenizer = fresh(tiny)
    before = logits(model, tokenizer)
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8), epochs=1, mode="reference", reference_pad_length=64)
    adapter = ReferenceAdapter(model, tokenizer, cfg)
    with adapter.trained(["Zorbia\nThe capital is Quelmar.", "Zorbia\nIt has a port."], seed=0) as stats:
        assert stats.steps == 2 and stats.padded_tokens == 2 * 64 and stats.real_tokens < 40
        assert not torch.equal(logits(adapter.model, tokenizer), before)
        assert adapter.model.config.use_cache  # the quiz decodes with a KV cache, as after SEAL's reload
    assert torch.equal(logits(adapter.model, tokenizer), before) and model.config.use_cache


def test_prompts_are_masked_out_of_the_loss():
    batch = collate([TrainExample([1, 2, 3, 4], n_prompt=2), TrainExample([5, 6])], pad_id=0, device="cpu")
    assert batch["labels"].tolist() == [[-100, -100, 3, 4], [5, 6, -100, -100]]


def test_no_padding_waste_gives_the_weights_of_a_plainly_padded_run(tiny):
    """Dynamic, length-grouped batches train the same LoRA as batches padded to 64 with the same loss mask."""
    model, tokenizer = tiny
    docs = ["Tor\nTor has 12 bridges.", "Tor\nAma Venn founded Tor in 1201 after the flood.", "Tor\nIt is a port.",
            "Tor\nThe harbour of Tor freezes in winter."]
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8), learning_rate=1e-2, epochs=2, batch_size=2)
    weights = []
    for pad in (0, 64):
        adapter = FastAdapter(copy.deepcopy(model), tokenizer, InnerConfig(**{**cfg.__dict__, "pad_to_length": pad}))
        with adapter.trained(docs, seed=1) as stats:
            weights.append((lora_state(adapter.model), stats))
    (dynamic, s0), (padded, s1) = weights
    assert s0.real_tokens == s1.real_tokens and s1.padded_tokens == 2 * 4 * 64 > s0.padded_tokens
    assert all(torch.allclose(dynamic[k], padded[k], atol=1e-5) for k in dynamic)


TEN_DOCS = [f"Tor\nTor has {n} bridges{', a port and a market' * (n % 3)}." for n in range(10)]


def trainer_weights(model, tokenizer, docs, cfg: InnerConfig, seed: int, tmp_path):
    """transformers.Trainer with its default arguments (AdamW, linear decay, max_grad_norm 1.0) on the fast path's
    examples in the fast path's order (1 epoch, batch 1) from the fast path's LoRA initialisation."""
    from transformers import Trainer, TrainingArguments, default_data_collator

    examples = tokenize_documents(tokenizer, docs, cfg.max_doc_tokens, cfg.append_eos)
    order = [b[0] for b in epoch_batches([len(e.ids) for e in examples], 1, torch.Generator().manual_seed(seed))]
    rows = [{"input_ids": examples[i].ids, "labels": examples[i].ids} for i in order]
    peft_model = attach_lora(copy.deepcopy(model), cfg.lora)
    reset_lora(peft_model, seed)
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=cfg.lr, num_train_epochs=1,
                             per_device_train_batch_size=1, train_sampling_strategy="sequential", use_cpu=True,
                             report_to=[], save_strategy="no", disable_tqdm=True)
    assert args.max_grad_norm == 1.0 and args.weight_decay == 0.0 and args.lr_scheduler_type == "linear"
    Trainer(model=peft_model, args=args, train_dataset=rows, data_collator=default_data_collator).train()
    return lora_state(peft_model)


def test_fast_path_at_batch_1_equals_hf_trainer_defaults(tiny, tmp_path):
    """SEAL's inner loop is Trainer with its defaults: the fast path reproduces its LoRA weights after 10 steps, and
    clipping matters here (without it the weights differ)."""
    model, tokenizer = tiny
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8), learning_rate=1e-2, epochs=1)
    expected = trainer_weights(model, tokenizer, TEN_DOCS, cfg, 3, tmp_path)
    for max_grad_norm, equal in ((1.0, True), (0.0, False)):
        adapter = FastAdapter(copy.deepcopy(model), tokenizer, InnerConfig(**{**cfg.__dict__,
                                                                             "max_grad_norm": max_grad_norm}))
        with adapter.trained(TEN_DOCS, seed=3) as stats:
            weights = lora_state(adapter.model)
        assert stats.steps == 10 and weights.keys() == expected.keys()
        gap = max(float((weights[k] - expected[k]).abs().max()) for k in weights)
        print(f"max_grad_norm {max_grad_norm}: largest |fast - Trainer| {gap:.2e}")
        assert (gap < 1e-5) == equal, (max_grad_norm, gap)


def test_clipping_bounds_each_step_and_zero_turns_it_off(tiny):
    """The gradient each AdamW step sees has norm <= max_grad_norm; at 0 it is the raw gradient."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    model, tokenizer = tiny
    examples = tokenize_documents(tokenizer, TEN_DOCS[:2], 64, add_eos=False)
    norms = {}
    for c in (0.0, 0.01):
        peft_model = attach_lora(copy.deepcopy(model), LoraConfig(r=4, alpha=8))
        reset_lora(peft_model, 0)
        seen = []
        params = [p for n, p in peft_model.named_parameters() if "lora_" in n]
        hook = register_optimizer_step_pre_hook(
            lambda opt, *_: seen.append(float(torch.stack([p.grad.norm() for p in params]).norm())))
        try:
            train_lora(peft_model, examples, InnerConfig(learning_rate=1e-2, epochs=2, max_grad_norm=c), 0,
                       tokenizer.pad_token_id)
        finally:
            hook.remove()
        norms[c] = seen
    assert len(norms[0.0]) == 4 and min(norms[0.0]) > 0.01
    assert all(n <= 0.01 * (1 + 1e-4) for n in norms[0.01])


def test_append_eos_ends_every_document_with_one_trained_eos(tiny):
    _, tokenizer = tiny
    with_eos = tokenize_documents(tokenizer, TEN_DOCS[:3], 64, add_eos=True)
    without = tokenize_documents(tokenizer, TEN_DOCS[:3], 64, add_eos=False)
    assert [e.ids for e in with_eos] == [e.ids + [tokenizer.eos_token_id] for e in without]
    assert all(tokenizer.eos_token_id not in e.ids[1:] for e in without)


@pytest.mark.parametrize("value, message", [("-0.5", "inner.max_grad_norm: must be at least 0, got -0.5"),
                                            ("abc", "inner.max_grad_norm: expected a number, got 'abc'")])
def test_bad_max_grad_norm_is_one_line_naming_the_key(value, message):
    out = subprocess.run([sys.executable, "-m", "seal.cli", "config", "show", "knowledge", "--set",
                          f"inner.max_grad_norm={value}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == f"error: {message}"
