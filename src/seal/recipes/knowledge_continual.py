"""`seal knowledge continual`: sequential self-edits and the forgetting matrix (paper Section 5, Figure 6).

    seal knowledge continual --set continual.sequence_length=8 --set continual.sequences=64
    seal knowledge continual --set continual.mitigations=[none,replay,kl]     # the comparison, same sequences
    seal knowledge continual --resume runs/<dir>                             # finished sequences are skipped

Passages arrive one at a time. For each, the current model (every earlier update kept) writes one self-edit (with
`self_edit`'s temperature, top_p and length; `self_edit.k` is not used); a fresh LoRA trains on it (the inner loop's
settings: paper r 32, alpha 64, 10 epochs; lr the mode's default) and is folded into the weights before the next
passage; then the model answers the questions of every passage seen so far. A sequence is
`continual.sequence_length` passages drawn without replacement from the selected passages (`data.*`); sequences are
drawn independently from `continual.seed`, so the same seed gives the same sequences for every mitigation, and each
sequence starts from the original weights, restored from an in-memory copy.

Mitigations (`continual.mitigations`, each run on every sequence, in the same run):
    none    the paper's setting;
    replay  each update also trains on documents of earlier passages in the sequence (their passage and self-edit
            lines), `replay_fraction` x the new self-edit's documents, drawn at random;
    kl      learning without forgetting (Li and Hoiem 2016): each optimizer step adds `kl_weight` x KL(previous model
            || current model) on one replayed document; the previous model is the current weights with the new LoRA
            switched off, so it costs one extra forward pass and no copy. Replay and kl use the same documents.

Outputs: `forgetting.json` (per mitigation: the (K+1) x K matrix of mean accuracy, row 0 the pre-edit baseline and
row k after k edits, its standard deviations and standard errors across sequences; retention, forgetting and damage
per passage position; paired differences against `none`; `knowledge`: per mitigation, the own-edit - baseline
and final - baseline differences of accuracy and of the gold answers' mean log-likelihood, paired per question,
averaged over sequences, t interval over passages), `forgetting.png` (one heatmap per mitigation). The store
has one `inner_results` row per (mitigation, sequence, step, passage) and one evaluation per finished sequence.
Departures from SEAL's continual_self_edits.py: the LoRA is folded into the weights in memory instead of merged,
saved and reloaded through vLLM (bf16 weights keep it beside them as fp32 factors, where SEAL's bf16 merge rounds
part of each update away: `inner.lora.fold_lora`); resume redoes an unfinished sequence from its start.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seal.domains.knowledge.config import KnowledgeContinualConfig
from seal.domains.knowledge.data import Passage
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import Grader, accuracy, answer_loglik, answer_quiz
from seal.errors import DataError
from seal.inner.lora import base_weights, fold_lora, reset_lora, restore_base_weights
from seal.inner.train import TrainExample, collate, tokenize_documents, train_lora
from seal.models.context import within_context
from seal.outer.sample import stable_seed
from seal.progress import console
from seal.reports.forgetting import build_forgetting, write_forgetting
from seal.store import keys
from seal.store.runs import Run

# ----------------------------------------------------------------------------------------------------------------------
# Sequences


def draw_sequences(ids: list[str], length: int, count: int, seed: int) -> list[list[str]]:
    """`count` sequences of `length` distinct ids; sequence s depends only on (seed, s), so adding sequences or
    mitigations never changes the earlier ones.

    >>> draw_sequences(["a", "b", "c"], 2, 2, 0) == draw_sequences(["a", "b", "c"], 2, 3, 0)[:2]
    True
    """
    if length > len(ids):
        raise DataError(f"continual.sequence_length={length}, but only {len(ids)} passages are selected")
    return [random.Random(stable_seed(seed, "sequence", s)).sample(list(ids), length) for s in range(count)]


# ----------------------------------------------------------------------------------------------------------------------
# One update: replay documents and the KL penalty


def replay_documents(history: list[str], n_new: int, fraction: float, seed: int) -> list[str]:
    """Documents of earlier passages to mix into an update: round(fraction x n_new), at least 1, at most all."""
    if not history or fraction <= 0:
        return []
    n = min(len(history), max(1, round(fraction * n_new)))
    return random.Random(seed).sample(history, n)


def kl_penalty(examples: list[TrainExample], weight: float, pad_id: int, seed: int):
    """`regularizer(model)` for `train_lora`: weight x KL(previous || current) per token, on one replayed document per
    optimizer step; the previous model is the current one with its (new) LoRA switched off."""
    rng = random.Random(seed)

    def penalty(model) -> torch.Tensor:
        device = next(model.parameters()).device
        batch = collate([rng.choice(examples)], pad_id, device)
        with torch.no_grad(), model.disable_adapter():
            ref = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        cur = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        mask = batch["attention_mask"].bool()  # (1, T)
        kl = F.kl_div(cur[mask].log_softmax(-1), ref[mask].log_softmax(-1), log_target=True, reduction="sum")
        return weight * kl / mask.sum()

    return penalty


# ----------------------------------------------------------------------------------------------------------------------
# One sequence


@dataclass
class Context:
    """What every sequence shares: the model with its LoRA, the saved base weights, and the run's settings."""

    run: Run
    cfg: KnowledgeContinualConfig
    model: object  # PEFT model (LoRA of cfg.inner.lora attached)
    tokenizer: object
    grader: Grader
    saved: dict  # base weights under the LoRA layers, on CPU
    passages: dict[str, Passage]
    families: dict[str, str]


def quiz(ctx: Context, passages: list[Passage]) -> list[tuple[list[str], list[float | None], list[float]]]:
    """Per passage: the answers, their scores and each gold answer's log-likelihood under the current weights."""
    answers = answer_quiz(ctx.model, ctx.tokenizer, passages, ctx.cfg.quiz)
    return [(a, ctx.grader(p, a), answer_loglik(ctx.model, ctx.tokenizer, p, ctx.cfg.quiz.style))
            for p, a in zip(passages, answers)]


def baselines(ctx: Context, ids: list[str]) -> dict[str, float]:
    """Pre-edit accuracy per passage (the original weights), stored once per passage and reused by every sequence."""
    store = ctx.run.store
    todo = [pid for pid in ids if not store.has("inner_results", keys.continual_base(pid))]
    if todo:
        t0 = time.perf_counter()
        with ctx.model.disable_adapter():
            results = quiz(ctx, [ctx.passages[pid] for pid in todo])
        seconds = (time.perf_counter() - t0) / len(todo)
        for pid, (preds, scores, logliks) in zip(todo, results):
            store.add_inner_result(key=keys.continual_base(pid), context_id=pid, round=0, condition="continual/base",
                                   seed=None, score=accuracy(scores), base_score=accuracy(scores),
                                   n_questions=len(scores),
                                   details={"predictions": preds, "scores": scores, "logliks": logliks},
                                   timings={"quiz_s": seconds})
    return {pid: store.get("inner_results", keys.continual_base(pid))["score"] for pid in ids}


def self_edit(ctx: Context, passage: Passage, seed: int) -> tuple[str, str, float]:
    """One self-edit from the current weights (the LoRA is zero between updates): (prompt, text, seconds)."""
    from seal.domains.knowledge.selfedit import render_prompt
    from seal.models.generate import HFGenerator

    se = ctx.cfg.self_edit
    prompt = render_prompt(ctx.tokenizer, se, passage, ctx.families)
    t0 = time.perf_counter()
    with ctx.model.disable_adapter():
        text = HFGenerator(ctx.model, ctx.tokenizer, 1).generate(
            [prompt], max_new_tokens=se.max_new_tokens, temperature=se.temperature, top_p=se.top_p, seed=seed)[0]
    return prompt, text, time.perf_counter() - t0


def run_sequence(ctx: Context, s: int, order: list[str], mitigation: str, base: dict[str, float]) -> dict:
    """Edit the passages of `order` one by one from the original weights; returns the sequence's record. `base` is
    the pre-edit accuracy per passage: a self-edit's reward is its passage's accuracy right after its update minus
    that (SEAL's reward), stored on the passage's own row."""
    cfg, store, c = ctx.cfg, ctx.run.store, ctx.cfg.continual
    restore_base_weights(ctx.model, ctx.saved)
    reset_lora(ctx.model, 0)
    tag = f"continual/{mitigation}/q{s}"
    history: list[str] = []
    cells, seconds = [], {"sample": 0.0, "train": 0.0, "quiz": 0.0}
    for k, pid in enumerate(order, 1):
        passage = ctx.passages[pid]
        seed = stable_seed(cfg.run.seed, "continual", s, k)  # the same for every mitigation: paired comparisons
        prompt, text, sample_s = self_edit(ctx, passage, seed)
        edit_id = store.add_self_edit(key=keys.continual_edit(tag, k), context_id=pid, round=k, condition=f"continual/{mitigation}",
                                      text=text, family=cfg.self_edit.family, prompt=prompt, seed=seed,
                                      sampling={"temperature": cfg.self_edit.temperature, "top_p": cfg.self_edit.top_p,
                                                "max_new_tokens": cfg.self_edit.max_new_tokens,
                                                "generation_s": sample_s, "sequence": s, "step": k})
        docs = to_documents(passage, text)
        replay = replay_documents(history, len(docs), c.replay_fraction, stable_seed(cfg.run.seed, "replay", s, k)) \
            if mitigation != "none" else []
        train_docs = docs + replay if mitigation == "replay" else docs
        max_tokens = within_context(ctx.model, cfg.inner.max_doc_tokens)
        examples = tokenize_documents(ctx.tokenizer, train_docs, max_tokens, cfg.inner.append_eos)
        regularizer = None
        if mitigation == "kl" and replay:
            regularizer = kl_penalty(tokenize_documents(ctx.tokenizer, replay, max_tokens, cfg.inner.append_eos),
                                     c.kl_weight, ctx.tokenizer.pad_token_id, seed)
        reset_lora(ctx.model, seed)
        stats = train_lora(ctx.model, examples, cfg.inner, seed, ctx.tokenizer.pad_token_id, regularizer=regularizer)
        fold_lora(ctx.model, seed)  # keep the update: the next passage starts from these weights
        history += docs
        t0 = time.perf_counter()
        seen = [ctx.passages[q] for q in order[:k]]
        results = quiz(ctx, seen)
        quiz_s = time.perf_counter() - t0
        seconds = {"sample": seconds["sample"] + sample_s, "train": seconds["train"] + stats.seconds,
                   "quiz": seconds["quiz"] + quiz_s}
        for j, (p, (preds, scores, logliks)) in enumerate(zip(seen, results)):
            acc = accuracy(scores)
            cells.append((s, k, p.id, acc))
            # the step's times once, on the new passage's row (sampling time is on the self-edit row)
            timings = {"train_s": stats.seconds, "quiz_s": quiz_s} if j == k - 1 else {}
            store.add_inner_result(
                key=keys.continual_quiz(tag, k, p.id), context_id=p.id, round=k, condition=f"continual/{mitigation}", seed=seed,
                score=acc, base_score=base.get(p.id) if j == k - 1 else None, n_questions=len(scores),
                self_edit_id=edit_id if j == k - 1 else None,  # own row: reward = gain over the pre-edit baseline
                details={"sequence": s, "step": k, "position": j, "mitigation": mitigation, "predictions": preds,
                         "scores": scores, "logliks": logliks,
                         "train": {"steps": stats.steps, "n_documents": len(train_docs), "replayed": len(replay),
                                   "final_loss": stats.losses[-1],
                                   "kl": stats.penalties[-1] if stats.penalties else None}},
                timings=timings)
        console.log(f"{mitigation} sequence {s} step {k}/{len(order)}: accuracy on seen passages "
                    + " ".join(f"{100 * (a or 0):.0f}" for _, _, _, a in cells[-k:]))
    return {"sequence": s, "mitigation": mitigation, "passages": order, "cells": cells, "seconds": seconds}


# ----------------------------------------------------------------------------------------------------------------------
# The recipe


def run_continual(run: Run, cfg: KnowledgeContinualConfig) -> dict:
    """`seal knowledge continual`: run (or resume) every sequence under every mitigation; writes forgetting.json and
    forgetting.png and returns the forgetting record."""
    from seal.domains.knowledge.prompts import load_families
    from seal.inner.lora import attach_lora, lora_record
    from seal.domains.knowledge.evaluation import check_family, check_lengths, choose_passages
    from seal.domains.knowledge.quiz import make_grader
    from seal.models import fingerprint, load_model

    check_family(cfg.self_edit)
    c = cfg.continual
    passages = {p.id: p for p in choose_passages(cfg)}
    orders = draw_sequences(list(passages), c.sequence_length, c.sequences, c.seed)
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    context = check_lengths(cfg, model, tokenizer, list(passages.values()))  # before any work
    run.update_manifest(data_ids=list(passages), model_fingerprint=fingerprint(model), sequences=orders,
                        seeds={"run": cfg.run.seed, "sequences": c.seed}, context=context,
                        lora=lora_record(model, {"inner.lora": cfg.inner.lora}))
    for p in passages.values():
        run.store.put_context(p.id, "knowledge", p.to_dict())
    peft_model = attach_lora(model, cfg.inner.lora)
    ctx = Context(run, cfg, peft_model.eval(), tokenizer, make_grader(cfg.quiz, model, tokenizer), base_weights(peft_model),
                  passages, load_families(cfg.self_edit.families_file))
    for s, order in enumerate(orders):
        restore_base_weights(peft_model, ctx.saved)  # the baseline is the original model's
        base = baselines(ctx, order)
        for mitigation in c.mitigations:
            key = f"continual/{mitigation}/q{s}"
            if run.store.has("evaluations", key):
                continue
            record = run_sequence(ctx, s, order, mitigation, base) | {"baseline": base}
            run.store.add_evaluation(key=key, round=s, condition=f"continual/{mitigation}", payload=record)
    restore_base_weights(peft_model, ctx.saved)
    result = build_forgetting(run)
    write_forgetting(run.dir, result)
    return result
