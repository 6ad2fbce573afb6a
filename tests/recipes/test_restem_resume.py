"""A `seal knowledge train` killed (SIGKILL) while a round's new checkpoint is being evaluated keeps that round's
M-step log: it is saved inside the checkpoint, and the resumed round records it (issue 16: 6 of 16 kill trials lost
it)."""

import json
import os
import signal
import subprocess
import sys
import time

from seal.store import Store

ARGS = ["--set", "model.name=tiny-llama", "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=16",
        "--set", "inner.epochs=1", "--set", "inner.seeds=1", "--set", "inner.lora.r=4", "--set", "quiz.max_new_tokens=8",
        "--set", "outer.rounds=1", "--set", "outer.contexts_per_round=2", "--set", "outer.eval_contexts=1",
        "--set", "outer.keep=all-positive", "--set", "reward.kind=loglik", "--set", "outer.sft.batch_size=1",
        "--set", "outer.sft.grad_accum=1", "--set", "model.threads=1"]


def test_kill_during_the_rounds_evaluation_keeps_its_m_step_log(tmp_path):
    cmd = [sys.executable, "-m", "seal.cli", "knowledge", "train"]
    proc = subprocess.Popen([*cmd, *ARGS, "--set", f"run.root={tmp_path}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, checkpoint = time.time() + 300, None
    while time.time() < deadline and checkpoint is None and proc.poll() is None:
        found = list(tmp_path.glob("*/checkpoints/round-1"))  # appears, complete, by a rename after the M-step
        checkpoint = found[0] if found else None
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint is not None, "the run ended before its round-1 checkpoint appeared"
    run_dir = checkpoint.parents[1]
    store = Store(run_dir / "seal.db")
    assert store.rows("rounds")[0]["status"] == "m-step"  # killed after the M-step, before the round was recorded
    saved = json.loads((checkpoint / "m_step.json").read_text())
    assert saved["steps"] > 0 and len(saved["losses"]) == saved["steps"] and saved["pairs"] > 0

    resumed = subprocess.run([*cmd, "--resume", str(run_dir)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    (round_1,) = store.rows("rounds")
    assert round_1["status"] == "done" and round_1["payload"]["m_step"] == saved
