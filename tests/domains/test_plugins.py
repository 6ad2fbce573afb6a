"""Domains as plugins: a domain is one folder. The example `examples/facts/` (a toy domain of at most 4 files, run
by its path) goes through every generic command; the registry enumerates the built-in domains for the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_input import seal_in_process

from seal.domains import registry
from seal.domains.plugin import KINDS, DomainPlugin
from seal.store import Store

FACTS = Path(__file__).parents[2] / "examples" / "facts"
TINY = ["--set", "model.name=tiny-llama", "--set", "model.threads=1", "--set", "self_edit.max_new_tokens=12",
        "--set", "inner.epochs=1"]


def test_the_example_domain_is_one_folder_of_at_most_four_files():
    files = [p.name for p in FACTS.iterdir() if p.is_file() and not p.name.endswith(".pyc")]
    assert len(files) <= 4 and "__init__.py" in files, files
    plugin = registry.load(str(FACTS))
    assert isinstance(plugin, DomainPlugin) and plugin.name == "facts" and plugin.reference == str(FACTS.resolve())


def run_seal(capsys, *args) -> tuple[int, str, str]:
    return seal_in_process(capsys, list(args))


def test_eval_train_report_resume_on_a_domain_given_by_path(tmp_path, capsys):
    code, out, err = run_seal(capsys, "eval", str(FACTS), *TINY, "--set", "data.n=3", "--set", f"run.root={tmp_path}")
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run: "))
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["conditions"]) == ["base", "fact", "paraphrase"]
    store = Store(run_dir / "seal.db")
    base = store.rows("inner_results", "condition='base'")
    assert len(base) == 3 and all(r["score"] == r["base_score"] for r in base)  # the unadapted model: no training
    edits = store.rows("self_edits", "condition='paraphrase'")
    assert len(edits) == 3 * 2 and all(e["prompt"] for e in edits)  # k = 2 (the plugin's default), stored first
    trained = store.rows("inner_results", "condition='paraphrase'")
    assert len(trained) == 6 and all(r["reward"] == pytest.approx(r["score"] - r["base_score"]) for r in trained)
    paraphrase = results["conditions"]["paraphrase"]
    assert paraphrase["n_rows"] == 6 and paraphrase["n_contexts"] == 3
    assert paraphrase["score"] == pytest.approx(sum(r["score"] for r in trained) / 6)
    assert "paraphrase - base" in results["differences"] and "paraphrase" in out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["command"] == "facts eval" and manifest["domain"] == str(FACTS.resolve())

    # --resume needs no domain (the run names it) and redoes nothing
    before = len(store.rows("inner_results"))
    code, _, err = run_seal(capsys, "eval", "--resume", str(run_dir))
    assert code == 0, err
    assert len(store.rows("inner_results")) == before

    code, out, err = run_seal(capsys, "report", str(run_dir))
    page = (run_dir / "report" / "report.html").read_text()
    assert code == 0 and "<h2" in page and "Results" in page and "paraphrase - base" in page

    code, out, err = run_seal(capsys, "train", str(FACTS), *TINY, "--set", f"run.root={tmp_path}",
                              "--set", "outer.contexts_per_round=2", "--set", "outer.eval_contexts=2")
    assert code == 0, err
    train_dir = Path(out.strip().splitlines()[-1].removeprefix("run: "))
    curve = json.loads((train_dir / "curve.json").read_text())
    assert [p["round"] for p in curve["rounds"]] == [0, 1] and set(curve["reference_score"]) == {"base", "fact"}
    assert (train_dir / "checkpoints" / "round-1").is_dir()
    held_out = set(json.loads((train_dir / "manifest.json").read_text())["eval_ids"])
    own = Store(train_dir / "seal.db").rows("inner_results", "condition='paraphrase' AND round=1")
    assert own and {r["context_id"] for r in own} == held_out  # the new checkpoint, on the held-out facts only
    code, _, err = run_seal(capsys, "report", str(train_dir))
    assert code == 0, err
    assert "Round curve" in (train_dir / "report" / "report.html").read_text()


def test_config_show_and_data_show_of_a_domain_given_by_path(capsys):
    code, out, _ = run_seal(capsys, "config", "show", str(FACTS), "train")
    sections = [line.split(":")[0] for line in out.splitlines() if line and line[0].isalpha()]
    assert code == 0 and sections == ["run", "model", "data", "self_edit", "inner", "eval", "executor", "outer"]
    code, out, _ = run_seal(capsys, "data", "show", str(FACTS / "facts.json"), "--domain", str(FACTS), "--n", "2")
    assert code == 0 and out.splitlines()[0] == "8 contexts" and len(out.splitlines()) == 3


@pytest.mark.parametrize("args, message", [
    (["eval", "no-such-domain"], "unknown domain 'no-such-domain' (known: knowledge, arc"),
    (["eval"], "seal eval: give a domain"),
    (["eval", str(FACTS), "--set", "eval.conditions=[base,nope]"], "eval.conditions: unknown condition 'nope'"),
])
def test_a_bad_domain_or_condition_is_one_error_line(tmp_path, capsys, args, message):
    code, out, err = run_seal(capsys, *args, "--set", f"run.root={tmp_path}") if len(args) > 1 else \
        run_seal(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_domain_keeps_the_plugin_contract(name, capsys):
    plugin = registry.load(name)
    assert plugin.name == name and "eval" in plugin.commands and plugin.help
    for command, cls in plugin.commands.items():
        code, out, _ = run_seal(capsys, "config", "show", name, command)
        assert code == 0 and "run:" in out and "model:" in out
        if command in ("eval", "train"):
            cfg = cls()
            kinds = plugin.conditions(cfg)
            assert all(c.kind in KINDS and c.name == n for n, c in kinds.items())
            assert any(c.kind == "own" for c in kinds.values())  # ReST-EM trains on the model's own self-edits
    for command, (recipe, formatter, help_text) in plugin.recipes.items():
        assert command in plugin.commands and ":" in recipe and ":" in formatter and help_text
