"""Settings a checkpoint brings with it (issue 30, kind 4a): what is generated follows seal's settings alone.

A `generation_config.json` with `repetition_penalty` or `no_repeat_ngram_size` changed seal's "greedy" quiz answers on
the Hugging Face path (`generate` takes every unset argument from it), not on vLLM's (seal's `SamplingParams`) nor in
log-likelihood scoring. The model's stop ids stay in force (tests/models/test_tokens.py tests the stop list).
"""

import pytest
import torch

from seal.grading.judge import LocalJudge, build_messages
from seal.models import load
from seal.models.generate import HFGenerator
from seal.models.tokens import encode

PROMPT = "Title: Tor\nQuestion: What is Tor?\nAnswer:"
# (what the checkpoint's generation_config.json says, the temperature seal asks for)
BROUGHT = [(dict(repetition_penalty=50.0), 0.0), (dict(no_repeat_ngram_size=1), 0.0),
           (dict(suppress_tokens=list(range(256))), 0.0), (dict(do_sample=True, min_p=0.5), 1.0)]


def checkpoint(path, settings: dict):
    """tiny-llama saved with `settings` in its generation_config.json, loaded as seal loads a checkpoint."""
    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    for key, value in settings.items():
        setattr(model.generation_config, key, value)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return load(str(path), dtype="fp32", device="cpu")


def transformers_default(model, tok, temperature: float) -> str:
    """What `model.generate` gives for `PROMPT` with the arguments seal passes, the checkpoint filling the rest."""
    ids = torch.tensor([encode(tok, PROMPT)])
    torch.manual_seed(0)
    sampling = dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature else \
        dict(do_sample=False)
    out = model.generate(ids, max_new_tokens=8, pad_token_id=tok.pad_token_id, **sampling)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("settings,temperature", BROUGHT, ids=lambda s: ",".join(s) if isinstance(s, dict) else "")
def test_generation_ignores_the_sampling_and_penalty_settings_a_checkpoint_brings(tmp_path, settings, temperature):
    plain, tok = checkpoint(tmp_path / "plain", {})
    model, _ = checkpoint(tmp_path / "brought", settings)
    expected = HFGenerator(plain, tok).generate([PROMPT], max_new_tokens=8, temperature=temperature)
    assert transformers_default(model, tok, temperature) != expected[0]  # transformers applies the setting
    assert HFGenerator(model, tok).generate([PROMPT], max_new_tokens=8, temperature=temperature) == expected
    assert all(getattr(model.generation_config, k) == v for k, v in settings.items())  # put back after


def test_the_checkpoints_stop_ids_still_stop_generation(tmp_path):
    plain, tok = checkpoint(tmp_path / "plain", {})
    first = HFGenerator(plain, tok).generate([PROMPT], max_new_tokens=1)
    stop = tok.convert_tokens_to_ids(tok.tokenize(first[0]))
    assert len(stop) == 1 and HFGenerator(plain, tok).generate([PROMPT], max_new_tokens=8) != first
    model, _ = checkpoint(tmp_path / "brought", dict(repetition_penalty=50.0, eos_token_id=[tok.eos_token_id] + stop))
    assert HFGenerator(model, tok).generate([PROMPT], max_new_tokens=8) == first  # stopped after its first token


def test_the_local_judge_replies_from_its_own_settings(tmp_path):
    plain, tok = checkpoint(tmp_path / "plain", {})
    model, _ = checkpoint(tmp_path / "brought", dict(no_repeat_ngram_size=1, repetition_penalty=50.0))
    messages = [build_messages("What is Tor?", "a city", ["a city"])]
    replies = []
    for m in (plain, model):
        judge = LocalJudge(m, tok, max_new_tokens=8)
        replies.append(judge._generate(next(judge.encoded_batches(messages))))
    assert replies[0] == replies[1]
