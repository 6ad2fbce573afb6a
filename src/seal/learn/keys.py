"""Store keys of `seal learn` (our extension), beside `seal.store.keys`, which builds the keys of the paper's commands.

Self-edits and inner loops use `seal.store.keys.self_edit` and `seal.store.keys.inner` with round 0 and the condition
`CONDITION`; the finished adapter's record is `adapter()`.

>>> adapter()
'learn/adapter'
"""

from __future__ import annotations

CONDITION = "learn"


def adapter() -> str:
    """The key of the evaluation row written once the adapter is saved (its `seal-learn.json` record)."""
    return f"{CONDITION}/adapter"
