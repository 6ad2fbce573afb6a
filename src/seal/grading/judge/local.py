"""The local judge (`LocalJudge`): a Hugging Face causal LM answering greedily, in left-padded batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from seal.grading.judge.base import Judge, JudgeResult
from seal.grading.judge.prompt import build_messages, render_prompt
from seal.grading.judge.reply import parse_verdict


class LocalJudge(Judge):
    """Judge with a Hugging Face causal LM, greedy, in left-padded batches.

    Args:
        model: A `transformers` causal LM (already on its device).
        tokenizer: Its tokenizer. If it has no pad token, its eos token is used for padding.
        batch_size: Prompts generated together.
        max_new_tokens: Reply length limit; one word is enough.
        model_id: Name used in the cache key; defaults to the model's `name_or_path`.
    """

    backend_id = "local"

    def __init__(
        self, model: Any, tokenizer: Any, batch_size: int = 8, max_new_tokens: int = 4, model_id: str | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self._model_id = model_id if model_id is not None else str(getattr(model, "name_or_path", "") or "")

    def __repr__(self) -> str:
        return f"LocalJudge(model_id={self._model_id!r}, batch_size={self.batch_size})"

    @property
    def model_id(self) -> str:
        return self._model_id

    def encoded_batches(self, all_messages: list[list[dict[str, str]]]) -> Iterator[Any]:
        """The conversations rendered (see `render_prompt`) and tokenized in left-padded batches of `batch_size`, on
        the model's device: left padding keeps each prompt's end at the last column."""
        tok = self.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token  # needed to pad; same choice as generate() makes by default
        rendered = [render_prompt(messages, tok) for messages in all_messages]
        templated = rendered[0][1]
        for start in range(0, len(rendered), self.batch_size):
            prompts = [text for text, _ in rendered[start : start + self.batch_size]]
            enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=not templated)
            yield enc.to(self.model.device)

    def _generate(self, enc: Any) -> list[str]:
        """Greedy replies to one encoded batch, from these settings alone (`own_settings`: not the sampling or
        penalty settings of the judge model's generation config; its stop ids are kept)."""
        import torch

        from seal.models.generate import own_settings

        with torch.inference_mode(), own_settings(self.model):
            out = self.model.generate(
                **enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=self.tokenizer.pad_token_id
            )  # (batch, prompt_len + new)
        return self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)

    def ask(self, all_messages: list[list[dict[str, str]]], parse: Callable[[str | None], float | None],
            expected: str) -> JudgeResult:
        """Answer each conversation greedily, in batches, and read each reply with `parse` (None = unreadable)."""
        replies = [reply for enc in self.encoded_batches(all_messages) for reply in self._generate(enc)]
        scores = [parse(r) for r in replies]
        errors = [
            None if s is not None else f"local judge reply is not {expected}: {r[:200]!r}"
            for s, r in zip(scores, replies)
        ]
        return JudgeResult(scores, errors, list(replies))

    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        items = zip(questions, predictions, references)
        return self.ask([build_messages(q, p, r) for q, p, r in items], parse_verdict, "yes or no")
