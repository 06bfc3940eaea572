"""Multiple systems estimation: capture data and population-size estimators.

Every estimator's ``fit`` returns a :class:`fl_estimate.results.EstimationResult`;
:func:`estimate` fits any of them by name (:mod:`fl_estimate.mse.registry`).

Sub-modules: :mod:`~fl_estimate.mse.data` (capture tables), :mod:`~fl_estimate.mse.loglinear`
(log-linear models: fit, existence, selection, intervals, estimators),
:mod:`~fl_estimate.mse.closed_form` (Lincoln–Petersen, Chapman, Chao),
:mod:`~fl_estimate.mse.latent_class` (finite-mixture ML, heterogeneity check), the Bayesian
estimators, :mod:`~fl_estimate.mse.options` (:class:`IntervalOptions`) and
:mod:`~fl_estimate.mse.registry` (method name -> class and options).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fl_estimate.exceptions import HeterogeneityWarning
    from fl_estimate.mse import registry
    from fl_estimate.mse.api import available_methods, estimate
    from fl_estimate.mse.closed_form import ChaoLowerBound, Chapman, LincolnPetersen
    from fl_estimate.mse.data import CaptureData, StratifiedCaptureData, read_capture_csv
    from fl_estimate.mse.latent_class import LatentClassMSE
    from fl_estimate.mse.loglinear import (
        AutoMSE,
        BicMSE,
        ExhaustiveSearchMSE,
        GreedySearchMSE,
        LogLinearMSE,
        StepwiseMSE,
        check_existence,
    )
    from fl_estimate.mse.options import IntervalOptions

#: public name -> module that defines it. The names are imported on first access (PEP 562), so
#: that importing one sub-module (``fl_estimate.mse.data`` for ``fl-estimate describe``) does not
#: load every estimator and scipy.stats with it.
_LAZY = {
    "HeterogeneityWarning": "fl_estimate.exceptions",
    "available_methods": "fl_estimate.mse.api",
    "estimate": "fl_estimate.mse.api",
    "ChaoLowerBound": "fl_estimate.mse.closed_form",
    "Chapman": "fl_estimate.mse.closed_form",
    "LincolnPetersen": "fl_estimate.mse.closed_form",
    "CaptureData": "fl_estimate.mse.data",
    "StratifiedCaptureData": "fl_estimate.mse.data",
    "read_capture_csv": "fl_estimate.mse.data",
    "LatentClassMSE": "fl_estimate.mse.latent_class",
    "AutoMSE": "fl_estimate.mse.loglinear",
    "BicMSE": "fl_estimate.mse.loglinear",
    "ExhaustiveSearchMSE": "fl_estimate.mse.loglinear",
    "GreedySearchMSE": "fl_estimate.mse.loglinear",
    "LogLinearMSE": "fl_estimate.mse.loglinear",
    "StepwiseMSE": "fl_estimate.mse.loglinear",
    "check_existence": "fl_estimate.mse.loglinear",
    "IntervalOptions": "fl_estimate.mse.options",
}

__all__ = [
    "AutoMSE",
    "BicMSE",
    "CaptureData",
    "ChaoLowerBound",
    "Chapman",
    "ExhaustiveSearchMSE",
    "GreedySearchMSE",
    "HeterogeneityWarning",
    "IntervalOptions",
    "LatentClassMSE",
    "LincolnPetersen",
    "LogLinearMSE",
    "StepwiseMSE",
    "StratifiedCaptureData",
    "available_methods",
    "check_existence",
    "estimate",
    "read_capture_csv",
    "registry",
]

#: Names that changed, kept for one release: old name -> (new object, message).
_DEPRECATED = {
    "SearchMSE": (
        "ExhaustiveSearchMSE",
        "fl_estimate.mse.SearchMSE is deprecated: it is the exhaustive search, now called "
        "ExhaustiveSearchMSE (fl_estimate.mse.ExhaustiveSearchMSE); --method search is the "
        "greedy search (GreedySearchMSE)",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "registry":
        return importlib.import_module("fl_estimate.mse.registry")
    if name in _DEPRECATED:
        new_name, message = _DEPRECATED[name]
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return __getattr__(new_name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
