"""Shared fixtures: an isolated cache and runs directory per test session, the shared data folder, tiny models."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEAL_SHARED_DIR", REPO.parent / "shared"))


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
