"""Bayesian multiple systems estimation.

=================  ===========================================================================
module             contents
=================  ===========================================================================
``common``         results from posterior draws, R-hat/ESS diagnostics, ArviZ trees, trace plot;
                   the PyMC classes' sampler options (``NutsOptions``) and base (``NutsEstimator``)
``lcmcr``          :class:`LCMCR`, latent classes (Dirichlet process), Gibbs sampler
``lcmcr_kernels``  its numba kernels (imported when a fit runs)
``dga``            :class:`DGA`, exact averaging over decomposable graphical models
``loglinear``      :class:`BayesLogLinear`, Poisson log-linear model in PyMC (NUTS)
``hierarchical``   :class:`BayesHierarchicalLogLinear`, strata with partial pooling
``threshold``      :class:`BayesThresholdMSE`, Silverman's Bayesian thresholding
=================  ===========================================================================

Every estimator's ``fit`` returns an :class:`~fl_estimate.results.EstimationResult` whose
``draws`` is an ArviZ ``DataTree`` with ``N`` in its ``posterior`` group (docs/bayesian.md).
The classes are importable from here; each module is imported on first use, and none imports
PyMC, PyTensor or numba before it fits.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DGA", "LCMCR", "BayesHierarchicalLogLinear", "BayesLogLinear", "BayesThresholdMSE"]

_HOME = {
    "DGA": "dga",
    "LCMCR": "lcmcr",
    "BayesHierarchicalLogLinear": "hierarchical",
    "BayesLogLinear": "loglinear",
    "BayesThresholdMSE": "threshold",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
