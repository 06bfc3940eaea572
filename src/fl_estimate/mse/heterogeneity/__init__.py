"""Heterogeneous catchability: Rcapture's closed-population family (M0, Mt, Mh, Mth, Mb, Mbh).

- :class:`ClosedPopulationModels` / :func:`closedp_table`: every model at once, as Rcapture's
  ``closedp.t`` (with ``intervals=True`` also ``closedpCI.t``'s profile intervals);
- :class:`HeterogeneityMSE`: one model (``Mh`` / ``Mth`` with a Chao, Poisson, Darroch or Gamma
  heterogeneity form, optionally with two-list interactions) with the package's
  :class:`~fl_estimate.results.EstimationResult`;
- :class:`ClosedpMSE`: the best of the family by AIC or BIC, the whole table attached.
"""

from fl_estimate.mse.heterogeneity.closedp import (
    ClosedpFit,
    ClosedPopulationModels,
    ClosedpResult,
    closedp_table,
    fit_closedp_model,
)
from fl_estimate.mse.heterogeneity.design import ClosedpModel, closedp_catalogue
from fl_estimate.mse.heterogeneity.estimator import ClosedpMSE, HeterogeneityMSE
from fl_estimate.mse.heterogeneity.profile import ProfileInterval, profile_interval

__all__ = [
    "ClosedPopulationModels",
    "ClosedpFit",
    "ClosedpMSE",
    "ClosedpModel",
    "ClosedpResult",
    "HeterogeneityMSE",
    "ProfileInterval",
    "closedp_catalogue",
    "closedp_table",
    "fit_closedp_model",
    "profile_interval",
]
