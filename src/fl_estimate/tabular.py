"""One reader for every tabular input: CSV as offices write it, and Excel workbooks.

:func:`read_table` works out what a file is before reading it: an Excel workbook (read with
openpyxl: first sheet, date cells as dates), or text in UTF-8 (with or without a byte-order mark),
UTF-16 with a byte-order mark, Windows-1252 or Latin-1 (read with a notice); the separator ``,``
``;`` or tab (sniffed on the first lines, then checked on every row); and, in ``;`` files, the
decimal comma. What it found is returned as a :class:`ReadInfo`, for the report to state ("read as
Windows-1252 with ';' separators"). A file it cannot read (a directory, a binary file, a workbook
where CSV is expected, rows with the wrong number of fields) raises
:class:`~fl_estimate.exceptions.InputValidationError` naming the file (and row) and saying what to
do. Messages are :class:`~fl_estimate.i18n.Message` objects: English text, translatable later.

Numbers stay text: a caller converting a numeric column uses :func:`parse_number` with
``decimal=info.decimal``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, Message, translate

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ReadInfo",
    "parse_number",
    "parse_toml",
    "read_rows",
    "read_table",
    "read_text_file",
    "read_toml",
]

#: A table as read: the header (stripped) and the rows, each as long as the header.
Rows = tuple[list[str], list[list[Any]], "ReadInfo"]

log = logging.getLogger(__name__)

_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_SAMPLE_LINES = 50
_DELIMITERS = (",", ";", "\t")
#: Bytes 0x80-0x9F that Windows-1252 leaves undefined (Latin-1 control characters).
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}([ .\u00a0\u202f]\d{3})+|\d+),\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)\.\d+$")

_SAVE_AS_CSV = N_("save it as CSV UTF-8 (in Excel: File > Save As > CSV UTF-8 (Comma delimited))")
_ENCODING_NAMES = {
    "utf-8": N_("UTF-8"),
    "utf-8-sig": N_("UTF-8 with a byte-order mark"),
    "utf-16": N_("UTF-16"),
    "utf-32": N_("UTF-32"),
    "cp1252": N_("Windows-1252"),
    "latin-1": N_("Latin-1 (ISO-8859-1)"),
}
_DELIMITER_NAMES = {",": N_("','"), ";": N_("';'"), "\t": N_("tab")}


@dataclass(frozen=True)
class ReadInfo:
    """How a table was read, for the report to state.

    Attributes
    ----------
    encoding : str or None
        Python codec name of a text file (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``,
        ``latin-1``); ``None`` for a workbook.
    delimiter : str or None
        ``,``, ``;`` or tab; ``None`` for a workbook.
    decimal : str
        Decimal sign of the numeric columns: ``,`` (only found in ``;`` files) or ``.``.
    notices : list of str
        What the reader guessed or changed, in words (:class:`~fl_estimate.i18n.Message`).
    format : str
        ``csv`` or ``xlsx``.
    """

    encoding: str | None
    delimiter: str | None
    decimal: str = "."
    notices: list[str] = field(default_factory=list)
    format: str = "csv"

    def to_dict(self) -> dict[str, Any]:
        """The facts as JSON-ready values (the notices as English text)."""
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "decimal": self.decimal,
            "notices": [str(n) for n in self.notices],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReadInfo:
        """Inverse of :meth:`to_dict` (the notices come back as plain text)."""
        return cls(
            encoding=d.get("encoding"),
            delimiter=d.get("delimiter"),
            decimal=d.get("decimal", "."),
            notices=list(d.get("notices", [])),
            format=d.get("format", "csv"),
        )

    def describe(self, lang: str = "en") -> str:
        """One phrase for a report: "read as Windows-1252 with ';' separators and decimal commas"."""
        if self.format == "xlsx":
            return translate(N_("read as an Excel workbook (first sheet)"), lang)
        enc = _ENCODING_NAMES.get(str(self.encoding), str(self.encoding))
        sep = _DELIMITER_NAMES.get(str(self.delimiter), repr(self.delimiter))
        if self.decimal == ",":
            msg = N_(
                "read as {encoding} with {separator} separators and decimal commas",
                encoding=enc,
                separator=sep,
            )
        else:
            msg = N_("read as {encoding} with {separator} separators", encoding=enc, separator=sep)
        return translate(msg, lang)


def _file_bytes(path: Path, source: str, folder: Message, missing: Message) -> bytes:
    """The bytes of ``path``; if it is a folder, missing or unreadable, the error naming it
    (``folder`` and ``missing``: the caller's messages for the first two)."""
    if path.is_dir():
        raise _fail(folder, source)
    if not path.exists():
        raise _fail(missing, source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(
            N_("{file} cannot be read ({error})", file=source, error=exc.strerror or str(exc)),
            source,
        ) from None


def _fail(message: Message, source: str, row: int | None = None) -> InputValidationError:
    return InputValidationError([Problem(message, source=source, row=row)])


# ---------------------------------------------------------------- what kind of file
def _sniff_kind(raw: bytes, path: Path) -> str:
    """``xlsx``, ``xls``, ``text`` or raise for a file that is no table."""
    source = path.name
    if raw.startswith(b"PK\x03\x04"):
        return "xlsx"
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .xls, or an encrypted workbook
        return "xls"
    if raw.startswith(b"%PDF"):
        raise _fail(
            N_("{file} is a PDF document, not a table: export the table itself as CSV or Excel",
               file=source),
            source,
        )  # fmt: skip
    return "text"


def _decode(raw: bytes, source: str, notices: list[str]) -> tuple[str, str]:
    """The text and the codec it was decoded with, or raise with what to do."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                raise _fail(
                    N_("{file} starts as {encoding} text but cannot be decoded as such; "
                       "{advice}", file=source, encoding=_ENCODING_NAMES[codec],
                       advice=_SAVE_AS_CSV),
                    source,
                ) from None  # fmt: skip
            if codec != "utf-8-sig":
                notices.append(
                    N_("{file} is {encoding} text (Excel's \"Unicode text\"); it was read as "
                       "such, but CSV UTF-8 is the expected format",
                       file=source, encoding=_ENCODING_NAMES[codec])
                )  # fmt: skip
            return _no_control(text, source), codec
    head = raw[:8192]
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if even.count(0) > len(even) // 3 or odd.count(0) > len(odd) // 3:
            raise _fail(
                N_("{file} looks like UTF-16 text without a byte-order mark, which cannot be "
                   "read reliably; {advice}", file=source, advice=_SAVE_AS_CSV),
                source,
            )  # fmt: skip
        raise _binary(source)
    try:
        return _no_control(raw.decode("utf-8"), source), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if any(b in _CP1252_UNDEFINED for b in raw):
        line = raw[:first_bad].count(b"\n") + 1
        raise _fail(
            N_("{file} is neither UTF-8 nor Windows-1252 text (first unreadable byte on line "
               "{line}); {advice}", file=source, line=line, advice=_SAVE_AS_CSV),
            source,
        )  # fmt: skip
    codec = "cp1252" if any(0x80 <= b <= 0x9F for b in raw) else "latin-1"
    text = raw.decode(codec)
    notices.append(
        N_("{file} is not UTF-8: it was read as {encoding}; check the accented letters, "
           "or {advice}", file=source, encoding=_ENCODING_NAMES[codec], advice=_SAVE_AS_CSV)
    )  # fmt: skip
    return _no_control(text, source), codec


def _binary(source: str) -> InputValidationError:
    return _fail(
        N_("{file} is a binary file, not a text table; {advice}", file=source,
           advice=_SAVE_AS_CSV),
        source,
    )  # fmt: skip


def _no_control(text: str, source: str) -> str:
    if _CONTROL.search(text[:65536]):
        raise _binary(source)
    return text


# ---------------------------------------------------------------- separators and rows
def _fields(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), []))


def _records(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    return list(reader)


def _detect_delimiter(text: str) -> str:
    """``,``, ``;`` or tab: the sniffer's choice among those, checked on the first lines.

    A delimiter is kept only if it splits the header into 2 or more fields and every sampled row
    into as many; otherwise the one giving the header the most fields wins (a ragged row is then
    reported by the full check). A one-column file gets ``,``.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()][:_SAMPLE_LINES]
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    order = sorted(_DELIMITERS, key=lambda d: d != sniffed)
    header = {d: _fields(lines[0], d) for d in order}
    sample = "\n".join(lines)
    for d in order:
        if header[d] > 1 and all(len(r) == header[d] for r in _records(sample, d) if r):
            return d
    best = max(order, key=lambda d: header[d])
    return best if header[best] > 1 else ","


def _numeric_columns(rows: list[list[str]], pattern: re.Pattern[str]) -> list[int]:
    """Columns whose non-empty cells all match ``pattern`` or are whole numbers, one matching."""
    if not rows:
        return []
    out = []
    for j in range(len(rows[0])):
        cells = [r[j].strip() for r in rows if r[j].strip()]
        if cells and any(pattern.match(c) for c in cells):
            if all(pattern.match(c) or re.fullmatch(r"[+-]?\d+", c) for c in cells):
                out.append(j)
    return out


def _check_rows(rows: list[list[str]], n: int, source: str, delimiter: str) -> None:
    problems = []
    sep = _DELIMITER_NAMES[delimiter]
    for i, r in enumerate(rows):
        if len(r) != n and any(c.strip() for c in r):
            problems.append(
                Problem(
                    N_("row {row} has {found} fields but the header has {expected} (separator "
                       "{separator}; a value containing the separator must be in double quotes)",
                       row=i + 2, found=len(r), expected=n, separator=sep),
                    source=source,
                    row=i + 2,
                )
            )  # fmt: skip
    if problems:
        raise InputValidationError(problems)


def _read_text(raw: bytes, source: str) -> Rows:
    notices: list[str] = []
    text, encoding = _decode(raw, source, notices)
    delimiter = _detect_delimiter(text)
    records = _records(text, delimiter)
    while records and not any(c.strip() for c in records[-1]):
        records.pop()  # trailing blank lines and rows of empty cells
    if not records:
        raise _fail(N_("{file} is empty; expected a header row", file=source), source)
    header = [h.strip() for h in records[0]]
    rows = records[1:]
    _check_rows(rows, len(header), source, delimiter)
    rows = [r if len(r) == len(header) else [""] * len(header) for r in rows]
    decimal = "."
    if delimiter == ";":
        commas = _numeric_columns(rows, _DECIMAL_COMMA)
        if commas and not _numeric_columns(rows, _DECIMAL_POINT):
            decimal = ","
            notices.append(
                N_("{file}: decimal commas in {columns}", file=source,
                   columns=", ".join(repr(header[j]) for j in commas))
            )  # fmt: skip
    header, rows = _drop_unnamed_empty(header, rows)
    return header, rows, ReadInfo(encoding, delimiter, decimal, notices)


def _drop_unnamed_empty(
    header: list[str], rows: list[list[Any]]
) -> tuple[list[str], list[list[Any]]]:
    """Drop columns with no header and no value (a trailing separator, Excel's spare columns)."""
    keep = [
        j for j, c in enumerate(header) if str(c) != "" or any(r[j] not in (None, "") for r in rows)
    ]
    if len(keep) == len(header):
        return header, rows
    return [header[j] for j in keep], [[r[j] for j in keep] for r in rows]


# ---------------------------------------------------------------- Excel
def _cell(v: Any, as_text: bool) -> Any:
    if v is None:
        return ""
    if isinstance(v, datetime) and v.time() == time(0):
        v = v.date()
    if isinstance(v, bool):
        v = "TRUE" if v else "FALSE"
    elif isinstance(v, float) and v.is_integer():
        v = int(v)
    if not as_text:
        return v
    if isinstance(v, date | time):
        return v.isoformat()
    return str(v)


def _read_xlsx(raw: bytes, source: str, as_text: bool) -> Rows:
    import zipfile
    from xml.etree.ElementTree import ParseError

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:  # from the bytes: openpyxl refuses a workbook whose name does not end in .xlsx
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            sheets = list(wb.sheetnames)
            rows = wb.worksheets[0].iter_rows(values_only=True)
            records = [[_cell(v, as_text) for v in row] for row in rows]
        finally:
            wb.close()
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        IndexError,
        OSError,
        ValueError,
        ParseError,
    ) as exc:
        raise _fail(
            N_("{file} cannot be opened as an Excel workbook ({error}); open it in Excel and "
               "save it again as .xlsx, or {advice}", file=source, error=type(exc).__name__,
               advice=_SAVE_AS_CSV),
            source,
        ) from None  # fmt: skip
    while records and all(v == "" for v in records[-1]):
        records.pop()
    if not records:
        raise _fail(N_("{file} is empty (its first sheet has no header row)", file=source), source)
    width = max(len(r) for r in records)  # rows of a sheet without a dimension may be short
    records = [r + [""] * (width - len(r)) for r in records]
    header = [str(h).strip() for h in records[0]]
    notices: list[str] = []
    if len(sheets) > 1:
        notices.append(
            N_("{file}: only the first sheet ({sheet!r}) was read", file=source, sheet=sheets[0])
        )
    header, rows = _drop_unnamed_empty(header, records[1:])
    return header, rows, ReadInfo(None, None, ".", notices, format="xlsx")


# ---------------------------------------------------------------- public
def read_rows(path: str | Path, *, as_text: bool = True, excel: bool = True) -> Rows:
    """Read a CSV or Excel table as a header and rows of cells, without pandas.

    What :func:`read_table` does, before the rows become a DataFrame (for readers that must
    start fast, such as ``fl-estimate describe``).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (or any text table) or ``.xlsx``/``.xlsm`` file.
    as_text : bool
        Excel cells as text (as :func:`read_table` with ``dtype=str``) or typed.
    excel : bool
        Whether a workbook is acceptable.

    Returns
    -------
    header : list of str
        Stripped; duplicates kept.
    rows : list of list
        In file order (spreadsheet row = index + 2), each as long as the header.
    info : ReadInfo

    Raises
    ------
    InputValidationError
        As :func:`read_table`.
    """
    path = Path(path)
    source = path.name or str(path)
    raw = _file_bytes(
        path,
        source,
        N_("{path} is a folder, not a file: give the path of the table itself", path=str(path)),
        N_("file not found: {path}", path=str(path)),
    )
    kind = _sniff_kind(raw, path)
    if kind == "xls":
        raise _fail(
            N_("{file} is an old Excel .xls workbook (or a password-protected one), which cannot "
               "be read: save it as Excel .xlsx without password, or {advice}",
               file=source, advice=_SAVE_AS_CSV),
            source,
        )  # fmt: skip
    if kind == "xlsx":
        if not excel:
            raise _fail(
                N_("{file} is an Excel workbook, but a CSV file is expected here: {advice}",
                   file=source, advice=_SAVE_AS_CSV),
                source,
            )  # fmt: skip
        header, rows, info = _read_xlsx(raw, source, as_text)
        if path.suffix.lower() not in _EXCEL_SUFFIXES:
            info.notices.append(
                N_("{file} is an Excel workbook despite its name; it was read as one",
                   file=source)
            )  # fmt: skip
    else:
        if path.suffix.lower() in _EXCEL_SUFFIXES:
            raise _fail(
                N_("{file} has an Excel name but is not an Excel workbook: open it and save it "
                   "again, as .xlsx or as CSV UTF-8", file=source),
                source,
            )  # fmt: skip
        header, rows, info = _read_text(raw, source)
    for notice in info.notices:
        log.info("%s", notice)
    return header, rows, info


def read_table(
    path: str | Path, *, dtype: Any = str, excel: bool = True
) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a CSV or Excel table whatever its encoding and separator, or say what to change.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (or any text table) or ``.xlsx``/``.xlsm`` file.
    dtype : str or object
        ``str``: every cell as text (empty cells ``""``; Excel dates as ISO ``YYYY-MM-DD``, whole
        numbers without ``.0``). ``object``: Excel cells keep their type (``datetime.date``,
        ``int``, ``float``, ``str``); CSV cells are text either way.
    excel : bool
        Whether a workbook is acceptable; ``False`` for readers documented as CSV-only, which
        then refuse it with the advice to save as CSV.

    Returns
    -------
    frame : DataFrame
        Header (stripped) as columns, duplicates kept; rows in file order, so spreadsheet row =
        index + 2. Trailing empty rows, and columns with neither header nor value, are dropped.
    info : ReadInfo
        Encoding, separator, decimal sign and notices (also logged at INFO level).

    Raises
    ------
    InputValidationError
        Naming the file (and row) for: a missing file, a directory, an empty file, a binary or
        PDF file, an old ``.xls`` or encrypted workbook, a workbook where CSV is expected, UTF-16
        text without byte-order mark, text neither UTF-8 nor Windows-1252, rows whose number of
        fields differs from the header's (each such row named).

    Examples
    --------
    >>> frame, info = read_table("data_samples/uk_2013.csv")   # doctest: +SKIP
    >>> info.describe("fr")                                     # doctest: +SKIP
    'lu comme UTF-8, séparateur « , »'
    """
    import pandas as pd

    header, rows, info = read_rows(path, as_text=dtype is str, excel=excel)
    return pd.DataFrame(rows, columns=header, dtype=dtype), info


def parse_number(text: str, decimal: str = ",") -> float:
    """A number written with ``decimal`` as decimal sign, grouping spaces or separators allowed.

    Parameters
    ----------
    text : str
        ``"12,5"``, ``"1 234,5"``, ``"1.234,5"``, ``"-3"`` (with ``decimal=","``); ``"1,234.5"``
        (with ``decimal="."``). Spaces, no-break spaces and thin spaces group thousands.
    decimal : str
        ``,`` or ``.``, usually :attr:`ReadInfo.decimal`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``text`` is not such a number (``"12.5"`` with ``decimal=","`` is refused, not read
        as 125).

    Examples
    --------
    >>> parse_number("1 234,5"), parse_number("1.234.567"), parse_number("0.5", decimal=".")
    (1234.5, 1234567.0, 0.5)
    """
    if decimal not in (",", "."):
        raise ValueError(f"decimal must be ',' or '.', not {decimal!r}")
    group = "." if decimal == "," else ","
    s = re.sub(r"[ \u00a0\u202f]", "", str(text).strip())
    grouped = rf"[+-]?\d{{1,3}}(\{group}\d{{3}})+(\{decimal}\d+)?"
    plain = rf"[+-]?(\d+(\{decimal}\d*)?|\{decimal}\d+)([eE][+-]?\d+)?"
    if re.fullmatch(grouped, s):
        s = s.replace(group, "")
    elif not re.fullmatch(plain, s):
        raise ValueError(f"not a number with decimal {decimal!r}: {text!r}")
    return float(s.replace(decimal, "."))


def read_text_file(path: str | Path, *, what: str = "file") -> str:
    """The text of a configuration file (TOML, key), read as UTF-8 (with or without a byte-order
    mark), or an :class:`~fl_estimate.exceptions.InputValidationError` naming the file.

    A missing file, a folder, a binary file and text in another encoding are refused (saying which
    encoding was found and how to save the file as UTF-8): configuration is never guessed.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the message ("configuration file", "key file").
    """
    path = Path(path)
    source = path.name or str(path)
    raw = _file_bytes(
        path,
        source,
        N_("{path} is a folder, not a {what}: give the path of the file itself",
           path=str(path), what=what),
        N_("{what} not found: {path}", what=what, path=str(path)),
    )  # fmt: skip
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        notices: list[str] = []
        try:
            _decode(raw, source, notices)
            found = str(notices[0]).split(": it was read as ")[-1].split(";")[0] if notices else ""
        except InputValidationError:
            found = ""
        line = raw[: exc.start].count(b"\n") + 1
        kind = f"{found} text" if found and "is " not in found else "not UTF-8 text"
        raise _fail(
            N_("{file} is {kind} (first byte that is not UTF-8 on line {line}); save it as "
               "UTF-8 (in a text editor: Save As, encoding UTF-8)", file=source, kind=kind,
               line=line),
            source,
        ) from None  # fmt: skip
    if _CONTROL.search(text):
        raise _fail(
            N_("{file} is a binary file, not a text {what}", file=source, what=what), source
        )
    return text


def read_toml(path: str | Path, *, what: str = "configuration file") -> dict[str, Any]:
    """A TOML file as a dict, read with :func:`read_text_file`; a syntax error is an
    :class:`~fl_estimate.exceptions.InputValidationError` naming the file and the line."""
    path = Path(path)
    return parse_toml(read_text_file(path, what=what), path.name)


def parse_toml(text: str, source: str, *, summary: str | None = None) -> dict[str, Any]:
    """TOML text as a dict; a syntax error is an
    :class:`~fl_estimate.exceptions.InputValidationError` naming ``source`` and the line (with
    ``summary`` as its headline, if given).

    Examples
    --------
    >>> parse_toml("a = 1", "demo.toml")
    {'a': 1}
    >>> try:
    ...     parse_toml("a = ", "demo.toml")
    ... except InputValidationError as exc:
    ...     print(exc.problems[0].source, "not valid TOML" in str(exc))
    demo.toml True
    """
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        problem = Problem(f"not valid TOML ({' '.join(str(exc).split())})", source=source, row=line)
        raise InputValidationError([problem], summary=summary) from None
