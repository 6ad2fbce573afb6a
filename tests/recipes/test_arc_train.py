"""`seal arc train` (the generic `seal.recipes.train.run_train` with the ARC plugin) end to end on the tiny model: the
shared ReST-EM loop drives the ARC domain unchanged."""

import dataclasses
import json

from test_arc_eval import make_cfg

from seal.config import OuterConfig, to_dict
from seal.domains.arc.config import ArcDataConfig, ArcEvalConfig
from seal.models import load
from seal.domains.arc.plugin import ArcPlugin
from seal.recipes.train import run_train
from seal.store import create_run


def test_one_round_end_to_end(tmp_path):
    cfg = make_cfg(tmp_path, "")
    cfg = dataclasses.replace(
        cfg, eval=ArcEvalConfig(conditions=("icl",)),
        data=dataclasses.replace(cfg.data, ids=("aaaa0001",)),
        train_data=ArcDataConfig(source=cfg.data.source, ids=("aaaa0001", "bbbb0002")),
        outer=OuterConfig(rounds=1, k=2, keep="all-positive", sft=cfg.outer.sft))
    run = create_run(tmp_path, "arc train", "t", to_dict(cfg))
    curve = run_train(run, cfg, ArcPlugin())
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
    # every domain's manifest names each round's training contexts; ARC's rounds train on the same tasks
    assert json.loads((run.dir / "manifest.json").read_text())["round_ids"] == {"1": ["aaaa0001", "bbbb0002"]}
    # paper Table 1's rows on the held-out task: round 0's icl, own self-edits and oracle, round 1's own self-edits
    table = curve["table"]
    assert list(table["conditions"]) == ["icl", "ttt-untrained", "seal", "oracle"] and table["n_tasks"] == 1
    by_round = {r: [row["reward"] for row in store.rows("inner_results", "condition='self-edit' AND round=?", (r,))]
                for r in (0, 1)}
    assert table["conditions"]["seal"]["per_task"] == {"aaaa0001": by_round[1]}
    assert table["conditions"]["ttt-untrained"]["per_task"] == {"aaaa0001": by_round[0]}
    diff = table["differences"]["seal - ttt-untrained"]
    assert diff["n_tasks"] == 1 and diff["mean"] == (sum(by_round[1]) / len(by_round[1])
                                                   - sum(by_round[0]) / len(by_round[0]))
    assert diff["ci95"] == [None, None]  # one task: no spread between tasks to measure
    printed = ArcPlugin().format_curve(curve)
    assert "Table 1 rows" in printed and "paired per task: oracle - icl" in printed


def test_arc_intervals_are_over_tasks():
    from seal.domains.arc.results import arc_differences, arc_summary

    rows = [{"context_id": t, "reward": r, "details": {}, "timings": {}}
            for t, rs in (("t1", [1.0, 1.0]), ("t2", [0.0, 0.0]), ("t3", [1.0, 0.0])) for r in rs]
    s = arc_summary(rows, [])
    assert s["success_rate"] == 0.5 and s["n_tasks"] == 3
    lo, hi = s["ci95"]  # t(2) x sd(1, 0, 0.5)/sqrt(3) = 4.303 x 0.2887, clipped to [0, 1]
    assert lo == 0.0 and abs(hi - min(1.0, 0.5 + 4.3027 * 0.5 / 3 ** 0.5)) < 1e-3
    other = arc_summary([dict(r, reward=0.0) for r in rows], [])
    d = arc_differences({"oracle": s, "icl": other})["oracle - icl"]
    assert d["mean"] == 0.5 and d["n_tasks"] == 3 and -1.0 <= d["ci95"][0] < 0.5 < d["ci95"][1] <= 1.0
    wide = arc_differences({"oracle": {"per_task": {"a": [1.0], "b": [0.0], "c": [1.0]}},
                            "icl": {"per_task": {"a": [0.0], "b": [0.0], "c": [0.0]}}})["oracle - icl"]
    lo, hi = wide["ci95"]  # 0.667 -/+ t(2) x 0.577 / sqrt(3) = 1.434: [-0.768, 2.101], the top clipped
    assert abs(lo - (2 / 3 - 4.3027 * (1 / 3) ** 0.5 / 3 ** 0.5)) < 1e-3 and hi == 1.0
