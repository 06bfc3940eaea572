"""The French sample country end to end (data_samples/pays.toml), and its report in a browser.

One run of the sample (16 strata, 200 bootstrap replicates) is shared by the tests. The browser
check uses headless Chromium (Debian's ``chromium``) and skips, saying why, where it is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Injected into the report: writes the layout facts into the DOM once the page has loaded.
_PROBE = """<script>window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var out = document.createElement('pre'); out.id = 'probe';
  out.textContent = 'fits=' + (document.documentElement.scrollWidth <= window.innerWidth) +
    ' images=' + imgs.length + ' loaded=' + imgs.filter(function (i) {
      return i.complete && i.naturalWidth > 0; }).length +
    ' text=' + document.body.innerText.trim().length;
  document.body.appendChild(out);
});</script>"""


#: How many times the shared run linked the victim files (the statistics reuse its linkage).
LINKAGES: list[int] = []


@pytest.fixture(scope="module")
def french_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unittest import mock

    from fl_estimate.pipeline import linkage_sensitivity
    from fl_estimate.pipeline.run import run
    from fl_estimate.providers import linkrun

    out = tmp_path_factory.mktemp("pays") / "out"
    calls = mock.Mock(wraps=linkrun.link_submissions)
    with (
        warnings.catch_warnings(),
        mock.patch.object(linkrun, "link_submissions", calls),
        mock.patch.object(linkage_sensitivity, "link_submissions", calls),
    ):
        warnings.simplefilter("ignore", DeprecationWarning)  # SearchMSE alias in tables (main)
        run(ROOT / "data_samples" / "pays.toml", out=out, progress=False, cache=out.parent / "fits")
    LINKAGES.append(calls.call_count)
    return out


def test_french_report_is_in_french(french_run: Path) -> None:
    md = (french_run / "report.md").read_text(encoding="utf-8")
    for heading in (
        "## Chiffres clés",
        "## Ce que disent les chiffres",
        "## Estimations nationales",
        "## Lecture des fichiers d'entrée",
    ):
        assert heading in md
    for english in ("## Key figures", "What the numbers mean", "| ci_low |", "National estimates"):
        assert english not in md
    assert "borne inférieure" in md and "type d'intervalle" in md
    # the French Excel exports are said to be read as such (no byte 0x80-0x9F in this file, so
    # the reader names it Latin-1: the two agree on every byte it holds)
    assert re.search(
        r"police_2022-Q1\.csv : lu comme (Windows-1252|Latin-1).*séparateur\W+;", md
    ), md
    # percentages as French writes them (95 %, no-break space)
    assert "95\u00a0%" in md
    html = (french_run / "report.html").read_text(encoding="utf-8")
    assert "<html lang='fr'>" in html and "class='scroll'" in html


def test_french_workbook_keeps_numbers_as_numbers(french_run: Path) -> None:
    """tables.xlsx in a French run: headings in French, every number still a number (Excel
    formats it in the reader's locale through the cell's number format), never text such as
    '8 500'; English runs get the same formats with English headings (the test above)."""
    import openpyxl

    wb = openpyxl.load_workbook(french_run / "tables.xlsx")
    assert wb.sheetnames[0] == "estimations par strate" and "avertissements" in wb.sheetnames
    assert not [n for n in wb.sheetnames if "_" in n], wb.sheetnames  # no CSV names left
    ws = wb[wb.sheetnames[0]]
    headings = [c.value for c in ws[1]]
    assert "borne inférieure" in headings and "ci_low" not in headings, headings
    numbers = [c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, float)]
    assert numbers, "no numeric cells"
    assert all(c.number_format in ("#,##0", "#,##0.00") for c in numbers)
    texts = [c.value for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if re.fullmatch(r"[\d\s\u202f\u00a0]+(,\d+)?", t)], texts


def test_english_run_unchanged_words(french_run: Path, tmp_path: Path) -> None:
    """The same config with --lang en gives the English report (the French run's fit cache:
    the fits are the same in any language, and the suite's time is the French sample's)."""
    from fl_estimate.pipeline.run import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        run(
            ROOT / "data_samples" / "pays.toml",
            out=tmp_path / "en",
            progress=False,
            lang="en",
            cache=french_run.parent / "fits",
        )
    md = (tmp_path / "en" / "report.md").read_text(encoding="utf-8")
    assert "## Key figures" in md and "| ci_low |" in md and "Chiffres clés" not in md


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)
def test_french_report_renders_in_chromium(french_run: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    html = (french_run / "report.html").read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=1024,768",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    m = re.search(r"fits=(\w+) images=(\d+) loaded=(\d+) text=(\d+)", dom)
    assert m, dom[-2000:]
    fits, n_img, n_loaded, n_text = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    assert fits == "true"  # nothing wider than the window: wide tables scroll in their box
    assert n_img >= 3 and n_loaded == n_img  # every chart loads
    assert n_text > 1000  # the page is not blank


def test_french_run_has_the_periodic_statistics(french_run: Path) -> None:
    """pays.toml has a [stats] table: the run writes the IC-TIP statistics, in French."""
    md = (french_run / "statistics" / "statistics.md").read_text(encoding="utf-8")
    assert "## Victimes identifiées par sexe et groupe d'âge (personnes appariées, par année)" in md
    assert "## Réponse pénale, traite des personnes : personnes par étape (par semestre)" in md
    assert (french_run / "statistics" / "cases_type_half-year.csv").exists()
    assert (french_run / "statistics" / "victims_sex_age_persons_year.csv").exists()
    assert (french_run / "statistics" / "perpetrators_sex_trafficking_year.csv").exists()
    assert "## Auteurs de traite des personnes par étape et sexe (par année)" in md
    assert LINKAGES == [1]  # the statistics count persons with the run's own linkage
    report = (french_run / "report.md").read_text(encoding="utf-8")
    assert "## Statistiques périodiques (IC-TIP)" in report
    assert "[statistics/statistics.md](statistics/statistics.md)" in report
    assert "(statistics/victims_sex_age_persons_year.csv)" in report
    page = (french_run / "report.html").read_text(encoding="utf-8")
    assert "<a href='statistics/statistics.md'>" in page
    assert not (french_run / "statistics_audit.csv").exists()  # the audit holds hidden counts


def test_linked_persons_published_once_under_one_pattern(french_run: Path) -> None:
    """Issue 19 (differencing across publications of one run): the run's ``observed_by_stratum``
    and the statistics' linked persons by year count the same people (a person's stratum is
    their first identification's region and year in both). Protected in one LP, the same number
    is either printed in both tables, equal, or hidden in both; and the joint audit (internal)
    shows every hidden count below the threshold at least the threshold wide."""
    import csv

    with open(french_run / "observed_by_stratum.csv", encoding="utf-8") as fh:
        run_rows = list(csv.DictReader(fh))
    with open(
        french_run / "statistics" / "victims_sex_age_persons_year.csv", encoding="utf-8"
    ) as fh:
        stat_rows = list(csv.DictReader(fh))
    stats = {(r["period"], r["region"]): r["Total"] for r in stat_rows if r["region"] != "Total"}
    years = {r["period"] for r in stat_rows}
    compared = 0
    for row in run_rows:
        region = row[next(iter(row))]
        for year in years & set(row):
            theirs = stats.get((year, region))
            if theirs is None:
                continue
            ours = row[year]
            assert (ours in ("", "c")) == (theirs in ("", "c")), (region, year, ours, theirs)
            if ours not in ("", "c"):
                assert int(float(ours)) == int(theirs), (region, year)
            compared += 1
    assert compared >= 8  # every region of every year (8 regions x 2 years in the sample)
    internal = french_run.parent / f"{french_run.name}.internal"
    with open(internal / "disclosure_audit.csv", encoding="utf-8") as fh:
        audit = list(csv.DictReader(fh))
    assert audit and all(r["protected"] == "True" for r in audit)
