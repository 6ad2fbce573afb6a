"""`seal arc eval`: the paper's few-shot ARC table (Table 1 of arXiv 2506.10943) for any model.

    seal arc eval --config configs/arc/paper.yaml
    seal arc eval --config configs/arc/cpu_smollm2.yaml --set data.n=2 --set self_edit.k=1

Conditions (columns of Table 1):

- `icl`: the base model answers each task from its demonstrations, no training.
- `ttt-untrained`: K self-edits per task sampled from the untrained model, each run through test-time training (TTT).
- `seal`: K self-edits per task sampled from `eval.checkpoint` (a model trained by ReST-EM), TTT run on the base model.
- `oracle`: the fixed hand-tuned TTT configuration `edit.ORACLE_EDIT` (the paper's "Oracle TTT").

The success rate of a condition is the share of (task, self-edit) configurations whose adapted model solves the task
(pass@2 on every test input), as the paper counts it; a malformed or over-budget self-edit counts as a failure. Every
sampled self-edit and every inner loop is one row of the run's store as soon as it exists, keyed
`r<round>/<condition>/<task>/<index>[/s<seed>]`; rerunning with `--resume RUN_DIR` skips what is done. Tasks whose prompts
cannot fit the context (`solve.max_prompt_tokens` or the model's) are not attempted: each gets a row with reward None
and the reason, and is listed under `skipped` in `results.json`. Times per task (self-edit generation, TTT data,
training, solving) are summed over a task's configurations and averaged over tasks.

Departure from the paper: the seal condition here reads self-edits from a checkpoint rather than from the RL loop's
own final policy in the same process; the numbers are the same quantity.
"""

from __future__ import annotations

from seal.domains.arc.config import ArcEvalCommandConfig
from seal.domains.arc.domain import ArcDomain
from seal.domains.arc.evaluation import SAMPLED, check_conditions, choose_tasks, evaluate_conditions
from seal.inner.lora import lora_record
from seal.jsonfile import write_json
from seal.models import fingerprint, load_model
from seal.progress import console
from seal.store.runs import Run


def run_arc_eval(run: Run, cfg: ArcEvalCommandConfig) -> dict:
    """Fill the run's store with every condition's inner loops and return the results table (also results.json)."""
    check_conditions(cfg)
    tasks = choose_tasks(cfg)
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    run.update_manifest(data_ids=[t.id for t in tasks], seeds={"run": cfg.run.seed, "ttt": list(range(cfg.ttt.seeds))},
                        model_fingerprint=fingerprint(model), lora=lora_record(model, {"ttt.lora": cfg.ttt.lora}))
    domain = ArcDomain(model, tokenizer, cfg, source=cfg.model.name)
    store = run.store
    for t in tasks:
        store.put_context(t.id, domain.name, domain.context_payload(t))
    with_edit = any(c in SAMPLED for c in cfg.eval.conditions)
    skipped = {t.id: r for t in tasks if (r := domain.check_task(t, with_self_edit=with_edit))}
    runnable = [t for t in tasks if t.id not in skipped]
    for t_id, reason in skipped.items():
        console.log(f"skipping task {t_id}: {reason}")

    results = evaluate_conditions(run, cfg, domain, runnable, cfg.eval.conditions, skipped)
    results |= {"model": cfg.model.name, "n_tasks": len(tasks), "tasks": [t.id for t in tasks]}
    write_json(run.dir / "results.json", results)
    store.add_evaluation(key="arc-eval", condition="all", payload=results)
    return results
