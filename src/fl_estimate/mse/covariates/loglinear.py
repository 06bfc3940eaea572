"""Log-linear models with covariate x list interactions on the record-level table.

The records are cross-classified by capture pattern ``S`` and covariate levels ``x`` (every
combination of levels seen); the counts are independent Poisson with

``log mu(S, x) = alpha_x + sum_j S_j (lambda_j + z_x' gamma_j) + sum_{(j,k)} S_j S_k lambda_jk``

(``z_x`` the treatment-coded covariate terms; with ``parallel`` one ``gamma`` for every list, the
term ``|S| z_x' gamma``). ``alpha_x`` is free for every combination of levels, so the
distribution of the covariates is not modelled; the unobserved cell of level ``x`` is
``exp(alpha_x)`` and ``N = n + sum_x exp(alpha_x)`` (Zwane & van der Heijden 2005, the covariate
model of the Netherlands trafficking estimates). Without list interactions the model is Huggins'
conditional model with the same covariates and gives the same N (the Poisson likelihood factors
into the counts per level, free through ``alpha_x``, and the conditional likelihood of the
patterns given capture).

Missing covariate values with ``missing="mar"``: an incomplete record is a count of the sum of
the cells it could belong to (a composite-link Poisson model, fitted by Fisher scoring: the same
maximum as the EM algorithm of Zwane & van der Heijden 2007, and its exact information).

Examples
--------
>>> from fl_estimate.simulate import simulate_covariates
>>> from fl_estimate.mse.covariates import CovariateLogLinearMSE, HugginsMSE
>>> sim = simulate_covariates(
...     4000, 3, covariates={"sex": {"F": 0.5, "M": 0.5}}, capture_probs=0.35,
...     effects={"sex": {"M": [-1.5, -1.0, -2.0]}}, seed=7)
>>> ll = CovariateLogLinearMSE("sex").fit(sim.records, lists=["L1", "L2", "L3"])
>>> hu = HugginsMSE("sex").fit(sim.records, lists=["L1", "L2", "L3"])
>>> bool(abs(ll.estimate - hu.estimate) < 1e-6 * hu.estimate)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln
from scipy.stats import chi2

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.covariates.common import (
    BY_LEVEL_COLUMNS,
    CovariateTermsModel,
    FitRequest,
    keyed_generator,
    lognormal_interval,
    normal_interval,
    percentile_interval,
)
from fl_estimate.mse.covariates.records import (
    CovariateRecords,
    boundary_reason,
    group_records,
    treatment_columns,
)
from fl_estimate.mse.loglinear import irls
from fl_estimate.results import EstimationResult

__all__ = ["CovariateLogLinearMSE", "CrossTable", "cross_table"]

#: Entry level of a list interaction in ``interactions="stepwise"`` (LR test, 1 df).
PAIR_LEVEL = 0.02
_MAX_COEF = 20.0
_MAX_EM = 5000


@dataclass(frozen=True)
class CrossTable:
    """The records cross-classified by capture pattern and covariate levels.

    Attributes
    ----------
    combos : ndarray (G, C)
        Level index of every combination of levels used (seen among the complete records).
    cells : ndarray (F,)
        Capture pattern of every full cell (F = G * (2**K - 1)), combination-major.
    combo_of : ndarray (F,)
        Combination of every full cell.
    y : ndarray (R,)
        Observed counts: one per full cell, then one per distinct incomplete record
        (pattern and the values known).
    link : ndarray (R, F)
        Which full cells each count sums (the identity on the full cells).
    """

    combos: np.ndarray
    cells: np.ndarray
    combo_of: np.ndarray
    y: np.ndarray
    link: np.ndarray

    @property
    def complete_only(self) -> bool:
        return self.link.shape[0] == self.link.shape[1]


def cross_table(rec: CovariateRecords) -> CrossTable:
    """Cross-classify the records (see :class:`CrossTable`)."""
    groups = group_records(rec)
    combos = groups.codes
    n_cells = (1 << rec.k) - 1
    g = len(combos)
    cells = np.tile(np.arange(1, n_cells + 1), g)
    combo_of = np.repeat(np.arange(g), n_cells)
    keep = rec.complete()
    index = {tuple(c): i for i, c in enumerate(combos.tolist())}
    y_full = np.zeros(g * n_cells)
    gi = np.array([index[tuple(c)] for c in rec.codes[keep].tolist()], dtype=np.int64)
    np.add.at(y_full, gi * n_cells + rec.cells[keep] - 1, 1.0)
    rows = [np.eye(g * n_cells)]
    counts = [y_full]
    if not keep.all():
        part = np.column_stack([rec.cells[~keep], rec.codes[~keep]])
        uniq, cnt = np.unique(part, axis=0, return_counts=True)
        link = np.zeros((len(uniq), g * n_cells))
        for r, row in enumerate(uniq):
            cell, codes = int(row[0]), row[1:]
            known = codes >= 0
            ok = np.flatnonzero((combos[:, known] == codes[known]).all(axis=1))
            if ok.size == 0:
                raise ModelSpecificationError(
                    N_(
                        "an incomplete record has known values that no complete record has; "
                        "missing='mar' spreads incomplete records over combinations of levels "
                        "seen in complete records: use missing='level' or merge sparse levels"
                    )
                )
            link[r, ok * n_cells + cell - 1] = 1.0
        rows.append(link)
        counts.append(cnt.astype(float))
    return CrossTable(combos, cells, combo_of, np.concatenate(counts), np.vstack(rows))


def _fit_mar(x: np.ndarray, table: CrossTable) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Maximum likelihood over complete and incomplete records (MAR given the pattern).

    The observed-data log-likelihood is ``sum_a y_a log(sum_{c in a} mu_c) - sum_c mu_c`` over
    the counts ``a`` (a complete record's cell, or the cells an incomplete one could be in) and
    the full cells ``c``: the missingness probabilities factor out under MAR. EM (the incomplete
    counts spread over their cells in proportion to the fitted means, the log-linear model
    refitted on the completed table) to convergence, then Newton steps on the observed-data
    likelihood to polish. Returns beta, the full-cell means, the total number of iterations and
    whether it converged.
    """
    n_full = table.link.shape[1]
    y_full, part, y_part = table.y[:n_full], table.link[n_full:], table.y[n_full:]
    completed = y_full + part.T @ (y_part / part.sum(axis=1))
    beta = np.zeros(x.shape[1])
    mu: np.ndarray | None = None
    total = 0
    converged = False
    for _ in range(_MAX_EM):
        beta_new, mu_new, _dev, it, conv = irls(x, completed, mu_start=mu)
        total += it
        if not conv:
            return beta_new, mu_new, total, False
        share = part * mu_new[None, :]
        completed = y_full + (share / share.sum(axis=1, keepdims=True)).T @ y_part
        change = float(np.max(np.abs(beta_new - beta)))
        beta, mu = beta_new, mu_new
        if change < 1e-8:
            converged = True
            break
    if not converged or mu is None:
        return beta, np.exp(x @ beta), total, False
    for _ in range(5):  # Newton on the observed-data likelihood (quadratic convergence)
        score, info, mu = _observed_score_info(x, table, beta)
        step = np.linalg.solve(info, score)
        beta = beta + step
        total += 1
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta, np.exp(x @ beta), total, True


def _observed_score_info(
    x: np.ndarray, table: CrossTable, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score and observed information of the observed-data log-likelihood (see
    :func:`_fit_mar`)."""
    n_full = table.link.shape[1]
    part, y_part = table.link[n_full:], table.y[n_full:]
    mu = np.exp(x @ beta)
    y_full = table.y[:n_full]
    lam = part @ mu
    g = (part * mu[None, :]) @ x  # d lambda_a / d beta
    score = x.T @ (y_full - mu) + g.T @ (y_part / lam)
    # -d2l: sum_c mu_c x_c x_c' - sum_a y_a [ (sum_c L_ac mu_c x_c x_c') / lam_a - g_a g_a' / lam_a^2 ]
    info = x.T @ (mu[:, None] * x)
    wa = (part.T @ (y_part / lam)) * mu  # per full cell: sum_a y_a L_ac mu_c / lam_a
    info -= x.T @ (wa[:, None] * x)
    info += g.T @ ((y_part / lam**2)[:, None] * g)
    return score, info, mu


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    n_params: int


class CovariateLogLinearMSE(CovariateTermsModel):
    """Poisson log-linear model on the table of capture patterns x covariate levels.

    Parameters
    ----------
    covariates : str or sequence of str
        Covariate terms (``"sex + age"``, ``"sex * age"``, a list of names or ``"a:b"``).
    interactions : str, sequence of str, or "stepwise", optional
        Two-list interactions (dependence between lists given the covariates), e.g.
        ``"L1:L2 + L3:L4"``; ``"stepwise"`` adds pairs forward while the best one's
        likelihood-ratio p-value is below :data:`PAIR_LEVEL` (0.02). Default: none (lists
        independent given the covariates).
    parallel : bool
        False (default): covariate x list interactions (each list its own covariate effects).
        True: one effect per covariate shared by the lists (the term ``|S| x covariate``).
    list_intercepts : bool
        True (default): a main effect per list. False (with ``parallel=True``): one main effect
        ``|S|`` for every list (lists equally catchable given the covariates).
    missing : {"level", "mar"}
        Missing covariate values (see :mod:`fl_estimate.mse.covariates.records`); ``"mar"``
        fits the composite-link model over the incomplete records.

    Notes
    -----
    See the module docstring for the model. The standard error of N combines the delta-method
    variance of the fitted unobserved count ``f0 = sum_x exp(alpha_x)`` (inverse Fisher
    information; observed-data information with ``missing="mar"``) and the Poisson variance
    ``f0`` of the unobserved count itself; without list interactions it equals Huggins'
    variance of :class:`~fl_estimate.mse.covariates.HugginsMSE`. (The aggregate log-linear
    estimators' Wald interval leaves out the second term, as SparseMSE does.)
    ``interval="wald"``: Chao's log-normal interval on ``f0`` (``interval_kind="wald-log"``),
    conditional on the model; ``"wald-n"``: ``N +/- z se``; ``"bootstrap"``: percentile
    interval of the nonparametric bootstrap (the records resampled, ``n`` fixed, the model -
    and the stepwise choice of interactions - refitted on each replicate).

    Tables: ``by_level`` (N per level), ``coefficients`` (``term``, ``estimate``,
    ``std_error``; the ``(unobserved: ...)`` terms are the log unobserved counts of each
    combination of levels), ``steps`` (``added``, ``p_value``) with ``interactions="stepwise"``;
    ``diagnostics`` the log-likelihood, AIC, numbers of parameters and cells, ``std_error``.

    References
    ----------
    Zwane, E. N. & van der Heijden, P. G. M. (2005). Population estimation using the multiple
    system estimator in the presence of continuous covariates. Statistical Modelling 5, 39-52.
    van der Heijden, P. G. M., Whittaker, J., Cruyff, M., Bakker, B. & van der Vliet, R. (2012).
    People born in the Middle East but residing in the Netherlands: invariant population size
    estimates and the role of active and passive covariates. Ann. Appl. Stat. 6, 831-852.
    """

    method = "covariate-loglinear"

    def __init__(
        self,
        covariates: str | Sequence[str],
        *,
        interactions: str | Sequence[str] | None = None,
        parallel: bool = False,
        list_intercepts: bool = True,
        missing: str = "level",
    ) -> None:
        self._set_terms(
            covariates, parallel=parallel, list_intercepts=list_intercepts, missing=missing
        )
        self.stepwise = isinstance(interactions, str) and interactions.strip() == "stepwise"
        if interactions is None or self.stepwise:
            self.pairs_spec: list[str] = []
        elif isinstance(interactions, str):
            self.pairs_spec = [p.strip() for p in interactions.split("+") if p.strip()]
        else:
            self.pairs_spec = [str(p).strip() for p in interactions]

    def _pairs(self, lists: Sequence[str]) -> list[tuple[int, int]]:
        out = []
        for p in self.pairs_spec:
            parts = [s.strip() for s in p.split(":")]
            if len(parts) != 2 or any(s not in lists for s in parts) or parts[0] == parts[1]:
                raise ModelSpecificationError(
                    N_(
                        "cannot read the list interaction {term!r}: write two of the lists "
                        "{lists} joined by ':' (e.g. {example})",
                        term=p,
                        lists=", ".join(lists),
                        example=":".join(lists[:2]),
                    )
                )
            i, j = sorted(lists.index(s) for s in parts)
            if (i, j) not in out:
                out.append((i, j))
        return out

    def label(self, lists: Sequence[str], pairs: Sequence[tuple[int, int]]) -> str:
        rhs = " + ".join(":".join(t) for t in self.terms)
        how = "effects shared by the lists" if self.parallel else "covariate x list"
        dep = " + ".join(f"{lists[i]}:{lists[j]}" for i, j in pairs)
        return f"{rhs} ({how}){' + ' + dep if dep else ''}"

    # ------------------------------------------------------------------ design and fit
    def _design(
        self, rec: CovariateRecords, table: CrossTable, pairs: Sequence[tuple[int, int]]
    ) -> tuple[np.ndarray, list[str]]:
        k = rec.k
        g = len(table.combos)
        s = ((table.cells[:, None] >> np.arange(k)) & 1).astype(float)  # (F, K)
        z, znames = treatment_columns(table.combos, rec.covariates, rec.levels, self.terms)
        zc = z[table.combo_of]
        alpha = (table.combo_of[:, None] == np.arange(g)[None, :]).astype(float)
        lv = [
            " ".join(f"{c}={rec.levels[c][i]}" for c, i in zip(rec.covariates, row, strict=True))
            for row in table.combos.tolist()
        ]
        if self.list_intercepts:
            cols = [alpha, s]
            names = [f"(unobserved: {v})" for v in lv] + list(rec.lists)
        else:
            cols = [alpha, s.sum(axis=1, keepdims=True)]
            names = [f"(unobserved: {v})" for v in lv] + ["captures"]
        if self.parallel:
            cols.append(s.sum(axis=1, keepdims=True) * zc)
            names += [f"captures:{n}" for n in znames]
        else:
            for q, zn in enumerate(znames):
                cols.append(s * zc[:, [q]])
                names += [f"{lst}:{zn}" for lst in rec.lists]
        for i, j in pairs:
            cols.append((s[:, i] * s[:, j])[:, None])
            names.append(f"{rec.lists[i]}:{rec.lists[j]}")
        return np.column_stack(cols), names

    def _fit_design(self, x: np.ndarray, table: CrossTable) -> _Fit:
        if table.complete_only:
            beta, mu, _dev, it, conv = irls(x, table.y)
            info = x.T @ (mu[:, None] * x)
            y = table.y
            ll = float(np.sum(np.where(y > 0, y * np.log(np.where(mu > 0, mu, 1.0)), 0.0) - mu))
        else:
            beta, mu, it, conv = _fit_mar(x, table)
            info = _observed_score_info(x, table, beta)[1]
            lam = table.link @ mu
            y = table.y
            ll = float(np.sum(np.where(y > 0, y * np.log(np.where(lam > 0, lam, 1.0)), 0.0)))
            ll -= float(mu.sum())
        ll -= float(np.sum(gammaln(table.y + 1.0)))
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.full_like(info, np.nan)
            conv = False
        ok = conv and np.all(np.isfinite(beta)) and np.max(np.abs(beta)) <= _MAX_COEF
        ok = ok and bool(np.all(np.isfinite(cov)))
        return _Fit(beta, cov, mu, ll, int(it), bool(ok), x.shape[1])

    def _select(
        self, rec: CovariateRecords, table: CrossTable
    ) -> tuple[list[tuple[int, int]], _Fit, np.ndarray, list[dict[str, Any]]]:
        pairs = self._pairs(rec.lists)
        x, _ = self._design(rec, table, pairs)
        fit = self._fit_design(x, table)
        steps: list[dict[str, Any]] = []
        if not self.stepwise:
            return pairs, fit, x, steps
        candidates = list(combinations(range(rec.k), 2))
        while fit.converged:
            best: tuple[float, tuple[int, int], _Fit, np.ndarray] | None = None
            for pair in candidates:
                if pair in pairs:
                    continue
                xc, _ = self._design(rec, table, [*pairs, pair])
                new = self._fit_design(xc, table)
                if not new.converged:
                    continue
                p = float(chi2.sf(max(2.0 * (new.loglik - fit.loglik), 0.0), 1))
                if p < PAIR_LEVEL and (best is None or p < best[0]):
                    best = (p, pair, new, xc)
            if best is None:
                break
            p, pair, fit, x = best
            pairs.append(pair)
            steps.append({"added": f"{rec.lists[pair[0]]}:{rec.lists[pair[1]]}", "p_value": p})
        return pairs, fit, x, steps

    # ------------------------------------------------------------------ estimates
    @staticmethod
    def _unobserved(fit: _Fit, g: int, mask: np.ndarray | None = None) -> tuple[float, float]:
        """Fitted unobserved count over the combinations in ``mask`` and the standard error of
        ``N - N_hat`` there: the delta-method variance of the fitted count plus its Poisson
        variance (the unobserved people are a random count too), which is Huggins' variance
        when the two models coincide."""
        e = np.exp(fit.beta[:g])
        if mask is not None:
            e = np.where(mask, e, 0.0)
        f0 = float(e.sum())
        return f0, float(np.sqrt(max(e @ fit.cov[:g, :g] @ e, 0.0) + f0))

    def settings(self, **model: Any) -> dict[str, Any]:
        interactions = "stepwise" if self.stepwise else " + ".join(self.pairs_spec)
        return super().settings(interactions=interactions, **model)

    def _fit(self, req: FitRequest) -> EstimationResult:
        rec, level, interval, n_boot, seed = req.rec, req.level, req.interval, req.n_boot, req.seed
        table = cross_table(rec)
        pairs, fit, _x, steps = self._select(rec, table)
        model = self.label(rec.lists, pairs)
        if not fit.converged:
            return req.failed(
                method=self.method,
                model=model,
                reason=boundary_reason(rec, group_records(rec), self.parallel),
                code="no-mle",
            )
        g = len(table.combos)
        f0, se = self._unobserved(fit, g)
        n_hat = rec.n + f0
        draws = by_draws = None
        masks = [
            (c, lv, table.combos[:, i] == j)
            for i, c in enumerate(rec.covariates)
            for j, lv in enumerate(rec.levels[c])
        ]
        if interval == "bootstrap":
            draws, by_draws = self._bootstrap(rec, table, masks, n_boot, seed)
            ci, kind = percentile_interval(draws, level), "bootstrap-percentile"
        elif interval == "wald-n":
            ci, kind = normal_interval(n_hat, se, level), "wald"
        else:
            ci, kind = lognormal_interval(rec.n, n_hat, se, level), "wald-log"
        observed_by = self._observed_by_combo(fit, table)
        rows = []
        for idx, (c, lv, mask) in enumerate(masks):
            f0_l, se_l = self._unobserved(fit, g, mask)
            n_l = float(observed_by[mask].sum())
            if by_draws is not None:
                lo, hi = percentile_interval(by_draws[:, idx], level)
            elif interval == "wald-n":
                lo, hi = normal_interval(n_l + f0_l, se_l, level)
            else:
                lo, hi = lognormal_interval(n_l, n_l + f0_l, se_l, level)
            rows.append((c, lv, n_l, n_l + f0_l, se_l, lo, hi))
        _, names = self._design(rec, table, pairs)
        coef = pd.DataFrame(
            {"term": names, "estimate": fit.beta, "std_error": np.sqrt(np.diag(fit.cov))}
        )
        tables = {"coefficients": coef, "by_level": pd.DataFrame(rows, columns=BY_LEVEL_COLUMNS)}
        if self.stepwise:
            tables["steps"] = pd.DataFrame(steps, columns=["added", "p_value"])
        diagnostics: dict[str, Any] = {
            "loglik": fit.loglik,
            "aic": -2.0 * fit.loglik + 2.0 * fit.n_params,
            "n_params": fit.n_params,
            "n_cells": int(table.link.shape[1]),
            "iterations": fit.iterations,
            "std_error": se,
        }
        return req.result(
            method=self.method,
            model=model,
            estimate=n_hat,
            interval=ci,
            interval_kind=kind,
            conditional_on_model=self.stepwise and interval != "bootstrap",
            diagnostics=diagnostics,
            tables=tables,
            draws=draws,
        )

    @staticmethod
    def _observed_by_combo(fit: _Fit, table: CrossTable) -> np.ndarray:
        """People seen in each combination (incomplete records spread by the fitted model)."""
        n_full = table.link.shape[1]
        full = table.y[:n_full].copy()
        if not table.complete_only:
            part = table.link[n_full:] * fit.mu[None, :]
            share = part / part.sum(axis=1, keepdims=True)
            full += share.T @ table.y[n_full:]
        return np.bincount(table.combo_of, weights=full, minlength=len(table.combos))

    def _bootstrap(
        self,
        rec: CovariateRecords,
        table: CrossTable,
        masks: list[tuple[str, str, np.ndarray]],
        n_boot: int,
        seed: SeedLike,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nonparametric bootstrap: the observed counts resampled (multinomial, n fixed)."""
        rng = keyed_generator(seed, "covariate-loglinear-bootstrap")
        n = int(table.y.sum())
        prob = table.y / table.y.sum()
        g = len(table.combos)
        out = np.full(n_boot, np.nan)
        by = np.full((n_boot, len(masks)), np.nan)
        for b in range(n_boot):
            rep = CrossTable(
                table.combos,
                table.cells,
                table.combo_of,
                rng.multinomial(n, prob).astype(float),
                table.link,
            )
            _pairs, fit, _x, _steps = self._select(rec, rep)
            if not fit.converged:
                continue
            f0 = np.exp(fit.beta[:g])
            seen = self._observed_by_combo(fit, rep)
            out[b] = n + f0.sum()
            by[b] = [float((seen + f0)[mask].sum()) for _c, _lv, mask in masks]
        return out, by
