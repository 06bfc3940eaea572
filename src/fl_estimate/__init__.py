"""fl_estimate: prevalence estimates of forced labour and human trafficking.

Public names only; see the sub-packages ``fl_estimate.mse`` (multiple systems estimation) and
``fl_estimate.indicators`` (indicator frameworks and survey prevalence).
"""

from fl_estimate._version import __version__
from fl_estimate.exceptions import (
    EstimateDoesNotExistError,
    FLEstimateError,
    InputValidationError,
)
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData, read_capture_csv
from fl_estimate.results import EstimationResult, compare
from fl_estimate.simulate import Simulation, simulate

__all__ = [
    "CaptureData",
    "EstimateDoesNotExistError",
    "EstimationResult",
    "FLEstimateError",
    "InputValidationError",
    "Simulation",
    "StratifiedCaptureData",
    "__version__",
    "compare",
    "read_capture_csv",
    "simulate",
]
