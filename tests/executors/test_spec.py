"""Rebuilding a domain from its picklable spec (what each Ray worker does), and the one-line error without Ray."""

import pickle

import pytest

from seal.errors import SealError


@pytest.fixture(scope="module")
def cfg():
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeConfig

    return load_config(KnowledgeConfig, None, ["model.name=tiny-llama", "inner.epochs=1", "inner.lora.r=4",
                                               "quiz.max_new_tokens=4"])


def test_spec_rebuilds_an_equivalent_domain(cfg):
    from seal.domains.base import build_domain
    from seal.domains.knowledge.data import load_passages
    from seal.domains.knowledge.domain import from_spec

    domain = from_spec(cfg, "tiny-llama")
    spec = pickle.loads(pickle.dumps(domain.spec()))
    twin = build_domain(spec)
    assert twin is not domain and twin.source == "tiny-llama" and twin.cfg == cfg
    passage = load_passages("builtin")[0]
    a, b = domain.evaluate(passage, "A fact.", 0), twin.evaluate(passage, "A fact.", 0)
    assert (a.score, a.details["predictions"]) == (b.score, b.details["predictions"])


def test_spec_needs_the_model_source(cfg):
    from seal.domains.knowledge.domain import KnowledgeDomain
    from seal.domains.knowledge.quiz import Grader
    from seal.models import load

    model, tokenizer = load("tiny-llama")  # a fresh copy: the domain attaches its LoRA in place
    with pytest.raises(SealError, match="without `source`"):
        KnowledgeDomain(model, tokenizer, cfg, Grader("em")).spec()


def test_ray_executor_without_ray_is_one_line(cfg, monkeypatch):
    import seal.executors.ray as ray_executor
    from seal.executors import make_executor

    monkeypatch.setattr(ray_executor, "is_ray_available", lambda: False)
    ray_cfg = cfg.executor.__class__(kind="ray")
    with pytest.raises(SealError, match="pip install ray") as info:
        make_executor(ray_cfg, object())
    assert "\n" not in str(info.value)
