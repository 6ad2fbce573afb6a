import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seal.domains.arc.augment import (Chain, Flip, IncreaseResolution, PermuteColors, RandomPermuteColors,
                                      RandomTranslateXY, Reflect, Repeat, Rotate, Translate, Transpose,
                                      basic_augmenters, chain_augmenters, geometric_views, repeat_augmenters,
                                      select_augmenters, size_augmenters, task_fits)
from seal.domains.arc.tasks import Example, Task

grids = st.tuples(st.integers(1, 10), st.integers(1, 10)).flatmap(
    lambda shape: arrays(np.int8, shape, elements=st.integers(0, 9)))

ALL = basic_augmenters() + size_augmenters() + chain_augmenters() + repeat_augmenters()
INVERTIBLE = [a for a in ALL if a.invertible] + geometric_views() + [
    PermuteColors([0, 3, 1, 2, 9, 8, 7, 6, 5, 4]), Chain([Transpose(), Repeat(2, 3), Flip(1)])]


def small_task(seed=0, n=3, side=4):
    rng = np.random.default_rng(seed)
    ex = [Example(rng.integers(0, 10, (side, side + 1)), rng.integers(0, 10, (side + 1, side))) for _ in range(n)]
    return Task("t0", ex, [Example(rng.integers(0, 10, (side, side)))])


@pytest.mark.parametrize("aug", INVERTIBLE, ids=str)
@settings(max_examples=60, deadline=None)
@given(g=grids)
def test_invert_undoes_apply(aug, g):
    assert np.array_equal(aug.invert_grid(aug.apply_to_grid(g)), g)


@settings(max_examples=60, deadline=None)
@given(g=grids, seed=st.integers(0, 2**32 - 1))
def test_random_colour_permutation_inverts_and_keeps_background(g, seed):
    task = Task("t", [Example(g, g)])
    concrete = RandomPermuteColors().resolve(task, np.random.default_rng(seed))
    out = concrete.apply_to_grid(g)
    assert np.array_equal(out == 0, g == 0)
    assert np.array_equal(concrete.invert_grid(out), g)


def test_names_are_stable():
    assert [str(a) for a in ALL] == [
        "Rotate(90)", "Rotate(270)", "Rotate(180)", "Flip(0)", "Flip(1)",
        "Reflect(0, reverse=True)", "Reflect(1, reverse=True)", "Reflect(0, reverse=False)",
        "Reflect(1, reverse=False)", "RandomTranslateXY()", "Transpose()",
        "IncreaseResolution(2)", "IncreaseHeight(2)", "IncreaseWidth(2)",
        "Chain([Rotate(90), IncreaseResolution(2)])", "Chain([Rotate(270), IncreaseResolution(2)])",
        "Chain([Rotate(180), IncreaseResolution(2)])", "Chain([Flip(0), IncreaseResolution(2)])",
        "Chain([Flip(1), IncreaseResolution(2)])", "Chain([Transpose(), IncreaseResolution(2)])",
        "Repeat(0, 2)", "Repeat(1, 2)", "Repeat(2, 2)",
    ]
    assert [str(v) for v in geometric_views()] == [
        "Identity()", "Transpose()", "Flip(0)", "Flip(1)", "Rotate(90)", "Rotate(180)", "Rotate(270)"]
    assert str(PermuteColors([0, 2, 1, 3, 4, 5, 6, 7, 8, 9])) == "PermuteColors(0213456789)"
    assert len(select_augmenters(True, False, True, False)) == 11 + 6
    assert all(not a.invertible for a in [RandomTranslateXY(), Translate(1, 1)])


def test_known_transforms():
    g = np.array([[1, 2], [3, 4]])
    assert Rotate(90).apply_to_grid(g).tolist() == [[2, 4], [1, 3]]  # counter-clockwise
    assert Flip(0).apply_to_grid(g).tolist() == [[3, 4], [1, 2]]
    assert Flip(1).apply_to_grid(g).tolist() == [[2, 1], [4, 3]]
    assert Reflect(1).apply_to_grid(g).tolist() == [[1, 2, 2, 1], [3, 4, 4, 3]]
    assert Reflect(0, reverse=True).apply_to_grid(g).tolist() == [[3, 4], [1, 2], [1, 2], [3, 4]]
    assert IncreaseResolution(2).apply_to_grid(np.array([[1, 2]])).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2]]
    assert Repeat(1, 2).apply_to_grid(np.array([[1, 2]])).tolist() == [[1, 2, 1, 2]]
    assert Repeat(2, 2).apply_to_grid(np.array([[5]])).tolist() == [[5, 5], [5, 5]]
    assert Translate(1, 1).apply_to_grid(g).tolist() == [[0, 0], [0, 1]]
    assert Translate(1, 0, wrap=True).apply_to_grid(g).tolist() == [[3, 4], [1, 2]]
    assert Chain([Rotate(90), IncreaseResolution(2)]).apply_to_grid(np.array([[1, 2]])).shape == (4, 2)


def test_task_level_application_and_size_filter():
    task = small_task()
    out = Rotate(90).apply_to_task(task)
    assert out.id == task.id and out.test[0].output is None
    assert out.train[0].input.tolist() == np.rot90(task.train[0].input).tolist()
    big = small_task(side=16)  # 17-wide grids: doubling goes over 30
    assert IncreaseResolution(2).apply_to_task(big) is None
    assert Rotate(90).apply_to_task(big) is not None and task_fits(big)


def test_random_translation_is_seeded_and_shared_by_all_grids():
    task = small_task()
    aug = RandomTranslateXY()
    a = aug.apply_to_task(task, np.random.default_rng(7))
    b = aug.apply_to_task(task, np.random.default_rng(7))
    assert a == b
    concrete = aug.resolve(task, np.random.default_rng(7))
    assert isinstance(concrete, Translate) and 0 <= concrete.dy <= 3 and 0 <= concrete.dx <= 3
    for before, after in zip(task.grids(), a.grids()):
        assert np.array_equal(after, concrete.apply_to_grid(before))


def test_chain_resolves_random_members():
    task = small_task()
    chain = Chain([RandomPermuteColors(), Rotate(90)])
    concrete = chain.resolve(task, np.random.default_rng(3))
    assert str(concrete).startswith("Chain([PermuteColors(0") and concrete.invertible and not chain.invertible


def test_augmented_task_grids_are_read_only():
    out = Flip(0).apply_to_task(small_task())
    with pytest.raises(ValueError):
        out.train[0].input[0, 0] = 1
