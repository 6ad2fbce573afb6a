"""What a condition's self-edits are like (`self_edit_shape`): words, documents, the passage's words restated, the
sentences found in the passage and the quiz answers held, each against a value worked out by hand."""

import pytest

from seal.domains.knowledge.data import QA, Passage
from seal.domains.knowledge.results import format_edit_shapes, self_edit_shape

KESTREL = Passage("k", "Kestrel Pass", "Kestrel Pass opened in 1889. Its tunnel is 4 kilometres long and was dug by "
                  "miners from Dunmoor.", (QA("When did Kestrel Pass open?", ("1889",)),
                                          QA("Who dug the tunnel?", ("miners from Dunmoor", "Dunmoor miners"))))


def test_the_passage_itself_restates_everything_and_is_grounded():
    shape = self_edit_shape([(KESTREL.context, KESTREL)])
    assert shape["passage_words"] == 1.0 and shape["grounded"] == 1.0 and shape["answers"] == 1.0
    assert shape["n"] == 1 and shape["words"] == 18 and shape["documents"] == 1


def test_an_unrelated_self_edit_restates_nothing():
    shape = self_edit_shape([("Roses grow in Lima.\nBakers rise early.", KESTREL)])
    assert shape["passage_words"] == 0.0 and shape["grounded"] == 0.0 and shape["answers"] == 0.0
    assert shape["documents"] == 2 and shape["words"] == 7


def test_means_over_self_edits_and_shares_over_sentences_and_questions():
    edits = [("1. Kestrel Pass opened in 1889.\n2. Trains from Oslo use it.", KESTREL),  # 1 of 2 grounded, 1 answer
             ("Dunmoor miners dug a tunnel.", KESTREL)]  # grounded, the second answer
    shape = self_edit_shape(edits)
    assert shape["n"] == 2 and shape["words"] == (12 + 5) / 2 and shape["documents"] == (2 + 1) / 2
    assert shape["grounded"] == pytest.approx(2 / 3)  # sentences over both self-edits, not a mean of shares
    assert shape["answers"] == pytest.approx(2 / 4)  # (self-edit, question) pairs
    # passage content stems: kestrel pass open 1889 tunnel 4 kilometr long dug miner dunmoor = 11
    assert shape["passage_words"] == pytest.approx((4 / 11 + 4 / 11) / 2)


def test_no_self_edits_no_shape_and_nothing_claimed_no_grounded_share():
    assert self_edit_shape([]) is None
    assert self_edit_shape([("Yes. It is.", KESTREL)])["grounded"] is None  # stop words only: claims nothing
    assert self_edit_shape([("Kestrel Pass opened.", Passage("q", "Q", "Kestrel Pass opened.", ()))])["answers"] is None


def test_printed_only_for_conditions_with_self_edits():
    assert format_edit_shapes({"base": {}, "passage": {"accuracy": 0.1}}) == []
    lines = format_edit_shapes({"base": {}, "gpt-4.1": {"self_edits": self_edit_shape([(KESTREL.context, KESTREL)])}})
    assert lines[0].split()[:3] == ["self-edits", "n", "words"]
    assert lines[1].split() == ["gpt-4.1", "1", "18.0", "1.0", "100.0", "100.0", "100.0"]
    assert len(lines) == 3  # header, the one condition, the legend


def test_answer_held_pairs_self_edits_that_hold_a_questions_answer_with_those_that_do_not():
    """Per question, inner loops whose self-edit holds its answer against those whose does not, across conditions;
    a question only one kind trained on is left out; averaged within passage, t over passages."""
    from seal.domains.knowledge.results import answer_held_difference, format_answer_held

    quelm = Passage("q", "Quelm", "Quelm is a red mineral from Pell.", (QA("What colour is Quelm?", ("red",)),))
    edits = {"a": [{"id": 1, "context_id": "k", "text": "Kestrel Pass opened in 1889."},
                   {"id": 2, "context_id": "q", "text": "Quelm is red."}],
             "b": [{"id": 3, "context_id": "k", "text": "The Dunmoor miners dug it."},
                   {"id": 4, "context_id": "q", "text": "Quelm comes from Pell."}]}

    def row(eid, pid, logliks, scores):
        return {"self_edit_id": eid, "context_id": pid, "details": {"logliks": logliks, "scores": scores}}

    rows = {"a": [row(1, "k", [-1.0, -4.0], [1.0, 0.0]), row(2, "q", [-2.0], [1.0])],
            "b": [row(3, "k", [-3.0, -2.5], [0.0, 1.0]), row(4, "q", [-5.0], [0.0])],
            "base": [{"self_edit_id": None, "context_id": "k", "details": {"logliks": [-9.0, -9.0]}}]}
    d = answer_held_difference(rows, edits, [KESTREL, quelm])
    # Kestrel: q0 held by a (-1) vs b (-3): +2; q1 held by b (-2.5) vs a (-4): +1.5 -> +1.75; Quelm: -2 - -5 = +3
    assert d["loglik"]["mean"] == pytest.approx((1.75 + 3.0) / 2)
    assert (d["loglik"]["n_items"], d["loglik"]["n_units"], d["loglik"]["unit"]) == (3, 2, "passages")
    assert d["accuracy"]["mean"] == pytest.approx((1.0 + 1.0) / 2)
    line = format_answer_held(d)[0]
    assert "loglik +2.375 [" in line and "3 questions, 2 passages" in line
    assert answer_held_difference({"base": rows["base"]}, {}, [KESTREL]) is None and format_answer_held(None) == []
    only_held = answer_held_difference({"a": rows["a"][1:]}, {"a": edits["a"][1:]}, [quelm])
    assert only_held["loglik"]["mean"] is None and format_answer_held(only_held) == []  # nothing to pair


def test_paired_differences_stay_in_their_columns_whatever_the_names():
    from seal.domains.knowledge.results import format_differences

    d = {"mean": 0.5, "ci95": [0.25, 0.75], "n_items": 3, "n_units": 2, "unit": "passages"}
    lines = format_differences({"passage - base": {"accuracy": d, "loglik": d},
                                "checkpoint - a-long-source-name": {"accuracy": d, "loglik": d}})
    starts = {line.index("+0.500") for line in lines[1:3]}
    assert len(starts) == 1 and lines[0].index("loglik") < next(iter(starts)) + len("+0.500")
