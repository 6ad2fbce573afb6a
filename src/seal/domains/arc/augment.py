"""The augmentation vocabulary of test-time training for ARC (marc's augmenters, ported by behaviour).

An `Augmenter` maps a whole task to a new task by applying the same grid transform to every grid (demonstration
and test, inputs and outputs), so the new task keeps the old one's rule up to that transform. Each has a stable
`__str__` name (``Rotate(90)``, ``Chain([Rotate(90), IncreaseResolution(2)])``) that is stored with self-edits, and
the invertible ones have `invert_grid`, which maps a prediction made on the transformed task back to the original.

Families (the four a self-edit switches on or off, in marc's order):

- `basic_augmenters()`: rotations 90/180/270 (counter-clockwise, numpy's `rot90`), flips on both axes, the four
  mirror-concatenations `Reflect` (a grid next to its mirror image, below or to the right, either order), a random
  translation and the transpose.
- `size_augmenters()`: double resolution (each cell becomes 2x2), double height, double width.
- `chain_augmenters()`: a rotation, flip or transpose followed by double resolution.
- `repeat_augmenters()`: tiling 2 times along rows, along columns, and both.

Random augmenters (`RandomTranslateXY`, `RandomPermuteColors`) draw their parameters once per task from a seeded
`numpy.random.Generator`, so every grid of a task moves the same way; `resolve(task, rng)` returns the concrete,
deterministic augmenter (`Translate(1, 2)`, `PermuteColors(0372...)`) that was applied. Colour permutations keep
0 (the background) fixed. `apply_to_task` returns None when any resulting grid exceeds 30x30 (marc drops such tasks).

`geometric_views()` is the set used at inference (identity, transpose, two flips, three rotations): each view is
applied to the task, the model predicts on it, and `invert_grid` maps the prediction back before voting.

Departures from marc: marc's `RandomTranslateXY` rolls grids (cells wrap around) and draws the shift per grid; here
the shift is drawn once per task and, by default, fills the vacated cells with 0 (``wrap=True`` gives marc's roll).
marc's `PermuteColors` maps only the colours a task uses; here a uniform permutation of 1-9 is drawn (the same
distribution over the colours that occur). The invertible augmenters have `invert_grid` (marc inverts only its
inference views).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from seal.domains.arc.grid import DTYPE, MAX_SIDE, NUM_COLOURS
from seal.domains.arc.tasks import Example, Task


class Augmenter:
    """Base class: a grid transform applied to every grid of a task.

    Subclasses implement `apply_to_grid` and `__str__`; invertible ones set `invertible = True` and implement
    `invert_grid`; random ones override `resolve`.
    """

    invertible: bool = False

    def __str__(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def apply_to_grid(self, grid: np.ndarray) -> np.ndarray:
        """The transformed grid (of a concrete, non-random augmenter)."""
        raise NotImplementedError

    def invert_grid(self, grid: np.ndarray) -> np.ndarray:
        """Undo `apply_to_grid`: ``invert_grid(apply_to_grid(g)) == g``.

        Raises:
            TypeError: for an augmenter that is not invertible.
        """
        raise TypeError(f"{self} is not invertible")

    def resolve(self, task: Task, rng: np.random.Generator) -> "Augmenter":
        """The concrete augmenter to apply to `task` (random ones draw their parameters here). Default: self."""
        return self

    def apply_to_task(self, task: Task, rng: np.random.Generator | None = None,
                      max_side: int = MAX_SIDE) -> Task | None:
        """Apply the transform to every grid of `task`.

        Args:
            task: the task; its id is kept.
            rng: source of randomness for random augmenters. Default: None (``np.random.default_rng(0)``).
            max_side: the largest allowed side. Default: 30 (ARC's limit).

        Returns:
            The new task, or None when a transformed grid has a side over `max_side`.
        """
        concrete = self.resolve(task, rng if rng is not None else np.random.default_rng(0))
        out = _map_task(task, concrete.apply_to_grid)
        return out if task_fits(out, max_side) else None


def _map_task(task: Task, fn: Callable[[np.ndarray], np.ndarray]) -> Task:
    def ex(e: Example) -> Example:
        return Example(fn(e.input), None if e.output is None else fn(e.output))

    return Task(task.id, [ex(e) for e in task.train], [ex(e) for e in task.test])


def task_fits(task: Task, max_side: int = MAX_SIDE) -> bool:
    """Whether every grid of `task` has both sides at most `max_side` (default 30)."""
    return all(g.shape[0] <= max_side and g.shape[1] <= max_side for g in task.grids())


def filter_fitting(tasks: Sequence[Task | None], max_side: int = MAX_SIDE) -> list[Task]:
    """Drop the None entries and the tasks with a grid side over `max_side` (default 30)."""
    return [t for t in tasks if t is not None and task_fits(t, max_side)]


# ---------------------------------------------------------------------------------------------------------------
# Geometric


class Identity(Augmenter):
    """Leaves grids unchanged (the first inference view)."""

    invertible = True

    def __str__(self) -> str:
        return "Identity()"

    def apply_to_grid(self, grid):
        return grid

    def invert_grid(self, grid):
        return grid


class Rotate(Augmenter):
    """Rotation by 90, 180 or 270 degrees counter-clockwise (numpy's `rot90`, as in marc)."""

    invertible = True

    def __init__(self, angle: int):
        if angle not in (90, 180, 270):
            raise ValueError(f"Rotate angle must be 90, 180 or 270, got {angle}")
        self.angle = angle

    def __str__(self) -> str:
        return f"Rotate({self.angle})"

    def apply_to_grid(self, grid):
        return np.rot90(grid, k=self.angle // 90)

    def invert_grid(self, grid):
        return np.rot90(grid, k=-(self.angle // 90))


class Flip(Augmenter):
    """Mirror image: axis 0 flips top to bottom, axis 1 left to right."""

    invertible = True

    def __init__(self, axis: int):
        if axis not in (0, 1):
            raise ValueError(f"Flip axis must be 0 or 1, got {axis}")
        self.axis = axis

    def __str__(self) -> str:
        return f"Flip({self.axis})"

    def apply_to_grid(self, grid):
        return np.flip(grid, axis=self.axis)

    def invert_grid(self, grid):
        return np.flip(grid, axis=self.axis)


class Transpose(Augmenter):
    """Swap rows and columns (mirror along the main diagonal)."""

    invertible = True

    def __str__(self) -> str:
        return "Transpose()"

    def apply_to_grid(self, grid):
        return grid.T

    def invert_grid(self, grid):
        return grid.T


class Reflect(Augmenter):
    """A grid concatenated with its mirror image: below it (axis 0) or to its right (axis 1).

    With ``reverse=True`` the mirror image comes first. The result is twice as tall (or wide).
    """

    invertible = True

    def __init__(self, axis: int, reverse: bool = False):
        if axis not in (0, 1):
            raise ValueError(f"Reflect axis must be 0 or 1, got {axis}")
        self.axis, self.reverse = axis, bool(reverse)

    def __str__(self) -> str:
        return f"Reflect({self.axis}, reverse={self.reverse})"

    def apply_to_grid(self, grid):
        parts = (np.flip(grid, axis=self.axis), grid) if self.reverse else (grid, np.flip(grid, axis=self.axis))
        return np.concatenate(parts, axis=self.axis)

    def invert_grid(self, grid):
        half = grid.shape[self.axis] // 2
        index = slice(grid.shape[self.axis] - half, None) if self.reverse else slice(0, half)
        return grid[index] if self.axis == 0 else grid[:, index]


class Translate(Augmenter):
    """Shift cells `dy` rows down and `dx` columns right; vacated cells become 0, or wrap around with `wrap`."""

    def __init__(self, dy: int, dx: int, wrap: bool = False):
        self.dy, self.dx, self.wrap = int(dy), int(dx), bool(wrap)

    def __str__(self) -> str:
        return f"Translate({self.dy}, {self.dx}{', wrap=True' if self.wrap else ''})"

    def apply_to_grid(self, grid):
        if self.wrap:
            return np.roll(grid, (self.dy, self.dx), axis=(0, 1))
        out = np.zeros_like(grid)
        rows, cols = grid.shape
        if abs(self.dy) < rows and abs(self.dx) < cols:
            src = grid[max(0, -self.dy):rows - max(0, self.dy), max(0, -self.dx):cols - max(0, self.dx)]
            out[max(0, self.dy):max(0, self.dy) + src.shape[0], max(0, self.dx):max(0, self.dx) + src.shape[1]] = src
        return out


class RandomTranslateXY(Augmenter):
    """A `Translate` by 0-3 rows and 0-3 columns (fewer than the task's smallest side), drawn once per task."""

    def __init__(self, max_shift: int = 3, wrap: bool = False):
        self.max_shift, self.wrap = max_shift, bool(wrap)

    def __str__(self) -> str:
        args = [] if self.max_shift == 3 else [f"max_shift={self.max_shift}"]
        args += ["wrap=True"] if self.wrap else []
        return f"RandomTranslateXY({', '.join(args)})"

    def resolve(self, task, rng):
        min_rows = min(g.shape[0] for g in task.grids())
        min_cols = min(g.shape[1] for g in task.grids())
        dy = int(rng.integers(0, min(self.max_shift, min_rows - 1) + 1))
        dx = int(rng.integers(0, min(self.max_shift, min_cols - 1) + 1))
        return Translate(dy, dx, wrap=self.wrap)


# ---------------------------------------------------------------------------------------------------------------
# Size and repeats


class IncreaseResolution(Augmenter):
    """Each cell becomes a `factor` x `factor` block."""

    invertible = True

    def __init__(self, factor: int = 2):
        if factor < 2:
            raise ValueError(f"IncreaseResolution factor must be at least 2, got {factor}")
        self.factor = factor

    def __str__(self) -> str:
        return f"IncreaseResolution({self.factor})"

    def apply_to_grid(self, grid):
        return np.repeat(np.repeat(grid, self.factor, axis=0), self.factor, axis=1)

    def invert_grid(self, grid):
        return grid[:: self.factor, :: self.factor]


class IncreaseHeight(Augmenter):
    """Each row is repeated `factor` times."""

    invertible = True

    def __init__(self, factor: int = 2):
        if factor < 2:
            raise ValueError(f"IncreaseHeight factor must be at least 2, got {factor}")
        self.factor = factor

    def __str__(self) -> str:
        return f"IncreaseHeight({self.factor})"

    def apply_to_grid(self, grid):
        return np.repeat(grid, self.factor, axis=0)

    def invert_grid(self, grid):
        return grid[:: self.factor]


class IncreaseWidth(Augmenter):
    """Each column is repeated `factor` times."""

    invertible = True

    def __init__(self, factor: int = 2):
        if factor < 2:
            raise ValueError(f"IncreaseWidth factor must be at least 2, got {factor}")
        self.factor = factor

    def __str__(self) -> str:
        return f"IncreaseWidth({self.factor})"

    def apply_to_grid(self, grid):
        return np.repeat(grid, self.factor, axis=1)

    def invert_grid(self, grid):
        return grid[:, :: self.factor]


class Repeat(Augmenter):
    """The grid tiled `n` times: below itself (axis 0), to its right (axis 1), or both (axis 2, an n x n tiling)."""

    invertible = True

    def __init__(self, axis: int, n: int = 2):
        if axis not in (0, 1, 2):
            raise ValueError(f"Repeat axis must be 0, 1 or 2, got {axis}")
        if n < 2:
            raise ValueError(f"Repeat n must be at least 2, got {n}")
        self.axis, self.n = axis, n

    def __str__(self) -> str:
        return f"Repeat({self.axis}, {self.n})"

    def _reps(self) -> tuple[int, int]:
        return {0: (self.n, 1), 1: (1, self.n), 2: (self.n, self.n)}[self.axis]

    def apply_to_grid(self, grid):
        return np.tile(grid, self._reps())

    def invert_grid(self, grid):
        ry, rx = self._reps()
        return grid[: max(1, grid.shape[0] // ry), : max(1, grid.shape[1] // rx)]


# ---------------------------------------------------------------------------------------------------------------
# Colours and chains


class PermuteColors(Augmenter):
    """Recolour with a fixed permutation `mapping` of 0-9 that keeps 0 (the background) in place.

    The name lists the image of each colour, e.g. ``PermuteColors(0213456789)`` swaps colours 1 and 2.
    """

    invertible = True

    def __init__(self, mapping: Sequence[int]):
        table = np.asarray(mapping, dtype=DTYPE)
        if table.shape != (NUM_COLOURS,) or sorted(table.tolist()) != list(range(NUM_COLOURS)) or table[0] != 0:
            raise ValueError(f"mapping must be a permutation of 0-9 with 0 fixed, got {list(mapping)}")
        self.table = table
        self.inverse = np.argsort(table).astype(DTYPE)

    def __str__(self) -> str:
        return f"PermuteColors({''.join(map(str, self.table.tolist()))})"

    def apply_to_grid(self, grid):
        return self.table[grid]

    def invert_grid(self, grid):
        return self.inverse[grid]


class RandomPermuteColors(Augmenter):
    """A `PermuteColors` with a uniform random permutation of colours 1-9, drawn once per task."""

    def __str__(self) -> str:
        return "RandomPermuteColors()"

    def resolve(self, task, rng):
        return PermuteColors([0] + (rng.permutation(NUM_COLOURS - 1) + 1).tolist())


class Chain(Augmenter):
    """Augmenters applied in order (``Chain([Rotate(90), IncreaseResolution(2)])`` rotates, then upscales)."""

    def __init__(self, augmenters: Sequence[Augmenter]):
        if not augmenters:
            raise ValueError("Chain needs at least one augmenter")
        self.augmenters = list(augmenters)

    @property
    def invertible(self) -> bool:  # type: ignore[override]
        return all(a.invertible for a in self.augmenters)

    def __str__(self) -> str:
        return f"Chain([{', '.join(map(str, self.augmenters))}])"

    def resolve(self, task, rng):
        # each member is resolved on the task as the previous members left it, so shapes are right
        concrete, current = [], task
        for aug in self.augmenters:
            c = aug.resolve(current, rng)
            concrete.append(c)
            current = _map_task(current, c.apply_to_grid)
        return Chain(concrete)

    def apply_to_grid(self, grid):
        for aug in self.augmenters:
            grid = aug.apply_to_grid(grid)
        return grid

    def invert_grid(self, grid):
        for aug in reversed(self.augmenters):
            grid = aug.invert_grid(grid)
        return grid


# ---------------------------------------------------------------------------------------------------------------
# Families


def basic_augmenters() -> list[Augmenter]:
    """Rotations, flips, mirror-concatenations, a random translation and the transpose (marc's basic set)."""
    return [
        Rotate(90), Rotate(270), Rotate(180), Flip(0), Flip(1),
        Reflect(0, reverse=True), Reflect(1, reverse=True), Reflect(0, reverse=False), Reflect(1, reverse=False),
        RandomTranslateXY(), Transpose(),
    ]


def size_augmenters() -> list[Augmenter]:
    """Double resolution, double height, double width."""
    return [IncreaseResolution(2), IncreaseHeight(2), IncreaseWidth(2)]


def chain_augmenters() -> list[Augmenter]:
    """Each rotation, flip and the transpose, followed by double resolution."""
    geometric = [Rotate(90), Rotate(270), Rotate(180), Flip(0), Flip(1), Transpose()]
    return [Chain([g, IncreaseResolution(2)]) for g in geometric]


def repeat_augmenters() -> list[Augmenter]:
    """Tiling twice along rows, along columns, and both."""
    return [Repeat(0, 2), Repeat(1, 2), Repeat(2, 2)]


def select_augmenters(use_basic: bool, use_size: bool, use_chain: bool, use_repeat: bool) -> list[Augmenter]:
    """The chosen families, concatenated in marc's order (basic, size, chain, repeat)."""
    chosen = [(use_basic, basic_augmenters), (use_size, size_augmenters),
              (use_chain, chain_augmenters), (use_repeat, repeat_augmenters)]
    return [aug for on, family in chosen if on for aug in family()]


def geometric_views() -> list[Augmenter]:
    """The inference views, all invertible: identity, transpose, both flips, rotations by 90, 180 and 270."""
    return [Identity(), Transpose(), Flip(0), Flip(1), Rotate(90), Rotate(180), Rotate(270)]
