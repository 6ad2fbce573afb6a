"""The self-edit rubric judge (the proxy reward) against a real server on 127.0.0.1 and a tiny local model."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from openai_server import completion, parts, serve, user_text
from seal.errors import JudgeError
from seal.grading import LocalJudge, OpenAIJudge
from seal.grading.rubric import SelfEditRater, build_rubric_messages, parse_rating


def rate_by_marker(request, auth, n):
    """Rates notes 9 when they carry GOOD, else 2 (a wordy reply, as real judges give)."""
    text = user_text(request)
    notes = text.split("Notes:\n", 1)[1]
    return 200, completion("Score: 9/10" if "GOOD" in notes else "2"), 0.0


def test_rubric_shows_passage_and_notes():
    messages = build_rubric_messages("Lake Vorn", "Lake Vorn is deep.", "")
    assert "Lake Vorn is deep." in messages[1]["content"] and "(empty)" in messages[1]["content"]


@pytest.mark.parametrize(
    "reply, rating",
    [
        ("7", 0.7),
        ("0", 0.0),
        ("10", 1.0),
        ("**3**.", 0.3),
        ("3/10", 0.3),
        ("7 / 10", 0.7),
        ("Score: 10/10", 1.0),
        ("Rating: 7", 0.7),
        ("I'd say 8 out of 10", 0.8),
        ("Out of 10, these notes earn a 3.", 0.3),  # judge-rubric-first-number: the first number is the scale
        ("Rating (0-10): 6", 0.6),
        ("On a scale of 1 to 10: 9", 0.9),
        ("7.5", 0.75),
        ("<think>The passage has 5 facts; the notes state 4.</think> 7", 0.7),
        ("<think>maybe 3</think>\n<think>no, 4</think>\nRating: 4", 0.4),
        # a rating with its scale, N of M: read against that scale
        ("Score: 4 of 10", 0.4),
        ("I give these notes 6 out of 10.", 0.6),
        ("**Rating:** 3 / 10 (on a scale of 10)", 0.3),
        ("4 of 5", 0.8),
        ("Score: 80/100", 0.8),
        ("3 of 4 facts are kept: 6/10", None),  # two ratings
        ("Score: 4 of 10, maybe 5", None),
        ("Score: 11 of 10", None),
        ("Score: 4 of 0", None),
        # ambiguous or no rating: unreadable
        ("Between 6 and 7", None),
        ("6-7", None),
        ("The notes cover 4 of the 5 facts. Rating: 6", None),  # reasoning before the verdict
        ("1. Accurate.\n2. Complete.\nRating: 8", None),
        ("7\n\nFinal: 7", None),
        ("<think>I count 5 facts and would give", None),  # cut off while reasoning
        ("Rating: -1", None),
        ("12", None),
        ("70%", None),
        ("eleven", None),
        ("excellent", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_rating(reply, rating):
    assert parse_rating(reply) == rating


def test_rater_against_a_server():
    items = [("T", "The passage.", "GOOD notes"), ("T", "The passage.", "weak notes")]
    with serve(rate_by_marker) as (url, stats):
        rater = SelfEditRater(OpenAIJudge(url, "judge-model", api_key_env="SEAL_NO_KEY", backoff_s=0.01))
        rater.judge.check_reachable()
        result = rater.rate(items)
    assert result.scores == [0.9, 0.2] and result.errors == [None, None]
    assert stats["posts"] == 2 and all("The passage." in user_text(r) for _, r in stats["requests"])
    assert rater.rate([]).scores == []


@pytest.mark.parametrize("reply", ["excellent", "The notes cover 4 of the 5 facts. Rating: 6"])
def test_unreadable_rating_is_retried_then_an_error_not_a_rating(reply):
    with serve(lambda request, auth, n: (200, completion(reply), 0.0)) as (url, stats):
        rater = SelfEditRater(OpenAIJudge(url, "m", api_key_env="SEAL_NO_KEY", max_retries=1, backoff_s=0.01))
        result = rater.rate([("T", "P", "N")])
    assert result.scores == [None] and "a number from 0 to 10" in result.errors[0] and stats["posts"] == 2
    assert result.replies == [reply] and reply[:30] in result.errors[0]


def test_rating_in_a_list_of_parts_and_after_reasoning():
    replies = {"A": completion(parts(("thinking", "9 facts"), ("text", "Out of 10, these notes earn a 3."))),
               "B": completion("<think>Maybe 2 or 9.</think>Rating: 8/10")}

    def by_notes(request, auth, n):
        return 200, replies[user_text(request).split("Notes:\n", 1)[1][0]], 0.0

    with serve(by_notes) as (url, _):
        rater = SelfEditRater(OpenAIJudge(url, "m", api_key_env="SEAL_NO_KEY"))
        result = rater.rate([("T", "P", "A"), ("T", "P", "B")])
    assert result.scores == [0.3, 0.8] and result.errors == [None, None]
    assert result.replies == ["Out of 10, these notes earn a 3.", "<think>Maybe 2 or 9.</think>Rating: 8/10"]


def test_failing_endpoint_is_an_error():
    with serve(lambda request, auth, n: (500, "<html>oops</html>", 0.0)) as (url, stats):
        rater = SelfEditRater(OpenAIJudge(url, "m", api_key_env="SEAL_NO_KEY", max_retries=1, backoff_s=0.01))
        with pytest.raises(JudgeError, match="HTTP 500: <html>oops</html>"):
            rater.rate([("T", "P", "N")])
    assert stats["posts"] == 2


def test_local_rater_reads_the_digit_distribution():
    """A local model's rating is the mean digit under its next-token distribution: uniform logits give 4.5 / 9, and
    batching (left padding) does not change a random model's ratings."""
    words = [str(d) for d in range(10)] + [f"w{i}" for i in range(30)]
    vocab = {w: i for i, w in enumerate(words + ["<pad>", "<eos>", "<unk>"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                         pad_token_id=vocab["<pad>"], eos_token_id=vocab["<eos>"])).eval()
    items = [("T", "w1 w2", " ".join(f"w{(3 * i + j) % 30}" for j in range(n))) for i, n in enumerate([1, 9, 4])]
    batched = SelfEditRater(LocalJudge(model, tokenizer, batch_size=3)).rate(items)
    single = SelfEditRater(LocalJudge(model, tokenizer, batch_size=1)).rate(items)
    assert batched.errors == [None] * 3 and batched.replies == [None] * 3 and all(0 <= s <= 1 for s in batched.scores)
    assert batched.scores == pytest.approx(single.scores, abs=1e-5) and len(set(batched.scores)) == 3
    with torch.no_grad():
        model.model.norm.weight.zero_()  # every logit 0: the digits are equally likely
    assert SelfEditRater(LocalJudge(model, tokenizer)).rate(items).scores == pytest.approx([0.5] * 3)
