"""The verdict cache: `cache_key` hashes what decides a verdict, and `CachedJudge` asks its inner judge only about
the items not yet cached."""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping, Sequence

from seal.grading.judge.base import Judge, JudgeResult
from seal.grading.judge.prompt import RUBRIC_VERSION


def cache_key(backend: str, model: str, question: str, prediction: str, references: Sequence[str]) -> str:
    """sha256 of the rubric version, backend, model, question, prediction and sorted references.

    Args:
        backend: Backend id ("openai" or "local").
        model: Judge model name.
        question: The question asked.
        prediction: The answer graded.
        references: The gold answer(s); their order does not matter.

    Returns:
        A hex digest.

    >>> cache_key("openai", "m", "q", "p", ["b", "a"]) == cache_key("openai", "m", "q", "p", ["a", "b"])
    True
    """
    payload = [RUBRIC_VERSION, backend, model, question, prediction, sorted(references)]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


class CachedJudge(Judge):
    """Wrap a judge with a content-hash cache (see `cache_key`). Only valid verdicts are cached, with their reply.

    Args:
        inner: The judge asked on cache misses.
        cache: Any mapping from key to (score, raw reply) (a dict, or a persistent store); None makes a new dict.
    """

    def __init__(self, inner: Judge, cache: MutableMapping[str, tuple[float, str | None]] | None = None) -> None:
        self.inner = inner
        self.cache: MutableMapping[str, tuple[float, str | None]] = {} if cache is None else cache
        self.backend_id = inner.backend_id

    def __repr__(self) -> str:
        return f"CachedJudge({self.inner!r}, {len(self.cache)} cached)"

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def check_reachable(self) -> None:
        """Call the inner judge's `check_reachable`, if it has one.

        Raises:
            JudgeError: As the inner judge does.
        """
        check = getattr(self.inner, "check_reachable", None)
        if check is not None:
            check()

    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        keys = [
            cache_key(self.backend_id, self.model_id, q, p, r) for q, p, r in zip(questions, predictions, references)
        ]
        known = {k: self.cache[k] for k in keys if k in self.cache}
        # Ask each missing key once, even if it repeats within the batch.
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in known and k not in first:
                first[k] = i
        fresh: dict[str, tuple[float | None, str | None, str | None]] = {}  # key -> (score, reply, error)
        if first:
            idx = list(first.values())
            result = self.inner.grade(
                [questions[i] for i in idx], [predictions[i] for i in idx], [references[i] for i in idx]
            )
            for i, s, e, r in zip(idx, result.scores, result.errors, result.replies):
                fresh[keys[i]] = (s, r, e)
                if s is not None:
                    self.cache[keys[i]] = (s, r)
        found = [(*known[k], None) if k in known else fresh[k] for k in keys]
        return JudgeResult([f[0] for f in found], [f[2] for f in found], [f[1] for f in found])
