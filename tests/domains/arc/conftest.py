"""Fixtures for the ARC domain tests: the shared ARC data folder (skipped where absent)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_arc_dir(shared_dir) -> Path:
    """`$SEAL_SHARED_DIR/data/arc` (default `<repo>/../shared`; `shared_dir` is in tests/conftest.py), or skip."""
    arc = shared_dir / "data" / "arc"
    if not arc.is_dir():
        pytest.skip(f"shared ARC data not found at {arc} (set SEAL_SHARED_DIR to the shared/ folder)")
    return arc
