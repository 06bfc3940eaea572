"""Shared machinery of the Bayesian estimators: results from posterior draws, diagnostics, dispatch.

The three Bayesian estimators (:class:`~fl_estimate.mse.lcmcr.LCMCR`,
:class:`~fl_estimate.mse.dga.DGA`, :class:`~fl_estimate.mse.bayes_loglinear.BayesLogLinear`)
report the same way: the posterior median of N as the estimate, the equal-tailed credible
interval (``interval_kind="credible-eti"``), and, for MCMC, the R-hat and bulk/tail effective
sample sizes of N computed by ArviZ, with a :class:`~fl_estimate.exceptions.ConvergenceWarning`
that says what to do when they are not good enough.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ConvergenceWarning, ModelSpecificationError
from fl_estimate.results import EstimationResult, provenance

if TYPE_CHECKING:
    from fl_estimate.mse.data import CaptureData

__all__ = [
    "BAYES_METHODS",
    "ESS_MIN",
    "RHAT_MAX",
    "chain_diagnostics",
    "fit_bayesian",
    "plot_trace",
    "result_from_draws",
]

#: R-hat above this triggers a :class:`ConvergenceWarning` (Vehtari et al. 2021).
RHAT_MAX = 1.01
#: Bulk or tail ESS of N below this triggers a :class:`ConvergenceWarning`.
ESS_MIN = 400.0

#: Methods understood by :func:`fit_bayesian` (the CLI's ``--method`` values).
BAYES_METHODS = ("lcmcr", "dga", "bayes-loglinear")


def chain_diagnostics(n_draws: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """R-hat, bulk and tail ESS and Monte Carlo standard errors of quantiles of N.

    Parameters
    ----------
    n_draws : ndarray of shape (chains, draws)
        Posterior draws of N.
    level : float
        Level of the equal-tailed interval whose ends get a Monte Carlo standard error.

    Returns
    -------
    dict
        ``rhat_N`` (rank-normalised split R-hat), ``ess_bulk_N``, ``ess_tail_N``,
        ``mcse_median_N``, ``mcse_low_N``, ``mcse_high_N`` (MCSE of the interval ends),
        ``chains``, ``draws_per_chain``. R-hat is ``nan`` with a single chain.
    """
    import arviz as az

    x = np.asarray(n_draws, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"n_draws must have shape (chains, draws), got {x.shape}")
    a = (1 - level) / 2
    out: dict[str, float] = {"chains": int(x.shape[0]), "draws_per_chain": int(x.shape[1])}
    if np.ptp(x) == 0:
        # a constant chain: ArviZ returns nan; say so plainly
        out.update(
            rhat_N=float("nan"),
            ess_bulk_N=float("nan"),
            ess_tail_N=float("nan"),
            mcse_median_N=0.0,
            mcse_low_N=0.0,
            mcse_high_N=0.0,
        )
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = float(az.rhat(x)) if x.shape[0] > 1 else float("nan")
        out["rhat_N"] = rhat
        out["ess_bulk_N"] = float(az.ess(x, method="bulk"))
        out["ess_tail_N"] = float(az.ess(x, method="tail", prob=(0.05, 0.95)))
        out["mcse_median_N"] = float(az.mcse(x, method="quantile", prob=0.5))
        out["mcse_low_N"] = float(az.mcse(x, method="quantile", prob=a))
        out["mcse_high_N"] = float(az.mcse(x, method="quantile", prob=1 - a))
    return out


def convergence_problems(diag: Mapping[str, Any]) -> list[str]:
    """Plain-language list of what is wrong with the chains (empty if nothing)."""
    msgs = []
    rhat = diag.get("rhat_N")
    if rhat is not None and np.isfinite(rhat) and rhat > RHAT_MAX:
        msgs.append(f"R-hat of N is {rhat:.3f} (> {RHAT_MAX}): the chains disagree")
    for key, name in (("ess_bulk_N", "bulk"), ("ess_tail_N", "tail")):
        ess = diag.get(key)
        if ess is not None and np.isfinite(ess) and ess < ESS_MIN:
            msgs.append(f"{name} ESS of N is {ess:.0f} (< {ESS_MIN:.0f})")
    return msgs


def result_from_draws(
    *,
    method: str,
    model: str,
    data: CaptureData,
    n_draws: np.ndarray,
    level: float,
    seed: Any,
    settings: Mapping[str, Any],
    idata: Any = None,
    extra_diagnostics: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    advice: str = "run longer chains (increase draws or thin) or more chains",
    warn: bool = True,
    interval_notes: str | None = None,
    stacklevel: int = 3,
) -> EstimationResult:
    """Build an :class:`EstimationResult` from MCMC draws of N.

    The estimate is the posterior median; the interval the equal-tailed ``level`` credible
    interval (quantiles ``(1 - level)/2`` and ``(1 + level)/2``, numpy's default linear
    interpolation). Diagnostics are those of :func:`chain_diagnostics`; when R-hat > 1.01 or an
    ESS < 400, a :class:`ConvergenceWarning` names the numbers and ``advice``, and
    ``diagnostics["converged"]`` is False.
    """
    x = np.asarray(n_draws, dtype=float)
    a = (1 - level) / 2
    flat = x.ravel()
    med, lo, hi = np.quantile(flat, [0.5, a, 1 - a])
    diag: dict[str, Any] = chain_diagnostics(x, level)
    problems = convergence_problems(diag)
    diag["converged"] = not problems
    diag["posterior_mean_N"] = float(flat.mean())
    if extra_diagnostics:
        diag.update(extra_diagnostics)
    if problems and warn:
        warnings.warn(
            f"{method} on {data.source}{_stratum_text(data)}: "
            + "; ".join(problems)
            + f". The estimate is not reliable yet: {advice}.",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    return EstimationResult(
        method=method,
        model=model,
        observed=data.n_observed,
        estimate=float(med),
        interval=(float(lo), float(hi)),
        interval_kind="credible-eti",
        level=level,
        conditional_on_model=False,
        diagnostics=diag,
        provenance=provenance(data.data_hash, seed, **settings),
        stratum=dict(data.stratum),
        tables=dict(tables or {}),
        draws=idata,
        interval_notes=interval_notes,
    )


def _stratum_text(data: CaptureData) -> str:
    if not data.stratum:
        return ""
    return " (" + ", ".join(f"{k}={v}" for k, v in data.stratum.items()) + ")"


def draws_to_datatree(variables: Mapping[str, np.ndarray], **attrs: Any) -> Any:
    """An ArviZ DataTree whose ``posterior`` group holds ``variables`` (each (chain, draw, ...))."""
    import arviz as az

    tree = az.from_dict({"posterior": {k: np.asarray(v) for k, v in variables.items()}})
    for k, v in attrs.items():
        tree["posterior"].attrs[k] = v
    return tree


def plot_trace(result: EstimationResult, ax: Any = None) -> Any:
    """Trace plot of N, one line per chain, with the posterior median and interval.

    Parameters
    ----------
    result : EstimationResult
        An MCMC result (LCMCR or PyMC log-linear), whose ``draws`` hold ``N``.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
    """
    import matplotlib.pyplot as plt

    from fl_estimate._palette import OKABE_ITO

    try:
        n = np.asarray(result.draws["posterior"]["N"].to_numpy(), dtype=float)
    except (TypeError, KeyError) as exc:
        raise ModelSpecificationError(
            f"{result.method} results have no MCMC draws of N to trace (exact or non-MCMC method)"
        ) from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    colours = list(OKABE_ITO)
    for c in range(n.shape[0]):
        ax.plot(n[c], lw=0.6, alpha=0.8, color=colours[c % len(colours)], label=f"chain {c}")
    ax.axhline(result.estimate, color="black", lw=1)
    for y in result.interval:
        if y is not None:
            ax.axhline(y, color="black", lw=0.8, ls="--")
    rhat = result.diagnostics.get("rhat_N", float("nan"))
    ess = result.diagnostics.get("ess_bulk_N", float("nan"))
    ax.set_title(f"{result.method}: N by chain (R-hat {rhat:.3f}, bulk ESS {ess:.0f})")
    ax.set_xlabel("draw")
    ax.set_ylabel("N")
    ax.legend(fontsize=7, ncol=min(n.shape[0], 4))
    return ax


def fit_bayesian(
    method: str,
    data: CaptureData,
    *,
    chains: int | None = None,
    draws: int | None = None,
    seed: int | None = None,
    level: float = 0.95,
) -> EstimationResult:
    """Fit one of the Bayesian estimators with its defaults (the CLI's entry point).

    Parameters
    ----------
    method : {"lcmcr", "dga", "bayes-loglinear"}
        Estimator.
    data : CaptureData
        One capture table.
    chains, draws : int, optional
        MCMC chains and retained draws per chain (the estimator's default if omitted; ignored
        by ``"dga"``, which is computed exactly).
    seed : int, optional
        Seed; the same seed gives the same result.
    level : float
        Credible level.

    Returns
    -------
    EstimationResult
    """
    key = method.lower().replace("_", "-")
    opts: dict[str, Any] = {"level": level}
    if key == "dga":
        from fl_estimate.mse.dga import DGA

        return DGA().fit(data, level=level)
    if chains is not None:
        opts["chains"] = chains
    if draws is not None:
        opts["draws"] = draws
    if key == "lcmcr":
        from fl_estimate.mse.lcmcr import LCMCR

        return LCMCR().fit(data, seed=seed, **opts)
    if key in ("bayes-loglinear", "bayesloglinear", "bayes"):
        from fl_estimate.mse.bayes_loglinear import BayesLogLinear

        return BayesLogLinear().fit(data, seed=seed, **opts)
    raise ModelSpecificationError(
        f"unknown Bayesian method {method!r}; expected one of {', '.join(BAYES_METHODS)}"
    )
