"""A toy domain for `seal` in one folder: a fact is the context, the self-edit a paraphrase of it, the quiz one
question whose gold answer's log-likelihood is the score (reward = adapted - unadapted).

    seal data show examples/facts/facts.json --domain examples/facts
    seal config show examples/facts eval
    seal eval examples/facts --set model.name=smollm2-135m-instruct --set data.n=4
    seal train examples/facts --set outer.rounds=1
    seal report runs/<dir>

Everything domain-specific is here; the commands, the condition runner, ReST-EM, the executors, the store and the
report are seal's. The plugin says what a context is, which conditions the table has (by kind), how to build the
inner loop (`domain.py`), and keeps the generic table, curve and report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from seal.config import (ConditionsConfig, ExecutorConfig, InnerConfig, ModelConfig, OuterConfig, RunConfig,
                         SamplingConfig, opt)
from seal.domains.plugin import Condition, DomainPlugin
from seal.errors import DataError

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Fact:
    id: str
    fact: str
    question: str
    answer: str

    def to_dict(self) -> dict:
        return {"id": self.id, "fact": self.fact, "question": self.question, "answer": self.answer}


@dataclass(frozen=True)
class FactsData:
    source: str = opt(str(HERE / "facts.json"), "a JSON list of {id, fact, question, answer}")
    n: int = opt(0, "facts to use (0 = all)")


@dataclass(frozen=True)
class FactsEvalConfig:
    run: RunConfig = opt(RunConfig(), "run directory and seed")
    model: ModelConfig = opt(ModelConfig(), "the model that paraphrases and is adapted")
    data: FactsData = opt(FactsData(), "facts")
    self_edit: SamplingConfig = opt(SamplingConfig(k=2, max_new_tokens=48), "paraphrase sampling")
    inner: InnerConfig = opt(InnerConfig(seeds=1, epochs=3, learning_rate=1e-3), "inner loop")
    eval: ConditionsConfig = opt(ConditionsConfig(conditions=("base", "fact", "paraphrase")),
                                 "base, fact, paraphrase, checkpoint")
    executor: ExecutorConfig = opt(ExecutorConfig(), "where inner loops run")


@dataclass(frozen=True)
class FactsTrainConfig(FactsEvalConfig):
    outer: OuterConfig = opt(OuterConfig(rounds=1, contexts_per_round=4, eval_contexts=2, k=2), "ReST-EM")


class FactsPlugin(DomainPlugin):
    name = "facts"
    help = "A toy domain: paraphrase a fact, then answer a question about it."
    commands = {"eval": FactsEvalConfig, "train": FactsTrainConfig}

    def contexts(self, cfg) -> list[Fact]:
        try:
            facts = [Fact(**item) for item in json.loads(Path(cfg.data.source).read_text())]
        except (OSError, ValueError, TypeError) as e:
            raise DataError(f"{cfg.data.source}: not a JSON list of {{id, fact, question, answer}} ({e})") from None
        return facts[:cfg.data.n] if cfg.data.n else facts

    def conditions(self, cfg) -> dict[str, Condition]:
        return {c.name: c for c in (Condition("base", "none"), Condition("fact", "context"),
                                    Condition("paraphrase", "own"), Condition("checkpoint", "checkpoint"))}

    def build(self, cfg, source, run=None, contexts=(), training=False):
        from seal.models import load_model

        from .domain import FactsDomain

        model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
        return FactsDomain(model, tokenizer, cfg, source)
