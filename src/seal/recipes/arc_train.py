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

from seal.domains.arc.config import ArcTrainCommandConfig
from seal.domains.arc.domain import ArcDomain, check_constrained
from seal.domains.arc.evaluation import choose_tasks, evaluate_conditions
from seal.executors import make_executor
from seal.inner.lora import lora_record
from seal.models import load_model
from seal.outer.restem import RestemSpec, run_restem
from seal.outer.sample import Sampling
from seal.reports.curve import arc_curve, write_curve
from seal.store.runs import Run


def run_arc_train(run: Run, cfg: ArcTrainCommandConfig) -> dict:
    check_constrained(cfg)
    eval_tasks = choose_tasks(cfg)
    train_tasks = choose_tasks(dataclasses.replace(cfg, data=cfg.train_data))
    run.update_manifest(eval_ids=[t.id for t in eval_tasks], train_ids=[t.id for t in train_tasks],
                        seeds={"run": cfg.run.seed, "ttt": list(range(cfg.ttt.seeds))})

    def make_domain(source: str) -> ArcDomain:
        model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
        if "lora" not in run.manifest:  # the first model of the run, before any work (the M-step's targets too)
            run.update_manifest(lora=lora_record(model, {"ttt.lora": cfg.ttt.lora,
                                                         "outer.sft.lora": cfg.outer.sft.lora}))
        return ArcDomain(model, tokenizer, cfg, source)

    def evaluate(round: int, domain: ArcDomain) -> dict:
        skipped = {t.id: r for t in eval_tasks if (r := domain.check_task(t))}
        runnable = [t for t in eval_tasks if t.id not in skipped]
        conditions = ("icl", "oracle", "self-edit") if round == 0 else ("self-edit",)
        return evaluate_conditions(run, cfg, domain, runnable, conditions, skipped, round=round)

    spec = RestemSpec(outer=cfg.outer, seeds=cfg.ttt.seeds, run_seed=cfg.run.seed, initial_model=cfg.model.name,
                      sampling=Sampling.of(dataclasses.replace(cfg.self_edit, k=cfg.outer.k or cfg.self_edit.k)),
                      round_contexts=[train_tasks] * cfg.outer.rounds, make_domain=make_domain,
                      make_executor=lambda domain: make_executor(cfg.executor, domain), evaluate=evaluate)
    run_restem(run, spec)
    curve = arc_curve(run)
    write_curve(run.dir, curve)
    return curve

