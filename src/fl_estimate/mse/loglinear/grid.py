"""Many log-linear fits at once: every model of a catalogue on one table (exhaustive search), or on
many count vectors (bootstrap replicates, jackknife tables).

Each (model, table) pair gets the same treatment as :func:`fl_estimate.mse.loglinear.fit_loglinear`
(interactions with a zero margin fitted at minus infinity, identifiability, existence), batched:
identifiability from the eigenvalues of the reduced Gram matrices of the whole batch, the IRLS of
the batch in one call, the existence of fits heading for a boundary from a certificate read off the
diverging fit (:func:`~fl_estimate.mse.loglinear.existence.certify_no_mle`) or, when that is not
conclusive, from the Fienberg–Rinaldo linear programs of the batch solved together.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import Table, fit_many, hierarchical_models
>>> table = Table.from_data(read_capture_csv("data_samples/uk_2013.csv"))
>>> models = list(hierarchical_models(table.k, 2))[:64]
>>> fits = fit_many(table, models)
>>> len(fits.models), int((fits.code == 0).sum()) > 0
(64, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from fl_estimate.i18n import N_
from fl_estimate.mse.loglinear.existence import certify_no_mle, check_existence, lp_objectives
from fl_estimate.mse.loglinear.fit import (
    DEVIANCE_TOL,
    heading_to_boundary,
    irls_batch,
)
from fl_estimate.mse.loglinear.table import Table, design, param_terms, reduce_model
from fl_estimate.mse.loglinear.terms import Model

__all__ = ["GridFits", "ManyFits", "fit_grid", "fit_many", "information_criterion"]


def information_criterion(
    name: str, loglik: np.ndarray, n_params: np.ndarray, n: float | np.ndarray, code: np.ndarray
) -> np.ndarray:
    """``AIC = -2 log L + 2 p`` or ``BIC = -2 log L + p log n``; ``inf`` where ``code != 0``
    (the model was refused). Arrays broadcast (e.g. ``n_params`` per model against ``n`` per
    table)."""
    if name == "aic":
        pen = 2.0 * n_params
    elif name == "bic":
        pen = n_params * np.log(n)
    else:
        raise ValueError(N_("unknown criterion {name!r}", name=name))
    return np.where(code == 0, -2.0 * loglik + pen, np.inf)


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
        """AIC or BIC of every model (``n``: the number observed); ``inf`` where refused."""
        return information_criterion(name, self.loglik, self.n_params, n, self.code)


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
        return information_criterion(
            name, self.loglik, self.n_params[:, None], self.n[None, :], self.code
        )


@dataclass
class _Grid:
    """The design over every candidate term, and each model's and each table's masks."""

    table: Table
    models: list[Model]
    ys: np.ndarray  # (R, m) observed-cell counts
    own_counts: bool  # ys is the table's own count vector
    x: np.ndarray  # (m, P) design of every term of every model
    pmask: np.ndarray  # (n_models, P) parameters of each model
    zero: np.ndarray  # (R, P) terms with a zero margin in each table
    outer: np.ndarray = field(repr=False)  # (m, P*P) outer products of the design rows
    lgy: np.ndarray = field(repr=False)  # log(y!) of every table's cells

    @classmethod
    def build(
        cls,
        table: Table,
        models: Sequence[Model],
        counts: np.ndarray | None,
        all_terms: Sequence[int] | None,
    ) -> _Grid:
        ys = table.y[None, :] if counts is None else np.atleast_2d(np.asarray(counts, dtype=float))
        if all_terms is None:
            inter: set[int] = set()
            for m in models:
                inter |= m
            all_terms = param_terms(table.k, frozenset(inter))
        terms = list(all_terms)
        col = {t: i for i, t in enumerate(terms)}
        x = design(table, terms)
        p = x.shape[1]
        zero = (ys @ x) == 0
        zero[:, col[0]] = False
        pmask = np.zeros((len(models), p), dtype=bool)
        base = [col[t] for t in terms if t == 0 or t.bit_count() == 1]
        for i, m in enumerate(models):
            pmask[i, base] = True
            pmask[i, [col[t] for t in m]] = True
        return cls(
            table=table,
            models=list(models),
            ys=ys,
            own_counts=counts is None,
            x=x,
            pmask=pmask,
            zero=zero,
            outer=(x[:, :, None] * x[:, None, :]).reshape(len(x), p * p),
            lgy=gammaln(ys + 1.0),
        )

    @property
    def n_tables(self) -> int:
        return int(self.ys.shape[0])

    def table_for(self, r: int) -> Table:
        return self.table if self.own_counts else self.table.with_counts(self.ys[r])

    def masks(self, mi: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Parameters fitted and cells fitted (not fixed at zero) of (model, table) pairs."""
        pm0 = self.pmask[mi]
        dropped = pm0 & self.zero[ri]
        cm = (dropped.astype(float) @ self.x.T) == 0
        return pm0 & ~self.zero[ri], cm

    def identifiable(self, pm: np.ndarray, cm: np.ndarray) -> np.ndarray:
        """Only models with cells fixed at zero can lose rank; rank of the reduced design from
        the eigenvalues of its Gram matrix, one product for the batch."""
        p = self.x.shape[1]
        ident = np.ones(len(pm), dtype=bool)
        cut = np.flatnonzero(~cm.all(axis=1))
        if cut.size:
            gram = (cm[cut].astype(float) @ self.outer).reshape(-1, p, p)
            gram *= pm[cut][:, :, None] * pm[cut][:, None, :]
            ev = np.linalg.eigvalsh(gram)
            rank = (ev > ev[:, -1:] * 1e-11).sum(axis=1)
            ident[cut] = rank == pm[cut].sum(axis=1)
        return ident


@dataclass
class _GridOut:
    """Flat (model-major) results of a grid, filled batch by batch."""

    size: int
    estimate: np.ndarray = field(init=False)
    loglik: np.ndarray = field(init=False)
    code: np.ndarray = field(init=False)
    log_unobserved: np.ndarray = field(init=False)
    lp_calls: int = 0
    n_certified: int = 0

    def __post_init__(self) -> None:
        self.estimate = np.full(self.size, np.nan)
        self.loglik = np.full(self.size, np.nan)
        self.code = np.zeros(self.size, dtype=int)
        self.log_unobserved = np.full(self.size, np.nan)

    def fits(self, grid: _Grid) -> GridFits:
        shape = (len(grid.models), grid.n_tables)
        return GridFits(
            list(grid.models),
            grid.ys.sum(axis=1),
            self.estimate.reshape(shape),
            self.loglik.reshape(shape),
            np.array([1 + grid.table.k + len(m) for m in grid.models], dtype=float),
            self.code.reshape(shape),
            self.log_unobserved.reshape(shape),
            self.lp_calls,
            self.n_certified,
        )


@dataclass
class _Batch:
    """IRLS results of the identifiable pairs of one batch (rows ``idx`` of the batch)."""

    idx: np.ndarray
    beta: np.ndarray
    mu: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    step: np.ndarray


def _irls(
    grid: _Grid,
    ri: np.ndarray,
    pm: np.ndarray,
    cm: np.ndarray,
    idx: np.ndarray,
    max_iter: int,
    engine: str,
) -> _Batch:
    y = grid.ys[ri[idx]]
    if engine == "numba":
        from fl_estimate.mse.loglinear.irls_numba import irls_grid

        beta, mu, _dev, its, conv, step = irls_grid(
            grid.x, grid.ys, ri[idx], pm[idx], cm[idx], DEVIANCE_TOL, max_iter
        )
    else:
        step = np.zeros((idx.size, grid.x.shape[1]))
        beta, mu, _dev, its, conv = irls_batch(
            grid.x, y, pm[idx], cm[idx], max_iter=max_iter, step_out=step
        )
    return _Batch(idx, beta, mu, its, conv, step)


def _decide_flagged(
    grid: _Grid,
    out: _GridOut,
    fits: _Batch,
    mi: np.ndarray,
    ri: np.ndarray,
    pm: np.ndarray,
    cm: np.ndarray,
    code: np.ndarray,
) -> None:
    """Existence of the fits heading for a boundary: a certificate from the diverging fit, else
    the Fienberg–Rinaldo linear programs of the batch, solved together. Sets ``code`` to 1 where
    the MLE does not exist, and refits (with the full iteration budget) fits that the linear
    program accepts but that had not converged."""
    fl = np.flatnonzero(heading_to_boundary(fits.beta, fits.iterations, fits.converged))
    if not fl.size:
        return
    g_fl = fits.idx[fl]
    y = grid.ys[ri]
    with np.errstate(all="ignore"):
        cert = certify_no_mle(grid.x, y[g_fl], pm[g_fl], cm[g_fl], fits.step[fl])
    cert &= np.isfinite(fits.step[fl]).all(axis=1)
    out.n_certified += int(cert.sum())
    code[g_fl[cert]] = 1
    rest = fl[~cert]
    if not rest.size:
        return
    blocks = []
    for j in rest:
        g = fits.idx[j]
        tb = grid.table_for(int(ri[g]))
        keep, _bd, alive = reduce_model(tb, grid.models[int(mi[g])])
        xr = design(tb, keep)[alive]
        blocks.append((xr.T, xr.T @ tb.y[alive]))
    out.lp_calls += len(blocks)
    for j, obj in zip(rest, lp_objectives(blocks), strict=True):
        g = fits.idx[j]
        if obj <= 1e-9 * max(1.0, float(y[g].sum())):
            code[g] = 1
        elif not fits.converged[j]:
            b1, mu1, _d1, _i1, _c1 = irls_batch(grid.x, y[g], pm[g][None], cm[g][None])
            fits.beta[j], fits.mu[j] = b1[0], mu1[0]


def _store(
    grid: _Grid, out: _GridOut, fits: _Batch, q: np.ndarray, ri: np.ndarray, code: np.ndarray
) -> None:
    """Estimate, log-likelihood and log unobserved count of the pairs that were fitted."""
    good = code[fits.idx] == 0
    gi = fits.idx[good]
    qg = q[gi]
    y = grid.ys[ri[gi]]
    beta0 = fits.beta[good, 0]
    out.log_unobserved[qg] = beta0
    out.estimate[qg] = y.sum(axis=1) + np.exp(beta0)
    mug = fits.mu[good]
    with np.errstate(divide="ignore"):
        logmu = np.where(mug > 0, np.log(np.where(mug > 0, mug, 1.0)), 0.0)
    lgy = np.where(mug > 0, grid.lgy[ri[gi]], 0.0)
    out.loglik[qg] = (y * logmu - mug - lgy).sum(axis=1)


def _fit_batch(
    grid: _Grid,
    out: _GridOut,
    q: np.ndarray,
    *,
    resolve_codes: bool,
    max_iter: int,
    engine: str,
) -> None:
    """Fit the (model, table) pairs with flat indices ``q`` (model-major)."""
    mi, ri = q // grid.n_tables, q % grid.n_tables
    pm, cm = grid.masks(mi, ri)
    ident = grid.identifiable(pm, cm)
    code = np.where(ident, 0, 2)
    if resolve_codes:
        for bad in np.flatnonzero(~ident).tolist():
            out.lp_calls += 1
            code[bad] = check_existence(
                grid.table_for(int(ri[bad])), grid.models[int(mi[bad])]
            ).code
    idx = np.flatnonzero(ident)
    if idx.size:
        fits = _irls(grid, ri, pm, cm, idx, max_iter, engine)
        _decide_flagged(grid, out, fits, mi, ri, pm, cm, code)
        _store(grid, out, fits, q, ri, code)
    out.code[q] = code


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
    all_terms : sequence of int, optional
        Terms of the shared design (default: every term of every model).
    resolve_codes : bool
        Run the linear program for models that are not identifiable too, to tell code 2 from 3.
    max_iter : int
        IRLS iterations before a fit counts as diverging (fits whose MLE exists need at most 9
        on the reference tables; one that the linear program then accepts is refitted with
        :data:`~fl_estimate.mse.loglinear.fit.MAX_ITER`).
    engine : {"numba", "numpy"}
        ``"numpy"``: :func:`~fl_estimate.mse.loglinear.fit.irls_batch` (one matrix product per
        iteration for the batch); ``"numba"`` (default): the compiled per-fit iteration of
        :mod:`fl_estimate.mse.loglinear.irls_numba` (each fit with only its own parameters;
        faster for large grids).

    Returns
    -------
    GridFits

    Notes
    -----
    For each (model, table): interactions with a zero margin in that table are boundary terms
    (cells containing them fixed at zero); identifiability from the eigenvalues of the reduced
    Gram matrices; the existence of fits that head for a boundary from
    :func:`~fl_estimate.mse.loglinear.existence.certify_no_mle`, or from the Fienberg–Rinaldo
    linear program when the certificate is not conclusive.
    """
    grid = _Grid.build(table, models, counts, all_terms)
    out = _GridOut(len(grid.models) * grid.n_tables)
    for start in range(0, out.size, batch):
        q = np.arange(start, min(out.size, start + batch))
        _fit_batch(grid, out, q, resolve_codes=resolve_codes, max_iter=max_iter, engine=engine)
    return out.fits(grid)


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
        list(g.models),
        g.estimate[:, 0],
        g.loglik[:, 0],
        g.n_params.astype(int),
        g.code[:, 0],
        g.log_unobserved[:, 0],
        g.n_lp_calls,
    )
