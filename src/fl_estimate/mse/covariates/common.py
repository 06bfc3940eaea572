"""Pieces the covariate estimators share: intervals on N, keyed random streams, the per-level
table and the failed result."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.covariates.records import (
    CovariateRecords,
    parse_terms,
    prepare_records,
    restrict,
    unestimable_levels,
)
from fl_estimate.results import LOWER_BOUND, EstimationResult, provenance

__all__ = [
    "BY_LEVEL_COLUMNS",
    "INTERVALS",
    "LOWER_BOUND",
    "UNESTIMABLE_POLICIES",
    "CovariateEstimator",
    "CovariateTermsModel",
    "FitRequest",
    "check_options",
    "keyed_generator",
    "keyed_seed",
    "lognormal_interval",
    "lower_bound",
    "normal_interval",
    "percentile_interval",
]

#: ``interval=`` values: Chao's log-normal interval on the unobserved count, the symmetric Wald
#: interval on N, and the bootstrap (percentile).
INTERVALS = ("wald", "wald-n", "bootstrap")
#: ``unestimable=`` values: what to do with levels that have no recaptures.
UNESTIMABLE_POLICIES = ("lower-bound", "fail")
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
            N_(
                "unknown interval {interval!r}; use one of {intervals}",
                interval=interval,
                intervals=", ".join(INTERVALS),
            )
        )
    if not 0 < level < 1:
        raise ModelSpecificationError(N_("level must lie in (0, 1), got {level}", level=level))
    if interval == "bootstrap" and n_boot < 20:
        raise ModelSpecificationError(N_("n_boot must be at least 20, got {n}", n=n_boot))


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


def keyed_seed(seed: SeedLike, key: str) -> np.random.SeedSequence:
    """A seed sequence derived from ``seed`` by a string key (never by position), so adding a
    stratum or a replicate elsewhere never changes this stream."""
    if isinstance(seed, np.random.Generator):
        base = np.random.SeedSequence(int(seed.integers(2**63)))
    elif isinstance(seed, np.random.SeedSequence):
        base = seed
    else:
        base = np.random.SeedSequence(seed)
    return np.random.SeedSequence(
        base.entropy, spawn_key=(*base.spawn_key, zlib.crc32(key.encode()))
    )


def keyed_generator(seed: SeedLike, key: str) -> np.random.Generator:
    """A generator on :func:`keyed_seed`'s stream."""
    return np.random.default_rng(keyed_seed(seed, key))


@dataclass(frozen=True)
class FitRequest:
    """What :meth:`CovariateEstimator.fit` hands to an estimator's ``_fit``."""

    rec: CovariateRecords
    level: float
    interval: str
    n_boot: int
    seed: SeedLike
    settings: dict[str, Any]
    options: dict[str, Any]

    def provenance(self, **extra: Any) -> dict[str, Any]:
        seed = self.seed if isinstance(self.seed, int | None) else str(self.seed)
        return provenance(self.rec.data_hash, seed, **{**self.settings, **extra})

    def result(self, **kw: Any) -> EstimationResult:
        """An :class:`EstimationResult` with the observed count, level and provenance filled;
        the diagnostics get the missing-value policy and count (and, with bootstrap draws,
        ``n_boot`` and ``boot_failures``)."""
        draws = kw.get("draws")
        extra: dict[str, Any] = {
            "missing": self.rec.missing,
            "n_missing": sum(self.rec.n_missing.values()),
        }
        if draws is not None:
            extra["n_boot"] = self.n_boot
            extra["boot_failures"] = int(np.sum(~np.isfinite(np.asarray(draws, dtype=float))))
        kw["diagnostics"] = {**kw.get("diagnostics", {}), **extra}
        return EstimationResult(
            observed=self.rec.n, level=self.level, provenance=self.provenance(), **kw
        )

    def failed(
        self, *, method: str, model: str, reason: str, code: str, **kw: Any
    ) -> EstimationResult:
        return EstimationResult.failed(
            method=method,
            model=model,
            observed=self.rec.n,
            reason=reason,
            code=code,
            provenance=self.provenance(),
            **kw,
        )


class CovariateEstimator(ABC):
    """Shared ``fit``: options checked, records validated and coded, then ``_fit``."""

    method: str = ""
    #: Covariate columns the model reads.
    names: list[str]
    missing: str = "level"
    #: Whether ``fit`` passes extra keyword options on (post-stratification does).
    takes_options = False

    def settings(self) -> dict[str, Any]:
        """The configuration, for the provenance."""
        return {}

    def fit(
        self,
        records: pd.DataFrame,
        *,
        lists: Sequence[str] | None = None,
        level: float = 0.95,
        interval: str = "wald",
        n_boot: int = 1000,
        seed: SeedLike = None,
        source: str | None = None,
        unestimable: str = "lower-bound",
        **options: Any,
    ) -> EstimationResult:
        """Fit the model to record-level data.

        Parameters
        ----------
        records : DataFrame
            One row per person caught: 0/1 list columns and the covariate columns.
        lists : sequence of str, optional
            List columns (default: every column that is not a covariate of the model).
        level : float
            Nominal coverage of the intervals.
        interval : {"wald", "wald-n", "bootstrap"}
            See the Notes of the class.
        n_boot, seed
            Bootstrap replicates and seed (streams derived from the seed by key).
        source : str, optional
            File name for messages.
        unestimable : {"lower-bound", "fail"}
            Levels whose people were never seen on more than one list have no estimable size.
            ``"lower-bound"`` (default): fit the model to everyone else and report that
            estimate plus the people seen in those levels as a **lower bound** (``status`` and
            ``status_code`` ``"lower_bound"``, ``ci_high`` None, the levels named in
            ``interval_notes`` and ``diagnostics["unestimable_levels"]``). ``"fail"``: no
            estimate (``status_code="no-mle"``).
        **options
            Only :class:`PostStratifiedMSE` takes more (passed to its estimator's ``fit``).

        Returns
        -------
        EstimationResult
            With N per level of every covariate in ``tables["by_level"]`` (columns
            :data:`BY_LEVEL_COLUMNS`); the class docstring lists the other tables.

        Raises
        ------
        InputValidationError
            Unknown columns, list cells other than 0/1, people on no list, a covariate with one
            level (every problem, with spreadsheet row numbers).
        ModelSpecificationError
            An unknown interval or option.
        """
        check_options(interval, level, n_boot)
        if unestimable not in UNESTIMABLE_POLICIES:
            raise ModelSpecificationError(
                N_(
                    "unknown unestimable={value!r}; use one of {policies}",
                    value=unestimable,
                    policies=", ".join(UNESTIMABLE_POLICIES),
                )
            )
        if options and not self.takes_options:
            raise ModelSpecificationError(
                N_(
                    "{cls}.fit() takes no option {options}; it takes lists, level, interval, "
                    "n_boot, seed and source",
                    cls=type(self).__name__,
                    options=sorted(options),
                )
            )
        rec = prepare_records(records, self.names, lists=lists, missing=self.missing, source=source)
        settings = {
            "method": self.method,
            **self.settings(),
            "interval": interval,
            "level": level,
            "n_boot": n_boot if interval == "bootstrap" else None,
        }
        req = FitRequest(rec, level, interval, n_boot, seed, settings, dict(options))
        res = self._fit(req)
        if res.ok or unestimable == "fail":
            return res
        bad = unestimable_levels(rec)
        drop = np.zeros(rec.n, dtype=bool)
        for i, j in bad:
            drop |= rec.codes[:, i] == j
        if not bad or drop.all():
            return res
        rest = self._fit(replace(req, rec=restrict(rec, ~drop)))
        return lower_bound(req, rest, bad, drop) if rest.ok else res

    @abstractmethod
    def _fit(self, req: FitRequest) -> EstimationResult:
        """Fit coded records."""


class CovariateTermsModel(CovariateEstimator):
    """Base of the models with covariate terms on every list's capture probability (Huggins,
    covariate log-linear): the terms and the options they share, set once by
    :meth:`_set_terms`."""

    terms: list[tuple[str, ...]]
    parallel: bool
    list_intercepts: bool

    def _set_terms(
        self,
        covariates: str | Sequence[str],
        *,
        parallel: bool,
        list_intercepts: bool,
        missing: str,
    ) -> None:
        """Parse the covariate terms and check the options the models share."""
        self.terms = parse_terms(covariates)
        self.names = list(dict.fromkeys(c for t in self.terms for c in t))
        self.parallel = bool(parallel)
        self.list_intercepts = bool(list_intercepts)
        if not self.list_intercepts and not self.parallel:
            raise ModelSpecificationError(
                N_(
                    "list_intercepts=False needs parallel=True (one effect of each covariate on "
                    "every list, VGAM's parallel.t = TRUE)"
                )
            )
        self.missing = missing

    def settings(self, **model: Any) -> dict[str, Any]:
        """The configuration, for the provenance: the terms, then ``model`` (a subclass's own
        settings), then the shared options."""
        return {
            "covariates": " + ".join(":".join(t) for t in self.terms),
            **model,
            "parallel": self.parallel,
            "list_intercepts": self.list_intercepts,
            "missing": self.missing,
        }


def lower_bound(
    req: FitRequest, rest: EstimationResult, bad: Sequence[tuple[int, int]], drop: np.ndarray
) -> EstimationResult:
    """The estimate for the people outside the unestimable levels plus those seen in them."""
    rec = req.rec
    n_drop = int(drop.sum())
    where = [(rec.covariates[i], rec.levels[rec.covariates[i]][j]) for i, j in bad]
    names = ", ".join(f"{c} = {lv}" for c, lv in where)
    note = N_(
        "Only a lower bound: nobody with {names} was seen on more than one list, so the size of "
        "that part of the population cannot be estimated. The figure is the estimate for "
        "everyone else plus the {n} people seen there, and {level:.0%} confidence goes "
        "with 'at least the lower limit'; no upper limit can be claimed.",
        names=names,
        n=n_drop,
        level=req.level,
    )
    rows = [
        {
            "covariate": c,
            "level": lv,
            "observed": int((rec.codes[:, i] == j).sum()),
            "estimate": float((rec.codes[:, i] == j).sum()),
            "std_error": np.nan,
            "ci_low": float((rec.codes[:, i] == j).sum()),
            "ci_high": np.nan,
        }
        for (i, j), (c, lv) in zip(bad, where, strict=True)
    ]
    by = pd.concat([rest.tables["by_level"], pd.DataFrame(rows)], ignore_index=True)
    low = rest.ci_low
    return replace(
        rest,
        observed=rec.n,
        estimate=float(rest.estimate or 0.0) + n_drop,
        interval=(None if low is None else float(low) + n_drop, None),
        status=LOWER_BOUND,
        status_code=LOWER_BOUND,
        interval_notes=note,
        diagnostics={
            **rest.diagnostics,
            "unestimable_levels": names,
            "people_in_unestimable_levels": n_drop,
        },
        tables={**rest.tables, "by_level": by},
        provenance=req.provenance(unestimable="lower-bound"),
        draws=None if rest.draws is None else np.asarray(rest.draws) + n_drop,
    )
