"""Huggins' conditional-likelihood model with individual covariates and a Horvitz-Thompson N.

Each list's capture probability follows the person's covariates on the logit scale; the model is
fitted on the people caught, conditioning on their having been caught at least once, and every
person seen stands for ``1 / P*`` people (Huggins 1989; Alho 1990). R's VGAM fits the same model
as ``vglm(cbind(L1, ..., LK) ~ covariates, posbernoulli.t(parallel.t = ...))``; the tests match
its ``N.hat``, ``SE.N.hat`` and coefficients (tests/data/vgam/).

Examples
--------
>>> from fl_estimate.simulate import simulate_covariates
>>> from fl_estimate.mse.covariates import HugginsMSE
>>> sim = simulate_covariates(
...     4000, 3, covariates={"sex": {"F": 0.5, "M": 0.5}}, capture_probs=0.35,
...     effects={"sex": {"M": [-1.5, -1.0, -2.0]}}, seed=7)
>>> res = HugginsMSE("sex").fit(sim.records, lists=["L1", "L2", "L3"])
>>> res.method, res.interval_kind
('huggins', 'wald-log')
>>> bool(res.ci_low < sim.truth < res.ci_high)
True
>>> res.tables["by_level"][["level", "observed"]].to_dict("list")["level"]
['F', 'M']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike
from fl_estimate.mse.covariates.common import (
    BY_LEVEL_COLUMNS,
    CovariateTermsModel,
    FitRequest,
    keyed_generator,
    lognormal_interval,
    normal_interval,
    percentile_interval,
)
from fl_estimate.mse.covariates.conditional import (
    ConditionalFit,
    fit_conditional,
    horvitz_thompson,
    pattern_probabilities,
)
from fl_estimate.mse.covariates.records import (
    CovariateRecords,
    Groups,
    boundary_reason,
    group_records,
    treatment_columns,
)
from fl_estimate.results import EstimationResult

__all__ = ["HugginsMSE", "conditional_design"]


def conditional_design(
    z: np.ndarray,
    znames: Sequence[str],
    lists: Sequence[str],
    *,
    parallel: bool,
    list_intercepts: bool,
) -> tuple[np.ndarray, list[str]]:
    """The ``(G, K, P)`` design of the conditional model and its parameter names.

    Parameters are ordered term by term, lists within a term (VGAM's order): with list-specific
    effects ``L1:(Intercept), L2:(Intercept), ..., L1:sex[M], L2:sex[M], ...``; with
    ``parallel`` one ``sex[M]`` for every list; without ``list_intercepts`` one ``(Intercept)``.
    """
    g, k = z.shape[0], len(lists)
    zfull = np.column_stack([np.ones(g), z])
    names_full = ["(Intercept)", *znames]
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for c, label in enumerate(names_full):
        per_list = list_intercepts if c == 0 else not parallel
        if per_list:
            blocks.append(zfull[:, c][:, None, None] * np.eye(k)[None, :, :])
            names += [f"{lst}:{label}" for lst in lists]
        else:
            blocks.append(np.broadcast_to(zfull[:, c][:, None, None], (g, k, 1)))
            names.append(label)
    return np.concatenate(blocks, axis=2), names


class HugginsMSE(CovariateTermsModel):
    """Conditional-likelihood model with categorical covariates and a Horvitz-Thompson N.

    Parameters
    ----------
    covariates : str or sequence of str
        Covariate terms: a formula ``"sex + age"`` (``"sex * age"`` adds the interaction) or a
        list of column names / ``"a:b"`` interactions. Covariates are categorical (treatment
        coding, first level the reference; bin numbers into bands first).
    parallel : bool
        False (default): every list has its own effect of every covariate (covariate x list
        interactions; VGAM ``posbernoulli.t(parallel.t = FALSE)``). True: one effect of each
        covariate shared by the lists, with list-specific intercepts (VGAM's default
        ``parallel.t = FALSE ~ 1``).
    list_intercepts : bool
        True (default): lists differ in their overall catchability (model Mt). False with
        ``parallel=True``: every list catches a given person with the same probability (M0 with
        covariates; VGAM ``parallel.t = TRUE``).
    missing : {"level", "mar"}
        Missing covariate values: ``"level"`` (default) makes them a level :data:`MISSING` of
        their own; ``"mar"`` treats them as missing at random given the capture pattern and
        maximises the likelihood of the observed data (EM; fitted as the equivalent
        :class:`~fl_estimate.mse.covariates.CovariateLogLinearMSE`, whose nonparametric bootstrap
        then gives ``interval="bootstrap"``). See :mod:`fl_estimate.mse.covariates.records`.

    Notes
    -----
    ``logit p_ij = x_i' beta_j``; the likelihood is conditional on being caught at least once
    and ``N = sum_i 1 / (1 - prod_j (1 - p_ij))`` over the people caught (Huggins 1989). Its
    variance is Huggins' ``sum_i Q_i / P*_i**2 + D' I^-1 D`` (the Horvitz-Thompson term and the
    uncertainty of the estimated probabilities; VGAM's ``SE.N.hat``). ``interval="wald"`` gives
    Chao's (1987) log-normal interval on the unobserved count (``interval_kind="wald-log"``,
    never below the observed count), ``"wald-n"`` the symmetric ``N +/- z SE``, and
    ``"bootstrap"`` the percentile interval of a parametric bootstrap from the fitted
    population (Zwane & van der Heijden 2003): ``round(N)`` people drawn from the people seen
    with weights ``1 / P*``, caught with the fitted probabilities, the model refitted on those
    caught. ``tables["by_level"]`` has N for every level of every covariate (the same formulas
    over the people of that level); ``tables["coefficients"]`` the coefficients (``term``,
    ``estimate``, ``std_error``, ``z``; VGAM's order); ``diagnostics`` the log-likelihood, AIC,
    ``std_error`` and its two parts ``variance_ht`` and ``variance_parameters``, and the
    missing-value policy; ``draws`` the bootstrap replicates of N.

    The model assumes lists are independent given the covariates: dependence between lists
    that the covariates do not explain biases N (use
    :class:`~fl_estimate.mse.covariates.CovariateLogLinearMSE` with list interactions).

    References
    ----------
    Huggins, R. M. (1989). On the statistical analysis of capture experiments. Biometrika 76,
    133-140. Alho, J. M. (1990). Logistic regression in capture-recapture models. Biometrics 46,
    623-635. Yee, T. W., Stoklosa, J. & Huggins, R. M. (2015). The VGAM package for
    capture-recapture data using the conditional likelihood. J. Stat. Softw. 65(5).
    """

    method = "huggins"

    def __init__(
        self,
        covariates: str | Sequence[str],
        *,
        parallel: bool = False,
        list_intercepts: bool = True,
        missing: str = "level",
    ) -> None:
        self._set_terms(
            covariates, parallel=parallel, list_intercepts=list_intercepts, missing=missing
        )
        self.covariates_spec = covariates

    # ------------------------------------------------------------------ labels
    def label(self, lists: Sequence[str]) -> str:
        rhs = " + ".join(":".join(t) for t in self.terms)
        if not self.parallel:
            how = "list-specific effects"
        elif self.list_intercepts:
            how = "effects shared by the lists"
        else:
            how = "same probability on every list"
        return f"{', '.join(lists)} ~ {rhs} ({how})"

    # ------------------------------------------------------------------ fitting
    def _design(self, rec: CovariateRecords, codes: np.ndarray) -> tuple[np.ndarray, list[str]]:
        z, znames = treatment_columns(codes, rec.covariates, rec.levels, self.terms)
        return conditional_design(
            z, znames, rec.lists, parallel=self.parallel, list_intercepts=self.list_intercepts
        )

    def _fit_mar(self, req: FitRequest) -> EstimationResult:
        """Missing values at random: the same model as the log-linear model with covariate x
        list terms and no list interactions (equal N, variance and coefficients), fitted by EM
        over the incomplete records there; the result is relabelled."""
        from fl_estimate.mse.covariates.loglinear import CovariateLogLinearMSE

        twin = CovariateLogLinearMSE(
            [":".join(t) for t in self.terms],
            parallel=self.parallel,
            list_intercepts=self.list_intercepts,
            missing="mar",
        )
        rec = req.rec
        res = twin._fit(req)
        coef = res.tables.get("coefficients")
        tables = dict(res.tables)
        if coef is not None:
            kept = coef[~coef["term"].str.startswith("(unobserved")].reset_index(drop=True)
            _, names = self._design(rec, rec.codes[rec.complete()][:1])
            kept["term"] = names
            kept["z"] = kept["estimate"] / kept["std_error"]
            tables["coefficients"] = kept
        return replace(
            res,
            method=self.method,
            model=self.label(rec.lists),
            tables=tables,
            diagnostics={**res.diagnostics, "fitted_as": "covariate-loglinear (EM, MAR)"},
        )

    def _fit(self, req: FitRequest) -> EstimationResult:
        rec, level, interval, n_boot, seed = req.rec, req.level, req.interval, req.n_boot, req.seed
        model = self.label(rec.lists)
        if self.missing == "mar" and not rec.complete().all():
            return self._fit_mar(req)
        groups = group_records(rec)
        a, names = self._design(rec, groups.codes)
        fit = fit_conditional(a, groups.m, groups.ysum)
        if not fit.converged:
            return req.failed(
                method=self.method,
                model=model,
                reason=boundary_reason(rec, groups, self.parallel),
                code="no-mle",
                diagnostics={"iterations": fit.iterations},
            )
        n_hat, ht, pv = horvitz_thompson(fit, a, groups.m)
        se = float(np.sqrt(ht + pv))
        draws = None
        by_draws = None
        if interval == "bootstrap":
            draws, by_draws = _bootstrap(self, rec, groups, fit, a, n_boot, seed)
            ci = percentile_interval(draws, level)
            kind = "bootstrap-percentile"
        elif interval == "wald-n":
            ci, kind = normal_interval(n_hat, se, level), "wald"
        else:
            ci, kind = lognormal_interval(rec.n, n_hat, se, level), "wald-log"
        by_level = _by_level(rec, groups, fit, a, level, interval, by_draws)
        coef = pd.DataFrame(
            {
                "term": names,
                "estimate": fit.coef,
                "std_error": np.sqrt(np.diag(fit.cov)),
            }
        )
        coef["z"] = coef["estimate"] / coef["std_error"]
        k_par = len(fit.coef)
        diagnostics: dict[str, Any] = {
            "loglik": fit.loglik,
            "aic": -2.0 * fit.loglik + 2.0 * k_par,
            "n_params": k_par,
            "iterations": fit.iterations,
            "std_error": se,
            "variance_ht": ht,
            "variance_parameters": pv,
            "min_pstar": float(fit.pstar.min()),
        }
        return req.result(
            method=self.method,
            model=model,
            estimate=n_hat,
            interval=ci,
            interval_kind=kind,
            diagnostics=diagnostics,
            tables={"coefficients": coef, "by_level": by_level},
            draws=draws,
        )


def _level_masks(rec: CovariateRecords, groups: Groups) -> list[tuple[str, str, np.ndarray]]:
    return [
        (c, lv, groups.codes[:, i] == j)
        for i, c in enumerate(rec.covariates)
        for j, lv in enumerate(rec.levels[c])
    ]


def _by_level(
    rec: CovariateRecords,
    groups: Groups,
    fit: ConditionalFit,
    a: np.ndarray,
    level: float,
    interval: str,
    by_draws: np.ndarray | None,
) -> pd.DataFrame:
    rows = []
    for idx, (c, lv, mask) in enumerate(_level_masks(rec, groups)):
        n_l, ht, pv = horvitz_thompson(fit, a, groups.m, mask)
        se = float(np.sqrt(ht + pv))
        observed = float(groups.m[mask].sum())
        if by_draws is not None:
            lo, hi = percentile_interval(by_draws[:, idx], level)
        elif interval == "wald-n":
            lo, hi = normal_interval(n_l, se, level)
        else:
            lo, hi = lognormal_interval(observed, n_l, se, level)
        rows.append((c, lv, observed, n_l, se, lo, hi))
    return pd.DataFrame(rows, columns=BY_LEVEL_COLUMNS)


def _bootstrap(
    model: HugginsMSE,
    rec: CovariateRecords,
    groups: Groups,
    fit: ConditionalFit,
    a: np.ndarray,
    n_boot: int,
    seed: SeedLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Parametric bootstrap from the fitted population: N and N per level in each replicate."""
    rng = keyed_generator(seed, "huggins-bootstrap")
    weights = groups.m / fit.pstar
    size = round(float(weights.sum()))
    weights = weights / weights.sum()
    probs = pattern_probabilities(fit.p)
    k = rec.k
    bits = ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1).astype(float)
    masks = _level_masks(rec, groups)
    out = np.full(n_boot, np.nan)
    by = np.full((n_boot, len(masks)), np.nan)
    for b in range(n_boot):
        people = rng.multinomial(size, weights)
        counts = rng.multinomial(people, probs)
        m = (people - counts[:, 0]).astype(float)
        ysum = counts @ bits
        seen = m > 0
        refit = fit_conditional(a[seen], m[seen], ysum[seen], start=fit.coef)
        if not refit.converged:
            continue
        inv = np.zeros(len(m))
        inv[seen] = 1.0 / refit.pstar
        out[b] = float(np.sum(m * inv))
        by[b] = [float(np.sum((m * inv)[mask])) for _c, _lv, mask in masks]
    return out, by
