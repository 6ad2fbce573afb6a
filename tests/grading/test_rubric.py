"""The self-edit rubric judge (the proxy reward) against a real server on 127.0.0.1 and a tiny local model."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from openai_server import completion, serve, user_text
from seal.grading import LocalJudge, OpenAIJudge
from seal.grading.rubric import SelfEditRater, build_rubric_messages, parse_rating


def rate_by_marker(request, auth, n):
    """Rates notes 9 when they carry GOOD, else 2 (a wordy reply, as real judges give)."""
    text = user_text(request)
    notes = text.split("Notes:\n", 1)[1]
    return 200, completion("Score: 9/10" if "GOOD" in notes else "2"), 0.0


def test_rubric_shows_passage_and_notes_and_reads_ratings():
    messages = build_rubric_messages("Lake Vorn", "Lake Vorn is deep.", "")
    assert "Lake Vorn is deep." in messages[1]["content"] and "(empty)" in messages[1]["content"]
    assert [parse_rating(r) for r in ["0", "8 out of 10", "ten"]] == [0.0, 0.8, None]


def test_rater_against_a_server():
    items = [("T", "The passage.", "GOOD notes"), ("T", "The passage.", "weak notes")]
    with serve(rate_by_marker) as (url, stats):
        rater = SelfEditRater(OpenAIJudge(url, "judge-model", api_key_env="SEAL_NO_KEY", backoff_s=0.01))
        rater.judge.check_reachable()
        result = rater.rate(items)
    assert result.scores == [0.9, 0.2] and result.errors == [None, None]
    assert stats["posts"] == 2 and all("The passage." in user_text(r) for _, r in stats["requests"])
    assert rater.rate([]).scores == []


def test_unreadable_rating_is_retried_then_an_error_not_a_zero():
    with serve(lambda request, auth, n: (200, completion("excellent"), 0.0)) as (url, stats):
        rater = SelfEditRater(OpenAIJudge(url, "m", api_key_env="SEAL_NO_KEY", max_retries=1, backoff_s=0.01))
        result = rater.rate([("T", "P", "N")])
    assert result.scores == [None] and "a number from 0 to 10" in result.errors[0] and stats["posts"] == 2


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
    assert batched.errors == [None] * 3 and all(0 <= s <= 1 for s in batched.scores)
    assert batched.scores == pytest.approx(single.scores, abs=1e-5) and len(set(batched.scores)) == 3
    with torch.no_grad():
        model.model.norm.weight.zero_()  # every logit 0: the digits are equally likely
    assert SelfEditRater(LocalJudge(model, tokenizer)).rate(items).scores == pytest.approx([0.5] * 3)
