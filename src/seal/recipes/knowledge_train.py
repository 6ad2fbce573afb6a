"""`seal knowledge train`: ReST-EM training of the self-edit writer on passages, with the round curve (Figure 4).

    seal knowledge train --config configs/knowledge/train_cpu.yaml
    seal knowledge train --resume runs/<dir>          # after a kill: nothing finished is redone

Passages are shuffled once with `data.seed` (0 when unset); the first `outer.eval_contexts` are held out for
evaluation and each round takes the next `outer.contexts_per_round`, so the rounds' training passages are disjoint
from each other and from the evaluation passages. The manifest records every round's passage ids and seeds.

After each round the new checkpoint writes self-edits for the held-out passages and is scored with the
`knowledge eval` machinery; round 0 also scores `base`, `passage` and every file-given source
(`eval.external_file`, `eval.external`), the reference lines of the curve. Every evaluation reports accuracy and the
gold answers' mean log-likelihood, and each round's self-edits are compared with round 0's on the same held-out
questions (paired difference per question, t interval over passages). The run ends with `curve.json` and `curve.png`.

`reward.kind: judge` replaces the E-step's inner loops with one rubric rating per self-edit from an LLM judge
(`reward.judge`; the paper's v2 proxy reward). The per-round evaluation still trains and quizzes.
"""

from __future__ import annotations

import dataclasses

from seal.domains.knowledge.config import KnowledgeTrainConfig
from seal.domains.knowledge.data import Passage, load_passages, select_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_config, check_lengths, evaluate_conditions
from seal.domains.knowledge.quiz import make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.errors import DataError
from seal.executors import make_executor
from seal.grading.judge import make_backend
from seal.grading.rubric import RUBRIC_VERSION
from seal.inner.lora import lora_record
from seal.models import load_model
from seal.outer.restem import RestemSpec, run_restem
from seal.outer.sample import Sampling
from seal.reports.curve import knowledge_curve, write_curve
from seal.store.runs import Run


def plan_passages(cfg: KnowledgeTrainConfig) -> tuple[list[Passage], list[list[Passage]]]:
    """Held-out evaluation passages and the disjoint training passages of each round."""
    n_eval, per_round, rounds = cfg.outer.eval_contexts, cfg.outer.contexts_per_round, cfg.outer.rounds
    shuffled = select_passages(load_passages(cfg.data.source), None, cfg.data.seed if cfg.data.seed is not None else 0)
    needed = n_eval + per_round * rounds
    if len(shuffled) < needed:
        raise DataError(f"{cfg.data.source}: {len(shuffled)} passages, but {n_eval} held out plus {rounds} rounds of "
                        f"{per_round} need {needed}")
    rest = shuffled[n_eval:]
    return shuffled[:n_eval], [rest[r * per_round:(r + 1) * per_round] for r in range(rounds)]


def run_train(run: Run, cfg: KnowledgeTrainConfig) -> dict:
    eval_passages, rounds = plan_passages(cfg)
    check_config(cfg, passages=eval_passages)  # eval.external_file is the held-out passages' external condition
    judged = cfg.reward.rated  # the proxy reward: one rubric rating per self-edit, no inner loop
    if judged and cfg.reward.judge.backend == "openai":
        make_backend(cfg.reward.judge).check_reachable()  # fail before any work, not in the middle of round 1
    seeds = 1 if judged else cfg.inner.seeds
    reward = {"kind": cfg.reward.kind, "metric": cfg.quiz.metric, "seeds": seeds,
              "questions_per_passage": sum(len(p.questions) for ps in rounds for p in ps) / max(1, sum(map(len, rounds)))}
    if judged:
        reward |= {"judge": cfg.reward.judge.model if cfg.reward.judge.backend == "openai" else "local (the model)",
                   "rubric": RUBRIC_VERSION}
    run.update_manifest(
        eval_ids=[p.id for p in eval_passages], round_ids={r + 1: [p.id for p in ps] for r, ps in enumerate(rounds)},
        seeds={"run": cfg.run.seed, "inner": list(range(seeds)),
               "m_step": [cfg.run.seed + r for r in range(1, cfg.outer.rounds + 1)]},
        reward=reward)

    def make_domain(source: str) -> KnowledgeDomain:
        model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
        if "context" not in run.manifest:  # the first model of the run: every round's checkpoint has its context
            run.update_manifest(context=check_lengths(cfg, model, tokenizer,
                                                      eval_passages + [p for ps in rounds for p in ps]),
                                lora=lora_record(model, {"inner.lora": cfg.inner.lora,
                                                         "outer.sft.lora": cfg.outer.sft.lora}))
        return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer),
                               make_reward(cfg.reward.kind), source)

    def evaluate(round: int, domain: KnowledgeDomain) -> dict:
        conditions = ("base", "passage", "self-edit") + tuple(cfg.eval.sources)
        scored = domain.rewarded_by(make_reward("accuracy"))  # the curve reports accuracy and loglik, whichever
        return evaluate_conditions(run, cfg, scored, eval_passages,  # reward trains
                                   conditions if round == 0 else ("self-edit",), round=round, metric=cfg.quiz.metric)

    sampling = Sampling.of(dataclasses.replace(cfg.self_edit, k=cfg.outer.k or cfg.self_edit.k))
    spec = RestemSpec(outer=cfg.outer, sampling=sampling, seeds=seeds,
                      run_seed=cfg.run.seed, initial_model=cfg.model.name, round_contexts=rounds,
                      make_domain=make_domain,
                      make_executor=lambda domain: make_executor(cfg.executor, domain), evaluate=evaluate,
                      family=cfg.self_edit.family)
    records = run_restem(run, spec)
    curve = knowledge_curve(run, records)
    write_curve(run.dir, curve)
    return curve

