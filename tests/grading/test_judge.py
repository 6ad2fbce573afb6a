"""Tests of seal.grading.judge against real HTTP servers on 127.0.0.1 and a tiny random Llama on CPU."""

import doctest
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import seal.grading.judge as judge_module
from seal.errors import ConfigError, JudgeError
from seal.grading import (
    CachedJudge,
    JudgeConfig,
    JudgeResult,
    LocalJudge,
    OpenAIJudge,
    build_messages,
    cache_key,
    make_judge,
    parse_verdict,
)
from seal.grading.judge import merge_system, plain_prompt, render_prompt
from openai_server import completion, serve, user_text

KEY_ENV = "SEAL_TEST_JUDGE_KEY"
SECRET = "sk-test-SECRET-7f3a9c"


def _yes_if_marked(request: dict, auth: str, n: int) -> tuple[int, str, float]:
    """Deterministic judge: yes when the candidate carries the word CORRECT."""
    verdict = "Yes." if "CORRECT" in user_text(request) else "no"
    return 200, completion(verdict), 0.0



def fast_judge(base_url: str, **kwargs) -> OpenAIJudge:
    opts = {"timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.01, "api_key_env": KEY_ENV}
    opts.update(kwargs)
    return OpenAIJudge(base_url, "judge-model", **opts)


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


QUESTIONS = ["Capital of France?", "Tallest tower?", "Year built?"]
PREDICTIONS = ["CORRECT Paris", "the Louvre", "CORRECT 1889"]
REFERENCES = [["Paris"], ["Eiffel Tower"], ["1889", "eighteen eighty-nine"]]


# ---------------------------------------------------------------- pure functions


def test_doctests():
    result = doctest.testmod(judge_module)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("yes", 1.0),
        ("YES", 1.0),
        ("Yes.", 1.0),
        ("**Yes**", 1.0),
        ("  \nNo, it names another city", 0.0),
        ("no!", 0.0),
        ("'no'", 0.0),
        ("Yesterday", None),
        ("nope", None),
        ("The answer is yes", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply) == expected


def test_build_messages_contains_item():
    messages = build_messages(" Capital of France? ", "It is Paris.", ["Paris", "City of Light"])
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "Capital of France?" in user and "It is Paris." in user
    assert "Paris | City of Light" in user
    assert "yes or no" in user


def test_plain_prompt_and_merge_system():
    messages = build_messages("q", "p", ["r"])
    text = plain_prompt(messages)
    assert text.startswith(messages[0]["content"]) and text.endswith("Answer:")
    merged = merge_system(messages)
    assert [m["role"] for m in merged] == ["user"]
    assert merged[0]["content"] == messages[0]["content"] + "\n\n" + messages[1]["content"]
    assert messages[1]["content"] != merged[0]["content"]  # input not mutated


def test_cache_key_depends_on_content_not_reference_order():
    base = cache_key("openai", "m", "q", "p", ["a", "b"])
    assert base == cache_key("openai", "m", "q", "p", ["b", "a"])
    assert len({base, cache_key("local", "m", "q", "p", ["a", "b"]), cache_key("openai", "m2", "q", "p", ["a", "b"]),
                cache_key("openai", "m", "q2", "p", ["a", "b"]), cache_key("openai", "m", "q", "p2", ["a", "b"])}) == 5


# ---------------------------------------------------------------- OpenAI backend over HTTP


def test_good_server_grades_and_sends_openai_request():
    with serve(_yes_if_marked) as (url, stats):
        result = fast_judge(url).grade(QUESTIONS, PREDICTIONS, REFERENCES)
    assert result == JudgeResult([1.0, 0.0, 1.0], [None, None, None])
    assert stats["posts"] == 3
    path, request = stats["requests"][0]
    assert path == "/v1/chat/completions"
    assert request["model"] == "judge-model" and request["temperature"] == 0


def test_empty_batch_and_length_mismatch():
    judge = fast_judge("http://127.0.0.1:9/v1")
    assert judge.grade([], [], []) == JudgeResult([], [])
    with pytest.raises(ValueError):
        judge.grade(["q"], ["p", "p"], [["r"]])


def test_server_errors_then_success_is_retried():
    def flaky(request, auth, n):
        return (500, '{"error": "overloaded"}', 0.0) if n <= 2 else _yes_if_marked(request, auth, n)

    with serve(flaky) as (url, stats):
        result = fast_judge(url, max_retries=3).grade(["q"], ["CORRECT"], [["r"]])
    assert result == JudgeResult([1.0], [None])
    assert stats["posts"] == 3


def test_rate_limit_is_retried():
    def limited(request, auth, n):
        return (429, "{}", 0.0) if n == 1 else _yes_if_marked(request, auth, n)

    with serve(limited) as (url, stats):
        assert fast_judge(url).grade(["q"], ["wrong"], [["r"]]).scores == [0.0]
    assert stats["posts"] == 2


def test_always_failing_server_records_errors_not_zeros():
    with serve(lambda request, auth, n: (503, '{"error": "down"}', 0.0)) as (url, stats):
        result = fast_judge(url, max_retries=2).grade(QUESTIONS[:2], PREDICTIONS[:2], REFERENCES[:2])
    assert result.scores == [None, None]
    assert all("HTTP 503" in e and url in e and "3 times" in e for e in result.errors)
    assert stats["posts"] == 2 * 3


def test_client_error_is_not_retried():
    with serve(lambda request, auth, n: (400, '{"error": "unknown model"}', 0.0)) as (url, stats):
        result = fast_judge(url).grade(["q"], ["p"], [["r"]])
    assert result.scores == [None] and "HTTP 400" in result.errors[0] and "unknown model" in result.errors[0]
    assert stats["posts"] == 1


@pytest.mark.parametrize(
    "body, expected",
    [
        (completion("Perhaps, partly."), "not yes or no"),
        (completion(None), "not yes or no"),
        ("<html>not json</html>", "malformed reply"),
        (json.dumps({"choices": []}), "malformed reply"),
    ],
)
def test_garbage_reply_is_retried_then_recorded(body, expected):
    with serve(lambda request, auth, n: (200, body, 0.0)) as (url, stats):
        result = fast_judge(url, max_retries=1).grade(["q"], ["p"], [["r"]])
    assert result.scores == [None] and expected in result.errors[0]
    assert stats["posts"] == 2


def test_slow_server_times_out():
    with serve(lambda request, auth, n: (200, completion("yes"), 0.6)) as (url, stats):
        start = time.monotonic()
        result = fast_judge(url, timeout_s=0.15, max_retries=1).grade(["q"], ["p"], [["r"]])
        elapsed = time.monotonic() - start
    assert result.scores == [None] and "timed out" in result.errors[0]
    assert stats["posts"] == 2
    assert elapsed < 0.6


def _check_auth(request, auth, n):
    if auth != f"Bearer {SECRET}":
        # A careless server that echoes what it got: the judge must scrub it.
        return 401, json.dumps({"error": f"bad key {auth}"}), 0.0
    return _yes_if_marked(request, auth, n)


def test_api_key_comes_from_env_var(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with serve(_check_auth) as (url, _):
        judge = fast_judge(url)
        assert judge.grade(["q"], ["CORRECT"], [["r"]]).scores == [1.0]
        judge.check_reachable()
    assert SECRET not in repr(judge) and SECRET not in str(vars(judge))


def test_missing_key_is_a_recorded_error():
    with serve(_check_auth) as (url, stats):
        result = fast_judge(url).grade(["q"], ["CORRECT"], [["r"]])
    assert result.scores == [None] and "HTTP 401" in result.errors[0]
    assert stats["posts"] == 1


def test_api_key_never_appears_in_errors_or_reprs(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)

    def echo_500(request, auth, n):
        return 500, json.dumps({"error": f"internal error, you sent {auth}"}), 0.0

    with serve(echo_500) as (url, _):
        judge = CachedJudge(fast_judge(url, max_retries=1))
        result = judge.grade(["q"], ["p"], [["r"]])
    assert result.scores == [None] and "***" in result.errors[0]
    for text in (*result.errors, repr(result), repr(judge), repr(judge.inner), str(vars(judge.inner))):
        assert SECRET not in text


def test_check_reachable_rejected_key_names_env_var_not_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-123")

    class AuthServer(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), AuthServer)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with pytest.raises(JudgeError) as info:
            fast_judge(url).check_reachable()
    finally:
        server.shutdown()
        server.server_close()
    assert KEY_ENV in str(info.value) and "sk-wrong-key-123" not in str(info.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    judge = fast_judge(url, max_retries=1)
    with pytest.raises(JudgeError, match="cannot reach the LLM judge at " + url) as info:
        judge.check_reachable()
    assert "\n" not in str(info.value)
    with pytest.raises(JudgeError):
        CachedJudge(judge).check_reachable()
    result = judge.grade(["q"], ["p"], [["r"]])
    assert result.scores == [None] and "connection failed" in result.errors[0]


def test_check_reachable_ok():
    with serve(_yes_if_marked) as (url, stats):
        fast_judge(url).check_reachable()
    assert stats["gets"] == 1


# ---------------------------------------------------------------- cache


def test_cache_avoids_repeat_requests():
    with serve(_yes_if_marked) as (url, stats):
        judge = CachedJudge(fast_judge(url))
        first = judge.grade(QUESTIONS, PREDICTIONS, REFERENCES)
        assert stats["posts"] == 3
        second = judge.grade(QUESTIONS, PREDICTIONS, [list(reversed(r)) for r in REFERENCES])
        assert stats["posts"] == 3
        # Duplicates within a batch are asked once; a new item is asked.
        third = judge.grade(
            ["new q", "new q", QUESTIONS[0]], ["CORRECT", "CORRECT", PREDICTIONS[0]], [["r"], ["r"], REFERENCES[0]]
        )
        assert stats["posts"] == 4
    assert first == second == JudgeResult([1.0, 0.0, 1.0], [None] * 3)
    assert third.scores == [1.0, 1.0, 1.0]
    assert len(judge.cache) == 4


def test_errors_are_not_cached():
    with serve(lambda request, auth, n: (500, "{}", 0.0)) as (url, stats):
        judge = CachedJudge(fast_judge(url, max_retries=0))
        judge.grade(["q", "q"], ["p", "p"], [["r"], ["r"]])
        judge.grade(["q"], ["p"], [["r"]])
    assert stats["posts"] == 2 and len(judge.cache) == 0


def test_shared_cache_and_as_grader():
    cache: dict[str, float] = {}
    with serve(_yes_if_marked) as (url, stats):
        make_judge(JudgeConfig(base_url=url, model="m", api_key_env=KEY_ENV), cache=cache).grade(
            ["q"], ["CORRECT"], [["r"]]
        )
        grader = make_judge(JudgeConfig(base_url=url + "/", model="m", api_key_env=KEY_ENV), cache=cache).as_grader(
            ["q", "q2"]
        )
        assert grader(["CORRECT", "wrong"], [["r"], ["r"]]) == [1.0, 0.0]
    assert stats["posts"] == 2


# ---------------------------------------------------------------- config and factory


def test_judge_config_validation_and_help():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(JudgeConfig))
    bad_settings = [{"backend": "anthropic"}, {"timeout_s": 0}, {"max_retries": -1}, {"backoff_s": -1.0}]
    for bad in [*bad_settings, {"max_workers": 0}]:
        with pytest.raises(ConfigError):
            JudgeConfig(**bad)


def test_make_judge():
    judge = make_judge(JudgeConfig(base_url="http://127.0.0.1:9/v1/", model="m", timeout_s=5, max_retries=1))
    assert isinstance(judge, CachedJudge) and isinstance(judge.inner, OpenAIJudge)
    assert judge.inner.base_url == "http://127.0.0.1:9/v1" and judge.inner.timeout_s == 5
    assert judge.backend_id == "openai" and judge.model_id == "m"
    with pytest.raises(ConfigError, match="base_url"):
        make_judge(JudgeConfig())
    with pytest.raises(ConfigError, match="local"):
        make_judge(JudgeConfig(backend="local"))


# ---------------------------------------------------------------- local backend on a tiny random Llama


def _word_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(words + ["<pad>", "<eos>", "<unk>"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def _tiny_llama(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("first_word, score", [("yes", 1.0), ("no", 0.0), ("maybe", None)])
def test_local_judge_end_to_end(first_word, score):
    # Zeroing the final norm makes every logit 0, so greedy decoding always picks token id 0.
    tokenizer = _word_tokenizer([first_word])
    model = _tiny_llama(tokenizer)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    result = LocalJudge(model, tokenizer, batch_size=2).grade(QUESTIONS, PREDICTIONS, REFERENCES)
    assert result.scores == [score] * 3
    if score is None:
        assert all("maybe" in e for e in result.errors)
    else:
        assert result.errors == [None] * 3


def test_local_judge_batches_match_single_items():
    # Left padding must not change greedy replies; right padding would (the last column would be padding).
    tokenizer = _word_tokenizer(["yes", "no"] + [f"w{i}" for i in range(40)])
    model = _tiny_llama(tokenizer)
    predictions = [" ".join(f"w{(7 * i + j) % 40}" for j in range(n)) for i, n in enumerate([1, 12, 3, 25, 6])]
    args = (["q"] * 5, predictions, [["r"]] * 5)
    batched = LocalJudge(model, tokenizer, batch_size=5).grade(*args)
    single = LocalJudge(model, tokenizer, batch_size=1).grade(*args)
    assert batched == single


def test_local_judge_uses_chat_template():
    tokenizer = _word_tokenizer(["yes"])
    messages = build_messages("q", "p", ["r"])
    assert render_prompt(messages, tokenizer) == (plain_prompt(messages), False)
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    text, templated = render_prompt(messages, tokenizer)
    assert templated and text.startswith("<system>") and text.endswith("<assistant>")
    # A template that rejects the system role gets it folded into the user turn.
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    )
    text, templated = render_prompt(messages, tokenizer)
    assert templated and text.startswith("<user>" + messages[0]["content"])
    model = _tiny_llama(tokenizer)
    with torch.no_grad():
        model.model.norm.weight.zero_()
    assert CachedJudge(LocalJudge(model, tokenizer)).grade(["q"], ["p"], [["r"]]).scores == [1.0]
