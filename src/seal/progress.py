"""Progress bars (rich) for long-running commands: counts, elapsed time and an estimate of the time left.

Without rich (a bare accelerator machine running `bench/gpu.sh` with only PyTorch, transformers and PEFT) the console
writes plain timestamped lines to stderr and the bars are silent.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

try:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
except ImportError:
    Console = Progress = None


class PlainConsole:
    """What the recipes use of rich's Console (`log`, `print`), as plain lines on stderr."""

    def log(self, message: str, **_) -> None:
        print(time.strftime("[%H:%M:%S]"), message, file=sys.stderr, flush=True)

    def print(self, message: str, **_) -> None:
        print(message, file=sys.stderr, flush=True)


class SilentProgress:
    """What the recipes use of rich's Progress (`add_task`, `advance`), doing nothing."""

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        return 0

    def advance(self, task: int, advance: float = 1) -> None:
        pass


console = Console(stderr=True) if Console else PlainConsole()


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich Progress on stderr (plain and quiet when stderr is not a terminal or rich is absent)."""
    if Progress is None:
        yield SilentProgress()
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=console,
                  disable=not sys.stderr.isatty()) as progress:
        yield progress
