"""Tests of seal.grading.judge against real HTTP servers on 127.0.0.1 and a tiny random Llama on CPU."""

import doctest
import importlib
import json
import pkgutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import seal.grading.judge as judge_package
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
from seal.grading.judge import merge_system, plain_prompt, render_prompt, reply_text, strip_reasoning
from openai_server import NOT_COMPLETIONS, completion, parts, serve, user_text

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
    modules = pkgutil.iter_modules(judge_package.__path__, "seal.grading.judge.")
    results = [doctest.testmod(importlib.import_module(m.name)) for m in modules]
    assert sum(r.attempted for r in results) >= 5 and sum(r.failed for r in results) == 0


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
        ("`yes`", 1.0),
        # a verdict after reasoning: the last word
        ("The answer is yes", 1.0),
        ("The candidate matches the reference, so: yes", 1.0),
        ("Verdict: **No**", 0.0),
        ("Answer:\n\nYes.", 1.0),
        # reasoning blocks are removed first, whatever they say
        ("<think>The candidate gives the same town.</think> yes", 1.0),
        ("<think>yes? no, wait</think>\nNo", 0.0),
        ("<THINKING>Looks right.</THINKING>Yes", 1.0),
        ("<reasoning>no</reasoning> yes", 1.0),
        ("It says Paris, so yes</think>No", 0.0),  # the template opened the block: all before </think> is reasoning
        # no readable verdict
        ("<think>The candidate says Paris, which", None),  # cut off while reasoning
        ("<think>yes</think>", None),
        ("No. On reflection, yes", None),  # first and last words contradict
        ("I cannot say yes or no", None),
        ("yes/no", None),
        ("Yesterday", None),
        ("nope", None),
        ("Maybe", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply) == expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("<think>a</think> b <think>c</think> d", "b   d"),  # a block becomes a space: words stay apart
        ("plain", "plain"),
        ("so yes</think> No", "No"),
        ("<think>unclosed", None),
        ("x <think>a</think> y <think>b", None),
    ],
)
def test_strip_reasoning(reply, expected):
    assert strip_reasoning(reply) == expected


@pytest.mark.parametrize(
    "content, expected",
    [
        ("yes", ("yes", "stop")),
        (None, (None, "stop")),
        (parts(("thinking", "check the town"), ("text", "yes")), ("yes", "stop")),
        (parts(("text", "y"), ("reasoning", "hm"), ("text", "es")), ("yes", "stop")),
        (parts(("thinking", "only reasoning")), (None, "stop")),
        ([], (None, "stop")),
    ],
)
def test_reply_text_shapes(content, expected):
    assert reply_text(json.loads(completion(content))) == expected


@pytest.mark.parametrize("name", sorted(NOT_COMPLETIONS))
def test_reply_text_rejects_bodies_that_are_not_completions(name):
    body = NOT_COMPLETIONS[name]
    with pytest.raises(ValueError):
        reply_text(json.loads(body))  # the non-JSON ones already fail in json.loads, also a ValueError


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
        result = fast_judge(url, max_tokens=5).grade(QUESTIONS, PREDICTIONS, REFERENCES)
    assert result == JudgeResult([1.0, 0.0, 1.0], [None, None, None], ["Yes.", "no", "Yes."])
    assert stats["posts"] == 3
    path, request = stats["requests"][0]
    assert path == "/v1/chat/completions"
    assert request["model"] == "judge-model" and request["temperature"] == 0 and request["max_tokens"] == 5


def test_empty_batch_and_length_mismatch():
    judge = fast_judge("http://127.0.0.1:9/v1")
    assert judge.grade([], [], []) == JudgeResult([], [], [])
    with pytest.raises(ValueError):
        judge.grade(["q"], ["p", "p"], [["r"]])


@pytest.mark.parametrize(
    "content, score",
    [
        (parts(("thinking", "Same town?"), ("text", "yes")), 1.0),  # judge-content-list
        ("<think>The candidate gives the same town.</think> yes", 1.0),  # judge-errors-invisible
        ("The candidate matches the reference, so: yes", 1.0),
        ("<think>Paris is not Lyon.</think>\n\n**No**", 0.0),
    ],
)
def test_reasoning_replies_are_read_and_kept(content, score):
    with serve(lambda request, auth, n: (200, completion(content), 0.0)) as (url, stats):
        result = fast_judge(url).grade(["q"], ["p"], [["r"]])
    raw = content if isinstance(content, str) else "yes"
    assert result == JudgeResult([score], [None], [raw]) and stats["posts"] == 1


def test_server_errors_then_success_is_retried():
    def flaky(request, auth, n):
        return (500, '{"error": "overloaded"}', 0.0) if n <= 2 else _yes_if_marked(request, auth, n)

    with serve(flaky) as (url, stats):
        result = fast_judge(url, max_retries=3).grade(["q"], ["CORRECT"], [["r"]])
    assert result.scores == [1.0] and result.errors == [None]
    assert stats["posts"] == 3


def test_rate_limit_is_retried():
    def limited(request, auth, n):
        return (429, "{}", 0.0) if n == 1 else _yes_if_marked(request, auth, n)

    with serve(limited) as (url, stats):
        assert fast_judge(url).grade(["q"], ["wrong"], [["r"]]).scores == [0.0]
    assert stats["posts"] == 2


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    def limited(request, auth, n):
        return (429, "{}", 0.0, {"Retry-After": "0.4"}) if n == 1 else _yes_if_marked(request, auth, n)

    with serve(limited) as (url, stats):
        start = time.monotonic()
        assert fast_judge(url, backoff_s=0.01).grade(["q"], ["CORRECT"], [["r"]]).scores == [1.0]
        elapsed = time.monotonic() - start
    assert stats["posts"] == 2 and 0.4 <= elapsed < 2.0


def test_always_failing_server_is_an_error_naming_the_last_failure():
    with serve(lambda request, auth, n: (503, '{"error": "down"}', 0.0)) as (url, stats):
        with pytest.raises(JudgeError) as info:
            fast_judge(url, max_retries=2, max_workers=1).grade(QUESTIONS[:2], PREDICTIONS[:2], REFERENCES[:2])
    message = str(info.value)
    assert "HTTP 503" in message and '"down"' in message and url in message and "failed 3 time(s)" in message
    assert "(item 1 of 2)" in message and "\n" not in message
    assert stats["posts"] == 3  # the second item is not asked once the endpoint failed on the first


def test_one_failing_item_stops_the_others():
    def fails_on_bad(request, auth, n):
        return (500, "{}", 0.0) if "BAD" in user_text(request) else (200, completion("yes"), 0.05)

    with serve(fails_on_bad) as (url, stats):
        with pytest.raises(JudgeError, match=r"HTTP 500.*\(item 3 of 40\)"):
            fast_judge(url, max_retries=1, max_workers=2).grade(["q"] * 40, ["ok", "ok", "BAD"] + ["ok"] * 37,
                                                                [["r"]] * 40)
    assert stats["posts"] < 20  # well short of the 40 items


def test_client_error_is_not_retried():
    with serve(lambda request, auth, n: (400, '{"error": "unknown model"}', 0.0)) as (url, stats):
        with pytest.raises(JudgeError, match="HTTP 400.*unknown model"):
            fast_judge(url).grade(["q"], ["p"], [["r"]])
    assert stats["posts"] == 1


@pytest.mark.parametrize(
    "body, expected",
    [
        (completion("Perhaps, partly."), "reply is not yes or no: 'Perhaps, partly.'"),
        (completion("<think>The candidate says Paris but"), "reply is not yes or no"),
        (completion(None, "length"), "reply has no text (finish_reason length; a reasoning judge needs a larger"),
        (completion(parts(("thinking", "so long"))), "reply has no text"),
    ],
)
def test_unreadable_reply_is_retried_then_scored_none(body, expected):
    with serve(lambda request, auth, n: (200, body, 0.0)) as (url, stats):
        result = fast_judge(url, max_retries=1).grade(["q", "q2"], ["p", "p"], [["r"], ["r"]])
    assert result.scores == [None, None] and all(expected in e for e in result.errors)
    assert result.replies == [reply_text(json.loads(body))[0]] * 2
    assert stats["posts"] == 4


@pytest.mark.parametrize("name", sorted(NOT_COMPLETIONS))
def test_body_that_is_not_a_completion_is_retried_then_an_error(name):
    with serve(lambda request, auth, n: (200, NOT_COMPLETIONS[name], 0.0)) as (url, stats):
        with pytest.raises(JudgeError, match="malformed reply") as info:
            fast_judge(url, max_retries=1).grade(["q"], ["p"], [["r"]])
    assert NOT_COMPLETIONS[name][:20] in str(info.value) and stats["posts"] == 2


def test_a_reply_nested_past_the_recursion_limit_is_malformed_not_a_crash():
    deep = '{"choices": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with serve(lambda request, auth, n: (200, deep, 0.0)) as (url, stats):
        with pytest.raises(JudgeError, match=r"malformed reply \(maximum recursion depth") as info:
            fast_judge(url, max_retries=1).grade(["q"], ["p"], [["r"]])
    assert "\n" not in str(info.value) and stats["posts"] == 2


def test_waits_past_what_sockets_and_threads_take_are_refused_and_the_longest_taken_works():
    """A socket timeout or a thread's wait over about 9.2e9 s overflows (OverflowError, after the run's work)."""
    from seal.config import load_config
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.grading.judge import make_backend

    for key in ("timeout_s", "deadline_s", "backoff_s"):
        with pytest.raises(ConfigError, match=rf"^quiz.judge.{key}: must be in .*, 1000000000\], got 10000000000.0$"):
            load_config(KnowledgeConfig, None, [f"quiz.judge.{key}=1e10"])
    with serve(lambda request, auth, n: (200, completion("yes"), 0.0)) as (url, stats):
        cfg = load_config(KnowledgeConfig, None, [f"quiz.judge.base_url={url}", f"quiz.judge.api_key_env={KEY_ENV}",
                                                  "quiz.judge.timeout_s=1e9", "quiz.judge.deadline_s=1e9"])
        assert make_backend(cfg.quiz.judge).grade(["q"], ["p"], [["r"]]).scores == [1.0]


def test_slow_server_times_out():
    with serve(lambda request, auth, n: (200, completion("yes"), 0.6)) as (url, stats):
        start = time.monotonic()
        with pytest.raises(JudgeError, match="no reply: .*after up to 0.15 s"):
            fast_judge(url, timeout_s=0.15, max_retries=1).grade(["q"], ["p"], [["r"]])
        elapsed = time.monotonic() - start
    assert stats["posts"] == 2
    assert elapsed < 0.6


def test_hanging_server_costs_the_deadline_not_retries_times_items():
    """A server that accepts and never answers: 17 items, 8 at a time, 10 retries of 1 s each would take minutes;
    the batch's deadline ends it."""
    with serve(lambda request, auth, n: (200, completion("yes"), 30.0)) as (url, stats):
        start = time.monotonic()
        with pytest.raises(JudgeError, match="the 1.5 s deadline passed"):
            fast_judge(url, timeout_s=1.0, max_retries=10, backoff_s=0.01, deadline_s=1.5).grade(
                ["q"] * 17, ["p"] * 17, [["r"]] * 17)
        elapsed = time.monotonic() - start
    assert 1.4 < elapsed < 3.0
    assert stats["posts"] <= 16  # two waves of 8 at most: 1 s, then what is left of the deadline


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


def test_missing_key_is_an_error_at_once():
    with serve(_check_auth) as (url, stats):
        with pytest.raises(JudgeError, match="HTTP 401"):
            fast_judge(url).grade(["q"], ["CORRECT"], [["r"]])
    assert stats["posts"] == 1


def test_api_key_never_appears_in_errors_or_reprs(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)

    def echo_500(request, auth, n):
        return 500, json.dumps({"error": f"internal error, you sent {auth}"}), 0.0

    with serve(echo_500) as (url, _):
        judge = CachedJudge(fast_judge(url, max_retries=1))
        with pytest.raises(JudgeError) as info:
            judge.grade(["q"], ["p"], [["r"]])
    assert "***" in str(info.value)
    for text in (str(info.value), repr(judge), repr(judge.inner), str(vars(judge.inner))):
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
    with pytest.raises(JudgeError, match="connection failed"):
        judge.grade(["q"], ["p"], [["r"]])


def test_check_reachable_ok():
    with serve(_yes_if_marked) as (url, stats):
        fast_judge(url).check_reachable()
    assert stats["gets"] == 1


# ---------------------------------------------------------------- cache


def test_cache_avoids_repeat_requests_and_keeps_replies():
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
    assert first == second == JudgeResult([1.0, 0.0, 1.0], [None] * 3, ["Yes.", "no", "Yes."])
    assert third == JudgeResult([1.0, 1.0, 1.0], [None] * 3, ["Yes."] * 3)
    assert len(judge.cache) == 4


def test_unreadable_verdicts_are_not_cached():
    with serve(lambda request, auth, n: (200, completion("unsure"), 0.0)) as (url, stats):
        judge = CachedJudge(fast_judge(url, max_retries=0))
        first = judge.grade(["q", "q"], ["p", "p"], [["r"], ["r"]])
        judge.grade(["q"], ["p"], [["r"]])
    assert first.scores == [None, None] and first.errors[0] == first.errors[1] and "unsure" in first.errors[0]
    assert stats["posts"] == 2 and len(judge.cache) == 0


def test_shared_cache_and_as_grader():
    cache: dict = {}
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
    for bad in [*bad_settings, {"max_workers": 0}, {"max_tokens": 0}, {"deadline_s": 0}]:
        with pytest.raises(ConfigError):
            JudgeConfig(**bad)


def test_make_judge():
    judge = make_judge(JudgeConfig(base_url="http://127.0.0.1:9/v1/", model="m", timeout_s=5, max_retries=1,
                                   max_tokens=512, deadline_s=60))
    assert isinstance(judge, CachedJudge) and isinstance(judge.inner, OpenAIJudge)
    assert judge.inner.base_url == "http://127.0.0.1:9/v1" and judge.inner.timeout_s == 5
    assert (judge.inner.max_tokens, judge.inner.deadline_s) == (512, 60)
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
