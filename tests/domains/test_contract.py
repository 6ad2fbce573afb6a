"""One contract, both domains: a context gives a self-edit prompt, a (context, self-edit, seed) gives an `Outcome`
with a reward, and `evaluate_batch` gives what `evaluate` gives one at a time. Plus the reward objects: a new reward
is one class and its registration, and the domain scores with whichever it is given."""

import numpy as np
import pytest

from seal.config import LoraConfig, ModelConfig, load_config
from seal.domains.arc.config import ArcConfig, ArcTTTConfig
from seal.domains.arc.domain import ArcDomain
from seal.domains.arc.tasks import Example, Task
from seal.domains.base import Domain, Outcome
from seal.domains.knowledge.config import KnowledgeConfig
from seal.domains.knowledge.data import load_passages
from seal.domains.knowledge.domain import KnowledgeDomain
from seal.domains.knowledge.quiz import Grader
from seal.domains.knowledge.rewards import REWARDS, make_reward, register_reward
from seal.models import load

TASK = Task("const5", [Example(np.full(s, c), np.full((1, 1), 5)) for s, c in [((2, 3), 3), ((3, 3), 7), ((2, 2), 4)]],
            [Example(np.array([[1, 2], [0, 1]]), np.full((1, 1), 5))])
EDIT = '{"data_generation": {"use_basic_augmentations": false, "use_size_augmentations": false, ' \
       '"use_chain_augmentations": false, "use_repeat_augmentations": false}, ' \
       '"training": {"strategy": "output_only", "learning_rate": 0.001, "num_train_epochs": 1}}'


def knowledge(multi: int = 1, reward: str = "accuracy") -> KnowledgeDomain:
    cfg = load_config(KnowledgeConfig, None, ["model.name=tiny-llama", "inner.epochs=2", "inner.lora.r=4",
                                              "quiz.max_new_tokens=4", f"inner.multi={multi}", f"reward.kind={reward}"])
    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")  # a private copy: the adapter wraps it
    return KnowledgeDomain(model, tokenizer, cfg, Grader("em"), source="tiny-llama")


def arc() -> ArcDomain:
    cfg = ArcConfig(model=ModelConfig(name="tiny-llama", dtype="fp32", device="cpu"),
                    ttt=ArcTTTConfig(lora=LoraConfig(r=4, alpha=8), batch_size=1))
    model, tokenizer = load("tiny-llama", dtype="fp32", device="cpu")
    return ArcDomain(model, tokenizer, cfg)


CASES = {
    "knowledge": (knowledge, lambda: load_passages("builtin")[0], ["Kelvarra has nine islands.", "Its capital is X."]),
    "arc": (arc, lambda: TASK, [EDIT, "not json"]),
}


def same(a: Outcome, b: Outcome) -> bool:
    return (a.reward, a.score, a.base_score, a.n_questions) == (b.reward, b.score, b.base_score, b.n_questions) and \
        a.details.get("predictions") == b.details.get("predictions")


@pytest.mark.parametrize("name", CASES)
def test_prompt_then_evaluate_gives_an_outcome_and_batches_agree(name):
    make, context, edits = CASES[name]
    domain: Domain = make()
    c = context()
    assert isinstance(domain.self_edit_prompt(c), str) and domain.self_edit_prompt(c)
    assert domain.context_id(c) and domain.context_payload(c)
    sequential = [domain.evaluate(c, e, seed) for seed, e in enumerate(edits)]
    assert all(isinstance(o, Outcome) and o.n_questions > 0 for o in sequential)
    assert all(o.reward is None or isinstance(o.reward, float) for o in sequential)
    batched = domain.evaluate_batch([(c, e, seed) for seed, e in enumerate(edits)])
    assert all(same(a, b) for a, b in zip(sequential, batched)) and len(batched) == len(edits)


def test_knowledge_multi_adapter_batch_equals_the_fast_path_one_at_a_time():
    make, context, edits = CASES["knowledge"]
    c = context()
    fast = [knowledge(multi=1).evaluate(c, e, seed) for seed, e in enumerate(edits)]
    multi = knowledge(multi=2)
    assert multi.batch_size == 2
    batched = multi.evaluate_batch([(c, e, seed) for seed, e in enumerate(edits)])
    for a, b in zip(fast, batched):
        assert a.details["predictions"] == b.details["predictions"]
        assert a.reward == pytest.approx(b.reward, abs=1e-6)
        assert a.details["logliks"] == pytest.approx(b.details["logliks"], abs=1e-4)


def test_a_new_reward_is_one_function_and_its_registration():
    def share(quiz):
        return sum(1 for p in quiz.predictions if p.strip()) / len(quiz.predictions)

    @register_reward("test-non-empty")
    def non_empty(adapted, base):
        """Gain in the share of answers that are not empty (a toy)."""
        return share(adapted) - share(base)

    try:
        domain = knowledge(reward="test-non-empty")  # reward.kind accepts it: the registry is the list of names
        passage = load_passages("builtin")[0]
        out = domain.evaluate(passage, "Kelvarra has nine islands.", 0)
        mine = sum(1 for p in out.details["predictions"] if p.strip()) / len(passage.questions)
        base = domain.base_result(passage)
        assert out.reward == mine - share(base)
        graded = [v for v in out.details["scores"] if v is not None]  # a row's score: the adapted quiz's accuracy
        assert out.score == (pytest.approx(sum(graded) / len(graded)) if graded else None)
        assert domain.spec().args["reward"] == "test-non-empty"  # a Ray worker rebuilds the domain with it
    finally:
        del REWARDS["test-non-empty"]


def test_an_unknown_reward_names_the_key_and_the_known_ones():
    from seal.errors import ConfigError

    with pytest.raises(ConfigError, match=r"reward.kind: unknown reward 'bogus' \(known: accuracy, judge, loglik"):
        load_config(KnowledgeConfig, None, ["reward.kind=bogus"])
    with pytest.raises(ValueError, match="registered twice"):
        register_reward("accuracy")(lambda adapted, base: 0.0)


def test_the_same_domain_scores_with_the_reward_it_is_given():
    domain = knowledge(reward="accuracy")
    passage = load_passages("builtin")[0]
    by_loglik = domain.rewarded_by(make_reward("loglik"))
    acc, ll = domain.evaluate(passage, "A fact.", 0), by_loglik.evaluate(passage, "A fact.", 0)
    assert acc.score == sum(acc.details["scores"]) / len(acc.details["scores"])  # accuracy (em)
    assert ll.score == pytest.approx(sum(ll.details["logliks"]) / len(ll.details["logliks"]))
    assert ll.details["predictions"] == [""] * len(passage.questions)  # no answers generated for loglik
    assert acc.details["logliks"] == pytest.approx(ll.details["logliks"], abs=1e-5)  # same training, same knowledge
    assert domain.reward.name == "accuracy" and by_loglik.adapter is domain.adapter
