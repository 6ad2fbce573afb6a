"""The knowledge-incorporation domain as a plugin (paper Section 4.2, Table 2): passages answered closed-book.

Conditions: `base` (none: the unadapted model), `passage` (context: train on the passage alone), `self-edit` (own:
passage plus the model's own implications), `checkpoint` (checkpoint: self-edits written by `eval.checkpoint`),
`external` and each name of `eval.external` (fixed: self-edits read from a file in SEAL's layout, e.g. the paper's
Qwen and GPT-4.1 ones side by side). Every condition reports accuracy and the gold answers' log-likelihood with the
paired differences of `seal.domains.knowledge.results.comparisons`. Its own commands beyond eval and train: `cpt`
(continued pretraining on many passages) and `continual` (sequential self-edits and forgetting).
"""

from __future__ import annotations

from seal.domains.knowledge.config import COMMANDS, KnowledgeConfig
from seal.domains.plugin import Condition, DomainPlugin

class KnowledgePlugin(DomainPlugin):
    name = "knowledge"
    help = "Knowledge incorporation (SQuAD-style passages)."
    commands = COMMANDS
    config = KnowledgeConfig
    recipes = {"cpt": ("seal.recipes.knowledge_cpt:run_cpt", "seal.recipes.knowledge_cpt:format_cpt",
                       "Continued pretraining: pool many passages' self-edits, train once, quiz on every passage."),
               "continual": ("seal.recipes.knowledge_continual:run_continual",
                             "seal.reports.forgetting:format_forgetting",
                             "Sequential self-edits kept one after another: the forgetting matrix, retention and "
                             "damage.")}

    def contexts(self, cfg):
        from seal.domains.knowledge.evaluation import choose_passages

        return choose_passages(cfg)

    def train_contexts(self, cfg):
        from seal.domains.knowledge.evaluation import plan_passages

        return plan_passages(cfg)

    def matches(self, source: str) -> int:
        return 1  # builtin, squad or a JSON file of passages: whatever no other domain claims

    def show(self, source: str, n: int, seed: int | None) -> str:
        from seal.domains.knowledge.data import load_passages, select_passages

        passages = load_passages(source)
        lines = [f"{len(passages)} passages, {sum(len(p.questions) for p in passages)} questions"]
        for p in select_passages(passages, n, seed):
            lines.append(f"\n== {p.title} [{p.id}] ({len(p.context.split())} words)\n{p.context}")
            lines += [f"  Q: {q.question}  A: {' | '.join(q.answers)}" for q in p.questions]
        return "\n".join(lines)

    def check(self, cfg, contexts, training: bool = False) -> None:
        from seal.domains.knowledge.evaluation import check_config

        check_config(cfg, passages=contexts)  # eval.external_file and eval.external cover the evaluated passages
        if training and cfg.reward.rated and cfg.reward.judge.backend == "openai":
            from seal.grading.judge import make_backend

            make_backend(cfg.reward.judge).check_reachable()  # fail before any work, not in the middle of round 1

    def build(self, cfg, source: str, run=None, contexts=(), training: bool = False):
        from seal.domains.knowledge.domain import KnowledgeDomain
        from seal.domains.knowledge.evaluation import check_lengths
        from seal.domains.knowledge.quiz import make_grader
        from seal.domains.knowledge.rewards import make_reward
        from seal.inner.lora import lora_record
        from seal.models import fingerprint, load_model

        model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
        if run is not None and "context" not in run.manifest:  # the run's first model: every later one has its size
            kinds = self.conditions(cfg)
            sampled = training or any(kinds[c].kind in ("own", "checkpoint") for c in cfg.eval.conditions)
            loras = {"inner.lora": cfg.inner.lora} | ({"outer.sft.lora": cfg.outer.sft.lora} if training else {})
            run.update_manifest(context=check_lengths(cfg, model, tokenizer, list(contexts), self_edits=sampled),
                                lora=lora_record(model, loras),
                                **({} if training else {"model_fingerprint": fingerprint(model)}))
        reward = getattr(cfg, "reward", None)  # cpt samples self-edits with this domain and has no reward
        return KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer),
                               make_reward(reward.kind if reward is not None else "accuracy"), source)

    def conditions(self, cfg) -> dict[str, Condition]:
        return {c.name: c for c in (Condition("base", "none"), Condition("passage", "context"),
                                    Condition("self-edit", "own"), Condition("checkpoint", "checkpoint"))} | {
            name: Condition(name, "fixed") for name in cfg.eval.sources}

    def round_conditions(self, cfg, round: int) -> tuple[str, ...]:
        return ("self-edit",) if round else ("base", "passage", "self-edit", *cfg.eval.sources)

    def evaluator(self, domain, cfg, training: bool):
        if training or cfg.reward.rated:  # a table reports accuracy, whatever reward trains (a rating has no quiz)
            from seal.domains.knowledge.rewards import make_reward

            return domain.rewarded_by(make_reward("accuracy"))
        return domain

    def seeds(self, cfg, training: bool = False) -> int:
        return 1 if training and cfg.reward.rated else cfg.inner.seeds  # a rating involves no training seed

    def family(self, cfg) -> str | None:
        return cfg.self_edit.family

    def fixed_edits(self, cfg, condition: str, contexts: list) -> dict[str, list[tuple[str, str]]]:
        from seal.domains.knowledge.evaluation import source_self_edits

        path = cfg.eval.sources[condition]
        return {pid: [(text, path) for text in texts]
                for pid, texts in source_self_edits(condition, path, contexts, cfg.self_edit.k).items()}

    def manifest(self, cfg, contexts: list, training: bool = False) -> dict:
        seeds = self.seeds(cfg, training)
        record = {"seeds": {"run": cfg.run.seed, "inner": list(range(seeds))}}
        if training:
            from seal.grading.rubric import RUBRIC_VERSION

            reward = {"kind": cfg.reward.kind, "metric": cfg.quiz.metric, "seeds": seeds,
                      "questions_per_passage": sum(len(p.questions) for p in contexts) / max(1, len(contexts))}
            if cfg.reward.rated:
                reward |= {"judge": cfg.reward.judge.model if cfg.reward.judge.backend == "openai" else
                           "local (the model)", "rubric": RUBRIC_VERSION}
            record["reward"] = reward
        return record

    def summarize(self, cfg, domain, contexts, rows, edit_rows, skipped) -> dict:
        from seal.progress import console
        from seal.domains.knowledge.results import (add_edit_shapes, answer_held_difference, comparisons, differences,
                                                    knowledge_summary, timing_summary)
        from seal.reports.tables import reward_summary

        metric = cfg.quiz.metric if domain.answers else "loglik"
        results = {"conditions": {c: knowledge_summary(r, metric) | {"seconds_per_inner_loop": timing_summary(r)}
                                  | reward_summary(r) for c, r in rows.items()},
                   "model": cfg.model.name, "n_passages": len(contexts), "seeds": cfg.inner.seeds,
                   "reward": domain.reward.name,
                   "differences": differences(rows, comparisons(tuple(rows), tuple(cfg.eval.sources)))}
        add_edit_shapes(results["conditions"], edit_rows, contexts)
        results["answer_held"] = answer_held_difference(rows, edit_rows, contexts)
        conditions = results["conditions"].values()
        results["judge_errors"] = sum(c["judge_errors"] for c in conditions)
        if results["judge_errors"]:
            first = next(c["first_judge_error"] for c in conditions if c["first_judge_error"])
            console.log(f"warning: LLM judge: {results['judge_errors']} of "
                        f"{sum(c['judge_verdicts'] for c in conditions)} verdicts unreadable (not graded); first: "
                        f"{first}", markup=False, highlight=False)
        return results

    def table(self, results: dict) -> str:
        from seal.domains.knowledge.results import knowledge_table

        return knowledge_table(results)

    def curve(self, run, records: list[dict]) -> dict:
        from seal.domains.knowledge.results import knowledge_curve

        return knowledge_curve(run, records)

    def format_curve(self, curve: dict) -> str:
        from seal.domains.knowledge.results import format_edit_shapes
        from seal.reports.curve import format_curve

        shapes = format_edit_shapes({f"round {p['round']}": p for p in curve["rounds"]})
        return format_curve(curve) + ("\n" + "\n".join(shapes) if shapes else "")

    def results_html(self, run, results: dict | None) -> str | None:
        from seal.domains.knowledge.report import results_html

        return results_html(run, results)
