"""The examples in the docstrings of the indicators and providers layers (and of the pipeline's
linkage sensitivity) run as doctests on the sample data.

The examples read ``data_samples/...`` as a user in a checkout of the repository types them, so
each module's examples run from the repository root (set here, whatever directory pytest was
started in). A module on this list must have examples: an empty one fails, so the list cannot
silently test nothing.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules whose examples are run; the slow ones link the sample country with splink.
MODULES = [
    "fl_estimate.indicators.answers",
    "fl_estimate.indicators.case_records",
    "fl_estimate.indicators.frameworks",
    "fl_estimate.indicators.mapping",
    "fl_estimate.indicators.prevalence",
    "fl_estimate.indicators.scoring.count",
    "fl_estimate.indicators.scoring.delphi",
    "fl_estimate.indicators.scoring.involuntariness_and_coercion",
    "fl_estimate.indicators.scoring.logic",
    "fl_estimate.indicators.scoring.paired_dimensions",
    "fl_estimate.indicators.scoring.reasons",
    "fl_estimate.indicators.scoring.records",
    "fl_estimate.indicators.scoring.scorer",
    "fl_estimate.indicators.survey.design",
    "fl_estimate.indicators.survey.estimates",
    "fl_estimate.indicators.survey.variance",
    "fl_estimate.providers.casefiles",
    "fl_estimate.providers.linkage.clusters",
    "fl_estimate.providers.linkage.comparisons",
    "fl_estimate.providers.linkage.prepare",
    "fl_estimate.providers.linkage.result",
    "fl_estimate.providers.linkage.rules",
    "fl_estimate.providers.linkage.training",
    "fl_estimate.providers.linkrun",
    "fl_estimate.providers.pseudonymise",
    "fl_estimate.providers.registry",
    "fl_estimate.providers.submissions",
    "fl_estimate.stats.labels",
    "fl_estimate.stats.tables",
    "fl_estimate.stats.release",
    pytest.param("fl_estimate.providers.linkage.model", marks=pytest.mark.slow),
    pytest.param("fl_estimate.providers.linkage.incremental", marks=pytest.mark.slow),
    pytest.param("fl_estimate.pipeline.linkage_sensitivity", marks=pytest.mark.slow),
    pytest.param("fl_estimate.pipeline.linkage_uncertainty", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
