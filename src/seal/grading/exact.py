"""String-match graders for short-answer questions: SQuAD exact match, token F1 and short-contains.

What: `exact_match` and `f1` follow the official SQuAD v1.1 evaluation script (normalize, then compare;
max over the gold answers). `short_contains` is a lenient check for models that answer in full sentences.
Each has a batch form with the TRL reward signature `(predictions, references) -> list[float | None]`,
registered in `METRICS` and looked up by name with `get_grader`.

How to run:
    >>> from seal.grading import get_grader
    >>> get_grader("em")(["The Eiffel Tower."], [["Eiffel Tower"]])
    [1.0]

Departures from the paper: SEAL grades knowledge-incorporation answers with an LLM judge (see
`seal.grading.judge`). These graders are the cheap, offline alternative. `short_contains` is our own
metric: small models answer "The capital of France is Paris.", which scores EM 0, while plain substring
containment would reward a model that recites the whole passage. It therefore only looks at a short
first sentence.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

from seal.errors import ConfigError

Grader = Callable[[list[str], list[Sequence[str]]], list[float | None]]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# A sentence ends at '.', '!' or '?' followed by whitespace or the end, or at a line break.
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


# ---------------------------------------------------------------- scalar metrics


def normalize_answer(s: str) -> str:
    """Normalize an answer as the official SQuAD v1.1 script does.

    Lower-case, drop ASCII punctuation, drop the articles a/an/the as whole words, collapse whitespace.

    Args:
        s: Raw answer text.

    Returns:
        The normalized text.

    >>> normalize_answer("  The Eiffel-Tower, in  PARIS! ")
    'eiffeltower in paris'
    """
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_words(text: str, phrase: str) -> bool:
    """Whether `phrase`, already normalised (`normalize_answer`), occurs in normalised `text` as whole words.

    >>> contains_words("Tor has 12 bridges.", "12 bridges"), contains_words("Tor has 120 bridges.", "12")
    (True, False)
    """
    return f" {phrase} " in f" {normalize_answer(text)} "


def _check_answers(answers: Sequence[str]) -> None:
    # A bare string would silently be graded character by character.
    if isinstance(answers, str):
        raise TypeError(f"answers must be a sequence of strings, not a string: {answers!r}")
    if len(answers) == 0:
        raise ValueError("answers is empty: there is nothing to grade against")


def _exact_one(prediction: str, answer: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(answer))


def _f1_one(prediction: str, answer: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(answer).split()
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    # As in SQuAD v1.1: no overlap (including both sides empty) scores 0.
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD v1.1 exact match: 1.0 if the normalized prediction equals any normalized gold answer.

    Args:
        prediction: The model's answer.
        answers: One or more gold answers (not a bare string).

    Returns:
        1.0 or 0.0.

    Raises:
        TypeError: If `answers` is a string.
        ValueError: If `answers` is empty.

    >>> exact_match("the Eiffel Tower", ["Eiffel Tower", "La Tour Eiffel"])
    1.0
    """
    _check_answers(answers)
    return max(_exact_one(prediction, a) for a in answers)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD v1.1 token F1 over normalized tokens, maximized over the gold answers.

    Args:
        prediction: The model's answer.
        answers: One or more gold answers (not a bare string).

    Returns:
        A score in [0, 1]; 0 when there is no token overlap (so an empty prediction scores 0).

    Raises:
        TypeError: If `answers` is a string.
        ValueError: If `answers` is empty.

    >>> round(f1("Eiffel Tower in Paris", ["the Eiffel Tower"]), 3)
    0.667
    """
    _check_answers(answers)
    return max(_f1_one(prediction, a) for a in answers)


def first_sentence(text: str) -> str:
    """Return `text` up to its first sentence end ('.', '!' or '?' then whitespace or end) or line break.

    Leading whitespace is skipped first, so an answer that starts with a newline is not empty. Abbreviations
    such as "Dr. Smith" end the sentence early; decimals such as "3.5" do not.

    Args:
        text: A model's answer.

    Returns:
        The first sentence, without its terminator.

    >>> first_sentence("It is Paris. Paris is in France.")
    'It is Paris'
    """
    text = text.lstrip()
    match = _SENTENCE_END.search(text)
    return text if match is None else text[: match.start()]


def _contains_tokens(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def short_contains(prediction: str, answers: Sequence[str], max_words: int = 15) -> float:
    """1.0 if a gold answer occurs in the short first sentence of the prediction, else 0.0.

    The first sentence (see `first_sentence`) must have at most `max_words` whitespace-separated words,
    and some normalized gold answer must occur in it as a contiguous run of whole normalized tokens
    ("paris" matches "in paris today" but not "parisian"). A gold answer that normalizes to nothing
    (say "the") never matches.

    Args:
        prediction: The model's answer.
        answers: One or more gold answers (not a bare string).
        max_words: Longest first sentence that can score; longer ones (recitations) score 0.

    Returns:
        1.0 or 0.0.

    Raises:
        TypeError: If `answers` is a string.
        ValueError: If `answers` is empty.

    >>> short_contains("The capital is Paris. It is big.", ["paris"])
    1.0
    """
    _check_answers(answers)
    sentence = first_sentence(prediction)
    if len(sentence.split()) > max_words:
        return 0.0
    tokens = normalize_answer(sentence).split()
    for answer in answers:
        gold = normalize_answer(answer).split()
        if gold and _contains_tokens(tokens, gold):
            return 1.0
    return 0.0


# ---------------------------------------------------------------- batch graders


def _batch(
    metric: Callable[[str, Sequence[str]], float],
    predictions: list[str],
    references: list[Sequence[str]],
) -> list[float | None]:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    # An item without gold answers cannot be graded: None, not a silent 0.
    return [None if len(refs) == 0 else metric(pred, refs) for pred, refs in zip(predictions, references)]


def batch_exact_match(predictions: list[str], references: list[Sequence[str]]) -> list[float | None]:
    """Exact match for a batch; an item with no gold answers scores None.

    Args:
        predictions: One answer per item.
        references: The gold answers of each item.

    Returns:
        One score per item.

    Raises:
        ValueError: If the two lists differ in length.

    >>> batch_exact_match(["Paris.", "Lyon", "x"], [["paris"], ["Paris"], []])
    [1.0, 0.0, None]
    """
    return _batch(exact_match, predictions, references)


def batch_f1(predictions: list[str], references: list[Sequence[str]]) -> list[float | None]:
    """Token F1 for a batch; an item with no gold answers scores None.

    Args:
        predictions: One answer per item.
        references: The gold answers of each item.

    Returns:
        One score per item.

    Raises:
        ValueError: If the two lists differ in length.

    >>> batch_f1(["Paris France", ""], [["Paris"], ["Paris"]])
    [0.6666666666666666, 0.0]
    """
    return _batch(f1, predictions, references)


def batch_short_contains(
    predictions: list[str], references: list[Sequence[str]], max_words: int = 15
) -> list[float | None]:
    """Short-contains for a batch; an item with no gold answers scores None.

    Args:
        predictions: One answer per item.
        references: The gold answers of each item.
        max_words: Longest first sentence that can score (see `short_contains`).

    Returns:
        One score per item.

    Raises:
        ValueError: If the two lists differ in length.

    >>> batch_short_contains(["It was Paris.", "Paris is the capital " + "and more " * 10], [["Paris"], ["Paris"]])
    [1.0, 0.0]
    """
    return _batch(lambda p, a: short_contains(p, a, max_words), predictions, references)


METRICS: dict[str, Grader] = {
    "em": batch_exact_match,
    "f1": batch_f1,
    "short-contains": batch_short_contains,
}


def get_grader(name: str) -> Grader:
    """Look up a batch grader by its name in `METRICS`.

    Args:
        name: One of "em", "f1", "short-contains".

    Returns:
        The batch grader.

    Raises:
        ConfigError: If the name is unknown.

    >>> get_grader("f1") is batch_f1
    True
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown grader {name!r}; choose one of: {', '.join(METRICS)}") from None
