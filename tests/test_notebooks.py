"""The notebooks in notebooks/: each runs top to bottom on the sample data and shows what it says
it shows (its charts as images, its key numbers), and the committed files carry those outputs.

The run here uses FL_QUICK=1 (short MCMC, few bootstrap replicates), as notebooks/make_notebooks.py
--quick does; the committed notebooks were run without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))

#: Per notebook: code cells (found by a piece of their source) that draw a chart.
CHARTS = {
    "01_quick_start_uk2013": ("plot_overlaps(data)", "cmp.plot()"),
    "02_indicators_and_survey_prevalence": ("plot_indicator_prevalence(by_region)",),
    "03_annual_report_from_provider_lists": ("plot_trend_by_region(", "plot_national_trend("),
}

#: Per notebook: (piece of a cell's source, pattern its text output must match). The numbers are
#: facts of the sample data that do not depend on a seed (UK 2013: 2,744 people observed, 1,102
#: on PF; the stepwise model's Wald estimate 11,418 matches SparseMSE, see tests/mse; the survey's
#: 110 of 4,000 respondents in forced labour and its design-based 26.3 per 1,000) or of the
#: notebook's own tables.
FACTS = {
    "01_quick_start_uk2013": (
        ('desc["lists"]', r"PF\s+1102"),
        ("summary())", r"Observed\s+2,744"),
        ("summary())", r"Estimate N\s+11,418\.0"),
    ),
    "02_indicators_and_survey_prevalence": (
        ("print(scored.summary())", r"4000 records"),
        ("print(scored.summary())", r"forced_labour\s+110\s+0\.0275"),
        ("table = res.to_frame()", r"all\s+26\.30"),
    ),
    "03_annual_report_from_provider_lists": (
        ('main(["submissions"', r"REJECTED"),
        ('nat = result.tables["national_estimates"]', r"sum of strata"),
        ('nat = result.tables["national_estimates"]', r"2023"),
    ),
}


def _cell(nb: nbformat.NotebookNode, piece: str) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if c.cell_type == "code" and piece in c.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {piece!r}"
    return cells[0]


def _pngs(cell: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o["text"])
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _check_outputs(nb: nbformat.NotebookNode, stem: str) -> None:
    for piece in CHARTS[stem]:
        assert _pngs(_cell(nb, piece)) >= 1, f"{stem}: no chart shown by the cell with {piece!r}"
    for piece, pattern in FACTS[stem]:
        text = _text(_cell(nb, piece))
        assert re.search(pattern, text), f"{stem}: {pattern!r} not in the output of {piece!r}"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_charts(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FL_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend shows charts
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    _check_outputs(nb, path.stem)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_shows_its_outputs(path: Path) -> None:
    """The files as committed (notebooks/make_notebooks.py runs them) show charts and numbers
    to a reader who opens them without running anything."""
    _check_outputs(nbformat.read(path, as_version=4), path.stem)


def test_there_are_three_notebooks() -> None:
    assert sorted(CHARTS) == [p.stem for p in NOTEBOOKS]
