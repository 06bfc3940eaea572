"""Framework files and mapping files: schema validation with every problem reported at once,
and the coding of answers (don't know / refused / missing kept apart from no)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import DataWarning, InputValidationError
from fl_estimate.indicators.frameworks import available_frameworks, load_framework
from fl_estimate.indicators.mapping import load_mapping, mapping_template, parse_mapping
from fl_estimate.indicators.scoring import IndicatorScorer

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "data_samples" / "survey"


def test_shipped_frameworks_load_with_source_and_version() -> None:
    assert available_frameworks() == ["delphi2009", "icls2018", "ilo11", "ilo2012"]
    for fid in available_frameworks():
        fw = load_framework(fid)
        assert fw.source and fw.version and fw.data_version
    # counts from the specification: ICLS 9 INV + 6 COE + 4 child categories; Delphi 67 + act;
    # ILO 2012 21 INV + 17 PEN (adults); ILO 11
    kinds = load_framework("icls2018").to_frame()["kind"].value_counts().to_dict()
    assert kinds == {"involuntariness": 9, "coercion": 6, "child_route": 4}
    assert (load_framework("delphi2009").to_frame()["kind"] == "indicator").sum() == 67
    f12 = load_framework("ilo2012").to_frame()
    adults = f12[f12["population"] == "adults"]
    assert adults["kind"].value_counts().to_dict() == {
        "involuntariness": 21, "penalty": 17, "movement": 1}  # fmt: skip
    assert len(load_framework("ilo11").indicators) == 11


def test_framework_parameters_are_package_choices_with_defaults() -> None:
    fw = load_framework("ilo2012")
    assert fw.parameters["pairing"] == "same_dimension"
    assert fw.parameters["require_strong"] is False
    assert fw.parameter_confidence["require_strong"] == "package-choice"
    with pytest.raises(InputValidationError, match="pairing"):
        fw.with_parameters(pairing="sometimes")


BAD_FRAMEWORK = """
[framework]
id = "mine"
title = "My national variant"
source = "Statistics office, 2025"
version = "1"
rule = "paired_dimensions"

[parameters]
pairing = "whatever"
colour = "blue"

[[dimensions]]
id = "D1"
name = "Recruitment"

[[indicators]]
id = "X.INV.1"
kind = "involuntariness"
dimension = "D9"
text = "Deceived"

[[indicators]]
id = "X.PEN.1"
kind = "threat"
text = "Threats"
strength = "huge"
"""


def test_user_framework_file_all_problems_reported_with_lines(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text(BAD_FRAMEWORK)
    with pytest.raises(InputValidationError) as err:
        load_framework(p)
    msgs = {(pr.column, pr.row) for pr in err.value.problems}
    assert ("parameters.pairing", 10) in msgs
    assert ("parameters.colour", 11) in msgs
    assert ("dimension", 18) in msgs  # unknown dimension D9, line of its id
    assert ("kind", 24) in msgs and ("strength", 24) in msgs
    assert all(pr.source == str(p) for pr in err.value.problems)


def test_user_framework_file_is_used_without_code(tmp_path: Path) -> None:
    good = BAD_FRAMEWORK.replace('pairing = "whatever"\ncolour = "blue"', 'pairing = "any"')
    good = (
        good.replace('dimension = "D9"', 'dimension = "D1"')
        .replace('kind = "threat"', 'kind = "penalty"')
        .replace('strength = "huge"', 'strength = "strong"')
    )
    p = tmp_path / "mine.toml"
    p.write_text(good)
    s = IndicatorScorer(p)
    r = s.score_indicators(pd.DataFrame({"X.INV.1": [True, True], "X.PEN.1@D1": [True, False]}))
    assert r.table["classification"].tolist() == ["forced_labour", "not_forced_labour"]


def test_mapping_against_framework_and_data_all_problems_at_once(tmp_path: Path) -> None:
    text = """
[mapping]
framework = "ilo2012"

[codes]
yes = [1]
no = [2]
dont_know = [8]

[[indicator]]
id = "HTS.D1.INV.06"
variable = "q4"

[[indicator]]
id = "HTS.PEN.03"
variable = "p1"

[[indicator]]
id = "HTS.D9.INV.01"
variable = "q1"

[[indicator]]
id = "HTS.PEN.05"
dimension = "D1"
variable = "missing_col"
"""
    p = tmp_path / "map.toml"
    p.write_text(text)
    data = pd.DataFrame({"q4": [1, 2, 7], "p1": [1, 2, 2], "q1": [2, 2, 2]})
    m = load_mapping(p)
    with pytest.raises(InputValidationError) as err:
        m.apply(data, source="answers.csv")
    probs = err.value.problems
    text_probs = [str(pr) for pr in probs]
    # penalty without dimension (line 15), unknown indicator (line 19), variable not in data
    # (line 23), answer 7 not covered (answers.csv row 4), dimensions D2 and D3 unmeasurable
    assert any("line" not in t for t in text_probs)
    by = {(pr.source, pr.row, pr.column) for pr in probs}
    assert (str(p), 15, "dimension") in by
    assert (str(p), 19, "id") in by
    assert (str(p), 23, "variable") in by
    assert ("answers.csv", 4, "q4") in by
    need = [pr for pr in probs if pr.column == "indicator"]
    assert len(need) == 4  # D2 and D3: no involuntariness and no penalty mapped


def test_mapping_codes_keep_dont_know_apart_from_no() -> None:
    m = parse_mapping(
        """
[mapping]
framework = "ilo2012"
allow_unmeasured_dimensions = true
[codes]
yes = [1]
no = [2]
dont_know = [8]
refused = [9]
missing = [-1]
[[indicator]]
id = "HTS.D1.INV.06"
variable = "q"
[[indicator]]
id = "HTS.PEN.03"
dimension = "D1"
any_of = [{ variable = "a" }, { variable = "b", yes = ["Y"], no = ["N"] }]
"""
    )
    data = pd.DataFrame(
        {
            "q": [1, 2, 8, 9, -1, np.nan],
            "a": [2, 2, 2, 8, 1, 2],
            "b": ["N", "Y", "N", "N", "N", None],
        }
    )
    coded = m.apply(data)
    assert coded["HTS.D1.INV.06"].tolist() == [1, 0, 2, 3, 4, 4]  # yes no dk refused missing x2
    # any_of: yes if any yes; no only if all no; else the unknown status
    assert coded["HTS.PEN.03@D1"].tolist() == [0, 1, 0, 2, 1, 4]
    # a declared yes code that never occurs is only a warning (rare answers may not occur)
    with pytest.warns(DataWarning, match=r"q \(HTS.D1.INV.06\): yes code"):
        m.apply(data.assign(q=[2, 2, 8, 9, -1, np.nan]))
    res = IndicatorScorer("ilo2012").score(data, m)
    assert res.table["classification"].tolist() == [
        "not_forced_labour", "not_forced_labour", "not_forced_labour",  # no pair possible
        "indeterminate", "indeterminate", "indeterminate",  # refused+dk, missing+yes, missing
    ]  # fmt: skip


def test_mapping_for_another_framework_is_refused() -> None:
    m = load_mapping(SURVEY / "mapping.toml")
    data = pd.read_csv(SURVEY / "survey.csv", nrows=5)
    with pytest.raises(InputValidationError, match="written for framework 'ilo2012'"):
        IndicatorScorer("icls2018").score(data, m)


def test_template_lists_every_indicator_and_parses() -> None:
    text = mapping_template("ilo2012")
    m = parse_mapping(text)
    assert len(m.indicators) == 21 + 17 * 3 + 10 + 5 * 3 + 2 + 1  # + movement


def test_scoring_vectorised_matches_row_by_row() -> None:
    """The vectorised scorer gives the same classification as scoring each row alone
    (200 random answer rows, ILO 2012 and Delphi)."""
    rng = np.random.default_rng(5)
    for fid in ("ilo2012", "delphi2009"):
        s = IndicatorScorer(fid)
        keys = [k for k in s.keys if not k.startswith("HTS.C.")][:40]
        vals = rng.choice(np.array([True, False, None, "dont_know"], dtype=object),
                          p=[0.08, 0.85, 0.04, 0.03], size=(200, len(keys)))  # fmt: skip
        df = pd.DataFrame(vals, columns=keys)
        whole = s.score_indicators(df).table
        for i in range(0, 200, 20):
            one = s.score_indicators(df.iloc[[i]]).table
            assert one["classification"].iloc[0] == whole["classification"].iloc[i]
            assert one["reason"].iloc[0] == whole["reason"].iloc[i]


def test_icls_mapping_with_work_spells_and_age() -> None:
    """Mapping with person_column and age_column: spells pooled per person (example D through a
    questionnaire), children scored with the children's routes (example F)."""
    m = parse_mapping(
        """
[mapping]
framework = "icls2018"
id_column = "pid"
person_column = "pid"
age_column = "age"
[codes]
yes = [1]
no = [2]
[[indicator]]
id = "ICLS.INV.b"
variable = "different_job"
[[indicator]]
id = "ICLS.COE.a"
variable = "threats"
[[indicator]]
id = "ICLS.CHILD.d"
variable = "illicit"
"""
    )
    data = pd.DataFrame({
        "pid": ["D", "D", "F", "A"], "age": [40, 40, 16, 30],
        "different_job": [1, 2, 2, 1], "threats": [2, 1, 2, 1], "illicit": [2, 2, 1, 2],
    })  # fmt: skip
    t = IndicatorScorer("icls2018").score(data, m).table.set_index("pid")
    assert t.loc["D", "classification"] == "not_forced_labour" and bool(t.loc["D", "review"])
    assert t.loc["F", "classification"] == "forced_labour"
    assert t.loc["F", "population"] == "children"
    assert t.loc["A", "classification"] == "forced_labour"
