"""ARC grids as small, read-only int8 numpy arrays, and their validation.

A grid is a 2-D array of colours 0-9 (0 is the background), between 1x1 and 30x30 cells. `validate_grid` turns a
parsed JSON value (a list of rows of ints) into such an array and raises `DataError` naming the task and field
("task 0a1b2c3d: train[2].output: ragged rows ..."); `as_grid` is the cheap conversion for arrays built in code
(augmenters, parsed model output), which may exceed 30x30 until the augmentation filter drops them.

Grids are returned read-only so that the views numpy hands out (`np.rot90`, `np.flip`) can never be used to mutate
a task in place. Departure from marc: marc keeps grids as writable int64 arrays and never validates them.
"""

from __future__ import annotations

import numpy as np

from seal.errors import DataError

MAX_SIDE = 30  # ARC's largest grid side (both ARC-AGI-1 and ARC Prize)
NUM_COLOURS = 10
DTYPE = np.int8


def as_grid(obj) -> np.ndarray:
    """A read-only, C-contiguous int8 copy (or the array itself when it already is one).

    Args:
        obj: a 2-D integer array or a nested list of ints.

    Raises:
        ValueError: when `obj` is not a non-empty 2-D array of integers 0-9 (a programming error, not user input;
            user input goes through `validate_grid`).
    """
    arr = np.asarray(obj)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"a grid must be a non-empty 2-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"a grid must hold integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= NUM_COLOURS:
        raise ValueError("grid values must lie in 0-9")
    if arr.dtype == DTYPE and arr.flags.c_contiguous and not arr.flags.writeable:
        return arr
    out = np.ascontiguousarray(arr, dtype=DTYPE)
    if out is arr or np.shares_memory(out, arr):
        out = out.copy()
    out.flags.writeable = False
    return out


def _is_int(v) -> bool:
    # bool is a subclass of int in Python (and np.bool_ converts silently), but True is not a colour
    if type(v) is int:
        return True
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def validate_grid(obj, where: str) -> np.ndarray:
    """Check a parsed JSON grid and return it as a read-only int8 array.

    Args:
        obj: a list of rows, each a list of ints 0-9 (a 2-D integer numpy array is accepted too).
        where: what the grid is, for error messages, e.g. ``"task 0a1b2c3d: train[2].output"``.

    Returns:
        The grid as an `(rows, cols)` int8 array, read-only.

    Raises:
        DataError: on a value that is not a list of lists, an empty grid or row, ragged rows, a non-integer value
            (booleans included), a value outside 0-9, or a grid larger than 30x30.
    """
    if isinstance(obj, np.ndarray):
        if obj.ndim != 2:
            raise DataError(f"{where}: expected a 2-D grid, got an array of shape {obj.shape}")
        if obj.dtype.kind not in "iu":
            raise DataError(f"{where}: non-integer values (dtype {obj.dtype})")
        rows = obj.tolist()
    else:
        rows = obj
    if not isinstance(rows, (list, tuple)):
        raise DataError(f"{where}: expected a list of rows, got {type(rows).__name__}")
    if len(rows) == 0:
        raise DataError(f"{where}: empty grid")
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise DataError(f"{where}: row {i} is not a list (got {type(row).__name__})")
    width = len(rows[0])
    if width == 0:
        raise DataError(f"{where}: empty grid (row 0 has no cells)")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{where}: ragged rows (row 0 has {width} cells, row {i} has {len(row)})")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if not _is_int(v):
                raise DataError(f"{where}: non-integer value {v!r} at row {i}, column {j}")
            if not 0 <= v < NUM_COLOURS:
                raise DataError(f"{where}: value {v} at row {i}, column {j} is outside 0-9")
    if len(rows) > MAX_SIDE or width > MAX_SIDE:
        raise DataError(f"{where}: grid is {len(rows)}x{width}, larger than {MAX_SIDE}x{MAX_SIDE}")
    arr = np.array(rows, dtype=DTYPE)
    arr.flags.writeable = False
    return arr


def grid_key(grid: np.ndarray) -> tuple[tuple[int, int], bytes]:
    """A hashable key equal for grids with the same shape and cells (for de-duplication and vote counting)."""
    return grid.shape, np.ascontiguousarray(grid, dtype=DTYPE).tobytes()


def grid_fits(grid: np.ndarray, max_side: int = MAX_SIDE) -> bool:
    """Whether both sides of `grid` are at most `max_side` (default 30, ARC's limit)."""
    return grid.shape[0] <= max_side and grid.shape[1] <= max_side


def grid_to_list(grid: np.ndarray) -> list[list[int]]:
    """The grid as nested Python lists of ints (the ARC JSON layout)."""
    return np.asarray(grid).astype(int).tolist()
