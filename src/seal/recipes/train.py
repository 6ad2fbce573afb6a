"""`seal train DOMAIN` (and `seal knowledge train`, `seal arc train`): ReST-EM, the outer loop of SEAL (paper
Section 3; Singh et al. 2024), for any domain, with the round curve (paper Figure 4).

    seal train knowledge --config configs/knowledge/train_cpu.yaml
    seal train arc --config configs/arc/cpu_smollm2.yaml --set outer.k=2
    seal train knowledge --resume runs/<dir>          # after a kill: nothing finished is redone

Per round r = 1..R, starting from the model of round r-1 (round 0 = the initial model), as this file reads:
    E-step   sample K self-edits per training context of the round from the current model (on-policy) and reward
             each with the inner loop averaged over the training seeds;
    filter   keep the best self-edit per context when its reward is positive (or every positive one);
    M-step   supervised-fine-tune the current model on (self-edit prompt -> kept self-edit), merge the LoRA and save
             the checkpoint `checkpoints/round-r` (a normal Hugging Face directory);
    eval     the domain's conditions on the held-out contexts with the new checkpoint (round 0 before any training:
             `plugin.round_conditions`).

The domain decides which contexts are held out and which each round trains on (`plugin.train_contexts`), builds
the inner loop over each round's model (`plugin.build`) and draws the curve (`plugin.curve`); this file never
branches on the domain. Every unit (sampled self-edit, inner loop, checkpoint, evaluation) is stored under a unique
key as soon as it is done, so a killed run resumes where it stopped and ends with the records of an uninterrupted run
(on CPU, where training and sampling are deterministic under their seeds).

Departure from SEAL's code: the inner loop of round r adapts the round-r model, the same model that writes the
self-edits (SEAL restarts its servers on the new checkpoint by hand).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import time

from seal.domains.plugin import DomainPlugin
from seal.errors import ConfigError
from seal.evaluation import evaluate_conditions, sampled_edits
from seal.executors import make_executor, run_condition
from seal.outer.sample import Sampling
from seal.outer.select import scored_edits, select, signal_to_noise
from seal.outer.sft import M_STEP_LOG, prompt_room, save_unchanged, sft_and_merge
from seal.progress import console
from seal.reports.curve import write_curve
from seal.store import keys
from seal.store.runs import Run


def checkpoint_dir(run: Run, round: int):
    return run.dir / "checkpoints" / f"round-{round}"


def evaluate(run: Run, plugin: DomainPlugin, cfg, domain, contexts: list, round: int) -> dict:
    """The round's evaluation on the held-out contexts, stored under `keys.evaluation(round)` and returned."""
    conditions = plugin.round_conditions(cfg, round)
    skipped = plugin.skipped(domain, contexts, conditions)
    results = evaluate_conditions(run, plugin, cfg, plugin.evaluator(domain, cfg, training=True), contexts,
                                  conditions, round, skipped)
    run.store.add_evaluation(key=keys.evaluation(round), round=round, condition="round", payload=results)
    return results


def e_step(run: Run, plugin: DomainPlugin, cfg, domain, round: int, contexts: list) -> dict:
    """Sample, reward and filter one round's self-edits; returns the kept ones and the round's statistics.

    A context whose self-edit prompt leaves no room for a self-edit in `outer.sft.max_length` is left out before
    sampling (none of its self-edits could be trained on) and listed in the statistics (`left_out_contexts`: id ->
    prompt tokens), as are those whose room is under `max_new_tokens` (`tight_contexts`: their longer self-edits are
    left out of the M-step, `seal.outer.sft.fitting_rows`)."""
    store, outer = run.store, cfg.outer
    sampling = Sampling.of(dataclasses.replace(cfg.self_edit, k=outer.k or cfg.self_edit.k))
    prompts = {plugin.context_id(c): domain.self_edit_prompt(c) for c in contexts}
    no_room, tight = prompt_room(domain.tokenizer, prompts, outer.sft.max_length, sampling.max_new_tokens)
    if no_room:
        console.log(f"round {round}: {len(no_room)} of {len(contexts)} contexts left out: their self-edit prompts "
                    f"(up to {max(no_room.values())} tokens) leave no room in outer.sft.max_length="
                    f"{outer.sft.max_length}")
    if tight:
        console.log(f"round {round}: {len(tight)} contexts' self-edit prompts leave under "
                    f"self_edit.max_new_tokens={sampling.max_new_tokens} tokens in outer.sft.max_length="
                    f"{outer.sft.max_length}; their longer self-edits will be left out of the M-step")
    contexts = [c for c in contexts if plugin.context_id(c) not in no_room]
    for c in contexts:
        store.put_context(plugin.context_id(c), plugin.name, plugin.payload(c))
    edits = sampled_edits(run, plugin, cfg, domain, "train", contexts, round, sampling)
    executor = make_executor(cfg.executor, domain)
    try:
        run_condition(store, executor, domain, "train", contexts, edits, plugin.seeds(cfg, training=True), round)
    finally:
        executor.close()  # Ray actors hold replicas of this round's model
    results = store.rows("inner_results", "round=? AND condition='train'", (round,))
    scored = scored_edits(store.rows("self_edits", "round=? AND condition='train'", (round,)), results)
    kept = select(scored, outer.keep)
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


def run_train(run: Run, cfg, plugin: DomainPlugin) -> dict:
    """Run (or resume) every round, then write and return the round curve (`curve.json`, `curve.png`)."""
    plugin.check_config(cfg, training=True)
    held_out, round_contexts = plugin.train_contexts(cfg)
    plugin.check(cfg, held_out, training=True)
    trained_on = [c for cs in round_contexts for c in cs]
    manifest = plugin.manifest(cfg, trained_on, training=True)
    manifest["seeds"]["m_step"] = [cfg.run.seed + r for r in range(1, cfg.outer.rounds + 1)]
    eval_ids = [plugin.context_id(c) for c in held_out]
    round_ids = {str(r + 1): [plugin.context_id(c) for c in cs] for r, cs in enumerate(round_contexts)}
    recorded = run.manifest.get("eval_ids"), {str(k): v for k, v in run.manifest.get("round_ids", {}).items()}
    # a resume must train on what the run recorded (knowledge train before 2026-12-07 ignored data.n and
    # data.offset, so its runs' recorded configs may now select other passages)
    if recorded[0] is not None and recorded != (eval_ids, round_ids):
        raise ConfigError(f"--resume {run.dir}: its config now selects other contexts than the run recorded "
                          f"(eval_ids, round_ids): resume it with the seal of its git_commit "
                          f"{run.manifest.get('git_commit')}")
    run.update_manifest(eval_ids=eval_ids, round_ids=round_ids, **manifest)
    store = run.store
    current = cfg.model.name
    done = {r["round"]: r for r in store.rows("rounds")}
    for round in range(1, cfg.outer.rounds + 1):
        ckpt = checkpoint_dir(run, round)
        if done.get(round, {}).get("status") == "done" and ckpt.is_dir():
            current = str(ckpt)
            continue
        domain = plugin.build(cfg, current, run, held_out + trained_on, training=True)
        tokenizer = domain.tokenizer
        if round == 1 and not store.has("evaluations", keys.evaluation(0)):
            evaluate(run, plugin, cfg, domain, held_out, 0)

        # E-step and filter
        t0 = time.perf_counter()
        store.set_round(round, "e-step", {"model": current})
        e = e_step(run, plugin, cfg, domain, round, round_contexts[round - 1])
        e_seconds = time.perf_counter() - t0
        console.log(f"round {round}: kept {e['stats']['kept']} of {e['stats']['self_edits']} self-edits; "
                    f"signal/noise {e['stats']['signal_to_noise']['ratio']}")

        # M-step
        t1 = time.perf_counter()
        if ckpt.is_dir():  # the M-step finished before a kill; its log was saved with the checkpoint
            log_file = ckpt / M_STEP_LOG  # absent from checkpoints written before the log was kept there
            sft_log = json.loads(log_file.read_text()) if log_file.is_file() else {"skipped": "no log with checkpoint"}
        else:
            store.set_round(round, "m-step", {"model": current, "e_step": e["stats"]})
            base = domain.release()  # the plain model, inner-loop adapter removed
            pairs = [(k.prompt, k.text) for k in e["kept"]]
            if pairs:
                sft_log = sft_and_merge(base, tokenizer, pairs, cfg.outer.sft, ckpt, cfg.run.seed + round)
            else:  # nothing rewarded: the next round starts from the same weights
                sft_log = {"skipped": "no self-edit had a positive reward" if e["stats"]["contexts"] else
                           f"no context's self-edit prompt fits outer.sft.max_length={cfg.outer.sft.max_length}"}
                save_unchanged(base, tokenizer, ckpt, sft_log)
        del domain
        gc.collect()
        m_seconds = time.perf_counter() - t1
        current = str(ckpt)

        # the new checkpoint on the held-out contexts
        t2 = time.perf_counter()
        domain = plugin.build(cfg, current, run, held_out + trained_on, training=True)
        evaluation = evaluate(run, plugin, cfg, domain, held_out, round)
        store.set_round(round, "done", {"model": current, "e_step": e["stats"], "m_step": sft_log,
                                        "evaluation": evaluation,
                                        "seconds": {"e_step": e_seconds, "m_step": m_seconds,
                                                    "eval": time.perf_counter() - t2}})
        domain.release()  # frees what the domain holds beyond the model (a vLLM engine)
        del domain
        gc.collect()
    curve = plugin.curve(run, store.rows("rounds"))
    write_curve(run.dir, curve)
    return curve
