"""`seal bench learn` end to end on the tiny model: built-in passages written as notes, the real `seal learn` per
variant, and the four rows (base, LoRA on the raw files, seal learn adapter, notes in context) on the gold quiz."""

import json
from pathlib import Path

import pytest
from test_bad_input import seal_in_process

from seal.domains.knowledge.data import QA, Passage, load_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.store.runs import list_runs, read_manifest

TINY = ["model.name=tiny-llama", "model.threads=1", "data.n=2", "inner.lora.r=4", "inner.epochs=1", "learn.k=2",
        "self_edit.max_new_tokens=16", "reward.self_quiz.k=1", "reward.self_quiz.max_new_tokens=16",
        "quiz.max_new_tokens=4"]
VARIANTS = '["one", "same: reward.self_quiz.temperature=0.5", "longer: learn.epochs=6"]'


def bench(capsys, tmp_path, *sets: str) -> tuple[dict, str, Path]:
    args = [x for o in [*TINY, f"run.root={tmp_path / 'runs'}", *sets] for x in ("--set", o)]
    code, out, err = seal_in_process(capsys, ["bench", "learn", *args])
    assert code in (0, None), err
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run: "))
    return json.loads((run_dir / "bench.json").read_text()), out, run_dir


def test_without_a_kept_self_edit_seal_learn_is_the_raw_file_lora_and_the_notes_are_in_the_prompt(tmp_path, capsys):
    """The tiny model's self-quiz keeps no question, so seal learn trains on the passages alone: (c) is then the same
    training as (b), step for step, and their quizzes agree exactly; (d) alone has each passage in its prompts."""
    results, out, run_dir = bench(capsys, tmp_path, f"bench.variants={VARIANTS}")
    passages = {p.id: p for p in load_passages("builtin")}
    assert results["passages"] == ["world-06", "world-07"]  # after the demo's 5 (the bench's data.offset)
    notes = "".join(Path(f).read_text() for f in results["files"])
    assert all(f"## {passages[pid].title}\n\n{passages[pid].context.strip()}" in notes for pid in results["passages"])
    for name, v in results["variants"].items():
        assert v["n_kept"] == 0 and v["inner_loops"] == 0 and v["raw_steps"] == v["adapter_steps"] > 0
        assert v["raw_documents"] == v["n_passages"]
        assert v["quiz"] == results["raw"][v["raw"]]["quiz"]  # the same run: same answers, same log-likelihoods
        assert v["differences"]["c-b"]["loglik"]["mean"] == 0
        manifest = read_manifest(v["run"])
        assert manifest["command"] == "learn" and Path(v["run"]).parent == run_dir / "learn"
        assert manifest["config"]["model"]["name"] == "tiny-llama"
    v = results["variants"]
    assert v["longer"]["adapter_steps"] == 2 * v["one"]["adapter_steps"]
    assert v["one"]["raw"] == v["same"]["raw"] != v["longer"]["raw"] and len(results["raw"]) == 2  # (b) shared
    for pid in results["passages"]:
        context = passages[pid].context.strip()
        assert all(context in p for p in results["rows"]["d"]["quiz"][pid]["prompts"])
        assert not any(context in p for p in results["rows"]["a"]["quiz"][pid]["prompts"])
        questions = [q.question for q in passages[pid].questions]
        assert all(q in p for q, p in zip(questions, results["rows"]["d"]["quiz"][pid]["prompts"]))
    n = sum(len(passages[pid].questions) for pid in results["passages"])
    assert results["rows"]["a"]["summary"]["loglik"]["n_items"] == n
    assert v["one"]["differences"]["d-c"]["accuracy"]["n_units"] == 2  # intervals over the 2 passages
    table = out.split("report: ")[0]
    for row in ("(a) base model", "(b) LoRA on the raw files [b1", "(b) LoRA on the raw files [b2",
                "(c) seal learn adapter [one]", "(c) seal learn adapter [same]", "(c) seal learn adapter [longer]",
                "(d) base model, notes in context", "c-b [longer, b2]", "d-c [one, b1]", "learn.epochs=6"):
        assert row in table, row
    assert f"2 passages ({sum(len(passages[p].context.split()) for p in results['passages'])} words, {n} gold" in table
    # a bench is not resumed: the same command again makes a new run directory
    again, _, second = bench(capsys, tmp_path, 'bench.variants=["one"]')
    assert second != run_dir and again["rows"]["a"] == results["rows"]["a"]
    assert [r["command"] for r in list_runs(tmp_path / "runs")] == ["bench learn", "bench learn"]


def test_seal_learn_with_self_edits_gets_as_many_steps_as_the_raw_file_lora(tmp_path, capsys, monkeypatch):
    """With a self-quiz question per passage the inner loops run (k per passage) and self-edits may be kept: the
    adapter then trains on more documents, and (b) still gets exactly its steps. Grounding is off: the tiny model's
    self-edits hold nothing of its passages, so grounding would pass them all over before their inner loops."""
    def one_question(self, passage):  # the tiny model writes no usable quiz; one question about the title
        return Passage(passage.id, passage.title, passage.context, (QA("What is this about?", (passage.title,)),))

    monkeypatch.setattr(KnowledgeDomain, "quiz_of", one_question)
    results, _, _ = bench(capsys, tmp_path, "learn.epochs=3", "learn.grounding.enabled=false")
    (v,) = results["variants"].values()
    assert v["inner_loops"] == 2 * v["n_passages"] and v["inner_steps"] > 0
    assert v["raw_steps"] == v["adapter_steps"] and v["wall_s"] > 0 and v["cpu_s"] > 0
    record = json.loads((Path(v["adapter"]) / "seal-learn.json").read_text())
    assert v["adapter_steps"] == record["train"]["steps"] == 3 * len(record["documents"])


@pytest.mark.parametrize("sets, parts", [
    (['bench.variants=["a: model.name=gpt2"]'], ["bench.variants", "model.name", "bench's own"]),
    (['bench.variants=["a: learn.paths=[x]"]'], ["bench.variants", "learn.paths"]),
    (['bench.variants=["a", "a: learn.k=1"]'], ["bench.variants", "'a: learn.k=1'"]),
    (['bench.variants=["a: data.n=3"]'], ["bench.variants: a", "unknown config key data"]),
    (['bench.variants=["a: learn.k=zero"]'], ["bench.variants: a", "learn.k", "'zero'"]),
    (["bench.variants=[]"], ["bench.variants", "at least one"]),
    (["learn.out=x"], ["learn.out", "'x'"]),
])
def test_bad_settings_are_one_error_line_before_any_work(tmp_path, capsys, sets, parts):
    args = [x for o in [*TINY, f"run.root={tmp_path / 'runs'}", *sets] for x in ("--set", o)]
    code, out, err = seal_in_process(capsys, ["bench", "learn", *args])
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert all(p in err for p in parts), err
    assert list_runs(tmp_path / "runs") == []
