"""Linkage error carried into the interval: N̂ over draws of the links (issue 21, point 4).

A linkage at one threshold gives one set of persons, and the interval of N̂ then ignores that the
links are uncertain. Here the links are drawn instead: each scored pair is linked with its match
probability (deterministic links always), the links are closed transitively into persons (with
the linkage's cluster-size and de-duplication constraints), the capture histories rebuilt and
N̂ estimated; over the draws, the spread of N̂ is the linkage error. The draws' estimates and
their own sampling variances are combined by Rubin's rules on the log scale, as for multiple
imputation:

.. math::

    \\bar\\theta = \\frac{1}{m}\\sum_b \\log \\hat N_b, \\quad
    T = \\bar W + \\left(1 + \\frac{1}{m}\\right) B, \\quad
    \\exp\\left(\\bar\\theta \\pm z_{1-\\alpha/2} \\sqrt{T}\\right),

with :math:`\\bar W` the mean of the draws' squared standard errors of :math:`\\log \\hat N` (from
their intervals) and :math:`B` the variance of :math:`\\log \\hat N_b` over draws.

Drawing each pair independently is an approximation: Sadinle (2018) samples partitions of the
records from their joint posterior, which keeps the draws coherent; independent draws closed
transitively can chain records that no single link joins strongly (the cluster-size limit
bounds it). Both intervals are reported; the headline stays the one at the fixed threshold
unless the user chooses otherwise.

References
----------
Sadinle, M. (2018). Bayesian propagation of record linkage uncertainty into population size
estimation of human rights violations. *Annals of Applied Statistics* 12(2), 1013-1038.
Tancredi, A. and Liseo, B. (2011). A hierarchical Bayesian approach to record linkage and
population size problems. *Annals of Applied Statistics* 5(2B), 1553-1585.
Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.

Examples
--------
The sample country's 2023 files (a few seconds each draw):

>>> from pathlib import Path
>>> import warnings
>>> import fl_estimate.providers as fp
>>> loaded = fp.load_submissions(sorted(Path("data_samples/country/submissions").glob("*2023*")))
>>> key = fp.Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     result = fp.RecordLinker(threshold=0.9).fit(fp.prepare_records(loaded.records(), key))
>>> row = linkage_uncertainty(result, n_draws=20, seed=1).iloc[0]
>>> [round(row[c]) for c in ("persons", "n_hat", "low", "high")]          # at 0.9
[579, 727, 700, 756]
>>> [round(row[c]) for c in ("n_hat_draws", "low_linkage", "high_linkage")]  # with linkage error
[707, 680, 734]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fl_estimate.exceptions import FLEstimateError
from fl_estimate.mse import LogLinearMSE
from fl_estimate.mse.data import CaptureData
from fl_estimate.providers.linkage import LinkageResult
from fl_estimate.providers.linkage.clusters import capture_histories, split_clusters

__all__ = ["draw_persons", "linkage_uncertainty"]


def draw_persons(
    result: LinkageResult, n_draws: int, seed: int | np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Draws of the persons: cluster labels with each scored pair linked with its match
    probability (deterministic links always), closed transitively and split by the linkage's
    constraints (``max_cluster_size``, ``no_dedupe``)."""
    rng = np.random.default_rng(seed)
    pairs = result.pairs
    p = pairs["match_probability"].to_numpy(float)
    provider = result.records["provider"].to_numpy()
    for _ in range(n_draws):
        keep = rng.random(len(p)) < p
        # drawn links at 1; the others below the threshold 0.5, those the model found almost
        # surely different kept as they are (the linkage's ``cannot_link`` constraint)
        drawn = pairs.assign(match_probability=np.where(keep, 1.0, np.minimum(p, 0.25)))
        labels, _ = split_clusters(
            len(result.records),
            drawn,
            result.deterministic_pairs,
            0.5,
            provider=provider,
            no_dedupe=result.no_dedupe,
            max_size=result.max_cluster_size,
            cannot_link=result.cannot_link,
        )
        yield labels


def _fit(est: Any, cd: CaptureData, level: float) -> tuple[float, float]:
    """log N̂ and its standard error from the estimator's interval (NaN when it fails)."""
    try:
        res = est.fit(cd)
    except FLEstimateError:  # too few lists in a stratum, and the like: no estimate
        return float("nan"), float("nan")
    if res.status != "ok" or not res.estimate or res.interval is None:
        return float("nan"), float("nan")
    lo, hi = res.interval
    if lo is None or hi is None or not (0 < lo <= res.estimate <= hi):
        return float(np.log(res.estimate)), float("nan")
    z = stats.norm.ppf(0.5 + level / 2)
    return float(np.log(res.estimate)), float((np.log(hi) - np.log(lo)) / (2 * z))


def linkage_uncertainty(
    result: LinkageResult,
    *,
    estimator: Any = None,
    n_draws: int = 50,
    seed: int | None = 1,
    strata: Sequence[str] | None = None,
    lists: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """N̂ with and without linkage error, pooled or by stratum.

    Parameters
    ----------
    result : LinkageResult
    estimator : estimator, optional
        Any fl_estimate MSE estimator (``fit(CaptureData)``); default ``LogLinearMSE()``
        (independence, Wald interval on the log scale).
    n_draws : int
        Draws of the links.
    seed : int
    strata : sequence of str, optional
        Stratum columns (``None``: the table pooled over strata).
    lists : sequence of str, optional
    level : float

    Returns
    -------
    DataFrame
        One row per stratum (one row when pooled): the stratum columns, ``threshold, persons,
        n_hat, low, high`` (at the linkage's threshold, the estimator's interval),
        ``persons_draws_mean, persons_draws_min, persons_draws_max, n_hat_draws`` (geometric
        mean over draws), ``low_linkage, high_linkage`` (Rubin's rules over the draws),
        ``draws_ok`` (draws whose estimate exists), ``between_share`` (share of the total
        variance of log N̂ due to the linkage).
    """
    est = estimator if estimator is not None else LogLinearMSE()
    strata = list(strata or [])
    lists = list(lists) if lists is not None else result.providers
    z = stats.norm.ppf(0.5 + level / 2)

    def tables(labels: np.ndarray) -> dict[tuple[Any, ...], Any]:
        hist = capture_histories(result.records, labels, strata=strata, lists=lists)
        if not strata:
            return {(): CaptureData.from_records(hist.drop(columns="person"), lists=lists)}
        out: dict[tuple[Any, ...], Any] = {}
        for key, grp in hist.groupby(strata, sort=True):
            k = tuple(key) if isinstance(key, tuple) else (key,)
            present = [c for c in lists if grp[c].any()]  # a provider absent from a stratum
            if len(present) >= 2:
                out[k] = CaptureData.from_records(grp[present], lists=present)
        return out

    base = tables(result.clusters())
    fits: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {k: [] for k in base}
    for labels in draw_persons(result, n_draws, seed):
        for key, cd in tables(labels).items():
            if key in fits:
                theta, se = _fit(est, cd, level)
                fits[key].append((theta, se, cd.n_observed))
    rows = []
    for key, cd in base.items():
        theta0, se0 = _fit(est, cd, level)
        draws = np.array(fits[key], dtype=float).reshape(-1, 3)
        ok = draws[np.isfinite(draws[:, 0]) & np.isfinite(draws[:, 1])]
        row: dict[str, Any] = dict(zip(strata, key, strict=True))
        row |= {
            "threshold": result.threshold,
            "persons": cd.n_observed,
            "n_hat": float(np.exp(theta0)),
            "low": float(np.exp(theta0 - z * se0)),
            "high": float(np.exp(theta0 + z * se0)),
            "persons_draws_mean": float(draws[:, 2].mean()) if len(draws) else float("nan"),
            "persons_draws_min": float(draws[:, 2].min()) if len(draws) else float("nan"),
            "persons_draws_max": float(draws[:, 2].max()) if len(draws) else float("nan"),
        }
        if len(ok) >= 2:
            m = len(ok)
            bar = ok[:, 0].mean()
            within = float((ok[:, 1] ** 2).mean())
            # draws that all give the same estimate have no between-draw variance; the variance
            # about a rounded mean would be ~1e-30 instead of 0 (last-bit noise of the mean)
            same = bool(np.all(ok[:, 0] == ok[0, 0]))
            between = 0.0 if same else float(ok[:, 0].var(ddof=1))
            total = within + (1 + 1 / m) * between
            row |= {
                "n_hat_draws": float(np.exp(bar)),
                "low_linkage": float(np.exp(bar - z * np.sqrt(total))),
                "high_linkage": float(np.exp(bar + z * np.sqrt(total))),
                "between_share": (1 + 1 / m) * between / total if total > 0 else 0.0,
            }
        else:
            row |= dict.fromkeys(("n_hat_draws", "low_linkage", "high_linkage", "between_share"),
                                 float("nan"))  # fmt: skip
        row["draws_ok"] = len(ok)
        row["level"] = level
        rows.append(row)
    return pd.DataFrame(rows)
