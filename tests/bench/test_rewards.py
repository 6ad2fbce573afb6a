"""`seal bench rewards` on the tiny model: three rewards scored in the same adapted state, ranked against the
gold-answer log-likelihood reward; the self-quiz column is checked by giving it the gold questions as its own."""

import json

import pytest

from seal.config import load_config, to_dict
from seal.domains.knowledge.config import KnowledgeEvalConfig
from seal.domains.knowledge.domain import KnowledgeDomain


def bench(tmp_path):
    from seal.bench.rewards import format_reward_bench, run_reward_bench
    from seal.store.runs import create_run

    cfg = load_config(KnowledgeEvalConfig, None, [
        "model.name=tiny-llama", "data.n=2", "self_edit.k=3", "self_edit.max_new_tokens=24", "inner.epochs=2",
        "inner.seeds=2", "inner.lora.r=4", "quiz.max_new_tokens=4", "quiz.metric=f1",
        "reward.self_quiz.max_new_tokens=16", "reward.self_quiz.k=1", f"run.root={tmp_path / 'runs'}"])
    run = create_run(cfg.run.root, "bench rewards", "t", to_dict(cfg), argv=[])
    results = run_reward_bench(run, cfg)
    assert json.loads((run.dir / "rewards.json").read_text()) == json.loads(json.dumps(results))
    return results, format_reward_bench(results)


def test_a_self_quiz_that_asks_the_gold_questions_ranks_exactly_as_the_gold_reward(tmp_path, monkeypatch):
    monkeypatch.setattr(KnowledgeDomain, "quiz_of", lambda self, passage: passage)  # its own = the gold ones
    results, table = bench(tmp_path)
    for p in results["per_passage"]:
        assert p["self_quiz_questions"] > 0
        flat = lambda rewards: [r for per_seed in rewards for r in per_seed]  # noqa: E731
        assert flat(p["self_quiz_rewards"]) == pytest.approx(flat(p["loglik_rewards"]), abs=1e-6)  # same gain
        assert p["spearman_self_quiz"] in (None, pytest.approx(1.0))
    assert "rho self" in table and "self Qs" in table


def test_a_passage_without_self_written_questions_has_no_self_quiz_column(tmp_path):
    results, table = bench(tmp_path)  # the tiny model's self-quiz keeps no question
    assert all(p["self_quiz_questions"] == 0 and p["self_quiz_rewards"] is None and p["spearman_self_quiz"] is None
               for p in results["per_passage"])
    assert results["summary"]["spearman_self_quiz"] is None
    assert len(results["per_passage"]) == 2 and all(len(p["loglik_rewards"]) == 3 for p in results["per_passage"])
