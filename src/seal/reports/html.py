"""`seal report RUN_DIR`: one self-contained HTML page about a run, and its figures as PNG files.

    seal report runs/20250101T000000Z-demo        # writes runs/<dir>/report/report.html and report/*.png

The page holds the config and manifest; the results table (`results.json`, or a partial one summarised from the store
when the run stopped before writing it); the ReST-EM round curve (`curve.json`, or the round evaluations stored so
far); reward distributions per round (inner loops of condition `train`; other rewarded conditions when there are no
rounds); self-edit length histograms; the best and worst self-edits by mean reward; the forgetting heatmap of a
continual run (`forgetting.json`, or the finished sequences in the store); and the time spent per phase. A `seal
learn` run has its own section instead of the results table: its scores (each saying what it measures), retention,
the person's own quiz, skipped files, the adapter, the kept self-edits and the self-written quizzes. Every image
is embedded as a base64 PNG and the page loads nothing else, so it can be mailed or archived as one file. It works on
a finished run and on an interrupted one: each section shows what the store has and says when something is missing.
The store is only read (the run's status is not touched).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import statistics
from pathlib import Path

from seal.reports.htmlkit import differences_table, esc, loglik_cell, pct, signed_ci, table
from seal.store.runs import Run, read_run, run_status

KEY_SETTINGS = (("data", "source"), ("data", "n"), ("self_edit", "family"), ("self_edit", "k"), ("inner", "epochs"),
                ("inner", "learning_rate"), ("quiz", "metric"), ("reward", "kind"), ("outer", "rounds"),
                ("outer", "contexts_per_round"), ("cpt", "mode"), ("cpt", "epochs"), ("continual", "sequence_length"),
                ("learn", "k"), ("learn", "epochs"), ("learn", "max_passage_tokens"), ("learn", "into"),
                ("learn", "quiz"),
                ("continual", "sequences"), ("continual", "mitigations"))
_NOT_READ = {"knowledge continual": {("self_edit", "k")},  # continual writes one self-edit per passage
             "learn": {("self_edit", "k")},  # learn samples learn.k per passage
             "arc train": {("outer", "contexts_per_round")}}  # every round trains on every train_data task
CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5em; color: #1d2330; background: #fbfbfd; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #3b6ea5; padding-bottom: .2em;
     margin-top: 2em; color: #24446b; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #d5dae3; padding: .3em .7em; text-align: right; } th { background: #e8eef7; }
td.l, th.l { text-align: left; } pre { background: #f1f3f7; padding: .8em; overflow-x: auto; font-size: .85em; }
.status { display: inline-block; padding: .15em .6em; border-radius: .8em; color: white; font-weight: bold; }
.finished { background: #2e8b57; } .interrupted, .failed { background: #c0392b; } .running { background: #d68910; }
.unknown { background: #7f8c8d; } .note { color: #5d6778; font-style: italic; }
.edit { border-left: 4px solid #3b6ea5; background: white; padding: .5em .8em; margin: .6em 0; }
.edit.worst { border-left-color: #c0392b; } .edit pre { white-space: pre-wrap; background: none; padding: 0; }
img { max-width: 100%; border: 1px solid #e1e5ec; background: white; } nav a { margin-right: 1em; }
"""


# ----------------------------------------------------------------------------------------------------------------------
# Reading the run (read only)


def _json_file(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None


# ----------------------------------------------------------------------------------------------------------------------
# Figures


class Figures:
    """Saves each matplotlib figure as `report/<name>.png` and returns an <img> tag with the same PNG inlined."""

    def __init__(self, out_dir: Path):
        import matplotlib

        matplotlib.use("Agg")
        self.out_dir = out_dir
        self.written: list[Path] = []

    def img(self, fig, name: str, alt: str) -> str:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        path = self.out_dir / f"{name}.png"
        path.write_bytes(data)
        self.written.append(path)
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'

    def file(self, png: Path, name: str, alt: str) -> str:
        data = png.read_bytes()
        (self.out_dir / f"{name}.png").write_bytes(data)
        self.written.append(self.out_dir / f"{name}.png")
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


# ----------------------------------------------------------------------------------------------------------------------
# Sections: each returns (title, html) or None when the run has nothing for it


def section_overview(run: Run, status: str) -> tuple[str, str]:
    m, store = run.manifest, run.store
    counts = {t: store.count(t) for t in ("contexts", "self_edits", "inner_results", "rounds", "evaluations")}
    rows = [["directory", str(run.dir)], ["command", m.get("command", "?")], ["created", m.get("created_at", "")],
            ["finished", store.get_meta("finished_at", "-")],
            ["model", m.get("config", {}).get("model", {}).get("name", "?")],
            ["git commit", m.get("git_commit") or "-"],
            ["stored units", ", ".join(f"{k} {v}" for k, v in counts.items())]]
    note = "" if status == "finished" else (
        '<p class="note">This run did not finish: the sections below show what it had stored when it stopped '
        "(resume it with <code>--resume</code>).</p>")
    return "Run", f'<p><span class="status {esc(status)}">{esc(status)}</span></p>{note}' + table(["", ""], rows, 2)


def _setting(cfg: dict, section: str, name: str) -> str:
    """A config value as JSON; an unset inner-loop learning rate as the rate the run used (its mode's default)."""
    from seal.config import learning_rate_in_use

    value = cfg[section][name]
    if (section, name) == ("inner", "learning_rate") and value is None:
        mode = cfg[section]["mode"]
        return f"{learning_rate_in_use(None, mode):g} ({mode} default)"
    return json.dumps(value)


def _read_sections(run: Run) -> set[str] | None:
    """The config sections the run's command reads (its config class's: a domain plugin's command, or learn), None
    when unknown: runs recorded before one config per command hold every section."""
    import dataclasses

    from seal.learn.config import LearnConfig

    command = run.manifest.get("command") or ""
    plugin = domain_of(run)
    classes = {"learn": LearnConfig} | ({f"{plugin.name} {name}": c for name, c in plugin.commands.items()}
                                        if plugin is not None else {})
    cls = classes.get(command)
    return None if cls is None else {f.name for f in dataclasses.fields(cls)}


def section_config(run: Run) -> tuple[str, str]:
    import yaml

    manifest = {k: v for k, v in run.manifest.items() if k != "config"}
    cfg = run.manifest.get("config", {})
    command = run.manifest.get("command")
    read = _read_sections(run)
    key = [[f"{section}.{name}", _setting(cfg, section, name)] for section, name in KEY_SETTINGS
           if name in cfg.get(section, {}) and (section, name) not in _NOT_READ.get(command, ())
           and (read is None or section in read)]
    return "Config and manifest", table(["", ""], key, 2) + (
        f"<details><summary>resolved config</summary><pre>{esc(yaml.safe_dump(cfg, sort_keys=False))}</pre></details>"
        "<details><summary>manifest (without the config)</summary>"
        f"<pre>{esc(json.dumps(manifest, indent=2, default=str))}</pre></details>")


def domain_of(run: Run):
    """The domain plugin of a run (`seal.domains.registry.of_run`), None for a run of no domain (learn, bench)."""
    from seal.domains import registry
    from seal.errors import SealError

    try:
        return registry.of_run(run.manifest)
    except SealError:
        return None


def section_results(run: Run) -> tuple[str, str] | None:
    """The run's results table, as its domain shows it (`DomainPlugin.results_html`)."""
    plugin = domain_of(run)
    body = plugin.results_html(run, _json_file(run.dir / "results.json")) if plugin is not None else None
    return ("Results", body) if body else None


def section_learn(run: Run) -> tuple[str, str] | None:
    """A `seal learn` run: its scores with what each measures, its own quiz (each question's answers), skipped files,
    the adapter, then the kept self-edits, the self-written quizzes (from the store, so an interrupted run shows
    what it had finished) and what grounding dropped as not found in the passage (`learn.grounding`)."""
    if run.manifest.get("command") != "learn":
        return None
    from seal.learn.documents import format_skipped, Skipped
    from seal.learn.quiz import SCORED_AS

    results = _json_file(run.dir / "results.json")
    parts = []
    if results is None:
        parts.append('<p class="note">No results.json (the run stopped first): no adapter yet; the self-edits and '
                     "quizzes finished so far are below.</p>")
    else:
        sq, ret = results["self_quiz"], results.get("retention")
        rows = [["passages", f"{results['n_passages']} from {results['n_sources']} files "
                             f"({results['n_unquizzed']} without a self-quiz question)"],
                ["kept self-edits", f"{results['n_kept']} of {results['n_quizzed']} quizzed passages"],
                ["self-quiz log-likelihood, base -> adapter", f"{loglik_cell(sq['before'])} -> {loglik_cell(sq['after'])}"]]
        if ret is not None:
            rows.append([f"retention: the same on the {ret['n_passages']} passages learned before, old adapter -> new",
                         f"{loglik_cell(ret['before'])} -> {loglik_cell(ret['after'])}"])
        for name, q in (("your quiz, base -> adapter", results.get("quiz")),
                        ("earlier quizzes, old adapter -> new (retention)", results.get("quiz_retention"))):
            if q is not None:
                rows.append([name, f"{q['before']} -> {q['after']} of {q['scored']} right"])
        rows.append(["adapter", results["adapter"]])
        if results.get("previous"):
            rows.append(["previous adapter (backup)", results["previous"]])
        rows.append(["skipped files", format_skipped([Skipped(**k) for k in results["skipped"]]) or "none"])
        if results.get("grounding") is not None:
            from seal.learn.grounding import describe

            rows.append(["not found in the passage", describe(results["grounding"])])
        parts.append(table(["", ""], rows, 2) + (
            '<p class="note">self-quiz log-likelihood: the mean log-likelihood (nats per token; higher is better) of '
            "the answers the base model wrote to its own questions about each passage: how familiar the text has "
            "become, not whether answers are right (the self-written answers may be wrong). "
            f"Quiz accuracy: closed-book greedy answers, right when {esc(SCORED_AS)}.</p>"))
        for name, q in (("Your quiz", results.get("quiz")), ("Earlier quizzes", results.get("quiz_retention"))):
            if q is not None:
                mark = {True: "right", False: "wrong", None: "-"}
                parts.append(f"<h3>{name}</h3>" + table(
                    ["question", "expected", "before", "", "after", ""],
                    [[i["question"], " | ".join(i["expected"]), i["before"], mark[i["before_right"]], i["after"],
                      mark[i["after_right"]]] for i in q["items"]]))
    titles = {c["id"]: c["payload"].get("title", c["id"]) for c in run.store.rows("contexts")}
    best: dict[str, dict] = {}
    edits = {e["id"]: e for e in run.store.rows("self_edits", "condition='learn'")}
    for r in run.store.rows("inner_results", "condition='learn'"):
        if r["reward"] is not None and r["reward"] > 0 and r["reward"] > best.get(r["context_id"], {}).get("reward", 0):
            best[r["context_id"]] = {"reward": r["reward"], "text": edits.get(r["self_edit_id"], {}).get("text", "")}
    grounded = (results or {}).get("kept_self_edits")  # learn.grounding: the kept ones' grounded sentences
    if grounded is not None:
        best = {pid: {"reward": results["kept"][pid], "text": text} for pid, text in grounded.items()}
    if best:
        parts.append("<h3>Kept self-edits</h3>" + table(
            ["passage", "reward", "self-edit"], [[titles.get(pid, pid), f"{b['reward']:+.3f}", b["text"]]
                                                 for pid, b in best.items()]) + (
            '<p class="note">Per passage, the self-edit whose inner loop raised the self-quiz log-likelihood most '
            "(reward: the gain, nats per token); " + (
                "among those with enough sentences found in the passage, and only those sentences, as trained on."
                if grounded is not None else "its claims are not checked against the passage.") + "</p>"))
    quizzes = [q for q in run.store.rows("evaluations", "condition='learn'") if q["key"].startswith("learn/quiz/")]
    if quizzes:
        parts.append("<h3>Self-written quizzes</h3>" + table(
            ["passage", "question", "the model's own answer"],
            [[q["payload"]["title"], qa["question"], " | ".join(qa["answers"])] for q in quizzes
             for qa in q["payload"]["questions"]] or [["(no quiz kept a question)", "", ""]]))
    dropped = [[q["payload"]["title"], "self-quiz question", f"{d['question']} -> {d['answer']}",
                ", ".join(d["missing"])] for q in quizzes for d in q["payload"].get("ungrounded", [])]
    for pid, d in ((results or {}).get("ungrounded") or {}).items():
        dropped += [[d["title"], "kept self-edit's sentence", c["text"], ", ".join(c["missing"])]
                    for c in d["sentences"]]
        dropped += [[d["title"], "self-edit passed over", text, ""] for text in d["passed_over"]]
    if dropped:
        parts.append("<h3>Not found in the passage (dropped)</h3>" + table(
            ["passage", "what", "text", "words not found"], dropped) + (
            '<p class="note">learn.grounding: a self-written question is kept when its answer is in the passage and '
            "its words are; a self-edit's sentence when its numbers, names and enough of its other words are; a "
            "self-edit with too few such sentences is passed over.</p>"))
    return "seal learn", "".join(parts)


def curve_points(run: Run) -> dict | None:
    """`curve.json`, or the curve built from the round evaluations stored so far (`partial`)."""
    curve = _json_file(run.dir / "curve.json")
    if curve:
        return curve
    evaluations = [e for e in run.store.rows("evaluations") if e["condition"] == "round"]
    if not any(e["round"] == 0 for e in evaluations):
        return None
    plugin = domain_of(run)
    return plugin.curve(run, run.store.rows("rounds")) | {"partial": True} if plugin is not None else None


def section_curve(run: Run, figs: Figures) -> tuple[str, str] | None:
    from seal.reports.curve import plot_curve

    curve = curve_points(run)
    if not curve or not curve["rounds"]:
        return None
    knowledge = any("loglik" in p for p in curve["rounds"])
    scored = any("score" in p for p in curve["rounds"])  # a domain's own score (`seal.reports.curve.score_curve`)
    rows = []
    for p in curve["rounds"]:
        row = [p["round"], pct(p["accuracy"]), f"[{pct(p['ci95'][0])}, {pct(p['ci95'][1])}]"]
        if scored:
            lo, hi = p["score_ci95"]
            row = [p["round"], loglik_cell(p["score"]), f"[{loglik_cell(lo)}, {loglik_cell(hi)}]"]
        if knowledge:
            ll_ci = p.get("loglik_ci95") or [None, None]
            vs = p.get("vs_round0") or {}
            row += [loglik_cell(p.get("loglik")), f"[{loglik_cell(ll_ci[0])}, {loglik_cell(ll_ci[1])}]"] \
                + signed_ci(vs.get("accuracy") or {}, 100, 1) + signed_ci(vs.get("loglik") or {}, 1, 3)
        rows.append(row)
    header = ["round", "score" if scored else "accuracy %", "95% CI"] + (
        ["loglik", "95% CI", "accuracy - round 0", "95% CI", "loglik - round 0", "95% CI"] if knowledge else [])
    note = ('<p class="note">From the round evaluations stored so far (no curve.json yet).</p>'
            if curve.get("partial") else "")
    failed = sum(e["payload"].get("judge_errors", 0) for e in run.store.rows("evaluations") if e["condition"] == "round")
    if failed:
        note += f'<p class="note">LLM judge: {failed} verdict(s) in the round evaluations stayed unreadable and ' \
                'were not graded (each condition\'s count is in its stored evaluation).</p>'
    for p in curve["rounds"]:  # failed ratings (an unreadable rubric reply) or inner loops: not selected
        missing = (p.get("e_step") or {}).get("unrewarded") or {}
        if missing.get("inner_loops"):
            first = f"; first: {missing['first_error']}" if missing["first_error"] else ""
            note += (f'<p class="note">Round {p["round"]}: {missing["inner_loops"]} of {missing["of"]} inner loops '
                     f"without a reward, not selected{esc(first)}.</p>")
    if knowledge:
        note += ('<p class="note">loglik: the gold answers\' mean log-likelihood (nats per token); the round 0 '
                 "differences are paired per held-out question, with 95% Student t intervals over passages.</p>")
    return "Round curve", note + figs.img(plot_curve(curve), "curve", "accuracy per round") + table(header, rows) \
        + differences_table(curve.get("round0_differences") or {})


def reward_groups(run: Run) -> tuple[str, dict[str, list[float]]]:
    """Rewards of the ReST-EM inner loops by round; without rounds, of every rewarded condition."""
    rows = [r for r in run.store.rows("inner_results") if r["reward"] is not None]
    train = [r for r in rows if r["condition"] == "train"]
    groups: dict[str, list[float]] = {}
    if train:
        for r in train:
            groups.setdefault(f"round {r['round']}", []).append(r["reward"])
        return "round", groups
    for r in rows:
        if not r["condition"].endswith("base"):  # a base row's reward is 0 by definition
            groups.setdefault(r["condition"], []).append(r["reward"])
    return "condition", groups


def section_rewards(run: Run, figs: Figures) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    by, groups = reward_groups(run)
    if not groups:
        return None
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(names) + 2), 3.6))
    ax.boxplot([groups[n] for n in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), names)
    for i, n in enumerate(names, 1):  # every inner loop as a dot, jittered
        xs = [i + 0.25 * ((j * 0.6180339) % 1 - 0.5) for j in range(len(groups[n]))]
        ax.scatter(xs, groups[n], s=8, alpha=0.4, color="#3b6ea5")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_ylabel("reward (score - base score)")
    rows = [[n, len(v), f"{statistics.mean(v):+.3f}", f"{statistics.median(v):+.3f}",
             f"{sum(x > 0 for x in v) / len(v):.0%}"] for n, v in groups.items()]
    return f"Reward distributions per {by}", figs.img(fig, "rewards", f"rewards per {by}") + table(
        [by, "inner loops", "mean", "median", "positive"], rows)


def section_lengths(run: Run, figs: Figures) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    edits = run.store.rows("self_edits")
    if not edits:
        return None
    groups: dict[str, list[int]] = {}
    for e in edits:
        label = f"{e['condition']} r{e['round']}" if e["condition"] == "train" else e["condition"]
        groups.setdefault(label, []).append(len(e["text"].split()))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    top = max(max(v) for v in groups.values()) or 1
    bins = list(range(0, top + max(1, top // 20) + 1, max(1, top // 20)))
    for name, lengths in groups.items():
        ax.hist(lengths, bins=bins, alpha=0.5, label=f"{name} (n={len(lengths)})")
    ax.set_xlabel("self-edit length (words)")
    ax.set_ylabel("self-edits")
    ax.legend(fontsize=7)
    rows = [[n, len(v), f"{statistics.mean(v):.0f}", min(v), max(v), sum(x == 0 for x in v)] for n, v in groups.items()]
    return "Self-edit lengths", figs.img(fig, "lengths", "self-edit lengths") + table(
        ["self-edits", "count", "mean words", "min", "max", "empty"], rows)


def scored_self_edits(run: Run) -> list[dict]:
    """Each self-edit with the mean reward of its inner loops (None when it has none)."""
    rewards: dict[int, list[float]] = {}
    for r in run.store.rows("inner_results"):
        if r["self_edit_id"] is not None and r["reward"] is not None:
            rewards.setdefault(r["self_edit_id"], []).append(r["reward"])
    return [e | {"reward": statistics.mean(rewards[e["id"]]) if e["id"] in rewards else None,
                 "n_rewards": len(rewards.get(e["id"], []))} for e in run.store.rows("self_edits")]


def section_examples(run: Run, n: int = 3, max_chars: int = 1500) -> tuple[str, str] | None:
    edits = scored_self_edits(run)
    if not edits:
        return None
    scored = sorted((e for e in edits if e["reward"] is not None), key=lambda e: e["reward"], reverse=True)
    titles = {c["id"]: c["payload"].get("title", c["id"]) for c in run.store.rows("contexts")}

    def unit(e):  # the `round` column of a continual self-edit holds its step in the sequence
        return "step" if e["condition"].startswith("continual/") else "round"

    def card(e, kind):
        text = e["text"] if len(e["text"]) <= max_chars else e["text"][:max_chars] + " [...]"
        reward = "no reward" if e["reward"] is None else f"reward {e['reward']:+.3f} (mean of {e['n_rewards']})"
        return (f'<div class="edit {kind}"><b>{esc(titles.get(e["context_id"], e["context_id"]))}</b> '
                f'&middot; {esc(e["condition"])} {unit(e)} {e["round"]} &middot; {esc(reward)}'
                f"<pre>{esc(text)}</pre></div>")

    if not scored:
        return "Example self-edits", ('<p class="note">No rewarded self-edits in this run; the first ones written:</p>'
                                      + "".join(card(e, "") for e in edits[:n]))
    best, worst = scored[:n], scored[max(n, len(scored) - n):][::-1]  # disjoint when there are few
    return "Example self-edits", (f"<h3>Best {len(best)} by mean reward</h3>" + "".join(card(e, "best") for e in best)
                                  + (f"<h3>Worst {len(worst)}</h3>" + "".join(card(e, "worst") for e in worst)
                                     if worst else ""))


def section_forgetting(run: Run, figs: Figures) -> tuple[str, str] | None:
    from seal.reports.forgetting import build_forgetting, format_knowledge, plot_forgetting

    result, note = _json_file(run.dir / "forgetting.json"), ""
    if result is None:
        if not any(e["condition"].startswith("continual/") for e in run.store.rows("evaluations")):
            return None
        result = build_forgetting(run)
        note = '<p class="note">No forgetting.json yet: built from the sequences finished so far.</p>'
    if not result.get("mitigations"):
        return None
    tmp = figs.out_dir / "forgetting.png"
    plot_forgetting(result, tmp)
    rows = []
    for name, m in result["mitigations"].items():
        s = m["summary"]
        rows.append([name, m["complete_sequences"], m["length"], pct(s["baseline_accuracy"]["mean"]),
                     pct(s["own_edit_accuracy"]["mean"]), pct(s["final_accuracy"]["mean"]),
                     pct(s["final_accuracy"]["se"]), pct(s["forgetting"]["mean"]),
                     "-" if s["retention"] is None else f"{s['retention']:.2f}"])
    paired = "".join(f"<li>{esc(k)} - none, final accuracy: {pct(d['mean'])} &plusmn; {pct(d['se'])} points over "
                     f"{d['n']} paired sequence(s)</li>" for k, d in result.get("paired_vs_none", {}).items())
    paired += "".join(f"<li>{esc(line)}</li>" for line in format_knowledge(result.get("knowledge") or {}))
    return "Forgetting (sequential self-edits)", note + figs.file(tmp, "forgetting", "forgetting heatmap") + table(
        ["mitigation", "sequences", "length", "baseline %", "after own edit %", "final %", "final se",
         "forgetting (points)", "retention"], rows) + (f"<ul>{paired}</ul>" if paired else "") + (
        '<p class="note">Row k: accuracy after k edits on each passage seen so far (mean &plusmn; standard error '
        "over sequences); row base: before any edit. Forgetting: accuracy right after a passage's own edit minus "
        "after the last edit, over all but the last passage; retention: the ratio of the two.</p>")


def phase_times(run: Run) -> dict[str, float]:
    """Seconds per phase, summed over the stored units of work."""
    times: dict[str, float] = {}
    for e in run.store.rows("self_edits"):
        times[f"sample ({e['condition']})"] = times.get(f"sample ({e['condition']})", 0.0) + (
            (e["sampling"] or {}).get("generation_s") or 0.0)
    for r in run.store.rows("inner_results"):
        for key, value in (r["timings"] or {}).items():
            label = f"{key.removesuffix('_s')} ({r['condition']})"
            times[label] = times.get(label, 0.0) + (value or 0.0)
    for r in run.store.rows("rounds"):
        secs = (r["payload"] or {}).get("seconds") or {}
        if "m_step" in secs:
            times["M-step (train rounds)"] = times.get("M-step (train rounds)", 0.0) + secs["m_step"]
    return {k: v for k, v in times.items() if v > 0}


def section_times(run: Run, figs: Figures) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    times = phase_times(run)
    if not times:
        return None
    names = sorted(times, key=times.get)
    fig, ax = plt.subplots(figsize=(6.5, 0.8 + 0.32 * len(names)))
    ax.barh(names, [times[n] / 60 for n in names], color="#3b6ea5")
    ax.set_xlabel("minutes")
    rounds = [[r["round"], r["status"]] + [f"{((r['payload'] or {}).get('seconds') or {}).get(k, 0) / 60:.1f}"
                                            for k in ("e_step", "m_step", "eval")] for r in run.store.rows("rounds")]
    total = sum(times.values())
    body = table(["phase", "minutes", "share"], [[n, f"{times[n] / 60:.1f}", f"{times[n] / total:.0%}"]
                                                  for n in reversed(names)])
    if rounds:
        body += "<h3>Wall time per ReST-EM round (minutes)</h3>" + table(
            ["round", "status", "E-step", "M-step", "eval"], rounds)
    return "Time per phase", figs.img(fig, "times", "time per phase") + body + (
        '<p class="note">Summed over the stored units of work (self-edit sampling, inner-loop training and quizzes); '
        "the E-step's wall time includes its sampling and inner loops.</p>")


# ----------------------------------------------------------------------------------------------------------------------
# The page


def build_report(run_dir: str | Path) -> Path:
    """Write `RUN_DIR/report/report.html` (self-contained) and the figures as PNG files next to it; returns the page.

    Raises:
        SealError: `run_dir` is not a run directory, or its manifest or store is damaged (`read_run`).
    """
    run = read_run(Path(run_dir))
    out_dir = run.dir / "report"
    out_dir.mkdir(exist_ok=True)
    figs = Figures(out_dir)
    status = run_status(run.store)
    sections = [section_overview(run, status), section_config(run), section_learn(run), section_results(run),
                section_curve(run, figs),
                section_forgetting(run, figs), section_rewards(run, figs), section_lengths(run, figs),
                section_examples(run), section_times(run, figs)]
    sections = [s for s in sections if s is not None]
    run.store.close()
    anchors = [f"s{i}" for i in range(len(sections))]
    nav = " ".join(f'<a href="#{a}">{esc(t)}</a>' for a, (t, _) in zip(anchors, sections))
    body = "".join(f'<h2 id="{a}">{esc(t)}</h2>{h}' for a, (t, h) in zip(anchors, sections))
    title = f"seal report: {run.dir.name}"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>"
            f'<p class="note">{esc(run.manifest.get("command", ""))} &middot; report written {stamp}</p>'
            f"<nav>{nav}</nav>{body}</body></html>")
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
