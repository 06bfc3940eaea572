"""Event and perpetrator files: validation errors (file, row, column, value, expected), the
French Excel export read as the victim files are, re-submissions, the registry's ``sends``, and
the synthetic cases counted exactly (the generated frames are the truth)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fl_estimate.exceptions import InputValidationError
from fl_estimate.providers.casefiles import load_case_files, validate_case_file
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.synthetic import make_cases, write_cases

ROOT = Path(__file__).resolve().parents[2]


def _events(**changes: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "provider": ["police"] * 3,
            "period": ["2023-Q1"] * 3,
            "case_id": ["C1", "C2", "C3"],
            "region": ["North"] * 3,
            "date_recorded": ["2023-01-05", "2023-02-05", "2023-03-05"],
            "case_type": ["trafficking_in_persons", "smuggling_of_migrants", "TIP"],
            "exploitation": ["ForcedLabour", None, "SexualExploitation;ForcedLabour"],
            "means": ["deception", None, "fraud;abuse_of_vulnerability"],
            "victims": ["2", "10", "1"],
        }
    )
    for col, values in changes.items():
        frame[col] = values
    return frame


def _perps(**changes: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "provider": ["courts"] * 2,
            "period": ["2023"] * 2,
            "perpetrator_id": ["X1", "X2"],
            "region": ["North"] * 2,
            "date_recorded": ["2023-03-01", "15/11/2023"],
            "offence": ["trafficking_in_persons", "smuggling_of_migrants"],
            "stage": ["prosecuted", "convicted"],
            "sex": ["M", "female"],
            "age": ["34", None],
            "age_band": [None, "adult"],
            "citizenship": ["NER", "NG"],
            "role": ["recruiter", None],
        }
    )
    for col, values in changes.items():
        frame[col] = values
    return frame


def _where(report: object) -> list[tuple[object, ...]]:
    return [(p.row, p.column, p.value) for p in report.problems]  # type: ignore[attr-defined]


def test_valid_files_are_canonicalised() -> None:
    report, ev = validate_case_file(_events(), "events", regions=["North"], providers=["police"])
    assert report.accepted and ev is not None
    assert ev["case_type"].tolist()[2] == "trafficking_in_persons"
    assert ev["victims"].tolist() == [2, 10, 1]
    report, pe = validate_case_file(_perps(), "perpetrators")
    assert report.accepted and pe is not None
    assert pe["sex"].tolist() == ["F" if s == "female" else s for s in ["M", "female"]]
    assert pe["citizenship"].tolist() == ["NER", "NG"]
    assert pe["date_recorded"].tolist() == ["2023-03-01", "2023-11-15"]
    assert pe["role"].tolist() == ["recruiter", "unknown"]


def test_event_errors_name_row_column_value() -> None:
    bad = _events(
        case_type=["trafficking_in_persons", "smuggling_of_migrants", "kidnapping"],
        exploitation=[None, "ForcedLabour", "Slavery"],
        date_recorded=["2023-01-05", "2023-04-01", "2023-03-05"],
        case_id=["C1", "C1", "C3"],
    )
    report, clean = validate_case_file(bad, "events", source="police_2023-Q1.csv")
    assert clean is None and not report.accepted
    where = _where(report)
    assert (2, "exploitation", None) in where  # trafficking case without a form
    assert (3, "exploitation", "ForcedLabour") in where  # smuggling case with one
    assert (3, "date_recorded", "2023-04-01") in where  # outside 2023-Q1
    assert (4, "case_type", "kidnapping") in where and (4, "exploitation", "Slavery") in where
    assert {(2, "case_id"), (3, "case_id")} <= {(r, c) for r, c, _ in where}
    assert all(p.source == "police_2023-Q1.csv" for p in report.problems)
    text = report.to_text()
    assert "row 4, column 'case_type'" in text and "trafficking_in_persons" in text


def test_perpetrator_errors() -> None:
    bad = _perps(stage=["arrested", "convicted"], age=["15", None], age_band=["adult", None],
                 citizenship=["NER", "ZZZ"])  # fmt: skip
    where = _where(validate_case_file(bad, "perpetrators")[0])
    assert (2, "stage", "arrested") in where
    assert (2, "age_band", "adult") in where  # age 15 is a child
    assert (3, "citizenship", "ZZZ") in where
    assert (3, "age", None) in where  # neither age nor age band


def test_missing_and_unknown_columns_and_formulas() -> None:
    frame = _events().drop(columns=["case_type"]).assign(colour="red")
    where = _where(validate_case_file(frame, "events")[0])
    assert (1, "case_type", None) in where and (1, "colour", None) in where
    formula = _events(region=["North", "=1+1", "North"])
    assert (3, "region", "=1+1") in _where(validate_case_file(formula, "events")[0])
    with pytest.raises(InputValidationError, match="submission type"):
        validate_case_file(_events(), "victims")


def test_french_excel_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "police_2023-Q1.csv"
    frame = _events(
        region=["Nord-Aïr"] * 3, date_recorded=["05/01/2023", "05/02/2023", "05/03/2023"]
    )
    path.write_bytes(frame.to_csv(index=False, sep=";", lineterminator="\r\n").encode("cp1252"))
    report, clean = validate_case_file(path, "events", regions=["Nord-Aïr"])
    assert report.accepted, report.to_text()
    assert report.read_info is not None and report.read_info.delimiter == ";"
    assert clean is not None and clean["region"].tolist() == ["Nord-Aïr"] * 3


def test_later_accepted_file_replaces_earlier(tmp_path: Path) -> None:
    first, second = tmp_path / "police_2023-Q1.csv", tmp_path / "police_2023-Q1_v2.csv"
    _events().iloc[:2].to_csv(first, index=False)
    _events().to_csv(second, index=False)
    loaded = load_case_files([first, second], "events")
    assert loaded.replaced == [(first.name, second.name)]
    assert len(loaded.records()) == 3


def test_registry_sends_checked_and_used() -> None:
    table = pd.read_csv(ROOT / "data_samples/pays/registry.csv", dtype=str, keep_default_na=False)
    reg = ProviderRegistry.from_frame(table)
    assert reg.sends_of()["courts"] == ["victims", "perpetrators"]
    due = reg.completeness([("courts", "2022")], as_of="2023-06-30", kind="perpetrators")
    assert set(due["provider"]) == {"police", "gendarmerie", "courts"}
    assert due.loc[(due["provider"] == "courts") & (due["period"] == "2022"), "status"].item() == (
        "received"
    )
    with pytest.raises(InputValidationError) as err:
        ProviderRegistry.from_frame(table.assign(sends=["victims;cases"] + ["victims"] * 5))
    assert [(p.row, p.column) for p in err.value.problems] == [(2, "sends")]


def test_synthetic_cases_counted_exactly(tmp_path: Path) -> None:
    """The generated frames are valid as written and are the truth: the statistics (threshold 1,
    nothing hidden) give back their counts by region, year and category."""
    from fl_estimate.pipeline.stats import StatsInputs, statistics_tables

    population = pd.DataFrame(
        {"region": ["North", "North", "South", "South"], "year": [2022, 2023] * 2,
         "N": [120, 130, 60, 66]}
    )  # fmt: skip
    cases = make_cases(population, seed=11)
    written = write_cases(cases, tmp_path)
    events = load_case_files(sorted((tmp_path / "events").glob("*.csv")), "events")
    perps = load_case_files(sorted((tmp_path / "perpetrators").glob("*.csv")), "perpetrators")
    # only the planted error is rejected; its corrected _v2 replaces it
    assert [r.source for r in events.rejected] == ["gendarmerie_2022-Q1.csv"]
    assert "gendarmerie_2022-Q1_v2.csv" in {p.name for p in written}
    assert not perps.rejected
    truth_ev = pd.concat(cases.events.values(), ignore_index=True)
    truth_pe = pd.concat(cases.perpetrators.values(), ignore_index=True)
    assert len(events.records()) == len(truth_ev) and len(perps.records()) == len(truth_pe)
    inputs = StatsInputs(pd.DataFrame(), False, events.records(), perps.records(), None, {}, [])
    tables = statistics_tables(inputs, levels=("year",), threshold=1)
    got = tables["cases_type_year"].values
    truth_ev["year"] = truth_ev["date_recorded"].str[:4]
    expected = truth_ev.groupby(["year", "region", "case_type"]).size()
    for (year, region, ctype), n in expected.items():
        assert got.loc[(year, region), ctype] == n
    assert got.loc[("2022", "Total"), "Total"] == (truth_ev["year"] == "2022").sum()
    assert (truth_ev["case_type"] == "smuggling_of_migrants").any()  # smuggling mixed in
    justice = tables["justice_trafficking_year"].values
    tip = truth_pe[truth_pe["offence"] == "trafficking_in_persons"].assign(
        year=lambda d: d["date_recorded"].str[:4]
    )
    for (year, stage), n in tip.groupby(["year", "stage"]).size().items():
        assert justice.loc[(year, "Total"), stage] == n
    # every conviction follows a prosecution of the same person in the courts' files
    courts = truth_pe[truth_pe["provider"] == "courts"]
    assert (courts["stage"] == "convicted").sum() <= (courts["stage"] == "prosecuted").sum()
