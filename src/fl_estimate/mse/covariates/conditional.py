"""The conditional likelihood of capture histories given capture (Huggins 1989; Alho 1990).

People are grouped by their covariate values (group ``g`` holds ``m_g`` people, ``Y_gj`` of them
on list ``j``); list ``j`` catches a person of group ``g`` with probability
``p_gj = expit(eta_gj)``, ``eta_g = A_g theta`` (``A`` of shape ``(G, K, P)``). Given that a person
was caught at least once (probability ``P*_g = 1 - prod_j (1 - p_gj)``), the log-likelihood is

``l(theta) = sum_g [ sum_j (Y_gj eta_gj - m_g log(1 + exp eta_gj)) - m_g log P*_g ]``,

concave in ``theta`` (the capture patterns given capture form an exponential family in ``eta``), so
Newton's method with step halving finds the maximum; the observed and expected information are
equal. The Horvitz-Thompson estimate of the population size is ``N = sum_g m_g / P*_g`` with
variance (Huggins 1989) ``sum_g m_g Q_g / P*_g**2 + D' I^-1 D``, ``Q_g = 1 - P*_g`` and
``D = dN/dtheta``: the first term is the variance if the probabilities were known, the second
the uncertainty of their estimates (as R VGAM's ``N.hat.posbernoulli``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConditionalFit", "fit_conditional", "horvitz_thompson", "pattern_probabilities"]

#: Newton stops when the largest step is below this (coefficients on the logit scale).
STEP_TOL = 1e-10
MAX_ITER = 200
#: A coefficient beyond this in absolute value means the fit runs off to a boundary.
MAX_COEF = 25.0


@dataclass(frozen=True)
class ConditionalFit:
    """A maximised conditional likelihood.

    Attributes
    ----------
    coef : ndarray (P,)
    cov : ndarray (P, P)
        Inverse information.
    loglik : float
    iterations : int
    converged : bool
        False when Newton did not converge or a coefficient exceeds :data:`MAX_COEF` (the MLE is
        at a boundary: some probability is 0 or 1).
    p : ndarray (G, K)
        Fitted capture probabilities.
    pstar : ndarray (G,)
        Probability of being caught at least once.
    """

    coef: np.ndarray
    cov: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    p: np.ndarray
    pstar: np.ndarray


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _evaluate(
    a: np.ndarray, m: np.ndarray, ysum: np.ndarray, theta: np.ndarray, *, derivatives: bool
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, score, information, p and P* at ``theta``."""
    eta = a @ theta  # (G, K)
    sp = _softplus(eta)
    log_q = -sp.sum(axis=1)  # log prod (1 - p)
    pstar = -np.expm1(log_q)
    with np.errstate(divide="ignore"):
        ll = float(np.sum(ysum * eta - m[:, None] * sp) - np.sum(m * np.log(pstar)))
    p = 1.0 / (1.0 + np.exp(-eta))
    if not derivatives:
        return ll, np.empty(0), np.empty((0, 0)), p, pstar
    q_all = np.exp(log_q)
    s = ysum - m[:, None] * p / pstar[:, None]
    score = np.einsum("gkp,gk->p", a, s)
    w = m[:, None] * p * (1.0 - p) / pstar[:, None]
    info = np.einsum("gkp,gk,gkr->pr", a, w, a)
    v = np.einsum("gkp,gk->gp", a, p)
    info -= np.einsum("g,gp,gr->pr", m * q_all / pstar**2, v, v)
    return ll, score, info, p, pstar


def fit_conditional(
    a: np.ndarray,
    m: np.ndarray,
    ysum: np.ndarray,
    *,
    start: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
) -> ConditionalFit:
    """Maximise the conditional likelihood by Newton's method with step halving.

    Parameters
    ----------
    a : ndarray (G, K, P)
        Design: ``eta_gj = a[g, j] @ theta``.
    m : ndarray (G,)
        People in each group (fractional counts allowed).
    ysum : ndarray (G, K)
        People of each group on each list.
    start : ndarray (P,), optional
        Starting value (default 0: every probability 1/2).
    """
    theta = np.zeros(a.shape[2]) if start is None else np.asarray(start, dtype=float).copy()
    ll, score, info, p, pstar = _evaluate(a, m, ysum, theta, derivatives=True)
    converged = False
    iterations = 0
    for it in range(1, max_iter + 1):
        iterations = it
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, score, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta + t * step
            ll_new = _evaluate(a, m, ysum, cand, derivatives=False)[0]
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            t /= 2.0
            if t < 1e-10:
                cand, ll_new = theta, ll
                break
        size = float(np.max(np.abs(cand - theta), initial=0.0))
        theta = cand
        ll, score, info, p, pstar = _evaluate(a, m, ysum, theta, derivatives=True)
        if size < STEP_TOL or np.max(np.abs(theta), initial=0.0) > 4 * MAX_COEF:
            converged = size < STEP_TOL
            break
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
        converged = False
    if np.max(np.abs(theta), initial=0.0) > MAX_COEF or not np.all(np.isfinite(cov)):
        converged = False
    return ConditionalFit(theta, cov, ll, iterations, converged, p, pstar)


def horvitz_thompson(
    fit: ConditionalFit, a: np.ndarray, m: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Horvitz-Thompson N over the groups in ``mask`` (default all), with Huggins' variance.

    Returns
    -------
    estimate, ht_variance, parameter_variance
        The variance of N is the sum of the two: ``sum m Q / P*^2`` (probabilities known) and
        ``D' cov D`` (their estimation), ``D = dN/dtheta = -sum m Q / P*^2 * A' p``.
    """
    sel = np.ones(len(m), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    pstar, p = fit.pstar[sel], fit.p[sel]
    mm = m[sel]
    q_all = 1.0 - pstar
    n_hat = float(np.sum(mm / pstar))
    ht = float(np.sum(mm * q_all / pstar**2))
    d = -np.einsum("g,gkp,gk->p", mm * q_all / pstar**2, a[sel], p)
    return n_hat, ht, float(d @ fit.cov @ d)


def pattern_probabilities(p: np.ndarray) -> np.ndarray:
    """Probability of every capture pattern (cell index, list 0 the least significant bit) for
    each row of capture probabilities: shape ``(G, 2**K)``, cell 0 the unobserved pattern."""
    k = p.shape[1]
    cells = np.arange(1 << k)
    bits = ((cells[:, None] >> np.arange(k)) & 1).astype(bool)  # (2^K, K)
    logp = np.log(np.clip(p, 1e-300, 1.0))
    logq = np.log(np.clip(1.0 - p, 1e-300, 1.0))
    return np.exp(np.where(bits[None], logp[:, None, :], logq[:, None, :]).sum(axis=2))
