"""The forgetting record of `seal knowledge continual` (paper Section 5, Figure 6): the (K+1) x K matrix of mean
accuracy over sequences (row 0 the pre-edit baseline, row k after k edits), retention, forgetting and damage per
passage position, mitigations paired against `none`, and the knowledge differences (accuracy and the gold answers'
log-likelihood, paired per question); as `forgetting.json`, `forgetting.png` and text.
"""

from __future__ import annotations

import math

from seal.jsonfile import write_json
from seal.reports.stats import format_difference, paired_rows


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


def build_forgetting(run) -> dict:
    """The forgetting record from the finished sequences in a `seal.store.runs.Run`'s store (works on an
    interrupted run too)."""
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


def knowledge_differences(run, finished: dict[str, set[int]]) -> dict[str, dict]:
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
    write_json(run_dir / "forgetting.json", result)
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
