"""The annual run: estimates by stratum (region x year), national totals, prevalence, sensitivity,
charts and a report, from one configuration file.

Steps
-----
1. Inputs: capture histories (one row per linked person with stratum columns), or a linkage
   configuration, run first (provider submissions -> validated, pseudonymised, linked).
2. Each stratum is checked (lists with captures, people per list, overlaps) and either marked
   "not estimable" with the reason or fitted with every configured method, in parallel on any
   ``concurrent.futures.Executor`` (local processes, or a Dask cluster).
3. National and multi-region totals add the strata's bootstrap replicates or posterior draws
   (never interval endpoints); the unstratified national fit is shown beside them.
4. Prevalence per ``per`` people from population denominators; sensitivity tables (each list
   left out, chosen lists merged, top models).
5. Everything is written atomically into the output folder with a manifest.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._io import atomic_output_dir, write_manifest
from fl_estimate.exceptions import (
    FLEstimateError,
    FLEstimateWarning,
    InputValidationError,
    Problem,
)
from fl_estimate.mse.api import estimate
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.pipeline.config import RunConfig, read_run_config
from fl_estimate.results import EstimationResult, json_safe

__all__ = ["RunResult", "add_linkage_warnings", "check_stratum", "n_draws", "run"]


# ---------------------------------------------------------------------------- strata


def check_stratum(
    table: CaptureData, *, min_lists: int = 3, min_per_list: int = 5
) -> tuple[CaptureData | None, str | None]:
    """Decide whether a stratum can be estimated.

    Lists with nobody in the stratum (a provider absent from a region) are dropped first. The
    stratum is estimable when at least ``min_lists`` lists remain, each has at least
    ``min_per_list`` people and overlaps at least one other list.

    Returns
    -------
    (table, None) when estimable (the table without empty lists), else (None, reason).
    """
    tot = table.list_totals()
    empty = [str(name) for name, v in tot.items() if v == 0]
    t = table
    for name in empty:
        if t.n_lists <= 2:
            break
        t = t.drop_list(name)
    tot = t.list_totals()
    if t.n_lists < min_lists or (tot > 0).sum() < min_lists:
        return (
            None,
            f"only {int((tot > 0).sum())} lists with captures (at least {min_lists} needed)",
        )
    small = [f"{k} ({v})" for k, v in tot.items() if v < min_per_list]
    if small:
        return None, (
            f"lists with fewer than {min_per_list} people: {', '.join(small)}; merge or drop "
            "these lists for this stratum, or pool strata"
        )
    ov = t.pairwise_overlaps()
    isolated = [
        name
        for name in t.lists
        if ov[(ov.list_a == name) | (ov.list_b == name)]["overlap"].sum() == 0
    ]
    if isolated:
        return None, (
            f"list(s) {', '.join(isolated)} overlap no other list: their share of the unobserved "
            "cannot be estimated"
        )
    return t, None


def n_draws(result: EstimationResult) -> np.ndarray | None:
    """Bootstrap replicates or posterior draws of N held by a result (None if it has none)."""
    d = result.draws
    if d is None:
        return None
    if isinstance(d, np.ndarray):
        return d[~np.isnan(d)] if d.dtype.kind == "f" else d
    try:
        return np.asarray(d["posterior"]["N"]).ravel().astype(float)
    except Exception:
        return None


def _groups(
    data: StratifiedCaptureData, group_cols: list[str]
) -> list[tuple[tuple[Hashable, ...], CaptureData]]:
    """The pooled tables of each group (e.g. one per year), in a fixed order."""
    collapsed = data.collapse(keep=group_cols) if group_cols else data.collapse()
    if isinstance(collapsed, StratifiedCaptureData):
        return sorted(collapsed.items(), key=lambda kv: str(kv[0]))
    return [((), collapsed)]


def _result_row(r: EstimationResult) -> dict[str, Any]:
    """The columns every published table takes from a result."""
    return {
        "method": r.method,
        "observed": r.observed,
        "estimate": r.estimate,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "interval_kind": r.interval_kind,
        "model": r.model,
        "status": r.status,
    }


@dataclass
class StratumOutcome:
    key: tuple[Hashable, ...]
    stratum: dict[str, Any]
    observed: int
    lists_used: tuple[str, ...]
    reason: str | None
    results: dict[str, EstimationResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def estimable(self) -> bool:
        return self.reason is None


@contextmanager
def _executor(cfg: RunConfig, executor: Executor | None) -> Iterator[Executor | None]:
    if executor is not None:
        yield executor
        return
    if cfg.scheduler:
        from distributed import Client

        client = Client(cfg.scheduler)
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    workers = cfg.workers if cfg.workers is not None else min(8, len(os.sched_getaffinity(0)))
    if workers <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool


# ---------------------------------------------------------------------------- run


@dataclass
class RunResult:
    """What a run produced: the tables (also written as files) and the output folder."""

    out: Path
    tables: dict[str, pd.DataFrame]
    files: list[str]
    strata: list[StratumOutcome] = field(repr=False, default_factory=list)


def _load(
    cfg: RunConfig, stage: Path, echo: Callable[[str], None]
) -> tuple[StratifiedCaptureData, list[Path]]:
    inputs: list[Path] = []
    hist_path = cfg.capture_histories
    if cfg.link is not None:
        from fl_estimate.pipeline.linkage_sensitivity import run_link

        echo(f"linking provider submissions ({cfg.link.name}) ...")
        link = run_link(cfg.link, out=stage / "linkage", echo=None)
        hist_path = link.output / "capture_histories.csv"
        inputs.append(cfg.link)
        echo(f"  {len(link.rejected)} file(s) rejected" if link.rejected else "  all files used")
    assert hist_path is not None
    if cfg.link is None:
        inputs.append(hist_path)
    df = pd.read_csv(hist_path)
    missing = [s for s in cfg.strata if s not in df.columns]
    if missing:
        raise InputValidationError(
            [
                Problem(
                    f"stratum column not found (columns: {', '.join(df.columns)})",
                    source=hist_path.name,
                    row=1,
                    column=m,
                )
                for m in missing
            ]
        )
    id_col = "person" if "person" in df.columns else None
    data = CaptureData.from_records(
        df, strata=list(cfg.strata), id_col=id_col, source=hist_path.name
    )
    assert isinstance(data, StratifiedCaptureData)
    return data, inputs


def _estimate_opts(cfg: RunConfig) -> dict[str, Any]:
    return {
        "interval": cfg.interval,
        "n_boot": cfg.n_boot,
        "chains": cfg.chains,
        "draws": cfg.draws,
    }


def _method_opts(method: str, opts: dict[str, Any]) -> dict[str, Any]:
    from fl_estimate.mse.api import LAZY_METHODS

    if method in LAZY_METHODS:
        return {k: v for k, v in opts.items() if k in ("chains", "draws") and v is not None}
    if method in ("chao", "lincoln-petersen", "chapman"):
        return {}
    return {k: v for k, v in opts.items() if k in ("interval", "n_boot")}


def _total_from_draws(
    parts: list[EstimationResult], level: float, rng_seed: int
) -> tuple[float, float | None, float | None, str]:
    """Sum of strata: point = sum of estimates; interval from the sum of replicates/draws.

    Replicates of different strata are independent, so replicate b of the total is the sum of
    replicate b of each stratum (after resampling each stratum's replicates to a common count
    when they differ, with a fixed seed). Returns (estimate, low, high, kind).
    """
    est = float(sum(p.estimate for p in parts if p.estimate is not None))
    draws = [n_draws(p) for p in parts]
    if any(d is None or len(d) == 0 for d in draws):
        return est, None, None, "none"
    size = min(len(d) for d in draws)  # type: ignore[arg-type]
    rng = np.random.default_rng(rng_seed)
    mats = [
        d if len(d) == size else rng.choice(d, size, replace=False)  # type: ignore[arg-type]
        for d in draws
    ]
    total = np.sum(np.vstack(mats), axis=0)  # type: ignore[arg-type]
    lo, hi = np.quantile(total, [0.5 - level / 2, 0.5 + level / 2], method="median_unbiased")
    kind = (
        "credible-eti"
        if all(p.interval_kind == "credible-eti" for p in parts)
        else ("bootstrap-percentile")
    )
    return est, float(lo), float(hi), kind


def run(
    config: RunConfig | str | Path,
    *,
    out: str | Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the annual estimation from a configuration file.

    Parameters
    ----------
    config : RunConfig or path to a TOML file
    out : path, optional
        Output folder (default: the config's ``[run] out``). Replaced whole and atomically: a run
        that fails or is killed leaves the previous outputs untouched.
    executor : concurrent.futures.Executor, optional
        Where strata are fitted (default: local processes, or the Dask scheduler the config
        names).
    progress : bool
        Show a progress bar over strata.

    Returns
    -------
    RunResult
    """
    cfg = config if isinstance(config, RunConfig) else read_run_config(config)
    out_dir = Path(out) if out is not None else cfg.out
    say = echo or (lambda s: None)
    opts = _estimate_opts(cfg)
    with atomic_output_dir(out_dir) as stage:
        data, inputs = _load(cfg, stage, say)
        keys = sorted(data.keys(), key=lambda k: tuple(str(v) for v in k))
        seeds = [
            int(s.generate_state(1)[0]) for s in np.random.SeedSequence(cfg.seed).spawn(len(keys))
        ]
        m_opts = {m: _method_opts(m, opts) for m in cfg.methods}
        tasks = []
        for key, seed in zip(keys, seeds, strict=True):
            tasks.append(
                (key, data[key], cfg.methods, m_opts, seed, cfg.min_lists, cfg.min_per_list)
            )
        # the pooled national fits (one per group, e.g. per year) go to the same executor
        group_cols = [c for c in cfg.strata if c != cfg.strata[0]]
        items = _groups(data, group_cols)
        n_tasks = len(tasks)
        for j, (gkey, table) in enumerate(items):
            tasks.append(
                (
                    ("national", *gkey),
                    table,
                    cfg.methods,
                    m_opts,
                    cfg.seed + 1000 + j,
                    cfg.min_lists,
                    cfg.min_per_list,
                )
            )
        say(f"fitting {n_tasks} strata and {len(items)} pooled national table(s) ...")
        done = _fit_all(cfg, tasks, executor, progress)
        outcomes, national_outcomes = done[:n_tasks], done[n_tasks:]
        tables = _tables(cfg, data, outcomes, items, national_outcomes)
        tables["warnings"] = add_linkage_warnings(tables["warnings"], stage / "linkage")
        from fl_estimate.reporting.report import write_outputs

        files = write_outputs(cfg, stage, tables, outcomes, data)
        if cfg.population is not None:
            inputs.append(cfg.population)
        manifest_inputs = list(inputs)
        write_manifest(
            stage / "manifest.json",
            inputs=manifest_inputs,
            config=json_safe(cfg.raw),
            seed=cfg.seed,
            outputs=[stage / f for f in files],
        )
        files.append("manifest.json")
    return RunResult(out_dir, tables, files, outcomes)


def _fit_all(
    cfg: RunConfig, tasks: list[tuple[Any, ...]], executor: Executor | None, progress: bool
) -> list[StratumOutcome]:
    packed = tasks
    results: list[StratumOutcome] = []
    with _executor(cfg, executor) as ex:
        it = map(_fit_task, packed) if ex is None else ex.map(_fit_task, packed)
        if progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                job = bar.add_task("strata", total=len(packed))
                for o in it:
                    results.append(o)
                    bar.advance(job)
        else:
            results = list(it)
    return results


def _fit_task(args: tuple[Any, ...]) -> StratumOutcome:
    """Check and fit one stratum with every method (top level: runs in worker processes)."""
    key, table, methods, m_opts, seed, min_lists, min_per_list = args
    t, reason = check_stratum(table, min_lists=min_lists, min_per_list=min_per_list)
    out = StratumOutcome(
        key, dict(table.stratum), table.n_observed, t.lists if t is not None else (), reason
    )
    if t is None:
        return out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FLEstimateWarning)
        for m in methods:
            extra = {"n_jobs": 1} if m_opts[m].get("interval") == "bootstrap" else {}
            try:
                out.results[m] = estimate(t, m, seed=seed, **m_opts[m], **extra)
            except FLEstimateError as exc:
                out.results[m] = EstimationResult.failed(
                    method=m,
                    model="",
                    observed=t.n_observed,
                    reason=str(exc),
                    code="failed",
                    stratum=dict(t.stratum),
                )
    out.warnings = [str(w.message) for w in caught if issubclass(w.category, FLEstimateWarning)]
    return out


def _population(cfg: RunConfig) -> pd.DataFrame | None:
    if cfg.population is None:
        return None
    pop = pd.read_csv(cfg.population)
    need = [*cfg.strata, "population"]
    missing = [c for c in need if c not in pop.columns]
    if missing:
        raise InputValidationError(
            [
                Problem(
                    "column not found; the population file needs the stratum columns and "
                    "'population'",
                    source=cfg.population.name,
                    row=1,
                    column=c,
                )
                for c in missing
            ]
        )
    return pop


def _tables(
    cfg: RunConfig,
    data: StratifiedCaptureData,
    outcomes: list[StratumOutcome],
    pooled: list[tuple[tuple[Hashable, ...], CaptureData]],
    national_outcomes: list[StratumOutcome],
) -> dict[str, pd.DataFrame]:
    strata_cols = list(cfg.strata)
    level = 0.95
    rows = []
    for o in outcomes:
        base = {**o.stratum, "observed": o.observed, "lists_used": ", ".join(o.lists_used)}
        if not o.estimable:
            rows.append(
                {
                    **base,
                    "method": cfg.headline,
                    "estimate": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "interval_kind": None,
                    "model": "",
                    "status": f"not estimable: {o.reason}",
                }
            )
            continue
        for r in o.results.values():
            rows.append({**base, **_result_row(r), "observed": o.observed})
    strata_tab = pd.DataFrame(rows)
    for c in ("estimate", "ci_low", "ci_high"):
        strata_tab[c] = pd.to_numeric(strata_tab[c], errors="coerce")

    pop = _population(cfg)
    if pop is not None:
        strata_tab = strata_tab.merge(pop[[*strata_cols, "population"]], on=strata_cols, how="left")
        for c in ("estimate", "ci_low", "ci_high"):
            strata_tab[f"{c}_per_{cfg.per}"] = strata_tab[c] / strata_tab["population"] * cfg.per

    # totals by the non-region stratum columns (e.g. year), from replicates
    group_cols = [c for c in strata_cols if c != strata_cols[0]]
    total_rows = []
    members_by_group: dict[tuple[Any, ...], list[StratumOutcome]] = {}
    for o in outcomes:
        gkey = tuple(o.stratum[c] for c in group_cols)
        members_by_group.setdefault(gkey, []).append(o)
    for i, (gkey, members) in enumerate(
        sorted(members_by_group.items(), key=lambda kv: str(kv[0]))
    ):
        est_parts = [
            o.results[cfg.headline] for o in members if o.estimable and o.results[cfg.headline].ok
        ]
        not_est = [o for o in members if not (o.estimable and o.results[cfg.headline].ok)]
        est, lo, hi, kind = _total_from_draws(est_parts, level, cfg.seed + i)
        obs_missing = sum(o.observed for o in not_est)
        row = {
            **dict(zip(group_cols, gkey, strict=True)),
            "kind": "sum of strata",
            "method": cfg.headline,
            "observed": sum(o.observed for o in members),
            "estimate": est + obs_missing,
            "ci_low": None if lo is None else lo + obs_missing,
            "ci_high": None if hi is None else hi + obs_missing,
            "interval_kind": kind,
            "strata": len(members),
            "strata_not_estimable": len(not_est),
            "note": (
                f"{len(not_est)} stratum/strata not estimable: their {obs_missing} "
                "observed people are added as they are (no dark figure)"
            )
            if not_est
            else "",
        }
        total_rows.append(row)
    totals = pd.DataFrame(total_rows)

    # the unstratified national fit per group, beside the sum of strata
    national_rows = []
    national_results: dict[tuple[Any, ...], dict[str, EstimationResult]] = {}
    for o in national_outcomes:
        gkey = tuple(o.key[1:])
        national_results[gkey] = dict(o.results)
        for r in o.results.values():
            row = _result_row(r)
            national_rows.append(
                {
                    **dict(zip(group_cols, gkey, strict=True)),
                    "kind": "national fit (strata pooled)",
                    **{
                        k: row[k]
                        for k in (
                            "method",
                            "observed",
                            "estimate",
                            "ci_low",
                            "ci_high",
                            "interval_kind",
                        )
                    },
                    "strata": 1,
                    "strata_not_estimable": 0,
                    "note": r.model,
                }
            )
    national = pd.concat([totals, pd.DataFrame(national_rows)], ignore_index=True)
    if pop is not None and group_cols:
        popg = pop.groupby(group_cols, as_index=False)["population"].sum()
        national = national.merge(popg, on=group_cols, how="left")
        for c in ("estimate", "ci_low", "ci_high"):
            national[f"{c}_per_{cfg.per}"] = (
                pd.to_numeric(national[c], errors="coerce") / national["population"] * cfg.per
            )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FLEstimateWarning)
        sens = _sensitivity(cfg, pooled, group_cols)
        top = _top_models(cfg, pooled, group_cols)
    sens_warnings = [
        ({}, str(w.message)) for w in caught if issubclass(w.category, FLEstimateWarning)
    ]
    observed = data.to_records().groupby(strata_cols).size()
    observed_tab = (
        observed.unstack(strata_cols[1]) if len(strata_cols) == 2 else observed.to_frame("observed")
    )
    lists_tab = _list_totals(data, strata_cols)
    warn_rows = [
        {"scope": "stratum", **o.stratum, "warning": w} for o in outcomes for w in o.warnings
    ]
    warn_rows += [
        {"scope": "national fit", **o.stratum, "warning": w}
        for o in national_outcomes
        for w in o.warnings
    ]
    warn_rows += [{"scope": "sensitivity", **g, "warning": w} for g, w in sens_warnings]
    return {
        "strata_estimates": strata_tab,
        "national_estimates": national,
        "sensitivity": sens,
        "top_models": top,
        "observed_by_stratum": observed_tab,
        "list_totals": lists_tab,
        "warnings": pd.DataFrame(warn_rows, columns=["scope", *strata_cols, "warning"])
        .drop_duplicates()
        .reset_index(drop=True),
        "_national_results": national_results,  # type: ignore[dict-item]
    }


def add_linkage_warnings(warn: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """The linkage run's warnings (its ``warnings.csv``) first, scope ``linkage`` or
    ``linkage sensitivity``, so the annual report and its ``warnings.csv`` say them too."""
    path = folder / "warnings.csv"
    if not path.is_file():
        return warn
    found = pd.read_csv(path, dtype=str).fillna("")
    if found.empty:
        return warn
    rows = pd.DataFrame(
        {
            "scope": found["scope"].map(lambda s: "linkage" if s == "linkage" else f"linkage {s}"),
            "warning": "linkage: " + found["message"],
        }
    )
    return pd.concat([rows, warn], ignore_index=True).reindex(columns=warn.columns)


def _list_totals(data: StratifiedCaptureData, strata_cols: list[str]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for key, t in sorted(data.items(), key=lambda kv: str(kv[0])):
        tot = {str(k): int(v) for k, v in t.list_totals().items()}
        rows.append({**dict(zip(strata_cols, key, strict=True)), **tot})
    return pd.DataFrame(rows)


def _sensitivity(
    cfg: RunConfig, groups: list[tuple[tuple[Hashable, ...], CaptureData]], group_cols: list[str]
) -> pd.DataFrame:
    """Silverman's robustness checks on the pooled table of each group: each list left out,
    chosen lists merged. Wald intervals (conditional) to keep the check fast."""
    rows = []
    m = cfg.headline
    opts = _method_opts(
        m, {"interval": "wald", "n_boot": cfg.n_boot, "chains": cfg.chains, "draws": cfg.draws}
    )
    for gkey, table in groups:
        g = dict(zip(group_cols, gkey, strict=True))
        variants: list[tuple[str, CaptureData]] = [("all lists", table)]
        if cfg.leave_one_out and table.n_lists > 3:
            variants += [(f"without {name}", table.drop_list(name)) for name in table.lists]
        for grp in cfg.merge:
            if all(x in table.lists for x in grp):
                variants.append((f"{' + '.join(grp)} merged", table.merge_lists(list(grp))))
        for label, t in variants:
            try:
                r = estimate(t, m, seed=cfg.seed, **opts)
            except FLEstimateError as exc:
                r = EstimationResult.failed(
                    method=m, model="", observed=t.n_observed, reason=str(exc), code="failed"
                )
            row = _result_row(r)
            rows.append(
                {
                    **g,
                    "variant": label,
                    "method": m,
                    **{k: v for k, v in row.items() if k != "method"},
                }
            )
    return pd.DataFrame(rows)


def _top_models(
    cfg: RunConfig, groups: list[tuple[tuple[Hashable, ...], CaptureData]], group_cols: list[str]
) -> pd.DataFrame:
    from fl_estimate.mse.estimators import SearchMSE

    rows: list[dict[str, Any]] = []
    for gkey, table in groups:
        if table.n_lists > 6 or cfg.top_models <= 0:
            continue
        r = SearchMSE("bic").fit(table, top=cfg.top_models)
        if not r.ok:
            continue
        for rec in r.tables["models"].to_dict(orient="records"):
            rows.append(
                {**dict(zip(group_cols, gkey, strict=True)), **{str(k): v for k, v in rec.items()}}
            )
    return pd.DataFrame(rows)
