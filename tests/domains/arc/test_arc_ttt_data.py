import numpy as np
import pytest

from seal.domains.arc.format import format_task_prompt, grid_to_text, text_to_grid
from seal.domains.arc.tasks import Example, Task
from seal.domains.arc.ttt_data import augment_tasks, leave_out_tasks, make_ttt_examples


def make_task(n=4, seed=0, side=3):
    rng = np.random.default_rng(seed)
    train = [Example(rng.integers(0, 10, (side, side)), rng.integers(0, 10, (side, side))) for _ in range(n)]
    return Task("t", train, [Example(rng.integers(0, 10, (side, side)), np.full((side, side), 7))])


def test_leave_one_out_tasks():
    task = make_task(4)
    loo = leave_out_tasks(task, 1)
    assert len(loo) == 4
    for i, t in enumerate(loo):
        assert t.test == (task.train[i],)
        assert list(t.train) == [d for k, d in enumerate(task.train) if k != i]
    l2o = leave_out_tasks(task, 2)
    assert len(l2o) == 4 * 3 and all(len(t.train) == 2 for t in l2o)
    assert all(t.test[0] not in t.train for t in l2o)
    assert leave_out_tasks(make_task(1), 1) == [] and leave_out_tasks(make_task(2), 2) == []


def test_without_augmentation_targets_are_demonstration_outputs():
    task = make_task(4)
    pairs = make_ttt_examples(task, False, False, False, False)
    outputs = {grid_to_text(d.output) for d in task.train}
    assert pairs and all(target in outputs for _, target in pairs)
    assert {target for _, target in pairs} == outputs  # every demonstration is held out once
    for prompt, target in pairs:
        held = next(d for d in task.train if grid_to_text(d.output) == target)
        assert prompt.endswith(f"Input:\n{grid_to_text(held.input)}\nOutput:\n")
        assert prompt.count("Input:") == len(task.train)  # three demonstrations + the held-out input
    unshuffled = format_task_prompt(task.train[1:], task.train[0].input)
    assert (unshuffled, grid_to_text(task.train[0].output)) in pairs
    # the real test pair (its input and its output 777...) never appears
    assert not any(grid_to_text(task.test[0].input) in p for p, _ in pairs)


def test_augmented_targets_have_a_demonstration_output_shape_or_doubled():
    task = make_task(3, side=3)
    pairs = make_ttt_examples(task, True, True, True, True, leave_two_out=True)
    for _, target in pairs:
        assert text_to_grid(target).shape in {(3, 3), (6, 3), (3, 6), (6, 6)}


def test_cap_dedup_and_determinism():
    task = make_task(5)
    pairs = make_ttt_examples(task, True, True, True, True, leave_two_out=True)
    assert len(pairs) == 250 and len(set(pairs)) == 250
    assert make_ttt_examples(task, True, True, True, True, leave_two_out=True) == pairs
    assert make_ttt_examples(task, True, True, True, True, leave_two_out=True, seed=1) != pairs
    small = make_ttt_examples(task, True, False, False, False, max_examples=10)
    assert len(small) == 10 and len(set(small)) == 10


def test_duplicate_demonstrations_are_deduplicated():
    d = Example([[1, 0]], [[0, 1]])
    task = Task("dup", [d, d, d], [Example([[2, 0]])])
    pairs = make_ttt_examples(task, False, False, False, False)
    assert len(pairs) == 1


def test_leave_two_out_fills_up_to_the_cap():
    task = make_task(4)
    one = make_ttt_examples(task, True, False, False, False)
    both = make_ttt_examples(task, True, False, False, False, leave_two_out=True)
    assert len(one) < len(both) <= 250
    assert both[:len(one)] == one  # leave-one-out pairs come first


def test_single_demonstration_gives_no_data():
    assert make_ttt_examples(make_task(1), True, True, True, True, leave_two_out=True) == []


def test_augment_tasks_drops_oversized():
    task = make_task(3, side=20)
    from seal.domains.arc.augment import IncreaseResolution
    out = augment_tasks(leave_out_tasks(task), [IncreaseResolution(2)], np.random.default_rng(0))
    assert all(t.train[0].input.shape == (20, 20) for t in out)


def test_bad_cap():
    with pytest.raises(ValueError):
        make_ttt_examples(make_task(), False, False, False, False, max_examples=0)


def test_augmented_pseudo_tasks_invert_to_the_held_out_output():
    from seal.domains.arc.augment import basic_augmenters, chain_augmenters, size_augmenters

    task = make_task(3)
    for aug in [a for a in basic_augmenters() + size_augmenters() + chain_augmenters() if a.invertible]:
        for loo in leave_out_tasks(task):
            out = aug.apply_to_task(loo)
            assert np.array_equal(aug.invert_grid(out.test[0].output), loo.test[0].output)
