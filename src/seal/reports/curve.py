"""The round curve (paper Figure 4): the model's own self-edits per ReST-EM round, with the round-0 conditions as
reference lines; written as `curve.json`, `curve.png` and a table. A domain builds its curve
(`DomainPlugin.curve`: the knowledge domain's carries accuracy and the gold answers' log-likelihood with each
round's paired difference from round 0, ARC's the success rate, any other domain's its own score, `score_curve`);
this module draws and prints any of them.
"""

from __future__ import annotations

from pathlib import Path

from seal.jsonfile import write_json
from seal.reports.stats import format_difference

PANELS = (("accuracy", "ci95", "reference", 100.0), ("loglik", "loglik_ci95", "reference_loglik", 1.0),
          ("score", "score_ci95", "reference_score", 1.0))


def with_rounds(points: list[dict], records: list[dict]) -> None:
    """Add each round record's seconds and E-step statistics (kept, mean reward, signal/noise) to its curve point."""
    for rec in records:
        point = next((p for p in points if p["round"] == rec["round"]), None)
        if point is not None:
            point["seconds"] = rec["payload"].get("seconds")
            point["e_step"] = {k: v for k, v in rec["payload"].get("e_step", {}).items() if k != "kept_ids"}


def format_curve(curve: dict) -> str:
    """One line per round: accuracy (%) with its 95% interval (or a domain's own score), and for knowledge curves
    the log-likelihood and both measures' difference from round 0 with their intervals; then the E-step's kept
    count, mean reward, signal-to-noise and minutes."""
    return _round_lines(curve, any("loglik" in p for p in curve["rounds"]))


def _round_lines(curve: dict, knowledge: bool) -> str:
    scored = any("score" in p for p in curve["rounds"])  # a domain's own score (`score_curve`), not accuracy
    head = f"{'round':<6} {'score':>9} {'95% CI':>17}" if scored else f"{'round':<6} {'accuracy':>9} {'95% CI':>15}"
    if knowledge:
        head += f" {'loglik':>7} {'vs round 0: accuracy':>24} {'loglik':>24}"
    lines = [head + f" {'kept':>5} {'reward':>8} {'s/n':>6} {'minutes':>8}"]
    for p in curve["rounds"]:
        e = p.get("e_step", {})
        snr = (e.get("signal_to_noise") or {}).get("ratio")
        minutes = sum((p.get("seconds") or {}).values()) / 60 if p.get("seconds") else None
        acc = "-" if p["accuracy"] is None else f"{100 * p['accuracy']:.1f}"
        ci = "-" if p["ci95"][0] is None else f"[{100 * p['ci95'][0]:.1f}, {100 * p['ci95'][1]:.1f}]"
        line = f"{p['round']:<6} {acc:>9} {ci:>15}"
        if scored:
            lo, hi = p["score_ci95"]
            ci = "-" if lo is None else f"[{lo:.3f}, {hi:.3f}]"
            score = "-" if p["score"] is None else f"{p['score']:.3f}"
            line = f"{p['round']:<6} {score:>9} {ci:>17}"
        if knowledge:
            vs = p.get("vs_round0") or {}
            loglik = "-" if p.get("loglik") is None else f"{p['loglik']:.3f}"
            line += f" {loglik:>7} {format_difference(vs.get('accuracy'), 100, 1):>24} {format_difference(vs.get('loglik')):>24}"
        reward = e.get("mean_reward")
        lines.append(line + f" {e.get('kept', '-'):>5} {'-' if reward is None else f'{reward:+.3f}':>8} "
                     f"{'-' if snr is None else f'{snr:.2f}':>6} {'-' if minutes is None else f'{minutes:.1f}':>8}")
    for p in curve["rounds"]:  # failed ratings (an unreadable judge reply) or inner loops, with the first error
        missing = p.get("e_step", {}).get("unrewarded") or {}
        if missing.get("inner_loops"):
            lines.append(f"round {p['round']}: {missing['inner_loops']} of {missing['of']} inner loops without a "
                         f"reward, not selected" + (f"; first: {missing['first_error']}" if missing["first_error"]
                                                    else ""))
    if scored:
        refs = ", ".join(f"{k} {v:.3f}" for k, v in curve["reference_score"].items() if v is not None)
        lines.append(f"reference lines: {refs or '-'}; score as the domain defines it, 95% t interval over contexts")
        return "\n".join(lines)
    refs = ", ".join(f"{k} {100 * v:.1f}" for k, v in curve["reference"].items() if v is not None)
    lines.append(f"reference lines: {refs}; metric: {curve['metric']}; accuracy in %")
    if knowledge:
        refs = ", ".join(f"{k} {v:.3f}" for k, v in curve.get("reference_loglik", {}).items() if v is not None)
        unit = next((p["vs_round0"]["loglik"] for p in curve["rounds"] if p.get("vs_round0")), None)
        lines.append(f"loglik: the gold answers' mean log-likelihood, nats per token (reference lines: {refs or '-'}); "
                     "vs round 0: paired per held-out question, mean [95% t interval]"
                     + (f" over {unit['n_units']} {unit['unit']}, {unit['n_items']} questions" if unit else ""))
    return "\n".join(lines)


def plot_curve(curve: dict):
    """The curve as a matplotlib figure: one panel per measure the curve has (accuracy %, log-likelihood), the own
    self-edits' line with its 95% band and the round-0 reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [m for m in PANELS if any(p.get(m[0]) is not None for p in curve["rounds"])] or PANELS[:1]
    fig, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 3.5), squeeze=False)
    rounds = [p["round"] for p in curve["rounds"]]
    styles = {"base": ":", "passage": "--", "external": "-.", "icl": ":", "oracle": "--"}
    for ax, (key, ci_key, ref_key, scale) in zip(axes[0], measures):
        points = [p for p in curve["rounds"] if p.get(key) is not None]
        ax.plot([p["round"] for p in points], [scale * p[key] for p in points], marker="o",
                label="own self-edits (SEAL)")
        banded = [p for p in points if (p.get(ci_key) or [None])[0] is not None]
        ax.fill_between([p["round"] for p in banded], [scale * p[ci_key][0] for p in banded],
                        [scale * p[ci_key][1] for p in banded], alpha=0.2)
        for name, value in curve.get(ref_key, {}).items():
            if value is not None:
                ax.axhline(scale * value, linestyle=styles.get(name, "-."),  # named sources: a colour each
                           color="gray" if name in styles else None, label=name)
        ax.set_xlabel("ReST-EM round")
        ax.set_ylabel(f"accuracy (%, {curve['metric']})" if key == "accuracy"
                      else "gold-answer log-likelihood (nats/token)")
        ax.set_xticks(rounds)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_curve(run_dir: Path, curve: dict) -> None:
    import matplotlib.pyplot as plt

    write_json(Path(run_dir) / "curve.json", curve)
    fig = plot_curve(curve)
    fig.savefig(Path(run_dir) / "curve.png", dpi=120)
    plt.close(fig)


def score_curve(run, own: str, records: list[dict]) -> dict:
    """Any domain's round curve (the generic `score_summary` results): the model's own self-edits' mean score per
    round with its 95% interval, each round's E-step statistics (`records`: the `rounds` rows), and the other
    conditions of round 0 as reference lines."""
    evaluations = {e["round"]: e["payload"] for e in run.store.rows("evaluations") if e["condition"] == "round"}
    rounds = [{"round": r, "accuracy": None, "ci95": [None, None], "score": evaluations[r]["conditions"][own]["score"],
               "score_ci95": evaluations[r]["conditions"][own]["ci95"]} for r in sorted(evaluations)]
    with_rounds(rounds, records)
    first = evaluations[min(evaluations)]["conditions"] if evaluations else {}
    return {"metric": "score", "rounds": rounds, "reference": {},
            "reference_score": {name: c["score"] for name, c in first.items() if name != own}}
