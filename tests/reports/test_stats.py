"""The interval and paired-difference functions of `seal.reports.stats`, against scipy and hand-computed cases."""

import math

import pytest
from scipy import stats as sps

from seal.reports.stats import paired_difference, pooled_interval, t_interval, unit_interval, wilson


def test_t_interval_matches_scipy_one_sample_t():
    xs = [0.31, -0.12, 0.55, 0.08, 0.91, 0.27, -0.40]
    mean, lo, hi = t_interval(xs)
    ci = sps.ttest_1samp(xs, 0.0).confidence_interval(0.95)
    assert mean == pytest.approx(sum(xs) / len(xs))
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_t_interval_edge_cases():
    assert t_interval([]) == (None, None, None)
    assert t_interval([0.5]) == (0.5, None, None)
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_paired_difference_by_hand_passages_are_the_unit():
    # passage A: question differences 1 and 3 (mean 2); passage B: one shared question, difference 0;
    # question ("B", 1) is only in `a` and is not paired. Passage means 2 and 0: mean 1, sd sqrt(2), se 1, t(1).
    a = {("A", 0): 1.5, ("A", 1): 4.0, ("B", 0): 0.25, ("B", 1): 9.0}
    b = {("A", 0): 0.5, ("A", 1): 1.0, ("B", 0): 0.25}
    d = paired_difference(a, b)
    t1 = 12.706204736174698  # t(0.975, 1 degree of freedom), from tables
    assert d["mean"] == pytest.approx(1.0)
    assert d["ci95"] == pytest.approx([1.0 - t1, 1.0 + t1])
    assert (d["unit"], d["n_units"], d["n_items"]) == ("passages", 2, 3)


def test_paired_difference_one_passage_uses_questions_and_matches_scipy_paired_t():
    a = {("A", i): v for i, v in enumerate([-2.1, -1.5, -3.0, -0.7, -1.9])}
    b = {("A", i): v for i, v in enumerate([-2.9, -2.0, -3.1, -1.8, -2.2])}
    d = paired_difference(a, b)
    ci = sps.ttest_rel(list(a.values()), list(b.values())).confidence_interval(0.95)
    assert (d["unit"], d["n_units"], d["n_items"]) == ("questions", 5, 5)
    assert d["ci95"] == pytest.approx([ci.low, ci.high])


def test_no_shared_question_gives_no_difference():
    d = paired_difference({("A", 0): 1.0}, {("B", 0): 1.0})
    assert d["mean"] is None and d["ci95"] == [None, None] and d["n_items"] == 0


def test_unit_interval_averages_questions_within_a_passage_first():
    # passage A has 3 questions at 1.0, B one at 0.0: the passage mean is 0.5, not the question mean 0.75
    values = {("A", 0): 1.0, ("A", 1): 1.0, ("A", 2): 1.0, ("B", 0): 0.0}
    assert unit_interval(values)["mean"] == pytest.approx(0.5)


def test_pooled_interval_centres_the_passage_half_width_on_the_pooled_mean_and_clips():
    per = {"A": [1.0, 1.0, 1.0], "B": [0.0]}
    mean, (lo, hi) = pooled_interval(per)
    half = sps.t.ppf(0.975, 1) * math.sqrt(0.5) / math.sqrt(2)  # passage means 1 and 0
    assert mean == pytest.approx(0.75) and (lo, hi) == pytest.approx((0.75 - half, 0.75 + half))
    assert pooled_interval(per, bounds=(0.0, 1.0))[1] == [0.0, 1.0]
    assert pooled_interval({}) == (None, [None, None])


def test_wilson_by_hand():
    lo, hi = wilson(5, 10)  # p = 0.5, z = 1.96: centre 0.5, half 1.96 * sqrt(0.025 + 0.009604) / 1.384160
    assert (lo, hi) == pytest.approx((0.5 - 0.263410, 0.5 + 0.263410), abs=1e-6)
    assert wilson(0, 0) == (0.0, 0.0)
