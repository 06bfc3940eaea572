"""The annual run's tables, one function per table, from the fitted strata.

Every function returns a plain DataFrame (what :func:`fl_estimate.reporting.write_outputs`
publishes after disclosure control); :func:`build_tables` makes all of them.

=====================  ==================================================================
table                  rows
=====================  ==================================================================
strata_estimates       one per stratum and method ("not estimable: why" where not fitted)
national_estimates     per group (e.g. year): the sum of strata and each method's pooled fit
sensitivity            the headline method on the pooled table: each list left out, merges
top_models             the best models by BIC on each group's pooled table
observed_by_stratum    people observed, geography x group
list_totals            people on each list, by stratum
warnings               warnings of the estimation, by scope and stratum
=====================  ==================================================================
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import FLEstimateError, FLEstimateWarning, InputValidationError, Problem
from fl_estimate.i18n import N_, Message, join_semicolons, message_of
from fl_estimate.mse.api import estimate
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.pipeline.cache import FitCache
from fl_estimate.pipeline.config import RunConfig
from fl_estimate.pipeline.strata import StratumOutcome, n_draws
from fl_estimate.results import EstimationResult
from fl_estimate.seeds import key_seed

__all__ = [
    "build_tables",
    "list_totals_table",
    "national_estimates_table",
    "observed_table",
    "population_table",
    "sensitivity_table",
    "strata_estimates_table",
    "sum_of_strata",
    "top_models_table",
    "warnings_table",
]

Groups = Sequence[tuple[tuple[Hashable, ...], CaptureData]]

#: Options that only a bootstrap takes (dropped when the sensitivity checks use Wald intervals).
BOOTSTRAP_ONLY_OPTIONS = ("n_boot", "bootstrap", "boot_interval")

#: The columns every published table takes from a result.
RESULT_COLUMNS = (
    "method",
    "observed",
    "estimate",
    "ci_low",
    "ci_high",
    "interval_kind",
    "level",
    "model",
    "status",
)


def _frame(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``pd.DataFrame(rows)``, with the columns that hold catalog messages (statuses, notes,
    warnings) kept as objects: a string column would keep their English text only, and the
    report translates them."""
    table = pd.DataFrame(rows, columns=None if columns is None else list(columns))
    for c in table.columns:
        values = [r.get(c) for r in rows]
        if any(isinstance(v, Message) for v in values):
            table[c] = pd.Series(values, index=table.index, dtype=object)
    return table


def result_row(r: EstimationResult) -> dict[str, Any]:
    """The :data:`RESULT_COLUMNS` of one result."""
    return {c: getattr(r, c) for c in RESULT_COLUMNS}


def group_columns(cfg: RunConfig) -> list[str]:
    """The stratum columns that group the totals: all but the first (the geography)."""
    return list(cfg.strata[1:])


def _group_of(outcome: StratumOutcome, group_cols: list[str]) -> tuple[Any, ...]:
    return tuple(outcome.stratum[c] for c in group_cols)


def population_table(cfg: RunConfig) -> pd.DataFrame | None:
    """The population file (stratum columns and ``population``), or None without one."""
    if cfg.population is None:
        return None
    pop = pd.read_csv(cfg.population)
    need = [*cfg.strata, "population"]
    missing = [c for c in need if c not in pop.columns]
    if missing:
        raise InputValidationError(
            [
                Problem(
                    N_(
                        "column not found; the population file needs the stratum columns and "
                        "'population'"
                    ),
                    source=cfg.population.name,
                    row=1,
                    column=c,
                )
                for c in missing
            ]
        )
    return pop


def _add_rates(
    table: pd.DataFrame, pop: pd.DataFrame | None, on: list[str], per: int
) -> pd.DataFrame:
    """``population`` and the ``*_per_<per>`` columns of the estimate and its interval."""
    if pop is None or not on:
        return table
    denominators = pop.groupby(on, as_index=False)["population"].sum()
    out = table.merge(denominators, on=on, how="left")
    for c in ("estimate", "ci_low", "ci_high"):
        out[f"{c}_per_{per}"] = pd.to_numeric(out[c], errors="coerce") / out["population"] * per
    return out


def strata_estimates_table(
    cfg: RunConfig, outcomes: Sequence[StratumOutcome], pop: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per stratum and method; a stratum not fitted has one row saying why."""
    rows = []
    for o in outcomes:
        base = {**o.stratum, "observed": o.observed, "lists_used": ", ".join(o.lists_used)}
        if not o.estimable:
            rows.append(
                {
                    **base,
                    **dict.fromkeys(RESULT_COLUMNS),
                    "method": cfg.headline,
                    "observed": o.observed,
                    "model": "",
                    "status": N_("not estimable: {reason}", reason=o.reason),
                }
            )
            continue
        for r in o.results.values():
            rows.append({**base, **result_row(r), "observed": o.observed})
    table = _frame(rows)
    for c in ("estimate", "ci_low", "ci_high", "level"):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return _add_rates(table, pop, list(cfg.strata), cfg.per)


def sum_of_strata(
    parts: Sequence[EstimationResult], level: float, seed: int
) -> tuple[float, float | None, float | None, str]:
    """Sum of strata: point = sum of estimates; interval from the sum of replicates/draws.

    Replicates of different strata are independent, so replicate b of the total is the sum of
    replicate b of each stratum (after resampling each stratum's replicates to a common count
    when they differ, with ``seed``). Returns (estimate, low, high, kind); without replicates or
    draws for every part, the interval is (None, None) and the kind ``"none"``.

    >>> r = EstimationResult("m", "", 10, 12.0, draws=np.arange(10.0, 15.0))
    >>> est, low, high, kind = sum_of_strata([r, r], 0.9, seed=1)
    >>> est, kind, 20 <= low < est < high <= 28
    (24.0, 'bootstrap-percentile', True)
    >>> sum_of_strata([r, EstimationResult("m", "", 10, 12.0)], 0.9, seed=1)
    (24.0, None, None, 'none')
    """
    est = float(sum(p.estimate for p in parts if p.estimate is not None))
    draws = [n_draws(p) for p in parts]
    if not parts or any(d is None or len(d) == 0 for d in draws):
        return est, None, None, "none"
    size = min(len(d) for d in draws if d is not None)
    rng = np.random.default_rng(seed)
    mats = [
        d if len(d) == size else rng.choice(d, size, replace=False) for d in draws if d is not None
    ]
    total = np.sum(np.vstack(mats), axis=0)
    lo, hi = np.quantile(total, [0.5 - level / 2, 0.5 + level / 2], method="median_unbiased")
    kind = (
        "credible-eti"
        if all(p.interval_kind == "credible-eti" for p in parts)
        else "bootstrap-percentile"
    )
    return est, float(lo), float(hi), kind


def headline_level(cfg: RunConfig, outcomes: Sequence[StratumOutcome]) -> float:
    """The level of the headline's intervals: its results' level (the configured one)."""
    for o in outcomes:
        if o.has_estimate(cfg.headline):
            return float(o.results[cfg.headline].level)
    return cfg.level if cfg.level is not None else 0.95


def _totals_rows(cfg: RunConfig, outcomes: Sequence[StratumOutcome]) -> list[dict[str, Any]]:
    """Per group: the headline's sum of strata; strata without an estimate add their observed."""
    group_cols = group_columns(cfg)
    level = headline_level(cfg, outcomes)
    members_by_group: dict[tuple[Any, ...], list[StratumOutcome]] = {}
    for o in outcomes:
        members_by_group.setdefault(_group_of(o, group_cols), []).append(o)
    rows = []
    for gkey, members in sorted(members_by_group.items(), key=lambda kv: str(kv[0])):
        fitted = [o for o in members if o.has_estimate(cfg.headline)]
        bounded = [o for o in members if o.has_lower_bound(cfg.headline)]
        not_est = [o for o in members if not o.has_estimate(cfg.headline) and o not in bounded]
        est, lo, hi, kind = sum_of_strata(
            [o.results[cfg.headline] for o in fitted], level, key_seed(cfg.seed, "total", *gkey)
        )
        obs_missing = sum(o.observed for o in not_est)
        notes = []
        if bounded:
            # a sum with lower-bound parts is a lower bound: the strata's lower limits added up
            # (each holds with the stated confidence, so their sum is conservative), no upper one
            parts = [o.results[cfg.headline] for o in (*fitted, *bounded)]
            est = float(sum(p.estimate or 0.0 for p in parts))
            lo = float(sum(p.ci_low if p.ci_low is not None else p.observed for p in parts))
            hi, kind = None, "lower-bound"
            notes.append(
                N_(
                    "{n} stratum/strata support only a lower bound (capture heterogeneity): the "
                    "total is a lower bound, with no upper limit",
                    n=len(bounded),
                )
            )
        if not_est:
            notes.append(
                N_(
                    "{n} stratum/strata without an estimate: their observed people are added as "
                    "they are (no dark figure)",
                    n=len(not_est),
                )
            )
        rows.append(
            {
                **dict(zip(group_cols, gkey, strict=True)),
                "kind": "sum of strata",
                "method": cfg.headline,
                "observed": sum(o.observed for o in members),
                "estimate": est + obs_missing,
                "ci_low": None if lo is None else lo + obs_missing,
                "ci_high": None if hi is None else hi + obs_missing,
                "interval_kind": kind,
                "level": level,
                "strata": len(members),
                "strata_not_estimable": len(not_est),
                "note": join_semicolons(notes) if notes else "",
            }
        )
    return rows


def _national_fit_rows(
    cfg: RunConfig, national_outcomes: Sequence[StratumOutcome]
) -> list[dict[str, Any]]:
    """Per group and method: the fit of the pooled table (strata added up)."""
    group_cols = group_columns(cfg)
    keep = ("method", "observed", "estimate", "ci_low", "ci_high", "interval_kind", "level")
    rows = []
    for o in national_outcomes:
        for r in o.results.values():
            row = result_row(r)
            rows.append(
                {
                    **dict(zip(group_cols, o.key[1:], strict=True)),
                    "kind": "national fit (strata pooled)",
                    **{k: row[k] for k in keep},
                    "strata": 1,
                    "strata_not_estimable": 0,
                    "note": r.model,
                }
            )
    return rows


def national_estimates_table(
    cfg: RunConfig,
    outcomes: Sequence[StratumOutcome],
    national_outcomes: Sequence[StratumOutcome],
    pop: pd.DataFrame | None,
) -> pd.DataFrame:
    """The sum of strata beside the pooled national fits, per group (e.g. per year)."""
    table = _frame([*_totals_rows(cfg, outcomes), *_national_fit_rows(cfg, national_outcomes)])
    return _add_rates(table, pop, group_columns(cfg), cfg.per)


def sensitivity_options(cfg: RunConfig) -> dict[str, Any]:
    """The headline's options for the sensitivity checks: Wald intervals (conditional, fast)
    where the configuration chose an interval, without the options only a bootstrap takes."""
    opts = cfg.options_for(cfg.headline)
    if "interval" not in opts:
        return opts
    return {
        **{k: v for k, v in opts.items() if k not in BOOTSTRAP_ONLY_OPTIONS},
        "interval": "wald",
    }


def _estimate_or_failed(t: CaptureData, method: str, seed: int, opts: dict[str, Any]) -> Any:
    """``estimate``, or a failed result saying why (an error of the package)."""
    try:
        return estimate(t, method, seed=seed, **opts)
    except FLEstimateError as exc:
        return EstimationResult.failed(
            method=method, model="", observed=t.n_observed, reason=message_of(exc), code="failed"
        )


def sensitivity_table(
    cfg: RunConfig, groups: Groups, cache: FitCache | None = None
) -> pd.DataFrame:
    """Silverman's robustness checks on the pooled table of each group: each list left out,
    chosen lists merged (seeds keyed by group and variant; fits from ``cache`` where it has
    them)."""
    cache = cache if cache is not None else FitCache(None)
    rows = []
    m = cfg.headline
    opts = sensitivity_options(cfg)
    group_cols = group_columns(cfg)
    for gkey, table in groups:
        g = dict(zip(group_cols, gkey, strict=True))
        variants: list[tuple[str, CaptureData]] = [(N_("all lists"), table)]
        if cfg.leave_one_out and table.n_lists > 3:
            variants += [
                (N_("without {list}", list=name), table.drop_list(name)) for name in table.lists
            ]
        for grp in cfg.merge:
            if all(x in table.lists for x in grp):
                merged = N_("{lists} merged", lists=" + ".join(grp))
                variants.append((merged, table.merge_lists(list(grp))))
        for label, t in variants:
            seed_key = ("sensitivity", *gkey, str(label))
            seed = key_seed(cfg.seed, *seed_key)
            fit = functools.partial(_estimate_or_failed, t, m, seed, opts)
            r = cache.call(cache.fit_key(t, m, opts, seed, seed_key), fit)
            row = result_row(r)
            rows.append(
                {
                    **g,
                    "variant": label,
                    "method": m,
                    **{k: v for k, v in row.items() if k != "method"},
                }
            )
    return _frame(rows)


def top_models_table(cfg: RunConfig, groups: Groups, cache: FitCache | None = None) -> pd.DataFrame:
    """The ``top_models`` best models by BIC on each group's pooled table (at most 6 lists;
    searches from ``cache`` where it has them)."""
    from fl_estimate.mse.loglinear import ExhaustiveSearchMSE

    cache = cache if cache is not None else FitCache(None)
    group_cols = group_columns(cfg)
    rows: list[dict[str, Any]] = []
    for gkey, table in groups:
        if table.n_lists > 6 or cfg.top_models <= 0:
            continue
        key = cache.fit_key(table, "exhaustive-bic", {"top": cfg.top_models}, None, ("top", *gkey))
        r = cache.call(
            key, functools.partial(ExhaustiveSearchMSE("bic").fit, table, top=cfg.top_models)
        )
        if not r.ok:
            continue
        for rec in r.tables["models"].to_dict(orient="records"):
            rows.append(
                {**dict(zip(group_cols, gkey, strict=True)), **{str(k): v for k, v in rec.items()}}
            )
    return pd.DataFrame(rows)


def observed_table(data: StratifiedCaptureData, strata_cols: Sequence[str]) -> pd.DataFrame:
    """People observed: geography x second stratum column (or one column ``observed``)."""
    cols = list(strata_cols)
    observed = data.to_records().groupby(cols).size()
    return observed.unstack(cols[1]) if len(cols) == 2 else observed.to_frame("observed")


def list_totals_table(data: StratifiedCaptureData, strata_cols: Sequence[str]) -> pd.DataFrame:
    """People on each list, one row per stratum."""
    rows: list[dict[str, Any]] = []
    for key, t in sorted(data.items(), key=lambda kv: str(kv[0])):
        tot = {str(k): int(v) for k, v in t.list_totals().items()}
        rows.append({**dict(zip(strata_cols, key, strict=True)), **tot})
    return pd.DataFrame(rows)


def warnings_table(
    strata_cols: Sequence[str],
    outcomes: Sequence[StratumOutcome],
    national_outcomes: Sequence[StratumOutcome],
    sensitivity_warnings: Sequence[str],
) -> pd.DataFrame:
    """Every warning of the estimation once, with where it came from."""
    rows: list[dict[str, Any]] = [
        {"scope": "stratum", **o.stratum, "warning": w} for o in outcomes for w in o.warnings
    ]
    rows += [
        {"scope": "national fit", **o.stratum, "warning": w}
        for o in national_outcomes
        for w in o.warnings
    ]
    rows += [{"scope": "sensitivity", "warning": w} for w in sensitivity_warnings]
    return (
        _frame(rows, columns=["scope", *strata_cols, "warning"])
        .drop_duplicates()
        .reset_index(drop=True)
    )


#: The tables of the pooled national table that do not depend on the strata's fits: sensitivity,
#: top models, and the sensitivity fits' warnings (:func:`pooled_tables`).
PooledTables = tuple[pd.DataFrame, pd.DataFrame, list[str]]


def pooled_tables(cfg: RunConfig, groups: Groups, cache: FitCache | None = None) -> PooledTables:
    """The sensitivity table, the top models and the sensitivity fits' warnings (messages).

    They need only the pooled tables, not the strata's fits: the annual run makes them while
    its workers fit the strata (:func:`fl_estimate.pipeline.run.run`).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FLEstimateWarning)
        sensitivity = sensitivity_table(cfg, groups, cache)
        top = top_models_table(cfg, groups, cache)
    messages = [message_of(w.message) for w in caught if issubclass(w.category, FLEstimateWarning)]
    return sensitivity, top, messages


def build_tables(
    cfg: RunConfig,
    data: StratifiedCaptureData,
    outcomes: Sequence[StratumOutcome],
    groups: Groups,
    national_outcomes: Sequence[StratumOutcome],
    *,
    cache: FitCache | None = None,
    pooled: PooledTables | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of the run (see the module's docstring), by name; the sensitivity fits and
    top-model searches from ``pooled`` (:func:`pooled_tables`) if given, else made here (from
    ``cache`` where it has them)."""
    pop = population_table(cfg)
    sensitivity, top, sens_warnings = (
        pooled if pooled is not None else pooled_tables(cfg, groups, cache)
    )
    return {
        "strata_estimates": strata_estimates_table(cfg, outcomes, pop),
        "national_estimates": national_estimates_table(cfg, outcomes, national_outcomes, pop),
        "sensitivity": sensitivity,
        "top_models": top,
        "observed_by_stratum": observed_table(data, cfg.strata),
        "list_totals": list_totals_table(data, cfg.strata),
        "warnings": warnings_table(cfg.strata, outcomes, national_outcomes, sens_warnings),
    }
