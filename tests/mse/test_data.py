"""CaptureData: construction, validation messages, descriptives, operations, round trips."""

from __future__ import annotations

import csv
import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_estimate import CaptureData, StratifiedCaptureData, read_capture_csv
from fl_estimate.exceptions import DataWarning, InputValidationError, ModelSpecificationError
from tests._refs import BENCHMARK_TABLES, MSE_DATA

# ---------------------------------------------------------------------------- benchmark tables


def _independent_descriptives(path: Path) -> dict:
    """Counts computed from the CSV with the csv module only (no fl_estimate, no pandas)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    lists = [c for c in rows[0] if c != "count"]
    totals = dict.fromkeys(lists, 0)
    pairs = {(a, b): 0 for a, b in itertools.combinations(lists, 2)}
    singles = 0
    n = 0
    positive = 0
    for r in rows:
        c = int(r["count"])
        on = [name for name in lists if r[name] == "1"]
        n += c
        positive += c > 0
        for name in on:
            totals[name] += c
        for a, b in itertools.combinations(on, 2):
            pairs[(a, b)] += c
        if len(on) == 1:
            singles += c
    return {
        "lists": lists,
        "n": n,
        "totals": totals,
        "pairs": pairs,
        "singles": singles,
        "positive": positive,
    }


@pytest.mark.parametrize("name", BENCHMARK_TABLES)
def test_benchmark_table_descriptives(name: str) -> None:
    path = MSE_DATA / f"{name}.csv"
    ref = _independent_descriptives(path)
    data = read_capture_csv(path)
    assert isinstance(data, CaptureData)
    assert list(data.lists) == ref["lists"]
    assert data.n_observed == ref["n"]
    assert data.list_totals().to_dict() == ref["totals"]
    ov = data.pairwise_overlaps()
    got_pairs = {(a, b): o for a, b, o in zip(ov.list_a, ov.list_b, ov.overlap, strict=True)}
    assert got_pairs == ref["pairs"]
    assert data.non_overlapping_pairs() == [p for p, v in ref["pairs"].items() if v == 0]
    assert int(data.singletons().sum()) == ref["singles"]
    assert data.n_patterns_observed == ref["positive"]
    assert data.n_patterns_possible == 2 ** len(ref["lists"]) - 1
    desc = data.describe()
    assert set(desc) == {"overview", "lists", "overlaps", "frequencies", "patterns"}
    assert int(desc["frequencies"]["f"].sum()) == ref["n"]


def test_uk_2013_published_structure() -> None:
    # Silverman (2014) / mse_methods.md 1.2: 2,744 people, 25 of 63 patterns, 2,492 on one list,
    # 2 of 15 pairs never overlap.
    data = read_capture_csv(MSE_DATA / "uk_2013.csv")
    assert data.n_observed == 2744
    assert data.n_patterns_observed == 25
    assert int(data.singletons().sum()) == 2492
    assert data.non_overlapping_pairs() == [("LA", "GP"), ("LA", "NCA")]


def test_korea_keeps_zero_count_pattern() -> None:
    data = read_capture_csv(MSE_DATA / "korea.csv")
    assert len(data.counts) == 7
    assert data.n_patterns_observed == 6
    assert data.n_observed == 123


# ---------------------------------------------------------------------------- validation


def _write(tmp_path: Path, text: str, name: str = "lists.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_validation_collects_every_problem(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,B,count\n1,0,3\n0,0,2\n1,x,-1\n0,1,2.5\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    msgs = [str(pr) for pr in ei.value.problems]
    assert msgs == [
        "lists.csv, row 3: the all-zero pattern (on no list) cannot be observed; remove this row"
        " (value 2)",
        "lists.csv, row 4, column 'B': list cell must be 0 or 1 (value 'x')",
        "lists.csv, row 4, column 'count': count must be a non-negative whole number (value '-1')",
        "lists.csv, row 5, column 'count': count must be a non-negative whole number (value '2.5')",
    ]


def test_non_binary_and_missing_cells(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,B,count\n2,0,3\n,1,4\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    probs = ei.value.problems
    assert [(x.row, x.column, x.value) for x in probs] == [(2, "A", "2"), (3, "A", "")]
    assert all(x.message == "list cell must be 0 or 1" for x in probs)


def test_duplicate_list_names(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,A,count\n1,0,3\n0,1,2\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    (pr,) = ei.value.problems
    assert str(pr) == (
        "lists.csv, row 1, column 'A': duplicate column name (appears 2 times); "
        "every list needs its own name"
    )


def test_duplicate_list_names_in_dataframe() -> None:
    df = pd.DataFrame([[1, 0, 3], [0, 1, 2]], columns=["A", "A", "count"])
    with pytest.raises(InputValidationError, match="duplicate column name"):
        CaptureData.from_counts(df)


def test_fewer_than_two_lists(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,count\n1,3\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    assert str(ei.value.problems[0]) == (
        "lists.csv: at least 2 lists are needed for capture-recapture, found 1 (A)"
    )


def test_list_with_no_captures(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,B,C,count\n1,0,0,3\n0,1,0,2\n1,1,0,1\n")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    assert str(ei.value.problems[0]) == (
        "lists.csv, column 'C': list has no captures (every count on it is 0); "
        "drop it or check the data"
    )


def test_duplicate_patterns_are_merged_with_warning(tmp_path: Path) -> None:
    p = _write(tmp_path, "A,B,count\n1,0,3\n0,1,2\n1,0,4\n1,1,1\n")
    with pytest.warns(DataWarning, match=r"1 duplicate capture pattern row\(s\) in lists.csv"):
        data = read_capture_csv(p)
    assert data.list_totals().to_dict() == {"A": 8, "B": 3}
    assert data.n_observed == 10


def test_missing_count_column_and_missing_file(tmp_path: Path) -> None:
    df = pd.DataFrame({"A": [1], "B": [0]})
    with pytest.raises(InputValidationError, match="no 'count' column"):
        CaptureData.from_counts(df)
    with pytest.raises(InputValidationError, match="file not found"):
        read_capture_csv(tmp_path / "nope.csv")


def test_record_level_validation_names_person_row(tmp_path: Path) -> None:
    p = _write(tmp_path, "police,ngo\n1,0\n0,0\n1,1\n", "people.csv")
    with pytest.raises(InputValidationError) as ei:
        read_capture_csv(p)
    assert ei.value.problems[0].row == 3
    assert "all-zero pattern" in ei.value.problems[0].message


def test_missing_stratum_value() -> None:
    df = pd.DataFrame({"A": [1, 0], "B": [0, 1], "region": ["N", None], "count": [2, 3]})
    with pytest.raises(InputValidationError) as ei:
        CaptureData.from_counts(df, strata=["region"])
    assert (ei.value.problems[0].row, ei.value.problems[0].column) == (3, "region")


def test_unknown_list_in_operations() -> None:
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    with pytest.raises(ModelSpecificationError, match="unknown list 'XYZ'"):
        data.drop_list("XYZ")


# ---------------------------------------------------------------------------- operations


def test_drop_and_merge_lists_match_the_shipped_five_list_tables() -> None:
    uk6 = read_capture_csv(MSE_DATA / "uk_2013.csv")
    uk5 = read_capture_csv(MSE_DATA / "uk_2013_5lists.csv")
    merged = uk6.merge_lists(["PF", "NCA"], "PFNCA")
    # SparseMSE's UKdat_5 is UKdat with PF and NCA merged, the merged list where PF was
    assert merged == uk5
    dropped = uk6.drop_list("GP")
    assert dropped.n_observed == 2744 - 316  # GP-only people drop out
    assert dropped.lists == ("LA", "NG", "PF", "GO", "NCA")


def test_full_cell_vector() -> None:
    data = CaptureData.from_counts(
        pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [5, 7, 2]})
    )
    assert data.cell_counts().tolist() == [0, 5, 7, 2]


# ---------------------------------------------------------------------------- round trips

patterns_strategy = st.lists(
    st.tuples(st.lists(st.integers(0, 1), min_size=3, max_size=3), st.integers(1, 6)),
    min_size=1,
    max_size=12,
)


def _table(rows: list[tuple[list[int], int]]) -> pd.DataFrame | None:
    rows = [(p, c) for p, c in rows if any(p)]
    if not rows:
        return None
    df = pd.DataFrame([p for p, _ in rows], columns=["A", "B", "C"])
    df["count"] = [c for _, c in rows]
    if (df[["A", "B", "C"]].to_numpy() * df[["count"]].to_numpy()).sum(0).min() == 0:
        return None  # a list with no capture is a validation error, tested elsewhere
    return df


@settings(max_examples=60, deadline=None)
@given(patterns_strategy)
def test_records_aggregate_round_trip(rows: list[tuple[list[int], int]]) -> None:
    df = _table(rows)
    if df is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        agg = CaptureData.from_counts(df)
    recs = agg.to_records()
    assert len(recs) == agg.n_observed
    again = CaptureData.from_records(recs)
    assert again == agg
    assert (
        again.to_records()
        .sort_values(["A", "B", "C"])
        .reset_index(drop=True)
        .equals(recs.sort_values(["A", "B", "C"]).reset_index(drop=True))
    )
    back = CaptureData.from_counts(agg.to_frame())
    assert back == agg


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["N", "S", "E"]),
            st.sampled_from([2023, 2024]),
            st.lists(st.integers(0, 1), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_strata_split_and_collapse(people: list[tuple[str, int, list[int]]]) -> None:
    people = [p for p in people if any(p[2])]
    recs = pd.DataFrame([p[2] for p in people], columns=["A", "B", "C"])
    recs["region"] = [p[0] for p in people]
    recs["year"] = [p[1] for p in people]
    if recs.empty or recs[["A", "B", "C"]].sum().min() == 0:
        return
    strat = CaptureData.from_records(recs, strata=["region", "year"])
    assert isinstance(strat, StratifiedCaptureData)
    assert strat.n_observed == len(recs)
    # each stratum holds exactly its people
    for (region, year), tab in strat.items():
        sub = recs[(recs.region == region) & (recs.year == year)]
        assert tab.n_observed == len(sub)
        assert tab.stratum == {"region": region, "year": year}
    # collapse over everything = the unstratified table
    whole = strat.collapse()
    assert whole == CaptureData.from_records(recs[["A", "B", "C"]])
    by_year = strat.collapse(keep=["year"])
    assert sum(t.n_observed for t in by_year.values()) == len(recs)
    # split -> records -> split again
    again = CaptureData.from_records(strat.to_records(), strata=["region", "year"])
    assert set(again) == set(strat)
    assert all(again[k] == strat[k] for k in strat)
    # aggregated with strata round trip
    agg_again = CaptureData.from_counts(strat.to_frame(), strata=["region", "year"])
    assert all(agg_again[k] == strat[k] for k in strat)


def test_stratified_describe_has_stratum_columns() -> None:
    recs = pd.DataFrame({"A": [1, 0, 1, 1], "B": [0, 1, 1, 0], "region": ["N", "N", "S", "S"]})
    strat = CaptureData.from_records(recs, strata=["region"])
    desc = strat.describe()
    assert desc["overview"]["region"].tolist() == ["N", "S"]
    assert desc["overview"]["observed"].tolist() == [2, 2]
    np.testing.assert_array_equal(desc["lists"].query("region == 'S'")["n"], [2, 1])
