"""Progress bars (rich) for long-running commands: counts, elapsed time and an estimate of the time left."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich Progress on stderr (plain and quiet when stderr is not a terminal)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=console,
                  disable=not sys.stderr.isatty()) as progress:
        yield progress
