"""A person's own questions for `seal ask --file` and `seal learn --quiz` (our extension, not in the paper).

A questions file is UTF-8 text, one question a line; blank lines and lines starting with `#` are left out. A line
`question<TAB>answer` also gives the expected answer (several accepted ones separated by ` | `), and such a question
is scored: correct when an expected answer occurs in the answer's first sentence of at most 15 words
(`seal.grading.short_contains`, whole normalized words: "1201" matches "It was founded in 1201." but not "12010"),
since a small model answers in sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seal.errors import DataError
from seal.grading import short_contains

SCORED_AS = "an expected answer in the answer's first sentence of at most 15 words"


@dataclass(frozen=True)
class Question:
    """One line of a questions file: the question and its expected answers (none: asked, not scored)."""

    question: str
    answers: tuple[str, ...] = ()

    def correct(self, answer: str) -> bool | None:
        """Whether `answer` is right (`short_contains`), None when the question has no expected answer."""
        return bool(short_contains(answer, self.answers)) if self.answers else None


def read_questions(path: str | Path) -> list[Question]:
    """The questions of a questions file (format in the module docstring), in order.

    Raises:
        DataError: the file cannot be read or is not UTF-8 text; a line with a tab but no answer after it; no
            question in the file. Each names the file (and the line).
    """
    path = Path(path).expanduser()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise DataError(f"{path}: cannot read the questions file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: a questions file must be UTF-8 text") from None
    questions = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        question, tab, expected = line.partition("\t")
        answers = tuple(a.strip() for a in expected.split(" | ") if a.strip())
        if not question.strip():
            raise DataError(f"{path}, line {number}: no question before the tab")
        if tab and not answers:
            raise DataError(f"{path}, line {number}: no answer after the tab (write `question<TAB>answer`, or the "
                            "question alone)")
        questions.append(Question(question.strip(), answers))
    if not questions:
        raise DataError(f"{path}: no question in the file (one question a line, `question<TAB>answer` to score it)")
    return questions


def accuracy(questions: list[Question], answers: list[str]) -> tuple[int, int] | None:
    """(correct, scored) over the questions with expected answers; None when none has one."""
    marks = [q.correct(a) for q, a in zip(questions, answers)]
    scored = [m for m in marks if m is not None]
    return (sum(scored), len(scored)) if scored else None
