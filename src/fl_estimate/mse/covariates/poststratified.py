"""Post-stratification: an aggregate estimator fitted at each level of a covariate, the
estimates added.

Where catchability differs between levels of a recorded covariate but not (much) within them,
the table of each level is nearly homogeneous and its estimate nearly unbiased; the total is the
sum. Any estimator of the package that fits one :class:`~fl_estimate.mse.data.CaptureData` can
be used (stepwise log-linear selection by default).

Examples
--------
>>> from fl_estimate.simulate import simulate_covariates
>>> from fl_estimate.mse.covariates import PostStratifiedMSE
>>> ages = {"a18_29": 0.4, "a30_49": 0.4, "a50p": 0.2}
>>> sim = simulate_covariates(6000, ["police", "ngo", "labour"], covariates={"age": ages},
...                           capture_probs=0.3, effects={"age": {"a50p": -1.2}}, seed=3)
>>> res = PostStratifiedMSE("age").fit(sim.records, lists=["police", "ngo", "labour"])
>>> res.method, res.model, list(res.tables["by_level"]["level"])
('post-stratified', 'stepwise per level of age', ['a18_29', 'a30_49', 'a50p'])
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.covariates.common import (
    BY_LEVEL_COLUMNS,
    CovariateEstimator,
    FitRequest,
    keyed_seed,
    lognormal_interval,
    normal_interval,
    percentile_interval,
)
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.results import EstimationResult

__all__ = ["PostStratifiedMSE"]


class _Estimator(Protocol):
    method: str

    def fit(self, data: CaptureData, **kwargs: Any) -> EstimationResult: ...


class PostStratifiedMSE(CovariateEstimator):
    """Fit an aggregate estimator at every level (combination of levels) of covariates and add.

    Parameters
    ----------
    by : str or sequence of str
        Covariate column(s) whose levels are the post-strata. Missing values are a stratum of
        their own (:data:`~fl_estimate.mse.covariates.MISSING`).
    estimator : object, optional
        An estimator whose ``fit(CaptureData, interval=..., level=..., n_boot=..., seed=...)``
        returns an :class:`~fl_estimate.results.EstimationResult`; default
        :class:`~fl_estimate.mse.StepwiseMSE` (SparseMSE's stepwise rule).

    Notes
    -----
    ``interval="wald"`` (default): each stratum's variance is that of its Wald interval on the
    log unobserved count (``diagnostics["log_unobserved"]`` and ``["se_log_unobserved"]``, so
    the log-linear estimators only), ``(f0_s se_s)**2``, plus the Poisson variance ``f0_s`` of
    its unobserved count (as :class:`~fl_estimate.mse.covariates.CovariateLogLinearMSE`); the
    variances are added and the total gets Chao's log-normal interval; conditional on the
    models selected in the strata. ``"wald-n"``: ``N +/- z se`` with the same ``se``.
    ``"bootstrap"``: every stratum is bootstrapped by its estimator (model selection repeated
    on every replicate; streams keyed by stratum), replicate ``b`` of the total is the sum of
    the strata's replicates ``b``; percentile interval (replicates where a stratum failed are
    left out, and counted in ``diagnostics["boot_failures"]``).

    Tables: ``strata`` (one row per stratum: the stratum columns and the columns of
    :meth:`~fl_estimate.results.EstimationResult.to_frame`), ``by_level`` (N per level of each
    ``by`` covariate); ``draws`` the bootstrap replicates of the total. ``fit`` passes extra
    keyword options on to the estimator's ``fit`` (e.g. ``bootstrap="parametric"``).

    A stratum whose estimate does not exist makes the total fail, with that stratum's reason:
    merge sparse levels or use a covariate model
    (:class:`~fl_estimate.mse.covariates.HugginsMSE`), which borrows strength across levels.
    """

    method = "post-stratified"
    takes_options = True

    def __init__(self, by: str | Sequence[str], estimator: _Estimator | None = None) -> None:
        self.by = [by] if isinstance(by, str) else [str(b) for b in by]
        self.names = list(self.by)
        if not self.by:
            raise ModelSpecificationError(N_("post-stratification needs at least one covariate"))
        self.estimator = estimator

    def _estimator(self) -> _Estimator:
        if self.estimator is not None:
            return self.estimator
        from fl_estimate.mse import StepwiseMSE  # the package root: stable public name

        return cast("_Estimator", StepwiseMSE())

    def settings(self) -> dict[str, Any]:
        return {"by": self.by, "estimator": self._estimator().method}

    def _fit(self, req: FitRequest) -> EstimationResult:
        rec, level, interval, n_boot, seed = req.rec, req.level, req.interval, req.n_boot, req.seed
        options = dict(req.options)
        est = self._estimator()
        frame = pd.DataFrame(rec.y.astype(np.int64), columns=list(rec.lists))
        for i, c in enumerate(rec.covariates):
            frame[c] = np.asarray(rec.levels[c], dtype=object)[rec.codes[:, i]]
        counts = frame.groupby([*rec.lists, *self.by], sort=True).size().rename("count")
        strata = CaptureData.from_counts(
            counts.reset_index(), lists=list(rec.lists), count_col="count", strata=self.by
        )
        assert isinstance(strata, StratifiedCaptureData)
        inner = "bootstrap" if interval == "bootstrap" else "wald"
        if inner == "bootstrap" and "boot_interval" in inspect.signature(est.fit).parameters:
            # only the replicates are used: skip the stratum's BCa jackknife
            options = {"boot_interval": "percentile", **options}
        model = f"{est.method} per level of {' x '.join(self.by)}"
        results: dict[tuple[Any, ...], EstimationResult] = {}
        for key, table in strata.items():
            try:
                res = est.fit(
                    table,
                    interval=inner,
                    level=level,
                    n_boot=n_boot,
                    seed=keyed_seed(seed, f"stratum={key}"),
                    **options,
                )
            except EstimateDoesNotExistError as exc:
                res = EstimationResult.failed(
                    method=est.method,
                    model="",
                    observed=table.n_observed,
                    reason=exc.reason,
                    code=exc.code,
                )
            except np.linalg.LinAlgError as exc:  # a singular fit inside the estimator
                res = EstimationResult.failed(
                    method=est.method,
                    model="",
                    observed=table.n_observed,
                    reason=N_("the estimator failed numerically ({error})", error=str(exc)),
                    code="numerical-failure",
                )
            if not res.ok:
                where = ", ".join(f"{c} = {v}" for c, v in zip(self.by, key, strict=True))
                return req.failed(
                    method=self.method,
                    model=model,
                    reason=N_(
                        "no estimate in the stratum {where}: {reason}",
                        where=where,
                        reason=res.status,
                    ),
                    code=res.status_code,
                )
            results[key] = res
        keys = list(results)
        observed = np.array([results[k].observed for k in keys], dtype=float)
        estimates = np.array([float(results[k].estimate or 0.0) for k in keys])
        if interval == "bootstrap":
            draws = np.column_stack([_draws(results[k], n_boot) for k in keys])
            variances = np.full(len(keys), np.nan)
        else:
            draws = None
            variances = np.array([_variance(results[k]) for k in keys])

        def summarise(mask: np.ndarray) -> tuple[float, float, float, float, float]:
            n_m, est_m = float(observed[mask].sum()), float(estimates[mask].sum())
            if draws is not None:
                tot = draws[:, mask].sum(axis=1)
                se_m = float(np.nanstd(tot, ddof=1))
                lo, hi = percentile_interval(tot, level)
            else:
                se_m = float(np.sqrt(variances[mask].sum()))
                if interval == "wald-n":
                    lo, hi = normal_interval(est_m, se_m, level)
                else:
                    lo, hi = lognormal_interval(n_m, est_m, se_m, level)
            return n_m, est_m, se_m, lo, hi

        everything = np.ones(len(keys), dtype=bool)
        _n, n_hat, se, lo, hi = summarise(everything)
        rows = []
        for i, c in enumerate(self.by):
            for lv in rec.levels[c]:
                mask = np.array([k[i] == lv for k in keys])
                if mask.any():
                    rows.append((c, lv, *summarise(mask)))
        per_stratum = pd.concat([results[k].to_frame() for k in keys], ignore_index=True)
        total_draws = None if draws is None else draws.sum(axis=1)
        kind = {"wald": "wald-log", "wald-n": "wald", "bootstrap": "bootstrap-percentile"}
        diagnostics: dict[str, Any] = {
            "n_strata": len(keys),
            "std_error": se,
            "estimator": est.method,
        }
        return req.result(
            method=self.method,
            model=model,
            estimate=n_hat,
            interval=(lo, hi),
            interval_kind=kind[interval],
            conditional_on_model=interval != "bootstrap"
            and any(r.conditional_on_model for r in results.values()),
            diagnostics=diagnostics,
            tables={
                "strata": per_stratum,
                "by_level": pd.DataFrame(rows, columns=BY_LEVEL_COLUMNS),
            },
            draws=total_draws,
        )


def _variance(res: EstimationResult) -> float:
    d = res.diagnostics
    if "log_unobserved" not in d or "se_log_unobserved" not in d:
        raise ModelSpecificationError(
            N_(
                "post-stratification with interval='wald' needs each stratum's Wald variance, "
                "which method {method!r} does not report; use interval='bootstrap'",
                method=res.method,
            )
        )
    f0 = float(np.exp(d["log_unobserved"]))
    return (f0 * float(d["se_log_unobserved"])) ** 2 + f0


def _draws(res: EstimationResult, n_boot: int) -> np.ndarray:
    draws = np.asarray(res.draws, dtype=float).reshape(-1)
    if draws.shape != (n_boot,):
        raise ModelSpecificationError(
            N_(
                "method {method!r} returned {size} bootstrap replicates for n_boot={n_boot}; "
                "post-stratification needs them to add the strata",
                method=res.method,
                size=draws.size,
                n_boot=n_boot,
            )
        )
    return draws
