"""The domain protocol: what the outer loop (ReST-EM) needs from a domain, and nothing else.

A domain turns a context (a passage, an ARC task) into a self-edit prompt, and a (context, self-edit, seed) into an
inner-loop outcome with a reward. The outer loop never branches on which domain it runs (nanochat's `Task` shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ContextManager, Protocol


@dataclass
class Outcome:
    """One inner loop's result, ready for the store: `reward` is None when it could not be computed."""

    reward: float | None
    score: float | None
    base_score: float | None
    n_questions: int
    details: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainSpec:
    """A picklable recipe that rebuilds a domain elsewhere (a Ray actor): `builder` is "module:function", called
    with `args` (plain data and frozen configs; never a model)."""

    builder: str
    args: dict[str, Any] = field(default_factory=dict)


def portable_source(source: str | None) -> str:
    """The model source a worker elsewhere (another directory, another node on a shared filesystem) can load: an
    existing path made absolute, a hub id or built-in name as is. Raises SealError when the source is unknown."""
    from pathlib import Path

    from seal.errors import SealError

    if source is None:
        raise SealError("this domain was created without `source` (the model's name or path), so a Ray worker "
                        "cannot rebuild it")
    return str(Path(source).resolve()) if Path(source).exists() else source


def build_domain(spec: DomainSpec):
    """The domain `spec` describes, with its own model replica (loaded in this process)."""
    from seal.utils.imports import import_object

    return import_object(spec.builder)(**spec.args)


class Domain(Protocol):
    name: str
    tokenizer: Any
    batch_size: int  # inner loops `evaluate_batch` runs together (1: one at a time); executors group jobs by it

    def release(self) -> Any:
        """The plain model without the inner loop's adapter (the domain is unusable afterwards), for the M-step."""

    def context_id(self, context) -> str:
        """A stable id of the context (stored with every self-edit and result)."""

    def context_payload(self, context) -> dict:
        """The context as JSON, for the store."""

    def writer(self) -> ContextManager[Any]:
        """A `seal.models.generate.Generator` over the unadapted model, for sampling self-edits (a context manager:
        the inner loop's adapter is off inside it)."""

    def self_edit_prompt(self, context) -> str:
        """The prompt the model completes with a self-edit, chat template applied when the model has one."""

    def untrained(self, context) -> Outcome:
        """The unadapted model on the context's quiz: no self-edit, no training (a `none`-kind condition); `reward`
        None unless the domain's rewards are absolute (ARC: solved or not)."""

    def evaluate(self, context, self_edit: str | None, seed: int) -> Outcome:
        """Run the inner loop for one self-edit and training seed; None trains on the context alone (a
        `context`-kind condition). Never raises on a malformed self-edit."""

    def evaluate_batch(self, items: list[tuple[Any, str | None, int]]) -> list[Outcome]:
        """`evaluate` for several (context, self-edit, seed) items at once, in order (`batch_size` of them)."""

    def spec(self) -> DomainSpec:
        """How to rebuild this domain, model included, in another process (needed by the Ray executor only)."""
