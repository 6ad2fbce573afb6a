"""The knowledge-incorporation domain: one self-edit's inner loop, from text to reward.

`KnowledgeDomain.inner_loop(passage, self_edit, seed)` parses the self-edit into documents, trains the adapter on
them, answers the passage's quiz closed-book with the adapted model, grades it, and returns the reward against the
base model's score on the same quiz (computed once per passage and cached). The reward is an object the domain is
given (`seal.domains.knowledge.rewards`): the accuracy gain (the paper's), the gain in the gold answers' mean
log-likelihood (no generation), or a rating with no inner loop at all (an LLM judge's rubric). A quiz that generates
answers also scores each gold answer's log-likelihood with the same adapted model before its adapter is reset
(`details["logliks"]`, one forward pass per question), so every table can report knowledge as well as accuracy
without a second training run.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seal.domains.base import DomainSpec, Outcome, portable_source
from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader, QuizResult, accuracy, answer_loglik, answer_quiz, make_grader
from seal.domains.knowledge.rewards import QuizReward, RatingReward, make_reward
from seal.domains.knowledge.selfedit import render_prompt
from seal.domains.knowledge.selfquiz import self_quiz
from seal.inner import make_adapter
from seal.inner.multi import MultiAdapter
from seal.models.context import model_context
from seal.models.generate import base_writer, make_generator


@dataclass
class InnerOutcome:
    """One inner loop: the adapted model's quiz against the base model's, and where the time went."""

    result: QuizResult
    base: QuizResult
    n_documents: int
    train: dict
    timings: dict = field(default_factory=dict)


class KnowledgeDomain:
    """Holds the model (with its inner-loop adapter), the grader and the base-score cache for one run.
    Implements `seal.domains.base.Domain` for the outer loop."""

    name = "knowledge"

    def __init__(self, model, tokenizer, cfg: KnowledgeEvalConfig, grader: Grader,
                 reward: QuizReward | RatingReward | None = None, source: str | None = None):
        """`reward` scores each inner loop (default: the one `cfg.reward.kind` names). `source` is the name or path
        `model` was loaded from (a round's checkpoint in ReST-EM), so that `spec()` can rebuild the domain on a Ray
        actor; None when unknown (the local executor does not need it)."""
        self.cfg = cfg
        self.source = source
        self.tokenizer = tokenizer
        self.adapter = make_adapter(model, tokenizer, cfg.inner)
        self.grader = grader
        self.reward = reward if reward is not None else make_reward(cfg.reward.kind)
        self.families = load_families(cfg.self_edit.families_file)
        self._base: dict[tuple, QuizResult] = {}  # (passage id, answers generated, questions) -> the base quiz
        self.self_quizzes: dict[str, Passage] = {}  # passage id -> its self-written quiz (`quiz_of`)
        self._shared = {"engine": None}  # the vLLM engine (generation.backend: vllm), started on first use; shared
        # with the views of `rewarded_by`

    def rewarded_by(self, reward: QuizReward | RatingReward) -> "KnowledgeDomain":
        """This domain scored by `reward` instead: the same model, adapter, engine and base-quiz cache (an
        evaluation reports accuracy whatever reward trains)."""
        view = copy.copy(self)
        view.reward = reward
        return view

    @property
    def answers(self) -> bool:
        """Whether quizzes generate and grade answers (the reward needs them), or only score log-likelihoods."""
        return isinstance(self.reward, QuizReward) and self.reward.answers

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
        if self._shared["engine"] is None:
            self._shared["engine"] = make_generator(
                self.cfg.generation, None, self.tokenizer, self.source, 0, max_lora_rank=self.cfg.inner.lora.r,
                max_loras=self.cfg.generation.lora_batch, seed=self.cfg.run.seed, dtype=self.cfg.model.dtype,
                context=model_context(self.adapter.model))
        return self._shared["engine"]

    def writer(self):
        if self.served:
            return nullcontext(self.engine())
        return base_writer(self.adapter, self.tokenizer, self.cfg.self_edit.batch_size)

    def release(self):
        if self._shared["engine"] is not None:
            self._shared["engine"].close()
            self._shared["engine"] = None
        return self.adapter.release()

    def spec(self) -> DomainSpec:
        """Rebuilds this domain in another process: the config and the model's source (see `from_spec`)."""
        source = portable_source(self.source)
        cfg = self.cfg
        if cfg.self_edit.families_file:
            cfg = dataclasses.replace(cfg, self_edit=dataclasses.replace(
                cfg.self_edit, families_file=str(Path(cfg.self_edit.families_file).resolve())))
        return DomainSpec("seal.domains.knowledge.domain:from_spec",
                          {"cfg": cfg, "source": source, "reward": self.reward.name})

    def self_edit_prompt(self, passage: Passage) -> str:
        return render_prompt(self.tokenizer, self.cfg.self_edit, passage, self.families)

    @property
    def batch_size(self) -> int:
        """Inner loops `evaluate_batch` runs together: the multi-adapter path's LoRAs, or the self-edits whose quizzes
        vLLM answers in one batch; 1 otherwise."""
        if isinstance(self.adapter, MultiAdapter):
            return self.cfg.inner.multi
        return self.cfg.generation.lora_batch if self.served and self.answers else 1

    def untrained(self, passage: Passage) -> Outcome:
        """The unadapted model's quiz on the passage (the base condition): score = base score, no reward."""
        base = self.base_result(passage)
        score = self.reward.score(base)
        return Outcome(None, score, score, len(passage.questions), base.details(), {})

    def evaluate(self, passage: Passage, self_edit: str | None, seed: int) -> Outcome:
        """The inner loop as an `Outcome` (reward = adapted score - base score under `self.reward`)."""
        if isinstance(self.reward, RatingReward) or self.batch_size > 1:  # the multi-adapter, vLLM and rating paths
            return self.evaluate_batch([(passage, self_edit, seed)])[0]
        passage = self.quiz_of(passage)
        return self._outcome(passage, self.inner_loop(passage, self_edit, seed))

    def evaluate_batch(self, items: list[tuple[Passage, str | None, int]]) -> list[Outcome]:
        """Several inner loops at once on the multi-adapter path: one LoRA per item, trained together, and all
        quizzes answered in one batched generate with per-row adapters."""
        if isinstance(self.reward, RatingReward):
            return self.reward.rate(self, items)
        items = [(self.quiz_of(p), e, seed) for p, e, seed in items]
        if self.served and self.answers:
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

    def quiz_routed(self, passages: list[Passage]) -> list[QuizResult]:
        """Quiz passage j with adapter j of the multi-adapter path, all in one batched generate."""
        model = self.adapter.model
        logliks = []
        for j, p in enumerate(passages):
            with self.adapter.route(torch.tensor([j])):
                logliks.append(self.gold_logliks(model, p))
        if not self.answers:
            return [QuizResult([""] * len(ll), [None] * len(ll), None, logliks=ll, loglik_s=s) for ll, s in logliks]
        owner = torch.tensor([j for j, p in enumerate(passages) for _ in p.questions])
        one_batch = dataclasses.replace(self.cfg.quiz, batch_size=max(1, len(owner)))  # 0: no question at all
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
        details = out.result.details() | {"n_documents": out.n_documents, "train": out.train}
        return Outcome(self.reward.gain(out.result, out.base), self.reward.score(out.result),
                       self.reward.score(out.base), len(passage.questions), details, out.timings)

    def quiz(self, model, passage: Passage, adapted: bool = False) -> QuizResult:
        """Score `model` on the passage's quiz; `adapted` says it carries the inner loop's trained adapter (which the
        vLLM engine then serves as a LoRA request)."""
        ll, loglik_s = self.gold_logliks(model, passage)  # the same adapted weights the answers come from
        if not self.answers:
            return QuizResult([""] * len(ll), [None] * len(ll), None, logliks=ll, loglik_s=loglik_s)
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

    def quiz_of(self, passage: Passage) -> Passage:
        """The passage whose questions the quiz asks: the passage itself (its gold questions), or under a reward whose
        `quiz` is "self-written" the passage with the questions the unadapted model writes about it
        (`selfquiz.self_quiz`, run seed `run.seed`, settings `reward.self_quiz`), written once per passage id and
        kept in `self_quizzes` (shared with the views of `rewarded_by`), so a quiz asks the same questions again."""
        if getattr(self.reward, "quiz", "gold") != "self-written":
            return passage
        if passage.id not in self.self_quizzes:
            with self.writer() as generator:
                self.self_quizzes[passage.id] = self_quiz(generator, passage, self.cfg.reward.self_quiz,
                                                          self.cfg.run.seed)
        return self.self_quizzes[passage.id]

    def base_result(self, passage: Passage) -> QuizResult:
        """The unadapted model's quiz on `passage`, computed once per run and reused."""
        passage = self.quiz_of(passage)
        key = (passage.id, self.answers, tuple(q.question for q in passage.questions))
        if key not in self._base:
            with self.adapter.base() as model:
                self._base[key] = self.quiz(model, passage)
        return self._base[key]

    def inner_loop(self, passage: Passage, self_edit: str | None, seed: int) -> InnerOutcome:
        """Train on the self-edit's documents (plus the passage) with `seed`, quiz, and compare with the base."""
        base = self.base_result(passage)
        docs = to_documents(passage, self_edit)
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


def from_spec(cfg: KnowledgeEvalConfig, source: str, reward: str | None = None) -> KnowledgeDomain:
    """A knowledge domain with its own replica of the model at `source`, loaded as the recipes load it (same dtype,
    device, thread count and tiny-model seed) and with the same grader."""
    from seal.models import load_model

    model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
    return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer),
                           make_reward(reward or cfg.reward.kind), source)
