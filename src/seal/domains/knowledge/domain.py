"""The knowledge-incorporation domain: one self-edit's inner loop, from text to reward.

`KnowledgeDomain.inner_loop(passage, self_edit, seed)` parses the self-edit into documents, trains the adapter on
them, answers the passage's quiz closed-book with the adapted model, grades it, and returns the reward against the
base model's score on the same quiz (computed once per passage and cached). With `reward.kind = loglik` the reward is
the gain in mean log-likelihood of the gold answers instead (no generation); with `reward.kind = judge` there is no
inner loop at all: an LLM judge rates the self-edit against a rubric (`seal.grading.rubric`). A quiz graded for
accuracy also scores each gold answer's log-likelihood with the same adapted model before its adapter is reset
(`details["logliks"]`, one forward pass per question), so every table can report knowledge as well as accuracy
without a second training run.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from seal.domains.base import DomainSpec, Outcome, portable_source
from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader, accuracy, answer_loglik, answer_quiz
from seal.domains.knowledge.selfedit import render_prompt
from seal.errors import JudgeError
from seal.inner.multi import MultiAdapter
from seal.inner.train import make_adapter
from seal.models.generate import base_writer, make_generator


@dataclass
class QuizResult:
    predictions: list[str]
    scores: list[float | None]
    accuracy: float | None
    loglik: float | None = None
    judged: dict = field(default_factory=dict)  # under an LLM judge: each verdict's error and raw reply
    logliks: list[float] | None = None  # per question: mean log-probability per token of the first gold answer
    loglik_s: float = 0.0  # seconds spent scoring `logliks` (what the knowledge measure costs)

    def details(self) -> dict:
        """What the store keeps of a quiz: the answers, their scores, the gold answers' log-likelihoods (`logliks`,
        nats per token, one per question) and, under a judge, `judge_errors` and `judge_replies` (one per answer),
        so that a wrong grade can be seen afterwards."""
        return {"predictions": self.predictions, "scores": self.scores, "logliks": self.logliks} | self.judged

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

    def __init__(self, model, tokenizer, cfg: KnowledgeConfig, grader: Grader, source: str | None = None):
        """`source` is the name or path `model` was loaded from (a round's checkpoint in ReST-EM), so that `spec()`
        can rebuild the domain on a Ray actor; None when unknown (the local executor does not need it)."""
        self.cfg = cfg
        self.source = source
        self.tokenizer = tokenizer
        self.adapter = make_adapter(model, tokenizer, cfg.inner)
        self.grader = grader
        self.families = load_families(cfg.self_edit.families_file)
        self.measure = cfg.reward.kind  # what a reward measures: accuracy (generate and grade), loglik, or judge
        self._base: dict[tuple[str, str], QuizResult] = {}
        self._engine = None  # the vLLM engine (generation.backend: vllm), started on first use

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

    @property
    def served(self) -> bool:
        """Whether quizzes and self-edits go through vLLM (generation.backend: vllm) rather than HF generate."""
        return self.cfg.generation.backend == "vllm"

    def engine(self):
        """The vLLM engine over this domain's model source, started once; adapters reach it as LoRA requests."""
        if self._engine is None:
            self._engine = make_generator(self.cfg.generation, None, self.tokenizer, self.source, 0,
                                          max_lora_rank=self.cfg.inner.lora.r, max_loras=self.cfg.generation.lora_batch,
                                          seed=self.cfg.run.seed, dtype=self.cfg.model.dtype)
        return self._engine

    def writer(self):
        if self.served:
            return nullcontext(self.engine())
        return base_writer(self.adapter, self.tokenizer, self.cfg.self_edit.batch_size)

    def release(self):
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        return self.adapter.release()

    def spec(self) -> DomainSpec:
        """Rebuilds this domain in another process: the config and the model's source (see `from_spec`)."""
        source = portable_source(self.source)
        cfg = self.cfg
        if cfg.self_edit.families_file:
            cfg = dataclasses.replace(cfg, self_edit=dataclasses.replace(
                cfg.self_edit, families_file=str(Path(cfg.self_edit.families_file).resolve())))
        return DomainSpec("seal.domains.knowledge.domain:from_spec", {"cfg": cfg, "source": source})

    def self_edit_prompt(self, passage: Passage) -> str:
        return render_prompt(self.tokenizer, self.cfg.self_edit, passage, self.families)

    @property
    def batch_size(self) -> int:
        """Inner loops `evaluate_batch` runs together: the multi-adapter path's LoRAs, or the self-edits whose quizzes
        vLLM answers in one batch; 1 otherwise."""
        if isinstance(self.adapter, MultiAdapter):
            return self.cfg.inner.multi
        return self.cfg.generation.lora_batch if self.served and self.measure == "accuracy" else 1

    def evaluate(self, passage: Passage, self_edit: str | None, seed: int) -> Outcome:
        """The inner loop as an `Outcome` (reward = adapted score - base score)."""
        if self.measure == "judge" or self.batch_size > 1:  # the multi-adapter, vLLM and judge paths
            return self.evaluate_batch([(passage, self_edit, seed)])[0]
        return self._outcome(passage, self.inner_loop(passage, self_edit, seed))

    def evaluate_batch(self, items: list[tuple[Passage, str | None, int]]) -> list[Outcome]:
        """Several inner loops at once on the multi-adapter path: one LoRA per item, trained together, and all
        quizzes answered in one batched generate with per-row adapters."""
        if self.measure == "judge":
            return self.rated(items)
        if self.served and self.measure == "accuracy":
            return self.evaluate_served(items)
        if not isinstance(self.adapter, MultiAdapter):
            return [self.evaluate(*item) for item in items]
        passages = [p for p, _, _ in items]
        bases = [self.base_result(p) for p in passages]
        docs = [to_documents(p, e) for p, e, _ in items]
        with self.adapter.trained_many(docs, [seed for _, _, seed in items]) as stats:
            t0 = time.perf_counter()
            results = self.quiz_routed(passages)
            quiz_s = (time.perf_counter() - t0) / len(items)
        return [self._outcome(p, InnerOutcome(res, base, len(d), train_summary(st),
                                              {"train_s": st.seconds, "quiz_s": quiz_s, "loglik_s": res.loglik_s}))
                for p, d, st, res, base in zip(passages, docs, stats, results, bases)]

    def evaluate_served(self, items: list[tuple[Passage, str | None, int]]) -> list[Outcome]:
        """The vLLM path: train each self-edit in turn on the HF model, hand each trained adapter to the engine as a
        LoRA request, then answer every quiz in one batch (each question with its own passage's adapter)."""
        engine = self.engine()
        passages = [p for p, _, _ in items]
        bases = [self.base_result(p) for p in passages]
        requests, trained = [], []
        try:
            for p, edit, seed in items:
                docs = to_documents(p, edit)
                with self.adapter.trained(docs, seed) as stats:
                    requests.append(engine.add_adapter(self.adapter.model))
                    logliks = self.gold_logliks(self.adapter.model, p)  # HF forward passes, before the reset
                trained.append((len(docs), stats, logliks))
            t0 = time.perf_counter()
            answers = answer_quiz(None, self.tokenizer, passages, self.cfg.quiz, engine, requests)
            quiz_s = (time.perf_counter() - t0) / len(items)
        finally:
            for request in requests:
                engine.remove_adapter(request)
        return [self._outcome(p, InnerOutcome(dataclasses.replace(self.graded(p, preds), logliks=ll, loglik_s=ll_s),
                                              base, n_docs, train_summary(st),
                                              {"train_s": st.seconds, "quiz_s": quiz_s, "loglik_s": ll_s}))
                for p, (n_docs, st, (ll, ll_s)), preds, base in zip(passages, trained, answers, bases)]

    def rated(self, items: list[tuple[Passage, str | None, int]]) -> list[Outcome]:
        """The judge's rubric ratings as outcomes (reward = rating - 0.5, see `seal.grading.rubric`); no training.
        A rating the judge fails to give stops the caller with `JudgeError`: the finished ones are already stored."""
        from seal.grading.judge import make_backend
        from seal.grading.rubric import RUBRIC_VERSION, SelfEditRater

        t0 = time.perf_counter()
        passages = ", ".join(dict.fromkeys(p.id for p, _, _ in items))
        with self.adapter.base() as model:
            rater = SelfEditRater(make_backend(self.cfg.reward.judge, model, self.tokenizer))
            try:
                result = rater.rate([(p.title, p.context, edit or "") for p, edit, _ in items])
            except JudgeError as e:
                raise JudgeError(f"rating a self-edit of passage {passages}: {e}") from None
        judge_s = (time.perf_counter() - t0) / len(items)
        for (p, _, _), error in zip(items, result.errors):
            if error is not None:
                raise JudgeError(f"rating a self-edit of passage {p.id}: {error}")
        return [Outcome(score - 0.5, score, 0.5, len(p.questions),
                        {"rubric": RUBRIC_VERSION, "judge": rater.model_id, "judge_reply": reply}, {"judge_s": judge_s})
                for (p, _, _), score, reply in zip(items, result.scores, result.replies)]

    def quiz_routed(self, passages: list[Passage]) -> list[QuizResult]:
        """Quiz passage j with adapter j of the multi-adapter path, all in one batched generate."""
        model = self.adapter.model
        logliks = []
        for j, p in enumerate(passages):
            with self.adapter.route(torch.tensor([j])):
                logliks.append(self.gold_logliks(model, p))
        if self.measure == "loglik":
            return [QuizResult([""] * len(ll), [None] * len(ll), None, sum(ll) / len(ll), logliks=ll, loglik_s=s)
                    for ll, s in logliks]
        owner = torch.tensor([j for j, p in enumerate(passages) for _ in p.questions])
        one_batch = dataclasses.replace(self.cfg.quiz, batch_size=len(owner))
        with self.adapter.route(owner):
            answers = answer_quiz(model, self.tokenizer, passages, one_batch)
        return [dataclasses.replace(self.graded(p, preds), logliks=ll, loglik_s=s)
                for p, preds, (ll, s) in zip(passages, answers, logliks)]

    def gold_logliks(self, model, passage: Passage) -> tuple[list[float], float]:
        """Each gold answer's mean log-probability per token under `model` (`answer_loglik`), and the seconds taken."""
        t0 = time.perf_counter()
        ll = answer_loglik(model, self.tokenizer, passage, self.cfg.quiz.style)
        return ll, time.perf_counter() - t0

    def _outcome(self, passage: Passage, out: InnerOutcome) -> Outcome:
        reward = None if out.score is None or out.base_score is None else out.score - out.base_score
        details = out.result.details() | {"n_documents": out.n_documents, "train": out.train}
        return Outcome(reward, out.score, out.base_score, len(passage.questions), details, out.timings)

    def quiz(self, model, passage: Passage, adapted: bool = False) -> QuizResult:
        """Score `model` on the passage's quiz; `adapted` says it carries the inner loop's trained adapter (which the
        vLLM engine then serves as a LoRA request)."""
        ll, loglik_s = self.gold_logliks(model, passage)  # the same adapted weights the answers come from
        if self.measure == "loglik":
            preds, scores = [""] * len(ll), [None] * len(ll)
            return QuizResult(preds, scores, None, sum(ll) / len(ll), logliks=ll, loglik_s=loglik_s)
        if self.served:
            with self.engine().adapted(self.adapter.model) if adapted else nullcontext():
                preds = answer_quiz(None, self.tokenizer, [passage], self.cfg.quiz, self.engine())[0]
        else:
            preds = answer_quiz(model, self.tokenizer, [passage], self.cfg.quiz)[0]
        return dataclasses.replace(self.graded(passage, preds), logliks=ll, loglik_s=loglik_s)

    def graded(self, passage: Passage, predictions: list[str]) -> QuizResult:
        """The quiz result of `predictions` (one answer per question of `passage`) under the configured grader."""
        graded = self.grader.grade(passage, predictions)
        judged = {"judge_errors": graded.errors, "judge_replies": graded.replies} if self.grader.judge else {}
        return QuizResult(predictions, graded.scores, accuracy(graded.scores), judged=judged)

    def base_result(self, passage: Passage) -> QuizResult:
        """The unadapted model's quiz on `passage`, computed once per run and reused."""
        key = (passage.id, self.measure)
        if key not in self._base:
            with self.adapter.base() as model:
                self._base[key] = self.quiz(model, passage)
        return self._base[key]

    def inner_loop(self, passage: Passage, self_edit: str | None, seed: int,
                   include_passage: bool = True) -> InnerOutcome:
        """Train on the self-edit's documents (plus the passage) with `seed`, quiz, and compare with the base."""
        base = self.base_result(passage)
        docs = to_documents(passage, self_edit, include_passage=include_passage)
        with self.adapter.trained(docs, seed) as stats:
            t0 = time.perf_counter()
            result = self.quiz(self.adapter.model, passage, adapted=True)
            quiz_s = time.perf_counter() - t0
        return InnerOutcome(result, base, len(docs), train_summary(stats),
                            {"train_s": stats.seconds, "quiz_s": quiz_s, "loglik_s": result.loglik_s})


def train_summary(stats) -> dict:
    """What the store keeps of an inner loop's training run."""
    return {"steps": stats.steps, "real_tokens": stats.real_tokens, "padded_tokens": stats.padded_tokens,
            "final_loss": stats.losses[-1] if stats.losses else None}


def from_spec(cfg: KnowledgeConfig, source: str) -> KnowledgeDomain:
    """A knowledge domain with its own replica of the model at `source`, loaded as the recipes load it (same dtype,
    device, thread count and tiny-model seed) and with the same grader."""
    from seal.models import load
    from seal.models.load import set_threads
    from seal.recipes.knowledge_eval import make_grader

    set_threads(cfg.model.threads)
    model, tokenizer = load(source, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code, seed=cfg.run.seed)
    return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg, model, tokenizer), source=source)
