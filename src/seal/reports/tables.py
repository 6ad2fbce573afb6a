"""The tables every command prints and stores: per-condition summaries with intervals, paired differences, and their
text layout, for the knowledge table (Table 2 of arXiv 2506.10943) and few-shot ARC (Table 1).

Knowledge: each condition reports accuracy (the mean over every graded answer) and knowledge, the gold answers' mean
log-likelihood (nats per token, the mean over every question's score; scored with the same adapted model in the same
inner loop). Their 95% intervals treat passages as the unit (Student t over per-passage means; for a single passage,
Wilson over answers for accuracy and t over questions for log-likelihood). The paired differences (passage - base,
self-edit - passage, external - passage, checkpoint - passage) are taken per question, each condition's value
averaged over its seeds and self-edits, with a t interval over passages (`seal.reports.stats`).

ARC: the success rate over (task, self-edit) configurations, with the self-edits' parse failures and the seconds per
task of each step.
"""

from __future__ import annotations

from collections import Counter

from seal.reports.stats import format_difference, paired_rows, pooled_interval, wilson

# The paired differences each table reports, (a, b) for a - b, when both conditions ran.
DIFFERENCES = (("passage", "base"), ("self-edit", "passage"), ("external", "passage"), ("checkpoint", "passage"),
               ("checkpoint", "self-edit"))


def comparisons(conditions, sources=()) -> tuple[tuple[str, str], ...]:
    """The pairs (a, b) a knowledge table reports as a - b: `DIFFERENCES`, then each file-given source of `sources`
    (names, in order) against base, passage, the model's own self-edits (before and after training: self-edit,
    checkpoint) and every source before it, of those pairs whose two conditions are among `conditions`.

    >>> comparisons(["base", "passage", "qwen-base", "gpt-4.1"], ["qwen-base", "gpt-4.1"])[-3:]
    (('gpt-4.1', 'base'), ('gpt-4.1', 'passage'), ('gpt-4.1', 'qwen-base'))
    """
    pairs = list(DIFFERENCES)
    for i, source in enumerate(sources):
        pairs += [(source, b) for b in ("base", "passage", "self-edit", "checkpoint", *sources[:i])]
    present = set(conditions)
    return tuple(dict.fromkeys((a, b) for a, b in pairs if a in present and b in present and a != b))



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


def knowledge_summary(rows: list[dict], metric: str) -> dict:
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


def knowledge_table(results: dict) -> str:
    """The results as printed: per condition accuracy and log-likelihood with their intervals, then the paired
    differences (`format_differences`)."""
    judged = any(c.get("judge_verdicts") for c in results["conditions"].values())  # a column only under a judge
    rewarded = "reward" in results  # results stored before the reward column have none
    lines = [f"{'condition':<12} {'accuracy':>9} {'95% CI':>15} {'loglik':>7} {'95% CI':>17} {'empty %':>7} "
             f"{'questions':>9} {'loops':>6} {'train s':>8} {'quiz s':>7}" + (f" {'reward':>8}" if rewarded else "")
             + (f" {'unread':>9}" if judged else "")]
    for name, c in results["conditions"].items():
        acc = "-" if c["accuracy"] is None else f"{100 * c['accuracy']:.1f}"
        ci = _interval(*[None if x is None else 100 * x for x in c["ci95"]], "{:.1f}")
        loglik = "-" if c.get("loglik") is None else f"{c['loglik']:.3f}"
        ll_ci = _interval(*(c.get("loglik_ci95") or [None, None]), "{:.3f}")
        empty = "-" if c.get("empty_share") is None else f"{100 * c['empty_share']:.1f}"
        t = c.get("seconds_per_inner_loop", {})
        unread = f" {str(c.get('judge_errors', 0)) + '/' + str(c.get('judge_verdicts', 0)):>9}" if judged else ""
        reward = (" " + ("-" if c.get("reward") is None else f"{c['reward']:+.3f}").rjust(8)) if rewarded else ""
        lines.append(f"{name:<12} {acc:>9} {ci:>15} {loglik:>7} {ll_ci:>17} {empty:>7} {c['n_questions']:>9} "
                     f"{c.get('n_inner_loops', 0):>6} {t.get('train_s', 0):>8.1f} {t.get('quiz_s', 0):>7.1f}{reward}"
                     f"{unread}")
    metric = next(iter(results["conditions"].values()))["metric"] if results["conditions"] else ""
    lines.append(f"metric: {metric}; accuracy in %, mean over every graded answer; loglik: the gold answers' mean "
                 f"log-likelihood, nats per token; empty %: answers that are empty text; times are per inner loop"
                 + (f"; reward: {results['reward']}, the mean stored reward (adapted - unadapted)" if rewarded else ""))
    first = next((c["first_judge_error"] for c in results["conditions"].values() if c.get("first_judge_error")), None)
    if first:
        lines.append(f"unread: LLM judge verdicts that stayed unreadable (not graded) of those asked; first: {first}")
    lines += format_differences(results.get("differences") or {}, results.get("seeds"))
    return "\n".join(lines)


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


# ----------------------------------------------------------------------------------------------------------------------
# Any domain: the generic table of a plugin that keeps `DomainPlugin.summarize`'s default


def per_context(rows: list[dict], field: str) -> dict[str, list[float]]:
    """A stored column (`score`, `reward`) of the rows by context id, None values left out."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["context_id"], [])
        if r[field] is not None:
            out[r["context_id"]].append(r[field])
    return out


def reward_summary(rows: list[dict]) -> dict:
    """The mean stored reward of one condition's rows (whatever the reward is: built in or a function given by its
    dotted path) with a 95% t interval over contexts (`pooled_interval`)."""
    reward, reward_ci = pooled_interval(per_context(rows, "reward"))
    return {"reward": reward, "reward_ci95": reward_ci}


def score_summary(rows: list[dict]) -> dict:
    """One condition's rows as any domain stores them: the mean `score` and mean `reward` over rows (None values
    left out), each with a 95% t interval over contexts (`pooled_interval`: a context's seeds and self-edits
    averaged first), and the counts."""
    score, score_ci = pooled_interval(per_context(rows, "score"))
    return {"score": score, "ci95": score_ci} | reward_summary(rows) | {
        "n_rows": len(rows), "n_contexts": len({r["context_id"] for r in rows})}


def score_differences(rows: dict[str, list[dict]], anchor: str | None) -> dict[str, dict]:
    """Each condition's score minus the `anchor` condition's (the untrained model), paired per context (each
    context's rows averaged), with a t interval over contexts: {"a - anchor": {mean, ci95, n_contexts}}."""
    if anchor is None or not rows.get(anchor):
        return {}

    def means(rs):
        out: dict[str, list[float]] = {}
        for r in rs:
            if r["score"] is not None:
                out.setdefault(r["context_id"], []).append(r["score"])
        return {cid: sum(v) / len(v) for cid, v in out.items()}

    base, out = means(rows[anchor]), {}
    for name, rs in rows.items():
        if name != anchor and rs:
            mine = means(rs)
            diffs = {cid: [mine[cid] - base[cid]] for cid in mine if cid in base}
            mean, ci = pooled_interval(diffs)
            out[f"{name} - {anchor}"] = {"mean": mean, "ci95": ci, "n_contexts": len(diffs)}
    return out


def score_table(results: dict) -> str:
    """The generic results as text: per condition the mean score and reward with their 95% intervals and counts,
    then each condition's paired difference from the untrained model."""
    lines = [f"{'condition':<14} {'score':>9} {'95% CI':>19} {'reward':>9} {'95% CI':>19} {'rows':>5} {'contexts':>8}"]
    num = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    for name, c in results["conditions"].items():
        lines.append(f"{name:<14} {num(c['score']):>9} {_interval(*c['ci95'], '{:.3f}'):>19} {num(c['reward']):>9} "
                     f"{_interval(*c['reward_ci95'], '{:.3f}'):>19} {c['n_rows']:>5} {c['n_contexts']:>8}")
    for name, d in (results.get("differences") or {}).items():
        lines.append(f"paired per context: {name} {format_difference(d)} over {d['n_contexts']} context(s)")
    lines.append("score and reward as the domain defines them; 95% t interval over contexts")
    if results.get("skipped"):
        lines.append(f"{len(results['skipped'])} context(s) skipped")
    return "\n".join(lines)
