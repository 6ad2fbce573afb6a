"""The knowledge domain's inner-loop execution paths, beside the domain: one adapter at a time (the fast and reference
paths of `seal.inner`), several LoRAs trained at once on one frozen base (multi-adapter, `inner.multi`), and
quizzes answered by a vLLM engine that serves each trained adapter as a LoRA request (`generation.backend: vllm`).

Every path trains on `to_documents(passage, self_edit)` and returns one `InnerOutcome` per inner loop: the adapted
model's quiz (answers graded by the run's grader when the reward needs answers, and always the gold answers'
log-likelihoods from the same adapted weights), the unadapted model's quiz it is compared with, and where the time
went. The domain (`seal.domains.knowledge.domain`) chooses the path and turns outcomes into rewards; nothing here
calls back into it.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import Grader, QuizConfig, QuizResult, accuracy, answer_loglik, answer_quiz


@dataclass
class InnerOutcome:
    """One inner loop: the adapted model's quiz against the base model's, and where the time went."""

    result: QuizResult
    base: QuizResult
    n_documents: int
    train: dict
    timings: dict = field(default_factory=dict)


@dataclass
class Quizzer:
    """How a quiz is asked and scored in a run: the tokenizer, the quiz settings, the grader, whether answers are
    generated (the reward needs them) and the vLLM engine that generates them (None: HF generate)."""

    tokenizer: object
    cfg: QuizConfig
    grader: Grader
    answers: bool
    engine: object = None

    def gold_logliks(self, model, passage: Passage) -> tuple[list[float], float]:
        """Each gold answer's mean log-probability per token under `model` (`answer_loglik`), and the seconds."""
        t0 = time.perf_counter()
        ll = answer_loglik(model, self.tokenizer, passage, self.cfg.style)
        return ll, time.perf_counter() - t0

    def graded(self, passage: Passage, predictions: list[str], logliks: tuple[list[float], float]) -> QuizResult:
        """The quiz result of `predictions` (one answer per question of `passage`) under the grader, with the gold
        answers' log-likelihoods and their seconds."""
        graded = self.grader.grade(passage, predictions)
        judged = {"judge_errors": graded.errors, "judge_replies": graded.replies} if self.grader.judge else {}
        ll, seconds = logliks
        return QuizResult(predictions, graded.scores, accuracy(graded.scores), judged=judged, logliks=ll,
                          loglik_s=seconds)

    @staticmethod
    def unanswered(logliks: tuple[list[float], float]) -> QuizResult:
        """A quiz scored by its gold answers' log-likelihoods alone (no answer generated)."""
        ll, seconds = logliks
        return QuizResult([""] * len(ll), [None] * len(ll), None, logliks=ll, loglik_s=seconds)

    def quiz(self, model, passage: Passage, adapted=None) -> QuizResult:
        """`model` on the passage's quiz; `adapted` is the inner loop's adapted model when `model` carries its
        adapter (the engine then serves that adapter as a LoRA request), None for the unadapted model."""
        logliks = self.gold_logliks(model, passage)  # the same weights the answers come from
        if not self.answers:
            return self.unanswered(logliks)
        if self.engine is not None:
            with self.engine.adapted(adapted) if adapted is not None else nullcontext():
                predictions = answer_quiz(None, self.tokenizer, [passage], self.cfg, self.engine)[0]
        else:
            predictions = answer_quiz(model, self.tokenizer, [passage], self.cfg)[0]
        return self.graded(passage, predictions, logliks)


def train_summary(stats) -> dict:
    """What the store keeps of an inner loop's training run."""
    return {"steps": stats.steps, "real_tokens": stats.real_tokens, "padded_tokens": stats.padded_tokens,
            "final_loss": stats.losses[-1] if stats.losses else None}


def one_adapter(adapter, quizzer: Quizzer, passage: Passage, self_edit: str | None, seed: int,
                base: QuizResult) -> InnerOutcome:
    """Train one adapter on the self-edit's documents (plus the passage) with `seed`, then quiz the adapted model."""
    docs = to_documents(passage, self_edit)
    with adapter.trained(docs, seed) as stats:
        t0 = time.perf_counter()
        result = quizzer.quiz(adapter.model, passage, adapted=adapter.model)
        quiz_s = time.perf_counter() - t0
    return InnerOutcome(result, base, len(docs), train_summary(stats),
                        {"train_s": stats.seconds, "quiz_s": quiz_s, "loglik_s": result.loglik_s})


def multi_adapter(adapter, quizzer: Quizzer, items: list[tuple[Passage, str | None, int]],
                  bases: list[QuizResult]) -> list[InnerOutcome]:
    """One LoRA per item trained together on one frozen base (`MultiAdapter.trained_many`), then quiz j asked of
    adapter j, every question of every item in one batched generate with per-row adapters."""
    passages = [p for p, _, _ in items]
    docs = [to_documents(p, e) for p, e, _ in items]
    with adapter.trained_many(docs, [seed for _, _, seed in items]) as stats:
        t0 = time.perf_counter()
        model, logliks = adapter.model, []
        for j, p in enumerate(passages):
            with adapter.route(torch.tensor([j])):
                logliks.append(quizzer.gold_logliks(model, p))
        if quizzer.answers:
            owner = torch.tensor([j for j, p in enumerate(passages) for _ in p.questions])
            one_batch = dataclasses.replace(quizzer.cfg, batch_size=max(1, len(owner)))  # 0: no question at all
            with adapter.route(owner):
                answers = answer_quiz(model, quizzer.tokenizer, passages, one_batch)
            results = [quizzer.graded(p, preds, ll) for p, preds, ll in zip(passages, answers, logliks)]
        else:
            results = [quizzer.unanswered(ll) for ll in logliks]
        quiz_s = (time.perf_counter() - t0) / len(items)
    return [InnerOutcome(res, base, len(d), train_summary(st),
                         {"train_s": st.seconds, "quiz_s": quiz_s, "loglik_s": res.loglik_s})
            for d, st, res, base in zip(docs, stats, results, bases)]


def served(adapter, quizzer: Quizzer, items: list[tuple[Passage, str | None, int]],
           bases: list[QuizResult]) -> list[InnerOutcome]:
    """The vLLM path: train each self-edit in turn on the HF model, hand each trained adapter to the engine as a
    LoRA request (its gold-answer log-likelihoods scored by HF before the reset), then answer every quiz in one
    batch, each question with its own passage's adapter."""
    engine = quizzer.engine
    passages = [p for p, _, _ in items]
    requests, trained = [], []
    try:
        for p, edit, seed in items:
            docs = to_documents(p, edit)
            with adapter.trained(docs, seed) as stats:
                requests.append(engine.add_adapter(adapter.model))
                logliks = quizzer.gold_logliks(adapter.model, p)
            trained.append((len(docs), stats, logliks))
        t0 = time.perf_counter()
        answers = answer_quiz(None, quizzer.tokenizer, passages, quizzer.cfg, engine, requests)
        quiz_s = (time.perf_counter() - t0) / len(items)
    finally:
        for request in requests:
            engine.remove_adapter(request)
    return [InnerOutcome(quizzer.graded(p, preds, logliks), base, n_docs, train_summary(st),
                         {"train_s": st.seconds, "quiz_s": quiz_s, "loglik_s": logliks[1]})
            for p, (n_docs, st, logliks), preds, base in zip(passages, trained, answers, bases)]
