import numpy as np

from seal.domains.arc.augment import Rotate
from seal.domains.arc.format import grid_to_text
from seal.domains.arc.vote import candidates_from_texts, pass_at_2, vote

A, B, C, D = (np.array([[v]]) for v in (1, 2, 3, 4))


def ids(grids):
    return [int(g[0, 0]) for g in grids]


def test_majority_within_and_across_views():
    assert ids(vote([[A, B, B], [B, C], [B, A]])) == [2, 1]


def test_ties_broken_by_total_count_then_first_occurrence():
    # A and B are each put forward by two views; B occurs more often overall
    assert ids(vote([[A, B, B], [A, B, B]])) == [2, 1]
    # full tie: first occurrence wins
    assert ids(vote([[C, D], [D, C]])) == [3, 4]
    assert ids(vote([[D], [C]])) == [4, 3]


def test_per_view_top_k_only():
    # C is third in view 0, so only views 1 and 2 put it forward; A and B have two views each, and more count
    votes = vote([[A, A, A, B, B, C], [C, A], [B, C]])
    assert ids(votes) == [1, 2]


def test_parse_failures_are_ignored():
    assert ids(vote([[None, None, B], [None], []])) == [2]
    assert vote([[None], [None, None]]) == []
    assert ids(vote([[A, B, C]], attempts=3)) == [1, 2, 3]


def test_pass_at_2():
    assert pass_at_2([A, B], np.array([[2]]))
    assert not pass_at_2([A, B, C], np.array([[3]]))  # only the first two count
    assert not pass_at_2([], A)
    assert not pass_at_2([np.array([[1, 1]])], np.array([[1], [1]]))


def test_candidates_from_texts_inverts_the_view():
    g = np.array([[1, 2], [3, 4]])
    view = Rotate(90)
    texts = [grid_to_text(view.apply_to_grid(g)), "1 2\n3 4", ""]
    out = candidates_from_texts(texts, view)
    assert np.array_equal(out[0], g) and out[1] is None and out[2] is None
    assert ids(vote([candidates_from_texts(["5"])])) == [5]
