"""The examples in docstrings run as tests."""

import doctest
import importlib

import pytest

MODULES = ["seal.domains.knowledge.data", "seal.domains.knowledge.parse", "seal.grading.rubric", "seal.outer.select",
           "seal.recipes.bench_rewards", "seal.reports.stats"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
