"""From a fitted log-linear model to an :class:`~fl_estimate.results.EstimationResult`: the
coefficient table, the diagnostics, the interval (Wald, profile or bootstrap of the whole
procedure) and the provenance, the same way for every log-linear estimator of the package
(:mod:`~fl_estimate.mse.loglinear.estimators`, :mod:`~fl_estimate.mse.loglinear.topmodels`,
:mod:`~fl_estimate.mse.loglinear.greedy`).

A *procedure* is a picklable object with ``fit(table) -> LogLinearFit`` (select if it selects,
then fit), ``__call__(table) -> float`` (the estimate only: what the bootstrap repeats on every
replicate), ``selects`` (does it choose the model from the data?) and ``settings()`` (what the
result's provenance records).

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear.estimators import FixedModel
>>> from fl_estimate.mse.loglinear.result import fit_result
>>> from fl_estimate.mse.options import IntervalOptions
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> res = fit_result("independence", data, FixedModel(frozenset()), IntervalOptions())
>>> res.interval_kind, res.conditional_on_model, list(res.tables)
('wald-log', False, ['coefficients'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.fit import LogLinearFit
from fl_estimate.mse.loglinear.intervals import bootstrap, profile_interval, wald_log_interval
from fl_estimate.mse.loglinear.table import Table
from fl_estimate.mse.loglinear.terms import msenotation, term_label
from fl_estimate.mse.options import IntervalOptions
from fl_estimate.results import EstimationResult, provenance

__all__ = [
    "IntervalPart",
    "Procedure",
    "coefficient_table",
    "failed_result",
    "fit_diagnostics",
    "fit_result",
    "interval_from",
    "require_table",
    "result_provenance",
]

#: Profile intervals search the upper end up to this many times the estimate.
PROFILE_EXTEND = 100.0


class Procedure(Protocol):
    """What an estimator does to a table, as a picklable object (see the module docstring)."""

    selects: bool

    def fit(self, table: Table) -> LogLinearFit: ...

    def __call__(self, table: Table) -> float: ...

    def settings(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IntervalPart:
    """An interval and what comes with it: its kind, diagnostics, a note, the replicates."""

    limits: tuple[float | None, float | None]
    kind: str
    diagnostics: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    draws: Any = None


def require_table(data: object) -> None:
    """``fit`` takes one table: a TypeError that says what to do with stratified data."""
    if not isinstance(data, CaptureData):
        raise TypeError(
            "fit() takes one CaptureData table; for stratified data fit each stratum "
            "(for key, table in data.items())"
        )


def coefficient_table(fit: LogLinearFit) -> pd.DataFrame:
    """Columns ``term``, ``estimate``, ``std_error`` (boundary terms: ``-inf`` and NaN)."""
    return pd.DataFrame(fit.coefficients(), columns=["term", "estimate", "std_error"])


def fit_diagnostics(fit: LogLinearFit) -> dict[str, Any]:
    """Deviance, residual df, log-likelihood, AIC, BIC, parameters, the log unobserved count and
    its standard error, boundary terms, IRLS iterations and (up to 9 lists) the model in
    MultipleSystemsEstimation's notation."""
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


def _profile(fit: LogLinearFit, level: float) -> IntervalPart:
    pi = profile_interval(fit, level, extend=PROFILE_EXTEND)
    note: str | None = None
    if pi.high is None:
        note = N_(
            "the profile likelihood stays above the cut-off up to N = {limit:,.0f} "
            "({extend:g} times the estimate): the data do not bound N above",
            limit=pi.search_limit,
            extend=PROFILE_EXTEND,
        )
    if pi.low_at_observed:
        at_observed = N_("the lower end is the observed count")
        note = join_semicolons([note, at_observed]) if note else at_observed
    return IntervalPart((pi.low, pi.high), "profile", {"multinomial_estimate": pi.estimate}, note)


def _bootstrap(fit: LogLinearFit, procedure: Procedure, options: IntervalOptions) -> IntervalPart:
    parametric = options.bootstrap == "parametric"
    boot = bootstrap(
        fit.table,
        procedure,
        estimate=fit.estimate,
        options=options,
        fitted=fit.mu if parametric else None,
    )
    n_ok = options.n_boot - boot.n_failed
    if n_ok < max(10, options.n_boot // 2):
        raise EstimateDoesNotExistError(
            N_(
                "only {n_ok} of {n_boot} bootstrap replicates gave an estimate; no bootstrap "
                "interval",
                n_ok=n_ok,
                n_boot=options.n_boot,
            ),
            code="bootstrap-failed",
        )
    lim = (
        boot.bca(options.level)
        if options.boot_interval == "bca"
        else boot.percentile(options.level)
    )
    diag = {
        "n_boot": options.n_boot,
        "n_failed": boot.n_failed,
        "bootstrap": options.bootstrap,
        "acceleration": boot.acceleration,
    }
    return IntervalPart(lim, f"bootstrap-{options.boot_interval}", diag, None, boot.replicates)


def interval_from(
    fit: LogLinearFit, procedure: Procedure, options: IntervalOptions
) -> IntervalPart:
    """The interval ``options.interval`` asks for: Wald on the log unobserved count
    (``"wald-log"``), Rcapture's profile likelihood (``"profile"``), or the bootstrap of the
    whole ``procedure`` (``"bootstrap-bca"`` / ``"bootstrap-percentile"``).

    Raises
    ------
    EstimateDoesNotExistError
        When fewer than half the bootstrap replicates (or fewer than 10) gave an estimate.
    """
    if options.interval == "profile":
        return _profile(fit, options.level)
    if options.interval == "bootstrap":
        return _bootstrap(fit, procedure, options)
    return IntervalPart(wald_log_interval(fit, options.level), "wald-log")


def result_provenance(
    data: CaptureData, method: str, options: IntervalOptions, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The provenance block: data hash, seed, version, and method, interval and settings."""
    return provenance(
        data.data_hash, options.seed, method=method, **options.provenance(), **settings
    )


def failed_result(
    method: str,
    data: CaptureData,
    exc: EstimateDoesNotExistError,
    *,
    model: str = "",
    prov: dict[str, Any] | None = None,
    diagnostics: Mapping[str, Any] | None = None,
) -> EstimationResult:
    """A result that says why there is no estimate (the reason and code of ``exc``)."""
    return EstimationResult.failed(
        method=method,
        model=model,
        observed=data.n_observed,
        reason=exc.reason,
        code=exc.code,
        provenance=prov if prov is not None else provenance(data.data_hash, None),
        stratum=dict(data.stratum),
        diagnostics=dict(diagnostics or {}),
    )


def fit_result(
    method: str,
    data: CaptureData,
    procedure: Procedure,
    options: IntervalOptions,
    *,
    fit: LogLinearFit | None = None,
    interval: IntervalPart | None = None,
    diagnostics: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> EstimationResult:
    """Fit (unless ``fit`` is given), compute the interval (unless ``interval`` is given) and
    build the result; an estimate that does not exist gives a result whose status says why.

    Parameters
    ----------
    method : str
        The result's method name.
    data : CaptureData
    procedure : Procedure
        Fits the table, and is what the bootstrap repeats.
    options : IntervalOptions
    fit : LogLinearFit, optional
        The procedure's fit to ``data``, when the caller has it already.
    interval : IntervalPart, optional
        An interval computed by the caller (the top-models bootstrap).
    diagnostics, tables : mapping, optional
        Added to the result's own (``tables["coefficients"]`` always).
    settings : mapping, optional
        Recorded in the provenance besides the procedure's own settings.

    Returns
    -------
    EstimationResult
        ``conditional_on_model`` is True when the procedure selects its model and the interval
        does not repeat the selection (Wald or profile).
    """
    settings = {**procedure.settings(), **(settings or {})}
    prov = result_provenance(data, method, options, settings)
    try:
        if fit is None:
            fit = procedure.fit(Table.from_data(data))
        if interval is None:
            interval = interval_from(fit, procedure, options)
    except EstimateDoesNotExistError as exc:
        model = fit.label() if fit is not None else str(settings.get("model", ""))
        return failed_result(method, data, exc, model=model, prov=prov, diagnostics=diagnostics)
    return EstimationResult(
        method=method,
        model=fit.label(),
        observed=data.n_observed,
        estimate=fit.estimate,
        interval=interval.limits,
        interval_kind=interval.kind,
        level=options.level,
        conditional_on_model=procedure.selects and not interval.kind.startswith("bootstrap"),
        diagnostics={**fit_diagnostics(fit), **interval.diagnostics, **(diagnostics or {})},
        provenance=prov,
        stratum=dict(data.stratum),
        tables={"coefficients": coefficient_table(fit), **(tables or {})},
        draws=interval.draws,
        interval_notes=interval.note,
    )
