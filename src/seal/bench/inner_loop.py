"""`seal bench inner-loop`: SEAL's inner loop (`reference`) against ours (`fast`, `multi`), side by side in one run.

    seal bench inner-loop --quick                  # 2 passages, 1 epoch for every path alike: ~10 min on 2 CPU cores
    seal bench inner-loop                          # the paper's inner-loop settings (10 epochs): hours on CPU
    seal bench inner-loop --set model.name=Qwen/Qwen2.5-7B --set model.device=cuda
    seal bench inner-loop --set data.source=gpt4_1_val.json --set eval.external_file=gpt4_1_val.json  # SEAL's edits
    seal bench inner-loop --paths reference,fast,multi-4,multi-8 --set model.name=random:qwen2.5-7b   # on a GPU
    bench/gpu.sh OUT_DIR                           # the prepared accelerator run (seal.bench.gpu)

Same model, same passages, same self-edits (sampled once and stored, or read from `eval.external_file` in SEAL's
layout), same seeds for every path. Per path: self-edit evaluations per minute, mean reward, training tokens per
second (real tokens, not pads), the time split (train, quiz, other), peak resident memory (and on CUDA peak GPU
memory, `torch.cuda.max_memory_allocated`), achieved training FLOP/s as a fraction of this machine's matmul peak in
the model's dtype (measured by a probe in the same run), and the projected time of one paper round (`PAPER_ROUND`:
50 passages x 5 self-edits x 3 seeds; SEAL reports 6 hours on two H100s). Paths: `reference`, `fast`, and `multi`
or `multi-N` (N self-edits trained at once; `multi` is `inner.multi`, at least 4). Across paths: the speed-up
over `reference`, the mean absolute difference of rewards between each path and `reference`, and the seed spread
(mean absolute reward difference between two training seeds of the same self-edit on the fast path), the noise floor
the differences are judged against.

Random-weight models (`random:qwen2.5-7b`, ...) give true step times but meaningless rewards, and their quiz answers
could end at any step by chance: for them every answer decodes exactly `quiz.max_new_tokens` tokens
(`fixed_answer_length`), and bench.json says so (`settings.quiz_fixed_tokens`, `note`).
`path_cap_s` bounds each path's time: a path stops starting new inner loops (or multi groups) past it, so a GPU run
fits a budget by measuring fewer inner loops, never by leaving a path out.

FLOPs: a LoRA step on a frozen base costs about 4 N per processed token (forward 2N, backward through activations
2N; no weight gradients for the frozen base) plus attention, 6 L T d per token at sequence length T; N counts every
matrix the tokens go through, the output head included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import threading
import time

import torch

from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_config, choose_passages
from seal.domains.knowledge.plugin import KnowledgePlugin
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import make_grader
from seal.domains.knowledge.selfedit import render_prompt
from seal.errors import ConfigError
from seal.evaluation import edits_for
from seal.executors import LocalExecutor, condition_jobs, run_jobs
from seal.jsonfile import write_json
from seal.models import builtin
from seal.models.generate import FIXED_NEW_TOKENS, HFGenerator
from seal.outer.sample import Sampling, sample_and_store
from seal.progress import console
from seal.store import keys
from seal.store.runs import Run

PATHS = ("reference", "fast", "multi")
PAPER_ROUND = {"passages": 50, "self_edits": 5, "seeds": 3, "seal_hours": 6.0, "seal_gpus": "2 x H100"}  # paper 4.1
RANDOM_NOTE = "random weights: step times are the architecture's, rewards mean nothing"


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


def matmul_peak_flops(dtype=torch.float32, n: int = 1024, seconds: float = 2.0, device: str = "cpu") -> float:
    """Dense matmul throughput (FLOP/s) of `device` for `dtype`: the best of repeated n x n products over about
    `seconds` (n 8192 saturates an H100/H200; CUDA work is synchronised before each reading)."""
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    torch.mm(a, b)
    sync()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        sync()
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def default_probe(device) -> dict:
    """`matmul_peak_flops` size and duration: n 8192 for 5 s on CUDA (an H100/H200 needs large products to reach its
    peak), n 1024 for 2 s on CPU."""
    return {"n": 8192, "seconds": 5.0} if torch.device(device).type == "cuda" else {"n": 1024, "seconds": 2.0}


@contextlib.contextmanager
def fixed_answer_length(tokens: int | None):
    """Inside the block every answer an `HFGenerator` generates has exactly `tokens` new tokens (no early EOS or
    line-break stop: `generate.FIXED_NEW_TOKENS`); None leaves generation as it is."""
    reset = FIXED_NEW_TOKENS.set(tokens or FIXED_NEW_TOKENS.get())
    try:
        yield
    finally:
        FIXED_NEW_TOKENS.reset(reset)


def check_paths(paths: tuple[str, ...]) -> None:
    """Raises ConfigError unless every path is reference, fast, multi or multi-N (N >= 2)."""
    for path in paths:
        if path not in PATHS and not (path.startswith("multi-") and path[6:].isdigit() and int(path[6:]) >= 2):
            raise ConfigError(f"bench path {path!r}: choose from reference, fast, multi, multi-N (N >= 2)")


def training_flops(model, processed_tokens: int, seq_len: float) -> float:
    """Approximate FLOPs of LoRA training on `processed_tokens` tokens at mean sequence length `seq_len`."""
    cfg = model.config
    n_matrix = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    if getattr(cfg, "tie_word_embeddings", False):
        n_matrix += model.get_input_embeddings().weight.numel()  # the tied head is a matmul too
    attention = 6 * cfg.num_hidden_layers * seq_len * cfg.hidden_size
    return processed_tokens * (4 * n_matrix + attention)


def path_config(cfg: KnowledgeEvalConfig, path: str) -> KnowledgeEvalConfig:
    mode = "reference" if path == "reference" else "fast"
    multi = max(cfg.inner.multi, 4) if path == "multi" else int(path[6:]) if path.startswith("multi-") else 1
    return dataclasses.replace(cfg, inner=dataclasses.replace(cfg.inner, mode=mode, multi=multi))


def run_path(run: Run, cfg: KnowledgeEvalConfig, path: str, model, tokenizer, passages, edits,
             cap_s: float | None = None) -> dict:
    """The (passage, self-edit, seed) inner loops of one path, recorded under condition `bench-<path>`: all of them,
    or as many groups (`inner.multi` loops each) as start within `cap_s` seconds."""
    pcfg = path_config(cfg, path)
    condition = f"bench-{path}"
    cuda = next(model.parameters()).device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        start = time.perf_counter()
        domain = KnowledgeDomain(model, tokenizer, pcfg, make_grader(pcfg.quiz, model, tokenizer))
        jobs = condition_jobs(domain, condition, passages, edits, cfg.inner.seeds, 0)
        group = pcfg.inner.multi
        for first in range(0, len(jobs), group):
            if cap_s is not None and first and time.perf_counter() - start > cap_s:
                break
            run_jobs(run.store, LocalExecutor(domain), domain, jobs[first:first + group], f"bench {path}")
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
    answers = sum(r["n_questions"] for r in rows)
    n_passages = len({r["context_id"] for r in rows})
    # A paper round: its inner loops at this path's train + quiz time each, plus the per-passage rest (the base
    # model's quiz, adapter set-up) once per passage.
    per_loop = (train_s + quiz_s) / len(rows)
    round_s = (PAPER_ROUND["passages"] * PAPER_ROUND["self_edits"] * PAPER_ROUND["seeds"] * per_loop
               + PAPER_ROUND["passages"] * (wall - train_s - quiz_s) / n_passages)
    return {
        "inner_loops": len(rows),
        "multi": pcfg.inner.multi,
        "lr": pcfg.inner.lr,
        "seconds_per_inner_loop": {"train": train_s / len(rows), "quiz": quiz_s / len(rows)},
        "quiz_answers": answers,
        "projected_paper_round_h": round_s / 3600,
        "evals_per_minute": 60 * len(rows) / wall,
        "mean_reward": sum(rewards) / len(rewards) if rewards else None,
        "train_tokens_per_s": real / train_s if train_s else None,
        "processed_tokens": processed, "real_tokens": real,
        "time_split_s": {"train": train_s, "quiz": quiz_s, "other": wall - train_s - quiz_s, "wall": wall},
        "peak_rss_gb": rss.peak / 2 ** 30,
        "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None,
        "train_flops_per_s": flops / train_s if train_s else None,
        "rewards": {same_loop(r["key"]): r["reward"] for r in rows},
    }


def same_loop(key: str) -> str:
    """The part of an inner loop's store key that names the same loop on every path: `passage/self-edit/s<seed>`."""
    k = keys.parse(key)
    return f"{k.context_id}/{k.index}/s{k.seed}"


def mean_abs_diff(a: dict, b: dict) -> float | None:
    common = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    return sum(abs(a[k] - b[k]) for k in common) / len(common) if common else None


def seed_spread(rewards: dict) -> float | None:
    """Mean |reward(seed 0) - reward(seed 1)| over self-edits (None with a single seed)."""
    pairs = [(rewards[k], rewards[k[:-1] + "1"]) for k in rewards if k.endswith("/s0") and k[:-1] + "1" in rewards]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    return sum(abs(x - y) for x, y in pairs) / len(pairs) if pairs else None


def run_bench(run: Run, cfg: KnowledgeEvalConfig, paths: tuple[str, ...] = PATHS, path_cap_s: float | None = None,
              peak_flops: float | None = None) -> dict:
    """Every path of `paths` on the same passages, self-edits and seeds; writes and returns bench.json.

    Args:
        run: the run directory and store.
        cfg: the knowledge config (model, data, inner loop, quiz).
        paths: reference, fast, multi or multi-N (see `check_paths`).
        path_cap_s: per-path time cap in seconds (see the module docstring); None runs every inner loop.
        peak_flops: the device's matmul peak (FLOP/s) in the model's dtype, when already measured; default: measured
            here by `matmul_peak_flops` (`default_probe`).

    Raises:
        ConfigError: an unknown path.
    """
    from seal.models import load_model

    check_paths(paths)
    passages = choose_passages(cfg)
    check_config(cfg, served=False, passages=passages)  # families and external file before the model loads
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    if cfg.eval.external_file:  # self-edits written elsewhere (e.g. SEAL's GPT-4.1 ones), the first k per passage
        edits = edits_for(run, KnowledgePlugin(), cfg, None, "external", passages, 0)
    else:
        families = load_families(cfg.self_edit.families_file)
        prompts = {p.id: render_prompt(tokenizer, cfg.self_edit, p, families) for p in passages}
        edits = sample_and_store(run.store, HFGenerator(model, tokenizer, cfg.self_edit.batch_size), prompts, "bench",
                                 0, Sampling.of(cfg.self_edit), cfg.run.seed, cfg.self_edit.family)
    run.update_manifest(data_ids=[p.id for p in passages], seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))})
    first = next(model.parameters())
    cuda = first.device.type == "cuda"
    peak = peak_flops or matmul_peak_flops(first.dtype, device=str(first.device), **default_probe(first.device))
    random_weights = cfg.model.name in builtin.RANDOM
    results = {"paths": {}, "machine": {"platform": platform.platform(), "processor": platform.processor(),
                                        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                        "device": str(first.device), "dtype": str(first.dtype).split(".")[-1],
                                        "gpu": torch.cuda.get_device_name(first.device) if cuda else None,
                                        "torch": torch.__version__, "matmul_peak_flops": peak}}
    with fixed_answer_length(cfg.quiz.max_new_tokens if random_weights else None):
        for path in paths:
            console.log(f"bench: {path} path")
            results["paths"][path] = run_path(run, cfg, path, model, tokenizer, passages, edits, path_cap_s)
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
                           "reward": cfg.reward.kind, "path_cap_s": path_cap_s,
                           "quiz_fixed_tokens": cfg.quiz.max_new_tokens if random_weights else None,
                           "paper_round": PAPER_ROUND}
    results["note"] = RANDOM_NOTE if random_weights else None
    for r in results["paths"].values():
        r["quiz_tokens_per_s"] = (r["quiz_answers"] * cfg.quiz.max_new_tokens / r["time_split_s"]["quiz"]
                                  if random_weights and r["time_split_s"]["quiz"] else None)
    write_json(run.dir / "bench.json", results)
    return results


def reward_label(settings: dict) -> str:
    """What the rewards measure: gain in quiz accuracy under a metric, or in the answers' mean log-likelihood."""
    kind = settings["reward"]
    return f"accuracy ({settings['metric']})" if kind == "accuracy" else kind


def format_bench(results: dict) -> str:
    """The bench as a table: one row per path (seconds per inner loop, training tokens/s, peak memory: GPU where
    measured, else resident; % of the matmul peak; projected hours of one paper round), then the settings."""
    gpu = any(r.get("peak_gpu_gb") is not None for r in results["paths"].values())
    lines = [f"{'path':<10} {'lr':>6} {'loops':>5} {'evals/min':>9} {'speed-up':>8} {'reward':>8} {'|dR| vs ref':>11} "
             f"{'tok/s':>7} {'train s':>8} {'quiz s':>7} {'other s':>7} {'s/loop':>7} "
             f"{'GPU GB' if gpu else 'peak GB':>7} {'% peak':>6} {'round h':>7}"]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for name, r in results["paths"].items():
        t, per = r["time_split_s"], r["seconds_per_inner_loop"]
        lines.append(f"{name:<10} {r['lr']:>6.0e} {r['inner_loops']:>5} {r['evals_per_minute']:>9.2f} "
                     f"{fmt(r['speedup'], '>8.1f')} {fmt(r['mean_reward'], '>+8.3f')} "
                     f"{fmt(r['reward_mad_vs_reference'], '>11.3f')} {fmt(r['train_tokens_per_s'], '>7.0f')} "
                     f"{t['train']:>8.1f} {t['quiz']:>7.1f} {t['other']:>7.1f} {per['train'] + per['quiz']:>7.2f} "
                     f"{r['peak_gpu_gb'] if gpu else r['peak_rss_gb']:>7.2f} "
                     f"{fmt(r['peak_fraction'] and 100 * r['peak_fraction'], '>6.1f')} "
                     f"{r['projected_paper_round_h']:>7.2f}")
    s, m = results["settings"], results["machine"]
    lines.append(f"seed spread (fast, |reward seed0 - seed1|): {results['seed_spread']}; model {s['model']} "
                 f"({m.get('dtype', '?')} on {m.get('gpu') or m['device']}), {s['passages']} passages x "
                 f"{s['self_edits_per_passage']} self-edits x {s['seeds']} seeds, {s['epochs']} epochs, reward "
                 f"{reward_label(s)}; matmul peak {(m['matmul_peak_flops'] or 0) / 1e12:.3g} TFLOP/s")
    round_ = s.get("paper_round") or PAPER_ROUND
    lines.append(f"round h: one paper round ({round_['passages']} passages x {round_['self_edits']} self-edits x "
                 f"{round_['seeds']} seeds) at the measured s/loop on this one device; SEAL reports "
                 f"{round_['seal_hours']:g} h on {round_['seal_gpus']}")
    if s.get("quiz_fixed_tokens"):
        lines.append(f"quiz: every answer decoded exactly {s['quiz_fixed_tokens']} tokens; {results['note']}")
    return "\n".join(lines)
