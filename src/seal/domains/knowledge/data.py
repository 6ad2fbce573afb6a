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


def _make_passage(source: str, index: int, title, context, qas: list[tuple[str, list[str]]], pid=None) -> Passage:
    where = f"{source}: passage {index}"
    if not isinstance(context, str) or not context.strip():
        raise DataError(f"{where} has an empty context")
    if not isinstance(title, str):
        raise DataError(f"{where} has no title")
    if not qas:
        raise DataError(f"{where} ({title!r}) has no questions")
    questions = []
    for j, (q, answers) in enumerate(qas):
        answers = [a for a in answers if isinstance(a, str) and a.strip()]
        if not isinstance(q, str) or not q.strip() or not answers:
            raise DataError(f"{where} ({title!r}), question {j}: needs a question and at least one answer")
        questions.append(QA(q.strip(), tuple(answers)))
    return Passage(pid or passage_id(title, context), title, context, tuple(questions))


def parse_passages(obj, source: str) -> list[Passage]:
    """Passages from a parsed JSON object in SEAL's, SQuAD v1.1's or seal's own layout.

    Raises:
        DataError: on an unrecognised layout, an empty context, a passage with no questions, or no passages.
    """
    passages: list[Passage] = []
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):  # official SQuAD v1.1
        for article in obj["data"]:
            for para in article.get("paragraphs", []):
                qas = [(qa.get("question"), [a.get("text") for a in qa.get("answers", [])]) for qa in para.get("qas", [])]
                passages.append(_make_passage(source, len(passages), article.get("title", ""), para.get("context"), qas))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            if not isinstance(item, dict) or "context" not in item:
                raise DataError(f"{source}: passage {i} is not an object with a 'context'")
            qas = []
            for q in item.get("questions") or []:
                if not isinstance(q, dict):
                    raise DataError(f"{source}: passage {i} has a question that is not an object")
                answers = q.get("answers", q.get("answer"))
                qas.append((q.get("question"), [answers] if isinstance(answers, str) else list(answers or [])))
            passages.append(_make_passage(source, i, item.get("title", ""), item["context"], qas, item.get("id")))
    else:
        raise DataError(f"{source}: expected a JSON list of passages or a SQuAD object with 'data'")
    if not passages:
        raise DataError(f"{source}: no passages")
    return passages


def load_passages(source: str | Path) -> list[Passage]:
    """Passages from `builtin`, `squad` (Hugging Face hub, validation split) or a JSON file path."""
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
    return [_make_passage("squad", i, t, c, qas) for i, ((t, c), qas) in enumerate(grouped.items())]


def select_passages(passages: list[Passage], n: int | None = None, seed: int | None = None,
                    exclude: set[str] = frozenset(), offset: int = 0) -> list[Passage]:
    """A deterministic subset: shuffle with Python's `random.seed(seed)` (None keeps file order), drop `exclude`d
    ids, then take `n` starting at `offset`. `seed=42, n=200` on SQuAD dev gives SEAL's evaluation passages."""
    chosen = list(passages)
    if seed is not None:
        random.Random(seed).shuffle(chosen)  # the same order as random.seed(seed); random.shuffle(...)
    chosen = [p for p in chosen if p.id not in exclude][offset:]
    return chosen if n is None else chosen[:n]
