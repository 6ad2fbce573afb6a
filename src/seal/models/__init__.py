"""Models: `load` any Hugging Face causal LM or a built-in one; device and dtype choice; weight fingerprints."""

from seal.models.load import fingerprint, load, load_model, resolve_device, resolve_dtype

__all__ = ["load", "load_model", "fingerprint", "resolve_device", "resolve_dtype"]
