"""The real `seal` command in a subprocess: help, listings, one-line errors with exit status 2, and run directories
that stay one run's: refused resumes, damaged runs, the lock, a kill -9 and its resume, secrets."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from damaged_runs import damage

from seal.config import to_dict
from seal.domains.knowledge.config import KnowledgeConfig
from seal.store import create_run


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


def test_config_show_of_a_command_lists_only_the_sections_it_reads():
    sections = lambda out: {line.split(":")[0] for line in out.splitlines() if line and line[0].isalpha()}  # noqa: E731
    every = sections(seal("config", "show", "knowledge").stdout)
    assert {"outer", "cpt", "continual", "reward"} <= every
    train = sections(seal("config", "show", "knowledge", "train").stdout)
    assert "outer" in train and "reward" in train and not {"cpt", "continual"} & train
    continual = sections(seal("config", "show", "knowledge", "continual").stdout)
    assert "continual" in continual and not {"outer", "cpt", "reward", "eval", "executor"} & continual
    assert continual < every and train < every
    out = seal("config", "show", "knowledge", "learn")
    assert out.returncode == 2 and "unknown command knowledge 'learn' (known: eval, train, cpt, continual)" in out.stderr


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
    (["knowledge", "train", "--set", "model.name=tiny-llama", "--set", "reward.kind=judge",
      "--set", "reward.judge.base_url=http://user:sk-proj-Zx81KqPw02LmNb@127.0.0.1:9/v1",
      "--set", "outer.eval_contexts=1", "--set", "outer.contexts_per_round=1"],
     "reward.judge.base_url: credentials in the URL (user:password@) are not supported"),  # and not shown
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "EMPTY").write_text("[]")
    (tmp_path / "NOQ").write_text(json.dumps([{"title": "t", "context": "c", "questions": []}]))
    run_root = ["--set", f"run.root={tmp_path / 'runs'}"] if args[0] == "knowledge" else []
    out = seal(*args, *run_root, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "runs").glob("*"))  # a run that failed on its input, holding nothing, is removed


def test_a_runs_root_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    for out in (seal("knowledge", "eval", "--set", f"run.root={tmp_path / 'file'}", "--set", "data.n=1"),
                seal("knowledge", "eval", "--set", "data.n=1", env=os.environ | {"SEAL_RUNS": str(tmp_path / "file")}),
                seal("runs", "--root", str(tmp_path / "file"))):
        assert out.returncode == 2 and str(tmp_path / "file") in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def finished_run(tmp_path, **config):
    """A finished `knowledge eval` run directory with the default config (updated by `config` sections)."""
    run = create_run(tmp_path / "runs", "knowledge eval", "done", to_dict(KnowledgeConfig()) | config, argv=["seal"])
    run.store.add_evaluation(key="e", condition="base", payload={"accuracy": 0.5})
    run.finish()
    run.close()
    return run.dir


def snapshot(run_dir: Path) -> tuple:
    conn = sqlite3.connect(run_dir / "seal.db")
    meta = sorted(conn.execute("SELECT * FROM meta").fetchall())
    conn.close()
    return (run_dir / "manifest.json").read_bytes(), meta, (run_dir / "seal.lock").read_bytes()


JUDGE = {"backend": "openai", "base_url": "https://user:sk-proj-Zx81KqPw02LmNb@judge.example/v1", "model": "m",
         "api_key_env": "OPENAI_API_KEY", "timeout_s": 30.0, "max_retries": 3, "backoff_s": 1.0, "max_workers": 8}


@pytest.mark.parametrize("args, message, secret", [
    (["knowledge", "train"], "is a 'knowledge eval' run, not 'knowledge train'", False),
    (["knowledge", "eval", "--set", "model.threads=x"], "model.threads: expected an integer", False),
    (["knowledge", "eval", "--set", "inner.epochs=3", "--set", "data.n=2", "--set", "model.threads=1"],
     "--resume cannot change data.n, inner.epochs:", False),
    (["knowledge", "eval", "--config", "missing.yaml"], "config file not found", False),
    (["knowledge", "eval", "--set", "model.threads=1"],  # a run recorded before credentials in URLs were refused
     "quiz.judge.base_url: credentials in the URL (user:password@) are not supported", True),
])
def test_a_refused_resume_writes_nothing(tmp_path, args, message, secret):
    run_dir = finished_run(tmp_path, **({"quiz": to_dict(KnowledgeConfig())["quiz"] | {"judge": JUDGE}}
                                        if secret else {}))
    before = snapshot(run_dir)
    out = seal(*args, "--resume", str(run_dir), cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert snapshot(run_dir) == before
    assert "finished" in seal("runs", "--root", str(tmp_path / "runs")).stdout


@pytest.mark.parametrize("kind", ["truncated manifest", "manifest without config", "config not in sections",
                                  "seal.db not a database", "seal.db empty"])
def test_damaged_runs_are_one_line_under_report_runs_and_resume(tmp_path, kind):
    run_dir = finished_run(tmp_path)
    file = run_dir / damage(run_dir, kind)
    for args in (["report", str(run_dir)], ["runs", "--root", str(tmp_path / "runs")],
                 ["knowledge", "eval", "--resume", str(run_dir)]):
        out = seal(*args, cwd=tmp_path)
        assert out.returncode == 2 and str(file) in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert f"{run_dir} " in seal("runs", "--root", str(tmp_path / "runs")).stdout  # listed, with the error after


def test_kill_9_lock_and_resume_with_run_time_overrides(tmp_path):
    """A second process on a running run gets a one-line error naming the holder; after kill -9 the run resumes
    (secrets given again, a run-time setting changed and recorded) and ends finished with no secret stored."""
    key = "sk-proj-Zx81KqPw02LmNb"
    data = tmp_path / "passages.json"
    data.write_text(json.dumps([{"title": "Tor", "context": "Tor is a harbour town with 12 bridges.",
                                 "questions": [{"question": "How many bridges?", "answer": "12"}]}]))
    args = ["knowledge", "eval", "--set", "model.name=tiny-llama", "--set", f"data.source={data}",
            "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=8", "--set", "inner.epochs=20",
            "--set", "inner.seeds=3", "--set", "quiz.max_new_tokens=4", "--set", "model.threads=1"]
    secrets = ["--set", f"quiz.judge.api_key_env={key}", "--set", "quiz.judge.base_url=https://h/v1"]
    first = subprocess.Popen([sys.executable, "-m", "seal.cli", *args, *secrets, "--set", f"run.root={tmp_path}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, run_dir = time.time() + 240, None
        while time.time() < deadline and run_dir is None:  # once it has finished a unit
            for db in tmp_path.glob("*/seal.db"):
                conn = sqlite3.connect(db, timeout=30)
                try:
                    if conn.execute("SELECT COUNT(*) FROM inner_results").fetchone()[0]:
                        run_dir = db.parent
                except sqlite3.OperationalError:  # the store's tables are not made yet
                    pass
                conn.close()
            time.sleep(0.5)
        os.kill(first.pid, signal.SIGSTOP)  # frozen mid-run, holding the run, so that it cannot finish meanwhile
        assert run_dir is not None and first.poll() is None
        second = seal("knowledge", "eval", "--resume", str(run_dir))
        assert second.returncode == 2 and f"is in use by process {first.pid} " in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert "interrupted" in seal("runs", "--root", str(tmp_path)).stdout
    resumed = seal("knowledge", "eval", "--resume", str(run_dir), *secrets, "--set", "executor.max_retries=5")
    assert resumed.returncode == 0, resumed.stderr
    assert "finished" in seal("runs", "--root", str(tmp_path)).stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["resumes"][-1]["changed"]["executor.max_retries"] == [3, 5]
    assert manifest["config"]["executor"]["max_retries"] == 5
    assert seal("report", str(run_dir)).returncode == 0
    for stored in (run_dir / "manifest.json", run_dir / "report" / "report.html"):
        assert key not in stored.read_text()


def test_what_a_resume_may_change(tmp_path):
    """Run-time keys change and are returned as [recorded, new]; the same config file again changes nothing; keys
    that change what is computed are refused by name."""
    from seal.store.resume import resumed_config as _resumed_config
    from seal.config import to_yaml
    from seal.errors import SealError
    from seal.store.runs import read_run

    run = read_run(finished_run(tmp_path))
    (tmp_path / "same.yaml").write_text(to_yaml(KnowledgeConfig()))
    assert _resumed_config(run, "knowledge eval", KnowledgeConfig, tmp_path / "same.yaml", [])[1] == {}
    cfg, changed = _resumed_config(run, "knowledge eval", KnowledgeConfig, None, [
        "model.threads=2", "executor.kind=ray", "executor.num_workers=2", "generation.enforce_eager=true",
        "quiz.judge.timeout_s=5", "reward.judge.base_url=http://127.0.0.1:8000/v1"])
    assert changed == {"model.threads": [0, 2], "quiz.judge.timeout_s": [30.0, 5.0],
                       "reward.judge.base_url": ["", "http://127.0.0.1:8000/v1"], "executor.kind": ["local", "ray"],
                       "executor.num_workers": [1, 2], "generation.enforce_eager": [False, True]}
    assert cfg.executor.kind == "ray" and cfg.model.threads == 2
    for key in ("model.name=x", "model.device=cpu", "generation.backend=vllm", "quiz.judge.model=other",
                "run.seed=1", "inner.lora.r=8", "self_edit.batch_size=2"):
        with pytest.raises(SealError, match=f"--resume cannot change {key.split('=')[0]}:"):
            _resumed_config(run, "knowledge eval", KnowledgeConfig, None, [key])
    run.close()


def test_a_resume_of_a_run_recorded_before_a_key_existed(tmp_path):
    """A key missing from the recorded config (added since) is its default, not a change; a recorded value the
    current code rejects can be replaced when its key is run-time."""
    from seal.store.resume import resumed_config as _resumed_config
    from seal.errors import SealError
    from seal.store.runs import read_run

    recorded = to_dict(KnowledgeConfig())
    del recorded["quiz"]["judge"]["timeout_s"], recorded["executor"]["max_retries"]
    recorded["executor"]["num_workers"] = 0
    run = read_run(finished_run(tmp_path, **recorded))
    with pytest.raises(SealError, match="executor"):
        _resumed_config(run, "knowledge eval", KnowledgeConfig, None, [])
    cfg, changed = _resumed_config(run, "knowledge eval", KnowledgeConfig, None, ["executor.num_workers=1"])
    assert changed == {"executor.num_workers": [0, 1]} and cfg.quiz.judge.timeout_s == 30.0
    run.close()


def test_only_an_evaluation_may_gain_conditions_on_resume(tmp_path):
    """Adding conditions is a resume's change only for an evaluation: a training run's rounds were evaluated on
    the recorded conditions, so `knowledge train` refuses it by name."""
    from seal.store.resume import adds_a_row

    assert adds_a_row("knowledge eval", "eval.conditions", ["base"], ["base", "passage"])
    assert adds_a_row("arc eval", "eval.conditions", ["icl"], ["icl", "oracle"])
    assert not adds_a_row("knowledge train", "eval.conditions", ["base"], ["base", "passage"])
    assert not adds_a_row("knowledge eval", "eval.conditions", ["base", "passage"], ["base"])
    assert adds_a_row("knowledge eval", "eval.external.w", None, "w.json")
    assert not adds_a_row("knowledge eval", "eval.external.w", "v.json", "w.json")
    assert adds_a_row("knowledge eval", "eval.checkpoint", "", "ckpt")
    assert not adds_a_row("knowledge eval", "eval.checkpoint", "a", "b")
    assert not adds_a_row("knowledge eval", "data.n", 0, 5)
