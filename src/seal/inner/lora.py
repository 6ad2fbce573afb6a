"""LoRA adapters on a frozen base model: attach once, reset in place, read out.

The fast path attaches one PEFT LoRA to the base model for the whole run and re-initialises it (A Kaiming-uniform,
B zero, as PEFT does) before each self-edit, instead of building a new PEFT model per self-edit as SEAL's code does.
With B = 0 the adapter adds exactly zero, so the model returns to the exact base weights without touching disk.
"""

from __future__ import annotations

import torch

from seal.config import LoraConfig

ADAPTER = "default"


def peft_config(cfg: LoraConfig, task_type: str = "CAUSAL_LM"):
    import peft

    return peft.LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                           target_modules=list(cfg.target_modules), bias="none", task_type=task_type)


def attach_lora(model, cfg: LoraConfig, seed: int = 0):
    """Wrap `model` in a PEFT model with one trainable LoRA; base weights frozen. Returns the PEFT model."""
    import peft

    torch.manual_seed(seed)
    try:
        return peft.get_peft_model(model, peft_config(cfg))
    except ValueError as e:  # e.g. target modules not found in this architecture
        from seal.errors import ConfigError

        raise ConfigError(f"inner.lora.target_modules: {str(e).splitlines()[0]}") from None


def lora_layers(model):
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


@torch.no_grad()
def reset_lora(model, seed: int) -> None:
    """Re-initialise every LoRA layer in place from `seed` (the same draws as a freshly attached adapter)."""
    torch.manual_seed(seed)
    for layer in lora_layers(model):
        layer.reset_lora_parameters(ADAPTER, True)


def lora_parameters(model) -> list[torch.nn.Parameter]:
    return [p for n, p in model.named_parameters() if "lora_" in n and p.requires_grad]


def lora_state(model) -> dict[str, torch.Tensor]:
    """A detached copy of the LoRA weights (for tests and saving)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


@torch.no_grad()
def fold_lora(model, seed: int) -> None:
    """Add every LoRA layer's update (B A x scaling) into its base weight, then reset the LoRA (B = 0): the update is
    kept in the weights and the model computes the same function as before, ready for the next LoRA (sequential
    edits; SEAL's code merges and reloads the checkpoint instead)."""
    for layer in lora_layers(model):
        base = layer.get_base_layer()
        base.weight += layer.get_delta_weight(ADAPTER).to(base.weight.dtype)  # (out_features, in_features)
    reset_lora(model, seed)


def base_weights(model) -> dict[str, torch.Tensor]:
    """A copy (on CPU) of the base weights under the LoRA layers: the only weights `fold_lora` changes."""
    from peft.tuners.lora import LoraLayer

    return {name: layer.get_base_layer().weight.detach().to("cpu", copy=True)
            for name, layer in model.named_modules() if isinstance(layer, LoraLayer)}


@torch.no_grad()
def restore_base_weights(model, saved: dict[str, torch.Tensor]) -> None:
    """Put back the base weights copied by `base_weights` (in place, nothing reloaded from disk)."""
    modules = dict(model.named_modules())
    for name, weight in saved.items():
        modules[name].get_base_layer().weight.copy_(weight)
