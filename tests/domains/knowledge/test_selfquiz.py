"""The self-written quiz (`reward.kind: self-quiz`): parsing and filtering the model's pairs, sampling them with a
seeded generator, and the rewards scoring a self-edit on them instead of the passage's gold questions."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

import pytest

from seal.config import load_config
from seal.domains.knowledge.config import KnowledgeConfig, SelfQuizConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.quiz import Grader, QuizResult, answer_loglik
from seal.domains.knowledge.rewards import make_reward
from seal.domains.knowledge.selfquiz import PROMPT, filter_pairs, parse_pairs, self_quiz
from seal.errors import ConfigError
from seal.models import load
from seal.outer.sample import stable_seed

TOR = Passage("tor", "Tor", "Tor is a harbour town of 900 people. Its mayor is Ana Vell, elected in 1998.",
              (QA("Who is the mayor of Tor?", ("Ana Vell",)),))
SELF_QUIZ = (QA("How many people live in the harbour town?", ("900",)), QA("Who is the mayor?", ("Ana Vell",)),
             QA("When was the mayor elected?", ("1998",)))


class FixedWriter:
    """A generator that returns the same texts to every call and records what it was asked."""

    def __init__(self, texts: Sequence[str]):
        self.texts = list(texts)
        self.calls: list[dict] = []

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int = 0) -> list[str]:
        self.calls.append({"prompts": list(prompts), "max_new_tokens": max_new_tokens, "temperature": temperature,
                           "top_p": top_p, "seed": seed})
        return [self.texts[i % len(self.texts)] for i in range(len(prompts))]


# ---------------------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text, pairs", [
    ("Question: Where is Tor?\nAnswer: on the coast\nQuestion: Who rules it?\nAnswer: Ana Vell",
     [("Where is Tor?", "on the coast"), ("Who rules it?", "Ana Vell")]),
    ("Here are some questions:\n\n1. Question: How many people live in Tor?\n   Answer: 900.\n\n"
     "2. Question: Who is the mayor?\n   Answer: Ana Vell\n\nI hope this helps!",
     [("How many people live in Tor?", "900"), ("Who is the mayor?", "Ana Vell")]),
    ("Q1: How many people live in Tor?\nA1: 900\n\n\nQ2: When was she elected?\nA2: 1998",
     [("How many people live in Tor?", "900"), ("When was she elected?", "1998")]),
    ("**Question:** Who is the mayor?\n**Answer:** Ana Vell\n- **Question 2**: What is Tor?\n- **Answer 2**: a town",
     [("Who is the mayor?", "Ana Vell"), ("What is Tor?", "a town")]),
    ("Q: Who is the mayor?\nA: *Ana Vell*\nquestion: lower case?\nanswer: yes", [("Who is the mayor?", "Ana Vell"),
                                                                                ("lower case?", "yes")]),
    ("Question: When was the mayor elected? Answer: 1998", [("When was the mayor elected?", "1998")]),
])
def test_pairs_are_read_in_the_usual_formats(text, pairs):
    assert parse_pairs(text) == pairs


@pytest.mark.parametrize("text", [
    "", "Tor is a town.\nIts mayor is Ana Vell.", "Answer: 900", "Question: How many people live in Tor?",
    "Question: Who?\nAnswer:   \nAnswer: Ana", "Area: 5 km\nQuality: high", "Question:\nAnswer: 900",
])
def test_lines_that_make_no_pair_are_ignored(text):
    assert parse_pairs(text) == []


def test_an_unanswered_question_is_replaced_by_the_next_one():
    text = "Question: first?\nsome words\nQuestion: second?\n\nAnswer: 900\nAnswer: stray"
    assert parse_pairs(text) == [("second?", "900")]


# --------------------------------------------------------------------------------------------------------- filtering


def test_the_filter_keeps_answers_found_in_the_passage_as_whole_words():
    pairs = [("How many people live in Tor?", "900"), ("What is the capital?", "Kelvarra"),
             ("How many?", "90"), ("Who is the mayor?", "ANA VELL!"), ("What article?", "The")]
    assert filter_pairs(pairs, TOR) == [QA("How many people live in Tor?", ("900",)),
                                        QA("Who is the mayor?", ("ANA VELL!",))]
    assert filter_pairs([("What is this town called?", "Tor")], TOR) == [QA("What is this town called?", ("Tor",))]


def test_the_filter_drops_questions_that_give_their_answer_away():
    pairs = [("Is Ana Vell the mayor of Tor?", "Ana Vell"), ("Did 900 people live there?", "900 people"),
             ("When was Ana elected?", "1998")]
    assert filter_pairs(pairs, TOR) == [QA("When was Ana elected?", ("1998",))]


def test_the_filter_drops_repeated_questions_and_caps_the_count():
    pairs = [("Who is the mayor?", "Ana Vell"), ("who is THE mayor", "Vell"), ("When was she elected?", "1998"),
             ("How many people live in Tor?", "900"), ("What kind of town is Tor?", "harbour")]
    assert [qa.question for qa in filter_pairs(pairs, TOR)] == ["Who is the mayor?", "When was she elected?",
                                                                "How many people live in Tor?",
                                                                "What kind of town is Tor?"]
    assert filter_pairs(pairs, TOR, max_questions=2) == [QA("Who is the mayor?", ("Ana Vell",)),
                                                         QA("When was she elected?", ("1998",))]


# ---------------------------------------------------------------------------------------------------------- sampling


def test_self_quiz_samples_k_seeded_completions_and_returns_the_passage_with_their_questions(tiny):
    _, tokenizer = tiny
    # continuations of the prompt, which ends with "Question:"
    writer = FixedWriter([" Who is the mayor?\nAnswer: Ana Vell\nQuestion: What is Tor?\nAnswer: a city",
                          " Who is the mayor?\nAnswer: Ana Vell\n2. Q: When was she elected?\nA: 1998.",
                          " Who built the Lorn Bridge?\nAnswer: Ana Vell"])
    cfg = SelfQuizConfig(k=3, max_new_tokens=64, temperature=0.7, top_p=0.9, max_questions=12)
    quiz = self_quiz(writer, TOR, cfg, seed=7)

    [call] = writer.calls  # one generate call, the same prompt k times
    assert len(call["prompts"]) == 3 and len(set(call["prompts"])) == 1
    assert TOR.title in call["prompts"][0] and TOR.context in call["prompts"][0]
    assert PROMPT.splitlines()[0] in call["prompts"][0] and call["prompts"][0].endswith("\nQuestion:")
    assert call["seed"] == stable_seed(7, "self-quiz", TOR.id)
    assert (call["max_new_tokens"], call["temperature"], call["top_p"]) == (64, 0.7, 0.9)
    assert (quiz.id, quiz.title, quiz.context) == (TOR.id, TOR.title, TOR.context)
    assert quiz.questions == (QA("Who is the mayor?", ("Ana Vell",)), QA("When was she elected?", ("1998",)))
    capped = self_quiz(FixedWriter(writer.texts), TOR, SelfQuizConfig(k=3, max_questions=1), seed=7)
    assert capped.questions == (QA("Who is the mayor?", ("Ana Vell",)),)


def test_self_quiz_with_no_pair_left_has_no_questions(tiny):
    _, tokenizer = tiny
    quiz = self_quiz(FixedWriter(["I cannot write questions.", " Is Tor big?\nAnswer: no"]), TOR,
                     SelfQuizConfig(), seed=0)
    assert quiz == Passage(TOR.id, TOR.title, TOR.context, ())


# ----------------------------------------------------------------------------------------------------------- rewards


def test_the_rewards_are_registered_and_score_what_they_say():
    loglik, acc = make_reward("self-quiz"), make_reward("self-quiz-accuracy")
    assert (loglik.quiz, acc.quiz) == ("self-written", "self-written")  # the questions the model writes itself
    assert (make_reward("loglik").fn, make_reward("accuracy").fn) == (loglik.fn, acc.fn)  # scored as the gold ones
    assert (loglik.answers, acc.answers) == (False, True)
    quiz = QuizResult(["900", "x"], [1.0, 0.0], 0.5, logliks=[-1.0, -3.0])
    assert (loglik.score(quiz), acc.score(quiz)) == (-2.0, 0.5)
    empty = QuizResult([], [], None, logliks=[])
    assert loglik.score(empty) is None and acc.score(empty) is None
    assert loglik.gain(quiz, empty) is None and acc.gain(empty, quiz) is None


def test_quiz_of_writes_each_passage_once_with_the_run_seed():
    domain = tiny_domain("self-quiz", "run.seed=5", "reward.self_quiz.k=2")
    fixed, opened = FixedWriter(["Question: Who is the mayor?\nAnswer: Ana Vell"]), []

    @contextmanager
    def writer() -> Iterator[FixedWriter]:  # the unadapted model's writer, answering as a model that follows
        opened.append(1)                     # the format would
        yield fixed

    domain.writer = writer
    quiz = domain.quiz_of(TOR)
    assert quiz.questions == (QA("Who is the mayor?", ("Ana Vell",)),) and quiz.questions != TOR.questions
    assert domain.quiz_of(TOR) is quiz and domain.quiz_of(quiz) is quiz  # cached by passage id
    assert len(opened) == 1 and len(fixed.calls) == 1
    assert fixed.calls[0]["seed"] == stable_seed(5, "self-quiz", TOR.id)
    assert len(fixed.calls[0]["prompts"]) == 2  # reward.self_quiz.k
    other = Passage("other", "Tor", TOR.context, ())
    assert domain.quiz_of(other).id == "other" and len(opened) == 2
    scored = domain.rewarded_by(make_reward("accuracy"))  # a gold-question reward asks the gold questions ...
    assert scored.quiz_of(TOR) is TOR and scored.self_quizzes is domain.self_quizzes  # ... and shares the cache


# -------------------------------------------------------------------------------------------------------- end to end


def tiny_domain(kind: str, *overrides: str) -> KnowledgeDomain:
    cfg = load_config(KnowledgeConfig, None, ["model.name=tiny-llama", "inner.epochs=1", "inner.lora.r=4",
                                              "quiz.max_new_tokens=4", f"reward.kind={kind}", *overrides])
    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")  # a private copy: the adapter wraps it
    return KnowledgeDomain(model, tokenizer, cfg, Grader("em"), make_reward(kind), source="tiny-llama")


def test_a_self_edit_is_rewarded_on_the_self_written_questions_not_the_gold_ones():
    domain = tiny_domain("self-quiz")
    written = Passage(TOR.id, TOR.title, TOR.context, SELF_QUIZ)
    domain.self_quizzes[TOR.id] = written  # as if the unadapted model had written these

    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")  # the same weights, never adapted
    base = answer_loglik(model, tokenizer, written, domain.cfg.quiz.style)
    out = domain.evaluate(TOR, "Tor has a mayor called Ana Vell.", 0)

    assert out.n_questions == len(SELF_QUIZ) != len(TOR.questions)
    assert len(out.details["logliks"]) == len(SELF_QUIZ)
    adapted = sum(out.details["logliks"]) / len(SELF_QUIZ)
    assert out.score == pytest.approx(adapted)
    assert out.base_score == pytest.approx(sum(base) / len(base), abs=1e-5)
    assert out.reward == pytest.approx(adapted - sum(base) / len(base), abs=1e-5)
    assert domain.self_quizzes[TOR.id] is written  # nothing was written again


@pytest.mark.parametrize("kind", ["self-quiz", "self-quiz-accuracy"])
def test_a_passage_whose_self_quiz_keeps_no_question_gets_no_reward(kind):
    domain = tiny_domain(kind)
    domain.self_quizzes[TOR.id] = Passage(TOR.id, TOR.title, TOR.context, ())  # nothing survived the filter
    out = domain.evaluate(TOR, "Tor has a mayor called Ana Vell.", 0)
    assert (out.reward, out.score, out.base_score, out.n_questions) == (None, None, None, 0)


def test_the_tiny_model_writes_a_quiz_through_the_domain():
    domain = tiny_domain("self-quiz", "reward.self_quiz.k=2", "reward.self_quiz.max_new_tokens=8")
    quiz = domain.quiz_of(TOR)  # random weights: gibberish, most likely no pair at all
    assert (quiz.id, quiz.title, quiz.context) == (TOR.id, TOR.title, TOR.context)
    assert len(quiz.questions) <= domain.cfg.reward.self_quiz.max_questions
    assert list(quiz.questions) == filter_pairs([(q.question, q.answers[0]) for q in quiz.questions], TOR)
    assert domain.quiz_of(quiz) is quiz


# ------------------------------------------------------------------------------------------------------------ config


def test_the_config_accepts_the_reward_and_shows_its_section():
    cfg = load_config(KnowledgeConfig, None, ["reward.kind=self-quiz"])
    assert cfg.reward.kind == "self-quiz" and cfg.reward.self_quiz == SelfQuizConfig()
    assert (SelfQuizConfig().k, SelfQuizConfig().max_questions) == (4, 12)
    assert load_config(KnowledgeConfig, None, ["reward.kind=self-quiz-accuracy"]).reward.kind == "self-quiz-accuracy"
    with pytest.raises(ConfigError, match="reward.self_quiz.k: must be at least 1"):
        load_config(KnowledgeConfig, None, ["reward.self_quiz.k=0"])
    out = subprocess.run([sys.executable, "-m", "seal.cli", "config", "show", "knowledge", "eval"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "self_quiz:" in out.stdout and "max_questions: 12" in out.stdout
