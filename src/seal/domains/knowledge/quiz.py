"""Closed-book quizzes: answer a passage's questions without the passage, grade, and score log-likelihoods.

As the paper evaluates: the passage title as topic, then the question; greedy decoding, at most 64 new tokens, the
answer being the generation up to its first line break; all of a passage's questions in one batched generate.
Two prompt styles: `plain` (Title/Question/Answer text) and `chat` (the model's chat template). Measured with
SmolLM2-135M-Instruct on the built-in passages, `plain` answered better (under the chat template it answers in full
sentences and recites the passage), so `auto` picks `plain`; `chat` is one override away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import torch

from seal.config import COUNT, opt
from seal.domains.knowledge.data import Passage
from seal.errors import ConfigError, JudgeError
from seal.grading.judge import JudgeConfig, JudgeResult
from seal.models.context import model_context, require_fit
from seal.models.generate import HFGenerator
from seal.models.score import continuation_loglik
from seal.models.tokens import chat_prompt, encode

PLAIN = "Title: {title}\nQuestion: {question}\nAnswer:"
CHAT = "Answer this question about {title} in a few words.\nQuestion: {question}"


@dataclass(frozen=True)
class QuizConfig:
    style: Literal["auto", "plain", "chat"] = opt("auto", "prompt style; auto = plain (measured best on SmolLM2)")
    max_new_tokens: int = opt(64, "answer length limit (paper: 64)", COUNT)
    metric: Literal["em", "f1", "short-contains", "judge"] = opt(
        "em", "grading: SQuAD exact match (deterministic default), token F1, short-contains (gold answer in a first "
        "sentence of at most 15 words; for small models that answer in sentences), or an LLM judge (paper)")
    batch_size: int = opt(32, "prompts per generate call", COUNT)
    judge: JudgeConfig = opt(JudgeConfig(), "LLM judge settings, used when metric=judge")


def quiz_prompts(passage: Passage, style: str, tokenizer) -> list[str]:
    """One prompt per question. `plain` feeds raw text; `chat` wraps the question in the chat template, or for a
    tokenizer without one ends the instruction with "Answer:" as `plain` does (else a base model answers nothing)."""
    if style in ("auto", "plain"):
        return [PLAIN.format(title=passage.title, question=q.question) for q in passage.questions]
    if style == "chat":
        return [chat_prompt(tokenizer, CHAT.format(title=passage.title, question=q.question), "\nAnswer:")
                for q in passage.questions]
    raise ConfigError(f"quiz.style: unknown style {style!r}")


def answer_quiz(model, tokenizer, passages: Sequence[Passage], cfg: QuizConfig, generator=None,
                lora_requests: Sequence | None = None) -> list[list[str]]:
    """Greedy answers, one list per passage, all questions batched together: with `model` in process, or with
    `generator` (a vLLM engine) when given; `lora_requests` then names each passage's adapter."""
    prompts = [p for passage in passages for p in quiz_prompts(passage, cfg.style, tokenizer)]
    extra = {}
    if lora_requests is not None:
        extra["lora_request"] = [r for passage, r in zip(passages, lora_requests) for _ in passage.questions]
    generator = generator or HFGenerator(model, tokenizer, cfg.batch_size)
    flat = generator.generate(prompts, max_new_tokens=cfg.max_new_tokens, stop_at_newline=True, **extra)
    out, i = [], 0
    for passage in passages:
        out.append(flat[i:i + len(passage.questions)])
        i += len(passage.questions)
    return out


@dataclass
class QuizResult:
    """One quiz of one model on one passage: answers and their grades (empty when the quiz only scored
    log-likelihoods), and each gold answer's log-likelihood under the same weights."""

    predictions: list[str]
    scores: list[float | None]
    accuracy: float | None
    judged: dict = field(default_factory=dict)  # under an LLM judge: each verdict's error and raw reply
    logliks: list[float] | None = None  # per question: mean log-probability per token of the first gold answer
    loglik_s: float = 0.0  # seconds spent scoring `logliks` (what the knowledge measure costs)

    @property
    def loglik(self) -> float | None:
        """The gold answers' mean log-likelihood over the questions, nats per token (None when not scored)."""
        return sum(self.logliks) / len(self.logliks) if self.logliks else None

    def details(self) -> dict:
        """What the store keeps of a quiz: the answers, their scores, the gold answers' log-likelihoods (`logliks`,
        nats per token, one per question) and, under a judge, `judge_errors` and `judge_replies` (one per answer),
        so that a wrong grade can be seen afterwards."""
        return {"predictions": self.predictions, "scores": self.scores, "logliks": self.logliks} | self.judged


@dataclass
class Grader:
    """Scores answers against a passage's gold answers with the configured metric. A judge's unreadable verdicts
    score None and are kept in `errors`; a judge whose endpoint fails raises `JudgeError` naming the passage."""

    metric: str
    judge: object | None = None
    errors: list[str] = field(default_factory=list)

    def __call__(self, passage: Passage, predictions: list[str]) -> list[float | None]:
        return self.grade(passage, predictions).scores

    def grade(self, passage: Passage, predictions: list[str]) -> JudgeResult:
        """One score per answer, with the judge's error and raw reply per answer (None under string metrics)."""
        refs = [q.answers for q in passage.questions]
        if self.metric == "judge":
            try:
                result = self.judge.grade([q.question for q in passage.questions], predictions, refs)
            except JudgeError as e:
                raise JudgeError(f"grading the quiz on passage {passage.id}: {e}") from None
            self.errors.extend(e for e in result.errors if e)
            return result
        from seal.grading import get_grader

        none = [None] * len(predictions)
        return JudgeResult(list(get_grader(self.metric)(predictions, refs)), none, none)


def make_grader(cfg: QuizConfig, model=None, tokenizer=None) -> Grader:
    """The grader of `cfg.metric`; an LLM judge (`metric: judge`) is built and its endpoint checked here, so an
    unreachable judge fails before any work (`local`: `model` judges with `tokenizer`).

    Raises:
        JudgeError: the judge's endpoint is unreachable.
    """
    if cfg.metric != "judge":
        return Grader(cfg.metric)
    from seal.grading.judge import make_judge

    judge = make_judge(cfg.judge, local_model=model, local_tokenizer=tokenizer)
    if hasattr(judge, "check_reachable"):
        judge.check_reachable()
    return Grader("judge", judge)


def accuracy(scores: Sequence[float | None]) -> float | None:
    """Mean over graded items (judge errors excluded); None when nothing was graded."""
    graded = [s for s in scores if s is not None]
    return sum(graded) / len(graded) if graded else None


def quiz_token_ids(tokenizer, passage: Passage, style: str) -> list[tuple[list[int], list[int]]]:
    """Per question of `passage`: its quiz prompt's token ids as generation feeds them, and its first gold answer's
    ids after them (a space first), as `answer_loglik` scores them."""
    out = []
    for prompt, qa in zip(quiz_prompts(passage, style, tokenizer), passage.questions):
        p_ids = encode(tokenizer, prompt)  # as generation feeds the prompt
        a_ids = tokenizer(" " + qa.answers[0], add_special_tokens=False, split_special_tokens=True)["input_ids"]
        out.append((p_ids, list(a_ids)))
    return out


@torch.no_grad()
def answer_loglik(model, tokenizer, passage: Passage, style: str) -> list[float]:
    """Mean log-probability per token of each question's first gold answer after its quiz prompt (no generation).

    The continuous reward: far less noisy than accuracy on small quizzes.

    Raises:
        DataError: a question whose prompt and answer exceed the model's context (`models.context.require_fit`)."""
    context = model_context(model)
    out = []
    for i, (p_ids, a_ids) in enumerate(quiz_token_ids(tokenizer, passage, style)):
        require_fit(f"passage {passage.id}, question {i + 1}: the quiz prompt and gold answer",
                    len(p_ids) + len(a_ids), context)
        out.append(continuation_loglik(model, p_ids, a_ids))
    return out
