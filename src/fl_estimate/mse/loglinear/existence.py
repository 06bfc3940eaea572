"""Does the extended maximum-likelihood estimate of a log-linear model exist, and is it
identifiable?

Extended MLE (Fienberg & Rinaldo 2012; Chan, Silverman & Vincent 2021): a term whose observed
margin is zero (two lists that never overlap, say) has MLE minus infinity; every cell containing
it is fitted at zero. Such terms are dropped, their cells fixed at zero, and the rest is fitted.
The model is refused only when the Fienberg–Rinaldo linear program shows that even so no MLE
exists, or when the remaining parameters are not identifiable (rank). :func:`certify_no_mle`
settles most diverging fits of a batch without a linear program (a Farkas certificate read off
the last IRLS step).

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import check_existence, parse_model, term_label
>>> data = read_capture_csv("data_samples/uk_2013.csv")

LA and GP never overlap: the model with LA:GP is a boundary fit (its cells fitted at zero), and
its extended MLE exists.

>>> chk = check_existence(data, parse_model("LA:GP", data.lists))
>>> chk.ok, chk.code, [term_label(t, data.lists) for t in chk.boundary_terms]
(True, 0, ['LA:GP'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.table import Table, design, reduce_model
from fl_estimate.mse.loglinear.terms import Model, model_label, term_label

__all__ = [
    "CERTIFICATE_TOL",
    "ExistenceCheck",
    "certify_no_mle",
    "check_existence",
    "code_name",
    "lp_objective",
    "lp_objectives",
]


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
                N_(
                    "model '{label}' has no maximum-likelihood estimate on these data, even "
                    "allowing interactions at minus infinity (the Fienberg–Rinaldo condition "
                    "fails: the observed margins can only be matched with further cells fitted "
                    "at zero)",
                    label=label,
                )
            )
        if self.code & 2:
            zero = (
                N_(" once the cells of the non-overlapping term(s) {terms} are fixed at zero",
                   terms=b)
                if b
                else ""
            )  # fmt: skip
            parts.append(
                N_(
                    "model '{label}' is not identifiable: {n} parameter(s) cannot be determined "
                    "from the cells left{zero}",
                    label=label,
                    n=self.rank_deficiency,
                    zero=zero,
                )
            )
        return N_(
            "{problems}; remove an interaction that involves a sparse list, merge lists with "
            "little overlap, or use a model-selection method that skips such models",
            problems=join_semicolons(parts) if parts else "",
        )


def lp_objective(a: np.ndarray, t: np.ndarray) -> float:
    """max s subject to A y = t, y >= s, y >= 0, s >= 0 (Fienberg & Rinaldo 2012, as SparseMSE).

    The MLE (on the cells left) exists if and only if the optimum is positive.
    """
    from scipy.optimize import linprog  # on first use (a process that fits nothing pays nothing)

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


def lp_objectives(blocks: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """:func:`lp_objective` for many (A, t) at once: one block-diagonal linear program.

    The objective is the sum of the blocks' ``s``; the blocks share no variable, so an optimum
    of the sum is an optimum of every block.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

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
        return np.array([lp_objective(a, t) for a, t in blocks])
    return np.asarray(res.x[svar], dtype=float)


def check_existence(table: Table | CaptureData, model: Model) -> ExistenceCheck:
    """Existence (Fienberg–Rinaldo linear program, HiGHS) and identifiability (rank) of a model.

    Parameters
    ----------
    table : Table or CaptureData
    model : frozenset of int
        Interaction terms (see :mod:`fl_estimate.mse.loglinear.terms`).

    Returns
    -------
    ExistenceCheck
    """
    if isinstance(table, CaptureData):
        table = Table.from_data(table)
    keep, boundary, alive = reduce_model(table, model)
    x = design(table, keep)[alive]
    t = x.T @ table.y[alive]
    obj = lp_objective(x.T, t)
    rankdef = len(keep) - int(np.linalg.matrix_rank(x))
    code = int(obj <= 1e-9 * max(1.0, table.n)) + 2 * int(rankdef > 0)
    return ExistenceCheck(code, tuple(boundary), rankdef, obj, table.lists)


def code_name(code: int) -> str:
    """The ``status`` code of a refused model (:class:`ExistenceCheck` ``code`` 1, 2 or 3)."""
    return {1: "no-mle", 2: "not-identifiable", 3: "no-mle-not-identifiable"}.get(code, "ok")


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
