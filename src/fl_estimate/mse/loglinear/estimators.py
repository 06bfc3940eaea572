"""Log-linear MSE estimators with the one results API: a fixed model, stepwise selection, and
exhaustive AIC/BIC search; intervals Wald, profile likelihood or bootstrap.

Examples
--------
>>> import fl_estimate as fe
>>> from fl_estimate.mse import StepwiseMSE
>>> data = fe.read_capture_csv("data_samples/uk_2013.csv")   # doctest: +SKIP
>>> res = StepwiseMSE().fit(data)                               # doctest: +SKIP
>>> round(res.estimate)                                         # doctest: +SKIP
11418
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.intervals import (
    BootstrapResult,
    bootstrap,
    profile_interval,
    safe_point,
    wald_log_interval,
)
from fl_estimate.mse.loglinear import LoglinearFit, Table, fit_loglinear
from fl_estimate.mse.selection import SearchResult, exhaustive_search, stepwise
from fl_estimate.mse.terms import Model, msenotation, parse_model, term_label
from fl_estimate.results import EstimationResult, provenance

__all__ = ["LogLinearMSE", "SearchMSE", "StepwiseMSE"]

INTERVALS = ("wald", "profile", "bootstrap")

# ---------------------------------------------------------------------------- procedures
# Picklable "whole procedure" objects: the bootstrap reruns them on every replicate.


@dataclass(frozen=True)
class FixedModel:
    model: Model

    def fit(self, table: Table) -> LoglinearFit:
        return fit_loglinear(table, self.model)

    def __call__(self, table: Table) -> float:
        return safe_point(lambda t: self.fit(t).estimate, table)


@dataclass(frozen=True)
class Stepwise:
    pthresh: float = 0.02
    criterion: str = "pvalue"

    def fit(self, table: Table) -> LoglinearFit:
        return stepwise(table, pthresh=self.pthresh, criterion=self.criterion).fit

    def __call__(self, table: Table) -> float:
        return safe_point(lambda t: self.fit(t).estimate, table)


@dataclass(frozen=True)
class Search:
    criterion: str = "bic"
    max_order: int = 2

    def search(self, table: Table) -> SearchResult:
        return exhaustive_search(table, criterion=self.criterion, max_order=self.max_order)

    def fit(self, table: Table) -> LoglinearFit:
        return fit_loglinear(table, self.search(table).best_model)

    def __call__(self, table: Table) -> float:
        def point(t: Table) -> float:
            s = self.search(t)
            return float(s.fits.estimate[s.best_index])

        return safe_point(point, table)


# ---------------------------------------------------------------------------- result building


def _coef_table(fit: LoglinearFit) -> pd.DataFrame:
    return pd.DataFrame(fit.coefficients(), columns=["term", "estimate", "std_error"])


def _diagnostics(fit: LoglinearFit) -> dict[str, Any]:
    lists = fit.table.lists
    d: dict[str, Any] = {
        "deviance": fit.deviance,
        "df_residual": fit.df_residual,
        "loglik": fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "n_params": fit.n_params,
        "log_unobserved": float(fit.coef[0]),
        "se_log_unobserved": fit.se_log_unobserved,
        "boundary_terms": ", ".join(term_label(t, lists) for t in fit.boundary_terms) or "none",
        "irls_iterations": fit.iterations,
    }
    if fit.table.k <= 9:
        d["model_reference_notation"] = msenotation(fit.model, fit.table.k)
    return d


def _interval_from(
    fit: LoglinearFit,
    procedure: FixedModel | Stepwise | Search,
    *,
    interval: str,
    level: float,
    n_boot: int,
    bootstrap_kind: str,
    boot_interval: str,
    seed: SeedLike,
    n_jobs: int | None,
    executor: Executor | None,
) -> tuple[tuple[float | None, float | None], str, dict[str, Any], str | None, Any]:
    """(interval, kind, extra diagnostics, note, draws)."""
    if interval == "wald":
        return wald_log_interval(fit, level), "wald-log", {}, None, None
    if interval == "profile":
        pi = profile_interval(fit, level, extend=100.0)
        note = None
        if pi.high is None:
            note = (
                f"the profile likelihood stays above the cut-off up to N = {pi.search_limit:,.0f} "
                f"(100 times the estimate): the data do not bound N above"
            )
        if pi.low_at_observed:
            note = (note + "; " if note else "") + "the lower end is the observed count"
        return (pi.low, pi.high), "profile", {"multinomial_estimate": pi.estimate}, note, None
    if interval == "bootstrap":
        boot: BootstrapResult = bootstrap(
            fit.table,
            procedure,
            estimate=fit.estimate,
            n_boot=n_boot,
            kind=bootstrap_kind,
            fitted=fit.mu if bootstrap_kind == "parametric" else None,
            seed=seed,
            acceleration=boot_interval == "bca",
            n_jobs=n_jobs,
            executor=executor,
        )
        ok = boot.replicates[~np.isnan(boot.replicates)]
        if len(ok) < max(10, n_boot // 2):
            raise EstimateDoesNotExistError(
                f"only {len(ok)} of {n_boot} bootstrap replicates gave an estimate; "
                "no bootstrap interval",
                code="bootstrap-failed",
            )
        lim = boot.bca(level) if boot_interval == "bca" else boot.percentile(level)
        extra: dict[str, Any] = {
            "n_boot": n_boot,
            "boot_failures": boot.n_failed,
            "bootstrap": bootstrap_kind,
            "acceleration": boot.acceleration,
        }
        return lim, f"bootstrap-{boot_interval}", extra, None, boot.replicates
    raise ModelSpecificationError(
        f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}"
    )


def _fit_result(
    method: str,
    data: CaptureData,
    procedure: FixedModel | Stepwise | Search,
    *,
    selected: bool,
    settings: dict[str, Any],
    interval: str,
    level: float,
    n_boot: int,
    bootstrap_kind: str,
    boot_interval: str,
    seed: SeedLike,
    n_jobs: int | None,
    executor: Executor | None,
    extra_diag: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    fit: LoglinearFit | None = None,
) -> EstimationResult:
    table = Table.from_data(data)
    prov = provenance(
        data.data_hash,
        seed if isinstance(seed, int | None) else str(seed),
        method=method,
        interval=interval,
        level=level,
        n_boot=n_boot if interval == "bootstrap" else None,
        bootstrap=bootstrap_kind if interval == "bootstrap" else None,
        **settings,
    )
    try:
        if fit is None:
            fit = procedure.fit(table)
        ci, kind, extra, note, draws = _interval_from(
            fit,
            procedure,
            interval=interval,
            level=level,
            n_boot=n_boot,
            bootstrap_kind=bootstrap_kind,
            boot_interval=boot_interval,
            seed=seed,
            n_jobs=n_jobs,
            executor=executor,
        )
    except EstimateDoesNotExistError as exc:
        model_txt = fit.label() if fit is not None else settings.get("model", "")
        return EstimationResult.failed(
            method=method,
            model=str(model_txt),
            observed=data.n_observed,
            reason=exc.reason,
            code=exc.code,
            provenance=prov,
            stratum=dict(data.stratum),
            diagnostics=dict(extra_diag or {}),
        )
    diag = {**_diagnostics(fit), **extra, **(extra_diag or {})}
    tabs = {"coefficients": _coef_table(fit), **(tables or {})}
    return EstimationResult(
        method=method,
        model=fit.label(),
        observed=data.n_observed,
        estimate=fit.estimate,
        interval=ci,
        interval_kind=kind,
        level=level,
        conditional_on_model=selected and interval != "bootstrap",
        diagnostics=diag,
        provenance=prov,
        stratum=dict(data.stratum),
        tables=tabs,
        draws=draws,
        interval_notes=note,
    )


class _Base:
    method = "loglinear"

    def _check_data(self, data: CaptureData) -> None:
        if not isinstance(data, CaptureData):
            raise TypeError(
                "fit() takes one CaptureData table; for stratified data fit each stratum "
                "(for key, table in data.items())"
            )


class LogLinearMSE(_Base):
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

    def fit(
        self,
        data: CaptureData,
        *,
        interval: str = "wald",
        level: float = 0.95,
        n_boot: int = 1000,
        bootstrap: str = "nonparametric",
        boot_interval: str = "bca",
        seed: SeedLike = None,
        n_jobs: int | None = None,
        executor: Executor | None = None,
    ) -> EstimationResult:
        """Fit the model and compute the interval.

        Parameters
        ----------
        data : CaptureData
        interval : {"wald", "profile", "bootstrap"}
            Wald on the log unobserved count; Rcapture's multinomial profile likelihood; or the
            bootstrap (``bootstrap``: ``"nonparametric"`` multinomial resampling of the observed
            cells or ``"parametric"``; ``boot_interval``: ``"bca"`` or ``"percentile"``).
        level : float
        n_boot, seed, n_jobs, executor
            Bootstrap settings; the seed makes results identical whatever the number of workers.

        Returns
        -------
        EstimationResult
        """
        self._check_data(data)
        model = parse_model(self.model, data.lists)
        name = "independence" if not model else self.method
        return _fit_result(
            name,
            data,
            FixedModel(model),
            selected=False,
            settings={"model": str(self.model or "main effects")},
            interval=interval,
            level=level,
            n_boot=n_boot,
            bootstrap_kind=bootstrap,
            boot_interval=boot_interval,
            seed=seed,
            n_jobs=n_jobs,
            executor=executor,
        )


class StepwiseMSE(_Base):
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
            raise ModelSpecificationError("criterion must be 'pvalue', 'aic' or 'bic'")
        self.pthresh = pthresh
        self.criterion = criterion

    def fit(
        self,
        data: CaptureData,
        *,
        interval: str = "wald",
        level: float = 0.95,
        n_boot: int = 1000,
        bootstrap: str = "nonparametric",
        boot_interval: str = "bca",
        seed: SeedLike = None,
        n_jobs: int | None = None,
        executor: Executor | None = None,
    ) -> EstimationResult:
        """Select, fit and compute the interval; see :meth:`LogLinearMSE.fit`."""
        self._check_data(data)
        proc = Stepwise(self.pthresh, self.criterion)
        path = stepwise(Table.from_data(data), pthresh=self.pthresh, criterion=self.criterion)
        steps = pd.DataFrame(path.steps, columns=["added", "score", "estimate"])
        method = "stepwise" if self.criterion == "pvalue" else f"stepwise-{self.criterion}"
        return _fit_result(
            method,
            data,
            proc,
            selected=True,
            settings={"pthresh": self.pthresh, "criterion": self.criterion},
            interval=interval,
            level=level,
            n_boot=n_boot,
            bootstrap_kind=bootstrap,
            boot_interval=boot_interval,
            seed=seed,
            n_jobs=n_jobs,
            executor=executor,
            extra_diag={"candidates_refused": path.n_refused},
            tables={"steps": steps},
            fit=path.fit,
        )


class SearchMSE(_Base):
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
    (``tables["models"]``).
    """

    method = "bic"

    def __init__(self, criterion: str = "bic", max_order: int = 2) -> None:
        if criterion not in ("aic", "bic"):
            raise ModelSpecificationError("criterion must be 'aic' or 'bic'")
        self.criterion = criterion
        self.max_order = max_order

    def fit(
        self,
        data: CaptureData,
        *,
        interval: str = "wald",
        level: float = 0.95,
        n_boot: int = 1000,
        bootstrap: str = "nonparametric",
        boot_interval: str = "bca",
        seed: SeedLike = None,
        n_jobs: int | None = None,
        executor: Executor | None = None,
        top: int = 20,
    ) -> EstimationResult:
        """Search, fit the best model and compute the interval; see :meth:`LogLinearMSE.fit`."""
        self._check_data(data)
        if data.n_lists > 6 and self.max_order >= 2:
            raise ModelSpecificationError(
                f"exhaustive search over {data.n_lists} lists is too large "
                f"(2^{data.n_lists * (data.n_lists - 1) // 2} models); use method 'stepwise'"
            )
        proc = Search(self.criterion, self.max_order)
        table = Table.from_data(data)
        try:
            res = proc.search(table)
        except EstimateDoesNotExistError as exc:
            return EstimationResult.failed(
                method=self.criterion,
                model="",
                observed=data.n_observed,
                reason=exc.reason,
                code=exc.code,
                provenance=provenance(data.data_hash, None),
                stratum=dict(data.stratum),
            )
        ranking = pd.DataFrame(res.ranking(data.lists, top=top))
        extra = {
            "models_searched": res.n_searched,
            "models_refused": res.n_refused,
            "max_order": self.max_order,
            "criterion": self.criterion,
            "lp_calls": res.fits.n_lp_calls,
        }
        return _fit_result(
            self.criterion,
            data,
            proc,
            selected=True,
            settings={"criterion": self.criterion, "max_order": self.max_order},
            interval=interval,
            level=level,
            n_boot=n_boot,
            bootstrap_kind=bootstrap,
            boot_interval=boot_interval,
            seed=seed,
            n_jobs=n_jobs,
            executor=executor,
            extra_diag=extra,
            tables={"models": ranking},
            fit=fit_loglinear(table, res.best_model),
        )
