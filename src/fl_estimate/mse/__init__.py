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

import warnings
from typing import Any

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
        ExhaustiveSearchMSE,
        "fl_estimate.mse.SearchMSE is deprecated: it is the exhaustive search, now called "
        "ExhaustiveSearchMSE (fl_estimate.mse.ExhaustiveSearchMSE); --method search is the "
        "greedy search (GreedySearchMSE)",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        obj, message = _DEPRECATED[name]
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return obj
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
