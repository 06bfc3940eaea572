"""Heterogeneous catchability: Rcapture's closed-population family (M0, Mt, Mh, Mth, Mb, Mbh).

- :class:`ClosedPopulationModels` / :func:`closedp_table`: every model at once, as Rcapture's
  ``closedp.t`` (with ``intervals=True`` also ``closedpCI.t``'s profile intervals);
- :class:`HeterogeneityMSE`: one model (``Mh`` / ``Mth`` with a Chao, Poisson, Darroch or Gamma
  heterogeneity form, optionally with two-list interactions) with the package's
  :class:`~fl_estimate.results.EstimationResult` (:class:`MhMSE` and :class:`MthMSE` fix the
  model, for the method registry's ``mh`` and ``mth``);
- :class:`ClosedpMSE`: the best of the family by AIC or BIC, the whole table attached;
- :mod:`~fl_estimate.mse.heterogeneity.diagnosis`: the calibrated heterogeneity diagnosis and a
  selected model's heterogeneity extension (the default policy's trigger and upper limit);
  :mod:`~fl_estimate.mse.heterogeneity.mixture`: the two-class (Pledger Mth2) extension of a
  log-linear model and its parametric-bootstrap likelihood-ratio test.

References
----------
Rivest, L.-P. & Baillargeon, S. (2007). Applications and extensions of Chao's moment estimator
for the size of a closed population. *Biometrics* 63, 999-1006 (and the R package Rcapture).
Darroch, J. N., Fienberg, S. E., Glonek, G. F. V. & Junker, B. W. (1993). A three-sample
multiple-recapture approach to census population estimation with heterogeneous catchability.
*JASA* 88, 1137-1148.
Cormack, R. M. (1992). Interval estimation for mark-recapture studies of closed populations.
*Biometrics* 48, 567-576.
Chao, A. (1987). Estimating the population size for capture-recapture data with unequal
catchability. *Biometrics* 43, 783-791.
Rivest, L.-P. & Lévesque, T. (2001). Improved log-linear model estimators of abundance in
capture-recapture experiments. *Canadian Journal of Statistics* 29, 555-572.
Cordeiro, G. M. & McCullagh, P. (1991). Bias correction in generalized linear models. *JRSS B*
53, 629-643.
Pledger, S. (2000). Unified maximum likelihood estimates for closed capture-recapture models
using mixtures. *Biometrics* 56, 434-442.
Besag, J. & Clifford, P. (1991). Sequential Monte Carlo p-values. *Biometrika* 78, 301-304.
Fienberg, S. E. & Rinaldo, A. (2012). Maximum likelihood estimation in log-linear models.
*Annals of Statistics* 40, 996-1023.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fl_estimate._lazy import lazy_attributes

if TYPE_CHECKING:
    from fl_estimate.mse.heterogeneity.closedp import (
        ClosedpFit,
        ClosedPopulationModels,
        ClosedpResult,
        closedp_table,
        fit_closedp_model,
    )
    from fl_estimate.mse.heterogeneity.design import ClosedpModel, closedp_catalogue
    from fl_estimate.mse.heterogeneity.estimator import ClosedpMSE, HeterogeneityMSE, MhMSE, MthMSE
    from fl_estimate.mse.heterogeneity.profile import ProfileInterval, profile_interval

#: public name -> module that defines it, imported on first access (PEP 562): importing one
#: sub-module (or the package) does not load every estimator, scipy.optimize and scipy.stats.
_LAZY = {
    "ClosedpFit": "fl_estimate.mse.heterogeneity.closedp",
    "ClosedPopulationModels": "fl_estimate.mse.heterogeneity.closedp",
    "ClosedpResult": "fl_estimate.mse.heterogeneity.closedp",
    "closedp_table": "fl_estimate.mse.heterogeneity.closedp",
    "fit_closedp_model": "fl_estimate.mse.heterogeneity.closedp",
    "ClosedpModel": "fl_estimate.mse.heterogeneity.design",
    "closedp_catalogue": "fl_estimate.mse.heterogeneity.design",
    "ClosedpMSE": "fl_estimate.mse.heterogeneity.estimator",
    "HeterogeneityMSE": "fl_estimate.mse.heterogeneity.estimator",
    "MhMSE": "fl_estimate.mse.heterogeneity.estimator",
    "MthMSE": "fl_estimate.mse.heterogeneity.estimator",
    "ProfileInterval": "fl_estimate.mse.heterogeneity.profile",
    "profile_interval": "fl_estimate.mse.heterogeneity.profile",
}

__all__ = [
    "ClosedPopulationModels",
    "ClosedpFit",
    "ClosedpMSE",
    "ClosedpModel",
    "ClosedpResult",
    "HeterogeneityMSE",
    "MhMSE",
    "MthMSE",
    "ProfileInterval",
    "closedp_catalogue",
    "closedp_table",
    "fit_closedp_model",
    "profile_interval",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
