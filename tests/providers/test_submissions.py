from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fl_estimate.providers.linkage import RecordLinker, prepare_records
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import (
    SUBMISSION_COLUMNS,
    load_submissions,
    read_submission_file,
    validate_submission,
)
from fl_estimate.providers.synthetic import REGIONS, SAMPLE_KEY


def _good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "provider": ["police"] * 3,
            "period": ["2022-Q1"] * 3,
            "record_id": ["P1", "P2", "P3"],
            "region": ["North", "South", "North"],
            "date_identified": ["2022-01-05", "15/02/2022", "2022-03-31"],
            "sex": ["F", "male", "unknown"],
            "age": ["23", None, "40"],
            "age_band": [None, "child", None],
            "nationality": ["NER", "NG", "unknown"],
            "exploitation": ["ForcedLabour", "sexualexploitation;ForcedBegging", "Unknown"],
            "given_name": ["Amina", None, "Seydou"],
            "family_name": ["Garbazou", "Moussa", None],
            "date_of_birth": ["1998-04-02", None, "12/12/1981"],
            "document_number": [None, "NE1234567", None],
            "phone": [None, None, "+999 90 12 34 56"],
        },
        dtype=object,
    )


def test_good_frame_is_accepted_and_canonicalised() -> None:
    report, clean = validate_submission(_good(), regions=REGIONS)
    assert report.accepted, report.to_text()
    assert clean is not None
    assert list(clean["sex"]) == ["F", "M", "unknown"]
    assert clean.at[1, "exploitation"] == "SexualExploitation;ForcedBegging"
    assert clean.at[1, "date_identified"] == "2022-02-15"


def test_every_problem_is_reported_with_row_column_value_and_expectation() -> None:
    bad = _good()
    bad.loc[0, "sex"] = "X"  # spreadsheet row 2
    bad.loc[1, "date_identified"] = "2022-13-01"  # row 3
    bad.loc[2, "region"] = "Nort"  # row 4
    bad.loc[2, "age"] = "-4"
    bad.loc[0, "exploitation"] = "Slavery"
    bad.loc[1, "record_id"] = "P1"  # duplicate id
    report, clean = validate_submission(bad, source="x.csv", regions=REGIONS)
    assert clean is None
    got = {(p.row, p.column, p.value) for p in report.problems}
    assert (2, "sex", "X") in got
    assert (3, "date_identified", "2022-13-01") in got
    assert (4, "region", "Nort") in got
    assert (4, "age", "-4") in got
    assert (2, "exploitation", "Slavery") in got
    assert (2, "record_id", "P1") in got and (3, "record_id", "P1") in got
    frame = report.to_frame()
    assert list(frame.columns) == ["source", "row", "column", "value", "expected"]
    assert frame["expected"].str.len().min() > 5  # every problem says what was expected


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("region", "=1+1"),
        ("record_id", "@SUM(A1:A9)"),
        ("provider", '=HYPERLINK("http://evil.example","x")'),
        ("sex", "+F"),
        ("nationality", "-NER"),
        ("exploitation", "=ForcedLabour"),
        ("age_band", "@adult"),
        ("period", "+2022-Q1"),
    ],
)
def test_formula_like_codes_are_refused_with_file_row_column_value(column: str, value: str) -> None:
    """Issue 19, point 4: a code field a spreadsheet would read as a formula is refused, even
    without a registry that would refuse an unknown region or provider anyway."""
    bad = _good()
    bad.loc[1, column] = value  # spreadsheet row 3
    report, clean = validate_submission(bad, source="x.csv")
    assert clean is None
    hits = [p for p in report.problems if (p.row, p.column, p.value) == (3, column, value)]
    assert hits and any("formula" in str(p) for p in hits), report.to_text()
    assert all(p.source == "x.csv" for p in hits)


def test_numbers_and_phone_numbers_are_not_formula_codes() -> None:
    ok = _good()
    ok.loc[0, "record_id"] = "-3"  # a plain number: not a formula
    ok.loc[1, "phone"] = "+44 20 7946 0000"  # an identifier, pseudonymised: never written out
    report, clean = validate_submission(ok, regions=REGIONS)
    assert report.accepted and clean is not None, report.to_text()


def test_identifier_values_are_redacted_in_reports() -> None:
    bad = _good()
    bad.loc[0, "date_of_birth"] = "31/02/1998"
    report, _ = validate_submission(bad)
    (p,) = [p for p in report.problems if p.column == "date_of_birth"]
    assert p.value == "<redacted>"
    assert "31/02/1998" not in report.to_text()


def test_frame_level_rules() -> None:
    bad = _good()
    bad.loc[0, "date_identified"] = "2022-04-01"  # outside 2022-Q1
    bad.loc[2, "date_of_birth"] = "2022-03-31"  # not before identification
    bad.loc[1, "age_band"] = None  # neither age nor band
    report, _ = validate_submission(bad)
    messages = [(p.row, p.message) for p in report.problems]
    # each row rule once for its row (not once per column of the frame)
    assert messages == [
        (2, "date_identified must fall inside the period 2022-Q1"),
        (3, "age, age_band or date_of_birth must be given"),
        (4, "date_of_birth must be before date_identified"),
    ]
    assert report.to_text().count("problems)") == 1


def test_cross_field_rules_name_their_row() -> None:
    bad = _good()
    bad.loc[0, "nationality"] = "XXX"
    report, _ = validate_submission(bad)
    assert [(p.row, p.column) for p in report.problems] == [(2, "nationality")]
    assert "(1 problem)" in report.to_text()
    bad = _good()
    bad.loc[1, "age"] = "nan"
    report, _ = validate_submission(bad)
    assert [(p.row, p.column) for p in report.problems] == [(3, "age")]


def test_structure_problems_are_collected() -> None:
    bad = _good().drop(columns=["sex", "region"]).assign(colour="red", key_dob="ab" * 16)
    report, _ = validate_submission(bad)
    cols = {(p.row, p.column) for p in report.problems}
    assert {(1, "sex"), (1, "region"), (1, "colour")} <= cols
    assert any("not both" in p.message for p in report.problems)


def test_excel_and_csv_give_the_same_rows(tmp_path: Path) -> None:
    bad = _good()
    bad.loc[2, "sex"] = "X"
    bad.to_csv(tmp_path / "f.csv", index=False)
    bad.to_excel(tmp_path / "f.xlsx", index=False)
    rc, _ = validate_submission(tmp_path / "f.csv")
    rx, _ = validate_submission(tmp_path / "f.xlsx")
    assert [(p.row, p.column) for p in rc.problems] == [(p.row, p.column) for p in rx.problems]
    assert [(p.row, p.column) for p in rc.problems] == [(4, "sex")]


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    f = tmp_path / "broken.xlsx"
    f.write_text("not excel")
    report, clean = validate_submission(f)
    assert clean is None and report.problems[0].source == "broken.xlsx"
    assert "not an Excel workbook" in report.problems[0].message


def test_shipped_template_and_example(country_dir: Path) -> None:
    header = list(read_submission_file(country_dir / "examples" / "template.csv").columns)
    assert header == [c for c, _, _ in SUBMISSION_COLUMNS if not c.startswith("key_")]
    for name in ("example_filled.csv", "example_filled.xlsx"):
        report, _ = validate_submission(country_dir / "examples" / name, regions=REGIONS)
        assert report.accepted, report.to_text()


def test_sample_error_file_is_rejected_whole(country_dir: Path) -> None:
    reg = ProviderRegistry.read_csv(country_dir / "registry.csv")
    report, clean = validate_submission(
        country_dir / "submissions" / "police_2022-Q3.csv", regions=reg.regions_of()
    )
    assert clean is None
    assert {(p.row, p.column) for p in report.problems} == {
        (3, "sex"),
        (5, "date_identified"),
        (7, "region"),
        (8, "age"),
    }


def test_resubmission_replaces_without_duplicating(country_dir: Path, tmp_path: Path) -> None:
    sub = country_dir / "submissions"
    first, second = sub / "social_services_2022-Q1.csv", sub / "social_services_2022-Q1_v2.csv"
    other = sub / "police_2022-Q1.csv"
    bad, good = sub / "police_2022-Q3.csv", sub / "police_2022-Q3_v2.csv"
    both = load_submissions([other, first, second, bad, good])
    assert both.replaced == [(first.name, second.name)]
    assert [r.source for r in both.rejected] == [bad.name]
    only = load_submissions([other, second, good])
    rec_both, rec_only = both.records(), only.records()
    assert len(rec_both) == len(rec_only)  # nothing of the replaced or rejected file remains
    pseudo = Pseudonymiser(SAMPLE_KEY)
    linker = RecordLinker(method="deterministic")
    h1 = linker.fit(prepare_records(rec_both, pseudo)).capture_histories()
    h2 = linker.fit(prepare_records(rec_only, pseudo)).capture_histories()
    pd.testing.assert_frame_equal(h1, h2)
    # a rejected correction leaves the earlier accepted file in use
    kept = load_submissions([good, bad])
    assert kept.accepted[("police", "2022-Q3")][0] == good.name


def test_registry_completeness(country_dir: Path) -> None:
    reg = ProviderRegistry.read_csv(country_dir / "registry.csv")
    received = [("police", "2021-Q1"), ("courts", "2021"), ("police", "2099-Q1")]
    comp = reg.completeness(received, as_of="2021-06-01")
    status = dict(
        zip(zip(comp["provider"], comp["period"], strict=True), comp["status"], strict=True)
    )
    assert status[("police", "2021-Q1")] == "received"
    assert status[("ngo", "2021-Q1")] == "late"  # due 2021-03-31 + 45 days = 2021-05-15
    assert status[("ngo", "2021-Q2")] == "not yet due"
    assert status[("courts", "2021")] == "received"
    assert status[("police", "2099-Q1")] == "unexpected"
    assert ("police", "2021-Q3") not in status  # not started by as_of
    assert reg.coverage().loc["gendarmerie", "Central"] == 0


def test_registry_validation_names_every_problem() -> None:
    from fl_estimate.exceptions import InputValidationError

    bad = pd.DataFrame(
        {
            "provider": ["a", "a"],
            "entity_type": ["police", "ngo_service_provider"],
            "frequency": ["weekly", "quarterly"],
            "regions": ["North", "North"],
            "first_period": ["2021-Q1", "2021"],
        }
    )
    with pytest.raises(InputValidationError) as err:
        ProviderRegistry.from_frame(bad, "reg.csv")
    cols = {(p.row, p.column) for p in err.value.problems}
    assert cols == {(2, "entity_type"), (2, "frequency"), (3, "first_period"), (3, "provider")}


def test_each_distinct_calls_once_per_value_and_agrees_with_map() -> None:
    """Validation checks a column's distinct values once each (1,000,000 records spent 200 s
    re-checking repeated countries and dates): same answer as checking every cell."""
    from fl_estimate.providers.submissions import each_distinct

    values = pd.Series(["NER", "FRA", None, "NER", "zzz", "NER", float("nan")], index=range(3, 10))
    calls: list[object] = []

    def ok(v: object) -> bool:
        calls.append(v)
        return v != "zzz"

    got = each_distinct(ok, values)
    expected = values.isna() | values.map(lambda v: v != "zzz")
    assert got.tolist() == expected.tolist() == [True, True, True, True, False, True, True]
    assert list(got.index) == list(values.index)
    assert sorted(calls) == ["FRA", "NER", "zzz"]  # once each, never for a missing value
