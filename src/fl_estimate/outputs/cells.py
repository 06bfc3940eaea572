"""Spreadsheet-safe cells: CSV and XLSX writers that never carry a live formula.

Provider files are written by others; a value such as ``=HYPERLINK("http://evil.example", ...)``
in a submission must not become a formula in a published CSV or workbook (issue 19, point 4).

Rule
----
A *string* cell whose first character is ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
"formula-like" and is written with a single quote in front (``'=1+1``), as the OWASP page on CSV
injection advises, unless the whole string is a plain decimal number (``-3``, ``+1.5``,
``-2.5e-3``): a spreadsheet reads those as the number they are, which is harmless, and prefixing
them would turn a number into text. Cells that are numbers (int, float, bool, numpy numbers) are
written as numbers, never quoted. Column names and index labels follow the same rule. An XLSX cell
holding a neutralised value is a string cell (never ``data_type == "f"``), so the value shows as
written, quote included, and cannot be evaluated.

:func:`is_formula_like` is the same test, for validators that reject such values in code fields
(region, record id, ...).

Reproducible workbooks
----------------------
:func:`write_xlsx` gives the same bytes on every run: ``docProps/core.xml`` has fixed creation and
modification times (:data:`FIXED_TIMESTAMP`) and creator ``fl_estimate``, and every zip entry has
the same date (1980-01-01), permissions and order. Characters XML cannot hold (control characters
other than tab, newline and carriage return) are replaced by U+FFFD instead of failing the run.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import math
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from fl_estimate._io import atomic_open, atomic_write_bytes

__all__ = [
    "FIXED_TIMESTAMP",
    "escape_markdown_html",
    "is_formula_like",
    "neutralise_frame",
    "neutralise_value",
    "write_csv",
    "write_xlsx",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FIXED_TIMESTAMP = _dt.datetime(2000, 1, 1, 0, 0, 0)
"""Creation and modification time written into every workbook (UTC)."""

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet could read ``value`` as a formula (see the module notes).

    Examples
    --------
    >>> [is_formula_like(v) for v in ["=1+1", "@SUM(A1)", "-3", "north", -3, "+44 20 7946"]]
    [True, True, False, False, False, True]
    """
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and _NUMBER.fullmatch(value) is None
    )


def neutralise_value(value: Any) -> Any:
    """``value`` with a leading single quote if it is formula-like; anything else unchanged."""
    return "'" + value if is_formula_like(value) else value


def _is_text(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)


def _map_labels(index: pd.Index, fn: Callable[[Any], Any]) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.map(lambda key: tuple(fn(v) for v in key))
    return index.map(fn) if _is_text(index.dtype) else index


def _map_text(df: pd.DataFrame, fn: Callable[[Any], Any]) -> pd.DataFrame:
    """A copy of ``df`` with ``fn`` applied to every text cell and label (others untouched)."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            if _is_text(s.cat.categories.dtype):
                out[col] = s.cat.rename_categories([fn(c) for c in s.cat.categories])
        elif _is_text(s.dtype):
            out[col] = s.map(fn, na_action="ignore")
    out.columns = _map_labels(out.columns, fn)
    out.index = _map_labels(out.index, fn)
    return out


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` in which every formula-like string cell and label is neutralised.

    Numeric columns are not touched; object, string and categorical columns are.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["=HYPERLINK(1)", "-3", "ok"], "n": [-1, 2, 3]})
    >>> neutralise_frame(df)["id"].tolist()
    ["'=HYPERLINK(1)", '-3', 'ok']
    """
    return _map_text(df, neutralise_value)


def _csv_value(value: Any) -> Any:
    value = neutralise_value(value)
    if isinstance(value, str) and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def write_csv(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    """Write ``df`` as UTF-8 CSV with formula-like cells neutralised, atomically.

    A carriage return inside a text cell is written as a line feed: Python's CSV writer quotes a
    field with a line feed but not one with a bare carriage return, which a spreadsheet would
    read as the start of a new row (whose first cell could be a formula).

    Parameters
    ----------
    df : DataFrame
    path : path
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv`; defaults ``index=False`` and
        ``lineterminator="\\n"``.
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\n")
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        _map_text(df, _csv_value).to_csv(fh, **kwargs)


def _cell(value: Any) -> Any:
    """A value openpyxl writes as itself: numbers as numbers, text as text, missing as empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, _dt.datetime | _dt.date):
        if isinstance(value, _dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return value
    return _ILLEGAL_XML.sub("\ufffd", neutralise_value(str(value)))


def _sheet_names(names: list[str]) -> list[str]:
    """Excel-valid, unique sheet names (no ``[]:*?/\\``, at most 31 characters)."""
    out: list[str] = []
    for name in names:
        base = _SHEET_BAD.sub("_", str(name)).strip("'") or "Sheet"
        candidate, k = base[:31], 2
        while candidate.lower() in {o.lower() for o in out}:
            tail = f" ({k})"
            candidate, k = base[: 31 - len(tail)] + tail, k + 1
        out.append(candidate)
    return out


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip (an xlsx) with fixed entry dates and a fixed ``docProps/core.xml``."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                for tag in ("created", "modified"):
                    text = re.sub(
                        rf"(<dcterms:{tag}\b[^>]*>)[^<]*(</dcterms:{tag}>)",
                        rf"\g<1>{stamp}\2",
                        text,
                    )
                body = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, body)
    return out.getvalue()


#: Excel number formats: codes are locale-neutral (``,`` groups and ``.`` is the decimal point in
#: the file), and Excel shows them in the reader's locale (``8 500 000``, ``12,50`` in French).
WHOLE_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.00"


def _number_format(value: Any) -> str | None:
    """The display format of a numeric cell, as the report prints numbers: whole numbers from
    10,000 up grouped (years and codes below that stay plain), floats from 100 up as whole
    numbers, smaller floats with two decimals. The stored value keeps its full precision."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return WHOLE_FORMAT if abs(value) >= 10_000 else None
    if isinstance(value, float):
        return WHOLE_FORMAT if abs(value) >= 100 else DECIMAL_FORMAT
    return None


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    number_formats: bool = False,
    date_format: str | None = None,
) -> None:
    """Write frames as sheets of one workbook: neutralised cells, identical bytes on every run.

    Parameters
    ----------
    sheets : mapping of str to DataFrame
        Sheet title -> frame, in order. Titles are made valid for Excel (31 characters, no
        ``[]:*?/\\``, unique). Frames are written without their index (reset it first to keep
        it); the header row is frozen.
    path : path
        Written atomically.
    number_formats : bool
        Give numeric cells a display format (:data:`WHOLE_FORMAT`, :data:`DECIMAL_FORMAT`; see
        :func:`_number_format`) so that a reader's Excel shows them grouped in its locale;
        the cells stay numbers.
    date_format : str, optional
        Excel format of date cells, e.g. ``"dd/mm/yyyy"`` for a French reader (default: Excel's).

    Notes
    -----
    Missing values and infinities are written as empty cells.

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.xlsx"
    >>> write_xlsx({"t": pd.DataFrame({"n": [8_500_000], "x": [12.5]})}, path, number_formats=True)
    >>> ws = openpyxl.load_workbook(path)["t"]
    >>> ws["A2"].value, ws["A2"].number_format, ws["B2"].value, ws["B2"].number_format
    (8500000, '#,##0', 12.5, '#,##0.00')
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "fl_estimate"
    wb.properties.lastModifiedBy = None
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    for title, frame in zip(_sheet_names(list(sheets)), sheets.values(), strict=True):
        ws = wb.create_sheet(title)
        ws.append([_cell(c) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        for row in ws.iter_rows(min_row=1):
            for c in row:
                if isinstance(c.value, str):
                    c.data_type = "s"  # never a formula, whatever openpyxl guessed
                elif c.row > 1 and number_formats and (fmt := _number_format(c.value)):
                    c.number_format = fmt
                elif date_format and isinstance(c.value, _dt.date):
                    c.number_format = date_format
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(path, _fixed_zip(buf.getvalue()))


def escape_markdown_html(text: str, *, table_cell: bool = False) -> str:
    """Escape ``&``, ``<`` and ``>`` so that text from a data file cannot inject HTML into
    Markdown (which renders raw HTML).

    Parameters
    ----------
    text : str
    table_cell : bool
        Also escape ``|`` and turn line breaks into spaces, for a cell of a Markdown table.

    Examples
    --------
    >>> escape_markdown_html("<script>alert(1)</script> & co")
    '&lt;script&gt;alert(1)&lt;/script&gt; &amp; co'
    >>> escape_markdown_html("a|b\\nc", table_cell=True)
    'a\\\\|b c'
    """
    out = html.escape(str(text), quote=False)
    if table_cell:
        out = re.sub(r"[\r\n]+", " ", out.replace("|", "\\|"))
    return out
