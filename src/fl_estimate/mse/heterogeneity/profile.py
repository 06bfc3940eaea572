"""Multinomial profile-likelihood intervals for the closed-population models (Rcapture's
``closedpCI.t``).

For a trial population size ``N`` the unobserved pattern gets the count ``n0 = N - n`` and the
model (its design row for the unobserved pattern is the intercept alone) is fitted to the
completed table by Poisson maximum likelihood. Cormack's (1992) correction turns the Poisson
deviance ``D(N)`` into the multinomial profile log-likelihood

``l(N) = -D(N) / 2 + log(n0**n0 N! / (N**N n0!))``,

computed as Rcapture does: exactly up to ``N = 100`` and with Stirling's formula above
(``n0 - N - log(n0 / N) / 2``, and ``-N + log(2 pi N) / 2`` when ``n0`` is 0 or 1). Its maximiser
is the *multinomial* estimate of N, slightly below the Poisson one of ``closedp.t``; the interval
is ``{N : l(N) >= max l - chi2_1(level) / 2}``, cut at the observed count ``n`` below. Above, the
crossing is searched up to ``upper_factor`` times the Poisson estimate (Rcapture stops at 3
times); when the log-likelihood is still above the cut-off there the interval is open above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln
from scipy.stats import chi2

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.heterogeneity.design import ClosedpModel
from fl_estimate.mse.heterogeneity.fitting import Support, fit_removing_negative

__all__ = ["ProfileInterval", "cormack_correction", "profile_interval"]

#: Rcapture searches the upper limit up to 3 times the Poisson estimate; we go further and say
#: when the data do not bound N above even there.
UPPER_FACTOR = 100.0
#: Rcapture's search bound for the maximum, as a multiple of the Poisson estimate.
MAX_FACTOR = 1.5


def cormack_correction(n_total: float, n0: float) -> float:
    """``log(n0**n0 N! / (N**N n0!))``, with Rcapture's Stirling approximation above N = 100."""
    if n_total > 100:
        if n0 in (0.0, 1.0):
            return -n_total + 0.5 * math.log(2.0 * math.pi * n_total)
        return n0 - n_total - 0.5 * math.log(n0 / n_total)
    n0logn0 = n0 * math.log(n0) if n0 > 0 else 0.0
    return float(n0logn0 + gammaln(n_total + 1.0) - n_total * math.log(n_total) - gammaln(n0 + 1.0))


@dataclass(frozen=True)
class ProfileInterval:
    """A multinomial profile-likelihood interval for N.

    Attributes
    ----------
    estimate : float
        Multinomial estimate of N (the profile's maximiser).
    low, high : float or None
        Limits; ``high`` is None when the profile stays above the cut-off up to
        ``search_limit`` (open above).
    level : float
    low_at_observed : bool
        The lower limit is the observed count (the profile is above the cut-off there).
    search_limit : float
        How far the upper limit was searched.
    curve : DataFrame-like dict
        ``N`` and ``loglik`` at every point evaluated (sorted), for plots.
    """

    estimate: float
    low: float | None
    high: float | None
    level: float
    low_at_observed: bool
    search_limit: float
    loglik_max: float
    curve: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def note(self) -> str | None:
        """What an open or cut interval means, in words (None when there is nothing to say)."""
        parts = []
        if self.high is None:
            parts.append(
                N_(
                    "the profile likelihood stays above the cut-off up to N = {limit:,.0f}: the data "
                    "do not bound N above",
                    limit=self.search_limit,
                )
            )
        if self.low_at_observed:
            parts.append(N_("the lower limit is the observed count"))
        return join_semicolons(parts) if parts else None


class _Profile:
    """``l(N)`` for one model and table, remembering every evaluation."""

    def __init__(self, model: ClosedpModel, data: CaptureData) -> None:
        k = data.n_lists
        x, _ = model.design(k, data.lists)
        x0 = np.zeros((1, x.shape[1]))
        x0[0, 0] = 1.0
        self.x = np.vstack([x0, x])
        self.y = np.concatenate([[0.0], data.cell_counts()[1:].astype(float)])
        self.n = float(self.y.sum())
        self.first = model.n_core(k) if model.is_chao else x.shape[1]
        self.cache: dict[tuple[tuple[int, ...], bytes], Support] = {}
        self.starts: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.seen: dict[float, float] = {}

    def __call__(self, n_total: float) -> float:
        n_total = float(n_total)
        if n_total in self.seen:
            return self.seen[n_total]
        n0 = max(n_total - self.n, 0.0)
        y = self.y.copy()
        y[0] = n0
        fit, _ = fit_removing_negative(self.x, y, self.first, cache=self.cache, starts=self.starts)
        val = -0.5 * fit.deviance + cormack_correction(self.n + n0, n0)
        self.seen[n_total] = val
        return val

    def curve(self) -> dict[str, np.ndarray]:
        keys = np.array(sorted(self.seen))
        return {"N": keys, "loglik": np.array([self.seen[k] for k in keys])}


def profile_interval(
    model: ClosedpModel,
    data: CaptureData,
    poisson_estimate: float,
    *,
    level: float = 0.95,
    upper_factor: float = UPPER_FACTOR,
) -> ProfileInterval:
    """Multinomial profile-likelihood interval of N under one closed-population model.

    Parameters
    ----------
    model : ClosedpModel
        M0, Mt, Mh or Mth (with or without interactions); Mb and Mbh have no such interval.
    data : CaptureData
    poisson_estimate : float
        The model's Poisson estimate (sets the search range, as Rcapture: the maximum is sought in
        ``[n, 1.5 N]``).
    level : float
    upper_factor : float
        Search the upper limit up to this multiple of ``poisson_estimate``.

    Returns
    -------
    ProfileInterval

    Raises
    ------
    EstimateDoesNotExistError
        For Mb and Mbh (no unobserved-pattern row in their design).
    """
    if model.behavioural:
        raise EstimateDoesNotExistError(
            N_(
                "{model} has no profile-likelihood interval (its N is not the unobserved "
                "pattern's fitted count); use interval='wald' or 'bootstrap'",
                model=model.label,
            ),
            code="no-profile",
        )
    if not 0.0 < level < 1.0:
        raise ValueError(N_("level must be between 0 and 1, got {level}", level=level))
    prof = _Profile(model, data)
    n = prof.n
    top = max(MAX_FACTOR * poisson_estimate, n + 1.0)
    opt = minimize_scalar(
        lambda v: -prof(v), bounds=(n, top), method="bounded", options={"xatol": 1e-6 * top}
    )
    n_hat = float(opt.x)
    l_max = prof(n_hat)
    if prof(n) > l_max:  # the maximum sits on the observed count
        n_hat, l_max = n, prof(n)
    cut = l_max - 0.5 * float(chi2.ppf(level, 1))

    def f(v: float) -> float:
        return prof(v) - cut

    xtol = 1e-9 * max(n_hat, 1.0)
    low_at_observed = f(n) >= 0
    low = n if low_at_observed else float(brentq(f, n, n_hat, xtol=xtol))
    high: float | None = None
    limit = upper_factor * max(poisson_estimate, n_hat)
    a = n_hat
    for b in sorted({3.0 * max(poisson_estimate, n_hat), limit}):
        if b <= a:
            continue
        if f(b) < 0:
            high = float(brentq(f, a, b, xtol=xtol))
            break
        a = b
    return ProfileInterval(
        estimate=n_hat,
        low=low,
        high=high,
        level=level,
        low_at_observed=bool(low_at_observed),
        search_limit=limit,
        loglik_max=l_max,
        curve=prof.curve(),
    )
