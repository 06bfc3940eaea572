"""Make the synthetic francophone sample country in data_samples/pays/ (report in French).

    python data_samples/make_pays.py          # what is committed; `make demo-fr` runs it

The sample country of make_country.py, two years, with the regions renamed to invented French
names (with accents), and the police and social services sending what French Excel writes
("CSV (séparateur : point-virgule)"): ';' separators, Windows-1252, dates day first (dd/mm/yyyy).
The police, gendarmerie and courts also send IC-TIP event and perpetrator files (``events/``,
``perpetrators/``; :func:`fl_estimate.providers.synthetic.make_cases`), smuggling-of-migrants
cases mixed in with the trafficking cases, for ``fl-estimate stats`` (the police's written as
French Excel does too).
Every name is invented. The same arguments always give the same files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from fl_estimate._io import atomic_write_bytes, atomic_write_text
from fl_estimate.providers.synthetic import (
    REGIONS,
    make_cases,
    make_country,
    write_cases,
    write_country,
)

HERE = Path(__file__).resolve().parent
#: The sample regions renamed (invented names, accented on purpose).
RÉGIONS = dict(
    zip(
        REGIONS,
        (
            "Nord-Aïr",
            "Sud-Fleuve",
            "Est-Ténéré",
            "Ouest-Dallol",
            "Centre",
            "Lacs",
            "Hauts-Plateaux",
            "Côte-Sahélienne",
        ),
        strict=True,
    )
)
#: Providers whose files are written as French Excel does.
EXCEL_FR = ("police", "social_services")


def _rename(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "region" in out:
        out["region"] = out["region"].map(lambda r: RÉGIONS.get(r, r))
    return out


def _day_first(value: object) -> object:
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[:4]}"
    return value


def _excel_fr(path: Path, date_column: str) -> None:
    """Rewrite a CSV as French Excel writes it: ';', Windows-1252, CRLF, dates day first."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[date_column] = frame[date_column].map(_day_first)
    text = frame.to_csv(index=False, sep=";", lineterminator="\r\n")
    atomic_write_bytes(path, text.encode("cp1252"))


def main(out: Path = HERE / "pays") -> Path:
    country = make_country(years=(2022, 2023), scale=0.6, seed=20240602)
    registry = country.registry.copy()
    registry["regions"] = registry["regions"].map(
        lambda s: ";".join(RÉGIONS.get(r, r) for r in s.split(";"))
    )
    country = dataclasses.replace(
        country,
        submissions={k: _rename(f) for k, f in country.submissions.items()},
        population=_rename(country.population),
        registry=registry,
    )
    write_country(country, out)
    for path in sorted((out / "submissions").glob("*.csv")):
        if path.name.split("_20")[0] not in EXCEL_FR:
            continue
        _excel_fr(path, "date_identified")
    cases = make_cases(
        country.population,
        coverage={p: r.split(";") for p, r in zip(registry["provider"], registry["regions"])},
    )
    for path in write_cases(cases, out):
        if path.name.startswith("police_"):
            _excel_fr(path, "date_recorded")
    registry["sends"] = registry["provider"].map(lambda p: cases.sends.get(p, "victims"))
    atomic_write_text(out / "registry.csv", registry.to_csv(index=False, lineterminator="\n"))
    pop = country.population[["region", "year"]].copy()
    pop["population"] = [
        400_000 + 37_500 * (i % 8) + 6_000 * (y - 2022) for i, y in enumerate(pop["year"])
    ]
    atomic_write_text(out / "population.csv", pop.to_csv(index=False, lineterminator="\n"))
    (out / ".gitignore").write_text("linkage_output/\n")
    print(f"{country.n_records} enregistrements, {len(country.submissions)} fichiers -> {out}")
    return out


if __name__ == "__main__":
    main()
