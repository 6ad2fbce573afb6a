"""`seal knowledge cpt`: continued pretraining on many passages at once (the paper's multi-passage rows, n = 200).

    seal knowledge cpt --config configs/knowledge/demo.yaml --set data.n=20
    seal knowledge cpt --set cpt.mode=lora --set eval.conditions=[base,passage,self-edit]
    seal knowledge cpt --resume runs/<dir>

Self-edits are sampled (or read) for every passage as in `seal knowledge eval`, then pooled: each generation is ONE
training document (title, newline, text; not split into lines), plus every passage as one document. The model trains
once per condition on the whole pool and then answers every passage's questions closed-book. Conditions: `base` (no
training), `passage` (the passages alone), `self-edit` (plus the model's own self-edits), `external` (plus self-edits
from a file in SEAL's layout), `checkpoint` (plus the self-edits of another model, e.g. a trained round).

Two modes (`cpt.mode`): `full`, full fine-tuning, the paper's v2 setting and our default for comparisons with the
paper (learning rate `cpt.full_learning_rate`, 1e-5 by our choice: the v2 rate is not in the sources we have); and
`lora`, the paper's v1 setting as SEAL's CPT.sh runs it (r 32, alpha 64, 3 epochs, lr 1e-3, batch 4 x grad
accumulation 2). Between conditions the base weights come back in memory: the LoRA is reset in place, or the full
state dict is copied back from a CPU snapshot taken once. Full mode wants fp32 weights (`model.dtype: fp32`, with
`inner.autocast_bf16: true` for speed): with bf16 weights most updates at lr 1e-5 round away, and the run says so.

`results.json` has the shape of `seal knowledge eval`'s (one row per passage and condition in the store, so
`knowledge_summary` gives accuracy and the gold answers' log-likelihood, scored by the trained model right after its
quiz, with passage-level intervals, and `differences` the paired differences of `seal.domains.knowledge.results.comparisons`:
passage - base, self-edit - passage, each file-given source against the others); a condition whose rows are all
stored is skipped on resume.
Departures from SEAL's CPT.py: each passage enters the pool once (`cpt.passage_per_self_edit: true` repeats it per
self-edit, as SEAL's code does); generations are not split at `---`; one training seed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from seal.config import InnerConfig
from seal.domains.knowledge.config import KnowledgeCptConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.evaluation import prepare
from seal.domains.knowledge.plugin import KnowledgePlugin
from seal.domains.knowledge.parse import title_document
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.quiz import Grader, answer_loglik, answer_quiz, make_grader
from seal.domains.knowledge.selfedit import render_prompt
from seal.evaluation import edits_for
from seal.inner import make_adapter
from seal.jsonfile import write_json
from seal.models.generate import base_writer
from seal.progress import console
from seal.domains.knowledge.results import comparisons, differences, knowledge_summary, knowledge_table, timing_summary
from seal.store import keys
from seal.store.runs import Run

# ----------------------------------------------------------------------------------------------------------------------
# Pieces


def cpt_inner(cfg: KnowledgeCptConfig) -> InnerConfig:
    """The training settings of `cfg.cpt` as an inner-loop config (what the adapters and `train_lora` read)."""
    c = cfg.cpt
    return dataclasses.replace(cfg.inner, lora=c.lora, learning_rate=c.lr, epochs=c.epochs, batch_size=c.batch_size,
                               grad_accum=c.grad_accum, mode="fast", multi=1, seeds=1)


def cpt_documents(passages: list[Passage], edits: dict[str, list[tuple[int | None, str | None]]],
                  passage_per_self_edit: bool = False) -> list[str]:
    """The pooled training corpus: every passage, then each non-empty generation as one title-prefixed document.

    >>> p = Passage("t", "Tor", "Tor is a town.", ())
    >>> cpt_documents([p], {"t": [(1, "Tor is small.\\nIt has a port."), (2, "  ")]})
    ['Tor\\nTor is a town.', 'Tor\\nTor is small.\\nIt has a port.']
    >>> cpt_documents([p], {"t": [(None, None)]})
    ['Tor\\nTor is a town.']
    """
    docs = []
    for p in passages:
        texts = [t.strip() for _, t in edits.get(p.id, []) if t and t.strip()]
        copies = max(1, len(texts)) if passage_per_self_edit else 1
        docs += [title_document(p.title, p.context)] * copies
        docs += [title_document(p.title, t) for t in texts]
    return docs


def quiz_passages(model, tokenizer, passages: list[Passage], cfg: KnowledgeCptConfig) -> tuple[list[list[str]], list]:
    """Greedy closed-book answers to every passage's questions, all batched together, and each gold answer's mean
    log-likelihood per token under the same weights (one list per passage)."""
    logliks = [answer_loglik(model, tokenizer, p, cfg.quiz.style) for p in passages]
    return answer_quiz(model, tokenizer, passages, cfg.quiz), logliks


def grade(grader: Grader, passages: list[Passage], answers: list[list[str]]) -> list[list[float | None]]:
    return [grader(p, a) for p, a in zip(passages, answers)]


@dataclass
class EditWriter:
    """What `seal.evaluation.edits_for` needs from a domain: self-edit prompts and a generator over
    the unadapted model."""

    adapter: object
    tokenizer: object
    cfg: KnowledgeCptConfig

    def __post_init__(self):
        self.families = load_families(self.cfg.self_edit.families_file)

    def self_edit_prompt(self, passage: Passage) -> str:
        return render_prompt(self.tokenizer, self.cfg.self_edit, passage, self.families)

    def writer(self):
        return base_writer(self.adapter, self.tokenizer, self.cfg.self_edit.batch_size)


def make_cpt_adapter(model, tokenizer, cfg: KnowledgeCptConfig):
    """A LoRA reset in place (lora mode) or full fine-tuning restored from a CPU snapshot (full mode)."""
    if cfg.cpt.mode == "full":
        from seal.inner.full import FullAdapter

        return FullAdapter(model, tokenizer, cpt_inner(cfg), "cpt")
    return make_adapter(model, tokenizer, cpt_inner(cfg), "cpt")  # the fast path (cpt_inner: one LoRA)


def store_condition(run: Run, condition: str, passages: list[Passage], answers, scores, logliks, base: dict,
                    extra: dict, timings: dict, seed: int) -> None:
    """One inner_results row per passage (the shape `knowledge_summary` reads), then the condition's training record."""
    for i, (p, preds, sc, ll) in enumerate(zip(passages, answers, scores, logliks)):
        graded = [s for s in sc if s is not None]
        acc = sum(graded) / len(graded) if graded else None
        run.store.add_inner_result(key=keys.cpt(condition, p.id), context_id=p.id, round=0, condition=condition,
                                   seed=seed, score=acc, base_score=base.get(p.id), n_questions=len(p.questions),
                                   details={"predictions": preds, "scores": sc, "logliks": ll} | extra,
                                   timings=timings if i == 0 else {})  # one training run: its times once


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_cpt(run: Run, cfg: KnowledgeCptConfig) -> dict:
    """`seal knowledge cpt`: fill the run's store and return the results table (also written to results.json)."""
    passages, model, tokenizer = prepare(run, cfg, served=False)
    run.update_manifest(seeds={"run": cfg.run.seed, "train": cfg.run.seed},
                        cpt={"mode": cfg.cpt.mode, "learning_rate": cfg.cpt.lr})
    if cfg.cpt.mode == "full" and next(model.parameters()).dtype != torch.float32:
        console.log(f"warning: full fine-tuning with {next(model.parameters()).dtype} weights loses most updates at "
                    f"lr {cfg.cpt.lr:g}; use --set model.dtype=fp32 --set inner.autocast_bf16=true")
    grader = make_grader(cfg.quiz, model, tokenizer)
    adapter = make_cpt_adapter(model, tokenizer, cfg)
    writer = EditWriter(adapter, tokenizer, cfg)
    store = run.store
    for p in passages:
        store.put_context(p.id, "knowledge", p.to_dict())
    done = lambda c: all(store.has("inner_results", keys.cpt(c, p.id)) for p in passages)  # noqa: E731

    # -- base: the untrained model's quiz, also every row's base_score ------------------------------------------------
    if not done("base"):
        t0 = time.perf_counter()
        with adapter.base() as m:
            answers, logliks = quiz_passages(m, tokenizer, passages, cfg)
        store_condition(run, "base", passages, answers, grade(grader, passages, answers), logliks, {}, {},
                        {"train_s": 0.0, "quiz_s": time.perf_counter() - t0}, cfg.run.seed)
    base = {r["context_id"]: r["score"] for r in store.rows("inner_results", "condition='base' AND round=0")}

    # -- one training run per condition on the pooled documents --------------------------------------------------------
    n_docs = {}
    for condition in [c for c in cfg.eval.conditions if c != "base"]:
        if done(condition):  # resumed: its rows and training record are stored
            record = store.get("evaluations", keys.cpt(condition)) or {}
            n_docs[condition] = record.get("payload", {}).get("n_documents")
            continue
        edits = edits_for(run, KnowledgePlugin(), cfg, writer, condition, passages, 0)
        docs = cpt_documents(passages, edits, cfg.cpt.passage_per_self_edit)
        n_docs[condition] = len(docs)
        console.log(f"cpt {condition}: training ({cfg.cpt.mode}) on {len(docs)} documents")
        with adapter.trained(docs, cfg.run.seed) as stats:
            t0 = time.perf_counter()
            answers, logliks = quiz_passages(adapter.model, tokenizer, passages, cfg)
            quiz_s = time.perf_counter() - t0
        train = {"steps": stats.steps, "real_tokens": stats.real_tokens, "n_documents": len(docs),
                 "final_loss": stats.losses[-1] if stats.losses else None, "mode": cfg.cpt.mode}
        store_condition(run, condition, passages, answers, grade(grader, passages, answers), logliks, base,
                        {"train": train}, {"train_s": stats.seconds, "quiz_s": quiz_s}, cfg.run.seed)
        store.add_evaluation(key=keys.cpt(condition), condition=condition, payload=train | {"losses": stats.losses})
        console.log(f"cpt {condition}: {stats.steps} steps in {stats.seconds:.0f} s, quiz {quiz_s:.0f} s")

    # -- the table -----------------------------------------------------------------------------------------------------
    ids = {p.id for p in passages}
    results = {"conditions": {}, "model": cfg.model.name, "n_passages": len(passages), "round": 0,
               "judge_errors": len(grader.errors), "mode": cfg.cpt.mode, "learning_rate": cfg.cpt.lr,
               "n_documents": n_docs, "seeds": 1}
    rows = {c: [r for r in store.rows("inner_results", "condition=? AND round=0", (c,)) if r["context_id"] in ids]
            for c in cfg.eval.conditions}
    for condition in cfg.eval.conditions:
        results["conditions"][condition] = knowledge_summary(rows[condition], cfg.quiz.metric) | {
            "seconds_per_inner_loop": timing_summary(rows[condition])}
    results["differences"] = differences(rows, comparisons(cfg.eval.conditions, tuple(cfg.eval.sources)))
    write_json(run.dir / "results.json", results)
    store.add_evaluation(key="cpt", condition="all", payload=results)
    return results


def format_cpt(results: dict) -> str:
    """`seal.domains.knowledge.results.knowledge_table` plus the training mode; times are per training run (one per condition)."""
    docs = ", ".join(f"{c} {n}" for c, n in results.get("n_documents", {}).items() if n is not None)
    return (knowledge_table(results) + f"\ncontinued pretraining: mode {results['mode']}, learning rate "
            f"{results['learning_rate']:g}, {results['n_passages']} passages; documents per condition: {docs or '-'}; "
            "the train s column is the whole training run")
