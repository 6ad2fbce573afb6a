"""The inner-loop contract: what every way of adapting a model to one self-edit offers, and how one is chosen.

Four implementations meet it: `FastAdapter` (one PEFT LoRA reset in place; the default), `MultiAdapter` (up to N
LoRAs trained together on one frozen base; `trained_many` as well), `ReferenceAdapter` (SEAL's inner loop through
`transformers.Trainer`, for comparison) and `FullAdapter` (full fine-tuning, weights restored from memory; continued
pretraining). Domains and recipes hold one through `make_adapter` and use only this protocol:

    with adapter.trained(documents, seed) as stats:   # stats: seal.inner.train.TrainStats
        ...adapter.model is the adapted model...
    # here adapter.model is the exact base model again
"""

from __future__ import annotations

from typing import Any, ContextManager, Protocol

from seal.config import InnerConfig


class InnerLoop(Protocol):
    model: Any  # the model the quiz runs on: adapted inside `trained`, the base model outside it

    def trained(self, docs: list, seed: int, cfg: InnerConfig | None = None) -> ContextManager[Any]:
        """Train on `docs` (texts; the fast and full paths also take tokenized `TrainExample`s) from a fresh adapter
        drawn from `seed`, with `cfg` for this one call (default: the adapter's own); yields the `TrainStats`; on exit
        the model is the exact base model again."""

    def base(self) -> ContextManager[Any]:
        """The unadapted model, for the base quiz and for sampling self-edits."""

    def release(self) -> Any:
        """The plain model without the adapter's layers (the adapter is unusable afterwards), for the M-step."""


def make_adapter(model, tokenizer, cfg: InnerConfig, key: str = "inner") -> InnerLoop:
    """The inner loop `cfg.mode` names (and `cfg.multi` on the fast path); `key` is the config section `cfg` came
    from (`inner`, `ttt`, `cpt`), named by the errors its settings raise.

    Raises:
        ConfigError: settings the chosen path cannot run (naming `key`), LoRA targets that do not fit the model
            (`lora.adapted_modules`).
    """
    from seal.inner.lora import adapted_modules
    from seal.inner.multi import MultiAdapter
    from seal.inner.train import FastAdapter, ReferenceAdapter

    adapted_modules(model, cfg.lora, f"{key}.lora")  # every path, before any work
    if cfg.mode == "reference":
        return ReferenceAdapter(model, tokenizer, cfg, key)
    if cfg.multi > 1:
        return MultiAdapter(model, tokenizer, cfg, key)
    return FastAdapter(model, tokenizer, cfg, key)
