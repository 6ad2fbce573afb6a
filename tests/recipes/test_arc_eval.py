"""`seal arc eval` (the generic `seal.recipes.eval.run_eval` with the ARC plugin) end to end on the tiny model: every
condition, results.json, the store, skipping, and resume."""

import json

import numpy as np
import pytest

from seal.config import LoraConfig, ModelConfig, RunConfig, to_dict
from seal.domains.arc.config import (ArcConfig, ArcDataConfig, ArcEvalConfig, ArcSelfEditConfig, ArcSolveConfig,
                                     ArcTTTConfig)
from seal.errors import ConfigError
from seal.domains.arc.plugin import ArcPlugin
from seal.recipes.eval import run_eval
from seal.domains.arc.results import arc_table as format_table
from seal.store import create_run, open_run


def grid(rows, cols, colour):
    return np.full((rows, cols), colour).tolist()


def write_tasks(folder):
    """Two small tasks and one too big for the prompt limit, in the ARC Prize layout (challenges + solutions)."""
    small = {"train": [{"input": grid(2, 2, c), "output": grid(1, 1, 5)} for c in (1, 2, 3)],
             "test": [{"input": grid(2, 3, 4)}]}
    swap = {"train": [{"input": [[1, 2]], "output": [[2, 1]]}, {"input": [[2, 2]], "output": [[1, 1]]}],
            "test": [{"input": [[1, 1]]}]}
    big = {"train": [{"input": grid(20, 20, c), "output": grid(20, 20, c)} for c in (1, 2, 3)],
           "test": [{"input": grid(20, 20, 4)}]}
    challenges = folder / "toy_challenges.json"
    challenges.write_text(json.dumps({"aaaa0001": small, "bbbb0002": swap, "cccc0003": big}))
    (folder / "toy_solutions.json").write_text(json.dumps(
        {"aaaa0001": [grid(1, 1, 5)], "bbbb0002": [[[2, 2]]], "cccc0003": [grid(20, 20, 4)]}))
    return challenges


def make_cfg(tmp_path, checkpoint) -> ArcConfig:
    return ArcConfig(
        run=RunConfig(root=str(tmp_path / "runs")),
        model=ModelConfig(name="tiny-llama", dtype="fp32", device="cpu"),
        data=ArcDataConfig(source=str(write_tasks(tmp_path))),
        self_edit=ArcSelfEditConfig(k=1, max_new_tokens=16),
        ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8), max_examples=8),
        solve=ArcSolveConfig(views=("Identity()", "Transpose()"), max_prompt_tokens=1500),
        eval=ArcEvalConfig(conditions=("icl", "ttt-untrained", "seal", "oracle"), checkpoint=str(checkpoint)))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from seal.models import load

    tmp = tmp_path_factory.mktemp("arc")
    model, tokenizer = load("tiny-llama", seed=7)  # another model plays a trained checkpoint
    model.save_pretrained(tmp / "ckpt")
    tokenizer.save_pretrained(tmp / "ckpt")
    cfg = make_cfg(tmp, tmp / "ckpt")
    run = create_run(tmp, "arc eval", "t", to_dict(cfg))
    results = run_eval(run, cfg, ArcPlugin())
    return run, cfg, results


def test_results_json_and_table(finished):
    run, _, results = finished
    assert json.loads((run.dir / "results.json").read_text()) == results
    assert results["tasks"] == ["aaaa0001", "bbbb0002", "cccc0003"] and results["n_tasks"] == 3
    assert list(results["skipped"]) == ["cccc0003"] and "over the limit of" in results["skipped"]["cccc0003"]
    conds = results["conditions"]
    assert list(conds) == ["icl", "ttt-untrained", "seal", "oracle"]
    for name, c in conds.items():
        assert c["n"] == 2 and c["n_tasks"] == 2 and c["n_skipped"] == 1, name
        assert 0.0 <= c["success_rate"] <= 1.0
        assert set(c["seconds_per_task"]) == {"generate_s", "ttt_data_s", "train_s", "solve_s"}
        assert set(c["per_task"]) == {"aaaa0001", "bbbb0002"}
    assert conds["icl"]["success_rate"] == 0.0 and conds["icl"]["seconds_per_task"]["train_s"] == 0.0
    # a random model writes no valid JSON: its self-edits are rejected, not errors
    assert conds["ttt-untrained"]["n_rejected_malformed"] == 2 and conds["ttt-untrained"]["success_rate"] == 0.0
    assert conds["ttt-untrained"]["seconds_per_task"]["generate_s"] > 0
    assert conds["oracle"]["n_rejected"] == 0 and conds["oracle"]["seconds_per_task"]["train_s"] > 0
    table = format_table(results)
    assert table.splitlines()[0].split()[:2] == ["condition", "success"] and "oracle" in table


def test_store_rows(finished):
    run, _, _ = finished
    store = run.store
    edits = store.rows("self_edits")
    assert sorted(e["key"] for e in edits) == ["r0/oracle/aaaa0001/0", "r0/oracle/bbbb0002/0", "r0/seal/aaaa0001/0",
                                               "r0/seal/bbbb0002/0", "r0/ttt-untrained/aaaa0001/0",
                                               "r0/ttt-untrained/bbbb0002/0"]
    assert all(e["prompt"].startswith("<|im_start|>user") for e in edits if e["condition"] != "oracle")
    inner = store.rows("inner_results")
    assert len(inner) == 4 * 3  # 4 conditions x (2 tasks + 1 skipped)
    oracle = store.get("inner_results", "r0/oracle/aaaa0001/0/s0")
    assert oracle["details"]["config"]["learning_rate"] == 1e-4 and oracle["self_edit_id"] is not None
    assert oracle["reward"] in (0.0, 1.0) and oracle["details"]["n_examples"] > 0
    assert store.get("inner_results", "r0/icl/cccc0003/skipped")["reward"] is None
    assert {c["id"] for c in store.rows("contexts")} == {"aaaa0001", "bbbb0002", "cccc0003"}


def test_rerun_skips_finished_work(finished, monkeypatch):
    run, cfg, results = finished
    from seal.domains.arc.domain import ArcDomain

    def boom(*args, **kwargs):
        raise AssertionError("finished work was redone")

    for name in ("icl", "evaluate", "evaluate_config"):
        monkeypatch.setattr(ArcDomain, name, boom)
    monkeypatch.setattr("seal.models.generate.HFGenerator.generate", boom)
    before = (run.store.count("self_edits"), run.store.count("inner_results"))
    again = run_eval(open_run(run.dir), cfg, ArcPlugin())
    assert (run.store.count("self_edits"), run.store.count("inner_results")) == before
    assert again["conditions"] == results["conditions"]


def test_seal_condition_needs_a_checkpoint(tmp_path):
    cfg = make_cfg(tmp_path, "")
    run = create_run(tmp_path, "arc eval", "t", to_dict(cfg))
    with pytest.raises(ConfigError, match="eval.checkpoint"):
        run_eval(run, cfg, ArcPlugin())
