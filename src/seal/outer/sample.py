"""The E-step's sampling: K self-edits per context from a model, stored before they are used.

Each context gets its own sampling seed, derived from the run seed, the round and the context id, so a resumed run
samples exactly what an uninterrupted one would have, whichever contexts were already done.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from seal.models.generate import Generator
from seal.progress import progress_bar
from seal.store import keys
from seal.store.db import Store


@dataclass(frozen=True)
class Sampling:
    k: int
    temperature: float
    top_p: float
    max_new_tokens: int
    batch_size: int

    @staticmethod
    def of(cfg) -> "Sampling":
        """From any config section with these five fields (knowledge and ARC self-edit sections both have them)."""
        return Sampling(cfg.k, cfg.temperature, cfg.top_p, cfg.max_new_tokens, cfg.batch_size)


def stable_seed(*parts) -> int:
    """A 31-bit seed from any parts (not Python's salted `hash`)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "big") >> 1


def stored_self_edits(store: Store, context_ids: list[str], condition: str, round: int, k: int
                      ) -> dict[str, list[tuple[int, str]]] | None:
    """The stored self-edits of every context, or None when any is missing (then the writer must be loaded)."""
    rows = {cid: [store.get("self_edits", keys.self_edit(round, condition, cid, j)) for j in range(k)]
            for cid in context_ids}
    if any(r is None for rs in rows.values() for r in rs):
        return None
    return {cid: [(r["id"], r["text"]) for r in rs] for cid, rs in rows.items()}


def sample_and_store(store: Store, generator: Generator, prompts: dict[str, str], condition: str, round: int,
                     sampling: Sampling, run_seed: int, family: str | None = None,
                     label: str | None = None) -> dict[str, list[tuple[int, str]]]:
    """(self-edit row id, text) lists per context id, for the self-edit `prompts` by context id: stored self-edits
    are reused, missing ones sampled with `generator` (a domain's `writer()`) and stored one context at a time. The
    progress bar is labelled `label` (default `round R CONDITION: sampling self-edits`), one unit a context."""
    key = lambda cid, j: keys.self_edit(round, condition, cid, j)  # noqa: E731
    todo = [cid for cid in prompts if not store.has("self_edits", key(cid, sampling.k - 1))]
    with progress_bar() as bar:
        task = bar.add_task(label or f"round {round} {condition}: sampling self-edits", total=len(todo))
        for cid in todo:
            prompt = prompts[cid]
            seed = stable_seed(run_seed, round, condition, cid)
            t0 = time.perf_counter()
            texts = generator.generate([prompt] * sampling.k, max_new_tokens=sampling.max_new_tokens,
                                       temperature=sampling.temperature, top_p=sampling.top_p, seed=seed)
            meta = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                    "max_new_tokens": sampling.max_new_tokens, "generation_s": (time.perf_counter() - t0) / sampling.k}
            # One row per self-edit; if killed between rows, the context is resampled with the same seed, giving
            # the same texts, and the rows already stored are kept as they are.
            for j, text in enumerate(texts):
                store.add_self_edit(key=key(cid, j), context_id=cid, round=round, condition=condition, text=text,
                                    sampling=meta, family=family, prompt=prompt, seed=seed)
            bar.advance(task)
    return stored_self_edits(store, list(prompts), condition, round, sampling.k)
