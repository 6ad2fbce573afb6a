"""Test-time training data for one ARC task: leave-out pseudo-tasks, augmented, as (prompt, target) text pairs.

How (marc's `get_test_time_train_data` / `process_task`, ported by behaviour):

1. Leave-one-out: for each demonstration i, a pseudo-task whose test pair is demonstration i and whose
   demonstrations are the others (in order). Leave-two-out also drops one more demonstration j != i.
2. Each augmenter of the chosen families (`augment.select_augmenters`) is applied to each pseudo-task (random ones
   draw from one seeded generator); tasks with a grid over 30x30 are dropped. The un-augmented pseudo-tasks stay.
3. Each task gets `permute_n` extra copies with its demonstrations shuffled and, when any family is on, its colours
   permuted (0 kept). De-duplication by content keeps the first occurrence.
4. Each task becomes ``(format_task_prompt(demos, test_input), grid_to_text(test_output))``; equal pairs are
   dropped.
5. Leave-one-out pairs come first. If there are more than `max_examples` (default 250, marc's and SEAL's cap), a
   seeded sample of `max_examples` is kept; if fewer and `leave_two_out` is set, leave-two-out pairs not already
   present fill up to the cap (a seeded sample of them when they would overflow).

Usage::

    pairs = make_ttt_examples(task, use_basic=True, use_size=True, use_chain=False, use_repeat=False)
    # -> [(prompt_text, target_text), ...]

A task with one demonstration has no leave-one-out task and gets no data (an empty list); the caller decides.

Departures from marc: de-duplication keeps generation order (marc goes through a `set`, so its order and its
capped sample vary with Python's hash seed); the leave-two-out fill is a seeded sample (marc takes the first
ones); only the task's first test pair is ever used, and its output, unknown at test time, is never read.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seal.domains.arc.augment import Augmenter, RandomPermuteColors, select_augmenters
from seal.domains.arc.format import format_task_prompt, grid_to_text
from seal.domains.arc.tasks import Task

DEFAULT_MAX_EXAMPLES = 250  # marc's Nmax, kept by SEAL


def leave_out_tasks(task: Task, n: int = 1) -> list[Task]:
    """Pseudo-tasks built from the demonstrations alone: one held out as the test pair, `n - 1` more dropped.

    Args:
        task: the task; its test pairs are ignored.
        n: 1 for leave-one-out, 2 for leave-two-out. Default: 1.

    Returns:
        For n=1, one task per demonstration i (demonstrations: all others); for n=2, one per ordered pair (i, j),
        i != j (demonstrations: all but i and j). Empty when fewer than n + 1 demonstrations exist.
    """
    if n not in (1, 2):
        raise ValueError(f"n must be 1 or 2, got {n}")
    demos = task.train
    if len(demos) < n + 1:
        return []
    out = []
    for i in range(len(demos)):
        dropped = [()] if n == 1 else [(j,) for j in range(len(demos)) if j != i]
        for extra in dropped:
            keep = [d for k, d in enumerate(demos) if k != i and k not in extra]
            out.append(Task(task.id, keep, [demos[i]]))
    return out


def _dedup(tasks: Sequence[Task]) -> list[Task]:
    seen, out = set(), []
    for t in tasks:
        key = t.content_key()
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def augment_tasks(tasks: Sequence[Task], augmenters: Sequence[Augmenter], rng: np.random.Generator,
                  permute_n: int = 1) -> list[Task]:
    """The tasks, their augmentations, and `permute_n` shuffled (and, with augmenters, recoloured) copies of each.

    Args:
        tasks: pseudo-tasks (from `leave_out_tasks`).
        augmenters: applied to every task; results over 30x30 are dropped.
        rng: the one source of randomness (translations, colour permutations, demonstration order).
        permute_n: shuffled copies per task. Default: 1 (marc's).

    Returns:
        De-duplicated tasks: originals first, then augmentations (by augmenter, then task), then the copies.
    """
    augmented = [aug.apply_to_task(t, rng) for aug in augmenters for t in tasks]
    base = _dedup(list(tasks) + [t for t in augmented if t is not None])
    recolour = RandomPermuteColors() if augmenters else None
    copies = []
    for _ in range(permute_n):
        for t in base:
            if recolour is not None:
                t = recolour.apply_to_task(t, rng)
            order = rng.permutation(len(t.train))
            copies.append(Task(t.id, [t.train[k] for k in order], t.test))
    return _dedup(base + copies)


def to_pairs(tasks: Sequence[Task]) -> list[tuple[str, str]]:
    """``(prompt, target)`` for each task's first test pair, de-duplicated, in order."""
    pairs = ((format_task_prompt(t.train, t.test[0].input), grid_to_text(t.test[0].output)) for t in tasks)
    return list(dict.fromkeys(pairs))


def _sample(items: list, k: int, rng: np.random.Generator) -> list:
    if len(items) <= k:
        return list(items)
    keep = np.sort(rng.choice(len(items), size=k, replace=False))
    return [items[i] for i in keep]


def make_ttt_examples(task: Task, use_basic: bool, use_size: bool, use_chain: bool, use_repeat: bool,
                      leave_two_out: bool = False, max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int = 0,
                      permute_n: int = 1) -> list[tuple[str, str]]:
    """Test-time training pairs for `task` (see the module docstring for the recipe).

    Args:
        task: the task; only its demonstrations are used.
        use_basic: include `augment.basic_augmenters()`.
        use_size: include `augment.size_augmenters()`.
        use_chain: include `augment.chain_augmenters()`.
        use_repeat: include `augment.repeat_augmenters()`.
        leave_two_out: fill up to `max_examples` with leave-two-out pairs. Default: False.
        max_examples: the cap. Default: 250 (marc, SEAL).
        seed: seeds every random choice; the same arguments give the same pairs. Default: 0.
        permute_n: shuffled/recoloured copies per pseudo-task. Default: 1 (marc's).

    Returns:
        At most `max_examples` distinct ``(prompt_text, target_text)`` pairs; the target is the held-out
        demonstration's output grid (transformed like the rest of its pseudo-task).
    """
    if max_examples < 1:
        raise ValueError(f"max_examples must be positive, got {max_examples}")
    rng = np.random.default_rng(seed)
    augmenters = select_augmenters(use_basic, use_size, use_chain, use_repeat)
    pairs = to_pairs(augment_tasks(leave_out_tasks(task, 1), augmenters, rng, permute_n))
    if len(pairs) >= max_examples:
        return _sample(pairs, max_examples, rng)
    if leave_two_out:
        present = set(pairs)
        extra = [p for p in to_pairs(augment_tasks(leave_out_tasks(task, 2), augmenters, rng, permute_n))
                 if p not in present]
        pairs += _sample(extra, max_examples - len(pairs), rng)
    return pairs
