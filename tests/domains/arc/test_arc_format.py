import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seal.domains.arc.format import (INSTRUCTION, ParseError, format_example, format_task_prompt, grid_to_text,
                                     text_to_grid)
from seal.domains.arc.tasks import Example
from seal.errors import SealError

grids = st.tuples(st.integers(1, 30), st.integers(1, 30)).flatmap(
    lambda shape: arrays(np.int8, shape, elements=st.integers(0, 9)))


@settings(max_examples=200, deadline=None)
@given(grids)
def test_text_round_trip(g):
    text = grid_to_text(g)
    assert np.array_equal(text_to_grid(text), g)
    assert text_to_grid(f"  \n{text}\n\n ").tolist() == g.tolist()
    assert len(text.split("\n")) == g.shape[0]


def test_exact_format():
    assert grid_to_text(np.array([[0, 1, 2], [3, 4, 5]])) == "012\n345"
    g = text_to_grid("012\n345\n")
    assert g.dtype == np.int8 and g.tolist() == [[0, 1, 2], [3, 4, 5]] and not g.flags.writeable


@pytest.mark.parametrize("text", [
    "", "   \n ", "012\n34", "01 2", "0,1\n2,3", "012\r\n345", "012\n\n345", "0a1", "[[0, 1]]",
    "\u0661\u0662",  # Arabic-Indic digits are str.isdigit() but not colours
    "0" * 31, "0\n" * 31,
])
def test_strict_parser_rejects(text):
    with pytest.raises(ParseError):
        text_to_grid(text)


def test_parse_error_is_a_value_error_not_a_user_error():
    assert issubclass(ParseError, ValueError) and not issubclass(ParseError, SealError)


def test_prompt_layout():
    demos = [Example([[1, 2]], [[2, 1]]), Example([[3]], [[3]])]
    prompt = format_task_prompt(demos, np.array([[5, 6]]))
    assert prompt == (f"{INSTRUCTION}\n\nInput:\n12\nOutput:\n21\n\nInput:\n3\nOutput:\n3\n\n"
                      "Input:\n56\nOutput:\n")
    assert format_example(Example([[7]])) == "Input:\n7\nOutput:\n"
    assert "\n" not in INSTRUCTION
