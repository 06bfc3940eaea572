"""Compiled IRLS for many small Poisson log-linear fits (numba, parallel over fits).

The same iteration as :func:`fl_estimate.mse.loglinear.fit.irls_batch` (Fisher scoring from R glm's
start ``mu = y + 0.1``, stop when the relative change of the deviance is below ``tol``), but each
fit works only with its own parameters and fitted cells, so its cost is that of its own model
rather than of the largest model in the batch, and no Python-level work is done per fit. Serial
(no numba threading layer, so processes may be forked after it ran); parallelism comes from worker
processes. Used by
:func:`fl_estimate.mse.loglinear.grid.fit_grid` for bootstrap grids (thousands of fits of the same
few models).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["irls_grid"]


@njit(cache=True)
def irls_grid(x, ys, rows, pmask, cmask, tol, max_iter):  # type: ignore[no-untyped-def,unused-ignore]
    """Fit ``B`` models: model ``b`` has parameters ``pmask[b]``, fitted cells ``cmask[b]`` and
    counts ``ys[rows[b]]``.

    Returns beta (B, P), mu (B, m), deviance (B,), iterations (B,), converged (B,), last step
    (B, P); inactive parameters and dead cells are 0.
    """
    nb = pmask.shape[0]
    p = x.shape[1]
    m = x.shape[0]
    beta_out = np.zeros((nb, p))
    mu_out = np.zeros((nb, m))
    dev_out = np.zeros(nb)
    it_out = np.zeros(nb, dtype=np.int64)
    conv_out = np.zeros(nb, dtype=np.bool_)
    step_out = np.zeros((nb, p))
    for b in range(nb):
        act = np.flatnonzero(pmask[b])
        cells = np.flatnonzero(cmask[b])
        pa = act.size
        ma = cells.size
        xa = np.empty((ma, pa))
        y = np.empty(ma)
        for i in range(ma):
            y[i] = ys[rows[b], cells[i]]
            for j in range(pa):
                xa[i, j] = x[cells[i], act[j]]
        mu = y + 0.1
        eta = np.log(mu)
        beta = np.zeros(pa)
        step = np.zeros(pa)
        dev = 0.0
        for i in range(ma):
            if y[i] > 0:
                dev += y[i] * np.log(y[i] / mu[i])
            dev -= y[i] - mu[i]
        dev *= 2.0
        h = np.empty((pa, pa))
        r = np.empty(pa)
        z = np.empty(ma)
        conv = False
        iters = 0
        for it in range(1, max_iter + 1):
            iters = it
            for i in range(ma):
                z[i] = eta[i] + (y[i] - mu[i]) / mu[i] if mu[i] > 0 else 0.0
            for j in range(pa):
                r[j] = 0.0
                for k in range(j + 1):
                    h[j, k] = 0.0
            for i in range(ma):
                w = mu[i]
                wz = w * z[i]
                for j in range(pa):
                    xij = xa[i, j]
                    if xij != 0.0:
                        r[j] += wz * xij
                        wx = w * xij
                        for k in range(j + 1):
                            h[j, k] += wx * xa[i, k]
            # Cholesky (lower) in place, then solve
            ok = True
            for j in range(pa):
                s = h[j, j]
                for k in range(j):
                    s -= h[j, k] * h[j, k]
                if not (s > 0.0) or not np.isfinite(s):
                    ok = False
                    break
                d = np.sqrt(s)
                h[j, j] = d
                for i2 in range(j + 1, pa):
                    s2 = h[i2, j]
                    for k in range(j):
                        s2 -= h[i2, k] * h[j, k]
                    h[i2, j] = s2 / d
            if not ok:
                break
            sol = np.empty(pa)
            for j in range(pa):
                s = r[j]
                for k in range(j):
                    s -= h[j, k] * sol[k]
                sol[j] = s / h[j, j]
            for j in range(pa - 1, -1, -1):
                s = sol[j]
                for k in range(j + 1, pa):
                    s -= h[k, j] * sol[k]
                sol[j] = s / h[j, j]
            for j in range(pa):
                step[j] = sol[j] - beta[j]
                beta[j] = sol[j]
            dev_new = 0.0
            for i in range(ma):
                e = 0.0
                for j in range(pa):
                    e += xa[i, j] * beta[j]
                eta[i] = e
                if e < -700.0:
                    e = -700.0
                elif e > 100.0:
                    e = 100.0
                mu[i] = np.exp(e)
                if y[i] > 0:
                    dev_new += y[i] * np.log(y[i] / mu[i])
                dev_new -= y[i] - mu[i]
            dev_new *= 2.0
            if abs(dev_new - dev) / (abs(dev_new) + 0.1) < tol:
                dev = dev_new
                conv = True
                break
            dev = dev_new
        for j in range(pa):
            beta_out[b, act[j]] = beta[j]
            step_out[b, act[j]] = step[j]
        for i in range(ma):
            mu_out[b, cells[i]] = mu[i]
        dev_out[b] = dev
        it_out[b] = iters
        conv_out[b] = conv
    return beta_out, mu_out, dev_out, it_out, conv_out, step_out
