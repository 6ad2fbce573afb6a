"""The few-shot ARC domain's tables (Table 1 of arXiv 2506.10943) and round curve: the success rate over (task,
self-edit) configurations with its interval over tasks, the self-edits' parse failures, the seconds per task of
each step, and the paired differences per task.
"""

from __future__ import annotations

from collections import Counter

from seal.reports.stats import format_difference, pooled_interval, wilson

ARC_STEPS = ("generate_s", "ttt_data_s", "train_s", "solve_s")  # the seconds per task each ARC table reports


def arc_summary(rows: list[dict], edit_rows: list[dict]) -> dict:
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
    times = {s: 0.0 for s in ARC_STEPS}
    for r in done:
        for s in ARC_STEPS[1:]:
            times[s] += r["timings"].get(s, 0.0)
    for e in edit_rows:
        times["generate_s"] += (e["sampling"] or {}).get("generation_s", 0.0)
    n_tasks = len(per_task)
    lengths = [r["details"]["max_prompt_tokens"] for r in done if r["details"].get("max_prompt_tokens")]
    return {
        "success_rate": sum(r["reward"] for r in done) / len(done) if done else None,
        # t interval over tasks (each task's configurations averaged first: they share the task), clipped to [0, 1]
        "ci95": pooled_interval(per_task, bounds=(0.0, 1.0))[1],
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


ARC_PAIRS = (("ttt-untrained", "icl"), ("seal", "ttt-untrained"), ("oracle", "icl"))  # Table 1's comparisons


def arc_differences(conditions: dict[str, dict], pairs=ARC_PAIRS) -> dict[str, dict]:
    """Per pair (a, b) of `conditions` both present: a - b of the per-task success rates, paired on the tasks both
    attempted, mean with a t interval over tasks clipped to [-1, 1] ({mean, ci95: [low, high], n_tasks}; bounds None
    under 2 tasks).

    >>> c = {"icl": {"per_task": {"t1": [0.0], "t2": [0.0]}}, "oracle": {"per_task": {"t1": [1.0], "t2": [0.5, 1.0]}}}
    >>> arc_differences(c)["oracle - icl"]["mean"]
    0.875
    """
    out = {}
    for a, b in pairs:
        if a in conditions and b in conditions:
            ta, tb = conditions[a]["per_task"], conditions[b]["per_task"]
            diffs = {t: [sum(ta[t]) / len(ta[t]) - sum(tb[t]) / len(tb[t])] for t in ta if t in tb and ta[t] and tb[t]}
            mean, ci = pooled_interval(diffs, bounds=(-1.0, 1.0))  # a difference of two success rates
            out[f"{a} - {b}"] = {"mean": mean, "ci95": ci, "n_tasks": len(diffs)}
    return out


def arc_table(results: dict) -> str:
    """The results as a text table: success rate with its 95% interval over tasks, counts, parse failures and seconds
    per task per step; then the paired differences per task when `results` has them."""
    head = (f"{'condition':<14} {'success':>8} {'95% CI':>14} {'n':>4} {'rejected':>8} {'edit fail':>9} "
            f"{'parse fail':>10} {'gen s':>7} {'data s':>7} {'train s':>8} {'solve s':>8}")
    lines = [head]
    for name, c in results["conditions"].items():
        rate = "-" if c["success_rate"] is None else f"{100 * c['success_rate']:.1f}"
        lo, hi = c.get("ci95") or (None, None)  # runs recorded before the interval existed have none
        ci = "-" if lo is None else f"[{100 * lo:.1f}, {100 * hi:.1f}]"
        pf = "-" if c["parse_failure_rate"] is None else f"{100 * c['parse_failure_rate']:.0f}%"
        ef = "-" if c.get("edit_parse_failure_rate") is None else f"{100 * c['edit_parse_failure_rate']:.0f}%"
        t = c["seconds_per_task"]
        lines.append(f"{name:<14} {rate:>8} {ci:>14} {c['n']:>4} {c['n_rejected']:>8} {ef:>9} {pf:>10} "
                     f"{t['generate_s']:>7.1f} {t['ttt_data_s']:>7.1f} {t['train_s']:>8.1f} {t['solve_s']:>8.1f}")
    lines.append(f"success in % over (task, self-edit) configurations, pass@2, 95% t interval over tasks; "
                 f"{results['n_tasks']} task(s), {len(results['skipped'])} skipped; times are seconds per task")
    for name, d in (results.get("differences") or {}).items():
        lines.append(f"paired per task: {name} {format_difference(d, 100, 1)} points over {d['n_tasks']} task(s)")
    if "decoding" in results:  # runs recorded before the option existed have no such entry
        d = results["decoding"]
        lines.append(f"edit fail: self-edits that do not parse ({d['self_edits']}); parse fail: answers that are no "
                     f"grid ({d['answers']})")
    return "\n".join(lines)


def arc_curve(run) -> dict:
    """Success rate of the model's own self-edits per round, with icl and oracle as reference lines, from a
    `seal.store.runs.Run` of `seal arc train`."""
    evaluations = {e["round"]: e["payload"] for e in run.store.rows("evaluations") if e["condition"] == "round"}

    def point(c: dict) -> tuple[float | None, list]:  # the interval over tasks; Wilson for runs recorded before it
        rate = c["success_rate"]
        if "ci95" in c:
            return rate, c["ci95"]
        return rate, (list(wilson(rate * c["n"], c["n"])) if rate is not None else [None, None])

    rounds = []
    for r in sorted(evaluations):
        rate, ci = point(evaluations[r]["conditions"]["self-edit"])
        rounds.append({"round": r, "accuracy": rate, "ci95": ci})
    first = evaluations[0]["conditions"]
    last = max(evaluations)
    # Paper Table 1's rows on the held-out tasks: round 0's icl, own self-edits (ttt-untrained) and oracle, and the
    # last round's own self-edits (seal; the same as ttt-untrained before any round has trained)
    rows = {"icl": first.get("icl"), "ttt-untrained": first["self-edit"],
            "seal": evaluations[last]["conditions"]["self-edit"] if last > 0 else None, "oracle": first.get("oracle")}
    rows = {name: c for name, c in rows.items() if c is not None}
    table = {"conditions": rows, "differences": arc_differences(rows), "round": last,
             "n_tasks": len(set().union(*(c["per_task"] for c in rows.values()))),
             "skipped": evaluations[0].get("skipped", {})}
    if "decoding" in evaluations[0]:  # runs recorded before the option existed have none
        table["decoding"] = evaluations[0]["decoding"]
    return {"metric": "success rate (pass@2)", "rounds": rounds,
            "reference": {name: first[name]["success_rate"] for name in ("icl", "oracle") if name in first},
            "table": table}
