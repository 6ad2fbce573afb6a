import time

import pytest
import torch

from seal.errors import ModelError
from seal.models import fingerprint, load
from seal.models.builtin import smollm2_dir
from seal.models.generate import HFGenerator, chat_prompt


def test_tiny_models_are_deterministic_with_a_real_tokenizer():
    a, tok = load("tiny-llama", seed=1)
    b, _ = load("tiny-llama", seed=1)
    c, _ = load("tiny-llama", seed=2)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert tok.decode(tok("Duskmere has 12 bridges.")["input_ids"]) == "Duskmere has 12 bridges."
    assert len(tok) <= 520 and tok.padding_side == "left" and tok.pad_token is not None
    qwen, _ = load("tiny-qwen2")
    assert type(qwen).__name__ == "Qwen2ForCausalLM" and sum(p.numel() for p in qwen.parameters()) < 500_000


def test_unknown_model_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="unknown model"):
        load(str(tmp_path / "no-such-model"))
    # no hub here: fail at once instead of retrying the network (the env variable is read when huggingface_hub loads)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError):
        load("nobody/no-such-model-anywhere")  # hub unreachable or absent: one-line error, not a traceback


def test_bf16_and_device_choice():
    model, _ = load("tiny-llama", dtype="bf16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ModelError):
        load("tiny-llama", dtype="int3")


@pytest.mark.slow
def test_smollm2_conversion_answers_a_trivial_question():
    smollm2_dir()  # converted once into the cache (safetensors)
    start = time.perf_counter()
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    assert time.perf_counter() - start < 10  # well under 2 s on an idle machine; loose bound for a loaded CI box
    prompt = chat_prompt(tokenizer, "What is the capital of France? Answer in one word.")
    answer = HFGenerator(model, tokenizer).generate([prompt], max_new_tokens=10)[0]
    assert "paris" in answer.lower()
