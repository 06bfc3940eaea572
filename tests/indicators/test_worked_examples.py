"""The worked examples of the indicator specification (../shared/docs/indicators.md, copied in
substance to docs/indicators.md): ICLS A–G (§1.9), ILO 2012 H–L under both variants (§2.7),
Delphi M–Q and the rule-1 edge cases (§3.3, §3.5). Exact: classification is logic, no tolerance.
"""

from __future__ import annotations

import pandas as pd
import pytest

from fl_estimate.indicators.frameworks import load_framework
from fl_estimate.indicators.scoring import IndicatorScorer, indicator_keys

ICLS_COE = [f"ICLS.COE.{c}" for c in "abcdef"]
ICLS_INV = [f"ICLS.INV.{c}" for c in "abcdefghi"]


def _v(x: object) -> bool | None:
    """Nullable boolean cell as True / False / None."""
    return None if x is pd.NA else bool(x)


def _one(scorer: IndicatorScorer, answers: dict, **kw) -> pd.Series:
    return scorer.score_indicators(pd.DataFrame([answers]), **kw).table.iloc[0]


def _icls_adult(present: list[str]) -> dict:
    """Every ICLS adult element asked; ``present`` answered yes, the rest no."""
    return {k: (k in present) for k in ICLS_INV + ICLS_COE}


# ---------------------------------------------------------------- ICLS 2018 (§1.9)
def test_icls_example_A_overtime_and_passport_kept_is_forced_labour() -> None:
    r = _one(IndicatorScorer("icls2018"), _icls_adult(["ICLS.INV.c", "ICLS.COE.e"]))
    assert _v(r["forced_labour"]) is True and r["classification"] == "forced_labour"
    assert "ICLS.INV.c" in r["reason"] and "ICLS.COE.e" in r["reason"]


def test_icls_example_B_low_pay_without_coercion_is_not() -> None:
    r = _one(IndicatorScorer("icls2018"), _icls_adult(["ICLS.INV.e"]))
    assert _v(r["forced_labour"]) is False and "no coercion" in r["reason"]


def test_icls_example_C_threat_of_dismissal_without_involuntariness_is_not() -> None:
    r = _one(IndicatorScorer("icls2018"), _icls_adult(["ICLS.COE.f"]))
    assert _v(r["forced_labour"]) is False and "no involuntariness" in r["reason"]


def test_icls_example_D_elements_in_different_spells_not_fl_but_flagged() -> None:
    spells = pd.DataFrame(
        [
            {"person": "D", "spell": "job X 2019", **_icls_adult(["ICLS.INV.b"])},
            {"person": "D", "spell": "job Y 2022", **_icls_adult(["ICLS.COE.a"])},
        ]
    )
    scorer = IndicatorScorer("icls2018")
    r = scorer.score_indicators(spells, person="person").table
    assert len(r) == 1
    assert _v(r["forced_labour"].iloc[0]) is False and bool(r["review"].iloc[0])
    assert "different work spells" in r["reason"].iloc[0]
    # the package choice pairing="any" pairs across spells
    any_ = IndicatorScorer("icls2018", pairing="any").score_indicators(spells, person="person")
    assert _v(any_.table["forced_labour"].iloc[0]) is True


def test_icls_example_E_child_working_with_parents_in_debt_bondage() -> None:
    r = _one(IndicatorScorer("icls2018"), {"age": 14, "ICLS.CHILD.c": True}, age="age")
    assert _v(r["forced_labour"]) is True and r["population"] == "children"
    assert "ICLS.CHILD.c" in r["reason"]


def test_icls_example_F_child_selling_drugs_no_coercion_needed() -> None:
    r = _one(
        IndicatorScorer("icls2018"),
        {"age": 16, "ICLS.CHILD.d": True, **{c: False for c in ICLS_COE}},
        age="age",
    )
    assert _v(r["forced_labour"]) is True


def test_icls_example_G_child_forced_by_own_father_is_not_fl_of_children() -> None:
    # penalty applied by the parent: routes a/b (third-party penalty) are answered no
    answers = {"age": 12, "ICLS.CHILD.a": False, "ICLS.CHILD.b": False, "ICLS.CHILD.c": False,
               "ICLS.CHILD.d": False, "ICLS.COE.a": True}  # fmt: skip
    r = _one(IndicatorScorer("icls2018"), answers, age="age")
    assert _v(r["forced_labour"]) is False and r["population"] == "children"


# ---------------------------------------------------------------- ILO 2012 (§2.7, §2.5)
ADULT_KEYS = [k for k in indicator_keys(load_framework("ilo2012")) if not k.startswith("HTS.C.")]


def _hts(present: list[str]) -> dict:
    return {k: (k in present) for k in ADULT_KEYS}


EXAMPLES_2012 = {
    # case: (present, default FL, strict FL)
    "H": (["HTS.D1.INV.06", "HTS.PEN.03@D1"], True, True),
    "I": (["HTS.D2.INV.01", "HTS.PEN.10@D2"], True, True),  # D2.INV.01 graded strong (package)
    "J": (["HTS.D1.INV.06", "HTS.PEN.12@D3"], False, False),
    "K": (["HTS.D3.INV.04", "HTS.PEN.05@D3"], True, True),
    "L": (["HTS.PEN.15@D2", "HTS.PEN.07@D2"], False, False),
}


@pytest.mark.parametrize("case", sorted(EXAMPLES_2012))
def test_ilo2012_examples_H_to_L(case: str) -> None:
    present, default, strict = EXAMPLES_2012[case]
    r = _one(IndicatorScorer("ilo2012"), _hts(present))
    assert _v(r["forced_labour"]) is default, case
    s = _one(IndicatorScorer("ilo2012", require_strong=True), _hts(present))
    assert _v(s["forced_labour"]) is strict, case


def test_ilo2012_example_H_dimension_and_reason() -> None:
    r = _one(IndicatorScorer("ilo2012"), _hts(EXAMPLES_2012["H"][0]))
    assert [_v(r[f"dim:{d}"]) for d in ("D1", "D2", "D3")] == [True, False, False]
    assert r["reason"] == "D1: HTS.D1.INV.06 with HTS.PEN.03@D1"


def test_ilo2012_example_J_cross_dimension_pair_is_flagged_and_any_pairing_counts_it() -> None:
    r = _one(IndicatorScorer("ilo2012"), _hts(EXAMPLES_2012["J"][0]))
    assert bool(r["review"])
    a = _one(IndicatorScorer("ilo2012", pairing="any"), _hts(EXAMPLES_2012["J"][0]))
    assert _v(a["forced_labour"]) is True


def test_ilo2012_strict_variant_rejects_pair_of_medium_indicators() -> None:
    # D1.INV.06 (medium) with PEN.12 (medium) in D1: FL by default, not under require_strong
    present = ["HTS.D1.INV.06", "HTS.PEN.12@D1"]
    assert _v(_one(IndicatorScorer("ilo2012"), _hts(present))["forced_labour"]) is True
    s = _one(IndicatorScorer("ilo2012", require_strong=True), _hts(present))
    assert _v(s["forced_labour"]) is False and "strong" in s["reason"]


@pytest.mark.parametrize(
    ("present", "moved", "trafficked"),
    [
        # unfree recruitment (D1) + forced work (D2) + movement: trafficked for forced labour
        (["HTS.D1.INV.05", "HTS.PEN.05@D1", "HTS.D2.INV.03", "HTS.PEN.01@D2"], True, True),
        # same without movement: forced labour, not trafficking
        (["HTS.D1.INV.05", "HTS.PEN.05@D1", "HTS.D2.INV.03", "HTS.PEN.01@D2"], False, False),
        # D2 only (migrant in forced labour, D1 not positive)
        (["HTS.D2.INV.03", "HTS.PEN.01@D2"], True, False),
        # D1 and D2 positive, movement not known: indeterminate
        (["HTS.D1.INV.05", "HTS.PEN.05@D1", "HTS.D2.INV.03", "HTS.PEN.01@D2"], None, None),
    ],
)
def test_ilo2012_trafficking_for_forced_labour_section_2_5(present, moved, trafficked) -> None:
    r = _one(IndicatorScorer("ilo2012"), _hts(present) | {"HTS.MOVE": moved})
    assert _v(r["forced_labour"]) is True
    assert _v(r["trafficking_for_forced_labour"]) is trafficked


def test_three_valued_dont_know_is_not_no() -> None:
    """§0: involuntariness present, the paired penalty 'don't know' -> indeterminate, and the
    answer status keeps 'dont_know'; with missing='as_absent' it becomes not FL."""
    answers = _hts(["HTS.D1.INV.06"]) | {"HTS.PEN.03@D1": "dont_know"}
    r = _one(IndicatorScorer("ilo2012"), answers)
    assert _v(r["forced_labour"]) is None and r["classification"] == "indeterminate"
    assert r["HTS.PEN.03@D1:answer"] == "dont_know"
    assert "HTS.PEN.03@D1 (dont_know)" in r["reason"]
    low = _one(IndicatorScorer("ilo2012", missing="as_absent"), answers)
    assert _v(low["forced_labour"]) is False


def test_three_valued_positive_despite_missing() -> None:
    """A dimension is True as soon as True answers meet the rule, whatever is missing."""
    answers = _hts(EXAMPLES_2012["K"][0]) | {"HTS.D1.INV.01": None, "HTS.PEN.01@D2": "refused"}
    assert _v(_one(IndicatorScorer("ilo2012"), answers)["forced_labour"]) is True


# ---------------------------------------------------------------- Delphi 2009 (§3.3, §3.5)
DEL = [i.id for i in load_framework("delphi2009").indicators if i.kind == "indicator"]


def _del(present: list[str], **extra: object) -> dict:
    return {k: (f"DEL.AL.{k[7:]}" in [f"DEL.AL.{p}" for p in present]) for k in DEL} | extra


def _delphi(present: list[str], **extra: object) -> pd.Series:
    return _one(IndicatorScorer("delphi2009"), _del(present, **extra),
                age="age" if "age" in extra else None)  # fmt: skip


def test_delphi_example_M_victim() -> None:
    r = _delphi(["DR.01", "DR.08", "EX.01", "EX.04", "CD.01", "CD.11"])
    assert [_v(r[f"dim:{d}"]) for d in ("DR", "EX", "CD")] == [True, True, True]
    assert _v(r["trafficking_victim"]) is True and r["classification"] == "victim"


def test_delphi_example_N_victim_through_VR_EX_VD() -> None:
    r = _delphi(["DR.08", "DR.05", "VR.06", "VR.02", "VR.04", "EX.02", "EX.03", "EX.04",
                 "CD.14", "CD.09", "VD.01", "VD.02", "VD.06"])  # fmt: skip
    dims = {d: _v(r[f"dim:{d}"]) for d in ("DR", "VR", "EX", "CD", "VD")}
    assert dims == {"DR": False, "VR": True, "EX": True, "CD": False, "VD": True}
    assert r["classification"] == "victim"


def test_delphi_example_O_no_destination_means() -> None:
    r = _delphi(["DR.01", "DR.08", "EX.01", "EX.04"])
    assert _v(r["trafficking_victim"]) is False
    assert r["classification"] == "recruitment_means_and_exploitation"


def test_delphi_example_P_single_strong_not_indicated() -> None:
    r = _delphi(["CD.01"])
    assert _v(r["dim:CD"]) is False and r["classification"] == "not_indicated"


def test_delphi_example_Q_child_act_and_exploitation() -> None:
    r = _delphi(["EX.01", "EX.03"], age=15, **{"DEL.ACT": True})
    assert _v(r["dim:EX"]) is True and _v(r["trafficking_victim"]) is True
    assert r["population"] == "children"


@pytest.mark.parametrize(
    ("present", "positive"),
    [
        (["EX.01"], False),  # single S
        (["EX.01", "EX.09"], True),  # S + W
        (["EX.02", "EX.03", "EX.04"], True),  # 3 M
        (["EX.02", "EX.03"], False),  # 2 M
        (["VR.01", "VR.02", "VR.13"], True),  # 2 M + 1 W
        (["VR.01", "VR.13", "VR.14"], False),  # 1 M + 2 W
        (["VR.13", "VR.14", "VR.15", "VR.16"], False),  # W only
    ],
)
def test_delphi_rule1_edge_cases(present: list[str], positive: bool) -> None:
    r = _delphi(present)
    dim = present[0].split(".")[0]
    assert _v(r[f"dim:{dim}"]) is positive


def test_delphi_rule1_three_valued() -> None:
    """2 M present + 1 M unknown: indeterminate; 2 M present + all others no: negative."""
    r = _delphi(["EX.02", "EX.03"], **{"DEL.AL.EX.04": "refused"})
    assert _v(r["dim:EX"]) is None


# ---------------------------------------------------------------- ILO 11
def test_ilo11_counts_indicators() -> None:
    r = _one(IndicatorScorer("ilo11"), {"ILO11.02": True, "ILO11.07": True, "ILO11.08": None})
    assert r["indicators_present"] == 2 and _v(r["indicated"]) is True
    assert "unknown: ILO11.08 (missing)" in r["reason"]
