"""Poisson regression on a capture-pattern table with an arbitrary design, by extended maximum
likelihood.

The heterogeneity columns of Rcapture's models are not log-linear interaction terms, so the
zero-margin rule of :mod:`fl_estimate.mse.loglinear` does not say when their maximum-likelihood
estimate exists. The general rule (Fienberg & Rinaldo 2012; Geyer 2009) does: the MLE exists if
and only if no *direction of recession* ``d`` exists, with ``X d = 0`` on every cell with people
and ``X d <= 0`` elsewhere, ``< 0`` somewhere. The cells where some such direction is negative are
fitted at zero in the extended MLE; the others (the *facial set*) are fitted by ordinary
maximum likelihood. One linear program (HiGHS) finds the facial set.

What the extended MLE says about the unobserved cell (design row ``x_0``, the intercept alone)
depends on whether ``x_0`` is determined by the facial cells (then ``mu_0`` is their fit's) or
not: then ``mu_0`` goes to 0 when every direction of recession has ``x_0' d < 0``, to infinity
when every one has ``x_0' d > 0``, and is not determined otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import gammaln

from fl_estimate.mse.loglinear import irls

__all__ = [
    "PoissonFit",
    "Support",
    "facial_set",
    "fit_poisson",
    "fit_removing_negative",
    "support",
]

#: IRLS convergence (relative deviance change) and iteration cap; R's glm uses 1e-8 and 25.
TOL = 1e-12
MAX_ITER = 100
#: Singular values below this fraction of the largest count as zero (R's glm: QR tolerance 1e-11).
RANK_TOL = 1e-10
#: Fitted means at IRLS's overflow clip (exp(100)) mean the iteration ran away.
CLIP_MU = float(np.exp(99.0))


@dataclass(frozen=True)
class PoissonFit:
    """An (extended) maximum-likelihood Poisson fit of ``log mu = X beta`` on the observed cells.

    Attributes
    ----------
    beta : ndarray (p,)
        Coefficients; ``-inf``/``+inf`` for a coefficient sent to infinity by the direction of
        recession, ``nan`` for one that is not determined.
    cov : ndarray (p, p)
        Inverse Fisher information (``nan`` where not determined).
    mu : ndarray (m,)
        Fitted means (0 on the cells outside the facial set).
    deviance, loglik : float
        Poisson deviance and log-likelihood of the observed cells.
    rank : int
        Rank of the design over all cells (R's ``glm`` rank: the parameter count of AIC/BIC).
    facial : ndarray (m,) of bool
        Cells fitted by ordinary maximum likelihood (all True when the MLE exists).
    mu0 : float
        Fitted unobserved count ``exp(intercept)``: finite, 0, ``inf`` or ``nan`` (undetermined).
    se_log_mu0 : float
        Standard error of ``log mu0`` (``nan`` unless ``mu0`` is finite and positive).
    iterations : int
    converged : bool
    """

    beta: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    deviance: float
    loglik: float
    rank: int
    facial: np.ndarray
    mu0: float
    se_log_mu0: float
    iterations: int
    converged: bool
    columns: tuple[int, ...] = field(default=())

    @property
    def mle_exists(self) -> bool:
        """True when every cell is in the facial set and the design has full rank."""
        return bool(self.facial.all()) and self.rank == self.beta.size

    @property
    def identifiable(self) -> bool:
        return self.rank == self.beta.size


def poisson_loglik(y: np.ndarray, mu: np.ndarray) -> float:
    """Poisson log-likelihood, cells with ``mu = 0`` (and ``y = 0``) adding 0."""
    pos = mu > 0
    return float(np.sum(y[pos] * np.log(mu[pos]) - mu[pos]) - np.sum(gammaln(y + 1.0)))


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / np.where(mu > 0, mu, 1.0)), 0.0)
    return float(2.0 * np.sum(t - (y - mu)))


def _recession_lp(
    x: np.ndarray, zero: np.ndarray, extra: tuple[np.ndarray, float] | None = None
) -> np.ndarray | None:
    """Find ``d`` with ``X d = 0`` on non-zero cells and ``X d <= -w`` on zero cells.

    Without ``extra``: maximise ``sum w`` (``0 <= w <= 1``); returns ``w`` (1 on the cells some
    direction of recession sends to zero). With ``extra = (x0, sign)``: feasibility of
    ``X d <= -1`` on ``zero`` cells (here the cells outside the facial set) together with
    ``sign * x0' d >= 0``; returns ``d`` or None.
    """
    p = x.shape[1]
    pos = ~zero
    nz = int(zero.sum())
    if extra is None:
        c = np.concatenate([np.zeros(p), -np.ones(nz)])
        a_ub = np.hstack([x[zero], np.eye(nz)])
        b_ub = np.zeros(nz)
        bounds = [(None, None)] * p + [(0.0, 1.0)] * nz
        a_eq = np.hstack([x[pos], np.zeros((int(pos.sum()), nz))]) if pos.any() else None
        b_eq = np.zeros(int(pos.sum())) if pos.any() else None
    else:
        x0, sign = extra
        c = np.zeros(p)
        a_ub = np.vstack([x[zero], -sign * x0[None, :]])
        b_ub = np.concatenate([-np.ones(nz), [0.0]])
        bounds = [(None, None)] * p
        a_eq = x[pos] if pos.any() else None
        b_eq = np.zeros(int(pos.sum())) if pos.any() else None
    from scipy.optimize import linprog

    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return np.asarray(res.x[p:] if extra is None else res.x, dtype=float)


def _rank(x: np.ndarray) -> int:
    if x.shape[0] == 0:
        return 0
    s = np.linalg.svd(x, compute_uv=False)
    return int(np.sum(s > RANK_TOL * s[0]))


def facial_set(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cells fitted by ordinary maximum likelihood in the extended MLE (boolean mask).

    All cells with people are in it; a zero cell is left out when some direction of recession
    sends its mean to zero.
    """
    zero = y <= 0
    facial = np.ones(len(y), dtype=bool)
    if not zero.any():
        return facial
    # no direction of recession when the patterns with people alone fix every coefficient
    if _rank(x[~zero]) == x.shape[1]:
        return facial
    w = _recession_lp(x, zero)
    if w is None:  # cannot happen (d = 0, w = 0 is feasible); be conservative
        return facial
    facial[np.flatnonzero(zero)[w > 0.5]] = False
    return facial


def _mu0_limit(x: np.ndarray, facial: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Limit of ``x_0' beta`` (``x_0`` = intercept only) when it is not fixed by the facial cells:
    ``-inf``, ``+inf`` or ``nan``; with a direction of recession (or None)."""
    x0 = np.zeros(x.shape[1])
    x0[0] = 1.0
    out = ~facial
    d_neg = _recession_lp(x, out, (x0, 1.0))  # a direction with x0'd >= 0 ?
    d_pos = _recession_lp(x, out, (x0, -1.0))  # a direction with x0'd <= 0 ?
    if d_neg is None and d_pos is not None:
        return -np.inf, d_pos
    if d_pos is None and d_neg is not None:
        return np.inf, d_neg
    return np.nan, d_pos if d_pos is not None else d_neg


@dataclass(frozen=True)
class Support:
    """What the extended MLE of a design needs that depends only on which cells are zero.

    Attributes
    ----------
    facial : ndarray of bool
        Cells fitted by ordinary maximum likelihood.
    basis : ndarray (p, r)
        Orthonormal basis of the row space of the facial design (the identified directions).
    rank : int
        Rank of the whole design.
    free : ndarray of bool
        Coefficients not fixed by the facial cells.
    direction : ndarray or None
        A direction of recession (``X d = 0`` on the facial cells, ``< 0`` on the others).
    log_mu0 : float or None
        Limit of the intercept when the facial cells do not fix it: ``-inf``, ``inf`` or ``nan``;
        None when they fix it.
    """

    facial: np.ndarray
    basis: np.ndarray
    rank: int
    free: np.ndarray
    direction: np.ndarray | None
    log_mu0: float | None


def support(x: np.ndarray, y: np.ndarray) -> Support:
    """The :class:`Support` of design ``x`` for counts with the zeros of ``y``."""
    p = x.shape[1]
    facial = facial_set(x, y)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    rank = int(np.sum(s > RANK_TOL * s[0]))
    if not facial.all():
        _, s, vt = np.linalg.svd(x[facial], full_matrices=False)
    basis = vt[: int(np.sum(s > RANK_TOL * s[0]))].T
    free = np.abs(np.eye(p) - basis @ basis.T).max(axis=1) > 1e-8
    direction: np.ndarray | None = None
    log_mu0: float | None = None
    if free[0]:
        if facial.all():  # dependent columns, no boundary: the intercept is not identified
            log_mu0 = np.nan
        else:
            log_mu0, direction = _mu0_limit(x, facial)
    if free.any() and direction is None and not facial.all():
        direction = _recession_lp(x, ~facial, (np.zeros(p), 1.0))
    return Support(facial, basis, rank, free, direction, log_mu0)


def fit_poisson(
    x: np.ndarray,
    y: np.ndarray,
    *,
    supp: Support | None = None,
    mu_start: np.ndarray | None = None,
    tol: float = TOL,
) -> PoissonFit:
    """Extended-MLE Poisson fit of ``log mu = X beta`` (first column the intercept).

    Parameters
    ----------
    x : ndarray (m, p)
    y : ndarray (m,)
    supp : Support, optional
        :func:`support` of ``x`` for the zeros of ``y``, if already known.
    mu_start : ndarray (m,), optional
        Fitted means to start from (a fit of nearby counts); changes the path, not the MLE.
    tol : float
        IRLS convergence: relative change of the deviance.
    """
    y = np.asarray(y, dtype=float)
    m = x.shape[0]
    if supp is None:
        supp = support(x, y)
    facial, basis = supp.facial, supp.basis
    z = x[facial] @ basis
    yf = y[facial]
    if mu_start is not None:
        gamma, muf, _, iters, conv = irls(z, yf, mu_start=mu_start[facial], tol=tol)
        if not conv or not np.all(muf < CLIP_MU):  # Newton from far away: start afresh
            mu_start = None
    if mu_start is None:
        gamma, muf, _, iters, conv = irls(z, yf, tol=tol, max_iter=MAX_ITER)
    info = (z.T * muf) @ z
    try:
        cov_g = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov_g = np.full((basis.shape[1],) * 2, np.nan)
        conv = False
    beta = basis @ gamma
    cov = basis @ cov_g @ basis.T
    mu = np.zeros(m)
    mu[facial] = muf
    if supp.log_mu0 is None:
        log_mu0 = float(beta[0])
        se = float(np.sqrt(max(cov[0, 0], 0.0)))
    else:
        log_mu0, se = supp.log_mu0, np.nan
    if supp.free.any():
        d = supp.direction
        for j in np.flatnonzero(supp.free):
            dj = 0.0 if d is None else d[j]
            beta[j] = -np.inf if dj < -1e-9 else np.inf if dj > 1e-9 else np.nan
            cov[j, :] = cov[:, j] = np.nan
    if np.isfinite(log_mu0):
        mu0 = float(np.exp(log_mu0))
    else:
        mu0 = 0.0 if log_mu0 == -np.inf else np.inf if log_mu0 == np.inf else np.nan
    return PoissonFit(
        beta=beta,
        cov=cov,
        mu=mu,
        deviance=poisson_deviance(y, mu),
        loglik=poisson_loglik(y, mu),
        rank=supp.rank,
        facial=facial,
        mu0=mu0,
        se_log_mu0=se,
        iterations=int(iters),
        converged=bool(conv),
    )


def fit_removing_negative(
    x: np.ndarray,
    y: np.ndarray,
    first: int,
    *,
    cache: dict[tuple[tuple[int, ...], bytes], Support] | None = None,
    starts: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[PoissonFit, tuple[int, ...]]:
    """Fit, then drop the first negative coefficient among columns ``first, first+1, ...`` and
    refit, until none is negative (Chao's lower bound: Rivest & Baillargeon 2007, as Rcapture's
    ``neg = TRUE``).

    Returns the last fit and the columns it kept. ``cache`` (keyed by the columns kept and the
    zero pattern of ``y``) saves the linear programs when the same design is refitted to counts
    with the same zeros (profile likelihood); ``starts`` (keyed by the columns) holds the last
    counts and fitted means of each design: the next fit starts from those means, except on the
    cells whose count changed (which start from the count, as a fresh fit does).
    """
    cols = tuple(range(x.shape[1]))
    zkey = (np.asarray(y) <= 0).tobytes()
    while True:
        xc = x[:, cols]
        key = (cols, zkey)
        supp = None if cache is None else cache.get(key)
        if supp is None:
            supp = support(xc, y)
            if cache is not None:
                cache[key] = supp
        start = None
        if starts is not None and cols in starts:
            y_prev, mu_prev = starts[cols]
            start = np.where(y_prev == y, mu_prev, y + 0.1)
        fit = replace(fit_poisson(xc, y, supp=supp, mu_start=start), columns=cols)
        if starts is not None and fit.converged:
            starts[cols] = (y.copy(), np.where(supp.facial, fit.mu, 1.0))
        neg = [j for j, c in enumerate(cols) if c >= first and fit.beta[j] < 0]
        if not neg:
            return fit, cols
        cols = cols[: neg[0]] + cols[neg[0] + 1 :]
