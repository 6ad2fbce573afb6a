"""`seal bench engines`: HF against vLLM on SmolLM2 with tiny settings (vLLM-marked: `make test-vllm` runs it in
`.venv-vllm`), and its one-line refusal where vLLM cannot be imported (the main environment)."""

import json
import subprocess
import sys

import pytest

from seal.utils.imports import is_vllm_available

TINY = ["model.name=smollm2-135m-instruct", "model.dtype=fp32", "model.threads=1", "data.n=2", "self_edit.k=2",
        "self_edit.max_new_tokens=16", "inner.epochs=1", "inner.lora.r=8", "inner.lora.alpha=16",
        "quiz.max_new_tokens=12", "generation.max_model_len=1024"]


@pytest.mark.skipif(is_vllm_available(), reason="vLLM is installed here")
def test_refused_in_one_line_where_vllm_cannot_be_imported(tmp_path):
    done = subprocess.run([sys.executable, "-m", "seal.cli", "bench", "engines", "--set",
                           f"run.root={tmp_path / 'runs'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: seal bench engines needs vLLM, which this environment cannot import: run it in the vLLM environment "
        "(`make test-vllm` builds .venv-vllm): .venv-vllm/bin/seal bench engines"]
    assert not (tmp_path / "runs").exists()


@pytest.mark.vllm
@pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed")
def test_bench_engines_on_smollm2_writes_the_table(tmp_path):
    from importlib import resources

    from seal.bench.engines import EnginesBenchConfig, format_engines_bench, run_engines_bench
    from seal.config import load_config, to_dict
    from seal.store.runs import create_run

    defaults = resources.files("seal.bench") / "defaults" / "engines.yaml"
    cfg = load_config(EnginesBenchConfig, None, TINY + [f"run.root={tmp_path}"], base=defaults)
    run = create_run(cfg.run.root, "bench engines", "t", to_dict(cfg), argv=[])
    results = run_engines_bench(run, cfg)
    assert json.loads((run.dir / "bench.json").read_text()) == json.loads(json.dumps(results))
    base, adapted = results["parity"]["base"], results["parity"]["adapted"]
    questions = results["settings"]["questions"]
    assert base["answers"] == adapted["answers"] == questions > 0
    assert base["share"] == 1.0 and base["differing"] == []  # greedy base answers agree, question by question
    assert adapted["identical"] + len(adapted["differing"]) == questions
    for name in ("hf", "vllm"):
        r = results["engines"][name]
        edits = r["self_edits"]
        assert edits["n"] == 2 * 2 and 0 < edits["min"] <= edits["q1"] <= edits["median"] <= edits["q3"] \
            <= edits["max"] <= 16 and edits["tokens"] > 0
        assert r["quiz"]["tokens"] > 0 and r["quiz"]["tokens_per_s"] > 0 and r["self_edits"]["tokens_per_s"] > 0
        assert r["inner_loop"]["loops"] == 2 and r["inner_loop"]["seconds_per_loop"] > r["inner_loop"]["train_s"] > 0
    stored = run.store.rows("self_edits")
    assert {e["condition"] for e in stored} == {"engine-hf", "engine-vllm"} and len(stored) == 8
    assert all(v > 0 for v in results["ratios"].values())
    assert results["machine"]["torch_threads"] == 1 and results["engine_start_s"] > 0
    table = format_engines_bench(results)
    assert table.splitlines()[0].split()[:3] == ["engine", "quiz", "tok/s"]
    assert [line.split()[0] for line in table.splitlines()[1:4]] == ["hf", "vllm", "vllm/hf"]
    assert f"greedy answers identical, base model: {questions}/{questions} (100.0%)" in table
