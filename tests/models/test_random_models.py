"""The random-weight paper architectures (`random:*`): published sizes, built in place on the device and in the
dtype asked for (here the meta device: no memory), and tiny variants that run on CPU."""

import pytest
import torch

from seal.models import load


@pytest.mark.parametrize("name, cls, params, tied, rope_type", [
    ("random:qwen2.5-7b", "Qwen2ForCausalLM", 7_615_616_512, False, "default"),  # Qwen2.5-7B: 7.61B parameters
    ("random:llama-3.2-1b", "LlamaForCausalLM", 1_235_814_400, True, "llama3"),  # Llama-3.2-1B: 1.24B
])
def test_paper_architectures_are_built_on_the_device_in_the_dtype(name, cls, params, tied, rope_type):
    model, tokenizer = load(name, dtype="bf16", device="meta")
    assert type(model).__name__ == cls and not model.training
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert sum(p.numel() for p in model.parameters()) == params
    cfg = model.config
    assert cfg.tie_word_embeddings is tied and cfg.rope_parameters["rope_type"] == rope_type
    assert len(tokenizer) <= cfg.vocab_size and cfg.eos_token_id == tokenizer.eos_token_id


def test_qwen_sizes_are_the_published_ones():
    cfg = load("random:qwen2.5-7b", dtype="bf16", device="meta")[0].config
    assert (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.num_attention_heads,
            cfg.num_key_value_heads, cfg.vocab_size, cfg.rope_parameters["rope_theta"]) == (
        3584, 18944, 28, 28, 4, 152064, 1e6)


@pytest.mark.parametrize("name", ["random:tiny-qwen2.5", "random:tiny-llama-3.2"])
def test_tiny_variants_generate_past_the_tokenizer_vocabulary(name):
    model, tokenizer = load(name, dtype="bf16", device="cpu")
    assert model.config.vocab_size == 2 * len(tokenizer)  # ids the tokenizer cannot decode can come out
    enc = tokenizer(["Tor is a harbour town"], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=8, min_new_tokens=8, do_sample=True, top_k=0,
                         pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] == enc["input_ids"].shape[1] + 8
    assert isinstance(tokenizer.decode(out[0], skip_special_tokens=True), str)


def test_vllm_backend_refuses_a_random_model_in_one_line():
    from seal.config import GenerationConfig
    from seal.errors import ConfigError
    from seal.models.generate import make_generator

    with pytest.raises(ConfigError, match="'random:qwen2.5-7b' is not a model vLLM can load"):
        make_generator(GenerationConfig(backend="vllm"), None, None, "random:qwen2.5-7b", 8)
