"""The two-class (finite-mixture) extension of a log-linear model and its likelihood-ratio test.

Pledger's (2000) model Mth2 with the list interactions of a selected log-linear model: a person
belongs to a hidden class 0 or 1 (shares ``1 - w`` / ``w``), class 1 is ``b`` more catchable on the
logit scale on every list, and the selected two-list interactions hold in both classes. Summed
over the two classes, the expected count of capture pattern ``c`` (``t_c`` lists) is

.. math::

    \\log \\mu_c = x_c^\\top \\beta + \\log(1 + e^{\\delta + b t_c}), \\qquad b \\ge 0,

where ``x_c`` is the selected model's design row (intercept, main effects, interactions) and
``delta`` is the log ratio of the class sizes times the ratio of their all-miss probabilities.
The unobserved cell is ``mu_0 = exp(beta_0) (1 + e^delta)``. ``b = 0`` or ``delta -> -inf`` give
back the selected model (a sign change of ``b`` is a relabelling of the classes plus main
effects: ``b >= 0`` loses nothing). Darroch's column ``t**2 / 2`` is the second-order expansion of
the same mixture in ``b``; the two-class form also bends like a hockey stick (no excess below
``t0 = -delta / b`` lists, a linear excess above).

The likelihood ratio ``LR = D(selected) - D(two-class)`` has no chi-square null: ``delta`` is not
identified when ``b = 0`` (Davies 1977). :func:`two_class_lr` computes it (a profile grid over
``(b, t0)``, then Fisher scoring on all parameters from the best grid point);
:func:`two_class_bootstrap_p` gives its parametric-bootstrap p-value (``B`` Poisson tables drawn
from the selected fit, both models refitted on each). ``benchmarks/heterogeneity_power.py``
measures both and the cheaper calibrations on the randomised design family; docs/mse.md has the
numbers.

Examples
--------
A two-class population: the extension fits much better than main effects alone.

>>> import numpy as np
>>> from fl_estimate.mse.heterogeneity.mixture import expected_two_class, two_class_lr
>>> k = 5
>>> cells = np.arange(1, 1 << k)
>>> mu = expected_two_class(k, np.full(k, -1.5), share=0.3, shift=2.5, size=5000)
>>> x = ((cells[:, None] & np.r_[0, 1 << np.arange(k)][None, :]) ==
...      np.r_[0, 1 << np.arange(k)][None, :]).astype(float)
>>> fit = two_class_lr(x, np.round(mu), cells)
>>> fit.lr > 10, fit.b > 1
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fl_estimate.mse.heterogeneity.fitting import poisson_deviance
from fl_estimate.mse.loglinear import irls

__all__ = [
    "TwoClassFit",
    "expected_two_class",
    "two_class_bootstrap_p",
    "two_class_lr",
]

#: Largest class shift ``b`` (logit scale) fitted; beyond it the fit is the hockey-stick limit.
MAX_SHIFT = 12.0
_GRID_SHIFT = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class TwoClassFit:
    """Selected model and its two-class extension on one table.

    Attributes
    ----------
    lr : float
        ``D(selected) - D(two-class)`` (>= 0); NaN when the selected model did not converge.
    deviance0, deviance1 : float
        Poisson deviances of the selected model and of the extension.
    b, delta : float
        Class shift and log class-size term of the extension.
    unobserved0, unobserved1 : float
        Unobserved count of the selected model and of the extension.
    mu0 : ndarray
        Fitted means of the selected model over the observed cells (the bootstrap's null).
    """

    lr: float
    deviance0: float
    deviance1: float
    b: float
    delta: float
    unobserved0: float
    unobserved1: float
    mu0: np.ndarray


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _full_fit(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, beta: np.ndarray, delta: float, b: float
) -> tuple[np.ndarray, float, float, float]:
    """Fisher scoring on (beta, delta, b) with step-halving; ``0 <= b <= MAX_SHIFT``."""
    theta = np.r_[beta, delta, b]
    p = x.shape[1]

    def parts(th: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        z = th[p] + th[p + 1] * t
        mu = np.exp(np.clip(x @ th[:p] + _softplus(z), -50, 50))
        return mu, poisson_deviance(y, mu), z

    mu, dev, z = parts(theta)
    for _ in range(60):
        s = _sigmoid(z)
        jac = np.column_stack([x, s, s * t])
        info = jac.T @ (jac * mu[:, None])
        try:
            step = np.linalg.lstsq(info, jac.T @ (y - mu), rcond=1e-12)[0]
        except np.linalg.LinAlgError:
            break
        for _h in range(25):
            new = theta + step
            new[p + 1] = min(max(new[p + 1], 0.0), MAX_SHIFT)
            new[p] = min(max(new[p], -60.0), 60.0)
            nmu, ndev, nz = parts(new)
            if ndev <= dev + 1e-12:
                break
            step = step / 2
        else:
            break
        done = dev - ndev < 1e-10 * (1 + abs(dev))
        theta, mu, dev, z = new, nmu, ndev, nz
        if done:
            break
    return theta[:p], float(theta[p]), float(theta[p + 1]), dev


def two_class_lr(x: np.ndarray, y: np.ndarray, cells: np.ndarray) -> TwoClassFit:
    """Likelihood ratio of a log-linear model against its two-class extension (see the module).

    Parameters
    ----------
    x : ndarray (m, P)
        Design of the selected model over the fitted observed cells (first column the intercept).
    y : ndarray (m,)
        Counts.
    cells : ndarray (m,) of int
        Cell index of each row (list ``j`` = bit ``j``), for the number of lists ``t``.

    Returns
    -------
    TwoClassFit
    """
    y = np.asarray(y, dtype=float)
    t = np.array([int(c).bit_count() for c in cells], dtype=float)
    beta0, mu0, dev0, _it, conv = irls(x, y)
    nan = math.nan
    if not conv or not np.all(np.isfinite(beta0)):
        return TwoClassFit(nan, nan, nan, nan, nan, nan, nan, np.asarray(mu0, dtype=float))
    dev0 = poisson_deviance(y, mu0)
    best = (dev0, beta0, -60.0, 0.0)
    k = int(t.max())
    for b in _GRID_SHIFT:
        for t0 in np.arange(0.5, k + 0.5, 1.0):
            delta = -b * t0
            off = _softplus(delta + b * t)
            start = beta0.copy()
            start[0] -= math.log1p(math.exp(delta + b))  # keep the singletons' fit
            beta, _mu, dev, _it, _conv = irls(
                x, y, mu_start=np.exp(np.clip(x @ start + off, -50, 50)), offset=off, max_iter=8
            )
            if dev < best[0]:
                best = (dev, beta, delta, b)
    dev1, beta1, delta1, b1 = best
    if b1 > 0:
        beta1, delta1, b1, dev1 = _full_fit(x, y, t, beta1, delta1, b1)
    dev1 = min(dev1, dev0)
    u0 = float(math.exp(beta0[0]))
    u1 = float(math.exp(beta1[0]) * (1.0 + math.exp(delta1))) if b1 > 0 else u0
    return TwoClassFit(
        lr=max(dev0 - dev1, 0.0),
        deviance0=dev0,
        deviance1=dev1,
        b=float(b1),
        delta=float(delta1),
        unobserved0=u0,
        unobserved1=u1,
        mu0=np.asarray(mu0, dtype=float),
    )


def two_class_bootstrap_p(
    x: np.ndarray,
    y: np.ndarray,
    cells: np.ndarray,
    *,
    n_boot: int = 199,
    seed: int | np.random.SeedSequence | None = None,
    fit: TwoClassFit | None = None,
    stop_after: int | None = None,
) -> tuple[float, TwoClassFit]:
    """Parametric-bootstrap p-value of :func:`two_class_lr` (null: the selected model's fit).

    ``p = (1 + #{LR* >= LR}) / (n_boot + 1)`` over ``n_boot`` Poisson tables drawn from the
    selected model's fitted means (the model's terms held fixed; a replicate whose selected fit
    does not converge counts as ``LR* >= LR``, the conservative side). A table with ``LR = 0``
    has ``p = 1`` without drawing.

    ``stop_after`` (Besag & Clifford 1991): stop drawing once that many replicates reach ``LR``
    and return ``(1 + exceedances) / (1 + draws)``, which is then above
    ``stop_after / (n_boot + 1)``. With ``stop_after = alpha (n_boot + 1)`` (10 for alpha 0.05
    and 199 draws) the verdict ``p <= alpha`` is exactly that of all ``n_boot`` draws, at a
    fraction of the cost on tables without heterogeneity.
    """
    fit = fit if fit is not None else two_class_lr(x, y, cells)
    if not np.isfinite(fit.lr):
        return math.nan, fit
    if fit.lr <= 0.0:
        return 1.0, fit
    rng = np.random.default_rng(seed)
    exceed = 0
    for drawn in range(1, n_boot + 1):
        yb = rng.poisson(fit.mu0).astype(float)
        lb = two_class_lr(x, yb, cells).lr
        if not np.isfinite(lb) or lb >= fit.lr - 1e-9:
            exceed += 1
            if stop_after is not None and exceed >= stop_after:
                return (1 + exceed) / (1 + drawn), fit
    return (1 + exceed) / (n_boot + 1), fit


def expected_two_class(
    k: int, list_logit: np.ndarray, *, share: float, shift: float, size: float
) -> np.ndarray:
    """Expected counts of the observable patterns ``1 .. 2**k - 1`` in a two-class population
    with independent lists (class 1, ``share`` of ``size`` people, is ``shift`` more catchable
    on the logit scale): the closed form the tests check the extension against."""
    cells = np.arange(1, 1 << k)
    bits = ((cells[:, None] >> np.arange(k)[None, :]) & 1).astype(float)
    out = np.zeros(len(cells))
    for w, s in ((1.0 - share, 0.0), (share, shift)):
        p = 1.0 / (1.0 + np.exp(-(np.asarray(list_logit) + s)))
        out += w * size * np.prod(np.where(bits == 1, p, 1 - p), axis=1)
    return out
