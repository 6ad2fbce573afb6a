"""Store keys round-trip: every key a run writes parses back to the parts it was built from, context ids with
slashes, dots and dashes included; anything else is refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seal.store import keys

CONTEXT = st.text(st.sampled_from("abcXYZ019-_./ "), min_size=1, max_size=20).filter(
    lambda s: not s.startswith("/") and not s.endswith("/") and "//" not in s)
CONDITION = st.sampled_from(["passage", "self-edit", "external", "checkpoint", "train", "icl", "oracle",
                             "ttt-untrained", "seal", "bench-multi-4"])


@given(st.integers(0, 50), CONDITION, CONTEXT, st.integers(0, 30), st.integers(0, 9))
def test_inner_and_self_edit_keys_round_trip(round, condition, context, index, seed):
    inner = keys.parse(keys.inner(round, condition, context, index, seed))
    assert inner == keys.Key(round, condition, context, index, seed, "inner")
    edit = keys.parse(keys.self_edit(round, condition, context, index))
    assert edit == keys.Key(round, condition, context, index, None, "self-edit")


@given(st.integers(0, 50), CONDITION, CONTEXT)
def test_base_and_skipped_keys_round_trip(round, condition, context):
    assert keys.parse(keys.base(round, context)) == keys.Key(round, "base", context, None, None, "base")
    assert keys.parse(keys.skipped(round, condition, context)) == keys.Key(round, condition, context, None, None,
                                                                           "skipped")


def test_keys_of_different_units_differ():
    built = {keys.inner(1, "train", "p", 0, 0), keys.self_edit(1, "train", "p", 0), keys.base(1, "p"),
             keys.skipped(1, "train", "p"), keys.evaluation(1), keys.inner(1, "train", "p", 0, 1),
             keys.inner(0, "train", "p", 0, 0), keys.continual_edit("continual/none/q0", 1),
             keys.continual_quiz("continual/none/q0", 1, "p"), keys.continual_base("p"), keys.cpt("passage"),
             keys.cpt("passage", "p")}
    assert len(built) == 12


@pytest.mark.parametrize("bad", ["", "round/1", "r1", "rx/train/p/0", "r1/train", "r1/train/p/x/s1", "r1/train/p/0/sx",
                                 "continual/base/p", "cpt/passage/p"])
def test_other_strings_are_no_store_keys(bad):
    with pytest.raises(ValueError, match="not a store key"):
        keys.parse(bad)
