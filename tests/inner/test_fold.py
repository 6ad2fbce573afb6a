"""Folding LoRA updates into a bf16 model (sequential edits, `fold_lora`): the whole update stays, the folded model
computes what the adapted one did to within bf16 rounding, and restoring brings back the exact base."""

import copy

import torch

from seal.config import InnerConfig, LoraConfig
from seal.inner.lora import ADAPTER, attach_lora, base_weights, fold_lora, lora_layers, reset_lora, restore_base_weights
from seal.inner.train import tokenize_documents, train_lora
from seal.models import load

DOCS = [["Kel\nKel is an island with a lighthouse.", "Kel exports salt and amber."],
        ["Tor\nTor is a harbour town with 12 bridges."]]


def test_bf16_fold_keeps_every_update_and_restore_brings_back_the_base():
    model, tokenizer = load("tiny-llama", dtype="bf16", device="cpu")
    peft_model = attach_lora(model, LoraConfig(r=4, alpha=8))
    ids = tokenizer("Kel exports salt", return_tensors="pt")["input_ids"]
    logits = lambda: peft_model(input_ids=ids).logits.detach().float()  # noqa: E731
    original, saved = logits(), base_weights(peft_model)
    layers = lora_layers(peft_model)
    weights = [layer.get_base_layer().weight.detach().clone() for layer in layers]
    intended = [torch.zeros_like(w, dtype=torch.float32) for w in weights]  # (out, in) per layer, summed over edits
    for k, docs in enumerate(DOCS, start=1):
        reset_lora(peft_model, k)
        train_lora(peft_model, tokenize_documents(tokenizer, docs, 64, add_eos=True),
                   InnerConfig(learning_rate=1e-3, epochs=5, seeds=1), k, tokenizer.pad_token_id)
        adapted = logits()
        exact = copy.deepcopy(peft_model).float()(input_ids=ids).logits.detach()  # the same function in fp32
        rounding = (adapted - exact).abs().max()  # what bf16 itself costs this model (tiny-llama: 0.2 to 0.3)
        intended = [i + layer.get_delta_weight(ADAPTER).float() for i, layer in zip(intended, layers)]
        fold_lora(peft_model, k)
        assert (logits() - exact).abs().max() <= 1.25 * rounding
        with peft_model.disable_adapter():  # the folded updates belong to the base now
            assert (logits() - exact).abs().max() <= 1.25 * rounding
        # what each layer now adds to its frozen bf16 weight, against the sum of the LoRA updates so far
        kept = [layer.get_base_layer().seal_folded for layer in layers]
        assert all(f.a.shape[0] == 4 * k and f.a.dtype == torch.float32 for f in kept)
        applied = [f.b @ f.a for f in kept]
        share = sum((a * i).sum() for a, i in zip(applied, intended)) / sum((i * i).sum() for i in intended)
        assert abs(share.item() - 1.0) < 1e-4  # adding into the bf16 weights kept 0.96 of the first edit here
        assert all(torch.equal(layer.get_base_layer().weight, w) for layer, w in zip(layers, weights))
    assert (logits() - original).abs().max() > 1.0  # the edits changed the model
    restore_base_weights(peft_model, saved)
    assert torch.equal(logits(), original)
    assert not any(hasattr(layer.get_base_layer(), "seal_folded") for layer in layers)
