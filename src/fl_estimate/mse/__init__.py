"""Multiple systems estimation: capture data and population-size estimators.

Every estimator's ``fit`` returns a :class:`fl_estimate.results.EstimationResult`.
"""

from fl_estimate.mse.api import available_methods, estimate
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData, read_capture_csv
from fl_estimate.mse.estimators import LogLinearMSE, SearchMSE, StepwiseMSE
from fl_estimate.mse.greedy import GreedySearchMSE
from fl_estimate.mse.loglinear import check_existence
from fl_estimate.mse.mixture import HeterogeneityWarning, LatentClassMSE
from fl_estimate.mse.simple import ChaoLowerBound, Chapman, LincolnPetersen
from fl_estimate.mse.topmodels import AutoMSE, BicMSE

__all__ = [
    "AutoMSE",
    "BicMSE",
    "CaptureData",
    "ChaoLowerBound",
    "Chapman",
    "GreedySearchMSE",
    "HeterogeneityWarning",
    "LatentClassMSE",
    "LincolnPetersen",
    "LogLinearMSE",
    "SearchMSE",
    "StepwiseMSE",
    "StratifiedCaptureData",
    "available_methods",
    "check_existence",
    "estimate",
    "read_capture_csv",
]
