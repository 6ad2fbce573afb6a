"""Self-written quizzes: the unadapted model writes question-answer pairs about a passage, to be quizzed on them.

Source: our extension, not in the paper. SEAL's knowledge reward needs an answer key (each passage's gold
questions); a self-written quiz removes that need: the model before adaptation asks itself about the passage, and
a self-edit is rewarded by how much better the adapted model answers those questions (`reward.kind: self-quiz`,
`seal.domains.knowledge.rewards`). The gold questions are never read.

`self_quiz` samples `k` completions of `PROMPT`, reads the pairs with `parse_pairs` and keeps, with `filter_pairs`,
those a closed-book quiz can grade: a short answer found in the passage, a question that does not give it away, no
repeated question.
"""

from __future__ import annotations

import re
from typing import Sequence

from seal.domains.knowledge.config import SelfQuizConfig
from seal.domains.knowledge.data import QA, Passage
from seal.grading.exact import contains_words, normalize_answer
from seal.models.generate import Generator
from seal.outer.sample import stable_seed

# A one-shot completion prompt (no chat template): measured on SmolLM2-135M-Instruct with 4 samples on 3 built-in
# passages, an instruction in the chat template gave 0 pairs that pass the filter (questions without answers,
# answers not in the passage), this one-shot text gave 9 (BENCHMARKS.md, "Issue 18"). The example's names occur in
# no built-in passage; a question that names them is dropped by `filter_pairs`.
EXAMPLE_PASSAGE = ("The Lorn Bridge crosses the river Asha at Pellin. It was built in 1822 by the engineer Mara Voss "
                   "and is 140 metres long.")
PROMPT = (
    "Read the passage, then write questions about its facts, each followed by its answer copied from the passage."
    "\n\n"
    f"Title: Lorn Bridge\nPassage: {EXAMPLE_PASSAGE}\n"
    "Question: Which river does the Lorn Bridge cross?\nAnswer: Asha\n"
    "Question: Who built the Lorn Bridge?\nAnswer: Mara Voss\n"
    "Question: In which year was the Lorn Bridge built?\nAnswer: 1822\n\n"
    "Title: {title}\nPassage: {passage}\n"
    "Question:"
)

# A line that opens a question or an answer: an optional list marker ("-", "1.", "2)"), optional markdown emphasis,
# the label ("Question", "Q", "Answer", "A") with an optional number ("Q1", "Question 2"), a colon, then the text.
_LINE = re.compile(r"\s*(?:[-*•]\s+|\(?\d+[.)]\s*)?[*_]*\s*(?P<label>question|answer|q|a)\s*\d*\s*[*_]*\s*:[*_]*"
                   r"\s*(?P<text>.*)", re.IGNORECASE)
_INLINE_ANSWER = re.compile(r"\s[*_]*answer\s*[*_]*\s*:[*_]*\s*", re.IGNORECASE)  # "Question: ... Answer: ..."


def quiz_prompt(passage: Passage) -> str:
    """`PROMPT` on the passage's title and text: plain text that ends with "Question:", for the model to continue."""
    return PROMPT.replace("{title}", passage.title).replace("{passage}", passage.context.strip())


def _clean(text: str) -> str:
    """Text of a pair without surrounding spaces and markdown emphasis."""
    return text.strip().strip("*_").strip()


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """The (question, answer) pairs of a completion, in order.

    A pair is a `Question:` line followed by an `Answer:` line; `Q:`/`A:`, numbering (`1.`, `Q1:`, `Question 2:`),
    list dashes, markdown bold (`**Question:**`), blank lines between, and both on one line
    (`Question: ... Answer: ...`) are read too. An answer's final full stop is dropped. Anything else is ignored:
    an answer with no question before it, a question never answered (a later question replaces it), other lines.

    >>> parse_pairs("Sure!\\n1. **Question:** Where is Tor?\\n\\n**Answer:** on the coast.\\nQ2: Who rules?\\nA2: Ana")
    [('Where is Tor?', 'on the coast'), ('Who rules?', 'Ana')]
    >>> parse_pairs("Answer: orphan\\nQuestion: unanswered\\nQuestion: How old? Answer: 900 years")
    [('How old?', '900 years')]
    """
    pairs, question = [], None
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        body = m["text"]
        if m["label"].lower() in ("question", "q"):
            question, *inline = _INLINE_ANSWER.split(body, maxsplit=1)
            question = _clean(question)
            if not inline:
                continue
            body = inline[0]
        answer = _clean(body).removesuffix(".").strip()
        if question and answer:
            pairs.append((question, answer))
        question = None
    return pairs


_NAME = re.compile(r"\b[A-Z][\w'-]*")


def _names_in_passage(question: str, text: str) -> bool:
    """Whether every capitalised word of `question` after its first word (a name) occurs in `text` (normalised)."""
    words = _NAME.findall(question.split(maxsplit=1)[1] if " " in question.strip() else "")
    return all(contains_words(text, normalize_answer(w)) for w in words if normalize_answer(w))


def filter_pairs(pairs: Sequence[tuple[str, str]], passage: Passage, max_questions: int | None = None) -> list[QA]:
    """The pairs a closed-book quiz on `passage` can grade, in order, as `QA`s (one answer each).

    A pair is kept when its answer, normalised (`normalize_answer`: lower case, no punctuation or articles), is not
    empty and occurs as whole words in the normalised title and text of the passage; the normalised question does not
    contain the answer; every capitalised word of the question after its first (a name) occurs in the passage too
    (a small model copies names from the prompt's example); and no earlier kept question normalises to the same
    text. At most `max_questions` are kept (None: all).

    >>> p = Passage("p", "Tor", "Tor is a harbour town of 900 people.", ())
    >>> filter_pairs([("How many live in Tor?", "900"), ("What is Tor?", "a city"), ("Is Tor a town?", "town"),
    ...               ("How many live in Tor", "900 people"), ("Where is it?", "the"), ("What is Tor?", "harbour"),
    ...               ("Who built the Lorn Bridge in Tor?", "900")], p)
    [QA(question='How many live in Tor?', answers=('900',)), QA(question='What is Tor?', answers=('harbour',))]
    """
    kept, seen = [], set()
    for question, answer in pairs:
        if max_questions is not None and len(kept) >= max_questions:
            break
        norm, key = normalize_answer(answer), normalize_answer(question)
        text = f"{passage.title} {passage.context}"
        in_passage = bool(norm) and contains_words(text, norm) and _names_in_passage(question, text)
        if in_passage and not contains_words(question, norm) and key not in seen:
            seen.add(key)
            kept.append(QA(question, (answer,)))
    return kept


def _continued(text: str) -> str:
    r"""A continuation of `quiz_prompt` with the "Question:" the prompt ends with, unless the model wrote it again.

    >>> _continued(" Who?\nAnswer: Ana"), _continued("Question: Who?")
    ('Question: Who?\nAnswer: Ana', 'Question: Who?')
    """
    return text if _LINE.match(text) else "Question:" + text


def self_quiz(generator: Generator, passage: Passage, cfg: SelfQuizConfig, seed: int,
              written: list[tuple[str, str]] | None = None) -> Passage:
    """The passage with the questions the model behind `generator` writes about it in place of its own.

    One `generate` call samples `cfg.k` continuations of the same prompt (`quiz_prompt`, which ends with the first
    "Question:") with `cfg.max_new_tokens`,
    `cfg.temperature` and `cfg.top_p`, seeded with `stable_seed(seed, "self-quiz", passage.id)`; their pairs, in
    sample order, go through `filter_pairs` (at most `cfg.max_questions`). Returns `Passage(id, title, context,
    questions)` with the same id, title and text; its questions may be none when no pair survives. `written`, when
    given, receives every pair read before the filter (`seal learn` counts the ones it dropped). Errors of the
    generator propagate.
    """
    prompts = [quiz_prompt(passage)] * cfg.k
    texts = generator.generate(prompts, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                               top_p=cfg.top_p, seed=stable_seed(seed, "self-quiz", passage.id))
    pairs = [pair for text in texts for pair in parse_pairs(_continued(text))]
    if written is not None:
        written.extend(pairs)
    kept = filter_pairs(pairs, passage, cfg.max_questions)
    return Passage(passage.id, passage.title, passage.context, tuple(kept))
