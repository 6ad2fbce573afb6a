"""Several self-edits trained at once: one LoRA each, on one frozen base, in a single forward and backward.

`MultiLoraLinear` wraps a frozen `nn.Linear` with n independent LoRAs stacked as A (n, r, in) and B (n, out, r);
row b of a batch goes through adapter `index[b]` (shape (batch,)), or through none when `index` is None. The loss is
the sum over adapters of each adapter's own token-mean loss, so the gradient of adapter j's weights is exactly the
gradient of a separate run on adapter j's batch (rows of other adapters never touch its weights). AdamW is applied
per adapter with its own step count and linear-decay schedule, after clipping that adapter's own gradient norm
(all its layers' A and B) to `max_grad_norm`; an adapter whose schedule has ended is neither fed nor updated.
Initialisation draws each adapter's A exactly as `reset_lora(seed)` would for a single adapter, so `multi` reproduces
`fast` up to floating-point rounding. Quizzes of all adapters are answered in one batched generate with per-row
adapters.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from seal.config import InnerConfig
from seal.inner.train import TrainExample, TrainStats, collate, epoch_batches, tokenize_documents
from seal.models.context import within_context


class MultiLoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, n: int, r: int, alpha: int):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(torch.zeros(n, r, base.in_features, device=base.weight.device))
        self.B = nn.Parameter(torch.zeros(n, base.out_features, r, device=base.weight.device))
        self.scale = alpha / r
        self.index: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, T, in)
        y = self.base(x)
        if self.index is None:
            return y
        index = self.index.expand(x.shape[0]) if self.index.dim() == 0 else self.index  # one adapter for every row
        a, b = self.A[index], self.B[index]  # (batch, r, in), (batch, out, r)
        low = torch.einsum("bti,bri->btr", x.to(a.dtype), a)
        return y + (self.scale * torch.einsum("btr,bor->bto", low, b)).to(y.dtype)


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


class MultiAdapter:
    """Up to `cfg.multi` LoRAs on one frozen base; `trained_many(docs_per_adapter, seeds)` trains them together."""

    def __init__(self, model, tokenizer, cfg: InnerConfig, key: str = "inner"):
        """`key`: the config section `cfg` came from, named by errors."""
        if cfg.grad_accum != 1:
            from seal.errors import ConfigError

            raise ConfigError(f"{key}.multi > 1 needs {key}.grad_accum = 1")
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg
        for p in model.parameters():
            p.requires_grad_(False)
        targets = [n for n, m in model.named_modules()
                   if isinstance(m, nn.Linear) and n.rpartition(".")[2] in cfg.lora.target_modules]
        if not targets:
            from seal.errors import ConfigError

            raise ConfigError(f"{key}.lora.target_modules: none of {cfg.lora.target_modules} found in the model")
        self.layers: list[MultiLoraLinear] = []
        for name in targets:
            parent, child = _parent(model, name)
            layer = MultiLoraLinear(getattr(parent, child), cfg.multi, cfg.lora.r, cfg.lora.alpha)
            setattr(parent, child, layer)
            self.layers.append(layer)
        self._names = targets
        self.key = key
        model.eval()

    # -- routing --------------------------------------------------------------------------------------------------
    @contextmanager
    def route(self, index: torch.Tensor | None) -> Iterator[None]:
        """Rows of the next forward passes use adapters `index` (None: the plain base model)."""
        for layer in self.layers:
            layer.index = index
        try:
            yield
        finally:
            for layer in self.layers:
                layer.index = None

    @contextmanager
    def base(self) -> Iterator[object]:
        with self.route(None):
            yield self.model

    def release(self):
        """The plain model with the original Linear modules back in place."""
        for name, layer in zip(self._names, self.layers):
            parent, child = _parent(self.model, name)
            setattr(parent, child, layer.base)
        return self.model

    @torch.no_grad()
    def reset(self, seeds: list[int]) -> None:
        """Adapter j drawn from seeds[j] exactly as `reset_lora` draws a single adapter; B = 0 everywhere."""
        for layer in self.layers:
            layer.B.zero_()
        for j, seed in enumerate(seeds):
            torch.manual_seed(seed)
            for layer in self.layers:
                a = torch.empty_like(layer.A[j])
                nn.init.kaiming_uniform_(a, a=math.sqrt(5))
                layer.A[j].copy_(a)

    # -- training -------------------------------------------------------------------------------------------------
    @contextmanager
    def trained_many(self, docs: list[list[str]], seeds: list[int]) -> Iterator[list[TrainStats]]:
        """Train adapter j on docs[j] from seed seeds[j]; inside, `route` selects adapters; on exit B = 0 again."""
        max_tokens = within_context(self.model, self.cfg.max_doc_tokens)
        examples = [tokenize_documents(self.tokenizer, d, max_tokens, self.cfg.append_eos) for d in docs]
        self.reset(seeds)
        try:
            yield self._train(examples, seeds)
        finally:
            with torch.no_grad():
                for layer in self.layers:
                    layer.B.zero_()

    @contextmanager
    def trained(self, docs: list[str], seed: int, cfg: InnerConfig | None = None) -> Iterator[TrainStats]:
        """One adapter (the first), as `FastAdapter.trained`: inside, `self.model` is adapted on every row.

        Raises:
            ConfigError: `cfg` differs from this adapter's settings (all adapters train with the same ones)."""
        if cfg is not None and cfg != self.cfg:
            from seal.errors import ConfigError

            raise ConfigError(f"{self.key}.multi > 1 trains every adapter with the same settings; set "
                              f"{self.key}.multi=1 to change them per self-edit")
        with self.trained_many([docs], [seed]) as stats, self.route(torch.tensor(0)):
            yield stats[0]

    def _train(self, examples: list[list[TrainExample]], seeds: list[int]) -> list[TrainStats]:
        cfg, n = self.cfg, len(examples)
        params = [p for layer in self.layers for p in (layer.A, layer.B)]
        moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        schedules = []  # per adapter: its batches over all epochs, in the order a single run would take them
        for ex, seed in zip(examples, seeds):
            g = torch.Generator().manual_seed(seed)
            lengths = [len(e.ids) for e in ex]
            schedules.append([b for _ in range(cfg.epochs) for b in epoch_batches(lengths, cfg.batch_size, g)])
        stats = [TrainStats() for _ in range(n)]
        device = params[0].device
        start = time.perf_counter()
        self.model.train()
        for step in range(max(len(s) for s in schedules)):
            active = [j for j in range(n) if step < len(schedules[j])]
            rows = [examples[j][i] for j in active for i in schedules[j][step]]
            owner = torch.tensor([j for j in active for _ in schedules[j][step]], device=device)
            batch = collate(rows, self.tokenizer.pad_token_id, device)
            with self.route(owner):
                logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            targets = batch["labels"][:, 1:]
            token_loss = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), targets, ignore_index=-100,
                                         reduction="none")  # (rows, T-1)
            counts = (targets != -100).sum(1)
            loss = 0.0
            for j in active:
                mine = owner == j
                n_tok = counts[mine].sum().clamp(min=1)
                loss_j = token_loss[mine].sum() / n_tok
                loss = loss + loss_j
                stats[j].losses.append(float(loss_j.detach()))
                stats[j].steps += 1
                stats[j].real_tokens += int(counts[mine].sum())
                stats[j].padded_tokens += int(batch["attention_mask"][mine].numel())
            loss.backward()
            self._adamw_step(params, moments, active, [len(s) for s in schedules], step)
        self.model.eval()
        elapsed = time.perf_counter() - start
        for s in stats:
            s.seconds = elapsed / n
        return stats

    @torch.no_grad()
    def _adamw_step(self, params, moments, active: list[int], totals: list[int], step: int) -> None:
        """torch.optim.AdamW's update (betas 0.9/0.999, eps 1e-8, no weight decay), per active adapter, with each
        adapter's linear decay: lr_j = lr (T_j - t) / T_j at its t-th step, after torch.nn.utils.clip_grad_norm_'s
        clipping applied to each adapter's gradients alone (coefficient min(1, max_norm / (norm_j + 1e-6)))."""
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        t = step + 1
        bc1, bc2_sqrt = 1 - beta1 ** t, math.sqrt(1 - beta2 ** t)
        idx = torch.tensor(active, device=params[0].device)
        if self.cfg.max_grad_norm > 0:
            norms = torch.stack([p.grad[idx].flatten(1).norm(dim=1) for p in params]).norm(dim=0)  # (active,)
            coef = (self.cfg.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
            for p in params:
                p.grad[idx] = p.grad[idx] * coef.view((-1,) + (1,) * (p.dim() - 1))
        lrs = torch.tensor([self.cfg.lr * (totals[j] - step) / totals[j] for j in active],
                           device=params[0].device)
        for p, (m, v) in zip(params, moments):
            g = p.grad[idx]
            m_a = m[idx].mul_(beta1).add_(g, alpha=1 - beta1)
            v_a = v[idx].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m[idx], v[idx] = m_a, v_a
            denom = (v_a.sqrt() / bc2_sqrt).add_(eps)
            shape = (-1,) + (1,) * (p.dim() - 1)
            p[idx] = p[idx] - (lrs / bc1).view(shape) * m_a / denom
            p.grad = None
