"""Prompting: the yes/no rubric as chat messages (`build_messages`), and their rendering for a model without a
system role (`merge_system`) or without a chat template (`plain_prompt`, `render_prompt`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Bump when the rubric changes, so cached verdicts from an older rubric are not reused.
RUBRIC_VERSION = "seal-judge-v1"

SYSTEM_PROMPT = (
    "You check answers to reading-comprehension questions. You are shown a question, one or more "
    "reference answers and a candidate answer, and you decide whether the candidate is correct."
)

USER_TEMPLATE = """Question: {question}
Reference answer(s): {references}
Candidate answer: {prediction}

The candidate is correct if it gives the same answer as one of the references, in any wording, and \
nothing it states contradicts them. Extra correct detail is fine. A candidate that is vague, hedges between \
several answers, or does not answer the question is not correct.

Is the candidate correct? Reply with a single word: yes or no."""


def build_messages(question: str, prediction: str, references: Sequence[str]) -> list[dict[str, str]]:
    """Build the chat messages that ask the judge about one item.

    Args:
        question: The question asked.
        prediction: The answer to grade.
        references: The gold answer(s).

    Returns:
        A system and a user message, in OpenAI chat format.

    >>> [m["role"] for m in build_messages("Capital of France?", "Paris", ["Paris"])]
    ['system', 'user']
    """
    user = USER_TEMPLATE.format(
        question=question.strip(),
        references=" | ".join(r.strip() for r in references),
        prediction=prediction.strip(),
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """Render chat messages as plain text, for tokenizers without a chat template.

    Args:
        messages: Chat messages (see `build_messages`).

    Returns:
        The message contents separated by blank lines, ending with "Answer:".

    >>> plain_prompt([{"role": "user", "content": "Is it? Reply yes or no."}])
    'Is it? Reply yes or no.\\n\\nAnswer:'
    """
    return "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"


def merge_system(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Fold the system message into the first user message, for chat templates that reject a system role.

    Args:
        messages: Chat messages (see `build_messages`).

    Returns:
        The messages without a system role.

    >>> merge_system([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    [{'role': 'user', 'content': 'S\\n\\nU'}]
    """
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = "\n\n".join(system + [rest[0]["content"]])
    return rest


def render_prompt(messages: list[dict[str, str]], tokenizer: Any) -> tuple[str, bool]:
    """Render messages with the tokenizer's chat template if it has one, else as plain text.

    Args:
        messages: Chat messages (see `build_messages`).
        tokenizer: A Hugging Face tokenizer.

    Returns:
        The prompt text, and whether a chat template produced it (then it already holds special tokens).
    """
    if not getattr(tokenizer, "chat_template", None):
        return plain_prompt(messages), False
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # some templates (e.g. Gemma's) reject a system role
        text = tokenizer.apply_chat_template(merge_system(messages), tokenize=False, add_generation_prompt=True)
    return text, True
