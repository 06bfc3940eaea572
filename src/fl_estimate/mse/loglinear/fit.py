"""Poisson log-linear models for multiple systems estimation, with extended maximum likelihood.

The observed cells (every capture pattern but the all-zero one) are independent Poisson counts with
``log mu_c = sum of the parameters of the terms contained in c``. The unobserved cell has
``log mu_0 = intercept``, so the estimated total is ``N = n + exp(intercept)`` (the Poisson estimate
reported by SparseMSE and MultipleSystemsEstimation).

Extended MLE (Fienberg & Rinaldo 2012; Chan, Silverman & Vincent 2021): a term whose observed margin
is zero (two lists that never overlap, say) has MLE minus infinity; every cell containing it is fitted
at zero. Such terms are dropped, their cells fixed at zero, and the rest is fitted. The model is
refused only when the Fienberg–Rinaldo linear program shows that even so no MLE exists, or when the
remaining parameters are not identifiable (rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.optimize import linprog
from scipy.special import gammaln

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.terms import Model, bits, model_label, term_label

__all__ = [
    "ExistenceCheck",
    "LoglinearFit",
    "Table",
    "certify_no_mle",
    "check_existence",
    "fit_grid",
    "fit_loglinear",
    "fit_many",
]

#: Convergence of IRLS: relative change of the deviance, as R's glm (which uses 1e-8).
DEVIANCE_TOL = 1e-11
MAX_ITER = 100
#: A fit needing more iterations than this, or with a coefficient larger than this in absolute
#: value, may be heading for a boundary the zero-margin rule did not catch: the LP then decides.
MAX_CLEAN_ITER = 15
MAX_CLEAN_COEF = 20.0


class Table:
    """Cell counts of one capture table in the layout the fitting code needs.

    Parameters
    ----------
    counts : ndarray of shape (2**K,)
        Counts in cell-index order (cell 0, the unobserved cell, is ignored).
    lists : sequence of str
    """

    def __init__(self, counts: np.ndarray, lists: Sequence[str]) -> None:
        self.lists = tuple(lists)
        self.k = len(self.lists)
        full = np.asarray(counts, dtype=float)
        if full.shape != (1 << self.k,):
            raise ValueError(f"expected {1 << self.k} cell counts, got {full.shape}")
        self.cells = np.arange(1, 1 << self.k)  # observable cells
        self.y = full[1:].copy()
        self.n = float(self.y.sum())

    @classmethod
    def from_data(cls, data: CaptureData) -> Table:
        return cls(data.cell_counts(), data.lists)

    def with_counts(self, y: np.ndarray) -> Table:
        """Same lists, new observed-cell counts (length 2**K - 1)."""
        full = np.concatenate([[0.0], np.asarray(y, dtype=float)])
        return Table(full, self.lists)

    def column(self, term: int) -> np.ndarray:
        """0/1 indicator over the observed cells of the cells that contain ``term``."""
        return ((self.cells & term) == term).astype(float)

    def margin(self, term: int) -> float:
        """Observed count of the cells containing ``term`` (its sufficient statistic)."""
        return float(self.y[(self.cells & term) == term].sum())


def param_terms(k: int, model: Model) -> list[int]:
    """Every parameter's term: intercept (0), main effects, then the interactions in order."""
    inter = sorted(model, key=lambda t: (t.bit_count(), bits(t)))
    return [0, *[1 << j for j in range(k)], *inter]


def design(table: Table, terms: Sequence[int]) -> np.ndarray:
    """Design matrix over the observed cells: one column per term."""
    cells = table.cells[:, None]
    t = np.asarray(terms, dtype=np.int64)[None, :]
    return ((cells & t) == t).astype(float)


@dataclass(frozen=True)
class ExistenceCheck:
    """Verdict of the existence and identifiability checks for one model on one table.

    ``code`` follows MultipleSystemsEstimation's ``check_extended_MLE``: 0 the extended MLE exists
    and is identifiable, 1 the Fienberg–Rinaldo condition fails, 2 not identifiable, 3 both.
    """

    code: int
    boundary_terms: tuple[int, ...]
    rank_deficiency: int
    lp_objective: float | None
    lists: tuple[str, ...] = field(repr=False, default=())

    @property
    def ok(self) -> bool:
        return self.code == 0

    def reason(self, model: Model) -> str:
        """Why the model cannot be used, in words a person can act on."""
        label = model_label(model, self.lists)
        b = ", ".join(term_label(t, self.lists) for t in self.boundary_terms)
        parts = []
        if self.code & 1:
            parts.append(
                f"model '{label}' has no maximum-likelihood estimate on these data, even allowing "
                "interactions at minus infinity (the Fienberg–Rinaldo condition fails: the observed "
                "margins can only be matched with further cells fitted at zero)"
            )
        if self.code & 2:
            parts.append(
                f"model '{label}' is not identifiable: {self.rank_deficiency} parameter(s) cannot "
                "be determined from the cells left"
                + (
                    f" once the cells of the non-overlapping term(s) {b} are fixed at zero"
                    if b
                    else ""
                )
            )
        hint = (
            "; remove an interaction that involves a sparse list, merge lists with little overlap, "
            "or use a model-selection method that skips such models"
        )
        return "; ".join(parts) + hint


def _lp_objective(a: np.ndarray, t: np.ndarray) -> float:
    """max s subject to A y = t, y >= s, y >= 0, s >= 0 (Fienberg & Rinaldo 2012, as SparseMSE).

    The MLE (on the cells left) exists if and only if the optimum is positive.
    """
    npar, nobs = a.shape
    c = np.zeros(nobs + 1)
    c[-1] = -1.0
    a_eq = np.hstack([a, np.zeros((npar, 1))])
    a_ub = np.hstack([-np.eye(nobs), np.ones((nobs, 1))])
    res = linprog(
        c, A_ub=a_ub, b_ub=np.zeros(nobs), A_eq=a_eq, b_eq=t, bounds=(0, None), method="highs"
    )
    if res.status != 0:  # infeasible cannot happen (the data satisfy it); be conservative
        return 0.0
    return float(-res.fun)


def _lp_objectives(blocks: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """:func:`_lp_objective` for many (A, t) at once: one block-diagonal linear program.

    The objective is the sum of the blocks' ``s``; the blocks share no variable, so an optimum
    of the sum is an optimum of every block.
    """
    import scipy.sparse as sp

    eq, ub, rhs, svar = [], [], [], []
    nv = 0
    for a, t in blocks:
        npar, nobs = a.shape
        eq.append(sp.csr_matrix(np.hstack([a, np.zeros((npar, 1))])))
        ub.append(sp.hstack([-sp.eye(nobs), np.ones((nobs, 1))], format="csr"))
        rhs.append(t)
        svar.append(nv + nobs)
        nv += nobs + 1
    a_eq = sp.block_diag(eq, format="csr")
    a_ub = sp.block_diag(ub, format="csr")
    c = np.zeros(nv)
    c[svar] = -1.0
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=a_eq,
        b_eq=np.concatenate(rhs),
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:  # fall back to one program per block
        return np.array([_lp_objective(a, t) for a, t in blocks])
    return np.asarray(res.x[svar], dtype=float)


def _reduce(table: Table, model: Model) -> tuple[list[int], list[int], np.ndarray]:
    """Parameters kept, terms at minus infinity, and the mask of cells not fixed at zero."""
    terms = param_terms(table.k, model)
    boundary = [t for t in terms if t != 0 and table.margin(t) == 0]
    keep = [t for t in terms if t not in boundary]
    alive = np.ones(len(table.cells), dtype=bool)
    for t in boundary:
        alive &= (table.cells & t) != t
    return keep, boundary, alive


def check_existence(table: Table | CaptureData, model: Model) -> ExistenceCheck:
    """Existence (Fienberg–Rinaldo linear program, HiGHS) and identifiability (rank) of a model.

    Parameters
    ----------
    table : Table or CaptureData
    model : frozenset of int
        Interaction terms (see :mod:`fl_estimate.mse.terms`).

    Returns
    -------
    ExistenceCheck
    """
    if isinstance(table, CaptureData):
        table = Table.from_data(table)
    keep, boundary, alive = _reduce(table, model)
    x = design(table, keep)[alive]
    t = x.T @ table.y[alive]
    obj = _lp_objective(x.T, t)
    rankdef = len(keep) - int(np.linalg.matrix_rank(x))
    code = int(obj <= 1e-9 * max(1.0, table.n)) + 2 * int(rankdef > 0)
    return ExistenceCheck(code, tuple(boundary), rankdef, obj, table.lists)


@dataclass(frozen=True)
class LoglinearFit:
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


def _poisson_loglik(y: np.ndarray, mu: np.ndarray) -> float:
    pos = mu > 0
    return float(np.sum(y[pos] * np.log(mu[pos]) - mu[pos] - gammaln(y[pos] + 1.0)))


def _deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
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
    dev = _deviance(yb, mu)
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
        dev_new = _deviance(yb[act], mu_new)
        if step_out is not None:
            step_out[act] = beta_new - beta[act]
        beta[act], eta[act], mu[act] = beta_new, eta_new, mu_new
        dev_old[act], dev[act] = dev[act], dev_new
        iters[act] = it
        conv = np.abs(dev_new - dev_old[act]) / (np.abs(dev_new) + 0.1) < tol
        done[act[conv]] = True
        done |= stuck
    return beta, mu, dev, iters, done & ~stuck


def irls(
    x: np.ndarray,
    y: np.ndarray,
    *,
    mu_start: np.ndarray | None = None,
    tol: float = DEVIANCE_TOL,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """IRLS for one Poisson log-linear model (the same iteration as :func:`irls_batch`).

    ``mu_start`` (e.g. the fitted means of a nested model) only changes the path, not the MLE.
    Returns beta, mu, deviance, iterations, converged.
    """
    mu = (y + 0.1) if mu_start is None else np.maximum(mu_start, 1e-3)
    eta = np.log(mu)
    pos = y > 0
    ylogy = np.where(pos, y * np.log(np.where(pos, y, 1.0)), 0.0)
    dev_old = np.inf
    beta = np.zeros(x.shape[1])
    for it in range(1, max_iter + 1):
        z = eta + (y - mu) / mu
        xtw = x.T * mu
        try:
            beta = np.linalg.solve(xtw @ x, xtw @ z)
        except np.linalg.LinAlgError:
            return beta, mu, float("nan"), it, False
        eta = x @ beta
        mu = np.exp(np.clip(eta, -700.0, 100.0))
        with np.errstate(divide="ignore"):
            dev = 2.0 * float(np.sum(ylogy - np.where(pos, y * np.log(mu), 0.0) - (y - mu)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            return beta, mu, dev, it, True
        dev_old = dev
    return beta, mu, dev, max_iter, False


def _finish(
    table: Table,
    model: Model,
    keep: list[int],
    boundary: list[int],
    alive: np.ndarray,
    beta: np.ndarray,
    mu: np.ndarray,
    dev: float,
    iters: int,
    converged: bool,
) -> LoglinearFit:
    x = design(table, keep)[alive]
    info = x.T @ (mu[alive][:, None] * x)
    cov = np.linalg.inv(info)
    return LoglinearFit(
        table=table,
        model=model,
        terms=keep,
        boundary_terms=boundary,
        coef=beta,
        cov=cov,
        mu=mu,
        alive=alive,
        deviance=float(dev),
        loglik=_poisson_loglik(table.y, mu),
        iterations=int(iters),
        converged=bool(converged),
    )


def fit_loglinear(
    table: Table | CaptureData,
    model: Model,
    *,
    check: bool | str = True,
    start: LoglinearFit | None = None,
) -> LoglinearFit:
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
    start : LoglinearFit, optional
        A fit of a nested model on the same table whose fitted means start the iteration (faster
        in stepwise search; the MLE is the same).

    Raises
    ------
    EstimateDoesNotExistError
        With the reason, when the extended MLE does not exist or is not identifiable.
    """
    if isinstance(table, CaptureData):
        table = Table.from_data(table)
    keep, boundary, alive = _reduce(table, model)
    x = design(table, keep)
    xr = x[alive]
    rankdef = len(keep) - int(np.linalg.matrix_rank(xr))
    if rankdef > 0:
        chk = check_existence(table, model)
        raise EstimateDoesNotExistError(chk.reason(model), code=_code_name(chk.code))
    mu0 = None
    if start is not None and start.table is table:
        mu0 = start.mu[alive]
    beta, mu_a, dev, iters, conv = irls(xr, table.y[alive], mu_start=mu0)
    heading = _heading_to_boundary(beta, iters, conv)
    if check == "always" or heading:
        chk = check_existence(table, model)
        if not chk.ok:
            raise EstimateDoesNotExistError(chk.reason(model), code=_code_name(chk.code))
    mu = np.zeros(len(table.cells))
    mu[alive] = mu_a
    return _finish(table, model, keep, boundary, alive, beta, mu, dev, iters, conv)


def _heading_to_boundary(beta: np.ndarray, iterations: int, converged: bool) -> bool:
    """Does an IRLS fit look like it is running off to a boundary (some parameter to -inf)?

    On the benchmark tables and the reference's synthetic failures, fits whose MLE exists converge
    in at most 9 iterations with every |coefficient| below 12, while fits where the
    Fienberg–Rinaldo condition fails take 22 or more iterations and reach |coefficient| > 24
    (fitted means of zero cells alone do not separate them: legitimate fits of sparse tables
    have cells fitted at 1e-11). A fit flagged here goes to the linear program, which decides.
    """
    return (
        not converged
        or iterations > MAX_CLEAN_ITER
        or not np.all(np.isfinite(beta))
        or bool(np.max(np.abs(beta)) > MAX_CLEAN_COEF)
    )


def _code_name(code: int) -> str:
    return {1: "no-mle", 2: "not-identifiable", 3: "no-mle-not-identifiable"}.get(code, "ok")


@dataclass
class ManyFits:
    """Results of :func:`fit_many`: one entry per model (NaN where the model was refused)."""

    models: list[Model]
    estimate: np.ndarray
    loglik: np.ndarray
    n_params: np.ndarray
    code: np.ndarray  # 0 ok, 1 FR fails, 2 not identifiable (FR not evaluated), 3 both
    log_unobserved: np.ndarray
    n_lp_calls: int = 0

    def criterion(self, name: str, n: float) -> np.ndarray:
        if name == "aic":
            val = -2 * self.loglik + 2 * self.n_params
        elif name == "bic":
            val = -2 * self.loglik + self.n_params * np.log(n)
        else:
            raise ValueError(f"unknown criterion {name!r}")
        return np.where(self.code == 0, val, np.inf)


@dataclass
class GridFits:
    """Results of :func:`fit_grid`: every model fitted to every count vector.

    Arrays ``estimate``, ``loglik``, ``code`` and ``log_unobserved`` have shape
    ``(n_models, n_tables)``; ``n`` holds each count vector's total observed.
    """

    models: list[Model]
    n: np.ndarray
    estimate: np.ndarray
    loglik: np.ndarray
    n_params: np.ndarray
    code: np.ndarray
    log_unobserved: np.ndarray
    n_lp_calls: int = 0
    n_certified: int = 0

    def criterion(self, name: str) -> np.ndarray:
        """AIC or BIC of every (model, table); ``inf`` where the model was refused. BIC uses
        each table's own total observed."""
        if name == "aic":
            pen = 2.0 * self.n_params[:, None]
        elif name == "bic":
            pen = self.n_params[:, None] * np.log(self.n)[None, :]
        else:
            raise ValueError(f"unknown criterion {name!r}")
        return np.where(self.code == 0, -2.0 * self.loglik + pen, np.inf)


#: Relative size below which a coordinate of a certificate direction counts as zero.
CERTIFICATE_TOL = 1e-8


def certify_no_mle(
    x: np.ndarray, y: np.ndarray, pmask: np.ndarray, cmask: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """Certify, for fits running off to a boundary, that the extended MLE does not exist.

    Farkas: the Fienberg–Rinaldo condition fails exactly when some ``d = X lambda`` (X the design
    on the fitted cells) is ``<= 0`` everywhere, ``0`` on every cell with a positive count and
    ``< 0`` somewhere; then every table with the observed margins has a zero in that cell. The last
    IRLS step of a diverging fit points (nearly) along such a direction: it is projected onto the
    null space of the design rows of the positive cells (so ``d`` is exactly 0 there, up to
    rounding) and the signs are checked. ``True`` is a certificate (code 1, no linear program
    needed); ``False`` only means "not certified" and the caller runs the linear program.

    Parameters
    ----------
    x : ndarray (m, P)
    y : ndarray (F, m)
    pmask : ndarray (F, P) of bool
    cmask : ndarray (F, m) of bool
    step : ndarray (F, P)
    """
    xa = x[None, :, :] * pmask[:, None, :]
    pos = (y > 0) & cmask
    xp = xa * pos[:, :, None]
    _u, s, vt = np.linalg.svd(xp, full_matrices=True)
    p = x.shape[1]
    rank = (s > s[:, :1] * 1e-10).sum(axis=1)
    null_rows = np.arange(p)[None, :] >= rank[:, None]
    v_null = vt * null_rows[:, :, None]
    lam = np.einsum("fij,fi->fj", v_null, np.einsum("fij,fj->fi", v_null, step))
    d = np.einsum("fmp,fp->fm", xa, lam) * cmask
    scale = np.abs(d).max(axis=1)
    ok = scale > 0
    dn = d / np.where(ok, scale, 1.0)[:, None]
    return ok & (dn.max(axis=1) <= CERTIFICATE_TOL) & (dn.min(axis=1) <= -1e-3)


def fit_grid(
    table: Table,
    models: Sequence[Model],
    counts: np.ndarray | None = None,
    *,
    batch: int = 4096,
    all_terms: Sequence[int] | None = None,
    resolve_codes: bool = False,
    max_iter: int = 40,
    engine: str = "numba",
) -> GridFits:
    """Fit every model to every count vector, batched: exhaustive search, bootstrap, jackknife.

    Parameters
    ----------
    table : Table
        Gives the lists and cells (and the counts when ``counts`` is None).
    models : sequence of Model
    counts : ndarray (R, 2**K - 1), optional
        Observed-cell counts of R tables (bootstrap replicates, jackknife tables); default the
        table's own.
    batch : int
        (model, table) pairs fitted together.
    resolve_codes : bool
        Run the linear program for models that are not identifiable too, to tell code 2 from 3.
    max_iter : int
        IRLS iterations before a fit counts as diverging (fits whose MLE exists need at most 9
        on the reference tables; one that the linear program then accepts is refitted with
        :data:`MAX_ITER`).
    engine : {"numba", "numpy"}
        ``"numpy"``: :func:`irls_batch` (one matrix product per iteration for the batch);
        ``"numba"`` (default): the compiled per-fit iteration of :mod:`fl_estimate.mse._irls_numba`
        (parallel over fits, each with only its own parameters; faster for large grids).

    Notes
    -----
    For each (model, table): interactions with a zero margin in that table are boundary terms
    (cells containing them fixed at zero); identifiability from the eigenvalues of the reduced
    Gram matrices; the existence of fits that head for a boundary from :func:`certify_no_mle`,
    or from the Fienberg–Rinaldo linear program when the certificate is not conclusive.
    """
    k = table.k
    ys = table.y[None, :] if counts is None else np.atleast_2d(np.asarray(counts, dtype=float))
    n_tab = ys.shape[0]
    if all_terms is None:
        inter: set[int] = set()
        for m in models:
            inter |= m
        all_terms = param_terms(k, frozenset(inter))
    all_terms = list(all_terms)
    col = {t: i for i, t in enumerate(all_terms)}
    x = design(table, all_terms)
    p = x.shape[1]
    zero = (ys @ x) == 0
    zero[:, col[0]] = False
    nm = len(models)
    pmask_m = np.zeros((nm, p), dtype=bool)
    base = [col[t] for t in all_terms if t == 0 or t.bit_count() == 1]
    for i, m in enumerate(models):
        pmask_m[i, base] = True
        pmask_m[i, [col[t] for t in m]] = True
    n_total = np.array([1 + k + len(m) for m in models], dtype=float)
    size = nm * n_tab
    est = np.full(size, np.nan)
    ll = np.full(size, np.nan)
    code = np.zeros(size, dtype=int)
    logu = np.full(size, np.nan)
    lp_calls = 0
    n_cert = 0
    lgy = gammaln(ys + 1.0)
    outer = (x[:, :, None] * x[:, None, :]).reshape(len(x), p * p)
    xt = x.T.astype(float)

    def table_for(r: int) -> Table:
        return table if counts is None else table.with_counts(ys[r])

    for start in range(0, size, batch):
        q = np.arange(start, min(size, start + batch))
        mi, ri = q // n_tab, q % n_tab
        pm0 = pmask_m[mi]
        dropped = pm0 & zero[ri]
        pm = pm0 & ~zero[ri]
        cm = (dropped.astype(float) @ xt) == 0
        y = ys[ri]
        code_c = np.zeros(len(q), dtype=int)
        # identifiability: only models with cells fixed at zero can lose rank; rank of the
        # reduced design from the eigenvalues of its Gram matrix, one product for the batch
        ident = np.ones(len(q), dtype=bool)
        cut = np.flatnonzero(~cm.all(axis=1))
        if cut.size:
            gram = (cm[cut].astype(float) @ outer).reshape(-1, p, p)
            gram *= pm[cut][:, :, None] * pm[cut][:, None, :]
            ev = np.linalg.eigvalsh(gram)
            rank = (ev > ev[:, -1:] * 1e-11).sum(axis=1)
            ident[cut] = rank == pm[cut].sum(axis=1)
        code_c[~ident] = 2
        if resolve_codes:
            for bad in np.flatnonzero(~ident).tolist():
                lp_calls += 1
                code_c[bad] = check_existence(table_for(int(ri[bad])), models[int(mi[bad])]).code
        idx = np.flatnonzero(ident)
        if idx.size:
            if engine == "numba":
                from fl_estimate.mse._irls_numba import irls_grid

                beta, mu, _dev, its, conv, step = irls_grid(
                    x, ys, ri[idx], pm[idx], cm[idx], DEVIANCE_TOL, max_iter
                )
            else:
                step = np.zeros((idx.size, p))
                beta, mu, _dev, its, conv = irls_batch(
                    x, y[idx], pm[idx], cm[idx], max_iter=max_iter, step_out=step
                )
            absmax = np.max(np.abs(beta), axis=1)
            flag = (
                (~conv) | (its > MAX_CLEAN_ITER) | ~np.isfinite(absmax) | (absmax > MAX_CLEAN_COEF)
            )
            fl = np.flatnonzero(flag)
            if fl.size:
                with np.errstate(all="ignore"):
                    cert = certify_no_mle(x, y[idx[fl]], pm[idx[fl]], cm[idx[fl]], step[fl])
                cert &= np.isfinite(step[fl]).all(axis=1)
                n_cert += int(cert.sum())
                code_c[idx[fl[cert]]] = 1
                # the rest: the Fienberg-Rinaldo linear programs of the batch, solved together
                rest = fl[~cert]
                blocks = []
                for j in rest:
                    g = idx[j]
                    tb = table_for(ri[g])
                    keep, _bd, alive = _reduce(tb, models[mi[g]])
                    xr = design(tb, keep)[alive]
                    blocks.append((xr.T, xr.T @ tb.y[alive]))
                if blocks:
                    lp_calls += len(blocks)
                    obj = _lp_objectives(blocks)
                    for j, o in zip(rest, obj, strict=True):
                        g = idx[j]
                        if o <= 1e-9 * max(1.0, float(y[g].sum())):
                            code_c[g] = 1
                        elif not conv[j]:
                            b1, mu1, _d1, _i1, _c1 = irls_batch(x, y[g], pm[g][None], cm[g][None])
                            beta[j], mu[j] = b1[0], mu1[0]
            good = code_c[idx] == 0
            gi = idx[good]
            qg = q[gi]
            logu[qg] = beta[good, 0]
            est[qg] = y[gi].sum(axis=1) + np.exp(beta[good, 0])
            mug = mu[good]
            with np.errstate(divide="ignore"):
                logmu = np.where(mug > 0, np.log(np.where(mug > 0, mug, 1.0)), 0.0)
            ll[qg] = (y[gi] * logmu - mug - np.where(mug > 0, lgy[ri[gi]], 0.0)).sum(axis=1)
        code[q] = code_c
    shape = (nm, n_tab)
    return GridFits(
        list(models),
        ys.sum(axis=1),
        est.reshape(shape),
        ll.reshape(shape),
        n_total,
        code.reshape(shape),
        logu.reshape(shape),
        lp_calls,
        n_cert,
    )


def fit_many(
    table: Table,
    models: Sequence[Model],
    *,
    batch: int = 4096,
    all_terms: Sequence[int] | None = None,
    resolve_codes: bool = False,
) -> ManyFits:
    """Fit many models on one table, batched: the engine of exhaustive AIC/BIC search.

    Identifiability is checked for every model (batched rank); existence is decided only for
    models whose fit heads for a boundary (a certificate from the diverging fit, else the linear
    program). With ``resolve_codes=True`` the linear program also runs for models that are not
    identifiable, to tell code 2 from code 3 (not needed to rank models). See :func:`fit_grid`.
    """
    g = fit_grid(table, models, batch=batch, all_terms=all_terms, resolve_codes=resolve_codes)
    return ManyFits(
        list(models),
        g.estimate[:, 0],
        g.loglik[:, 0],
        g.n_params.astype(int),
        g.code[:, 0],
        g.log_unobserved[:, 0],
        g.n_lp_calls,
    )
