"""Grid <-> text for the model, and the few-shot prompt of a task.

The grid format is compact: one row per line, one digit (the colour, 0-9) per cell, no separators, no trailing
newline. A 2x3 grid ``[[0, 1, 2], [3, 4, 5]]`` is::

    012
    345

A prompt is an instruction line, then the demonstrations as ``Input:``/``Output:`` blocks separated by blank lines,
then the test input with an empty ``Output:`` for the model to complete::

    Each input grid is turned into its output grid by the same rule. ... (INSTRUCTION)

    Input:
    012
    Output:
    210

    Input:
    345
    Output:

The target (what the model is trained on and should generate) is `grid_to_text(test_output)`.

`text_to_grid` is strict: it strips surrounding whitespace only, and raises `ParseError` (a `ValueError`, not a
`SealError`: a malformed generation is an expected outcome that scores zero, not a user error) on an empty text,
a non-digit character (spaces and ``\\r`` included), ragged rows, or a side over 30.

Constrained answers (`solve.constrained`): `grid_regex(expected_shape(demos, test_input))` is the language of
grids the answer is decoded under: digit rows of the shape the demonstrations imply (the test input's shape when
every demonstration keeps its input's shape, else the one shape all demonstration outputs share), or, when they imply
none, any rectangular grid up to 30x30 (the model picks the shape). Such an answer always parses unless the answer's
token budget cuts it short.

Departure from marc/SEAL: they write grids as Python-list text (``[[0, 1], [2, 3]]``, marc's
`PythonListGridRepresenter`) inside chat messages; one digit per cell is about 3x fewer tokens and leaves no
bracket/comma syntax to get wrong. Chat templating is the model code's job, not this module's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seal.domains.arc.grid import DTYPE, MAX_SIDE

INSTRUCTION = (
    "Each input grid is turned into its output grid by the same rule. Grids are written one row per line, "
    "one digit (a colour, 0-9) per cell. Find the rule from the examples and write the output grid for the last input."
)
_DIGITS = frozenset("0123456789")


class ParseError(ValueError):
    """Model text that is not a well-formed grid."""


def grid_to_text(grid: np.ndarray) -> str:
    """The grid as text: one row per line, one digit per cell, no trailing newline."""
    return "\n".join("".join(str(int(v)) for v in row) for row in np.asarray(grid))


def text_to_grid(text: str) -> np.ndarray:
    """Parse `grid_to_text`'s format back into a read-only int8 grid.

    Args:
        text: the grid text; surrounding whitespace (a trailing newline, say) is ignored.

    Raises:
        ParseError: on empty text, a character other than 0-9 inside the grid, rows of different lengths, or more
            than 30 rows or columns.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    lines = text.strip().split("\n")
    if lines == [""]:
        raise ParseError("empty grid")
    width = len(lines[0])
    for i, line in enumerate(lines):
        if not line:
            raise ParseError(f"row {i} is empty")
        bad = set(line) - _DIGITS
        if bad:
            raise ParseError(f"row {i} has non-digit character(s) {''.join(sorted(bad))!r}")
        if len(line) != width:
            raise ParseError(f"ragged rows (row 0 has {width} cells, row {i} has {len(line)})")
    if len(lines) > MAX_SIDE or width > MAX_SIDE:
        raise ParseError(f"grid is {len(lines)}x{width}, larger than {MAX_SIDE}x{MAX_SIDE}")
    # the bytes of '0'..'9' minus ord('0') are the colours
    flat = np.frombuffer("".join(lines).encode("ascii"), dtype=np.uint8) - ord("0")
    grid = flat.astype(DTYPE).reshape(len(lines), width)
    grid.flags.writeable = False
    return grid


def expected_shape(demos: Sequence, test_input: np.ndarray) -> tuple[int, int] | None:
    """The output shape the demonstrations imply for `test_input`, or None when they imply none.

    The test input's shape when every demonstration's output has its input's shape; else the shape every
    demonstration output shares; else None (the shape depends on the content). No demonstrations: None.
    """
    if not demos:
        return None
    if all(ex.output.shape == ex.input.shape for ex in demos):
        return tuple(np.asarray(test_input).shape)
    shapes = {ex.output.shape for ex in demos}
    return tuple(shapes.pop()) if len(shapes) == 1 else None


def grid_regex(shape: tuple[int, int] | None) -> str:
    """A regular expression of `grid_to_text` grids of `shape` (rows, columns), or of any rectangular grid up to
    30x30 when `shape` is None (one alternative per width, so rows cannot be ragged).

    Raises:
        ValueError: a side outside 1..30.
    """
    if shape is None:
        return "|".join(f"[0-9]{{{w}}}(?:\n[0-9]{{{w}}}){{0,{MAX_SIDE - 1}}}" for w in range(1, MAX_SIDE + 1))
    rows, cols = shape
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
        raise ValueError(f"grid shape must be within 1..{MAX_SIDE} on each side, got {rows}x{cols}")
    return f"[0-9]{{{cols}}}(?:\n[0-9]{{{cols}}}){{{rows - 1}}}"


def format_example(example) -> str:
    """One demonstration block, ``"Input:\\n<grid>\\nOutput:\\n<grid>"``; with no output, ends after ``Output:\\n``.

    Args:
        example: anything with `input` and `output` grids (`tasks.Example`); `output` may be None.
    """
    head = f"Input:\n{grid_to_text(example.input)}\nOutput:\n"
    return head if example.output is None else head + grid_to_text(example.output)


def format_task_prompt(train_examples: Sequence, test_input: np.ndarray) -> str:
    """The prompt for one test input: `INSTRUCTION`, the demonstrations, then the test input and ``Output:\\n``.

    Args:
        train_examples: the demonstrations (`tasks.Example` with outputs).
        test_input: the grid to solve.

    Returns:
        The prompt text; the expected completion is `grid_to_text(test_output)`.
    """
    blocks = [INSTRUCTION] + [format_example(ex) for ex in train_examples]
    blocks.append(f"Input:\n{grid_to_text(test_input)}\nOutput:\n")
    return "\n\n".join(blocks)
