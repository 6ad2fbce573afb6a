"""JSON files: user files read strictly (`read_json`), and every JSON file seal writes is strict JSON
(`write_json`): NaN and infinity, which Python's json writes as bare `NaN` and `Infinity`, are written as null."""

import json
import math

import numpy as np
import pytest

from seal.errors import DataError
from seal.jsonfile import finite_or_none, read_json, write_json


def strict_loads(text: str):
    """json.loads refusing NaN and Infinity, as every JSON reader but Python's does."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_are_written_as_null_and_everything_else_as_it_is(tmp_path):
    value = {"loss": float("nan"), "curve": [1.5, float("inf"), (float("-inf"), 2)], "n": 3, "name": "NaN",
             "numpy": np.float64("nan"), "ok": np.float64(0.25), "nested": {"deep": [[float("nan")]]}, "none": None}
    write_json(tmp_path / "r.json", value)
    text = (tmp_path / "r.json").read_text()
    assert strict_loads(text) == {"loss": None, "curve": [1.5, None, [None, 2]], "n": 3, "name": "NaN",
                                  "numpy": None, "ok": 0.25, "nested": {"deep": [[None]]}, "none": None}
    assert read_json(tmp_path / "r.json") == strict_loads(text)  # and seal reads back what it wrote
    assert finite_or_none(1e308) == 1e308 and math.isnan(value["loss"])  # the value given is left as it was


@pytest.mark.parametrize("text, message", [
    ('{"lr": 1e400}', "the number 1e400 is out of range (not a finite double)"),
    ('[-1E+999]', "the number -1E+999 is out of range (not a finite double)"),
    ('{"a": -Infinity}', "-Infinity is not a JSON value"),
    ("[" * 50_000 + "]" * 50_000, "not valid JSON (nested too deeply)"),
])
def test_what_python_reads_but_a_data_file_must_not_hold(tmp_path, text, message):
    path = tmp_path / "d.json"
    path.write_text(text)
    with pytest.raises(DataError) as e:
        read_json(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_file_that_is_not_utf8_is_named_with_the_byte(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(b'["caf\xe9"]')
    with pytest.raises(DataError, match=r"d\.json: not UTF-8 text \(invalid continuation byte at byte 5\)$"):
        read_json(path)
    path.write_text('["caf\u00e9", 1e308, -5e-324]')  # the largest and smallest doubles are numbers
    assert read_json(path) == ["caf\u00e9", 1e308, -5e-324]
