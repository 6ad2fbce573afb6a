"""The round curve (paper Figure 4): accuracy of the model's own self-edits per ReST-EM round, with reference lines
for training on the passage alone and on external self-edits; written as `curve.json`, `curve.png` and a table."""

from __future__ import annotations

import json
from pathlib import Path


def format_curve(curve: dict) -> str:
    lines = [f"{'round':<6} {'accuracy':>9} {'95% CI':>15} {'kept':>5} {'reward':>8} {'s/n':>6} {'minutes':>8}"]
    for p in curve["rounds"]:
        e = p.get("e_step", {})
        snr = (e.get("signal_to_noise") or {}).get("ratio")
        minutes = sum((p.get("seconds") or {}).values()) / 60 if p.get("seconds") else None
        acc = "-" if p["accuracy"] is None else f"{100 * p['accuracy']:.1f}"
        ci = "-" if p["ci95"][0] is None else f"[{100 * p['ci95'][0]:.1f}, {100 * p['ci95'][1]:.1f}]"
        reward = e.get("mean_reward")
        lines.append(f"{p['round']:<6} {acc:>9} {ci:>15} {e.get('kept', '-'):>5} "
                     f"{'-' if reward is None else f'{reward:+.3f}':>8} {'-' if snr is None else f'{snr:.2f}':>6} "
                     f"{'-' if minutes is None else f'{minutes:.1f}':>8}")
    refs = ", ".join(f"{k} {100 * v:.1f}" for k, v in curve["reference"].items() if v is not None)
    lines.append(f"reference lines: {refs}; metric: {curve['metric']}; accuracy in %")
    return "\n".join(lines)


def write_curve(run_dir: Path, curve: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (Path(run_dir) / "curve.json").write_text(json.dumps(curve, indent=2))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    rounds = [p["round"] for p in curve["rounds"]]
    acc = [100 * (p["accuracy"] or 0) for p in curve["rounds"]]
    lo = [100 * (p["ci95"][0] or 0) for p in curve["rounds"]]
    hi = [100 * (p["ci95"][1] or 0) for p in curve["rounds"]]
    ax.plot(rounds, acc, marker="o", label="own self-edits (SEAL)")
    ax.fill_between(rounds, lo, hi, alpha=0.2)
    styles = {"base": ":", "passage": "--", "external": "-."}
    for name, value in curve["reference"].items():
        if value is not None:
            ax.axhline(100 * value, linestyle=styles.get(name, "--"), color="gray", label=name)
    ax.set_xlabel("ReST-EM round")
    ax.set_ylabel(f"accuracy (%, {curve['metric']})")
    ax.set_xticks(rounds)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(run_dir) / "curve.png", dpi=120)
    plt.close(fig)
