"""`seal knowledge train`: ReST-EM training of the self-edit writer on passages, with the round curve (Figure 4).

    seal knowledge train --config configs/knowledge/train_cpu.yaml
    seal knowledge train --resume runs/<dir>          # after a kill: nothing finished is redone

Passages are shuffled once with `data.seed` (0 when unset); the first `outer.eval_contexts` are held out for
evaluation and each round takes the next `outer.contexts_per_round`, so the rounds' training passages are disjoint
from each other and from the evaluation passages. The manifest records every round's passage ids and seeds.

After each round the new checkpoint writes self-edits for the held-out passages and is scored with the
`knowledge eval` machinery; round 0 also scores `base`, `passage` and (when `eval.external_file` is set)
`external`, the reference lines of the curve. Every evaluation reports accuracy and the gold answers' mean
log-likelihood, and each round's self-edits are compared with round 0's on the same held-out questions (paired
difference per question, t interval over passages). The run ends with `curve.json` and `curve.png`.

`reward.kind: judge` replaces the E-step's inner loops with one rubric rating per self-edit from an LLM judge
(`reward.judge`; the paper's v2 proxy reward). The per-round evaluation still trains and quizzes.
"""

from __future__ import annotations

import dataclasses

from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import Passage, load_passages, select_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.errors import DataError
from seal.executors import make_executor
from seal.grading.judge import make_backend
from seal.grading.rubric import RUBRIC_VERSION
from seal.outer.sample import Sampling
from seal.recipes.knowledge_eval import check_config, evaluate_conditions, make_grader
from seal.recipes.restem import RestemSpec, run_restem
from seal.reports.curve import write_curve
from seal.reports.stats import paired_rows
from seal.store.runs import Run


def plan_passages(cfg: KnowledgeConfig) -> tuple[list[Passage], list[list[Passage]]]:
    """Held-out evaluation passages and the disjoint training passages of each round."""
    n_eval, per_round, rounds = cfg.outer.eval_contexts, cfg.outer.contexts_per_round, cfg.outer.rounds
    shuffled = select_passages(load_passages(cfg.data.source), None, cfg.data.seed if cfg.data.seed is not None else 0)
    needed = n_eval + per_round * rounds
    if len(shuffled) < needed:
        raise DataError(f"{cfg.data.source}: {len(shuffled)} passages, but {n_eval} held out plus {rounds} rounds of "
                        f"{per_round} need {needed}")
    rest = shuffled[n_eval:]
    return shuffled[:n_eval], [rest[r * per_round:(r + 1) * per_round] for r in range(rounds)]


def run_train(run: Run, cfg: KnowledgeConfig) -> dict:
    from seal.models import load
    from seal.models.load import set_threads

    eval_passages, rounds = plan_passages(cfg)
    check_config(cfg, passages=eval_passages)  # eval.external_file is the held-out passages' external condition
    set_threads(cfg.model.threads)
    judged = cfg.reward.kind == "judge"  # the proxy reward: one rubric rating per self-edit, no inner loop
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

    loaded = {}  # the name or path last loaded: the domain's `source`, so Ray workers load the same checkpoint

    def load_model(name):
        loaded["source"] = name
        return load(name, cfg.model.dtype, cfg.model.device, cfg.model.trust_remote_code, seed=cfg.run.seed)

    def make_domain(model, tokenizer):
        return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg, model, tokenizer), source=loaded.get("source"))

    def evaluate(round: int, domain: KnowledgeDomain) -> dict:
        conditions = ("base", "passage", "self-edit") + (("external",) if cfg.eval.external_file else ())
        with domain.measuring("accuracy"):  # the curve reports accuracy and loglik, whichever reward trains
            return evaluate_conditions(run, cfg, domain, eval_passages,
                                       conditions if round == 0 else ("self-edit",), round=round, metric=cfg.quiz.metric)

    sampling = Sampling.of(dataclasses.replace(cfg.self_edit, k=cfg.outer.k or cfg.self_edit.k))
    spec = RestemSpec(outer=cfg.outer, sampling=sampling, seeds=seeds,
                      run_seed=cfg.run.seed, initial_model=cfg.model.name, round_contexts=rounds,
                      load_model=load_model, make_domain=make_domain,
                      make_executor=lambda domain: make_executor(cfg.executor, domain), evaluate=evaluate,
                      family=cfg.self_edit.family)
    records = run_restem(run, spec)
    curve = build_curve(run, records)
    write_curve(run.dir, curve)
    return curve


def build_curve(run: Run, records: list[dict]) -> dict:
    """Accuracy and log-likelihood of the model's own self-edits per round, each round's paired difference from
    round 0 on the held-out questions (`vs_round0`), and the round-0 reference lines (Figure 4). Works on the
    evaluations stored so far (an interrupted run: `records` are the `rounds` rows)."""
    evaluations = {e["round"]: e["payload"] for e in run.store.rows("evaluations") if e["condition"] == "round"}
    held_out = set(run.manifest.get("eval_ids") or [])

    def own(r: int) -> list[dict]:
        return [row for row in run.store.rows("inner_results", "condition='self-edit' AND round=?", (r,))
                if not held_out or row["context_id"] in held_out]

    first = evaluations[0]["conditions"]
    points = []
    for r in sorted(evaluations):
        c = evaluations[r]["conditions"]["self-edit"]
        points.append({"round": r, "accuracy": c["accuracy"], "ci95": c["ci95"], "loglik": c.get("loglik"),
                       "loglik_ci95": c.get("loglik_ci95", [None, None]),
                       "vs_round0": paired_rows(own(r), own(0)) if r > 0 else None})
    for rec in records:
        point = next((p for p in points if p["round"] == rec["round"]), None)
        if point is not None:
            point["seconds"] = rec["payload"].get("seconds")
            point["e_step"] = {k: v for k, v in rec["payload"].get("e_step", {}).items() if k != "kept_ids"}
    refs = [name for name in ("base", "passage", "external") if name in first]
    return {"metric": first["self-edit"]["metric"], "rounds": points,
            "reference": {name: first[name]["accuracy"] for name in refs},
            "reference_loglik": {name: first[name].get("loglik") for name in refs},
            "round0_differences": evaluations[0].get("differences", {})}
