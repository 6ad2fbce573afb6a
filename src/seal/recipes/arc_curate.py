"""`seal arc curate`: the ARC tasks a model can learn by test-time training, as SEAL curated its tasks for its 1B model.

    seal arc curate --config configs/arc/curate_cpu.yaml
    seal arc curate --resume runs/<dir>

For each candidate (the `curate.smallest` tasks of each of `curate.sources`, fewest cells first), in order:
1. a task whose prompts do not fit the context is not curated (the reason is stored);
2. the base model answers in context (`icl`); a task it solves is not curated ("solved in context");
3. the grid's TTT configurations run one after another (`curate.learning_rates` x `epochs` x `strategies`, with
   `augmentations`, TTT seed `curate.seed`); the first that solves the task (pass@2 on every test input) curates it,
   unless `curate.all_configs` asks for all. A run that raises is stored with its error and counts as a failure;
   a task whose runs pass `curate.max_task_seconds` is not curated (timed out).

Past `curate.max_hours` of wall time (resumes included) no run starts: the list then holds the candidates settled so
far, names the others under `manifest.unfinished` and says `complete: false`; `--resume --set curate.max_hours=...`
with a larger budget goes on.

Every in-context answer and TTT run is a row of the run's store (`r0/icl/<task>/0/s0`, `r0/grid/<task>/<i>/s<seed>`)
as soon as it ends, so `--resume` redoes nothing finished; the verdicts are read back from the rows. The run writes
`curated.json` (the list that `data.source: curated:PATH` reads, with its manifest: model, settings, date, wall time)
and prints a table. Copying that file to `src/seal/domains/arc/curated/NAME.json` ships it as `curated:NAME`.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import traceback

from seal.domains.arc.config import ArcCurateCommandConfig
from seal.domains.arc.curate import Verdict, candidates, cells, grid, verdict
from seal.domains.arc.domain import ArcDomain, check_constrained
from seal.domains.arc.tasks import Task
from seal.errors import SealError
from seal.jsonfile import read_json, write_json
from seal.models import fingerprint, load_model
from seal.progress import console, progress_bar
from seal.store import keys
from seal.store.runs import Run

ICL, GRID = "icl", "grid"


def _store(store, key: str, task: Task, condition: str, seed: int | None, run) -> dict:
    """Run `run()` (an Outcome) and store its row under `key`; an exception other than a SealError is stored as a
    failed row with its error (the task is then not solved by it), never raised."""
    t0 = time.perf_counter()
    try:
        out = run()
        score, details, timings = out.score, out.details, out.timings
    except SealError:
        raise
    except Exception as e:  # a run that breaks (out of memory, a bug on one task) must not end the curation
        score, timings = 0.0, {"failed_s": time.perf_counter() - t0}
        details = {"error": f"{type(e).__name__}: {e}"[:300], "traceback": traceback.format_exc()[-2000:]}
    store.add_inner_result(key=key, context_id=task.id, round=0, condition=condition, seed=seed, score=score,
                           base_score=0.0, n_questions=len(task.test), details=details, timings=timings)
    return store.get("inner_results", key)


def _rows(store, task: Task, n: int, seed: int) -> tuple[dict | None, list[dict | None]]:
    icl = store.get("inner_results", keys.inner(0, ICL, task.id, 0, 0))
    return icl, [store.get("inner_results", keys.inner(0, GRID, task.id, i, seed)) for i in range(n)]


def curate_task(store, domain: ArcDomain, task: Task, configs: list, cfg: ArcCurateCommandConfig, run_more: bool = True
                ) -> Verdict:
    """Run what is still missing of one task's curation (stored as it goes) and return its verdict; with
    `run_more` false, the verdict of its stored rows alone (unfinished when they do not settle it)."""
    c = cfg.curate
    unfit = domain.check_task(task, with_self_edit=False)
    if unfit:
        return verdict(None, [], len(configs), c, unfit)
    icl, tried = _rows(store, task, len(configs), c.seed)
    if not run_more:
        return verdict(icl, tried, len(configs), c)
    if icl is None:
        icl = _store(store, keys.inner(0, ICL, task.id, 0, 0), task, ICL, None, lambda: domain.icl(task))
    for i, edit in enumerate(configs):
        v = verdict(icl, tried[:i], len(configs), c)
        if v.finished and not (c.all_configs and v.curated):
            return v
        if tried[i] is None:
            tried[i] = _store(store, keys.inner(0, GRID, task.id, i, c.seed), task, GRID, c.seed,
                              lambda: domain.evaluate_config(task, edit, c.seed))
    return verdict(icl, tried, len(configs), c)


def run_arc_curate(run: Run, cfg: ArcCurateCommandConfig) -> dict:
    """Curate the candidates (resuming what the store holds) and return the list; `curated.json` is rewritten after
    every candidate (`manifest.complete` false until the last), so a killed run leaves the list so far."""
    check_constrained(cfg)
    t_start = time.time()
    pool = candidates(cfg.curate)
    configs = grid(cfg.curate)
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    weights = fingerprint(model)
    run.update_manifest(data_ids=[t.id for _, t in pool], model_fingerprint=weights)
    domain = ArcDomain(model, tokenizer, cfg, source=cfg.model.name)
    store = run.store
    earlier = store.get_meta("curate_seconds", 0.0)  # wall time of the sessions before a resume
    budget = cfg.curate.max_hours * 3600  # 0: none
    manifest = {"model": cfg.model.name, "model_fingerprint": weights, "versions": run.manifest["versions"],
                "date": datetime.date.today().isoformat(), "run": run.dir.name,
                "grid": [c.to_dict() for c in configs],
                "settings": {"curate": dataclasses.asdict(cfg.curate), "ttt": dataclasses.asdict(cfg.ttt),
                             "solve": dataclasses.asdict(cfg.solve), "model": dataclasses.asdict(cfg.model)}}
    kept, rejected, unfinished = [], [], []

    def write(complete: bool) -> None:
        wall = earlier + time.time() - t_start
        store.set_meta("curate_seconds", wall)
        write_json(run.dir / "curated.json", {
            "manifest": manifest | {"complete": complete, "wall_seconds": round(wall, 1),
                                    "examined": len(kept) + len(rejected), "candidates": len(pool),
                                    "unfinished": unfinished},
            "tasks": kept, "not_curated": rejected})

    with progress_bar() as bar:
        job = bar.add_task("curating", total=len(pool))
        for source, task in pool:
            store.put_context(task.id, domain.name, task.to_dict())
            over = bool(budget) and earlier + time.time() - t_start > budget
            v = curate_task(store, domain, task, configs, cfg, run_more=not over)
            entry = {"id": task.id, "source": source, "cells": cells(task), "seconds": v.seconds}
            if not v.finished:
                unfinished.append(task.id)
            elif v.curated:
                kept.append(entry | {"config_index": v.config_index, "config": configs[v.config_index].to_dict()})
                console.log(f"{task.id}: curated (configuration {v.config_index})")
            else:
                rejected.append(entry | {"reason": v.reason})
            write(complete=False)
            bar.advance(job)
            if cfg.curate.keep and len(kept) >= cfg.curate.keep:
                break
    write(complete=not unfinished)
    return read_json(run.dir / "curated.json")  # what the file holds (lists where the settings hold tuples)


def format_curate(result: dict) -> str:
    """The curation as a table: one line per candidate examined, then the counts and where the list is."""
    lines = [f"{'task':<10} {'source':<18} {'cells':>5} {'seconds':>8}  verdict"]
    rows = sorted(result["tasks"] + result["not_curated"], key=lambda e: (e["source"], e["cells"], e["id"]))
    for e in rows:
        what = f"curated by configuration {e['config_index']}" if "config_index" in e else f"not: {e['reason']}"
        lines.append(f"{e['id']:<10} {e['source']:<18} {e['cells']:>5} {e['seconds']:>8.1f}  {what}")
    m = result["manifest"]
    lines.append(f"{len(result['tasks'])} curated of {len(rows)} examined, {m['wall_seconds'] / 60:.1f} min wall; "
                 f"the list: {m['run']}/curated.json (data.source: curated:PATH)")
    if m.get("unfinished"):
        lines.append(f"{len(m['unfinished'])} candidate(s) not finished within curate.max_hours: --resume with a "
                     "larger budget goes on")
    return "\n".join(lines)
