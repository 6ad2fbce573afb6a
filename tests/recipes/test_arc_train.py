"""`run_arc_train` end to end on the tiny model: the shared ReST-EM loop drives the ARC domain unchanged."""

import dataclasses
import json

from test_arc_eval import make_cfg

from seal.config import OuterConfig, to_dict
from seal.domains.arc.config import ArcDataConfig, ArcEvalConfig
from seal.models import load
from seal.recipes.arc_train import run_arc_train
from seal.store import create_run


def test_one_round_end_to_end(tmp_path):
    cfg = make_cfg(tmp_path, "")
    cfg = dataclasses.replace(
        cfg, eval=ArcEvalConfig(conditions=("icl",)),
        data=dataclasses.replace(cfg.data, ids=("aaaa0001",)),
        train_data=ArcDataConfig(source=cfg.data.source, ids=("aaaa0001", "bbbb0002")),
        outer=OuterConfig(rounds=1, k=2, keep="all-positive", sft=cfg.outer.sft))
    run = create_run(tmp_path, "arc train", "t", to_dict(cfg))
    curve = run_arc_train(run, cfg)
    assert [p["round"] for p in curve["rounds"]] == [0, 1] and set(curve["reference"]) == {"icl", "oracle"}
    assert json.loads((run.dir / "curve.json").read_text()) == curve
    store = run.store
    train_edits = store.rows("self_edits", "condition='train'")
    assert len(train_edits) == 2 * 2 and all(e["prompt"] for e in train_edits)
    rewards = store.rows("inner_results", "condition='train'")
    assert len(rewards) == 4 and all(r["reward"] in (0.0, 1.0) for r in rewards)
    round1 = store.rows("rounds")[0]
    assert round1["status"] == "done" and round1["payload"]["e_step"]["self_edits"] == 4
    load(str(run.dir / "checkpoints" / "round-1"))  # a normal model directory
    assert json.loads((run.dir / "manifest.json").read_text())["train_ids"] == ["aaaa0001", "bbbb0002"]
