"""`seal learn PATH...` and `seal ask ADAPTER [QUESTION]` (our extension, not in the paper).

    seal learn notes/ paper.md --set learn.k=3          # one LoRA adapter, saved under <run dir>/adapter
    seal learn --into runs/<dir>/adapter more-notes/    # continue that adapter on new files, earlier ones replayed
    seal ask runs/<dir>/adapter "Who founded Tor?" --compare

A person's files become passages (`seal.learn.documents`). The unadapted model writes a quiz about each passage
(`reward.kind: self-quiz`, `seal.domains.knowledge.selfquiz`); a passage whose quiz keeps no question is counted and
trains on its text alone (sampling and scoring self-edits for it would be measured by nothing). For every other
passage the model writes `learn.k` self-edits, each scored by one inner loop (seed 0) against its quiz; the best
self-edit with a positive reward is kept. With `learn.grounding` (on by default, `seal.learn.grounding`) a quiz keeps
only the questions found in its passage and a self-edit only its sentences found there (one with too few is passed
over for the next best, before its inner loop is run: it could never be kept), and what was dropped is counted and
listed in the results and the record. One LoRA
(`inner.lora`; `learn.epochs`, `learn.learning_rate`, `learn.batch_size`) then trains on the pooled documents
(`to_documents(passage, kept self-edit)`, the passage alone when none was kept) and is saved as a PEFT adapter
directory with the tokenizer and `seal-learn.json`: sources and their SHA-256, passages with their self-written
questions and kept self-edits, every training document, the base model, and the self-quiz score (mean
log-likelihood of the self-written answers, nats per token, averaged over the quizzed passages) of the base model
("before") and the adapted one ("after").

With `learn.into` (`--into ADAPTER`) training starts from that adapter's weights (its LoRA settings, not `inner.lora`)
on the new documents plus every document it was trained on (replay), and `retention` compares the earlier passages'
self-quiz score under the old adapter and the new one. Self-edits and quizzes are always written by the base model.
The new adapter replaces the old one in place (unless `learn.out` names another directory), the old one kept beside
it as `<ADAPTER>.previous` (one backup: an older one is removed): a person keeps asking one path, and each step
holds every earlier one's documents, so adapters do not pile up in run directories.

The adapter directory also holds a model card (`README.md`): the base model and where its weights come from, the
sources, the prompt `seal ask` uses, the scores and the command that made it. Its base model is recorded as given when
it is a built-in name or a hub id, else as an absolute path (`adapter_config.json`'s `base_model_name_or_path` too),
so the adapter works from any folder.

Progress: after cutting, one line says what is to be done (passages, quizzes, self-edits, inner loops, training steps)
and how long it should take, from the rates (seconds per generated token, per training step) of the newest earlier
`seal learn` run of the same model, device and threads under the same runs root, else from this run's own first
quiz and first inner loop; each stage's bar or log line then gives the time left of the whole job (`seal.progress`).

Resume: self-quizzes, self-edits and inner loops are stored as they finish (`seal.learn.keys`, `seal.store.keys`,
condition `learn`), and the adapter is trained again unless its record is stored. The adapter is saved into
`<out>.partial` and renamed, so a killed save never leaves half an adapter at `<out>`.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from seal.config import ModelConfig
from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_family, check_lengths
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import PLAIN, answer_loglik, make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.errors import ConfigError, DataError, SealError
from seal.executors import make_executor
from seal.executors.base import Job, condition_jobs, run_jobs
from seal.inner.lora import attach_lora, lora_record
from seal.inner.train import tokenize_documents, train_lora
from seal.jsonfile import read_json, write_json
from seal.learn.config import GroundingConfig, LearnConfig
from seal.learn.documents import Skipped, Source, format_skipped, read_sources, to_passages
from seal.learn.grounding import EditCheck, describe, edit_check, ground_quiz, summary
from seal.learn.keys import CONDITION, adapter, quiz as quiz_key
from seal.learn.quiz import SCORED_AS, Question, accuracy, read_questions
from seal.models import builtin
from seal.models.context import within_context
from seal.models.generate import HFGenerator
from seal.models.load import fingerprint, load_model
from seal.outer.sample import Sampling, sample_and_store
from seal.outer.select import scored_edits, select
from seal.progress import Plan, Stage, console, duration, planned, progress_bar
from seal.store import keys
from seal.store.db import Store
from seal.store.runs import Run, read_manifest, redact_argv

RECORD = "seal-learn.json"  # written into the adapter directory
ANSWER_TOKENS = 64  # `seal ask`: answer length limit, as the paper's quizzes
PREVIOUS = ".previous"  # suffix of the backup an --into update keeps beside the adapter

# The stages of a run, in the user's terms (the progress bars' and log lines' labels)
QUIZZES = "writing a quiz about each passage"
EDITS = "writing self-edits (notes restating each passage)"
TRIES = "trying each self-edit (a test adapter, then its quiz)"
TRAINING = "training the adapter"
GENERATE, STEP = "generated token", "training step"  # the resources whose seconds per unit are measured
PIECE_TOKENS = 16  # a self-edit's expected tokens per training document (line), for the estimate before any is written

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
    """Where the adapter goes: `learn.out`, else the `learn.into` adapter (updated in place), else `<run dir>/adapter`.

    Raises:
        ConfigError: `learn.out` exists and is not this run's own adapter (nothing is overwritten)."""
    default = Path(cfg.learn.into).expanduser() if cfg.learn.into else run.dir / "adapter"
    out = (Path(cfg.learn.out).expanduser() if cfg.learn.out else default).resolve()
    if out.exists() and not (cfg.learn.into and out == Path(cfg.learn.into).expanduser().resolve()):
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


def quiz_score(model, tokenizer, questions: Sequence[Question]) -> dict | None:
    """A person's questions answered by `model` (`answer`) and scored (`seal.learn.quiz`): {"correct", "scored",
    "answers"}; None when no question is given."""
    if not questions:
        return None
    answers = [answer(model, tokenizer, q.question) for q in questions]
    correct, scored = accuracy(list(questions), answers) or (0, 0)
    return {"correct": correct, "scored": scored, "answers": answers}


def _quiz_results(questions: Sequence[Question], before: dict | None, after: dict | None) -> dict | None:
    """Accuracy before -> after on `questions`, with each question's answers (results.json, the report)."""
    if before is None or after is None:
        return None
    return {"scored": after["scored"], "before": before["correct"], "after": after["correct"],
            "items": [{"question": q.question, "expected": list(q.answers), "before": b, "after": a,
                       "before_right": q.correct(b), "after_right": q.correct(a)}
                      for q, b, a in zip(questions, before["answers"], after["answers"])]}


def self_quiz_score(model, tokenizer, quizzes: Iterable[Passage], style: str) -> float | None:
    """Mean over the quizzes with questions of each one's mean answer log-likelihood (nats per token); None when no
    quiz has a question."""
    scores = []
    for quiz in quizzes:
        if quiz.questions:
            logliks = answer_loglik(model, tokenizer, quiz, style)
            scores.append(sum(logliks) / len(logliks))
    return sum(scores) / len(scores) if scores else None


def stored_quizzes(store: Store, passages: Sequence[Passage]) -> dict[str, dict]:
    """The self-written quizzes already in the store (`seal.learn.keys.quiz`: `Passage.to_dict` payloads, with
    "ungrounded" when grounding was on), by passage id."""
    rows = {p.id: store.get("evaluations", quiz_key(p.id)) for p in passages}
    return {pid: row["payload"] for pid, row in rows.items() if row is not None}


def write_quizzes(store: Store, domain: KnowledgeDomain, passages: Sequence[Passage],
                  threshold: float | None = None) -> tuple[dict[str, Passage], dict[str, list[dict]]]:
    """Each passage with the questions the unadapted model writes about it (`KnowledgeDomain.quiz_of`, cached there),
    each stored as it is written; a stored one is read back, not written again (a resumed run). With `threshold`
    (`learn.grounding` on) a quiz keeps only its grounded questions (`seal.learn.grounding.ground_quiz`, which also
    judges the pairs the filter of `quiz_of` dropped) and is stored with the ungrounded ones ("ungrounded"); a quiz
    stored without them (a run from before grounding) is grounded as it is read. Returns the quizzes and the
    ungrounded questions ({"question", "answer", "missing"}), by passage id in passage order."""
    rows = stored_quizzes(store, passages)
    quizzes = {pid: Passage.from_dict(row) for pid, row in rows.items()}
    ungrounded = {pid: row.get("ungrounded", []) for pid, row in rows.items()}
    if threshold is not None:
        for pid in [pid for pid, row in rows.items() if "ungrounded" not in row]:
            quizzes[pid], ungrounded[pid] = ground_quiz(quizzes[pid], [], threshold)
    domain.self_quizzes.update(quizzes)  # the inner loops' quizzes ask the same questions
    with progress_bar() as bar:
        task = bar.add_task(QUIZZES, total=len(passages), completed=len(quizzes))
        for p in passages:
            if p.id not in quizzes:
                quiz, ungrounded[p.id] = domain.quiz_of(p), []
                if threshold is not None:
                    quiz, ungrounded[p.id] = ground_quiz(quiz, domain.written_pairs.get(p.id, []), threshold)
                    domain.self_quizzes[p.id] = quiz
                quizzes[p.id] = quiz
                store.add_evaluation(key=quiz_key(p.id), condition=CONDITION, payload=quiz.to_dict() | (
                    {"ungrounded": ungrounded[p.id]} if threshold is not None else {}))
                bar.advance(task)
    return {p.id: quizzes[p.id] for p in passages}, {p.id: ungrounded[p.id] for p in passages}


def model_reference(name: str) -> str:
    """How an adapter records its base model: a built-in name or a hub id as given, a local directory as an absolute
    path (so the adapter works from any folder)."""
    if name in builtin.builtin_names() or not Path(name).expanduser().exists():
        return name
    return str(Path(name).expanduser().resolve())


def provenance(name: str) -> str:
    """Where the weights of base model `name` (as `model_reference` gives it) come from, in one sentence."""
    if name in builtin.GGUF:
        return (f"built in: {builtin.GGUF[name].title}, the 4-bit GGUF file of the "
                f"`{builtin.GGUF[name].install.split()[-1]}` package converted to full precision on first use (so "
                "its weights differ slightly from the original release's)")
    if name in builtin.TINY or name in builtin.RANDOM:
        return "built in: random weights for tests (seeded), not a trained model"
    if Path(name).is_absolute():
        return f"the checkpoint in the local directory `{name}`"
    return f"the Hugging Face hub model `{name}`"


def inner_steps(cfg: LearnConfig, n_docs: float) -> float:
    """Optimizer steps of one inner loop on `n_docs` documents (`inner.epochs`, `inner.batch_size`, `grad_accum`)."""
    return cfg.inner.epochs * math.ceil(math.ceil(n_docs / cfg.inner.batch_size) / cfg.inner.grad_accum)


def earlier_rates(run: Run, cfg: LearnConfig) -> tuple[dict[str, float], Path | None]:
    """The measured rates (seconds per generated token and per training step, those it measured) of the newest
    finished `seal learn` run beside this one (the same runs root) with the same model, device and threads, and its
    directory; ({}, None) when there is none. Unreadable runs are passed over."""
    same = {"name": cfg.model.name, "device": cfg.model.device, "threads": cfg.model.threads}
    for other in sorted(run.dir.parent.iterdir(), reverse=True):
        if other == run.dir or not (other / "results.json").is_file():
            continue
        try:
            manifest, results = read_manifest(other), read_json(other / "results.json")
        except (SealError, OSError, ValueError):
            continue
        model = manifest.get("config", {}).get("model", {})
        rates = results.get("rates") if isinstance(results, dict) else None
        rates = {r: float(v) for r, v in rates.items() if r in (GENERATE, STEP) and isinstance(v, (int, float))} \
            if isinstance(rates, dict) else {}
        if manifest.get("command") == "learn" and all(model.get(k) == v for k, v in same.items()) and rates:
            return rates, other
    return {}, None


@contextmanager
def _keeping_rates(store: Store, plan: Plan) -> Iterator[None]:
    """Store the rates the plan measured in the run (meta `learn_rates`) however the block ends, so a resumed run
    estimates its time from them."""
    try:
        yield
    finally:
        store.set_meta("learn_rates", {r: plan.rates[r] for r in plan.measured})


def describe_plan(plan: Plan, n_passages: int, n_sources: int, rated_by: Path | None) -> str:
    """The line printed after cutting: what is to be done, and the expected time with where its rates come from."""
    quiz, edits, tries, train = (plan.stages[s] for s in (QUIZZES, EDITS, TRIES, TRAINING))
    work = (f"{quiz.units} quizzes to write, {edits.units} passages' self-edits to write, {tries.units} inner loops "
            f"of about {tries.cost:.0f} training steps each, then about {train.cost:.0f} steps for the adapter")
    total = plan.left_s()
    when = (f"expected about {duration(total)} (rates measured by the run {rated_by})" if total is not None
            else "the time is estimated after the first quiz and the first inner loop")
    return f"learn: {n_passages} passages from {n_sources} files: {work}; {when}"


def screened_jobs(store: Store, jobs: Sequence[Job], grounding: GroundingConfig | None
                  ) -> tuple[list[Job], list[Job], dict[int, EditCheck] | None]:
    """The inner loops worth running, those passed over before they run, and each self-edit's check against its
    passage's title and text (`seal.learn.grounding.edit_check`, by self-edit row id; None without `grounding`): with
    `grounding`, a self-edit with too little text found in its passage can never be kept (`best_edits`), so its
    inner loop is not run; one already stored (a run resumed from before the screen) is used as it is. The kept
    self-edits are the same as when every inner loop runs. Returns (to run or stored, passed over, checks)."""
    if grounding is None:
        return list(jobs), [], None
    tried, passed, checks = [], [], {}
    for job in jobs:
        p = job.context
        checks[job.self_edit_id] = check = edit_check(job.self_edit, f"{p.title} {p.context}", grounding.threshold,
                                                      grounding.min_kept)
        (tried if check.kept or store.has("inner_results", job.key) else passed).append(job)
    return tried, passed, checks


def best_edits(store: Store, jobs: Sequence[Job], checks: dict[int, EditCheck] | None = None,
               passed: Sequence[Job] = ()) -> tuple[dict[str, tuple[str, float]], dict[str, dict]]:
    """Per passage id, the self-edit with the highest positive reward among its stored inner loops, and the reward
    (the E-step's filter, `seal.outer.select.select` with `keep="best"`).

    With `checks` (`learn.grounding` on: `screened_jobs`'s check of each self-edit against its passage), a self-edit
    with too little grounded text is passed over, and the text kept is the grounded sentences alone; `passed` are
    the jobs `screened_jobs` passed over before their inner loop. Returns the kept self-edits and, per passage with a
    positive-reward or passed-over self-edit, what grounding dropped: {"sentences": the kept self-edit's sentences
    that claim something, "ungrounded": its dropped ones ({"text", "missing"}), "passed_over": the self-edits passed
    over, with a positive reward or before their inner loop} (empty without `checks`). Deterministic: a resumed run
    keeps the same."""
    ids = {job.self_edit_id for job in jobs}
    edits = [e for e in store.rows("self_edits", "condition=?", (CONDITION,)) if e["id"] in ids]
    scored = scored_edits(edits, [store.get("inner_results", job.key) for job in jobs])
    if checks is None:
        return {e.context_id: (e.text, e.reward) for e in select(scored, "best")}, {}
    best = select([dataclasses.replace(e, text=checks[e.self_edit_id].text) for e in scored
                   if checks[e.self_edit_id].kept], "best")
    empty = lambda: {"sentences": 0, "ungrounded": [], "passed_over": []}  # noqa: E731
    dropped = {e.context_id: empty() for e in scored if e.reward > 0}
    for e in best:
        check = checks[e.self_edit_id]
        dropped[e.context_id] |= {"sentences": check.n_sentences, "ungrounded": [c.to_dict() for c in check.dropped]}
    for e in scored:
        if e.reward > 0 and not checks[e.self_edit_id].kept:
            dropped[e.context_id]["passed_over"].append(e.text)
    for job in passed:
        dropped.setdefault(job.context.id, empty())["passed_over"].append(job.self_edit)
    return {e.context_id: (e.text, e.reward) for e in best}, dropped


def model_card(record: dict, argv: Sequence[str], out: Path, quizzes: Sequence[tuple[str, dict | None]] = ()) -> str:
    """The adapter's `README.md`: what it is, its base model and that model's provenance, what it learned from, the
    prompt `seal ask` uses, the scores (each saying what it measures) and the command that made it (`argv`: the
    run's command line, secrets redacted); `out` is the adapter directory; `quizzes`: (name, `_quiz_results`) of the
    person's own quizzes scored by the run."""
    base = record["base_model"]["name"]
    sq, ret = record["self_quiz"], record["retention"]
    example = PLAIN.format(title="", question="<your question>")
    lines = ["---", "library_name: peft", "tags: [lora, seal-learn]", "---", "",
             "# A LoRA adapter written by `seal learn`", "",
             f"Base model: `{base}`, {provenance(base)}; loaded with dtype `{record['base_model']['dtype']}`.", "",
             "Learned from:", *[f"- `{s['path']}` (SHA-256 {s['sha256'][:12]}...)" for s in record["sources"]], "",
             f"{len(record['passages'])} passages, {record['train']['n_documents']} training documents "
             f"({record['train']['epochs']} epochs, {record['train']['steps']} steps)." + (
                 f" Continued from `{record['into']}` (its documents replayed)." if record.get("into") else ""), "",
             "`seal ask` prompts the adapted model with this text, closed-book and greedy (at most "
             f"{ANSWER_TOKENS} new tokens, cut at the first line break):", "", "```", example, "```", "",
             f"Self-quiz score (mean log-likelihood of the answers to the questions the base model wrote about each "
             f"passage, nats per token; higher is better, 0 is the best; it measures how familiar the text is, not "
             f"whether answers are right): base {_score(sq['before'])}, adapter {_score(sq['after'])}."]
    if record.get("grounding") is not None:
        lines += ["", f"Grounding: only what the passages hold was kept; of what the base model wrote it "
                      f"{describe(record['grounding'])}."]
    if ret is not None:
        lines += ["", f"Retention (the same score on the {ret['n_passages']} passages learned before): previous "
                      f"adapter {_score(ret['before'])}, this one {_score(ret['after'])}."]
    for name, q in quizzes:
        if q is not None:
            lines += ["", f"{name} ({q['scored']} questions with expected answers, asked as above; right when "
                          f"{SCORED_AS}): {q['before']} right before, {q['after']} after."]
    lines += ["", "Made by:", "", "```", " ".join(["seal", *map(shlex.quote, redact_argv(list(argv[1:])))]), "```",
              "", "Use it:", "", "```", f"seal ask {shlex.quote(str(out))} \"Your question?\" --compare",
              "```", "", "or in Python, on the base model loaded as `seal.models.load` loads it:", "", "```python",
              "import peft", "from seal.models import load", f"model, tokenizer = load({base!r})",
              f"model = peft.PeftModel.from_pretrained(model, {str(out)!r})", "```", ""]
    return "\n".join(lines)


def save_adapter(model, tokenizer, record: dict, out: Path, card: str, keep_previous: bool = False) -> None:
    """`save_pretrained` of the PEFT model and the tokenizer, `seal-learn.json` and the model card (`README.md`) into
    `out`: written to `<out>.partial`, then renamed. An adapter already at `out` is replaced; with `keep_previous`
    (an --into update in place) it is kept as `<out>.previous`, replacing an older backup. `adapter_config.json`'s
    `base_model_name_or_path` is set to the record's base model after saving (PEFT would look a built-in name up on
    the hub while saving)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    config = read_json(partial / "adapter_config.json")
    write_json(partial / "adapter_config.json", config | {"base_model_name_or_path": record["base_model"]["name"]})
    tokenizer.save_pretrained(partial)
    write_json(partial / RECORD, record)
    (partial / "README.md").write_text(card, encoding="utf-8")
    if out.exists():
        old = out.with_name(out.name + (PREVIOUS if keep_previous else ".old"))
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        partial.rename(out)
        if not keep_previous:
            shutil.rmtree(old)
    else:
        partial.rename(out)


def dropped_of(pid: str, ungrounded: dict[str, list[dict]], edit_drops: dict[str, dict]) -> dict:
    """What grounding dropped of passage `pid` (`write_quizzes`, `best_edits`): {"questions": the self-written
    questions, "sentences": the kept self-edit's sentences, "passed_over": the positive-reward self-edits with too
    little grounded text}."""
    edits = edit_drops.get(pid, {})
    return {"questions": ungrounded.get(pid, []), "sentences": edits.get("ungrounded", []),
            "passed_over": edits.get("passed_over", [])}


def _quiz_of(entry: dict) -> Passage:
    """A passage of a `seal-learn.json` record with its self-written questions."""
    return Passage(entry["id"], entry["title"], entry["context"],
                   tuple(QA(q, (a,)) for q, a in entry["questions"]))


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_learn(run: Run, cfg: LearnConfig, paths: Sequence[str] | None = None) -> dict:
    """`seal learn`: passages of `paths` (default `cfg.learn.paths`), self-edits, self-quiz rewards, one LoRA adapter
    saved with `seal-learn.json` and a model card. Returns the results (also results.json): passages, kept self-edits,
    unquizzed passages, self-quiz before and after, retention (with `learn.into`), adapter path, skipped files, the
    measured rates.

    Raises:
        DataError: a missing path, nothing readable, a file changed since the run started, a `learn.into` directory
            that is not an adapter. ConfigError: `learn.out` exists, `learn.into` was trained on another model,
            generation.backend=vllm.
    """
    sources, skipped = read_sources(list(paths if paths is not None else cfg.learn.paths))
    own_quiz = read_questions(cfg.learn.quiz) if cfg.learn.quiz else []
    if own_quiz and not any(q.answers for q in own_quiz):
        raise DataError(f"learn.quiz: {cfg.learn.quiz} has no question with an expected answer (write "
                        "`question<TAB>answer` lines)")
    for s in skipped:  # named at once, before the minutes of work (and again in the closing table)
        console.log(f"learn: skipped {s.name} ({s.why})")
    check_sources(run, sources)
    out = output_dir(run, cfg)
    base_name = model_reference(cfg.model.name)
    into = Path(cfg.learn.into).expanduser().resolve() if cfg.learn.into else None
    in_place = into is not None and into == out  # the new adapter replaces the old, kept as its backup
    backup = out.with_name(out.name + PREVIOUS)
    if in_place and read_record(into).get("run") == str(run.dir.resolve()):
        into = backup  # resumed after this run had updated it in place: the old adapter is the backup
    previous = read_record(into) if into is not None else None
    if previous is not None and previous.get("base_model", {}).get("name") not in (cfg.model.name, base_name):
        raise ConfigError(f"learn.into: {cfg.learn.into} was trained on "
                          f"{previous.get('base_model', {}).get('name')!r}, not model.name={cfg.model.name!r}")
    if cfg.generation.backend != "hf":
        raise ConfigError("generation.backend: seal learn generates with hf only")
    check_family(cfg.self_edit)
    grounding = cfg.learn.grounding if cfg.learn.grounding.enabled else None
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
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz), make_reward(cfg.reward.kind),
                             cfg.model.name)
    for p in passages:
        store.put_context(p.id, "knowledge", p.to_dict())

    # -- what is to be done, and how long it should take ---------------------------------------------------------------
    k, pieces = cfg.learn.k, 1 + cfg.self_edit.max_new_tokens / PIECE_TOKENS  # documents per inner loop, estimated
    n_quizzes = len(passages) - len(stored_quizzes(store, passages))
    edits_left = [p for p in passages if not store.has("self_edits", keys.self_edit(0, CONDITION, p.id, k - 1))]
    loops_left = sum(not store.has("inner_results", keys.inner(0, CONDITION, p.id, i, 0)) for p in passages
                     for i in range(k))  # at most: a passage whose quiz keeps no question has none
    n_docs = len(passages) * pieces + (len(previous["documents"]) if previous is not None else 0)
    rates, rated_by = earlier_rates(run, cfg)
    measured = store.get_meta("learn_rates", {})  # this run's own, measured before it was interrupted
    rates, rated_by = (rates | measured, run.dir) if measured else (rates, rated_by)
    plan = Plan({QUIZZES: Stage(n_quizzes, cfg.reward.self_quiz.k * cfg.reward.self_quiz.max_new_tokens, GENERATE),
                 EDITS: Stage(len(edits_left), k * cfg.self_edit.max_new_tokens, GENERATE),
                 TRIES: Stage(loops_left, inner_steps(cfg, pieces), STEP),
                 TRAINING: Stage(1, cfg.learn.epochs * math.ceil(n_docs / cfg.learn.batch_size), STEP,
                                 measures=False)},  # the inner loops' step rate (quizzes included) is the one kept
                {GENERATE: rates.get(GENERATE), STEP: rates.get(STEP)}, measured=set(measured))
    console.log(describe_plan(plan, len(passages), len(sources), rated_by))

    with planned(plan), _keeping_rates(store, plan):
        # -- quizzes, self-edits and their inner loops (passages whose quiz kept a question) ---------------------------
        quizzes, ungrounded = write_quizzes(store, domain, passages,
                                            grounding.threshold if grounding is not None else None)
        quizzed = [p for p in passages if quizzes[p.id].questions]
        plan.stages[EDITS].units = sum(p in quizzed for p in edits_left)
        sampling = dataclasses.replace(Sampling.of(cfg.self_edit), k=k)
        with domain.writer() as writer:
            edits = sample_and_store(store, writer, {p.id: domain.self_edit_prompt(p) for p in quizzed}, CONDITION,
                                     0, sampling, cfg.run.seed, cfg.self_edit.family, label=EDITS)
        jobs, passed, checks = screened_jobs(store, condition_jobs(domain, CONDITION, quizzed, edits, 1, 0),
                                             grounding)
        todo = [j for j in jobs if not store.has("inner_results", j.key)]
        plan.stages[TRIES].units = len(todo)
        if todo:  # the steps of the self-edits written, not the estimate
            plan.stages[TRIES].cost = sum(inner_steps(cfg, len(to_documents(j.context, j.self_edit)))
                                          for j in todo) / len(todo)
        if passed:
            console.log(f"learn: {len(passed)} of {len(jobs) + len(passed)} self-edits passed over before their "
                        f"inner loop: under {grounding.min_kept:.0%} of their sentences found in the passage")
        executor = make_executor(cfg.executor, domain)
        run_jobs(store, executor, domain, jobs, TRIES)
        executor.close()
        kept, edit_drops = best_edits(store, jobs, checks, passed)

        # -- the adapter: start, score before, train on the pooled documents, score after -----------------------------
        docs = [d for p in passages for d in to_documents(p, kept[p.id][0] if p.id in kept else None)]
        style = cfg.quiz.style
        with domain.adapter.base() as base:
            before = self_quiz_score(base, tokenizer, quizzes.values(), style)
            quiz_before = quiz_score(base, tokenizer, own_quiz)
        base = domain.release()
        earlier = [_quiz_of(e) for e in previous["passages"]] if previous is not None else []
        if previous is not None:
            import peft

            model = peft.PeftModel.from_pretrained(base, str(into), is_trainable=True)
            docs += previous["documents"]  # replay: everything the adapter learned before
        else:
            model = attach_lora(base, cfg.inner.lora, cfg.run.seed)
        retained_before = self_quiz_score(model, tokenizer, earlier, style)
        earlier_quiz = [Question(q, tuple(a)) for q, a in previous.get("quiz", [])] if previous is not None else []
        earlier_quiz_before = quiz_score(model, tokenizer, earlier_quiz)
        inner = dataclasses.replace(cfg.inner, epochs=cfg.learn.epochs, learning_rate=cfg.learn.learning_rate,
                                    batch_size=cfg.learn.batch_size, grad_accum=1, mode="fast", multi=1)
        examples = tokenize_documents(tokenizer, docs, within_context(model, inner.max_doc_tokens), inner.append_eos)
        plan.stages[TRAINING].cost = inner.epochs * math.ceil(len(examples) / inner.batch_size)
        console.log(f"learn: training the adapter on {len(docs)} documents for {inner.epochs} epochs "
                    f"({plan.stages[TRAINING].cost:.0f} steps)")
        with progress_bar() as bar:
            task = bar.add_task(TRAINING, total=1)
            stats = train_lora(model, examples, inner, cfg.run.seed, tokenizer.pad_token_id)
            bar.advance(task)
    after = self_quiz_score(model, tokenizer, quizzes.values(), style)
    retained_after = self_quiz_score(model, tokenizer, earlier, style)
    quiz = _quiz_results(own_quiz, quiz_before, quiz_score(model, tokenizer, own_quiz))
    quiz_retention = _quiz_results(earlier_quiz, earlier_quiz_before, quiz_score(model, tokenizer, earlier_quiz))

    # -- the adapter directory and the results -------------------------------------------------------------------------
    entries = [{"id": p.id, "title": p.title, "context": p.context,
                "questions": [[q.question, q.answers[0]] for q in quizzes[p.id].questions]}
               | dict(zip(("self_edit", "reward"), kept.get(p.id, (None, None))))
               | ({"ungrounded": dropped_of(p.id, ungrounded, edit_drops)} if grounding is not None else {})
               for p in passages]
    retention = ({"n_passages": len(earlier), "before": retained_before, "after": retained_after}
                 if previous is not None else None)
    record = {"run": str(run.dir.resolve()), "base_model": {"name": base_name, "seed": cfg.run.seed,
                                                          "dtype": cfg.model.dtype},
              "sources": [{"path": str(s.path), "name": s.name, "sha256": s.sha256} for s in sources]
              + (previous["sources"] if previous is not None else []),
              "passages": entries + (previous["passages"] if previous is not None else []),
              "documents": docs, "self_quiz": {"before": before, "after": after}, "retention": retention,
              "into": cfg.learn.into or None,
              "grounding": summary(grounding, quizzes, ungrounded, edit_drops),
              "quiz": [[q.question, list(q.answers)] for q in own_quiz if q.answers]
              + (previous.get("quiz", []) if previous is not None else []),
              "train": {"steps": stats.steps, "n_documents": len(docs), "epochs": inner.epochs,
                        "learning_rate": inner.lr, "batch_size": inner.batch_size,
                        "final_loss": stats.losses[-1] if stats.losses else None, "seconds": stats.seconds}}
    card = model_card(record, run.manifest.get("argv") or sys.argv, out,
                      [("Your quiz, base model -> adapter", quiz),
                       ("Earlier quizzes, previous adapter -> this one", quiz_retention)])
    save_adapter(model, tokenizer, record, out, card,
                 keep_previous=in_place and into == out)  # (not when `out` already holds this run's adapter)
    results = {"model": cfg.model.name, "n_sources": len(sources), "n_passages": len(passages),
               "n_quizzed": len(quizzed), "n_unquizzed": len(passages) - len(quizzed), "n_kept": len(kept),
               "kept": {pid: reward for pid, (_, reward) in kept.items()},
               "kept_self_edits": {pid: text for pid, (text, _) in kept.items()} if grounding is not None else None,
               "self_quiz": record["self_quiz"], "retention": retention, "adapter": str(out),
               "previous": str(backup) if in_place else None,
               "skipped": [dataclasses.asdict(s) for s in skipped], "train": record["train"],
               "rates": {r: plan.rates[r] for r in plan.measured},
               "quiz": quiz, "quiz_retention": quiz_retention, "grounding": record["grounding"],
               "ungrounded": {e["id"]: {"title": e["title"]} | e["ungrounded"] for e in entries
                              if "ungrounded" in e and any(e["ungrounded"].values())}}
    write_json(run.dir / "results.json", results)
    store.add_evaluation(key=adapter(), condition=CONDITION, payload=results)
    return results


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_learn(results: dict) -> str:
    """A short table: passages, kept self-edits, self-quiz before -> after (and retention), adapter, skipped files."""
    sq, grounded = results["self_quiz"], results.get("grounding")
    checked = ("only its sentences found in the passage are trained on" if grounded is not None
               else "its claims are not checked")
    lines = [f"passages            {results['n_passages']} from {results['n_sources']} files "
             f"({results['n_unquizzed']} without a self-quiz question: trained on the passage alone)",
             f"kept self-edits     {results['n_kept']} of {results['n_quizzed']} quizzed passages (a self-edit is kept "
             f"when training on it raised its passage's self-quiz log-likelihood; {checked})",
             f"self-quiz loglik    {_score(sq['before'])} -> {_score(sq['after'])} (base -> adapter: mean "
             "log-likelihood in nats/token of the answers the base model wrote to its own questions; higher is more "
             "familiar with the text, not more often right)"]
    if grounded is not None:
        lines.append(f"not in the passage  {describe(grounded)}")
    if results["retention"] is not None:
        r = results["retention"]
        lines.append(f"retention           {_score(r['before'])} -> {_score(r['after'])} (the same self-quiz "
                     f"log-likelihood on the {r['n_passages']} passages learned before: old adapter -> new)")
    for name, q, what in (("your quiz", results.get("quiz"), "base -> adapter"),
                          ("earlier quizzes", results.get("quiz_retention"), "old adapter -> new: retention")):
        if q is not None:
            lines.append(f"{name:<20}{q['before']} -> {q['after']} of {q['scored']} right ({what}; right: {SCORED_AS})")
    lines.append(f"adapter             {results['adapter']}")
    if results.get("previous"):
        lines.append(f"previous adapter    {results['previous']} (the one --into started from, kept as a backup)")
    skipped = format_skipped([Skipped(**s) for s in results["skipped"]])
    if skipped:
        lines.append(skipped)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------------
# seal ask


ASK_SETTINGS = ("threads", "device", "dtype")  # the `model.*` keys `seal ask --set` may give; the adapter names the rest


def load_adapted(adapter_dir: str | Path, settings: dict | None = None):
    """The base model named by the adapter's `seal-learn.json` (else `adapter_config.json`'s
    `base_model_name_or_path`), loaded with `load_model` (the recorded seed and dtype, then `settings`: values of
    `ASK_SETTINGS` by name, e.g. {"threads": 2}), with the adapter applied. Returns (PEFT model, tokenizer).

    Raises:
        DataError: not an adapter directory (`read_record`), or no base model named. ModelError: the base model does
            not load."""
    import peft

    record = read_record(adapter_dir)
    base = record.get("base_model") or {
        "name": read_json(Path(adapter_dir) / "adapter_config.json").get("base_model_name_or_path")}
    if not base.get("name"):
        raise DataError(f"{adapter_dir}: names no base model (seal-learn.json or adapter_config.json)")
    model_cfg = dataclasses.replace(ModelConfig(name=base["name"], dtype=base.get("dtype", "auto")), **(settings or {}))
    model, tokenizer = load_model(model_cfg, base.get("seed", 0))
    return peft.PeftModel.from_pretrained(model, str(adapter_dir)).eval(), tokenizer


def answer(model, tokenizer, question: str) -> str:
    """A greedy closed-book answer: the `plain` quiz prompt with an empty title (the question alone names its topic),
    at most `ANSWER_TOKENS` new tokens, cut at the first line break."""
    prompt = PLAIN.format(title="", question=question.strip())
    return HFGenerator(model, tokenizer, 1).generate([prompt], max_new_tokens=ANSWER_TOKENS,
                                                     stop_at_newline=True)[0].strip()


def run_ask(adapter_dir: str | Path, question: str | None, compare: bool, echo, questions_file: str | Path | None = None,
            settings: dict | None = None) -> None:
    """`seal ask`: answer `question` with the adapted model (and, with `compare`, the base model with the adapter
    disabled), each answer passed to `echo` as one line; with `questions_file` (`seal.learn.quiz`), every question
    of the file into a Markdown table (`ask_table`), with the accuracy on the questions that give an answer; with
    neither, answer the lines of stdin until an empty line or its end. `settings`: as `load_adapted`.

    Raises:
        SealError: `question` is given but empty or blank, or both a question and a file (checked before the model
            loads). DataError: the questions file (`read_questions`); as `load_adapted`. ModelError: as
            `load_adapted`."""
    from seal.learn.quiz import read_questions

    if question is not None and not question.strip():
        raise SealError(f"seal ask: the question is empty, got {question!r}; give a question, or none to read "
                        "questions from stdin")
    if question is not None and questions_file is not None:
        raise SealError("seal ask: give a question or --file, not both")
    questions = read_questions(questions_file) if questions_file is not None else None
    model, tokenizer = load_adapted(adapter_dir, settings)
    if questions is not None:
        adapted = [answer(model, tokenizer, q.question) for q in questions]
        base = None
        if compare:
            with model.disable_adapter():
                base = [answer(model, tokenizer, q.question) for q in questions]
        echo(ask_table(questions, adapted, base))
        return
    interactive = question is None
    asked = [question] if not interactive else iter(_next_question, None)
    for q in asked:
        if compare:
            echo(f"adapter: {answer(model, tokenizer, q)}")
            with model.disable_adapter():
                echo(f"base:    {answer(model, tokenizer, q)}")
        else:
            echo(answer(model, tokenizer, q))


def _cell(text: str) -> str:
    """Text for one Markdown table cell: on one line, `|` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def ask_table(questions, adapted: list[str], base: list[str] | None = None) -> str:
    """A Markdown table of `seal.learn.quiz.Question`s and their answers (adapter, and base when given), with an
    expected-answer column and a correctness mark when any question has one; then one line per model with its
    accuracy, saying what is counted as correct."""
    from seal.learn.quiz import SCORED_AS, accuracy

    scored = any(q.answers for q in questions)
    models = [("adapter", adapted)] + ([("base", base)] if base is not None else [])
    header = ["#", "question"] + (["expected"] if scored else []) + [name for name, _ in models]
    rows = []
    for i, q in enumerate(questions):
        cells = [str(i + 1), _cell(q.question)] + ([_cell(" | ".join(q.answers)) if q.answers else ""]
                                                    if scored else [])
        for _, answers in models:
            mark = {True: " (right)", False: " (wrong)", None: ""}[q.correct(answers[i])]
            cells.append(_cell(answers[i]) + mark)
        rows.append(cells)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    for name, answers in models:
        acc = accuracy(questions, answers)
        if acc is not None:
            lines.append(f"{name}: {acc[0]} of {acc[1]} right ({SCORED_AS})")
    return "\n".join(lines)


def _next_question() -> str | None:
    """The next non-empty line of stdin, or None at its end or at an empty line (a prompt first on a terminal)."""
    if sys.stdin.isatty():
        print("question> ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.strip() or None
