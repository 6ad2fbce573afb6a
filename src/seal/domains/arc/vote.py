"""Hierarchical voting over predictions from several views of a task, and pass@2 scoring.

At inference each geometric view (`augment.geometric_views()`) of the task is shown to the model, each prediction
is parsed (`format.text_to_grid`, None on a `ParseError`) and mapped back with the view's `invert_grid`. `vote`
then picks up to `attempts` grids (ARC allows 2):

1. Within each view, candidates are ranked by how often they occur (ties: first occurrence); the top `attempts`
   of each view go forward. Parse failures (None) are ignored.
2. Across views, those survivors are ranked by the number of views that put them forward, then by their total
   count over all candidates of all views, then by first occurrence (view order, then candidate order).

Usage::

    views = geometric_views()
    candidates = [candidates_from_texts(texts_for[i], view) for i, view in enumerate(views)]
    answers = vote(candidates)            # up to 2 grids
    solved = pass_at_2(answers, solution)

This is marc's two-level vote (per transformation, then across transformations). Departure: marc breaks ties by
its own ordering of Python dicts; here they are broken explicitly, so the result is deterministic.
`pass_at_2(attempts, solution)` is ARC's metric: any of the first two attempts equals the solution exactly.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from seal.domains.arc.format import ParseError, text_to_grid
from seal.domains.arc.grid import grid_key


def candidates_from_texts(texts: Sequence[str], view=None) -> list[np.ndarray | None]:
    """Parse generations made on one view and map them back to the original frame.

    Args:
        texts: the model's completions for that view.
        view: an invertible augmenter (`augment.geometric_views()`), or None for the identity.

    Returns:
        One grid per text, None where `format.text_to_grid` raised `ParseError`.
    """
    out: list[np.ndarray | None] = []
    for text in texts:
        try:
            grid = text_to_grid(text)
        except ParseError:
            out.append(None)
            continue
        out.append(grid if view is None else view.invert_grid(grid))
    return out


def _rank(candidates: Sequence[np.ndarray | None]) -> list[tuple[tuple, np.ndarray, int]]:
    """Distinct parsed candidates as ``(key, grid, count)``, most frequent first, ties by first occurrence."""
    counts: Counter = Counter()
    first: dict[tuple, np.ndarray] = {}
    for g in candidates:
        if g is None:
            continue
        k = grid_key(g)
        counts[k] += 1
        first.setdefault(k, g)
    order = sorted(first, key=lambda k: -counts[k])  # sorted() is stable: ties keep first-occurrence order
    return [(k, first[k], counts[k]) for k in order]


def vote(candidates_by_view: Sequence[Sequence[np.ndarray | None]], attempts: int = 2) -> list[np.ndarray]:
    """Pick up to `attempts` answers from per-view candidate grids.

    Args:
        candidates_by_view: for each view, its candidate grids already mapped back to the original task's frame;
            None marks a generation that did not parse.
        attempts: how many answers to return. Default: 2 (ARC's pass@2).

    Returns:
        Up to `attempts` distinct grids, best first; empty when nothing parsed.

    >>> a, b = np.array([[1]]), np.array([[2]])
    >>> [int(g[0, 0]) for g in vote([[a, b, b], [b, None], [a]])]
    [2, 1]
    """
    if attempts < 1:
        raise ValueError(f"attempts must be positive, got {attempts}")
    views: Counter = Counter()
    totals: Counter = Counter()
    grids: dict[tuple, np.ndarray] = {}  # insertion order = first occurrence across views
    for candidates in candidates_by_view:
        ranked = _rank(candidates)
        for k, g, c in ranked:
            totals[k] += c
        for k, g, _ in ranked[:attempts]:
            views[k] += 1
            grids.setdefault(k, g)
    order = sorted(grids, key=lambda k: (-views[k], -totals[k]))
    return [grids[k] for k in order[:attempts]]


def pass_at_2(attempts: Sequence[np.ndarray], solution: np.ndarray) -> bool:
    """Whether one of the first two attempts equals `solution` exactly (same shape and cells)."""
    sol = np.asarray(solution)
    return any(a is not None and np.array_equal(np.asarray(a), sol) for a in list(attempts)[:2])
