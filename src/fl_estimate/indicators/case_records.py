"""Case records (CTDC, HTCDS) scored against the frameworks through a versioned crosswalk.

Case records describe people already identified as (possible) victims; scoring them against the
survey frameworks serves consistency checks, profiling and data-quality flags, not
re-classification. CTDC and HTCDS record means of control as positive-only flags, so an absent
flag is *unknown*, not *no* (``absent="unknown"``, the default); ``absent="no_if_informative"``
applies CTDC's own denominator rule instead: a record with at least one flag of the group set is
informative, and its other flags of the group count as *no*.

The crosswalk (``fl_estimate/indicators/crosswalks/case_records.csv``, one row per source concept)
maps the CTDC 2017–2021 ``meansOfControl*`` columns, the HTCDS v2.0 ``vic_MethodsOfControl``
picklist values and the CTDC 2024 merged variables to the ILO eleven indicators, the ICLS 2018
elements and the Delphi 2009 adults-labour indicators (specification §6.4; package choices).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.indicators.frameworks import Framework, load_framework
from fl_estimate.indicators.scoring import IndicatorScorer, ScoredRecords

__all__ = [
    "CTDC_EXPLOITATION",
    "CTDC_MEANS_OF_CONTROL",
    "CTDC_MERGED_2024",
    "CaseRecordScorer",
    "crosswalk",
    "ctdc_group_shares",
    "ctdc_merged_means",
    "htcds_picklists",
    "read_ctdc",
    "validate_htcds",
]

#: the 17 CTDC (2017-2021) means-of-control flags (``meansOfControlNotSpecified`` excluded)
CTDC_MEANS_OF_CONTROL = [
    "meansOfControlDebtBondage", "meansOfControlTakesEarnings",
    "meansOfControlRestrictsFinancialAccess", "meansOfControlThreats",
    "meansOfControlPsychologicalAbuse", "meansOfControlPhysicalAbuse",
    "meansOfControlSexualAbuse", "meansOfControlFalsePromises",
    "meansOfControlPsychoactiveSubstances", "meansOfControlRestrictsMovement",
    "meansOfControlRestrictsMedicalCare", "meansOfControlExcessiveWorkingHours",
    "meansOfControlUsesChildren", "meansOfControlThreatOfLawEnforcement",
    "meansOfControlWithholdsNecessities", "meansOfControlWithholdsDocuments",
    "meansOfControlOther",
]  # fmt: skip
CTDC_EXPLOITATION = ["isForcedLabour", "isSexualExploit", "isOtherExploit"]
#: CTDC Global Synthetic Data codebook v2 (2024): merged variable -> 2017-2021 components
CTDC_MERGED_2024: dict[str, list[str]] = {
    "meansDebtBondageEarnings": ["meansOfControlDebtBondage", "meansOfControlTakesEarnings"],
    "meansThreats": ["meansOfControlThreats", "meansOfControlUsesChildren",
                     "meansOfControlThreatOfLawEnforcement"],
    "meansAbusePsyPhySex": ["meansOfControlPsychologicalAbuse", "meansOfControlPhysicalAbuse",
                            "meansOfControlSexualAbuse"],
    "meansFalsePromises": ["meansOfControlFalsePromises"],
    "meansDrugsAlcohol": ["meansOfControlPsychoactiveSubstances"],
    "meansDenyBasicNeeds": ["meansOfControlRestrictsFinancialAccess",
                            "meansOfControlRestrictsMovement", "meansOfControlRestrictsMedicalCare",
                            "meansOfControlWithholdsNecessities"],
    "meansExcessiveWorkHours": ["meansOfControlExcessiveWorkingHours"],
    "meansWithholdDocs": ["meansOfControlWithholdsDocuments"],
}  # fmt: skip
_CTDC_REQUIRED = ["yearOfRegistration", "Datasource", "gender", *CTDC_MEANS_OF_CONTROL,
                  *CTDC_EXPLOITATION]  # fmt: skip
#: columns copied to scored case records (no identifiers exist in CTDC; nothing else is kept):
#: descriptors, type of exploitation and recruitment
_CTDC_KEEP = ["yearOfRegistration", "Datasource", "gender", "ageBroad", "majorityStatus",
              "CountryOfExploitation", "isForcedLabour", "isSexualExploit", "isOtherExploit",
              "isAbduction", "recruiterRelationIntimatePartner", "recruiterRelationFriend",
              "recruiterRelationFamily", "recruiterRelationOther"]  # fmt: skip
_HTCDS_KEEP = ["vic_TraffickingStatus", "vic_TypeOfExploitation", "vic_MethodOfRecruitment",
               "vic_RelationshipToTrafficker", "vic_ForcedLabourIndustry"]  # fmt: skip


@cache
def crosswalk() -> pd.DataFrame:
    """The case-record crosswalk (columns: concept, ctdc_2017, htcds_value, ctdc_2024, ilo11,
    icls2018, delphi2009, confidence, note)."""
    res = resources.files("fl_estimate.indicators").joinpath("crosswalks", "case_records.csv")
    with res.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@cache
def htcds_picklists() -> dict[str, Any]:
    """HTCDS v2.0 picklists, multi-select fields, aliases and accepted extensions."""
    res = resources.files("fl_estimate.indicators").joinpath("crosswalks", "htcds_v2.toml")
    return tomllib.loads(res.read_text(encoding="utf-8"))


def _binary_problems(df: pd.DataFrame, cols: list[str], source: str) -> list[Problem]:
    problems = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = (df[c].notna() & ~v.isin([0, 1])).to_numpy()
        for i in np.flatnonzero(bad)[:5]:
            problems.append(
                Problem(N_("expected 1, 0 or empty"), source, int(i) + 2, c, df[c].iloc[i])
            )
    return problems


def read_ctdc(path: str | Path) -> pd.DataFrame:
    """Read a CTDC Global Dataset file (2017-2021 schema), checking its columns and flags.

    Raises
    ------
    InputValidationError
        Missing required columns and flag values other than 1, 0 or empty, all at once.
    """
    p = Path(path)
    if not p.exists():
        raise InputValidationError([Problem(N_("file not found"), str(p))])
    df = pd.read_csv(p, low_memory=False)
    problems = [
        Problem(N_("required CTDC column missing"), str(p), 1, c) for c in _CTDC_REQUIRED
        if c not in df.columns
    ]  # fmt: skip
    if not problems:
        problems = _binary_problems(df, [*CTDC_MEANS_OF_CONTROL, *CTDC_EXPLOITATION], str(p))
    if problems:
        raise InputValidationError(problems)
    return df


def _flag(df: pd.DataFrame, col: str) -> np.ndarray:
    return (pd.to_numeric(df[col], errors="coerce") == 1).to_numpy()


def ctdc_merged_means(df: pd.DataFrame) -> pd.DataFrame:
    """The eight 2024-style merged means-of-control variables from 2017-2021 columns.

    Returns a DataFrame with one nullable-integer column per merged variable (1 where any
    component flag is 1, <NA> otherwise, as in the 2024 release) and ``informative`` (any of the
    16 component flags is 1; ``meansOfControlOther`` is dropped in 2024).
    """
    out = {}
    for name, comps in CTDC_MERGED_2024.items():
        hit = np.zeros(len(df), bool)
        for c in comps:
            hit |= _flag(df, c)
        arr = pd.array(np.where(hit, 1, 0), dtype="Int64")
        arr[~hit] = pd.NA
        out[name] = arr
    res = pd.DataFrame(out, index=df.index)
    res["informative"] = res.notna().any(axis=1)
    return res


def ctdc_group_shares(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Shares within a group of flags by CTDC's denominator rule.

    A record is informative if any flag of the group is 1; shares are among informative records
    (they may sum to more than 100%). Returns columns: flag, n (records with the flag),
    n_informative, percent.

    Examples
    --------
    The CTDC codebook's example: 5 persons, 4 informative, 2 forced labour, 2 sexual, 1 other.

    >>> d = pd.DataFrame({"fl": [1, 1, 0, 0, None], "sx": [0, 1, 1, 0, None],
    ...                   "ot": [0, 0, 0, 1, None]})
    >>> ctdc_group_shares(d, ["fl", "sx", "ot"])["percent"].tolist()
    [50.0, 50.0, 25.0]
    """
    flags = np.stack([_flag(df, c) for c in columns], axis=1)
    informative = flags.any(axis=1)
    n_inf = int(informative.sum())
    rows = [
        {"flag": c, "n": int(flags[:, j].sum()), "n_informative": n_inf,
         "percent": 100.0 * flags[:, j].sum() / n_inf if n_inf else float("nan")}
        for j, c in enumerate(columns)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def validate_htcds(records: pd.DataFrame, *, source: str = "<DataFrame>") -> pd.DataFrame:
    """Check HTCDS picklist fields (all problems at once) and normalise aliases.

    Multi-select fields are ``;``-separated. Accepts the standard's known quirks: the alias
    ``Unacquainted`` for ``Unaquainted`` and ``RestrictsMovement`` (defined in the field
    definitions but missing from the v2.0 picklist). Returns a copy with aliases replaced.
    """
    spec = htcds_picklists()
    sep = spec["standard"]["separator"]
    multi = set(spec["multiselect"]["fields"])
    aliases = spec.get("aliases", {})
    ext = spec.get("extensions", {})
    out = records.copy()
    problems: list[Problem] = []
    for field_name, allowed in spec["picklists"].items():
        if field_name not in out.columns:
            continue
        ok = set(allowed) | set(ext.get(field_name, []))
        vals = out[field_name]
        fixed = []
        for i, v in enumerate(vals.tolist()):
            if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
                fixed.append(pd.NA)
                continue
            parts = (
                [x.strip() for x in str(v).split(sep)] if field_name in multi else [str(v).strip()]
            )
            parts = [aliases.get(x, x) for x in parts if x]
            for x in parts:
                if x not in ok:
                    problems.append(
                        Problem(
                            N_(
                                "not an HTCDS v2.0 value (expected one of {allowed})",
                                allowed=", ".join(allowed),
                            ),
                            source,
                            i + 2,
                            field_name,
                            x,
                        )
                    )
            fixed.append(sep.join(parts))
        out[field_name] = pd.array(fixed, dtype=object)
    if problems:
        raise InputValidationError(problems)
    return out


class CaseRecordScorer:
    """Score CTDC or HTCDS case records against a framework through the crosswalk.

    Parameters
    ----------
    framework : {"ilo11", "icls2018", "delphi2009"} or Framework
        Target framework (the crosswalk has a column for each).
    standard : {"ctdc", "htcds"}
        Record layout: CTDC 2017-2021 flag columns, or HTCDS ``vic_MethodsOfControl``
        (``;``-separated picklist values).
    absent : {"unknown", "no_if_informative"}
        Meaning of an absent flag (see the module docstring).

    Notes
    -----
    All records are scored with the adults' rules: the crosswalk carries no route of forced
    labour of children. Indicators that several concepts map to are present if any is.

    Examples
    --------
    Three HTCDS records (no case-record sample ships with the package: CTDC terms of use); an
    absent means of control is unknown, so the record with none is indeterminate:

    >>> import pandas as pd
    >>> records = pd.DataFrame({"vic_MethodsOfControl": ["DebtBondage;PhysicalThreats", None,
    ...                                                  "TakesEarnings"]})
    >>> scored = CaseRecordScorer("ilo11", standard="htcds").score(records)
    >>> scored.table["classification"].tolist()
    ['indicated', 'indeterminate', 'indicated']
    >>> scored.table["reason"].iloc[0].split(";")[0]
    '2 of 10 measured indicators present: ILO11.06, ILO11.09'
    """

    def __init__(
        self,
        framework: str | Framework = "ilo11",
        *,
        standard: str = "ctdc",
        absent: str = "unknown",
    ) -> None:
        fw = framework if isinstance(framework, Framework) else load_framework(framework)
        if fw.id not in ("ilo11", "icls2018", "delphi2009"):
            raise ModelSpecificationError(
                N_(
                    "the crosswalk has no column for framework {id!r}; use ilo11, icls2018 "
                    "or delphi2009",
                    id=fw.id,
                )
            )
        if standard not in ("ctdc", "htcds"):
            raise ModelSpecificationError(
                N_("standard must be 'ctdc' or 'htcds', not {standard!r}", standard=standard)
            )
        if absent not in ("unknown", "no_if_informative"):
            raise ModelSpecificationError(
                N_("absent must be 'unknown' or 'no_if_informative', not {absent!r}", absent=absent)
            )
        self.framework = fw
        self.standard = standard
        self.absent = absent

    def concept_flags(self, records: pd.DataFrame, *, source: str = "<DataFrame>") -> pd.DataFrame:
        """One boolean column per crosswalk concept (True where the record has it)."""
        cw = crosswalk()
        out = {}
        if self.standard == "ctdc":
            missing = [c for c in cw["ctdc_2017"] if c and c not in records.columns]
            if missing:
                raise InputValidationError(
                    [Problem(N_("CTDC column missing"), source, 1, c) for c in missing]
                )
            for _, r in cw.iterrows():
                if r["ctdc_2017"]:
                    out[r["concept"]] = _flag(records, r["ctdc_2017"])
        else:
            if "vic_MethodsOfControl" not in records.columns:
                raise InputValidationError(
                    [Problem(N_("HTCDS column missing"), source, 1, "vic_MethodsOfControl")]
                )
            rec = validate_htcds(records, source=source)
            sets = rec["vic_MethodsOfControl"].map(
                lambda v: set() if v is pd.NA else set(str(v).split(";"))
            )
            for _, r in cw.iterrows():
                value = r["htcds_value"] or (
                    r["concept"] if r["concept"] == "RestrictsMovement" else ""
                )
                if value:
                    out[r["concept"]] = sets.map(lambda s, v=value: v in s).to_numpy(dtype=bool)
        return pd.DataFrame(out, index=records.index)

    def indicators(self, records: pd.DataFrame, *, source: str = "<DataFrame>") -> pd.DataFrame:
        """Indicator table (framework keys; True / <NA>, or False under ``no_if_informative``)."""
        cw = crosswalk()
        flags = self.concept_flags(records, source=source)
        informative = flags.to_numpy().any(axis=1)
        col = self.framework.id
        out = {}
        for key, grp in cw[cw[col] != ""].groupby(col, sort=False):
            concepts = [c for c in grp["concept"] if c in flags.columns]
            if not concepts:
                continue
            hit = flags[concepts].to_numpy().any(axis=1)
            vals = np.where(hit, 1.0, np.nan)
            if self.absent == "no_if_informative":
                vals = np.where(~hit & informative, 0.0, vals)
            arr = pd.array(vals, dtype="Float64").astype("boolean")
            out[str(key)] = arr
        return pd.DataFrame(out, index=records.index)

    def score(self, records: pd.DataFrame, *, source: str = "<DataFrame>") -> ScoredRecords:
        """Score the records: per record, each crosswalked indicator, dimensions, classification
        and reason (see :class:`~fl_estimate.indicators.scoring.ScoredRecords`), next to the
        record's type of exploitation and recruitment columns (CTDC ``is*`` and
        ``recruiterRelation*``; HTCDS ``vic_TypeOfExploitation``, ``vic_MethodOfRecruitment``,
        ...). No identifying column is copied."""
        ind = self.indicators(records, source=source)
        if self.standard == "htcds":
            records = validate_htcds(records, source=source)
        keep = [c for c in (_CTDC_KEEP if self.standard == "ctdc" else _HTCDS_KEEP) if c in records]
        table = pd.concat([records[keep], ind], axis=1)
        return IndicatorScorer(self.framework).score_indicators(table, keep=keep, source=source)
