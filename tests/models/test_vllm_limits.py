"""What the vLLM backend asks of vLLM, checked without vLLM: the LoRA rank sizes its engine accepts (issue 16,
section 5; vLLM's LoRAConfig takes max_lora_rank only from 8, 16, 32, 64, 128, 256, 320, 512)."""

import pytest

from seal.config import GenerationConfig, InnerConfig, LoraConfig
from seal.domains.knowledge.config import KnowledgeConfig
from seal.errors import ConfigError, SealError
from seal.models.vllm_backend import vllm_max_lora_rank
from seal.domains.knowledge.evaluation import check_config
from seal.utils.imports import is_vllm_available


@pytest.mark.parametrize("r, size", [(1, 8), (4, 8), (8, 8), (9, 16), (32, 32), (33, 64), (257, 320), (512, 512)])
def test_max_lora_rank_is_the_smallest_size_vllm_accepts(r, size):
    assert vllm_max_lora_rank(r) == size


def vllm_config(r: int) -> KnowledgeConfig:
    return KnowledgeConfig(generation=GenerationConfig(backend="vllm"), inner=InnerConfig(lora=LoraConfig(r=r)))


def test_a_rank_vllm_cannot_serve_fails_before_any_model_loads():
    with pytest.raises(ConfigError, match=r"inner.lora.r=513: vLLM serves LoRA ranks up to 512"):
        check_config(vllm_config(513))


@pytest.mark.skipif(is_vllm_available(), reason="checks the message given where vLLM is not installed")
def test_rank_4_passes_the_rank_check():
    with pytest.raises(SealError, match="needs vLLM"):  # the next check: rank 4 itself was accepted
        check_config(vllm_config(4))
