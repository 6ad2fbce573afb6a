"""`seal knowledge eval`: the paper's single-passage table (Table 2 of arXiv 2506.10943) for any model.

    seal knowledge eval --config configs/knowledge/demo.yaml
    seal knowledge eval --set data.source=../shared/data/seal-self-edits/gpt4_1_val.json --set data.n=20 \
        --set eval.conditions=[base,passage,external] \
        --set eval.external_file=../shared/data/seal-self-edits/gpt4_1_val.json

Conditions: `base` (no training), `passage` (train on the passage alone), `self-edit` (passage plus the model's own
self-edits), `external` (passage plus self-edits read from a file in SEAL's layout), `checkpoint` (passage plus
self-edits written by another model, e.g. a trained round). Each (passage, self-edit, seed) inner loop is one row in
the run's store as soon as it finishes; rerunning with `--resume RUN_DIR` skips what is done.

Each condition reports accuracy and knowledge (the gold answers' mean log-likelihood), each with a 95% interval over
passages, and the paired differences that matter (`seal.reports.tables`). The reward (`reward.kind`) decides what
the quiz measures; a rubric rating scores training-time self-edits only, so this table then reports accuracy.
"""

from __future__ import annotations

from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import evaluate_conditions, prepare
from seal.domains.knowledge.quiz import make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.inner.lora import lora_record
from seal.jsonfile import write_json
from seal.store.runs import Run


def run_eval(run: Run, cfg: KnowledgeEvalConfig) -> dict:
    """`seal knowledge eval`: fill the run's store and return the results table (also written to results.json)."""
    passages, model, tokenizer = prepare(run, cfg)
    run.update_manifest(seeds={"run": cfg.run.seed, "inner": list(range(cfg.inner.seeds))},
                        lora=lora_record(model, {"inner.lora": cfg.inner.lora}))
    reward = make_reward("accuracy" if cfg.reward.rated else cfg.reward.kind)
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer), reward, cfg.model.name)
    results = evaluate_conditions(run, cfg, domain, passages, cfg.eval.conditions)
    write_json(run.dir / "results.json", results)
    run.store.add_evaluation(key="eval", condition="all", payload=results)
    return results
