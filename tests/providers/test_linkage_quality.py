"""Linkage quality in name-dense countries (issue 21): what the model's comparisons read.

Small synthetic records only; every assertion is exact or has a stated tolerance.
"""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import LinkageWarning
from fl_estimate.providers.country_profiles import make_profile_country
from fl_estimate.providers.linkage import RecordLinker, prepare_records
from fl_estimate.providers.linkage.comparisons import ComparisonSpec, Level, default_comparisons
from fl_estimate.providers.linkage.training import Training, _exact_u, _fill_m
from fl_estimate.providers.linkage.words import level_message, linkage_message
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.synthetic import SAMPLE_KEY

from .test_linkage_training import _records, _result

SEED = 20240601  # the benchmark's seed


def _level(spec: ComparisonSpec, left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """The label of the level each pair (row i of left, row i of right) falls in, ``null`` for
    the null level: the comparison's SQL evaluated in DuckDB, first condition that holds."""
    cases = [f"WHEN {spec.null_sql} THEN 'null'"] + [
        f"WHEN {lv.sql} THEN '{lv.label}'" for lv in spec.levels if lv.sql != "ELSE"
    ]
    pairs = pd.concat(
        [
            left.add_suffix("_l").reset_index(drop=True),
            right.add_suffix("_r").reset_index(drop=True),
        ],
        axis=1,
    )
    con = duckdb.connect()
    con.register("pairs", pairs)
    sql = f"SELECT CASE {' '.join(cases)} ELSE '{spec.levels[-1].label}' END AS level FROM pairs"
    return con.execute(sql).df()["level"].tolist()


def test_dob_levels_tell_full_dates_from_unknown_ones() -> None:
    """A full date against 1 January of the same year (a date unknown, written as a year) is its
    own level, apart from two unknown dates of the same year; a date against none is evidence
    (a level), not nothing; only two records without any date carry no evidence."""
    dob = default_comparisons()[1]
    key = Pseudonymiser("k" * 20)
    names = pd.DataFrame({"given_name": ["Amina"] * 2, "family_name": ["Garba"] * 2})

    def keys(dates: list[str]) -> pd.DataFrame:
        return key.key_columns(names.assign(date_of_birth=dates))[["key_dob", "key_yob"]]

    cases = {
        ("14/03/1990", "14/03/1990"): "same date of birth",
        ("01/01/1990", "1990"): "same year, both dates unknown",
        ("01/01/1990", "14/03/1990"): "same year, one date unknown, one full",
        ("14/03/1990", "15/03/1990"): "same year, other day",
        ("14/03/1990", ""): "one full date, no date on the other",
        ("01/01/1990", ""): "one date unknown, no date on the other",
        ("01/01/1990", "01/01/1991"): "different",
        ("14/03/1990", "14/03/1991"): "different",
        ("", ""): "null",
    }
    left = pd.concat([keys([a, a]).iloc[:1] for a, _ in cases])
    right = pd.concat([keys([b, b]).iloc[:1] for _, b in cases])
    assert _level(dob, left, right) == list(cases.values())
    # the labels are catalog messages (the French report names them)
    for label in cases.values():
        if label != "null":
            assert level_message(label) is not label


def test_least_m_raises_a_level_and_keeps_the_sum() -> None:
    """A level whose trained m is below its documented least value gets that value; the other
    levels are rescaled so that the m still sum to one; the report and notes say so."""
    spec = ComparisonSpec(
        "x",
        "a_l IS NULL",
        (
            Level("same", "a_l = a_r", 0.6),
            Level("near", "abs(a_l - a_r) < 2", 0.2, m_min=0.05),
            Level("different", "ELSE", 0.2),
        ),
    )
    levels = [{"m_probability": 0.9}, {"m_probability": 1e-9}, {"m_probability": 0.1 - 1e-9}]
    record = Training()
    _fill_m(spec, levels, ["rule"], record)
    m = [lv["m_probability"] for lv in levels]
    assert m[1] == 0.05
    assert sum(m) == pytest.approx(1.0, abs=1e-12)
    assert m[0] / m[2] == pytest.approx(0.9 / (0.1 - 1e-9), rel=1e-9)  # rescaled alike
    row = record.levels[1]
    assert row["m"] == 0.05 and "raised to its documented least value 0.05" in row["m_source"]
    assert any("raised to its documented least value" in n for n in record.notes)
    # the source reads back as a catalog message (French report)
    assert linkage_message(row["m_source"]) is not row["m_source"]
    # a level at or above its least value is left alone
    levels = [{"m_probability": 0.7}, {"m_probability": 0.2}, {"m_probability": 0.1}]
    record = Training()
    _fill_m(spec, levels, ["rule"], record)
    assert [lv["m_probability"] for lv in levels] == pytest.approx([0.7, 0.2, 0.1], abs=1e-12)
    assert not record.notes


def test_exact_u_of_a_comparison_null_only_when_both_sides_are() -> None:
    """``u`` of an exact level from value frequencies: among the pairs the comparison does not
    hold null (with ``null_both``, the pairs where at least one side is known)."""
    rec = pd.DataFrame({"c": ["a", "a", "b", None], "v": ["a", "a", "b", None]})
    either = ComparisonSpec("e", "", (Level("same", "", 1.0, exact="v"),), null_column="c")
    both = ComparisonSpec(
        "b", "", (Level("same", "", 1.0, exact="v"),), null_column="c", null_both=True
    )
    assert _exact_u(rec, either, "v") == pytest.approx(1 / 3)  # 1 agreeing pair of 3 known
    assert _exact_u(rec, both, "v") == pytest.approx(1 / 6)  # of 6 - 0 pairs with one known


@pytest.fixture(scope="module")
def sahel_small():
    country = make_profile_country("sahel", "small", seed=SEED)
    prepared = prepare_records(_records(country), Pseudonymiser(SAMPLE_KEY))
    truth = country.truth.set_index("record_id").loc[prepared["record_id"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)
        result = RecordLinker().fit(prepared)
    return result, truth


def test_full_date_against_unknown_date_is_weak_evidence(sahel_small) -> None:
    """In the synthetic countries a person's date of birth is known or not, so a full date
    against 1 January of the same year is never one person: the fitted model gives that level
    its least m (0.01), far less weight than two unknown dates of the same year, and no link
    between two such records is made on it (each such pair scored is a different person)."""
    result, truth = sahel_small
    rows = pd.DataFrame(result.report()["model"])
    dob = rows[rows["comparison"] == "dob"].set_index("level")
    mixed = dob.loc["same year, one date unknown, one full"]
    both = dob.loc["same year, both dates unknown"]
    assert mixed["m"] == pytest.approx(0.01)  # EM found less: none in the truth
    assert np.log2(both["m"] / both["u"]) - np.log2(mixed["m"] / mixed["u"]) > 3  # bits
    # and the level is weak evidence against a match, not a near-certain one
    assert -2 < np.log2(mixed["m"] / mixed["u"]) < 2
    kind = truth["dob_kind"].to_numpy()
    pairs = result.pairs
    left, right = pairs["unique_id_l"].to_numpy(), pairs["unique_id_r"].to_numpy()
    mixed_pairs = np.isin(kind[left], ["full"]) & np.isin(kind[right], ["placeholder"]) | np.isin(
        kind[right], ["full"]
    ) & np.isin(kind[left], ["placeholder"])
    person = truth["person"].to_numpy()
    assert mixed_pairs.sum() > 20  # the case is there to test
    assert not (person[left] == person[right])[mixed_pairs].any()
    linked = pairs["match_probability"].to_numpy() >= result.threshold
    assert not (linked & mixed_pairs).any()


def test_balanced_threshold_may_lie_below_one_half() -> None:
    """Ten sure links and fifty pairs each 40% likely: leaving the fifty out misses 20 true links
    in expectation, linking them all makes 30 false ones; the balance is at 0.4, which the
    data-driven threshold now gives (it was clipped at 0.5, leaving all fifty out)."""
    from fl_estimate.providers.linkage.result import MIN_DATA_THRESHOLD

    p = np.r_[np.full(10, 0.99), np.full(50, 0.4)]
    res = _result(p)
    assert res.data_threshold() == pytest.approx(0.4)
    # the persons at that threshold: the 0.4 pairs are linked (all to record 0: one person)
    assert len(np.unique(res.clusters(res.data_threshold()))) == 1
    assert len(np.unique(res.clusters(0.5))) == 51
    assert MIN_DATA_THRESHOLD == 0.3 and _result(np.full(5, 0.1)).data_threshold() == 0.3
