"""Every key a run's store is written under, built and read in one place.

Resume depends on a rerun building exactly the keys of the first run, so no module formats a key itself. Layout:

    self_edit(round, condition, context, index)            r<round>/<condition>/<context>/<index>
    inner(round, condition, context, index, seed)          r<round>/<condition>/<context>/<index>/s<seed>
    base(round, context)                                   r<round>/base/<context>
    untrained(round, condition, context)                   base(...), or inner(..., 0, 0) for another condition
    skipped(round, condition, context)                     r<round>/<condition>/<context>/skipped
    evaluation(round)                                      round/<round>

Context ids may hold "/" (SQuAD titles do not, file-given ids might): `parse` reads the round and condition from the
front and the index and seed from the back, so such ids round-trip too. Conditions never contain "/" except the
continual command's `continual/<mitigation>`, whose keys are built by `continual_*` below.

>>> inner(2, "train", "world-01", 0, 1)
'r2/train/world-01/0/s1'
>>> parse("r2/train/world-01/0/s1")
Key(round=2, condition='train', context_id='world-01', index=0, seed=1, kind='inner')
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """A parsed store key (`kind`: self-edit, inner, base or skipped)."""

    round: int
    condition: str
    context_id: str
    index: int | None
    seed: int | None
    kind: str


def self_edit(round: int, condition: str, context_id: str, index: int) -> str:
    """The key of self-edit `index` (0-based) of a context, sampled or read, in `round` under `condition`."""
    return f"r{round}/{condition}/{context_id}/{index}"


def inner(round: int, condition: str, context_id: str, index: int, seed: int) -> str:
    """The key of one inner loop: self-edit `index` of the context trained with `seed`."""
    return f"{self_edit(round, condition, context_id, index)}/s{seed}"


def base(round: int, context_id: str) -> str:
    """The key of the unadapted model's quiz on a context (the knowledge table's base condition)."""
    return f"r{round}/base/{context_id}"


def untrained(round: int, condition: str, context_id: str) -> str:
    """The key of a `none`-kind condition's row (the unadapted model, no self-edit): `base(round, context)` for the
    condition named `base` (the knowledge table's layout), else the inner-loop key of index 0, seed 0 (ARC's `icl`,
    whose rows had that key when they ran as inner loops), so runs stored before keep resuming.

    >>> untrained(0, "icl", "t1"), untrained(0, "base", "world-01")
    ('r0/icl/t1/0/s0', 'r0/base/world-01')
    """
    return base(round, context_id) if condition == "base" else inner(round, condition, context_id, 0, 0)


def skipped(round: int, condition: str, context_id: str) -> str:
    """The key of the row saying why a context was not attempted under `condition` (ARC: a prompt too long)."""
    return f"r{round}/{condition}/{context_id}/skipped"


def evaluation(round: int) -> str:
    """The key of the evaluation stored after ReST-EM round `round` (0: before any training)."""
    return f"round/{round}"


_HEAD = re.compile(r"r(\d+)/([^/]+)/(.+)")


def parse(key: str) -> Key:
    """The parts of a key built by `self_edit`, `inner`, `base` or `skipped`.

    Raises:
        ValueError: `key` is none of these.
    """
    m = _HEAD.fullmatch(key)
    if not m:
        raise ValueError(f"not a store key: {key!r}")
    round, condition, rest = int(m[1]), m[2], m[3]
    if condition == "base":
        return Key(round, condition, rest, None, None, "base")
    context, _, last = rest.rpartition("/")
    if last == "skipped" and context:
        return Key(round, condition, context, None, None, "skipped")
    if re.fullmatch(r"s\d+", last) and context:
        context, _, index = context.rpartition("/")
        if index.isdigit() and context:
            return Key(round, condition, context, int(index), int(last[1:]), "inner")
    elif last.isdigit() and context:
        return Key(round, condition, context, int(last), None, "self-edit")
    raise ValueError(f"not a store key: {key!r}")


def continual_edit(tag: str, step: int) -> str:
    """The key of the self-edit written at `step` of a continual sequence (`tag`: sequence and mitigation)."""
    return f"{tag}/e{step}"


def continual_quiz(tag: str, step: int, context_id: str) -> str:
    """The key of the quiz on `context_id` after `step` of a continual sequence."""
    return f"{continual_edit(tag, step)}/{context_id}"


def continual_base(context_id: str) -> str:
    """The key of the unadapted model's quiz on a passage in `seal knowledge continual`."""
    return f"continual/base/{context_id}"


def cpt(condition: str, context_id: str | None = None) -> str:
    """The key of a `seal knowledge cpt` row: a passage's quiz under `condition`, or the condition's training run."""
    return f"cpt/{condition}" if context_id is None else f"cpt/{condition}/{context_id}"
