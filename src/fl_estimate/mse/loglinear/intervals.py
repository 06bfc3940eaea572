"""Intervals for log-linear MSE: Wald on the log dark figure, Rcapture's multinomial profile
likelihood, and bootstrap (parametric or nonparametric; percentile or BCa with delete-one jackknife
acceleration), repeating model selection on every replicate when selection was used.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import fit_loglinear, parse_model
>>> from fl_estimate.mse.loglinear.intervals import profile_interval, wald_log_interval
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> fit = fit_loglinear(data, parse_model("LA:NG + PF:GO", data.lists))
>>> [round(x) for x in wald_log_interval(fit, 0.95)]
[11553, 15097]
>>> pi = profile_interval(fit, 0.95)
>>> round(pi.estimate), round(pi.low), round(pi.high)
(13168, 11558, 15135)
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln, ndtr, ndtri

from fl_estimate._typing import spawn_seeds
from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.mse.loglinear.fit import LogLinearFit, irls_batch
from fl_estimate.mse.loglinear.table import Table, design
from fl_estimate.mse.options import IntervalOptions

__all__ = [
    "BootstrapResult",
    "acceleration",
    "bca_limits",
    "bootstrap",
    "jackknife_acceleration",
    "parallel_map",
    "profile_interval",
    "replicate_counts",
    "safe_point",
    "wald_log_interval",
]

PointFn = Callable[[Table], float]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- Wald


def wald_log_interval(fit: LogLinearFit, level: float = 0.95) -> tuple[float, float]:
    """Wald interval on the log of the unobserved count, conditional on the model (SparseMSE).

    ``n + exp(log_mu0 +/- z * se)`` with ``se`` from the inverse Fisher information.
    """
    z = ndtri(0.5 + level / 2)  # what scipy.stats.norm.ppf computes, without scipy.stats
    lo = fit.table.n + np.exp(fit.coef[0] - z * fit.se_log_unobserved)
    hi = fit.table.n + np.exp(fit.coef[0] + z * fit.se_log_unobserved)
    return float(lo), float(hi)


# ---------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class ProfileInterval:
    """Rcapture's multinomial profile-likelihood interval.

    ``estimate`` is the multinomial MLE of N (Rcapture's ``abundance``); ``high`` is ``None`` when
    the profile likelihood does not fall far enough within ``search_limit`` (the interval is open
    above: the data cannot bound N).
    """

    estimate: float
    low: float
    high: float | None
    search_limit: float
    low_at_observed: bool


def _profile_loglik_factory(fit: LogLinearFit) -> Callable[[float], float]:
    table = fit.table
    n = table.n
    x = design(table, fit.terms)[fit.alive]
    y = table.y[fit.alive]
    # the unobserved cell: intercept only
    x_full = np.vstack([x, np.eye(1, x.shape[1])])
    pm = np.ones((1, x.shape[1]), dtype=bool)
    cm = np.ones((1, x_full.shape[0]), dtype=bool)

    def loglik(big_n: float) -> float:
        n0 = big_n - n
        yy = np.concatenate([y, [n0]])
        _b, _mu, dev, _it, _conv = irls_batch(x_full, yy, pm, cm)
        tot = big_n
        # Cormack (1992) correction term, exactly as Rcapture computes it
        if tot > 100:
            if n0 in (0.0, 1.0):
                ct = -tot + 0.5 * np.log(2 * np.pi * tot)
            else:
                ct = n0 - tot - 0.5 * np.log(n0 / tot)
        else:
            n0log = n0 * np.log(n0) if n0 > 0 else 0.0
            ct = n0log + gammaln(tot + 1) - tot * np.log(tot) - gammaln(n0 + 1)
        return float((dev[0] - 2 * ct) / -2.0)

    return loglik


def profile_interval(
    fit: LogLinearFit, level: float = 0.95, *, fmax: float = 3.0, extend: float | None = None
) -> ProfileInterval:
    """Multinomial profile-likelihood interval for N (Rcapture's ``closedpCI.t``).

    For each N the model is fitted to the full table with the unobserved cell set to ``N - n``;
    the profile log-likelihood is ``-(deviance - 2 ct) / 2`` with Cormack's (1992) correction ``ct``.
    The interval is ``{N : 2 (l(N_max) - l(N)) <= chi2_1(level)}``; the lower end is ``n`` when the
    likelihood does not drop enough above ``n``. Rcapture searches the upper end up to
    ``fmax * N_poisson``; with ``extend`` the search goes on up to ``extend * N_poisson``.

    References
    ----------
    Rivest, L.-P. & Baillargeon, S. (2007). Rcapture: loglinear models for capture-recapture in R.
    Journal of Statistical Software 19(5). Cormack, R. M. (1992). Interval estimation for
    mark-recapture studies of closed populations. Biometrics 48, 567–576.
    """
    from scipy.optimize import brentq, minimize_scalar
    from scipy.stats import chi2

    n = fit.table.n
    big = fit.estimate
    ll = _profile_loglik_factory(fit)
    opt = minimize_scalar(
        lambda v: -ll(v),
        bounds=(n, fmax * big),
        method="bounded",
        options={"xatol": 1e-7 * big},
    )
    nmax, lmax = float(opt.x), -float(opt.fun)
    target = lmax - chi2.ppf(level, 1) / 2

    def f(v: float) -> float:
        return ll(v) - target

    low_at_n = f(n) >= 0
    low = n if low_at_n else brentq(f, n, nmax, xtol=1e-8 * big)
    limit = fmax * big
    high: float | None = None
    if f(limit) < 0:
        high = brentq(f, nmax, limit, xtol=1e-8 * big)
    elif extend is not None and extend > fmax:
        limit = extend * big
        if f(limit) < 0:
            high = brentq(f, nmax, limit, xtol=1e-8 * big)
    return ProfileInterval(nmax, float(low), None if high is None else float(high), limit, low_at_n)


# ---------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates of N and the BCa ingredients."""

    replicates: np.ndarray  # NaN where the procedure found no estimate
    estimate: float
    kind: str  # "nonparametric" or "parametric"
    acceleration: float | None = None
    jackknife: np.ndarray | None = None

    @property
    def n_failed(self) -> int:
        return int(np.isnan(self.replicates).sum())

    def percentile(self, level: float = 0.95) -> tuple[float, float]:
        ok = self.replicates[~np.isnan(self.replicates)]
        q = np.quantile(ok, [0.5 - level / 2, 0.5 + level / 2], method="median_unbiased")
        return float(q[0]), float(q[1])

    def bca(self, level: float = 0.95) -> tuple[float, float]:
        if self.acceleration is None:
            raise ValueError("BCa needs the jackknife acceleration")
        lo, hi = bca_limits(
            self.replicates, self.estimate, self.acceleration, [0.5 - level / 2, 0.5 + level / 2]
        )
        return float(lo), float(hi)


def bca_limits(
    replicates: np.ndarray, estimate: float, acceleration: float, alpha: Sequence[float]
) -> np.ndarray:
    """BCa limits (DiCiccio & Efron 1996), as SparseMSE's ``bcaconfvalues``.

    ``z0 = Phi^-1(share of replicates below the estimate)``; the limit for ``alpha`` is the
    ``Phi(z0 + (z0 + z_alpha) / (1 - a (z0 + z_alpha)))`` quantile of the replicates (quantile type
    8, as R's ``quantile(type = 8)``). Failed replicates (NaN) are left out.
    """
    reps = np.asarray(replicates, dtype=float)
    reps = reps[~np.isnan(reps)]
    z0 = ndtri(np.mean(reps < estimate))  # scipy.stats.norm.ppf and .cdf are ndtri and ndtr
    za = ndtri(np.asarray(alpha, dtype=float))
    za0 = za + z0
    zq = ndtr(z0 + za0 / (1 - acceleration * za0))
    return np.quantile(reps, zq, method="median_unbiased")


def jackknife_acceleration(table: Table, point: PointFn) -> tuple[float, np.ndarray]:
    """Delete-one jackknife over the observed people, grouped by cell (SparseMSE's ``ahat``).

    For each cell with a positive count, one person is removed and the whole procedure (selection
    included) rerun; each value counts as many times as the cell has people.
    """
    y = table.y
    jack = np.zeros(len(y))
    for c in np.flatnonzero(y > 0):
        yy = y.copy()
        yy[c] -= 1
        jack[c] = safe_point(point, table.with_counts(yy))
    return acceleration(jack, y), jack


def acceleration(jack: np.ndarray, counts: np.ndarray) -> float:
    """BCa acceleration from delete-one estimates ``jack[c]`` (one person removed from cell
    ``c``), each weighted by the cell's count: ``sum w d^3 / (6 (sum w d^2)^1.5)`` with ``d`` the
    weighted mean minus ``jack``. NaN when a cell with people has no estimate or all agree.
    """
    w = np.asarray(counts, dtype=float)
    jk = np.where(w > 0, np.asarray(jack, dtype=float), 0.0)
    if np.isnan(jk).any():
        return float("nan")
    jr = np.sum(w * jk) / np.sum(w) - jk
    den = np.sum(w * jr**2)
    if not (np.isfinite(den) and den > 0):
        return float("nan")
    return float(np.sum(w * jr**3) / (6.0 * den**1.5))


def replicate_counts(
    table: Table,
    kind: str,
    fitted: np.ndarray | None,
    estimate: float,
    seed: np.random.SeedSequence,
) -> np.ndarray:
    """Observed-cell counts of one bootstrap table drawn from its own seed.

    ``"nonparametric"``: a multinomial over the observed cells with the observed total;
    ``"parametric"``: a binomial total from ``round(estimate)`` people with the fitted model's
    probability of being observed, spread over the cells in proportion to ``fitted``.
    """
    rng = np.random.default_rng(seed)
    if kind == "nonparametric":
        return rng.multinomial(round(table.n), table.y / table.n).astype(float)
    if fitted is None:
        raise ValueError("the parametric bootstrap needs the fitted cell means")
    n_total = round(estimate)
    p_obs = fitted.sum() / estimate
    nobs = rng.binomial(n_total, min(1.0, p_obs))
    return rng.multinomial(nobs, fitted / fitted.sum()).astype(float)


def _run_chunk(
    args: tuple[Table, str, np.ndarray | None, float, list[np.random.SeedSequence], PointFn],
) -> list[float]:
    table, kind, fitted, estimate, seeds, point = args
    out = []
    for s in seeds:
        counts = replicate_counts(table, kind, fitted, estimate, s)
        out.append(safe_point(point, table.with_counts(counts)))
    return out


def default_jobs(n_jobs: int | None) -> int:
    """Worker processes: ``n_jobs``, or the CPUs available to this process (at most 8)."""
    return n_jobs if n_jobs is not None else min(8, len(os.sched_getaffinity(0)))


def chunk_bounds(n: int, n_chunks: int) -> list[tuple[int, int]]:
    """``n`` items in ``n_chunks`` contiguous, nearly equal, non-empty slices ``(a, b)``."""
    bounds = np.linspace(0, n, max(1, min(n, n_chunks)) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]


def parallel_map(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    n_jobs: int | None,
    executor: Executor | None,
    in_process: bool = False,
) -> list[Any]:
    """``[fn(j) for j in jobs]`` on ``executor``, else on a pool of ``n_jobs`` processes, else
    (``in_process``, one job or one worker) here. ``fn`` and the jobs must be picklable."""
    if executor is not None:
        return list(executor.map(fn, jobs))
    if in_process or len(jobs) <= 1 or default_jobs(n_jobs) <= 1:
        return [fn(j) for j in jobs]
    from fl_estimate.outputs.processes import process_pool

    with process_pool(max_workers=default_jobs(n_jobs)) as pool:  # workers end with the run
        return list(pool.map(fn, jobs))


def bootstrap(
    table: Table,
    point: PointFn,
    *,
    estimate: float,
    options: IntervalOptions,
    fitted: np.ndarray | None = None,
) -> BootstrapResult:
    """Bootstrap the whole estimation procedure ``point`` (selection included).

    Parameters
    ----------
    table : Table
    point : callable Table -> float
        The procedure: returns N, or NaN when it finds no estimate. Must be picklable to run in
        parallel.
    estimate : float
        The procedure's estimate on the original data.
    options : IntervalOptions
        ``n_boot``, ``bootstrap`` (``"nonparametric"``: multinomial resampling of the observed
        cells; ``"parametric"``: draws from the fitted model, whose fitted means of the observed
        cells are ``fitted``), ``boot_interval`` (``"bca"`` computes the jackknife
        acceleration), ``seed`` (replicate ``i`` uses the ``i``-th child of
        ``SeedSequence(seed)``, so results do not depend on the number of workers), ``n_jobs``
        and ``executor``.

    Returns
    -------
    BootstrapResult
        A replicate whose procedure fails (no estimate, or a numerical failure) is NaN, counted
        in ``n_failed``; it never ends the run.
    """
    kind = options.bootstrap
    if kind == "parametric" and fitted is None:
        raise ValueError("the parametric bootstrap needs the fitted cell means")
    n_boot = options.n_boot
    seeds = spawn_seeds(options.seed, n_boot)
    n_jobs = default_jobs(options.n_jobs)
    jobs = [
        (table, kind, fitted, estimate, seeds[a:b], point)
        for a, b in chunk_bounds(n_boot, 4 * n_jobs if n_jobs > 1 else 1)
    ]
    parts = parallel_map(
        _run_chunk, jobs, n_jobs=n_jobs, executor=options.executor, in_process=n_boot < 50
    )
    reps = np.array([v for part in parts for v in part], dtype=float)
    with_acc = options.boot_interval == "bca"
    ahat, jack = jackknife_acceleration(table, point) if with_acc else (None, None)
    return BootstrapResult(reps, float(estimate), kind, ahat, jack)


#: What a bootstrap replicate or jackknife table may raise and still count as "no estimate":
#: the model does not exist there, or the numbers fail (a singular matrix, an overflow).
REPLICATE_FAILURES: tuple[type[Exception], ...] = (
    EstimateDoesNotExistError,
    ArithmeticError,
    np.linalg.LinAlgError,
)


def safe_point(fn: PointFn, table: Table) -> float:
    """Run a procedure on a bootstrap or jackknife table, turning a failure
    (:data:`REPLICATE_FAILURES`) into NaN, counted by the caller."""
    try:
        return float(fn(table))
    except REPLICATE_FAILURES as exc:
        logger.debug("replicate without an estimate: %s", exc)
        return float("nan")
