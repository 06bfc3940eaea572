"""The examples in the docstrings of the annual run's modules, the results and disclosure
control run as tests (../shared/STYLE.md asks for examples that run). The lead merges this list
with the other layers' lists."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstrings hold examples; each must have at least one and pass them all.
MODULES = (
    "fl_estimate.seeds",
    "fl_estimate._figures",
    "fl_estimate.exceptions",
    "fl_estimate.results",
    "fl_estimate.disclosure",
    "fl_estimate.reporting.spec",
    "fl_estimate.pipeline.strata",
    "fl_estimate.pipeline.tables",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
