"""`seal knowledge eval`: the paper's single-passage table (Table 2 of arXiv 2506.10943) for any model.

    seal knowledge eval --config configs/knowledge/demo.yaml
    seal knowledge eval --set data.source=../shared/data/seal-self-edits/gpt4_1_val.json --set data.n=20 \
        --set eval.conditions=[base,passage,external] \
        --set eval.external_file=../shared/data/seal-self-edits/gpt4_1_val.json

Conditions: `base` (no training), `passage` (train on the passage alone), `self-edit` (passage plus the model's own
self-edits), `external` (passage plus self-edits read from a file in SEAL's layout), `checkpoint` (passage plus
self-edits written by another model, e.g. a trained round). Each (passage, self-edit, seed) inner loop is one row in
the run's store as soon as it finishes; rerunning with `--resume RUN_DIR` skips what is done. Accuracy per condition
is the mean over every graded answer; its 95% interval treats passages as the unit (normal approximation over
per-passage means; Wilson over answers for a single passage).
"""

from __future__ import annotations

import gc
import json
import math
import time
from typing import Iterator

from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage, load_passages, select_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.quiz import Grader
from seal.domains.knowledge.selfedit import load_external_self_edits, sample_self_edits
from seal.errors import ConfigError, DataError
from seal.progress import console, progress_bar
from seal.store.runs import Run

CONDITIONS = ("base", "passage", "self-edit", "external", "checkpoint")


# ----------------------------------------------------------------------------------------------------------------------
# Set-up helpers


def choose_passages(cfg: KnowledgeConfig) -> list[Passage]:
    passages = select_passages(load_passages(cfg.data.source), cfg.data.n or None, cfg.data.seed,
                               offset=cfg.data.offset)
    if not passages:
        raise DataError(f"{cfg.data.source}: no passages selected (n={cfg.data.n}, offset={cfg.data.offset})")
    return passages


def make_grader(cfg: KnowledgeConfig, model=None, tokenizer=None) -> Grader:
    if cfg.quiz.metric != "judge":
        return Grader(cfg.quiz.metric)
    from seal.grading.judge import make_judge

    judge = make_judge(cfg.quiz.judge, local_model=model, local_tokenizer=tokenizer)
    if hasattr(judge, "check_reachable"):
        judge.check_reachable()
    return Grader("judge", judge)


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(rows: list[dict], metric: str) -> dict:
    """Mean accuracy and 95% interval over the inner-loop rows of one condition."""
    per_passage: dict[str, list[float]] = {}
    for row in rows:
        per_passage.setdefault(row["context_id"], []).extend(
            s for s in row["details"]["scores"] if s is not None)
    answers = [s for scores in per_passage.values() for s in scores]
    if not answers:
        return {"accuracy": None, "ci95": [None, None], "n_questions": 0, "metric": metric}
    acc = sum(answers) / len(answers)
    means = [sum(v) / len(v) for v in per_passage.values() if v]
    if len(means) >= 2:
        sd = math.sqrt(sum((m - sum(means) / len(means)) ** 2 for m in means) / (len(means) - 1))
        half = 1.96 * sd / math.sqrt(len(means))
        ci = [max(0.0, acc - half), min(1.0, acc + half)]
    else:
        ci = list(wilson(sum(answers), len(answers)))
    n_questions = sum(row["n_questions"] for row in {r["context_id"]: r for r in rows}.values())
    return {"accuracy": acc, "ci95": ci, "n_questions": n_questions, "metric": metric,
            "n_inner_loops": len(rows), "n_passages": len(per_passage)}


# ----------------------------------------------------------------------------------------------------------------------
# Self-edits per condition


def edits_for(condition: str, run: Run, cfg: KnowledgeConfig, domain: KnowledgeDomain, passages: list[Passage],
              model, tokenizer) -> dict[str, list[tuple[int, str | None]]]:
    """(self-edit row id, text) per passage for `condition`; generated edits are stored before they are used."""
    store = run.store
    if condition == "passage":
        return {p.id: [(None, None)] for p in passages}
    if condition == "external":
        if not cfg.eval.external_file:
            raise ConfigError("eval.external_file: needed by the external condition")
        external = load_external_self_edits(cfg.eval.external_file)
        missing = [p.id for p in passages if p.id not in external]
        if missing:
            raise DataError(f"{cfg.eval.external_file}: no self-edits for {len(missing)} selected passage(s), "
                            f"e.g. {missing[0]}; use the same file as data.source")
        out = {}
        for p in passages:
            out[p.id] = [(store.add_self_edit(key=f"external/{p.id}/{i}", context_id=p.id, round=0,
                                              condition="external", text=t, sampling={"source": cfg.eval.external_file},
                                              family=cfg.self_edit.family), t)
                         for i, t in enumerate(external[p.id][:cfg.self_edit.k])]
        return out
    # self-edit (current model) or checkpoint (another model): sample what is not stored yet
    todo = [p for p in passages if not store.has("self_edits", f"{condition}/{p.id}/{cfg.self_edit.k - 1}")]
    if todo:
        if condition == "checkpoint":
            if not cfg.eval.checkpoint:
                raise ConfigError("eval.checkpoint: needed by the checkpoint condition")
            from seal.models import load

            gen_model, gen_tok = load(cfg.eval.checkpoint, cfg.model.dtype, cfg.model.device,
                                      cfg.model.trust_remote_code)
        else:
            gen_model, gen_tok = None, tokenizer
        with progress_bar() as bar:
            task = bar.add_task(f"{condition}: sampling self-edits", total=len(todo))
            for p in todo:
                t0 = time.perf_counter()
                if gen_model is not None:
                    edits = sample_self_edits(gen_model, gen_tok, [p], cfg.self_edit, cfg.run.seed)[0]
                else:
                    with domain.adapter.base() as base_model:
                        edits = sample_self_edits(base_model, gen_tok, [p], cfg.self_edit, cfg.run.seed)[0]
                seconds = (time.perf_counter() - t0) / max(1, len(edits))
                for e in edits:
                    store.add_self_edit(key=f"{condition}/{p.id}/{e.index}", context_id=p.id, round=0,
                                        condition=condition, text=e.text, family=e.family, prompt=e.prompt,
                                        sampling=e.sampling | {"generation_s": seconds}, seed=e.seed)
                bar.advance(task)
        if gen_model is not None:
            del gen_model
            gc.collect()
    return {p.id: [(r["id"], r["text"]) for r in store.rows("self_edits", "condition=? AND context_id=?",
                                                            (condition, p.id))][:cfg.self_edit.k]
            for p in passages}


def inner_jobs(condition: str, passages: list[Passage], edits: dict, seeds: int) -> Iterator[tuple]:
    for p in passages:
        for index, (edit_id, text) in enumerate(edits[p.id]):
            for seed in range(seeds):
                yield f"{condition}/{p.id}/{index}/s{seed}", p, edit_id, text, seed


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_eval(run: Run, cfg: KnowledgeConfig) -> dict:
    """Fill the run's store with every condition's inner loops and return the results table (also results.json)."""
    from seal.models import fingerprint, load
    from seal.models.load import set_threads

    unknown = [c for c in cfg.eval.conditions if c not in CONDITIONS]
    if unknown:
        raise ConfigError(f"eval.conditions: unknown condition {unknown[0]!r} (known: {', '.join(CONDITIONS)})")
    set_threads(cfg.model.threads)
    passages = choose_passages(cfg)
    model, tokenizer = load(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code,
                            seed=cfg.run.seed)
    run.update_manifest(data_ids=[p.id for p in passages], seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))},
                        model_fingerprint=fingerprint(model))
    for p in passages:
        run.store.put_context(p.id, "knowledge", p.to_dict())
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg, model, tokenizer))
    store = run.store
    metric = "loglik" if cfg.reward.kind == "loglik" else cfg.quiz.metric

    for condition in cfg.eval.conditions:
        if condition == "base":
            jobs = [(f"base/{p.id}", p, None, None, None) for p in passages]
        else:
            edits = edits_for(condition, run, cfg, domain, passages, model, tokenizer)
            jobs = list(inner_jobs(condition, passages, edits, cfg.inner.seeds))
        todo = [j for j in jobs if not store.has("inner_results", j[0])]
        with progress_bar() as bar:
            task = bar.add_task(f"{condition}: inner loops", total=len(jobs), completed=len(jobs) - len(todo))
            for key, p, edit_id, text, seed in todo:
                if condition == "base":
                    base = domain.base_result(p)
                    store.add_inner_result(key=key, context_id=p.id, round=0, condition="base", seed=None,
                                           score=base.accuracy, base_score=base.accuracy,
                                           n_questions=len(p.questions), timings={},
                                           details={"predictions": base.predictions, "scores": base.scores})
                else:
                    out = domain.inner_loop(p, text, cfg.self_edit.family, seed)
                    store.add_inner_result(
                        key=key, self_edit_id=edit_id, context_id=p.id, round=0, condition=condition, seed=seed,
                        score=out.score, base_score=out.base_score, n_questions=len(p.questions),
                        details={"predictions": out.result.predictions, "scores": out.result.scores,
                                 "n_documents": out.n_documents, "train": out.train},
                        timings=out.timings)
                bar.advance(task)
        console.log(f"{condition}: {len(jobs)} inner loop(s) done")

    results = {"conditions": {}, "model": cfg.model.name, "n_passages": len(passages),
               "judge_errors": len(domain.grader.errors)}
    for condition in cfg.eval.conditions:
        rows = store.rows("inner_results", "condition=?", (condition,))
        summary = summarize(rows, metric)
        summary["seconds_per_inner_loop"] = timing_summary(rows)
        results["conditions"][condition] = summary
    (run.dir / "results.json").write_text(json.dumps(results, indent=2))
    store.add_evaluation(key=f"eval/{time.time()}", condition="all", payload=results)
    return results


def timing_summary(rows: list[dict]) -> dict:
    timed = [r["timings"] for r in rows if r["timings"]]
    if not timed:
        return {}
    return {k: sum(t.get(k, 0.0) for t in timed) / len(timed) for k in ("train_s", "quiz_s")}


def format_table(results: dict) -> str:
    lines = [f"{'condition':<12} {'accuracy':>9} {'95% CI':>15} {'questions':>9} {'loops':>6} {'train s':>8} {'quiz s':>7}"]
    for name, c in results["conditions"].items():
        acc = "-" if c["accuracy"] is None else f"{100 * c['accuracy']:.1f}"
        ci = "-" if c["ci95"][0] is None else f"[{100 * c['ci95'][0]:.1f}, {100 * c['ci95'][1]:.1f}]"
        t = c.get("seconds_per_inner_loop", {})
        lines.append(f"{name:<12} {acc:>9} {ci:>15} {c['n_questions']:>9} {c.get('n_inner_loops', 0):>6} "
                     f"{t.get('train_s', 0):>8.1f} {t.get('quiz_s', 0):>7.1f}")
    metric = next(iter(results["conditions"].values()))["metric"] if results["conditions"] else ""
    lines.append(f"metric: {metric}; accuracy in %, mean over every graded answer; times are per inner loop")
    return "\n".join(lines)
