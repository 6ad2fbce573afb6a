"""A reward given as `module:function` from outside the package (issue 28): it trains and evaluates, its values are
the stored rewards and a column of the table, and a bad path is one error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seal.store import Store

PASSAGES = [{"title": "Tor", "context": "Tor is a harbour town with 12 bridges, founded by Ama Venn.",
             "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                           {"question": "Who founded Tor?", "answer": "Ama Venn"}]},
            {"title": "Quelm", "context": "Quelm is a red mineral mined on Pell island.",
             "questions": [{"question": "What colour is Quelm?", "answer": "red"}]},
            {"title": "Vell", "context": "Vell beetles glow green in the cold.",
             "questions": [{"question": "What colour do Vell beetles glow?", "answer": "green"}]}]
MODULE = '''
def longer_answers(adapted, base):
    """The gain in mean answer length, characters: a reward no built-in one gives."""
    mean = lambda quiz: sum(len(p) for p in quiz.predictions) / len(quiz.predictions)
    return mean(adapted) - mean(base)
'''
TINY = ["--set", "model.name=tiny-llama", "--set", "self_edit.k=2", "--set", "self_edit.max_new_tokens=12",
        "--set", "inner.epochs=1", "--set", "inner.seeds=1", "--set", "inner.lora.r=4", "--set",
        "quiz.max_new_tokens=6", "--set", "model.threads=1", "--set", "reward.kind=myrewards:longer_answers"]


def seal(tmp: Path, *args) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(tmp / "lib"), "PATH": "/usr/bin:/bin", "HOME": str(tmp), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "seal.cli", *args], capture_output=True, text=True, cwd=tmp,
                          timeout=900, env=env)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("reward-fn")
    (tmp / "lib").mkdir()
    (tmp / "lib" / "myrewards.py").write_text(MODULE)
    (tmp / "passages.json").write_text(json.dumps(PASSAGES))
    return tmp


def length_gain(adapted: dict, base: dict) -> float:
    mean = lambda row: sum(len(p) for p in row["details"]["predictions"]) / len(row["details"]["predictions"])  # noqa: E731
    return mean(adapted) - mean(base)


def check_eval(run_dir: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    assert results["reward"] == "myrewards:longer_answers"
    store = Store(run_dir / "seal.db")
    base = {r["context_id"]: r for r in store.rows("inner_results", "condition='base'")}
    trained = store.rows("inner_results", "condition='self-edit'")
    assert len(trained) == 3 * 2
    for row in trained:  # the stored reward is the function's value on the adapted and the unadapted quiz
        assert row["reward"] == pytest.approx(length_gain(row, base[row["context_id"]]))
    mean = sum(r["reward"] for r in trained) / len(trained)
    assert results["conditions"]["self-edit"]["reward"] == pytest.approx(mean)


def test_a_function_reward_evaluates_and_trains_locally(workspace):
    out = seal(workspace, "knowledge", "eval", *TINY, "--set", f"data.source={workspace / 'passages.json'}",
               "--set", "run.root=runs")
    assert out.returncode == 0, out.stderr
    run_dir = workspace / out.stdout.strip().splitlines()[-1].removeprefix("run: ")
    check_eval(run_dir)
    header = next(line for line in out.stdout.splitlines() if line.startswith("condition"))
    assert "reward" in header.split() and "reward: myrewards:longer_answers" in out.stdout

    out = seal(workspace, "knowledge", "train", *TINY, "--set", f"data.source={workspace / 'passages.json'}",
               "--set", "run.root=runs", "--set", "outer.rounds=1", "--set", "outer.contexts_per_round=2",
               "--set", "outer.eval_contexts=1", "--set", "outer.k=2", "--set", "outer.sft.batch_size=1",
               "--set", "outer.sft.grad_accum=1")
    assert out.returncode == 0, out.stderr
    train_dir = workspace / out.stdout.strip().splitlines()[-1].removeprefix("run: ")
    store = Store(train_dir / "seal.db")
    rows = store.rows("inner_results", "condition='train'")
    assert len(rows) == 2 * 2 and all(r["reward"] is not None for r in rows)
    e_step = store.rows("rounds")[0]["payload"]["e_step"]
    # the best self-edit of each passage is kept when its function reward is positive (one seed: no averaging)
    assert e_step["kept"] == len({r["context_id"] for r in rows if r["reward"] > 0})


@pytest.mark.ray
def test_a_function_reward_evaluates_and_trains_on_ray_workers(workspace):
    pytest.importorskip("ray")
    ray = ["--set", f"data.source={workspace / 'passages.json'}", "--set", "run.root=runs-ray",
           "--set", "executor.kind=ray", "--set", "executor.num_workers=1"]
    out = seal(workspace, "knowledge", "eval", *TINY, *ray)
    assert out.returncode == 0, out.stderr
    check_eval(workspace / out.stdout.strip().splitlines()[-1].removeprefix("run: "))

    out = seal(workspace, "knowledge", "train", *TINY, *ray, "--set", "outer.rounds=1",
               "--set", "outer.contexts_per_round=2", "--set", "outer.eval_contexts=1", "--set", "outer.k=2",
               "--set", "outer.sft.batch_size=1", "--set", "outer.sft.grad_accum=1")
    assert out.returncode == 0, out.stderr
    store = Store(workspace / out.stdout.strip().splitlines()[-1].removeprefix("run: ") / "seal.db")
    rows = store.rows("inner_results", "condition='train'")  # the E-step's rewards, computed on the Ray worker
    assert len(rows) == 2 * 2 and all(r["reward"] is not None for r in rows)
    assert store.rows("rounds")[0]["status"] == "done"


@pytest.mark.parametrize("kind, message", [
    ("myrewards:nope", "reward.kind: reward function 'myrewards:nope' cannot be imported"),
    ("nomodule:f", "reward.kind: reward function 'nomodule:f' cannot be imported"),
    ("nope", "reward.kind: unknown reward 'nope'"),
])
def test_a_bad_reward_function_is_one_error_line(workspace, kind, message):
    out = seal(workspace, "knowledge", "eval", "--set", f"reward.kind={kind}", "--set", "run.root=bad")
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (workspace / "bad").exists()
