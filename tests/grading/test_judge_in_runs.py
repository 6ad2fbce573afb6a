"""The LLM judges inside commands, on a tiny model and a real HTTP judge on 127.0.0.1: a failing grading judge stops
`seal knowledge eval` with a one-line error and keeps finished work, `--resume` asks only for what is missing, and
tolerated (unreadable) verdicts are counted in results.json, the table and the report, with each raw reply stored."""

import json
import subprocess
import sys
from pathlib import Path

from openai_server import completion, serve, user_text
from seal.reports.html import build_report
from seal.domains.knowledge.results import knowledge_summary as summarize
from seal.domains.knowledge.results import knowledge_table as format_table
from seal.store import Store

PASSAGES = [
    {"id": "tor", "title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded by Ama Venn.",
     "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                   {"question": "Who founded Tor?", "answer": "Ama Venn"}]},
    {"id": "quelm", "title": "Quelm", "context": "Quelm is a red mineral mined on Pell island since 1750.",
     "questions": [{"question": "What colour is Quelm?", "answer": "red"},
                   {"question": "Where is Quelm mined?", "answer": "Pell island"},
                   {"question": "Since when is Quelm mined?", "answer": "1750"}]},
]


def seal(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seal.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def eval_args(tmp: Path, url: str, *extra: str) -> list[str]:
    data = tmp / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    return ["knowledge", "eval", "--set", "model.name=tiny-llama", "--set", "model.threads=1",
            "--set", f"data.source={data}", "--set", "quiz.max_new_tokens=4", "--set", "quiz.metric=judge",
            "--set", f"quiz.judge.base_url={url}", "--set", "quiz.judge.max_retries=1",
            "--set", "quiz.judge.backoff_s=0.01", "--set", f"run.root={tmp / 'runs'}", *extra]


def test_failing_judge_stops_with_one_line_error_and_resume_asks_only_the_missing(tmp_path):
    judge = {"down": True}

    def quelm_fails_while_down(request, auth, n):
        if judge["down"] and "Quelm" in user_text(request):
            return 500, '{"error": "judge overloaded"}', 0.0
        return 200, completion("<think>Compare.</think> yes"), 0.0

    with serve(quelm_fails_while_down) as (url, stats):
        out = seal(*eval_args(tmp_path, url, "--set", "eval.conditions=[base]"), cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        error = out.stderr.strip().splitlines()[-1]
        assert error.startswith("error: grading the quiz on passage quelm: LLM judge at " + url)
        assert "failed 2 time(s)" in error and 'HTTP 500: {"error": "judge overloaded"}' in error
        assert "Traceback" not in out.stderr
        run_dir = next((tmp_path / "runs").iterdir())
        store = Store(run_dir / "seal.db")
        rows = store.rows("inner_results")
        assert [r["context_id"] for r in rows] == ["tor"]  # the finished passage is kept
        assert rows[0]["details"]["judge_replies"] == ["<think>Compare.</think> yes"] * 2
        assert rows[0]["details"]["judge_errors"] == [None, None] and rows[0]["score"] == 1.0

        judge["down"], asked = False, stats["posts"]
        out = seal("knowledge", "eval", "--resume", str(run_dir), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert stats["posts"] - asked == 3  # Quelm's three questions, nothing of Tor again
    rows = store.rows("inner_results")
    assert sorted(r["context_id"] for r in rows) == ["quelm", "tor"] and all(r["score"] == 1.0 for r in rows)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["conditions"]["base"]["accuracy"] == 1.0 and results["judge_errors"] == 0


def test_unreadable_verdicts_are_counted_in_results_table_and_report(tmp_path):
    def unsure_about_tor(request, auth, n):
        return 200, completion("Perhaps." if "Tor" in user_text(request) else "No"), 0.0

    with serve(unsure_about_tor) as (url, _):
        out = seal(*eval_args(tmp_path, url, "--set", "eval.conditions=[base,passage]", "--set", "inner.epochs=1",
                              "--set", "inner.seeds=1"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))
    results = json.loads((run_dir / "results.json").read_text())
    for c in results["conditions"].values():
        assert (c["judge_errors"], c["judge_verdicts"], c["n_inner_loops"], c["accuracy"]) == (2, 5, 2, 0.0)
        assert "reply is not yes or no: 'Perhaps.'" in c["first_judge_error"]
    assert results["judge_errors"] == 4
    assert "warning: LLM judge: 4 of 10 verdicts unreadable" in " ".join(out.stderr.split())
    table = out.stdout.split("report:")[0]
    assert table.splitlines()[0].split()[-1] == "unread" and table.splitlines()[1].split()[-1] == "2/5"
    assert "first: LLM judge at" in table
    base = Store(run_dir / "seal.db").get("inner_results", "r0/base/tor")
    assert base["details"]["judge_replies"] == ["Perhaps.", "Perhaps."] and base["score"] is None
    report = seal("report", str(run_dir), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    html = (run_dir / "report" / "report.html").read_text()
    assert "<th class=\"\">unread</th>" in html and "<td class=\"\">2/5</td>" in html
    assert "LLM judge: 4 verdict(s) stayed unreadable and were not graded" in html


def _row(context_id: str, scores: list, errors: list | None = None, n_questions: int = 2) -> dict:
    details = {"predictions": ["x"] * len(scores), "scores": scores} | ({"judge_errors": errors} if errors else {})
    return {"context_id": context_id, "details": details, "n_questions": n_questions}


def test_summarize_counts_loops_questions_and_judge_failures():
    """Loops and questions are counted even when no answer could be graded (they used to show 0)."""
    ungraded = summarize([_row("a", [None, None], ["bad", "bad"]), _row("a", [None, None], [None, "worse"])], "judge")
    assert ungraded["accuracy"] is None and ungraded["n_inner_loops"] == 2 and ungraded["n_questions"] == 2
    assert (ungraded["judge_errors"], ungraded["judge_verdicts"], ungraded["first_judge_error"]) == (3, 4, "bad")
    graded = summarize([_row("a", [1.0, 0.0]), _row("b", [1.0, None], n_questions=3)], "em")
    assert graded["accuracy"] == 2 / 3 and graded["n_questions"] == 5 and graded["n_passages"] == 2
    assert (graded["judge_errors"], graded["judge_verdicts"], graded["first_judge_error"]) == (0, 0, None)
    table = format_table({"conditions": {"base": graded}})
    assert "unread" not in table  # no judge, no column


def test_report_of_a_train_run_counts_unreadable_verdicts_of_its_round_evaluations(tmp_path):
    from seal.reports.html import build_report
    from seal.store.runs import create_run

    run = create_run(tmp_path, "knowledge train", "judged", {"quiz": {"metric": "judge"}}, argv=[])
    for r, failed in ((0, 2), (1, 3)):
        self_edit = {"accuracy": 0.5, "ci95": [0.2, 0.8], "metric": "judge", "n_questions": 4}
        run.store.add_evaluation(key=f"round/{r}", round=r, condition="round",
                                 payload={"conditions": {"self-edit": self_edit}, "judge_errors": failed})
    html = build_report(run.dir).read_text()
    assert "LLM judge: 5 verdict(s) in the round evaluations stayed unreadable and were not graded" in html


def test_a_rating_that_cannot_be_read_is_a_failed_rating_shown_not_a_stopped_run(tmp_path):
    """`knowledge train` with a rubric judge: "Score: 4 of 10" is 0.4; a reply with no readable rating leaves its
    self-edit without a reward (kept with its error and reply), the round table says so, and the run finishes."""
    replies = ["Score: 4 of 10", "Somewhere between 6 and 7, I would say."]

    def by_request(request, auth, n):
        return 200, completion(replies[n % 2]), 0.0

    data = tmp_path / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    with serve(by_request) as (url, _):
        out = seal("knowledge", "train", "--set", "model.name=tiny-llama", "--set", "model.threads=1",
                   "--set", f"data.source={data}", "--set", f"run.root={tmp_path / 'runs'}",
                   "--set", "outer.rounds=1", "--set", "outer.contexts_per_round=1", "--set", "outer.eval_contexts=1",
                   "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=8", "--set", "inner.epochs=1",
                   "--set", "inner.seeds=1", "--set", "reward.kind=judge", "--set", f"reward.judge.base_url={url}",
                   "--set", "reward.judge.max_retries=0", "--set", "reward.judge.max_workers=1",
                   "--set", "outer.sft.epochs=1", "--set", "quiz.max_new_tokens=4", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    store = Store(next((tmp_path / "runs").iterdir()) / "seal.db")
    rows = {r["details"]["judge_reply"]: r for r in store.rows("inner_results", "condition='train'")}
    assert rows[replies[0]]["score"] == 0.4 and abs(rows[replies[0]]["reward"] + 0.1) < 1e-9
    failed = rows[replies[1]]
    assert failed["reward"] is None and failed["score"] is None and replies[1] in failed["details"]["judge_error"]
    assert "round 1: 1 of 2 inner loops without a reward, not selected; first: " in out.stdout
    assert replies[1] in out.stdout
    page = build_report(next((tmp_path / "runs").iterdir())).read_text()
    assert "Round 1: 1 of 2 inner loops without a reward, not selected; first: " in page and replies[1] in page
