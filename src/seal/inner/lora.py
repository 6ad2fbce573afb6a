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


def linear_modules(model) -> dict[str, str]:
    """The linear layers LoRA can adapt (`nn.Linear`; GPT-2's `Conv1D`; a layer PEFT already wraps counts as the layer
    it wraps), by full module name -> class name, in model order."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from transformers.pytorch_utils import Conv1D

    out, wrapped = {}, ()
    for name, module in model.named_modules():
        if wrapped and name.startswith(wrapped):  # the LoRA factors and base layer inside a wrapped layer
            continue
        if isinstance(module, BaseTunerLayer):
            out[name], wrapped = type(module.get_base_layer()).__name__, (*wrapped, name + ".")
        elif isinstance(module, (torch.nn.Linear, Conv1D)):
            out[name] = type(module).__name__
    return out


def adapted_modules(model, cfg: LoraConfig, key: str) -> list[str]:
    """The names (last component, sorted) of `model`'s layers that `cfg.target_modules` adapt, as PEFT matches a list
    of names: a module whose full name is the target or ends with "." + the target.

    Raises:
        ConfigError (one line, naming `key`): no target matches a layer; or some target matches none while layers of
            the model's blocks (attention, MLP: the layers under a numbered block) are left unadapted, as when
            `q_proj`/`k_proj`/`v_proj`/`gate_proj`/`up_proj` meet fused projections (Phi-3's `qkv_proj` and
            `gate_up_proj`, GPT-2's `c_attn`, GPT-NeoX's `query_key_value`): PEFT would attach to what matches and
            say nothing. The error lists the names the model's blocks need. A deliberate subset that matches (q and
            v only) is accepted.
    """
    from seal.errors import ConfigError

    names = list(linear_modules(model))
    hit = lambda name, target: name == target or name.endswith("." + target)  # noqa: E731
    unmatched = [t for t in cfg.target_modules if not any(hit(n, t) for n in names)]
    adapted = sorted({n.rpartition(".")[2] for n in names if any(hit(n, t) for t in cfg.target_modules)})
    blocks = list(dict.fromkeys(n.rpartition(".")[2] for n in names if any(p.isdigit() for p in n.split("."))))
    left = [n for n in blocks if n not in adapted]
    if unmatched and (left or not adapted):
        raise ConfigError(f"{key}.target_modules: {', '.join(unmatched)} "
                          f"match{'es' if len(unmatched) == 1 else ''} no layer of this model "
                          f"({type(model).__name__}), " + (f"leaving {', '.join(left)} unadapted; " if adapted else "")
                          + f"its blocks' linear layers are {', '.join(blocks) or 'none'}: set {key}.target_modules="
                          f"[{','.join(blocks)}]")
    return adapted


def lora_record(model, sections: dict[str, LoraConfig]) -> dict[str, list[str]]:
    """The run manifest's `lora`: per config key (`inner.lora`, `ttt.lora`, `outer.sft.lora`, ...), the names of the
    layers of `model` its targets adapt (`adapted_modules`, which raises ConfigError for targets that do not fit)."""
    return {key: adapted_modules(model, cfg, key) for key, cfg in sections.items()}


def attach_lora(model, cfg: LoraConfig, seed: int = 0, key: str = "inner.lora"):
    """Wrap `model` in a PEFT model with one trainable LoRA; base weights frozen. Returns the PEFT model.

    Raises:
        ConfigError: the targets do not fit this architecture (`adapted_modules`), or PEFT refuses `cfg`, naming
            `key`, the config section the settings came from (`inner.lora`, `ttt.lora`, `cpt.lora`).
    """
    import peft

    adapted_modules(model, cfg, key)
    torch.manual_seed(seed)
    try:
        return peft.get_peft_model(model, peft_config(cfg))
    except ValueError as e:  # e.g. target modules not found in this architecture
        from seal.errors import ConfigError

        raise ConfigError(f"{key}.target_modules: {str(e).splitlines()[0]}") from None


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
    """Keep every LoRA layer's update (B A x scaling) in the base layer, then reset the LoRA (B = 0): the model computes
    the same function as before, ready for the next LoRA (sequential edits; SEAL's code merges and reloads the
    checkpoint instead).

    fp32 base weights take the update in place (`weight += B A scaling`, shape (out_features, in_features)). In bf16
    or fp16 weights that addition would round most of a small update away (an element changes only where its update
    exceeds half a unit in the last place of the weight: 78% of a SmolLM2 edit survived, peft#1388), so there the
    factors are kept instead, in fp32, beside the frozen weight (`Folded`): the base layer adds x A^T B^T to its
    output, summed in fp32 and rounded once to the output's dtype, as the PEFT LoRA layer itself does. Each fold
    stacks its factors (rank grows by r per fold); `restore_base_weights` removes them.
    """
    for layer in lora_layers(model):
        base = layer.get_base_layer()
        if base.weight.dtype == torch.float32:
            base.weight += layer.get_delta_weight(ADAPTER)
            continue
        a = layer.lora_A[ADAPTER].weight.detach().float()  # (r, in_features)
        b = layer.lora_B[ADAPTER].weight.detach().float() * layer.scaling[ADAPTER]  # (out_features, r)
        folded = getattr(base, "seal_folded", None)
        if folded is None:
            base.seal_folded = Folded(a.clone(), b.clone(), base.register_forward_hook(_add_folded))
        else:
            folded.a, folded.b = torch.cat([folded.a, a]), torch.cat([folded.b, b], dim=1)
    reset_lora(model, seed)


class Folded:
    """Folded LoRA factors of one low-precision base layer: `a` (k r, in_features) and `b` (out_features, k r),
    fp32, scaling included; `hook` adds them to the layer's output."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, hook):
        self.a, self.b, self.hook = a, b, hook


def _add_folded(module, args, output):
    folded = module.seal_folded
    x = args[0].to(folded.a.dtype)  # (..., in_features)
    return (output.to(folded.a.dtype) + (x @ folded.a.T) @ folded.b.T).to(output.dtype)


def base_weights(model) -> dict[str, torch.Tensor]:
    """A copy (on CPU) of the base weights under the LoRA layers: the only weights `fold_lora` changes (in bf16 and
    fp16 it changes none: its factors sit beside them)."""
    from peft.tuners.lora import LoraLayer

    return {name: layer.get_base_layer().weight.detach().to("cpu", copy=True)
            for name, layer in model.named_modules() if isinstance(layer, LoraLayer)}


@torch.no_grad()
def restore_base_weights(model, saved: dict[str, torch.Tensor]) -> None:
    """Put back the base weights copied by `base_weights` and drop folded factors (in place, nothing reloaded from
    disk)."""
    modules = dict(model.named_modules())
    for name, weight in saved.items():
        base = modules[name].get_base_layer()
        base.weight.copy_(weight)
        folded = getattr(base, "seal_folded", None)
        if folded is not None:  # low-precision folds live beside the weight (see `fold_lora`)
            folded.hook.remove()
            del base.seal_folded
