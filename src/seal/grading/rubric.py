"""A judge that rates self-edits against a rubric: the cheap proxy reward of ReST-EM (`reward.kind: judge`).

SEAL's reward trains a LoRA on each self-edit and quizzes the adapted model (about 30-45 s per self-edit on an
H100). The paper's v2 appendix instead asks GPT-4.1 to score each self-edit against a rubric and uses that score as
the reward: 45.6% after ReST-EM against 47.0% with the inner loop, at a small fraction of the compute. Here the
rubric (our own wording) asks for a whole number from 0 to 10, anchored at 5 = "as useful as re-reading the passage",
and the reward is `rating / 10 - 0.5`: positive exactly when the judge finds the notes more useful than the passage
alone, so the E-step's "keep positive rewards" filter reads it as it reads the inner loop's gain over the base model.

    rater = SelfEditRater(make_backend(JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="gpt-4.1")))
    rater.rate([("Title", "passage text", "self-edit text")]).scores  # [0.8]

Works with either judge backend: an OpenAI-compatible endpoint (retries with backoff, failures are errors, never
zeros) or a local Hugging Face model (for offline runs; a small model is a weak judge). A small local model rarely
replies with the number alone (SmolLM2-135M starts retelling the passage), so the local rating is read from the
next-token distribution instead: the probability-weighted mean over the digits 0-9 (the G-Eval trick), scaled to 0-10.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from seal.errors import JudgeError
from seal.grading.judge import JudgeResult, LocalJudge, OpenAIJudge, strip_reasoning

RUBRIC_VERSION = "seal-self-edit-rubric-v1"

SYSTEM_PROMPT = (
    "You grade study notes that a language model wrote about a passage. The notes become fine-tuning data: after "
    "training on them, a model must answer questions about the passage without seeing it."
)

USER_TEMPLATE = """Passage title: {title}

Passage:
{passage}

Notes:
{notes}

Rate how much the notes would help such a model answer questions about the passage, from 0 to 10:
0  empty, off-topic, or mostly false according to the passage;
5  about as useful as the passage itself: a faithful restatement that adds nothing;
10 every fact of the passage stated correctly and self-contained (names, numbers and dates spelled out), restated
   in several forms such as short statements, consequences and question-answer pairs, and nothing the passage
   contradicts or does not support.
Invented or wrong facts count heavily against the notes.

Reply with the number only."""


def build_rubric_messages(title: str, passage: str, notes: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge to rate one self-edit.

    >>> [m["role"] for m in build_rubric_messages("T", "Some passage.", "Some notes.")]
    ['system', 'user']
    """
    user = USER_TEMPLATE.format(title=title.strip(), passage=passage.strip(), notes=notes.strip() or "(empty)")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


# The scale, wherever the reply names it: "/10", "out of 10", "scale of 10", "0-10", "1 to 10".
_SCALE = re.compile(r"/\s*10\b|\bout\s+of\s+10\b|\bscale\s+of\s+10\b|\b[01]\s*(?:-|\u2013|to)\s*10\b", re.IGNORECASE)
# A number, with its sign; "6-7" reads as 6 and -7 (ambiguous either way).
_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?")
# A rating given with its scale: "4 of 10", "4 out of 10", "4/10", "8 / 10", "4 of 5" (N and M).
_FRACTION = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|\bout\s+of\b|\bof\b)\s*(\d+(?:\.\d+)?)(?![\d.])",
                       re.IGNORECASE)


def parse_rating(reply: str | None) -> float | None:
    """The rating in a judge's reply, as a fraction of 10; None when the reply holds no unambiguous rating.

    Rule: remove reasoning blocks (`seal.grading.judge.strip_reasoning`). A rating given with its scale, "N of M",
    "N out of M" or "N/M", is N / M when it is the only one and no other number is left besides mentions of the
    scale (so "4 of 5", a judge that chose its own scale, reads 0.8, not 0.4). Otherwise remove every mention of the
    scale ("/10", "out of 10", "scale of 10", "0-10", "1 to 10"); the reply must then hold exactly one number,
    between 0 and 10 (a decimal such as 7.5 is read as it is). Several numbers or ratings (reasoning that counts
    facts before the verdict, "between 6 and 7", a numbered list), none ("seven"), a negative or out-of-range one
    (N above M), or an unclosed reasoning block make the reply unreadable: the judge is asked again, then the item
    has no rating (an error, shown), never a guessed one.

    Args:
        reply: The judge's reply text (None when an API returned no content).

    Returns:
        The rating / 10, in [0, 1], or None.

    >>> [parse_rating(r) for r in ["7", "Score: 10/10", "**3**.", "Out of 10, these notes earn a 3.", "7.5"]]
    [0.7, 1.0, 0.3, 0.3, 0.75]
    >>> [parse_rating(r) for r in ["Score: 4 of 10", "6 out of 10 (on a scale of 10)", "4 of 5", "80/100"]]
    [0.4, 0.6, 0.8, 0.8]
    >>> [parse_rating(r) for r in ["Between 6 and 7", "It has 4 facts. Rating: 6", "eleven", "12", None]]
    [None, None, None, None, None]
    >>> [parse_rating(r) for r in ["3 of 4 facts are kept: 6/10", "Score: 11 of 10", "4 of 10, maybe 5"]]
    [None, None, None]
    """
    text = strip_reasoning(reply or "") or ""
    fractions = _FRACTION.findall(text)
    if fractions:
        rest = _NUMBER.findall(_SCALE.sub(" ", _FRACTION.sub(" ", text)))
        n, m = (float(x) for x in fractions[0])
        return n / m if len(fractions) == 1 and not rest and 0 <= n <= m and m > 0 else None
    numbers = _NUMBER.findall(_SCALE.sub(" ", text))
    if len(numbers) != 1 or not 0 <= float(numbers[0]) <= 10:
        return None
    return float(numbers[0]) / 10


class SelfEditRater:
    """Rates (title, passage, self-edit) triples with a judge backend; scores are in [0, 1], None on error.

    Args:
        judge: An `OpenAIJudge` or `LocalJudge` (see `seal.grading.judge.make_backend`).
    """

    def __init__(self, judge: OpenAIJudge | LocalJudge):
        self.judge = judge

    @property
    def model_id(self) -> str:
        return self.judge.model_id

    def rate(self, items: Sequence[tuple[str, str, str]]) -> JudgeResult:
        """One rating per (title, passage, self-edit), in [0, 1]; an item whose replies stayed unreadable (see
        `parse_rating`) scores None with its error; each raw reply is kept (None for the local digit distribution).

        Raises:
            JudgeError: If the endpoint fails (see `OpenAIJudge.ask`).
        """
        if not items:
            return JudgeResult([], [], [])
        messages = [build_rubric_messages(*item) for item in items]
        if isinstance(self.judge, LocalJudge):
            return JudgeResult(expected_digit(self.judge, messages), [None] * len(messages), [None] * len(messages))
        return self.judge.ask(messages, parse_rating, "a number from 0 to 10")


@torch.no_grad()
def expected_digit(judge: LocalJudge, all_messages: list[list[dict[str, str]]]) -> list[float]:
    """Per conversation, the mean digit under the model's next-token distribution restricted to "0".."9", scaled by
    10/9 and divided by 10: a rating in [0, 1] that a model unable to follow "reply with the number only" still gives."""
    digits = [judge.tokenizer.encode(str(d), add_special_tokens=False) for d in range(10)]
    if any(len(ids) != 1 for ids in digits):
        raise JudgeError("local rubric judge: this tokenizer does not encode each digit as one token")
    ids = torch.tensor([i[0] for i in digits])
    scores: list[float] = []
    for enc in judge.encoded_batches(all_messages):
        logits = judge.model(**enc).logits[:, -1, :].float()  # left padding: the last column is every prompt's end
        probs = logits[:, ids.to(logits.device)].softmax(-1)
        scores += (probs @ torch.arange(10.0, device=probs.device) / 9).tolist()
    return scores
