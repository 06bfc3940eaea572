"""Covariate models for multiple systems estimation: when catchability follows what providers
record (sex, age band, nationality, form of exploitation), modelling it removes the bias that no
model of the aggregate table can.

- :class:`HugginsMSE`: conditional likelihood with individual covariates and a Horvitz-Thompson
  N (Huggins 1989; Alho 1990; R VGAM ``posbernoulli.t``).
- :class:`CovariateLogLinearMSE`: Poisson log-linear model on the table cross-classified by
  capture pattern and covariate levels, with covariate x list terms (Zwane & van der Heijden
  2005).
- :class:`PostStratifiedMSE`: any aggregate estimator (stepwise by default) fitted per level of a
  covariate, the estimates added.

All three take record-level data (one row per person: 0/1 list columns and covariate columns)
and return an :class:`~fl_estimate.results.EstimationResult` with N by covariate level in
``tables["by_level"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fl_estimate._lazy import lazy_attributes

if TYPE_CHECKING:
    from fl_estimate.mse.covariates.huggins import HugginsMSE
    from fl_estimate.mse.covariates.loglinear import CovariateLogLinearMSE
    from fl_estimate.mse.covariates.poststratified import PostStratifiedMSE
    from fl_estimate.mse.covariates.records import MISSING, CovariateRecords, prepare_records

#: public name -> module that defines it, imported on first access (PEP 562): importing one
#: sub-module (or the package) does not load every estimator (and scipy.optimize with them).
_LAZY = {
    "HugginsMSE": "fl_estimate.mse.covariates.huggins",
    "CovariateLogLinearMSE": "fl_estimate.mse.covariates.loglinear",
    "PostStratifiedMSE": "fl_estimate.mse.covariates.poststratified",
    "MISSING": "fl_estimate.mse.covariates.records",
    "CovariateRecords": "fl_estimate.mse.covariates.records",
    "prepare_records": "fl_estimate.mse.covariates.records",
}

__all__ = [
    "MISSING",
    "CovariateLogLinearMSE",
    "CovariateRecords",
    "HugginsMSE",
    "PostStratifiedMSE",
    "prepare_records",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
