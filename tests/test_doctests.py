"""The examples in the package's docstrings run as tests: every module of `seal` is collected, so an example added
anywhere is run (modules needing an optional extra that is not installed are skipped with the reason)."""

import doctest
import importlib
import pkgutil

import pytest

import seal

MODULES = sorted(m.name for m in pkgutil.walk_packages(seal.__path__, "seal."))
WITH_EXAMPLES = {name for name in MODULES
                 if ">>> " in (importlib.util.find_spec(name).loader.get_source(name) or "")}


@pytest.mark.parametrize("name", sorted(WITH_EXAMPLES))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_examples_are_found_across_the_package():
    assert {"seal.domains.knowledge.parse", "seal.domains.knowledge.rewards", "seal.store.keys",
            "seal.reports.stats"} <= WITH_EXAMPLES
