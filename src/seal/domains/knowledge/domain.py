"""The knowledge-incorporation domain: one self-edit's inner loop, from text to reward.

`KnowledgeDomain.inner_loop(passage, self_edit, seed)` parses the self-edit into documents, trains the adapter on
them, answers the passage's quiz closed-book with the adapted model, grades it, and returns the reward against the
base model's score on the same quiz (computed once per passage and cached). With `reward.kind = loglik` the reward is
the gain in mean log-likelihood of the gold answers instead (no generation).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from seal.domains.base import Outcome
from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader, accuracy, answer_loglik, answer_quiz
from seal.domains.knowledge.selfedit import render_prompt
from seal.inner.train import make_adapter


@dataclass
class QuizResult:
    predictions: list[str]
    scores: list[float | None]
    accuracy: float | None
    loglik: float | None = None

    @property
    def score(self) -> float | None:
        """What the reward compares: mean answer log-likelihood for `reward.kind = loglik`, else accuracy."""
        return self.loglik if self.loglik is not None else self.accuracy


@dataclass
class InnerOutcome:
    """One inner loop: the adapted model's quiz against the base model's, and where the time went."""

    result: QuizResult
    base: QuizResult
    n_documents: int
    train: dict
    timings: dict = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return self.result.score

    @property
    def base_score(self) -> float | None:
        return self.base.score


class KnowledgeDomain:
    """Holds the model (with its inner-loop adapter), the grader and the base-score cache for one run.
    Implements `seal.domains.base.Domain` for the outer loop."""

    name = "knowledge"

    def __init__(self, model, tokenizer, cfg: KnowledgeConfig, grader: Grader):
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.adapter = make_adapter(model, tokenizer, cfg.inner)
        self.grader = grader
        self.families = load_families(cfg.self_edit.families_file)
        self.measure = cfg.reward.kind  # what `quiz` scores: accuracy (generate and grade) or loglik
        self._base: dict[tuple[str, str], QuizResult] = {}

    @contextmanager
    def measuring(self, measure: str) -> Iterator[None]:
        """Score quizzes by `measure` inside the block (evaluation tables report accuracy whatever the reward)."""
        previous, self.measure = self.measure, measure
        try:
            yield
        finally:
            self.measure = previous

    def context_id(self, passage: Passage) -> str:
        return passage.id

    def context_payload(self, passage: Passage) -> dict:
        return passage.to_dict()

    def writer(self):
        return self.adapter.base()

    def release(self):
        return self.adapter.release()

    def self_edit_prompt(self, passage: Passage) -> str:
        return render_prompt(self.tokenizer, self.cfg.self_edit, passage, self.families)

    def evaluate(self, passage: Passage, self_edit: str | None, seed: int) -> Outcome:
        """The inner loop as an `Outcome` (reward = adapted score - base score)."""
        out = self.inner_loop(passage, self_edit, self.cfg.self_edit.family, seed)
        reward = None if out.score is None or out.base_score is None else out.score - out.base_score
        details = {"predictions": out.result.predictions, "scores": out.result.scores,
                   "n_documents": out.n_documents, "train": out.train}
        return Outcome(reward, out.score, out.base_score, len(passage.questions), details, out.timings)

    def quiz(self, model, passage: Passage) -> QuizResult:
        if self.measure == "loglik":
            ll = answer_loglik(model, self.tokenizer, passage, self.cfg.quiz.style)
            preds, scores = [""] * len(ll), [None] * len(ll)
            return QuizResult(preds, scores, None, sum(ll) / len(ll))
        preds = answer_quiz(model, self.tokenizer, [passage], self.cfg.quiz)[0]
        scores = self.grader(passage, preds)
        return QuizResult(preds, scores, accuracy(scores))

    def base_result(self, passage: Passage) -> QuizResult:
        """The unadapted model's quiz on `passage`, computed once per run and reused."""
        key = (passage.id, self.measure)
        if key not in self._base:
            with self.adapter.base() as model:
                self._base[key] = self.quiz(model, passage)
        return self._base[key]

    def inner_loop(self, passage: Passage, self_edit: str | None, family: str, seed: int,
                   include_passage: bool = True) -> InnerOutcome:
        """Train on the self-edit's documents (plus the passage) with `seed`, quiz, and compare with the base."""
        base = self.base_result(passage)
        docs = to_documents(passage, self_edit, family, include_passage=include_passage)
        with self.adapter.trained(docs, seed) as stats:
            t0 = time.perf_counter()
            result = self.quiz(self.adapter.model, passage)
            quiz_s = time.perf_counter() - t0
        train = {"steps": stats.steps, "real_tokens": stats.real_tokens, "padded_tokens": stats.padded_tokens,
                 "final_loss": stats.losses[-1] if stats.losses else None}
        return InnerOutcome(result, base, len(docs), train, {"train_s": stats.seconds, "quiz_s": quiz_s})
