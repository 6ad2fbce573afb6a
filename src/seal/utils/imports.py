"""Checks for the optional dependencies (Ray, vLLM), without importing them (TRL's `import_utils` shape), and the
import of an object by its "module:attr" path.

    from seal.utils.imports import is_ray_available
    if not is_ray_available(): ...
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache


def import_object(path: str):
    """The object a "module:attr" path names (a domain builder, a recipe, a reward function), imported here.
    Raises ImportError (ModuleNotFoundError) or AttributeError when there is none."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@lru_cache(maxsize=None)
def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def is_ray_available() -> bool:
    """Whether `ray` can be imported (`pip install ray`; needed by `executor.kind: ray`)."""
    return _has("ray")


def is_vllm_available() -> bool:
    """Whether `vllm` can be imported (needed by `generation.backend: vllm`)."""
    return _has("vllm")


def is_xgrammar_available() -> bool:
    """Whether `xgrammar` can be imported (needed by `self_edit.constrained` and `solve.constrained` in ARC)."""
    return _has("xgrammar")
