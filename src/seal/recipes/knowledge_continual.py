"""`seal knowledge continual`: sequential self-edits and the forgetting matrix (paper Section 5, Figure 6).

    seal knowledge continual --set continual.sequence_length=8 --set continual.sequences=64
    seal knowledge continual --set continual.mitigations=[none,replay,kl]     # the comparison, same sequences
    seal knowledge continual --resume runs/<dir>                             # finished sequences are skipped

Passages arrive one at a time. For each, the current model (every earlier update kept) writes one self-edit (with
`self_edit`'s temperature, top_p and length; `self_edit.k` is not used); a fresh LoRA trains on it (the inner loop's
settings: paper r 32, alpha 64, 10 epochs; lr the mode's default) and is folded into the weights before the next
passage; then the model answers the questions of every passage seen so far. A sequence is
`continual.sequence_length` passages drawn without replacement from the selected passages (`data.*`); sequences are
drawn independently from `continual.seed`, so the same seed gives the same sequences for every mitigation, and each
sequence starts from the original weights, restored from an in-memory copy.

Mitigations (`continual.mitigations`, each run on every sequence, in the same run):
    none    the paper's setting;
    replay  each update also trains on documents of earlier passages in the sequence (their passage and self-edit
            lines), `replay_fraction` x the new self-edit's documents, drawn at random;
    kl      learning without forgetting (Li and Hoiem 2016): each optimizer step adds `kl_weight` x KL(previous model
            || current model) on one replayed document; the previous model is the current weights with the new LoRA
            switched off, so it costs one extra forward pass and no copy. Replay and kl use the same documents.

Outputs: `forgetting.json` (per mitigation: the (K+1) x K matrix of mean accuracy, row 0 the pre-edit baseline and
row k after k edits, its standard deviations and standard errors across sequences; retention, forgetting and damage
per passage position; paired differences against `none`; `knowledge`: per mitigation, the own-edit - baseline
and final - baseline differences of accuracy and of the gold answers' mean log-likelihood, paired per question,
averaged over sequences, t interval over passages), `forgetting.png` (one heatmap per mitigation). The store
has one `inner_results` row per (mitigation, sequence, step, passage) and one evaluation per finished sequence.
Departures from SEAL's continual_self_edits.py: the LoRA is folded into the weights in memory instead of merged,
saved and reloaded through vLLM (bf16 weights keep it beside them as fp32 factors, where SEAL's bf16 merge rounds
part of each update away: `inner.lora.fold_lora`); resume redoes an unfinished sequence from its start.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import Grader, accuracy, answer_loglik, answer_quiz
from seal.errors import DataError
from seal.inner.lora import base_weights, fold_lora, reset_lora, restore_base_weights
from seal.inner.train import Example, collate, tokenize_documents, train_lora
from seal.outer.sample import stable_seed
from seal.progress import console
from seal.reports.stats import format_difference, paired_rows
from seal.store.runs import Run

# ----------------------------------------------------------------------------------------------------------------------
# Sequences and the matrix (pure functions)


def draw_sequences(ids: list[str], length: int, count: int, seed: int) -> list[list[str]]:
    """`count` sequences of `length` distinct ids; sequence s depends only on (seed, s), so adding sequences or
    mitigations never changes the earlier ones.

    >>> draw_sequences(["a", "b", "c"], 2, 2, 0) == draw_sequences(["a", "b", "c"], 2, 3, 0)[:2]
    True
    """
    if length > len(ids):
        raise DataError(f"continual.sequence_length={length}, but only {len(ids)} passages are selected")
    return [random.Random(stable_seed(seed, "sequence", s)).sample(list(ids), length) for s in range(count)]


def _stats(values: list[float]) -> dict:
    n = len(values)
    if n == 0:
        return {"mean": None, "sd": None, "se": None, "n": 0}
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "sd": sd, "se": sd / math.sqrt(n), "n": n}


def assemble_matrix(orders: dict[int, list[str]], cells: list[tuple[int, int, str, float]],
                    baseline: dict[str, float]) -> dict:
    """The forgetting matrix from per-sequence quiz results.

    Args:
        orders: sequence -> passage ids in the order they arrived.
        cells: (sequence, step, passage id, accuracy) with step 1..K = after that many edits.
        baseline: passage id -> accuracy of the unedited model.

    Returns:
        `mean`, `sd`, `se`, `n`: (K+1) x K lists, row 0 the baseline, row k after k edits, column j the j-th passage
        of each sequence (None where undefined: column j >= k in row k); `retention` per column (accuracy after the
        last edit / accuracy right after the passage's own edit, ratio of means), `forgetting` (own-edit minus final
        accuracy), `final_minus_baseline` and `damage` (max(0, baseline - final)), each mean/sd/se over sequences,
        `below_baseline` (fraction of sequences whose final accuracy is under the baseline), and `summary` scalars.
    """
    k_max = max(len(o) for o in orders.values()) if orders else 0
    acc: dict[tuple[int, int, int], float] = {}
    for seq, step, pid, value in cells:
        acc[(seq, step, orders[seq].index(pid))] = value
    for seq, order in orders.items():
        for j, pid in enumerate(order):
            if pid in baseline:
                acc[(seq, 0, j)] = baseline[pid]
    full = [s for s, o in orders.items() if len(o) == k_max and all((s, k_max, j) in acc for j in range(k_max))]
    grid = [[_stats([acc[(s, r, j)] for s in orders if (s, r, j) in acc]) if (r == 0 or j < r) else None
             for j in range(k_max)] for r in range(k_max + 1)]
    out = {key: [[None if c is None else c[key] for c in row] for row in grid] for key in ("mean", "sd", "se", "n")}
    out |= {"sequences": len(orders), "complete_sequences": len(full), "length": k_max, "retention": [],
            "forgetting": [], "final_minus_baseline": [], "damage": [], "below_baseline": []}
    for j in range(k_max):
        own = [acc[(s, j + 1, j)] for s in full]
        final = [acc[(s, k_max, j)] for s in full]
        base = [acc.get((s, 0, j)) for s in full]
        own_mean, final_mean = _stats(own)["mean"], _stats(final)["mean"]
        out["retention"].append(None if not own_mean else final_mean / own_mean)
        out["forgetting"].append(_stats([o - f for o, f in zip(own, final)]))
        pairs = [(b, f) for b, f in zip(base, final) if b is not None]
        out["final_minus_baseline"].append(_stats([f - b for b, f in pairs]))
        out["damage"].append(_stats([max(0.0, b - f) for b, f in pairs]))
        out["below_baseline"].append(sum(f < b for b, f in pairs) / len(pairs) if pairs else None)
    out["summary"] = summarize_matrix(out, acc, full, k_max)
    return out


def summarize_matrix(out: dict, acc: dict, full: list[int], k_max: int) -> dict:
    """Scalars over passages: final accuracy, accuracy right after each passage's own edit, baseline, and forgetting
    and retention over the passages that saw later edits (all but the last)."""
    per_seq = lambda f: _stats([sum(f(s, j) for j in range(k_max)) / k_max for s in full])  # noqa: E731
    earlier = range(k_max - 1)
    own = [v for v in (_stats([acc[(s, j + 1, j)] for s in full])["mean"] for j in earlier) if v is not None]
    final = [v for v in (_stats([acc[(s, k_max, j)] for s in full])["mean"] for j in earlier) if v is not None]
    has_base = all((s, 0, j) in acc for s in full for j in range(k_max))
    return {
        "final_accuracy": per_seq(lambda s, j: acc[(s, k_max, j)]) if full else _stats([]),
        "own_edit_accuracy": per_seq(lambda s, j: acc[(s, j + 1, j)]) if full else _stats([]),
        "baseline_accuracy": per_seq(lambda s, j: acc[(s, 0, j)]) if full and has_base else _stats([]),
        "forgetting": _stats([sum(acc[(s, j + 1, j)] - acc[(s, k_max, j)] for j in earlier) / len(earlier)
                              for s in full]) if full and k_max > 1 else _stats([]),
        "retention": (sum(final) / sum(own)) if own and sum(own) > 0 else None,
    }


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """Mean and standard error of a - b over the sequences both have (a mitigation against `none`)."""
    return _stats([a[s] - b[s] for s in sorted(set(a) & set(b))])


# ----------------------------------------------------------------------------------------------------------------------
# One update: replay documents and the KL penalty


def replay_documents(history: list[str], n_new: int, fraction: float, seed: int) -> list[str]:
    """Documents of earlier passages to mix into an update: round(fraction x n_new), at least 1, at most all."""
    if not history or fraction <= 0:
        return []
    n = min(len(history), max(1, round(fraction * n_new)))
    return random.Random(seed).sample(history, n)


def kl_penalty(examples: list[Example], weight: float, pad_id: int, seed: int):
    """`regularizer(model)` for `train_lora`: weight x KL(previous || current) per token, on one replayed document per
    optimizer step; the previous model is the current one with its (new) LoRA switched off."""
    rng = random.Random(seed)

    def penalty(model) -> torch.Tensor:
        device = next(model.parameters()).device
        batch = collate([rng.choice(examples)], pad_id, device)
        with torch.no_grad(), model.disable_adapter():
            ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        cur = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        mask = batch["attention_mask"].bool()  # (1, T)
        kl = F.kl_div(cur[mask].log_softmax(-1), ref[mask].log_softmax(-1), log_target=True, reduction="sum")
        return weight * kl / mask.sum()

    return penalty


# ----------------------------------------------------------------------------------------------------------------------
# One sequence


@dataclass
class Context:
    """What every sequence shares: the model with its LoRA, the saved base weights, and the run's settings."""

    run: Run
    cfg: KnowledgeConfig
    model: object  # PEFT model (LoRA of cfg.inner.lora attached)
    tokenizer: object
    grader: Grader
    saved: dict  # base weights under the LoRA layers, on CPU
    passages: dict[str, Passage]
    families: dict[str, str]


def quiz(ctx: Context, passages: list[Passage]) -> list[tuple[list[str], list[float | None], list[float]]]:
    """Per passage: the answers, their scores and each gold answer's log-likelihood under the current weights."""
    answers = answer_quiz(ctx.model, ctx.tokenizer, passages, ctx.cfg.quiz)
    return [(a, ctx.grader(p, a), answer_loglik(ctx.model, ctx.tokenizer, p, ctx.cfg.quiz.style))
            for p, a in zip(passages, answers)]


def baselines(ctx: Context, ids: list[str]) -> dict[str, float]:
    """Pre-edit accuracy per passage (the original weights), stored once per passage and reused by every sequence."""
    store = ctx.run.store
    todo = [pid for pid in ids if not store.has("inner_results", f"continual/base/{pid}")]
    if todo:
        t0 = time.perf_counter()
        with ctx.model.disable_adapter():
            results = quiz(ctx, [ctx.passages[pid] for pid in todo])
        seconds = (time.perf_counter() - t0) / len(todo)
        for pid, (preds, scores, logliks) in zip(todo, results):
            store.add_inner_result(key=f"continual/base/{pid}", context_id=pid, round=0, condition="continual/base",
                                   seed=None, score=accuracy(scores), base_score=accuracy(scores),
                                   n_questions=len(scores),
                                   details={"predictions": preds, "scores": scores, "logliks": logliks},
                                   timings={"quiz_s": seconds})
    return {pid: store.get("inner_results", f"continual/base/{pid}")["score"] for pid in ids}


def self_edit(ctx: Context, passage: Passage, seed: int) -> tuple[str, str, float]:
    """One self-edit from the current weights (the LoRA is zero between updates): (prompt, text, seconds)."""
    from seal.domains.knowledge.selfedit import render_prompt
    from seal.models.generate import HFGenerator

    se = ctx.cfg.self_edit
    prompt = render_prompt(ctx.tokenizer, se, passage, ctx.families)
    t0 = time.perf_counter()
    with ctx.model.disable_adapter():
        text = HFGenerator(ctx.model, ctx.tokenizer, 1).generate(
            [prompt], max_new_tokens=se.max_new_tokens, temperature=se.temperature, top_p=se.top_p, seed=seed)[0]
    return prompt, text, time.perf_counter() - t0


def run_sequence(ctx: Context, s: int, order: list[str], mitigation: str, base: dict[str, float]) -> dict:
    """Edit the passages of `order` one by one from the original weights; returns the sequence's record. `base` is
    the pre-edit accuracy per passage: a self-edit's reward is its passage's accuracy right after its update minus
    that (SEAL's reward), stored on the passage's own row."""
    cfg, store, c = ctx.cfg, ctx.run.store, ctx.cfg.continual
    restore_base_weights(ctx.model, ctx.saved)
    reset_lora(ctx.model, 0)
    tag = f"continual/{mitigation}/q{s}"
    history: list[str] = []
    cells, seconds = [], {"sample": 0.0, "train": 0.0, "quiz": 0.0}
    for k, pid in enumerate(order, 1):
        passage = ctx.passages[pid]
        seed = stable_seed(cfg.run.seed, "continual", s, k)  # the same for every mitigation: paired comparisons
        prompt, text, sample_s = self_edit(ctx, passage, seed)
        edit_id = store.add_self_edit(key=f"{tag}/e{k}", context_id=pid, round=k, condition=f"continual/{mitigation}",
                                      text=text, family=cfg.self_edit.family, prompt=prompt, seed=seed,
                                      sampling={"temperature": cfg.self_edit.temperature, "top_p": cfg.self_edit.top_p,
                                                "max_new_tokens": cfg.self_edit.max_new_tokens,
                                                "generation_s": sample_s, "sequence": s, "step": k})
        docs = to_documents(passage, text)
        replay = replay_documents(history, len(docs), c.replay_fraction, stable_seed(cfg.run.seed, "replay", s, k)) \
            if mitigation != "none" else []
        train_docs = docs + replay if mitigation == "replay" else docs
        examples = tokenize_documents(ctx.tokenizer, train_docs, cfg.inner.max_doc_tokens, cfg.inner.append_eos)
        regularizer = None
        if mitigation == "kl" and replay:
            regularizer = kl_penalty(tokenize_documents(ctx.tokenizer, replay, cfg.inner.max_doc_tokens,
                                                        cfg.inner.append_eos),
                                     c.kl_weight, ctx.tokenizer.pad_token_id, seed)
        reset_lora(ctx.model, seed)
        stats = train_lora(ctx.model, examples, cfg.inner, seed, ctx.tokenizer.pad_token_id, regularizer=regularizer)
        fold_lora(ctx.model, seed)  # keep the update: the next passage starts from these weights
        history += docs
        t0 = time.perf_counter()
        seen = [ctx.passages[q] for q in order[:k]]
        results = quiz(ctx, seen)
        quiz_s = time.perf_counter() - t0
        seconds = {"sample": seconds["sample"] + sample_s, "train": seconds["train"] + stats.seconds,
                   "quiz": seconds["quiz"] + quiz_s}
        for j, (p, (preds, scores, logliks)) in enumerate(zip(seen, results)):
            acc = accuracy(scores)
            cells.append((s, k, p.id, acc))
            # the step's times once, on the new passage's row (sampling time is on the self-edit row)
            timings = {"train_s": stats.seconds, "quiz_s": quiz_s} if j == k - 1 else {}
            store.add_inner_result(
                key=f"{tag}/e{k}/{p.id}", context_id=p.id, round=k, condition=f"continual/{mitigation}", seed=seed,
                score=acc, base_score=base.get(p.id) if j == k - 1 else None, n_questions=len(scores),
                self_edit_id=edit_id if j == k - 1 else None,  # own row: reward = gain over the pre-edit baseline
                details={"sequence": s, "step": k, "position": j, "mitigation": mitigation, "predictions": preds,
                         "scores": scores, "logliks": logliks,
                         "train": {"steps": stats.steps, "n_documents": len(train_docs), "replayed": len(replay),
                                   "final_loss": stats.losses[-1],
                                   "kl": stats.penalties[-1] if stats.penalties else None}},
                timings=timings)
        console.log(f"{mitigation} sequence {s} step {k}/{len(order)}: accuracy on seen passages "
                    + " ".join(f"{100 * (a or 0):.0f}" for _, _, _, a in cells[-k:]))
    return {"sequence": s, "mitigation": mitigation, "passages": order, "cells": cells, "seconds": seconds}


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_continual(run: Run, cfg: KnowledgeConfig) -> dict:
    """`seal knowledge continual`: run (or resume) every sequence under every mitigation; writes forgetting.json and
    forgetting.png and returns the forgetting record."""
    from seal.domains.knowledge.prompts import load_families
    from seal.inner.lora import attach_lora
    from seal.models import fingerprint, load
    from seal.models.load import set_threads
    from seal.recipes.knowledge_eval import check_config, choose_passages, make_grader

    set_threads(cfg.model.threads)
    check_config(cfg, served=False)
    c = cfg.continual
    passages = {p.id: p for p in choose_passages(cfg)}
    orders = draw_sequences(list(passages), c.sequence_length, c.sequences, c.seed)
    model, tokenizer = load(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code,
                            seed=cfg.run.seed)
    run.update_manifest(data_ids=list(passages), model_fingerprint=fingerprint(model), sequences=orders,
                        seeds={"run": cfg.run.seed, "sequences": c.seed})
    for p in passages.values():
        run.store.put_context(p.id, "knowledge", p.to_dict())
    peft_model = attach_lora(model, cfg.inner.lora)
    ctx = Context(run, cfg, peft_model.eval(), tokenizer, make_grader(cfg, model, tokenizer), base_weights(peft_model),
                  passages, load_families(cfg.self_edit.families_file))
    for s, order in enumerate(orders):
        restore_base_weights(peft_model, ctx.saved)  # the baseline is the original model's
        base = baselines(ctx, order)
        for mitigation in c.mitigations:
            key = f"continual/{mitigation}/q{s}"
            if run.store.has("evaluations", key):
                continue
            record = run_sequence(ctx, s, order, mitigation, base) | {"baseline": base}
            run.store.add_evaluation(key=key, round=s, condition=f"continual/{mitigation}", payload=record)
    restore_base_weights(peft_model, ctx.saved)
    result = build_forgetting(run)
    write_forgetting(run.dir, result)
    return result


def build_forgetting(run: Run) -> dict:
    """The forgetting record from the finished sequences in the store (works on an interrupted run too)."""
    records: dict[str, list[dict]] = {}
    for e in run.store.rows("evaluations"):
        if e["condition"].startswith("continual/"):
            records.setdefault(e["payload"]["mitigation"], []).append(e["payload"])
    cfg = run.manifest.get("config", {})
    out = {"model": cfg.get("model", {}).get("name"), "metric": cfg.get("quiz", {}).get("metric"),
           "mitigations": {}, "paired_vs_none": {}}
    finals: dict[str, dict[int, float]] = {}
    for mitigation, recs in records.items():
        orders = {r["sequence"]: r["passages"] for r in recs}
        cells = [tuple(cell) for r in recs for cell in r["cells"] if cell[3] is not None]
        baseline = {pid: v for r in recs for pid, v in r["baseline"].items() if v is not None}
        matrix = assemble_matrix(orders, cells, baseline)
        matrix["seconds"] = {k: sum(r["seconds"][k] for r in recs) for k in ("sample", "train", "quiz")}
        out["mitigations"][mitigation] = matrix
        finals[mitigation] = {r["sequence"]: _final_mean(r) for r in recs}
    for mitigation in finals:
        if mitigation != "none" and "none" in finals:
            out["paired_vs_none"][mitigation] = paired_difference(finals[mitigation], finals["none"])
    out["knowledge"] = knowledge_differences(run, {m: {r["sequence"] for r in recs} for m, recs in records.items()})
    return out


def knowledge_differences(run: Run, finished: dict[str, set[int]]) -> dict[str, dict]:
    """Per mitigation, `own edit - baseline` (each passage right after its own edit) and `final - baseline` (after
    the sequence's last edit), for accuracy and the gold answers' log-likelihood: paired per question against the
    unedited model, averaged over the finished sequences, t interval over passages (`paired_rows`)."""
    base = run.store.rows("inner_results", "condition='continual/base'")
    out = {}
    for mitigation, sequences in finished.items():
        rows = [r for r in run.store.rows("inner_results", "condition=?", (f"continual/{mitigation}",))
                if r["details"]["sequence"] in sequences]
        last = {}
        for r in rows:
            last[r["details"]["sequence"]] = max(last.get(r["details"]["sequence"], 0), r["details"]["step"])
        own = [r for r in rows if r["details"]["step"] == r["details"]["position"] + 1]
        final = [r for r in rows if r["details"]["step"] == last[r["details"]["sequence"]]]
        out[mitigation] = {"own edit - baseline": paired_rows(own, base), "final - baseline": paired_rows(final, base)}
    return out


def _final_mean(record: dict) -> float:
    last = max(step for _, step, _, _ in record["cells"])
    values = [a for _, step, _, a in record["cells"] if step == last and a is not None]
    return sum(values) / len(values) if values else 0.0


# ----------------------------------------------------------------------------------------------------------------------
# Output


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def format_forgetting(result: dict) -> str:
    """The matrices (accuracy %, mean +- standard error over sequences) and the summary per mitigation."""
    lines = []
    for mitigation, m in result["mitigations"].items():
        k = m["length"]
        lines.append(f"mitigation {mitigation}: {m['complete_sequences']} complete sequence(s) of {k}, "
                     f"metric {result.get('metric')}; row = after k edits (0 = before any), column = passage position")
        lines.append("      " + "".join(f"{'p' + str(j + 1):>14}" for j in range(k)))
        for r, (row, se) in enumerate(zip(m["mean"], m["se"])):
            cells = "".join(f"{'':>14}" if v is None else f"{_pct(v) + ' +- ' + _pct(e):>14}"
                            for v, e in zip(row, se))
            lines.append(f"{'base' if r == 0 else 'k=' + str(r):<6}{cells}")
        s = m["summary"]
        retention = "-" if s["retention"] is None else f"{s['retention']:.2f}"
        lines.append(f"  final {_pct(s['final_accuracy']['mean'])} (se {_pct(s['final_accuracy']['se'])}); right after "
                     f"own edit {_pct(s['own_edit_accuracy']['mean'])}; "
                     f"baseline {_pct(s['baseline_accuracy']['mean'])}; "
                     f"forgetting {_pct(s['forgetting']['mean'])} points; retention {retention}")
    for mitigation, d in result.get("paired_vs_none", {}).items():
        lines.append(f"{mitigation} - none, final accuracy: {_pct(d['mean'])} +- {_pct(d['se'])} points "
                     f"over {d['n']} paired sequence(s)")
    lines += format_knowledge(result.get("knowledge") or {})
    return "\n".join(lines)


def format_knowledge(knowledge: dict[str, dict]) -> list[str]:
    """`knowledge_differences` as lines: accuracy in points and log-likelihood in nats per token, 95% intervals."""
    lines = []
    for mitigation, diffs in knowledge.items():
        for name, d in diffs.items():
            unit = d["loglik"] if d["loglik"]["mean"] is not None else d["accuracy"]
            lines.append(f"{mitigation}, {name}: accuracy {format_difference(d['accuracy'], 100, 1)} "
                         f"points, loglik {format_difference(d['loglik'])} nats/token ({unit['n_items']} questions, 95% t interval over "
                         f"{unit['n_units']} {unit['unit']})")
    return lines


def write_forgetting(run_dir, result: dict) -> None:
    """forgetting.json and forgetting.png (one heatmap per mitigation, mean accuracy % with its standard error)."""
    from pathlib import Path

    run_dir = Path(run_dir)
    (run_dir / "forgetting.json").write_text(json.dumps(result, indent=2))
    if result["mitigations"]:
        plot_forgetting(result, run_dir / "forgetting.png")


def plot_forgetting(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(result["mitigations"])
    k = max(result["mitigations"][n]["length"] for n in names)
    fig, axes = plt.subplots(1, len(names), figsize=(1.2 + 0.9 * k * len(names), 1.0 + 0.75 * (k + 1)), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], names)):
        m = result["mitigations"][name]
        mean = np.array([[np.nan if v is None else 100 * v for v in row] for row in m["mean"]], dtype=float)
        image = ax.imshow(mean, vmin=0, vmax=100, cmap="viridis")
        for r in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                if not np.isnan(mean[r, j]):
                    se = m["se"][r][j] or 0.0
                    ax.text(j, r, f"{mean[r, j]:.0f}\n±{100 * se:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if mean[r, j] < 60 else "black")
        ax.set_xticks(range(mean.shape[1]), [f"p{j + 1}" for j in range(mean.shape[1])])
        ax.set_yticks(range(mean.shape[0]), ["base"] + [f"after {r}" for r in range(1, mean.shape[0])] if i == 0
                      else [])
        ax.set_xlabel("passage (arrival order)")
        ax.set_title(f"{name}: {m['complete_sequences']} sequence(s)", fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label=f"accuracy % ({result.get('metric')})")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
