"""Closed-form estimators: Lincoln–Petersen and Chapman for two lists, Chao's lower bound for K.

Examples
--------
>>> from fl_estimate.mse import ChaoLowerBound, Chapman, LincolnPetersen, read_capture_csv
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> res = ChaoLowerBound().fit(data)
>>> round(res.estimate), [round(x) for x in res.interval], res.interval_kind
(15628, [13839, 17705], 'wald-log')
>>> two = data.merge_lists(["LA", "NG", "PF"]).merge_lists(["GO", "GP", "NCA"])
>>> two.lists
('LANGPF', 'GOGPNCA')
>>> round(LincolnPetersen().fit(two).estimate), round(Chapman().fit(two).estimate)
(13982, 13906)
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.options import check_level
from fl_estimate.results import EstimationResult, provenance

__all__ = ["ChaoLowerBound", "Chapman", "LincolnPetersen"]


def _lognormal_interval(n: float, est: float, var: float, level: float) -> tuple[float, float]:
    """Chao's (1987) log-normal interval: the unobserved count ``f0 = N - n`` is log-normal.

    ``C = exp(z sqrt(log(1 + var / f0^2)))``; interval ``(n + f0 / C, n + f0 C)``. It never goes
    below the observed count.
    """
    f0 = est - n
    from scipy.special import ndtri  # scipy.stats.norm.ppf's function (no scipy.stats)

    z = ndtri(0.5 + level / 2)
    if f0 <= 0:
        return n, n
    c = np.exp(z * np.sqrt(np.log(1 + var / f0**2)))
    return float(n + f0 / c), float(n + f0 * c)


def _closed_form(
    method: str,
    data: CaptureData,
    model: str,
    est: float,
    var: float,
    level: float,
    diagnostics: dict[str, float],
) -> EstimationResult:
    """Result of a closed-form estimator with Chao's log-normal interval."""
    lo, hi = _lognormal_interval(data.n_observed, est, max(var, 0.0), level)
    return EstimationResult(
        method=method,
        model=model,
        observed=data.n_observed,
        estimate=float(est),
        interval=(lo, hi),
        interval_kind="wald-log",
        level=level,
        diagnostics={**diagnostics, "variance": var},
        provenance=provenance(data.data_hash, None, level=level),
        stratum=dict(data.stratum),
    )


def _two_lists(data: CaptureData, method: str) -> tuple[int, int, int]:
    if data.n_lists != 2:
        raise ModelSpecificationError(
            N_(
                "{method} needs exactly 2 lists, these data have {n} ({lists}); merge or drop "
                "lists first, or use a log-linear method",
                method=method,
                n=data.n_lists,
                lists=", ".join(data.lists),
            )
        )
    tot = data.list_totals()
    n1, n2 = int(tot.iloc[0]), int(tot.iloc[1])
    m = int(data.pairwise_overlaps()["overlap"].iloc[0])
    return n1, n2, m


class _ClosedForm(ABC):
    """What the closed-form estimators share: ``fit`` and Chao's log-normal interval."""

    method = "closed-form"

    def fit(
        self, data: CaptureData, *, level: float = 0.95, seed: SeedLike = None
    ) -> EstimationResult:
        """Estimate N and its interval.

        Parameters
        ----------
        data : CaptureData
        level : float
            Coverage of the interval.
        seed : optional
            Accepted and ignored: the estimator is deterministic (so one seed can be given to
            a run of several methods).

        Returns
        -------
        EstimationResult
        """
        return self.estimate_from(data, check_level(level))

    @abstractmethod
    def estimate_from(self, data: CaptureData, level: float) -> EstimationResult:
        """The estimate and its interval at a validated ``level``."""


class LincolnPetersen(_ClosedForm):
    """Lincoln–Petersen estimator for two lists: ``N = n1 n2 / m``.

    Variance ``n1 n2 (n1 - m)(n2 - m) / m^3`` (the delta method); the interval is Chao's log-normal
    interval on the unobserved count (kind ``"wald-log"``). Assumes the lists are independent and
    everyone equally catchable. No estimate when the lists never overlap (``m = 0``).
    """

    method = "lincoln-petersen"

    def estimate_from(self, data: CaptureData, level: float) -> EstimationResult:
        n1, n2, m = _two_lists(data, self.method)
        n = data.n_observed
        prov = provenance(data.data_hash, None, level=level)
        model = f"two lists, independence ({n1} and {n2} people, {m} on both)"
        if m == 0:
            return EstimationResult.failed(
                method=self.method,
                model=model,
                observed=n,
                provenance=prov,
                reason="the two lists never overlap (m = 0): the Lincoln–Petersen estimate is "
                "infinite; use Chapman's estimator, which stays finite, or add lists",
                code="no-overlap",
                stratum=dict(data.stratum),
            )
        est = n1 * n2 / m
        var = n1 * n2 * (n1 - m) * (n2 - m) / m**3
        return _closed_form(self.method, data, model, est, var, level, {"m": m})


class Chapman(_ClosedForm):
    """Chapman's nearly unbiased two-list estimator: ``N = (n1 + 1)(n2 + 1)/(m + 1) - 1``.

    Variance ``(n1 + 1)(n2 + 1)(n1 - m)(n2 - m) / ((m + 1)^2 (m + 2))`` (Seber 1970); Chao's
    log-normal interval (kind ``"wald-log"``).
    """

    method = "chapman"

    def estimate_from(self, data: CaptureData, level: float) -> EstimationResult:
        n1, n2, m = _two_lists(data, self.method)
        est = (n1 + 1) * (n2 + 1) / (m + 1) - 1
        var = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
        model = f"two lists, independence ({n1} and {n2} people, {m} on both)"
        return _closed_form(self.method, data, model, est, var, level, {"m": m})


class ChaoLowerBound(_ClosedForm):
    """Chao's (1987) lower bound for K lists: ``N >= n + f1^2 / (2 f2)``.

    ``f1``, ``f2``: people seen on exactly one and exactly two lists. When ``f2 = 0`` the
    bias-corrected form ``n + f1 (f1 - 1) / 2`` is used. Variance from Chao (1987) (for ``f2 = 0``
    the bias-corrected form's); log-normal interval on the unobserved count. It is a lower bound
    under heterogeneous catchability, not an estimate of N under a model.

    Parameters
    ----------
    k_sample : bool
        Use Chao's (1987) form for K samples, ``n + (K - 1) / K * f1^2 / (2 f2)`` (the unobserved
        count and its standard deviation scale by ``(K - 1) / K``, and so the interval). Under
        homogeneous catchability with equal lists it is unbiased, otherwise a lower bound; the
        form without the factor is larger by ``K / (K - 1)`` and can exceed N when nobody differs
        (``benchmarks/heterogeneity_power.py``: where the diagnosis fired, its lower limit was
        above N in up to 15% of a class's tables). The default policy uses it; ``False`` (the
        default) keeps method ``chao``'s published figures.
    """

    method = "chao"

    def __init__(self, k_sample: bool = False) -> None:
        self.k_sample = k_sample

    def estimate_from(self, data: CaptureData, level: float) -> EstimationResult:
        f = data.capture_frequencies()
        f1 = float(f.loc[1])
        f2 = float(f.loc[2]) if data.n_lists >= 2 else 0.0
        n = data.n_observed
        if f2 > 0:
            est = n + f1**2 / (2 * f2)
            r = f1 / f2
            var = f2 * (r**4 / 4 + r**3 + r**2 / 2)
            form = "n + f1²/(2 f2)"
        else:
            est = n + f1 * (f1 - 1) / 2
            var = f1 * (f1 - 1) / 2 + f1 * (2 * f1 - 1) ** 2 / 4 - f1**4 / (4 * est)
            form = "n + f1(f1-1)/2 (bias-corrected, f2 = 0)"
        if self.k_sample and data.n_lists > 1:
            factor = (data.n_lists - 1) / data.n_lists
            est = n + factor * (est - n)
            var *= factor**2
            form = f"{data.n_lists - 1}/{data.n_lists} x ({form})"
        model = f"Chao lower bound, {form}"
        return _closed_form(self.method, data, model, est, var, level, {"f1": f1, "f2": f2})
