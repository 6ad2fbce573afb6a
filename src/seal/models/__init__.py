"""Models: `load` any Hugging Face causal LM or a built-in one; device and dtype choice; weight fingerprints."""

from seal.models.load import fingerprint, load, resolve_device, resolve_dtype

__all__ = ["load", "fingerprint", "resolve_device", "resolve_dtype"]
