"""The knowledge-incorporation domain: one self-edit's inner loop, from text to reward.

`KnowledgeDomain.evaluate(passage, self_edit, seed)` asks an execution path (`seal.domains.knowledge.paths`: one
adapter, multi-adapter or vLLM-served) to train on the self-edit's documents and quiz the adapted model closed-book,
and returns the reward against the base model's score on the same quiz (computed once per passage and cached). The
reward is an object the domain is given (`seal.domains.knowledge.rewards`): a function of the two quizzes (the
accuracy gain, the paper's; the gain in the gold answers' mean log-likelihood, no generation; or one of your own),
or a rating with no inner loop at all (an LLM judge's rubric). A quiz that generates
answers also scores each gold answer's log-likelihood with the same adapted model before its adapter is reset
(`details["logliks"]`, one forward pass per question), so every table can report knowledge as well as accuracy
without a second training run.
"""

from __future__ import annotations

import copy
import dataclasses
from contextlib import nullcontext
from pathlib import Path

from seal.domains.base import DomainSpec, Outcome, portable_source
from seal.domains.knowledge import paths
from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.paths import InnerOutcome, Quizzer
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader, QuizResult, make_grader
from seal.domains.knowledge.rewards import QuizReward, RatingReward, make_reward
from seal.domains.knowledge.selfedit import render_prompt
from seal.domains.knowledge.selfquiz import self_quiz
from seal.inner import make_adapter
from seal.inner.multi import MultiAdapter
from seal.models.context import model_context
from seal.models.generate import base_writer, make_generator


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
        self.written_pairs: dict[str, list] = {}  # passage id -> every (question, answer) read before the filter
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
        return self._outcome(passage, paths.one_adapter(self.adapter, self.quizzer(), passage, self_edit, seed,
                                                        self.base_result(passage)))

    def evaluate_batch(self, items: list[tuple[Passage, str | None, int]]) -> list[Outcome]:
        """Several inner loops at once: a rating for each (no inner loop), or the multi-adapter path (LoRAs trained
        together, quizzes in one batched generate), or the vLLM path (quizzes answered in one batch); one at a time
        otherwise."""
        if isinstance(self.reward, RatingReward):
            return self.reward.rate(self, items)
        items = [(self.quiz_of(p), e, seed) for p, e, seed in items]
        if self.served and self.answers:
            path = paths.served
        elif isinstance(self.adapter, MultiAdapter):
            path = paths.multi_adapter
        else:
            return [self.evaluate(*item) for item in items]
        outcomes = path(self.adapter, self.quizzer(), items, [self.base_result(p) for p, _, _ in items])
        return [self._outcome(p, out) for (p, _, _), out in zip(items, outcomes)]

    def quizzer(self) -> Quizzer:
        """How this domain asks and scores a quiz: its tokenizer, quiz settings, grader, whether the reward needs
        answers, and the vLLM engine when quizzes are served."""
        return Quizzer(self.tokenizer, self.cfg.quiz, self.grader, self.answers,
                       self.engine() if self.served else None)

    def _outcome(self, passage: Passage, out: InnerOutcome) -> Outcome:
        details = out.result.details() | {"n_documents": out.n_documents, "train": out.train}
        return Outcome(self.reward.gain(out.result, out.base), self.reward.score(out.result),
                       self.reward.score(out.base), len(passage.questions), details, out.timings)

    def quiz(self, model, passage: Passage, adapted: bool = False) -> QuizResult:
        """Score `model` on the passage's quiz; `adapted` says it carries the inner loop's trained adapter (which the
        vLLM engine then serves as a LoRA request)."""
        return self.quizzer().quiz(model, passage, self.adapter.model if adapted else None)

    def quiz_of(self, passage: Passage) -> Passage:
        """The passage whose questions the quiz asks: the passage itself (its gold questions), or under a reward whose
        `quiz` is "self-written" the passage with the questions the unadapted model writes about it
        (`selfquiz.self_quiz`, run seed `run.seed`, settings `reward.self_quiz`), written once per passage id and
        kept in `self_quizzes` (shared with the views of `rewarded_by`), so a quiz asks the same questions again; the
        pairs read before the filter are kept in `written_pairs`."""
        if getattr(self.reward, "quiz", "gold") != "self-written":
            return passage
        if passage.id not in self.self_quizzes:
            with self.writer() as generator:
                self.self_quizzes[passage.id] = self_quiz(generator, passage, self.cfg.reward.self_quiz,
                                                          self.cfg.run.seed,
                                                          self.written_pairs.setdefault(passage.id, []))
        return self.self_quizzes[passage.id]

    def base_result(self, passage: Passage) -> QuizResult:
        """The unadapted model's quiz on `passage`, computed once per run and reused."""
        passage = self.quiz_of(passage)
        key = (passage.id, self.answers, tuple(q.question for q in passage.questions))
        if key not in self._base:
            with self.adapter.base() as model:
                self._base[key] = self.quiz(model, passage)
        return self._base[key]

def from_spec(cfg: KnowledgeEvalConfig, source: str, reward: str | None = None) -> KnowledgeDomain:
    """A knowledge domain with its own replica of the model at `source`, loaded as the recipes load it (same dtype,
    device, thread count and tiny-model seed) and with the same grader."""
    from seal.models import load_model

    model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
    return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer),
                           make_reward(reward or cfg.reward.kind), source)
