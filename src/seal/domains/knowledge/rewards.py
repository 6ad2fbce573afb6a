"""Rewards of a knowledge self-edit: functions of the adapted and the unadapted model's quiz, found by name
(`reward.kind`), as TRL takes reward functions.

A quiz reward is `fn(adapted, base) -> float | None` of two `QuizResult`s on the same questions, wrapped with what the
inner loop must produce for it (`QuizReward`): whether the quiz generates and grades answers (`answers`; False:
only the gold answers' log-likelihoods) and whose questions it asks (`quiz`: the passage's gold ones, or
"self-written" by the unadapted model, which the domain writes: `KnowledgeDomain.quiz_of`). The same gain function
serves both quiz sources. A `RatingReward` scores the self-edit without an inner loop (the rubric). A reward of your
own is a function, registered by name in the package or given by its dotted path from anywhere:

    @register_reward("non-empty")                    # in a module imported before the config is read
    def non_empty(adapted, base):
        share = lambda q: sum(1 for p in q.predictions if p.strip()) / len(q.predictions)
        return share(adapted) - share(base)

    seal knowledge train --set reward.kind=mypkg.rewards:non_empty    # or by path, importable where inner loops run

>>> sorted(REWARDS)
['accuracy', 'judge', 'loglik', 'rubric', 'self-quiz', 'self-quiz-accuracy']
>>> make_reward("loglik").answers, make_reward("self-quiz").quiz
(False, 'self-written')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, ClassVar

from seal.domains.base import Outcome
from seal.domains.knowledge.quiz import QuizResult
from seal.errors import JudgeError
from seal.progress import console
from seal.utils.imports import import_object

Gain = Callable[[QuizResult, QuizResult], "float | None"]
REWARDS: dict[str, Callable[[], "QuizReward | RatingReward"]] = {}  # name -> a factory of the reward


@dataclass(frozen=True)
class QuizReward:
    """A reward read from the adapted model's closed-book quiz against the unadapted model's on the same questions.

    Attributes:
        name: its `reward.kind` (a registered name, or "module:function").
        fn: (adapted quiz, unadapted quiz) -> the reward, or None when it cannot be computed.
        answers: whether the quiz generates and grades answers (False: the gold answers' log-likelihoods only).
        quiz: "gold" (the passage's questions) or "self-written" (the unadapted model's, `KnowledgeDomain.quiz_of`).
    """

    name: str
    fn: Gain
    answers: bool = True
    quiz: str = "gold"

    def score(self, quiz: QuizResult) -> float | None:
        """What a row stores as the quiz's score: its accuracy, or its mean gold-answer log-likelihood (nats per
        token) when the quiz generates no answers."""
        return quiz.accuracy if self.answers else quiz.loglik

    def gain(self, adapted: QuizResult, base: QuizResult) -> float | None:
        """The reward of an inner loop, `fn(adapted, base)`."""
        value = self.fn(adapted, base)
        return None if value is None else float(value)


def _add(names: tuple[str, ...], factory) -> None:
    for key in names:
        if key in REWARDS:
            raise ValueError(f"reward {key!r} is registered twice")
        REWARDS[key] = factory


def register_reward(name: str, *, answers: bool = True, quiz: str = "gold", aliases: tuple[str, ...] = ()):
    """Function decorator: make `fn(adapted, base)` the quiz reward `name` (and `aliases`) of `reward.kind`.
    Raises ValueError when a name is taken."""
    def add(fn: Gain) -> Gain:
        _add((name, *aliases), lambda: QuizReward(name, fn, answers, quiz))
        return fn
    return add


def register(cls=None, *, aliases: tuple[str, ...] = ()):
    """Class decorator: make a `RatingReward` subclass known under its `name` (and `aliases`)."""
    def add(cls):
        _add((cls.name, *aliases), cls)
        return cls
    return add(cls) if cls is not None else add


def function_reward(path: str) -> QuizReward:
    """The quiz reward of the function at "module:function" (our extension); the function's attributes `answers`
    (default True) and `quiz` (default "gold") say what its quiz needs. A worker elsewhere (a Ray actor) imports the
    module again, so it must be importable there too (installed, or on PYTHONPATH).

    Raises:
        ValueError: the module or function cannot be imported, or is not callable.
    """
    try:
        fn = import_object(path)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(f"reward function {path!r} cannot be imported ({e})") from None
    if not callable(fn):
        raise ValueError(f"reward function {path!r} is not callable")
    return QuizReward(path, fn, bool(getattr(fn, "answers", True)), getattr(fn, "quiz", "gold"))


def make_reward(kind: str) -> "QuizReward | RatingReward":
    """The reward registered as `kind`, or the function `kind` names as "module:function" (`function_reward`).
    Raises ValueError naming the known ones when there is none, or why the function cannot be used."""
    if kind in REWARDS:
        return REWARDS[kind]()
    if ":" in kind:
        return function_reward(kind)
    raise ValueError(f"unknown reward {kind!r} (known: {', '.join(sorted(REWARDS))}, or module:function)")


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@register_reward("accuracy")
@register_reward("self-quiz-accuracy", quiz="self-written")
def accuracy_gain(adapted: QuizResult, base: QuizResult) -> float | None:
    """Gain in quiz accuracy under the configured grader (paper Section 4.2); `self-quiz-accuracy` asks the questions
    the unadapted model wrote (our extension, no answer key). None when a quiz has no graded answer (a self-written
    quiz whose pairs all failed the filter)."""
    return _difference(adapted.accuracy, base.accuracy)


@register_reward("loglik", answers=False)
@register_reward("self-quiz", answers=False, quiz="self-written")
def loglik_gain(adapted: QuizResult, base: QuizResult) -> float | None:
    """Gain in the gold answers' mean log-likelihood, nats per token (continuous, no generation: far less noisy than
    accuracy on a quiz of a dozen questions); `self-quiz` scores the answers the unadapted model wrote."""
    return _difference(adapted.loglik, base.loglik)


class RatingReward:
    """A reward given to the self-edit itself, with no inner loop (no training, no quiz)."""

    name: ClassVar[str] = ""

    def rate(self, domain, items: list[tuple]) -> list[Outcome]:
        """One outcome per (passage, self-edit, seed) item; `domain` is the knowledge domain, of which a rating reads
        the adapter's unadapted model, the tokenizer and the config (it calls none of its methods)."""
        raise NotImplementedError


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
