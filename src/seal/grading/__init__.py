"""Graders: string-match metrics (`exact`) and the LLM judge (`judge`).

Batch graders share the signature `(predictions, references) -> list[float | None]`, where None means
"could not be graded" (no gold answer, or a judge error), never "wrong".
"""

from seal.grading.exact import (
    METRICS,
    Grader,
    batch_exact_match,
    batch_f1,
    batch_short_contains,
    exact_match,
    f1,
    first_sentence,
    get_grader,
    normalize_answer,
    short_contains,
)
from seal.grading.judge import (
    CachedJudge,
    Judge,
    JudgeConfig,
    JudgeResult,
    LocalJudge,
    OpenAIJudge,
    build_messages,
    cache_key,
    make_judge,
    parse_verdict,
)

__all__ = [
    "METRICS",
    "CachedJudge",
    "Grader",
    "Judge",
    "JudgeConfig",
    "JudgeResult",
    "LocalJudge",
    "OpenAIJudge",
    "batch_exact_match",
    "batch_f1",
    "batch_short_contains",
    "build_messages",
    "cache_key",
    "exact_match",
    "f1",
    "first_sentence",
    "get_grader",
    "make_judge",
    "normalize_answer",
    "parse_verdict",
    "short_contains",
]
