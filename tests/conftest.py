"""Shared fixtures: an isolated cache and runs directory per test session, the shared data folder, tiny models."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEAL_SHARED_DIR", REPO.parent / "shared"))
# vLLM's CPU backend (the vLLM-marked tests, `make test-vllm`) otherwise reserves `gpu_memory_utilization` (0.45) of
# the machine's memory for each engine's KV cache; 1 GiB holds ~20k tokens of SmolLM2 at fp32.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models gain nothing from a second torch thread, and on a busy 2-core machine two threads made tests up
    to 100x slower (measured: 2 s -> 230 s): the suite runs torch single-threaded (subprocesses use their own)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set SEAL_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def tiny():
    """The tiny Llama and its tokenizer (fp32, CPU)."""
    from seal.models import load

    return load("tiny-llama", dtype="fp32", device="cpu")


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("SEAL_RUNS", str(root))
    return root


@pytest.fixture
def bos_tiny():
    """The tiny Llama with a Llama-3-style tokenizer: every encoding with special tokens starts with a BOS token
    (`<|begin_of_text|>`), and the chat template renders that BOS as text first (`{{ bos_token }}...`), as
    Llama-3-Instruct's does. The case where tokenizing chat-rendered text again would give two BOS tokens."""
    from tokenizers.processors import TemplateProcessing

    from seal.models import load
    from seal.models.builtin import CHATML_TEMPLATE

    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    tok.add_special_tokens({"bos_token": "<|begin_of_text|>"})
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
        special_tokens=[("<|begin_of_text|>", tok.bos_token_id)])
    tok.chat_template = "{{ bos_token }}" + CHATML_TEMPLATE
    model.resize_token_embeddings(len(tok))
    return model, tok
