"""The built-in invented-world dataset: shape and quiz quality checks."""

from __future__ import annotations

import pytest

from seal.domains.knowledge.data import load_passages


@pytest.fixture(scope="module")
def passages():
    return load_passages("builtin")


def test_forty_passages_with_expected_ids(passages):
    assert len(passages) == 40
    assert [p.id for p in passages] == [f"world-{i:02d}" for i in range(1, 41)]


def test_ids_and_titles_unique(passages):
    assert len({p.id for p in passages}) == len(passages)
    titles = [p.title for p in passages]
    assert all(t.strip() for t in titles)
    assert len(set(titles)) == len(titles)


def test_context_length(passages):
    for p in passages:
        n = len(p.context.split())
        assert 80 <= n <= 200, f"{p.id}: context has {n} words"


def test_at_least_twelve_questions(passages):
    for p in passages:
        assert len(p.questions) >= 12, f"{p.id}: only {len(p.questions)} questions"


def test_answers_are_short(passages):
    for p in passages:
        for qa in p.questions:
            assert qa.answers, f"{p.id}: {qa.question!r} has no answers"
            for a in qa.answers:
                assert 1 <= len(a.split()) <= 3, f"{p.id}: answer {a!r} to {qa.question!r} is not 1-3 words"


def test_first_answer_in_context(passages):
    for p in passages:
        context = p.context.lower()
        for qa in p.questions:
            assert qa.answers[0].lower() in context, f"{p.id}: {qa.answers[0]!r} ({qa.question!r}) not in context"


def test_no_duplicate_questions(passages):
    for p in passages:
        qs = [qa.question.strip().lower() for qa in p.questions]
        assert len(set(qs)) == len(qs), f"{p.id}: duplicate questions"


def test_questions_are_questions(passages):
    for p in passages:
        for qa in p.questions:
            assert qa.question.endswith("?"), f"{p.id}: {qa.question!r}"
