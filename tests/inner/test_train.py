"""The inner loop on a tiny model: it learns a planted fact, resets exactly, and is deterministic under a seed."""

import copy

import torch

from seal.config import InnerConfig, LoraConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.quiz import PLAIN, QuizConfig, answer_quiz
from seal.inner.lora import lora_state
from seal.inner.train import Example, FastAdapter, ReferenceAdapter, collate, epoch_batches

FACT = Passage("zorbia", "Zorbia", "The capital of Zorbia is Quelmar.",
               (QA("What is the capital of Zorbia?", ("Quelmar",)),))
QUIZ_DOC = PLAIN.format(title="Zorbia", question="What is the capital of Zorbia?") + " Quelmar"
CFG = InnerConfig(lora=LoraConfig(r=8, alpha=16), learning_rate=1e-2, epochs=30, seeds=1)


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
    batch = collate([Example([5, 6, 7]), Example([8])], pad_id=0, device="cpu")
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
    batch = collate([Example([1, 2, 3, 4], n_prompt=2), Example([5, 6])], pad_id=0, device="cpu")
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
