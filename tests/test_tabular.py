"""The one tabular reader: encodings, separators, decimal commas, and files that are no table."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path

import pytest

from fl_estimate.exceptions import InputValidationError
from fl_estimate.i18n import translate
from fl_estimate.mse.data import read_capture_csv
from fl_estimate.providers.submissions import read_submission_file, validate_submission
from fl_estimate.tabular import parse_number, parse_toml, read_table

# What French Excel writes with "CSV (séparateur: point-virgule)": Windows-1252, ';', CRLF,
# day-first dates, decimal commas; "Œ" and "’" are bytes 0x8C and 0x92, defined only in cp1252.
FRENCH_EXPORT = (
    "provider;period;record_id;region;date_identified;sex;age;age_band;nationality;exploitation;"
    "given_name;family_name\r\n"
    "police;2024-Q1;P-001;Tillabéri;15/02/2024;F;17;;NER;ForcedLabour;Aïcha;N’Diaye\r\n"
    "police;2024-Q1;P-002;Zinder;03/01/2024;M;34;;MLI;ForcedBegging;Œdipe;Hélène-Moussa\r\n"
    "police;2024-Q1;P-003;Tillabéri;31/03/2024;F;;adult;NER;Unknown;Zoé;Maïga\r\n"
)
REGIONS = {"police": ["Tillabéri", "Zinder"]}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _problem(exc: pytest.ExceptionInfo[InputValidationError]) -> str:
    (p,) = exc.value.problems
    return str(p)


def test_french_excel_export_submission_reads_and_validates(tmp_path: Path) -> None:
    p = _write(tmp_path, "police_2024-Q1.csv", FRENCH_EXPORT.encode("cp1252"))
    frame = read_submission_file(p)
    info = frame.attrs["read_info"]
    assert (info.encoding, info.delimiter) == ("cp1252", ";")
    assert info.describe() == "read as Windows-1252 with ';' separators"
    assert info.describe("fr") == "lu comme Windows-1252, séparateur «\u00a0;\u00a0»"
    assert "read as Windows-1252" in info.notices[0]
    assert frame["family_name"].tolist() == ["N’Diaye", "Hélène-Moussa", "Maïga"]
    assert frame["given_name"].tolist() == ["Aïcha", "Œdipe", "Zoé"]
    assert frame.loc[2, "age"] is None  # empty cell is missing
    report, clean = validate_submission(p, regions=REGIONS)
    assert report.accepted, report.to_text()
    assert clean is not None
    assert clean["date_identified"].tolist() == ["2024-02-15", "2024-01-03", "2024-03-31"]
    assert clean["region"].tolist() == ["Tillabéri", "Zinder", "Tillabéri"]


def test_decimal_comma_detected_in_semicolon_files(tmp_path: Path) -> None:
    text = "région;taux;effectif;date\nTillabéri;12,5;8500000;15/02/2024\nDosso;1 234,75;3;\n"
    p = _write(tmp_path, "taux.csv", text.encode("latin-1"))
    frame, info = read_table(p)
    # no byte 0x80-0x9F: the file is Latin-1 and Windows-1252 alike; the reader says Latin-1
    assert (info.encoding, info.delimiter, info.decimal) == ("latin-1", ";", ",")
    assert info.describe() == (
        "read as Latin-1 (ISO-8859-1) with ';' separators and decimal commas"
    )
    assert any("decimal commas in 'taux'" in n for n in info.notices)
    assert list(frame.columns) == ["région", "taux", "effectif", "date"]
    assert [parse_number(v, info.decimal) for v in frame["taux"]] == [12.5, 1234.75]
    assert [parse_number(v, info.decimal) for v in frame["effectif"]] == [8500000.0, 3.0]


def test_semicolon_file_with_point_decimals_keeps_the_point(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.csv", b"a;b\n1.5;2\n3;4\n")
    _, info = read_table(p)
    assert (info.delimiter, info.decimal) == (";", ".")


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("12,5", ",", 12.5),
        ("-0,25", ",", -0.25),
        ("1.234.567,5", ",", 1234567.5),
        ("8\u202f500\u202f000", ",", 8500000.0),
        ("1,234.5", ".", 1234.5),
        ("7", ".", 7.0),
        ("2.5e3", ".", 2500.0),
    ],
)
def test_parse_number(text: str, decimal: str, expected: float) -> None:
    assert parse_number(text, decimal) == expected


@pytest.mark.parametrize(
    ("text", "decimal"), [("12.5", ","), ("1,5", "."), ("abc", ","), ("", ",")]
)
def test_parse_number_refuses_the_other_convention(text: str, decimal: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_number(text, decimal)


def test_utf8_bom_comma_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "lists.csv", "\ufeffA,B,count\n1,0,3\n0,1,2\n1,1,1\n".encode())
    frame, info = read_table(p)
    assert (info.encoding, info.delimiter, info.decimal, info.notices) == (
        "utf-8-sig",
        ",",
        ".",
        [],
    )
    assert list(frame.columns) == ["A", "B", "count"]  # no BOM glued to the first name
    data = read_capture_csv(p)
    assert data.lists == ("A", "B") and data.n_observed == 6


def test_utf16_with_bom_is_read_with_a_notice(tmp_path: Path) -> None:
    # Excel's "Unicode text": UTF-16 LE with BOM, tab-separated
    text = "région\tpolice\tngo\r\nTahoua\t1\t0\r\nAgadez\t1\t1\r\n"
    p = _write(tmp_path, "unicode.txt", text.encode("utf-16"))
    frame, info = read_table(p)
    assert (info.encoding, info.delimiter) == ("utf-16", "\t")
    assert frame["région"].tolist() == ["Tahoua", "Agadez"]
    assert "UTF-16" in info.notices[0]


def test_utf16_without_bom_is_refused_with_advice(tmp_path: Path) -> None:
    p = _write(tmp_path, "nobom.csv", "A,B\n1,0\n".encode("utf-16-le"))
    with pytest.raises(InputValidationError) as ei:
        read_table(p)
    msg = _problem(ei)
    assert msg.startswith("nobom.csv: nobom.csv looks like UTF-16 text without a byte-order mark")
    assert "CSV UTF-8" in msg


def test_binary_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "photo.csv", bytes(range(256)) * 4)
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    assert "photo.csv is a binary file, not a text table" in _problem(ei)
    assert "File > Save As > CSV UTF-8" in _problem(ei)
    fr = translate(ei.value.problems[0].message, "fr")
    assert fr.startswith("photo.csv est un fichier binaire")
    assert "Fichier > Enregistrer sous > CSV UTF-8" in fr


def test_neither_utf8_nor_cp1252(tmp_path: Path) -> None:
    # 0x81 and 0x8d are undefined in Windows-1252 (e.g. a cp850 DOS export)
    p = _write(tmp_path, "dos.csv", b"nom,age\nM\x81ller,3\nCara\x8d,4\n")
    with pytest.raises(InputValidationError) as ei:
        read_table(p)
    assert "neither UTF-8 nor Windows-1252 text (first unreadable byte on line 2)" in _problem(ei)


def _workbook(path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["region", "date_identified", "age", "score", None])
    ws.append(["Maradi", datetime(2024, 2, 15), 17, 2.5, None])
    ws.append(["Niamey", datetime(2024, 3, 1, 10, 30), 40.0, None, None])
    wb.create_sheet("notes")
    wb.save(path)
    return path


def test_xlsx_read_with_date_cells(tmp_path: Path) -> None:
    p = _workbook(tmp_path / "book.xlsx")
    frame, info = read_table(p, dtype=object)
    assert info.format == "xlsx" and info.encoding is None
    assert "only the first sheet ('Sheet') was read" in info.notices[0]
    assert list(frame.columns) == ["region", "date_identified", "age", "score"]
    assert frame["date_identified"].tolist() == [date(2024, 2, 15), datetime(2024, 3, 1, 10, 30)]
    assert frame["age"].tolist() == [17, 40]
    text, _ = read_table(p)
    assert text["date_identified"].tolist() == ["2024-02-15", "2024-03-01T10:30:00"]
    assert text["score"].tolist() == ["2.5", ""]


def test_xlsx_given_to_csv_only_reader(tmp_path: Path) -> None:
    p = _workbook(tmp_path / "capture.xlsx")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    assert _problem(ei) == (
        "capture.xlsx: capture.xlsx is an Excel workbook, but a CSV file is expected here: "
        "save it as CSV UTF-8 (in Excel: File > Save As > CSV UTF-8 (Comma delimited))"
    )


def test_workbook_renamed_csv_is_read_as_workbook(tmp_path: Path) -> None:
    p = _workbook(tmp_path / "book.xlsx").rename(tmp_path / "book.csv")
    frame, info = read_table(p)
    assert info.format == "xlsx" and "despite its name" in info.notices[-1]
    assert frame["region"].tolist() == ["Maradi", "Niamey"]


def test_old_xls_and_fake_xlsx(tmp_path: Path) -> None:
    p = _write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(InputValidationError, match=r"old\.xls is an old Excel \.xls workbook"):
        read_table(p)
    q = _write(tmp_path, "fake.xlsx", b"A,B\n1,2\n")
    with pytest.raises(InputValidationError, match="has an Excel name but is not an Excel"):
        read_table(q)
    z = _write(tmp_path, "broken.xlsx", b"PK\x03\x04" + bytes(100))
    with pytest.raises(InputValidationError, match="cannot be opened as an Excel workbook"):
        read_table(z)


def test_directory_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(InputValidationError) as ei:
        read_submission_file(tmp_path)
    assert "is a folder, not a file: give the path of the table itself" in _problem(ei)
    with pytest.raises(InputValidationError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputValidationError, match=r"empty\.csv is empty; expected a header row"):
        read_table(_write(tmp_path, "empty.csv", b"\r\n\r\n"))


def test_ragged_rows_are_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "people.csv", b"police;ngo;courts\n1;0;1\n1;0\n0;1;1;1\n\n1;1;1\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    probs = ei.value.problems
    assert [(x.source, x.row) for x in probs] == [("people.csv", 3), ("people.csv", 4)]
    assert str(probs[0]) == (
        "people.csv, row 3: row 3 has 2 fields but the header has 3 (separator ';'; a value "
        "containing the separator must be in double quotes)"
    )


def test_quoted_separators_and_trailing_empty_rows(tmp_path: Path) -> None:
    p = _write(tmp_path, "q.csv", b'name;note;\n"Dupont; Jean";"a ""b""";\n;;\n;;\n')
    frame, info = read_table(p)
    assert info.delimiter == ";"
    assert list(frame.columns) == ["name", "note"]  # trailing empty column dropped
    assert frame.to_dict("records") == [{"name": "Dupont; Jean", "note": 'a "b"'}]


def test_tab_and_single_column(tmp_path: Path) -> None:
    _, info = read_table(_write(tmp_path, "t.tsv", b"a\tb\n1\t2\n"))
    assert info.delimiter == "\t"
    frame, info = read_table(_write(tmp_path, "one.csv", b"a\n1\n2\n"))
    assert info.delimiter == "," and frame["a"].tolist() == ["1", "2"]


def test_messages_survive_pickling(tmp_path: Path) -> None:
    """Errors cross process boundaries (pipeline workers): the message keeps its translation."""
    with pytest.raises(InputValidationError) as ei:
        read_table(tmp_path)
    msg = pickle.loads(pickle.dumps(ei.value.problems[0].message))
    assert translate(msg, "fr").endswith("est un dossier, pas un fichier\u00a0: donnez le chemin du "
                                         "tableau lui-même")  # fmt: skip


def test_toml_errors_name_the_source_whoever_reads_it() -> None:
    """One TOML parser for configuration, framework and mapping files: a syntax error is an
    InputValidationError naming the source, with the caller's headline."""
    from fl_estimate.indicators.frameworks import parse_framework
    from fl_estimate.indicators.mapping import parse_mapping

    assert parse_toml("a = 1", "x.toml") == {"a": 1}
    for parse, source in ((parse_framework, "fw.toml"), (parse_mapping, "map.toml")):
        with pytest.raises(InputValidationError) as ei:
            parse("[broken", source)
        assert ei.value.summary == f"cannot read {source}"
        (problem,) = ei.value.problems
        assert problem.source == source and "not valid TOML" in str(problem)
