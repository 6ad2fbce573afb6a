"""Executors run inner-loop jobs and hand each result back to the driver, which alone writes the store.

    executor.run(jobs, on_result)   # on_result(job, outcome) is called in the driver as each job finishes

`LocalExecutor` runs jobs in process, one after another (the default). A Ray executor (`executor.kind: ray`) runs
them on actors that each hold a model replica; see `seal.executors.ray`. `run_jobs` skips jobs whose key is already
in the store, so an interrupted command resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from seal.config import ExecutorConfig
from seal.domains.base import Outcome
from seal.progress import console, progress_bar
from seal.store import keys
from seal.store.db import Store

__all__ = ["Executor", "ExecutorConfig", "Job", "LocalExecutor", "condition_jobs", "record", "run_condition",
           "run_jobs"]


@dataclass(frozen=True)
class Job:
    """One inner loop: a context, a self-edit (None = the context alone) and a training seed."""

    key: str
    context: Any
    self_edit: str | None
    seed: int
    condition: str
    round: int = 0
    self_edit_id: int | None = None
    meta: dict = field(default_factory=dict)


class Executor(Protocol):
    def run(self, jobs: list[Job], on_result: Callable[[Job, Outcome], None]) -> None: ...

    def close(self) -> None:
        """Free the workers (a Ray executor's actors and their model replicas); the executor is not reused."""


class LocalExecutor:
    """In-process: the domain's model is the only replica. Domains with a `batch_size` > 1 (the multi-adapter
    path) get their jobs in groups through `evaluate_batch`."""

    def __init__(self, domain):
        self.domain = domain

    def run(self, jobs: list[Job], on_result: Callable[[Job, Outcome], None]) -> None:
        size = self.domain.batch_size
        for start in range(0, len(jobs), size):
            group = jobs[start:start + size]
            if size > 1:
                outcomes = self.domain.evaluate_batch([(j.context, j.self_edit, j.seed) for j in group])
            else:
                outcomes = [self.domain.evaluate(group[0].context, group[0].self_edit, group[0].seed)]
            for job, outcome in zip(group, outcomes):
                on_result(job, outcome)

    def close(self) -> None:
        pass


def record(store: Store, domain, job: Job, outcome: Outcome) -> None:
    """Write one finished inner loop to the store (one transaction)."""
    store.add_inner_result(
        key=job.key, self_edit_id=job.self_edit_id, context_id=domain.context_id(job.context), round=job.round,
        condition=job.condition, seed=job.seed, score=outcome.score, base_score=outcome.base_score,
        n_questions=outcome.n_questions, details=outcome.details, timings=outcome.timings, reward=outcome.reward)


def run_jobs(store: Store, executor: Executor, domain, jobs: list[Job], description: str) -> None:
    """Run the jobs not yet in the store, recording each as it finishes, with a progress bar."""
    todo = [j for j in jobs if not store.has("inner_results", j.key)]
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(jobs), completed=len(jobs) - len(todo))

        def on_result(job: Job, outcome: Outcome) -> None:
            record(store, domain, job, outcome)
            bar.advance(task)

        executor.run(todo, on_result)


def condition_jobs(domain, condition: str, contexts: list, edits: dict[str, list[tuple[int | None, str | None]]],
                   seeds: int, round: int) -> list[Job]:
    """One job per (context, self-edit, training seed): `edits` holds (self-edit row id, text) per context id
    (text None: the context alone), keyed as `seal.store.keys.inner`."""
    return [Job(keys.inner(round, condition, domain.context_id(c), i, seed), c, text, seed, condition, round, edit_id)
            for c in contexts for i, (edit_id, text) in enumerate(edits[domain.context_id(c)])
            for seed in range(seeds)]


def run_condition(store: Store, executor: Executor, domain, condition: str, contexts: list, edits: dict,
                  seeds: int, round: int, label: str | None = None) -> list[Job]:
    """Run one condition's inner loops (`condition_jobs`) that are not yet stored; returns all of its jobs. The
    condition runner both domains' evaluations and the E-step share. The progress bar is labelled `label` (default
    `round R CONDITION: inner loops`), one unit an inner loop."""
    jobs = condition_jobs(domain, condition, contexts, edits, seeds, round)
    run_jobs(store, executor, domain, jobs, label or f"round {round} {condition}: inner loops")
    console.log(f"{condition}: {len(jobs)} inner loop(s) done")
    return jobs
