"""The IC-TIP submission types beyond victims: events (cases) and perpetrators.

A provider's file of **events** lists the cases it recorded in a period (one row per case:
trafficking in persons or smuggling of migrants, form of exploitation, means, region); a file of
**perpetrators** lists the persons it suspected, prosecuted or convicted (one row per person and
stage: sex, age group, citizenship, role). Both are read by the victim files' reader
(:func:`fl_estimate.providers.submissions.read_submission_file`: ``,`` or ``;``, UTF-8 or
Windows-1252, Excel) and checked the same way: every problem at once, each naming file, row
(header = row 1), column, value and what was expected; a file with any problem is rejected whole,
and a later accepted file for the same provider and period replaces an earlier one.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({
...     "provider": ["police"] * 2, "period": ["2023-Q1"] * 2, "case_id": ["C1", "C2"],
...     "region": ["North", "North"], "date_recorded": ["2023-01-05", "05/02/2023"],
...     "case_type": ["trafficking_in_persons", "smuggling"],
...     "exploitation": ["ForcedLabour", None], "means": ["deception;fraud", None]})
>>> report, clean = validate_case_file(events, "events")
>>> report.accepted, list(clean["case_type"]), list(clean["date_recorded"])
(True, ['trafficking_in_persons', 'smuggling_of_migrants'], ['2023-01-05', '2023-02-05'])
>>> bad = events.assign(case_type=["trafficking_in_persons", "kidnapping"])
>>> [(p.row, p.column, p.value) for p in validate_case_file(bad, "events")[0].problems]
[(3, 'case_type', 'kidnapping')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, Message
from fl_estimate.outputs.cells import is_formula_like
from fl_estimate.providers.pseudonymise import normalise_date
from fl_estimate.providers.submissions import (
    AGE_BAND_EXPECTED,
    AGE_BANDS,
    AGE_EXPECTED,
    COUNTRY_EXPECTED,
    DATE_EXPECTED,
    EXPLOITATION_EXPECTED,
    EXPLOITATION_FORMS,
    NO_DATA_ROWS,
    NOT_FORMULA,
    ONE_PROVIDER_EXPECTED,
    PERIOD_EXPECTED,
    PERIOD_PATTERN,
    REQUIRED_COLUMN_MISSING,
    SEX_ALIASES,
    SEX_EXPECTED,
    LoadedSubmissions,
    SubmissionReport,
    age_band_contradiction,
    age_ok,
    date_ok,
    elementwise_check,
    load_files,
    nationality_ok,
    one_of,
    one_of_regions,
    period_bounds,
    problems_from_pandera,
    provider_period,
    provider_regions,
    read_for_validation,
)
from fl_estimate.stats.categories import CASE_TYPES, MEANS, ROLES, STAGES

__all__ = [
    "CASE_FILE_TYPES",
    "EVENT_COLUMNS",
    "PERPETRATOR_COLUMNS",
    "load_case_files",
    "validate_case_file",
]

#: Event file columns: (name, required, description).
EVENT_COLUMNS: tuple[tuple[str, bool, str], ...] = (
    ("provider", True, "provider code as in the provider registry, e.g. police"),
    ("period", True, "reporting period: YYYY-Qn for a quarter, YYYY for a year"),
    ("case_id", True, "the provider's own case number, unique in the file"),
    ("region", True, "region where the case was recorded, as in the provider registry"),
    ("date_recorded", True, "date the case was opened, YYYY-MM-DD or DD/MM/YYYY, inside period"),
    ("case_type", True, "trafficking_in_persons, smuggling_of_migrants or unknown"),
    ("exploitation", False, "form(s) of exploitation (HTCDS names joined with ';'); "
     "trafficking cases only"),
    ("means", False, "means used, joined with ';' (threat_or_use_of_force, other_coercion, "
     "abduction, fraud, deception, abuse_of_power, abuse_of_vulnerability, "
     "payments_or_benefits, none_child, unknown); trafficking cases only"),
    ("victims", False, "number of victims (trafficking) or migrants smuggled in the case"),
)  # fmt: skip

#: Perpetrator file columns: (name, required, description).
PERPETRATOR_COLUMNS: tuple[tuple[str, bool, str], ...] = (
    ("provider", True, "provider code as in the provider registry, e.g. courts"),
    ("period", True, "reporting period: YYYY-Qn for a quarter, YYYY for a year"),
    ("perpetrator_id", True, "the provider's own number for the person, unique in the file"),
    ("case_id", False, "the case (event) the person is linked to"),
    ("region", True, "region of the case, as in the provider registry"),
    ("date_recorded", True, "date of the stage (arrest, charge, judgment), inside period"),
    ("offence", True, "trafficking_in_persons, smuggling_of_migrants or unknown"),
    ("stage", True, "suspected, prosecuted or convicted"),
    ("sex", True, "F, M, other or unknown (HTCDS prs_Gender values accepted)"),
    ("age", False, "age in years (0-120); give age or age_band"),
    ("age_band", False, "child (<18), adult or unknown, when age is not known"),
    ("citizenship", True, "ISO 3166-1 alpha-3 (alpha-2 accepted) or unknown"),
    ("role", False, "recruiter, transporter, harbourer, exploiter, organiser, other or unknown"),
)  # fmt: skip

#: Submission types of this module -> their columns.
CASE_FILE_TYPES: dict[str, tuple[tuple[str, bool, str], ...]] = {
    "events": EVENT_COLUMNS,
    "perpetrators": PERPETRATOR_COLUMNS,
}
_ID_COLUMN = {"events": "case_id", "perpetrators": "perpetrator_id"}
_CODES = {
    "events": ("provider", "period", "case_id", "region", "case_type", "exploitation", "means"),
    "perpetrators": (
        "provider", "period", "perpetrator_id", "case_id", "region", "offence", "stage", "sex",
        "age_band", "citizenship", "role",
    ),
}  # fmt: skip
#: Accepted spellings of a case type (lower case) -> canonical name.
CASE_TYPE_ALIASES = {
    **{c: c for c in CASE_TYPES},
    "tip": "trafficking_in_persons", "trafficking": "trafficking_in_persons",
    "traite": "trafficking_in_persons", "traite_des_personnes": "trafficking_in_persons",
    "som": "smuggling_of_migrants", "smuggling": "smuggling_of_migrants",
    "trafic_illicite_de_migrants": "smuggling_of_migrants",
}  # fmt: skip
_EXPLOIT = {v.lower(): v for v in EXPLOITATION_FORMS}


def _key(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_").replace("-", "_")


def _list_ok(allowed: Iterable[str]) -> Any:
    allowed = {a.lower() for a in allowed}

    def ok(value: Any) -> bool:
        parts = [p.strip().lower() for p in str(value).split(";")]
        return bool(parts) and all(p in allowed for p in parts)

    return ok


def _one_of(allowed: Iterable[str], error: str) -> pa.Check:
    allowed = set(allowed)
    return elementwise_check(lambda v: _key(v) in allowed, error)


def _choice(
    allowed: Sequence[str] | None, what: Callable[[Iterable[str]], Message]
) -> list[pa.Check]:
    return [] if allowed is None else [pa.Check.isin(list(allowed), error=what(allowed))]


def _schema(
    kind: str, regions: Sequence[str] | None, providers: Sequence[str] | None
) -> pa.DataFrameSchema:
    date = elementwise_check(date_ok, DATE_EXPECTED)
    case_type = _one_of(CASE_TYPE_ALIASES, one_of(CASE_TYPES))
    columns: dict[str, pa.Column] = {
        "provider": pa.Column(None, nullable=False, checks=_choice(providers, one_of)),
        "period": pa.Column(None, nullable=False, checks=pa.Check(
            lambda s: s.str.fullmatch(PERIOD_PATTERN).fillna(False),
            error=PERIOD_EXPECTED)),
        _ID_COLUMN[kind]: pa.Column(None, nullable=False, unique=True, report_duplicates="all"),
        "region": pa.Column(None, nullable=False, checks=_choice(regions, one_of_regions)),
        "date_recorded": pa.Column(None, nullable=False, checks=date),
    }  # fmt: skip
    if kind == "events":
        columns |= {
            "case_type": pa.Column(None, nullable=False, checks=case_type),
            "exploitation": pa.Column(None, nullable=True, required=False, checks=elementwise_check(
                _list_ok(_EXPLOIT), EXPLOITATION_EXPECTED)),
            "means": pa.Column(None, nullable=True, required=False, checks=elementwise_check(
                _list_ok(MEANS), N_("means joined with ';': {means}", means=", ".join(MEANS)))),
            "victims": pa.Column(None, nullable=True, required=False, checks=elementwise_check(
                lambda v: str(v).isdigit(), N_("a whole number of persons (0 or more)"))),
        }  # fmt: skip
    else:
        columns |= {
            "case_id": pa.Column(None, nullable=True, required=False),
            "offence": pa.Column(None, nullable=False, checks=case_type),
            "stage": pa.Column(None, nullable=False, checks=_one_of(STAGES, ", ".join(STAGES))),
            "sex": pa.Column(None, nullable=False, checks=pa.Check(
                lambda s: s.str.lower().isin(list(SEX_ALIASES)), error=SEX_EXPECTED)),
            "age": pa.Column(None, nullable=True, required=False,
                             checks=elementwise_check(age_ok, AGE_EXPECTED)),
            "age_band": pa.Column(None, nullable=True, required=False, checks=pa.Check(
                lambda s: s.isna() | s.str.lower().isin(AGE_BANDS), error=AGE_BAND_EXPECTED)),
            "citizenship": pa.Column(None, nullable=False, checks=elementwise_check(
                nationality_ok, COUNTRY_EXPECTED)),
            "role": pa.Column(None, nullable=True, required=False,
                              checks=_one_of(ROLES, ", ".join(ROLES))),
        }  # fmt: skip
    for c in _CODES[kind]:
        columns[c].checks.append(
            pa.Check(lambda s: ~s.map(is_formula_like).astype(bool), error=NOT_FORMULA)
        )

    def one_provider(df: pd.DataFrame) -> bool:
        return df["provider"].nunique(dropna=True) <= 1 and df["period"].nunique(dropna=True) <= 1

    return pa.DataFrameSchema(
        columns,
        strict=False,
        checks=[pa.Check(one_provider, error=ONE_PROVIDER_EXPECTED)],
    )


def _row_rules(frame: pd.DataFrame, kind: str, source: str) -> list[Problem]:
    """Rules across cells of a row: date inside the period; trafficking-only fields; age."""
    problems: list[Problem] = []
    for i, rec in enumerate(frame.to_dict("records")):
        row = i + 2
        period, when = rec.get("period"), rec.get("date_recorded")
        iso = normalise_date(when) if when is not None and date_ok(when) else None
        if isinstance(period, str) and pd.Series([period]).str.fullmatch(PERIOD_PATTERN)[0] and iso:
            start, end = period_bounds(period)
            if not start <= pd.Timestamp(iso) <= end:
                problems.append(
                    Problem(N_("date_recorded must fall inside the period {period}",
                               period=period), source, row, "date_recorded", when)
                )  # fmt: skip
        if kind == "events":
            ctype = CASE_TYPE_ALIASES.get(_key(rec.get("case_type")))
            if ctype == "smuggling_of_migrants":
                for col in ("exploitation", "means"):
                    if rec.get(col) is not None:
                        problems.append(
                            Problem(N_("{column} is for trafficking cases only: leave it empty "
                                       "for smuggling of migrants (or set case_type to "
                                       "trafficking_in_persons)", column=col),
                                    source, row, col, rec[col])
                        )  # fmt: skip
            elif ctype == "trafficking_in_persons" and rec.get("exploitation") is None:
                problems.append(
                    Problem(N_("a trafficking case needs its form(s) of exploitation (Unknown "
                               "when not known)"), source, row, "exploitation")
                )  # fmt: skip
        else:
            age, band = rec.get("age"), rec.get("age_band")
            if age is None and band is None:
                problems.append(Problem(N_("age or age_band must be given"), source, row, "age"))
            elif age is not None and age_ok(age) and isinstance(band, str):
                expected = "child" if float(age) < 18 else "adult"
                if band.lower() in ("child", "adult") and band.lower() != expected:
                    problems.append(
                        Problem(age_band_contradiction(int(float(age)), band), source, row,
                                "age_band", band)
                    )  # fmt: skip
    return problems


def _canonical(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = frame.copy()
    out["date_recorded"] = out["date_recorded"].map(normalise_date)
    if kind == "events":
        out["case_type"] = out["case_type"].map(lambda v: CASE_TYPE_ALIASES[_key(v)])
        for col, lookup in (("exploitation", _EXPLOIT), ("means", {m: m for m in MEANS})):
            if col in out:
                out[col] = out[col].map(
                    lambda v, lk=lookup: (
                        None
                        if v is None
                        else ";".join(lk[p.strip().lower()] for p in str(v).split(";"))
                    )
                )
        if "victims" in out:
            out["victims"] = pd.to_numeric(out["victims"]).astype("Int64")
        return out
    out["offence"] = out["offence"].map(lambda v: CASE_TYPE_ALIASES[_key(v)])
    out["stage"] = out["stage"].map(_key)
    out["sex"] = out["sex"].str.lower().map(SEX_ALIASES)
    out["citizenship"] = out["citizenship"].str.upper()
    out["role"] = (
        out["role"].map(lambda v: "unknown" if v is None else _key(v))
        if "role" in out
        else "unknown"
    )
    if "age" in out:
        out["age"] = pd.to_numeric(out["age"], errors="coerce")
    return out


def validate_case_file(
    frame: pd.DataFrame | str | Path,
    kind: str,
    *,
    source: str | None = None,
    regions: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    providers: Sequence[str] | None = None,
) -> tuple[SubmissionReport, pd.DataFrame | None]:
    """Validate one event or perpetrator file; return its report and, if accepted, the cleaned
    frame (canonical names, ISO dates).

    Parameters
    ----------
    frame : DataFrame or path
    kind : {"events", "perpetrators"}
    source : str, optional
        Name used in the report (default: the file name).
    regions : sequence, or mapping provider -> regions, optional
        Allowed regions (all providers, or per provider from the registry).
    providers : sequence of str, optional
        Allowed provider codes.
    """
    if kind not in CASE_FILE_TYPES:
        raise InputValidationError(
            [
                Problem(
                    N_(
                        "unknown submission type {kind!r}; expected events or perpetrators",
                        kind=kind,
                    )
                )
            ]
        )
    spec = CASE_FILE_TYPES[kind]
    frame, source, unreadable = read_for_validation(frame, source)
    if unreadable is not None:
        return unreadable, None
    info = frame.attrs.get("read_info")
    problems = [
        Problem(REQUIRED_COLUMN_MISSING, source, 1, c)
        for c, req, _ in spec
        if req and c not in frame.columns
    ]
    known = {c for c, _, _ in spec}
    problems += [
        Problem(
            N_("unknown column in a file of {kind} (see docs/statistics.md)", kind=kind),
            source,
            1,
            c,
        )
        for c in frame.columns
        if c not in known
    ]
    provider, period = provider_period(frame)
    if len(frame) == 0:
        problems.append(Problem(NO_DATA_ROWS, source, 1))
    if problems:
        return SubmissionReport(source, len(frame), problems, provider, period, info), None
    frame = frame.reset_index(drop=True)
    schema = _schema(kind, provider_regions(regions, provider), providers)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems.extend(problems_from_pandera(exc.failure_cases, frame, source, schema))
    problems.extend(_row_rules(frame, kind, source))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    report = SubmissionReport(source, len(frame), problems, provider, period, info)
    return report, None if problems else _canonical(frame, kind)


@dataclass
class LoadedCaseFiles(LoadedSubmissions):
    """Accepted event or perpetrator files (as :class:`LoadedSubmissions`), with their type."""

    kind: str = "events"

    def records(self) -> pd.DataFrame:
        """All accepted rows in one frame, with ``source`` (file name) added."""
        frames = [f.assign(source=src) for src, f in self.accepted.values()]
        if not frames:
            return pd.DataFrame(columns=[c for c, _, _ in CASE_FILE_TYPES[self.kind]] + ["source"])
        return pd.concat(frames, ignore_index=True)


def load_case_files(
    paths: Iterable[str | Path],
    kind: str,
    *,
    regions: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    providers: Sequence[str] | None = None,
) -> LoadedCaseFiles:
    """Validate files in order; keep accepted ones, the later file winning for a provider-period
    (a rejected file changes nothing), as :func:`~fl_estimate.providers.submissions.load_submissions`."""
    out = LoadedCaseFiles(kind=kind)
    load_files(
        paths, lambda p: validate_case_file(p, kind, regions=regions, providers=providers), out
    )
    return out
