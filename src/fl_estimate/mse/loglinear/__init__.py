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
