"""Grounding of what `seal learn` keeps (our extension, not in the paper): a self-quiz question and a self-edit's
sentences are kept only when they are found in their passage, so an invented fact neither scores nor trains.

Words are compared as the project's answer grader compares answers (`seal.grading.exact.normalize_answer`: lower
case, no punctuation, no articles) after a light suffix rule (`stem`: a plural `s`/`es`/`ies`, `ed`, `ing` and `er`
removed, a few irregular pasts such as "won" read as their present), so "bridges" finds "bridge", "crossed" finds
"crosses" and "won" finds "winning". A word is a *content word* unless it is one of the `STOP_WORDS` (pronouns,
auxiliaries, prepositions, conjunctions, question words and a few vague words: a small fixed list, no tokenizer
library; the project has none as a dependency).

- A *sentence* (`sentence_check`) is grounded when every number (a word holding a digit: "1201", "K7"), every
  capitalised content word (a name: "Ama", "Kestrel", `Model.Status`; a sentence's first word too, so a sentence
  that opens with a word the passage lacks is dropped) and every `POLARITY` word ("not", "least", "only": they turn
  a claim around) occurs in the passage, and at least `threshold` of its distinct content words do. A sentence
  without content words claims nothing: it is kept and not counted. List markers and `Question N:`/`Answer:` labels
  are not words of the claim.
- A *quiz question* (`quiz_check`) is kept when its answer occurs in the passage as whole normalised words (as
  `seal.domains.knowledge.selfquiz.filter_pairs` asks too) and its question is grounded as a sentence is.
- A *self-edit* (`edit_check`) is cut into lines and each line into sentences; ungrounded sentences are dropped,
  and the self-edit is not kept at all when no sentence, or fewer than `min_kept` of its sentences, is grounded: its
  reward was measured by training on the whole text, which then says little about what is left.

What it cannot see: a claim that recombines the passage's own words wrongly ("the least important chip" when the
passage says "the most important") passes when its words are there; a paraphrase in other words is dropped. The
threshold trades the two (help text of `learn.grounding.threshold`).

>>> p = "Tor is a harbour town with 12 bridges. It was founded in 1201 by Ama Venn."
>>> [sentence_check(s, p, 0.6).grounded for s in ("Tor has twelve bridges.", "Ama Venn founded Tor in 1201.",
...                                                 "Tor was founded in 1202.", "Ama Venn's son Olo founded Tor.")]
[True, True, False, False]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from seal.domains.knowledge.data import Passage
from seal.grading.exact import contains_words, normalize_answer
from seal.learn.config import GroundingConfig

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers herself
him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves yes one ones thing things also many much
called named name kind type year years number
""".split())
POLARITY = frozenset("not no never none nothing least most only first last".split())  # each must be in the passage

_WORD = re.compile(r"\w+(?:['’.,\-]\w+)*")  # a word with inner apostrophes, dots, commas or hyphens: "1,201", "K-7"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")  # sentences end at '.', '!' or '?' before whitespace
_MARKER = re.compile(r"^\s*(?:[-*•#>]+|\(?\d+[.)](?=\s|$))")  # a list marker or heading in front of a claim
_LABEL = re.compile(r"[*_]*\b(?:question|answer|q|a)\s*\d*\s*[*_]*\s*:", re.IGNORECASE)  # "Question 2:", "A:"


# Past forms that no suffix rule reaches, as their present form (a small list of common verbs)
IRREGULAR = dict(pair.split(":") for pair in """
won:win led:lead built:build made:make began:begin begun:begin sank:sink sunk:sink held:hold kept:keep gave:give
given:give took:take taken:take wrote:write written:write grew:grow grown:grow ran:run sold:sell bought:buy
brought:bring came:come became:become went:go gone:go told:tell said:say thought:think stood:stand fell:fall
fallen:fall rose:rise risen:rise drew:draw drawn:draw chose:choose chosen:choose taught:teach caught:catch
""".split())


def stem(word: str) -> str:
    """`word` (normalised) as its present form when it is an `IRREGULAR` past, else without a plural ending (`s`,
    `es`, `ies`), `ed` or `ing` (at least 3 letters left) or `er` (at least 4) and then a doubled final consonant,
    then without a final `e` (at least 4 letters), so that the forms of a word meet; a word with a digit is kept
    whole.

    >>> [stem(w) for w in ("bridges", "bridge", "cities", "crossed", "crosses", "crossing", "baked", "bake")]
    ['bridg', 'bridg', 'city', 'cross', 'cross', 'cross', 'bak', 'bak']
    >>> [stem(w) for w in ("venns", "glass", "bus", "1201", "won", "winning", "winner", "led", "leader", "water")]
    ['venn', 'glass', 'bus', '1201', 'win', 'win', 'win', 'lead', 'lead', 'water']
    """
    if any(ch.isdigit() for ch in word):
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    for suffix, repl, left in (("ies", "y", 3), ("es", "", 3), ("s", "", 3), ("ed", "", 3), ("ing", "", 3),
                               ("er", "", 4)):
        if word.endswith(suffix) and len(word) - len(suffix) >= left and not word.endswith(("ss", "us", "is")):
            word = word[: len(word) - len(suffix)] + repl
            if suffix in ("ed", "ing", "er") and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # winn(ing) -> win, plann(ed) -> plan
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _words(text: str) -> list[tuple[str, bool]]:
    """(normalised word, capitalised) for each word of `text`; words that normalise to nothing (articles) left out."""
    out = []
    for raw in _WORD.findall(text):
        norm = normalize_answer(raw.replace("’", "'"))
        for part in norm.split():
            out.append((part, raw[0].isupper()))
    return out


def _stems(text: str) -> set[str]:
    return {stem(w) for w, _ in _words(text)}


def content_stems(text: str) -> set[str]:
    """The stems (`stem`) of `text`'s content words: its normalised words less the `STOP_WORDS`.

    >>> sorted(content_stems("The bridges of Tor were built in 1201."))
    ['1201', 'bridg', 'build', 'tor']
    """
    return {stem(w) for w, _ in _words(text) if w not in STOP_WORDS}


@dataclass(frozen=True)
class Check:
    """One sentence or question against its passage: grounded or not, and the words not found (why, for the user)."""

    text: str
    grounded: bool
    missing: tuple[str, ...] = ()
    claims: int = 1  # 0: no content word, nothing claimed

    def to_dict(self) -> dict:
        return {"text": self.text, "missing": list(self.missing)}


def sentence_check(sentence: str, passage: str, threshold: float, found: set[str] | None = None) -> Check:
    """Whether `sentence` is grounded in `passage` (rules in the module docstring); `found`: `passage`'s stems when
    already computed. `threshold` in [0, 1]."""
    found = _stems(passage) if found is None else found
    claim = _LABEL.sub(" ", _MARKER.sub("", sentence))
    content: dict[str, bool] = {}  # content word -> whether it must be found
    for word, capital in _words(claim):
        if word in POLARITY or word not in STOP_WORDS:
            required = capital or word in POLARITY or any(ch.isdigit() for ch in word)
            content[word] = content.get(word, False) or required
    missing = tuple(w for w in content if stem(w) not in found)
    if not content:
        return Check(sentence, True, claims=0)
    enough = (len(content) - len(missing)) / len(content) >= threshold
    return Check(sentence, enough and not any(content[w] for w in missing), missing)


def quiz_check(question: str, answer: str, passage: str, threshold: float) -> Check:
    """Whether a self-written question is kept: its answer occurs in `passage` as whole normalised words, and the
    question is grounded as a sentence (`sentence_check`); the answer itself, when missing, is what `missing` names.

    >>> p = "The Kestrel K7 is our most important chip."
    >>> [quiz_check(q, a, p, 0.6).grounded for q, a in (("Which chip is the most important?", "The Kestrel K7"),
    ...     ("Which chip is the least important?", "The Kestrel K7"), ("What is our best chip?", "Kestrel K8"))]
    [True, False, False]
    """
    norm = normalize_answer(answer)
    if not norm or not contains_words(passage, norm):
        return Check(question, False, (answer,))
    return sentence_check(question, passage, threshold)


def ground_quiz(quiz: Passage, written: Sequence[tuple[str, str]], threshold: float) -> tuple[Passage, list[dict]]:
    """`quiz` (a self-written quiz, after `filter_pairs`) with only the questions `quiz_check` keeps, against its
    title and text, and the ungrounded ones: each of its questions dropped here and each pair of `written` (the pairs
    read before `filter_pairs`, empty when unknown) that fails `quiz_check`, once per normalised question and answer,
    as {"question", "answer", "missing"}.

    >>> from seal.domains.knowledge.data import QA
    >>> q = Passage("p", "Tor", "Tor has 12 bridges.", (QA("How many bridges has Tor?", ("12",)),
    ...                                                 QA("Which chip is least used?", ("Tor",))))
    >>> kept, dropped = ground_quiz(q, [("How many bridges has Tor?", "12"), ("Who rules Tor?", "Ama")], 0.6)
    >>> [qa.question for qa in kept.questions], [d["question"] for d in dropped]
    (['How many bridges has Tor?'], ['Which chip is least used?', 'Who rules Tor?'])
    """
    text = f"{quiz.title} {quiz.context}"
    kept, dropped, seen = [], [], set()
    pairs = [(qa.question, qa.answers[0], qa) for qa in quiz.questions] + [(q, a, None) for q, a in written]
    for question, answer, qa in pairs:
        check = quiz_check(question, answer, text, threshold)
        if check.grounded:
            kept += [qa] if qa is not None else []
        elif (key := (normalize_answer(question), normalize_answer(answer))) not in seen:
            seen.add(key)
            dropped.append({"question": question, "answer": answer, "missing": list(check.missing)})
    return Passage(quiz.id, quiz.title, quiz.context, tuple(kept)), dropped


def sentences(text: str) -> list[tuple[int, str]]:
    """(line number, sentence) of each sentence of `text`, line by line (a self-edit's lines are its training
    documents), blank lines left out."""
    return [(i, s.strip()) for i, line in enumerate(text.splitlines()) for s in _SENTENCE.split(line) if s.strip()]


@dataclass(frozen=True)
class EditCheck:
    """A self-edit against its passage: the text left after dropping ungrounded sentences (lines kept as lines),
    the dropped sentences, how many sentences claim something (have a content word), and whether the self-edit is
    kept at all (at least one and at least `min_kept` of those grounded)."""

    text: str
    dropped: tuple[Check, ...]
    n_sentences: int
    kept: bool


def edit_check(text: str, passage: str, threshold: float, min_kept: float) -> EditCheck:
    """`text` with its ungrounded sentences dropped (`sentence_check`), each line of what is left one line.

    >>> e = edit_check("Tor has 12 bridges.\\nRoses are red. Tor sings at night.", "Tor is a town with 12 bridges.",
    ...                0.6, 0.5)
    >>> e.text, [d.text for d in e.dropped], e.kept
    ('Tor has 12 bridges.', ['Roses are red.', 'Tor sings at night.'], False)
    """
    found = _stems(passage)
    lines: dict[int, list[str]] = {}
    dropped, claims = [], 0
    for line, sentence in sentences(text):
        check = sentence_check(sentence, passage, threshold, found)
        claims += check.claims
        if check.grounded:
            lines.setdefault(line, []).append(sentence)
        else:
            dropped.append(check)
    kept_text = "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))
    grounded = claims - len(dropped)
    return EditCheck(kept_text, tuple(dropped), claims, grounded > 0 and grounded >= min_kept * claims)


def summary(grounding: GroundingConfig | None, quizzes: dict[str, Passage], ungrounded: dict[str, list[dict]],
            edit_drops: dict[str, dict]) -> dict | None:
    """The counts of what grounding kept and dropped, with its settings (seal-learn.json, results.json, the table,
    the model card, the report): `quizzes` the grounded quizzes, `ungrounded` their dropped questions and
    `edit_drops` the self-edits' drops (`seal.recipes.learn.write_quizzes`, `best_edits`); None when
    `learn.grounding` is off."""
    if grounding is None:
        return None
    return {"threshold": grounding.threshold, "min_kept": grounding.min_kept,
            "questions_kept": sum(len(q.questions) for q in quizzes.values()),
            "questions_dropped": sum(map(len, ungrounded.values())),
            "sentences": sum(d["sentences"] for d in edit_drops.values()),
            "sentences_dropped": sum(len(d["ungrounded"]) for d in edit_drops.values()),
            "edits_passed_over": sum(len(d["passed_over"]) for d in edit_drops.values())}


def describe(g: dict) -> str:
    """What grounding dropped, in one line (`summary`'s counts): `seal learn`'s table, the model card, the report."""
    return (f"{g['questions_dropped']} self-quiz questions dropped ({g['questions_kept']} kept), "
            f"{g['sentences_dropped']} of {g['sentences']} kept self-edit sentences dropped, "
            f"{g['edits_passed_over']} self-edits passed over (under {g['min_kept']:.0%} of their sentences found); "
            f"found: a question's answer in the passage, and {g['threshold']:.0%} of a sentence's words with all its "
            "numbers and names")
