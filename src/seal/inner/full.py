"""Full fine-tuning with the inner loop's interface: every weight trains, and the base weights come back from an
in-memory copy of the state dict on exit (nothing is reloaded from disk).

`FullAdapter(model, tokenizer, cfg).trained(docs, seed)` is a context manager like `FastAdapter.trained`: inside it
`adapter.model` is the fine-tuned model; after it, the exact base model. Used by continued pretraining's `full` mode
(paper v2). The copy sits on CPU, so a 7B model needs its size in host memory, not on the GPU.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from seal.config import InnerConfig
from seal.inner.train import TrainExample, TrainStats, tokenize_documents, train_lora
from seal.models.context import within_context


def snapshot_state(model) -> dict[str, torch.Tensor]:
    """A CPU copy of every tensor of `model.state_dict()`."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@torch.no_grad()
def restore_state(model, snapshot: dict[str, torch.Tensor]) -> None:
    """Copy `snapshot` back into `model` in place (tied weights are restored through either name)."""
    model.load_state_dict(snapshot)


class FullAdapter:
    """Full fine-tuning per call of `trained`, the base weights restored from memory afterwards."""

    def __init__(self, model, tokenizer, cfg: InnerConfig, key: str = "inner"):
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self._snapshot = snapshot_state(model)
        self.model.eval()

    @contextmanager
    def base(self) -> Iterator[object]:
        """The base model (outside `trained` the weights are the base weights)."""
        yield self.model

    @contextmanager
    def trained(self, docs: list[str] | list[TrainExample], seed: int, cfg: InnerConfig | None = None
                ) -> Iterator[TrainStats]:
        """Fine-tune every weight on `docs` with `cfg` (default: this adapter's); restore the base weights on exit."""
        cfg = cfg or self.cfg
        examples = docs if docs and isinstance(docs[0], TrainExample) else tokenize_documents(
            self.tokenizer, docs, within_context(self.model, cfg.max_doc_tokens), cfg.append_eos)
        params = [p for p in self.model.parameters()]
        for p in params:
            p.requires_grad_(True)
        torch.manual_seed(seed)
        try:
            yield train_lora(self.model, examples, cfg, seed, self.tokenizer.pad_token_id, params=params)
        finally:
            self.model.zero_grad(set_to_none=True)
            restore_state(self.model, self._snapshot)
            self.model.eval()
