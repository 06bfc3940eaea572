"""The annual run's tables protected in one LP with the statistics' linked persons
(:class:`fl_estimate.stats.protect.Partner`): a count both publish is hidden in both or in
neither, and the equation between them is given only where the true counts agree."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fl_estimate.disclosure import LinkedCell, audit
from fl_estimate.stats.protect import Partner
from fl_estimate.stats.release import release_tables
from fl_estimate.stats.tables import victim_persons


def _victims() -> pd.DataFrame:
    # North: 6 records of 6 persons, South: 2 records of 2 persons, all in 2023
    return pd.DataFrame(
        {
            "region": ["North"] * 6 + ["South"] * 2,
            "date_identified": ["2023-01-10"] * 6 + ["2023-05-02"] * 2,
            "sex": ["F", "F", "F", "F", "M", "M", "F", "M"],
            "age": [30] * 8,
            "nationality": ["NER"] * 8,
            "exploitation": ["ForcedLabour"] * 8,
            "person": list(range(8)),
        }
    )


def _partner(north: int, south: int) -> Partner:
    """A run with one stratum per region (atoms: its people, one pattern) publishing each
    stratum and their sum."""
    cells = (
        LinkedCell(("observed_by_stratum", "North", "2023"), (0,)),
        LinkedCell(("observed_by_stratum", "South", "2023"), (1,)),
        LinkedCell(("observed_by_stratum", "Total", "2023"), (0, 1), cost=1000.0),
    )
    totals = {("North", "2023"): (0,), ("South", "2023"): (1,)}
    return Partner(np.array([north, south]), cells, totals)


def test_the_same_count_is_hidden_in_both_publications() -> None:
    """South's 2 persons are below the threshold 3: hidden in the run's table and in the
    statistics' Total column alike, and North's 6 (the grand total minus South's) with them."""
    v = _victims()
    tables, protection = release_tables(
        v, victim_persons(v), None, None, levels=("year",), threshold=3, partner=_partner(6, 2)
    )
    persons = tables["victims_sex_age_persons_year"].publication().reset_index()
    shown = {r["region"]: r["Total"] for _, r in persons.iterrows() if r["period"] == "2023"}
    for region in ("North", "South"):
        run_hidden = ("observed_by_stratum", region, "2023") in protection.hidden
        assert run_hidden == (shown[region] == "c"), region
    assert ("observed_by_stratum", "South", "2023") in protection.hidden
    assert bool(protection.intervals["protected"].all())


def test_no_difference_of_published_counts_gives_a_hidden_one() -> None:
    """South = run's 2023 total - North (either publication's North: they are the same number).
    So North and the run's total are never both printed, and the audit of the run's cells alone
    under the joint pattern leaves South at least the threshold wide."""
    v = _victims()
    tables, protection = release_tables(
        v, victim_persons(v), None, None, levels=("year",), threshold=3, partner=_partner(6, 2)
    )
    persons = tables["victims_sex_age_persons_year"].publication().reset_index()
    north_stats = persons.loc[
        (persons["period"] == "2023") & (persons["region"] == "North"), "Total"
    ].iloc[0]
    north_shown = ("observed_by_stratum", "North", "2023") not in protection.hidden
    total_shown = ("observed_by_stratum", "Total", "2023") not in protection.hidden
    assert not ((north_shown or north_stats != "c") and total_shown)
    frame = audit([6, 2], list(_partner(6, 2).cells), protection.hidden, threshold=3)
    south = frame[frame["key"] == ("observed_by_stratum", "South", "2023")]
    assert len(south) == 1 and float(south["width"].iloc[0]) >= 3


def test_counts_that_disagree_get_no_equation(caplog) -> None:  # type: ignore[no-untyped-def]
    """A run counting other persons than the statistics (here one more in North): no equation
    (it would be false), a logged warning, and both still protected in one LP."""
    v = _victims()
    with caplog.at_level("WARNING", logger="fl_estimate.stats.protect"):
        _, protection = release_tables(
            v, victim_persons(v), None, None, levels=("year",), threshold=3, partner=_partner(7, 2)
        )
    assert "differ in one stratum" in caplog.text
    assert ("observed_by_stratum", "South", "2023") in protection.hidden
    assert bool(protection.intervals["protected"].all())
