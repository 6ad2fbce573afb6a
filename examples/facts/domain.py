"""The facts domain's inner loop: train a LoRA on the fact and its paraphrase, then score the gold answer."""

from __future__ import annotations

from seal.domains.base import Outcome
from seal.inner import make_adapter
from seal.models.generate import base_writer
from seal.models.score import continuation_loglik
from seal.models.tokens import chat_prompt, encode


class FactsDomain:
    name = "facts"
    batch_size = 1

    def __init__(self, model, tokenizer, cfg, source):
        self.cfg, self.source, self.tokenizer = cfg, source, tokenizer
        self.adapter = make_adapter(model, tokenizer, cfg.inner)

    def context_id(self, fact):
        return fact.id

    def context_payload(self, fact):
        return fact.to_dict()

    def self_edit_prompt(self, fact):
        return chat_prompt(self.tokenizer, f"Say this fact again in other words, in one sentence:\n{fact.fact}")

    def writer(self):
        return base_writer(self.adapter, self.tokenizer, self.cfg.self_edit.batch_size)

    def release(self):
        return self.adapter.release()

    def score(self, model, fact) -> float:
        """The gold answer's mean log-likelihood (nats per token) after the question."""
        return continuation_loglik(model, encode(self.tokenizer, f"Question: {fact.question}\nAnswer:"),
                                   self.tokenizer(f" {fact.answer}", add_special_tokens=False)["input_ids"])

    def untrained(self, fact) -> Outcome:
        with self.adapter.base() as model:
            score = self.score(model, fact)
        return Outcome(None, score, score, 1)

    def evaluate(self, fact, self_edit, seed) -> Outcome:
        base = self.untrained(fact).score
        docs = [fact.fact] + ([self_edit.strip()] if self_edit and self_edit.strip() else [])
        with self.adapter.trained(docs, seed) as stats:
            score = self.score(self.adapter.model, fact)
        return Outcome(score - base, score, base, 1, {"documents": len(docs), "steps": stats.steps},
                       {"train_s": stats.seconds})

    def evaluate_batch(self, items):
        return [self.evaluate(*item) for item in items]
