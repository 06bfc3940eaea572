"""Finite-mixture (latent-class) maximum likelihood with a profile-likelihood interval, and the
heterogeneity check behind :class:`HeterogeneityWarning`.

Model (Agresti 1994; Manrique-Vallier's LCMCR is its Bayesian, many-class relative): each person
belongs to one of ``C`` latent classes (weights ``pi_c``) and is caught by list ``j``
independently with probability ``p_cj``. Lists are conditionally independent given the class, so
heterogeneity of catchability is modelled directly instead of through interactions.

Profile likelihood: for each total ``N`` the unobserved cell is ``N - n`` and the class model is
fitted by EM (from several starts, warm-started along the grid); ``l(N)`` is the multinomial
log-likelihood. The estimate maximises ``l(N)``; the interval is
``{N : 2 (l(N_hat) - l(N)) <= chi2_1(level)}``. Where catchability differs strongly between
classes, a class that is almost never caught can be made larger at almost no cost in likelihood:
``l(N)`` then stays flat far above ``n`` and the interval is **open above** (``ci_high`` None).
That is the honest answer: the data cannot bound N; other methods' finite intervals there rest on
assumptions the data cannot check.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.latent_class import heterogeneity_statistics
>>> st = heterogeneity_statistics(read_capture_csv("data_samples/uk_2013.csv"))
>>> round(st["ratio_1"], 2), round(st["ratio_2"], 2)
(1.0, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln
from scipy.stats import chi2

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import HeterogeneityWarning, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.results import EstimationResult, provenance

__all__ = [
    "HeterogeneityWarning",
    "LatentClassMSE",
    "heterogeneity_statistics",
]


def _patterns(k: int) -> np.ndarray:
    cells = np.arange(1 << k)
    return ((cells[:, None] >> np.arange(k)) & 1).astype(float)


@njit(cache=True)
def _em(x, counts, pi, p, tol=1e-10, max_iter=3000):  # type: ignore[no-untyped-def,unused-ignore]
    """EM for the latent-class model with all 2^K cell counts known (cell 0 included).

    Returns the class weights, capture probabilities and the log-likelihood
    ``sum_x counts_x log P(x)``.
    """
    ncell, k = x.shape
    c = pi.shape[0]
    tot = counts.sum()
    ll_old = -np.inf
    ll = -np.inf
    logc = np.empty((ncell, c))
    r = np.empty((ncell, c))
    for _ in range(max_iter):
        for a in range(c):
            for j in range(k):
                p[a, j] = min(max(p[a, j], 1e-9), 1 - 1e-9)
        ll = 0.0
        for i in range(ncell):
            mx = -np.inf
            for a in range(c):
                v = np.log(pi[a])
                for j in range(k):
                    v += np.log(p[a, j]) if x[i, j] > 0 else np.log1p(-p[a, j])
                logc[i, a] = v
                if v > mx:
                    mx = v
            s = 0.0
            for a in range(c):
                r[i, a] = np.exp(logc[i, a] - mx)
                s += r[i, a]
            ll += counts[i] * (mx + np.log(s))
            for a in range(c):
                r[i, a] = r[i, a] / s * counts[i]
        for a in range(c):
            na = 0.0
            for i in range(ncell):
                na += r[i, a]
            pi[a] = max(na / tot, 1e-12)
            for j in range(k):
                sj = 0.0
                for i in range(ncell):
                    if x[i, j] > 0:
                        sj += r[i, a]
                p[a, j] = sj / na if na > 0 else 0.5
        if ll - ll_old < tol * (1.0 + abs(ll)):
            break
        ll_old = ll
    return pi, p, ll


class LatentClassMSE:
    """Latent-class (finite-mixture) maximum likelihood for N with a profile-likelihood interval.

    Parameters
    ----------
    n_classes : int, default 2
    n_starts : int, default 4
        EM starts at each N (besides the warm start from the previous N).
    max_ratio : float, default 50
        The profile is searched up to ``max_ratio`` times the observed count.

    Notes
    -----
    ``interval_kind="profile"``. When the profile likelihood has not fallen by the cut-off at
    ``max_ratio * n``, ``ci_high`` is None and ``interval_notes`` says the upper end is not
    identified; when it still rises there, there is no estimate (``status`` says why) and
    ``diagnostics["profile_lower"]`` gives the lower end the data do support.
    """

    method = "latent-class"

    def __init__(self, n_classes: int = 2, n_starts: int = 4, max_ratio: float = 50.0) -> None:
        if n_classes < 1:
            raise ModelSpecificationError("n_classes must be at least 1")
        self.n_classes = int(n_classes)
        self.n_starts = int(n_starts)
        self.max_ratio = float(max_ratio)

    def _profile(self, data: CaptureData, seed: SeedLike) -> Any:
        k = data.n_lists
        # free parameters: C*K capture probabilities, C-1 weights, and N
        if self.n_classes * k + self.n_classes > (1 << k) - 1:
            raise ModelSpecificationError(
                N_(
                    "{n} latent classes over {k} lists have more parameters than the table has "
                    "cells; use fewer classes or more lists",
                    n=self.n_classes,
                    k=k,
                )
            )
        x = _patterns(k)
        y = data.cell_counts().astype(float)
        n = float(y[1:].sum())
        lgy = float(gammaln(y[1:] + 1).sum())
        rng = as_generator(seed)
        share = (y[1:] @ x[1:]) / n
        starts = []
        for i in range(self.n_starts):
            scale = (
                rng.uniform(0.2, 1.5, size=(self.n_classes, 1))
                if i
                else np.linspace(1.5, 0.2, self.n_classes)[:, None]
            )
            starts.append((np.full(self.n_classes, 1 / self.n_classes), share[None, :] * scale))
        state: dict[str, Any] = {"warm": None}
        cache: dict[float, float] = {}

        def loglik(big_n: float) -> float:
            key = round(big_n, 6)
            if key in cache:
                return cache[key]
            cnt = y.copy()
            cnt[0] = big_n - n
            best: tuple[float, Any] = (-np.inf, None)
            cands = list(starts) + ([state["warm"]] if state["warm"] is not None else [])
            for pi0, p0 in cands:
                pi, p, ll = _em(x, cnt, pi0.copy(), np.clip(p0, 0.01, 0.99).copy())
                if ll > best[0]:
                    best = (ll, (pi, p))
            state["warm"] = best[1]
            # multinomial log-likelihood with N as a parameter
            val = best[0] + float(gammaln(big_n + 1) - gammaln(big_n - n + 1)) - lgy
            cache[key] = val
            return val

        return n, loglik

    def fit(
        self, data: CaptureData, *, level: float = 0.95, seed: SeedLike = 0
    ) -> EstimationResult:
        """Maximise the profile likelihood of N and find its interval."""
        if not isinstance(data, CaptureData):
            raise TypeError("fit() takes one CaptureData table")
        prov = provenance(
            data.data_hash,
            seed if isinstance(seed, int | None) else str(seed),
            method=self.method,
            n_classes=self.n_classes,
            level=level,
            max_ratio=self.max_ratio,
        )
        n, ll = self._profile(data, seed)
        limit = self.max_ratio * n
        grid = n + (limit - n) * np.geomspace(1e-4, 1.0, 25)
        vals = np.array([ll(v) for v in grid])
        i = int(np.argmax(vals))
        lo_b = grid[max(i - 1, 0)] if i > 0 else n + 1e-9
        hi_b = grid[min(i + 1, len(grid) - 1)]
        cut = chi2.ppf(level, 1) / 2
        model = f"{self.n_classes} latent classes, lists independent within a class"
        if i == len(grid) - 1:
            low = self._lower(ll, n, grid[i], vals[i] - cut)
            return EstimationResult.failed(
                method=self.method,
                model=model,
                observed=data.n_observed,
                reason=N_(
                    "the profile likelihood keeps rising up to N = {limit:,.0f} "
                    "({ratio:g} times the observed): under strong capture "
                    "heterogeneity these data do not identify N; they support only "
                    "N >= {low:,.0f}",
                    limit=limit,
                    ratio=self.max_ratio,
                    low=low,
                ),
                code="not-identified",
                provenance=prov,
                stratum=dict(data.stratum),
                diagnostics={"profile_lower": low},
            )
        opt = minimize_scalar(
            lambda v: -ll(v), bounds=(lo_b, hi_b), method="bounded", options={"xatol": 1e-6 * n}
        )
        n_hat, l_max = float(opt.x), -float(opt.fun)
        target = l_max - cut
        low = self._lower(ll, n, n_hat, target)
        high: float | None = None
        if ll(limit) < target:
            j = (
                int(np.flatnonzero((grid > n_hat) & (vals < target))[0])
                if np.any((grid > n_hat) & (vals < target))
                else len(grid) - 1
            )
            high = float(brentq(lambda v: ll(v) - target, n_hat, grid[j], xtol=1e-6 * n))
        note = None
        if high is None:
            note = N_(
                "the profile likelihood stays above the cut-off up to N = {limit:,.0f}: the upper "
                "end is not identified (strong heterogeneity: a rarely caught class could be "
                "much larger)",
                limit=limit,
            )
        prof = pd.DataFrame({"N": grid, "profile_loglik": vals - l_max})
        return EstimationResult(
            method=self.method,
            model=model,
            observed=data.n_observed,
            estimate=n_hat,
            interval=(low, high),
            interval_kind="profile",
            level=level,
            conditional_on_model=True,
            diagnostics={"n_classes": self.n_classes, "max_loglik": l_max, "search_limit": limit},
            provenance=prov,
            stratum=dict(data.stratum),
            tables={"profile": prof},
            interval_notes=note,
        )

    @staticmethod
    def _lower(ll: Any, n: float, n_hat: float, target: float) -> float:
        a = n + 1e-9
        if ll(a) >= target:
            return float(n)
        return float(brentq(lambda v: ll(v) - target, a, n_hat, xtol=1e-6 * n))


# ---------------------------------------------------------------------------- warning


def heterogeneity_statistics(data: CaptureData) -> dict[str, float]:
    """How the numbers of people seen on exactly 1, 2, ... lists depart from independence.

    Under independent lists with everyone equally catchable, the fitted independence model
    reproduces the distribution of the capture count. Strong heterogeneity of catchability (a
    large group rarely caught, a small one often) leaves a U-shaped signature: more people seen
    on exactly one list (``ratio_1`` = observed / expected > 1), fewer on exactly two
    (``ratio_2`` < 1), more on many. Positive dependence between particular lists raises the
    many-list counts too but leaves singles and pairs nearly as predicted. Also returned: the
    Pearson statistic over the capture counts (``pearson``, ``df``) and the ratio for 3 or more
    lists (``ratio_3plus``).
    """
    from fl_estimate.mse.loglinear.fit import fit_loglinear
    from fl_estimate.mse.loglinear.table import Table

    table = Table.from_data(data)
    fit = fit_loglinear(table, frozenset())
    times = np.array([int(c).bit_count() for c in table.cells])
    k = table.k
    obs = np.array([table.y[times == t].sum() for t in range(1, k + 1)])
    exp = np.array([fit.mu[times == t].sum() for t in range(1, k + 1)])
    ok = exp > 0
    pearson = float(np.sum((obs[ok] - exp[ok]) ** 2 / exp[ok]))
    multi = float(obs[2:].sum() / exp[2:].sum()) if k >= 3 and exp[2:].sum() > 0 else float("nan")
    return {
        "ratio_1": float(obs[0] / exp[0]) if exp[0] > 0 else float("nan"),
        "ratio_2": float(obs[1] / exp[1]) if k >= 2 and exp[1] > 0 else float("nan"),
        "ratio_3plus": multi,
        "pearson": pearson,
        "df": float(max(int(ok.sum()) - 2, 1)),
    }
