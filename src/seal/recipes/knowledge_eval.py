"""`seal knowledge eval`: the paper's single-passage table (Table 2 of arXiv 2506.10943) for any model.

    seal knowledge eval --config configs/knowledge/demo.yaml
    seal knowledge eval --set data.source=../shared/data/seal-self-edits/gpt4_1_val.json --set data.n=20 \
        --set eval.conditions=[base,passage,external] \
        --set eval.external_file=../shared/data/seal-self-edits/gpt4_1_val.json

Conditions: `base` (no training), `passage` (train on the passage alone), `self-edit` (passage plus the model's own
self-edits), `external` (passage plus self-edits read from a file in SEAL's layout), `checkpoint` (passage plus
self-edits written by another model, e.g. a trained round). Each (passage, self-edit, seed) inner loop is one row in
the run's store as soon as it finishes; rerunning with `--resume RUN_DIR` skips what is done.

Each condition reports two measures: accuracy (the mean over every graded answer) and knowledge, the gold answers'
mean log-likelihood (nats per token, the mean over every question's score; scored with the same adapted model in the
same inner loop). Their 95% intervals treat passages as the unit (Student t over per-passage means; for a single
passage, Wilson over answers for accuracy and t over questions for log-likelihood). The paired differences
(passage - base, self-edit - passage, external - passage, checkpoint - passage) are taken per question, each
condition's value averaged over its seeds and self-edits, with a t interval over passages (`seal.reports.stats`).
"""

from __future__ import annotations

import gc
import json

from seal.config import missing_model_dir
from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage, load_passages, select_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader
from seal.domains.knowledge.selfedit import load_external_self_edits, render_prompt
from seal.errors import ConfigError, DataError
from seal.executors import Job, make_executor, run_jobs
from seal.models.generate import make_generator
from seal.models.vllm_backend import require_vllm, vllm_max_lora_rank
from seal.outer.sample import Sampling, sample_and_store, stored_self_edits
from seal.progress import console
from seal.reports.stats import paired_rows, pooled_interval, wilson
from seal.store.runs import Run

# The paired differences each table reports, (a, b) for a - b, when both conditions ran.
DIFFERENCES = (("passage", "base"), ("self-edit", "passage"), ("external", "passage"), ("checkpoint", "passage"))


# ----------------------------------------------------------------------------------------------------------------------
# Set-up helpers


def choose_passages(cfg: KnowledgeConfig) -> list[Passage]:
    """`data.n` passages of `data.source` (all when 0) after the shuffle and `data.offset`.

    Raises:
        DataError: none selected, or fewer than `data.n` (a table of fewer passages than asked for would pass for it).
    """
    passages = select_passages(load_passages(cfg.data.source), cfg.data.n or None, cfg.data.seed,
                               offset=cfg.data.offset)
    if not passages or len(passages) < cfg.data.n:
        raise DataError(f"{cfg.data.source}: {len(passages)} passage(s) selected, data.n={cfg.data.n} asked for "
                        f"(data.offset={cfg.data.offset})")
    return passages


def make_grader(cfg: KnowledgeConfig, model=None, tokenizer=None) -> Grader:
    if cfg.quiz.metric != "judge":
        return Grader(cfg.quiz.metric)
    from seal.grading.judge import make_judge

    judge = make_judge(cfg.quiz.judge, local_model=model, local_tokenizer=tokenizer)
    if hasattr(judge, "check_reachable"):
        judge.check_reachable()
    return Grader("judge", judge)


def judge_failures(rows: list[dict]) -> dict:
    """The LLM judge's unreadable verdicts in inner-loop rows: `judge_errors` of `judge_verdicts` asked, and the first
    error (rows graded without a judge count none)."""
    errors = [e for row in rows for e in row["details"].get("judge_errors", [])]
    failed = [e for e in errors if e is not None]
    return {"judge_errors": len(failed), "judge_verdicts": len(errors),
            "first_judge_error": failed[0] if failed else None}


def empty_answers(rows: list[dict], metric: str) -> dict:
    """How many of the rows' answers are empty after stripping whitespace, and their share (None under the
    log-likelihood measure, which generates no answers): a model trained to end its answer before it begins shows
    here, not only as a low accuracy."""
    if metric == "loglik":
        return {"empty_answers": None, "empty_share": None}
    predictions = [p for row in rows for p in row["details"]["predictions"]]
    empty = sum(1 for p in predictions if not p.strip())
    return {"empty_answers": empty, "empty_share": empty / len(predictions) if predictions else None}


def per_passage(rows: list[dict], field: str) -> dict[str, list[float]]:
    """Every value of `details[field]` (a per-question list: `scores` or `logliks`) by passage; None and rows
    without the field (stored before it existed) are left out."""
    out: dict[str, list[float]] = {}
    for row in rows:
        out.setdefault(row["context_id"], []).extend(v for v in row["details"].get(field) or [] if v is not None)
    return out


def summarize(rows: list[dict], metric: str) -> dict:
    """Accuracy and the gold answers' log-likelihood over the inner-loop rows of one condition, each with its 95%
    interval (passages as the unit, see the module docstring), with their count, the share of empty answers
    (`empty_answers`) and the judge's unreadable verdicts (`judge_failures`). `loglik` is in nats per token."""
    n_questions = sum(row["n_questions"] for row in {r["context_id"]: r for r in rows}.values())
    counts = {"n_questions": n_questions, "metric": metric, "n_inner_loops": len(rows),
              "n_passages": len({row["context_id"] for row in rows})} | judge_failures(rows)
    counts |= empty_answers(rows, metric)
    loglik, loglik_ci = pooled_interval(per_passage(rows, "logliks"))
    counts |= {"loglik": loglik, "loglik_ci95": loglik_ci}
    graded = per_passage(rows, "scores")
    answers = [s for scores in graded.values() for s in scores]
    if not answers:
        return {"accuracy": None, "ci95": [None, None]} | counts
    if sum(1 for v in graded.values() if v) >= 2:
        acc, ci = pooled_interval(graded, bounds=(0.0, 1.0))
    else:
        acc, ci = sum(answers) / len(answers), list(wilson(sum(answers), len(answers)))
    return {"accuracy": acc, "ci95": ci} | counts


def differences(rows: dict[str, list[dict]], pairs=DIFFERENCES) -> dict[str, dict]:
    """The paired differences `a - b` of `pairs` whose conditions both have rows, per measure: {"a - b": {"accuracy":
    paired_difference, "loglik": ...}} (`seal.reports.stats.paired_rows`: per question, t over passages)."""
    return {f"{a} - {b}": paired_rows(rows[a], rows[b]) for a, b in pairs if rows.get(a) and rows.get(b)}


# ----------------------------------------------------------------------------------------------------------------------
# Self-edits per condition


def external_self_edits(cfg: KnowledgeConfig, passages: list[Passage]) -> dict[str, list[str]]:
    """`eval.external_file`'s self-edits by passage id, checked to cover every one of `passages`.

    Raises:
        ConfigError: eval.external_file is not set. DataError: the file is malformed or misses a passage."""
    if not cfg.eval.external_file:
        raise ConfigError("eval.external_file: needed by the external condition")
    external = load_external_self_edits(cfg.eval.external_file)
    missing = [p.id for p in passages if p.id not in external]
    if missing:
        raise DataError(f"{cfg.eval.external_file}: no self-edits for {len(missing)} selected passage(s), "
                        f"e.g. {missing[0]}; use the same file as data.source")
    return external


def external_edits(store, cfg: KnowledgeConfig, passages: list[Passage], round: int) -> dict[str, list]:
    """Self-edits read from `eval.external_file` (SEAL's layout), stored like sampled ones."""
    external = external_self_edits(cfg, passages)
    return {p.id: [(store.add_self_edit(key=f"r{round}/external/{p.id}/{i}", context_id=p.id, round=round,
                                        condition="external", text=t, family=cfg.self_edit.family,
                                        sampling={"source": cfg.eval.external_file}), t)
                    for i, t in enumerate(external[p.id][:cfg.self_edit.k])]
            for p in passages}


def edits_for(condition: str, run: Run, cfg: KnowledgeConfig, domain: KnowledgeDomain, passages: list[Passage],
              round: int) -> dict[str, list[tuple[int | None, str | None]]]:
    """(self-edit row id, text) per passage for `condition`; sampled self-edits are stored before they are used."""
    if condition == "passage":
        return {p.id: [(None, None)] for p in passages}
    if condition == "external":
        return external_edits(run.store, cfg, passages, round)
    sampling = Sampling.of(cfg.self_edit)
    stored = stored_self_edits(run.store, [p.id for p in passages], condition, round, sampling.k)
    if stored is not None:
        return stored
    if condition == "checkpoint":  # self-edits written by another model, e.g. a trained round
        from seal.models import load

        writer, writer_tok = load(cfg.eval.checkpoint, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code)
        prompts = {p.id: render_prompt(writer_tok, cfg.self_edit, p, domain.families) for p in passages}
        generator = make_generator(cfg.generation, writer, writer_tok, cfg.eval.checkpoint, sampling.batch_size,
                                   seed=cfg.run.seed, dtype=cfg.model.dtype)
        edits = sample_and_store(run.store, generator, prompts, condition, round, sampling, cfg.run.seed,
                                 cfg.self_edit.family)
        del writer, generator
        gc.collect()
        return edits
    prompts = {p.id: domain.self_edit_prompt(p) for p in passages}
    with domain.writer() as writer:
        return sample_and_store(run.store, writer, prompts, condition, round, sampling, cfg.run.seed,
                                cfg.self_edit.family)


def condition_jobs(condition: str, passages: list[Passage], edits: dict, seeds: int, round: int) -> list[Job]:
    return [Job(f"r{round}/{condition}/{p.id}/{i}/s{seed}", p, text, seed, condition, round, edit_id)
            for p in passages for i, (edit_id, text) in enumerate(edits[p.id]) for seed in range(seeds)]


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def evaluate_conditions(run: Run, cfg: KnowledgeConfig, domain: KnowledgeDomain, passages: list[Passage],
                        conditions: tuple[str, ...], round: int = 0, metric: str | None = None) -> dict:
    """Run every condition's inner loops on `passages` (skipping finished ones) and summarise them."""
    store = run.store
    for p in passages:
        store.put_context(p.id, "knowledge", p.to_dict())
    executor = make_executor(cfg.executor, domain)
    for condition in conditions:
        if condition == "base":
            for p in passages:
                if not store.has("inner_results", f"r{round}/base/{p.id}"):
                    base = domain.base_result(p)
                    store.add_inner_result(key=f"r{round}/base/{p.id}", context_id=p.id, round=round,
                                           condition="base", seed=None, score=base.score, base_score=base.score,
                                           n_questions=len(p.questions), timings={},
                                           details=base.details())
            continue
        edits = edits_for(condition, run, cfg, domain, passages, round)
        jobs = condition_jobs(condition, passages, edits, cfg.inner.seeds, round)
        run_jobs(store, executor, domain, jobs, f"round {round} {condition}: inner loops")
        console.log(f"{condition}: {len(jobs)} inner loop(s) done")
    executor.close()  # a Ray executor's actors hold model replicas: free them before another model loads
    metric = metric or ("loglik" if cfg.reward.kind == "loglik" else cfg.quiz.metric)
    results = {"conditions": {}, "model": cfg.model.name, "n_passages": len(passages), "round": round,
               "seeds": cfg.inner.seeds}
    ids = {p.id for p in passages}
    rows = {c: [r for r in store.rows("inner_results", "condition=? AND round=?", (c, round)) if r["context_id"] in ids]
            for c in conditions}
    for condition in conditions:
        results["conditions"][condition] = summarize(rows[condition], metric) | {
            "seconds_per_inner_loop": timing_summary(rows[condition])}
    results["differences"] = differences(rows)
    results["judge_errors"] = sum(c["judge_errors"] for c in results["conditions"].values())
    if results["judge_errors"]:
        first = next(c["first_judge_error"] for c in results["conditions"].values() if c["first_judge_error"])
        console.log(f"warning: LLM judge: {results['judge_errors']} of "
                    f"{sum(c['judge_verdicts'] for c in results['conditions'].values())} verdicts unreadable "
                    f"(not graded); first: {first}", markup=False, highlight=False)
    return results


def check_config(cfg: KnowledgeConfig, served: bool = True, passages: list[Passage] = ()) -> None:
    """Fail before loading anything on what the config and its files show to be wrong: the prompt families (every
    template), `eval.external_file` (which must cover `passages`, the passages the command evaluates). `served`: the
    command can use the vLLM backend (eval and train; cpt and continual generate with HF only)."""
    if cfg.generation.backend == "vllm":
        if not served:
            raise ConfigError("generation.backend=vllm is used by knowledge eval and train; this command needs hf")
        if cfg.inner.multi > 1:
            raise ConfigError("generation.backend=vllm serves one LoRA per self-edit; set inner.multi=1")
        vllm_max_lora_rank(cfg.inner.lora.r)  # a rank vLLM cannot serve fails here, before any model loads
        require_vllm()
    families = load_families(cfg.self_edit.families_file)
    if cfg.self_edit.family not in families:
        raise ConfigError(f"unknown prompt family {cfg.self_edit.family!r} (known: {', '.join(families)})")
    if cfg.eval.external_file:
        external_self_edits(cfg, passages)
    if "checkpoint" in cfg.eval.conditions and missing_model_dir(cfg.eval.checkpoint):
        raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")


def prepare(run: Run, cfg: KnowledgeConfig, served: bool = True) -> tuple[list[Passage], object, object]:
    """The start of every passage-table command: threads, passages, config checks, the model, and the manifest's
    data ids and model fingerprint."""
    from seal.models import fingerprint, load
    from seal.models.load import set_threads

    set_threads(cfg.model.threads)
    passages = choose_passages(cfg)
    check_config(cfg, served=served, passages=passages)
    model, tokenizer = load(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code,
                            seed=cfg.run.seed)
    run.update_manifest(data_ids=[p.id for p in passages], model_fingerprint=fingerprint(model))
    return passages, model, tokenizer


def run_eval(run: Run, cfg: KnowledgeConfig) -> dict:
    """`seal knowledge eval`: fill the run's store and return the results table (also written to results.json)."""
    passages, model, tokenizer = prepare(run, cfg)
    run.update_manifest(seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))})
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg, model, tokenizer), source=cfg.model.name)
    with domain.measuring("accuracy" if cfg.reward.kind == "judge" else cfg.reward.kind):  # a judge rates only
        results = evaluate_conditions(run, cfg, domain, passages, cfg.eval.conditions)  # training-time self-edits
    (run.dir / "results.json").write_text(json.dumps(results, indent=2))
    run.store.add_evaluation(key="eval", condition="all", payload=results)
    return results


def timing_summary(rows: list[dict]) -> dict:
    timed = [r["timings"] for r in rows if r["timings"]]
    if not timed:
        return {}
    return {k: sum(t.get(k, 0.0) for t in timed) / len(timed) for k in ("train_s", "quiz_s", "loglik_s")}


def _interval(lo, hi, fmt: str) -> str:
    return "-" if lo is None else f"[{fmt.format(lo)}, {fmt.format(hi)}]"


def format_differences(diffs: dict[str, dict], seeds: int | None = None) -> list[str]:
    """The paired differences as lines: accuracy in points, log-likelihood in nats per token, each with its 95%
    interval, and how many questions and passages (the interval's unit) they pair."""
    if not diffs:
        return []
    lines = [f"{'paired difference':<20} {'accuracy':>9} {'95% CI':>17} {'loglik':>8} {'95% CI':>17} "
             f"{'questions':>9} {'unit':>12}"]
    for name, d in diffs.items():
        acc, ll = d["accuracy"], d["loglik"]
        main = ll if ll["mean"] is not None else acc  # the pairing both measures share, unless only accuracy ran
        acc_mean = "-" if acc["mean"] is None else f"{100 * acc['mean']:+.1f}"
        acc_ci = _interval(*[None if x is None else 100 * x for x in acc["ci95"]], "{:+.1f}")
        ll_mean = "-" if ll["mean"] is None else f"{ll['mean']:+.3f}"
        unit = f"{main['n_units']} {main['unit']}"
        lines.append(f"{name:<20} {acc_mean:>9} {acc_ci:>17} {ll_mean:>8} {_interval(*ll['ci95'], '{:+.3f}'):>17} "
                     f"{main['n_items']:>9} {unit:>12}")
    per = f"averaged over {seeds} seed(s) and the self-edits, " if seeds else ""
    lines.append(f"paired per question ({per}then per passage); 95% Student t interval over the unit; "
                 "accuracy in points, loglik in nats per token")
    return lines


def format_table(results: dict) -> str:
    """The results as printed: per condition accuracy and log-likelihood with their intervals, then the paired
    differences (`format_differences`)."""
    judged = any(c.get("judge_verdicts") for c in results["conditions"].values())  # a column only under a judge
    lines = [f"{'condition':<12} {'accuracy':>9} {'95% CI':>15} {'loglik':>7} {'95% CI':>17} {'empty %':>7} "
             f"{'questions':>9} {'loops':>6} {'train s':>8} {'quiz s':>7}" + (f" {'unread':>9}" if judged else "")]
    for name, c in results["conditions"].items():
        acc = "-" if c["accuracy"] is None else f"{100 * c['accuracy']:.1f}"
        ci = _interval(*[None if x is None else 100 * x for x in c["ci95"]], "{:.1f}")
        loglik = "-" if c.get("loglik") is None else f"{c['loglik']:.3f}"
        ll_ci = _interval(*(c.get("loglik_ci95") or [None, None]), "{:.3f}")
        empty = "-" if c.get("empty_share") is None else f"{100 * c['empty_share']:.1f}"
        t = c.get("seconds_per_inner_loop", {})
        unread = f" {str(c.get('judge_errors', 0)) + '/' + str(c.get('judge_verdicts', 0)):>9}" if judged else ""
        lines.append(f"{name:<12} {acc:>9} {ci:>15} {loglik:>7} {ll_ci:>17} {empty:>7} {c['n_questions']:>9} "
                     f"{c.get('n_inner_loops', 0):>6} {t.get('train_s', 0):>8.1f} {t.get('quiz_s', 0):>7.1f}{unread}")
    metric = next(iter(results["conditions"].values()))["metric"] if results["conditions"] else ""
    lines.append(f"metric: {metric}; accuracy in %, mean over every graded answer; loglik: the gold answers' mean "
                 f"log-likelihood, nats per token; empty %: answers that are empty text; times are per inner loop")
    first = next((c["first_judge_error"] for c in results["conditions"].values() if c.get("first_judge_error")), None)
    if first:
        lines.append(f"unread: LLM judge verdicts that stayed unreadable (not graded) of those asked; first: {first}")
    lines += format_differences(results.get("differences") or {}, results.get("seeds"))
    return "\n".join(lines)
