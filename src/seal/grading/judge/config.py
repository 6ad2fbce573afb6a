"""The judge's settings (`JudgeConfig`, checked when built) and the factories that build a judge from them
(`make_judge`, `make_backend`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from seal.config import COUNT, NON_NEGATIVE, Range, check_ranges, opt
from seal.errors import ConfigError
from seal.grading.judge.cache import CachedJudge
from seal.grading.judge.client import OpenAIJudge
from seal.grading.judge.local import LocalJudge


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
