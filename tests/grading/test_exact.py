"""Tests of seal.grading.exact: SQuAD v1.1 semantics, short-contains, batch graders and the registry."""

import doctest

import pytest

import seal.grading.exact as exact_module
from seal.errors import ConfigError
from seal.grading import (
    METRICS,
    exact_match,
    f1,
    first_sentence,
    get_grader,
    normalize_answer,
    short_contains,
)


def test_doctests():
    result = doctest.testmod(exact_module)
    assert result.attempted > 5 and result.failed == 0


# ---------------------------------------------------------------- normalize_answer


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The Cat", "cat"),
        ("a  cat\tand\nAN apple", "cat and apple"),
        ("theater", "theater"),  # articles only as whole words
        ("Anne ate the-apple", "anne ate theapple"),  # punctuation goes first, so "the-apple" is one word
        ("U.S.A.!", "usa"),
        ("  ", ""),
        ("The the THE", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


# ---------------------------------------------------------------- exact_match and f1


def test_exact_match_ignores_case_articles_punctuation_whitespace():
    assert exact_match("  THE Eiffel   Tower!! ", ["eiffel tower"]) == 1.0
    assert exact_match("Eiffel Towers", ["Eiffel Tower"]) == 0.0


def test_exact_match_takes_max_over_gold_answers():
    assert exact_match("1889", ["eighteen eighty-nine", "1889"]) == 1.0
    assert exact_match("1890", ["eighteen eighty-nine", "1889"]) == 0.0


def test_f1_partial_overlap_and_max_over_golds():
    # pred {eiffel, tower, paris} vs gold {eiffel, tower}: P=2/3, R=1, F1=0.8
    assert f1("The Eiffel Tower, Paris", ["Eiffel Tower"]) == pytest.approx(0.8)
    assert f1("The Eiffel Tower, Paris", ["Louvre", "Eiffel Tower Paris"]) == 1.0


def test_f1_counts_repeated_tokens_once_each():
    # common = min counts: "paris" x1; P = 1/3, R = 1 -> 0.5
    assert f1("paris paris paris", ["Paris"]) == pytest.approx(0.5)


def test_empty_prediction():
    assert exact_match("", ["Paris"]) == 0.0
    assert f1("", ["Paris"]) == 0.0
    assert short_contains("", ["Paris"]) == 0.0


def test_empty_after_normalization_follows_squad_v11():
    # Official v1.1: EM compares normalized strings (equal), F1 needs a common token (none).
    assert exact_match("The.", ["a"]) == 1.0
    assert f1("The.", ["a"]) == 0.0


def test_bad_answers_argument():
    with pytest.raises(TypeError):
        exact_match("Paris", "Paris")
    with pytest.raises(ValueError):
        f1("Paris", [])


# ---------------------------------------------------------------- short_contains


def test_first_sentence_boundaries():
    assert first_sentence("Paris. Then more.") == "Paris"
    assert first_sentence("Is it Paris? Yes!") == "Is it Paris"
    assert first_sentence("About 3.5 meters tall. Yes.") == "About 3.5 meters tall"
    assert first_sentence("Paris\nis the capital.") == "Paris"
    assert first_sentence("\n  Paris is it") == "Paris is it"
    assert first_sentence("Paris!") == "Paris"


def test_short_contains_sentence_answer():
    assert short_contains("The capital of France is Paris.", ["Paris"]) == 1.0
    assert short_contains("It was built in 1889 for the fair.", ["1889"]) == 1.0


def test_short_contains_whole_tokens_only():
    assert short_contains("He was Parisian.", ["Paris"]) == 0.0
    assert short_contains("The tower is in Paris, France.", ["Paris France"]) == 1.0
    assert short_contains("France, then Paris.", ["Paris France"]) == 0.0


def test_short_contains_only_first_sentence():
    assert short_contains("I do not know. It might be Paris.", ["Paris"]) == 0.0
    assert short_contains("I do not know\nParis", ["Paris"]) == 0.0


def test_short_contains_word_limit():
    sentence = "Paris " + " ".join(["word"] * 14)  # 15 words
    assert short_contains(sentence + ".", ["Paris"]) == 1.0
    assert short_contains(sentence + " extra.", ["Paris"]) == 0.0
    assert short_contains(sentence + " extra.", ["Paris"], max_words=16) == 1.0


def test_short_contains_recitation_scores_zero():
    passage = (
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France, named after "
        "the engineer Gustave Eiffel, whose company designed and built it between 1887 and 1889."
    )
    assert short_contains(passage, ["Paris"]) == 0.0
    assert short_contains(passage, ["1889"]) == 0.0


def test_short_contains_several_golds_and_empty_gold():
    assert short_contains("It is Lutetia.", ["Paris", "Lutetia"]) == 1.0
    assert short_contains("It is Paris.", ["the"]) == 0.0  # empty after normalization never matches


# ---------------------------------------------------------------- batch graders and registry


def test_registry_names_and_batch_signature():
    assert set(METRICS) == {"em", "f1", "short-contains"}
    preds = ["Paris.", "The capital is Paris.", "no idea"]
    refs = [["Paris"], ["Paris"], ["Paris"]]
    assert get_grader("em")(preds, refs) == [1.0, 0.0, 0.0]
    assert get_grader("short-contains")(preds, refs) == [1.0, 1.0, 0.0]
    scores = get_grader("f1")(preds, refs)
    assert scores[0] == 1.0 and scores[1] == pytest.approx(0.5) and scores[2] == 0.0


def test_batch_empty_references_give_none_and_lengths_must_match():
    assert get_grader("em")(["Paris", "x"], [["Paris"], []]) == [1.0, None]
    assert get_grader("f1")([], []) == []
    with pytest.raises(ValueError):
        get_grader("em")(["a", "b"], [["a"]])


def test_get_grader_unknown_name():
    with pytest.raises(ConfigError, match="short-contains"):
        get_grader("bleu")
