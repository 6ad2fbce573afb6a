"""Inner loops on Ray actors, each holding its own model replica (`executor.kind: ray`).

    seal knowledge eval --config configs/knowledge/demo.yaml --set executor.kind=ray --set executor.num_workers=2
    seal knowledge train --config configs/knowledge/paper_qwen7b_ray.yaml     # on a cluster: docs/cluster.md

Each actor rebuilds the domain from `domain.spec()` (the config plus the name or path the model was loaded from; in
ReST-EM a round's checkpoint directory, which every node must be able to read) and runs the same inner-loop code,
`domain.evaluate(context, self_edit, seed)` (or `evaluate_batch` for a domain with `batch_size` > 1). The driver
gives each idle actor one job, collects results with `ray.wait` as they finish and calls `on_result` itself, so only
the driver writes SQLite. An actor that dies mid-job (killed, out of memory, node lost) is replaced by a fresh one and
its job goes back to the head of the queue, at most `max_retries` times per job: every job finishes, and is recorded,
exactly once.

The cluster: `executor.address` (or `$RAY_ADDRESS`) connects to a running one (`auto` finds the local node's);
otherwise a local one is started with no dashboard and a small object store, or the one this process already started
is reused. Actors are created on the first `run`, reused by later calls, and killed by `close()`; the cluster itself
lives until the process ends. Worker logs stay in Ray's session directory (/tmp/ray/session_latest/logs).

Departure from SEAL's code: SEAL runs one ZMQ inner-loop server per GPU (`src/inner/TTT_server.py`) that the driver
sends requests to; here the inner loop is a method call on an actor, with retries when the actor dies.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter, deque
from functools import lru_cache
from typing import Callable

from seal.domains.base import Outcome
from seal.errors import SealError
from seal.executors.base import ExecutorConfig, Job
from seal.progress import console
from seal.utils.imports import is_ray_available

OBJECT_STORE_BYTES = 128 * 1024**2  # results are small dicts; Ray's floor is about 75 MB


def require_ray() -> None:
    if not is_ray_available():
        raise SealError("executor.kind=ray needs Ray: pip install ray (or use executor.kind=local)")


class Worker:
    """One Ray actor: a domain rebuilt from its spec, so a model replica of its own."""

    def __init__(self, spec, threads: int):
        import torch

        from seal.domains.base import build_domain

        torch.set_num_threads(max(1, threads))  # as many as the actor's CPUs; model.threads > 0 overrides
        self.domain = build_domain(spec)

    def pid(self) -> int:
        return os.getpid()

    def evaluate(self, items: list[tuple]) -> list[Outcome]:
        """Outcomes of (context, self-edit, seed) items, as the local executor computes them."""
        if len(items) > 1:
            return self.domain.evaluate_batch(items)
        return [self.domain.evaluate(*items[0])]


@lru_cache(maxsize=None)
def remote_worker():
    """`Worker` as a Ray actor class (declared once per process)."""
    import ray

    return ray.remote(Worker)


def connect(cfg: ExecutorConfig) -> bool:
    """Join the configured cluster or start a local one; True when this call started a local cluster."""
    import ray

    if ray.is_initialized():
        return False
    address = cfg.address or os.environ.get("RAY_ADDRESS", "")
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, logging_level=logging.WARNING)
        return False
    cpus = max(os.cpu_count() or 1, math.ceil(cfg.num_workers * cfg.cpus_per_worker))
    ray.init(num_cpus=cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
             ignore_reinit_error=True, log_to_driver=False, logging_level=logging.WARNING)
    return True


def workers_that_fit(cfg: ExecutorConfig) -> int:
    """`cfg.num_workers`, or fewer when the cluster's CPUs or GPUs cannot hold that many (actors that cannot be
    placed would wait forever)."""
    import ray

    total = ray.cluster_resources()
    fits = cfg.num_workers
    for name, per in (("CPU", cfg.cpus_per_worker), ("GPU", cfg.gpus_per_worker)):
        if per > 0:
            fits = min(fits, int(total.get(name, 0.0) / per + 1e-9))
    if fits < 1:
        raise SealError(f"the Ray cluster has {total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs: not "
                        f"enough for one worker ({cfg.cpus_per_worker:g} CPUs, {cfg.gpus_per_worker:g} GPUs)")
    if fits < cfg.num_workers:
        console.log(f"Ray: the cluster holds {fits} of the {cfg.num_workers} workers asked for; using {fits}")
    return fits


def last_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__


class RayExecutor:
    """Runs jobs on a pool of Ray actors (see the module docstring). `retries` and `restarts` count what the
    fault tolerance did; `busy_pids()` lists the processes that hold a job right now (for tests and monitoring)."""

    def __init__(self, cfg: ExecutorConfig, domain):
        require_ray()
        self.cfg = cfg
        self.spec = domain.spec()
        self.group_size = max(1, domain.batch_size)
        self.workers: list = []
        self.retries = 0
        self.restarts = 0
        self._pid_refs: dict = {}  # actor id -> ObjectRef of its pid
        self._busy: dict = {}  # ObjectRef of a result -> (jobs, actor)

    # -- the pool ------------------------------------------------------------------------------------------------

    def _new_worker(self):
        actor = remote_worker().options(num_cpus=self.cfg.cpus_per_worker, num_gpus=self.cfg.gpus_per_worker,
                                           max_restarts=0).remote(self.spec, int(self.cfg.cpus_per_worker))
        self._pid_refs[actor._actor_id] = actor.pid.remote()  # runs right after __init__, before any job
        return actor

    def start(self) -> None:
        """Create the actors and wait until each has loaded its model (a model that cannot load fails here)."""
        import ray

        if self.workers:
            return
        connect(self.cfg)
        self.workers = [self._new_worker() for _ in range(workers_that_fit(self.cfg))]
        try:
            ray.get(list(self._pid_refs.values()))
        except ray.exceptions.RayActorError as e:
            self.close()
            raise SealError(f"a Ray worker could not build the domain: {last_line(e)}") from None

    def _replace(self, actor):
        import ray

        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # already gone
            pass
        self.workers.remove(actor)
        self._pid_refs.pop(actor._actor_id, None)
        fresh = self._new_worker()
        self.workers.append(fresh)
        self.restarts += 1
        return fresh

    def worker_pids(self) -> list[int]:
        import ray

        return ray.get([self._pid_refs[w._actor_id] for w in self.workers])

    def busy_pids(self) -> list[int]:
        import ray

        return ray.get([self._pid_refs[actor._actor_id] for _, actor in self._busy.values()])

    def close(self) -> None:
        """Kill the actors (and free their model replicas); the cluster stays up for later executors."""
        if not self.workers:
            return
        import ray

        for actor in self.workers:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
        self.workers, self._pid_refs, self._busy = [], {}, {}

    # -- running jobs --------------------------------------------------------------------------------------------

    def _requeue(self, group: list[Job], queue: deque, attempts: Counter, error: BaseException) -> None:
        for job in group:
            attempts[job.key] += 1
        if attempts[group[0].key] > self.cfg.max_retries:
            raise SealError(f"job {group[0].key}: its Ray worker died {attempts[group[0].key]} times "
                            f"(executor.max_retries={self.cfg.max_retries}); last error: {last_line(error)}")
        queue.appendleft(group)
        self.retries += 1
        console.log(f"Ray: a worker died during {group[0].key}; retrying it on a fresh worker")

    def run(self, jobs: list[Job], on_result: Callable[[Job, Outcome], None]) -> None:
        """Run `jobs` on the pool, calling `on_result(job, outcome)` here, in the driver, as each finishes."""
        if not jobs:
            return
        import ray

        self.start()
        queue = deque(jobs[i:i + self.group_size] for i in range(0, len(jobs), self.group_size))
        attempts: Counter = Counter()
        idle = list(self.workers)
        while queue or self._busy:
            while idle and queue:
                group, actor = queue.popleft(), idle.pop()
                ref = actor.evaluate.remote([(j.context, j.self_edit, j.seed) for j in group])
                self._busy[ref] = (group, actor)
            [ref], _ = ray.wait(list(self._busy), num_returns=1)
            group, actor = self._busy.pop(ref)
            try:
                outcomes = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                idle.append(self._replace(actor))
                self._requeue(group, queue, attempts, e)
                continue
            except ray.exceptions.RayTaskError as e:  # the inner loop itself raised: a user error stays one line
                if isinstance(e.cause, SealError):
                    raise e.cause from None
                raise
            idle.append(actor)
            for job, outcome in zip(group, outcomes):
                on_result(job, outcome)
