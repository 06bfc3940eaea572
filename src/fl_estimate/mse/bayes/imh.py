"""Independence Metropolis–Hastings for Poisson log-linear posteriors with normal priors.

The posterior of :class:`~fl_estimate.mse.bayes.loglinear.BayesLogLinear` (and so of Bayesian
thresholding) with normal or flat priors is smooth and log-concave, with a few dozen
parameters at most, and close to its Laplace approximation when the counts are not tiny. This
module samples it exactly, in numpy, without compiling anything:

1. Whitening. ``theta = mode + L^-T z``, where ``L L'`` is the Hessian of the negative log
   posterior at its mode (damped Newton, :func:`laplace_mode`):
   in ``z`` the Laplace approximation is the standard normal.
2. Proposal. A multivariate Student t with ``df`` degrees of freedom. Its location and scale
   are first those of the Laplace approximation; then ``refine`` pilot rounds of importance
   sampling from the current proposal replace them with the importance-weighted mean and
   covariance of the posterior (the pilot draws are discarded). Heavier tails than the
   posterior's (a Poisson likelihood falls at least exponentially in every direction once
   the model is identified, a normal prior faster still) keep the importance weight
   ``w = posterior / proposal`` bounded, so the sampler is uniformly ergodic (Mengersen and
   Tweedie 1996, theorem 2.1).
3. Chains. Each chain draws ``tune + draws`` proposals and accepts the move from ``z`` to
   ``z'`` with probability ``min(1, w(z') / w(z))`` (Tierney 1994): exact for any proposal
   whose support is the whole space; nothing of the approximation is left in the draws. The
   first ``tune`` states are discarded. Every density evaluation of a chain is one matrix
   product, so a fit takes milliseconds.

How good the proposal is shows in the acceptance rate (the share of proposals accepted): near
1 the draws are almost independent; low, they are sticky. :func:`imh_problems` names what is
wrong (acceptance below :data:`MIN_ACCEPTANCE`, an importance-sampling effective sample size
below :data:`MIN_PILOT_ESS` of the pilot draws, chains that disagree), and the caller
(:func:`~fl_estimate.mse.bayes.loglinear.sample_nuts`) then samples the model with PyMC's NUTS
instead.

Random streams: chain ``i``'s stream is keyed ``("imh", "chain")`` under its chain seed, and
the pilot rounds' stream ``("imh", "proposal")`` under chain 0's seed
(:func:`fl_estimate.seeds.seed_sequence`), so the draws depend only on the seeds.

References
----------
Tierney, L. (1994). Markov chains for exploring posterior distributions. Annals of Statistics
22(4), 1701–1728.
Mengersen, K. L. and Tweedie, R. L. (1996). Rates of convergence of the Hastings and
Metropolis algorithms. Annals of Statistics 24(1), 101–121.

Examples
--------
A two-list table with flat priors: the cell means are independent ``Gamma(y, 1)`` a
posteriori, so the unobserved cell ``exp(intercept) = mu10 mu01 / mu11``.

>>> import numpy as np
>>> design = np.array([[1.0, 1, 0], [1, 0, 1], [1, 1, 1]])  # cells 10, 01, 11
>>> post = LaplacePosterior.from_counts(design, np.array([60.0, 40, 20]), np.zeros(3))
>>> fit = sample_imh(post, chains=2, draws=2000, tune=200, seeds=[1, 2])
>>> fit.theta.shape, bool(fit.acceptance.min() > 0.5), imh_problems(fit)
((2, 2000, 3), True, [])
>>> round(float(np.median(np.exp(fit.theta[..., 0]))) / 120, 1)  # 60 * 40 / 20 = 120
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fl_estimate.i18n import N_
from fl_estimate.seeds import seed_sequence

__all__ = [
    "DF",
    "MAX_RHAT",
    "MAX_THIN",
    "MIN_ACCEPTANCE",
    "MIN_PILOT_ESS",
    "PILOT_DRAWS",
    "REFINE",
    "THIN_FACTOR",
    "ImhDraws",
    "LaplacePosterior",
    "imh_problems",
    "laplace_mode",
    "sample_imh",
    "split_rhat",
    "thinning",
]

#: Degrees of freedom of the t proposal.
DF = 20.0
#: Pilot importance-sampling rounds that move the proposal to the posterior's mean and
#: covariance.
REFINE = 2
#: Draws per pilot round.
PILOT_DRAWS = 2000
#: Thinning: steps per kept draw are this times the renewal chain's autocorrelation time
#: (:func:`thinning`).
THIN_FACTOR = 1.5
#: Most steps per kept draw.
MAX_THIN = 10
#: A chain that accepts fewer proposals than this share makes :func:`imh_problems` object.
MIN_ACCEPTANCE = 0.3
#: Largest split R-hat of a coefficient :func:`imh_problems` accepts.
MAX_RHAT = 1.01
#: Share of the last pilot round's draws that the importance weights' effective sample size
#: must reach.
MIN_PILOT_ESS = 0.2


def laplace_mode(
    design: np.ndarray, y: np.ndarray, prec: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mode and Cholesky factor of the Hessian of the negative log posterior of a Poisson
    log-linear model with independent normal priors of precision ``prec`` (0 = flat).

    Damped Newton from the independence-like start; when the mode is at infinity (a flat
    main effect of an empty list) the last finite iterate is used, which is still a good
    whitening transform.
    """
    theta = np.zeros(design.shape[1])
    theta[0] = np.log(max(y.mean(), 0.5))

    def obj(t: np.ndarray) -> float:
        eta = design @ t
        return float(np.sum(np.exp(eta) - y * eta) + 0.5 * np.sum(prec * t * t))

    f = obj(theta)
    ridge = 1e-8 * np.eye(theta.size)
    for _ in range(100):
        mu = np.exp(design @ theta)
        grad = design.T @ (mu - y) + prec * theta
        hess = design.T @ (mu[:, None] * design) + np.diag(prec) + ridge
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6:
            cand = theta - t * step
            fc = obj(cand)
            if np.isfinite(fc) and fc <= f:
                break
            t /= 2
        else:
            break
        theta, f_old, f = cand, f, fc
        if abs(f_old - f) < 1e-10 * max(1.0, abs(f)):
            break
    mu = np.exp(design @ theta)
    hess = design.T @ (mu[:, None] * design) + np.diag(prec) + ridge
    return theta, np.linalg.cholesky(hess)


@dataclass(frozen=True)
class LaplacePosterior:
    """``y_c ~ Poisson(exp(design_c' theta))`` with independent ``Normal(0, 1/prec_j)`` priors
    (``prec_j = 0``: flat), and its whitening ``theta = mode + linv_t @ z``.

    Attributes
    ----------
    design : ndarray (cells, p)
    y : ndarray (cells,)
    prec : ndarray (p,)
    mode : ndarray (p,)
        The posterior mode.
    linv_t : ndarray (p, p)
        ``L^-T`` for the Cholesky factor ``L`` of the Hessian at the mode.
    """

    design: np.ndarray
    y: np.ndarray
    prec: np.ndarray
    mode: np.ndarray
    linv_t: np.ndarray

    @classmethod
    def from_counts(cls, design: np.ndarray, y: np.ndarray, prec: np.ndarray) -> LaplacePosterior:
        """The posterior of these counts, its mode found by :func:`laplace_mode`."""
        mode, chol = laplace_mode(design, y, prec)
        return cls(design, y, prec, mode, np.linalg.inv(chol).T)

    def theta(self, z: np.ndarray) -> np.ndarray:
        """Coefficients of whitened points ``z`` (..., p)."""
        return self.mode + z @ self.linv_t.T

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """Log posterior density (up to a constant) at whitened points ``z`` (..., p); minus
        infinity where the Poisson means overflow."""
        theta = self.theta(z)
        with np.errstate(over="ignore", invalid="ignore"):
            eta = theta @ self.design.T
            out = eta @ self.y - np.exp(eta).sum(axis=-1) - 0.5 * (theta * theta) @ self.prec
        return np.where(np.isfinite(out), out, -np.inf)


@dataclass(frozen=True)
class ImhDraws:
    """What :func:`sample_imh` returns.

    Attributes
    ----------
    z, theta : ndarray (chains, draws, p)
        Kept draws, whitened and as coefficients.
    accepted : ndarray of bool (chains, draws)
        Whether each kept draw's transition accepted its proposal.
    acceptance : ndarray (chains,)
        Share of accepted proposals over each chain's tuning and kept draws.
    pilot_ess : float
        Importance-sampling effective sample size of the last pilot round, as a share of its
        draws (1: the proposal is the posterior).
    df : float
        Degrees of freedom of the proposal.
    thin : int
        Steps per kept draw.
    """

    z: np.ndarray
    theta: np.ndarray
    accepted: np.ndarray
    acceptance: np.ndarray
    pilot_ess: float
    df: float
    thin: int = 1


class _TProposal:
    """Multivariate t with location ``loc``, scale matrix ``chol @ chol.T``, ``df`` degrees."""

    def __init__(self, loc: np.ndarray, chol: np.ndarray, df: float) -> None:
        self.loc, self.chol, self.df = loc, chol, df
        p = loc.size
        self.const = (
            math.lgamma((df + p) / 2)
            - math.lgamma(df / 2)
            - 0.5 * p * math.log(df * math.pi)
            - float(np.log(np.diag(chol)).sum())
        )

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        g = rng.standard_normal((n, self.loc.size))
        w = rng.chisquare(self.df, n)
        return self.loc + (g @ self.chol.T) / np.sqrt(w / self.df)[:, None]

    def log_density(self, z: np.ndarray) -> np.ndarray:
        u = np.linalg.solve(self.chol, (z - self.loc).T).T
        q = np.einsum("ij,ij->i", u, u)
        return self.const - 0.5 * (self.df + self.loc.size) * np.log1p(q / self.df)


def _log_weights(post: LaplacePosterior, prop: _TProposal, z: np.ndarray) -> np.ndarray:
    return post.log_density(z) - prop.log_density(z)


def _proposal(
    post: LaplacePosterior, rng: np.random.Generator, df: float, refine: int, pilot: int
) -> tuple[_TProposal, float]:
    """The t proposal after ``refine`` importance-sampling rounds, and its effective sample
    size share. Each round draws ``pilot`` points from the current proposal and moves it to
    their importance-weighted mean and covariance; the proposal kept is the one (Laplace's
    included) whose own round had the highest effective sample size, so a round misled by a
    few large weights (many parameters, sparse cells) is not kept."""
    p = post.mode.size
    prop = _TProposal(np.zeros(p), np.eye(p), df)
    best, best_ess = prop, -1.0
    for r in range(refine + 1):
        z = prop.draw(rng, pilot)
        lw = _log_weights(post, prop, z)
        if not np.isfinite(lw.max()):
            break
        w = np.exp(lw - lw.max())
        w /= w.sum()
        ess = float(1.0 / np.sum(w * w) / pilot)
        if ess > best_ess:
            best, best_ess = prop, ess
        if r == refine:
            break
        loc = w @ z
        d = z - loc
        try:
            chol = np.linalg.cholesky((d * w[:, None]).T @ d)
        except np.linalg.LinAlgError:
            break
        prop = _TProposal(loc, chol, df)
    return best, max(best_ess, 0.0)


def _chain(lw: list[float], log_u: list[float], cur: int) -> tuple[list[int], int]:
    """Independence MH states over proposals ``cur+1, ...`` given their log weights, starting
    at proposal ``cur``: the index of the state after each step, and the accepted moves."""
    out, moves = [], 0
    lw_cur = lw[cur]
    for t in range(cur + 1, len(lw)):
        if log_u[t] < lw[t] - lw_cur:
            cur, lw_cur = t, lw[t]
            moves += 1
        out.append(cur)
    return out, moves


def thinning(acceptance: float, *, factor: float = THIN_FACTOR, most: int = MAX_THIN) -> int:
    """Steps per kept draw: ``ceil(factor (2 - a) / a)`` for acceptance rate ``a``, between 1
    and ``most``. ``(2 - a) / a`` is the integrated autocorrelation time of a chain that
    renews itself with probability ``a`` at every step; an independence sampler's rejections
    cluster where the importance weight is high, so its own is longer (``factor``).

    >>> thinning(0.9), thinning(0.7), thinning(0.45), thinning(0.01)
    (2, 3, 6, 10)
    """
    if not acceptance > 0:
        return most
    return int(min(most, max(1, math.ceil(factor * (2 - acceptance) / acceptance))))


def sample_imh(
    post: LaplacePosterior,
    *,
    chains: int,
    draws: int,
    tune: int,
    seeds: list[int],
    df: float = DF,
    refine: int = REFINE,
    pilot: int = PILOT_DRAWS,
    thin: int | None = None,
) -> ImhDraws:
    """Sample ``post`` by independence Metropolis–Hastings with a t proposal (module notes).

    Parameters
    ----------
    post : LaplacePosterior
    chains, draws, tune : int
        Chains, kept draws per chain, discarded steps per chain before them.
    seeds : list of int
        One seed per chain (the pilot rounds use the first one's ``("imh", "proposal")``
        stream).
    df : float
        Degrees of freedom of the proposal.
    refine, pilot : int
        Pilot importance-sampling rounds and draws per round (0 rounds: the Laplace
        approximation itself, with t tails).
    thin : int, optional
        Steps per kept draw; default :func:`thinning` of the acceptance rate of the tuning
        steps of all chains (1 without tuning steps), so the kept draws are close to
        independent. Choosing it from the tuning steps leaves the kept draws exact: they are
        a chain of the ``thin``-step kernel, which has the same stationary distribution.

    Returns
    -------
    ImhDraws
    """
    from threadpoolctl import threadpool_limits

    # matrices of a few dozen columns: BLAS threads only contend (several times slower on a
    # busy machine)
    with threadpool_limits(limits=1, user_api="blas"):
        prop, pilot_ess = _proposal(
            post,
            np.random.default_rng(seed_sequence(seeds[0], "imh", "proposal")),
            df,
            refine,
            pilot,
        )
        rngs = [np.random.default_rng(seed_sequence(s, "imh", "chain")) for s in seeds[:chains]]

        def block(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[float], list[float]]:
            z = prop.draw(rng, n)
            return z, _log_weights(post, prop, z).tolist(), np.log(rng.random(n)).tolist()

        # tuning steps: proposal 0 is the start, then tune steps
        first = [block(rng, tune + 1) for rng in rngs]
        runs = [_chain(lw, lu, 0) for _, lw, lu in first]
        moves = [m for _, m in runs]
        if thin is None:
            thin = thinning(sum(moves) / (chains * tune)) if tune else 1
        zs, acc = [], []
        for c, rng in enumerate(rngs):
            z0, lw0, _ = first[c]
            cur = runs[c][0][-1] if tune else 0
            z1, lw1, lu1 = block(rng, draws * thin)
            # the current state first, then the new proposals
            lw = [lw0[cur], *lw1]
            states, m = _chain(lw, [0.0, *lu1], 0)
            moves[c] += m
            idx = np.asarray(states[thin - 1 :: thin])
            zz = np.vstack([z0[cur][None, :], z1])
            zs.append(zz[idx])
            prev = np.concatenate([[0], idx[:-1]])
            acc.append(idx != prev)
        zarr = np.stack(zs)
        theta = post.theta(zarr)
    steps = tune + draws * thin
    return ImhDraws(
        z=zarr,
        theta=theta,
        accepted=np.stack(acc),
        acceptance=np.asarray(moves, dtype=float) / steps,
        pilot_ess=pilot_ess,
        df=df,
        thin=thin,
    )


def split_rhat(x: np.ndarray) -> float:
    """Largest split R-hat (Gelman et al. 2013, eq. 11.4) over the last axis of draws
    ``x`` (chains, draws, p); nan with fewer than 4 draws per chain.

    >>> rng = np.random.default_rng(0)
    >>> round(split_rhat(rng.normal(size=(4, 1000, 3))), 2)
    1.0
    """
    n = x.shape[1]
    h = n // 2
    if h < 2:
        return float("nan")
    halves = np.concatenate([x[:, :h], x[:, n - h :]], axis=0)  # (2c, h, p)
    w = halves.var(axis=1, ddof=1).mean(axis=0)
    b = h * halves.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt(((h - 1) / h * w + b / h) / w)
    r = r[np.isfinite(r)]
    return float(r.max()) if r.size else float("nan")


def imh_problems(
    fit: ImhDraws,
    *,
    min_acceptance: float = MIN_ACCEPTANCE,
    min_pilot_ess: float = MIN_PILOT_ESS,
    max_rhat: float = MAX_RHAT,
) -> list[str]:
    """Why the proposal is too poor to trust these draws, in words (empty: nothing).

    The draws are exact whatever the proposal, but a poor one leaves the chains sticky, so
    their Monte Carlo error is large and R-hat and ESS may miss it (a chain that seldom moves
    looks converged). Three signs, each checked against a threshold: the largest split R-hat
    of a coefficient, the lowest acceptance rate of the chains, and the pilot's
    importance-sampling effective sample size share.

    >>> fit = ImhDraws(np.zeros((2, 5, 1)), np.zeros((2, 5, 1)), np.zeros((2, 5), bool),
    ...                np.array([0.9, 0.1]), 0.5, 8.0)
    >>> imh_problems(fit)
    ['chain 1 accepted 10% of its proposals (< 30%)']
    """
    out: list[str] = []
    rhat = split_rhat(fit.theta)
    if rhat > max_rhat:
        out.append(
            N_("the chains disagree (largest split R-hat of a coefficient {rhat:.3f})", rhat=rhat)
        )
    worst = int(np.argmin(fit.acceptance))
    if fit.acceptance[worst] < min_acceptance:
        out.append(
            N_(
                "chain {chain} accepted {share:.0%} of its proposals (< {limit:.0%})",
                chain=worst,
                share=float(fit.acceptance[worst]),
                limit=min_acceptance,
            )
        )
    if fit.pilot_ess < min_pilot_ess:
        out.append(
            N_(
                "the proposal's importance-sampling ESS is {share:.0%} of its draws "
                "(< {limit:.0%})",
                share=float(fit.pilot_ess),
                limit=min_pilot_ess,
            )
        )
    return out
