"""Mapping files: from questionnaire variables and answer codes to a framework's indicators.

A mapping is a TOML file (schema in ``docs/indicators.md``)::

    [mapping]
    framework = "ilo2012"           # shipped id or path of a framework file
    id_column = "resp_id"           # optional, copied to the output
    age_column = "age"              # optional: children's rule below the framework's child_age
    person_column = "person"        # optional (ICLS): rows are work spells of this person
    keep = ["region", "weight"]     # optional: columns copied to the output (default: all
                                    # columns that are not mapped questions)

    [codes]                         # default answer codes (override per indicator)
    yes = [1]
    no = [2]
    dont_know = [8]
    refused = [9]
    missing = [-1]                  # empty cells are always missing

    [[indicator]]
    id = "HTS.D1.INV.06"
    variable = "q12"

    [[indicator]]
    id = "HTS.PEN.03"
    dimension = "D1"                # penalties: the dimension they were applied in
    any_of = [{ variable = "q20a" }, { variable = "q20b", yes = [1, 3] }]

:meth:`Mapping.validate` checks the mapping against the framework and the data and reports every
problem at once, each with its place (mapping file line, or data file row and column): unknown
indicator ids or dimensions, penalties without a dimension, variables not in the data, answers in
the data that no code of the mapping covers, and indicators a rule needs that are not mapped (a
dimension that could never be positive). Declared codes never seen in the data are reported with a
:class:`~fl_estimate.exceptions.DataWarning` (a rare answer may simply not occur in a sample).

Examples
--------
The sample survey's questionnaire mapped to the ILO 2012 indicators (``q01`` answers 1 = yes,
2 = no):

>>> import pandas as pd
>>> mapping = load_mapping("data_samples/survey/mapping.toml")
>>> mapping.framework, len(mapping.indicators), mapping.indicators[-1].key(load_framework("ilo2012"))
('ilo2012', 26, 'HTS.PEN.12@D3')
>>> survey = pd.read_csv("data_samples/survey/survey.csv")
>>> mapping.validate(survey)
[]
>>> coded = mapping.apply(survey)          # int8 answer status (1 yes, 0 no) per indicator key
>>> coded["HTS.D1.INV.02"].value_counts().sort_index().to_dict()
{0: 3929, 1: 71}
>>> print(mapping_template("ilo11").split("\\n\\n")[2])
[[indicator]]
id = "ILO11.01"  # Abuse of vulnerability
variable = ""
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import DataWarning, InputValidationError, Problem
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.indicators.answers import MISSING, NO, STATUS_CODE, YES
from fl_estimate.indicators.frameworks import Framework, indicator_keys, load_framework
from fl_estimate.tabular import parse_toml

__all__ = ["Condition", "IndicatorMap", "Mapping", "load_mapping", "parse_mapping"]

CODE_KINDS = ("yes", "no", "dont_know", "refused", "missing")
_MAPPING_KEYS = {
    "framework", "id_column", "age_column", "person_column", "keep",
    "allow_unmeasured_dimensions",
}  # fmt: skip
_IND_KEYS = {"id", "dimension", "variable", "any_of", "all_of", *CODE_KINDS}
_COND_KEYS = {"variable", *CODE_KINDS}


@dataclass(frozen=True)
class Condition:
    """One question: a variable and its answer codes (``codes[kind]`` lists)."""

    variable: str
    codes: dict[str, tuple[Any, ...]]


@dataclass(frozen=True)
class IndicatorMap:
    """How one indicator key is read from the data.

    ``combine`` is ``"one"`` (a single question), ``"any_of"`` (present if any question says yes;
    absent only if all say no) or ``"all_of"`` (present only if all say yes).
    """

    id: str
    dimension: str | None
    conditions: tuple[Condition, ...]
    combine: str
    line: int | None

    def key(self, framework: Framework) -> str:
        """Column key in a scored table (penalties of the 2012 rule carry their dimension)."""
        if framework.rule == "paired_dimensions" and self.dimension is not None:
            try:
                if framework.indicator(self.id).kind == "penalty":
                    return f"{self.id}@{self.dimension}"
            except KeyError:
                pass
        return self.id


@dataclass(frozen=True)
class Mapping:
    """A validated-on-use mapping file (see the module docstring for the schema)."""

    framework: str
    indicators: tuple[IndicatorMap, ...]
    id_column: str | None = None
    age_column: str | None = None
    person_column: str | None = None
    keep: tuple[str, ...] | None = None
    allow_unmeasured_dimensions: bool = False
    source: str = "<mapping>"
    default_codes: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        out: list[str] = []
        for im in self.indicators:
            for c in im.conditions:
                if c.variable not in out:
                    out.append(c.variable)
        return out

    def keep_columns(self, data: pd.DataFrame) -> list[str]:
        """Columns copied to the scored output."""
        if self.keep is not None:
            cols = list(self.keep)
        else:
            used = set(self.variables)
            cols = [c for c in data.columns if c not in used]
        for c in (self.person_column, self.age_column, self.id_column):
            if c and c not in cols and c in data.columns:
                cols.insert(0, c)
        return cols

    # -- validation
    def validate(
        self, data: pd.DataFrame, framework: Framework | None = None, *, source: str = "<data>"
    ) -> list[Problem]:
        """Every problem of this mapping against the framework and the data (empty if none)."""
        return self._check(data, framework, source)[0]

    def _check(
        self, data: pd.DataFrame, framework: Framework | None, source: str
    ) -> tuple[list[Problem], dict[tuple[int, str], np.ndarray]]:
        fw = framework or load_framework(self.framework)
        problems: list[Problem] = []
        keys = set(indicator_keys(fw))
        by_id = {i.id: i for i in fw.indicators}
        seen: dict[str, int | None] = {}
        for im in self.indicators:
            ind = by_id.get(im.id)
            if ind is None:
                close = [k for k in by_id if k.lower().startswith(im.id.lower()[:6])][:3]
                hint = N_(" (did you mean {names}?)", names=", ".join(close)) if close else ""
                problems.append(
                    Problem(
                        N_("unknown indicator for framework {id}{hint}", id=fw.id, hint=hint),
                        self.source,
                        im.line,
                        "id",
                        im.id,
                    )
                )
                continue
            if fw.rule == "paired_dimensions" and ind.kind == "penalty":
                if im.dimension is None:
                    problems.append(
                        Problem(
                            N_(
                                "a penalty needs the dimension it was applied in (dimension = one of "
                                "{dimension_ids})",
                                dimension_ids=", ".join(fw.dimension_ids),
                            ),
                            self.source,
                            im.line,
                            "dimension",
                        )
                    )
                    continue
                if im.dimension not in fw.dimension_ids:
                    problems.append(
                        Problem(
                            N_(
                                "unknown dimension; expected {dimension_ids}",
                                dimension_ids=", ".join(fw.dimension_ids),
                            ),
                            self.source,
                            im.line,
                            "dimension",
                            im.dimension,
                        )
                    )
                    continue
            elif im.dimension is not None and im.dimension != ind.dimension:
                problems.append(
                    Problem(
                        N_(
                            "{id} belongs to dimension {dimension}, not {mapped}",
                            id=im.id,
                            dimension=ind.dimension,
                            mapped=im.dimension,
                        ),
                        self.source,
                        im.line,
                        "dimension",
                        im.dimension,
                    )
                )
            key = im.key(fw)
            if key in seen:
                problems.append(
                    Problem(
                        N_("{key} is mapped twice (also line {seen})", key=key, seen=seen[key]),
                        self.source,
                        im.line,
                        "id",
                        im.id,
                    )
                )
            seen[key] = im.line
        mapped = {k for k in seen if k in keys}
        if not self.allow_unmeasured_dimensions:
            problems += _rule_needs(fw, mapped, self)
        # against the data
        for col in (self.id_column, self.age_column, self.person_column, *(self.keep or ())):
            if col and col not in data.columns:
                problems.append(
                    Problem(N_("column named in [mapping] is not in the data"), source, None, col)
                )
        unused_codes: list[str] = []
        computed: dict[tuple[int, str], np.ndarray] = {}
        for im in self.indicators:
            for c in im.conditions:
                if c.variable not in data.columns:
                    problems.append(
                        Problem(
                            N_(
                                "variable of indicator {indicator} is not a column of {source}",
                                indicator=im.key(fw),
                                source=source,
                            ),
                            self.source,
                            im.line,
                            "variable",
                            c.variable,
                        )
                    )
                    continue
                series = data[c.variable]
                st, unknown, present = _status(series, c.codes)
                computed[(id(c), c.variable)] = st
                for val in pd.unique(series[unknown])[:10]:
                    rows = np.flatnonzero(unknown & (series == val).to_numpy(dtype=bool))
                    problems.append(
                        Problem(
                            N_(
                                "answer not covered by the codes of {indicator} ({codes}); {rows} row(s), "
                                "first shown",
                                indicator=im.key(fw),
                                codes=_codes_text(c.codes),
                                rows=len(rows),
                            ),
                            source,
                            int(rows[0]) + 2,
                            c.variable,
                            val,
                        )
                    )
                for kind in ("yes", "no"):
                    missing_codes = [v for v in c.codes.get(kind, ()) if
                                     _norm([v], series)[0] not in present]  # fmt: skip
                    if missing_codes and len(data):
                        unused_codes.append(
                            N_("{variable} ({key}): yes code(s) {codes}", variable=c.variable,
                               key=im.key(fw), codes=", ".join(map(str, missing_codes)))
                            if kind == "yes"
                            else N_("{variable} ({key}): no code(s) {codes}",
                                    variable=c.variable, key=im.key(fw),
                                    codes=", ".join(map(str, missing_codes)))
                        )  # fmt: skip
        if unused_codes and not problems:
            warnings.warn(
                N_(
                    "mapping {mapping}: codes never seen in {source}: {codes}{more}",
                    mapping=self.source,
                    source=source,
                    codes=join_semicolons(unused_codes[:10]),
                    more=N_("; and {n} more", n=len(unused_codes) - 10)
                    if len(unused_codes) > 10
                    else "",
                ),
                DataWarning,
                stacklevel=4,
            )
        return problems, computed

    def apply(
        self, data: pd.DataFrame, framework: Framework | None = None, *, source: str = "<data>"
    ) -> pd.DataFrame:
        """Validate, then code the data: indicator keys as int8 status columns plus kept columns.

        Raises
        ------
        InputValidationError
            With every problem found by :meth:`validate`.
        """
        fw = framework or load_framework(self.framework)
        problems, computed = self._check(data, fw, source)
        if problems:
            raise InputValidationError(problems)
        out = {c: data[c] for c in self.keep_columns(data)}
        for im in self.indicators:
            codes = [computed[(id(c), c.variable)] for c in im.conditions]
            if len(codes) == 1:
                st = codes[0]
            else:
                M = np.stack(codes, axis=1)
                yes = (M == YES).any(axis=1) if im.combine == "any_of" else (M == YES).all(axis=1)
                no = (M == NO).all(axis=1) if im.combine == "any_of" else (M == NO).any(axis=1)
                # unknown: the most informative unknown status (dont_know < refused < missing)
                unk = np.where((M == YES) | (M == NO), 99, M).min(axis=1)
                st = np.where(yes, YES, np.where(no, NO, unk)).astype(np.int8)
            out[im.key(fw)] = pd.Series(st, index=data.index, dtype=np.int8)
        return pd.DataFrame(out, index=data.index)


def _codes_text(codes: dict[str, tuple[Any, ...]]) -> str:
    return "; ".join(f"{k}={list(v)}" for k, v in codes.items() if v)


def _norm(values: Any, col: pd.Series) -> list[Any]:
    """Codes as comparable keys: numbers as floats when the column is numeric, else strings."""
    numeric = pd.api.types.is_numeric_dtype(col)
    out: list[Any] = []
    for v in values:
        if numeric:
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(str(v))
        else:
            out.append(str(v).strip())
    return out


def _status(
    col: pd.Series, codes: dict[str, tuple[Any, ...]]
) -> tuple[np.ndarray, np.ndarray, set[Any]]:
    """Status codes (int8) of a column, a mask of non-empty values no code covers, and the set
    of (normalised) values seen."""
    n = len(col)
    if pd.api.types.is_integer_dtype(col.dtype) and n and not col.hasnans:
        vals = col.to_numpy(dtype=np.int64)
        lo, hi = int(vals.min()), int(vals.max())
        if hi - lo < 100_000:
            lut = np.full(hi - lo + 1, -1, dtype=np.int8)
            for kind in ("missing", "refused", "dont_know", "no", "yes"):
                for c in _norm(codes.get(kind, ()), col):
                    if isinstance(c, float) and c.is_integer() and lo <= c <= hi:
                        lut[int(c) - lo] = STATUS_CODE[kind]
            idx = vals - lo if lo else vals
            st = lut[idx]
            seen = {float(v + lo) for v in np.flatnonzero(np.bincount(idx))}
            unknown = st < 0
            st[unknown] = MISSING
            return st, unknown, seen
    numeric = pd.api.types.is_numeric_dtype(col)
    isna = col.isna().to_numpy()
    fvals: Any = (
        col.to_numpy(dtype=float, na_value=np.nan) if numeric else col.astype(str).str.strip()
    )
    st = np.full(n, MISSING, dtype=np.int8)
    covered = isna.copy()
    for kind in ("missing", "refused", "dont_know", "no", "yes"):
        cs = _norm(codes.get(kind, ()), col)
        if not cs:
            continue
        m = np.isin(fvals, [c for c in cs if not isinstance(c, str)] if numeric else cs) & ~isna
        st[m] = STATUS_CODE[kind]
        covered |= m
    seen = set(_norm(col.dropna().unique(), col))
    return st, ~covered, seen


# --------------------------------------------------------------------------------------------
# reading


def _rule_needs(fw: Framework, mapped: set[str], m: Mapping) -> list[Problem]:
    """Indicators a rule needs that the mapping does not map."""
    out = []

    def need(msg: str) -> None:
        out.append(
            Problem(
                N_("{problem} (map it, or set allow_unmeasured_dimensions = true in [mapping])",
                   problem=msg),
                m.source, None, "indicator",
            )
        )  # fmt: skip

    adults = [i for i in fw.indicators if i.population == "adults"]
    if fw.rule == "paired_dimensions":
        pen_any = any(k.split("@")[0] in {i.id for i in adults if i.kind == "penalty"}
                      for k in mapped if "@" in k)  # fmt: skip
        for d in fw.dimension_ids:
            inv = [i.id for i in adults if i.kind == "involuntariness" and i.dimension == d]
            if not set(inv) & mapped:
                need(
                    N_(
                        "no involuntariness indicator of dimension {d} is mapped, so {d} can "
                        "never be positive",
                        d=d,
                    )
                )
            pens = {f"{i.id}@{d}" for i in adults if i.kind == "penalty"}
            ok = pen_any if fw.parameters.get("pairing") == "any" else bool(pens & mapped)
            if not ok:
                need(
                    N_(
                        "no penalty applied in dimension {d} is mapped, so {d} can never be "
                        "positive",
                        d=d,
                    )
                )
    elif fw.rule == "involuntariness_and_coercion":
        for kind in ("involuntariness", "coercion"):
            if not {i.id for i in adults if i.kind == kind} & mapped:
                need(N_("no {kind} element is mapped: nobody could be in forced labour", kind=kind))
        if m.age_column and not {i.id for i in fw.indicators if i.kind == "child_route"} & mapped:
            need(N_("age_column is set but no route of forced labour of children is mapped"))
    elif fw.rule == "delphi":
        p = fw.parameters
        for group in ("recruitment_dimensions", "exploitation_dimensions",
                      "destination_dimensions"):  # fmt: skip
            dims = p.get(group, [])
            if not any(i.dimension in dims and i.id in mapped for i in fw.indicators):
                need(
                    N_(
                        "no indicator of the {group} dimensions ({dims}) is mapped: nobody "
                        "could be a victim",
                        group=group.split("_")[0],
                        dims=", ".join(dims),
                    )
                )
    elif not mapped:
        need(N_("no indicator is mapped"))
    return out


def _line(text: str, iid: str, nth: int) -> int | None:
    hits = [m.start() for m in re.finditer(rf'^\s*id\s*=\s*"{re.escape(iid)}"', text, flags=re.M)]
    if not hits:
        return None
    pos = hits[min(nth, len(hits) - 1)]
    return text[:pos].count("\n") + 1


def _as_codes(v: Any) -> tuple[Any, ...] | None:
    if isinstance(v, list) and all(isinstance(x, int | float | str) for x in v):
        return tuple(v)
    if isinstance(v, int | float | str) and not isinstance(v, bool):
        return (v,)
    return None


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping file (TOML); file-level problems are all reported at once."""
    from fl_estimate.tabular import read_text_file

    p = Path(path)
    return parse_mapping(read_text_file(p, what="mapping file"), str(p))


def parse_mapping(text: str, source: str = "<mapping>") -> Mapping:
    """Read a mapping given as TOML text (see :func:`load_mapping`)."""
    doc = parse_toml(text, source, summary=N_("cannot read {source}", source=source))
    problems: list[Problem] = []
    head = doc.get("mapping", {})
    for k in doc:
        if k not in ("mapping", "codes", "indicator"):
            problems.append(
                Problem(N_("unknown table (expected [mapping], [codes], [[indicator]])"), source,
                        None, k)
            )  # fmt: skip
    for k in head:
        if k not in _MAPPING_KEYS:
            problems.append(Problem(N_("unknown key in [mapping]"), source, None, k))
    if not isinstance(head.get("framework"), str):
        problems.append(Problem(N_("[mapping] needs framework = \"<id or path>\""), source, None,
                                "framework"))  # fmt: skip
    defaults: dict[str, tuple[Any, ...]] = {"yes": (1,), "no": (0,)}
    for k, v in doc.get("codes", {}).items():
        if k not in CODE_KINDS:
            problems.append(
                Problem(
                    N_("unknown code kind; expected {values}", values=", ".join(CODE_KINDS)),
                    source,
                    None,
                    f"codes.{k}",
                )
            )
            continue
        c = _as_codes(v)
        if c is None:
            problems.append(Problem(N_("expected a list of codes"), source, None, f"codes.{k}", v))
            continue
        defaults[k] = c
    kinds_of: dict[str, list[str]] = {}
    for kind, values in defaults.items():
        for v in values:
            kinds_of.setdefault(str(v), []).append(kind)
    for v, kinds in kinds_of.items():
        if len(kinds) > 1 and "codes" in doc:
            problems.append(
                Problem(
                    N_(
                        "code {v} is given for {kinds}: each code means one thing",
                        v=v,
                        kinds=" and ".join(kinds),
                    ),
                    source,
                    None,
                    "codes",
                    v,
                )
            )
    inds: list[IndicatorMap] = []
    count: dict[str, int] = {}
    for j, raw in enumerate(doc.get("indicator", []), 1):
        iid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(iid, str):
            problems.append(Problem(N_("[[indicator]] #{j} needs an id", j=j), source, None, "id"))
            continue
        line = _line(text, iid, count.get(iid, 0))
        count[iid] = count.get(iid, 0) + 1
        for k in raw:
            if k not in _IND_KEYS:
                problems.append(
                    Problem(
                        N_("unknown key (known: {known})", known=", ".join(sorted(_IND_KEYS))),
                        source,
                        line,
                        k,
                    )
                )
        own = {}
        for kind in CODE_KINDS:
            if kind in raw:
                c = _as_codes(raw[kind])
                if c is None:
                    problems.append(Problem(N_("expected a list of codes"), source, line, kind,
                                            raw[kind]))  # fmt: skip
                else:
                    own[kind] = c
        base = {**defaults, **own}
        conds: list[Condition] = []
        combine = "one"
        kinds_given = [k for k in ("variable", "any_of", "all_of") if k in raw]
        if len(kinds_given) != 1:
            problems.append(
                Problem(
                    N_("give exactly one of variable, any_of, all_of"), source, line, "variable"
                )
            )
        elif kinds_given[0] == "variable":
            if not isinstance(raw["variable"], str):
                problems.append(Problem(N_("expected a column name"), source, line, "variable",
                                        raw["variable"]))  # fmt: skip
            else:
                conds.append(Condition(raw["variable"], base))
        else:
            combine = kinds_given[0]
            items = raw[combine]
            if not isinstance(items, list) or not items:
                problems.append(Problem(N_("expected a list of {variable = ...} tables"), source,
                                        line, combine))  # fmt: skip
                items = []
            for it in items:
                if not isinstance(it, dict) or not isinstance(it.get("variable"), str):
                    problems.append(Problem(N_("each item needs variable = \"<column>\""), source,
                                            line, combine, it))  # fmt: skip
                    continue
                for k in it:
                    if k not in _COND_KEYS:
                        problems.append(Problem(N_("unknown key in condition"), source, line, k))
                sub = {kd: _as_codes(it[kd]) or () for kd in CODE_KINDS if kd in it}
                conds.append(Condition(it["variable"], {**base, **sub}))
        dim = raw.get("dimension")
        if dim is not None and not isinstance(dim, str):
            problems.append(Problem(N_("expected a dimension id"), source, line, "dimension", dim))
            dim = None
        inds.append(IndicatorMap(iid, dim, tuple(conds), combine, line))
    keep = head.get("keep")
    if keep is not None and not (isinstance(keep, list) and all(isinstance(x, str) for x in keep)):
        problems.append(Problem(N_("keep must be a list of column names"), source, None, "keep"))
        keep = None
    if problems:
        raise InputValidationError(problems)
    return Mapping(
        framework=head["framework"],
        indicators=tuple(inds),
        id_column=head.get("id_column"),
        age_column=head.get("age_column"),
        person_column=head.get("person_column"),
        keep=tuple(keep) if keep is not None else None,
        allow_unmeasured_dimensions=bool(head.get("allow_unmeasured_dimensions", False)),
        source=source,
        default_codes=defaults,
    )


def mapping_template(framework: str | Framework, variables: Sequence[str] | None = None) -> str:
    """A mapping-file skeleton listing every indicator of a framework (variables to fill in)."""
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    lines = [
        "[mapping]",
        f'framework = "{fw.id}"',
        "",
        "[codes]",
        "yes = [1]",
        "no = [2]",
        "dont_know = [8]",
        "refused = [9]",
        "",
    ]
    for ind in fw.indicators:
        dims = (
            fw.dimension_ids
            if (fw.rule == "paired_dimensions" and ind.kind == "penalty")
            else [None]
        )
        for d in dims:
            lines += ["[[indicator]]", f'id = "{ind.id}"  # {ind.text}']
            if d:
                lines.append(f'dimension = "{d}"')
            lines += ['variable = ""', ""]
    return "\n".join(lines)
