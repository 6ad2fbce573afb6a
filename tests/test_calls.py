"""No two source files call each other, measured with a call tracer over tiny runs of the commands that matter
(issue 28): knowledge eval under each reward, one round of knowledge train, arc eval and learn. A call from file A
into file B and one from B back into A is a circle a reader must follow both ways (the self-quiz reward used to call
back into the knowledge domain for a writer); the import graph (`test_architecture.py`) cannot see it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_bad_input import seal_in_process

import seal

ROOT = str(Path(seal.__file__).parent) + "/"
TINY = ["--set", "model.name=tiny-llama", "--set", "model.threads=1", "--set", "self_edit.max_new_tokens=8"]
KNOWLEDGE = [*TINY, "--set", "data.n=2", "--set", "self_edit.k=1", "--set", "inner.seeds=1", "--set", "inner.epochs=1",
             "--set", "inner.lora.r=4", "--set", "quiz.max_new_tokens=4"]


def calls_between_files(capsys, args: list[str]) -> dict[tuple[str, str], str]:
    """(caller file, callee file) -> the first such call ("caller function -> callee function"), for every call
    between two different files of the package while `seal ARGS` runs in this process."""
    pairs: dict[tuple[str, str], str] = {}

    def profile(frame, event, arg):
        if event != "call" or frame.f_back is None:
            return
        callee, caller = frame.f_code.co_filename, frame.f_back.f_code.co_filename
        if callee != caller and callee.startswith(ROOT) and caller.startswith(ROOT):
            pairs.setdefault((caller[len(ROOT):], callee[len(ROOT):]),
                             f"{frame.f_back.f_code.co_name} -> {frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        code, _, err = seal_in_process(capsys, args)
    finally:
        sys.setprofile(None)
    assert code == 0, err
    return pairs


def circles(pairs: dict[tuple[str, str], str]) -> list[str]:
    return [f"{a} ({pairs[a, b]}) <-> {b} ({pairs[b, a]})" for a, b in sorted(pairs) if a < b and (b, a) in pairs]


def knowledge_runs(tmp_path):
    root = ["--set", f"run.root={tmp_path}"]
    for reward in ("accuracy", "loglik", "self-quiz", "self-quiz-accuracy"):
        yield reward, ["knowledge", "eval", *KNOWLEDGE, *root, "--set", f"reward.kind={reward}"]
    yield "train", ["knowledge", "train", *KNOWLEDGE, *root, "--set", "data.n=3", "--set", "outer.rounds=1",
                    "--set", "reward.kind=rubric",
                    "--set", "reward.judge.backend=local", "--set", "outer.contexts_per_round=2",
                    "--set", "outer.eval_contexts=1", "--set", "outer.sft.batch_size=1",
                    "--set", "outer.sft.grad_accum=1"]


def test_no_two_files_call_each_other_in_knowledge_eval_and_train(tmp_path, capsys):
    for name, args in knowledge_runs(tmp_path):
        pairs = calls_between_files(capsys, args)
        assert len(pairs) > 40, name  # the tracer saw the run
        assert circles(pairs) == [], name


def test_no_two_files_call_each_other_in_arc_eval_and_learn(tmp_path, capsys):
    import json

    task = {"train": [{"input": [[c, c], [c, c]], "output": [[5]]} for c in (1, 2, 3)], "test": [{"input": [[4, 4]]}]}
    tasks = tmp_path / "toy_challenges.json"  # the ARC Prize layout: challenges and solutions
    tasks.write_text(json.dumps({"aaaa0001": task}))
    (tmp_path / "toy_solutions.json").write_text(json.dumps({"aaaa0001": [[[5]]]}))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "tor.md").write_text("# Tor\nTor is a harbour town with 12 bridges.\n\nIt was founded by Ama Venn.\n")
    arc = ["arc", "eval", *TINY, "--set", f"data.source={tasks}", "--set", "data.ids=[aaaa0001]",
           "--set", "self_edit.k=1", "--set", "ttt.lora.r=4", "--set", "ttt.max_examples=4",
           "--set", "eval.conditions=[icl, ttt-untrained, oracle]", "--set", f"run.root={tmp_path}"]
    learn = ["learn", str(notes), "--set", "model.name=tiny-llama", "--set",
             "model.threads=1", "--set", "inner.lora.r=4", "--set", "inner.epochs=1", "--set", "learn.k=1",
             "--set", "self_edit.max_new_tokens=8", "--set", "reward.self_quiz.max_new_tokens=8",
             "--set", "learn.epochs=1", "--set", f"run.root={tmp_path}"]
    for name, args in (("arc eval", arc), ("learn", learn)):
        pairs = calls_between_files(capsys, args)
        assert len(pairs) > 30, name
        assert circles(pairs) == [], name


def test_the_tracer_finds_a_circle():
    assert circles({("a.py", "b.py"): "f -> g", ("b.py", "a.py"): "g -> f", ("a.py", "c.py"): "f -> h"}) == [
        "a.py (f -> g) <-> b.py (g -> f)"]


pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
