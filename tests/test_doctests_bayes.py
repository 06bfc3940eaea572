"""The examples in the Bayesian estimators' docstrings run and print what they say.

(Until the suite's own doctest list covers ``fl_estimate.mse.bayes``: then this file goes.)
The examples fit small simulated tables with short chains; the PyMC ones reuse the model
shapes of the tests, so PyTensor's compile cache serves them.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "fl_estimate.mse.bayes.common",
    "fl_estimate.mse.bayes.lcmcr",
    "fl_estimate.mse.bayes.dga",
    "fl_estimate.mse.bayes.loglinear",
    "fl_estimate.mse.bayes.hierarchical",
    "fl_estimate.mse.bayes.threshold",
]


@pytest.mark.bayes
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    if name != "fl_estimate.mse.bayes.hierarchical":
        assert result.attempted > 0, f"{name} has no examples"
