"""LLM judge: asks a model whether a predicted answer is correct, given the question and gold answer(s).

What: one yes/no rubric (`build_messages`, `parse_verdict`) behind one interface,
`Judge.grade(questions, predictions, references) -> JudgeResult`, with two backends:
- `OpenAIJudge` POSTs to any OpenAI-compatible `{base_url}/chat/completions` (stdlib `urllib`, temperature 0),
  retrying timeouts, connection errors, HTTP 429/5xx and unreadable replies with exponential backoff (or the
  server's Retry-After, when longer), all within one deadline per batch (a quiz);
- `LocalJudge` runs a Hugging Face causal LM greedily, in left-padded batches.
`CachedJudge` wraps either one with a content-hash cache, so a repeated item is asked once.

Modules, one job each: `base` (the `Judge` interface, `JudgeResult`), `prompt` (the rubric's messages and their
rendering), `reply` (reading a reply and its verdict), `client` (`OpenAIJudge`: HTTP, retries, the deadline),
`local` (`LocalJudge`), `cache` (`cache_key`, `CachedJudge`), `config` (`JudgeConfig`, `make_judge`,
`make_backend`). Each module imports only those listed before it.

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
handling in `reply` would stay; it cannot bound a whole batch's retries by one deadline, it keeps the key on the client,
and it adds ~0.8 s of import and three packages.
"""

from seal.grading.judge.base import Judge, JudgeResult
from seal.grading.judge.cache import CachedJudge, cache_key
from seal.grading.judge.client import OpenAIJudge
from seal.grading.judge.config import SECONDS, JudgeConfig, make_backend, make_judge
from seal.grading.judge.local import LocalJudge
from seal.grading.judge.prompt import (
    RUBRIC_VERSION,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    build_messages,
    merge_system,
    plain_prompt,
    render_prompt,
)
from seal.grading.judge.reply import parse_verdict, reply_text, strip_reasoning

__all__ = [
    "RUBRIC_VERSION",
    "SECONDS",
    "SYSTEM_PROMPT",
    "USER_TEMPLATE",
    "CachedJudge",
    "Judge",
    "JudgeConfig",
    "JudgeResult",
    "LocalJudge",
    "OpenAIJudge",
    "build_messages",
    "cache_key",
    "make_backend",
    "make_judge",
    "merge_system",
    "parse_verdict",
    "plain_prompt",
    "render_prompt",
    "reply_text",
    "strip_reasoning",
]
