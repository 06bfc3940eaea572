"""Formula neutralisation in CSV and XLSX, numbers kept as numbers, reproducible workbooks."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from fl_estimate.outputs.cells import (
    FIXED_TIMESTAMP,
    escape_markdown_html,
    is_formula_like,
    neutralise_frame,
    write_csv,
    write_xlsx,
)

# payloads from the OWASP "CSV Injection" page and issue 19
ATTACKS = [
    '=HYPERLINK("http://evil.example","click")',
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    "-",
    "+44 20 7946 0000",
    "-inf",
]
HARMLESS = ["north", "Coast", "", " =1", "1-2", "a=b", "3", "-3", "+1.5", "-2.5e-3", ".5"]


@pytest.mark.parametrize("value", ATTACKS)
def test_formula_like_values_are_recognised(value: str) -> None:
    assert is_formula_like(value)


@pytest.mark.parametrize("value", [*HARMLESS, -3, 2.5, None, np.int64(-1), True])
def test_other_values_are_not(value: object) -> None:
    assert not is_formula_like(value)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": [*ATTACKS, "north"],
            "n": list(range(-len(ATTACKS), 1)),
            "rate": [-0.5] * len(ATTACKS) + [np.nan],
            "code": pd.Categorical(["=1+1"] * len(ATTACKS) + ["ok"]),
            "text": pd.array(["@x"] * len(ATTACKS) + [None], dtype="string"),
            "=label": ["-3"] * (len(ATTACKS) + 1),  # a numeric string stays as it is
        }
    )


def test_neutralise_frame_quotes_text_and_keeps_numbers() -> None:
    df = frame()
    out = neutralise_frame(df)
    assert out["region"].tolist()[:-1] == ["'" + a for a in ATTACKS]
    assert out["code"].tolist()[0] == "'=1+1" and out["text"].tolist()[0] == "'@x"
    assert out["text"].isna().tolist()[-1]
    assert list(out.columns) == ["region", "n", "rate", "code", "text", "'=label"]
    assert out["'=label"].tolist()[0] == "-3"
    pd.testing.assert_series_equal(out["n"], df["n"])  # numeric columns untouched, same dtype
    pd.testing.assert_series_equal(out["rate"], df["rate"])
    assert df["region"].tolist()[0] == ATTACKS[0]  # the input is not changed


def test_neutralise_frame_labels_of_the_index() -> None:
    df = pd.DataFrame({"x": [1, 2]}, index=pd.MultiIndex.from_tuples([("=a", 1), ("b", 2)]))
    assert neutralise_frame(df).index.tolist() == [("'=a", 1), ("b", 2)]


def test_csv_has_no_live_formula_and_numbers_stay_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv(frame(), path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        for field in row:
            assert not is_formula_like(field), field
    back = pd.read_csv(path)
    assert back["n"].dtype.kind == "i" and back["n"].tolist()[0] == -len(ATTACKS)
    assert back["rate"].dtype.kind == "f"
    assert back["'=label"].tolist()[0] == -3  # "-3" was written as is: read as a number


def test_xlsx_has_no_formula_cell_and_numbers_stay_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_xlsx({"tables": frame()}, path)
    ws = load_workbook(path)["tables"]
    cells = [c for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.value for c in cells if is_formula_like(c.value)]
    header = [c.value for c in next(ws.iter_rows())]
    assert header == ["region", "n", "rate", "code", "text", "'=label"]
    first = [c for c in list(ws.iter_rows())[1]]
    assert first[0].value == "'" + ATTACKS[0] and first[0].data_type == "s"
    assert first[1].value == -len(ATTACKS) and first[1].data_type == "n"
    assert first[2].value == -0.5 and first[2].data_type == "n"
    last = list(ws.iter_rows())[-1]
    assert last[2].value is None and last[4].value is None  # NaN and NA: empty cells


def test_xlsx_bytes_are_reproducible(tmp_path: Path) -> None:
    sheets = {"a": frame(), "b": pd.DataFrame({"x": [1.5, 2.0]})}
    write_xlsx(sheets, tmp_path / "1.xlsx")
    write_xlsx(sheets, tmp_path / "2.xlsx")
    assert (tmp_path / "1.xlsx").read_bytes() == (tmp_path / "2.xlsx").read_bytes()
    # what made two runs differ before: the dates, fixed whatever the clock says
    with zipfile.ZipFile(tmp_path / "1.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert core.count(stamp) == 2 and "<dc:creator>fl_estimate</dc:creator>" in core
    props = load_workbook(tmp_path / "1.xlsx").properties
    assert props.created == FIXED_TIMESTAMP and props.modified == FIXED_TIMESTAMP


def test_xlsx_sheet_names_and_bad_characters(tmp_path: Path) -> None:
    long = "Linked persons by stratum (after disclosure control)"
    sheets = {long: pd.DataFrame({"v": ["a\x01b"]}), long + " 2": pd.DataFrame(), "a/b[1]": frame()}
    write_xlsx(sheets, tmp_path / "t.xlsx")
    wb = load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == [long[:31], long[:27] + " (2)", "a_b_1_"]
    assert wb[long[:31]]["A2"].value == "a\ufffdb"


def test_escape_markdown_html() -> None:
    assert escape_markdown_html('<img src=x onerror="alert(1)">') == (
        '&lt;img src=x onerror="alert(1)"&gt;'
    )
    assert escape_markdown_html("a & b") == "a &amp; b"
    assert escape_markdown_html("x|y\r\nz", table_cell=True) == "x\\|y z"


def test_csv_carriage_return_cannot_start_a_row(tmp_path: Path) -> None:
    """Python's CSV writer leaves a field with a bare CR unquoted; a spreadsheet then starts a new
    row there, whose first cell would be the formula."""
    path = tmp_path / "t.csv"
    write_csv(pd.DataFrame({"v": ["ok\r=HYPERLINK(1)", "a\r\nb"], "n": [1, 2]}), path)
    raw = path.read_bytes()
    assert b"\r" not in raw
    assert raw.decode().splitlines()[1:] == ['"ok', '=HYPERLINK(1)",1', '"a', 'b",2']
    assert pd.read_csv(path)["v"].tolist() == ["ok\n=HYPERLINK(1)", "a\nb"]
