"""TRANSITIONAL (issue 18, delete at merge): ``pipeline/run.py`` imports ``SearchMSE`` from here
until it fits through :mod:`fl_estimate.mse.registry`. The estimators live in
:mod:`fl_estimate.mse.loglinear.estimators`; ``fl_estimate.mse.SearchMSE`` is the deprecated
alias of :class:`~fl_estimate.mse.loglinear.estimators.ExhaustiveSearchMSE`."""

from fl_estimate.mse.loglinear.estimators import ExhaustiveSearchMSE as SearchMSE

__all__ = ["SearchMSE"]
