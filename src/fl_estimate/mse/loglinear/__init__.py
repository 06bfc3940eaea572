"""Poisson log-linear models for multiple systems estimation, by extended maximum likelihood.

Modules, bottom first:

- :mod:`~fl_estimate.mse.loglinear.terms`: terms and hierarchical models, their names, the
  catalogue of models;
- :mod:`~fl_estimate.mse.loglinear.table`: a capture table's cell counts and design matrices;
- :mod:`~fl_estimate.mse.loglinear.existence`: does the extended MLE exist and is it
  identifiable (Fienberg–Rinaldo linear program, rank, certificates);
- :mod:`~fl_estimate.mse.loglinear.fit`: IRLS with step-halving, :class:`LogLinearFit`;
- :mod:`~fl_estimate.mse.loglinear.grid` (and the compiled
  :mod:`~fl_estimate.mse.loglinear.irls_numba`): many models on many count vectors at once;
- :mod:`~fl_estimate.mse.loglinear.intervals`: Wald, profile likelihood, bootstrap, BCa;
- :mod:`~fl_estimate.mse.loglinear.selection`: stepwise and exhaustive model selection;
- :mod:`~fl_estimate.mse.loglinear.result`: from a fit to an
  :class:`~fl_estimate.results.EstimationResult`, the same way for every estimator;
- estimators: :mod:`~fl_estimate.mse.loglinear.estimators` (:class:`LogLinearMSE`,
  :class:`StepwiseMSE`, :class:`ExhaustiveSearchMSE`), :mod:`~fl_estimate.mse.loglinear.topmodels`
  (:class:`BicMSE`, :class:`AutoMSE`: MultipleSystemsEstimation 1.2's BIC and top-models
  bootstrap), :mod:`~fl_estimate.mse.loglinear.greedy` (:class:`GreedySearchMSE`).

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import Table, fit_loglinear, parse_model
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> table = Table.from_data(data)
>>> table.k, table.n
(6, 2744.0)
>>> round(fit_loglinear(table, parse_model("", data.lists)).estimate)
12214
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fl_estimate._lazy import lazy_attributes

if TYPE_CHECKING:
    from fl_estimate.mse.loglinear.estimators import ExhaustiveSearchMSE, LogLinearMSE, StepwiseMSE
    from fl_estimate.mse.loglinear.existence import ExistenceCheck, certify_no_mle, check_existence
    from fl_estimate.mse.loglinear.fit import (
        LogLinearFit,
        LoglinearFit,
        fit_loglinear,
        irls,
        irls_batch,
    )
    from fl_estimate.mse.loglinear.greedy import GreedySearchMSE, greedy_search
    from fl_estimate.mse.loglinear.grid import GridFits, ManyFits, fit_grid, fit_many
    from fl_estimate.mse.loglinear.intervals import (
        BootstrapResult,
        bootstrap,
        profile_interval,
        wald_log_interval,
    )
    from fl_estimate.mse.loglinear.selection import (
        SearchResult,
        StepwisePath,
        exhaustive_search,
        stepwise,
    )
    from fl_estimate.mse.loglinear.table import Table, design, param_terms
    from fl_estimate.mse.loglinear.terms import (
        Model,
        hierarchical_models,
        model_label,
        msenotation,
        parse_model,
        term_label,
    )
    from fl_estimate.mse.loglinear.topmodels import AutoMSE, BicMSE, TopModelsBCa, top_models_bca

#: public name -> module that defines it, imported on first access (PEP 562): importing one
#: sub-module (or the package) does not load every estimator, scipy.optimize and scipy.stats.
_LAZY = {
    "ExhaustiveSearchMSE": "fl_estimate.mse.loglinear.estimators",
    "LogLinearMSE": "fl_estimate.mse.loglinear.estimators",
    "StepwiseMSE": "fl_estimate.mse.loglinear.estimators",
    "ExistenceCheck": "fl_estimate.mse.loglinear.existence",
    "certify_no_mle": "fl_estimate.mse.loglinear.existence",
    "check_existence": "fl_estimate.mse.loglinear.existence",
    "LogLinearFit": "fl_estimate.mse.loglinear.fit",
    "LoglinearFit": "fl_estimate.mse.loglinear.fit",
    "fit_loglinear": "fl_estimate.mse.loglinear.fit",
    "irls": "fl_estimate.mse.loglinear.fit",
    "irls_batch": "fl_estimate.mse.loglinear.fit",
    "GreedySearchMSE": "fl_estimate.mse.loglinear.greedy",
    "greedy_search": "fl_estimate.mse.loglinear.greedy",
    "GridFits": "fl_estimate.mse.loglinear.grid",
    "ManyFits": "fl_estimate.mse.loglinear.grid",
    "fit_grid": "fl_estimate.mse.loglinear.grid",
    "fit_many": "fl_estimate.mse.loglinear.grid",
    "BootstrapResult": "fl_estimate.mse.loglinear.intervals",
    "bootstrap": "fl_estimate.mse.loglinear.intervals",
    "profile_interval": "fl_estimate.mse.loglinear.intervals",
    "wald_log_interval": "fl_estimate.mse.loglinear.intervals",
    "SearchResult": "fl_estimate.mse.loglinear.selection",
    "StepwisePath": "fl_estimate.mse.loglinear.selection",
    "exhaustive_search": "fl_estimate.mse.loglinear.selection",
    "stepwise": "fl_estimate.mse.loglinear.selection",
    "Table": "fl_estimate.mse.loglinear.table",
    "design": "fl_estimate.mse.loglinear.table",
    "param_terms": "fl_estimate.mse.loglinear.table",
    "Model": "fl_estimate.mse.loglinear.terms",
    "hierarchical_models": "fl_estimate.mse.loglinear.terms",
    "model_label": "fl_estimate.mse.loglinear.terms",
    "msenotation": "fl_estimate.mse.loglinear.terms",
    "parse_model": "fl_estimate.mse.loglinear.terms",
    "term_label": "fl_estimate.mse.loglinear.terms",
    "AutoMSE": "fl_estimate.mse.loglinear.topmodels",
    "BicMSE": "fl_estimate.mse.loglinear.topmodels",
    "TopModelsBCa": "fl_estimate.mse.loglinear.topmodels",
    "top_models_bca": "fl_estimate.mse.loglinear.topmodels",
}

__all__ = [
    "AutoMSE",
    "BicMSE",
    "BootstrapResult",
    "ExhaustiveSearchMSE",
    "ExistenceCheck",
    "GreedySearchMSE",
    "GridFits",
    "LogLinearFit",
    "LogLinearMSE",
    "LoglinearFit",
    "ManyFits",
    "Model",
    "SearchResult",
    "StepwiseMSE",
    "StepwisePath",
    "Table",
    "TopModelsBCa",
    "bootstrap",
    "certify_no_mle",
    "check_existence",
    "design",
    "exhaustive_search",
    "fit_grid",
    "fit_loglinear",
    "fit_many",
    "greedy_search",
    "hierarchical_models",
    "irls",
    "irls_batch",
    "model_label",
    "msenotation",
    "param_terms",
    "parse_model",
    "profile_interval",
    "stepwise",
    "term_label",
    "top_models_bca",
    "wald_log_interval",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
