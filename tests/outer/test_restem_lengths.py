"""Issue 30, kind 1: ReST-EM with self-edit prompts longer than `outer.sft.max_length`. The round leaves such
contexts out before sampling and says how many in its record; when nothing is left to train on, the M-step is
skipped like a round without a positive reward, never a crash after the whole E-step."""

import subprocess
import sys
from pathlib import Path

from seal.store import Store

ARGS = ["--set", "model.name=tiny-llama", "--set", "self_edit.k=1", "--set", "self_edit.max_new_tokens=8",
        "--set", "inner.epochs=1", "--set", "inner.seeds=1", "--set", "inner.lora.r=4",
        "--set", "quiz.max_new_tokens=4", "--set", "outer.rounds=1", "--set", "outer.contexts_per_round=2", "--set", "outer.eval_contexts=1",
        "--set", "reward.kind=loglik", "--set", "outer.sft.max_length=48", "--set", "model.threads=1"]


def test_a_round_whose_prompts_leave_no_room_skips_its_m_step(tmp_path):
    out = subprocess.run([sys.executable, "-m", "seal.cli", "knowledge", "train", *ARGS, "--set",
                          f"run.root={tmp_path}"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "2 of 2 contexts left out" in " ".join(out.stderr.split())
    run_dir = Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))
    (round_1,) = Store(run_dir / "seal.db").rows("rounds")
    e, m = round_1["payload"]["e_step"], round_1["payload"]["m_step"]
    assert round_1["status"] == "done" and e["contexts"] == 0 and e["self_edits"] == 0
    assert len(e["left_out_contexts"]) == 2 and min(e["left_out_contexts"].values()) > 46
    assert m == {"skipped": "no context's self-edit prompt fits outer.sft.max_length=48"}
    assert (run_dir / "checkpoints" / "round-1" / "m_step.json").is_file()
