import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from seal.store import Store, create_run, list_runs, open_run
from seal.store.runs import redact_argv


def test_units_are_written_once_and_read_back(tmp_path):
    store = Store(tmp_path / "seal.db")
    first = store.add_self_edit(key="a/0", context_id="p1", round=0, condition="self-edit", text="x",
                                sampling={"temperature": 1.0})
    again = store.add_self_edit(key="a/0", context_id="p1", round=0, condition="self-edit", text="other",
                                sampling={})
    assert first == again and store.count("self_edits") == 1
    store.add_inner_result(key="a/0/s0", self_edit_id=first, context_id="p1", round=0, condition="self-edit",
                           seed=0, score=0.5, base_score=0.25, n_questions=4, details={"scores": [1, 0]},
                           timings={"train_s": 1.0})
    row = store.get("inner_results", "a/0/s0")
    assert row["reward"] == 0.25 and row["details"] == {"scores": [1, 0]}
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_directories_are_never_reused(tmp_path):
    runs = [create_run(tmp_path, "knowledge eval", "same", {"a": {"b": 1}}, argv=["seal"]) for _ in range(3)]
    assert len({r.dir for r in runs}) == 3
    manifest = json.loads((runs[0].dir / "manifest.json").read_text())
    assert manifest["config"] == {"a": {"b": 1}} and "torch" in manifest["versions"]
    runs[0].finish()
    statuses = {r["dir"]: r["status"] for r in list_runs(tmp_path)}
    assert statuses[str(runs[0].dir)] == "finished" and statuses[str(runs[1].dir)] == "running"
    assert open_run(runs[0].dir).manifest["command"] == "knowledge eval"


def test_secrets_never_reach_the_manifest(tmp_path):
    argv = ["seal", "--set", "quiz.judge.api_key=sk-SECRET", "--set", "quiz.judge.api_key_env=MY_KEY", "hf_token=abc"]
    run = create_run(tmp_path, "x", "x", {}, argv=argv)
    text = (run.dir / "manifest.json").read_text()
    assert "sk-SECRET" not in text and "abc" not in text and "MY_KEY" in text
    assert redact_argv(["token=1"]) == ["token=***"]


WRITER = textwrap.dedent("""
    import sys
    from seal.store import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        store.add_inner_result(key=f"unit/{i}", context_id="p", round=0, condition="c", seed=i, score=1.0,
                               base_score=0.0, n_questions=100, details={"scores": [1.0] * 100, "i": i},
                               timings={"train_s": 0.1})
        print(i, flush=True)
        i += 1
""")


def test_sigkill_loses_at_most_the_unit_in_flight(tmp_path):
    db = tmp_path / "seal.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    committed = []
    for line in proc.stdout:
        committed.append(int(line))
        if len(committed) >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT key, details, n_questions FROM inner_results ORDER BY id").fetchall()
    keys = [r[0] for r in rows]
    assert set(f"unit/{i}" for i in committed) <= set(keys)  # nothing finished is lost
    assert keys == [f"unit/{i}" for i in range(len(keys))]  # no gaps, no duplicates
    for key, details, n in rows:  # no partial row
        assert n == 100 and len(json.loads(details)["scores"]) == 100
