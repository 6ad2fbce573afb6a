"""Constrained decoding: completions that match a JSON schema or a regular expression, by construction.

A `Constraint` names what every completion must match; `HFGenerator.generate(..., constraint=...)` masks, at each
step, the tokens that would leave the language (xgrammar's token bitmask, through its Hugging Face logits processor),
and `VLLMGenerator` passes it to vLLM's structured outputs (`StructuredOutputsParams(json=...)` / `(regex=...)`,
whose default backend is xgrammar as well). The model still chooses among what the grammar allows.

    c = Constraint.json({"type": "object", ...})         # or Constraint("regex", r"[0-9]{3}(?:\\n[0-9]{3}){2}")
    texts = HFGenerator(model, tokenizer).generate(prompts, max_new_tokens=160, temperature=1.0, constraint=c)

xgrammar is an optional extra (`pip install 'seal[constrained]'`); nothing here imports it before it is used.
Measured against outlines(-core) on SmolLM2 in BENCHMARKS.md ("Constrained self-edits"): xgrammar compiles the ARC
self-edit schema faster, adds no measurable time per decoding step on CPU, and honours numeric bounds (minimum,
maximum), which outlines-core's schema-to-regex conversion ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

from seal.errors import ConfigError
from seal.utils.imports import is_xgrammar_available


@dataclass(frozen=True)
class Constraint:
    """What a completion must match. `kind`: ``json`` (`spec` is a JSON schema, as text) or ``regex``."""

    kind: Literal["json", "regex"]
    spec: str

    @staticmethod
    def json(schema: dict) -> "Constraint":
        """A JSON-schema constraint; the completion is compact JSON (``", "`` and ``": "`` separators)."""
        return Constraint("json", json.dumps(schema))


def require_xgrammar(option: str) -> None:
    """Raise a one-line `ConfigError` naming `option` when xgrammar is not installed."""
    if not is_xgrammar_available():
        raise ConfigError(f"{option}: constrained decoding needs xgrammar: pip install 'seal[constrained]' "
                          "(or set it to false)")


@lru_cache(maxsize=4)
def _compiler(tokenizer, vocab_size: int, stop_ids: tuple[int, ...]):
    # Building the tokenizer's token table takes ~0.5 s for a 50k vocabulary: once per tokenizer.
    import xgrammar as xgr

    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop_ids) or None)
    return xgr.GrammarCompiler(info, max_threads=1)


def compile_constraint(constraint: Constraint, tokenizer, vocab_size: int, stop_ids: Sequence[int]):
    """`constraint` compiled for `tokenizer` (xgrammar `CompiledGrammar`; compilations are cached by xgrammar).

    Args:
        constraint: the schema or regex.
        tokenizer: a Hugging Face tokenizer.
        vocab_size: the model's logits width (may exceed the tokenizer's vocabulary because of padding).
        stop_ids: the ids that end a completion; only they are allowed once the grammar is complete.

    Raises:
        ConfigError: xgrammar is not installed, or it cannot compile `constraint` (one line: the kind and
            xgrammar's reason).
    """
    require_xgrammar("constrained decoding")
    compiler = _compiler(tokenizer, vocab_size, tuple(stop_ids))
    try:
        if constraint.kind == "json":
            return compiler.compile_json_schema(constraint.spec, any_whitespace=False)
        if constraint.kind == "regex":
            return compiler.compile_regex(constraint.spec)
    except (RuntimeError, ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(f"constraint: xgrammar cannot compile the {constraint.kind} {constraint.spec[:80]!r}: "
                          f"{reason}") from None
    raise ConfigError(f"constraint: kind must be json or regex, got {constraint.kind!r}")


def logits_processor(compiled: list) -> object:
    """A fresh Hugging Face logits processor masking row i of a batch by `compiled[i]` (one per `generate` call:
    it holds the grammar state of each row)."""
    import xgrammar.contrib.hf

    return xgrammar.contrib.hf.LogitsProcessor(compiled)


@dataclass
class Constrained:
    """A `Generator` whose every call is decoded under `constraint`, for callers that pass none themselves (the
    outer loop's `sample_and_store`)."""

    generator: object
    constraint: Constraint

    def generate(self, prompts: Sequence[str], **kwargs) -> list[str]:
        return self.generator.generate(prompts, constraint=self.constraint, **kwargs)


def vllm_params(constraint: Constraint | None) -> dict:
    """`SamplingParams` keyword arguments for `constraint` (vLLM >= 0.12 structured outputs; {} for None)."""
    if constraint is None:
        return {}
    from vllm.sampling_params import StructuredOutputsParams

    return {"structured_outputs": StructuredOutputsParams(**{constraint.kind: constraint.spec})}
