"""Run directories, manifests and the per-run SQLite store."""

from seal.store.db import Store
from seal.store.runs import Run, create_run, list_runs, open_run, read_run

__all__ = ["Store", "Run", "create_run", "open_run", "read_run", "list_runs"]
