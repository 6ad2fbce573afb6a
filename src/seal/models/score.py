"""Scoring a continuation under a model without generating: the quantity of the log-likelihood rewards."""

from __future__ import annotations

import torch


@torch.no_grad()
def continuation_loglik(model, prompt_ids: list[int], answer_ids: list[int]) -> float:
    """Mean log-probability per token (nats) of `answer_ids` following `prompt_ids` under `model`, one forward pass
    of the concatenation. `prompt_ids` must hold at least one token; the caller checks the length fits the context
    (`seal.models.context.require_fit`)."""
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids + answer_ids], device=device)
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1:-1].float()
    logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(answer_ids, device=device)[:, None])
    return float(logp.mean())
