"""The judge interface: `Judge.grade(questions, predictions, references) -> JudgeResult`, which every backend
(`OpenAIJudge`, `LocalJudge`) and the cache (`CachedJudge`) implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class JudgeResult:
    """Verdicts for a batch: `scores[i]` is 1.0, 0.0 or None (no readable verdict, described by `errors[i]`);
    `replies[i]` is the judge's raw reply text (None when it gave none; for a cached verdict, the reply it came
    from)."""

    scores: list[float | None]
    errors: list[str | None]
    replies: list[str | None]


class Judge(ABC):
    """A yes/no LLM judge. Subclasses implement `_grade`; `grade` checks the inputs."""

    backend_id: str = ""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Name of the judge model (part of the cache key)."""

    def grade(
        self, questions: Sequence[str], predictions: Sequence[str], references: Sequence[Sequence[str]]
    ) -> JudgeResult:
        """Grade a batch of predictions.

        Args:
            questions: One question per item.
            predictions: One answer per item.
            references: The gold answers of each item.

        Returns:
            One score, one error (None when the score is valid) and one raw reply per item.

        Raises:
            ValueError: If the three sequences differ in length.
            JudgeError: If the endpoint fails (OpenAI backend; see `OpenAIJudge.ask`).
        """
        if not len(questions) == len(predictions) == len(references):
            raise ValueError(
                f"{len(questions)} questions, {len(predictions)} predictions, {len(references)} references"
            )
        if not questions:
            return JudgeResult([], [], [])
        return self._grade(list(questions), list(predictions), [list(r) for r in references])

    @abstractmethod
    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        """Grade a non-empty batch of equal-length lists."""

    def as_grader(self, questions: Sequence[str]) -> Callable[[list[str], list[Sequence[str]]], list[float | None]]:
        """Bind the questions, giving a batch grader with the `(predictions, references)` signature.

        Args:
            questions: One question per item, in the order the grader will see the predictions.

        Returns:
            A function returning the judge's scores (None for judge errors).
        """
        return lambda predictions, references: self.grade(questions, predictions, references).scores
