"""Statistics tables on hand-made records: counts computed by hand, periods, records versus
linked persons, and disclosure control (no published cell from 1 to threshold - 1, no hidden
cell recoverable from its block's totals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fl_estimate.disclosure import recoverable_cells
from fl_estimate.stats import count_blocks, exploitation_group, period_label, victim_persons

DATES = pd.Series(["2023-01-31", "2023-04-01", "2023-06-30", "2023-07-01", "2023-12-31"])


def test_period_labels() -> None:
    assert period_label(DATES, "quarter").tolist() == [
        "2023-Q1", "2023-Q2", "2023-Q2", "2023-Q3", "2023-Q4",
    ]  # fmt: skip
    assert period_label(DATES, "half-year").tolist() == ["2023-H1"] * 3 + ["2023-H2"] * 2
    assert period_label(DATES, "year").tolist() == ["2023"] * 5
    with pytest.raises(ValueError, match="level"):
        period_label(DATES, "month")


def _victims() -> pd.DataFrame:
    # North: 3 F in Q1, 2 M in Q3; South: 1 F in Q2. By hand: H1 North F 3, South F 1; H2 North M 2
    return pd.DataFrame(
        {
            "region": ["North"] * 5 + ["South"],
            "date_identified": [
                "2023-01-02",
                "2023-02-02",
                "2023-03-03",
                "2023-07-04",
                "2023-08-05",
                "2023-05-06",
            ],
            "sex": ["F", "F", "F", "M", "M", "F"],
        }
    )


def test_counts_by_hand_without_suppression() -> None:
    t = count_blocks(
        _victims(), "date_identified", "sex", ("F", "M"), level="half-year", threshold=1
    )
    v = t.values
    assert v.loc[("2023-H1", "North"), "F"] == 3 and v.loc[("2023-H1", "North"), "M"] == 0
    assert v.loc[("2023-H1", "South"), "F"] == 1
    assert v.loc[("2023-H1", "Total"), "Total"] == 4
    assert v.loc[("2023-H2", "North"), "M"] == 2 and v.loc[("2023-H2", "Total"), "Total"] == 2
    assert t.n_suppressed == 0
    year = count_blocks(_victims(), "date_identified", "sex", ("F", "M"), level="year", threshold=1)
    assert year.values.loc[("2023", "Total"), ["F", "M", "Total"]].tolist() == [4, 2, 6]


def test_regions_given_are_rows_even_when_empty() -> None:
    t = count_blocks(
        _victims(), "date_identified", "sex", ("F", "M"), level="year", threshold=1,
        regions=["North", "South", "Coast"],
    )  # fmt: skip
    assert t.values.loc[("2023", "Coast")].tolist() == [0, 0, 0]


def test_values_outside_the_categories_count_as_other() -> None:
    v = _victims().assign(sex=["F", "F", "F", "M", "M", "X"])
    t = count_blocks(v, "date_identified", "sex", ("F", "M"), level="year", threshold=1)
    assert t.values.loc[("2023", "South"), "other"] == 1


def test_disclosure_no_small_cell_published_and_none_recoverable() -> None:
    rng = np.random.default_rng(7)
    n = 400
    units = pd.DataFrame(
        {
            "region": rng.choice(["A", "B", "C", "D", "E"], size=n),
            "date_identified": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D"),
            "cat": rng.choice(["x", "y", "z", "w"], size=n, p=[0.5, 0.3, 0.15, 0.05]),
        }
    )
    units["date_identified"] = units["date_identified"].dt.strftime("%Y-%m-%d")
    for level in ("quarter", "half-year", "year"):
        t = count_blocks(units, "date_identified", "cat", ("x", "y", "z", "w"), level=level,
                         threshold=5)  # fmt: skip
        shown = t.values.where(t.flags == "")
        published = shown.stack().dropna().astype(int)
        assert not ((published >= 1) & (published <= 4)).any(), level
        assert t.n_suppressed > 0  # the data has small cells: the check above is not vacuous
        for period in t.values.index.get_level_values("period").unique():
            block = t.values.loc[period]
            raw = count_blocks(units, "date_identified", "cat", ("x", "y", "z", "w"),
                               level=level, threshold=1).values.loc[period]  # fmt: skip
            hidden = (t.flags.loc[period] != "").to_numpy()
            assert not recoverable_cells(raw.to_numpy(dtype=np.int64), hidden).any()
            assert block.shape == raw.shape


def test_multi_response_table_has_no_margins() -> None:
    ev = pd.DataFrame(
        {"region": ["N"] * 6, "date_recorded": ["2023-03-01"] * 6,
         "means": ["fraud;deception"] * 5 + ["fraud"]}
    )  # fmt: skip
    t = count_blocks(ev, "date_recorded", "means", ("fraud", "deception"), level="year",
                     threshold=5, split=";")  # fmt: skip
    assert "Total" not in t.values.columns and not t.margins
    assert t.values.loc[("2023", "N")].tolist() == [6, 5]  # each case counted under each means


def test_exploitation_groups() -> None:
    forms = pd.Series(["ForcedLabour", "ForcedLabour;SexualExploitation", "Unknown", None,
                       "Unknown;Servitude"])  # fmt: skip
    assert exploitation_group(forms).tolist() == [
        "ForcedLabour", "Multiple", "Unknown", "Unknown", "Servitude",
    ]  # fmt: skip


def test_one_victim_reported_by_three_providers_is_one_person() -> None:
    records = pd.DataFrame(
        {
            "person": [7, 7, 7, 8],
            "source": [
                "police_2023-Q2.csv",
                "ngo_2023-Q1.csv",
                "courts_2023.xlsx",
                "ngo_2023-Q1.csv",
            ],
            "record_id": ["P1", "N1", "C1", "N2"],
            "region": ["South", "North", "North", "East"],
            "date_identified": ["2023-04-02", "2023-02-10", "2023-09-01", "2023-01-05"],
            "sex": ["F", "unknown", "F", "M"],
            "age": [None, 16.0, 17.0, 30.0],
            "age_band": ["child", None, None, None],
            "nationality": ["unknown", "NER", "NER", "MLI"],
            "exploitation": ["ForcedLabour", "ForcedLabour", "SexualExploitation", "Unknown"],
        }
    )
    persons = victim_persons(records).set_index("person")
    assert len(persons) == 2
    p = persons.loc[7]
    # first identification (NGO, February, North); first known sex (F, from the police record)
    assert (p["region"], p["date_identified"], p["sex"], p["age_group"]) == (
        "North", "2023-02-10", "F", "child",
    )  # fmt: skip
    assert p["nationality"] == "NER"
    assert exploitation_group(persons["exploitation"]).loc[7] == "Multiple"
    t = count_blocks(persons.reset_index(), "date_identified", "sex", ("F", "M"), level="year",
                     threshold=1)  # fmt: skip
    assert t.values.loc[("2023", "Total"), "Total"] == 2  # against 4 records
