"""`seal bench rewards`: do the cheaper rewards rank self-edits as the true quiz does?

    seal bench rewards --set data.n=4 --set self_edit.k=4

For each passage, K self-edits are sampled once; each is trained on (same seeds for every reward) and, in the same
adapted state, scored three ways: quiz accuracy gain (generate and grade), gain in mean log-likelihood of the gold
answers (no generation), and the self-quiz reward (gain in mean log-likelihood of the answers to questions the
unadapted model wrote about the passage, no answer key: `reward.kind: self-quiz`). Reported per passage: Spearman's
rank correlation over its self-edits between the gold log-likelihood reward and each of accuracy and self-quiz; their
means over passages with a 95% t interval over passages; and the seed-to-seed spread of each reward relative to its
spread between self-edits (the continuous rewards should be far less noisy).
"""

from __future__ import annotations

import statistics

from scipy.stats import spearmanr

from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.evaluation import check_config, choose_passages
from seal.domains.knowledge.parse import to_documents
from seal.domains.knowledge.quiz import make_grader
from seal.domains.knowledge.rewards import make_reward
from seal.jsonfile import write_json
from seal.outer.sample import Sampling, sample_and_store
from seal.progress import progress_bar
from seal.reports.stats import t_interval
from seal.store.runs import Run


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho (`scipy.stats.spearmanr`: average ranks for ties); None when either side is constant.

    >>> spearman([1, 2, 3], [10, 30, 20])
    0.5
    """
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def noise_ratio(per_edit_seeds: list[list[float]]) -> float | None:
    """Mean across-seed SD of one self-edit's reward over the SD of mean rewards between self-edits."""
    within = [statistics.stdev(s) for s in per_edit_seeds if len(s) >= 2]
    means = [statistics.mean(s) for s in per_edit_seeds]
    between = statistics.stdev(means) if len(means) >= 2 else 0.0
    return statistics.mean(within) / between if within and between else None


def run_reward_bench(run: Run, cfg: KnowledgeEvalConfig) -> dict:
    from seal.models import load_model

    passages = choose_passages(cfg)
    check_config(cfg)  # the prompt families before the model loads
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    domain = KnowledgeDomain(model, tokenizer, cfg, make_grader(cfg.quiz, model, tokenizer))
    by_accuracy, by_loglik = domain.rewarded_by(make_reward("accuracy")), domain.rewarded_by(make_reward("loglik"))
    by_self = domain.rewarded_by(make_reward("self-quiz"))
    prompts = {p.id: domain.self_edit_prompt(p) for p in passages}
    with domain.writer() as writer:
        edits = sample_and_store(run.store, writer, prompts, "bench", 0, Sampling.of(cfg.self_edit),
                                 cfg.run.seed, cfg.self_edit.family)
    per_passage = []
    with progress_bar() as bar:
        task = bar.add_task("rewards", total=len(passages) * cfg.self_edit.k * cfg.inner.seeds)
        for p in passages:
            base_acc = by_accuracy.reward.score(by_accuracy.base_result(p))
            base_ll = by_loglik.reward.score(by_loglik.base_result(p))
            quizzed = by_self.quiz_of(p)  # written by the unadapted model, before any training
            base_self = by_self.reward.score(by_self.base_result(p))
            acc, ll, own = [], [], []
            for _, text in edits[p.id]:
                acc.append([]), ll.append([]), own.append([])
                for seed in range(cfg.inner.seeds):
                    with domain.adapter.trained(to_documents(p, text), seed):
                        adapted = domain.adapter.model
                        acc[-1].append(by_accuracy.reward.score(by_accuracy.quiz(adapted, p)) - base_acc)
                        ll[-1].append(by_loglik.reward.score(by_loglik.quiz(adapted, p)) - base_ll)
                        if base_self is not None:  # None: no self-written question survived the filter
                            own[-1].append(by_self.reward.score(by_self.quiz(adapted, quizzed)) - base_self)
                    bar.advance(task)
            means = lambda rewards: [statistics.mean(r) for r in rewards]  # noqa: E731
            per_passage.append({"passage": p.id, "accuracy_rewards": acc, "loglik_rewards": ll,
                                "self_quiz_rewards": own if base_self is not None else None,
                                "self_quiz_questions": len(quizzed.questions),
                                "spearman": spearman(means(acc), means(ll)),
                                "spearman_self_quiz": None if base_self is None else spearman(means(own), means(ll)),
                                "noise_ratio_accuracy": noise_ratio(acc), "noise_ratio_loglik": noise_ratio(ll),
                                "noise_ratio_self_quiz": noise_ratio(own) if base_self is not None else None})
    known = lambda key: [x[key] for x in per_passage if x[key] is not None]  # noqa: E731
    keys = ("spearman", "spearman_self_quiz", "noise_ratio_accuracy", "noise_ratio_loglik", "noise_ratio_self_quiz")
    summary = {key: (statistics.mean(known(key)) if known(key) else None) for key in keys}
    summary |= {f"{key}_ci95": list(t_interval(known(key))[1:]) for key in ("spearman", "spearman_self_quiz")}
    results = {"summary": summary | {"passages": len(passages), "self_edits": cfg.self_edit.k,
                                     "seeds": cfg.inner.seeds, "metric": cfg.quiz.metric},
               "per_passage": per_passage}
    write_json(run.dir / "rewards.json", results)
    return results


def format_reward_bench(results: dict) -> str:
    s = results["summary"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"{'passage':<14} {'rho acc':>8} {'rho self':>8} {'self Qs':>7} {'noise acc':>9} {'noise ll':>8} "
             f"{'noise self':>10}"]
    for p in results["per_passage"]:
        lines.append(f"{p['passage']:<14} {fmt(p['spearman']):>8} {fmt(p.get('spearman_self_quiz')):>8} "
                     f"{p.get('self_quiz_questions', '-'):>7} {fmt(p['noise_ratio_accuracy']):>9} "
                     f"{fmt(p['noise_ratio_loglik']):>8} {fmt(p.get('noise_ratio_self_quiz')):>10}")
    lines.append(f"{'mean':<14} {fmt(s['spearman']):>8} {fmt(s.get('spearman_self_quiz')):>8} {'':>7} "
                 f"{fmt(s['noise_ratio_accuracy']):>9} {fmt(s['noise_ratio_loglik']):>8} "
                 f"{fmt(s.get('noise_ratio_self_quiz')):>10}")
    for key, name in (("spearman", "accuracy"), ("spearman_self_quiz", "self-quiz")):
        lo, hi = s.get(f"{key}_ci95", [None, None])
        if lo is not None:
            lines.append(f"rho({name}, gold loglik): {s[key]:+.2f}, 95% t interval over passages "
                         f"[{lo:+.2f}, {hi:+.2f}]")
    lines.append(f"{s['passages']} passages x {s['self_edits']} self-edits x {s['seeds']} seeds; rho: Spearman over "
                 f"a passage's self-edits against the gold-answer log-likelihood reward; self Qs: self-written "
                 f"questions kept; noise = across-seed SD / between-self-edit SD (lower is better); accuracy metric "
                 f"{s['metric']}")
    return "\n".join(lines)
