"""Run directories belong to one run whatever happens: the lock between processes, resumes that write only once
accepted, damaged manifests and stores as one-line errors, empty failed runs removed, secrets kept out."""

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from damaged_runs import DAMAGE, damage

from seal.errors import SealError
from seal.reports.html import build_report
from seal.store import Store, create_run, list_runs, open_run
from seal.store.runs import read_run, redact, redact_argv, redact_text, redacted_keys

KEYS = ["sk-proj-Zx81KqPw02LmNb", "sk-ant-api03-QqWe12Rt34", "sk-test1", "sk_live_4eC39HqLyjWDarjtT1",
        "hf_AbCdEfGhIjKlMnOpQrSt",
        "ghp_0123456789abcdefABCDEF", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln"]


@pytest.mark.parametrize("key", KEYS)
def test_values_in_key_formats_are_redacted_under_any_key(key):
    assert redact_argv([f"quiz.judge.api_key_env={key}", f"run.name={key}", key]) == \
        ["quiz.judge.api_key_env=***", "run.name=***", "***"]
    assert redact({"quiz": {"judge": {"api_key_env": key}}, "run": {"name": f"x-{key}"}}) == \
        {"quiz": {"judge": {"api_key_env": "***"}}, "run": {"name": "x-***"}}


def test_an_env_key_holding_no_variable_name_is_redacted():
    """`*_env` keys name an environment variable; anything else there is a key pasted by mistake."""
    assert redact_argv(["quiz.judge.api_key_env=sk-test", "reward.judge.api_key_env=my-key.123",
                        "quiz.judge.api_key_env=MY_JUDGE_KEY"]) == \
        ["quiz.judge.api_key_env=***", "reward.judge.api_key_env=***", "quiz.judge.api_key_env=MY_JUDGE_KEY"]
    assert redact({"judge": {"api_key_env": "a key with spaces", "backend": "openai"}}) == \
        {"judge": {"api_key_env": "***", "backend": "openai"}}


def test_url_credentials_query_secrets_and_secret_named_keys_are_redacted():
    assert redact_text("https://user:hunter2@judge.example/v1") == "https://***@judge.example/v1"
    assert redact_text("quiz.judge.base_url=http://tok@127.0.0.1:8000/v1") == \
        "quiz.judge.base_url=http://***@127.0.0.1:8000/v1"
    assert redact_text("http://h/v1?api_key=abc&model=m") == "http://h/v1?api_key=***&model=m"
    assert redact_text("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert redact_argv(["--set=hf_token=abc", "password=x", "reward.judge.api_key=plain"]) == \
        ["--set=hf_token=***", "password=***", "reward.judge.api_key=***"]
    assert redact({"api_key": "plain", "hf_token": "t", "token": None}) == {"api_key": "***", "hf_token": "***",
                                                                         "token": None}


def test_ordinary_values_are_kept():
    words = ["self_edit.max_new_tokens=128", "inner.max_doc_tokens=64", "quiz.judge.api_key_env=OPENAI_API_KEY",
             "quiz.judge.base_url=https://api.openai.com/v1", "model.name=Qwen/Qwen2.5-7B-Instruct",
             "data.source=runs/task-skeleton.json", "0123456789abcdef0123456789abcdef01234567"]
    assert redact_argv(words) == words
    assert redacted_keys({"quiz": {"judge": {"base_url": "https://***@h/v1", "model": "m"}}, "n": 3}) == \
        ["quiz.judge.base_url"]


def test_secrets_reach_neither_the_manifest_nor_the_run_dir_nor_the_report(tmp_path):
    key = "sk-proj-Zx81KqPw02LmNb"
    config = {"model": {"name": "tiny-llama"}, "run": {"name": key},
              "quiz": {"judge": {"api_key_env": key, "base_url": f"https://user:{key}@host/v1"}}}
    argv = ["seal", "--set", f"quiz.judge.api_key_env={key}", "--set", f"quiz.judge.base_url=https://u:{key}@h/v1"]
    run = create_run(tmp_path, "knowledge eval", key, config, argv=argv)
    run.update_manifest(extra={"note": f"Bearer {key}"})
    run.finish()
    run.close()
    text = (run.dir / "manifest.json").read_text()
    assert key not in text and key not in str(run.dir) and "https://***@host/v1" in text
    assert key not in build_report(run.dir).read_text()


def test_a_report_shows_no_secret_held_by_a_stored_value(tmp_path):
    """A stored text quoting a secret (a judge error with a URL's credentials, a self-edit) is redacted on the page."""
    run = create_run(tmp_path, "knowledge eval", "stored", {"model": {"name": "tiny-llama"}}, argv=[])
    run.store.add_self_edit(key="e", context_id="p", round=0, condition="self-edit", sampling={},
                            text="failed at https://u:pw-123@judge.example/v1 with hf_AbCdEfGhIjKlMnOpQrSt")
    run.finish()
    run.close()
    page = build_report(run.dir).read_text()
    assert "https://***@judge.example/v1" in page and "pw-123" not in page and "hf_AbCd" not in page


def test_a_report_of_a_manifest_written_with_secrets_shows_none(tmp_path):
    """Runs written before redaction covered key formats: reading a manifest redacts it again."""
    run = create_run(tmp_path, "knowledge eval", "old", {"model": {"name": "tiny-llama"}}, argv=[])
    run.finish()
    run.close()
    manifest = json.loads((run.dir / "manifest.json").read_text())
    manifest["config"]["quiz"] = {"judge": {"base_url": "https://u:pw-123@h/v1",
                                           "api_key_env": "hf_AbCdEfGhIjKlMnOpQrSt"}}
    (run.dir / "manifest.json").write_text(json.dumps(manifest))
    page = build_report(run.dir).read_text()
    assert "pw-123" not in page and "hf_AbCd" not in page and "https://***@h/v1" in page


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_runs_are_errors_naming_the_file(tmp_path, kind):
    good = create_run(tmp_path, "knowledge eval", "good", {"model": {"name": "m"}}, argv=[])
    bad = create_run(tmp_path, "knowledge eval", "bad", {"model": {"name": "m"}}, argv=[])
    for run in (good, bad):
        run.finish()
        run.close()
    name = damage(bad.dir, kind)
    before = (bad.dir / name).read_bytes()
    for call in (read_run, open_run, build_report):
        with pytest.raises(SealError, match=str(bad.dir / name)):
            call(bad.dir)
    assert (bad.dir / name).read_bytes() == before  # no schema written into an empty or foreign store
    (tmp_path / "notes").mkdir()  # a directory without a manifest is no run
    rows = {row["dir"]: row for row in list_runs(tmp_path)}
    assert set(rows) == {str(good.dir), str(bad.dir)} and rows[str(good.dir)]["status"] == "finished"
    assert rows[str(bad.dir)]["status"] == "damaged" and str(bad.dir / name) in rows[str(bad.dir)]["error"]


def test_a_store_that_is_not_a_database_is_an_error(tmp_path):
    (tmp_path / "seal.db").write_text("x" * 5000)
    with pytest.raises(SealError, match="seal.db: not a seal run store"):
        Store(tmp_path / "seal.db")
    with pytest.raises(SealError, match="cannot open the run store"):
        Store(tmp_path)  # a directory


def test_a_runs_root_that_is_a_file_is_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SealError, match=f"cannot create runs under {tmp_path / 'file'}.*it is a file"):
        create_run(tmp_path / "file", "knowledge eval", "x", {}, argv=[])
    with pytest.raises(SealError, match=f"cannot create runs under {tmp_path / 'file' / 'sub'}"):
        create_run(tmp_path / "file" / "sub", "knowledge eval", "x", {}, argv=[])
    with pytest.raises(SealError, match="is not a directory"):
        list_runs(tmp_path / "file")
    assert list_runs(tmp_path / "missing") == []


def file_size_limit(limit: int):
    """A `preexec_fn` for a child whose files cannot grow past `limit` bytes: a real write beyond it fails (EFBIG,
    with SIGXFSZ, which would kill the child, ignored), as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


WRITER = textwrap.dedent("""
    import sys
    from seal.store import create_run
    run = create_run(sys.argv[1], "knowledge eval", "full", {"data": {"note": "n" * int(sys.argv[2])}}, argv=[])
    run.store.add_evaluation(key="small", condition="base", payload={"accuracy": 0.5})
    print("stored", flush=True)
    run.store.add_evaluation(key="large", condition="base", payload={"text": "x" * int(sys.argv[3])})
""")


@pytest.mark.parametrize("config_size, file", [(0, "seal.db"), (600_000, "manifest.json")])
def test_a_run_that_cannot_be_created_says_which_write_failed_and_leaves_no_directory(tmp_path, config_size, file):
    """The store's first write (a 2 kB limit) or the manifest (a config larger than the limit) fails for real."""
    out = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), str(config_size), "0"], capture_output=True,
                         text=True, timeout=120, preexec_fn=file_size_limit(2_000 if file == "seal.db" else 400_000))
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 1 and last.startswith("seal.errors.StorageError: "), out.stderr
    assert f"while writing {tmp_path}" in last and last.endswith(file) and "not a seal run store" not in last
    assert list(tmp_path.iterdir()) == []  # no run directory without a manifest (or store) left behind


def test_a_store_write_that_fails_mid_run_keeps_finished_units(tmp_path):
    out = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), "0", "600000"], capture_output=True,
                         text=True, timeout=120, preexec_fn=file_size_limit(400_000))
    assert out.stdout == "stored\n" and "StorageError: " in out.stderr and "while writing" in out.stderr
    assert "seal.db" in out.stderr.strip().splitlines()[-1]
    run = read_run(next(tmp_path.iterdir()))
    assert [r["key"] for r in run.store.rows("evaluations")] == ["small"]
    run.store.close()


def test_the_command_line_names_a_failed_write_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "seal.cli", "knowledge", "eval", "--set", f"run.root={tmp_path}",
                          "--set", "model.name=tiny-llama"], capture_output=True, text=True, timeout=300,
                         preexec_fn=file_size_limit(2_000))
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and f"while writing {tmp_path}" in out.stderr
    assert out.stderr.strip().endswith("seal.db") and list(tmp_path.iterdir()) == []


HOLDER = textwrap.dedent("""
    import sys, time
    from seal.store import create_run
    run = create_run(sys.argv[1], "knowledge train", "held", {"model": {"name": "m"}}, argv=["seal", "held"])
    print(run.dir, flush=True)
    time.sleep(600)
""")


def test_one_process_per_run_and_a_killed_holder_does_not_block(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        run_dir = read_run(proc.stdout.readline().strip()).dir
        held = f"{run_dir} is in use by process {proc.pid} on \\S+ \\(-c {tmp_path}\\)"
        with pytest.raises(SealError, match=held):
            open_run(run_dir)
        assert read_run(run_dir).store.get_meta("pid") == proc.pid  # the refused resume wrote nothing
        (run_dir / "checkpoints" / "round-1.partial").mkdir(parents=True)  # a killed M-step's leftovers
        (run_dir / "checkpoints" / "round-1.partial" / "model.safetensors").write_bytes(b"0" * 100)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert {r["dir"]: r["status"] for r in list_runs(tmp_path)}[str(run_dir)] == "interrupted"
    run = open_run(run_dir)
    assert run.store.get_meta("pid") == os.getpid() and run.store.get_meta("status") == "running"
    assert not (run_dir / "checkpoints" / "round-1.partial").exists()
    assert (run_dir / "seal.lock").read_text().startswith(f"process {os.getpid()} ")
    run.close()


RESUMER = textwrap.dedent("""
    import os, sys, time
    from seal.errors import SealError
    from seal.store import open_run
    try:
        run = open_run(sys.argv[1])
    except SealError as e:
        print("refused:", e, flush=True)
        sys.exit(0)
    print("holder", flush=True)
    time.sleep(600)
""")
RAW_LOCK = "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX); " \
           "print('locked', flush=True); time.sleep(600)"


def test_a_refused_resume_names_the_live_holder_never_the_killed_original(tmp_path):
    """Two resumes started at once after a kill -9: the refused one names the other, not the killed process whose
    text is still in the lock file; a holder that has not written its text yet is "another process"."""
    killed = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    run_dir = Path(killed.stdout.readline().strip())
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    procs = []
    try:
        procs = [subprocess.Popen([sys.executable, "-c", RESUMER, str(run_dir)], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
        lines = [p.stdout.readline() for p in procs]
        [holder] = [p for p, line in zip(procs, lines) if line == "holder\n"]
        [refused] = [line for line in lines if line.startswith("refused:")]
        assert f"is in use by process {holder.pid} on " in refused and str(killed.pid) not in refused
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        raw = subprocess.Popen([sys.executable, "-c", RAW_LOCK, str(run_dir / "seal.lock")], stdout=subprocess.PIPE,
                               text=True)
        procs.append(raw)
        assert raw.stdout.readline() == "locked\n"  # locked, its text not written: the text names a dead process
        with pytest.raises(SealError, match=f"{run_dir} is in use by another process;"):
            open_run(run_dir)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_a_resume_is_recorded_in_the_manifest(tmp_path):
    run = create_run(tmp_path, "knowledge eval", "r", {"model": {"threads": 1}}, argv=["seal", "first"])
    run.close()
    resumed = read_run(run.dir).resume({"model": {"threads": 2}}, {"model.threads": [1, 2]}, argv=["seal", "again"])
    resumed.close()
    manifest = json.loads((run.dir / "manifest.json").read_text())
    assert manifest["config"] == {"model": {"threads": 2}} and manifest["argv"] == ["seal", "first"]
    assert [r["argv"] for r in manifest["resumes"]] == [["seal", "again"]]
    assert manifest["resumes"][0]["changed"] == {"model.threads": [1, 2]}


def test_a_run_holds_work_once_a_unit_or_a_result_file_is_stored(tmp_path):
    run = create_run(tmp_path, "knowledge eval", "r", {}, argv=[])
    run.store.put_context("p", "knowledge", {})  # a passage it touched is not finished work
    (run.dir / "adapters").mkdir()
    assert not run.holds_work()
    run.store.add_evaluation(key="e", condition="base", payload={})
    assert run.holds_work()
    other = create_run(tmp_path, "knowledge eval", "r", {}, argv=[])
    (other.dir / "results.json").write_text("{}")
    assert other.holds_work()
    empty = create_run(tmp_path, "knowledge eval", "r", {}, argv=[])
    empty.discard()
    assert not empty.dir.exists() and run.dir.exists() and other.dir.exists()
