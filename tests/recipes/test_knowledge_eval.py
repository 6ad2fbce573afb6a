"""`seal knowledge eval` end to end on a tiny model: every condition, results.json, the store, and resume."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seal.store import Store

PASSAGES = [
    {"title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn.",
     "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                   {"question": "Who founded Tor?", "answer": "Ama Venn"}],
     "completions": ["Tor has twelve bridges.\nAma Venn founded Tor.", "Tor is by the sea.", "Tor is old."]},
    {"title": "Quelm", "context": "Quelm is a red mineral mined on Pell island since 1750.",
     "questions": [{"question": "What colour is Quelm?", "answer": "red"}],
     "completions": ["Quelm is red.", "Quelm comes from Pell.", "Mined since 1750."]},
]


def seal(*args, cwd):
    out = subprocess.run([sys.executable, "-m", "seal.cli", *args], capture_output=True, text=True, cwd=cwd,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    data = tmp / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    from seal.models import load

    model, tokenizer = load("tiny-llama", seed=7)  # another model plays a trained checkpoint
    model.save_pretrained(tmp / "ckpt")
    tokenizer.save_pretrained(tmp / "ckpt")
    args = ["knowledge", "eval", "--set", "model.name=tiny-llama", "--set", f"data.source={data}",
            "--set", "eval.conditions=[base, passage, self-edit, external, checkpoint]",
            "--set", f"eval.external_file={data}", "--set", f"eval.checkpoint={tmp / 'ckpt'}",
            "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=16", "--set", "inner.epochs=2",
            "--set", "inner.seeds=2", "--set", "inner.lora.r=4", "--set", "quiz.max_new_tokens=8",
            "--set", f"run.root={tmp / 'runs'}"]
    out = seal(*args, cwd=tmp)
    run_dir = Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))
    return tmp, run_dir, out.stdout


def test_table_results_and_store(finished):
    tmp, run_dir, stdout = finished
    assert stdout.strip().splitlines()[-1].startswith("run: ")
    results = json.loads((run_dir / "results.json").read_text())
    conditions = results["conditions"]
    assert list(conditions) == ["base", "passage", "self-edit", "external", "checkpoint"]
    for c in conditions.values():
        assert c["metric"] == "em" and c["n_questions"] == 3
        assert 0.0 <= c["accuracy"] <= 1.0 and c["ci95"][0] <= c["accuracy"] <= c["ci95"][1]
    store = Store(run_dir / "seal.db")
    count = lambda cond: len(store.rows("inner_results", "condition=?", (cond,)))  # noqa: E731
    assert (count("base"), count("passage"), count("self-edit"), count("external"), count("checkpoint")) == \
        (2, 2 * 2, 2 * 2 * 2, 2 * 2 * 2, 2 * 2 * 2)
    external = store.rows("self_edits", "condition='external'")
    assert [e["text"] for e in external[:2]] == PASSAGES[0]["completions"][:2]
    sampled = store.rows("self_edits", "condition='self-edit'")[0]
    assert sampled["prompt"] and sampled["sampling"]["temperature"] == 1.0 and sampled["seed"] is not None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert len(manifest["data_ids"]) == 2 and manifest["model_fingerprint"] and manifest["config"]["inner"]["seeds"] == 2


def test_resume_redoes_nothing(finished):
    tmp, run_dir, _ = finished
    store = Store(run_dir / "seal.db")
    before = [(r["key"], r["score"], r["created_at"]) for r in store.rows("inner_results")]
    seal("knowledge", "eval", "--resume", str(run_dir), cwd=tmp)
    after = [(r["key"], r["score"], r["created_at"]) for r in store.rows("inner_results")]
    assert after == before


def test_every_condition_reports_its_share_of_empty_answers(finished):
    from seal.domains.knowledge.results import knowledge_summary as summarize
    from seal.domains.knowledge.results import knowledge_table as format_table

    rows = [{"context_id": "a", "n_questions": 3, "details": {"predictions": ["", "  \n", "Quelmar"],
                                                              "scores": [0.0, 0.0, 1.0]}},
            {"context_id": "b", "n_questions": 1, "details": {"predictions": ["red"], "scores": [1.0]}}]
    summary = summarize(rows, "em")
    assert summary["empty_answers"] == 2 and summary["empty_share"] == 0.5
    loglik = summarize([{**r, "details": {"predictions": [""] * 3, "scores": [None] * 3}} for r in rows], "loglik")
    assert loglik["empty_answers"] is None and loglik["empty_share"] is None  # no answers are generated
    table = format_table({"conditions": {"external": summary, "passage": loglik}}).splitlines()
    assert table[0].split()[7:9] == ["empty", "%"]
    assert table[1].split()[6] == "50.0" and table[2].split()[4] == "-"

    _, run_dir, stdout = finished  # and in a real run's results.json and printed table
    conditions = json.loads((run_dir / "results.json").read_text())["conditions"]
    assert all(0.0 <= c["empty_share"] <= 1.0 for c in conditions.values()) and "empty %" in stdout


def test_both_measures_and_the_paired_differences(finished):
    from seal.domains.knowledge.results import DIFFERENCES
    from seal.reports.stats import t_interval

    _, run_dir, stdout = finished
    results = json.loads((run_dir / "results.json").read_text())
    for c in results["conditions"].values():  # every condition scored the gold answers' log-likelihood
        assert c["loglik"] < 0 and c["loglik_ci95"][0] <= c["loglik"] <= c["loglik_ci95"][1]
    assert list(results["differences"]) == [f"{a} - {b}" for a, b in DIFFERENCES] + [
        "external - base", "external - self-edit", "external - checkpoint"]
    store = Store(run_dir / "seal.db")

    def per_question(condition):  # the mean over a condition's seeds and self-edits, per (passage, question)
        values = {}
        for row in store.rows("inner_results", "condition=?", (condition,)):
            for i, v in enumerate(row["details"]["logliks"]):
                values.setdefault((row["context_id"], i), []).append(v)
        return {k: sum(v) / len(v) for k, v in values.items()}

    for a, b in DIFFERENCES:  # recomputed by hand from the stored rows: per question, then per passage, t(1)
        qa, qb = per_question(a), per_question(b)
        by_passage = {}
        for (pid, i), v in qa.items():
            by_passage.setdefault(pid, []).append(v - qb[(pid, i)])
        mean, lo, hi = t_interval([sum(v) / len(v) for v in by_passage.values()])
        d = results["differences"][f"{a} - {b}"]["loglik"]
        assert (d["unit"], d["n_units"], d["n_items"]) == ("passages", 2, 3)
        assert d["mean"] == pytest.approx(mean) and d["ci95"] == pytest.approx([lo, hi])
        acc = results["differences"][f"{a} - {b}"]["accuracy"]
        assert acc["n_items"] == 3 and -1.0 <= acc["mean"] <= 1.0
        assert any(line.split()[:3] == [a, "-", b] and f"{d['mean']:+.3f}" in line for line in stdout.splitlines())
    header = next(line for line in stdout.splitlines() if line.startswith("condition"))
    assert header.split()[4] == "loglik"


def test_each_source_reports_what_its_self_edits_are_like(finished):
    """results.json, the printed table and the report give each condition with self-edits their shape, from the
    self-edits stored; the file-given source's figures are worked out by hand from PASSAGES (its first 2 of each)."""
    from seal.reports.html import build_report

    _, run_dir, stdout = finished
    conditions = json.loads((run_dir / "results.json").read_text())["conditions"]
    assert "self_edits" not in conditions["base"] and "self_edits" not in conditions["passage"]
    assert all(conditions[c]["self_edits"]["n"] == 4 for c in ("self-edit", "external", "checkpoint"))
    external = conditions["external"]["self_edits"]
    assert external["words"] == (8 + 5 + 3 + 4) / 4 and external["documents"] == (2 + 1 + 1 + 1) / 4
    assert external["answers"] == pytest.approx(2 / 6)  # "Ama Venn" and "red", of 3 questions x 2 self-edits
    assert external["grounded"] == pytest.approx(4 / 5)  # "Tor is by the sea." alone is not in its passage
    assert any(line.split()[:2] == ["external", "4"] for line in stdout.splitlines())
    page = build_report(run_dir).read_text()
    assert "passage words %" in page and "answer in the self-edit - not" in page

    # answer in the self-edit - not: recomputed by hand from the stored rows (per question, then per passage)
    from seal.grading.exact import contains_words, normalize_answer
    from seal.reports.stats import t_interval

    store = Store(run_dir / "seal.db")
    texts = {e["id"]: e["text"] for e in store.rows("self_edits")}
    answers = {p: [[q["answer"]] for q in PASSAGES[i]["questions"]] for i, p in
               enumerate(json.loads((run_dir / "manifest.json").read_text())["data_ids"])}
    sides: dict = {}
    for row in store.rows("inner_results"):
        if row["self_edit_id"] is None:
            continue
        text = texts[row["self_edit_id"]]
        for i, v in enumerate(row["details"]["logliks"]):
            held = any(contains_words(text, normalize_answer(a)) for a in answers[row["context_id"]][i])
            sides.setdefault((row["context_id"], i), ([], []))[0 if held else 1].append(v)
    per_passage: dict = {}
    for (pid, _), (h, n) in sides.items():
        if h and n:
            per_passage.setdefault(pid, []).append(sum(h) / len(h) - sum(n) / len(n))
    mean, lo, hi = t_interval([sum(v) / len(v) for v in per_passage.values()])
    held = json.loads((run_dir / "results.json").read_text())["answer_held"]["loglik"]
    assert held["n_items"] == sum(len(v) for v in per_passage.values()) >= 2  # external holds "Ama Venn", "red"
    assert held["mean"] == pytest.approx(mean) and held["ci95"] == pytest.approx([lo, hi])
    assert "answer in the self-edit - not" in stdout


def test_named_self_edit_sources_side_by_side(tmp_path):
    """Two named sources (eval.external) are conditions of one table: each trains on its own file's first k
    self-edits of every passage, matched by text when the data gives ids and the files do not, and every source is
    paired with base, passage and the sources before it."""
    data = tmp_path / "passages.json"
    data.write_text(json.dumps([{k: v for k, v in p.items() if k != "completions"} | {"id": f"p{i}"}
                                for i, p in enumerate(PASSAGES)]))
    writers = {"writer-a": [["A one.", "A two.", "A three."], ["A four.", "A five."]],
               "writer-b": [["B one.", "B two."], ["B three.", "B four.", "B five."]]}
    for name, edits in writers.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(
            [{"title": p["title"], "context": p["context"], "completions": e} for p, e in zip(PASSAGES, edits)]))
    base = ["knowledge", "eval", "--set", "model.name=tiny-llama", "--set", "model.threads=1",
            "--set", f"data.source={data}", "--set", "self_edit.k=2", "--set", "inner.epochs=1",
            "--set", "inner.lora.r=4", "--set", "inner.seeds=1", "--set", "quiz.max_new_tokens=4",
            "--set", f"run.root={tmp_path / 'runs'}",
            "--set", "eval.conditions=[base, passage, writer-a, writer-b]"]
    sources = ["--set", f"eval.external.writer-a={tmp_path / 'writer-a.json'}",
               "--set", f"eval.external.writer-b={tmp_path / 'writer-b.json'}"]
    out = seal(*base, *sources, cwd=tmp_path)
    run_dir = Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["conditions"]) == ["base", "passage", "writer-a", "writer-b"]
    assert {"writer-a - base", "writer-a - passage", "writer-b - passage", "writer-b - writer-a"} <= \
        set(results["differences"])
    assert "writer-b - writer-a" in out.stdout
    store = Store(run_dir / "seal.db")
    for name, edits in writers.items():
        stored = store.rows("self_edits", "condition=?", (name,))
        assert sorted((e["context_id"], e["text"]) for e in stored) == sorted(
            (f"p{i}", t) for i, e in enumerate(edits) for t in e[:2])
        assert len(store.rows("inner_results", "condition=?", (name,))) == 2 * 2

    # a source with fewer self-edits than self_edit.k would pair unequal sets: refused before any work
    fails = subprocess.run([sys.executable, "-m", "seal.cli", *base, *sources, "--set", "self_edit.k=3"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert fails.returncode == 2 and "Traceback" not in fails.stderr
    assert "writer-a.json (eval.external.writer-a)" in fails.stderr and "self_edit.k=3" in fails.stderr


def test_a_resume_adds_rows_to_a_finished_table(tmp_path):
    """A finished evaluation resumed with more conditions (a named source and a checkpoint, with what they read)
    runs only the new ones, keeps every finished row as it was, and pairs the new rows with the old; dropping a
    recorded condition or pointing a recorded one at other data is refused by name, before any work."""
    data = tmp_path / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    from seal.models import load

    model, tokenizer = load("tiny-llama", seed=3)
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    out = seal("knowledge", "eval", "--set", "model.name=tiny-llama", "--set", "model.threads=1",
               "--set", f"data.source={data}", "--set", "self_edit.k=1", "--set", "self_edit.max_new_tokens=8",
               "--set", "inner.epochs=1", "--set", "inner.lora.r=4", "--set", "inner.seeds=1",
               "--set", "quiz.max_new_tokens=4", "--set", f"run.root={tmp_path / 'runs'}",
               "--set", "eval.conditions=[base, passage]", cwd=tmp_path)
    run_dir = Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))
    store = Store(run_dir / "seal.db")
    finished = [(r["key"], r["score"], r["created_at"]) for r in store.rows("inner_results")]

    def resume(*sets):
        return subprocess.run([sys.executable, "-m", "seal.cli", "knowledge", "eval", "--resume", str(run_dir),
                               *[a for s in sets for a in ("--set", s)]],
                              capture_output=True, text=True, cwd=tmp_path, timeout=600)

    added = resume("eval.conditions=[base, passage, writer, checkpoint]", f"eval.external.writer={data}",
                   f"eval.checkpoint={tmp_path / 'ckpt'}")
    assert added.returncode == 0, added.stderr
    rows = store.rows("inner_results")
    assert [(r["key"], r["score"], r["created_at"]) for r in rows if r["condition"] in ("base", "passage")] == finished
    assert sorted({r["condition"] for r in rows}) == ["base", "checkpoint", "passage", "writer"]
    assert len([r for r in rows if r["condition"] == "checkpoint"]) == len(PASSAGES)
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["conditions"]) == ["base", "passage", "writer", "checkpoint"]
    assert {"writer - passage", "checkpoint - passage"} <= set(results["differences"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["resumes"][-1]["changed"]["eval.conditions"] == [["base", "passage"],
                                                                     ["base", "passage", "writer", "checkpoint"]]

    for sets, key in ((["eval.conditions=[base, writer, checkpoint]"], "eval.conditions"),
                      ([f"eval.checkpoint={tmp_path}"], "eval.checkpoint"),
                      ([f"eval.external.writer={tmp_path / 'other.json'}"], "eval.external.writer")):
        refused = resume(*sets)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"--resume cannot change {key}" in refused.stderr, refused.stderr
    assert [(r["key"], r["created_at"]) for r in store.rows("inner_results")] == [(r["key"], r["created_at"])
                                                                                   for r in rows]
