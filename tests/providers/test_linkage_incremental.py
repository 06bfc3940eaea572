"""A new year added to a linkage (``extend_linkage``): the u probabilities of the pairs it scores,
and the check of the new records' clusters (issue 21).

The truth is known: the sample country's ``truth/records.csv`` says who each record is, and no
person of the sample country is identified in both 2022 and 2023 (checked below), so a linkage of
2023 against 2022 should find no one again.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.providers.linkage import RecordLinker, prepare_records
from fl_estimate.providers.linkage.incremental import extend_linkage, sample_new_pairs
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.submissions import load_submissions
from fl_estimate.providers.synthetic import SAMPLE_KEY

from .test_linkage_training import _f1


@pytest.fixture(scope="module")
def years(country_dir: Path):
    key = Pseudonymiser(SAMPLE_KEY)

    def submissions(*years: int) -> pd.DataFrame:
        files = sorted(f for y in years for f in (country_dir / "submissions").glob(f"*{y}*"))
        return load_submissions(files).records()

    old, new = prepare_records(submissions(2022), key), prepare_records(submissions(2023), key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = RecordLinker(seed=1).fit(old)
        both = extend_linkage(base, new)
        full = RecordLinker(seed=1).fit(prepare_records(submissions(2022, 2023), key))
    truth = pd.read_csv(country_dir / "truth" / "records.csv")
    who = truth.set_index(["provider", "record_id"])["person"]

    def person(result) -> np.ndarray:
        keys = pd.MultiIndex.from_frame(result.records[["provider", "record_id"]])
        return who.reindex(keys).to_numpy()

    return base, both, full, person


@pytest.fixture(scope="module")
def auto_years(country_dir: Path):
    """The sample's 2022 records linked with the data-driven threshold (an option), then 2023's
    added."""
    key = Pseudonymiser(SAMPLE_KEY)
    old, new = (
        prepare_records(load_submissions(sorted((country_dir / "submissions").glob(f"*{y}*")))
                        .records(), key)
        for y in (2022, 2023)
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = RecordLinker(threshold="auto", seed=1).fit(old)
        return base, extend_linkage(base, new)


def test_sample_country_has_no_person_in_both_years(years) -> None:
    _, both, _, person = years
    p = person(both)
    assert not np.isnan(p.astype(float)).any()
    n_old = both.generations[0]
    assert not set(p[:n_old]) & set(p[n_old:])


def test_new_pairs_u_is_the_share_among_pairs_with_a_new_record(years) -> None:
    """With at most ``u_max_pairs`` pairs holding a new record, every one is compared: the u of
    "different year of identification" is then exactly the share of pairs of an earlier (2022)
    and a new (2023) record, n_old * n_new / (n_new (n_new - 1) / 2 + n_old * n_new) (closed
    form). The base, all of one year, never saw such a pair and had 0.5 / its sample (the rule
    of half): 12 bits too alike for every pair of a new record with an earlier one."""
    base, both, _, _ = years
    n_old, n_new = len(base.records), len(both.records) - len(base.records)
    facts = both.generation_report()[-1]
    total = n_new * (n_new - 1) // 2 + n_old * n_new
    assert facts["u_pairs"] == total
    assert facts["u"]["year"][1] == pytest.approx(n_old * n_new / total, rel=1e-5)  # 6 digits kept
    levels = next(c for c in base.model["comparisons"] if c["output_column_name"] == "year")
    assert levels["comparison_levels"][2]["u_probability"] < 1e-4


def test_new_pairs_u_from_a_sample_is_within_its_sampling_error(years) -> None:
    """With fewer ``u_max_pairs`` (20,000) than pairs holding a new record (1,464,020), u is a
    sample share: "different year" within 5 standard errors (0.0034 each) of the exact share,
    and the same u from the same seed."""
    import dataclasses

    base, both, _, _ = years
    small = dataclasses.replace(base, settings={**base.settings, "u_max_pairs": 20_000})
    new = both.records.iloc[len(base.records) :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one, two = extend_linkage(small, new), extend_linkage(small, new)
    facts = one.generation_report()[-1]
    exact = both.generation_report()[-1]["u"]["year"][1]
    assert facts["u_pairs"] == 20_000
    se = (exact * (1 - exact) / 20_000) ** 0.5
    assert abs(facts["u"]["year"][1] - exact) <= 5 * se
    assert facts["u"] == two.generation_report()[-1]["u"]


def test_extension_finds_no_one_again_and_links_as_a_full_linkage(years) -> None:
    """No person spans the two years, so no new record is an earlier person found again (the
    held u of a one-year base found 311 of 1,031); the persons and the F1 against the truth
    are those of a full linkage of both years (measured: 1,083 persons, F1 0.9947 both; the
    tolerance, 0.5% of persons and 0.005 of F1, allows a few pairs to fall either side)."""
    _, both, full, person = years
    assert both.generation_report()[-1]["found_again"] == 0
    persons, persons_full = len(np.unique(both.clusters())), len(np.unique(full.clusters()))
    assert abs(persons / persons_full - 1) <= 0.005
    assert _f1(both.clusters(), person(both)) >= _f1(full.clusters(), person(full)) - 0.005


def test_extension_checks_the_new_records_clusters(years) -> None:
    """As a full linkage, the pairs inside the new records' candidate clusters that no blocking
    rule compared are scored (measured: 1 on the sample country's 2023), so no two new records
    scored below ``cannot_link`` share a cluster unless a deterministic rule joined them; the
    earlier generation is untouched (its pairs are the base's)."""
    base, both, _, _ = years
    facts = both.generation_report()[-1]
    assert facts["cluster_pairs"] >= 1
    n_old = len(base.records)
    pairs = both.pairs
    assert pairs.iloc[: len(base.pairs)].equals(base.pairs)
    labels = both.clusters()
    new = pairs[pairs["unique_id_l"] >= n_old]
    low = new[new["match_probability"] < both.cannot_link]
    sure = set(zip(both.deterministic_pairs["unique_id_l"], both.deterministic_pairs["unique_id_r"],
                   strict=True))  # fmt: skip
    joined = [
        (a, b)
        for a, b in zip(low["unique_id_l"], low["unique_id_r"], strict=True)
        if labels[a] == labels[b] and (a, b) not in sure
    ]
    assert joined == []


def test_sampled_pairs_are_uniform_over_pairs_with_a_new_record() -> None:
    """Drawn pairs of two new records come at their share of the pairs with a new record (100
    new of 400: 4,950 of 34,950, 0.1416); 200,000 draws give a standard error of 0.0008, and
    the tolerance is 5 of them. The draws are reproducible from the generator."""
    rng = np.random.default_rng(7)
    left, right = sample_new_pairs(300, 400, 200_000, rng)
    share = 4950 / (4950 + 100 * 300)
    assert float((left >= 300).mean()) == pytest.approx(share, abs=0.004)
    assert (left < right).all() and (right >= 300).all()
    again = sample_new_pairs(300, 400, 200_000, np.random.default_rng(7))
    assert np.array_equal(again[0], left) and np.array_equal(again[1], right)


def test_each_generation_has_its_own_data_driven_threshold(years, auto_years) -> None:
    """With ``threshold="auto"``, the new records' links are cut at the balanced threshold of the
    pairs they were scored in (the base's threshold balances the base's pairs), the earlier
    generation keeps its own; a fixed threshold (the default, 0.3) applies to every generation."""
    from fl_estimate.providers.linkage.result import threshold_from_probabilities

    _, default_both, _, _ = years
    assert default_both.thresholds() == [0.3, 0.3]
    base, both = auto_years
    assert base.settings["threshold"] == "auto"
    new = both.pairs.iloc[len(base.pairs) :]
    mine = threshold_from_probabilities(new["match_probability"].to_numpy(float))
    assert both.thresholds() == [base.threshold, mine]
    assert both.generation_report()[-1]["threshold"] == mine
    n_old = len(base.records)
    assert np.array_equal(both.clusters()[:n_old], base.clusters())
    report = both.report()  # the report counts what the default clusters hold
    assert report["thresholds"] == [base.threshold, mine]
    assert report["persons"] == len(np.unique(both.clusters()))
    fixed = both.with_threshold(0.9)
    assert fixed.thresholds() == [0.9, 0.9]
    assert np.array_equal(fixed.clusters(), both.clusters(0.9))


def test_generation_clusters_cut_each_generation_at_its_threshold() -> None:
    """Records 0-1 (probability 0.8) are the first generation, 2-3 (0.6) the second: at 0.7
    for both, 2 and 3 stay apart; at 0.7 then 0.5, they are one person."""
    from fl_estimate.providers.linkage.clusters import generation_clusters

    pairs = pd.DataFrame({"unique_id_l": [0, 2], "unique_id_r": [1, 3],
                          "match_weight": [2.0, 0.6], "match_probability": [0.8, 0.6]})  # fmt: skip
    none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    assert generation_clusters(4, pairs, none, 0.7, [2])[0].tolist() == [0, 0, 1, 2]
    assert generation_clusters(4, pairs, none, [0.7, 0.5], [2])[0].tolist() == [0, 0, 1, 1]
    assert generation_clusters(4, pairs, none, [0.9, 0.5], [2])[0].tolist() == [0, 1, 2, 2]
    with pytest.raises(ValueError, match="thresholds"):
        generation_clusters(4, pairs, none, [0.7], [2])


def test_a_new_record_does_not_find_an_earlier_person_it_cannot_be() -> None:
    """Records 0-1 are one earlier person; record 2 links to 1 (0.9) but the model scored it
    0.001 against 0 (below ``cannot_link``): it is a new person, not 0-1 found again. A
    deterministic link joins them whatever the model says, as within a generation."""
    from fl_estimate.providers.linkage.clusters import generation_clusters

    pairs = pd.DataFrame({"unique_id_l": [0, 0, 1], "unique_id_r": [1, 2, 2],
                          "match_weight": [8.0, -10.0, 6.0],
                          "match_probability": [0.95, 0.001, 0.9]})  # fmt: skip
    none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    labels, _, counted = generation_clusters(3, pairs, none, 0.5, [2], cannot_link=0.01)
    assert labels.tolist() == [0, 0, 1] and counted.all()
    labels, _, counted = generation_clusters(3, pairs, none, 0.5, [2])  # no constraint
    assert labels.tolist() == [0, 0, 0] and counted.tolist() == [True, True, False]
    rule = pd.DataFrame({"unique_id_l": [1], "unique_id_r": [2], "rule": ["key_doc"]})
    labels, _, counted = generation_clusters(3, pairs, rule, 0.5, [2], cannot_link=0.01)
    assert labels.tolist() == [0, 0, 0] and counted.tolist() == [True, True, False]
