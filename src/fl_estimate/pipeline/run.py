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
   left out, chosen lists merged, top models). The tables: :mod:`fl_estimate.pipeline.tables`.
5. Everything is written atomically into the output folder with a manifest; the report
   (:mod:`fl_estimate.reporting`) gets the tables and a :class:`~fl_estimate.reporting.ReportSpec`
   saying what the results are.

Every random stream derives from the run's seed by a key (:mod:`fl_estimate.seeds`):
``("stratum", *values)`` for a stratum, ``("national", *group)`` for a pooled national fit,
``("total", *group)`` for the resampling in a sum of strata and ``("sensitivity", *group,
variant)`` for a sensitivity check. Adding a year or a region leaves every other figure as it was.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, language_of, translate
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.outputs import (
    move_out_of_output,
    process_pool,
    publish_folders,
    relative_labels,
    spawn_context,
    write_manifest,
)
from fl_estimate.outputs.cells import write_csv
from fl_estimate.pipeline.cache import FitCache, run_cache
from fl_estimate.pipeline.config import RunConfig, read_run_config
from fl_estimate.pipeline.published import chart_hidden, published_tables
from fl_estimate.pipeline.strata import (
    FitPlan,
    StratumOutcome,
    StratumTask,
    check_stratum,
    fit_stratum,
)
from fl_estimate.pipeline.tables import (
    build_tables,
    group_columns,
    headline_level,
    pooled_tables,
)
from fl_estimate.providers.linkage import published_warning
from fl_estimate.providers.linkrun import internal_folder
from fl_estimate.reporting import (
    LinkageQuality,
    MethodSpec,
    ReportSpec,
    StatisticsSection,
    write_outputs,
)
from fl_estimate.reporting.report import warm_up_figures
from fl_estimate.results import compare
from fl_estimate.seeds import key_seed
from fl_estimate.tabular import ReadInfo, read_table

#: The linkage's table of persons by region and year (published by ``fl-estimate link``).
PERSONS_TABLE = "persons_by_region_year.csv"

__all__ = ["RunResult", "add_linkage_warnings", "check_stratum", "report_spec", "run"]


@dataclass
class RunResult:
    """What a run produced: the tables (also written as files) and the output folder."""

    out: Path
    tables: dict[str, pd.DataFrame]
    files: list[str]
    strata: list[StratumOutcome] = field(repr=False, default_factory=list)
    cache: FitCache = field(repr=False, default_factory=lambda: FitCache(None))


def _groups(
    data: StratifiedCaptureData, group_cols: list[str]
) -> list[tuple[tuple[Hashable, ...], CaptureData]]:
    """The pooled tables of each group (e.g. one per year), in a fixed order."""
    collapsed = data.collapse(keep=group_cols) if group_cols else data.collapse()
    if isinstance(collapsed, StratifiedCaptureData):
        return sorted(collapsed.items(), key=lambda kv: str(kv[0]))
    return [((), collapsed)]


def _n_workers(cfg: RunConfig) -> int:
    """Local worker processes of the run: ``[executor] workers``, else the cores (at most 8)."""
    return cfg.workers if cfg.workers is not None else min(8, len(os.sched_getaffinity(0)))


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
    workers = _n_workers(cfg)
    if workers <= 1:
        yield None
        return
    # spawned, not forked: by now the run has linked (DuckDB's threads) and may have protected
    # tables (HiGHS); a forked worker inherits that state mid-flight, and a Bayesian stratum fit
    # of a linked country crashed its worker with a segmentation fault while importing xarray
    # (the run ended with BrokenProcessPool). Spawned workers import afresh, once per pool, and
    # not the caller's script (a script calling run() without a __main__ guard still works).
    with process_pool(max_workers=workers, mp_context=spawn_context()) as pool:
        yield pool


def _inputs(cfg: RunConfig) -> dict[str, Path]:
    """The run's own input files by manifest label (relative to the config's folder, or by
    role): the config, the capture histories or linkage config, population and truth."""
    roles = {
        "config": cfg.path,
        "capture_histories": cfg.capture_histories,
        "link": cfg.link,
        "population": cfg.population,
        "truth": cfg.truth,
    }
    given = [(k, Path(v)) for k, v in roles.items() if v is not None]
    return relative_labels(
        [p for _, p in given], Path(cfg.path).resolve().parent, names=[k for k, _ in given]
    )


def _every_input(cfg: RunConfig) -> list[Path]:
    """Every file the run reads, the linkage's too: the output folder may hold none of them."""
    files = list(_inputs(cfg).values())
    if cfg.link is not None:
        from fl_estimate.providers.linkrun import link_inputs

        files += link_inputs(cfg.link)
    if "stats" in cfg.raw:  # the periodic statistics' case files (their manifest hashes them)
        from fl_estimate.pipeline.stats import read_stats_config, stats_inputs

        files += stats_inputs(read_stats_config(cfg.path))
    return files


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every non-empty cell is a number, as numbers (as ``pd.read_csv``)."""
    out = df.replace("", np.nan)
    for c in out.columns:
        conv = pd.to_numeric(out[c], errors="coerce")
        if conv.notna().sum() == out[c].notna().sum():
            out[c] = conv
    return out


def _load(
    cfg: RunConfig, stage: Path, private: Path, echo: Callable[[str], None], cache: FitCache
) -> tuple[StratifiedCaptureData, list[tuple[str, ReadInfo]], Any]:
    """The capture data, how each input was read, and the linkage in memory (None without)."""
    read: list[tuple[str, ReadInfo]] = []
    hist_path = cfg.capture_histories
    linked = None
    if cfg.link is not None:
        from fl_estimate.pipeline.linkage_sensitivity import run_link

        echo(N_("linking provider submissions ({config}) ...", config=cfg.link.name))
        link = run_link(
            cfg.link,
            out=stage / "linkage",
            internal=private / "linkage",
            echo=None,
            cache=cache,
            lang=cfg.language,
        )
        assert link.internal is not None
        hist_path = link.internal / "capture_histories.csv"
        read += [
            (str(r["source"]), ReadInfo.from_dict(r["read_as"]))
            for r in link.report.get("submissions", [])
            if r.get("read_as")
        ]
        echo(
            N_("  {n} file(s) rejected", n=len(link.rejected))
            if link.rejected
            else N_("  all files used")
        )
        linked = link.linked
    assert hist_path is not None  # read_run_config requires one of the two
    frame, info = read_table(hist_path, excel=False)
    if cfg.link is None:
        read.append((hist_path.name, info))
    df = _numeric(frame)
    missing = [s for s in cfg.strata if s not in df.columns]
    if missing:
        raise InputValidationError(
            [
                Problem(
                    N_(
                        "stratum column not found (columns: {columns})",
                        columns=", ".join(df.columns),
                    ),
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
    return data, read, linked


def _tasks(
    cfg: RunConfig,
    data: StratifiedCaptureData,
    groups: Sequence[tuple[tuple[Hashable, ...], CaptureData]],
) -> list[StratumTask]:
    """One task per stratum, then one per pooled national table; seeds keyed by what they fit."""
    options = {m: cfg.options_for(m) for m in cfg.methods}
    keys = sorted(data.keys(), key=lambda k: tuple(str(v) for v in k))
    tables = [(k, data[k], key_seed(cfg.seed, "stratum", *k)) for k in keys]
    tables += [(("national", *g), t, key_seed(cfg.seed, "national", *g)) for g, t in groups]
    return [
        StratumTask(key, table, options, seed, cfg.min_lists, cfg.min_per_list)
        for key, table, seed in tables
    ]


def _fit_all(
    cfg: RunConfig,
    tasks: list[StratumTask],
    executor: Executor | None,
    progress: bool,
    cache: FitCache,
    meanwhile: Callable[[], Any] = lambda: None,
    stack: ExitStack | None = None,
) -> tuple[list[StratumOutcome], Any, ProcessPoolExecutor | None]:
    """Every task's outcome, in the tasks' order, what ``meanwhile`` returned (it runs in this
    process while the workers fit: the pooled tables' searches, which need no stratum), and the
    run's own local worker pool when one was started and ``stack`` holds it open (the charts
    are drawn there too; a Dask cluster's workers may not share the output's file system).

    The tasks are sent largest table first (the pooled national ones), so that no worker is
    left with a long fit when the others are done."""
    plan = FitPlan(tasks, cache)  # what the fit cache holds is not sent to a worker
    todo = plan.todo
    if not todo:
        return plan.outcomes([]), meanwhile(), None
    order = sorted(range(len(todo)), key=lambda i: -todo[i].table.n_observed)
    sent = [todo[i] for i in order]
    got: list[StratumOutcome] = []
    with ExitStack() as own:
        ex = (stack or own).enter_context(_executor(cfg, executor))
        # Executor.map sends every task now; a plain map fits them when iterated
        it = map(fit_stratum, sent) if ex is None else ex.map(fit_stratum, sent)
        local = ex if isinstance(ex, ProcessPoolExecutor) and executor is None else None
        if local is not None and stack is not None:  # workers done with fits import the charts'
            for _ in range(_n_workers(cfg)):  # code while the others finish
                local.submit(warm_up_figures)
        extra = meanwhile() if ex is not None else None
        if progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                # the bar's word in the report's language (the command line's, with --lang)
                job = bar.add_task(translate(N_("strata"), cfg.language), total=len(todo))
                for o in it:
                    got.append(o)
                    bar.advance(job)
        else:
            got = list(it)
    if ex is None:
        extra = meanwhile()
    results: list[StratumOutcome] = [got[0]] * len(todo)
    for k, i in enumerate(order):
        results[i] = got[k]
    return plan.outcomes(results), extra, local if stack is not None else None


def _totals_from(national: pd.DataFrame) -> str:
    """Where the intervals of the sums of strata come from, in the report spec's words."""
    kinds = set(national.loc[national["kind"] == "sum of strata", "interval_kind"])
    words = {
        "bootstrap-percentile": "bootstrap replicates",
        "credible-eti": "posterior draws",
        "none": "not available",
    }
    found = {words.get(str(k), "not available") for k in kinds}
    return found.pop() if len(found) == 1 else "mixed"


def report_spec(
    cfg: RunConfig,
    outcomes: Sequence[StratumOutcome],
    tables: dict[str, pd.DataFrame],
    inputs: Sequence[tuple[str, ReadInfo]] = (),
    linkage: LinkageQuality | None = None,
    statistics: StatisticsSection | None = None,
) -> ReportSpec:
    """What the report says about the run, read from its results and configuration (and the
    linkage's published summary, when the run linked submissions; the periodic statistics'
    section, when it wrote them)."""
    specs = [
        MethodSpec.from_results(m, [o.results[m] for o in outcomes if o.has_estimate(m)])
        for m in cfg.methods
    ]
    return ReportSpec(
        title=cfg.title,
        headline=specs[0],
        comparison=tuple(specs[1:]),
        strata=tuple(cfg.strata),
        totals_from=_totals_from(tables["national_estimates"]),  # type: ignore[arg-type]
        totals_level=headline_level(cfg, outcomes),
        threshold=cfg.threshold,
        language=cfg.language,
        inputs=tuple(inputs),
        linkage=linkage,
        statistics=statistics,
    )


def _comparison(national_outcomes: Sequence[StratumOutcome]) -> tuple[pd.DataFrame | None, str]:
    """Every method on the latest group's pooled national table, and the group's label."""
    if not national_outcomes:
        return None, ""
    last = sorted(national_outcomes, key=lambda o: str(o.key[1:]))[-1]
    if not last.results:
        return None, ""
    return compare(last.results).to_frame(), ", ".join(str(v) for v in last.key[1:])


def _manifest_config(cfg: RunConfig) -> dict[str, object]:
    """The configuration as the file gives it, without ``[run] out`` (where the run writes is a
    run-specific field: the manifest's ``"run"`` block has it)."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.raw.items()}
    if isinstance(raw.get("run"), dict):
        raw["run"].pop("out", None)
    return raw


def run(
    config: RunConfig | str | Path,
    *,
    out: str | Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    lang: str | None = None,
    cache: bool | str | Path | None = None,
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
    echo : callable, optional
        Called with a line of progress text (the command line passes ``typer.echo``).
    lang : str, optional
        Language of the report (``en``, ``fr``); default: the config's ``[report] language``.
    cache : bool or path, optional
        The fit cache (:mod:`fl_estimate.pipeline.cache`): False switches it off (``--no-cache``),
        a path is its folder; default: the config's ``[run] cache``.

    Returns
    -------
    RunResult
    """
    cfg = config if isinstance(config, RunConfig) else read_run_config(config)
    if lang is not None:
        language_of(lang)  # refuses an unknown language before any work
        cfg = dataclasses.replace(cfg, language=lang)
    out_dir = Path(out) if out is not None else cfg.out
    say = echo or (lambda s: None)
    inputs = _every_input(cfg)
    fit_cache = run_cache(cfg, out_dir, cache)
    with (
        publish_folders(
            [(out_dir, "run", 0o777), (internal_folder(out_dir), "run-internal", 0o700)],
            inputs=inputs,
        ) as (stage, private),
        ExitStack() as workers,
    ):
        data, read, linked = _load(cfg, stage, private, say, fit_cache)
        groups = _groups(data, group_columns(cfg))
        tasks = _tasks(cfg, data, groups)
        say(
            N_(
                "fitting {strata} strata and {national} pooled national table(s) ...",
                strata=len(tasks) - len(groups),
                national=len(groups),
            )
        )
        done, pooled, pool = _fit_all(
            cfg,
            tasks,
            executor,
            progress,
            fit_cache,
            meanwhile=lambda: pooled_tables(cfg, groups, fit_cache),
            stack=workers,  # held open: the charts are drawn there
        )
        outcomes, national_outcomes = done[: -len(groups)], done[-len(groups) :]
        tables = build_tables(
            cfg, data, outcomes, groups, national_outcomes, cache=fit_cache, pooled=pooled
        )
        if cfg.link is not None:
            tables["warnings"] = add_linkage_warnings(tables["warnings"], private / "linkage")
        written: list[Any] = []  # the statistics, when the run's tables are protected with them
        # last publication's suppression pattern, held where a cell is published again with
        # the same value (an earlier year's tables stay as published when a year is added)
        series = _series(cfg)
        previous = fit_cache.previous_publication(series)
        joint = _joint_statistics(cfg, stage, linked, say, written, previous)
        published, protection = published_tables(
            cfg, data, outcomes, tables, protect=joint, previous=previous
        )
        pattern = dict(protection.pattern)
        if (stage / "linkage" / PERSONS_TABLE).is_file():
            # the same counts as observed_by_stratum, suppressed on their own: two patterns of
            # suppression over one set of counts could be differenced, so only the jointly
            # protected table is published (the linkage's own goes to the internal folder)
            move_out_of_output(
                stage / "linkage", PERSONS_TABLE, private / "linkage" / PERSONS_TABLE
            )
        write_csv(
            protection.intervals.astype({"key": str, "keys": str}), private / "disclosure_audit.csv"
        )
        comparison, comparison_label = _comparison(national_outcomes)
        stats_files, section, stats_pattern = _statistics(
            cfg, stage, private, linked, say, written[0] if written else None, previous
        )
        pattern |= stats_pattern
        files = write_outputs(
            report_spec(cfg, outcomes, tables, read, _linkage_quality(stage / "linkage"), section),
            stage,
            published,
            pooled=data.collapse().to_frame(),
            comparison=comparison,
            comparison_label=comparison_label,
            truth=pd.read_csv(cfg.truth) if cfg.truth is not None else None,
            overlaps_hidden=chart_hidden(protection.hidden),
            executor=pool,
        )
        workers.close()
        files += stats_files
        write_manifest(
            stage / "manifest.json",
            kind="run",
            inputs=_inputs(cfg),
            config=_manifest_config(cfg),
            run={"output": str(Path(out_dir).resolve()), "configured_out": str(cfg.out)},
        )
        files.append("manifest.json")
        write_manifest(
            private / "manifest.json",
            kind="run-internal",
            inputs=_inputs(cfg),
            config=_manifest_config(cfg),
            run={"output": str(Path(out_dir).resolve())},
        )
    fit_cache.remember_publication(series, pattern)  # once published
    if fit_cache.enabled:
        say(
            N_(
                "fit cache: {hits} fit(s) reused, {stored} new",
                hits=fit_cache.hits,
                stored=fit_cache.stored,
            )
        )
    return RunResult(out_dir, tables, files, list(outcomes), fit_cache)


def _series(cfg: RunConfig) -> dict[str, Any]:
    """What makes two runs publications of one series, whose suppression pattern the later
    holds: the title, the strata, the disclosure threshold and whether the statistics are part
    of it (not the folders or the data: the next year's run is in another folder, with more)."""
    return {
        "title": cfg.title,
        "strata": list(cfg.strata),
        "threshold": cfg.threshold,
        "statistics": "stats" in cfg.raw,
    }


def _write_statistics(
    cfg: RunConfig,
    stage: Path,
    linked: Any,
    echo: Callable[[str], None],
    previous: Mapping[Hashable, tuple[int, bool]] | None,
    partner: Any = None,
) -> Any:
    """The statistics section written into the run's ``statistics/`` (protected with the run's
    tables when ``partner`` is given; ``previous``: the last publication's pattern, held)."""
    from fl_estimate.pipeline.stats import run_section

    return run_section(
        cfg.path,
        stage / "statistics",
        language=cfg.language,
        echo=echo,
        linked=linked,
        partner=partner,
        previous=previous,
    )


def _joint_statistics(
    cfg: RunConfig,
    stage: Path,
    linked: Any,
    echo: Callable[[str], None],
    written: list[Any],
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> Callable[[Any], Any] | None:
    """With a ``[stats]`` and the run's own linkage, the statistics' linked persons count the
    run's people again (``observed_by_stratum``): the protection of the run's tables, made in
    one LP with the statistics (:func:`fl_estimate.pipeline.published.published_tables`'s
    ``protect``), which are written on the way into ``statistics/`` (appended to ``written``).
    Two patterns over the same counts, made apart, could be differenced."""
    if "stats" not in cfg.raw or linked is None:
        return None

    def protect(partner: Any) -> Any:
        w = _write_statistics(cfg, stage, linked, echo, previous, partner)
        written.append(w)
        return w.protection

    return protect


def _statistics(
    cfg: RunConfig,
    stage: Path,
    private: Path,
    linked: Any,
    echo: Callable[[str], None],
    written: Any = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> tuple[list[str], StatisticsSection | None, dict[Hashable, tuple[int, bool]]]:
    """The periodic statistics (IC-TIP) in ``statistics/`` beside the report, when the config
    has a ``[stats]``: the persons from the run's own linkage (no second linkage), already
    ``written`` when protected with the run's tables (:func:`_joint_statistics`); the audit of
    their disclosure control in the internal folder; and the statistics' suppression pattern
    (``previous``: the last publication's, held)."""
    if "stats" not in cfg.raw:
        return [], None, {}
    if written is None:
        written = _write_statistics(cfg, stage, linked, echo, previous)
    audit = written.protection.intervals
    if len(audit):
        write_csv(audit.astype({"key": str, "keys": str}), private / "statistics_audit.csv")
    section = StatisticsSection("statistics", tuple(written.headings), written.linked)
    return written.files, section, dict(written.protection.pattern)


def _linkage_quality(folder: Path) -> LinkageQuality | None:
    """The linkage's quality from its published ``linkage_summary.json`` (None without one)."""
    path = folder / "linkage_summary.json"
    if not path.is_file():
        return None
    return LinkageQuality.from_summary(json.loads(path.read_text(encoding="utf-8")))


def add_linkage_warnings(warn: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """The linkage run's warnings first (from its internal ``warnings.csv``), scope ``linkage``
    or ``linkage sensitivity``, so that the annual report and its ``warnings.csv`` say them.

    The published text of each is the code's count-free summary
    (:func:`fl_estimate.providers.linkage.published_warning`, translatable): the internal
    texts hold counts of records and clusters that may be below the disclosure threshold.
    """
    path = folder / "warnings.csv"
    if not path.is_file():
        return warn
    found = pd.read_csv(path, dtype=str).fillna("")
    if found.empty:
        return warn
    found = found.drop_duplicates(["scope", "code"])
    rows = pd.DataFrame(
        {
            "scope": found["scope"].map(lambda s: "linkage" if s == "linkage" else f"linkage {s}"),
            "warning": [published_warning(c) for c in found["code"]],
        }
    )
    return pd.concat([rows, warn], ignore_index=True).reindex(columns=warn.columns)
