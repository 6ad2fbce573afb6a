"""`seal learn PATH...` and `seal ask ADAPTER [QUESTION]` (our extension, not in the paper).

    seal learn notes/ paper.md --set learn.k=3          # one LoRA adapter, saved under <run dir>/adapter
    seal learn --into runs/<dir>/adapter more-notes/    # continue that adapter on new files, earlier ones replayed
    seal ask runs/<dir>/adapter "Who founded Tor?" --compare

A person's files become passages (`seal.learn.documents`). The unadapted model writes a quiz about each passage
(`reward.kind: self-quiz`, `seal.domains.knowledge.selfquiz`); a passage whose quiz keeps no question is counted and
trains on its text alone (sampling and scoring self-edits for it would be measured by nothing). For every other
passage the model writes `learn.k` self-edits, each scored by one inner loop (seed 0) against its quiz; the best
self-edit with a positive reward is kept. One LoRA (`inner.lora`; `learn.epochs`, `learn.learning_rate`,
`learn.batch_size`) then trains on the pooled documents (`to_documents(passage, kept self-edit)`, the passage alone
when none was kept) and is saved as a PEFT adapter directory with the tokenizer and `seal-learn.json`: sources and
their SHA-256, passages with their self-written questions and kept self-edits, every training document, the base
model, and the self-quiz score (mean log-likelihood of the self-written answers, nats per token, averaged over the
quizzed passages) of the base model ("before") and the adapted one ("after").

With `learn.into` (`--into ADAPTER`) training starts from that adapter's weights (its LoRA settings, not `inner.lora`)
on the new documents plus every document it was trained on (replay), and `retention` compares the earlier passages'
self-quiz score under the old adapter and the new one. Self-edits and quizzes are always written by the base model.

Resume: self-edits and inner loops are stored as they finish (`seal.store.keys`, condition `learn`), the quizzes are
written again with the same seeds, and the adapter is trained again unless its record is stored. The adapter is saved
into `<out>.partial` and renamed, so a killed save never leaves half an adapter at `<out>`.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Iterable, Sequence

from seal.config import ModelConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_family, check_lengths
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import PLAIN, answer_loglik, make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.errors import ConfigError, DataError, SealError
from seal.executors import make_executor, run_condition
from seal.executors.base import Job
from seal.inner.lora import attach_lora, lora_record
from seal.inner.train import tokenize_documents, train_lora
from seal.jsonfile import read_json, write_json
from seal.learn.config import LearnConfig
from seal.learn.documents import Skipped, Source, format_skipped, read_sources, to_passages
from seal.learn.keys import CONDITION, adapter
from seal.models.context import within_context
from seal.models.generate import HFGenerator
from seal.models.load import fingerprint, load_model
from seal.outer.sample import Sampling, sample_and_store
from seal.outer.select import scored_edits, select
from seal.progress import console, progress_bar
from seal.store.db import Store
from seal.store.runs import Run

RECORD = "seal-learn.json"  # written into the adapter directory
ANSWER_TOKENS = 64  # `seal ask`: answer length limit, as the paper's quizzes

# ----------------------------------------------------------------------------------------------------------------------
# Pieces


def read_record(adapter_dir: str | Path) -> dict:
    """The `seal-learn.json` of an adapter directory ({} for a PEFT adapter written by something else).

    Raises:
        DataError: no such directory, or no `adapter_config.json` in it (not a PEFT adapter)."""
    path = Path(adapter_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"{adapter_dir}: no such adapter directory")
    if not (path / "adapter_config.json").is_file():
        raise DataError(f"{adapter_dir}: not an adapter directory (no adapter_config.json; seal learn writes one)")
    return read_json(path / RECORD) if (path / RECORD).is_file() else {}


def output_dir(run: Run, cfg: LearnConfig) -> Path:
    """Where the adapter goes: `learn.out`, or `<run dir>/adapter`.

    Raises:
        ConfigError: `learn.out` exists and is not this run's own adapter (nothing is overwritten)."""
    out = (Path(cfg.learn.out).expanduser() if cfg.learn.out else run.dir / "adapter").resolve()
    if out.exists():
        record = out / RECORD
        if not (record.is_file() and read_json(record).get("run") == str(run.dir.resolve())):
            raise ConfigError(f"learn.out: {out} exists; choose another directory")
    return out


def check_sources(run: Run, sources: Sequence[Source]) -> None:
    """Record the sources' hashes in the manifest; on resume, refuse files changed since the run started.

    Raises:
        DataError: naming the first changed file."""
    hashes = {str(s.path): s.sha256 for s in sources}
    recorded = run.manifest.get("sources")
    if recorded is not None:
        for path, digest in hashes.items():
            if recorded.get(path, digest) != digest:
                raise DataError(f"{path} changed since the run started; start a new run")
    run.update_manifest(sources=hashes)


def self_quiz_score(model, tokenizer, quizzes: Iterable[Passage], style: str) -> float | None:
    """Mean over the quizzes with questions of each one's mean answer log-likelihood (nats per token); None when no
    quiz has a question."""
    scores = []
    for quiz in quizzes:
        if quiz.questions:
            logliks = answer_loglik(model, tokenizer, quiz, style)
            scores.append(sum(logliks) / len(logliks))
    return sum(scores) / len(scores) if scores else None


def write_quizzes(domain: KnowledgeDomain, passages: Sequence[Passage]) -> dict[str, Passage]:
    """Each passage with the questions the unadapted model writes about it (the reward's own quiz, cached there)."""
    quizzes = {}
    with progress_bar() as bar:
        task = bar.add_task("learn: writing self-quizzes", total=len(passages))
        for p in passages:
            quizzes[p.id] = domain.reward.quiz_of(domain, p)
            bar.advance(task)
    return quizzes


def best_edits(store: Store, jobs: Sequence[Job]) -> dict[str, tuple[str, float]]:
    """Per passage id, the self-edit with the highest positive reward among its stored inner loops, and the reward
    (the E-step's filter, `seal.outer.select.select` with `keep="best"`)."""
    ids = {job.self_edit_id for job in jobs}
    edits = [e for e in store.rows("self_edits", "condition=?", (CONDITION,)) if e["id"] in ids]
    scored = scored_edits(edits, [store.get("inner_results", job.key) for job in jobs])
    return {e.context_id: (e.text, e.reward) for e in select(scored, "best")}


def save_adapter(model, tokenizer, record: dict, out: Path) -> None:
    """`save_pretrained` of the PEFT model and the tokenizer, plus `seal-learn.json`, into `out`: written to
    `<out>.partial`, then renamed (an adapter already at `out`, this run's, is replaced)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    write_json(partial / RECORD, record)
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old)
    else:
        partial.rename(out)


def _quiz_of(entry: dict) -> Passage:
    """A passage of a `seal-learn.json` record with its self-written questions."""
    return Passage(entry["id"], entry["title"], entry["context"],
                   tuple(QA(q, (a,)) for q, a in entry["questions"]))


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_learn(run: Run, cfg: LearnConfig, paths: Sequence[str] | None = None) -> dict:
    """`seal learn`: passages of `paths` (default `cfg.learn.paths`), self-edits, self-quiz rewards, one LoRA adapter
    saved with `seal-learn.json`. Returns the results (also results.json): passages, kept self-edits, unquizzed
    passages, self-quiz before and after, retention (with `learn.into`), adapter path, skipped files.

    Raises:
        DataError: a missing path, nothing readable, a file changed since the run started, a `learn.into` directory
            that is not an adapter. ConfigError: `learn.out` exists, `learn.into` was trained on another model,
            generation.backend=vllm.
    """
    sources, skipped = read_sources(list(paths if paths is not None else cfg.learn.paths))
    check_sources(run, sources)
    out = output_dir(run, cfg)
    previous = read_record(cfg.learn.into) if cfg.learn.into else None
    if previous is not None and previous.get("base_model", {}).get("name") != cfg.model.name:
        raise ConfigError(f"learn.into: {cfg.learn.into} was trained on "
                          f"{previous.get('base_model', {}).get('name')!r}, not model.name={cfg.model.name!r}")
    if cfg.generation.backend != "hf":
        raise ConfigError("generation.backend: seal learn generates with hf only")
    check_family(cfg.self_edit)
    store = run.store
    finished = store.get("evaluations", adapter())
    if finished is not None:  # resumed after the adapter was saved and recorded
        return finished["payload"]

    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    passages = to_passages(sources, tokenizer, cfg.learn.max_passage_tokens)
    context = check_lengths(cfg, model, tokenizer, passages, hint="a lower learn.max_passage_tokens makes passages "
                            "shorter")  # before any work: prompts that cannot fit, caps
    run.update_manifest(data_ids=[p.id for p in passages], model_fingerprint=fingerprint(model), context=context,
                        lora=lora_record(model, {"inner.lora": cfg.inner.lora}))
    console.log(f"learn: {len(passages)} passages from {len(sources)} files")
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz), make_reward(cfg.reward.kind),
                             cfg.model.name)
    for p in passages:
        store.put_context(p.id, "knowledge", p.to_dict())

    # -- quizzes, self-edits and their inner loops (passages whose quiz kept a question) -------------------------------
    quizzes = write_quizzes(domain, passages)
    quizzed = [p for p in passages if quizzes[p.id].questions]
    sampling = dataclasses.replace(Sampling.of(cfg.self_edit), k=cfg.learn.k)
    with domain.writer() as writer:
        edits = sample_and_store(store, writer, {p.id: domain.self_edit_prompt(p) for p in quizzed}, CONDITION, 0,
                                 sampling, cfg.run.seed, cfg.self_edit.family)
    executor = make_executor(cfg.executor, domain)
    jobs = run_condition(store, executor, domain, CONDITION, quizzed, edits, 1, 0)
    executor.close()
    kept = best_edits(store, jobs)

    # -- the adapter: start, score before, train on the pooled documents, score after ---------------------------------
    docs = [d for p in passages for d in to_documents(p, kept[p.id][0] if p.id in kept else None)]
    style = cfg.quiz.style
    with domain.adapter.base() as base:
        before = self_quiz_score(base, tokenizer, quizzes.values(), style)
    base = domain.release()
    earlier = [_quiz_of(e) for e in previous["passages"]] if previous is not None else []
    if previous is not None:
        import peft

        model = peft.PeftModel.from_pretrained(base, cfg.learn.into, is_trainable=True)
        docs += previous["documents"]  # replay: everything the adapter learned before
    else:
        model = attach_lora(base, cfg.inner.lora, cfg.run.seed)
    retained_before = self_quiz_score(model, tokenizer, earlier, style)
    inner = dataclasses.replace(cfg.inner, epochs=cfg.learn.epochs, learning_rate=cfg.learn.learning_rate,
                                batch_size=cfg.learn.batch_size, grad_accum=1, mode="fast", multi=1)
    console.log(f"learn: training the adapter on {len(docs)} documents for {inner.epochs} epochs")
    examples = tokenize_documents(tokenizer, docs, within_context(model, inner.max_doc_tokens), inner.append_eos)
    stats = train_lora(model, examples, inner, cfg.run.seed, tokenizer.pad_token_id)
    after = self_quiz_score(model, tokenizer, quizzes.values(), style)
    retained_after = self_quiz_score(model, tokenizer, earlier, style)

    # -- the adapter directory and the results -------------------------------------------------------------------------
    entries = [{"id": p.id, "title": p.title, "context": p.context,
                "questions": [[q.question, q.answers[0]] for q in quizzes[p.id].questions]}
               | dict(zip(("self_edit", "reward"), kept.get(p.id, (None, None)))) for p in passages]
    retention = ({"n_passages": len(earlier), "before": retained_before, "after": retained_after}
                 if previous is not None else None)
    record = {"run": str(run.dir.resolve()), "base_model": {"name": cfg.model.name, "seed": cfg.run.seed,
                                                  "dtype": cfg.model.dtype},
              "sources": [{"path": str(s.path), "name": s.name, "sha256": s.sha256} for s in sources]
              + (previous["sources"] if previous is not None else []),
              "passages": entries + (previous["passages"] if previous is not None else []),
              "documents": docs, "self_quiz": {"before": before, "after": after}, "retention": retention,
              "into": cfg.learn.into or None,
              "train": {"steps": stats.steps, "n_documents": len(docs), "epochs": inner.epochs,
                        "learning_rate": inner.lr, "batch_size": inner.batch_size,
                        "final_loss": stats.losses[-1] if stats.losses else None, "seconds": stats.seconds}}
    save_adapter(model, tokenizer, record, out)
    results = {"model": cfg.model.name, "n_sources": len(sources), "n_passages": len(passages),
               "n_quizzed": len(quizzed), "n_unquizzed": len(passages) - len(quizzed), "n_kept": len(kept),
               "kept": {pid: reward for pid, (_, reward) in kept.items()},
               "self_quiz": record["self_quiz"], "retention": retention, "adapter": str(out),
               "skipped": [dataclasses.asdict(s) for s in skipped], "train": record["train"]}
    write_json(run.dir / "results.json", results)
    store.add_evaluation(key=adapter(), condition=CONDITION, payload=results)
    return results


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_learn(results: dict) -> str:
    """A short table: passages, kept self-edits, self-quiz before -> after (and retention), adapter, skipped files."""
    sq = results["self_quiz"]
    lines = [f"passages            {results['n_passages']} from {results['n_sources']} files "
             f"({results['n_unquizzed']} without a self-quiz question: trained on the passage alone)",
             f"kept self-edits     {results['n_kept']} of {results['n_quizzed']} quizzed passages",
             f"self-quiz loglik    {_score(sq['before'])} -> {_score(sq['after'])} (base -> adapter, nats/token)"]
    if results["retention"] is not None:
        r = results["retention"]
        lines.append(f"retention           {_score(r['before'])} -> {_score(r['after'])} "
                     f"(earlier {r['n_passages']} passages: old adapter -> new)")
    lines.append(f"adapter             {results['adapter']}")
    skipped = format_skipped([Skipped(**s) for s in results["skipped"]])
    if skipped:
        lines.append(skipped)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------------
# seal ask


def load_adapted(adapter_dir: str | Path, threads: int = 0):
    """The base model named by the adapter's `seal-learn.json` (else `adapter_config.json`'s
    `base_model_name_or_path`), loaded with `load_model` (the recorded seed and dtype), with the adapter applied.
    Returns (PEFT model, tokenizer).

    Raises:
        DataError: not an adapter directory (`read_record`), or no base model named. ModelError: the base model does
            not load."""
    import peft

    record = read_record(adapter_dir)
    base = record.get("base_model") or {
        "name": read_json(Path(adapter_dir) / "adapter_config.json").get("base_model_name_or_path")}
    if not base.get("name"):
        raise DataError(f"{adapter_dir}: names no base model (seal-learn.json or adapter_config.json)")
    model, tokenizer = load_model(ModelConfig(name=base["name"], dtype=base.get("dtype", "auto"), threads=threads),
                                  base.get("seed", 0))
    return peft.PeftModel.from_pretrained(model, str(adapter_dir)).eval(), tokenizer


def answer(model, tokenizer, question: str) -> str:
    """A greedy closed-book answer: the `plain` quiz prompt with an empty title (the question alone names its topic),
    at most `ANSWER_TOKENS` new tokens, cut at the first line break."""
    prompt = PLAIN.format(title="", question=question.strip())
    return HFGenerator(model, tokenizer, 1).generate([prompt], max_new_tokens=ANSWER_TOKENS,
                                                     stop_at_newline=True)[0].strip()


def run_ask(adapter_dir: str | Path, question: str | None, compare: bool, echo) -> None:
    """`seal ask`: answer `question` with the adapted model (and, with `compare`, the base model with the adapter
    disabled), each answer passed to `echo` as one line; with no question, answer the lines of stdin until an empty
    line or its end.

    Raises:
        SealError: `question` is given but empty or blank (checked before the model loads).
        DataError, ModelError: as `load_adapted`."""
    if question is not None and not question.strip():
        raise SealError(f"seal ask: the question is empty, got {question!r}; give a question, or none to read "
                        "questions from stdin")
    model, tokenizer = load_adapted(adapter_dir)
    interactive = question is None
    questions = [question] if not interactive else iter(_next_question, None)
    for q in questions:
        if compare:
            echo(f"adapter: {answer(model, tokenizer, q)}")
            with model.disable_adapter():
                echo(f"base:    {answer(model, tokenizer, q)}")
        else:
            echo(answer(model, tokenizer, q))


def _next_question() -> str | None:
    """The next non-empty line of stdin, or None at its end or at an empty line (a prompt first on a terminal)."""
    if sys.stdin.isatty():
        print("question> ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.strip() or None
