"""`seal arc eval`: the paper's few-shot ARC table (Table 1 of arXiv 2506.10943) for any model.

    seal arc eval --config configs/arc/paper.yaml
    seal arc eval --config configs/arc/cpu_smollm2.yaml --set data.n=2 --set self_edit.k=1

Conditions (columns of Table 1):

- `icl`: the base model answers each task from its demonstrations, no training.
- `ttt-untrained`: K self-edits per task sampled from the untrained model, each run through test-time training (TTT).
- `seal`: K self-edits per task sampled from `eval.checkpoint` (a model trained by ReST-EM), TTT run on the base model.
- `oracle`: the fixed hand-tuned TTT configuration `edit.ORACLE_EDIT` (the paper's "Oracle TTT").

The success rate of a condition is the share of (task, self-edit) configurations whose adapted model solves the task
(pass@2 on every test input), as the paper counts it; a malformed or over-budget self-edit counts as a failure. Every
sampled self-edit and every inner loop is one row of the run's store as soon as it exists, keyed
`r<round>/<condition>/<task>/<index>[/s<seed>]`; rerunning with `--resume RUN_DIR` skips what is done. Tasks whose prompts
cannot fit the context (`solve.max_prompt_tokens` or the model's) are not attempted: each gets a row with reward None
and the reason, and is listed under `skipped` in `results.json`. Times per task (self-edit generation, TTT data,
training, solving) are summed over a task's configurations and averaged over tasks.

Departure from the paper: the seal condition here reads self-edits from a checkpoint rather than from the RL loop's
own final policy in the same process; the numbers are the same quantity.
"""

from __future__ import annotations

import gc
import json
from collections import Counter

from seal.config import missing_model_dir
from seal.domains.arc.config import ArcConfig
from seal.domains.arc.domain import ArcDomain, check_constrained, constrained_writer, render_self_edit_prompt
from seal.domains.arc.edit import ORACLE_EDIT
from seal.domains.arc.tasks import Task, load_tasks
from seal.errors import ConfigError, DataError
from seal.executors import Job, make_executor, run_jobs
from seal.models.generate import HFGenerator
from seal.outer.sample import Sampling, sample_and_store, stored_self_edits
from seal.progress import console
from seal.store.runs import Run

SAMPLED = ("ttt-untrained", "seal")
STEPS = ("generate_s", "ttt_data_s", "train_s", "solve_s")


# ----------------------------------------------------------------------------------------------------------------------
# Set-up helpers


def choose_tasks(cfg: ArcConfig) -> list[Task]:
    """The configured tasks (ids, then offset and n), each with known test outputs."""
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


def check_conditions(cfg: ArcConfig) -> None:
    check_constrained(cfg)
    if "seal" in cfg.eval.conditions and not cfg.eval.checkpoint:
        raise ConfigError("eval.checkpoint: needed by the seal condition (or drop seal from eval.conditions)")
    if "seal" in cfg.eval.conditions and missing_model_dir(cfg.eval.checkpoint):
        raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")


# ----------------------------------------------------------------------------------------------------------------------
# Self-edits per condition


def edits_for(condition: str, run: Run, cfg: ArcConfig, domain: ArcDomain, tasks: list[Task], round: int = 0
              ) -> dict[str, list[tuple[int | None, str | None]]]:
    """(self-edit row id, text) per task for `condition`: none for icl (the domain answers in context), the oracle
    configuration as JSON, or sampled self-edits, stored before they are used."""
    store = run.store
    if condition == "icl":
        return {t.id: [(None, None)] for t in tasks}
    if condition == "oracle":
        text = json.dumps(ORACLE_EDIT.to_json())
        return {t.id: [(store.add_self_edit(key=f"r{round}/oracle/{t.id}/0", context_id=t.id, round=round,
                                            condition="oracle", text=text, sampling={"source": "edit.ORACLE_EDIT"}),
                        text)]
                for t in tasks}
    sampling = Sampling.of(cfg.self_edit)
    stored = stored_self_edits(store, [t.id for t in tasks], condition, round, sampling.k)
    if stored is not None:
        return stored
    if condition == "seal":  # self-edits written by a trained checkpoint
        from seal.models import load

        writer, writer_tok = load(cfg.eval.checkpoint, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code)
        prompts = {t.id: render_self_edit_prompt(writer_tok, t) for t in tasks}
        generator = constrained_writer(cfg, HFGenerator(writer, writer_tok, sampling.batch_size))
        edits = sample_and_store(store, generator, prompts, condition, round, sampling, cfg.run.seed)
        del writer
        gc.collect()
        return edits
    prompts = {t.id: domain.self_edit_prompt(t) for t in tasks}
    with domain.writer() as writer:
        return sample_and_store(store, writer, prompts, condition, round, sampling, cfg.run.seed)


def condition_jobs(condition: str, tasks: list[Task], edits: dict, seeds: int, round: int = 0) -> list[Job]:
    return [Job(f"r{round}/{condition}/{t.id}/{i}/s{seed}", t, text, seed, condition, round, edit_id)
            for t in tasks for i, (edit_id, text) in enumerate(edits[t.id])
            for seed in range(1 if condition == "icl" else seeds)]


# ----------------------------------------------------------------------------------------------------------------------
# Summaries


def summarize(rows: list[dict], edit_rows: list[dict]) -> dict:
    """Success rate and diagnostics of one condition's inner-loop rows, with per-task step times."""
    done = [r for r in rows if r["reward"] is not None]
    per_task: dict[str, list[float]] = {}
    for r in done:
        per_task.setdefault(r["context_id"], []).append(r["reward"])
    rejected = [r["details"]["rejected"] for r in done if "rejected" in r["details"]]
    kinds = Counter("budget" if "budget" in reason or "no training data" in reason else "malformed"
                    for reason in rejected)
    prompts = sum(r["details"].get("n_prompts", 0) for r in done)
    failures = sum(r["details"].get("n_parse_failures", 0) for r in done)
    times = {s: 0.0 for s in STEPS}
    for r in done:
        for s in STEPS[1:]:
            times[s] += r["timings"].get(s, 0.0)
    for e in edit_rows:
        times["generate_s"] += (e["sampling"] or {}).get("generation_s", 0.0)
    n_tasks = len(per_task)
    lengths = [r["details"]["max_prompt_tokens"] for r in done if r["details"].get("max_prompt_tokens")]
    return {
        "success_rate": sum(r["reward"] for r in done) / len(done) if done else None,
        "n": len(done), "n_tasks": n_tasks, "n_solved": int(sum(r["reward"] for r in done)),
        "n_skipped": len(rows) - len(done), "n_rejected": len(rejected),
        "n_rejected_malformed": kinds["malformed"], "n_rejected_budget": kinds["budget"],
        # self-edits that do not parse, and those that ran test-time training (neither malformed nor over budget)
        "edit_parse_failure_rate": kinds["malformed"] / len(done) if done and edit_rows else None,
        "edit_ttt_rate": (len(done) - len(rejected)) / len(done) if done and edit_rows else None,
        "parse_failure_rate": failures / prompts if prompts else None,
        "mean_max_prompt_tokens": sum(lengths) / len(lengths) if lengths else None,
        "mean_ttt_examples": _mean(r["details"].get("n_examples") for r in done),
        "seconds_per_task": {s: (t / n_tasks if n_tasks else 0.0) for s, t in times.items()},
        "per_task": per_task,
    }


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_arc_eval(run: Run, cfg: ArcConfig) -> dict:
    """Fill the run's store with every condition's inner loops and return the results table (also results.json)."""
    from seal.models import fingerprint, load
    from seal.models.load import set_threads

    check_conditions(cfg)
    set_threads(cfg.model.threads)
    tasks = choose_tasks(cfg)
    model, tokenizer = load(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code,
                            seed=cfg.run.seed)
    run.update_manifest(data_ids=[t.id for t in tasks], seeds={"run": cfg.run.seed, "ttt": list(range(cfg.ttt.seeds))},
                        model_fingerprint=fingerprint(model))
    domain = ArcDomain(model, tokenizer, cfg, source=cfg.model.name)
    store = run.store
    for t in tasks:
        store.put_context(t.id, domain.name, domain.context_payload(t))
    with_edit = any(c in SAMPLED for c in cfg.eval.conditions)
    skipped = {t.id: r for t in tasks if (r := domain.check_task(t, with_self_edit=with_edit))}
    runnable = [t for t in tasks if t.id not in skipped]
    for t_id, reason in skipped.items():
        console.log(f"skipping task {t_id}: {reason}")

    results = evaluate_conditions(run, cfg, domain, runnable, cfg.eval.conditions, skipped)
    results |= {"model": cfg.model.name, "n_tasks": len(tasks), "tasks": [t.id for t in tasks]}
    (run.dir / "results.json").write_text(json.dumps(results, indent=2))
    store.add_evaluation(key="arc-eval", condition="all", payload=results)
    return results


def evaluate_conditions(run: Run, cfg: ArcConfig, domain: ArcDomain, tasks: list[Task], conditions: tuple[str, ...],
                        skipped: dict[str, str], round: int = 0) -> dict:
    """Run every condition's inner loops on `tasks` (skipping finished ones) and summarise them."""
    store = run.store
    executor = make_executor(cfg.executor, domain)
    wanted: dict[str, set[str]] = {}  # the rows of this configuration (a resumed run may hold others)
    for condition in conditions:
        for t_id, reason in skipped.items():
            store.add_inner_result(key=f"r{round}/{condition}/{t_id}/skipped", context_id=t_id, round=round,
                                   condition=condition, seed=None, score=None, base_score=None, n_questions=0,
                                   details={"skipped": reason}, timings={})
        jobs = condition_jobs(condition, tasks, edits_for(condition, run, cfg, domain, tasks, round), cfg.ttt.seeds,
                              round)
        run_jobs(store, executor, domain, jobs, f"round {round} {condition}: inner loops")
        wanted[condition] = {j.key for j in jobs} | {f"r{round}/{condition}/{t_id}/skipped" for t_id in skipped}
        console.log(f"{condition}: {len(jobs)} inner loop(s) done")
    results = {"conditions": {}, "skipped": skipped, "round": round,
               "decoding": {"self_edits": "constrained" if cfg.self_edit.constrained else "free-form",
                            "answers": "grid grammar" if cfg.solve.constrained else "free-form"}}
    for condition in conditions:
        rows = [r for r in store.rows("inner_results", "condition=?", (condition,)) if r["key"] in wanted[condition]]
        used = {r["self_edit_id"] for r in rows}
        edit_rows = [e for e in store.rows("self_edits", "condition=?", (condition,)) if e["id"] in used]
        results["conditions"][condition] = summarize(rows, edit_rows)
    return results


def format_table(results: dict) -> str:
    """The results as a text table: success rate, counts, parse failures and seconds per task per step."""
    head = (f"{'condition':<14} {'success':>8} {'n':>4} {'rejected':>8} {'edit fail':>9} {'parse fail':>10} "
            f"{'gen s':>7} {'data s':>7} {'train s':>8} {'solve s':>8}")
    lines = [head]
    for name, c in results["conditions"].items():
        rate = "-" if c["success_rate"] is None else f"{100 * c['success_rate']:.1f}"
        pf = "-" if c["parse_failure_rate"] is None else f"{100 * c['parse_failure_rate']:.0f}%"
        ef = "-" if c.get("edit_parse_failure_rate") is None else f"{100 * c['edit_parse_failure_rate']:.0f}%"
        t = c["seconds_per_task"]
        lines.append(f"{name:<14} {rate:>8} {c['n']:>4} {c['n_rejected']:>8} {ef:>9} {pf:>10} {t['generate_s']:>7.1f} "
                     f"{t['ttt_data_s']:>7.1f} {t['train_s']:>8.1f} {t['solve_s']:>8.1f}")
    lines.append(f"success in % over (task, self-edit) configurations, pass@2; {results['n_tasks']} task(s), "
                 f"{len(results['skipped'])} skipped; times are seconds per task")
    if "decoding" in results:  # runs recorded before the option existed have no such entry
        d = results["decoding"]
        lines.append(f"edit fail: self-edits that do not parse ({d['self_edits']}); parse fail: answers that are no "
                     f"grid ({d['answers']})")
    return "\n".join(lines)
