"""Self-edit text -> training documents for the inner loop.

As SEAL does: one document per non-empty line of the generation (for `self-qa`, one per question/answer pair), each
prefixed with the passage title, plus the passage itself as one more document. Empty or degenerate generations give
just the passage document; they are kept and earn their reward like any other self-edit.
"""

from __future__ import annotations

import re

from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.prompts import QA_FAMILIES

_QA = re.compile(r"^\s*(?:\d+[.)]\s*)?Q(?:uestion)?\s*\d*\s*[:.]\s*(?P<q>.+?)\s*\n+\s*A(?:nswer)?\s*\d*\s*[:.]\s*(?P<a>.+?)\s*$",
                 re.I | re.M)


def split_lines(text: str) -> list[str]:
    """Non-empty, stripped lines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_qa(text: str) -> list[str]:
    """`Question: ...` / `Answer: ...` pairs as one `question answer` line each; falls back to lines when none parse."""
    pairs = [f"{m['q']} {m['a']}" for m in _QA.finditer(text)]
    return pairs or split_lines(text)


def title_document(title: str, body: str) -> str:
    return f"{title}\n{body}" if title else body


def to_documents(passage: Passage, self_edit: str | None, family: str, include_passage: bool = True) -> list[str]:
    """Training documents for one self-edit: the passage (when `include_passage`) then one per statement.

    >>> p = Passage("x", "Tor", "Tor is a town.", ())
    >>> to_documents(p, "Tor is small.\\n\\nTor has a port.", "implications")
    ['Tor\\nTor is a town.', 'Tor\\nTor is small.', 'Tor\\nTor has a port.']
    """
    parts = [] if not self_edit else (split_qa(self_edit) if family in QA_FAMILIES else split_lines(self_edit))
    docs = [title_document(passage.title, passage.context)] if include_passage else []
    return docs + [title_document(passage.title, part) for part in parts]
