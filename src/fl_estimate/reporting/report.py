"""Write the annual run's outputs: tables (CSV and one Excel workbook), figures (PNG and SVG),
and a report (Markdown and a self-contained HTML page) that a ministry reader can follow.

Every table meant for publication goes through :func:`fl_estimate.disclosure.suppress`: observed
counts below the threshold are suppressed (with secondary suppression where margins are
published), and the report says so.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.disclosure import suppress
from fl_estimate.results import INTERVAL_KINDS, compare

if TYPE_CHECKING:
    from fl_estimate.mse.data import StratifiedCaptureData
    from fl_estimate.pipeline.config import RunConfig
    from fl_estimate.pipeline.run import StratumOutcome

__all__ = ["write_outputs"]


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


def _protect_observed(df: pd.DataFrame, threshold: int, col: str = "observed") -> pd.DataFrame:
    """Primary suppression of small observed counts in a column (the table publishes no margins
    over that column); a flag column says what was hidden."""
    if col not in df.columns:
        return df
    out = df.copy()
    small = (out[col] > 0) & (out[col] < threshold)
    out[col] = out[col].astype("Int64").mask(small)
    out[f"{col}_suppressed"] = np.where(small, f"below {threshold}", "")
    return out


def _md_table(df: pd.DataFrame, max_rows: int = 60) -> str:
    d = df.head(max_rows)
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for _, r in d.iterrows():
        cells = []
        for v in r.to_numpy():
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}")
            elif v is None or v is pd.NA:
                cells.append("—")
            else:
                cells.append(str(v).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    if len(df) > max_rows:
        lines.append(f"\n({len(df) - max_rows} more rows in the CSV file)")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame, max_rows: int = 60) -> str:
    d = df.head(max_rows).copy()
    for c in d.columns:
        if d[c].dtype.kind == "f":
            d[c] = d[c].map(
                lambda v: "" if np.isnan(v) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
            )
    return str(d.to_html(index=False, na_rep="—", border=0, classes="t", escape=True))


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _save(fig: Any, stage: Path, name: str) -> list[str]:
    files = []
    for ext in ("png", "svg"):
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        fig.savefig(stage / f"{name}.{ext}", dpi=150, bbox_inches="tight", metadata=meta)
        files.append(f"{name}.{ext}")
    return files


def write_outputs(
    cfg: RunConfig,
    stage: Path,
    tables: dict[str, Any],
    outcomes: list[StratumOutcome],
    data: StratifiedCaptureData,
) -> list[str]:
    """Write tables, figures and the report into ``stage``; return the file names written."""
    import matplotlib

    matplotlib.use("Agg")

    from fl_estimate.plotting import plot_overlaps
    from fl_estimate.reporting.charts import (
        plot_national_trend,
        plot_regional_comparison,
        plot_trend_by_region,
    )

    files: list[str] = []
    thr = cfg.threshold
    strata_cols = list(cfg.strata)
    national_results = tables.pop("_national_results", {})

    # ------------------------------------------------------------------ tables (protected)
    pub: dict[str, pd.DataFrame] = {}
    pub["strata_estimates"] = _protect_observed(_round(tables["strata_estimates"]), thr)
    pub["national_estimates"] = _round(tables["national_estimates"])
    pub["sensitivity"] = _round(tables["sensitivity"])
    pub["top_models"] = _round(tables["top_models"])
    obs = tables["observed_by_stratum"]
    if isinstance(obs, pd.DataFrame) and obs.shape[1] > 1:
        s = suppress(obs.fillna(0).astype(int), threshold=thr, source="observed_by_stratum")
        o = s.values.reset_index()
        o.columns = [str(c) for c in o.columns]
        pub["observed_by_stratum"] = o
        fl = s.flags.reset_index()
        fl.columns = [str(c) for c in fl.columns]
        pub["observed_by_stratum_flags"] = fl
    lt = tables["list_totals"].set_index(strata_cols)
    s2 = suppress(lt.astype(int), threshold=thr, margins=False, source="list_totals")
    pub["list_totals"] = s2.values.reset_index()
    pub["warnings"] = tables["warnings"]
    for name, df in pub.items():
        df.to_csv(stage / f"{name}.csv", index=False, lineterminator="\n")
        files.append(f"{name}.csv")
    xlsx = stage / "tables.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as xw:
        for name, df in pub.items():
            df.to_excel(xw, sheet_name=name[:31], index=False)
    files.append("tables.xlsx")

    # ------------------------------------------------------------------ figures
    truth_tab = pd.read_csv(cfg.truth) if cfg.truth is not None else None
    head = tables["strata_estimates"]
    head = head[head["method"] == cfg.headline]
    figs: dict[str, str] = {}
    if len(strata_cols) == 2:
        axes = plot_trend_by_region(
            head, region=strata_cols[0], year=strata_cols[1], truth=truth_tab
        )
        fig = axes[0].figure
        fig.suptitle(f"{cfg.headline}: estimated victims by region and year", fontsize=10, y=1.04)
        files += _save(fig, stage, "trend_by_region")
        figs["trend_by_region"] = "Estimates by region over time (bars: people identified)"
        _close(fig)
        truth_nat = truth_tab.groupby(strata_cols[1])["N"].sum() if truth_tab is not None else None
        ax = plot_national_trend(tables["national_estimates"], year=strata_cols[1], truth=truth_nat)
        ax.set_title(f"National total ({cfg.headline})", fontsize=10)
        files += _save(ax.figure, stage, "national_trend")
        figs["national_trend"] = "National total over time"
        _close(ax.figure)
        last = sorted(head[strata_cols[1]].unique())[-1]
        ax = plot_regional_comparison(head[head[strata_cols[1]] == last], region=strata_cols[0])
        ax.set_title(f"Regions in {last} ({cfg.headline})", fontsize=10)
        files += _save(ax.figure, stage, "regional_comparison")
        figs["regional_comparison"] = f"Regions compared, {last}"
        _close(ax.figure)
    if national_results:
        gkey = sorted(national_results, key=str)[-1]
        res = national_results[gkey]
        if res:
            cmp = compare(res)
            ax = cmp.plot()
            label = ", ".join(str(v) for v in gkey) if isinstance(gkey, tuple) else str(gkey)
            ax.set_title(f"Methods compared on the pooled national table, {label}", fontsize=10)
            files += _save(ax.figure, stage, "method_comparison")
            figs["method_comparison"] = "Methods compared (national table)"
            _close(ax.figure)
    pooled = data.collapse()
    ax = plot_overlaps(pooled)  # type: ignore[arg-type]
    files += _save(ax.figure, stage, "list_overlaps")
    figs["list_overlaps"] = "How the providers' lists overlap (all strata)"
    _close(ax.figure)

    # ------------------------------------------------------------------ report
    md, body = _report(cfg, pub, figs, outcomes, stage)
    (stage / "report.md").write_text(md, encoding="utf-8")
    (stage / "report.html").write_text(body, encoding="utf-8")
    files += ["report.md", "report.html"]
    return files


def _report(
    cfg: RunConfig,
    pub: dict[str, pd.DataFrame],
    figs: dict[str, str],
    outcomes: list[StratumOutcome],
    stage: Path,
) -> tuple[str, str]:
    nat = pub["national_estimates"]
    summed = nat[nat["kind"] == "sum of strata"]
    n_not = sum(not o.estimable for o in outcomes)
    kind_words = INTERVAL_KINDS.get(
        cfg.interval if cfg.interval != "bootstrap" else "bootstrap-bca", cfg.interval
    )
    key_lines = []
    for _, r in summed.iterrows():
        label = ", ".join(str(r[c]) for c in cfg.strata[1:] if c in r) or "all"
        ci = (
            ""
            if pd.isna(r["ci_low"])
            else f" (95% interval {r['ci_low']:,.0f} to {r['ci_high']:,.0f})"
        )
        key_lines.append(
            f"- **{label}**: about **{r['estimate']:,.0f}** victims{ci}; "
            f"{int(r['observed']):,} were identified by at least one provider."
        )
    caveats = [
        "The estimate counts victims who were identified by at least one provider and, "
        "from how the providers' lists overlap, those identified by none (the 'dark figure').",
        f"Headline method: **{cfg.headline}** (log-linear capture–recapture model chosen from "
        "the data). Each region and year is estimated on its own; national totals add the "
        "regions' bootstrap replicates, so their interval reflects every region's uncertainty.",
        f"Intervals are 95% {kind_words}s"
        + (
            " that repeat the model choice on every replicate"
            if cfg.interval == "bootstrap"
            else ", conditional on the chosen model (they understate uncertainty)"
        )
        + ".",
        "The method assumes a closed population in each region and year, that the providers' "
        "records were linked correctly, and that the chosen model captures how providers depend "
        "on each other. People whom no provider is ever likely to meet are not counted: the "
        "estimate is best read as a lower bound on the true number.",
        f"{n_not} of {len(outcomes)} region-year strata could not be estimated (too few people "
        "or lists); their identified victims are added to totals without a dark figure.",
        f"Counts of identified people below {cfg.threshold} are suppressed in published "
        "tables, with further cells hidden where totals would reveal them.",
    ]
    sections = [
        ("Key figures", "\n".join(key_lines)),
        ("What the numbers mean", "\n".join(f"- {c}" for c in caveats)),
    ]
    warn = pub.get("warnings")
    if warn is not None and len(warn):
        msgs = list(dict.fromkeys(str(m) for m in warn["warning"]))
        lines = [f"- {m}" for m in msgs[:10]]
        if len(msgs) > 10:
            lines.append(f"- ... and {len(msgs) - 10} more (warnings.csv)")
        sections.append(("Warnings from the linkage and the estimation", "\n".join(lines)))
    md = [f"# {cfg.title}\n"]
    for title, text in sections:
        md.append(f"## {title}\n\n{text}\n")
    for name, caption in figs.items():
        md.append(f"## {caption}\n\n![{caption}]({name}.png)\n")
    md.append("## National estimates\n\n" + _md_table(nat) + "\n")
    md.append("## Estimates by region and year\n\n" + _md_table(pub["strata_estimates"]) + "\n")
    md.append(
        "## Sensitivity: lists left out and merged\n\n" + _md_table(pub["sensitivity"]) + "\n"
    )
    if len(pub["top_models"]):
        md.append("## Top models by BIC\n\n" + _md_table(pub["top_models"]) + "\n")
    md.append(
        "## Files\n\nTables as CSV and in `tables.xlsx`; figures as PNG and SVG; "
        "`manifest.json` records the inputs' SHA-256 hashes, the configuration, the seed "
        "and the package versions.\n"
    )
    md_text = "\n".join(md)

    css = (
        "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}table.t{border-collapse:collapse;font-size:.8rem}"
        "table.t td,table.t th{padding:.2rem .5rem;border-bottom:1px solid #ddd;"
        "text-align:right}img{max-width:100%}h1{font-size:1.6rem}"
    )
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(cfg.title)}</title><style>{css}</style></head><body>",
        f"<h1>{html.escape(cfg.title)}</h1>",
    ]
    for title, text in sections:
        items = "".join(f"<li>{_inline(line[2:])}</li>" for line in text.splitlines())
        parts.append(f"<h2>{html.escape(title)}</h2><ul>{items}</ul>")
    for name, caption in figs.items():
        b64 = base64.b64encode((stage / f"{name}.png").read_bytes()).decode()
        parts.append(
            f"<h2>{html.escape(caption)}</h2>"
            f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'>"
        )
    parts.append("<h2>National estimates</h2>" + _html_table(nat))
    parts.append("<h2>Estimates by region and year</h2>" + _html_table(pub["strata_estimates"]))
    parts.append(
        "<h2>Sensitivity: lists left out and merged</h2>" + _html_table(pub["sensitivity"])
    )
    if len(pub["top_models"]):
        parts.append("<h2>Top models by BIC</h2>" + _html_table(pub["top_models"]))
    parts.append("</body></html>\n")
    return md_text, "".join(parts)


def _inline(text: str) -> str:
    """Markdown bold (**x**) to HTML, everything else escaped."""
    out = html.escape(text)
    pieces = out.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(pieces))
