"""`seal arc train`: ReST-EM for few-shot ARC, with the same outer loop as the knowledge domain.

    seal arc train --config configs/arc/paper.yaml
    seal arc train --config configs/arc/cpu_smollm2.yaml --set outer.k=2 --set train_data.n=2
    seal arc train --resume runs/<dir>

Paper settings (Section 4.1): one round over SEAL's 12 training tasks, 15 self-edits each, keep the configurations
whose test-time training solved the task (reward 1), SFT with LoRA r 16, 8 epochs, lr 5e-5. The training tasks come
from `train_data`, the evaluation tasks from `data`. Round 0 evaluates `icl`, `oracle` and the untrained model's own
self-edits (`self-edit`, the paper's "TTT + self-edit (no RL)"); every later round evaluates the new checkpoint's
own self-edits. The run ends with `curve.json` / `curve.png` of success rate per round.
"""

from __future__ import annotations

import dataclasses

from seal.domains.arc.config import ArcConfig
from seal.domains.arc.domain import ArcDomain, check_constrained
from seal.executors import make_executor
from seal.outer.sample import Sampling
from seal.recipes.arc_eval import choose_tasks, evaluate_conditions
from seal.recipes.restem import RestemSpec, run_restem
from seal.reports.curve import write_curve
from seal.reports.stats import wilson
from seal.store.runs import Run


def run_arc_train(run: Run, cfg: ArcConfig) -> dict:
    from seal.models import load
    from seal.models.load import set_threads

    check_constrained(cfg)
    set_threads(cfg.model.threads)
    eval_tasks = choose_tasks(cfg)
    train_tasks = choose_tasks(dataclasses.replace(cfg, data=cfg.train_data))
    run.update_manifest(eval_ids=[t.id for t in eval_tasks], train_ids=[t.id for t in train_tasks],
                        seeds={"run": cfg.run.seed, "ttt": list(range(cfg.ttt.seeds))})

    loaded = {}  # the name or path last loaded: the domain's `source`, so Ray workers load the same checkpoint

    def load_model(name):
        loaded["source"] = name
        return load(name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code, seed=cfg.run.seed)

    def evaluate(round: int, domain: ArcDomain) -> dict:
        skipped = {t.id: r for t in eval_tasks if (r := domain.check_task(t))}
        runnable = [t for t in eval_tasks if t.id not in skipped]
        conditions = ("icl", "oracle", "self-edit") if round == 0 else ("self-edit",)
        return evaluate_conditions(run, cfg, domain, runnable, conditions, skipped, round=round)

    spec = RestemSpec(outer=cfg.outer, seeds=cfg.ttt.seeds, run_seed=cfg.run.seed, initial_model=cfg.model.name,
                      sampling=Sampling.of(dataclasses.replace(cfg.self_edit, k=cfg.outer.k or cfg.self_edit.k)),
                      round_contexts=[train_tasks] * cfg.outer.rounds, load_model=load_model,
                      make_domain=lambda model, tokenizer: ArcDomain(model, tokenizer, cfg, loaded.get("source")),
                      make_executor=lambda domain: make_executor(cfg.executor, domain), evaluate=evaluate)
    run_restem(run, spec)
    curve = build_curve(run)
    write_curve(run.dir, curve)
    return curve


def build_curve(run: Run) -> dict:
    """Success rate of the model's own self-edits per round, with icl and oracle as reference lines."""
    evaluations = {e["round"]: e["payload"] for e in run.store.rows("evaluations") if e["condition"] == "round"}

    def point(c: dict) -> tuple[float | None, list]:
        rate = c["success_rate"]
        return rate, (list(wilson(rate * c["n"], c["n"])) if rate is not None else [None, None])

    rounds = []
    for r in sorted(evaluations):
        rate, ci = point(evaluations[r]["conditions"]["self-edit"])
        rounds.append({"round": r, "accuracy": rate, "ci95": ci})
    first = evaluations[0]["conditions"]
    return {"metric": "success rate (pass@2)", "rounds": rounds,
            "reference": {name: first[name]["success_rate"] for name in ("icl", "oracle") if name in first}}
