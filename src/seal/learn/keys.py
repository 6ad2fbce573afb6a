"""Store keys of `seal learn` (our extension), beside `seal.store.keys`, which builds the keys of the paper's commands.

Self-edits and inner loops use `seal.store.keys.self_edit` and `seal.store.keys.inner` with round 0 and the condition
`CONDITION`; each passage's self-written quiz is the evaluation row `quiz(passage id)` (so a resume does not write it
again), and the finished adapter's record is `adapter()`.

>>> adapter(), quiz("3f2a")
('learn/adapter', 'learn/quiz/3f2a')
"""

from __future__ import annotations

CONDITION = "learn"


def adapter() -> str:
    """The key of the evaluation row written once the adapter is saved (its `seal-learn.json` record)."""
    return f"{CONDITION}/adapter"


def quiz(passage_id: str) -> str:
    """The key of the evaluation row holding a passage's self-written quiz (the passage with its questions)."""
    return f"{CONDITION}/quiz/{passage_id}"
