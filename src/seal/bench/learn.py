"""`seal bench learn`: `seal learn` against plain fine-tuning and the notes in context, on a gold quiz; and its cost.

    seal bench learn                                                  # today's settings, 8 built-in passages
    seal bench learn --set 'bench.variants=["today", "cheap: learn.k=1; inner.epochs=2"]' --set model.threads=1

N built-in passages (`data.*`: SQuAD-style, invented facts, each with gold questions) stand in for a person's notes:
each is written as a Markdown section (`## title`, then the text) into files in the run directory
(`notes/notes-<i>.md`, `SECTIONS_PER_FILE` sections each), and the real `seal learn` recipe (the function the CLI
passes in) learns them once per variant, into its own run directory under `<run dir>/learn/`. A variant is `NAME` or
`NAME: key=value; key=value`: `seal learn --set` overrides on top of this config's learn sections (`model.*`, `run.*`
and the files, `learn.paths|into|out|quiz`, are the bench's own).

Every passage's gold questions are then answered closed-book (the knowledge quiz: `quiz.*`, the passage title as
topic, greedy) by
  (a) the base model,
  (b) a LoRA on the raw files: the passages alone (the documents `seal learn` trains on for a passage without a kept
      self-edit), the same LoRA, learning rate, batch size and number of optimizer steps as (c)'s adapter got (the
      documents repeated to fill the steps when they are not whole epochs; one linearly decayed schedule, as
      `seal learn` trains);
  (c) the `seal learn` adapter;
  (d) the base model with its passage in the prompt (the notes in context: the quiz prompt's title followed by the
      passage text, `with_notes`),
each scored by accuracy (`quiz.metric`) and the gold answers' mean log-likelihood (nats per token), per question.
Reported: each row's mean with a 95% t interval over passages, and the paired differences c-b, c-a, b-a and d-c
(`seal.reports.stats.paired_difference`); per variant the wall and CPU seconds of its `seal learn` (user + system of
this process and its children, `resource.getrusage`), its inner loops and their optimizer steps, and its adapter's
steps. (a) and (d) are shared by every variant, (b) by the variants whose adapters got the same steps and settings.
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from seal.config import COUNT, InnerConfig, opt, parse_override, to_dict, with_overrides
from seal.domains.knowledge.config import DataConfig, QuizConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.evaluation import choose_passages
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import answer_loglik, answer_quiz, make_grader, quiz_prompts
from seal.errors import ConfigError
from seal.jsonfile import read_json, write_json
from seal.learn.config import LearnConfig
from seal.progress import console
from seal.reports.stats import format_difference, paired_difference, unit_interval
from seal.store.runs import Run, create_run

SECTIONS_PER_FILE = 3  # passages per notes file (the user: 6 passages in 3 files)
OWN_KEYS = ("model.", "run.", "learn.paths", "learn.into", "learn.out", "learn.quiz")  # not a variant's to change
DIFFERENCES = (("c", "b"), ("c", "a"), ("b", "a"), ("d", "c"))
ROWS = {"a": "base model, closed-book", "b": "LoRA on the raw files", "c": "seal learn adapter",
        "d": "base model, notes in context"}
Learner = Callable[[Run, LearnConfig, list[str]], dict]  # the `seal learn` recipe: (run, config, paths) -> results


@dataclass(frozen=True)
class BenchSection:
    variants: tuple[str, ...] = opt(("today",), "seal learn settings compared, each `NAME` or `NAME: key=value; "
                                                "key=value` (seal learn --set overrides on this config's sections)")
    sections_per_file: int = opt(SECTIONS_PER_FILE, "passages written into each notes file", COUNT)


@dataclass(frozen=True)
class LearnBenchConfig(LearnConfig):
    """`seal bench learn`: seal learn's sections (the settings under test), the passages, the variants."""

    data: DataConfig = opt(DataConfig(), "the built-in passages written as notes (their gold questions are the quiz)")
    bench: BenchSection = opt(BenchSection(), "the variants compared")


def parse_variants(texts: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(name, overrides) of each `NAME` or `NAME: key=value; key=value`.

    >>> parse_variants(("today", "cheap: learn.k=1; inner.epochs=2"))
    [('today', []), ('cheap', ['learn.k=1', 'inner.epochs=2'])]

    Raises:
        ConfigError: no variant, a name empty, repeated or not a plain word, an override that is not key=value or
            sets a key the bench owns (`OWN_KEYS`).
    """
    if not texts:
        raise ConfigError("bench.variants: give at least one variant (`NAME` or `NAME: key=value; key=value`)")
    out = []
    for text in texts:
        name, _, rest = text.partition(":")
        name = name.strip()
        if not name or not name.replace("-", "").replace("_", "").isalnum() or name in [n for n, _ in out]:
            raise ConfigError(f"bench.variants: {text!r}: a variant needs a name of its own (letters, digits, - and "
                              "_), then optionally `: key=value; key=value`")
        overrides = [o.strip() for o in rest.split(";") if o.strip()]
        for o in overrides:
            key = parse_override(o)[0]
            if key.startswith(OWN_KEYS[:2]) or key in OWN_KEYS[2:]:
                raise ConfigError(f"bench.variants: {name}: {key} is the bench's own (the model, the run and the "
                                  "files are the same for every variant)")
        out.append((name, overrides))
    return out


def learn_config(cfg: LearnBenchConfig, overrides: list[str], name: str) -> LearnConfig:
    """The `seal learn` config of one variant: `cfg`'s learn sections with the variant's overrides.

    Raises:
        ConfigError: an override `seal learn` has no key for, or a wrong value, naming the variant."""
    base = LearnConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(LearnConfig)})
    try:
        return with_overrides(base, overrides)
    except ConfigError as e:
        raise ConfigError(f"bench.variants: {name}: {e}") from None


def write_notes(passages: list[Passage], folder: Path, per_file: int) -> list[Path]:
    """The passages as Markdown notes: `## title`, a blank line, the text; `per_file` sections a file, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(0, len(passages), per_file):
        path = folder / f"notes-{i // per_file + 1}.md"
        path.write_text("".join(f"## {p.title}\n\n{p.context.strip()}\n\n" for p in passages[i:i + per_file]),
                        encoding="utf-8")
        files.append(path)
    return files


def with_notes(passage: Passage) -> Passage:
    """`passage` whose quiz prompts carry its text (the notes in context): the quiz prompt's title is followed by
    the passage.

    >>> from seal.domains.knowledge.data import QA
    >>> quiz_prompts(with_notes(Passage("x", "Tor", "Tor has 12 bridges.", (QA("How many?", ("12",)),))), "plain", None)
    ['Title: Tor\\nTor has 12 bridges.\\nQuestion: How many?\\nAnswer:']
    """
    return dataclasses.replace(passage, title=f"{passage.title}\n{passage.context.strip()}")


def gold_quiz(model, tokenizer, passages: list[Passage], cfg: QuizConfig, grader) -> dict[str, dict]:
    """Per passage id: its gold questions' prompts, answers, grades (`scores`) and gold answers' log-likelihoods
    (`logliks`, nats per token), all questions answered in one batched generate (`answer_quiz`)."""
    answers = answer_quiz(model, tokenizer, passages, cfg)
    return {p.id: {"prompts": quiz_prompts(p, cfg.style, tokenizer), "answers": a, "scores": grader(p, a),
                   "logliks": answer_loglik(model, tokenizer, p, cfg.style)} for p, a in zip(passages, answers)}


def per_question(quiz: dict[str, dict], field: str) -> dict[tuple[str, int], float]:
    """{(passage id, question index): value} of a `gold_quiz` field (`scores` or `logliks`), None values left out."""
    return {(pid, i): v for pid, q in quiz.items() for i, v in enumerate(q[field]) if v is not None}


def raw_training(cfg: LearnConfig) -> InnerConfig:
    """The training settings of (b): the `seal learn` adapter's (`learn.learning_rate`, `learn.batch_size`, the
    inner loop's LoRA and the rest); `run_raw` sets the epochs from the step budget."""
    return dataclasses.replace(cfg.inner, epochs=1, learning_rate=cfg.learn.learning_rate,
                               batch_size=cfg.learn.batch_size, grad_accum=1, mode="fast", multi=1)


def run_raw(model, tokenizer, docs: list[str], inner: InnerConfig, steps: int, seed: int, quiz) -> tuple:
    """(b): a fresh LoRA (`inner.lora`, `seed`) on `model` trained for exactly `steps` optimizer steps on `docs`: whole
    epochs when `steps` is a multiple of an epoch's steps (as `seal learn` trains: the same run as its adapter when it
    kept no self-edit), else the documents repeated in order to steps x batch, shuffled in one pass; then
    `quiz(adapted model)`. Returns (the quiz, the training stats, the base model with the LoRA removed)."""
    from seal.inner.lora import attach_lora
    from seal.inner.train import tokenize_documents, train_lora
    from seal.models.context import within_context

    peft_model = attach_lora(model, inner.lora, seed)
    examples = tokenize_documents(tokenizer, docs, within_context(peft_model, inner.max_doc_tokens), inner.append_eos)
    per_epoch = math.ceil(len(examples) / inner.batch_size)
    if steps % per_epoch == 0:  # whole epochs, as seal learn trains
        inner = dataclasses.replace(inner, epochs=steps // per_epoch)
    else:
        examples = [examples[i % len(examples)] for i in range(steps * inner.batch_size)]
    stats = train_lora(peft_model, examples, inner, seed, tokenizer.pad_token_id)
    result = quiz(peft_model)
    return result, stats, peft_model.unload()


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_variant(run: Run, name: str, lcfg: LearnConfig, overrides: list[str], files: list[Path],
                learn: Learner) -> dict:
    """One `seal learn` on the notes, in its own run under `<run dir>/learn/`: its results, wall and CPU seconds,
    inner loops and their steps, the adapter's steps and directory."""
    paths = [str(f) for f in files]
    argv = ["seal", "learn", *paths, *[x for o in overrides for x in ("--set", o)]]
    sub = create_run(run.dir / "learn", "learn", name, to_dict(lcfg), argv=argv)
    try:
        wall, cpu = time.perf_counter(), cpu_seconds()
        results = learn(sub, lcfg, paths)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        loops = sub.store.rows("inner_results")
    except BaseException as e:  # an interrupted one can be resumed with `seal learn --resume <its run>`
        sub.finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
        sub.close()
        raise
    sub.finish()
    sub.close()
    return {"name": name, "overrides": overrides, "run": str(sub.dir), "adapter": results["adapter"],
            "wall_s": wall, "cpu_s": cpu, "inner_loops": len(loops),
            "inner_steps": sum(r["details"]["train"]["steps"] for r in loops),
            "adapter_steps": results["train"]["steps"], "n_passages": results["n_passages"],
            "n_kept": results["n_kept"], "self_quiz": results["self_quiz"]}


def summary(quizzes: dict[str, dict]) -> dict:
    """Each row's mean accuracy and log-likelihood with 95% t intervals over passages (`unit_interval`)."""
    return {m: unit_interval(per_question(quizzes, f)) for m, f in (("accuracy", "scores"), ("loglik", "logliks"))}


def differences(x: dict[str, dict], y: dict[str, dict]) -> dict:
    """x - y paired per question, by measure (`paired_difference`)."""
    return {m: paired_difference(per_question(x, f), per_question(y, f))
            for m, f in (("accuracy", "scores"), ("loglik", "logliks"))}


def run_learn_bench(run: Run, cfg: LearnBenchConfig, learn: Learner) -> dict:
    """Every variant of `bench.variants` learned by `learn` (the `seal learn` recipe) from the passages written as
    notes, then rows (a) to (d) on the gold quiz (module docstring); writes and returns bench.json.

    Raises:
        ConfigError: `learn.paths`, `learn.into`, `learn.out` or `learn.quiz` given (the bench sets them), a
            malformed variant (`parse_variants`, `learn_config`). DataError: too few passages
            (`choose_passages`). As `learn`.
    """
    import peft

    from seal.models import load_model

    for key in ("paths", "into", "out", "quiz"):  # the bench writes the notes and keeps each adapter in its run
        if getattr(cfg.learn, key):
            raise ConfigError(f"learn.{key}: seal bench learn sets it itself, got {getattr(cfg.learn, key)!r}")
    variants = [(name, overrides, learn_config(cfg, overrides, name))
                for name, overrides in parse_variants(cfg.bench.variants)]  # every variant checked before any work
    passages = choose_passages(cfg)
    files = write_notes(passages, run.dir / "notes", cfg.bench.sections_per_file)
    run.update_manifest(data_ids=[p.id for p in passages])
    console.log(f"bench learn: {len(passages)} passages ({sum(len(p.context.split()) for p in passages)} words) in "
                f"{len(files)} notes files, {len(variants)} seal learn settings")
    learned = []
    for name, overrides, lcfg in variants:
        console.log(f"bench learn: seal learn, setting {name!r} {overrides or '(as configured)'}")
        learned.append((run_variant(run, name, lcfg, overrides, files, learn), lcfg))

    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    grader = make_grader(cfg.quiz)
    quiz = lambda m, ps=passages: gold_quiz(m, tokenizer, ps, cfg.quiz, grader)  # noqa: E731
    rows = {"a": quiz(model), "d": quiz(model, [with_notes(p) for p in passages])}  # the same passage ids
    raws: dict[str, dict] = {}  # one (b) per distinct step budget and training settings
    results = {"variants": {}, "passages": [p.id for p in passages], "files": [str(f) for f in files]}
    for v, lcfg in learned:
        record = read_json(Path(v["adapter"]) / "seal-learn.json")
        docs = [d for e in record["passages"] for d in to_documents(Passage(e["id"], e["title"], e["context"], ()),
                                                                   None)]
        inner = raw_training(lcfg)
        key = repr((v["adapter_steps"], docs, inner))
        if key not in raws:
            console.log(f"bench learn: a LoRA on the raw files, {v['adapter_steps']} steps")
            quizzed, stats, model = run_raw(model, tokenizer, docs, inner, v["adapter_steps"], lcfg.run.seed, quiz)
            raws[key] = {"name": f"b{len(raws) + 1}", "quiz": quizzed, "steps": stats.steps,
                         "documents": len(docs), "seconds": stats.seconds}
        raw = raws[key]
        adapted = peft.PeftModel.from_pretrained(model, v["adapter"])
        own = quiz(adapted)
        model = adapted.unload()
        four = rows | {"b": raw["quiz"], "c": own}
        v |= {"raw": raw["name"], "raw_steps": raw["steps"], "raw_documents": raw["documents"],
              "raw_train_s": raw["seconds"], "summary": summary(own), "quiz": own,
              "differences": {f"{x}-{y}": differences(four[x], four[y]) for x, y in DIFFERENCES}}
        results["variants"][v["name"]] = v
    results["rows"] = {k: {"summary": summary(q), "quiz": q} for k, q in rows.items()}
    results["raw"] = {r["name"]: {"summary": summary(r["quiz"]), "quiz": r["quiz"], "steps": r["steps"],
                                  "documents": r["documents"], "train_s": r["seconds"]} for r in raws.values()}
    results["settings"] = {"model": cfg.model.name, "threads": cfg.model.threads, "passages": len(passages),
                           "questions": sum(len(p.questions) for p in passages),
                           "words": sum(len(p.context.split()) for p in passages), "metric": cfg.quiz.metric,
                           "data": to_dict(cfg.data)}
    write_json(run.dir / "bench.json", results)
    return results


def _cell(s: dict, scale: float, digits: int) -> str:
    lo, hi = s["ci95"]
    ci = "" if lo is None else f" [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"
    return "-" if s["mean"] is None else f"{scale * s['mean']:.{digits}f}{ci}"


def format_learn_bench(results: dict) -> str:
    """The four rows (b and c once per variant), the paired differences per variant, then the cost table."""
    s = results["settings"]
    lines = [f"{'row':<44} {'accuracy % [95% CI]':>22} {'loglik nats/token [95% CI]':>28}"]
    row = lambda label, summ: (f"{label:<44} {_cell(summ['accuracy'], 100, 1):>22} "  # noqa: E731
                               f"{_cell(summ['loglik'], 1, 3):>28}")
    lines.append(row(f"(a) {ROWS['a']}", results["rows"]["a"]["summary"]))
    for name, r in results["raw"].items():
        lines.append(row(f"(b) {ROWS['b']} [{name}: {r['steps']} steps]", r["summary"]))
    for name, v in results["variants"].items():
        lines.append(row(f"(c) {ROWS['c']} [{name}]", v["summary"]))
    lines.append(row(f"(d) {ROWS['d']}", results["rows"]["d"]["summary"]))
    lines.append("")
    lines.append(f"{'paired difference':<22} {'accuracy points [95% CI]':>26} {'loglik nats/token [95% CI]':>28}")
    for name, v in results["variants"].items():
        for pair, d in v["differences"].items():
            label = f"{pair} [{name}, {v['raw']}]"
            lines.append(f"{label:<22} {format_difference(d['accuracy'], 100, 1):>26} "
                         f"{format_difference(d['loglik'], 1, 3):>28}")
    lines.append("")
    lines.append(f"{'setting':<12} {'wall s':>8} {'CPU s':>8} {'inner loops':>11} {'inner steps':>11} "
                 f"{'adapter steps':>13} {'kept':>5}  overrides")
    for name, v in results["variants"].items():
        lines.append(f"{name:<12} {v['wall_s']:>8.0f} {v['cpu_s']:>8.0f} {v['inner_loops']:>11} "
                     f"{v['inner_steps']:>11} {v['adapter_steps']:>13} {v['n_kept']:>5}  "
                     f"{'; '.join(v['overrides']) or '(as configured)'}")
    first = next(iter(results["variants"].values()))
    n_items = first["differences"]["c-a"]["accuracy"]["n_items"]
    lines.append(f"{s['passages']} passages ({s['words']} words, {s['questions']} gold questions, {n_items} paired), "
                 f"model {s['model']}, threads {s['threads'] or 'default'}; accuracy {s['metric']}; intervals: "
                 f"Student t over passages; CPU s: user + system of the process and its children during seal learn")
    return "\n".join(lines)
