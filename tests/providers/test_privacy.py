"""No clear identifier of any input reaches any output (the issue's privacy test).

The whole path runs on the sample country (the ``link_run`` fixture: validation, completeness,
pseudonymisation, linkage, reports) and the CLI's ``submissions check`` output is captured too.
Every output file (CSV, JSON, HTML, logs, and Excel cells if any) is scanned for: each input name
part of 4 or more letters as a whole word (case- and accent-insensitive), each full date of birth
in the input's format and in ISO form, each document number and phone number (as written and
normalised), the pseudonymous keys submitted by key-only providers, and the linkage key itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from anyascii import anyascii

from fl_estimate.cli import main
from fl_estimate.providers.pseudonymise import (
    normalise_date,
    normalise_document,
    normalise_phone,
)
from fl_estimate.providers.submissions import read_submission_file
from fl_estimate.providers.synthetic import SAMPLE_KEY


def _fold(text: str) -> str:
    return anyascii(text).upper()


def _inputs(country_dir: Path) -> dict[str, set[str]]:
    words: set[str] = set()
    literals: set[str] = set()
    dates_iso: set[str] = set()
    for f in sorted((country_dir / "submissions").glob("*.*")):
        df = read_submission_file(f)
        for col in ("given_name", "family_name"):
            if col in df:
                for v in df[col].dropna():
                    words.update(p for p in re.split(r"[^A-Z]+", _fold(v)) if len(p) >= 4)
        if "date_of_birth" in df:
            for v in df["date_of_birth"].dropna():
                literals.add(v)
                dates_iso.add(str(normalise_date(v)))
        for col in df.columns:
            if col.startswith("key_"):  # pseudonymous keys are confidential too
                literals.update(df[col].dropna())
        for col, norm in (("document_number", normalise_document), ("phone", normalise_phone)):
            if col in df:
                for v in df[col].dropna():
                    literals.add(v)
                    literals.add(str(norm(v)))
    return {"words": words, "literals": literals | dates_iso}


def _output_texts(folder: Path) -> dict[str, str]:
    texts = {}
    for f in sorted(folder.rglob("*")):
        if not f.is_file():
            continue
        if f.suffix == ".xlsx":
            sheets = pd.read_excel(f, sheet_name=None, dtype=str, header=None)
            texts[str(f)] = "\n".join(s.to_csv() for s in sheets.values())
        else:
            texts[str(f)] = f.read_text(encoding="utf-8", errors="replace")
    return texts


def test_no_identifier_in_any_output(country_dir, link_run, capsys) -> None:
    files = [str(f) for f in sorted((country_dir / "submissions").glob("*.*"))]
    code = main(["submissions", "check", "--registry", str(country_dir / "registry.csv"), *files])
    assert code == 2  # the sample holds one rejected file
    cli_text = capsys.readouterr()
    texts = _output_texts(link_run.output.parent)
    texts["<stdout of submissions check>"] = cli_text.out + cli_text.err
    for kind in ("link.log", ".html", ".json", ".csv", ".xlsx"):
        assert any(p.endswith(kind) for p in texts), kind

    found = _inputs(country_dir)
    assert len(found["words"]) > 300 and len(found["literals"]) > 1000  # the scan has teeth
    leaks = []
    for where, text in texts.items():
        folded = _fold(text)
        tokens = set(re.findall(r"[A-Z]+", folded))
        leaks += [(where, w) for w in found["words"] & tokens]
        leaks += [(where, lit) for lit in found["literals"] if lit in text]
        if SAMPLE_KEY in text:
            leaks.append((where, "<the linkage key>"))
    assert not leaks, leaks[:20]


def test_the_scan_would_catch_a_leak(country_dir, tmp_path) -> None:
    # guard against a scan that can never fail: plant one name and one date of birth
    df = read_submission_file(country_dir / "submissions" / "police_2021-Q1.csv")
    (tmp_path / "out.csv").write_text(
        f"x,{_fold(df['family_name'].dropna().iloc[0]).lower()}\ny,{df['date_of_birth'].dropna().iloc[0]}\n"
    )
    texts = _output_texts(tmp_path)
    found = _inputs(country_dir)
    text = next(iter(texts.values()))
    assert found["words"] & set(re.findall(r"[A-Z]+", _fold(text)))
    assert any(lit in text for lit in found["literals"])
