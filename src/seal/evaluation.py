"""The condition runner every domain's table uses: each condition's self-edits, then its inner loops, then the
domain's summary (paper Tables 1 and 2 are both tables of conditions; `seal.domains.plugin` names their kinds).

    results = evaluate_conditions(run, plugin, cfg, domain, contexts, ("base", "passage", "self-edit"))

Per condition, by kind: `none` quizzes the unadapted model once per context (`Domain.untrained`, in this process);
`context`, `own`, `checkpoint` and `fixed` run one inner loop per (context, self-edit, training seed) on the
config's executor. Sampled and fixed self-edits are stored before they are used and every inner loop is one row as
soon as it finishes (`seal.store.keys`), so a rerun redoes nothing finished. Used by `seal eval` (`seal.recipes.eval`)
and by the round evaluations and E-step of `seal train` (`seal.recipes.train`).
"""

from __future__ import annotations

import gc

from seal.domains.base import Outcome
from seal.domains.plugin import DomainPlugin
from seal.executors import make_executor, run_condition
from seal.executors.base import Job, record
from seal.outer.sample import Sampling, sample_and_store, stored_self_edits
from seal.store import keys
from seal.store.runs import Run

Edits = dict[str, list[tuple[int | None, str | None]]]  # context id -> [(self-edit row id, text)]; text None: none


def sampled_edits(run: Run, plugin: DomainPlugin, cfg, domain, condition: str, contexts: list, round: int,
                  sampling: Sampling) -> Edits:
    """`sampling.k` self-edits per context written by `domain`'s model (its `writer()`), stored under `condition`
    (stored ones are reused)."""
    prompts = {plugin.context_id(c): domain.self_edit_prompt(c) for c in contexts}
    with domain.writer() as writer:
        return sample_and_store(run.store, writer, prompts, condition, round, sampling, cfg.run.seed,
                                plugin.family(cfg))


def edits_for(run: Run, plugin: DomainPlugin, cfg, domain, condition: str, contexts: list, round: int) -> Edits:
    """The self-edits of `condition` on `contexts`, by its kind (`seal.domains.plugin.KINDS`)."""
    kind = plugin.conditions(cfg)[condition].kind
    ids = [plugin.context_id(c) for c in contexts]
    if kind == "context":
        return {i: [(None, None)] for i in ids}
    store = run.store
    if kind == "fixed":
        given = plugin.fixed_edits(cfg, condition, contexts)
        return {i: [(store.add_self_edit(key=keys.self_edit(round, condition, i, j), context_id=i, round=round,
                                         condition=condition, text=text, family=plugin.family(cfg),
                                         sampling={"source": source}), text)
                     for j, (text, source) in enumerate(given[i])] for i in ids}
    sampling = Sampling.of(cfg.self_edit)
    stored = stored_self_edits(store, ids, condition, round, sampling.k)
    if stored is not None:
        return stored
    if kind == "own":
        return sampled_edits(run, plugin, cfg, domain, condition, contexts, round, sampling)
    other = plugin.build(cfg, cfg.eval.checkpoint)  # checkpoint: another model writes, this one is adapted
    try:
        return sampled_edits(run, plugin, cfg, other, condition, contexts, round, sampling)
    finally:
        other.release()
        del other
        gc.collect()


def untrained_rows(run: Run, plugin: DomainPlugin, domain, condition: str, contexts: list, round: int) -> set[str]:
    """One row per context for a `none` condition: the unadapted model's outcome. Returns the rows' keys."""
    wanted = set()
    for c in contexts:
        key = keys.untrained(round, condition, plugin.context_id(c))
        wanted.add(key)
        if not run.store.has("inner_results", key):
            outcome: Outcome = domain.untrained(c)
            record(run.store, domain, Job(key, c, None, keys.parse(key).seed, condition, round), outcome)
    return wanted


def evaluate_conditions(run: Run, plugin: DomainPlugin, cfg, domain, contexts: list, conditions: tuple[str, ...],
                        round: int = 0, skipped: dict[str, str] | None = None) -> dict:
    """Run every condition's inner loops on `contexts` (skipping finished ones) and summarise them with
    `plugin.summarize`. `skipped` (context id -> reason) are contexts of `contexts` not attempted: each gets a row
    per condition saying why. Returns the summary with `round` added."""
    store = run.store
    skipped = skipped or {}
    for c in contexts:
        store.put_context(plugin.context_id(c), plugin.name, plugin.payload(c))
    everything, contexts = contexts, [c for c in contexts if plugin.context_id(c) not in skipped]
    kinds = plugin.conditions(cfg)
    executor = make_executor(cfg.executor, domain)
    wanted: dict[str, set[str]] = {}  # the rows of this evaluation (a resumed run may hold others)
    try:
        for condition in conditions:
            for cid, reason in skipped.items():
                store.add_inner_result(key=keys.skipped(round, condition, cid), context_id=cid, round=round,
                                       condition=condition, seed=None, score=None, base_score=None, n_questions=0,
                                       details={"skipped": reason}, timings={})
            wanted[condition] = {keys.skipped(round, condition, cid) for cid in skipped}
            if kinds[condition].kind == "none":
                wanted[condition] |= untrained_rows(run, plugin, domain, condition, contexts, round)
                continue
            edits = edits_for(run, plugin, cfg, domain, condition, contexts, round)
            jobs = run_condition(store, executor, domain, condition, contexts, edits, plugin.seeds(cfg), round)
            wanted[condition] |= {j.key for j in jobs}
    finally:
        executor.close()  # a Ray executor's actors hold model replicas: free them before another model loads
    rows = {c: [r for r in store.rows("inner_results", "condition=? AND round=?", (c, round)) if r["key"] in wanted[c]]
            for c in conditions}
    edit_rows = {}
    for c in conditions:
        used = {r["self_edit_id"] for r in rows[c]}
        edit_rows[c] = [e for e in store.rows("self_edits", "condition=?", (c,)) if e["id"] in used]
    return plugin.summarize(cfg, domain, everything, rows, edit_rows, skipped) | {"round": round}
