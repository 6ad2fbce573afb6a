"""The knowledge domain's section of `seal report`: the single-passage table as HTML (Table 2's layout with both
measures and the paired differences), also for a run that stopped before writing results.json."""

from __future__ import annotations

from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.results import (EDIT_SHAPE_HEADER, EDIT_SHAPE_LEGEND, add_edit_shapes,
                                            answer_held_difference, comparisons, differences, edit_shape_rows,
                                            format_answer_held, knowledge_summary, timing_summary)
from seal.reports.htmlkit import differences_table, esc, loglik_cell, pct, table
from seal.store.runs import Run

EVAL_CONDITIONS = ("base", "passage", "self-edit", "external", "checkpoint")


def partial_results(run: Run) -> dict | None:
    """A results table summarised from the inner loops stored so far (an interrupted eval or cpt run), with the
    paired differences of the conditions stored."""
    config = run.manifest.get("config", {})
    named = config.get("eval", {}).get("external") or {}  # the named self-edit sources are conditions too
    sources = (("external",) if config.get("eval", {}).get("external_file") else ()) + tuple(named)
    names = tuple(dict.fromkeys(EVAL_CONDITIONS + sources))
    rows = [r for r in run.store.rows("inner_results") if r["condition"] in names and r["round"] == 0]
    if not rows:
        return None
    metric = config.get("quiz", {}).get("metric", "?")
    by_condition = {c: [r for r in rows if r["condition"] == c and r["details"].get("scores") is not None]
                    for c in names}
    conditions = {c: knowledge_summary(mine, metric) | {"seconds_per_inner_loop": timing_summary(mine)}
                  for c, mine in by_condition.items() if mine}
    used = {r["self_edit_id"] for r in rows}
    edits = [e for e in run.store.rows("self_edits", "round=0") if e["id"] in used]
    edit_rows = {c: [e for e in edits if e["condition"] == c] for c in conditions}
    passages = [Passage.from_dict(c["payload"]) for c in run.store.rows("contexts")]
    add_edit_shapes(conditions, edit_rows, passages)
    return {"conditions": conditions, "differences": differences(by_condition, comparisons(names, sources)),
            "answer_held": answer_held_difference(by_condition, edit_rows, passages)}


def results_html(run: Run, results: dict | None) -> str | None:
    """The Results section of a knowledge run: per condition accuracy and log-likelihood with their intervals, the
    empty answers, loops and seconds, the judge's unread verdicts, then the paired differences; `results` is the
    run's results.json, or None when the run stopped before writing it (then summarised from the store)."""
    note = ""
    if results is None:
        results = partial_results(run)
        note = '<p class="note">No results.json (the run stopped first): summarised from the inner loops stored.</p>'
    if not results or not results.get("conditions"):
        return None
    rows = []
    conditions = results["conditions"].values()
    judged = any(c.get("judge_verdicts") for c in conditions)  # an "unread" column only under an LLM judge
    for name, c in results["conditions"].items():
        t = c.get("seconds_per_inner_loop") or {}
        ci = c.get("ci95") or [None, None]
        ll_ci = c.get("loglik_ci95") or [None, None]
        rows.append([name, pct(c.get("accuracy")), f"[{pct(ci[0])}, {pct(ci[1])}]", loglik_cell(c.get("loglik")),
                     f"[{loglik_cell(ll_ci[0])}, {loglik_cell(ll_ci[1])}]", pct(c.get("empty_share")),
                     c.get("n_questions", 0), c.get("n_inner_loops", 0), f"{t.get('train_s', 0):.1f}",
                     f"{t.get('quiz_s', 0):.1f}"]
                    + ([f"{c.get('judge_errors', 0)}/{c.get('judge_verdicts', 0)}"] if judged else []))
    metric = next(iter(conditions)).get("metric", "")
    extra = f" Continued pretraining, mode {results['mode']}." if "mode" in results else ""
    failed = sum(c.get("judge_errors", 0) for c in conditions) or results.get("judge_errors", 0)
    first = next((c["first_judge_error"] for c in conditions if c.get("first_judge_error")), None)
    if failed:
        first_note = f"; first: {first}" if first else ""
        extra += f" LLM judge: {failed} verdict(s) stayed unreadable and were not graded{first_note}."
    header = ["condition", "accuracy %", "95% CI", "loglik", "95% CI", "empty %", "questions", "loops", "train s",
              "quiz s"] + (["unread"] * judged)
    return note + table(header, rows) + (
        f'<p class="note">metric: {esc(metric)}; loglik: the gold answers\' mean log-likelihood, nats per token.'
        f"{esc(extra)}</p>") + _shapes_html(results["conditions"]) + "".join(
        f'<p class="note">{esc(line)}</p>' for line in format_answer_held(results.get("answer_held"))) + \
        differences_table(results.get("differences") or {})


def _shapes_html(conditions: dict) -> str:
    """The conditions' self-edit shapes (`seal.domains.knowledge.results.self_edit_shape`) as a table, or ''."""
    rows = edit_shape_rows(conditions)
    return table(list(EDIT_SHAPE_HEADER), rows) + f'<p class="note">{esc(EDIT_SHAPE_LEGEND)}</p>' if rows else ""
