"""`seal knowledge train` on a tiny model: two ReST-EM rounds end to end, and a SIGKILL in the middle of a round
followed by `--resume` ends with exactly the records of an uninterrupted run."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seal.models import fingerprint, load
from seal.store import Store

ARGS = ["--set", "model.name=tiny-llama", "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=16",
        "--set", "inner.epochs=1", "--set", "inner.seeds=2", "--set", "inner.lora.r=4", "--set", "quiz.max_new_tokens=8",
        "--set", "outer.rounds=2", "--set", "outer.contexts_per_round=3", "--set", "outer.eval_contexts=2",
        "--set", "outer.keep=all-positive", "--set", "reward.kind=loglik", "--set", "outer.sft.batch_size=1",
        "--set", "outer.sft.grad_accum=1", "--set", "model.threads=1"]


def seal_cmd(*args):
    return [sys.executable, "-m", "seal.cli", "knowledge", "train", *args]


def without_timings(conditions: dict) -> dict:
    return {name: {k: v for k, v in c.items() if k != "seconds_per_inner_loop"} for name, c in conditions.items()}


def records(run_dir: Path) -> dict:
    store = Store(run_dir / "seal.db")
    return {
        "self_edits": [(r["key"], r["text"], r["seed"]) for r in store.rows("self_edits")],
        "inner": sorted((r["key"], r["score"], r["reward"]) for r in store.rows("inner_results")),
        "evaluations": sorted((r["key"], json.dumps(without_timings(r["payload"]["conditions"]), sort_keys=True))
                              for r in store.rows("evaluations")),
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    out = subprocess.run(seal_cmd(*ARGS, "--set", f"run.root={tmp}"), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip().splitlines()[-1].removeprefix("run: ")), out.stdout


def test_two_rounds_end_to_end(uninterrupted):
    run_dir, stdout = uninterrupted
    curve = json.loads((run_dir / "curve.json").read_text())
    assert [p["round"] for p in curve["rounds"]] == [0, 1, 2]
    assert set(curve["reference"]) == {"base", "passage"} and (run_dir / "curve.png").stat().st_size > 1000
    # both measures per round, and each round's own self-edits against round 0's on the same held-out questions
    assert all(p["loglik"] < 0 for p in curve["rounds"]) and set(curve["reference_loglik"]) == {"base", "passage"}
    assert curve["rounds"][0]["vs_round0"] is None
    for p in curve["rounds"][1:]:
        for measure in ("accuracy", "loglik"):
            d = p["vs_round0"][measure]
            assert (d["unit"], d["n_units"]) == ("passages", 2) and d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert set(curve["round0_differences"]) == {"passage - base", "self-edit - passage"}
    assert "vs round 0: accuracy" in stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    eval_ids, round_ids = set(manifest["eval_ids"]), manifest["round_ids"]
    assert len(eval_ids) == 2 and all(len(ids) == 3 for ids in round_ids.values())
    assert not eval_ids & set(round_ids["1"]) and not set(round_ids["1"]) & set(round_ids["2"])
    for r in (1, 2):  # each round's checkpoint is a normal model directory, trained away from its start
        model, _ = load(str(run_dir / "checkpoints" / f"round-{r}"))
        assert fingerprint(model) != fingerprint(load("tiny-llama")[0])
    store = Store(run_dir / "seal.db")
    rounds = store.rows("rounds")
    assert [r["status"] for r in rounds] == ["done", "done"]
    assert rounds[0]["payload"]["e_step"]["signal_to_noise"]["ratio"] is not None
    # on-policy: round 2 samples from round 1's checkpoint, so its self-edits differ from round 1's
    assert len(store.rows("self_edits", "round=2 AND condition='train'")) == 6
    assert "round" in stdout and stdout.strip().splitlines()[-1].startswith("run: ")
    # what each round's held-out self-edits are like: 2 passages x 2 self-edits, their words counted from the store
    for p in curve["rounds"]:
        held = [r for r in store.rows("inner_results", "condition='self-edit' AND round=?", (p["round"],))]
        texts = {e["id"]: e["text"] for e in store.rows("self_edits")}
        used = [texts[i] for i in {r["self_edit_id"] for r in held}]
        assert p["self_edits"]["n"] == len(used) == 4
        assert p["self_edits"]["words"] == pytest.approx(sum(len(t.split()) for t in used) / 4)
    assert [line.split()[:3] for line in stdout.splitlines() if line.startswith("round 2 ")] == [["round", "2", "4"]]


def test_sigkill_mid_round_then_resume_matches(uninterrupted, tmp_path):
    proc = subprocess.Popen(seal_cmd(*ARGS, "--set", f"run.root={tmp_path}"), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 300
    db = None
    while time.time() < deadline:  # kill once round 1 has some, but not all, of its rewards
        dbs = list(tmp_path.glob("*/seal.db"))
        if dbs:
            db = dbs[0]
            try:
                n = sqlite3.connect(db).execute(
                    "SELECT COUNT(*) FROM inner_results WHERE condition='train' AND round=1").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if 2 <= n < 12:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_dir = db.parent
    assert not (run_dir / "curve.json").exists()
    out = subprocess.run(seal_cmd("--resume", str(run_dir)), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    resumed, reference = records(run_dir), records(uninterrupted[0])
    assert len(reference["evaluations"]) == 3 and len(reference["inner"]) > 30
    assert resumed == reference


def rating(notes: str) -> int:
    """The test judge's deterministic rating of a self-edit (0..10)."""
    return len((notes.strip() or "(empty)").split()) % 11


def test_judge_reward_stops_cleanly_when_the_judge_fails_and_resumes(tmp_path):
    from openai_server import completion, serve, user_text

    judge = {"down_after": None}

    def reply(request, auth, n):
        if judge["down_after"] is not None and n > judge["down_after"]:
            return 503, "{}", 0.0
        return 200, completion(f"Rating: {rating(user_text(request).split('Notes:', 1)[1].split('Rate how')[0])}"), 0.0

    with serve(reply) as (url, stats):
        args = [*ARGS, "--set", "reward.kind=judge", "--set", f"reward.judge.base_url={url}",
                "--set", "reward.judge.max_retries=0", "--set", "outer.rounds=1", "--set", "outer.eval_contexts=1",
                "--set", "outer.keep=best"]
        whole = subprocess.run(seal_cmd(*args, "--set", f"run.root={tmp_path / 'a'}"), capture_output=True, text=True,
                               timeout=600)
        assert whole.returncode == 0, whole.stderr
        run_a = Path(whole.stdout.strip().splitlines()[-1].removeprefix("run: "))
        store = Store(run_a / "seal.db")
        edits = {r["id"]: r["text"] for r in store.rows("self_edits", "condition='train'")}
        rows = store.rows("inner_results", "condition='train'")
        assert len(rows) == len(edits) == 6 and {r["seed"] for r in rows} == {0}  # one rating, no seeds
        for r in rows:  # reward = rating / 10 - 0.5, and no inner loop ran
            assert r["reward"] == pytest.approx(rating(edits[r["self_edit_id"]]) / 10 - 0.5)
            assert "judge_s" in r["timings"] and "train_s" not in r["timings"]
        manifest = json.loads((run_a / "manifest.json").read_text())
        assert manifest["reward"]["kind"] == "judge" and manifest["reward"]["seeds"] == 1
        assert [p["round"] for p in json.loads((run_a / "curve.json").read_text())["rounds"]] == [0, 1]

        judge["down_after"] = stats["posts"] + 3  # the judge goes down after 3 more ratings
        failed = subprocess.run(seal_cmd(*args, "--set", f"run.root={tmp_path / 'b'}"), capture_output=True,
                                text=True, timeout=600)
        assert failed.returncode == 2
        error = failed.stderr.strip().splitlines()[-1]  # one line, after the progress log
        assert error.startswith("error: rating a self-edit") and "503" in error and "Traceback" not in failed.stderr
        run_b = next((tmp_path / "b").iterdir())
        assert len(Store(run_b / "seal.db").rows("inner_results", "condition='train'")) == 3  # finished ones kept

        judge["down_after"] = None
        resumed = subprocess.run(seal_cmd("--resume", str(run_b)), capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
    assert records(run_b) == records(run_a)
