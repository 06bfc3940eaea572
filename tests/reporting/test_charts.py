"""Image comparison of every chart type against committed baselines (matplotlib's own
compare_images, the engine pytest-mpl uses). Regenerate after a deliberate change with
FL_REGENERATE_BASELINES=1 and look at the new images before committing them.

Tolerance: RMS 2 (out of 255) absorbs anti-aliasing differences between FreeType builds while
failing on any moved label, legend, ribbon or marker.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.testing.compare import compare_images

from fl_estimate import EstimationResult, compare, read_capture_csv
from fl_estimate.plotting import plot_overlaps
from fl_estimate.reporting import (
    plot_indicator_prevalence,
    plot_national_trend,
    plot_regional_comparison,
    plot_trend_by_region,
)
from tests._refs import MSE_DATA

BASE = Path(__file__).resolve().parent / "baseline"
REGEN = os.environ.get("FL_REGENERATE_BASELINES") == "1"


def _strata() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for r, size in [("North", 120), ("South", 80), ("East", 60), ("West", 70), ("Lakes", 40)]:
        for i, y in enumerate((2021, 2022, 2023)):
            n = size * (1 + 0.1 * i)
            obs = int(n * 0.7)
            est = n * rng.uniform(0.9, 1.05)
            rows.append(
                {
                    "region": r,
                    "year": y,
                    "observed": obs,
                    "estimate": est,
                    "ci_low": est * 0.85,
                    "ci_high": est * 1.25,
                }
            )
    return pd.DataFrame(rows)


def _check(fig: plt.Figure, name: str, tmp_path: Path) -> None:
    actual = tmp_path / f"{name}.png"
    fig.savefig(actual, dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    expected = BASE / f"{name}.png"
    if REGEN:
        expected.write_bytes(actual.read_bytes())
        pytest.skip("baseline regenerated")
    assert expected.exists(), f"missing baseline {expected}; run with FL_REGENERATE_BASELINES=1"
    diff = compare_images(str(expected), str(actual), tol=2)
    assert diff is None, diff


def test_trend_by_region(tmp_path: Path) -> None:
    s = _strata()
    truth = s[["region", "year"]].assign(N=s["estimate"] * 1.02)
    axes = plot_trend_by_region(s, truth=truth)
    assert len(axes) == 5 and axes[0].get_title() == "East"
    _check(axes[0].figure, "trend_by_region", tmp_path)


def test_national_trend(tmp_path: Path) -> None:
    nat = pd.DataFrame(
        {
            "year": [2021, 2022, 2023] * 2,
            "kind": ["sum of strata"] * 3 + ["national fit (strata pooled)"] * 3,
            "method": ["stepwise"] * 6,
            "observed": [470, 520, 577] * 2,
            "estimate": [590, 676, 728, 618, 700, 757],
            "ci_low": [569, 652, 699, 577, 646, 719],
            "ci_high": [664, 758, 779, 651, 744, 800],
        }
    )
    ax = plot_national_trend(nat, truth=pd.Series([640, 704, 768], index=[2021, 2022, 2023]))
    assert ax.get_ylim()[0] == 0
    _check(ax.figure, "national_trend", tmp_path)


def test_regional_comparison(tmp_path: Path) -> None:
    s = _strata()
    one = s[s.year == 2023].copy()
    one.loc[one.region == "Lakes", ["estimate", "ci_low", "ci_high"]] = np.nan
    ax = plot_regional_comparison(one)
    assert next(t.get_text() for t in ax.get_yticklabels()) == "Lakes"  # not estimable first
    _check(ax.figure, "regional_comparison", tmp_path)


def test_indicator_prevalence(tmp_path: Path) -> None:
    t = pd.DataFrame(
        {
            "domain": ["North", "South", "East", "West"],
            "estimate": [12.5, 8.1, 20.3, 4.2],
            "ci_low": [9.0, 5.5, 15.2, 2.0],
            "ci_high": [16.8, 11.6, 26.4, 8.1],
        }
    )
    ax = plot_indicator_prevalence(t)
    assert "per 1,000" in ax.get_xlabel()
    _check(ax.figure, "indicator_prevalence", tmp_path)


def test_method_comparison_forest(tmp_path: Path) -> None:
    res = [
        EstimationResult(
            method="stepwise",
            model="m1",
            observed=2744,
            estimate=11418.0,
            interval=(9977.0, 13146.0),
            interval_kind="wald-log",
        ),
        EstimationResult(
            method="bic",
            model="m2",
            observed=2744,
            estimate=12350.0,
            interval=(10864.0, 14107.0),
            interval_kind="wald-log",
        ),
        EstimationResult.failed(
            method="loglinear", model="A:B", observed=2744, reason="r", code="no-mle"
        ),
    ]
    ax = compare(res).plot()
    _check(ax.figure, "method_comparison", tmp_path)


def test_list_overlaps_upset(tmp_path: Path) -> None:
    ax = plot_overlaps(read_capture_csv(MSE_DATA / "uk_2013.csv"))  # type: ignore[arg-type]
    assert ax.get_title(loc="left").startswith("Capture patterns: 2,744 people")
    _check(ax.figure, "list_overlaps", tmp_path)


def test_list_overlaps_draws_no_small_count() -> None:
    """With ``min_count`` (the report passes the disclosure threshold) no pattern of fewer people
    is drawn, and no printed number is below it: uk_2013 has 25 observed patterns, of which 10
    hold 1-4 people (counts in the committed table)."""
    data = read_capture_csv(MSE_DATA / "uk_2013.csv")
    small = int(((data.counts > 0) & (data.counts < 5)).sum())
    ax = plot_overlaps(data, min_count=5)  # type: ignore[arg-type]
    printed = [t.get_text().replace(",", "") for t in ax.texts]
    numbers = [int(t) for t in printed if t.isdigit()]
    assert numbers and min(numbers) >= 5
    assert len(numbers) == int((data.counts >= 5).sum())
    assert f"({small} patterns not shown" in ax.get_title(loc="left")
    plt.close(ax.figure)


def test_list_overlaps_leaves_out_what_disclosure_control_hides() -> None:
    """``hidden`` (from :func:`fl_estimate.pipeline.published.chart_hidden`): a suppressed
    pattern is not drawn and no smaller one takes its place, a suppressed list total is not
    printed beside its list, "Total" takes the number of people out of the title."""
    data = read_capture_csv(MSE_DATA / "uk_2013.csv")
    names = [tuple(data.lists[j] for j in np.flatnonzero(p)) for p in data.patterns]
    big = int(np.argmax(data.counts))
    n_big = int((data.counts >= 5).sum())
    first = data.lists[0]
    ax = plot_overlaps(data, min_count=5, hidden={names[big], first, "Total"})  # type: ignore[arg-type]
    printed = [t.get_text().replace(",", "") for t in ax.texts]
    numbers = [int(t) for t in printed if t.isdigit()]
    assert len(numbers) == n_big - 1 and int(data.counts[big]) not in numbers
    assert first in printed and not any(t.startswith(f"{first} (") for t in printed)
    title = ax.get_title(loc="left")
    assert title.startswith("Capture patterns: people on") and "those suppressed" in title
    plt.close(ax.figure)
    few = plot_overlaps(data, min_count=5, max_patterns=3, hidden={names[big]})  # type: ignore[arg-type]
    assert len([t for t in few.texts if t.get_text().replace(",", "").isdigit()]) == 2
    plt.close(few.figure)


def test_interval_labels_say_the_level() -> None:
    s = _strata()
    axes = plot_trend_by_region(s, level=0.9)
    assert "90% interval" in axes[0].get_legend_handles_labels()[1]
    plt.close(axes[0].figure)
    nat = s.groupby("year", as_index=False)[["observed", "estimate", "ci_low", "ci_high"]].sum()
    ax = plot_national_trend(nat.assign(kind="sum of strata", method="m"), level=0.8)
    assert "80% interval (sum of strata)" in ax.get_legend_handles_labels()[1]
    plt.close(ax.figure)
    ax = plot_regional_comparison(s[s.year == 2023], level=0.975)
    assert ax.get_xlabel() == "Estimated number of victims (97.5% interval)"
    plt.close(ax.figure)


def test_detached_figures_are_not_pyplot_figures() -> None:
    from fl_estimate._figures import detached

    before = plt.get_fignums()
    with detached():
        ax = plot_regional_comparison(_strata())
    assert plt.get_fignums() == before
    assert type(ax.figure.canvas).__name__ == "FigureCanvasAgg"
