"""Catalogs complete and current; CLDR number and date formats; languages side by side."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import InputValidationError
from fl_estimate.i18n import (
    COLUMN_LABELS,
    LANGUAGES,
    N_,
    Message,
    column_label,
    format_date,
    format_int,
    format_number,
    format_percent,
    language_of,
    relabel_columns,
    translate,
    translator,
)
from fl_estimate.i18n.catalogs import check, extract

NNBSP = "\u202f"  # CLDR French grouping separator (narrow no-break space)


@pytest.mark.parametrize("result", check(), ids=lambda c: c.lang)
def test_catalog_complete_and_current(result) -> None:
    """Fails on a string in the code but not in the .po (run `make i18n`), a .po string no longer
    in the code, an untranslated or fuzzy French string, a translation whose {placeholders} differ
    from the English, or a .mo not compiled from its .po."""
    assert result.missing == [], "new strings: run `make i18n` and translate them"
    assert result.unused == [], "strings no longer in the code: run `make i18n`"
    assert result.untranslated == [], "fill these msgstr in the French .po, then `make i18n`"
    assert result.bad_placeholders == []
    assert not result.stale_mo, "the .mo is not the compiled .po: run `make i18n`"


def test_every_language_is_checked_and_extraction_finds_the_reader_messages() -> None:
    assert [c.lang for c in check()] == list(LANGUAGES)
    ids = {m.id for m in extract() if m.id}
    assert "{file} is a binary file, not a text table; {advice}" in ids
    assert set(map(str, COLUMN_LABELS.values())) <= ids


def test_numbers_dates_and_percentages_follow_cldr() -> None:
    assert format_int(8500000, "fr") == f"8{NNBSP}500{NNBSP}000"
    assert format_int(8500000.4, "en") == "8,500,000"
    assert format_number(12.5, "fr") == "12,5"
    assert format_number(12.5, "en") == "12.5"
    assert format_number(np.float64(1234.5678), "fr", digits=1) == f"1{NNBSP}234,6"
    assert format_percent(0.125, "fr") == "12,5\u00a0%"
    assert format_percent(0.125, "en", digits=0) == "12%"
    assert format_date(date(2024, 2, 15), "fr") == "15/02/2024"
    assert format_date(datetime(2024, 2, 15, 13, 5), "en") == "15/02/2024"  # en_GB: day first
    assert format_date("2024-02-15", "en_US") == "2/15/24"
    assert format_date(pd.Timestamp("2024-02-15"), "fr_NE") == "15/02/2024"
    for missing in (None, float("nan"), pd.NA, pd.NaT):
        assert format_number(missing, "fr") == format_date(missing, "fr") == ""


def test_two_languages_in_one_process_without_global_state() -> None:
    fr, en = translator("fr").gettext, translator("en").gettext
    assert fr("lower limit") == "borne inférieure"
    assert en("lower limit") == "lower limit"
    assert fr("lower limit") == "borne inférieure"  # unchanged by the English lookup
    assert translator("fr_FR") is translator("fr")
    frame = pd.DataFrame(columns=["region", "ci_low", "ci_high", "interval_kind", "other"])
    assert list(relabel_columns(frame, "fr").columns) == [
        "région",
        "borne inférieure",
        "borne supérieure",
        "type d'intervalle",
        "other",
    ]
    assert column_label("ci_low", "en") == "lower limit"


def test_message_is_its_english_text_and_translates_later() -> None:
    msg = N_("{file} is empty; expected a header row", file="région.csv")
    assert isinstance(msg, Message) and isinstance(msg, str)
    assert msg == "région.csv is empty; expected a header row"
    assert json.dumps({"m": msg}) == json.dumps({"m": str(msg)})
    # the parameter is a file name, inserted as it is, never looked up in the catalog
    assert translate(msg, "fr") == "région.csv est vide\u00a0; une ligne d'en-tête est attendue"
    assert translate(msg, "en") == str(msg)
    assert translate("lower limit", "fr") == "borne inférieure"
    assert translate("not in any catalog", "fr") == "not in any catalog"


def test_unsupported_language_is_an_input_error() -> None:
    assert language_of("fr-NE") == "fr"
    for bad in ("de", "xx_YY", ""):
        with pytest.raises(
            InputValidationError, match=r"unsupported language .*expected one of en, fr"
        ):
            translator(bad)


def test_command_line_errors_in_french(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With FL_ESTIMATE_LANG=fr (or LANG=fr_*, or --lang fr on the command) the error line is in
    French: the framing (file, row, column, value, count of problems) and every message of the
    catalogs; the same error in English is unchanged. Exit code 2 either way."""
    from fl_estimate.cli import main

    bad = tmp_path / "liste.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["describe", str(bad)]) == 2
    english = capsys.readouterr().err
    assert english.startswith("fl-estimate: error: 1 problem found in liste.csv: liste.csv, row 2")
    monkeypatch.setenv("FL_ESTIMATE_LANG", "fr")
    assert main(["describe", str(bad)]) == 2
    french = capsys.readouterr().err
    assert french.startswith(
        "fl-estimate: erreur\u00a0: 1 problème trouvé dans liste.csv\u00a0: liste.csv, ligne 2, "
        "colonne 'b'"
    ), french
    assert "(valeur '2')" in french
    assert main(["describe", str(tmp_path / "absent.csv")]) == 2
    assert "fichier introuvable" in capsys.readouterr().err
    monkeypatch.setenv("FL_ESTIMATE_LANG", "")
    monkeypatch.setenv("LANG", "fr_NE.UTF-8")
    assert main(["describe", str(bad)]) == 2
    assert "problème trouvé" in capsys.readouterr().err
