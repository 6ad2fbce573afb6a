"""Self-edit text -> training documents for the inner loop, exactly as SEAL builds them.

A port of SEAL's `build_train_sequences(completion, context, title, split_newlines=True)` (Continual-Intelligence/SEAL
at 4cb1e7d, `knowledge-incorporation/src/utils.py`), the setting of its single-passage evaluations and ReST-EM runs:

- a self-QA text (one containing both `Question N:` and `Answer:`) is cut before every line that starts with
  `Question N:`; each piece, question and answer together, is one document (a first piece that lacks the word
  `Question` gets `Question 1: ` in front, since SEAL's self-qa prompt ends with it);
- any other text: `---` separates segments and every non-empty line of every segment is one document; when the
  second line starts with `1.`, the first only introduces the list (e.g. `**Implications:**`) and is dropped;
- every document is `title` + newline + piece, and the passage itself is the last document.

The family that prompted the text plays no part: the text's form decides, as in SEAL. An empty generation gives the
passage document alone; it is kept and earns its reward like any other self-edit.
"""

from __future__ import annotations

import re

from seal.domains.knowledge.data import Passage

_QUESTION = re.compile(r"Question\s+\d+:")
_ANSWER = re.compile(r"Answer\s*:")
_BEFORE_QUESTION = re.compile(r"\n(?=Question\s+\d+:)")


def self_edit_pieces(text: str) -> list[str]:
    """The self-edit's training pieces before the title goes in front (rules in the module docstring).

    >>> self_edit_pieces("Implications:\\n1. Tor is small.\\n\\n2. Tor has a port.\\n---\\nTor is old.")
    ['1. Tor is small.', '2. Tor has a port.', 'Tor is old.']
    >>> self_edit_pieces("Where is Tor?\\nAnswer: north\\nQuestion 2: Is it old?\\nAnswer: yes")
    ['Question 1: Where is Tor?\\nAnswer: north', 'Question 2: Is it old?\\nAnswer: yes']
    """
    if _QUESTION.search(text) and _ANSWER.search(text):
        pieces = _BEFORE_QUESTION.split(text.strip())  # pieces keep their inner newlines, as SEAL's do
        if not pieces[0].lstrip().startswith("Question"):
            pieces[0] = "Question 1: " + pieces[0].strip()
        return pieces
    lines = [line.strip() for segment in text.split("---") for line in segment.splitlines() if line.strip()]
    return lines[1:] if len(lines) > 1 and lines[1].startswith("1.") else lines


def title_document(title: str, body: str) -> str:
    return f"{title}\n{body}" if title else body


def to_documents(passage: Passage, self_edit: str | None, include_passage: bool = True) -> list[str]:
    """Training documents for one self-edit: one per piece of `self_edit`, then the passage (when `include_passage`).

    >>> p = Passage("x", "Tor", "Tor is a town.", ())
    >>> to_documents(p, "Tor is small.\\n\\nTor has a port.")
    ['Tor\\nTor is small.', 'Tor\\nTor has a port.', 'Tor\\nTor is a town.']
    """
    pieces = self_edit_pieces(self_edit) if self_edit else []
    docs = [title_document(passage.title, piece) for piece in pieces]
    return docs + ([title_document(passage.title, passage.context.strip())] if include_passage else [])
