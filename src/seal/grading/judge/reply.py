"""Reading replies: the answer text of a chat-completion body (`reply_text`), without its reasoning blocks
(`strip_reasoning`), and the yes/no verdict in it (`parse_verdict`)."""

from __future__ import annotations

import json
import re
import string
from typing import Any

# Reasoning models wrap their reasoning in one of these tags before the answer (DeepSeek-R1, Qwen3: <think>).
_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.IGNORECASE | re.DOTALL)
_REASONING_TAG = re.compile(r"</?(?:think|thinking|reasoning)>", re.IGNORECASE)


def strip_reasoning(reply: str) -> str | None:
    """The reply without its reasoning blocks (`<think>...</think>`, also `thinking` and `reasoning` tags).

    A closing tag with no opening one (chat templates that open the block in the prompt) drops everything up to it.

    Args:
        reply: A judge's reply text.

    Returns:
        The text outside reasoning blocks, stripped of surrounding space, or None when a block is never closed
        (the reply was cut off while reasoning, so it holds no answer).

    >>> strip_reasoning("<think>Paris is right, not Lyon.</think> yes"), strip_reasoning("so yes</think>No")
    ('yes', 'No')
    >>> strip_reasoning("<think>The candidate says") is None
    True
    """
    text = _REASONING.sub(" ", reply)
    tags = list(_REASONING_TAG.finditer(text))
    if tags and tags[-1].group().startswith("</"):
        return text[tags[-1].end():].strip()
    return None if tags else text.strip()


def reply_text(body: Any) -> tuple[str | None, str]:
    """The answer text of an OpenAI chat-completion body, and its `finish_reason`.

    `message.content` may be a string, None (no text: a reasoning model that spent `max_tokens` on reasoning, or a
    refusal) or a list of parts (Mistral's and others' reasoning models): the `text` parts are joined in order and
    `thinking`/`reasoning` parts dropped.

    Args:
        body: The decoded JSON body.

    Returns:
        (text or None, finish reason or "").

    Raises:
        ValueError: If the body is not a chat completion (no `choices[0].message`, or content of another type).

    >>> reply_text({"choices": [{"message": {"content": [{"type": "thinking", "thinking": "hm"},
    ...                                                   {"type": "text", "text": "yes"}]}}]})
    ('yes', '')
    """
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("no choices[0].message.content") from None
    reason = str(choice.get("finish_reason") or "")
    if content is None or isinstance(content, str):
        return content, reason
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        texts = [part.get("text") for part in content if part.get("type") in ("text", "output_text")]
        if all(isinstance(t, str) for t in texts):
            return ("".join(texts) if texts else None), reason
    raise ValueError(f"message.content is neither text nor a list of parts: {json.dumps(content)[:100]}")


_VERDICTS = {"yes": 1.0, "no": 0.0}


def parse_verdict(reply: str | None) -> float | None:
    """Read a yes/no verdict from a judge's reply.

    Rule, after removing reasoning blocks (`strip_reasoning`) and the punctuation and markdown around each word, with
    case ignored: the verdict is the first word if it is yes or no ("No, it names another city"); otherwise the last
    word if it is yes or no and not preceded by "or" (a verdict after reasoning: "..., so: **yes**"). A reply whose
    first and last words are contradicting verdicts is unreadable, and so is one with neither.

    Args:
        reply: The judge's reply text (None when an API returned no content).

    Returns:
        1.0 for yes, 0.0 for no, None when the reply holds no readable verdict.

    >>> [parse_verdict(r) for r in ["Yes.", " **no**, because", "<think>same town</think> yes", "It matches: yes"]]
    [1.0, 0.0, 1.0, 1.0]
    >>> [parse_verdict(r) for r in ["Maybe", "I cannot say yes or no", "No. On reflection, yes", "", None]]
    [None, None, None, None, None]
    """
    text = strip_reasoning(reply or "")
    words = [w.strip(string.punctuation).lower() for w in (text or "").split()]
    words = [w for w in words if w]
    if not words:
        return None
    first, last = _VERDICTS.get(words[0]), _VERDICTS.get(words[-1])
    if len(words) > 1 and words[-2] == "or":
        last = None
    if first is not None and last is not None and first != last:
        return None
    return first if first is not None else last
