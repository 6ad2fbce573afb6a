"""Progress for long-running commands: counts, elapsed time, the time left of each stage and of the whole job.

On a terminal, rich's bars on stderr; when stderr is not a terminal (a log: nohup, tee, a scheduler) or rich is absent
(a bare accelerator machine running `bench/gpu.sh`), plain timestamped lines on stderr instead: one when a stage
starts and then at most one every `PlainProgress.every_s` seconds (and at its end), each with the count, the time
spent and the time left. A stage's time left is its elapsed time per finished unit times the units left (an average
over the whole stage, so units that take minutes each still get one; rich's own estimate needs two updates within
30 s). With a `Plan` in force (`planned`), every line and bar also gives the time left of the whole job.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

try:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text
except ImportError:
    Console = Progress = None
    ProgressColumn = object


def duration(seconds: float | None) -> str:
    """A time span for people: `45 s`, `12 min`, `2 h 05 min`; `?` for None.

    >>> duration(44.6), duration(600), duration(7500), duration(None)
    ('45 s', '10 min', '2 h 05 min', '?')
    """
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {seconds % 3600 / 60:02.0f} min"


@dataclass
class Stage:
    """One stage of a `Plan`: `units` to do, each costing `cost` of a `resource` (e.g. generated tokens or training
    steps); `done` units finished in `seconds` while this process ran it. A stage that `measures` sets its resource's
    rate from its own finished units; one that does not sets it only while the resource has none (a rough rate
    is better than none)."""

    units: int
    cost: float
    resource: str
    measures: bool = True
    done: int = 0
    seconds: float = 0.0


@dataclass
class Plan:
    """The stages of a whole job (label -> `Stage`, in order) and the seconds per unit of cost of each resource
    (`rates`; from earlier runs, or None until measured). A finished unit measures its stage's resource rate, which
    every stage of that resource then uses; `left_s` adds up what is left of every stage, less the time already
    spent on the unit under way (`working`), so the figure counts down between units that take minutes."""

    stages: dict[str, Stage]
    rates: dict[str, float | None] = field(default_factory=dict)
    running: tuple[str, float] | None = None  # the stage whose next unit is under way, and since when (monotonic)
    measured: set[str] = field(default_factory=set)  # the resources whose rate finished units set (not given)

    def working(self, label: str) -> None:
        """Note that a unit of stage `label` starts now."""
        self.running = (label, time.monotonic()) if label in self.stages else self.running

    def finished(self, label: str, seconds: float, units: int = 1) -> None:
        """Record that `units` of stage `label` finished, `seconds` after its previous one (or its start)."""
        stage = self.stages.get(label)
        if stage is None:
            return
        stage.done += units
        stage.seconds += seconds
        if stage.cost > 0 and (stage.measures or self.rates.get(stage.resource) is None):
            self.rates[stage.resource] = stage.seconds / (stage.done * stage.cost)
            self.measured.add(stage.resource)

    def left_s(self) -> float | None:
        """Seconds left over the stages not finished; None while a resource they need has no rate."""
        total = 0.0
        for label, stage in self.stages.items():
            left = max(stage.units - stage.done, 0) * stage.cost
            if left:
                rate = self.rates.get(stage.resource)
                if rate is None:
                    return None
                total += left * rate
                if self.running is not None and self.running[0] == label:  # the unit under way, at most its cost
                    total -= min(time.monotonic() - self.running[1], stage.cost * rate)
        return total

    def total_s(self) -> float | None:
        """The whole job's expected seconds from the current rates (finished units included)."""
        rates = [self.rates.get(s.resource) for s in self.stages.values() if s.units]
        if any(r is None for r in rates):
            return None
        return sum(s.units * s.cost * r for s, r in zip([s for s in self.stages.values() if s.units], rates))


_plan: Plan | None = None


@contextmanager
def planned(plan: Plan) -> Iterator[Plan]:
    """Put `plan` in force: the bars and lines of its stages (tasks whose description is a stage's label) update it
    and show its time left."""
    global _plan
    previous, _plan = _plan, plan
    try:
        yield plan
    finally:
        _plan = previous


def _job_left() -> str:
    if _plan is None:
        return ""
    left = _plan.left_s()
    return f"whole job about {duration(left)} left" if left is not None else "whole job: estimating"


class PlainConsole:
    """What the recipes use of rich's Console (`log`, `print`), as plain lines on stderr."""

    def log(self, message: str, **_) -> None:
        print(time.strftime("[%H:%M:%S]"), message, file=sys.stderr, flush=True)

    def print(self, message: str, **_) -> None:
        print(message, file=sys.stderr, flush=True)


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    resumed: float  # units finished before this process (a resumed run's)
    started: float
    last: float  # when the last unit finished (or the task started)
    printed: float  # when its last line was written


class PlainProgress:
    """What the recipes use of rich's Progress (`add_task`, `advance`), as timestamped lines on stderr: one when a
    task starts, then at most one every `every_s` seconds and one at its end."""

    every_s = 30.0

    def __init__(self):
        self.tasks: list[_Task] = []

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **_) -> int:
        now = time.monotonic()
        self.tasks.append(_Task(description, total, completed, completed, now, now, now))
        self._line(self.tasks[-1], "starting")
        return len(self.tasks) - 1

    def advance(self, task: int, advance: float = 1) -> None:
        t, now = self.tasks[task], time.monotonic()
        t.completed += advance
        t.last = now
        if now - t.printed >= self.every_s or (t.total is not None and t.completed >= t.total):
            t.printed = now
            self._line(t)

    def _line(self, t: _Task, note: str = "") -> None:
        count = f"{t.completed:g}/{t.total:g}" if t.total is not None else f"{t.completed:g}"
        parts = [f"{t.description}: {count}"] + ([note] if note else [])
        if t.completed and not note:
            left = stage_left_s(None if t.total is None else t.total - t.resumed, t.completed - t.resumed,
                                t.last - t.started)
            parts.append(f"{duration(time.monotonic() - t.started)} spent"
                         + (f", about {duration(left)} left" if left else ", done"))
        parts += [_job_left()] if _job_left() else []
        print(time.strftime("[%H:%M:%S]"), "; ".join(parts), file=sys.stderr, flush=True)


def stage_left_s(total: float | None, completed: float, elapsed: float) -> float | None:
    """Seconds left of a task: its mean seconds per finished unit (`elapsed` over `completed`, units finished in this
    process) times the units left; None before the first unit or without a total."""
    if total is None or completed <= 0:
        return None
    return elapsed / completed * max(total - completed, 0)


class _Timed:
    """Wraps a progress (rich's or `PlainProgress`) so that each advance of a task named after a stage of the plan
    in force records the unit's time there."""

    def __init__(self, progress):
        self.progress, self.labels, self.last = progress, {}, {}

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **kw) -> int:
        task = self.progress.add_task(description, total=total, completed=completed, resumed=completed, **kw)
        self.labels[task], self.last[task] = description, time.monotonic()
        if _plan is not None:
            _plan.working(description)
        return task

    def advance(self, task: int, advance: float = 1) -> None:
        now = time.monotonic()
        if _plan is not None:
            _plan.finished(self.labels[task], now - self.last[task], int(advance))
            _plan.working(self.labels[task])
        self.last[task] = now
        self.progress.advance(task, advance)


class _Left(ProgressColumn):
    """rich column: the task's time left from its mean time per unit, then the whole job's (with a plan)."""

    def render(self, task) -> "Text":
        elapsed = (task.finished_time if task.finished else task.elapsed) or 0.0
        resumed = task.fields.get("resumed", 0)
        left = stage_left_s(None if task.total is None else task.total - resumed, task.completed - resumed, elapsed)
        text = f"about {duration(left)} left" if left else ("done" if task.finished else "estimating")
        return Text(f"{text}; {_job_left()}" if _job_left() else text, style="progress.remaining")


class _Console:
    """The console the recipes log to: rich's on a terminal, `PlainConsole` lines otherwise (decided at each call,
    so a log gets whole timestamped lines, neither wrapped at 80 columns nor ending in a source file's name)."""

    def __init__(self):
        self.rich = Console(stderr=True) if Console else None
        self.plain = PlainConsole()

    def _rich(self) -> bool:
        return self.rich is not None and sys.stderr.isatty()

    def log(self, message: str, **kw) -> None:
        if self._rich():
            self.rich.log(message, _stack_offset=2, **kw)  # the caller's file and line, not this one's
        else:
            self.plain.log(message)

    def print(self, message: str, **kw) -> None:
        self.rich.print(message, **kw) if self._rich() else self.plain.print(message)


console = _Console()


@contextmanager
def progress_bar() -> Iterator:
    """Progress on stderr: rich bars on a terminal, else `PlainProgress` lines. A task whose description is a stage
    of the `Plan` in force updates it."""
    if Progress is None or not sys.stderr.isatty():
        yield _Timed(PlainProgress())
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), _Left(),
                  console=console.rich) as progress:
        yield _Timed(progress)
