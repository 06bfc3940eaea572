"""Pieces the covariate estimators share: intervals on N, keyed random streams, the per-level
table and the failed result."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.results import EstimationResult, provenance

__all__ = [
    "BY_LEVEL_COLUMNS",
    "INTERVALS",
    "check_options",
    "failed_result",
    "keyed_generator",
    "lognormal_interval",
    "normal_interval",
    "percentile_interval",
]

#: ``interval=`` values: Chao's log-normal interval on the unobserved count, the symmetric Wald
#: interval on N, and the bootstrap (percentile).
INTERVALS = ("wald", "wald-n", "bootstrap")
#: Columns of ``tables["by_level"]``.
BY_LEVEL_COLUMNS = [
    "covariate",
    "level",
    "observed",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
]


def check_options(interval: str, level: float, n_boot: int) -> None:
    if interval not in INTERVALS:
        raise ModelSpecificationError(
            f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}"
        )
    if not 0 < level < 1:
        raise ModelSpecificationError(f"level must lie in (0, 1), got {level}")
    if interval == "bootstrap" and n_boot < 20:
        raise ModelSpecificationError(f"n_boot must be at least 20, got {n_boot}")


def lognormal_interval(
    observed: float, estimate: float, se: float, level: float
) -> tuple[float, float]:
    """Chao's (1987) log-normal interval: the unobserved count ``f0 = N - n`` is log-normal,
    ``(n + f0 / C, n + f0 * C)`` with ``C = exp(z sqrt(log(1 + se**2 / f0**2)))``; never below
    the observed count."""
    f0 = estimate - observed
    if not np.isfinite(se) or f0 <= 0:
        return float(observed), float(estimate) if f0 > 0 else float(observed)
    c = np.exp(norm.ppf(0.5 + level / 2) * np.sqrt(np.log1p(se**2 / f0**2)))
    return float(observed + f0 / c), float(observed + f0 * c)


def normal_interval(estimate: float, se: float, level: float) -> tuple[float, float]:
    """``N +/- z se`` (the Wald interval on N, as VGAM users compute it from ``SE.N.hat``)."""
    z = norm.ppf(0.5 + level / 2)
    return float(estimate - z * se), float(estimate + z * se)


def percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    ok = np.asarray(draws, dtype=float)
    ok = ok[np.isfinite(ok)]
    lo, hi = np.quantile(ok, [0.5 - level / 2, 0.5 + level / 2])
    return float(lo), float(hi)


def keyed_generator(seed: SeedLike, key: str) -> np.random.Generator:
    """A generator derived from ``seed`` by a string key (never by position)."""
    if isinstance(seed, np.random.Generator):
        base = np.random.SeedSequence(int(seed.integers(2**63)))
    elif isinstance(seed, np.random.SeedSequence):
        base = seed
    else:
        base = np.random.SeedSequence(seed)
    child = np.random.SeedSequence(
        base.entropy, spawn_key=(*base.spawn_key, zlib.crc32(key.encode()))
    )
    return np.random.default_rng(child)


def failed_result(
    *,
    method: str,
    model: str,
    observed: int,
    reason: str,
    code: str,
    data_hash: str | None,
    seed: SeedLike,
    settings: dict[str, Any],
    diagnostics: dict[str, Any] | None = None,
) -> EstimationResult:
    return EstimationResult.failed(
        method=method,
        model=model,
        observed=observed,
        reason=reason,
        code=code,
        provenance=provenance(
            data_hash, seed if isinstance(seed, int | None) else str(seed), **settings
        ),
        diagnostics=dict(diagnostics or {}),
    )
