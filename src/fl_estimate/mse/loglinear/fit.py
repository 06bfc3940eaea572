"""Poisson log-linear models for multiple systems estimation, fitted by extended maximum
likelihood with iteratively reweighted least squares (Fisher scoring).

The observed cells (every capture pattern but the all-zero one) are independent Poisson counts with
``log mu_c = sum of the parameters of the terms contained in c``. The unobserved cell has
``log mu_0 = intercept``, so the estimated total is ``N = n + exp(intercept)`` (the Poisson estimate
reported by SparseMSE and MultipleSystemsEstimation). Terms with a zero margin are fitted at minus
infinity (see :mod:`fl_estimate.mse.loglinear.existence`).

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import fit_loglinear, parse_model
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> fit = fit_loglinear(data, parse_model("LA:NG + PF:GO", data.lists))
>>> fit.label()
'main effects + LA:NG + PF:GO'
>>> round(fit.estimate), fit.converged
(13176, True)

A start changes the path of the iteration, not the MLE:

>>> warm = fit_loglinear(data, parse_model("LA:NG + PF:GO", data.lists),
...                      start=fit_loglinear(data, parse_model("LA:NG", data.lists)))
>>> abs(warm.estimate - fit.estimate) < 1e-6
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.existence import check_existence, code_name
from fl_estimate.mse.loglinear.table import Table, design, reduce_model
from fl_estimate.mse.loglinear.terms import Model, model_label, term_label

__all__ = [
    "DEVIANCE_TOL",
    "MAX_ITER",
    "LogLinearFit",
    "LoglinearFit",
    "deviance",
    "fit_loglinear",
    "heading_to_boundary",
    "irls",
    "irls_batch",
    "poisson_loglik",
]

#: Convergence of IRLS: relative change of the deviance, as R's glm (which uses 1e-8).
DEVIANCE_TOL = 1e-11
MAX_ITER = 100
#: Step-halvings tried before IRLS gives up on lowering the deviance from the current point.
MAX_HALVINGS = 30
#: A fit needing more iterations than this, or with a coefficient larger than this in absolute
#: value, may be heading for a boundary the zero-margin rule did not catch: the LP then decides.
MAX_CLEAN_ITER = 15
MAX_CLEAN_COEF = 20.0


@dataclass(frozen=True)
class LogLinearFit:
    """A fitted (extended-MLE) Poisson log-linear model.

    Attributes
    ----------
    model : frozenset of int
        Interaction terms.
    terms : list of int
        Parameters estimated (intercept, main effects, interactions with a positive margin).
    boundary_terms : list of int
        Parameters at minus infinity (their cells fitted at zero).
    coef : ndarray
        Estimates of ``terms``.
    cov : ndarray
        Inverse Fisher information of ``coef`` (``summary(glm)$cov.unscaled`` in R).
    mu : ndarray
        Fitted means of the observed cells (zero on boundary cells).
    deviance, loglik : float
        Poisson deviance and log-likelihood of the observed cells.
    """

    table: Table = field(repr=False)
    model: Model
    terms: list[int]
    boundary_terms: list[int]
    coef: np.ndarray
    cov: np.ndarray = field(repr=False)
    mu: np.ndarray = field(repr=False)
    alive: np.ndarray = field(repr=False)
    deviance: float
    loglik: float
    iterations: int
    converged: bool

    @property
    def n_params(self) -> int:
        """Every parameter of the model, those at minus infinity included (as in the AIC/BIC)."""
        return len(self.terms) + len(self.boundary_terms)

    @property
    def unobserved(self) -> float:
        return float(np.exp(self.coef[0]))

    @property
    def estimate(self) -> float:
        """Poisson estimate of the total: observed plus fitted unobserved cell."""
        return self.table.n + self.unobserved

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_params * np.log(self.table.n)

    @property
    def df_residual(self) -> int:
        return int(self.alive.sum()) - len(self.terms)

    @cached_property
    def se_log_unobserved(self) -> float:
        return float(np.sqrt(self.cov[0, 0]))

    def label(self) -> str:
        return model_label(self.model, self.table.lists)

    def coefficients(self) -> list[tuple[str, float, float]]:
        """(term, estimate, standard error); boundary terms have estimate -inf and se nan."""
        lists = self.table.lists
        names = ["(intercept)" if t == 0 else term_label(t, lists) for t in self.terms]
        se = np.sqrt(np.diag(self.cov))
        out = [(nm, float(c), float(s)) for nm, c, s in zip(names, self.coef, se, strict=True)]
        out += [(term_label(t, lists), -np.inf, np.nan) for t in self.boundary_terms]
        return out


#: The name used before issue 18 (kept as an alias).
LoglinearFit = LogLinearFit


def poisson_loglik(y: np.ndarray, mu: np.ndarray) -> float:
    """Poisson log-likelihood of counts ``y`` at means ``mu`` (cells with ``mu = 0`` left out)."""
    pos = mu > 0
    from scipy.special import gammaln  # on first use (scipy.special loads scipy.linalg)

    return float(np.sum(y[pos] * np.log(mu[pos]) - mu[pos] - gammaln(y[pos] + 1.0)))


def deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Poisson deviance, batched over the leading axes (cells with mu = 0 and y = 0 add 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / np.where(mu > 0, mu, 1.0)), 0.0)
    return 2.0 * np.sum(ylog - (y - mu), axis=-1)


def irls_batch(
    x: np.ndarray,
    y: np.ndarray,
    pmask: np.ndarray,
    cmask: np.ndarray,
    *,
    tol: float = DEVIANCE_TOL,
    max_iter: int = MAX_ITER,
    step_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """IRLS (Fisher scoring) for many Poisson log-linear models at once.

    Parameters
    ----------
    x : ndarray (m, P)
        Design over the observed cells for every candidate term.
    y : ndarray (m,) or (B, m)
        Counts (shared, or one row per model, e.g. bootstrap replicates).
    pmask : ndarray (B, P) of bool
        Parameters in each model.
    cmask : ndarray (B, m) of bool
        Cells fitted (False: fixed at zero by a boundary term).
    step_out : ndarray (B, P), optional
        Filled with each model's last IRLS step (for a fit running off to a boundary: the
        direction in which the likelihood keeps rising, see :func:`certify_no_mle`).

    Returns
    -------
    beta (B, P), mu (B, m), deviance (B,), iterations (B,), converged (B,)
        Inactive parameters are 0. Starts like R's glm (mu = y + 0.1), so a converged fit is the
        same MLE that glm finds.

    Notes
    -----
    The information matrices of all models come from one matrix product: with the outer products
    ``O_c = x_c x_c^T`` of the design rows, ``H_b = (sum_c w_bc O_c) * (p_b p_b^T)``, so the batch
    costs a single (B x m) @ (m x P^2) product per iteration instead of B small ones.
    """
    b, p = pmask.shape
    m = x.shape[0]
    pm = pmask.astype(float)
    cm = cmask.astype(float)
    yb = np.broadcast_to(y, cm.shape) * cm
    outer = (x[:, :, None] * x[:, None, :]).reshape(m, p * p)
    diag = np.arange(p)
    mu = (yb + 0.1) * cm
    eta = np.log(np.where(cm > 0, mu, 1.0))
    beta = np.zeros((b, p))
    dev_old = np.full(b, np.inf)
    dev = deviance(yb, mu)
    iters = np.zeros(b, dtype=int)
    done = np.zeros(b, dtype=bool)
    stuck = np.zeros(b, dtype=bool)
    for it in range(1, max_iter + 1):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        w = mu[act]
        cma = cm[act]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = np.where(cma > 0, eta[act] + (yb[act] - w) / np.where(w > 0, w, 1.0), 0.0)
            # information matrices of the whole batch from one product, masked in place to
            # each model's parameters (identity on the parameters a model does not have)
            pa = pm[act]
            h = (w @ outer).reshape(-1, p, p)
            h *= pa[:, :, None]
            h *= pa[:, None, :]
            h[:, diag, diag] += 1.0 - pa
            rhs = ((w * z) @ x) * pa
        bad = ~(np.isfinite(h).all(axis=(1, 2)) & np.isfinite(rhs).all(axis=1))
        if bad.any():
            stuck[act[bad]] = True
            h[bad] = np.eye(p)
            rhs[bad] = 0.0
        try:
            beta_new = np.linalg.solve(h, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            # a fit diverging to a boundary underflows its weights: solve one by one and stop
            # the singular ones (reported as not converged)
            beta_new = np.zeros_like(rhs)
            for j in range(len(act)):
                try:
                    beta_new[j] = np.linalg.solve(h[j], rhs[j])
                except np.linalg.LinAlgError:
                    stuck[act[j]] = True
                    beta_new[j] = beta[act[j]]
        eta_new = beta_new @ x.T
        # a diverging fit (flagged later and decided by the LP) must not overflow
        mu_new = np.exp(np.clip(eta_new, -700.0, 100.0)) * cma
        dev_new = deviance(yb[act], mu_new)
        if step_out is not None:
            step_out[act] = beta_new - beta[act]
        beta[act], eta[act], mu[act] = beta_new, eta_new, mu_new
        dev_old[act], dev[act] = dev[act], dev_new
        iters[act] = it
        conv = np.abs(dev_new - dev_old[act]) / (np.abs(dev_new) + 0.1) < tol
        done[act[conv]] = True
        done |= stuck
    return beta, mu, dev, iters, done & ~stuck


class _PoissonPath:
    """Deviance of the points IRLS visits, for one model (the cells' counts fixed)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> None:
        self.x = x
        self.y = y
        self.offset = 0.0 if offset is None else offset
        self.pos = y > 0
        self.ylogy = np.where(self.pos, y * np.log(np.where(self.pos, y, 1.0)), 0.0)

    def at(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(eta, mu, deviance) at ``beta``; eta is clipped so that a diverging fit cannot
        overflow (it is flagged later and decided by the linear program)."""
        eta = self.x @ beta + self.offset
        mu = np.exp(np.clip(eta, -700.0, 100.0))
        with np.errstate(divide="ignore"):
            logmu = np.where(self.pos, self.y * np.log(mu), 0.0)
        dev = 2.0 * float(np.sum(self.ylogy - logmu - (self.y - mu)))
        return eta, mu, dev

    def start(self, mu_start: np.ndarray) -> np.ndarray:
        """A point of the model's parameter space near ``mu_start``: the least-squares
        projection of ``log mu_start`` on the design columns (exact for the fitted means of a
        nested model, whose log lies in the column space)."""
        eta = np.log(np.maximum(np.asarray(mu_start, dtype=float), 1e-300)) - self.offset
        return np.linalg.lstsq(self.x, eta, rcond=None)[0]


def irls(
    x: np.ndarray,
    y: np.ndarray,
    *,
    mu_start: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    tol: float = DEVIANCE_TOL,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """IRLS (Fisher scoring) with step-halving for one Poisson log-linear model.

    Parameters
    ----------
    x : ndarray (m, P)
        Design over the fitted cells (full column rank).
    y : ndarray (m,)
        Counts.
    mu_start : ndarray (m,), optional
        Fitted means to start from, e.g. those of a nested model (stepwise selection). Without
        it the iteration starts like R's glm (``mu = y + 0.1``), the same path as
        :func:`irls_batch`.
    offset : ndarray (m,), optional
        A fixed part of the linear predictor (``log mu = offset + x beta``), e.g. the other
        class's share in a two-class mixture's alternating fit.
    tol, max_iter
        Stop when the relative change of the deviance is below ``tol``.

    Returns
    -------
    beta, mu, deviance, iterations, converged

    Notes
    -----
    The Poisson deviance is strictly convex in ``beta``, so the MLE, when it exists, is unique.
    From the second step on (from the first with ``mu_start``, whose projection on the design is
    a point of the parameter space) a step that does not lower the deviance, or gives a
    non-finite one, is halved, up to :data:`MAX_HALVINGS` times: every iterate lowers the
    deviance, so a start changes the path only, never the MLE, and cannot make the iteration
    diverge. A singular weighted information matrix (weights underflowing on a fit that runs off
    to a boundary) ends the iteration, reported as not converged; from a warm start the fit is
    then rerun from glm's start.
    """
    path = _PoissonPath(x, y, offset)
    beta = np.zeros(x.shape[1])
    if mu_start is not None and not np.all(np.isfinite(mu_start)):
        mu_start = None
    if mu_start is None:
        mu = y + 0.1
        eta = np.log(mu)
        dev_cur = np.inf  # glm's start is not a point of the model: its first step is taken whole
    else:
        try:
            beta = path.start(mu_start)
        except np.linalg.LinAlgError:
            return irls(x, y, offset=offset, tol=tol, max_iter=max_iter)
        eta, mu, dev_cur = path.at(beta)
    for it in range(1, max_iter + 1):
        z = eta - path.offset + (y - mu) / mu
        xtw = x.T * mu
        try:
            beta_new = np.linalg.solve(xtw @ x, xtw @ z)
        except np.linalg.LinAlgError:
            if mu_start is not None:
                return irls(x, y, offset=offset, tol=tol, max_iter=max_iter)
            return beta, mu, dev_cur, it, False
        eta_new, mu_new, dev = path.at(beta_new)
        halvings = 0
        while np.isfinite(dev_cur) and not dev <= dev_cur + 1e-9 * (abs(dev_cur) + 0.1):
            if halvings == MAX_HALVINGS:  # no step lowers the deviance: stop where we are
                return beta, mu, dev_cur, it, False
            beta_new = (beta + beta_new) / 2.0
            eta_new, mu_new, dev = path.at(beta_new)
            halvings += 1
        beta, eta, mu = beta_new, eta_new, mu_new
        if abs(dev - dev_cur) / (abs(dev) + 0.1) < tol:
            return beta, mu, dev, it, True
        dev_cur = dev
    return beta, mu, dev_cur, max_iter, False


def inverse_information(x: np.ndarray, mu: np.ndarray, model_text: str) -> np.ndarray:
    """Inverse Fisher information ``(X' diag(mu) X)^-1`` at the fitted means.

    Raises
    ------
    EstimateDoesNotExistError
        When the information matrix is singular (fitted means underflowing to zero: a boundary
        that neither the zero-margin rule nor the existence checks caught), rather than a
        ``LinAlgError``.
    """
    info = x.T @ (mu[:, None] * x)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
    if not np.isfinite(cov).all():
        raise EstimateDoesNotExistError(
            N_(
                "model '{model}': the Fisher information is singular at the fitted values (some "
                "fitted cells are zero to machine precision), so its parameters and their "
                "standard errors are not determined; remove an interaction that involves a "
                "sparse list, or use a model-selection method that skips such models",
                model=model_text,
            ),
            code="not-identifiable",
        )
    return cov


def fit_loglinear(
    table: Table | CaptureData,
    model: Model,
    *,
    check: bool | str = True,
    start: LogLinearFit | None = None,
) -> LogLinearFit:
    """Fit one hierarchical log-linear model by extended maximum likelihood.

    Parameters
    ----------
    table : Table or CaptureData
    model : frozenset of int
        Interaction terms.
    check : bool or "always"
        Run the identifiability check always, and the Fienberg–Rinaldo linear program whenever the
        fit heads for a boundary the zero-margin rule did not catch (or always with
        ``check="always"``).
    start : LogLinearFit, optional
        A fit on the same table whose fitted means start the iteration (a nested model in
        stepwise search). It changes the path only: the MLE is the same (see :func:`irls`).

    Returns
    -------
    LogLinearFit

    Raises
    ------
    EstimateDoesNotExistError
        With the reason, when the extended MLE does not exist or is not identifiable.
    """
    if isinstance(table, CaptureData):
        table = Table.from_data(table)
    keep, boundary, alive = reduce_model(table, model)
    x = design(table, keep)
    xr = x[alive]
    rankdef = len(keep) - int(np.linalg.matrix_rank(xr))
    if rankdef > 0:
        chk = check_existence(table, model)
        raise EstimateDoesNotExistError(chk.reason(model), code=code_name(chk.code))
    mu0 = None
    if start is not None and start.table is table:
        mu0 = start.mu[alive]
    beta, mu_a, dev, iters, conv = irls(xr, table.y[alive], mu_start=mu0)
    if check == "always" or heading_to_boundary(beta, iters, conv):
        chk = check_existence(table, model)
        if not chk.ok:
            raise EstimateDoesNotExistError(chk.reason(model), code=code_name(chk.code))
    cov = inverse_information(xr, mu_a, model_label(model, table.lists))
    mu = np.zeros(len(table.cells))
    mu[alive] = mu_a
    return LogLinearFit(
        table=table,
        model=model,
        terms=keep,
        boundary_terms=boundary,
        coef=beta,
        cov=cov,
        mu=mu,
        alive=alive,
        deviance=float(dev),
        loglik=poisson_loglik(table.y, mu),
        iterations=int(iters),
        converged=bool(conv),
    )


def heading_to_boundary(
    beta: np.ndarray, iterations: int | np.ndarray, converged: bool | np.ndarray
) -> bool | np.ndarray:
    """Does an IRLS fit look like it is running off to a boundary (some parameter to -inf)?

    Works on one fit (``beta`` of shape (P,)) or a batch (``beta`` (B, P), arrays of iterations
    and convergence flags; returns a boolean array).

    On the benchmark tables and the reference's synthetic failures, fits whose MLE exists converge
    in at most 9 iterations with every |coefficient| below 12, while fits where the
    Fienberg–Rinaldo condition fails take 22 or more iterations and reach |coefficient| > 24
    (fitted means of zero cells alone do not separate them: legitimate fits of sparse tables
    have cells fitted at 1e-11). A fit flagged here goes to the linear program, which decides.
    """
    absmax = np.max(np.abs(beta), axis=-1)
    flag = (
        ~np.asarray(converged)
        | (np.asarray(iterations) > MAX_CLEAN_ITER)
        | ~np.isfinite(absmax)
        | (absmax > MAX_CLEAN_COEF)
    )
    return bool(flag) if flag.ndim == 0 else flag
