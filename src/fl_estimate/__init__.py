"""fl_estimate: prevalence estimates of forced labour and human trafficking.

Public names only; see the sub-packages ``fl_estimate.mse`` (multiple systems estimation) and
``fl_estimate.indicators`` (indicator frameworks and survey prevalence). The names that need
pandas are imported on first use (PEP 562), so that ``import fl_estimate.cli`` (and
``fl-estimate --help``) does not load the numerical stack.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from fl_estimate._version import __version__
from fl_estimate.exceptions import (
    EstimateDoesNotExistError,
    FLEstimateError,
    InputValidationError,
)

if TYPE_CHECKING:
    from fl_estimate.mse.data import CaptureData, StratifiedCaptureData, read_capture_csv
    from fl_estimate.results import EstimationResult, compare
    from fl_estimate.simulate import Simulation, simulate

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "CaptureData": "fl_estimate.mse.data",
    "StratifiedCaptureData": "fl_estimate.mse.data",
    "read_capture_csv": "fl_estimate.mse.data",
    "EstimationResult": "fl_estimate.results",
    "compare": "fl_estimate.results",
    "Simulation": "fl_estimate.simulate",
    "simulate": "fl_estimate.simulate",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fl_estimate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package module: ``fl_estimate.simulate`` stays the function when the module of the same
    name is imported (the import system sets the submodule as an attribute of its package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
