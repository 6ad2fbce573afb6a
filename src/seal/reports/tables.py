"""The generic parts of every domain's table: the interval as text, and the table of a domain plugin that keeps
`DomainPlugin.summarize`'s default (the mean stored score and reward per condition with 95% t intervals over
contexts, and each condition's paired difference from the untrained model). The knowledge and ARC tables are their
domains' own (`seal.domains.knowledge.results`, `seal.domains.arc.results`).
"""

from __future__ import annotations

from seal.reports.stats import format_difference, pooled_interval


def interval(lo, hi, fmt: str) -> str:
    """An interval as text, `[lo, hi]` in `fmt`, or '-' without one."""
    return "-" if lo is None else f"[{fmt.format(lo)}, {fmt.format(hi)}]"


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
        lines.append(f"{name:<14} {num(c['score']):>9} {interval(*c['ci95'], '{:.3f}'):>19} {num(c['reward']):>9} "
                     f"{interval(*c['reward_ci95'], '{:.3f}'):>19} {c['n_rows']:>5} {c['n_contexts']:>8}")
    for name, d in (results.get("differences") or {}).items():
        lines.append(f"paired per context: {name} {format_difference(d)} over {d['n_contexts']} context(s)")
    lines.append("score and reward as the domain defines them; 95% t interval over contexts")
    if results.get("skipped"):
        lines.append(f"{len(results['skipped'])} context(s) skipped")
    return "\n".join(lines)
