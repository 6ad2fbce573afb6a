"""Rewards of a knowledge self-edit: objects the domain is given, one class each, found by name (`reward.kind`).

A `QuizReward` scores the inner loop: the adapted model's quiz against the unadapted model's on the same questions
(reward = score(adapted) - score(base)); its `answers` says whether the quiz must generate and grade answers or only
score the gold answers' log-likelihood. A `RatingReward` scores the self-edit without an inner loop. Adding a reward
is one class and `@register`:

    @register
    class NonEmptyGain(QuizReward):
        '''Gain in the share of answers that are not empty.'''
        name = "non-empty"

        def score(self, quiz):
            return sum(1 for p in quiz.predictions if p.strip()) / len(quiz.predictions)

after which `--set reward.kind=non-empty` trains and evaluates with it (the module that defines it must be imported
before the config is read; the built-in ones live here). A reward outside the package is a function given by its
dotted path, as TRL takes reward functions (`FunctionReward`):

    # mypkg/rewards.py, importable (on PYTHONPATH, or installed)
    def non_empty(adapted, base):   # two QuizResults: the adapted and the unadapted model's quiz
        share = lambda q: sum(1 for p in q.predictions if p.strip()) / len(q.predictions)
        return share(adapted) - share(base)

    seal knowledge train --set reward.kind=mypkg.rewards:non_empty

>>> sorted(REWARDS)
['accuracy', 'judge', 'loglik', 'rubric', 'self-quiz', 'self-quiz-accuracy']
>>> make_reward("loglik").answers
False
"""

from __future__ import annotations

import time
from typing import Callable, ClassVar

from seal.domains.base import Outcome
from seal.domains.knowledge.quiz import QuizResult
from seal.errors import JudgeError
from seal.progress import console

REWARDS: dict[str, Callable[[], "QuizReward | RatingReward"]] = {}


def register(cls=None, *, aliases: tuple[str, ...] = ()):
    """Class decorator: make a reward known under its `name` (and `aliases`) to `make_reward` and `reward.kind`."""
    def add(cls):
        for key in (cls.name, *aliases):
            if key in REWARDS:
                raise ValueError(f"reward {key!r} is registered twice")
            REWARDS[key] = cls
        return cls
    return add(cls) if cls is not None else add


def make_reward(kind: str) -> "QuizReward | RatingReward":
    """The reward registered as `kind`, or the function `kind` names as "module:function" (`FunctionReward`).
    Raises ValueError naming the known ones when there is none, or why the function cannot be used."""
    if kind in REWARDS:
        return REWARDS[kind]()
    if ":" in kind:
        return FunctionReward(kind)
    raise ValueError(f"unknown reward {kind!r} (known: {', '.join(sorted(REWARDS))}, or module:function)")


class QuizReward:
    """A reward read from the closed-book quiz of the adapted model, against the unadapted model's quiz."""

    name: ClassVar[str] = ""
    answers: ClassVar[bool] = True  # the quiz generates and grades answers (False: gold-answer log-likelihoods only)
    quiz: ClassVar[str] = "gold"  # whose questions: the passage's gold ones, or "self-written" by the unadapted model

    def score(self, quiz: QuizResult) -> float | None:
        """The quiz's score under this reward (None when it cannot be computed)."""
        raise NotImplementedError

    def gain(self, adapted: QuizResult, base: QuizResult) -> float | None:
        """The reward of an inner loop: score(adapted) - score(base), None when either is None."""
        a, b = self.score(adapted), self.score(base)
        return None if a is None or b is None else a - b


class FunctionReward(QuizReward):
    """A reward given as a function by its dotted path "module:function" (our extension): `function(adapted, base)`
    of the adapted and the unadapted model's `QuizResult` on the passage's gold questions returns the reward, a
    float or None. The function's attribute `answers` (default True) says whether the quiz generates and grades
    answers; False scores only the gold answers' log-likelihoods (`QuizResult.logliks`). A worker elsewhere (a Ray
    actor) imports the module again, so it must be importable there too (installed, or on PYTHONPATH)."""

    def __init__(self, path: str) -> None:
        import importlib

        module, _, attr = path.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as e:
            raise ValueError(f"reward function {path!r} cannot be imported ({e})") from None
        if not callable(fn):
            raise ValueError(f"reward function {path!r} is not callable")
        self.name, self.fn, self.answers = path, fn, bool(getattr(fn, "answers", True))

    def score(self, quiz: QuizResult) -> float | None:
        """A function reward scores the pair, not one quiz: the rows' own scores are the quiz's accuracy."""
        return quiz.accuracy if self.answers else quiz.loglik

    def gain(self, adapted: QuizResult, base: QuizResult) -> float | None:
        value = self.fn(adapted, base)
        return None if value is None else float(value)


class RatingReward:
    """A reward given to the self-edit itself, with no inner loop (no training, no quiz)."""

    name: ClassVar[str] = ""

    def rate(self, domain, items: list[tuple]) -> list[Outcome]:
        """One outcome per (passage, self-edit, seed) item; `domain` is the knowledge domain, of which a rating reads
        the adapter's unadapted model, the tokenizer and the config (it calls none of its methods)."""
        raise NotImplementedError


@register
class AccuracyGain(QuizReward):
    """Gain in quiz accuracy under the configured grader (paper Section 4.2)."""

    name = "accuracy"

    def score(self, quiz: QuizResult) -> float | None:
        return quiz.accuracy


@register
class LoglikGain(QuizReward):
    """Gain in the gold answers' mean log-likelihood, nats per token (continuous, no generation: far less noisy than
    accuracy on a quiz of a dozen questions)."""

    name = "loglik"
    answers = False

    def score(self, quiz: QuizResult) -> float | None:
        return quiz.loglik


@register(aliases=("judge",))
class RubricRating(RatingReward):
    """An LLM judge rates the self-edit against a rubric, rating - 0.5 (the paper's v2 proxy reward;
    `seal.grading.rubric`); the judge is `reward.judge` of the domain's config. `judge` is the name it had first.
    An endpoint that fails stops the caller with `JudgeError` (the finished ratings are already stored); a reply
    that stays unreadable is a failed rating: no reward (the self-edit is not selected), its error and reply kept in
    the row's details (`judge_error`, `judge_reply`) and said on the console."""

    name = "rubric"

    def rate(self, domain, items: list[tuple]) -> list[Outcome]:
        from seal.grading.judge import make_backend
        from seal.grading.rubric import RUBRIC_VERSION, SelfEditRater

        t0 = time.perf_counter()
        passages = ", ".join(dict.fromkeys(p.id for p, _, _ in items))
        with domain.adapter.base() as model:
            rater = SelfEditRater(make_backend(domain.cfg.reward.judge, model, domain.tokenizer))
            try:
                result = rater.rate([(p.title, p.context, edit or "") for p, edit, _ in items])
            except JudgeError as e:
                raise JudgeError(f"rating a self-edit of passage {passages}: {e}") from None
        judge_s = (time.perf_counter() - t0) / len(items)
        failed = [(p.id, error) for (p, _, _), error in zip(items, result.errors) if error is not None]
        if failed:
            console.log(f"judge: {len(failed)} of {len(items)} rating(s) unreadable, left without a reward; first, "
                        f"passage {failed[0][0]}: {failed[0][1]}")
        return [Outcome(None if score is None else score - 0.5, score, 0.5, len(p.questions),
                        {"rubric": RUBRIC_VERSION, "judge": rater.model_id, "judge_reply": reply}
                        | ({"judge_error": error} if error is not None else {}), {"judge_s": judge_s})
                for (p, _, _), score, reply, error in zip(items, result.scores, result.replies, result.errors)]


class SelfQuizReward(QuizReward):
    """A gain on questions the unadapted model writes about the passage itself (`seal.domains.knowledge.selfquiz`;
    our extension, not in the paper): no answer key needed, the passage's gold questions are never asked. The domain
    writes each passage's quiz once (`KnowledgeDomain.quiz_of`); the reward only scores. When no written pair passes
    the filter the quiz has no question: the scores are then None (an empty `QuizResult` has no `loglik` and no
    `accuracy`), and so is the reward."""

    quiz = "self-written"


@register
class SelfQuizLoglik(SelfQuizReward):
    """Gain in the mean log-likelihood of the self-written answers, nats per token (no generation)."""

    name = "self-quiz"
    answers = False

    def score(self, quiz: QuizResult) -> float | None:
        return quiz.loglik


@register
class SelfQuizAccuracy(SelfQuizReward):
    """Gain in accuracy on the self-written questions under the configured grader."""

    name = "self-quiz-accuracy"

    def score(self, quiz: QuizResult) -> float | None:
        return quiz.accuracy
