"""Estimators with the package's results API: one heterogeneity model (:class:`HeterogeneityMSE`)
or the best of the closed-population family (:class:`ClosedpMSE`).

Examples
--------
>>> import pandas as pd
>>> from fl_estimate.mse import CaptureData
>>> from fl_estimate.mse.heterogeneity import HeterogeneityMSE
>>> data = CaptureData.from_counts(pd.DataFrame({
...     "b": [0, 0, 1, 1, 1, 0, 1], "c": [0, 1, 0, 1, 0, 1, 1], "d": [1, 0, 0, 0, 1, 1, 1],
...     "count": [41, 5, 5, 54, 6, 0, 12]}))
>>> res = HeterogeneityMSE("Mh", h="darroch").fit(data)
>>> res.model, round(res.estimate, 1), res.interval_kind
('Mh Darroch', 130.4, 'profile')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.heterogeneity.closedp import (
    ClosedpFit,
    ClosedPopulationModels,
    fit_closedp_counts,
    fit_closedp_model,
    result_from_fit,
)
from fl_estimate.mse.heterogeneity.design import ClosedpModel, parse_interactions
from fl_estimate.mse.heterogeneity.fitting import Support
from fl_estimate.mse.heterogeneity.profile import profile_interval
from fl_estimate.results import EstimationResult, provenance

__all__ = [
    "INTERVALS",
    "ClosedpMSE",
    "HeterogeneityMSE",
    "MhMSE",
    "MthMSE",
    "bootstrap_closedp",
]

INTERVALS = ("profile", "wald", "bootstrap")


def _check(data: object, interval: str, level: float) -> None:
    if not isinstance(data, CaptureData):
        raise TypeError(
            "fit() takes one CaptureData table; for stratified data fit each stratum "
            "(for key, table in data.items())"
        )
    if interval not in INTERVALS:
        raise ModelSpecificationError(
            N_(
                "unknown interval {interval!r}; use one of {choices}",
                interval=interval,
                choices=", ".join(INTERVALS),
            )
        )
    if not 0.0 < level < 1.0:
        raise ModelSpecificationError(N_("level must be between 0 and 1, got {level}", level=level))


def bootstrap_closedp(
    model: ClosedpModel,
    data: CaptureData,
    *,
    n_boot: int = 1000,
    seed: SeedLike = None,
) -> np.ndarray:
    """Poisson estimates of N on multinomial resamples of the observed table.

    Replicate ``i`` draws ``n`` people over the observed patterns with the observed shares,
    from the ``i``-th child of ``numpy.random.SeedSequence(seed)``, so a replicate does not
    depend on how many others are drawn. A replicate whose unobserved count goes to infinity
    gives ``inf``; one without an estimate (impossible behavioural ``N``, dependent columns)
    gives NaN.

    Returns
    -------
    ndarray of shape (n_boot,)
    """
    if n_boot < 1:
        raise ModelSpecificationError(N_("n_boot must be at least 1, got {n_boot}", n_boot=n_boot))
    y = data.cell_counts()[1:].astype(float)
    n = int(y.sum())
    share = y / n
    out = np.empty(n_boot)
    cache: dict[tuple[tuple[int, ...], bytes], Support] = {}
    for i, ss in enumerate(spawn_seeds(seed, n_boot)):
        counts = np.random.default_rng(ss).multinomial(n, share)
        f = fit_closedp_counts(model, counts, data.lists, cache=cache)
        if "unbounded" in f.flags:
            out[i] = np.inf
        elif f.estimate is None or "impossible-estimate" in f.flags or not f.fit.identifiable:
            out[i] = np.nan
        else:
            out[i] = f.estimate
    return out


def _percentile(draws: np.ndarray, level: float) -> tuple[float | None, float | None]:
    """Percentile limits; NaN draws dropped, an infinite upper limit is None (open)."""
    ok = np.sort(draws[~np.isnan(draws)])
    if ok.size == 0:
        return None, None
    a = (1.0 - level) / 2.0
    pos = np.array([a, 1.0 - a]) * (ok.size - 1)
    lo_i, hi_i = np.floor(pos).astype(int), np.ceil(pos).astype(int)
    lims = []
    for p, i, j in zip(pos, lo_i, hi_i, strict=True):
        if np.isinf(ok[j]) or np.isinf(ok[i]):
            lims.append(None if np.isinf(ok[j]) else float(ok[i]))
        else:
            lims.append(float(ok[i] + (p - i) * (ok[j] - ok[i])))
    return lims[0], lims[1]


def _interval_parts(
    fit: ClosedpFit,
    data: CaptureData,
    interval: str,
    level: float,
    n_boot: int,
    seed: SeedLike,
) -> dict[str, Any]:
    """Keyword arguments of :func:`result_from_fit` for the requested interval."""
    if fit.estimate is None:
        return {}
    if interval == "profile":
        if fit.model.behavioural:
            raise ModelSpecificationError(
                N_(
                    "{model} has no profile-likelihood interval; use interval='wald' or "
                    "'bootstrap'",
                    model=fit.model.label,
                )
            )
        return {"profile": profile_interval(fit.model, data, fit.estimate, level=level)}
    if interval == "bootstrap":
        draws = bootstrap_closedp(fit.model, data, n_boot=n_boot, seed=seed)
        failed = int(np.isnan(draws).sum())
        if n_boot - failed < max(10, n_boot // 2):
            raise EstimateDoesNotExistError(
                N_(
                    "only {good} of {n_boot} bootstrap replicates gave an estimate; "
                    "no bootstrap interval",
                    good=n_boot - failed,
                    n_boot=n_boot,
                ),
                code="bootstrap-failed",
            )
        extra = {"n_boot": n_boot, "boot_failures": failed, "bootstrap": "nonparametric"}
        return {"boot": (_percentile(draws, level), extra, draws)}
    return {}


@dataclass(frozen=True)
class _Choice:
    """The model an estimator settled on, or why there is none, and what to attach."""

    fit: ClosedpFit | None
    reason: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    selected: bool = False


class _Estimator(ABC):
    """Shared ``fit``: choose a model (:meth:`_choose`), compute its interval, build the result."""

    method = "closedp"

    @abstractmethod
    def _settings(self) -> dict[str, Any]:
        """The estimator's configuration, for the result's provenance."""

    @abstractmethod
    def _choose(self, data: CaptureData, level: float) -> _Choice:
        """The model to report, fitted."""

    def fit(
        self,
        data: CaptureData,
        *,
        interval: str = "profile",
        level: float = 0.95,
        n_boot: int = 1000,
        seed: SeedLike = None,
    ) -> EstimationResult:
        """Fit and compute the interval.

        Parameters
        ----------
        data : CaptureData
        interval : {"profile", "wald", "bootstrap"}
            Rcapture's multinomial profile likelihood; Chao's log-normal interval from the
            model's standard error (kind ``"wald-log"``); or percentiles of the Poisson estimate
            over ``n_boot`` multinomial resamples of the observed table (replicate ``i`` seeded
            by the ``i``-th child of ``SeedSequence(seed)``). Mb and Mbh have no profile
            interval: asked for one, they give the Wald interval and say so.
        level : float
        n_boot : int
        seed : int, SeedSequence, Generator or None

        Returns
        -------
        EstimationResult
        """
        _check(data, interval, level)
        prov = provenance(
            data.data_hash,
            seed if isinstance(seed, int | None) else str(seed),
            method=self.method,
            interval=interval,
            level=level,
            n_boot=n_boot if interval == "bootstrap" else None,
            **self._settings(),
        )
        choice = self._choose(data, level)
        failure: tuple[str, str] | None = None
        fit = choice.fit
        extra_diag = dict(choice.diagnostics)
        if fit is None:
            failure = (choice.reason, "no-model")
        else:
            if fit.model.behavioural and interval == "profile":
                interval = "wald"
                extra_diag["interval_fallback"] = (
                    f"{fit.model.label} has no profile-likelihood interval: Wald interval given"
                )
            try:
                parts = _interval_parts(fit, data, interval, level, n_boot, seed)
            except EstimateDoesNotExistError as exc:
                failure = (exc.reason, exc.code)
        if failure is not None:
            return EstimationResult.failed(
                method=self.method,
                model="" if fit is None else fit.label,
                observed=data.n_observed,
                reason=failure[0],
                code=failure[1],
                provenance=prov,
                stratum=dict(data.stratum),
                tables=choice.tables,
                diagnostics=extra_diag,
            )
        assert fit is not None
        return result_from_fit(
            self.method,
            fit,
            interval=interval,
            level=level,
            prov=prov,
            stratum=dict(data.stratum),
            selected=choice.selected,
            extra_tables=choice.tables,
            extra_diag=extra_diag,
            **parts,
        )


class HeterogeneityMSE(_Estimator):
    """One model of Rcapture's closed-population family, e.g. Mh Darroch or Mth Gamma3.5.

    Parameters
    ----------
    model : {"Mh", "Mth", "M0", "Mt", "Mb", "Mbh"}
        ``Mh``: capture probabilities differ between people only; ``Mth``: between lists too.
    h : {"darroch", "chao", "poisson", "gamma"}
        Heterogeneity form (Mh and Mth only): Darroch's quadratic ``k**2/2``, Chao's lower bound,
        Rivest's Poisson ``theta**k - 1`` or Gamma ``-log(1 + k/theta)``.
    theta : float, optional
        Parameter of the Poisson (default 2) and Gamma (default 3.5) forms.
    interactions : str or iterable, optional
        Two-list (or higher) interactions added to the model, e.g. ``"A:B + C:D"`` (Rcapture's
        ``closedpCI.t(mX = ..., h = ...)``).

    Notes
    -----
    The estimate is the Poisson one of Rcapture's ``closedp.t``: ``N = n + exp(intercept)``. The
    profile interval is Rcapture's multinomial profile likelihood (``closedpCI.t``), whose
    maximiser is in ``diagnostics["multinomial_estimate"]``; its upper end is searched up to
    100 times the estimate (Rcapture: 3 times). ``diagnostics["fit_flag"]`` says whether the fit
    is at a boundary, has a large asymptotic bias, etc. (Rcapture's ``infoFit``); at a boundary
    the result's ``status_code`` is ``"boundary"`` and ``status`` explains what was reported.
    """

    def __init__(
        self,
        model: str = "Mh",
        h: str | None = "darroch",
        theta: float | None = None,
        interactions: str | Iterable[str] | None = None,
    ) -> None:
        base = str(model)
        fixed = {b.lower(): b for b in ("M0", "Mt", "Mh", "Mth", "Mb", "Mbh")}
        base = fixed.get(base.lower(), base)
        if base in ("M0", "Mt", "Mb", "Mbh") and h == "darroch":
            h = None  # the default form only applies to the heterogeneity models
        spec = ClosedpModel(base, h, theta)  # validates model, h and theta
        self.model = base
        self.method = base.lower()  # "mh", "mth", ...
        self.h = spec.h
        self.theta = spec.theta
        self.interactions = interactions

    def spec(self, data: CaptureData) -> ClosedpModel:
        """The model for this table's lists (interactions resolved)."""
        terms = parse_interactions(self.interactions, data.lists)
        return ClosedpModel(self.model, self.h, self.theta, terms)

    def _settings(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "h": self.h,
            "theta": self.theta,
            "interactions": self.interactions,
        }

    def _choose(self, data: CaptureData, level: float) -> _Choice:
        return _Choice(fit_closedp_model(self.spec(data), data))


class ClosedpMSE(_Estimator):
    """The closed-population model with the lowest AIC (or BIC) among the usable fits, with
    Rcapture's whole ``closedp.t`` table in ``tables["closedp"]``.

    Parameters
    ----------
    criterion : {"AIC", "BIC"}
    behavioural : bool
        Let Mb and Mbh compete (default False: they need lists in time order).

    Notes
    -----
    The interval is conditional on the model chosen (``conditional_on_model``) unless it is the
    bootstrap, which refits the chosen model (not the choice) on every replicate.
    """

    method = "closedp"

    def __init__(self, criterion: str = "AIC", behavioural: bool = False) -> None:
        if criterion.upper() not in ("AIC", "BIC"):
            raise ModelSpecificationError(
                N_("criterion must be 'AIC' or 'BIC', got {value!r}", value=criterion)
            )
        self.criterion = criterion.upper()
        self.behavioural = bool(behavioural)

    def _settings(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "behavioural": self.behavioural}

    def _choose(self, data: CaptureData, level: float) -> _Choice:
        res = ClosedPopulationModels().fit(data, level=level)
        tables = {"closedp": res.to_frame()}
        diag = {"selection_criterion": self.criterion}
        try:
            fit = res.best(self.criterion, behavioural=self.behavioural)
        except ModelSpecificationError as exc:
            return _Choice(None, str(exc), tables, diag)
        return _Choice(fit, "", tables, diag, selected=True)


class _FixedModel(HeterogeneityMSE):
    """A :class:`HeterogeneityMSE` whose model is fixed by the subclass (``base``).

    Parameters
    ----------
    h : {"darroch", "chao", "poisson", "gamma"}
    theta : float, optional
    interactions : str or iterable, optional
    """

    base = "Mh"

    def __init__(
        self,
        h: str = "darroch",
        theta: float | None = None,
        interactions: str | Iterable[str] | None = None,
    ) -> None:
        super().__init__(self.base, h=h, theta=theta, interactions=interactions)


class MhMSE(_FixedModel):
    """:class:`HeterogeneityMSE` with ``model="Mh"`` (method ``mh``): people differ, lists do
    not. Parameters ``h``, ``theta``, ``interactions`` as there."""

    base = "Mh"


class MthMSE(_FixedModel):
    """:class:`HeterogeneityMSE` with ``model="Mth"`` (method ``mth``): lists and people differ.
    Parameters ``h``, ``theta``, ``interactions`` as there."""

    base = "Mth"
