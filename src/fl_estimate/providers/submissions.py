"""Provider submissions: the file format, its validation (pandera, lazy) and re-submissions.

A submission is one provider's file of identified victims for one reporting period (a quarter
``2023-Q2`` or a year ``2023``), as CSV or Excel. :func:`validate_submission` checks a file and
reports every problem (row as a spreadsheet shows it, column, value, expectation); a file with any
problem is rejected whole. :func:`load_submissions` reads many files, keeps the accepted ones and,
when a provider sends the same period again, keeps only the later file (files are taken in the
order given; a corrected file named ``..._v2`` sorts after the original).

Values of identifying columns never appear in a report: they are shown as ``<redacted>``.

Examples
--------
The sample country's police files of 2022: the first file for the third quarter is rejected, its
corrected ``_v2`` is used instead.

>>> from pathlib import Path
>>> report, cleaned = validate_submission("data_samples/country/submissions/police_2022-Q3.csv")
>>> report.accepted, cleaned, [(p.row, p.column) for p in report.problems]
(False, None, [(3, 'sex'), (5, 'date_identified'), (8, 'age')])
>>> loaded = load_submissions(sorted(Path("data_samples/country/submissions").glob("police_2022*")))
>>> loaded.report_frame()[["source", "status", "problems"]]
                  source    status  problems
0     police_2022-Q1.csv      used         0
1     police_2022-Q2.csv      used         0
2     police_2022-Q3.csv  rejected         3
3  police_2022-Q3_v2.csv      used         0
4     police_2022-Q4.csv      used         0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, Message, render_problem, translator
from fl_estimate.outputs.cells import is_formula_like
from fl_estimate.providers.pseudonymise import (
    BLOOM_BITS,
    FINGERPRINT_COLUMN,
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    normalise_birth_date,
    normalise_date,
)
from fl_estimate.tabular import ReadInfo, read_table

__all__ = [
    "CODE_COLUMNS",
    "EXPLOITATION_FORMS",
    "SUBMISSION_COLUMNS",
    "LoadedSubmissions",
    "SubmissionReport",
    "load_submissions",
    "read_submission_file",
    "validate_submission",
    "write_template",
]

#: HTCDS v2.0 ``vic_TypeOfExploitation`` picklist (IC-TIP forms map onto it), plus ``Unknown``.
EXPLOITATION_FORMS = (
    "ForcedLabour",
    "SexualExploitation",
    "ChildLabour",
    "ForcedMarriage",
    "Servitude",
    "ForcedMilitaryByNonStateActors",
    "OrganRemoval",
    "ForcedBegging",
    "ForcedAdoption",
    "Surrogacy",
    "Other",
    "Unknown",
)
_EXPLOIT_LOOKUP = {v.lower(): v for v in EXPLOITATION_FORMS}
SEX_VALUES = ("F", "M", "other", "unknown")
_SEX_ALIASES = {
    "f": "F", "female": "F", "feminine": "F", "woman": "F", "girl": "F",
    "m": "M", "male": "M", "masculine": "M", "man": "M", "boy": "M",
    "other": "other", "transgenderfeminine": "other", "transgendermasculine": "other",
    "nonconforming": "other", "unknown": "unknown", "nonspecifiedunknown": "unknown",
}  # fmt: skip
AGE_BANDS = ("child", "adult", "unknown")

#: Columns of the submission format: (name, required, description).
SUBMISSION_COLUMNS: tuple[tuple[str, bool, str], ...] = (
    ("provider", True, "provider code as in the provider registry, e.g. police"),
    ("period", True, "reporting period: YYYY-Qn for a quarter, YYYY for a year"),
    ("record_id", True, "the provider's own record number, unique in the file"),
    ("region", True, "region of identification, as in the provider registry"),
    ("date_identified", True, "date of identification, YYYY-MM-DD or DD/MM/YYYY, inside period"),
    ("sex", True, "F, M, other or unknown (HTCDS prs_Gender values accepted)"),
    ("age", False, "age in years at identification (0-120); give age or age_band"),
    ("age_band", False, "child (<18), adult or unknown, when age is not known"),
    ("nationality", True, "ISO 3166-1 alpha-3 (alpha-2 accepted) or unknown"),
    ("exploitation", True, "form(s) of exploitation, HTCDS names joined with ';'"),
    ("given_name", False, "given name(s) as written"),
    ("family_name", False, "family name(s) as written"),
    ("date_of_birth", False, "YYYY-MM-DD or DD/MM/YYYY; YYYY when only the year is known"),
    ("document_number", False, "identity or travel document number"),
    ("phone", False, "phone number"),
    *((k, False, "pseudonymous key (instead of the clear identifiers)") for k in KEY_COLUMNS),
    (
        FINGERPRINT_COLUMN,
        False,
        "fingerprint of the key that made the pseudonymous keys (written "
        "by `fl-estimate submissions pseudonymise`; checked at linkage)",
    ),
)
_REQUIRED = [c for c, req, _ in SUBMISSION_COLUMNS if req]
#: Code fields: a value a spreadsheet would read as a formula (``=...``, ``+...``, ``-...``,
#: ``@...``, a leading tab or carriage return; :func:`fl_estimate.outputs.cells.is_formula_like`)
#: is refused in them, with its file, row and column (issue 19, point 4). Clear identifiers are
#: not code fields: they are pseudonymised and never written out.
CODE_COLUMNS = (
    "provider", "period", "record_id", "region", "sex", "age_band", "nationality", "exploitation",
)  # fmt: skip
_NOT_FORMULA = N_(
    "a code that does not start with =, +, -, @, a tab or a carriage return (a spreadsheet "
    "would read it as a formula)"
)
_KNOWN = {c for c, _, _ in SUBMISSION_COLUMNS}
_PERIOD = re.compile(r"^\d{4}(-Q[1-4])?$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX_BLOOM = re.compile(rf"^[0-9a-f]{{{BLOOM_BITS // 4}}}$")
REDACTED = "<redacted>"


def _date_ok(value: Any) -> bool:
    try:
        return normalise_date(value) is not None
    except ValueError:
        return False


def _birth_date_ok(value: Any) -> bool:
    try:
        return normalise_birth_date(value)[1] is not None
    except ValueError:
        return False


def _int_ok(value: Any) -> bool:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(f)) and f == int(f) and 0 <= f <= 120


#: Earliest date of birth accepted.
EARLIEST_BIRTH = "1900-01-01"
#: Age (in whole years) and the age implied by date of birth and date of identification may
#: differ by this much (a birthday not yet reached, an age recorded some days earlier).
AGE_TOLERANCE = 1
#: ... and by this much when the age ends in 0 or 5: such ages are often estimates rounded to the
#: nearest 5 years (age heaping; up to 2 years off), and the date of birth may itself be a
#: 1 January placeholder (up to 1 more).
AGE_HEAPED_TOLERANCE = 3
#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection); a code
#: field (provider, record_id, region) starting with one is refused.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# What a check expects (``expected ...`` in a problem), shared with the case files.
PERIOD_EXPECTED = N_("a period YYYY-Qn (quarter) or YYYY (year)")
DATE_EXPECTED = N_("a date YYYY-MM-DD or DD/MM/YYYY")
SEX_EXPECTED = N_("F, M, other or unknown")
AGE_EXPECTED = N_("a whole number of years from 0 to 120")
AGE_BAND_EXPECTED = N_("child, adult or unknown")
COUNTRY_EXPECTED = N_("an ISO 3166-1 country code (alpha-3, or alpha-2) or unknown")
EXPLOITATION_EXPECTED = N_(
    "HTCDS forms of exploitation joined with ';' (e.g. ForcedLabour;SexualExploitation), or Unknown"
)
ONE_PROVIDER_EXPECTED = N_("one provider and one period per file")
REQUIRED_COLUMN_MISSING = N_("required column is missing")
NO_DATA_ROWS = N_("no data rows: the file holds only a header")


def one_of(values: Iterable[str]) -> Message:
    """``one of a, b, c`` (what a check of allowed codes expects)."""
    return N_("one of {values}", values=", ".join(values))


def one_of_regions(regions: Iterable[str]) -> Message:
    """``one of the regions North, South``."""
    return N_("one of the regions {regions}", regions=", ".join(regions))


@cache  # read once: building the set took 0.2 ms, once per row (200 s for 1,000,000 records)
def _iso_countries() -> frozenset[str]:
    import pycountry

    codes = {c.alpha_3 for c in pycountry.countries} | {c.alpha_2 for c in pycountry.countries}
    return frozenset(codes | {"XKX", "XK"})  # Kosovo: user-assigned code used by the UN and EU


def _nationality_ok(value: Any) -> bool:
    text = str(value)
    return text.lower() == "unknown" or text in _iso_countries()


def _iso_or_none(value: Any) -> str | None:
    try:
        return normalise_date(value)
    except ValueError:
        return None


def _birth_year_only(value: Any) -> str | None:
    """The year of a date of birth written as the year only (``"1987"``), else None."""
    try:
        full, year = normalise_birth_date(value)
    except ValueError:
        return None
    return year if full is None and _iso_or_none(value) is None else None


def _row_rules(frame: pd.DataFrame, source: str) -> list[Problem]:
    """Rules that involve several cells of a row, each reported once for the row (the columns
    concerned named in the message, the row's own first such column as ``column``)."""
    problems: list[Problem] = []

    def col(name: str) -> list[Any]:
        return frame[name].tolist() if name in frame else [None] * len(frame)

    rows = zip(
        col("period"), col("date_identified"), col("age"), col("age_band"), col("date_of_birth"),
        strict=True,
    )  # fmt: skip
    iso: dict[Any, str | None] = {}  # each distinct date read once (a file repeats its dates)
    year_only: dict[Any, str | None] = {}

    def iso_of(value: Any) -> str | None:
        if value not in iso:
            iso[value] = _iso_or_none(value)
        return iso[value]

    for i, (period, ident, age, band, dob) in enumerate(rows):
        row = i + 2
        ident_iso = iso_of(ident)
        dob_iso = iso_of(dob)
        age_n = float(age) if age is not None and _int_ok(age) else None
        if age is None and band is None and dob is None:
            problems.append(
                Problem(N_("age, age_band or date_of_birth must be given"), source, row, "age")
            )
        if isinstance(period, str) and _PERIOD.fullmatch(period) and ident_iso is not None:
            start, end = period_bounds(period)
            if not start <= pd.Timestamp(ident_iso) <= end:
                problems.append(
                    Problem(N_("date_identified must fall inside the period {period}", period=period),
                            source, row, "date_identified", ident)
                )  # fmt: skip
        if dob not in year_only:
            year_only[dob] = _birth_year_only(dob)
        dob_year = year_only[dob]
        if dob_year is not None:  # the year only: it can be checked against the limits alone
            if dob_year < EARLIEST_BIRTH[:4]:
                problems.append(
                    Problem(N_("date_of_birth before {year}", year=EARLIEST_BIRTH[:4]), source,
                            row, "date_of_birth", REDACTED)
                )  # fmt: skip
            elif ident_iso is not None and dob_year > ident_iso[:4]:
                problems.append(
                    Problem(N_("date_of_birth must be before date_identified"), source, row,
                            "date_of_birth", REDACTED)
                )  # fmt: skip
        if dob_iso is not None:
            if dob_iso < EARLIEST_BIRTH:
                problems.append(
                    Problem(N_("date_of_birth before {year}", year=EARLIEST_BIRTH[:4]), source,
                            row, "date_of_birth", REDACTED)
                )  # fmt: skip
            elif ident_iso is not None and dob_iso >= ident_iso:
                problems.append(
                    Problem(N_("date_of_birth must be before date_identified"), source, row,
                            "date_of_birth", REDACTED)
                )  # fmt: skip
            elif ident_iso is not None and age_n is not None:
                b, d = date.fromisoformat(dob_iso), date.fromisoformat(ident_iso)
                implied = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
                heaped = age_n % 5 == 0
                if abs(implied - age_n) > (AGE_HEAPED_TOLERANCE if heaped else AGE_TOLERANCE):
                    problems.append(
                        Problem(N_("age {age} does not match date_of_birth (age {implied} on "
                                   "date_identified)", age=int(age_n), implied=implied),
                                source, row, "age", age)
                    )  # fmt: skip
        if age_n is not None and isinstance(band, str) and band.lower() in ("child", "adult"):
            if band.lower() != ("child" if age_n < 18 else "adult"):
                problems.append(
                    Problem(age_band_contradiction(int(age_n), band), source, row, "age_band", band)
                )  # fmt: skip
    return problems


def age_band_contradiction(age: int, band: str) -> Message:
    """The message of an age that contradicts its age band (victim and perpetrator files)."""
    expected = "child" if age < 18 else "adult"
    return N_("age {age} contradicts age_band {band!r} (expected {expected!r})", age=age,
              band=band, expected=expected)  # fmt: skip


def each_distinct(fn: Callable[[Any], Any], values: pd.Series) -> pd.Series:
    """``fn`` of each value as a boolean Series (missing values: True), ``fn`` called once per
    distinct value (a file repeats its dates, codes and countries: 1,000,000 records held a few
    thousand distinct values per column)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    ok = np.fromiter((bool(fn(v)) for v in uniques), dtype=bool, count=len(uniques))
    out = np.ones(len(values), dtype=bool)
    seen = codes >= 0
    out[seen] = ok[codes[seen]]
    return pd.Series(out, index=values.index)


def _elementwise(fn: Any, error: str) -> pa.Check:
    return pa.Check(lambda s: each_distinct(fn, s), error=error)


@cache  # a file has a few periods and asks once per row
def period_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a period ``YYYY`` or ``YYYY-Qn``."""
    year = int(period[:4])
    if len(period) == 4:
        return pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    q = int(period[-1])
    start = pd.Timestamp(year, 3 * q - 2, 1)
    return start, start + pd.offsets.QuarterEnd(0)


def _schema(regions: Sequence[str] | None, providers: Sequence[str] | None) -> pa.DataFrameSchema:
    def exploit_ok(v: Any) -> bool:
        parts = [p.strip().lower() for p in str(v).split(";")]
        return bool(parts) and all(p in _EXPLOIT_LOOKUP for p in parts)

    columns: dict[str, pa.Column] = {
        "provider": pa.Column(None,
            nullable=False,
            checks=[]
            if providers is None
            else [pa.Check.isin(list(providers), error=one_of(providers))],
        ),
        "period": pa.Column(None,
            nullable=False,
            checks=pa.Check(
                lambda s: s.str.fullmatch(_PERIOD.pattern).fillna(False),
                error=PERIOD_EXPECTED,
            ),
        ),
        "record_id": pa.Column(None, nullable=False, unique=True, report_duplicates="all",
            checks=[],
        ),
        "region": pa.Column(None,
            nullable=False,
            checks=[]
            if regions is None
            else [pa.Check.isin(list(regions), error=one_of_regions(regions))],
        ),
        "date_identified": pa.Column(None,
            nullable=False,
            checks=_elementwise(_date_ok, DATE_EXPECTED),
        ),
        "sex": pa.Column(None,
            nullable=False,
            checks=pa.Check(
                lambda s: s.str.lower().isin(list(_SEX_ALIASES)),
                error=SEX_EXPECTED,
            ),
        ),
        "age": pa.Column(None, nullable=True, required=False,
            checks=_elementwise(_int_ok, AGE_EXPECTED),
        ),
        "age_band": pa.Column(None, nullable=True, required=False,
            checks=pa.Check(
                lambda s: s.isna() | s.str.lower().isin(AGE_BANDS), error=AGE_BAND_EXPECTED
            ),
        ),
        "nationality": pa.Column(None,
            nullable=False,
            checks=_elementwise(_nationality_ok, COUNTRY_EXPECTED),
        ),
        "exploitation": pa.Column(None,
            nullable=False,
            checks=_elementwise(exploit_ok, EXPLOITATION_EXPECTED),
        ),
        "date_of_birth": pa.Column(None, nullable=True, required=False,
            checks=_elementwise(
                _birth_date_ok, N_("a date YYYY-MM-DD or DD/MM/YYYY, or the year YYYY when the "
                                  "day is not known")),
        ),
    }  # fmt: skip
    for c in CODE_COLUMNS:
        columns[c].checks.append(
            pa.Check(
                lambda s: each_distinct(lambda v: not is_formula_like(v), s), error=_NOT_FORMULA
            )
        )
    for k in KEY_COLUMNS:
        pattern = _HEX_BLOOM if k == "key_bloom" else _HEX32
        len_hex = BLOOM_BITS // 4 if k == "key_bloom" else 32
        columns[k] = pa.Column(
            None,
            nullable=True,
            required=False,
            checks=pa.Check(
                lambda s, p=pattern: s.isna() | s.str.fullmatch(p.pattern).fillna(False),
                error=N_(
                    "a pseudonymous key made by fl_estimate ({digits} lower-case hex digits)",
                    digits=len_hex,
                ),
            ),
        )

    columns[FINGERPRINT_COLUMN] = pa.Column(
        None,
        nullable=True,
        required=False,
        checks=pa.Check(
            lambda s: s.isna() | s.str.fullmatch(r"[0-9a-f]{16}").fillna(False),
            error=N_("a key fingerprint made by fl_estimate (16 lower-case hex digits)"),
        ),
    )

    def one_provider(df: pd.DataFrame) -> bool:
        return df["provider"].nunique(dropna=True) <= 1 and df["period"].nunique(dropna=True) <= 1

    return pa.DataFrameSchema(
        columns,
        strict=False,
        checks=[
            pa.Check(one_provider, error=ONE_PROVIDER_EXPECTED),
        ],
    )


@dataclass(frozen=True)
class SubmissionReport:
    """Validation report of one file.

    Attributes
    ----------
    source : str
        File name.
    n_rows : int
        Data rows read.
    problems : list of Problem
        Every problem found (empty when accepted).
    provider, period : str or None
        Provider and period of the file, when readable.
    """

    source: str
    n_rows: int
    problems: list[Problem] = field(default_factory=list)
    provider: str | None = None
    period: str | None = None
    #: How the file was read (:class:`fl_estimate.tabular.ReadInfo`), when it could be read.
    read_info: ReadInfo | None = None

    @property
    def accepted(self) -> bool:
        return not self.problems

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: ``source, row, column, value, expected``."""
        return pd.DataFrame(
            [
                {
                    "source": p.source,
                    "row": p.row,
                    "column": p.column,
                    "value": None if p.value is None else str(p.value),
                    "expected": p.message,
                }
                for p in self.problems
            ],
            columns=["source", "row", "column", "value", "expected"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "accepted": self.accepted,
            "rows": self.n_rows,
            "provider": self.provider,
            "period": self.period,
            "problems": [p.to_dict() for p in self.problems],
            **({"read_as": self.read_info.to_dict()} if self.read_info is not None else {}),
        }

    def to_text(self, lang: str = "en") -> str:
        """The report as lines of text in ``lang``: the file, its rows and status, one line per
        problem (:func:`fl_estimate.i18n.render_problem`)."""
        t = translator(lang)
        n = len(self.problems)
        status = (
            t.gettext("accepted")
            if self.accepted
            else t.ngettext("REJECTED ({n} problem)", "REJECTED ({n} problems)", n).format(n=n)
        )
        # English says "rows" even for one row (kept as it was)
        head = t.ngettext(
            "{source}: {rows} rows, {status}", "{source}: {rows} rows, {status}", self.n_rows
        ).format(source=self.source, rows=self.n_rows, status=status)
        return "\n".join([head, *[f"  - {render_problem(p, lang)}" for p in self.problems]])


def read_submission_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Excel submission as text (empty cells are missing), header stripped.

    CSV files may use ``,``, ``;`` or tab separators and be UTF-8 (with or without byte-order
    mark), UTF-16 with byte-order mark, Windows-1252 or Latin-1; how the file was read (a
    :class:`fl_estimate.tabular.ReadInfo`) is in ``frame.attrs["read_info"]``. A file that cannot
    be read raises :class:`~fl_estimate.exceptions.InputValidationError` saying what to change.
    """
    frame, info = read_table(path, dtype=object)
    out = _as_text(frame)
    out.attrs["read_info"] = info
    return out


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as stripped text; empty cells (and NaN) become None; numbers become their text."""
    data = {}
    for col in frame.columns:
        values: list[str | None] = []
        for v in frame[col].tolist():
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                values.append(None)
                continue
            if isinstance(v, float) and np.isfinite(v) and v == int(v):
                v = int(v)
            text = str(v).strip()
            values.append(text or None)
        data[str(col).strip()] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["sex"] = out["sex"].str.lower().map(_SEX_ALIASES)
    out["exploitation"] = out["exploitation"].map(
        lambda v: ";".join(_EXPLOIT_LOOKUP[p.strip().lower()] for p in str(v).split(";"))
    )
    out["date_identified"] = out["date_identified"].map(normalise_date)
    out["nationality"] = out["nationality"].str.upper()
    if "age" in out:
        out["age"] = pd.to_numeric(out["age"], errors="coerce")
    return out


def read_for_validation(
    frame: pd.DataFrame | str | Path, source: str | None
) -> tuple[pd.DataFrame, str, SubmissionReport | None]:
    """The file (or frame) as text for a validator, the name its problems cite, and the report
    of a file that cannot be read (one problem, never a traceback; then the frame is empty)."""
    if isinstance(frame, pd.DataFrame):
        return _as_text(frame), source or "<DataFrame>", None
    path = Path(frame)
    source = source or path.name
    try:
        return read_submission_file(path), source, None
    except Exception as exc:  # unreadable file: one problem, never a traceback
        problems = (
            exc.problems
            if isinstance(exc, InputValidationError)
            else [Problem(N_("cannot read the file ({error})", error=str(exc)), source)]
        )
        return pd.DataFrame(), source, SubmissionReport(source, 0, list(problems))


def provider_period(frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """The provider and period a file is for: the first value of each column (None if absent)."""
    first = [
        str(frame[c].dropna().iloc[0]) if c in frame and frame[c].notna().any() else None
        for c in ("provider", "period")
    ]
    return first[0], first[1]


def provider_regions(
    regions: Sequence[str] | Mapping[str, Sequence[str]] | None, provider: str | None
) -> Sequence[str] | None:
    """The regions allowed to ``provider``: all of ``regions``, or its own from a mapping
    provider -> regions (None: any region, e.g. a provider the registry does not list)."""
    if isinstance(regions, Mapping):
        return list(regions[provider]) if provider is not None and provider in regions else None
    return regions


Validator = Callable[[str | Path], tuple[SubmissionReport, pd.DataFrame | None]]


def load_files(paths: Iterable[str | Path], validate: Validator, out: LoadedSubmissions) -> None:
    """Validate files in order into ``out``: accepted ones kept, the later file winning for a
    provider-period; a rejected file changes nothing (an earlier accepted one stays in use)."""
    for path in paths:
        report, frame = validate(path)
        out.reports.append(report)
        if frame is None:
            continue
        key = (str(report.provider), str(report.period))
        if key in out.accepted:
            out.replaced.append((out.accepted[key][0], report.source))
        out.accepted[key] = (report.source, frame)


def validate_submission(
    frame: pd.DataFrame | str | Path,
    *,
    source: str | None = None,
    regions: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    providers: Sequence[str] | None = None,
) -> tuple[SubmissionReport, pd.DataFrame | None]:
    """Validate one submission; return its report and, if accepted, the cleaned frame.

    Parameters
    ----------
    frame : DataFrame or path
        The submission (read as text with :func:`read_submission_file` when a path).
    source : str, optional
        Name used in the report (default: the file name).
    regions : sequence, or mapping provider -> regions, optional
        Allowed regions (all providers, or per provider from the registry).
    providers : sequence of str, optional
        Allowed provider codes.

    Returns
    -------
    report : SubmissionReport
    cleaned : DataFrame or None
        Canonical values (sex ``F/M/other/unknown``, ISO dates, HTCDS exploitation names);
        ``None`` when the file is rejected.
    """
    frame, source, unreadable = read_for_validation(frame, source)
    if unreadable is not None:
        return unreadable, None
    info = frame.attrs.get("read_info")
    problems: list[Problem] = []
    missing = [c for c in _REQUIRED if c not in frame.columns]
    for c in missing:
        problems.append(Problem(REQUIRED_COLUMN_MISSING, source, 1, c))
    unknown = [c for c in frame.columns if c not in _KNOWN]
    for c in unknown:
        problems.append(
            Problem(
                N_("unknown column (see the submission format in docs/providers.md)"), source, 1, c
            )
        )
    has_clear = any(c in frame.columns for c in IDENTIFIER_COLUMNS)
    has_keys = any(c in frame.columns for c in KEY_COLUMNS)
    if has_clear and has_keys:
        problems.append(
            Problem(N_("give either clear identifiers or pseudonymous keys, not both"), source, 1)
        )
    provider, period = provider_period(frame)
    if len(frame) == 0:
        problems.append(Problem(NO_DATA_ROWS, source, 1))
    if missing or len(frame) == 0:
        return SubmissionReport(source, len(frame), problems, provider, period, info), None

    frame = frame.reset_index(drop=True)
    schema = _schema(provider_regions(regions, provider), providers)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems.extend(_problems_from_pandera(exc.failure_cases, frame, source, schema))
    problems.extend(_row_rules(frame, source))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    if problems:
        return SubmissionReport(source, len(frame), problems, provider, period, info), None
    return SubmissionReport(source, len(frame), [], provider, period, info), _canonical(frame)


def _problems_from_pandera(
    fc: pd.DataFrame,
    frame: pd.DataFrame,
    source: str,
    schema: pa.DataFrameSchema | None = None,
) -> list[Problem]:
    """Pandera's failure cases as problems; a check's ``error`` that is a
    :class:`~fl_estimate.i18n.Message` in ``schema`` stays one (translatable)."""
    messages: dict[str, Any] = {}
    if schema is not None:
        checks = [*schema.checks, *(c for col in schema.columns.values() for c in col.checks)]
        messages = {str(c.error): c.error for c in checks if isinstance(c.error, Message)}
    out: list[Problem] = []
    for rec in fc.to_dict("records"):
        column = rec.get("column")
        column = (
            None if column is None or (isinstance(column, float) and np.isnan(column)) else column
        )
        idx = rec.get("index")
        row = None if idx is None or (isinstance(idx, float) and np.isnan(idx)) else int(idx) + 2
        check = str(rec.get("check"))
        value = rec.get("failure_case")
        if check == "not_nullable":
            message = N_("a value is required")
            value = None
        elif check.startswith("field_uniqueness") or check == "field_uniqueness":
            message = N_("must be unique in the file (duplicate record_id)")
        elif check.startswith("column_in_dataframe"):
            message = REQUIRED_COLUMN_MISSING
            row = 1
        else:
            message = N_("expected {what}", what=messages.get(check, check))
        if rec.get("schema_context") == "DataFrameSchema" and row is not None:
            # a frame-wide check failing on a row: name the row, show no value
            value = None
        if column in IDENTIFIER_COLUMNS and value is not None:
            value = REDACTED
        if isinstance(value, float) and np.isnan(value):
            value = None
        out.append(Problem(message, source, row, column, value))
    out.sort(key=lambda p: (p.row or 0, p.column or ""))
    return out


@dataclass
class LoadedSubmissions:
    """Accepted submissions, one per (provider, period), with every file's report.

    Attributes
    ----------
    accepted : dict
        ``(provider, period) -> (source, cleaned DataFrame)``; a later file for the same provider
        and period replaces an earlier one.
    reports : list of SubmissionReport
        One per file, in the order read.
    replaced : list of (str, str)
        ``(earlier file, later file)`` for each replacement.
    """

    accepted: dict[tuple[str, str], tuple[str, pd.DataFrame]] = field(default_factory=dict)
    reports: list[SubmissionReport] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rejected(self) -> list[SubmissionReport]:
        return [r for r in self.reports if not r.accepted]

    def records(self) -> pd.DataFrame:
        """All accepted records in one frame, with ``source`` (file name) added."""
        frames = [f.assign(source=src) for src, f in self.accepted.values()]
        if not frames:
            return pd.DataFrame(columns=[c for c, _, _ in SUBMISSION_COLUMNS] + ["source"])
        return pd.concat(frames, ignore_index=True)

    def report_frame(self) -> pd.DataFrame:
        """One row per file: ``source, provider, period, rows, status, problems``."""
        replaced = {old for old, _ in self.replaced}
        rows = []
        for r in self.reports:
            status = (
                "rejected" if not r.accepted else ("replaced" if r.source in replaced else "used")
            )
            rows.append(
                {
                    "source": r.source,
                    "provider": r.provider,
                    "period": r.period,
                    "rows": r.n_rows,
                    "status": status,
                    "problems": len(r.problems),
                }
            )
        return pd.DataFrame(
            rows, columns=["source", "provider", "period", "rows", "status", "problems"]
        )


def load_submissions(
    paths: Iterable[str | Path],
    *,
    regions: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    providers: Sequence[str] | None = None,
) -> LoadedSubmissions:
    """Validate files in order; keep accepted ones, the later file winning for a provider-period.

    A rejected file changes nothing (an earlier accepted file for the same period stays in use).
    """
    out = LoadedSubmissions()
    load_files(paths, lambda p: validate_submission(p, regions=regions, providers=providers), out)
    return out


def write_template(path: str | Path, example: pd.DataFrame | None = None) -> Path:
    """Write a blank template (header only) or ``example`` rows, as CSV or Excel by extension."""
    from fl_estimate._io import atomic_write_text

    path = Path(path)
    cols = [c for c, _, _ in SUBMISSION_COLUMNS if not c.startswith("key_")]
    frame = pd.DataFrame(columns=cols) if example is None else example
    if path.suffix.lower() == ".xlsx":
        path.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(path) as xw:
            frame.to_excel(xw, index=False, sheet_name="submission")
            pd.DataFrame(
                [{"column": c, "required": "yes" if r else "no", "content": d}
                 for c, r, d in SUBMISSION_COLUMNS]
            ).to_excel(xw, index=False, sheet_name="format")  # fmt: skip
    else:
        atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
    return path


# ------------------------------------------------- shared with the other submission types
# The IC-TIP event and perpetrator files (:mod:`fl_estimate.providers.casefiles`) are read and
# checked by the same reader and checks as the victim files: these are those checks' public names.
#: Sex values accepted (lower case) -> canonical value.
SEX_ALIASES = _SEX_ALIASES
#: A period ``YYYY`` or ``YYYY-Qn``.
PERIOD_PATTERN = _PERIOD.pattern
#: What a code field may not look like.
NOT_FORMULA = _NOT_FORMULA
as_text = _as_text
date_ok = _date_ok
age_ok = _int_ok
nationality_ok = _nationality_ok
elementwise_check = _elementwise
problems_from_pandera = _problems_from_pandera
