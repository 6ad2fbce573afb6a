"""The E-step's filter: which self-edits the M-step trains on, and whether the rewards can tell them apart.

Rewards of a self-edit are averaged over its training seeds first. ReST-EM keeps, per context, the best self-edit
when its reward is positive (`best`, the paper) or every positive one (`all-positive`).

Signal-to-noise: with small quizzes the best of K mostly picks training noise. `signal_to_noise` compares the spread
of mean rewards between self-edits of a context (signal) with the spread of one self-edit's reward across seeds
(noise); below about 1 the selection is mostly noise.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredEdit:
    context_id: str
    self_edit_id: int
    prompt: str
    text: str
    rewards: tuple[float, ...]  # one per training seed

    @property
    def reward(self) -> float:
        return sum(self.rewards) / len(self.rewards)


def scored_edits(self_edits: list[dict], inner_results: list[dict]) -> list[ScoredEdit]:
    """Join stored self-edits with their inner-loop rewards (rows from the store); edits without a reward drop out."""
    rewards: dict[int, list[float]] = defaultdict(list)
    for row in inner_results:
        if row["self_edit_id"] is not None and row["reward"] is not None:
            rewards[row["self_edit_id"]].append(row["reward"])
    return [ScoredEdit(e["context_id"], e["id"], e["prompt"] or "", e["text"], tuple(rewards[e["id"]]))
            for e in self_edits if rewards.get(e["id"])]


def select(edits: list[ScoredEdit], keep: str = "best") -> list[ScoredEdit]:
    """The self-edits to train on.

    >>> e = lambda c, i, r: ScoredEdit(c, i, "p", "t", (r,))
    >>> [s.self_edit_id for s in select([e("a", 1, 0.1), e("a", 2, 0.3), e("b", 3, 0.0), e("c", 4, -1)])]
    [2]
    >>> [s.self_edit_id for s in select([e("a", 1, 0.1), e("a", 2, 0.3)], keep="all-positive")]
    [1, 2]
    """
    if keep == "all-positive":
        return [e for e in edits if e.reward > 0]
    by_context: dict[str, list[ScoredEdit]] = defaultdict(list)
    for e in edits:
        by_context[e.context_id].append(e)
    best = [max(group, key=lambda e: (e.reward, -e.self_edit_id)) for group in by_context.values()]
    return [e for e in best if e.reward > 0]


def signal_to_noise(edits: list[ScoredEdit]) -> dict:
    """Between-self-edit spread of mean rewards against within-self-edit spread across seeds (standard deviations,
    averaged over contexts and self-edits). `ratio` is None when either cannot be measured."""
    by_context: dict[str, list[ScoredEdit]] = defaultdict(list)
    for e in edits:
        by_context[e.context_id].append(e)
    between = [statistics.stdev([e.reward for e in g]) for g in by_context.values() if len(g) >= 2]
    within = [statistics.stdev(e.rewards) for e in edits if len(e.rewards) >= 2]
    signal = statistics.mean(between) if between else None
    noise = statistics.mean(within) if within else None
    ratio = signal / noise if signal is not None and noise else None
    return {"between_edits_sd": signal, "across_seeds_sd": noise, "ratio": ratio}
