import numpy as np
import pytest

from seal.domains.arc.grid import as_grid, grid_key, validate_grid
from seal.domains.arc.tasks import Task
from seal.errors import DataError


def test_valid_grid_is_read_only_int8():
    g = validate_grid([[0, 1], [9, 3]], "t")
    assert g.dtype == np.int8 and g.shape == (2, 2) and not g.flags.writeable
    assert g.tolist() == [[0, 1], [9, 3]]


@pytest.mark.parametrize("obj, fragment", [
    ([[1, 2], [3]], "ragged rows"),
    ([], "empty grid"),
    ([[]], "empty grid"),
    ([[1, 10]], "outside 0-9"),
    ([[1, -1]], "outside 0-9"),
    ([[1, 2.0]], "non-integer"),
    ([[1, "2"]], "non-integer"),
    ([[True, 0]], "non-integer"),
    ([[None]], "non-integer"),
    ("12", "list of rows"),
    ([1, 2], "row 0 is not a list"),
    ([[0] * 31], "larger than 30x30"),
    ([[0]] * 31, "larger than 30x30"),
])
def test_invalid_grids(obj, fragment):
    with pytest.raises(DataError, match=fragment) as e:
        validate_grid(obj, "task abc: train[0].input")
    assert str(e.value).startswith("task abc: train[0].input: ")


def test_thirty_by_thirty_is_fine():
    assert validate_grid([[0] * 30] * 30, "t").shape == (30, 30)


def test_errors_name_task_and_field():
    d = {"train": [{"input": [[1]], "output": [[1]]}, {"input": [[1]], "output": [[1]]},
                   {"input": [[1]], "output": [[1, 2], [3]]}],
         "test": [{"input": [[1]]}]}
    with pytest.raises(DataError, match=r"^task 0a1b2c3d: train\[2\]\.output: ragged rows"):
        Task.from_dict(d, "0a1b2c3d")
    d["train"][2]["output"] = [[1]]
    d["test"][0]["input"] = [[12]]
    with pytest.raises(DataError, match=r"^task 0a1b2c3d: test\[0\]\.input: value 12"):
        Task.from_dict(d, "0a1b2c3d")
    del d["train"][1]["output"]
    with pytest.raises(DataError, match=r"task 0a1b2c3d: train\[1\]: missing 'output'"):
        Task.from_dict(d, "0a1b2c3d")


def test_as_grid_copies_and_freezes():
    a = np.array([[1, 2], [3, 4]], dtype=np.int8)
    g = as_grid(a)
    a[0, 0] = 9
    assert g[0, 0] == 1 and not g.flags.writeable
    assert as_grid(g) is g
    with pytest.raises(ValueError):
        as_grid(np.array([[1.5]]))


def test_grid_key_is_shape_aware():
    assert grid_key(as_grid([[1, 2]])) != grid_key(as_grid([[1], [2]]))
    assert grid_key(as_grid([[1, 2]])) == grid_key(np.array([[1, 2]], dtype=np.int64))
