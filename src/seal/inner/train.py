"""The inner loop's training: a short LoRA fine-tune on a self-edit's documents.

Two implementations behind one interface (`adapter.trained(docs, seed)` as a context manager that yields training
stats, with `adapter.model` answering the quiz inside it and the exact base model restored on exit):

- `FastAdapter` (default): one LoRA attached for the whole run and re-initialised in place per self-edit; documents
  are batched without padding waste (batch 1 needs no pads; larger batches group documents of similar length and
  mask pads out of the loss); AdamW with linear decay to 0 and gradient clipping, exactly as Hugging Face's Trainer
  defaults; optional bf16 autocast with fp32 LoRA weights.
- `ReferenceAdapter`: what SEAL's code does, for comparison: every document padded to 2048 tokens with the pad
  (end-of-text) tokens in the loss, a fresh PEFT model and `transformers.Trainer` per self-edit, the adapter saved
  to disk and reloaded before the quiz.

Departures from SEAL (fast mode only): pads never enter the loss, and neither does an end of document. SEAL's pads
are EOS tokens, so its model also learns to end every document right after a short line; on SEAL's own GPT-4.1
self-edits that taught SmolLM2 to answer quiz questions with nothing (BENCHMARKS.md). `inner.append_eos: true` ends
each document with one trained EOS token, as SEAL's first pad does.
Both modes clip the gradient norm at `inner.max_grad_norm` before each optimizer step, as Trainer does (default 1.0).
"""

from __future__ import annotations

import math
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn.functional as F

from seal.config import InnerConfig
from seal.inner.lora import attach_lora, lora_parameters, peft_config, reset_lora
from seal.models.context import within_context


@dataclass
class TrainStats:
    steps: int = 0
    real_tokens: int = 0  # tokens that count in the loss, summed over epochs
    padded_tokens: int = 0  # tokens processed, pads included, summed over epochs
    losses: list[float] = field(default_factory=list)  # mean loss per optimizer step
    penalties: list[float] = field(default_factory=list)  # regularizer value per optimizer step (when there is one)
    seconds: float = 0.0


@dataclass(frozen=True)
class TrainExample:
    """One training sequence: token ids, of which the first `n_prompt` are context only (masked out of the loss)."""

    ids: list[int]
    n_prompt: int = 0


def tokenize_documents(tokenizer, docs: list[str], max_tokens: int, add_eos: bool = False) -> list[TrainExample]:
    """Whole documents, every token in the loss: the tokenizer's own special tokens, the text, then EOS when
    `add_eos` (`inner.append_eos`, default false as there); truncated to `max_tokens`."""
    ids = tokenizer(list(docs), add_special_tokens=True, split_special_tokens=True)["input_ids"]  # data is text
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    return [TrainExample((list(x) + eos)[:max_tokens]) for x in ids]


def epoch_batches(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled document indices in batches. For batch_size > 1, documents of similar length share a batch: the
    shuffled order is cut into mega-batches of 50 batches, each sorted by length (as HF's group_by_length)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    if batch_size == 1:
        return [[i] for i in order]
    mega = batch_size * 50
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start:start + mega], key=lambda i: -lengths[i])
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def collate(examples: list[TrainExample], pad_id: int, device, pad_to: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask, and labels with -100 on pads and prompts. Shapes (batch, width),
    width = the longest example, or `pad_to` when that is longer."""
    width = max(pad_to, max(len(e.ids) for e in examples))
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, e in enumerate(examples):
        ids[row, :len(e.ids)] = torch.tensor(e.ids)
        mask[row, :len(e.ids)] = 1
        labels[row, e.n_prompt:len(e.ids)] = ids[row, e.n_prompt:len(e.ids)]
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def causal_lm_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over label positions != -100, and their count."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, reduction="sum")
    return loss, int((targets != -100).sum())


def train_lora(model, examples: list[TrainExample], cfg: InnerConfig, seed: int, pad_id: int,
               params: list[torch.nn.Parameter] | None = None, regularizer=None) -> TrainStats:
    """Train the (already reset) LoRA of `model` on `examples`: AdamW (betas 0.9/0.999, eps 1e-8, no weight decay),
    linear decay from `cfg.lr` to 0 over all steps, loss averaged over real tokens per optimizer step, the gradient's
    global L2 norm clipped to `cfg.max_grad_norm` before each step (0: no clipping). These are transformers.Trainer's
    defaults, which SEAL's inner loop (`knowledge-incorporation/src/inner/TTT_server.py`) runs with.

    `params` (default: the LoRA weights) are what is trained: full fine-tuning passes every weight.
    `regularizer(model) -> scalar tensor`, when given, is added once per optimizer step (continual learning's
    penalty towards the previous model); its values are kept in `stats.penalties`."""
    params = lora_parameters(model) if params is None else params
    device = params[0].device
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    lengths = [len(e.ids) for e in examples]
    batches_per_epoch = math.ceil(len(lengths) / cfg.batch_size)
    total_steps = cfg.epochs * math.ceil(batches_per_epoch / cfg.grad_accum)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, (total_steps - s) / total_steps))
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if cfg.autocast_bf16 else nullcontext())
    stats = TrainStats()
    start = time.perf_counter()
    model.train()
    for _ in range(cfg.epochs):
        batches = epoch_batches(lengths, cfg.batch_size, generator)
        for group_start in range(0, len(batches), cfg.grad_accum):
            group = [collate([examples[i] for i in b], pad_id, device, cfg.pad_to_length)
                     for b in batches[group_start:group_start + cfg.grad_accum]]
            n_tokens = sum(int((g["labels"][:, 1:] != -100).sum()) for g in group)
            step_loss = 0.0
            for batch in group:
                with autocast:
                    loss_sum, _ = causal_lm_loss_sum(model, batch)
                (loss_sum / max(n_tokens, 1)).backward()
                step_loss += loss_sum.item()
                stats.real_tokens += int((batch["labels"] != -100).sum())
                stats.padded_tokens += batch["input_ids"].numel()
            if regularizer is not None:
                with autocast:
                    penalty = regularizer(model)
                penalty.backward()
                stats.penalties.append(penalty.item())
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            stats.steps += 1
            stats.losses.append(step_loss / max(n_tokens, 1))
    model.eval()
    stats.seconds = time.perf_counter() - start
    return stats


class FastAdapter:
    """One LoRA on the base model for the whole run, reset in place before and after each self-edit."""

    def __init__(self, model, tokenizer, cfg: InnerConfig, key: str = "inner"):
        """`key`: the config section `cfg` came from, named by errors (`inner`, `ttt`, `cpt`)."""
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.model = attach_lora(model, cfg.lora, key=f"{key}.lora")
        self.model.eval()

    @contextmanager
    def base(self) -> Iterator[object]:
        """The base model (adapter disabled), for the unadapted quiz."""
        with self.model.disable_adapter():
            yield self.model

    def release(self):
        """The plain base model with the LoRA layers removed (this adapter is unusable afterwards)."""
        return self.model.unload()

    @contextmanager
    def trained(self, docs: list[str] | list[TrainExample], seed: int, cfg: InnerConfig | None = None
                ) -> Iterator[TrainStats]:
        """Train on `docs` (texts, or already tokenized examples) from a fresh LoRA drawn from `seed`; inside the
        context `self.model` is the adapted model; on exit it is the exact base model again. `cfg` overrides the
        training settings of this one call (ARC self-edits choose their own learning rate and epochs)."""
        cfg = cfg or self.cfg
        examples = docs if docs and isinstance(docs[0], TrainExample) else tokenize_documents(
            self.tokenizer, docs, within_context(self.model, cfg.max_doc_tokens), cfg.append_eos)
        reset_lora(self.model, seed)
        try:
            yield train_lora(self.model, examples, cfg, seed, self.tokenizer.pad_token_id)
        finally:
            reset_lora(self.model, seed)  # B = 0: the model is the exact base model again


class ReferenceAdapter:
    """SEAL's inner loop as its code runs it (see module docstring); slow on purpose, for comparison."""

    def __init__(self, model, tokenizer, cfg: InnerConfig, key: str = "inner"):
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.base_model = model
        self.model = model

    @contextmanager
    def base(self) -> Iterator[object]:
        yield self.base_model

    def release(self):
        return self.base_model

    def _dataset(self, docs: list[str], cfg: InnerConfig) -> list[dict]:
        enc = self.tokenizer(list(docs), padding="max_length",
                             max_length=within_context(self.base_model, cfg.reference_pad_length), truncation=True,
                             split_special_tokens=True)
        rows = []
        for ids, mask in zip(enc["input_ids"], enc["attention_mask"]):
            rows.append({"input_ids": ids, "attention_mask": mask, "labels": list(ids)})  # pads in the loss
        return rows

    @contextmanager
    def trained(self, docs: list[str], seed: int, cfg: InnerConfig | None = None) -> Iterator[TrainStats]:
        """As `FastAdapter.trained`, through `transformers.Trainer` on a new PEFT model (texts only)."""
        import peft
        from transformers import PrinterCallback, Trainer, TrainingArguments, default_data_collator

        cfg = cfg or self.cfg

        start = time.perf_counter()
        padding_side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "right"
        rows = self._dataset(docs, cfg)
        self.tokenizer.padding_side = padding_side
        torch.manual_seed(seed)
        use_cache = self.base_model.config.use_cache
        with tempfile.TemporaryDirectory(prefix="seal-ref-") as tmp:
            peft_model = peft.get_peft_model(self.base_model, peft_config(cfg.lora))
            args = TrainingArguments(
                output_dir=tmp, per_device_train_batch_size=cfg.batch_size,
                gradient_accumulation_steps=cfg.grad_accum, num_train_epochs=cfg.epochs,
                learning_rate=cfg.lr, max_grad_norm=cfg.max_grad_norm, logging_steps=1, save_strategy="no",
                report_to=[], seed=seed, bf16=cfg.autocast_bf16, disable_tqdm=True,
                use_cpu=next(self.base_model.parameters()).device.type == "cpu",
            )
            trainer = Trainer(model=peft_model, args=args, train_dataset=rows, data_collator=default_data_collator)
            trainer.remove_callback(PrinterCallback)
            result = trainer.train()
            losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
            peft_model.save_pretrained(tmp + "/adapter")
            base = peft_model.unload()
            base.config.use_cache = use_cache  # Trainer turns the KV cache off; SEAL's quiz (vLLM) has one
            self.model = peft.PeftModel.from_pretrained(base, tmp + "/adapter").eval()
            n_real = sum(sum(r["attention_mask"]) for r in rows)
            stats = TrainStats(steps=result.global_step, real_tokens=n_real * cfg.epochs,
                               padded_tokens=sum(len(r["input_ids"]) for r in rows) * cfg.epochs,
                               losses=losses, seconds=time.perf_counter() - start)
            try:
                yield stats
            finally:
                self.base_model = self.model.unload()
                self.model = self.base_model
                self.base_model.eval()
