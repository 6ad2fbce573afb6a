"""Evaluating few-shot ARC: choosing tasks, the self-edits of each condition and running every condition's inner loops
(Table 1 of arXiv 2506.10943). Used by `seal arc eval` and by ReST-EM's round evaluations (`seal arc train`).

Conditions: `icl` (the base model answers from the demonstrations), `ttt-untrained` / `self-edit` (self-edits of the
model itself, run through test-time training), `seal` (self-edits of `eval.checkpoint`), `oracle` (the fixed
hand-tuned configuration `edit.ORACLE_EDIT`, or on a curated list each task's configuration that solved it in
curation: `seal.domains.arc.curate`). The summaries are `seal.reports.tables.arc_summary`.
"""

from __future__ import annotations

import gc
import json

from seal.config import missing_model_dir
from seal.domains.arc.config import ArcEvalCommandConfig, ArcSelfEditSections
from seal.domains.arc.domain import ArcDomain, check_constrained, constrained_writer, render_self_edit_prompt
from seal.domains.arc.curate import CURATED_PREFIX, curated_configs, is_curated_source, load_curated
from seal.domains.arc.edit import ORACLE_EDIT, EditConfig
from seal.domains.arc.tasks import Task, load_tasks
from seal.errors import ConfigError, DataError
from seal.executors import make_executor, run_condition
from seal.models.generate import HFGenerator
from seal.outer.sample import Sampling, sample_and_store, stored_self_edits
from seal.reports.tables import arc_differences, arc_summary
from seal.store import keys
from seal.store.runs import Run

SAMPLED = ("ttt-untrained", "seal")  # the conditions whose self-edits are sampled from a model


def choose_tasks(cfg: ArcSelfEditSections) -> list[Task]:
    """The configured tasks (ids, then offset and n), each with known test outputs."""
    if is_curated_source(cfg.data.source):
        tasks = load_curated(cfg.data.source.removeprefix(CURATED_PREFIX), cfg.data.from_source)
        if cfg.data.ids:
            by_id = {t.id: t for t in tasks}
            missing = [i for i in cfg.data.ids if i not in by_id]
            if missing:
                raise DataError(f"data.ids: {missing[0]} is not in {cfg.data.source}"
                                + (f" from {cfg.data.from_source}" if cfg.data.from_source else ""))
            tasks = [by_id[i] for i in cfg.data.ids]
    else:
        tasks = load_tasks(cfg.data.source, cfg.data.solutions or None, ids=list(cfg.data.ids) or None)
    tasks = tasks[cfg.data.offset:]
    tasks = tasks[:cfg.data.n] if cfg.data.n else tasks
    if not tasks or len(tasks) < cfg.data.n:  # fewer than asked for would pass for the full table
        raise DataError(f"{cfg.data.source}: {len(tasks)} task(s) selected, data.n={cfg.data.n} asked for "
                        f"(data.offset={cfg.data.offset})")
    unsolved = [t.id for t in tasks if not t.has_solutions]
    if unsolved:
        raise DataError(f"{cfg.data.source}: no solutions for task(s) {', '.join(unsolved[:3])}; give data.solutions")
    return tasks


def check_conditions(cfg: ArcEvalCommandConfig) -> None:
    """Fail before loading anything: the constrained-decoding settings, and the seal condition's checkpoint.

    Raises:
        ConfigError: naming the key and the value.
    """
    check_constrained(cfg)
    if "seal" in cfg.eval.conditions and not cfg.eval.checkpoint:
        raise ConfigError("eval.checkpoint: needed by the seal condition (or drop seal from eval.conditions)")
    if "seal" in cfg.eval.conditions and missing_model_dir(cfg.eval.checkpoint):
        raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")


def oracle_edits(cfg: ArcSelfEditSections, task_ids: list[str]) -> dict[str, tuple[EditConfig, str]]:
    """Per task id, the oracle condition's configuration and where it comes from: the configuration that solved the
    task in curation when `data.source` is a curated list (read once), else the fixed `edit.ORACLE_EDIT`."""
    curated = (curated_configs(cfg.data.source.removeprefix(CURATED_PREFIX))
               if is_curated_source(cfg.data.source) else {})
    return {i: (curated[i], cfg.data.source) if i in curated else (ORACLE_EDIT, "edit.ORACLE_EDIT")
            for i in task_ids}


def edits_for(condition: str, run: Run, cfg: ArcSelfEditSections, domain: ArcDomain, tasks: list[Task], round: int = 0
              ) -> dict[str, list[tuple[int | None, str | None]]]:
    """(self-edit row id, text) per task for `condition`: none for icl (the domain answers in context), the oracle
    configuration as JSON, or sampled self-edits, stored before they are used (the seal condition's checkpoint is
    `eval.checkpoint`: arc eval's config)."""
    store = run.store
    if condition == "icl":
        return {t.id: [(None, None)] for t in tasks}
    if condition == "oracle":
        out = {}
        for task_id, (edit, source) in oracle_edits(cfg, [t.id for t in tasks]).items():
            text = json.dumps(edit.to_json())
            out[task_id] = [(store.add_self_edit(key=keys.self_edit(round, "oracle", task_id, 0), context_id=task_id,
                                                 round=round, condition="oracle", text=text,
                                                 sampling={"source": source}), text)]
        return out
    sampling = Sampling.of(cfg.self_edit)
    stored = stored_self_edits(store, [t.id for t in tasks], condition, round, sampling.k)
    if stored is not None:
        return stored
    if condition == "seal":  # self-edits written by a trained checkpoint
        from seal.models import load_model

        writer, writer_tok = load_model(cfg.model, cfg.run.seed, cfg.eval.checkpoint)
        prompts = {t.id: render_self_edit_prompt(writer_tok, t, cfg.ttt.max_steps) for t in tasks}
        generator = constrained_writer(cfg, HFGenerator(writer, writer_tok, sampling.batch_size))
        edits = sample_and_store(store, generator, prompts, condition, round, sampling, cfg.run.seed)
        del writer
        gc.collect()
        return edits
    prompts = {t.id: domain.self_edit_prompt(t) for t in tasks}
    with domain.writer() as writer:
        return sample_and_store(store, writer, prompts, condition, round, sampling, cfg.run.seed)


def evaluate_conditions(run: Run, cfg: ArcSelfEditSections, domain: ArcDomain, tasks: list[Task], conditions: tuple[str, ...],
                        skipped: dict[str, str], round: int = 0) -> dict:
    """Run every condition's inner loops on `tasks` (skipping finished ones) and summarise them."""
    store = run.store
    executor = make_executor(cfg.executor, domain)
    wanted: dict[str, set[str]] = {}  # the rows of this configuration (a resumed run may hold others)
    for condition in conditions:
        for t_id, reason in skipped.items():
            store.add_inner_result(key=keys.skipped(round, condition, t_id), context_id=t_id, round=round,
                                   condition=condition, seed=None, score=None, base_score=None, n_questions=0,
                                   details={"skipped": reason}, timings={})
        seeds = 1 if condition == "icl" else cfg.ttt.seeds  # answering in context trains nothing
        jobs = run_condition(store, executor, domain, condition, tasks,
                             edits_for(condition, run, cfg, domain, tasks, round), seeds, round)
        wanted[condition] = {j.key for j in jobs} | {keys.skipped(round, condition, t_id) for t_id in skipped}
    results = {"conditions": {}, "skipped": skipped, "round": round,
               "decoding": {"self_edits": "constrained" if cfg.self_edit.constrained else "free-form",
                            "answers": "grid grammar" if cfg.solve.constrained else "free-form"}}
    for condition in conditions:
        rows = [r for r in store.rows("inner_results", "condition=?", (condition,)) if r["key"] in wanted[condition]]
        used = {r["self_edit_id"] for r in rows}
        edit_rows = [e for e in store.rows("self_edits", "condition=?", (condition,)) if e["id"] in used]
        results["conditions"][condition] = arc_summary(rows, edit_rows)
    results["differences"] = arc_differences(results["conditions"])
    return results
