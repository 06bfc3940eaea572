"""The examples in the docstrings run, on the sample data, and print what they say (STYLE.md:
"Examples (doctested on sample data)").

Add a module to ``MODULES`` when its docstrings gain examples. Examples read sample files by paths
relative to the repository root (``data_samples/uk_2013.csv``, as a user in a checkout types
them); each module runs with the root as working directory, wherever pytest was started.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules whose docstring examples are run (extend this list).
MODULES: tuple[str, ...] = (
    # estimators: the method registry and the options
    "fl_estimate.mse.patterns",
    "fl_estimate.mse.options",
    "fl_estimate.mse.registry",
    "fl_estimate.mse.api",
    # the log-linear family
    "fl_estimate.mse.loglinear",
    "fl_estimate.mse.loglinear.terms",
    "fl_estimate.mse.loglinear.table",
    "fl_estimate.mse.loglinear.existence",
    "fl_estimate.mse.loglinear.fit",
    "fl_estimate.mse.loglinear.grid",
    "fl_estimate.mse.loglinear.intervals",
    "fl_estimate.mse.loglinear.selection",
    "fl_estimate.mse.loglinear.result",
    "fl_estimate.mse.loglinear.estimators",
    "fl_estimate.mse.loglinear.topmodels",
    "fl_estimate.mse.loglinear.greedy",
    # other frequentist estimators
    "fl_estimate.mse.closed_form",
    "fl_estimate.mse.latent_class",
    # safe writers, messages in the user's language
    "fl_estimate.outputs.cells",
    "fl_estimate.i18n",
)

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    examples = [ex for t in tests for ex in t.examples]
    assert examples, f"{name} is listed but has no docstring examples"
    skipped = [ex.source for ex in examples if ex.options.get(doctest.SKIP)]
    assert not skipped, f"{name}: examples marked +SKIP do not count: {skipped}"
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for t in tests:
        runner.run(t, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()
