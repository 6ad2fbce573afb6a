"""Intervals and paired differences for the evaluation tables (knowledge eval, ReST-EM rounds, cpt, continual, ARC).

The unit of every interval here is the passage (or task), not the question: a passage's questions share one
training run, one set of self-edits and one topic, so they are not independent draws, and an interval over questions
would be too narrow. A paired difference between two conditions is taken per question (the same question under
both), averaged within each passage, and the passages' mean differences get a Student t interval (`scipy.stats.t`).
A t interval rather than a bootstrap over passages because the tables often have 3 to 12 passages: a bootstrap over
3 passages has 10 distinct resamples and under-covers, while the t interval is exact for normal passage means and
widens honestly with few of them (t(2) = 4.30 against 1.96). With a single passage there is no between-passage
spread to measure, so the questions become the unit; the result says which (`unit`).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

Key = tuple[str, int]  # (passage or task id, question index)
MEASURES = {"accuracy": "scores", "loglik": "logliks"}  # a measure: the per-question list stored rows hold


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95% at z = 1.96) of a proportion `successes / n`; (0, 0) when n is 0.

    `successes` may be fractional (a mean of F1 scores times n), which `scipy.stats.binomtest` does not take.

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): the Student t interval of the mean of `values` (n - 1 degrees of freedom); the bounds are
    None with fewer than 2 values, and equal the mean when every value is the same.

    >>> [round(x, 3) for x in t_interval([1.0, 2.0, 3.0])]
    [2.0, -0.484, 4.484]
    """
    from scipy import stats

    xs = [float(v) for v in values]
    if not xs:
        return (None, None, None)
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return (mean, None, None)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return (mean, mean - half, mean + half)


def by_unit(values: Mapping[Key, float]) -> dict[str, list[float]]:
    """Per-question values grouped by their passage (the first element of each key)."""
    out: dict[str, list[float]] = {}
    for (unit, _), v in values.items():
        out.setdefault(unit, []).append(v)
    return out


def unit_interval(values: Mapping[Key, float], confidence: float = 0.95) -> dict:
    """The mean of per-question `values` over passages (each passage's questions averaged first) with its t
    interval over passages; with one passage, over its questions.

    Returns: {mean, ci95: [low, high], unit: "passages" | "questions", n_units, n_items}; mean None when empty.
    """
    groups = by_unit(values)
    if len(groups) >= 2:
        mean, lo, hi = t_interval([sum(g) / len(g) for g in groups.values()], confidence)
        unit, n_units = "passages", len(groups)
    else:
        mean, lo, hi = t_interval(list(values.values()), confidence)
        unit, n_units = "questions", len(values)
    return {"mean": mean, "ci95": [lo, hi], "unit": unit, "n_units": n_units, "n_items": len(values)}


def paired_difference(a: Mapping[Key, float], b: Mapping[Key, float], confidence: float = 0.95) -> dict:
    """`a - b` paired per question on the questions both measured, averaged within each passage, with a t interval
    over passages (`unit_interval`; over questions when only one passage is shared).

    Args:
        a, b: per-question values (accuracy or gold-answer log-likelihood, each already averaged over seeds and
            self-edits), keyed by (passage id, question index).

    Returns: {mean, ci95: [low, high], unit, n_units, n_items}; mean None when no question is shared.
    """
    return unit_interval({k: a[k] - b[k] for k in a if k in b}, confidence)


def pooled_interval(per_unit: Mapping[str, list[float]], bounds: tuple[float, float] | None = None,
                    confidence: float = 0.95) -> tuple[float | None, list[float | None]]:
    """(mean over every value, [low, high]): the interval is the pooled mean plus or minus the half-width of the t
    interval over the units' means (passages as the unit); with one unit, over its values (questions). `bounds`
    clips the interval (an accuracy stays in [0, 1]). Mean None when there are no values; bounds None with too few."""
    values = [v for vs in per_unit.values() for v in vs]
    if not values:
        return None, [None, None]
    mean = sum(values) / len(values)
    units = [sum(vs) / len(vs) for vs in per_unit.values() if vs]
    centre, lo, hi = t_interval(units if len(units) >= 2 else values, confidence)
    if lo is None:
        return mean, [None, None]
    low, high = mean - (centre - lo), mean + (hi - centre)
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return mean, [low, high]


def format_difference(d: dict | None, scale: float = 1.0, digits: int = 3) -> str:
    """A paired difference as text, `+m [+lo, +hi]` after multiplying by `scale` (100: accuracy in points);
    '-' when there is none, the mean alone when it has no interval.

    >>> format_difference({"mean": 0.5, "ci95": [0.25, 0.75]}, 100, 1)
    '+50.0 [+25.0, +75.0]'
    """
    if not d or d.get("mean") is None:
        return "-"
    lo, hi = d["ci95"]
    ci = "" if lo is None else f" [{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}]"
    return f"{scale * d['mean']:+.{digits}f}{ci}"


def question_values(rows: list[dict], field: str) -> dict[Key, float]:
    """Per question (passage id, question index): the mean of `details[field]` (a per-question list: `scores` or
    `logliks`) over stored inner-loop rows (a condition's seeds and self-edits); None values are left out."""
    sums: dict[Key, list[float]] = {}
    for row in rows:
        for i, v in enumerate(row["details"].get(field) or []):
            if v is not None:
                sums.setdefault((row["context_id"], i), []).append(v)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def paired_rows(rows_a: list[dict], rows_b: list[dict]) -> dict[str, dict]:
    """Per measure (`accuracy`, `loglik`), the paired difference a - b of two sets of stored inner-loop rows on the
    questions both have (`question_values`, then `paired_difference`)."""
    return {m: paired_difference(question_values(rows_a, f), question_values(rows_b, f)) for m, f in MEASURES.items()}
