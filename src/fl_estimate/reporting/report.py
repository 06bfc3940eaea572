"""Write the annual run's outputs: tables (CSV and one Excel workbook), figures (PNG and SVG),
and a report (Markdown and a self-contained HTML page) that a ministry reader can follow.

The report takes a :class:`~fl_estimate.reporting.spec.ReportSpec` (which methods, what kind of
interval at which level, where the national totals' intervals come from) and plain DataFrames;
every sentence it writes is read from them, and it leaves the caller's tables as they were.

Every table meant for publication goes through :func:`fl_estimate.disclosure.suppress`: observed
counts below the threshold are suppressed (with secondary suppression where margins are
published), the same cells are hidden wherever the table of estimates repeats them, and the
report says so.

Figures are drawn on figures that no pyplot backend manages (:func:`fl_estimate._figures.detached`):
writing a report never switches the caller's matplotlib backend.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Collection, Hashable, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._io import atomic_write_text
from fl_estimate.disclosure import suppress
from fl_estimate.i18n import (
    N_,
    format_number,
    format_percent,
    relabel_columns,
    translate,
    translator,
)
from fl_estimate.outputs.cells import escape_markdown_html, write_csv, write_xlsx
from fl_estimate.providers.linkage.result import DEFAULT_THRESHOLD
from fl_estimate.reporting.spec import MethodSpec, ReportSpec, percent
from fl_estimate.results import INTERVAL_KINDS, model_words

__all__ = ["METHOD_WORDS", "SHEET_TITLES", "VALUE_LABELS", "sheet_title", "write_outputs"]

#: Codes in the published tables' text columns and the words a report in another language
#: prints for them (the CSV files keep the codes, as they keep the column names). Other texts in
#: those columns (statuses, notes, warnings, variants) are catalog messages themselves.
VALUE_LABELS: dict[str, str] = {
    "ok": N_("estimated"),
    "lower_bound": N_("lower bound only"),
    "lower-bound": N_("lower bound"),
    "none": N_("none"),
    "failed": N_("failed"),
    "sum of strata": N_("sum of strata"),
    "national fit (strata pooled)": N_("national fit (strata pooled)"),
    "stratum": N_("stratum"),
    "national fit": N_("national fit"),
    "sensitivity": N_("sensitivity"),
    "linkage": N_("linkage"),
    "linkage sensitivity": N_("linkage sensitivity"),
    "suppressed": N_("suppressed"),
    **INTERVAL_KINDS,
}
#: The published columns whose values :data:`VALUE_LABELS` and the catalogs translate.
_TEXT_COLUMNS = frozenset(
    {
        "status",
        "status_code",
        "interval_kind",
        "kind",
        "scope",
        "note",
        "warning",
        "variant",
        "observed_suppressed",
    }
)

#: What each method is, in the report's words (keyed by its name in ``fl_estimate.mse.estimate``).
METHOD_WORDS: dict[str, str] = {
    "independence": N_("the log-linear model of independent lists"),
    "loglinear": N_("a log-linear model with the interactions configured"),
    "stepwise": N_(
        "a log-linear capture–recapture model chosen from the data by stepwise selection"
    ),
    "aic": N_("the log-linear capture–recapture model with the lowest AIC among those searched"),
    "bic": N_("the log-linear capture–recapture model with the lowest BIC among those searched"),
    "auto": N_(
        "a log-linear capture–recapture model chosen from the data as "
        "MultipleSystemsEstimation's auto does (BIC search; stepwise selection from 6 lists)"
    ),
    "search": N_(
        "a log-linear capture–recapture model chosen from the data by a greedy search on "
        "an information criterion"
    ),
    "latent-class": N_("a latent-class model fitted by maximum likelihood"),
    "chao": N_("Chao's lower bound"),
    "lincoln-petersen": N_("the Lincoln–Petersen two-list estimator"),
    "chapman": N_("Chapman's two-list estimator"),
    "lcmcr": N_("a Bayesian latent-class model (LCMCR)"),
    "dga": N_("Bayesian model averaging over decomposable graphical models (dga)"),
    "bayes-loglinear": N_("a Bayesian log-linear model"),
    "bayes-threshold": N_("a Bayesian log-linear model with thresholded interactions"),
}

#: What a method of each family assumes besides a closed population and correct linkage.
_FAMILY_ASSUMES: dict[str, str] = {
    "log-linear": N_(
        "that the log-linear model captures how the providers' lists depend on each other"
    ),
    "latent-class": N_(
        "that the latent classes capture how people differ in their chances of being on each list"
    ),
    "closed-form": N_(
        "that the formula's own assumptions hold (the two-list estimators: "
        "independent lists and equal chances of being listed)"
    ),
    "bayesian": N_(
        "that the model and its priors capture how the providers' lists depend on each "
        "other and how people differ in their chances of being listed"
    ),
    "other": N_("that the model captures how the providers' lists depend on each other"),
}

#: Methods that choose a model from the data (a bootstrap of theirs can repeat the choice).
_SELECTS_MODEL = frozenset({"stepwise", "aic", "bic", "auto", "search"})


def _round(df: pd.DataFrame) -> pd.DataFrame:
    """Round estimates for publication (whole people; rates to one decimal)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            if c.startswith(("estimate", "ci_low", "ci_high")) and "_per_" not in c:
                out[c] = out[c].round(0)
            else:
                out[c] = out[c].round(2)
    return out


def _protect_observed(
    df: pd.DataFrame,
    threshold: int,
    hidden: Mapping[tuple[Hashable, ...], str] | None = None,
    keys: list[str] | None = None,
    col: str = "observed",
) -> pd.DataFrame:
    """Suppress observed counts in a column: those below the threshold (primary), and those of
    the strata that ``hidden`` names (``stratum key -> "primary"/"secondary"``, from the
    suppressed table of observed counts, so that no table publishes a cell another hides). A
    flag column says what was hidden and why."""
    if col not in df.columns:
        return df
    out = df.copy()
    values = pd.to_numeric(out[col], errors="coerce")
    small = ((values > 0) & (values < threshold)).to_numpy()
    why = np.full(len(small), "", dtype=object)  # object: the messages stay messages
    why[small] = N_("below {threshold}", threshold=threshold)
    if hidden and keys:
        for i, key in enumerate(zip(*(out[k] for k in keys), strict=True)):
            if not why[i] and hidden.get(tuple(key)):
                why[i] = N_("hidden so that totals do not reveal a small count")
    out[col] = values.astype("Int64").mask(why != "")
    out[f"{col}_suppressed"] = pd.Series(why, index=out.index, dtype=object)  # messages kept
    return out


def _fmt(v: float, lang: str) -> str:
    """A table cell: whole numbers from 100 up, two decimals below, in the language's format."""
    if lang == "en":
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
    return format_number(v, lang, 0 if abs(v) >= 100 else 2)


def _value_label(v: Any, lang: str) -> Any:
    if not isinstance(v, str) or not v:  # gettext("") is the catalog's header
        return v
    return translate(VALUE_LABELS.get(str(v), v), lang)


def _relabel(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A copy with :data:`VALUE_LABELS` and catalog messages in ``lang`` in the text columns, the
    models' descriptions in ``lang`` (:func:`fl_estimate.results.model_words`), and the columns' labels as headings
    (what a reader sees: the xlsx sheets and report tables)."""
    d = df.copy()
    for c in d.columns:
        if str(c) in _TEXT_COLUMNS and not pd.api.types.is_numeric_dtype(d[c]):
            d[c] = pd.Series(  # a national fit's note is its model's description
                [model_words(_value_label(v, lang), lang) for v in d[c]],
                index=d.index,
                dtype=object,
            )
        elif str(c) == "model" and not pd.api.types.is_numeric_dtype(d[c]):
            d[c] = pd.Series([model_words(v, lang) for v in d[c]], index=d.index, dtype=object)
    return relabel_columns(d, lang)


def _localise(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """In a language other than English: whole numbers grouped as the language does (years
    excepted), codes and messages in the language, and the columns' labels as headings.
    English tables are left as they are."""
    if lang == "en":
        return df
    d = df.copy()
    for c in d.columns:
        if d[c].dtype.kind in "iu" and "year" not in str(c) and (d[c].abs() >= 10000).any():
            d[c] = d[c].map(lambda v: format_number(v, lang, 0))
    return _relabel(d, lang)


def _md_table(df: pd.DataFrame, max_rows: int = 60, lang: str = "en") -> str:
    d = _localise(df.head(max_rows), lang)
    cols = [escape_markdown_html(str(c), table_cell=True) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for _, r in d.iterrows():
        cells = []
        for v in r.to_numpy():
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else _fmt(v, lang))
            elif v is None or v is pd.NA:
                cells.append("—")
            else:
                cells.append(escape_markdown_html(str(v), table_cell=True))
        lines.append("| " + " | ".join(cells) + " |")
    if len(df) > max_rows:
        more = translator(lang).gettext("({n} more rows in the CSV file)")
        lines.append("\n" + more.format(n=len(df) - max_rows))
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, max_rows: int = 60, lang: str = "en") -> str:
    """The table as HTML, in a container that scrolls sideways when the table is wider than the
    page (the page itself never does)."""
    d = df.head(max_rows).copy()
    for c in d.columns:
        if d[c].dtype.kind == "f":
            d[c] = d[c].map(lambda v: "" if np.isnan(v) else _fmt(v, lang))
    d = _localise(d, lang)
    table = str(d.to_html(index=False, na_rep="—", border=0, classes="t", escape=True))
    return f"<div class='scroll'>{table}</div>"


def _save(fig: Any, stage: Path, name: str) -> list[str]:
    from fl_estimate._figures import save

    return [p.name for p in save(fig, stage, name)]


def _publishable(spec: ReportSpec, tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables as published: rounded, small observed counts suppressed (new frames).

    Tables that come with ``observed_by_stratum_flags`` were protected together by the caller
    (:func:`fl_estimate.pipeline.published.published_tables`): they are only rounded."""
    if "observed_by_stratum_flags" in tables:
        return {name: _round(df) for name, df in tables.items()}
    thr = spec.threshold
    strata_cols = list(spec.strata)
    pub: dict[str, pd.DataFrame] = {}
    hidden: dict[tuple[Hashable, ...], str] = {}
    obs = tables["observed_by_stratum"]
    obs_pub: dict[str, pd.DataFrame] = {}
    if isinstance(obs, pd.DataFrame) and obs.shape[1] > 1:
        s = suppress(obs.fillna(0).astype(int), threshold=thr, source="observed_by_stratum")
        flags = s.flags.stack()
        hidden = {
            (k if isinstance(k, tuple) else (k,)): str(v) for k, v in flags.items() if v != ""
        }
        o = s.values.reset_index()
        o.columns = [str(c) for c in o.columns]
        fl = s.flags.reset_index()
        fl.columns = [str(c) for c in fl.columns]
        obs_pub = {"observed_by_stratum": o, "observed_by_stratum_flags": fl}
    pub["strata_estimates"] = _protect_observed(
        _round(tables["strata_estimates"]), thr, hidden, strata_cols
    )
    pub["national_estimates"] = _round(tables["national_estimates"])
    pub["sensitivity"] = _round(tables["sensitivity"])
    pub["top_models"] = _round(tables["top_models"])
    pub.update(obs_pub)
    lt = tables["list_totals"].set_index(strata_cols)
    s2 = suppress(lt.astype(int), threshold=thr, margins=False, source="list_totals")
    pub["list_totals"] = s2.values.reset_index()
    pub["warnings"] = tables["warnings"].copy()
    return pub


#: The report's charts in the report's order (:func:`_draw_figures`); the first is the slowest to
#: draw (a panel per region), the second group the rest.
FIGURES = (
    "trend_by_region",
    "national_trend",
    "regional_comparison",
    "method_comparison",
    "list_overlaps",
)
_FIGURE_GROUPS = (FIGURES[:1], FIGURES[1:])


def warm_up_figures() -> None:
    """Import what drawing the charts needs (top level: sent to a worker that will draw them)."""
    import importlib

    for module in ("fl_estimate._figures", "fl_estimate.reporting.charts", "fl_estimate.plotting"):
        importlib.import_module(module)


def _draw_figures(
    spec: ReportSpec,
    stage: Path,
    tables: Mapping[str, pd.DataFrame],
    pooled: pd.DataFrame,
    comparison: pd.DataFrame | None,
    comparison_label: str,
    truth: pd.DataFrame | None,
    overlaps_hidden: Collection[Hashable] = (),
    only: Collection[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Draw and save the charts (those named in ``only``, default all: :data:`FIGURES`);
    returns (files, {figure name: caption})."""
    from fl_estimate._figures import detached
    from fl_estimate.mse.data import CaptureData
    from fl_estimate.plotting import plot_overlaps
    from fl_estimate.reporting.charts import (
        plot_national_trend,
        plot_regional_comparison,
        plot_trend_by_region,
    )
    from fl_estimate.results import plot_comparison

    def want(figure: str) -> bool:
        return only is None or figure in only

    name = spec.headline.name
    lang = spec.language
    _ = translator(lang).gettext
    strata_cols = list(spec.strata)
    files: list[str] = []
    figs: dict[str, str] = {}
    head = tables["strata_estimates"]
    head = head[head["method"] == name]
    with detached():
        if len(strata_cols) == 2:
            geo, year = strata_cols
            geo_w, year_w = _col(geo, lang), _col(year, lang)
        if len(strata_cols) == 2 and want("trend_by_region"):
            axes = plot_trend_by_region(
                head, region=geo, year=year, truth=truth, level=spec.headline.level, lang=lang
            )
            fig = axes[0].figure
            fig.suptitle(
                _("{method}: estimated victims by {geo} and {year}").format(
                    method=name, geo=geo_w, year=year_w
                ),
                fontsize=10,
                y=1.04,
            )
            files += _save(fig, stage, "trend_by_region")
            figs["trend_by_region"] = _(
                "Estimates by {geo} over time (bars: people identified)"
            ).format(geo=geo_w)
        if len(strata_cols) == 2 and want("national_trend"):
            truth_nat = truth.groupby(year)["N"].sum() if truth is not None else None
            ax = plot_national_trend(
                tables["national_estimates"],
                year=year,
                truth=truth_nat,
                level=spec.totals_level,
                lang=lang,
            )
            ax.set_title(_("National total ({method})").format(method=name), fontsize=10)
            files += _save(ax.figure, stage, "national_trend")
            figs["national_trend"] = _("National total over time")
        if len(strata_cols) == 2 and want("regional_comparison"):
            last = sorted(head[year].unique())[-1]
            ax = plot_regional_comparison(
                head[head[year] == last], region=geo, level=spec.headline.level, lang=lang
            )
            ax.set_title(
                _("{Geo} in {last} ({method})").format(
                    Geo=geo_w[:1].upper() + geo_w[1:], last=last, method=name
                ),
                fontsize=10,
            )
            files += _save(ax.figure, stage, "regional_comparison")
            figs["regional_comparison"] = _("Estimates by {geo} compared, {last}").format(
                geo=geo_w, last=last
            )
        if comparison is not None and len(comparison) and want("method_comparison"):
            ax = plot_comparison(comparison, lang=lang)
            ax.set_title(
                _("Methods compared on the pooled national table, {label}").format(
                    label=comparison_label
                ),
                fontsize=10,
            )
            files += _save(ax.figure, stage, "method_comparison")
            figs["method_comparison"] = _("Methods compared (national table)")
        if want("list_overlaps"):
            # patterns with fewer people than the disclosure threshold are neither drawn nor
            # printed
            ax = plot_overlaps(
                CaptureData.from_counts(pooled),  # type: ignore[arg-type]
                min_count=spec.threshold,
                hidden=overlaps_hidden,
                lang=lang,
            )
            files += _save(ax.figure, stage, "list_overlaps")
            figs["list_overlaps"] = _("How the providers' lists overlap (all strata)")
    return files, figs


#: The workbook's sheet titles in a language other than English (the English workbook's sheets
#: are named as the CSV files); at most 31 characters, none of ``[]:*?/\\`` (Excel's rules).
SHEET_TITLES: dict[str, str] = {
    "strata_estimates": N_("estimates by stratum"),
    "national_estimates": N_("national estimates"),
    "sensitivity": N_("sensitivity analyses"),
    "top_models": N_("best models"),
    "observed_by_stratum": N_("people observed by stratum"),
    "observed_by_stratum_flags": N_("observed, suppression flags"),
    "list_totals": N_("people on each list"),
    "warnings": N_("warnings"),
}


def sheet_title(name: str, lang: str) -> str:
    """The title of table ``name``'s sheet in ``tables.xlsx`` for a reader of ``lang``.

    Examples
    --------
    >>> sheet_title("strata_estimates", "fr"), sheet_title("strata_estimates", "en")
    ('estimations par strate', 'strata_estimates')
    """
    if lang == "en" or name not in SHEET_TITLES:
        return name
    return translate(SHEET_TITLES[name], lang)


def write_outputs(
    spec: ReportSpec,
    stage: Path,
    tables: Mapping[str, pd.DataFrame],
    *,
    pooled: pd.DataFrame,
    comparison: pd.DataFrame | None = None,
    comparison_label: str = "",
    truth: pd.DataFrame | None = None,
    overlaps_hidden: Collection[Hashable] = (),
    executor: Executor | None = None,
) -> list[str]:
    """Write tables, figures and the report into ``stage``; return the file names written.

    Parameters
    ----------
    spec : ReportSpec
        What the results are (methods, intervals, where the totals' intervals come from).
    stage : Path
        The output folder (an existing, empty folder).
    tables : mapping of str to DataFrame
        ``strata_estimates``, ``national_estimates``, ``sensitivity``, ``top_models``,
        ``observed_by_stratum``, ``list_totals``, ``warnings`` (as
        :func:`fl_estimate.pipeline.tables.build_tables` makes them); not modified.
    pooled : DataFrame
        The capture table of all strata pooled (0/1 list columns and ``count``), for the chart
        of list overlaps.
    comparison : DataFrame, optional
        Methods side by side on one table (:meth:`fl_estimate.results.Comparison.to_frame`),
        for the chart of methods compared; ``comparison_label`` names the table.
    truth : DataFrame, optional
        True sizes by stratum (simulated data: stratum columns and ``N``), drawn on the charts.
    overlaps_hidden : collection, optional
        What disclosure control suppresses in the chart of list overlaps (patterns, list totals,
        the number of people: :func:`fl_estimate.plotting.plot_overlaps`'s ``hidden``).
    executor : concurrent.futures.Executor, optional
        Where the charts are drawn (in two groups at once, while this process writes the
        tables; the same bytes as drawn here), e.g. the annual run's worker processes, which
        share ``stage``'s file system. Default: here.
    """
    files: list[str] = []
    pub = _publishable(spec, tables)
    charted = {  # the charts show what the tables publish: suppressed counts are not drawn
        name: df.assign(observed=pd.to_numeric(df["observed"], errors="coerce").astype(float))
        if "observed" in df.columns
        else df
        for name, df in pub.items()
    }
    args = (spec, stage, charted, pooled, comparison, comparison_label, truth, overlaps_hidden)
    # with workers, the charts are drawn there while this process writes the tables
    drawing = (
        [executor.submit(_draw_figures, *args, only=g) for g in _FIGURE_GROUPS]
        if (executor is not None)
        else []
    )
    for name, df in pub.items():
        write_csv(df, stage / f"{name}.csv")
        files.append(f"{name}.csv")
    # the workbook for readers: headings in the language, numbers kept as numbers with a display
    # format (Excel groups them in the reader's locale), day-first dates outside English
    lang = spec.language
    sheets = (
        pub if lang == "en" else {sheet_title(k, lang): _relabel(v, lang) for k, v in pub.items()}
    )
    dates = None if lang == "en" else "dd/mm/yyyy"
    write_xlsx(sheets, stage / "tables.xlsx", number_formats=True, date_format=dates)
    files.append("tables.xlsx")
    figs: dict[str, str] = {}
    for part in [job.result() for job in drawing] if drawing else [_draw_figures(*args)]:
        files += part[0]  # the groups in FIGURES's order, each drawn in order: as in one process
        figs.update(part[1])
    md, body = _report(spec, pub, figs, stage)
    atomic_write_text(stage / "report.md", md)
    atomic_write_text(stage / "report.html", body)
    files += ["report.md", "report.html"]
    return files


def _col(name: str, lang: str) -> str:
    """A stratum column in the report's words: its name in English, its label otherwise."""
    from fl_estimate.i18n import column_label

    return name if lang == "en" else column_label(name, lang)


def _a(text: str) -> str:
    """``text`` with its indefinite article ("an 80% ...", "a 95% ...")."""
    vowel_sound = text[:1] in "aeiou" or text.startswith(("8", "11", "18"))
    return f"{'an' if vowel_sound else 'a'} {text}"


def _interval_words(kinds: tuple[str, ...], lang: str = "en") -> str:
    _ = translator(lang).gettext
    return _(" or ").join(translate(INTERVAL_KINDS.get(k, k), lang) for k in kinds)


def _method_sentences(m: MethodSpec, role: str, lang: str = "en") -> list[str]:
    """What the method is and what its intervals are (``role`` already in the language)."""
    _ = translator(lang).gettext
    words = METHOD_WORDS.get(m.name)
    words = translate(words, lang) if words else _("the method {name}").format(name=m.name)
    out = [_("{role}: **{method}** ({words}).").format(role=role, method=m.name, words=words)]
    if not m.interval_kinds:
        out.append(_("The {method} estimates have no interval.").format(method=m.name))
        return out
    pct, kinds = percent(m.level, lang), _interval_words(m.interval_kinds, lang)
    # TRANSLATORS: {interval} is e.g. "a 95% bootstrap percentile interval"
    interval = (
        _a(f"{pct} {kinds}") if lang == "en" else _("a {pct} {kind}").format(pct=pct, kind=kinds)
    )
    text = _("Each {method} interval is {interval}").format(method=m.name, interval=interval)
    if m.conditional_on_model:
        text += _(
            ", conditional on the chosen model: it leaves out the uncertainty of choosing the "
            "model, so it understates the uncertainty"
        )
    elif m.name in _SELECTS_MODEL and any(k.startswith("bootstrap") for k in m.interval_kinds):
        text += _(" that repeats the model choice on every replicate")
    out.append(text + ".")
    return out


def _strata_words(spec: ReportSpec) -> str:
    lang = spec.language
    return translator(lang).gettext(" and ").join(_col(c, lang) for c in spec.strata)


def _totals_sentence(spec: ReportSpec) -> str:
    lang = spec.language
    _ = translator(lang).gettext
    lead = _("Each {strata} is estimated on its own; national totals").format(
        strata=_strata_words(spec)
    )
    pct = percent(spec.totals_level, lang)
    if spec.totals_from == "bootstrap replicates":
        return _(
            "{lead} add the strata's bootstrap replicates replicate by replicate, so their "
            "{pct} interval (a {kind} of the sums) reflects every stratum's uncertainty."
        ).format(lead=lead, pct=pct, kind=translate(INTERVAL_KINDS["bootstrap-percentile"], lang))
    if spec.totals_from == "posterior draws":
        return _(
            "{lead} add the strata's posterior draws draw by draw, so their {pct} interval "
            "(an {kind} of the sums) reflects every stratum's uncertainty."
        ).format(lead=lead, pct=pct, kind=translate(INTERVAL_KINDS["credible-eti"], lang))
    if spec.totals_from == "mixed":
        return _(
            "{lead} add the strata's bootstrap replicates or posterior draws where every stratum "
            "has them; a total without an interval has a stratum without them."
        ).format(lead=lead)
    return _(
        "{lead} add the strata's estimates and have no interval: intervals of strata cannot be "
        "added up, and an interval of a sum needs the strata's bootstrap replicates or "
        "posterior draws, which these results do not have."
    ).format(lead=lead)


def _sentences(spec: ReportSpec, strata: pd.DataFrame) -> list[str]:
    """The bullet points of "What the numbers mean", each one true of these results."""
    lang = spec.language
    _ = translator(lang).gettext
    head = strata[strata["method"] == spec.headline.name]
    n_strata = len(head)
    n_without = int(pd.to_numeric(head["estimate"], errors="coerce").isna().sum())
    out = [
        _(
            "The estimate counts victims who were identified by at least one provider and, from "
            "how the providers' lists overlap, those identified by none (the 'dark figure')."
        ),
        *_method_sentences(spec.headline, _("Headline method"), lang),
    ]
    for m in spec.comparison:
        out += _method_sentences(m, _("Shown beside it for comparison"), lang)
    out.append(_totals_sentence(spec))
    assumes = _FAMILY_ASSUMES.get(spec.headline.family, _FAMILY_ASSUMES["other"])
    out.append(
        _(
            "The headline method assumes a closed population in each {strata}, that the same "
            "person was recognised across the providers' lists, and {assumes}. People whom no "
            "provider is ever likely to meet are not counted: the estimate is best read as a "
            "lower bound on the true number."
        ).format(strata=_strata_words(spec), assumes=translate(assumes, lang))
    )
    if n_without:
        out.append(
            _(
                "{n} of {total} strata have no {method} estimate (the status column says why); "
                "their identified victims are added to the totals without a dark figure."
            ).format(n=n_without, total=n_strata, method=spec.headline.name)
        )
    else:
        out.append(
            _("Every one of the {n} strata has a {method} estimate.").format(
                n=n_strata, method=spec.headline.name
            )
        )
    out.append(
        _(
            "Counts of identified people below {threshold} are suppressed in published tables, "
            "with further cells hidden where totals would reveal them."
        ).format(threshold=spec.threshold)
    )
    return out


def _int(v: Any, lang: str) -> str:
    return f"{v:,.0f}" if lang == "en" else format_number(v, lang, 0)


def _key_lines(spec: ReportSpec, national: pd.DataFrame) -> list[str]:
    lang = spec.language
    _ = translator(lang).gettext
    summed = national[national["kind"] == "sum of strata"]
    lines = []
    for _i, r in summed.iterrows():
        label = ", ".join(str(r[c]) for c in spec.strata[1:] if c in r) or _("all")
        ci = (
            _(" (no interval)")
            if pd.isna(r["ci_low"])
            else _(" ({pct} interval {low} to {high})").format(
                pct=percent(spec.totals_level, lang),
                low=_int(r["ci_low"], lang),
                high=_int(r["ci_high"], lang),
            )
        )
        lines.append(
            _(
                "- **{label}**: about **{estimate}** victims{ci}; {observed} were identified by "
                "at least one provider."
            ).format(
                label=label,
                estimate=_int(r["estimate"], lang),
                ci=ci,
                observed="—" if pd.isna(r["observed"]) else _int(int(r["observed"]), lang),
            )
        )
    return lines


def _linkage_lines(spec: ReportSpec) -> list[str]:
    """The linkage-quality section: shares, and counts at or above the disclosure threshold."""
    q = spec.linkage
    assert q is not None
    lang = spec.language
    _ = translator(lang).gettext

    def count(v: float | None) -> str | None:
        return _int(v, lang) if v is not None and v >= spec.threshold else None

    def share(v: float | None) -> str:
        return format_percent(v, lang, digits=1)

    def prob(v: float | None) -> str:
        return format_number(v, lang, None)

    lines = []
    records, persons = count(q.records), count(q.persons)
    if q.share_merged is not None:
        if records is not None and persons is not None:
            lines.append(
                _(
                    "{records} records from the providers were linked into {persons} persons: "
                    "{share} of the records were merged with another record of the same person."
                ).format(records=records, persons=persons, share=share(q.share_merged))
            )
        else:
            lines.append(
                _("{share} of the records were merged with another record of the same person.")
                .format(share=share(q.share_merged))
            )  # fmt: skip
    if q.data_driven and q.thresholds and len(set(q.thresholds)) > 1:
        lines.append(
            _("Match thresholds {thresholds}, chosen from the data for the first linkage and for "
              "each period of records added to it since (expected false and missed links "
              "balance).").format(thresholds=", ".join(prob(t) for t in q.thresholds))
        )  # fmt: skip
    elif q.data_driven:
        lines.append(
            _("Match threshold {threshold}, chosen from the data (expected false and missed "
              "links balance).").format(threshold=prob(q.threshold))
        )  # fmt: skip
    elif q.data_threshold is not None:
        lines.append(
            _("Match threshold {threshold}; the threshold chosen from the data would be {auto}.")
            .format(threshold=prob(q.threshold), auto=prob(round(q.data_threshold, 3)))
        )  # fmt: skip
        if q.threshold == DEFAULT_THRESHOLD < q.data_threshold:
            lines.append(
                _("The default threshold, {threshold}, also links pairs more likely to be two "
                  "people than one: on synthetic countries with known truth it gave counts of "
                  "persons and estimates closer to the truth than the threshold chosen from the "
                  "data, which leaves more records of one person apart.")
                .format(threshold=prob(q.threshold))
            )  # fmt: skip
    if q.precision is not None and q.recall is not None:
        lines.append(
            _(
                "Estimated from the linkage model's match probabilities: precision {precision} "
                "(pairs linked that are the same person) and recall {recall} (pairs of the same "
                "person that were linked); both assume that the model's probabilities are right."
            ).format(precision=share(q.precision), recall=share(q.recall))
        )
    if q.plausible is not None:
        lo, hi = (prob(t) for t in q.plausible)
        p_lo, p_hi = (count(v) for v in q.persons_range or (None, None))
        n_lo, n_hi = (count(v) for v in q.n_hat_range or (None, None))
        if p_lo is not None and p_hi is not None:
            lines.append(
                _("Across the plausible match thresholds ({low} to {high}), the one used and the "
                  "one chosen from the data: from {p_low} to {p_high} persons.")
                .format(low=lo, high=hi, p_low=p_lo, p_high=p_hi)
            )  # fmt: skip
        if n_lo is not None and n_hi is not None:
            lines.append(
                _("Across the same thresholds, N-hat of the reference model (fitted to the table "
                  "pooled over strata, to compare thresholds) goes from {n_low} to {n_high}.")
                .format(n_low=n_lo, n_high=n_hi)
            )  # fmt: skip
    unc = q.with_linkage_error
    if unc is not None and all(count(v) is not None for v in unc):
        n0, lo0, hi0, n1, lo1, hi1 = (count(v) for v in unc)
        lines.append(
            _("With linkage error (links drawn from their match probabilities), N-hat of the "
              "reference model is {n1} ({low1} to {high1}), against {n0} ({low0} to {high0}) "
              "without; the figures above do not include linkage error.")
            .format(n0=n0, low0=lo0, high0=hi0, n1=n1, low1=lo1, high1=hi1)
        )  # fmt: skip
    if q.warnings:
        lines.append(
            _("{n} linkage warning(s), listed with the warnings below.").format(n=len(q.warnings))
        )
    else:
        lines.append(_("No linkage warning."))
    return [f"- {line}" for line in lines]


def _input_lines(spec: ReportSpec) -> list[str]:
    """How each input file was read (encoding, separator, decimal sign)."""
    _ = translator(spec.language).gettext
    return [
        "- " + _("{file}: {how}").format(file=name, how=info.describe(spec.language))
        for name, info in spec.inputs
    ]


def _statistics_section(spec: ReportSpec) -> tuple[str, str, str]:
    """The section on the periodic statistics: heading, Markdown and HTML (links to them)."""
    st = spec.statistics
    assert st is not None
    _ = translator(spec.language).gettext
    doc, book = f"{st.folder}/{st.document}", f"{st.folder}/{st.workbook}"
    lead = _(
        "Counts of the identified victims, cases and perpetrators the providers recorded, by "
        "region and period, classified as in the IC-TIP (International Classification for "
        "Administrative Data on Trafficking in Persons): counts of what was recorded, not "
        "estimates. {n} tables, with their notes, in {document} and {workbook}; one CSV each:"
    )
    how = (
        _("Victims are counted as records and as the persons the linkage above made of them.")
        if st.linked
        else _("The victim files were not linked: the victims are counted as records only.")
    )
    sdc = _(
        "The statistics tables are protected together (every table, period and level): no "
        "hidden count can be narrowed from all of them to fewer than {values} possible values."
    ).format(values=spec.threshold + 1)
    title = _("Periodic statistics (IC-TIP)")
    e = escape_markdown_html
    md_lead = e(lead).format(n=len(st.tables), document=f"[{e(doc)}]({doc})",
                          workbook=f"[{e(book)}]({book})")  # fmt: skip
    md = [f"- {md_lead}", *(f"  - [{e(h)}]({f})" for h, f in st.tables), f"- {e(how)}",
          f"- {e(sdc)}"]  # fmt: skip

    def a(href: str, text: str) -> str:
        return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"

    html_lead = html.escape(lead).format(n=len(st.tables), document=a(doc, doc),
                                         workbook=a(book, book))  # fmt: skip
    items = "".join(f"<li>{a(f, h)}</li>" for h, f in st.tables)
    body = (
        f"<h2>{html.escape(title)}</h2><ul><li>{html_lead}<ul>{items}</ul></li>"
        f"<li>{html.escape(how)}</li><li>{html.escape(sdc)}</li></ul>"
    )
    return title, "\n".join(md), body


def _report(
    spec: ReportSpec, pub: dict[str, pd.DataFrame], figs: dict[str, str], stage: Path
) -> tuple[str, str]:
    lang = spec.language
    _ = translator(lang).gettext
    nat = pub["national_estimates"]
    sections = [
        (_("Key figures"), "\n".join(_key_lines(spec, nat))),
        (
            _("What the numbers mean"),
            "\n".join(f"- {c}" for c in _sentences(spec, pub["strata_estimates"])),
        ),
    ]
    if spec.linkage is not None:
        sections.append((_("Linkage quality"), "\n".join(_linkage_lines(spec))))
    warn = pub.get("warnings")
    if warn is not None and len(warn):
        msgs = list(dict.fromkeys(m if isinstance(m, str) else str(m) for m in warn["warning"]))
        lines = [f"- {translate(m, lang)}" for m in msgs[:10]]
        if len(msgs) > 10:
            lines.append(_("- ... and {n} more (warnings.csv)").format(n=len(msgs) - 10))
        sections.append((_("Warnings from the linkage and the estimation"), "\n".join(lines)))
    if spec.inputs:
        sections.append((_("How the input files were read"), "\n".join(_input_lines(spec))))
    tables = [
        (_("National estimates"), nat),
        (_("Estimates by {strata}").format(strata=_strata_words(spec)), pub["strata_estimates"]),
        (_("Sensitivity: lists left out and merged"), pub["sensitivity"]),
    ]
    if len(pub["top_models"]):
        tables.append((_("Top models by BIC"), pub["top_models"]))
    md = [f"# {escape_markdown_html(spec.title)}\n"]
    stats = _statistics_section(spec) if spec.statistics is not None else None
    for title, text in sections:
        md.append(f"## {escape_markdown_html(title)}\n\n{escape_markdown_html(text)}\n")
    if stats is not None:
        md.append(f"## {escape_markdown_html(stats[0])}\n\n{stats[1]}\n")
    for name, caption in figs.items():
        cap = escape_markdown_html(caption)
        md.append(f"## {cap}\n\n![{cap}]({name}.png)\n")
    for title, df in tables:
        md.append(f"## {title}\n\n" + _md_table(df, lang=lang) + "\n")
    md.append(
        "## "
        + _("Files")
        + "\n\n"
        + _(
            "Tables as CSV and in `tables.xlsx`; figures as PNG and SVG; `manifest.json` records "
            "the inputs' SHA-256 hashes, the configuration, the seed and the package versions."
        )
        + "\n"
    )
    md_text = "\n".join(md)

    css = (
        "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}table.t{border-collapse:collapse;font-size:.8rem}"
        "table.t td,table.t th{padding:.2rem .5rem;border-bottom:1px solid #ddd;"
        "text-align:right}img{max-width:100%}h1{font-size:1.6rem}"
        "div.scroll{max-width:100%;overflow-x:auto}"
    )
    parts = [
        f"<!DOCTYPE html><html lang='{html.escape(spec.language)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(spec.title)}</title><style>{css}</style></head><body>",
        f"<h1>{html.escape(spec.title)}</h1>",
    ]
    for title, text in sections:
        items = "".join(f"<li>{_inline(line[2:])}</li>" for line in text.splitlines())
        parts.append(f"<h2>{html.escape(title)}</h2><ul>{items}</ul>")
    if stats is not None:
        parts.append(stats[2])
    for name, caption in figs.items():
        b64 = base64.b64encode((stage / f"{name}.png").read_bytes()).decode()
        parts.append(
            f"<h2>{html.escape(caption)}</h2>"
            f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'>"
        )
    for title, df in tables:
        parts.append(f"<h2>{html.escape(title)}</h2>" + _html_table(df, lang=lang))
    parts.append("</body></html>\n")
    return md_text, "".join(parts)


def _inline(text: str) -> str:
    """Markdown bold (**x**) to HTML, everything else escaped."""
    out = html.escape(text)
    pieces = out.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(pieces))
