"""Publication charts: trends by region and nationally, regional comparison, indicator prevalence.

Every function takes ``ax=None`` (an Axes, or for small multiples an array of Axes) and returns what
it drew on. Colours: Okabe–Ito (colour-blind safe). The method comparison is
:meth:`fl_estimate.results.Comparison.plot` and the list overlaps :func:`fl_estimate.plotting.plot_overlaps`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate._figures import subplots
from fl_estimate._palette import OKABE_ITO
from fl_estimate.i18n import format_int, translator
from fl_estimate.reporting.spec import percent

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_indicator_prevalence",
    "plot_national_trend",
    "plot_regional_comparison",
    "plot_trend_by_region",
]

EST = OKABE_ITO[0]
OBS = OKABE_ITO[1]
TRUTH = OKABE_ITO[3]


def _thousands(ax: Axes, axis: str = "y", lang: str = "en") -> None:
    from matplotlib.ticker import FuncFormatter

    if lang == "en":
        fmt = FuncFormatter(lambda v, _p: f"{v:,.0f}")
    else:
        fmt = FuncFormatter(lambda v, _p: format_int(v, lang))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def plot_trend_by_region(
    strata: pd.DataFrame,
    ax: Any = None,
    *,
    region: str = "region",
    year: str = "year",
    truth: pd.DataFrame | None = None,
    ncols: int = 4,
    level: float = 0.95,
    lang: str = "en",
) -> Any:
    """Small multiples: one panel per region, estimate over years with its interval as a ribbon,
    observed counts as bars underneath (and the true size when known, for simulated data).

    Parameters
    ----------
    strata : DataFrame
        Columns ``region``, ``year``, ``observed``, ``estimate``, ``ci_low``, ``ci_high`` (one
        method). Strata that were not estimable have no estimate: the panel shows a gap.
    ax : array of Axes, optional
        One per region; made if omitted.
    truth : DataFrame, optional
        Columns ``region``, ``year``, ``N``.
    level : float
        The intervals' level (for the legend).
    lang : str
        Language of the labels and number format (``en``, ``fr``).

    Returns
    -------
    ndarray of Axes
    """
    _ = translator(lang).gettext
    pct = percent(level, lang)
    regions = sorted(strata[region].unique(), key=str)
    n = len(regions)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    if ax is None:
        fig, axes = subplots(
            (3.0 * cols, 2.4 * rows + 0.6),
            nrows=rows,
            ncols=cols,
            sharex=True,
            sharey=True,
            squeeze=False,
        )
    else:
        axes = np.atleast_1d(ax).reshape(-1)
        fig = axes[0].figure
    flat = np.atleast_1d(axes).reshape(-1)
    ymax = np.nanmax(
        pd.to_numeric(strata["ci_high"], errors="coerce").to_numpy(dtype=float),
        initial=float(strata["observed"].max()),
    )
    for a, reg in zip(flat, regions, strict=False):
        d = strata[strata[region] == reg].sort_values(year)
        x = d[year].to_numpy()
        a.bar(x, d["observed"], color=OBS, alpha=0.55, width=0.6, label=_("observed"))
        est = pd.to_numeric(d["estimate"], errors="coerce").to_numpy(dtype=float)
        lo = pd.to_numeric(d["ci_low"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(d["ci_high"], errors="coerce").to_numpy(dtype=float)
        a.fill_between(
            x, lo, hi, color=EST, alpha=0.2, lw=0, label=_("{pct} interval").format(pct=pct)
        )
        a.plot(x, est, "o-", color=EST, ms=4, lw=1.5, label=_("estimate"))
        if truth is not None:
            t = truth[truth[region] == reg].sort_values(year)
            a.plot(t[year], t["N"], "x", color=TRUTH, ms=6, label=_("true size"))
        a.set_title(str(reg), fontsize=9)
        a.set_xticks(sorted(strata[year].unique()))
        a.tick_params(labelsize=8)
        a.grid(axis="y", color="0.9")
        a.set_axisbelow(True)
        a.set_ylim(0, ymax * 1.08)
        _thousands(a, lang=lang)
    for a in flat[n:]:
        a.set_visible(False)
    handles, labels = flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(labels),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.supylabel(_("People"), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return flat[:n]


def plot_national_trend(
    national: pd.DataFrame,
    ax: Axes | None = None,
    *,
    year: str = "year",
    truth: pd.Series | None = None,
    level: float = 0.95,
    lang: str = "en",
) -> Axes:
    """National total over years: sum of strata with its interval as a ribbon, the pooled national
    fit as a second line, observed counts as bars.

    Parameters
    ----------
    national : DataFrame
        The run's ``national_estimates`` table (columns ``kind``, ``year``, ``observed``,
        ``estimate``, ``ci_low``, ``ci_high``).
    truth : Series, optional
        True totals indexed by year.
    level : float
        The intervals' level (for the legend).
    lang : str
        Language of the labels and number format (``en``, ``fr``).
    """
    _ = translator(lang).gettext
    if ax is None:
        _fig, ax = subplots((6.4, 3.8))
    summed = national[national["kind"] == "sum of strata"].sort_values(year)
    pooled = national[national["kind"] != "sum of strata"].sort_values(year)
    x = summed[year].to_numpy()
    ax.bar(x, summed["observed"], color=OBS, alpha=0.55, width=0.55, label=_("observed"))
    lo = pd.to_numeric(summed["ci_low"], errors="coerce")
    hi = pd.to_numeric(summed["ci_high"], errors="coerce")
    ax.fill_between(
        x,
        lo,
        hi,
        color=EST,
        alpha=0.2,
        lw=0,
        label=_("{pct} interval (sum of strata)").format(pct=percent(level, lang)),
    )
    ax.plot(x, summed["estimate"], "o-", color=EST, label=_("estimate (sum of strata)"))
    if len(pooled):
        first = pooled["method"].iloc[0]
        p = pooled[pooled["method"] == first]
        ax.errorbar(
            p[year].to_numpy(dtype=float) + 0.12,
            p["estimate"],
            yerr=[
                p["estimate"] - pd.to_numeric(p["ci_low"], errors="coerce"),
                pd.to_numeric(p["ci_high"], errors="coerce") - p["estimate"],
            ],
            fmt="s",
            color=OKABE_ITO[2],
            ms=4,
            capsize=3,
            label=_("national fit, strata pooled"),
        )
    if truth is not None:
        ax.plot(
            truth.index.to_numpy(), truth.to_numpy(), "x", color=TRUTH, ms=8, label=_("true size")
        )
    ax.set_xticks(x)
    ax.set_xlabel(_("Year"))
    ax.set_ylabel(_("People"))
    _thousands(ax, lang=lang)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    return ax


def plot_regional_comparison(
    strata: pd.DataFrame,
    ax: Axes | None = None,
    *,
    region: str = "region",
    value: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    xlabel: str | None = None,
    level: float = 0.95,
    lang: str = "en",
) -> Axes:
    """Dot-and-interval chart: one row per region (one year), sorted by the estimate; observed
    counts as open circles; regions without an estimate are listed as "not estimable".

    ``xlabel`` defaults to "Estimated number of victims (95% interval)" with the ``level``
    given; ``lang`` is the language of the labels and number format (``en``, ``fr``)."""
    _ = translator(lang).gettext
    if xlabel is None:
        xlabel = _("Estimated number of victims ({pct} interval)").format(pct=percent(level, lang))
    d = strata.copy()
    d["_v"] = pd.to_numeric(d[value], errors="coerce")
    d = d.sort_values("_v", na_position="first")
    if ax is None:
        _fig, ax = subplots((6.4, 0.42 * len(d) + 1.2))
    y = np.arange(len(d))
    for yi, (_i, r) in zip(y, d.iterrows(), strict=True):
        if np.isnan(r["_v"]):
            ax.text(
                0.5,
                float(yi),
                _("not estimable"),
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color=OKABE_ITO[3],
            )
            continue
        ax.plot([r[low], r[high]], [yi, yi], color=EST, lw=2)
        ax.plot(r["_v"], yi, "o", color=EST, ms=6)
    if "observed" in d.columns:
        ax.plot(d["observed"], y, "o", mfc="none", color=OBS, ms=6, label=_("observed"))
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_yticks(y)
    ax.set_yticklabels(d[region].astype(str))
    ax.set_xlabel(xlabel)
    _thousands(ax, "x", lang)
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlim(left=0)
    return ax


def plot_indicator_prevalence(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    domain: str = "domain",
    value: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    unit: str | None = None,
    level: float = 0.95,
    lang: str = "en",
) -> Axes:
    """Indicator or forced-labour prevalence by region with its design-based interval.

    ``unit`` defaults to "per 1,000" in ``lang`` (the language of the labels and numbers)."""
    _ = translator(lang).gettext
    if unit is None:
        unit = _("per 1,000")
    return plot_regional_comparison(
        table,
        ax,
        region=domain,
        value=value,
        low=low,
        high=high,
        xlabel=_("Prevalence {unit} ({pct} interval)").format(unit=unit, pct=percent(level, lang)),
        level=level,
        lang=lang,
    )
