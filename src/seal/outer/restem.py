"""ReST-EM, the outer loop of SEAL, for any domain (paper Section 3; Singh et al. 2024).

Per round r = 1..R, starting from the model of round r-1 (round 0 = the initial model):
    E-step   sample K self-edits per fresh training context from the current model (on-policy),
             reward each with the inner loop averaged over the training seeds;
    filter   keep the best self-edit per context when its reward is positive (or every positive one);
    M-step   supervised-fine-tune the current model on (self-edit prompt -> kept self-edit), merge the LoRA,
             save the checkpoint `checkpoints/round-r` (a normal Hugging Face directory);
    eval     the domain's evaluation with the new checkpoint (round 0 is evaluated before any training).

Every unit (sampled self-edit, inner loop, checkpoint, evaluation) is stored under a unique key as soon as it is
done, so a killed run resumes where it stopped and ends with the same records as an uninterrupted run (on CPU,
where training and sampling are deterministic under their seeds). The loop never branches on the domain: it calls
`make_domain(source)` and the `Domain` protocol (`seal.domains.base`).

Departure from SEAL's code: the inner loop of round r adapts the round-r model, the same model that writes the
self-edits (SEAL restarts its servers on the new checkpoint by hand).
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass
from typing import Callable

from seal.config import OuterConfig
from seal.executors.base import run_condition
from seal.outer.sample import Sampling, sample_and_store
from seal.outer.select import scored_edits, select, signal_to_noise
from seal.outer.sft import M_STEP_LOG, prompt_room, save_unchanged, sft_and_merge
from seal.progress import console
from seal.store import keys
from seal.store.runs import Run


@dataclass
class RestemSpec:
    """What the outer loop needs from its caller (the knowledge or ARC train command)."""

    outer: OuterConfig
    sampling: Sampling
    seeds: int  # training seeds per self-edit
    run_seed: int
    initial_model: str
    round_contexts: list[list]  # fresh training contexts of rounds 1..R
    make_domain: Callable  # model name or path -> Domain holding that model (and its source, for Ray workers)
    make_executor: Callable  # domain -> Executor
    evaluate: Callable  # (round, domain) -> dict of results (stored under its round)
    family: str | None = None


def checkpoint_dir(run: Run, round: int):
    return run.dir / "checkpoints" / f"round-{round}"


def e_step(run: Run, spec: RestemSpec, domain, round: int, contexts: list) -> dict:
    """Sample, reward and filter one round's self-edits; returns the kept ones and the round's statistics.

    A context whose self-edit prompt leaves no room for a self-edit in `outer.sft.max_length` is left out before
    sampling (none of its self-edits could be trained on) and listed in the statistics (`left_out_contexts`: id ->
    prompt tokens), as are those whose room is under `max_new_tokens` (`tight_contexts`: their longer self-edits are
    left out of the M-step, `sft.fitting_rows`)."""
    store = run.store
    max_length = spec.outer.sft.max_length
    prompts = {domain.context_id(c): domain.self_edit_prompt(c) for c in contexts}
    no_room, tight = prompt_room(domain.tokenizer, prompts, max_length, spec.sampling.max_new_tokens)
    if no_room:
        console.log(f"round {round}: {len(no_room)} of {len(contexts)} contexts left out: their self-edit prompts "
                    f"(up to {max(no_room.values())} tokens) leave no room in outer.sft.max_length={max_length}")
    if tight:
        console.log(f"round {round}: {len(tight)} contexts' self-edit prompts leave under "
                    f"self_edit.max_new_tokens={spec.sampling.max_new_tokens} tokens in outer.sft.max_length="
                    f"{max_length}; their longer self-edits will be left out of the M-step")
    contexts = [c for c in contexts if domain.context_id(c) not in no_room]
    prompts = {cid: p for cid, p in prompts.items() if cid not in no_room}
    for c in contexts:
        store.put_context(domain.context_id(c), domain.name, domain.context_payload(c))
    with domain.writer() as writer:
        edits = sample_and_store(store, writer, prompts, "train", round, spec.sampling,
                                 spec.run_seed, spec.family)
    executor = spec.make_executor(domain)
    run_condition(store, executor, domain, "train", contexts, edits, spec.seeds, round)
    executor.close()  # Ray actors hold replicas of this round's model
    results = store.rows("inner_results", "round=? AND condition='train'", (round,))
    scored = scored_edits(store.rows("self_edits", "round=? AND condition='train'", (round,)), results)
    kept = select(scored, spec.outer.keep)
    rewards = [e.reward for e in scored]
    unrewarded = [r for r in results if r["reward"] is None]  # a failed rating or inner loop: never selected
    first = next((r["details"].get("judge_error") or r["details"].get("error") for r in unrewarded), None)
    stats = {"contexts": len(contexts), "left_out_contexts": no_room, "tight_contexts": tight,
             "self_edits": len(scored), "kept": len(kept),
             "unrewarded": {"inner_loops": len(unrewarded), "of": len(results), "first_error": first},
             "mean_reward": sum(rewards) / len(rewards) if rewards else None,
             "kept_mean_reward": sum(e.reward for e in kept) / len(kept) if kept else None,
             "signal_to_noise": signal_to_noise(scored), "kept_ids": [e.self_edit_id for e in kept]}
    return {"kept": kept, "stats": stats}


def run_restem(run: Run, spec: RestemSpec) -> list[dict]:
    """Run (or resume) every round; returns the per-round records also stored in the `rounds` table."""
    store = run.store
    current = spec.initial_model
    done = {r["round"]: r for r in store.rows("rounds")}
    for round in range(1, spec.outer.rounds + 1):
        ckpt = checkpoint_dir(run, round)
        if done.get(round, {}).get("status") == "done" and ckpt.is_dir():
            current = str(ckpt)
            continue
        domain = spec.make_domain(current)
        tokenizer = domain.tokenizer
        if round == 1 and not store.has("evaluations", keys.evaluation(0)):
            store.add_evaluation(key=keys.evaluation(0), round=0, condition="round", payload=spec.evaluate(0, domain))
        t0 = time.perf_counter()
        store.set_round(round, "e-step", {"model": current})
        e = e_step(run, spec, domain, round, spec.round_contexts[round - 1])
        e_seconds = time.perf_counter() - t0
        console.log(f"round {round}: kept {e['stats']['kept']} of {e['stats']['self_edits']} self-edits; "
                    f"signal/noise {e['stats']['signal_to_noise']['ratio']}")
        t1 = time.perf_counter()
        if ckpt.is_dir():  # the M-step finished before a kill; its log was saved with the checkpoint
            log_file = ckpt / M_STEP_LOG  # absent from checkpoints written before the log was kept there
            sft_log = json.loads(log_file.read_text()) if log_file.is_file() else {"skipped": "no log with checkpoint"}
        else:
            store.set_round(round, "m-step", {"model": current, "e_step": e["stats"]})
            base = domain.release()  # the plain model, inner-loop adapter removed
            pairs = [(k.prompt, k.text) for k in e["kept"]]
            if pairs:
                sft_log = sft_and_merge(base, tokenizer, pairs, spec.outer.sft, ckpt, spec.run_seed + round)
            else:  # nothing rewarded: the next round starts from the same weights
                sft_log = {"skipped": "no self-edit had a positive reward" if e["stats"]["contexts"] else
                           f"no context's self-edit prompt fits outer.sft.max_length={spec.outer.sft.max_length}"}
                save_unchanged(base, tokenizer, ckpt, sft_log)
        del domain
        gc.collect()
        m_seconds = time.perf_counter() - t1
        current = str(ckpt)
        t2 = time.perf_counter()
        domain = spec.make_domain(current)
        evaluation = spec.evaluate(round, domain)
        store.add_evaluation(key=keys.evaluation(round), round=round, condition="round", payload=evaluation)
        payload = {"model": current, "e_step": e["stats"], "m_step": sft_log, "evaluation": evaluation,
                   "seconds": {"e_step": e_seconds, "m_step": m_seconds, "eval": time.perf_counter() - t2}}
        store.set_round(round, "done", payload)
        domain.release()  # frees what the domain holds beyond the model (a vLLM engine)
        del domain
        gc.collect()
    return store.rows("rounds")
