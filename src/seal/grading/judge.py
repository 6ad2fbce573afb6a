"""LLM judge: asks a model whether a predicted answer is correct, given the question and gold answer(s).

What: one yes/no rubric (`build_messages`, `parse_verdict`) behind one interface,
`Judge.grade(questions, predictions, references) -> JudgeResult`, with two backends:
- `OpenAIJudge` POSTs to any OpenAI-compatible `{base_url}/chat/completions` (stdlib `urllib`, temperature 0),
  retrying timeouts, connection errors, HTTP 429/5xx and unreadable replies with exponential backoff (or the
  server's Retry-After, when longer), all within one deadline per batch (a quiz);
- `LocalJudge` runs a Hugging Face causal LM greedily, in left-padded batches.
`CachedJudge` wraps either one with a content-hash cache, so a repeated item is asked once.

Two kinds of failure, kept apart:
- the endpoint fails (no answer in time, HTTP errors, a body that is not a chat completion, after the retries or
  past the deadline): `grade` raises `JudgeError` with the last failure; a grade would be a guess, and stopping keeps
  the finished work stored and lets `--resume` ask again;
- the judge answers without a readable verdict (see `parse_verdict`): that item scores None with its error; it is
  never counted as wrong, never cached, and callers count it.
Every result keeps the judge's raw reply text (`JudgeResult.replies`) so a wrong grade can be seen afterwards.

The API key is read only from the environment variable named by `api_key_env`, at request time. It is not
stored on the object, not shown in reprs, and scrubbed from every error message.

How to run:
    judge = make_judge(JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="my-model"))
    judge.check_reachable()  # fail fast at the start of a run (OpenAI backend only)
    result = judge.grade(["Capital of France?"], ["It is Paris."], [["Paris"]])
    result.scores  # [1.0]

Departures from the paper: SEAL grades knowledge-incorporation answers with a GPT-4.1 yes/no judge (paper
section 4.2). The rubric here is our own wording.
We add the local backend (no API needed), reasoning-model replies, retries with error reporting (a judge
failure is an error or None, not 0) and the cache.

Why the stdlib and not the `openai` package: measured on local fake servers (timeout 1 s, 2 retries) the package
takes as long to a clean error for a hung or HTTP 500 server, but hands an HTML body to the caller as a bare
`JSONDecodeError`, a body without `choices` as `choices=None`, and list or None `content` unchanged, so the reply
handling below would stay; it cannot bound a whole batch's retries by one deadline, it keeps the key on the client,
and it adds ~0.8 s of import and three packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from seal.config import COUNT, NON_NEGATIVE, Range, check_ranges, opt
from seal.errors import ConfigError, JudgeError

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


# ---------------------------------------------------------------- rubric (pure functions)


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


def cache_key(backend: str, model: str, question: str, prediction: str, references: Sequence[str]) -> str:
    """sha256 of the rubric version, backend, model, question, prediction and sorted references.

    Args:
        backend: Backend id ("openai" or "local").
        model: Judge model name.
        question: The question asked.
        prediction: The answer graded.
        references: The gold answer(s); their order does not matter.

    Returns:
        A hex digest.

    >>> cache_key("openai", "m", "q", "p", ["b", "a"]) == cache_key("openai", "m", "q", "p", ["a", "b"])
    True
    """
    payload = [RUBRIC_VERSION, backend, model, question, prediction, sorted(references)]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------- interface


@dataclass(frozen=True)
class JudgeResult:
    """Verdicts for a batch: `scores[i]` is 1.0, 0.0 or None (no readable verdict, described by `errors[i]`);
    `replies[i]` is the judge's raw reply text (None when it gave none; for a cached verdict, the reply it came
    from)."""

    scores: list[float | None]
    errors: list[str | None]
    replies: list[str | None]


class Judge(ABC):
    """A yes/no LLM judge. Subclasses implement `_grade`; `grade` checks the inputs."""

    backend_id: str = ""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Name of the judge model (part of the cache key)."""

    def grade(
        self, questions: Sequence[str], predictions: Sequence[str], references: Sequence[Sequence[str]]
    ) -> JudgeResult:
        """Grade a batch of predictions.

        Args:
            questions: One question per item.
            predictions: One answer per item.
            references: The gold answers of each item.

        Returns:
            One score, one error (None when the score is valid) and one raw reply per item.

        Raises:
            ValueError: If the three sequences differ in length.
            JudgeError: If the endpoint fails (OpenAI backend; see `OpenAIJudge.ask`).
        """
        if not len(questions) == len(predictions) == len(references):
            raise ValueError(
                f"{len(questions)} questions, {len(predictions)} predictions, {len(references)} references"
            )
        if not questions:
            return JudgeResult([], [], [])
        return self._grade(list(questions), list(predictions), [list(r) for r in references])

    @abstractmethod
    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        """Grade a non-empty batch of equal-length lists."""

    def as_grader(self, questions: Sequence[str]) -> Callable[[list[str], list[Sequence[str]]], list[float | None]]:
        """Bind the questions, giving a batch grader with the `(predictions, references)` signature.

        Args:
            questions: One question per item, in the order the grader will see the predictions.

        Returns:
            A function returning the judge's scores (None for judge errors).
        """
        return lambda predictions, references: self.grade(questions, predictions, references).scores


# ---------------------------------------------------------------- OpenAI-compatible backend


class _Retryable(Exception):
    """An endpoint failure worth another try: timeout, connection error, HTTP 429/5xx, a body that is not a chat
    completion. `retry_after_s`: the wait the server asked for (its Retry-After header, in seconds), if any."""

    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _retry_after_s(value: str | None) -> float:
    """Seconds from a Retry-After header given as a number; 0 when absent or an HTTP date (then backoff decides).

    >>> _retry_after_s("2.5"), _retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT"), _retry_after_s(None)
    (2.5, 0.0, 0.0)
    """
    try:
        return max(0.0, float(value or 0))
    except ValueError:
        return 0.0


class _Fatal(Exception):
    """An endpoint failure that another try will not fix: HTTP 4xx other than 429."""


@dataclass(frozen=True)
class _Asked:
    """What asking about one item came to; `endpoint_failed` says the error is the endpoint's, not the reply's."""

    score: float | None
    reply: str | None
    error: str | None
    endpoint_failed: bool = False


class OpenAIJudge(Judge):
    """Judge through an OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, llama.cpp, ...).

    Args:
        base_url: API root, such as "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1".
        model: Model name sent in each request.
        api_key_env: Environment variable holding the API key; unset means no Authorization header.
        timeout_s: Timeout of one HTTP request, in seconds (cut to what is left of the deadline).
        max_retries: Extra attempts per item after the first one fails.
        backoff_s: Wait before the first retry; it doubles at each further retry.
        max_workers: Items requested concurrently.
        max_tokens: Reply length limit; one word is enough, a reasoning judge needs room for its reasoning.
        deadline_s: The most seconds one `ask` (one quiz, or one self-edit's rating) may take, retries included.
    """

    backend_id = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        max_workers: int = 8,
        max_tokens: int = 8,
        deadline_s: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_workers = max_workers
        self.max_tokens = max_tokens
        self.deadline_s = deadline_s

    def __repr__(self) -> str:
        return (
            f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r}, "
            f"timeout_s={self.timeout_s}, max_retries={self.max_retries}, backoff_s={self.backoff_s}, "
            f"deadline_s={self.deadline_s})"
        )

    @property
    def model_id(self) -> str:
        return self.model

    # -- key handling: read at request time, never kept, scrubbed from messages

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _scrub(self, message: str) -> str:
        key = os.environ.get(self.api_key_env, "")
        return message.replace(key, "***") if key else message

    # -- requests

    def check_reachable(self) -> None:
        """Fail fast when the endpoint cannot be reached or rejects the API key.

        Sends GET `{base_url}/models`. Any HTTP answer other than 401/403 counts as reachable (some servers
        do not implement /models).

        Raises:
            JudgeError: If the connection fails or times out, or the server answers 401/403.
        """
        request = urllib.request.Request(f"{self.base_url}/models", headers=self._headers(), method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):
                return
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise JudgeError(
                    f"LLM judge at {self.base_url} rejected the API key from ${self.api_key_env} (HTTP {e.code})"
                ) from None
        except (urllib.error.URLError, OSError, HTTPException) as e:
            reason = getattr(e, "reason", e)
            raise JudgeError(self._scrub(f"cannot reach the LLM judge at {self.base_url}: {reason}")) from None

    def _complete(self, messages: list[dict[str, str]], timeout_s: float) -> tuple[str | None, str]:
        """POST one chat completion; return its text and finish reason (see `reply_text`), or raise `_Retryable` or
        `_Fatal`."""
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens}
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(body).encode(), headers=self._headers()
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            try:
                detail = e.read(200).decode("utf-8", "replace").strip()
            except (OSError, HTTPException):
                detail = ""
            if e.code == 429 or e.code >= 500:
                raise _Retryable(f"HTTP {e.code}: {detail}", _retry_after_s(e.headers.get("Retry-After"))) from None
            raise _Fatal(f"HTTP {e.code}: {detail}") from None
        except urllib.error.URLError as e:
            raise _Retryable(f"connection failed: {e.reason}") from None
        except (TimeoutError, OSError, HTTPException) as e:
            raise _Retryable(f"no reply: {type(e).__name__} after up to {timeout_s:.3g} s: {e}") from None
        shown = repr(raw[:200].decode("utf-8", "replace"))
        try:
            return reply_text(json.loads(raw))
        except json.JSONDecodeError:
            raise _Retryable(f"malformed reply (not JSON): {shown}") from None
        except (ValueError, RecursionError) as e:  # RecursionError: JSON nested past json's recursion limit
            raise _Retryable(f"malformed reply ({e}): {shown}") from None

    def _ask(self, messages: list[dict[str, str]], parse: Callable[[str | None], float | None], expected: str,
             deadline: float, stop: threading.Event) -> _Asked:
        """Ask about one item, retrying with exponential backoff (or the server's Retry-After, when longer) until a
        readable reply, a fatal error, the last try, the deadline (`time.monotonic()`), or `stop` (another item's
        endpoint failure)."""
        start, last, reply, endpoint_failed = time.monotonic(), "", None, False
        tries, asked_wait = 0, 0.0
        for attempt in range(self.max_retries + 1):
            wait = max(self.backoff_s * 2 ** (attempt - 1), asked_wait) if attempt else 0.0
            if stop.wait(min(wait, max(0.0, deadline - time.monotonic()))):
                return _Asked(None, reply, "not asked: another item failed first")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last, endpoint_failed = f"the {self.deadline_s:g} s deadline passed; before it: {last}", True
                break
            tries += 1
            try:
                reply, reason = self._complete(messages, min(self.timeout_s, remaining))
            except _Fatal as e:
                return _Asked(None, None, self._scrub(f"LLM judge at {self.base_url}: {e}"), True)
            except _Retryable as e:
                last, endpoint_failed, asked_wait = str(e), True, e.retry_after_s
                continue
            verdict = parse(reply)
            if verdict is not None:
                return _Asked(verdict, reply, None)
            endpoint_failed, asked_wait = False, 0.0
            hint = "; a reasoning judge needs a larger max_tokens" if reason == "length" else ""
            last = (f"reply is not {expected}: {reply[:200]!r}" if reply is not None else
                    f"reply has no text (finish_reason {reason or 'not given'}{hint})")
        elapsed = time.monotonic() - start
        return _Asked(None, reply, self._scrub(
            f"LLM judge at {self.base_url} failed {tries} time(s) in {elapsed:.1f} s; last: {last}"), endpoint_failed)

    def ask(self, all_messages: list[list[dict[str, str]]], parse: Callable[[str | None], float | None],
            expected: str) -> JudgeResult:
        """Send each conversation (concurrently) and read each reply with `parse` (None = unreadable, retried).

        All of it shares one deadline, `deadline_s` from now: a judge that hangs costs `deadline_s` per call at most,
        whatever the retries and the number of items; once one item fails on the endpoint the others stop.

        Args:
            all_messages: One conversation per item.
            parse: Reads a score from a reply's text (None: unreadable).
            expected: What a readable reply holds, for error messages ("yes or no").

        Returns:
            One score, error and raw reply per item; an item whose replies stayed unreadable scores None.

        Raises:
            JudgeError: If the endpoint failed on an item (HTTP 4xx at once; timeouts, connection errors, HTTP
                429/5xx or bodies that are not chat completions after the retries; or the deadline passed), naming
                the item and the last failure.
        """
        deadline, stop = time.monotonic() + self.deadline_s, threading.Event()

        def one(messages: list[dict[str, str]]) -> _Asked:
            asked = self._ask(messages, parse, expected, deadline, stop)
            if asked.endpoint_failed:
                stop.set()
            return asked

        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(all_messages)))) as pool:
            outcomes = list(pool.map(one, all_messages))
        failed = [i for i, o in enumerate(outcomes) if o.endpoint_failed]
        if failed:
            raise JudgeError(f"{outcomes[failed[0]].error} (item {failed[0] + 1} of {len(outcomes)})")
        return JudgeResult([o.score for o in outcomes], [o.error for o in outcomes], [o.reply for o in outcomes])

    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        all_messages = [build_messages(q, p, r) for q, p, r in zip(questions, predictions, references)]
        return self.ask(all_messages, parse_verdict, "yes or no")


# ---------------------------------------------------------------- local Hugging Face backend


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


# ---------------------------------------------------------------- cache


class CachedJudge(Judge):
    """Wrap a judge with a content-hash cache (see `cache_key`). Only valid verdicts are cached, with their reply.

    Args:
        inner: The judge asked on cache misses.
        cache: Any mapping from key to (score, raw reply) (a dict, or a persistent store); None makes a new dict.
    """

    def __init__(self, inner: Judge, cache: MutableMapping[str, tuple[float, str | None]] | None = None) -> None:
        self.inner = inner
        self.cache: MutableMapping[str, tuple[float, str | None]] = {} if cache is None else cache
        self.backend_id = inner.backend_id

    def __repr__(self) -> str:
        return f"CachedJudge({self.inner!r}, {len(self.cache)} cached)"

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def check_reachable(self) -> None:
        """Call the inner judge's `check_reachable`, if it has one.

        Raises:
            JudgeError: As the inner judge does.
        """
        check = getattr(self.inner, "check_reachable", None)
        if check is not None:
            check()

    def _grade(self, questions: list[str], predictions: list[str], references: list[list[str]]) -> JudgeResult:
        keys = [
            cache_key(self.backend_id, self.model_id, q, p, r) for q, p, r in zip(questions, predictions, references)
        ]
        known = {k: self.cache[k] for k in keys if k in self.cache}
        # Ask each missing key once, even if it repeats within the batch.
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in known and k not in first:
                first[k] = i
        fresh: dict[str, tuple[float | None, str | None, str | None]] = {}  # key -> (score, reply, error)
        if first:
            idx = list(first.values())
            result = self.inner.grade(
                [questions[i] for i in idx], [predictions[i] for i in idx], [references[i] for i in idx]
            )
            for i, s, e, r in zip(idx, result.scores, result.errors, result.replies):
                fresh[keys[i]] = (s, r, e)
                if s is not None:
                    self.cache[keys[i]] = (s, r)
        found = [(*known[k], None) if k in known else fresh[k] for k in keys]
        return JudgeResult([f[0] for f in found], [f[2] for f in found], [f[1] for f in found])


# ---------------------------------------------------------------- config and factory


# A wait in seconds: past about 9.2e9 s (int64 nanoseconds) a socket timeout or a thread's wait overflows
SECONDS = Range(0, 10 ** 9, lo_open=True)


@dataclass(frozen=True)
class JudgeConfig:
    """Settings of the LLM judge."""

    backend: str = opt("openai", "'openai' (any OpenAI-compatible endpoint) or 'local' (a Hugging Face model).")
    base_url: str = opt("", "API root for the openai backend, e.g. https://api.openai.com/v1 or "
                            "http://127.0.0.1:8000/v1.")
    model: str = opt("gpt-4.1", "Judge model name for the openai backend (the paper's judge is GPT-4.1; mini is "
                                "cheaper).", nonempty=True)
    api_key_env: str = opt("OPENAI_API_KEY", "Environment variable holding the API key; unset sends no key (local "
                                             "servers).")
    timeout_s: float = opt(30.0, "Timeout of one request, in seconds (cut to what is left of deadline_s).", SECONDS)
    max_retries: int = opt(3, "Retries per item after timeouts, HTTP 429/5xx or unparseable replies.", NON_NEGATIVE)
    backoff_s: float = opt(1.0, "Wait before the first retry, in seconds; doubles at each retry.", Range(0, SECONDS.hi))
    max_workers: int = opt(8, "Items requested concurrently (openai backend).", COUNT)
    max_tokens: int = opt(8, "Reply length limit (openai backend); one word is enough, a reasoning judge needs more.",
                          COUNT)
    deadline_s: float = opt(120.0, "Most seconds one quiz's verdicts (or one self-edit's rating) may take, retries "
                                   "included; past it the command stops with an error.", SECONDS)

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "local"):
            raise ConfigError(f"judge backend must be 'openai' or 'local', got {self.backend!r}")
        check_ranges(self, "judge.")
        if self.base_url:
            from seal.store.runs import redact_text  # a key pasted into the URL stays off the terminal

            if not _is_http_url(self.base_url):
                raise ConfigError(f"base_url: expected an http(s) URL such as https://api.openai.com/v1, "
                                  f"got {redact_text(self.base_url)!r}")
            parts = urllib.parse.urlsplit(self.base_url)
            if parts.username is not None or parts.password is not None:  # urllib would look up "user:pw@host"
                raise ConfigError(f"base_url: credentials in the URL (user:password@) are not supported; put the "
                                  f"key in the environment variable that api_key_env names (${self.api_key_env}), "
                                  f"got {redact_text(self.base_url)!r}")
            if parts.query or parts.fragment:  # /chat/completions is appended to the URL: it would follow them
                raise ConfigError(f"base_url: a query (?...) or fragment (#...) is not supported (the judge appends "
                                  f"/chat/completions to the URL), got {redact_text(self.base_url)!r}")


def _is_http_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host, and a port in 0-65535 if it names one."""
    try:
        parts = urllib.parse.urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # reading a port that is not a number in 0-65535, or a malformed IPv6 host
        return False


def make_judge(
    cfg: JudgeConfig,
    local_model: Any = None,
    local_tokenizer: Any = None,
    cache: MutableMapping[str, tuple[float, str | None]] | None = None,
) -> CachedJudge:
    """Build the cached judge that `cfg` describes. It does not contact the endpoint; call `check_reachable`.

    Args:
        cfg: Judge settings.
        local_model: The causal LM, for `backend="local"`.
        local_tokenizer: Its tokenizer, for `backend="local"`.
        cache: Verdict cache to share or persist; None makes a new dict.

    Returns:
        A `CachedJudge` around an `OpenAIJudge` or a `LocalJudge`.

    Raises:
        ConfigError: If the openai backend has no base_url, or the local backend no model or tokenizer.
    """
    return CachedJudge(make_backend(cfg, local_model, local_tokenizer), cache)


def make_backend(cfg: JudgeConfig, local_model: Any = None, local_tokenizer: Any = None) -> OpenAIJudge | LocalJudge:
    """The uncached judge backend that `cfg` describes (see `make_judge`)."""
    if cfg.backend == "local":
        if local_model is None or local_tokenizer is None:
            raise ConfigError("judge backend 'local' needs a loaded model and tokenizer")
        return LocalJudge(local_model, local_tokenizer)
    if not cfg.base_url:
        raise ConfigError("judge base_url is empty; set it, e.g. to https://api.openai.com/v1")
    return OpenAIJudge(cfg.base_url, cfg.model, cfg.api_key_env, cfg.timeout_s, cfg.max_retries, cfg.backoff_s,
                       cfg.max_workers, cfg.max_tokens, cfg.deadline_s)
