"""`seal bench engines`: Hugging Face generate against a vLLM engine on the same model, passages and seeds, in one run.

    .venv-vllm/bin/seal bench engines                                   # make test-vllm builds .venv-vllm
    .venv-vllm/bin/seal bench engines --set model.threads=1 --set data.n=3

Three comparisons (issue 27, part 3), each engine used the way the knowledge domain uses it (`KnowledgeDomain` with
generation.backend hf, and with vllm: one LoRA request per trained adapter, `generation.lora_batch` quizzes at once):

- parity: greedy quiz answers of the base model (`answer_quiz`), and of the model adapted on each passage (the
  passage condition's inner loops, the same training seeds on the same HF training code, so the same LoRA weights):
  the share of identical answers, and every differing one;
- self-edits: `self_edit.k` per passage sampled by each engine's `writer()` under the same settings; the engines'
  random streams differ, so their token-length distributions are compared (n, mean, quartiles, share cut at
  `self_edit.max_new_tokens`), not their texts;
- speed: tokens per wall second and per CPU second (`Timed`) of self-edit sampling and of greedy quiz answering
  (tokens of the texts as returned: quiz answers cut at their first line break), and wall and CPU seconds per inner
  loop (train + quiz over the passage condition's loops; the vLLM path trains on the HF model too, then serves the
  adapter); ratios vLLM / HF. The engine's start (model load, KV cache) is reported on its own, once per run; each
  engine answers one short prompt before anything is timed.

vLLM runs in this process, on torch's threads (`model.threads`); size its KV cache with `VLLM_CPU_KVCACHE_SPACE` (GiB)
on CPU. The run's store keeps each engine's self-edits (conditions `engine-hf`, `engine-vllm`) and inner loops.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
import time
from dataclasses import dataclass

import torch

from seal.config import GenerationConfig, opt
from seal.domains.knowledge.config import KnowledgeSections
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_family, check_lengths, choose_passages
from seal.domains.knowledge.quiz import answer_quiz, make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.errors import ConfigError, SealError
from seal.executors import LocalExecutor, condition_jobs, run_jobs
from seal.jsonfile import write_json
from seal.outer.sample import Sampling, sample_and_store
from seal.progress import console
from seal.store.runs import Run
from seal.utils.imports import is_vllm_available

ENGINES = ("hf", "vllm")
# bench.json's vLLM / HF ratios: name, part, key of each engine's figures
RATIOS = (("quiz_tokens_per_s", "quiz", "tokens_per_s"), ("quiz_tokens_per_cpu_s", "quiz", "tokens_per_cpu_s"),
          ("self_edit_tokens_per_s", "self_edits", "tokens_per_s"),
          ("self_edit_tokens_per_cpu_s", "self_edits", "tokens_per_cpu_s"),
          ("seconds_per_inner_loop", "inner_loop", "seconds_per_loop"),
          ("cpu_s_per_inner_loop", "inner_loop", "cpu_s_per_loop"))
REFUSAL = ("seal bench engines needs vLLM, which this environment cannot import: run it in the vLLM environment "
           "(`make test-vllm` builds .venv-vllm): .venv-vllm/bin/seal bench engines")


@dataclass(frozen=True)
class EnginesBenchConfig(KnowledgeSections):
    """`seal bench engines`: the knowledge sections both engines share, and the vLLM engine's settings (its
    `generation.backend` is not read: the bench runs both)."""

    generation: GenerationConfig = opt(GenerationConfig(), "the vLLM engine (lora_batch, max_model_len, ...)")


def require_vllm_env() -> None:
    """Raises SealError (one line naming the vLLM environment) when vllm cannot be imported."""
    if not is_vllm_available():
        raise SealError(REFUSAL)


def token_counts(tokenizer, texts: list[str]) -> list[int]:
    """Tokens of each text as returned (no special tokens added)."""
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def length_summary(counts: list[int], limit: int) -> dict:
    """n, mean, median, quartiles, min, max of token counts and the share that reached `limit`.

    >>> length_summary([1, 2, 3, 4], 4)["median"], length_summary([1, 2, 3, 4], 4)["at_limit"]
    (2.5, 0.25)
    """
    if not counts:
        return {"n": 0, "mean": None, "median": None, "q1": None, "q3": None, "min": None, "max": None,
                "at_limit": None, "tokens": 0}
    q1, median, q3 = statistics.quantiles(counts, n=4, method="inclusive") if len(counts) > 1 else [counts[0]] * 3
    return {"n": len(counts), "mean": statistics.mean(counts), "median": median, "q1": q1, "q3": q3,
            "min": min(counts), "max": max(counts), "at_limit": sum(c >= limit for c in counts) / len(counts),
            "tokens": sum(counts)}


def compare_answers(passages, hf: list[list[str]], vllm: list[list[str]], label: str) -> dict:
    """The share of identical answers between two engines (one answer list per passage, questions in order) and the
    differing ones (passage id, question, each engine's answer, `label`)."""
    differing = [{"passage": p.id, "question": qa.question, "hf": a, "vllm": b, "model": label}
                 for p, answers_hf, answers_vllm in zip(passages, hf, vllm)
                 for qa, a, b in zip(p.questions, answers_hf, answers_vllm) if a != b]
    n = sum(len(a) for a in hf)
    return {"answers": n, "identical": n - len(differing), "share": (n - len(differing)) / n if n else None,
            "differing": differing}


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


class Timed:
    """Wall and CPU seconds (this process, every thread: `time.process_time`) of the block. On a loaded machine the
    CPU seconds stand for the wall time of an idle one at the same thread count."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu

    def rates(self, tokens: int) -> dict:
        """`tokens` per wall second and per CPU second, with both times."""
        return {"seconds": self.wall, "cpu_s": self.cpu, "tokens": tokens, "tokens_per_s": tokens / self.wall,
                "tokens_per_cpu_s": tokens / self.cpu if self.cpu else None}


def run_engines_bench(run: Run, cfg: EnginesBenchConfig) -> dict:
    """Both engines on the same passages, seeds and settings; writes and returns bench.json.

    Raises:
        SealError: vLLM not importable (`REFUSAL`). ConfigError: an unknown prompt family, inner.multi above 1, or a
            LoRA rank vLLM cannot serve. DataError: a prompt over the model's context.
    """
    from seal.models import fingerprint, load_model

    require_vllm_env()
    from vllm import __version__ as vllm_version

    from seal.models.vllm_backend import vllm_max_lora_rank

    passages = choose_passages(cfg)
    check_family(cfg.self_edit)
    if cfg.inner.multi > 1:
        raise ConfigError("inner.multi: the bench trains one LoRA per inner loop on both engines; set inner.multi=1")
    vllm_max_lora_rank(cfg.inner.lora.r)
    domains = {}
    for name in ENGINES:
        model, tokenizer = load_model(cfg.model, cfg.run.seed)  # a replica each: an adapter wraps its model
        if not domains:
            context = check_lengths(cfg, model, tokenizer, passages)
        dcfg = dataclasses.replace(cfg, generation=dataclasses.replace(cfg.generation, backend=name))
        domains[name] = KnowledgeDomain(model, tokenizer, dcfg, make_grader(cfg.quiz, model, tokenizer),
                                          make_reward("accuracy"), source=cfg.model.name)
    run.update_manifest(data_ids=[p.id for p in passages], model_fingerprint=fingerprint(model), context=context,
                        seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))})
    tokenizer, weights = domains["hf"].tokenizer, next(model.parameters())  # the HF models' dtype and device
    with Timed() as start:
        engine = domains["vllm"].engine()
    threads = torch.get_num_threads()
    engine_dtype = str(engine.llm.llm_engine.model_config.dtype).removeprefix("torch.")
    results = {"engines": {e: {} for e in ENGINES}}
    try:
        with domains["hf"].writer() as hf_writer:  # warm-up, untimed
            hf_writer.generate(["Hello"], max_new_tokens=4)
        engine.generate(["Hello"], max_new_tokens=4)

        # (i) greedy quiz answers of the base model; their tokens per second
        answers = {}
        for name, domain in domains.items():
            console.log(f"bench engines: {name}: base quiz")
            with Timed() as timed, domain.adapter.base() as model:
                answers[name] = answer_quiz(model, tokenizer, passages, cfg.quiz, engine if name == "vllm" else None)
            tokens = sum(token_counts(tokenizer, [a for per in answers[name] for a in per]))
            results["engines"][name]["quiz"] = timed.rates(tokens)
        base = compare_answers(passages, answers["hf"], answers["vllm"], "base")

        # (ii) sampled self-edits: lengths and tokens per second
        sampling = Sampling.of(cfg.self_edit)
        for name, domain in domains.items():
            console.log(f"bench engines: {name}: self-edits")
            prompts = {p.id: domain.self_edit_prompt(p) for p in passages}
            with Timed() as timed, domain.writer() as writer:
                edits = sample_and_store(run.store, writer, prompts, f"engine-{name}", 0, sampling, cfg.run.seed,
                                         cfg.self_edit.family)
            counts = token_counts(tokenizer, [text for rows in edits.values() for _, text in rows])
            lengths = length_summary(counts, cfg.self_edit.max_new_tokens)
            results["engines"][name]["self_edits"] = lengths | timed.rates(lengths["tokens"])

        # (iii) inner loops on each passage (the passage condition): adapted answers and seconds per loop
        adapted = {}
        for name, domain in domains.items():
            console.log(f"bench engines: {name}: inner loops")
            for p in passages:
                domain.base_result(p)  # the base quiz, cached, outside the timed loops
            condition = f"engine-{name}"
            jobs = condition_jobs(domain, condition, passages, {p.id: [(None, None)] for p in passages},
                                  cfg.inner.seeds, 0)
            with Timed() as timed:
                run_jobs(run.store, LocalExecutor(domain), domain, jobs, f"{name}: inner loops")
            rows = {r["key"]: r for r in run.store.rows("inner_results", "condition=?", (condition,))}
            rows = [rows[j.key] for j in jobs]
            adapted[name] = [r["details"]["predictions"] for r in rows]
            results["engines"][name]["inner_loop"] = {
                "loops": len(rows), "seconds_per_loop": timed.wall / len(rows), "cpu_s_per_loop": timed.cpu / len(rows),
                "train_s": statistics.mean(r["timings"]["train_s"] for r in rows),
                "quiz_s": statistics.mean(r["timings"]["quiz_s"] for r in rows),
                "mean_accuracy": statistics.mean(r["score"] for r in rows)}
        loop_passages = [p for p in passages for _ in range(cfg.inner.seeds)]
        trained = compare_answers(loop_passages, adapted["hf"], adapted["vllm"], "adapted")
    finally:
        for domain in domains.values():
            domain.release()
    hf, vl = results["engines"]["hf"], results["engines"]["vllm"]
    results |= {
        "parity": {"base": base, "adapted": trained},
        "ratios": {name: ratio(vl[part][key], hf[part][key]) for name, part, key in RATIOS},
        "engine_start_s": start.wall, "engine_start_cpu_s": start.cpu,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "torch_threads": threads,
                    "device": str(weights.device), "dtype": str(weights.dtype).removeprefix("torch."),
                    "engine_dtype": engine_dtype, "torch": torch.__version__, "vllm": vllm_version},
        "settings": {"model": cfg.model.name, "passages": len(passages), "questions": base["answers"],
                     "self_edits_per_passage": cfg.self_edit.k,
                     "self_edit_max_new_tokens": cfg.self_edit.max_new_tokens,
                     "temperature": cfg.self_edit.temperature, "top_p": cfg.self_edit.top_p,
                     "quiz_max_new_tokens": cfg.quiz.max_new_tokens, "seeds": cfg.inner.seeds,
                     "epochs": cfg.inner.epochs, "learning_rate": cfg.inner.lr, "lora_r": cfg.inner.lora.r,
                     "lora_batch": cfg.generation.lora_batch},
    }
    write_json(run.dir / "bench.json", results)
    return results


def format_engines_bench(results: dict) -> str:
    """The bench as a table: one row per engine (quiz and self-edit tokens per wall and per CPU second, self-edit
    lengths in tokens, wall and CPU seconds per inner loop), the vLLM / HF ratios, the answer parity and every
    differing answer."""
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lines = [f"{'engine':<7} {'quiz tok/s':>10} {'/cpu s':>6} {'edit tok/s':>10} {'/cpu s':>6} {'edits':>5} "
             f"{'mean tok':>8} {'q1':>5} {'median':>6} {'q3':>5} {'at max':>6} {'s/loop':>6} {'cpu s':>6} "
             f"{'train s':>7} {'quiz s':>6}"]
    for name, r in results["engines"].items():
        q, e, loop = r["quiz"], r["self_edits"], r["inner_loop"]
        lines.append(f"{name:<7} {q['tokens_per_s']:>10.1f} {fmt(q['tokens_per_cpu_s'], '>6.1f')} "
                     f"{e['tokens_per_s']:>10.1f} {fmt(e['tokens_per_cpu_s'], '>6.1f')} {e['n']:>5} "
                     f"{fmt(e['mean'], '>8.1f')} {fmt(e['q1'], '>5.1f')} {fmt(e['median'], '>6.1f')} "
                     f"{fmt(e['q3'], '>5.1f')} {fmt(e['at_limit'] and 100 * e['at_limit'], '>5.0f')}% "
                     f"{loop['seconds_per_loop']:>6.2f} {loop['cpu_s_per_loop']:>6.2f} {loop['train_s']:>7.2f} "
                     f"{loop['quiz_s']:>6.2f}")
    r = results["ratios"]
    lines.append(f"{'vllm/hf':<7} {fmt(r['quiz_tokens_per_s'], '>10.2f')} {fmt(r['quiz_tokens_per_cpu_s'], '>6.2f')} "
                 f"{fmt(r['self_edit_tokens_per_s'], '>10.2f')} {fmt(r['self_edit_tokens_per_cpu_s'], '>6.2f')} "
                 f"{'':>5} {'':>8} {'':>5} {'':>6} {'':>5} {'':>6} {fmt(r['seconds_per_inner_loop'], '>6.2f')} "
                 f"{fmt(r['cpu_s_per_inner_loop'], '>6.2f')}")
    for label, p in results["parity"].items():
        lines.append(f"greedy answers identical, {label} model: {p['identical']}/{p['answers']} "
                     f"({fmt(p['share'] and 100 * p['share'], '.1f')}%)")
        for d in p["differing"]:
            lines.append(f"  {d['passage']}: {d['question'][:60]!r}: hf {d['hf'][:60]!r} / vllm {d['vllm'][:60]!r}")
    s, m = results["settings"], results["machine"]
    lines.append(f"model {s['model']} (HF {m['dtype']}, vLLM {m['engine_dtype']}, {m['torch_threads']} torch "
                 f"thread(s)), {s['passages']} passages, {s['questions']} questions, {s['self_edits_per_passage']} "
                 f"self-edits per passage of at most "
                 f"{s['self_edit_max_new_tokens']} tokens (temperature {s['temperature']:g}, top_p {s['top_p']:g}), "
                 f"{s['seeds']} seed(s) x {s['epochs']} epoch(s) at lr {s['learning_rate']:g}; vLLM engine start "
                 f"{results['engine_start_s']:.1f} s wall, {results['engine_start_cpu_s']:.1f} s CPU (not in the rows)")
    lines.append("tok/s: tokens of the texts as returned per wall second (/cpu s: per CPU second of this process); "
                 "s/loop: one inner loop (train on the passage, then its quiz); ratios vLLM / HF (above 1 for tok/s, "
                 "below 1 for s/loop: vLLM faster)")
    return "\n".join(lines)
