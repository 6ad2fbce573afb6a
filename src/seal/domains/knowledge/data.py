"""Passages with quizzes: the knowledge-incorporation domain's data.

Loaders for SEAL's JSON layout (`[{title, context, questions: [{question, answer}]}]`), the official SQuAD v1.1
layout (`{data: [{title, paragraphs: [{context, qas: [{question, answers: [{text}]}]}]}]}`), Hugging Face `datasets`
(`squad`), and the built-in invented-world set shipped with the package. Selection is deterministic: SEAL's own
200 evaluation passages are the first 200 after Python's `random.seed(42); random.shuffle(passages)`.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from seal.errors import DataError
from seal.jsonfile import read_json

BUILTIN_NAME = "builtin"


@dataclass(frozen=True)
class QA:
    """One quiz question and its accepted answers (any of them counts as correct)."""

    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Passage:
    """A context to incorporate, with its quiz. `id` is stable across runs (a content hash unless given)."""

    id: str
    title: str
    context: str
    questions: tuple[QA, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Passage":
        return Passage(
            id=d["id"],
            title=d["title"],
            context=d["context"],
            questions=tuple(QA(q["question"], tuple(q["answers"])) for q in d["questions"]),
        )


def passage_id(title: str, context: str) -> str:
    """A short content hash, so the same passage has the same id whichever file it came from."""
    return hashlib.sha1(f"{title}\n{context}".encode()).hexdigest()[:12]


def _number_or_text(value, where: str, what: str, empty_ok: bool = False) -> str:
    """`value` as text: a string, or a number written as one (an answer 5 is "5"); anything else is a DataError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not (empty_ok or value.strip()):
        raise DataError(f"{where}: {what} must be {'' if empty_ok else 'non-empty '}text or a number, "
                        f"got {value!r:.60}")
    return value


def answer_texts(raw, where: str) -> list[str]:
    """The accepted answers of one question, from any of the layouts SQuAD-style files use.

    Accepted: a string; a number (5 -> "5"); a SQuAD answer object `{"text": ...}`; Hugging Face's column layout
    `{"text": [...], "answer_start": [...]}`; or a list of strings, numbers and answer objects. Empty strings are
    dropped (SQuAD leaves some blank).

    Raises:
        DataError: naming `where` and the value, on an object without "text", a value of another type (a bool,
            null, a nested list), or no non-empty answer.

    >>> answer_texts({"text": ["north", "the north"], "answer_start": [4, 0]}, "q")
    ['north', 'the north']
    >>> answer_texts([5, {"text": "five"}], "q")
    ['5', 'five']
    """
    if isinstance(raw, dict):
        if "text" not in raw:
            raise DataError(f"{where}: an answer object needs a 'text', got {raw!r:.60}")
        raw = raw["text"]
    answers = []
    for i, answer in enumerate(raw if isinstance(raw, list) else [] if raw is None else [raw]):
        if isinstance(answer, dict):
            if "text" not in answer:
                raise DataError(f"{where}: answer {i} is an object without 'text': {answer!r:.60}")
            answer = answer["text"]
        answer = _number_or_text(answer, f"{where}: answer {i}", "an answer", empty_ok=True)
        if answer.strip():
            answers.append(answer)
    if not answers:
        raise DataError(f"{where}: needs at least one non-empty answer, got {raw!r:.60}")
    return answers


def _make_passage(where: str, title, context, qas: list[tuple[object, object]], pid=None) -> Passage:
    """A checked Passage; `qas` holds (question, answers in any layout `answer_texts` reads), `where` names the
    passage in errors ("file.json: passage 3")."""
    if not isinstance(context, str) or not context.strip():
        raise DataError(f"{where}: the context must be non-empty text, got {context!r:.60}")
    title = _title(title, where)
    pid = passage_key(where, title, context, pid)
    if not qas:
        raise DataError(f"{where} ({title!r}) has no questions")
    questions = []
    for j, (q, answers) in enumerate(qas):
        at = f"{where} ({title!r}), question {j}"
        if not isinstance(q, str) or not q.strip():
            raise DataError(f"{at}: the question must be non-empty text, got {q!r:.60}")
        questions.append(QA(q.strip(), tuple(answer_texts(answers, at))))
    return Passage(pid, title, context, tuple(questions))


def _title(value, where: str) -> str:
    return "" if value is None else _number_or_text(value, where, "the title", empty_ok=True)


def passage_key(where: str, title, context, pid=None) -> str:
    """The id of a passage object: its `id` (text, or a number as text) when given, else `passage_id` of its title
    (absent = "") and context, so a file of self-edits finds the passages of the same file.

    Raises:
        DataError: naming `where` and the value, on an id or title that is neither text nor a number."""
    return passage_id(_title(title, where), context) if pid is None else _number_or_text(pid, where, "the id")


def _items(value, where: str, what: str) -> list:
    """A list field that may be absent (an empty list); any other type is a DataError naming `where`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: '{what}' must be a list, got {value!r:.60}")
    return value


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected an object, got {value!r:.60}")
    return value


def _squad_passages(data: list, source: str) -> list[tuple[str, Passage]]:
    passages = []
    for a, article in enumerate(data):
        article = _object(article, f"{source}: data[{a}]")
        for j, para in enumerate(_items(article.get("paragraphs"), f"{source}: data[{a}]", "paragraphs")):
            label = f"data[{a}].paragraphs[{j}]"
            where = f"{source}: {label}"
            para = _object(para, where)
            qas = []
            for k, qa in enumerate(_items(para.get("qas"), where, "qas")):
                qa = _object(qa, f"{where}.qas[{k}]")
                qas.append((qa.get("question"), qa.get("answers")))
            passages.append((label, _make_passage(where, article.get("title"), para.get("context"), qas)))
    return passages


def _seal_passages(items: list, source: str) -> list[tuple[str, Passage]]:
    passages = []
    for i, item in enumerate(items):
        where = f"{source}: passage {i}"
        if not isinstance(item, dict) or "context" not in item:
            raise DataError(f"{where} is not an object with a 'context'")
        qas = []
        for j, q in enumerate(_items(item.get("questions"), where, "questions")):
            q = _object(q, f"{where}, question {j}")
            qas.append((q.get("question"), q["answers"] if "answers" in q else q.get("answer")))
        passages.append((f"passage {i}", _make_passage(where, item.get("title"), item["context"], qas, item.get("id"))))
    return passages


def check_unique(located: list[tuple[str, Passage]], source: str) -> None:
    """Raise DataError when two passages of `source` share an id (given, or the hash of the same title and text):
    the store keys rows by id, so the second would never be quizzed while the passage count says it was. `located`
    holds (where the passage is in its file, e.g. "passage 3", the passage)."""
    first: dict[str, tuple[str, Passage]] = {}
    for label, p in located:
        if p.id in first:
            label_first, q = first[p.id]
            same = p.title == q.title and p.context == q.context
            raise DataError(f"{source}: {label} has " + (
                f"the same title and text as {label_first}; drop the repeat" if same else
                f"the same id {p.id!r} as {label_first}; give each passage its own id"))
        first[p.id] = (label, p)


def parse_passages(obj, source: str) -> list[Passage]:
    """Passages from a parsed JSON object in SEAL's, SQuAD v1.1's or seal's own layout.

    Raises:
        DataError: naming the file, the passage and the bad value: an unrecognised layout, a field of the wrong
            type, an empty context or question, a question without answers (see `answer_texts`), a passage with
            no questions, two passages with the same id or the same title and text, or no passages.
    """
    if isinstance(obj, dict) and "data" in obj:  # official SQuAD v1.1
        located = _squad_passages(_items(obj["data"], source, "data"), source)
    elif isinstance(obj, list):
        located = _seal_passages(obj, source)
    else:
        raise DataError(f"{source}: expected a JSON list of passages or a SQuAD object with 'data'")
    if not located:
        raise DataError(f"{source}: no passages")
    check_unique(located, source)
    return [p for _, p in located]


def load_passages(source: str | Path) -> list[Passage]:
    """Passages from `builtin`, `squad` (Hugging Face hub, validation split) or a JSON file path.

    Raises:
        DataError: the source is empty, or as `read_json` and `parse_passages` (naming the file).
    """
    if not str(source).strip():  # Path("") is ".", the current directory: not what was meant
        raise DataError(f"the data source is {'blank' if str(source) else 'empty'}: give builtin, squad or a JSON "
                        "file")
    if str(source) == BUILTIN_NAME:
        text = resources.files("seal.domains.knowledge").joinpath("builtin_world.json").read_text(encoding="utf-8")
        return parse_passages(json.loads(text), BUILTIN_NAME)
    if str(source) == "squad":
        return _load_hf_squad()
    path = Path(source).expanduser()
    return parse_passages(read_json(path), str(path))


def _load_hf_squad() -> list[Passage]:
    try:
        import datasets

        ds = datasets.load_dataset("squad", split="validation")
    except Exception as e:  # the hub is unreachable, or the dataset is missing from the cache
        raise DataError(f"could not load 'squad' from the Hugging Face hub ({type(e).__name__}); "
                        "pass a local SQuAD JSON file instead") from None
    grouped: dict[tuple[str, str], list] = {}
    for row in ds:
        grouped.setdefault((row["title"], row["context"]), []).append((row["question"], row["answers"]["text"]))
    return [_make_passage(f"squad: passage {i}", t, c, qas) for i, ((t, c), qas) in enumerate(grouped.items())]


def select_passages(passages: list[Passage], n: int | None = None, seed: int | None = None,
                    exclude: set[str] = frozenset(), offset: int = 0) -> list[Passage]:
    """A deterministic subset: shuffle with Python's `random.seed(seed)` (None keeps file order), drop `exclude`d
    ids, then take `n` starting at `offset`. `seed=42, n=200` on SQuAD dev gives SEAL's evaluation passages.

    Raises:
        DataError: a negative `n` or `offset` (as slices they would silently drop passages from the end).
    """
    if (n is not None and n < 0) or offset < 0:
        raise DataError(f"the number of passages and the offset must be at least 0, got n={n}, offset={offset}")
    chosen = list(passages)
    if seed is not None:
        random.Random(seed).shuffle(chosen)  # the same order as random.seed(seed); random.shuffle(...)
    chosen = [p for p in chosen if p.id not in exclude][offset:]
    return chosen if n is None else chosen[:n]
