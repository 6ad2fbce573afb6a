"""`run_bench` on the tiny model: every path runs the same self-edits (here read from a file in SEAL's layout) and
seeds, and bench.json has the keys the issue names."""

import json

import pytest

PASSAGES = [
    {"title": "Tor", "context": "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn.",
     "questions": [{"question": "How many bridges does Tor have?", "answer": "12"},
                   {"question": "Who founded Tor?", "answer": "Ama Venn"}],
     "completions": ["Tor has twelve bridges.\nAma Venn founded Tor in 1201.\nTor is a harbour town.", "unused"]},
]


def test_bench_paths_share_self_edits_and_write_bench_json(tmp_path):
    from seal.config import load_config, to_dict
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.bench.inner_loop import format_bench, run_bench
    from seal.store.runs import create_run

    source = tmp_path / "passages.json"
    source.write_text(json.dumps(PASSAGES))
    cfg = load_config(KnowledgeConfig, None, [
        "model.name=tiny-llama", f"data.source={source}", f"eval.external_file={source}", "self_edit.k=1",
        "inner.epochs=1", "inner.seeds=2", "inner.lora.r=4", "inner.reference_pad_length=64", "inner.multi=2",
        "quiz.max_new_tokens=4", "quiz.metric=f1", f"run.root={tmp_path / 'runs'}"])
    run = create_run(cfg.run.root, "bench inner-loop", "t", to_dict(cfg), argv=[])
    results = run_bench(run, cfg)
    saved = json.loads((run.dir / "bench.json").read_text())
    assert set(saved) >= {"paths", "speedup", "reward_mad", "seed_spread", "peak_fraction", "machine"}
    assert set(saved["paths"]) == {"reference", "fast", "multi"}
    edits = run.store.rows("self_edits")
    assert [e["text"] for e in edits] == [PASSAGES[0]["completions"][0]]  # read from the file, not sampled
    fast, multi, ref = (saved["paths"][p] for p in ("fast", "multi", "reference"))
    assert (ref["lr"], fast["lr"], multi["lr"]) == (1e-3, 1e-4, 1e-4)  # each path at its mode's default
    assert fast["processed_tokens"] == fast["real_tokens"] < ref["processed_tokens"]  # no padding on the fast path
    assert multi["rewards"].keys() == fast["rewards"].keys() == ref["rewards"].keys()
    for key, reward in fast["rewards"].items():  # the same LoRAs trained together or apart
        assert multi["rewards"][key] == pytest.approx(reward, abs=1e-6)
    table = format_bench(results)
    assert "reference" in table and "reward accuracy (f1)" in table
    assert "reward loglik" in format_bench(results | {"settings": results["settings"] | {"reward": "loglik"}})


def test_fixed_answer_length_decodes_past_eos_and_line_breaks():
    """A random-weight model's answers must not end early by chance: under `fixed_answer_length` even a model that
    always puts EOS or a line break first decodes every token asked for (the quiz path: `HFGenerator` with
    `stop_at_newline`); outside it the same model stops after one token."""
    import torch

    from seal.models import load
    from seal.models.generate import FIXED_NEW_TOKENS, HFGenerator
    from seal.bench.inner_loop import fixed_answer_length

    model, tokenizer = load("random:tiny-llama-3.2", dtype="fp32", device="cpu")
    generator = HFGenerator(model, tokenizer)
    steps = []
    model.model.register_forward_hook(lambda *_: steps.append(1))  # one decoder pass per generated token
    for stop in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("Ċ")):  # EOS, then the newline byte
        forced = model.lm_head.register_forward_hook(lambda m, i, out: out.index_fill(-1, torch.tensor([stop]), 1e4))
        for fixed, expected in ((None, 1), (6, 6)):
            steps.clear()
            with fixed_answer_length(fixed):
                generator.generate(["Question: Who founded Tor?\nAnswer:"], max_new_tokens=6, stop_at_newline=True)
            assert len(steps) == expected
        forced.remove()
    assert FIXED_NEW_TOKENS.get() is None  # reset after the block


def test_multi_n_paths_and_unknown_paths():
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.errors import ConfigError
    from seal.bench.inner_loop import check_paths, path_config

    cfg = load_config(KnowledgeConfig, None, ["inner.multi=2"])
    assert [path_config(cfg, p).inner.multi for p in ("reference", "fast", "multi", "multi-8")] == [1, 1, 4, 8]
    assert path_config(cfg, "reference").inner.mode == "reference" and path_config(cfg, "multi-8").inner.mode == "fast"
    check_paths(("reference", "fast", "multi", "multi-4"))
    for bad in ("multi-1", "multi-x", "slow"):
        with pytest.raises(ConfigError, match=f"bench path '{bad}'"):
            check_paths((bad,))


def test_cli_refuses_an_unknown_path_in_one_line_before_any_run(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "seal.cli", "bench", "inner-loop", "--paths", "fast,multi-1",
                           "--set", f"run.root={tmp_path / 'runs'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: bench path 'multi-1': choose from reference, fast, multi, multi-N (N >= 2)"]
    assert not (tmp_path / "runs").exists()
