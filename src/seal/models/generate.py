"""Batched text generation with Hugging Face `generate`: greedy answers for quizzes, sampled self-edits.

Prompts are encoded with `seal.models.tokens.encode` (the one rule for turning text into token ids that
training, scoring and generation share), left-padded and run in batches with the KV cache; generation stops at every
id of `stop_token_ids`; outputs are decoded without special tokens. A `Generator` is anything with this
`generate(prompts, ...)` signature, so a vLLM engine can stand in.

What is generated follows seal's settings alone (`own_settings`): the sampling and penalty settings a checkpoint
brings in its `generation_config.json` (`repetition_penalty`, `no_repeat_ngram_size`, `top_k`, ...) are not applied,
as vLLM (given seal's `SamplingParams`) and log-likelihood scoring do not apply them; its stop ids are kept.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, Sequence

import torch

from seal.models.constrain import Constraint, compile_constraint, logits_processor
from seal.models.context import generation_room, model_context
from seal.models.tokens import encode, stop_token_ids

# Every answer decodes exactly this many new tokens, with no stop, while set (`bench.inner_loop.fixed_answer_length`:
# a random-weight model's answers must not end early by chance); None: generation stops as asked.
FIXED_NEW_TOKENS: ContextVar[int | None] = ContextVar("FIXED_NEW_TOKENS", default=None)

# What `own_settings` keeps of a model's generation config: token ids, not settings.
_TOKEN_IDS = ("eos_token_id", "pad_token_id", "bos_token_id", "decoder_start_token_id")


class Generator(Protocol):
    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, temperature: float = 0.0,
                 top_p: float = 1.0, seed: int = 0, stop_at_newline: bool = False,
                 constraint: "Constraint | Sequence[Constraint] | None" = None) -> list[str]: ...


@dataclass
class HFGenerator:
    """Generation with a Hugging Face model in process. `batch_size` bounds the prompts per `generate` call."""

    model: object
    tokenizer: object
    batch_size: int = 16

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int = 0, stop_at_newline: bool = False,
                 constraint: Constraint | Sequence[Constraint] | None = None) -> list[str]:
        """One completion per prompt. temperature 0 is greedy. With `stop_at_newline` the text is cut at its first
        line break (quiz answers). Sampling is seeded per call, so a batch's samples are reproducible on CPU.
        Prompts are encoded with `encode`; decoding stops at every id of `stop_token_ids`.

        `constraint` (one for every prompt, or one per prompt; `models.constrain`): each completion is decoded
        under it, so it matches unless `max_new_tokens` cuts it short. Every constraint is compiled before any
        decoding. Raises ConfigError when one cannot be compiled or xgrammar is missing.

        A batch generates at most the model's context less its longest prompt (`models.context.generation_room`);
        raises DataError when a prompt fills the context."""
        tok = self.tokenizer
        outputs: list[str] = []
        device = next(self.model.parameters()).device
        stops = stop_token_ids(self.model, tok) or None
        context = model_context(self.model)
        if isinstance(constraint, Constraint):
            constraint = [constraint] * len(prompts)
        grammars = [compile_constraint(c, tok, self.model.config.vocab_size, stops or []) for c in constraint or []]
        for start in range(0, len(prompts), self.batch_size):
            ids = [encode(tok, p) for p in prompts[start:start + self.batch_size]]
            enc = tok.pad({"input_ids": ids}, return_tensors="pt", padding_side="left").to(device)
            room = generation_room(context, [len(i) for i in ids], max_new_tokens)  # never past the context
            kwargs = dict(max_new_tokens=room, pad_token_id=tok.pad_token_id, eos_token_id=stops)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
                torch.manual_seed(seed + start)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if grammars:
                kwargs["logits_processor"] = _masked(grammars[start:start + self.batch_size], kwargs)
            # Quiz answers end at the first line break: stop decoding there, unless a fixed number of tokens is
            # asked for (`FIXED_NEW_TOKENS`: the random-weight timing bench); the text is cut at its first line
            # break below either way.
            fixed = FIXED_NEW_TOKENS.get()
            if fixed:
                kwargs["min_new_tokens"] = min(fixed, kwargs["max_new_tokens"])
            elif stop_at_newline:
                kwargs.update(stop_strings=["\n"], tokenizer=tok)
            with own_settings(self.model):
                out = self.model.generate(**enc, **kwargs)  # (batch, prompt_len + new)
            for row in out[:, enc["input_ids"].shape[1]:]:
                text = tok.decode(row, skip_special_tokens=True)
                outputs.append(text.strip().split("\n", 1)[0].strip() if stop_at_newline else text)
        return outputs


def _masked(grammars: list, kwargs: dict):
    """The grammar mask as `generate`'s first logits processor, then the sampling warpers `kwargs` asked for
    (`kwargs` is changed so that `generate` adds none of its own). Why: `generate` runs a user's processors after
    its own, so top-p could keep only tokens the grammar forbids and leave nothing to sample."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    procs = [logits_processor(grammars)]
    if kwargs.get("do_sample"):
        procs.append(TemperatureLogitsWarper(kwargs["temperature"]))
        if kwargs["top_p"] < 1.0:
            procs.append(TopPLogitsWarper(kwargs["top_p"]))
        kwargs.update(temperature=1.0, top_p=1.0)
    return LogitsProcessorList(procs)


@contextmanager
def own_settings(model):
    """Inside the block `model.generate` follows its caller's arguments alone: the model's generation config (what
    the checkpoint's `generation_config.json` says, PEFT's base model's for a PEFT model) is replaced by one that
    holds only its token ids (`_TOKEN_IDS`: the stop ids, pad, BOS), and put back on exit.

    Why: `generate` takes every setting its caller leaves unset from that config, so a checkpoint's
    `repetition_penalty` or `no_repeat_ngram_size` changed "greedy" quiz answers on this path and not on vLLM's
    nor in log-likelihood scoring, and a `top_k` narrowed self-edit sampling."""
    from transformers import GenerationConfig

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    brought = inner.generation_config
    inner.generation_config = GenerationConfig(**{k: getattr(brought, k, None) for k in _TOKEN_IDS})
    try:
        yield
    finally:
        inner.generation_config = brought


@contextmanager
def base_writer(adapter, tokenizer, batch_size: int):
    """An `HFGenerator` over an inner-loop adapter's base model (the adapter off inside the block), for sampling."""
    with adapter.base() as model:
        yield HFGenerator(model, tokenizer, batch_size)


def make_generator(cfg, model, tokenizer, source: str | None, batch_size: int, max_lora_rank: int = 0,
                   max_loras: int = 1, seed: int = 0, dtype: str = "auto", context: int | None = None) -> Generator:
    """The generator `cfg` (a `GenerationConfig`) asks for: `HFGenerator` over `model`, or a `VLLMGenerator` that
    loads `source` (the name or path `model` came from) itself, its `max_model_len` (`generation.max_model_len`)
    capped to the model's context (`model_context(model)`, or `context` when `model` is None)."""
    if cfg.backend == "hf":
        return HFGenerator(model, tokenizer, batch_size)
    from seal.errors import ConfigError
    from seal.models.vllm_backend import VLLMGenerator

    if source is None or str(source).startswith(("tiny-", "random:")):  # built in memory, no files
        raise ConfigError(f"generation.backend=vllm loads the model from files; {source!r} is not a model vLLM can "
                          "load (use a hub id, a directory, or smollm2-135m-instruct)")
    context = model_context(model) if model is not None else context
    max_model_len = min((n for n in (cfg.max_model_len, context) if n), default=None)
    return VLLMGenerator(source, dtype=dtype, max_lora_rank=max_lora_rank, max_loras=max_loras, seed=seed,
                         max_model_len=max_model_len, enforce_eager=cfg.enforce_eager,
                         gpu_memory_utilization=cfg.gpu_memory_utilization)
