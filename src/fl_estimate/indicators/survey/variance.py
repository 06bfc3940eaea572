"""Variances of design-based estimates: Taylor linearisation by stage, and replicate weights.

* :class:`StageVariance`: the variance of a total of linearised values under a stratified
  multistage design, as R's ``svyrecvar``: with-replacement PSU variance within strata, plus
  each later stage's variance when the stage's fpc is given.
* :func:`replicate_variance` and :func:`replicate_df`: R's ``svrVar`` and ``degf`` of a
  replicate-weight design.
* :func:`replicate_weights`: jackknife (JK1, JKn) and Rao–Wu bootstrap replicate weights of a
  stratified clustered design (R's ``as.svrepdesign``).

Examples
--------
Two strata with two PSUs each; the variance of the total of ``z`` is
``Σ_h n_h/(n_h−1) Σ_c (t_hc − t̄_h)²`` (no fpc):

>>> import numpy as np
>>> strata, psu = np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])
>>> v = StageVariance(strata, [psu], [np.full(4, 2.0)], [None])
>>> float(v(np.array([1.0, 3.0, 2.0, 2.0])))  # 2 × ((1−2)² + (3−2)²) + 0
4.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_

__all__ = [
    "LonelyPSU",
    "StageVariance",
    "expit",
    "group_codes",
    "logit",
    "replicate_df",
    "replicate_variance",
    "replicate_weights",
]

LonelyPSU = Literal["fail", "certainty", "remove", "average"]


def group_codes(values: Any) -> tuple[np.ndarray, int]:
    """Integer code (0..k-1, in order of appearance; missing values a group of their own) of each
    value, and the number of groups ``k``."""
    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def logit(p: np.ndarray | float) -> Any:
    """``log(p / (1 − p))`` (±inf at 0 and 1, without a warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p) - np.log1p(-np.asarray(p))


def expit(x: np.ndarray | float) -> Any:
    """Inverse of :func:`logit`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


class StageVariance:
    """Variance of a total under a stratified multistage design (R ``svyrecvar``).

    Parameters
    ----------
    stratum_codes : array (n,)
        First-stage stratum code of each row.
    stage_keys : list of arrays (n,)
        Per stage, the code of the row's unit, nested in its stratum and higher-stage units.
    n_stage : list of arrays (n,)
        Per stage, the number of units sampled in the row's stratum (stage 0) or higher-stage unit.
    N_stage : list of arrays (n,) or None
        Per stage, the population size of the same group (``inf``: sampled with replacement), or
        ``None`` without fpc.
    lonely_psu : {"fail", "certainty", "remove", "average"}
        A stratum with one PSU: an error, no contribution, or the average of the other strata's
        (R's ``survey.lonely.psu``).
    source, strata_name : str
        File and column named in the error of ``lonely_psu="fail"``.

    Notes
    -----
    The formula is in :class:`~fl_estimate.indicators.survey.SurveyDesign`'s notes.
    """

    def __init__(
        self,
        stratum_codes: np.ndarray,
        stage_keys: Sequence[np.ndarray],
        n_stage: Sequence[np.ndarray],
        N_stage: Sequence[np.ndarray | None],
        lonely_psu: LonelyPSU = "fail",
        *,
        source: str = "<DataFrame>",
        strata_name: str | None = None,
    ) -> None:
        self.stratum_codes = stratum_codes
        self.stage_keys = list(stage_keys)
        self.n_stage = list(n_stage)
        self.N_stage = list(N_stage)
        self.lonely_psu = lonely_psu
        self.source = source
        self.strata_name = strata_name
        self._structure: dict[int, tuple[np.ndarray, int, np.ndarray, np.ndarray, int]] = {}

    def __call__(self, z: np.ndarray) -> float:
        """Variance of ``Σ z`` (``z``: linearised values, one per row)."""
        return self._stage_var(z, 0, None)

    def _stage_structure(self, stage: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, int]:
        """Unit codes per row, number of units, first row of each unit, parent code of each unit
        and number of parents (strata at stage 0); computed once per design."""
        cached = self._structure.get(stage)
        if cached is None:
            key = self.stage_keys[stage]
            parent = self.stratum_codes if stage == 0 else self.stage_keys[stage - 1]
            unit_codes, n_units = group_codes(key)
            first = np.unique(unit_codes, return_index=True)[1]
            pcodes, npar = group_codes(parent[first])
            cached = (unit_codes, n_units, first, pcodes, npar)
            self._structure[stage] = cached
        return cached

    def _stage_var(self, z: np.ndarray, stage: int, mult: np.ndarray | None) -> float:
        """Variance contribution of ``stage`` (0-based) and, recursively, of later stages.

        ``mult`` (per row) is the product of the sampling fractions ``n/N`` of the earlier stages
        (R's ``multistage``), ``None`` at the first stage.
        """
        unit_codes, n_units, first, pcodes, npar = self._stage_structure(stage)
        n_s = self.n_stage[stage]
        N_s = self.N_stage[stage]
        tot = np.bincount(unit_codes, weights=z, minlength=n_units)
        u_n = n_s[first]
        if N_s is None:
            u_f = np.ones(n_units)
        else:
            u_N = N_s[first]
            u_f = np.where(np.isinf(u_N), 1.0, (u_N - u_n) / u_N)
        gsum = np.bincount(pcodes, weights=tot, minlength=npar)
        gn = np.bincount(pcodes, minlength=npar).astype(float)
        dev2 = (tot - (gsum / gn)[pcodes]) ** 2
        scale = np.where(u_n > 1, u_f * u_n / np.maximum(u_n - 1, 1), 0.0)
        if mult is not None:
            scale = scale * mult[first]
        contrib = np.bincount(pcodes, weights=scale * dev2, minlength=npar)
        v = float(contrib.sum())
        if stage == 0:
            g_first = np.unique(pcodes, return_index=True)[1]
            lonely = (u_n[g_first] <= 1) & (u_f[g_first] > 1e-7)
            if lonely.any():
                if self.lonely_psu == "fail":
                    raise InputValidationError(
                        [
                            Problem(
                                N_(
                                    "{n} strata have only one PSU; set lonely_psu='certainty', "
                                    "'remove' or 'average'",
                                    n=int(lonely.sum()),
                                ),
                                self.source,
                                None,
                                self.strata_name,
                            )
                        ]
                    )
                if self.lonely_psu == "average":
                    ok = int((~lonely).sum())
                    v *= npar / ok if ok else 0.0
        # later stages contribute only when this stage's fpc is given
        if stage + 1 < len(self.stage_keys) and N_s is not None:
            frac = np.where(np.isinf(N_s), 0.0, n_s / N_s)
            v += self._stage_var(z, stage + 1, frac if mult is None else mult * frac)
        return v


def replicate_variance(
    theta_r: np.ndarray, theta: float, scale: float, rscales: np.ndarray, mse: bool
) -> float:
    """``scale Σ_r rscales_r (θ̂_r − θ̄)²`` over the finite replicate estimates ``theta_r``.

    ``θ̄`` is their mean, or the full-sample estimate ``theta`` when ``mse`` (R's ``svrVar``).

    >>> replicate_variance(np.array([1.0, 3.0]), 2.5, 0.5, np.ones(2), mse=False)
    1.0
    """
    ok = np.isfinite(theta_r)
    tr = theta_r[ok]
    centre = theta if mse else float(tr.mean())
    return float(scale * np.sum(rscales[ok] * (tr - centre) ** 2))


def replicate_df(repweights: np.ndarray) -> float:
    """Degrees of freedom of replicate weights (rows: respondents): their rank − 1 (R's ``degf``).

    >>> replicate_df(np.array([[0.0, 2.0, 2.0], [2.0, 0.0, 2.0], [2.0, 2.0, 0.0]]))
    2.0
    """
    if repweights.shape[0] == 0:
        return math.nan
    # rank of the replicate weights (R: qr(..., tol=1e-5)$rank), from the Gram matrix
    g = repweights.T @ repweights
    ev = np.linalg.eigvalsh(g)
    rank = int(np.sum(ev > ev.max() * 1e-10))
    return float(rank - 1)


def replicate_weights(
    weights: np.ndarray,
    psu_codes: np.ndarray,
    stratum_codes: np.ndarray,
    N_first_stage: np.ndarray | None,
    type: str = "JKn",
    *,
    replicates: int = 100,
    seed: SeedLike = None,
) -> tuple[np.ndarray, float, float | np.ndarray]:
    """Replicate weights of a stratified clustered design (R's ``as.svrepdesign``).

    Parameters
    ----------
    weights : array (n,)
        Sampling weights.
    psu_codes, stratum_codes : array (n,)
        First-stage unit (0..P-1) and stratum (0..H-1) of each row.
    N_first_stage : array (n,) or None
        Number of PSUs in the row's stratum in the population (first-stage fpc), or ``None``.
    type : {"JK1", "JKn", "bootstrap"}
        As :meth:`~fl_estimate.indicators.survey.SurveyDesign.to_replicate`.
    replicates, seed
        For the bootstrap.

    Returns
    -------
    tuple
        Replicate weights (n, R), ``scale`` and ``rscales``.
    """
    psu = psu_codes
    npsu = int(psu.max()) + 1
    first = np.unique(psu, return_index=True)[1]
    p_stratum = stratum_codes[first]
    n_h = np.bincount(p_stratum).astype(float)
    w = weights
    if type == "JK1":
        if len(n_h) > 1:
            raise ModelSpecificationError(
                N_("JK1 ignores strata; use type='JKn' for a stratified design")
            )
        mult = np.full((npsu, npsu), npsu / (npsu - 1.0))
        np.fill_diagonal(mult, 0.0)
        return w[:, None] * mult[psu], (npsu - 1) / npsu, 1.0
    if type == "JKn":
        same = p_stratum[:, None] == p_stratum[None, :]
        fac = n_h[p_stratum] / (n_h[p_stratum] - 1.0)
        mult = np.where(same, fac[None, :], 1.0)
        np.fill_diagonal(mult, 0.0)
        rscales = (n_h[p_stratum] - 1.0) / n_h[p_stratum]
        if N_first_stage is not None:
            Nf = N_first_stage[first]
            rscales = rscales * np.where(np.isinf(Nf), 1.0, (Nf - n_h[p_stratum]) / Nf)
        return w[:, None] * mult[psu], 1.0, rscales
    if type == "bootstrap":
        rng = as_generator(seed)
        mult = np.zeros((npsu, replicates))
        for h in range(len(n_h)):
            members = np.flatnonzero(p_stratum == h)
            nh = len(members)
            if nh < 2:
                mult[members] = 1.0
                continue
            draws = rng.integers(0, nh, size=(nh - 1, replicates))
            counts = np.zeros((nh, replicates))
            for r in range(replicates):
                counts[:, r] = np.bincount(draws[:, r], minlength=nh)
            mult[members] = counts * nh / (nh - 1.0)
        return w[:, None] * mult[psu], 1.0 / (replicates - 1), 1.0
    raise ModelSpecificationError(
        N_("unknown replicate type {type!r}; use JK1, JKn, bootstrap", type=type)
    )
