"""The knowledge domain's tables (Table 2 of arXiv 2506.10943) and round curve (Figure 4).

Each condition reports accuracy (the mean over every graded answer) and knowledge, the gold answers' mean
log-likelihood (nats per token, the mean over every question's score; scored with the same adapted model in the same
inner loop). Their 95% intervals treat passages as the unit (Student t over per-passage means; for a single passage,
Wilson over answers for accuracy and t over questions for log-likelihood). The paired differences (passage - base,
self-edit - passage, external - passage, checkpoint - passage) are taken per question, each condition's value
averaged over its seeds and self-edits, with a t interval over passages (`seal.reports.stats`). The round curve adds
each round's paired difference from round 0 on the held-out questions (`vs_round0`).
"""

from __future__ import annotations

from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import self_edit_pieces
from seal.grading.exact import contains_words, normalize_answer
from seal.reports.curve import with_rounds
from seal.reports.htmlkit import pct
from seal.reports.stats import format_difference, paired_rows, pooled_interval, wilson
from seal.reports.tables import interval

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


def self_edit_shape(edits: list[tuple[str, Passage]]) -> dict | None:
    """What one condition's self-edits are like, to read the order of a table's sources by (issue 26: length,
    restatement, grounding), from (self-edit text, its passage) pairs; None when there are none.

    - `words`: mean words per self-edit (whitespace-separated);
    - `documents`: mean training documents per self-edit (`seal.domains.knowledge.parse.self_edit_pieces`; the passage,
      trained on beside them in every condition, not counted);
    - `passage_words`: mean share of the passage's distinct content words the self-edit restates (stems of
      `seal.learn.grounding.content_stems`);
    - `grounded`: share of the self-edits' sentences found in their passage (`seal.learn.grounding.edit_check` at
      the grounding filter's default threshold, 0.6), over every sentence that claims something;
    - `answers`: share of the passages' quiz questions whose gold answer the self-edit holds as whole words
      (`seal.grading.exact.contains_words`; the passage itself holds every answer).

    >>> from seal.domains.knowledge.data import QA
    >>> p = Passage("x", "Tor", "Tor is a harbour town with 12 bridges.", (QA("How many bridges?", ("12",)),))
    >>> shape = self_edit_shape([("Tor has 12 bridges.\\nTor sings.", p)])
    >>> shape["words"], shape["documents"], shape["grounded"], shape["answers"]
    (6.0, 2.0, 0.5, 1.0)
    """
    if not edits:
        return None
    from seal.learn.grounding import GroundingConfig, content_stems, edit_check

    threshold = GroundingConfig().threshold
    checks = [edit_check(text, p.context, threshold, 0.0) for text, p in edits]
    claims = sum(c.n_sentences for c in checks)
    restated = [len(passage & content_stems(text)) / max(1, len(passage))
                for text, passage in ((text, content_stems(p.context)) for text, p in edits)]
    held = [h for text, p in edits for h in answers_held(text, p)]
    return {"n": len(edits), "words": sum(len(text.split()) for text, _ in edits) / len(edits),
            "documents": sum(len(self_edit_pieces(text)) for text, _ in edits) / len(edits),
            "passage_words": sum(restated) / len(restated),
            "grounded": (claims - sum(len(c.dropped) for c in checks)) / claims if claims else None,
            "answers": sum(held) / len(held) if held else None}


def answers_held(text: str, passage: Passage) -> list[bool]:
    """Per quiz question of `passage`, whether `text` holds one of its gold answers as whole words
    (`seal.grading.exact.contains_words`)."""
    return [any(contains_words(text, normalize_answer(a)) for a in q.answers) for q in passage.questions]


def answer_held_difference(rows: dict[str, list[dict]], edit_rows: dict[str, list[dict]],
                           passages: list[Passage]) -> dict[str, dict] | None:
    """Whether what a self-edit restates is what it teaches (issue 26: reading the order of the sources): per measure
    (`accuracy`, `loglik`), the paired difference, per question, between the inner loops whose self-edit holds that
    question's gold answer as whole words (`seal.grading.exact.contains_words`) and those whose self-edit does not,
    pooled over every condition with self-edits (`rows` and `edit_rows` by condition), then averaged within each
    passage with a t interval over passages (`seal.reports.stats.paired_rows`; a question counts where both kinds of
    self-edit trained on it). None when no inner loop trained on a stored self-edit."""
    by_id = {p.id: p for p in passages}
    texts = {e["id"]: e["text"] for edits in edit_rows.values() for e in edits}
    held, other = [], []
    for row in (r for mine in rows.values() for r in mine):
        text, passage = texts.get(row.get("self_edit_id")), by_id.get(row["context_id"])
        if text is None or passage is None:
            continue
        flags = answers_held(text, passage)
        held.append(_only(row, flags, True))
        other.append(_only(row, flags, False))
    return paired_rows(held, other) if held else None


def _only(row: dict, flags: list[bool], keep: bool) -> dict:
    """`row` with its per-question values left only where `flags` is `keep` (None elsewhere: not counted)."""
    masked = {f: [v if flag == keep else None for v, flag in zip(row["details"][f], flags)]
              for f in ("scores", "logliks") if row["details"].get(f)}
    return {**row, "details": {**row["details"], **masked}}


def add_edit_shapes(conditions: dict[str, dict], edit_rows: dict[str, list[dict]], passages: list[Passage]) -> None:
    """Put each condition's `self_edit_shape` under `conditions[c]["self_edits"]`, from the stored self-edits its
    inner loops trained on (`edit_rows`: self_edits rows by condition); conditions without self-edits get none."""
    by_id = {p.id: p for p in passages}
    for name, edits in edit_rows.items():
        shape = self_edit_shape([(e["text"], by_id[e["context_id"]]) for e in edits if e["context_id"] in by_id])
        if shape is not None and name in conditions:
            conditions[name]["self_edits"] = shape


EDIT_SHAPE_HEADER = ("self-edits", "n", "words", "documents", "passage words %", "grounded %", "answers %")
EDIT_SHAPE_LEGEND = ("per self-edit: words, training documents (the passage besides), share of the passage's content "
                     "words restated; grounded: its sentences found in the passage; answers: quiz answers it holds")


def edit_shape_rows(conditions: dict[str, dict]) -> list[list[str]]:
    """One row of text cells (`EDIT_SHAPE_HEADER`) per condition with a self-edit shape (`self_edit_shape`)."""
    return [[name, str(e["n"]), f"{e['words']:.1f}", f"{e['documents']:.1f}", pct(e["passage_words"]),
             pct(e["grounded"]), pct(e["answers"])] for name, c in conditions.items() if (e := c.get("self_edits"))]


def format_edit_shapes(conditions: dict[str, dict]) -> list[str]:
    """The conditions' self-edit shapes (`self_edit_shape`) as lines, or none when no condition has self-edits."""
    rows = edit_shape_rows(conditions)
    if not rows:
        return []
    widths = (12, 4, 6, 9, 15, 10, 9)
    line = lambda cells: " ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(EDIT_SHAPE_HEADER)] + [line(r) for r in rows] + [EDIT_SHAPE_LEGEND]


def format_answer_held(d: dict[str, dict] | None) -> list[str]:
    """`answer_held_difference` as a line, or none."""
    if not d or d["loglik"]["mean"] is None and d["accuracy"]["mean"] is None:
        return []
    main = d["loglik"] if d["loglik"]["mean"] is not None else d["accuracy"]
    return [f"answer in the self-edit - not (same question, every condition with self-edits): accuracy "
            f"{format_difference(d['accuracy'], 100, 1)} points, loglik {format_difference(d['loglik'])} nats/token; "
            f"{main['n_items']} questions, {main['n_units']} {main['unit']}"]


def differences(rows: dict[str, list[dict]], pairs=DIFFERENCES) -> dict[str, dict]:
    """The paired differences `a - b` of `pairs` whose conditions both have rows, per measure: {"a - b": {"accuracy":
    paired_difference, "loglik": ...}} (`seal.reports.stats.paired_rows`: per question, t over passages)."""
    return {f"{a} - {b}": paired_rows(rows[a], rows[b]) for a, b in pairs if rows.get(a) and rows.get(b)}


def timing_summary(rows: list[dict]) -> dict:
    timed = [r["timings"] for r in rows if r["timings"]]
    if not timed:
        return {}
    return {k: sum(t.get(k, 0.0) for t in timed) / len(timed) for k in ("train_s", "quiz_s", "loglik_s")}


def format_differences(diffs: dict[str, dict], seeds: int | None = None) -> list[str]:
    """The paired differences as lines: accuracy in points, log-likelihood in nats per token, each with its 95%
    interval, and how many questions and passages (the interval's unit) they pair."""
    if not diffs:
        return []
    width = max(20, *(len(name) for name in diffs))  # "checkpoint - self-edit" is wider than the default
    lines = [f"{'paired difference':<{width}} {'accuracy':>9} {'95% CI':>17} {'loglik':>8} {'95% CI':>17} "
             f"{'questions':>9} {'unit':>12}"]
    for name, d in diffs.items():
        acc, ll = d["accuracy"], d["loglik"]
        main = ll if ll["mean"] is not None else acc  # the pairing both measures share, unless only accuracy ran
        acc_mean = "-" if acc["mean"] is None else f"{100 * acc['mean']:+.1f}"
        acc_ci = interval(*[None if x is None else 100 * x for x in acc["ci95"]], "{:+.1f}")
        ll_mean = "-" if ll["mean"] is None else f"{ll['mean']:+.3f}"
        unit = f"{main['n_units']} {main['unit']}"
        lines.append(f"{name:<{width}} {acc_mean:>9} {acc_ci:>17} {ll_mean:>8} {interval(*ll['ci95'], '{:+.3f}'):>17} "
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
        ci = interval(*[None if x is None else 100 * x for x in c["ci95"]], "{:.1f}")
        loglik = "-" if c.get("loglik") is None else f"{c['loglik']:.3f}"
        ll_ci = interval(*(c.get("loglik_ci95") or [None, None]), "{:.3f}")
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
    lines += format_edit_shapes(results["conditions"]) + format_answer_held(results.get("answer_held"))
    lines += format_differences(results.get("differences") or {}, results.get("seeds"))
    return "\n".join(lines)


def knowledge_curve(run, records: list[dict]) -> dict:
    """Accuracy and log-likelihood of the model's own self-edits per round, each round's paired difference from
    round 0 on the held-out questions (`vs_round0`), and the round-0 reference lines (Figure 4), from a
    `seal.store.runs.Run` of `seal knowledge train`. Works on the evaluations stored so far (an interrupted run:
    `records` are the `rounds` rows)."""
    evaluations = {e["round"]: e["payload"] for e in run.store.rows("evaluations") if e["condition"] == "round"}
    held_out = set(run.manifest.get("eval_ids") or [])

    def own(r: int) -> list[dict]:
        return [row for row in run.store.rows("inner_results", "condition='self-edit' AND round=?", (r,))
                if not held_out or row["context_id"] in held_out]

    passages = {c["id"]: Passage.from_dict(c["payload"]) for c in run.store.rows("contexts")
                if c["domain"] == "knowledge"}
    edits = {e["id"]: e for e in run.store.rows("self_edits", "condition='self-edit'")}

    def shape(rows: list[dict]) -> dict | None:  # what the round's held-out self-edits are like
        used = [edits[i] for i in {row["self_edit_id"] for row in rows} if i in edits]
        return self_edit_shape([(e["text"], passages[e["context_id"]]) for e in used if e["context_id"] in passages])

    first = evaluations[0]["conditions"]
    points = []
    for r in sorted(evaluations):
        c = evaluations[r]["conditions"]["self-edit"]
        points.append({"round": r, "accuracy": c["accuracy"], "ci95": c["ci95"], "loglik": c.get("loglik"),
                       "loglik_ci95": c.get("loglik_ci95", [None, None]), "self_edits": shape(own(r)),
                       "vs_round0": paired_rows(own(r), own(0)) if r > 0 else None})
    with_rounds(points, records)
    refs = [name for name in first if name != "self-edit"]  # base, passage and every file-given source
    return {"metric": first["self-edit"]["metric"], "rounds": points,
            "reference": {name: first[name]["accuracy"] for name in refs},
            "reference_loglik": {name: first[name].get("loglik") for name in refs},
            "round0_differences": evaluations[0].get("differences", {})}
