"""``fl-estimate stats`` on the French sample country: French headings, machine-readable CSVs,
disclosure control on every published file, config errors (exit 2), and records against linked
persons when the victims are linked (slow: the linkage runs)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fl_estimate.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAYS = ROOT / "data_samples" / "pays"


def _config(tmp_path: Path, extra: str = "", link: bool = False) -> Path:
    victims = f'link = "{PAYS}/link.toml"' if link else f'victims = ["{PAYS}/submissions/*"]'
    text = f"""
[run]
title = "Statistiques du pays d'exemple"
[disclosure]
threshold = 5
[report]
language = "fr"
[stats]
{victims}
registry = "{PAYS}/registry.csv"
events = ["{PAYS}/events/*.csv"]
perpetrators = ["{PAYS}/perpetrators/*.csv"]
levels = ["half-year", "year"]
as_of = "2024-02-15"
{extra}
"""
    path = tmp_path / "stats.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _published_counts(folder: Path) -> list[int]:
    out = []
    for path in folder.glob("*.csv"):
        if path.name == "completeness.csv":
            continue
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out += [
                    int(v) for k, v in row.items() if k not in ("period", "region") and v != "c"
                ]
    return out


@pytest.fixture(scope="module")
def french_stats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("stats")
    out = tmp / "out"
    assert main(["stats", str(_config(tmp)), "--out", str(out)]) == 0
    return out


def test_french_headings(french_stats: Path) -> None:
    md = (french_stats / "statistics.md").read_text(encoding="utf-8")
    for heading in (
        "## Victimes identifiées par sexe et groupe d'âge (enregistrements, par semestre)",
        "## Affaires : traite des personnes et trafic illicite de migrants (par année)",
        "## Réponse pénale, traite des personnes : personnes par étape (par année)",
        "## Entités déclarantes : ce que chaque fournisseur a envoyé pour chaque période",
    ):
        assert heading in md
    assert "| période | région | filles | femmes |" in md
    assert "soupçonnés" in md and "poursuivis" in md and "condamnés" in md
    assert "| tribunaux | auteurs |" in md and "law_enforcement" not in md  # entity types
    assert "| Tchad |" in md and "| Bénin |" in md  # country names in French (CLDR)
    for english in ("Identified victims", "Criminal-justice", "| period |", "suspected"):
        assert english not in md
    # rejected files are named; the victims were not linked: records only
    assert "police_2022-Q3.csv" in md and "gendarmerie_2022-Q1.csv" in md
    assert "n'ont pas été appariés" in md
    assert not list(french_stats.glob("*_persons_*.csv"))


def test_workbook_headings_in_french(french_stats: Path) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(french_stats / "statistics.xlsx")
    # sheets "Tableau 1"... after a contents sheet (the tables' names are longer than Excel's
    # 31 characters for a sheet title: the English workbook's were cut to
    # 'victims_citizenship_group_r (2)')
    assert wb.sheetnames[:3] == ["Sommaire", "Tableau 1", "Tableau 2"]
    contents = list(wb["Sommaire"].iter_rows(values_only=True))
    assert contents[0] == ("feuille", "titre", "fichier")
    assert contents[1][0] == "Tableau 1" and contents[1][1].startswith("Victimes identifiées")
    assert contents[1][2].endswith(".csv") and len(contents) == len(wb.sheetnames)
    counts = [c for row in wb["Tableau 1"].iter_rows(min_row=2) for c in row
              if isinstance(c.value, int)]  # fmt: skip
    assert counts  # numbers (they were text), grouped by Excel's format from 10,000 up
    hidden = {c.value for row in wb["Tableau 1"].iter_rows(min_row=2) for c in row[2:]
              if isinstance(c.value, str)}  # fmt: skip
    assert hidden <= {"c"}, hidden
    head = [c.value for c in next(wb["Tableau 1"].iter_rows(max_row=1))]
    assert head[:4] == ["période", "région", "filles", "femmes"]
    ws = wb[wb.sheetnames[-1]]
    assert [c.value for c in next(ws.iter_rows(max_row=1))][:3] == [
        "fournisseur", "type d'entité déclarante", "type de fichier",
    ]  # fmt: skip


def test_csvs_machine_readable_and_protected(french_stats: Path) -> None:
    with open(french_stats / "cases_type_year.csv", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["period", "region", "trafficking_in_persons", "smuggling_of_migrants",
                      "unknown", "Total"]  # fmt: skip
    counts = _published_counts(french_stats)
    assert counts and not [n for n in counts if 1 <= n <= 4]
    assert (french_stats / "manifest.json").exists()


def test_completeness_by_submission_type(french_stats: Path) -> None:
    with open(french_stats / "completeness.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {(r["provider"], r["submission"]) for r in rows}
    assert ("courts", "perpetrators") in kinds and ("ngo", "victims") in kinds
    assert ("ngo", "events") not in kinds  # the registry says the NGO sends victims only
    late = [(r["provider"], r["submission"], r["period"]) for r in rows if r["status"] == "late"]
    # the one file the synthetic NGO never sent (due 2024-02-14); everything else was received
    assert late == [("ngo", "victims", "2023-Q4")]
    assert any(r["status"] == "not yet due" for r in rows)


def test_config_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _config(tmp_path, extra='colour = "red"').read_text(encoding="utf-8")
    bad = bad.replace('levels = ["half-year", "year"]', 'levels = ["month"]')
    bad = bad.replace("events/*.csv", "nothing/*.csv")
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    assert main(["stats", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "month" in err and "colour" in err and "no file matches" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_linked_persons_fewer_than_records(tmp_path: Path) -> None:
    """With the linkage, both counts are published and the persons are at most the records."""
    from fl_estimate.pipeline.stats import run_stats

    res = run_stats(_config(tmp_path, link=True), out=tmp_path / "out", lang="en")
    out = res.out

    def grand_total(name: str) -> int:
        with open(out / name, encoding="utf-8") as fh:
            return sum(int(r["Total"]) for r in csv.DictReader(fh) if r["region"] == "Total")

    records = grand_total("victims_sex_age_records_year.csv")
    persons = grand_total("victims_sex_age_persons_year.csv")
    assert 0 < persons < records
    md = (out / "statistics.md").read_text(encoding="utf-8")
    assert "(linked persons, by year)" in md and "Identified victims by citizenship" in md


def test_next_publication_holds_the_last_ones_pattern(tmp_path: Path) -> None:
    """``fl-estimate stats`` for 2022, then for 2022-2023: every cell the two publications share
    with the same value is hidden or shown as it was (the pattern is kept in the cache folder),
    so the two cannot be differenced. Made afresh (another cache folder), the second
    publication's pattern differs on 11 of the 2,229 cells the two share (measured once: the
    disclosure control is deterministic), which a reader could difference."""
    from fl_estimate.pipeline.cache import FitCache
    from fl_estimate.pipeline.stats import read_stats_config, run_stats

    def config(name: str, years: str) -> Path:
        text = f"""
[run]
title = "Statistiques du pays d'exemple"
[disclosure]
threshold = 5
[stats]
victims = ["{PAYS}/submissions/*_{years}*"]
registry = "{PAYS}/registry.csv"
events = ["{PAYS}/events/*_{years}*.csv"]
perpetrators = ["{PAYS}/perpetrators/*_{years}*.csv"]
levels = ["half-year", "year"]
as_of = "2024-02-15"
"""
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    cache = tmp_path / "cache"
    first, both = config("first", "2022"), config("both", "202[23]")
    run_stats(first, out=tmp_path / "out1", lang="en", cache=cache)
    cfg = read_stats_config(first)
    series = {"kind": "stats", "title": cfg.title, "levels": list(cfg.levels),
              "country": cfg.country, "threshold": cfg.threshold}  # fmt: skip
    before = FitCache(cache).previous_publication(series)
    assert before and any(hidden for _, hidden in before.values())
    run_stats(both, out=tmp_path / "out2", lang="en", cache=cache)
    after = FitCache(cache).previous_publication(series)
    assert after is not None and len(after) > len(before)
    shared = [k for k in before if k in after and before[k][0] == after[k][0]]
    assert len(shared) > 100
    assert [k for k in shared if before[k][1] != after[k][1]] == []
