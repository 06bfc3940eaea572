"""Charts shared by the layers. Every function takes ``ax=None`` and returns the Axes it drew on.

Colours follow the Okabe–Ito palette, which stays distinguishable with the common colour-vision
deficiencies.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import TYPE_CHECKING

import numpy as np

from fl_estimate._palette import OKABE_ITO
from fl_estimate.i18n import N_

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from fl_estimate.mse.data import CaptureData

__all__ = ["OKABE_ITO", "plot_overlaps"]


def plot_overlaps(
    data: CaptureData,
    ax: Axes | None = None,
    *,
    max_patterns: int = 30,
    min_count: int = 1,
    hidden: Collection[Hashable] = (),
    lang: str = "en",
) -> Axes:
    """UpSet-style chart of the capture patterns, drawn in one Axes.

    Bars (top) give the number of people with each observed pattern, largest first; the dot matrix
    (bottom) shows which lists make up the pattern. List totals are printed beside the list names.

    Parameters
    ----------
    data : CaptureData
    ax : Axes, optional
    max_patterns : int
        Show at most this many patterns (the largest); the title says how many were left out.
    min_count : int
        Leave out patterns with fewer people (for a published chart: the disclosure threshold,
        so that no small count is drawn or printed); the title says so.
    hidden : collection
        What disclosure control suppresses (:func:`fl_estimate.pipeline.published.chart_hidden`):
        patterns, as tuples of the names of their lists, are not drawn (they keep their place
        among the ``max_patterns`` largest: no smaller pattern takes it); a list's name: its
        total is not printed; ``"Total"``: the number of people is not printed.
    lang : str
        Language of the title, the axis label and the numbers (``"fr"``: ``1 910``).

    Returns
    -------
    Axes
    """
    from fl_estimate._figures import subplots
    from fl_estimate.i18n import format_int, translate

    def count(v: float) -> str:
        return f"{int(v):,}" if lang == "en" else format_int(int(v), lang)

    k = data.n_lists
    order = np.argsort(-data.counts, kind="stable")
    order = order[data.counts[order] >= max(1, int(min_count))]
    names = [tuple(data.lists[j] for j in np.flatnonzero(p)) for p in data.patterns]
    shown = np.array([i for i in order[:max_patterns] if names[i] not in hidden], dtype=int)
    m = len(shown)
    if ax is None:
        _, ax = subplots((max(6.0, 0.32 * m + 2.5), 4.8))
    counts = data.counts[shown].astype(float)
    top = counts.max() if m else 1.0
    # matrix occupies y in [-(k) * step, 0); bars occupy [0.08 top, 1.08 top]
    step = top * 0.09
    base = top * 0.06
    x = np.arange(m)
    ax.bar(x, counts, bottom=base, color=OKABE_ITO[0], width=0.7)
    for xi, c in zip(x, counts, strict=True):
        ax.text(float(xi), base + c + top * 0.01, count(c), ha="center", va="bottom", fontsize=7)
    totals = data.list_totals()
    for j in range(k):
        yj = -(j + 0.5) * step
        if j % 2 == 0:
            ax.axhspan(yj - step / 2, yj + step / 2, color="0.95", zorder=0)
        on = data.patterns[shown, j].astype(bool)
        ax.scatter(x[~on], np.full((~on).sum(), yj), s=28, color="0.82", zorder=2)
        ax.scatter(x[on], np.full(on.sum(), yj), s=28, color="0.1", zorder=3)
        label = (
            data.lists[j]
            if data.lists[j] in hidden
            else f"{data.lists[j]} ({count(totals.iloc[j])})"
        )
        ax.text(
            -0.8,
            yj,
            label,
            ha="right",
            va="center",
            fontsize=8,
        )
    for xi, idx in zip(x, shown, strict=True):
        js = np.flatnonzero(data.patterns[idx])
        if len(js) > 1:
            ax.plot(
                [xi, xi],
                [-(js.min() + 0.5) * step, -(js.max() + 0.5) * step],
                color="0.1",
                lw=1.5,
                zorder=2,
            )
    ax.set_xlim(-0.7, max(m, 1) - 0.3)
    ax.set_ylim(-(k + 0.1) * step, base + top * 1.15)
    ax.set_xticks([])
    yt = ax.get_yticks()
    yt = yt[(yt >= 0) & (yt <= top)]
    ax.set_yticks(yt + base)
    ax.set_yticklabels([count(v) for v in yt])
    ax.set_ylabel(translate(N_("People with this pattern"), lang))
    lo, hi = ax.get_ylim()
    ax.yaxis.set_label_coords(-0.07, (base + top / 2 - lo) / (hi - lo))
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_bounds(base, base + top)
    left_out = int((data.counts > 0).sum()) - m
    if "Total" in hidden:
        title = N_("Capture patterns: people on {k} lists", k=k)
    else:
        title = N_("Capture patterns: {n:,} people on {k} lists", n=data.n_observed, k=k)
    if left_out > 0 and any(n in hidden for n in names):
        more = N_("{n} patterns not shown: the smaller ones and those suppressed", n=left_out)
    elif left_out > 0 and min_count > 1:
        more = N_(
            "{n} patterns not shown: the smaller ones, each under {min_count}",
            n=left_out,
            min_count=min_count,
        )
    elif left_out > 0:
        more = N_("{n} smaller patterns not shown", n=left_out)
    else:
        more = None
    if more is not None:
        title = N_("{title} ({more})", title=title, more=more)
    ax.set_title(translate(title, lang), fontsize=10, loc="left")
    return ax
