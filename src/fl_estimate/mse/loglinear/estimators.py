"""Log-linear MSE estimators with the one results API: a fixed model (:class:`LogLinearMSE`),
stepwise selection (:class:`StepwiseMSE`) and exhaustive AIC/BIC search
(:class:`ExhaustiveSearchMSE`); intervals Wald, profile likelihood or bootstrap
(:class:`~fl_estimate.mse.options.IntervalOptions`).

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import ExhaustiveSearchMSE, LogLinearMSE, StepwiseMSE
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> res = StepwiseMSE().fit(data)
>>> round(res.estimate), res.interval_kind, res.conditional_on_model
(11418, 'wald-log', True)
>>> res.model
'main effects + LA:NG + LA:PF + NG:GO + NG:GP + PF:GP + PF:NCA + GO:GP'
>>> res.tables["steps"]["added"].tolist()
['PF:NCA', 'LA:NG', 'NG:GP', 'LA:PF', 'PF:GP', 'GO:GP', 'NG:GO']
>>> prof = LogLinearMSE("LA:NG + PF:GO").fit(data, interval="profile")
>>> round(prof.estimate), [round(x) for x in prof.interval], prof.interval_kind
(13176, [11558, 15135], 'profile')

Exhaustive search over the 1,024 pairwise models of five lists:

>>> five = data.drop_list("NCA")
>>> best = ExhaustiveSearchMSE("bic").fit(five)
>>> best.diagnostics["models_searched"], round(best.estimate)
(1024, 23133)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Unpack

import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.fit import LogLinearFit, fit_loglinear
from fl_estimate.mse.loglinear.result import failed_result, fit_result, require_table
from fl_estimate.mse.loglinear.selection import (
    SearchResult,
    StepwisePath,
    exhaustive_search,
    stepwise,
)
from fl_estimate.mse.loglinear.table import Table
from fl_estimate.mse.loglinear.terms import Model, parse_model
from fl_estimate.mse.options import IntervalArgs, IntervalOptions
from fl_estimate.results import EstimationResult

__all__ = [
    "ExhaustiveSearchMSE",
    "FixedModel",
    "LogLinearEstimator",
    "LogLinearMSE",
    "RankingEstimator",
    "Search",
    "Stepwise",
    "StepwiseMSE",
]

#: The largest number of lists an exhaustive pairwise search takes (2^15 models at 6).
MAX_SEARCH_LISTS = 6

# ---------------------------------------------------------------------------- procedures
# Picklable "whole procedure" objects: the bootstrap reruns them on every replicate.


@dataclass(frozen=True)
class FixedModel:
    """Fit one given model."""

    model: Model
    spec: str = "main effects"
    selects = False

    def fit(self, table: Table) -> LogLinearFit:
        return fit_loglinear(table, self.model)

    def __call__(self, table: Table) -> float:
        return self.fit(table).estimate

    def settings(self) -> dict[str, Any]:
        return {"model": self.spec}


@dataclass(frozen=True)
class Stepwise:
    """Forward stepwise selection of two-list terms, then the selected model's fit."""

    pthresh: float = 0.02
    criterion: str = "pvalue"
    selects = True

    def fit(self, table: Table) -> LogLinearFit:
        return stepwise(table, pthresh=self.pthresh, criterion=self.criterion).fit

    def __call__(self, table: Table) -> float:
        return self.fit(table).estimate

    def settings(self) -> dict[str, Any]:
        return {"pthresh": self.pthresh, "criterion": self.criterion}


@dataclass(frozen=True)
class Search:
    """Exhaustive AIC/BIC search over the hierarchical models up to ``max_order``."""

    criterion: str = "bic"
    max_order: int = 2
    selects = True

    def search(self, table: Table) -> SearchResult:
        return exhaustive_search(table, criterion=self.criterion, max_order=self.max_order)

    def fit(self, table: Table) -> LogLinearFit:
        return fit_loglinear(table, self.search(table).best_model)

    def __call__(self, table: Table) -> float:
        s = self.search(table)
        return float(s.fits.estimate[s.best_index])

    def settings(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "max_order": self.max_order}


# ---------------------------------------------------------------------------- estimators


class LogLinearEstimator(ABC):
    """What the log-linear estimators share: ``fit(data, *, options=None, **interval)``.

    Subclasses implement :meth:`fit_with`, which receives the one
    :class:`~fl_estimate.mse.options.IntervalOptions` built from the arguments of ``fit``.
    """

    method = "loglinear"

    def fit(
        self,
        data: CaptureData,
        *,
        options: IntervalOptions | None = None,
        **interval: Unpack[IntervalArgs],
    ) -> EstimationResult:
        """Fit (selecting the model if the estimator selects) and compute the interval.

        Parameters
        ----------
        data : CaptureData
        options : IntervalOptions, optional
            How the interval is computed (default ``IntervalOptions()``: Wald, 95%).
        **interval
            Fields of :class:`~fl_estimate.mse.options.IntervalOptions` replacing those of
            ``options``: ``interval`` (``"wald"``: on the log unobserved count; ``"profile"``:
            Rcapture's multinomial profile likelihood; ``"bootstrap"``: the whole procedure,
            selection included, on every replicate), ``level``, ``n_boot``, ``bootstrap``
            (``"nonparametric"`` or ``"parametric"``), ``boot_interval`` (``"bca"`` or
            ``"percentile"``), ``seed``, ``n_jobs``, ``executor``. The seed makes results
            identical whatever the number of workers.

        Returns
        -------
        EstimationResult
        """
        require_table(data)
        return self.fit_with(data, IntervalOptions.build(options, **interval))

    @abstractmethod
    def fit_with(self, data: CaptureData, options: IntervalOptions) -> EstimationResult:
        """:meth:`fit` with the interval options as one object."""


class RankingEstimator(LogLinearEstimator):
    """A log-linear estimator that ranks models: ``fit`` also takes ``top``, the number of models
    listed in ``tables["models"]``."""

    def fit(
        self,
        data: CaptureData,
        *,
        top: int = 20,
        options: IntervalOptions | None = None,
        **interval: Unpack[IntervalArgs],
    ) -> EstimationResult:
        """As :meth:`LogLinearEstimator.fit`; ``top``: models listed in ``tables["models"]``."""
        require_table(data)
        return self.fit_with(data, IntervalOptions.build(options, **interval), top=top)

    @abstractmethod
    def fit_with(
        self, data: CaptureData, options: IntervalOptions, *, top: int = 20
    ) -> EstimationResult:
        """:meth:`fit` with the interval options as one object."""


class LogLinearMSE(LogLinearEstimator):
    """Poisson log-linear model with given interactions, fitted by extended maximum likelihood.

    Parameters
    ----------
    model : str or iterable, optional
        Interaction terms, e.g. ``"LA:NG + PF:GO"``, ``["LA:NG"]`` or the reference notation
        ``"[12,35]"``. Default: main effects only (independence). Lower-order terms implied by a
        higher-order one are added.

    Notes
    -----
    ``N = n + exp(intercept)``: the Poisson estimate (SparseMSE, MultipleSystemsEstimation). Pairs
    of lists that never overlap, when their interaction is in the model, are fitted at minus infinity
    (the cells containing both fixed at zero). A model whose extended MLE does not exist or is not
    identifiable gives a result whose ``status`` says why, never a number.
    """

    method = "loglinear"

    def __init__(self, model: str | Iterable[str] | None = None) -> None:
        self.model = model

    def fit_with(self, data: CaptureData, options: IntervalOptions) -> EstimationResult:
        """Fit the model and compute the interval (see :meth:`LogLinearEstimator.fit`)."""
        model = parse_model(self.model, data.lists)
        name = "independence" if not model else self.method
        spec = str(self.model or "main effects")
        return fit_result(name, data, FixedModel(model, spec), options)


class StepwiseMSE(LogLinearEstimator):
    """Forward stepwise selection of two-list interactions (SparseMSE's rule by default).

    Parameters
    ----------
    pthresh : float
        Add the pair with the smallest one-sided Poisson p-value while it is below this (0.02, the
        value Chan, Silverman & Vincent (2021) found best in simulation).
    criterion : {"pvalue", "aic", "bic"}
        The p-value rule, or add the pair that lowers AIC/BIC most while it does.

    Notes
    -----
    Candidate models must pass the existence and identifiability checks. With ``interval="wald"``
    or ``"profile"`` the interval is conditional on the selected model (``conditional_on_model``);
    the bootstrap repeats the selection on every replicate (Chan, Silverman & Vincent 2021).
    """

    method = "stepwise"

    def __init__(self, pthresh: float = 0.02, criterion: str = "pvalue") -> None:
        if criterion not in ("pvalue", "aic", "bic"):
            raise ModelSpecificationError(
                N_("criterion must be 'pvalue', 'aic' or 'bic', got {criterion!r}",
                   criterion=criterion)
            )  # fmt: skip
        self.pthresh = pthresh
        self.criterion = criterion

    def fit_with(self, data: CaptureData, options: IntervalOptions) -> EstimationResult:
        """Select, fit and compute the interval (see :meth:`LogLinearEstimator.fit`)."""
        path = stepwise(Table.from_data(data), pthresh=self.pthresh, criterion=self.criterion)
        return self.result_from_path(data, options, path)

    def result_from_path(
        self, data: CaptureData, options: IntervalOptions, path: StepwisePath
    ) -> EstimationResult:
        """The result of a selection path already run on ``data`` (the default policy needs the
        selected model's terms as well as the result)."""
        proc = Stepwise(self.pthresh, self.criterion)
        steps = pd.DataFrame(path.steps, columns=["added", "score", "estimate"])
        method = "stepwise" if self.criterion == "pvalue" else f"stepwise-{self.criterion}"
        return fit_result(
            method,
            data,
            proc,
            options,
            fit=path.fit,
            diagnostics={"candidates_refused": path.n_refused},
            tables={"steps": steps},
        )


class ExhaustiveSearchMSE(RankingEstimator):
    """Exhaustive search over hierarchical log-linear models, best by AIC or BIC.

    Parameters
    ----------
    criterion : {"bic", "aic"}
        ``BIC = -2 log L + p log n``, ``AIC = -2 log L + 2 p``; L the Poisson likelihood of the
        observed cells, n the number observed, p every parameter (those at minus infinity too).
    max_order : int
        Highest order of interaction in the catalogue (2: two-list terms, ``2**(K(K-1)/2)``
        models).

    Notes
    -----
    Models whose extended MLE does not exist or is not identifiable are refused; the result says
    how many models were searched and refused (``diagnostics``) and ranks the best ones
    (``tables["models"]``). Called ``SearchMSE`` before version 0.2 (that name is a deprecated
    alias; ``--method search`` is the greedy search,
    :class:`~fl_estimate.mse.loglinear.greedy.GreedySearchMSE`).
    """

    method = "bic"

    def __init__(self, criterion: str = "bic", max_order: int = 2) -> None:
        if criterion not in ("aic", "bic"):
            raise ModelSpecificationError(
                N_("criterion must be 'aic' or 'bic', got {criterion!r}", criterion=criterion)
            )
        self.criterion = criterion
        self.max_order = max_order

    def check_size(self, data: CaptureData) -> None:
        """Refuse a catalogue too large to enumerate (more than 6 lists with pairs)."""
        if data.n_lists > MAX_SEARCH_LISTS and self.max_order >= 2:
            raise ModelSpecificationError(
                N_(
                    "exhaustive search over {n} lists is too large (2^{pairs} models); use "
                    "method 'stepwise', 'auto' or 'search' (greedy search, not exhaustive)",
                    n=data.n_lists,
                    pairs=data.n_lists * (data.n_lists - 1) // 2,
                )
            )

    def search_diagnostics(self, res: SearchResult) -> dict[str, Any]:
        """What the search did: models searched and refused, order, criterion, LP calls."""
        return {
            "models_searched": res.n_searched,
            "models_refused": res.n_refused,
            "max_order": self.max_order,
            "criterion": self.criterion,
            "lp_calls": res.fits.n_lp_calls,
        }

    def fit_with(
        self, data: CaptureData, options: IntervalOptions, *, top: int = 20
    ) -> EstimationResult:
        """Search, fit the best model and compute the interval (see :meth:`RankingEstimator.fit`)."""
        self.check_size(data)
        proc = Search(self.criterion, self.max_order)
        table = Table.from_data(data)
        try:
            res = proc.search(table)
        except EstimateDoesNotExistError as exc:
            return failed_result(self.criterion, data, exc)
        return fit_result(
            self.criterion,
            data,
            proc,
            options,
            fit=fit_loglinear(table, res.best_model),
            diagnostics=self.search_diagnostics(res),
            tables={"models": pd.DataFrame(res.ranking(data.lists, top=top))},
        )
