"""LoRA targets against the model's architecture (issue 30, kind 4b).

Target names that match only part of an architecture (`q_proj`... on Phi-3's fused `qkv_proj`/`gate_up_proj`, GPT-2's
`c_attn`/`c_fc`, GPT-NeoX's `query_key_value`) used to attach to what matched and say nothing. They are refused in one
line naming the key, the names that matched nothing and the layers the model's blocks have; names that fit train on
every one of these architectures; the run's manifest records what was adapted. Tiny random-weight models built from
transformers configs, with the tiny built-in tokenizer.
"""

import json
import math
import sys

import pytest
import torch

from seal.config import ALL_PROJECTIONS, InnerConfig, LoraConfig
from seal.errors import ConfigError
from seal.inner import make_adapter
from seal.inner.lora import adapted_modules, attach_lora, linear_modules, lora_layers, lora_state
from seal.models.builtin import tiny_tokenizer

# architecture -> (transformers config, the linear layers of its blocks)
ARCHITECTURES = {
    "llama": ("LlamaConfig", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2), list(ALL_PROJECTIONS)),
    "phi3": ("Phi3Config", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2), ["o_proj", "qkv_proj", "gate_up_proj", "down_proj"]),
    "gpt2": ("GPT2Config", dict(n_embd=64, n_layer=2, n_head=4), ["c_attn", "c_proj", "c_fc"]),
    "gpt-neox": ("GPTNeoXConfig", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                       num_attention_heads=4), ["query_key_value", "dense", "dense_h_to_4h",
                                                                "dense_4h_to_h"]),
}


def tiny(architecture: str):
    import transformers
    from transformers import AutoModelForCausalLM

    tok = tiny_tokenizer()
    name, values, _ = ARCHITECTURES[architecture]
    config = getattr(transformers, name)(vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id, bos_token_id=None, **values)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config), tok


@pytest.mark.parametrize("architecture", ["phi3", "gpt2", "gpt-neox"])
def test_default_targets_that_miss_fused_layers_are_refused_naming_what_is_needed(architecture):
    model, _ = tiny(architecture)
    needed = ARCHITECTURES[architecture][2]
    with pytest.raises(ConfigError) as e:
        make_adapter(model, tiny_tokenizer(), InnerConfig())
    message = str(e.value)
    assert len(message.splitlines()) == 1 and message.startswith("inner.lora.target_modules: ")
    assert f"set inner.lora.target_modules=[{','.join(needed)}]" in message
    missing = [t for t in ALL_PROJECTIONS if t not in needed]
    assert f"{', '.join(missing)} match no layer" in message
    assert not lora_layers(model)  # nothing attached


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_the_blocks_layers_as_targets_train_on_every_architecture(architecture):
    model, tok = tiny(architecture)
    needed = ARCHITECTURES[architecture][2]
    cfg = InnerConfig(lora=LoraConfig(r=4, alpha=8, target_modules=tuple(needed)), learning_rate=1e-3, epochs=2)
    adapter = make_adapter(model, tok, cfg)
    assert adapted_modules(adapter.model, cfg.lora, "inner.lora") == sorted(needed)
    wrapped = {n for n, m in adapter.model.named_modules() if m in lora_layers(adapter.model)}
    assert wrapped == {n for n in linear_modules(adapter.model) if ".1." in n or ".0." in n}  # every block's layers
    before = lora_state(adapter.model)
    with adapter.trained(["Tor has twelve bridges over the river."] * 2, seed=0) as stats:
        after = lora_state(adapter.model)
    assert stats.losses and all(math.isfinite(x) for x in stats.losses)
    assert any(not torch.equal(before[k], after[k]) for k in before if "lora_B" in k)  # it learned something


def test_a_subset_that_matches_is_kept_and_names_that_fit_elsewhere_are_tolerated():
    model, _ = tiny("llama")
    assert adapted_modules(model, LoraConfig(target_modules=("q_proj", "v_proj")), "k") == ["q_proj", "v_proj"]
    both = LoraConfig(target_modules=("qkv_proj", "gate_up_proj", *ALL_PROJECTIONS))  # one config for two families
    assert adapted_modules(model, both, "k") == sorted(ALL_PROJECTIONS)
    with pytest.raises(ConfigError, match=r"^ttt.lora.target_modules: qkv_proj matches no layer .* leaving k_proj"):
        attach_lora(model, LoraConfig(target_modules=("q_proj", "qkv_proj")), key="ttt.lora")


def test_the_manifest_records_the_adapted_layers(tmp_path, capsys, monkeypatch):
    from seal.cli import main

    runs = tmp_path / "runs"
    monkeypatch.setattr(sys, "argv", ["seal", "knowledge", "eval", "--set", "model.name=tiny-llama", "--set",
                                      "model.threads=1", "--set", "data.n=1", "--set", "eval.conditions=[base]",
                                      "--set", "inner.lora.target_modules=[q_proj,v_proj,down_proj]",
                                      "--set", f"run.root={runs}"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code in (0, None), capsys.readouterr().err
    (manifest,) = runs.glob("*/manifest.json")
    assert json.loads(manifest.read_text())["lora"] == {"inner.lora": ["down_proj", "q_proj", "v_proj"]}
