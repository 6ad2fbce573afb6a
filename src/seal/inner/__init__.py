"""The inner loop: adapting the model to one self-edit (`seal.inner.base` says the contract)."""

from seal.inner.base import InnerLoop, make_adapter

__all__ = ["InnerLoop", "make_adapter"]
