"""The multi-adapter path equals separate fast runs: same trained LoRA weights, same answers (fp32, tiny model),
with and without gradient clipping (each adapter clipped by its own norm)."""

import copy

import pytest
import torch

from seal.config import InnerConfig, LoraConfig
from seal.inner.lora import lora_state
from seal.inner.multi import MultiAdapter
from seal.inner.train import FastAdapter

DOCS = [["Tor\nTor has 12 bridges.", "Tor\nAma Venn founded Tor in 1201.", "Tor\nIt is a port."],
        ["Quelm\nQuelm is a red mineral."],
        ["Pell\nPell is an island.", "Pell\nPell exports salt and glass to Oronde every spring."]]
SEEDS = [0, 5, 9]


@pytest.mark.parametrize("max_grad_norm", [0.0, 1.0])
def test_multi_adapter_training_equals_separate_runs(tiny, max_grad_norm):
    model, tokenizer = tiny
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8, target_modules=("q_proj", "v_proj", "down_proj")),
                      learning_rate=3e-3, epochs=3, batch_size=2, max_grad_norm=max_grad_norm)
    # lr 3e-3: at 1e-2 this random model's training amplifies float rounding past 1e-5 (two fast runs that differ
    # only in padding differ by 1.6e-4 on DOCS[0] without EOS)
    fast = FastAdapter(copy.deepcopy(model), tokenizer, cfg)
    separate = []
    for docs, seed in zip(DOCS, SEEDS):
        with fast.trained(docs, seed) as stats:
            separate.append((stats.losses, lora_state(fast.model)))
    if max_grad_norm:  # clipping moved every adapter's weights by 5x the tolerance below: the comparison covers it
        unclipped = InnerConfig(**{**cfg.__dict__, "max_grad_norm": 0.0})
        for (_, weights), docs, seed in zip(separate, DOCS, SEEDS):
            with fast.trained(docs, seed, unclipped):
                gap = max(float((w - weights[k]).abs().max()) for k, w in lora_state(fast.model).items())
            assert gap > 5e-5
    multi = MultiAdapter(copy.deepcopy(model), tokenizer, InnerConfig(**{**cfg.__dict__, "multi": 3}))
    with multi.trained_many(DOCS, SEEDS) as stats:
        for j, (losses, weights) in enumerate(separate):
            assert torch.allclose(torch.tensor(stats[j].losses), torch.tensor(losses), atol=1e-5)
            for layer, (ka, kb) in zip(multi.layers, _pairs(weights)):
                assert torch.allclose(layer.A[j], weights[ka], atol=1e-5)
                assert torch.allclose(layer.B[j], weights[kb], atol=1e-5)
        prompt = tokenizer(["Tor\nTor has", "Quelm\nQuelm is", "Pell\nPell exports"], return_tensors="pt",
                           padding=True)
        with multi.route(torch.tensor([0, 1, 2])):
            routed = multi.model(**prompt).logits
    for j, (docs, seed) in enumerate(zip(DOCS, SEEDS)):
        with fast.trained(docs, seed):
            alone = fast.model(**{k: v[j:j + 1] for k, v in prompt.items()}).logits
        assert torch.allclose(routed[j:j + 1], alone, atol=1e-4)


def _pairs(weights):
    """(lora_A key, lora_B key) per adapted module, in module order."""
    names = [k for k in weights if "lora_A" in k]
    return [(k, k.replace("lora_A", "lora_B")) for k in names]


