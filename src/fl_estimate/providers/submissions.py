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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from fl_estimate.exceptions import Problem
from fl_estimate.providers.pseudonymise import (
    BLOOM_BITS,
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    normalise_birth_date,
    normalise_date,
)

__all__ = [
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
)
_REQUIRED = [c for c, req, _ in SUBMISSION_COLUMNS if req]
_KNOWN = {c for c, _, _ in SUBMISSION_COLUMNS}
_PERIOD = re.compile(r"^\d{4}(-Q[1-4])?$")
_ISO_ALPHA = re.compile(r"^[A-Z]{2,3}$")
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
    return f == int(f) and 0 <= f <= 120


def _elementwise(fn: Any, error: str) -> pa.Check:
    return pa.Check(lambda s: s.isna() | s.map(fn).astype(bool), error=error)


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
            else [pa.Check.isin(list(providers), error=f"one of {', '.join(providers)}")],
        ),
        "period": pa.Column(None,
            nullable=False,
            checks=pa.Check(
                lambda s: s.str.fullmatch(_PERIOD.pattern).fillna(False),
                error="a period YYYY-Qn (quarter) or YYYY (year)",
            ),
        ),
        "record_id": pa.Column(None, nullable=False, unique=True, report_duplicates="all", checks=[]
        ),
        "region": pa.Column(None,
            nullable=False,
            checks=[]
            if regions is None
            else [pa.Check.isin(list(regions), error=f"one of the regions {', '.join(regions)}")],
        ),
        "date_identified": pa.Column(None,
            nullable=False,
            checks=_elementwise(
                _birth_date_ok, "a date YYYY-MM-DD or DD/MM/YYYY, or the year YYYY when the day "
                "is not known"),
        ),
        "sex": pa.Column(None,
            nullable=False,
            checks=pa.Check(
                lambda s: s.str.lower().isin(list(_SEX_ALIASES)),
                error="F, M, other or unknown",
            ),
        ),
        "age": pa.Column(None, nullable=True, required=False,
            checks=_elementwise(_int_ok, "a whole number of years from 0 to 120"),
        ),
        "age_band": pa.Column(None, nullable=True, required=False,
            checks=pa.Check(
                lambda s: s.isna() | s.str.lower().isin(AGE_BANDS), error="child, adult or unknown"
            ),
        ),
        "nationality": pa.Column(None,
            nullable=False,
            checks=pa.Check(
                lambda s: s.str.fullmatch(_ISO_ALPHA.pattern).fillna(False)
                | (s.str.lower() == "unknown"),
                error="an ISO 3166-1 code (3 or 2 capital letters) or unknown",
            ),
        ),
        "exploitation": pa.Column(None,
            nullable=False,
            checks=_elementwise(exploit_ok, "HTCDS forms of exploitation joined with ';' "
                                "(e.g. ForcedLabour;SexualExploitation), or Unknown"),
        ),
        "date_of_birth": pa.Column(None, nullable=True, required=False,
            checks=_elementwise(
                _birth_date_ok, "a date YYYY-MM-DD or DD/MM/YYYY, or the year YYYY when the day "
                "is not known"),
        ),
    }  # fmt: skip
    for k in KEY_COLUMNS:
        pattern = _HEX_BLOOM if k == "key_bloom" else _HEX32
        len_hex = BLOOM_BITS // 4 if k == "key_bloom" else 32
        columns[k] = pa.Column(
            None,
            nullable=True,
            required=False,
            checks=pa.Check(
                lambda s, p=pattern: s.isna() | s.str.fullmatch(p.pattern).fillna(False),
                error=f"a pseudonymous key made by fl_estimate ({len_hex} lower-case hex digits)",
            ),
        )

    def one_provider(df: pd.DataFrame) -> bool:
        return df["provider"].nunique(dropna=True) <= 1 and df["period"].nunique(dropna=True) <= 1

    def age_given(df: pd.DataFrame) -> pd.Series:
        age = df["age"] if "age" in df else pd.Series(pd.NA, index=df.index)
        band = df["age_band"] if "age_band" in df else pd.Series(pd.NA, index=df.index)
        return age.notna() | band.notna()

    def date_in_period(df: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=df.index)
        for i, (d, p) in enumerate(zip(df["date_identified"], df["period"], strict=True)):
            if not (isinstance(p, str) and _PERIOD.match(p)) or not _date_ok(d):
                continue
            start, end = period_bounds(p)
            ok.iloc[i] = start <= pd.Timestamp(str(normalise_date(d))) <= end
        return ok

    def dob_before_identification(df: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=df.index)
        if "date_of_birth" not in df:
            return ok
        for i, (b, d) in enumerate(zip(df["date_of_birth"], df["date_identified"], strict=True)):
            if _birth_date_ok(b) and _date_ok(d):
                full, year = normalise_birth_date(b)
                seen = str(normalise_date(d))
                ok.iloc[i] = full < seen if full else str(year) <= seen[:4]
        return ok

    return pa.DataFrameSchema(
        columns,
        strict=False,
        checks=[
            pa.Check(one_provider, error="one provider and one period per file"),
            pa.Check(age_given, error="age or age_band must be given"),
            pa.Check(date_in_period, error="date_identified must fall inside the period"),
            pa.Check(
                dob_before_identification, error="date_of_birth must be before date_identified"
            ),
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
        }

    def to_text(self) -> str:
        status = "accepted" if self.accepted else f"REJECTED ({len(self.problems)} problems)"
        head = f"{self.source}: {self.n_rows} rows, {status}"
        return "\n".join([head, *[f"  - {p}" for p in self.problems]])


def read_submission_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Excel submission as text (empty cells are missing), header stripped."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        frame = pd.read_excel(path, dtype=object, keep_default_na=False, sheet_name=0)
    else:
        frame = pd.read_csv(path, dtype=object, keep_default_na=False, encoding="utf-8-sig")
    return _as_text(frame)


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
    if not isinstance(frame, pd.DataFrame):
        path = Path(frame)
        source = source or path.name
        try:
            frame = read_submission_file(path)
        except Exception as exc:  # unreadable file: one problem, never a traceback
            return SubmissionReport(
                source, 0, [Problem(f"cannot read the file ({exc})", source)]
            ), None
    else:
        frame = _as_text(frame)
    source = source or "<DataFrame>"
    problems: list[Problem] = []
    missing = [c for c in _REQUIRED if c not in frame.columns]
    for c in missing:
        problems.append(Problem("required column is missing", source, 1, c))
    unknown = [c for c in frame.columns if c not in _KNOWN]
    for c in unknown:
        problems.append(
            Problem("unknown column (see the submission format in docs/providers.md)", source, 1, c)
        )
    has_clear = any(c in frame.columns for c in IDENTIFIER_COLUMNS)
    has_keys = any(c in frame.columns for c in KEY_COLUMNS)
    if has_clear and has_keys:
        problems.append(
            Problem("give either clear identifiers or pseudonymous keys, not both", source, 1)
        )
    provider = period = None
    if "provider" in frame and frame["provider"].notna().any():
        provider = str(frame["provider"].dropna().iloc[0])
    if "period" in frame and frame["period"].notna().any():
        period = str(frame["period"].dropna().iloc[0])
    if missing:
        return SubmissionReport(source, len(frame), problems, provider, period), None

    frame = frame.reset_index(drop=True)
    region_list: Sequence[str] | None
    if isinstance(regions, Mapping):
        region_list = (
            list(regions[provider]) if provider is not None and provider in regions else None
        )
    else:
        region_list = regions
    schema = _schema(region_list, providers)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems.extend(_problems_from_pandera(exc.failure_cases, frame, source))
    if problems:
        return SubmissionReport(source, len(frame), problems, provider, period), None
    return SubmissionReport(source, len(frame), [], provider, period), _canonical(frame)


def _problems_from_pandera(fc: pd.DataFrame, frame: pd.DataFrame, source: str) -> list[Problem]:
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
            message = "a value is required"
            value = None
        elif check.startswith("field_uniqueness") or check == "field_uniqueness":
            message = "must be unique in the file (duplicate record_id)"
        elif check.startswith("column_in_dataframe"):
            message = "required column is missing"
            row = 1
        else:
            message = f"expected {check}"
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
    for path in paths:
        report, frame = validate_submission(path, regions=regions, providers=providers)
        out.reports.append(report)
        if frame is None:
            continue
        key = (str(report.provider), str(report.period))
        if key in out.accepted:
            out.replaced.append((out.accepted[key][0], report.source))
        out.accepted[key] = (report.source, frame)
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
