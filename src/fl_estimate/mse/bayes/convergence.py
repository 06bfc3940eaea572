"""R-hat, effective sample sizes and Monte Carlo standard errors of quantiles, in numpy.

The same estimators as ArviZ (``arviz_stats`` 1.x: ``rhat(method="rank")``,
``ess(method="bulk")``, ``ess(method="tail")``, ``mcse(method="quantile")``; Vehtari, Gelman,
Simpson, Carpenter and Bürkner 2021), written out so that a fit does not import ArviZ's
statistics package, which loads ``scipy.stats`` and its leave-one-out machinery (about 1.5 CPU-s
of a fresh process, more than the fit of a Bayesian log-linear model takes). The results agree
with ArviZ's to rounding (``tests/mse/test_bayes_imh.py`` compares them); the one difference is
that autocovariances use an FFT of length ``2n`` rather than SciPy's next fast length, which
changes nothing but the last bits.

Every function takes draws of shape ``(chains, draws)``.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(4, 1000))
>>> round(rhat(x), 2), ess_bulk(x) > 3000, ess_tail(x) > 3000, 0 < mcse_quantile(x, 0.5) < 0.05
(1.0, True, True, True)
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

__all__ = ["ess", "ess_bulk", "ess_quantile", "ess_tail", "mcse_quantile", "rhat"]


@lru_cache(maxsize=16)
def _normal_scores(size: int) -> np.ndarray:
    """Normal quantiles of the Blom-offset ranks ``(r - 3/8) / (size + 1/4)`` for every rank
    ``r = 1, 1.5, 2, ..., size`` an array of ``size`` values can have (ties share the average
    of their ranks, a whole or half number): computed once per size, then looked up."""
    inv = NormalDist().inv_cdf
    ranks = 1 + 0.5 * np.arange(2 * size - 1)
    return np.array([inv(p) for p in (ranks - 3 / 8) / (size - 2 * (3 / 8) + 1)])


def _invalid(x: np.ndarray, min_chains: int) -> bool:
    return bool(np.isnan(x).any()) or x.shape[1] < 4 or x.shape[0] < min_chains


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.vstack((x[:, :half], x[:, -half:]))


def _rank(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of the flattened ``a``, ties shared (scipy's ``rankdata``)."""
    flat = a.ravel()
    n = flat.size
    order = np.argsort(flat, kind="mergesort")
    inv = np.empty(n, dtype=np.intp)
    inv[order] = np.arange(n)
    s = flat[order]
    first = np.r_[True, s[1:] != s[:-1]]
    dense = first.cumsum()[inv]
    count = np.r_[np.nonzero(first)[0], n]
    return (0.5 * (count[dense] + count[dense - 1] + 1)).reshape(a.shape)


def _z_scale(a: np.ndarray) -> np.ndarray:
    """Rank-normalised values: normal quantiles of the Blom-offset ranks."""
    return _normal_scores(a.size)[(2 * _rank(a)).astype(np.intp) - 2]


def _rhat_basic(a: np.ndarray) -> float:
    n = a.shape[1]
    between = n * np.var(a.mean(axis=1), ddof=1)
    within = np.mean(np.var(a, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat, the larger of the bulk and the folded (tail) one; nan with
    one chain or fewer than 4 draws."""
    x = np.asarray(x, dtype=float)
    if _invalid(x, 2):
        return float("nan")
    s = _split(x)
    return max(_rhat_basic(_z_scale(s)), _rhat_basic(_z_scale(np.abs(s - np.median(s)))))


def _autocov(a: np.ndarray) -> np.ndarray:
    n = a.shape[1]
    d = a - a.mean(axis=1, keepdims=True)
    f = np.fft.rfft(d, n=2 * n, axis=1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=2 * n, axis=1)[:, :n] / n


def ess(a: np.ndarray) -> float:
    """Effective sample size of draws ``a`` as they are (Geyer's initial monotone sequence on
    the chains' averaged autocorrelations)."""
    a = np.asarray(a, dtype=float)
    if (a.max() - a.min()) < np.finfo(float).resolution:
        return float(a.size)
    m, n = a.shape
    acov = _autocov(a)
    mean_var = acov[:, 0].mean() * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus += np.var(a.mean(axis=1), ddof=1)
    rho_lag = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus
    rho = np.zeros(n)
    even, odd = 1.0, float(rho_lag[1])
    rho[0], rho[1] = even, odd
    t = 1
    while t < n - 3 and even + odd > 0.0:
        even, odd = float(rho_lag[t + 1]), float(rho_lag[t + 2])
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = m * n
    tau = float(-1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1 : max_t + 2].sum())
    tau = max(tau, 1 / math.log10(total))
    return float("nan") if np.isnan(rho).any() else float(total / tau)


def ess_bulk(x: np.ndarray) -> float:
    """Bulk ESS: of the rank-normalised split chains."""
    x = np.asarray(x, dtype=float)
    if _invalid(x, 1):
        return float("nan")
    return ess(_z_scale(_split(x)))


def ess_quantile(x: np.ndarray, prob: float) -> float:
    """ESS of the ``prob`` quantile: of the indicator of draws at or below it."""
    x = np.asarray(x, dtype=float)
    if _invalid(x, 1):
        return float("nan")
    return ess(_split((x <= np.quantile(x, prob)).astype(float)))


def ess_tail(x: np.ndarray, prob: tuple[float, float] = (0.05, 0.95)) -> float:
    """Tail ESS: the smaller of the ESS of the two quantiles ``prob``."""
    return min(ess_quantile(x, prob[0]), ess_quantile(x, prob[1]))


def _beta_cdf(x: float, a: float, b: float) -> float:
    """CDF of Beta(a, b): the regularised incomplete beta function (continued fraction,
    Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(x, a, b) / a
    return 1.0 - front * _betacf(1 - x, b, a) / b


def _beta_index(q: float, a: float, b: float, size: int, *, up: bool) -> int:
    """``floor`` (or, ``up``, ``ceil``) of ``ppf * size - 1`` for the ``q`` quantile ``ppf``
    of Beta(a, b), clipped to the draws' indices: bisection on the CDF until both ends of the
    bracket give the same index (what ArviZ computes from SciPy's quantile, without
    computing the quantile to the last bit)."""
    rnd = math.ceil if up else math.floor

    def index(x: float) -> int:
        return int(min(max(rnd(x * size - 1), 0), size - 1))

    lo, hi = 0.0, 1.0
    for _ in range(200):
        if index(lo) == index(hi):
            break
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
    return index(hi if up else lo)


def _betacf(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def mcse_quantile(x: np.ndarray, prob: float) -> float:
    """Monte Carlo standard error of the ``prob`` quantile: half the distance between the
    order statistics at the 15.9% and 84.1% points of the quantile's Beta distribution given
    its ESS."""
    x = np.asarray(x, dtype=float)
    if _invalid(x, 1):
        return float("nan")
    e = ess_quantile(x, prob)
    ordered = np.sort(x.ravel())
    size = ordered.size
    if not np.isfinite(e):
        return float("nan")
    a, b = e * prob + 1, e * (1 - prob) + 1
    th1 = ordered[_beta_index(0.1586553, a, b, size, up=False)]
    th2 = ordered[_beta_index(0.8413447, a, b, size, up=True)]
    return float((th2 - th1) / 2)
