"""TRANSITIONAL (issue 18, delete at merge): ``mse/bayes_threshold.py`` imports ``parse_model``
from here until it moves to ``mse/bayes/threshold.py``; the terms live in
:mod:`fl_estimate.mse.loglinear.terms`."""

from fl_estimate.mse.loglinear.terms import parse_model

__all__ = ["parse_model"]
