"""Case records: CTDC counts on the real file (../shared, skipped without it) and HTCDS validation.

Every expected count is computed in the test with plain pandas from the file, independently of the
package code, and the published reference values of the specification (§8.5) are asserted too.
Exact integers: no tolerance.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fl_estimate.exceptions import InputValidationError
from fl_estimate.indicators.case_records import (
    CaseRecordScorer,
    ctdc_group_shares,
    ctdc_merged_means,
    htcds_picklists,
    read_ctdc,
    validate_htcds,
)

SHARED = (
    Path(__file__).resolve().parents[2].parent / "shared"
)  # /work/main/tests/indicators -> ../shared
CTDC = SHARED / "reference_data" / "ctdc" / "ctdc_global_dataset_2017-11-27_sure2018.csv"
HTCDS = SHARED / "reference_data" / "htcds" / "HTCDS_Field_Standards_2.0.csv"
needs_ctdc = pytest.mark.skipif(
    not CTDC.exists(),
    reason="CTDC file not available (../shared/reference_data/ctdc/ is not part of the "
    "repository: CTDC terms of use); these tests run in the development checkout only",
)

MEANS = [
    "DebtBondage", "TakesEarnings", "RestrictsFinancialAccess", "Threats", "PsychologicalAbuse",
    "PhysicalAbuse", "SexualAbuse", "FalsePromises", "PsychoactiveSubstances", "RestrictsMovement",
    "RestrictsMedicalCare", "ExcessiveWorkingHours", "UsesChildren", "ThreatOfLawEnforcement",
    "WithholdsNecessities", "WithholdsDocuments", "Other",
]  # fmt: skip


@pytest.fixture(scope="module")
def ctdc() -> pd.DataFrame:
    return read_ctdc(CTDC)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(CTDC, low_memory=False)


@pytest.mark.shared
@needs_ctdc
def test_ctdc_type_of_exploitation_shares(ctdc: pd.DataFrame, raw: pd.DataFrame) -> None:
    cols = ["isForcedLabour", "isSexualExploit", "isOtherExploit"]
    ones = raw[cols] == 1
    informative = int(ones.any(axis=1).sum())
    got = ctdc_group_shares(ctdc, cols).set_index("flag")
    assert len(ctdc) == 47102
    assert informative == 29667  # spec §8.5
    assert (got["n_informative"] == informative).all()
    assert got["n"].tolist() == [int(ones[c].sum()) for c in cols] == [9004, 12904, 7782]
    assert got.loc["isForcedLabour", "percent"] == pytest.approx(100 * 9004 / 29667, abs=1e-12)


@pytest.mark.shared
@needs_ctdc
def test_ctdc_merged_2024_variables(ctdc: pd.DataFrame, raw: pd.DataFrame) -> None:
    m = ctdc_merged_means(ctdc)
    col = {k: f"meansOfControl{k}" for k in MEANS}
    eq1 = {k: raw[c] == 1 for k, c in col.items()}
    expected = {
        "meansDebtBondageEarnings": eq1["DebtBondage"] | eq1["TakesEarnings"],
        "meansThreats": eq1["Threats"] | eq1["UsesChildren"] | eq1["ThreatOfLawEnforcement"],
        "meansAbusePsyPhySex": eq1["PsychologicalAbuse"]
        | eq1["PhysicalAbuse"]
        | eq1["SexualAbuse"],
        "meansFalsePromises": eq1["FalsePromises"],
        "meansDrugsAlcohol": eq1["PsychoactiveSubstances"],
        "meansDenyBasicNeeds": eq1["RestrictsFinancialAccess"]
        | eq1["RestrictsMovement"]
        | eq1["RestrictsMedicalCare"]
        | eq1["WithholdsNecessities"],
        "meansExcessiveWorkHours": eq1["ExcessiveWorkingHours"],
        "meansWithholdDocs": eq1["WithholdsDocuments"],
    }
    for name, mask in expected.items():
        assert int(m[name].notna().sum()) == int(mask.sum()), name
    informative16 = pd.concat([eq1[k] for k in MEANS if k != "Other"], axis=1).any(axis=1)
    assert int(m["informative"].sum()) == int(informative16.sum()) == 7957  # spec §8.5
    assert int(m["meansThreats"].notna().sum()) == 2928
    informative17 = pd.concat(list(eq1.values()), axis=1).any(axis=1)
    assert int(informative17.sum()) == 8210  # spec §8.5


@pytest.mark.shared
@needs_ctdc
def test_ctdc_scored_against_ilo11(ctdc: pd.DataFrame, raw: pd.DataFrame) -> None:
    res = CaseRecordScorer("ilo11").score(ctdc, source=CTDC.name)
    t = res.table
    docs = int((raw["meansOfControlWithholdsDocuments"] == 1).sum())
    assert docs == 420
    assert int((t["ILO11.07"] == True).sum()) == docs  # noqa: E712 (nullable boolean)
    # withholding of wages (8) = TakesEarnings or RestrictsFinancialAccess
    wages = (raw["meansOfControlTakesEarnings"] == 1) | (
        raw["meansOfControlRestrictsFinancialAccess"] == 1
    )
    assert int((t["ILO11.08"] == True).sum()) == int(wages.sum())  # noqa: E712
    # indicated = at least one crosswalked means of control (all but Other)
    any_means = pd.concat([raw[f"meansOfControl{k}"] == 1 for k in MEANS if k != "Other"],
                          axis=1).any(axis=1)  # fmt: skip
    assert int((t["classification"] == "indicated").sum()) == int(any_means.sum())
    # absent flags are unknown, never "no": nobody is "not_indicated"
    assert int((t["classification"] == "not_indicated").sum()) == 0
    assert int((t["classification"] == "indeterminate").sum()) == len(raw) - int(any_means.sum())
    # no identifiers leak: only the listed descriptive columns are kept
    assert "citizenship" not in t.columns
    # type of exploitation kept next to the scoring: records indicated among forced labour cases
    fl_ind = int(((t["isForcedLabour"] == 1) & (t["classification"] == "indicated")).sum())
    assert fl_ind == int(((raw["isForcedLabour"] == 1) & any_means).sum())


@pytest.mark.shared
@needs_ctdc
def test_ctdc_scored_against_icls(ctdc: pd.DataFrame, raw: pd.DataFrame) -> None:
    """ICLS: involuntariness (false promises, excessive hours, medical care, necessities,
    abduction) AND coercion (the COE flags) both recorded -> forced labour; else indeterminate."""
    res = CaseRecordScorer("icls2018").score(ctdc)
    inv = pd.concat([raw[c] == 1 for c in [
        "meansOfControlFalsePromises", "meansOfControlExcessiveWorkingHours",
        "meansOfControlRestrictsMedicalCare", "meansOfControlWithholdsNecessities",
        "isAbduction"]], axis=1).any(axis=1)  # fmt: skip
    coe = pd.concat([raw[c] == 1 for c in [
        "meansOfControlDebtBondage", "meansOfControlTakesEarnings",
        "meansOfControlRestrictsFinancialAccess", "meansOfControlThreats",
        "meansOfControlThreatOfLawEnforcement", "meansOfControlUsesChildren",
        "meansOfControlPsychologicalAbuse", "meansOfControlPhysicalAbuse",
        "meansOfControlSexualAbuse", "meansOfControlRestrictsMovement",
        "meansOfControlWithholdsDocuments"]], axis=1).any(axis=1)  # fmt: skip
    assert int((res.table["classification"] == "forced_labour").sum()) == int((inv & coe).sum())


def test_ctdc_denominator_rule_codebook_example() -> None:
    """CTDC codebook: 5 persons, 4 informative: 50/50/25, not 40/40/20."""
    d = pd.DataFrame({"a": [1, 1, 0, 0, None], "b": [0, 1, 1, 0, None], "c": [0, 0, 0, 1, None]})
    assert ctdc_group_shares(d, ["a", "b", "c"])["percent"].tolist() == [50.0, 50.0, 25.0]


def test_htcds_records_scored_and_validated() -> None:
    recs = pd.DataFrame(
        {"vic_MethodsOfControl": ["WithholdsDocuments;PhysicalThreats", "", "ExcessiveWorkingHours",
                                  "RestrictsMovement"],
         "vic_RelationshipToTrafficker": ["Unacquainted", "Familial", None, "Acquainted"],
         "vic_TypeOfExploitation": ["ForcedLabour", "SexualExploitation", "ForcedLabour;Other",
                                    None]}
    )  # fmt: skip
    res = CaseRecordScorer("ilo11", standard="htcds").score(recs)
    assert res.table["indicators_present"].tolist() == [2, 0, 1, 1]
    assert res.table["classification"].tolist() == [
        "indicated", "indeterminate", "indicated", "indicated"]  # fmt: skip
    assert res.table["vic_TypeOfExploitation"].iloc[2] == "ForcedLabour;Other"
    fixed = validate_htcds(recs)
    assert fixed["vic_RelationshipToTrafficker"].iloc[0] == "Unaquainted"  # the standard's spelling


def test_htcds_bad_values_all_reported() -> None:
    recs = pd.DataFrame({"vic_MethodsOfControl": ["Threats", "DebtBondage;Bribes"],
                         "prs_Gender": ["Female", "Feminine"]})  # fmt: skip
    with pytest.raises(InputValidationError) as err:
        validate_htcds(recs, source="cases.csv")
    probs = err.value.problems
    assert [(p.row, p.column, p.value) for p in probs] == [
        (2, "vic_MethodsOfControl", "Threats"),
        (3, "vic_MethodsOfControl", "Bribes"),
        (2, "prs_Gender", "Female"),
    ]


@pytest.mark.shared
@pytest.mark.skipif(not HTCDS.exists(), reason="../shared HTCDS field standard not available")
def test_htcds_picklists_match_the_standard() -> None:
    std = pd.read_csv(HTCDS)
    for field, values in htcds_picklists()["picklists"].items():
        row = std[std["Field Name including Prefix"] == field]
        assert row["Value Names (if picklist)"].iloc[0].split(" | ") == values, field
