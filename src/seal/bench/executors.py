"""Executor throughput, side by side: the local executor against Ray with 1, 2, ... workers on the same jobs.

    seal bench inner-loop --executor local,ray-1,ray-2 --jobs 8

    from seal.bench.executors import compare_executors, format_executor_bench
    results = compare_executors(cfg, passages, n_jobs=8)                  # setups: local, ray-1, ray-2
    print(format_executor_bench(results))

Every setup runs the same `n_jobs` inner loops (passage i mod len(passages) trained on alone, with seed
i div len(passages)), so their scores must agree (`same_scores`). Per setup: start-up seconds (Ray: the cluster and
every actor's model load; excluded from throughput), wall seconds of the jobs, inner loops per minute, mean compute
seconds per loop (the domain's own train + quiz timings) and the overhead per loop, `(wall x workers - compute) / n`:
the time a worker slot spent on anything but training and quizzing (the base quiz once per passage and worker,
dispatch, pickling). One untimed loop per worker comes first, so first-call costs are left out. On one machine, Ray
workers split its cores (`ray-N`: cores // N CPUs and torch threads each) unless `executor.address` names a cluster,
whose `executor.cpus_per_worker` and `gpus_per_worker` are then used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time

from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.data import Passage
from seal.executors.base import Job, LocalExecutor
from seal.jsonfile import write_json


SETUP = re.compile(r"local|ray-[1-9][0-9]*")  # the setups `compare_executors` knows


def bench_jobs(passages: list[Passage], n_jobs: int) -> list[Job]:
    return [Job(f"bench/{passages[i % len(passages)].id}/s{i // len(passages)}", passages[i % len(passages)], None,
                i // len(passages), "bench") for i in range(n_jobs)]


def time_executor(executor, jobs: list[Job], workers: int, startup_s: float) -> dict:
    """Run `jobs` on `executor`; throughput, compute and overhead per loop, and the scores by job key."""
    warmup = [dataclasses.replace(jobs[0], key=f"warmup/{w}") for w in range(workers)]
    executor.run(warmup, lambda job, outcome: None)  # one untimed loop per worker: first-call costs stay out
    outcomes = {}
    t0 = time.perf_counter()
    executor.run(jobs, lambda job, outcome: outcomes.__setitem__(job.key, outcome))
    wall = time.perf_counter() - t0
    compute = sum(o.timings.get("train_s", 0.0) + o.timings.get("quiz_s", 0.0) for o in outcomes.values())
    n = len(jobs)
    return {"workers": workers, "startup_s": startup_s, "wall_s": wall, "loops_per_minute": 60 * n / wall,
            "compute_s_per_loop": compute / n, "overhead_s_per_loop": (wall * workers - compute) / n,
            "scores": {k: o.score for k, o in outcomes.items()}}


def ray_setup(cfg: KnowledgeEvalConfig, workers: int) -> KnowledgeEvalConfig:
    ex = cfg.executor
    cpus = ex.cpus_per_worker if ex.address else float(max(1, (os.cpu_count() or 1) // workers))
    return dataclasses.replace(cfg, executor=dataclasses.replace(ex, kind="ray", num_workers=workers,
                                                                 cpus_per_worker=cpus))


def compare_executors(cfg: KnowledgeEvalConfig, passages: list[Passage], n_jobs: int = 8,
                      setups: tuple[str, ...] = ("local", "ray-1", "ray-2")) -> dict:
    """Time the same inner loops under each setup (`local` or `ray-N`); a table-ready dict.

    Args:
        cfg: the knowledge config (model, inner loop, quiz; `executor` for a cluster address and resources).
        passages: the passages to train on, round-robin.
        n_jobs: inner loops per setup. Default: 8.
        setups: `local` and/or `ray-N` for N workers. Default: local, ray-1, ray-2.
    """
    from seal.domains.knowledge.domain import KnowledgeDomain
    from seal.domains.knowledge.quiz import make_grader
    from seal.models import load_model

    jobs = bench_jobs(passages, n_jobs)
    t0 = time.perf_counter()
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer), source=cfg.model.name)
    load_s = time.perf_counter() - t0
    results = {"model": cfg.model.name, "n_jobs": n_jobs, "n_passages": len(passages), "cpus": os.cpu_count(),
               "setups": {}}
    for setup in setups:
        if setup == "local":
            results["setups"][setup] = time_executor(LocalExecutor(domain), jobs, 1, load_s)
            continue
        from seal.executors.ray import RayExecutor

        rcfg = ray_setup(cfg, int(setup.removeprefix("ray-")))
        t0 = time.perf_counter()
        executor = RayExecutor(rcfg.executor, domain)
        executor.start()
        try:
            results["setups"][setup] = time_executor(executor, jobs, len(executor.workers),
                                                     time.perf_counter() - t0)
            results["setups"][setup]["cpus_per_worker"] = rcfg.executor.cpus_per_worker
        finally:
            executor.close()
    first = next(iter(results["setups"].values()))
    reference, base_rate = first["scores"], first["loops_per_minute"]
    for row in results["setups"].values():
        row["same_scores"] = row.pop("scores") == reference
        row["speedup"] = row["loops_per_minute"] / base_rate
    return results


def run_executor_bench(run, cfg: KnowledgeEvalConfig, n_jobs: int, setups: tuple[str, ...]) -> dict:
    """`seal bench inner-loop --executor ...`: `compare_executors` on the configured passages; writes bench.json."""
    from seal.domains.knowledge.evaluation import choose_passages

    passages = choose_passages(cfg)
    run.update_manifest(data_ids=[p.id for p in passages])
    results = compare_executors(cfg, passages, n_jobs, setups)
    write_json(run.dir / "bench.json", results, default=str)
    return results


def format_executor_bench(results: dict) -> str:
    first = next(iter(results["setups"]), "")
    lines = [f"{'setup':<8} {'workers':>7} {'start s':>8} {'wall s':>7} {'loops/min':>9} {'x ' + first:>9} "
             f"{'compute s':>9} {'overhead s':>10} {'same':>5}"]
    for name, r in results["setups"].items():
        lines.append(f"{name:<8} {r['workers']:>7} {r['startup_s']:>8.1f} {r['wall_s']:>7.1f} "
                     f"{r['loops_per_minute']:>9.2f} {r['speedup']:>9.2f} {r['compute_s_per_loop']:>9.2f} "
                     f"{r['overhead_s_per_loop']:>10.2f} {'yes' if r['same_scores'] else 'no':>5}")
    lines.append(f"{results['model']}, {results['n_jobs']} inner loops on {results['n_passages']} passage(s), "
                 f"{results['cpus']} CPUs; compute and overhead are seconds per inner loop")
    return "\n".join(lines)
