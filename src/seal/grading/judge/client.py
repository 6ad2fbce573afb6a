"""The OpenAI-compatible HTTP client (`OpenAIJudge`): requests to `{base_url}/chat/completions` with the stdlib,
the API key read from the environment at request time, retries with backoff or Retry-After, and one deadline per
batch."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPException

from seal.errors import JudgeError
from seal.grading.judge.base import Judge, JudgeResult
from seal.grading.judge.prompt import build_messages
from seal.grading.judge.reply import parse_verdict, reply_text


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
