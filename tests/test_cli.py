"""The real `seal` command in a subprocess: help, listings, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import pytest


def seal(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "seal.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_help_and_listings(tmp_path):
    assert "knowledge" in seal("--help").stdout
    out = seal("data", "show", "builtin", "--n", "1")
    assert out.returncode == 0 and "40 passages" in out.stdout and "Q: " in out.stdout
    assert "tiny-llama" in seal("models").stdout
    shown = seal("config", "show", "knowledge", "--set", "inner.epochs=3")
    assert shown.returncode == 0 and "epochs: 3" in shown.stdout


@pytest.mark.parametrize("args, message", [
    (["data", "show", "missing.json"], "no such file"),
    (["config", "show", "knowledge", "--set", "inner.nope=1"], "inner.nope"),
    (["knowledge", "eval", "--set", "model.name=./no/such/model", "--set", "data.n=1"], "unknown model"),
    (["knowledge", "eval", "--set", "model.name=tiny-llama", "--set", "self_edit.family=nope",
      "--set", "eval.conditions=[self-edit]", "--set", "data.n=1"], "unknown prompt family"),
    (["knowledge", "eval", "--set", "data.source=EMPTY"], "no passages"),
    (["knowledge", "eval", "--set", "data.source=NOQ"], "no questions"),
    (["bench", "inner-loop", "--executor", "local,gpu-2"], "--executor"),
    (["knowledge", "cpt", "--set", "generation.backend=vllm", "--set", "data.n=1"], "needs hf"),
    (["knowledge", "eval", "--set", "generation.backend=vllm", "--set", "inner.multi=2"], "inner.multi=1"),
    (["knowledge", "train", "--set", "model.name=tiny-llama", "--set", "reward.kind=judge",
      "--set", "reward.judge.base_url=http://127.0.0.1:9/v1", "--set", "outer.eval_contexts=1",
      "--set", "outer.contexts_per_round=1"], "cannot reach"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "EMPTY").write_text("[]")
    (tmp_path / "NOQ").write_text(json.dumps([{"title": "t", "context": "c", "questions": []}]))
    run_root = ["--set", f"run.root={tmp_path / 'runs'}"] if args[0] == "knowledge" else []
    out = seal(*args, *run_root, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
