"""`seal bench inner-loop`: SEAL's inner loop (`reference`) against ours (`fast`, `multi`), side by side in one run.

    seal bench inner-loop --quick                  # 2 passages, 1 epoch for every path alike: ~10 min on 2 CPU cores
    seal bench inner-loop                          # the paper's inner-loop settings (10 epochs): hours on CPU
    seal bench inner-loop --set model.name=Qwen/Qwen2.5-7B --set model.device=cuda
    seal bench inner-loop --set data.source=gpt4_1_val.json --set eval.external_file=gpt4_1_val.json  # SEAL's edits

Same model, same passages, same self-edits (sampled once and stored, or read from `eval.external_file` in SEAL's
layout), same seeds for every path. Per path: self-edit evaluations per minute, mean reward, training tokens per
second (real tokens, not pads), the time split (train, quiz, other), peak resident memory, and achieved training
FLOP/s as a fraction of this machine's matmul peak, measured by a probe in the same run. Across paths: the speed-up
over `reference`, the mean absolute difference of rewards between each path and `reference`, and the seed spread
(mean absolute reward difference between two training seeds of the same self-edit on the fast path), the noise floor
the differences are judged against.

FLOPs: a LoRA step on a frozen base costs about 4 N per processed token (forward 2N, backward through activations
2N; no weight gradients for the frozen base) plus attention, 6 L T d per token at sequence length T; N counts every
matrix the tokens go through, the output head included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import threading
import time

import torch

from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.selfedit import render_prompt
from seal.executors import Job, LocalExecutor, run_jobs
from seal.models.generate import HFGenerator
from seal.outer.sample import Sampling, sample_and_store
from seal.progress import console
from seal.recipes.knowledge_eval import choose_passages, external_edits, make_grader
from seal.store.runs import Run

PATHS = ("reference", "fast", "multi")


class PeakRSS:
    """Peak resident set size (bytes) of this process while the block runs, sampled every 50 ms."""

    def __enter__(self):
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def matmul_peak_flops(dtype=torch.float32, n: int = 1024, seconds: float = 2.0) -> float:
    """This machine's dense matmul throughput (FLOP/s) for `dtype`: the best of repeated n x n products."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def training_flops(model, processed_tokens: int, seq_len: float) -> float:
    """Approximate FLOPs of LoRA training on `processed_tokens` tokens at mean sequence length `seq_len`."""
    cfg = model.config
    n_matrix = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    if getattr(cfg, "tie_word_embeddings", False):
        n_matrix += model.get_input_embeddings().weight.numel()  # the tied head is a matmul too
    attention = 6 * cfg.num_hidden_layers * seq_len * cfg.hidden_size
    return processed_tokens * (4 * n_matrix + attention)


def path_config(cfg: KnowledgeConfig, path: str) -> KnowledgeConfig:
    mode = "reference" if path == "reference" else "fast"
    multi = max(cfg.inner.multi, 4) if path == "multi" else 1
    return dataclasses.replace(cfg, inner=dataclasses.replace(cfg.inner, mode=mode, multi=multi))


def run_path(run: Run, cfg: KnowledgeConfig, path: str, model, tokenizer, passages, edits) -> dict:
    """Every (passage, self-edit, seed) inner loop of one path, recorded under condition `bench-<path>`."""
    pcfg = path_config(cfg, path)
    condition = f"bench-{path}"
    with PeakRSS() as rss:
        start = time.perf_counter()
        domain = KnowledgeDomain(model, tokenizer, pcfg, make_grader(pcfg, model, tokenizer))
        jobs = [Job(f"{condition}/{p.id}/{i}/s{seed}", p, text, seed, condition, 0, edit_id)
                for p in passages for i, (edit_id, text) in enumerate(edits[p.id]) for seed in range(cfg.inner.seeds)]
        run_jobs(run.store, LocalExecutor(domain), domain, jobs, f"bench {path}")
        wall = time.perf_counter() - start
        domain.release()
    rows = run.store.rows("inner_results", "condition=?", (condition,))
    train_s = sum(r["timings"]["train_s"] for r in rows)
    quiz_s = sum(r["timings"]["quiz_s"] for r in rows)
    real = sum(r["details"]["train"]["real_tokens"] for r in rows)
    processed = sum(r["details"]["train"]["padded_tokens"] for r in rows)
    steps = sum(r["details"]["train"]["steps"] for r in rows)
    flops = training_flops(model, processed, processed / max(steps, 1))
    rewards = [r["reward"] for r in rows if r["reward"] is not None]
    return {
        "inner_loops": len(rows),
        "lr": pcfg.inner.lr,
        "evals_per_minute": 60 * len(rows) / wall,
        "mean_reward": sum(rewards) / len(rewards) if rewards else None,
        "train_tokens_per_s": real / train_s if train_s else None,
        "processed_tokens": processed, "real_tokens": real,
        "time_split_s": {"train": train_s, "quiz": quiz_s, "other": wall - train_s - quiz_s, "wall": wall},
        "peak_rss_gb": rss.peak / 2 ** 30,
        "train_flops_per_s": flops / train_s if train_s else None,
        "rewards": {r["key"].split("/", 1)[1]: r["reward"] for r in rows},
    }


def mean_abs_diff(a: dict, b: dict) -> float | None:
    common = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    return sum(abs(a[k] - b[k]) for k in common) / len(common) if common else None


def seed_spread(rewards: dict) -> float | None:
    """Mean |reward(seed 0) - reward(seed 1)| over self-edits (None with a single seed)."""
    pairs = [(rewards[k], rewards[k[:-1] + "1"]) for k in rewards if k.endswith("/s0") and k[:-1] + "1" in rewards]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    return sum(abs(x - y) for x, y in pairs) / len(pairs) if pairs else None


def run_bench(run: Run, cfg: KnowledgeConfig, paths: tuple[str, ...] = PATHS) -> dict:
    from seal.models import load
    from seal.models.load import set_threads

    set_threads(cfg.model.threads)
    passages = choose_passages(cfg)
    model, tokenizer = load(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code)
    model.eval()
    if cfg.eval.external_file:  # self-edits written elsewhere (e.g. SEAL's GPT-4.1 ones), the first k per passage
        edits = external_edits(run.store, cfg, passages, 0)
    else:
        families = load_families(cfg.self_edit.families_file)
        prompts = {p.id: render_prompt(tokenizer, cfg.self_edit, p, families) for p in passages}
        edits = sample_and_store(run.store, HFGenerator(model, tokenizer, cfg.self_edit.batch_size), prompts, "bench",
                                 0, Sampling.of(cfg.self_edit), cfg.run.seed, cfg.self_edit.family)
    run.update_manifest(data_ids=[p.id for p in passages], seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))})
    device = next(model.parameters()).device
    peak = matmul_peak_flops(torch.float32) if device.type == "cpu" else None
    results = {"paths": {}, "machine": {"platform": platform.platform(), "processor": platform.processor(),
                                        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                        "device": str(device), "matmul_peak_flops": peak}}
    for path in paths:
        console.log(f"bench: {path} path")
        results["paths"][path] = run_path(run, cfg, path, model, tokenizer, passages, edits)
    ref = results["paths"].get("reference")
    for path, r in results["paths"].items():
        r["speedup"] = r["evals_per_minute"] / ref["evals_per_minute"] if ref else None
        r["reward_mad_vs_reference"] = mean_abs_diff(r["rewards"], ref["rewards"]) if ref else None
        r["peak_fraction"] = r["train_flops_per_s"] / peak if peak and r["train_flops_per_s"] else None
    fast = results["paths"].get("fast", {})
    results["speedup"] = fast.get("speedup")
    results["reward_mad"] = fast.get("reward_mad_vs_reference")
    results["seed_spread"] = seed_spread(fast.get("rewards", {}))
    results["peak_fraction"] = fast.get("peak_fraction")
    results["settings"] = {"model": cfg.model.name, "passages": len(passages), "self_edits_per_passage":
                           cfg.self_edit.k, "seeds": cfg.inner.seeds, "epochs": cfg.inner.epochs,
                           "lora_r": cfg.inner.lora.r, "metric": cfg.quiz.metric,
                           "reward": cfg.reward.kind}
    (run.dir / "bench.json").write_text(json.dumps(results, indent=2))
    return results


def reward_label(settings: dict) -> str:
    """What the rewards measure: gain in quiz accuracy under a metric, or in the answers' mean log-likelihood."""
    kind = settings["reward"]
    return f"accuracy ({settings['metric']})" if kind == "accuracy" else kind


def format_bench(results: dict) -> str:
    lines = [f"{'path':<10} {'lr':>6} {'evals/min':>9} {'speed-up':>8} {'reward':>8} {'|dR| vs ref':>11} {'tok/s':>7} "
             f"{'train s':>8} {'quiz s':>7} {'other s':>7} {'peak GB':>7} {'% peak':>6}"]
    for name, r in results["paths"].items():
        t = r["time_split_s"]
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        lines.append(f"{name:<10} {r['lr']:>6.0e} {r['evals_per_minute']:>9.2f} {fmt(r['speedup'], '>8.1f')} "
                     f"{fmt(r['mean_reward'], '>+8.3f')} {fmt(r['reward_mad_vs_reference'], '>11.3f')} "
                     f"{fmt(r['train_tokens_per_s'], '>7.0f')} {t['train']:>8.1f} {t['quiz']:>7.1f} {t['other']:>7.1f} "
                     f"{r['peak_rss_gb']:>7.2f} {fmt(r['peak_fraction'] and 100 * r['peak_fraction'], '>6.1f')}")
    s = results["settings"]
    lines.append(f"seed spread (fast, |reward seed0 - seed1|): {results['seed_spread']}; model {s['model']}, "
                 f"{s['passages']} passages x {s['self_edits_per_passage']} self-edits x {s['seeds']} seeds, "
                 f"{s['epochs']} epochs, reward {reward_label(s)}; matmul peak "
                 f"{(results['machine']['matmul_peak_flops'] or 0) / 1e9:.1f} GFLOP/s")
    return "\n".join(lines)
