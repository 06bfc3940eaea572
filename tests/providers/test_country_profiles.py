"""The synthetic country profiles of the linkage benchmark (issue 21): documented rates, truth, seeds.

Rates are checked on one medium country (about 20,000 records of the Sahel profile) against the
profile's documented defaults, with a tolerance of 4 binomial standard errors (a correct
generator fails one such check with probability about 6e-5; the country is seeded, so a run is
never flaky). Where the unit drawn is a person or a household but the rate is counted over
records or people, the standard error is inflated by the design effect (at most the largest
number of units sharing the draw), as said at each check.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.providers.country_profiles import (
    DEFAULT_PROVIDERS,
    PROFILES,
    expected_records_per_person,
    keyed_rng,
    load_name_pool,
    make_profile_country,
)
from fl_estimate.providers.pseudonymise import IDENTIFIER_COLUMNS, KEY_COLUMNS, normalise_date
from fl_estimate.providers.submissions import SUBMISSION_COLUMNS, validate_submission

SEED = 7


def within(observed: float, expected: float, n: float, deff: float = 1.0, k: float = 4.0) -> bool:
    """``observed`` within ``k`` binomial standard errors (times sqrt(deff)) of ``expected``."""
    se = math.sqrt(expected * (1 - expected) * deff / n)
    return abs(observed - expected) <= k * se


@pytest.fixture(scope="module")
def medium():
    return make_profile_country("sahel", 20_000, seed=SEED)


@pytest.fixture(scope="module", params=sorted(PROFILES))
def small(request):
    return make_profile_country(request.param, "small", seed=SEED)


def records(country) -> pd.DataFrame:
    """All submitted records joined to their truth."""
    frame = pd.concat(country.submissions.values(), ignore_index=True)
    return frame.merge(country.truth, on=["provider", "record_id"], suffixes=("", "_true"))


# -- the submissions are what the providers' pipeline reads ---------------------------------------


def test_small_sizes_have_the_submission_format_and_validate(small) -> None:
    known = {c for c, _, _ in SUBMISSION_COLUMNS}
    for (prov, period), frame in small.submissions.items():
        assert set(frame.columns) <= known
        report, clean = validate_submission(frame.astype(object), source=f"{prov}_{period}")
        assert clean is not None, report.to_text()
    # about 500 records: the stratum size is set from the exact expected records per person,
    # so only sampling error remains (sd about sqrt(500 x 1.5) = 27 records; 20% is > 3 sd)
    assert abs(small.n_records - 500) <= 100
    assert set(small.population["region"]) == set(PROFILES[small.settings["profile"]].regions[:2])
    assert set(small.population["year"]) == {2022, 2023}


def test_expected_records_per_person_matches_the_simulation(medium) -> None:
    # closed form (enumeration of capture patterns) against the simulated population
    per_person, observed_share = expected_records_per_person(PROFILES["sahel"])
    n_pop = int(medium.population["N"].sum())
    counts = np.zeros(n_pop)
    counts[: len(medium.histories)] = medium.truth.groupby("person").size().to_numpy()
    sd = counts.std()
    assert abs(medium.n_records / n_pop - per_person) <= 4 * sd / math.sqrt(n_pop)
    assert within(len(medium.histories) / n_pop, observed_share, n_pop)


# -- documented rates -------------------------------------------------------------------------------


def test_households(medium) -> None:
    people = medium.people
    in_hh = people["household"] >= 0
    # 30% of each stratum's population (and latent class) is put in households; capture does not
    # depend on the household given the class, so the share holds among the observed. Members
    # of a household (mean size 3, at most 5) are not independent: design effect 5.
    assert within(in_hh.mean(), 0.30, len(people), deff=5)
    groups = people[in_hh].groupby("household")
    # members share family name, phone, region and year (the address is not in the format)
    assert (groups[["family_name", "phone", "region", "year"]].nunique() == 1).all().all()
    assert groups.size().max() <= 5
    # a provider finding several members records each later one (in the order of the people)
    # on the first one's day with probability 0.7 (independent draws per record)
    rec = records(medium)
    eligible = rec[(rec["household"] >= 0) & (rec["copy"] == 0)].sort_values("person")
    groups = eligible.groupby(["provider", "household"])
    later = eligible[groups.cumcount() > 0]
    assert within(later["together"].mean(), 0.7, len(later))
    assert not eligible.drop(later.index)["together"].any()
    first_day = groups["date_identified"].transform("first")
    together = later[later["together"]]
    assert (together["date_identified"] == first_day[together.index]).all()


def test_name_rates(medium) -> None:
    t = medium.truth
    n_eligible = int(t["variant_eligible"].sum())
    assert within(t["variant_parts"].sum() / n_eligible, 0.15, n_eligible)
    n_parts = int(t["name_parts"].sum())
    assert within(t["typo_parts"].sum() / n_parts, 0.05, n_parts)
    assert within(t["swapped"].mean(), 0.05, len(t))
    assert within(t["given_missing"].mean(), 0.02, len(t))


def test_zipf_frequencies_of_given_names(medium) -> None:
    pool = load_name_pool("sahel")
    people = medium.people
    for sex in ("F", "M"):
        first = people.loc[people["sex"] == sex, "given_name"].str.split().str[0]
        usual = [e[0] for e in pool.given[sex][:40]]
        assert set(first) <= set(usual)  # 40 given names per sex
        w = np.arange(1, 41, dtype=float) ** -1.1
        p1 = w[0] / w.sum()  # share of the commonest name under Zipf(1.1): about 0.21
        # households do not share given names, so people are independent draws
        assert within((first == usual[0]).mean(), p1, len(first))


def test_family_names_per_region(medium) -> None:
    pool = load_name_pool("sahel")
    usual = {e[0] for e in pool.family}
    for _, names in medium.people.groupby("region")["family_name"]:
        assert set(names) <= usual
        assert names.nunique() <= 60


def test_birth_dates(medium) -> None:
    rec = records(medium)
    people = medium.people
    # a person does not know the date (30% of people: 20% + 10% of records in expectation)
    assert within(1 - people["dob_known"].mean(), 0.30, len(people))
    unknown = rec[rec["dob_kind"].isin(["placeholder", "year_only"])]
    assert within((unknown["dob_kind"] == "placeholder").mean(), 2 / 3, len(unknown))
    # records per person at most about 6: design effect 6 on the record shares
    kinds = rec["dob_kind"].value_counts(normalize=True)
    assert within(kinds["placeholder"], 0.20, len(rec), deff=6)
    assert within(kinds["year_only"], 0.10, len(rec), deff=6)
    iso = rec["date_of_birth"].map(normalise_date)
    placeholder = iso[rec["dob_kind"] == "placeholder"]
    assert placeholder.str.endswith("-01-01").all()
    born = rec["person"].map(people.set_index("person")["date_of_birth"])
    assert (placeholder.str[:4] == born[placeholder.index].str[:4]).all()
    assert rec.loc[rec["dob_kind"].isin(["year_only", "missing"]), "date_of_birth"].eq("").all()
    full = rec["dob_kind"] == "full"
    swapped = rec["day_month_swapped"]
    assert (iso[full & ~swapped] == born[full & ~swapped]).all()


def test_ages_and_documents(medium) -> None:
    rec = records(medium)
    assert within((rec["age_kind"] == "rounded").mean(), 0.20, len(rec))
    rounded = pd.to_numeric(rec.loc[rec["age_kind"] == "rounded", "age"])
    assert (rounded % 5 == 0).all()
    assert (rec.loc[rec["age_kind"] == "missing", "age_band"].isin(["child", "adult"])).all()
    has_doc = rec["document_number"] != ""
    assert (has_doc == rec["document_recorded"]).all()
    for prov, part in rec.groupby("provider"):
        if prov in ("police", "courts"):
            assert within(part["document_recorded"].mean(), 0.60, len(part))
        else:
            assert not part["document_recorded"].any()


def test_accents_kept_by_some_records_and_dropped_by_others() -> None:
    country = make_profile_country("latin", 5_000, seed=SEED)
    names = pd.concat(country.submissions.values())["family_name"].str.upper()
    assert names.str.contains("GONZÁLEZ").any() and names.str.contains("GONZALEZ").any()


# -- the truth is consistent ----------------------------------------------------------------------


def test_truth_is_consistent(small) -> None:
    truth, hist = small.truth, small.histories
    submitted = pd.concat(small.submissions.values(), ignore_index=True)
    assert submitted["record_id"].is_unique
    assert set(submitted["record_id"]) == set(truth["record_id"])
    lists = small.registry["provider"].tolist()
    # the true capture histories are the providers of each person's records, stratum included
    seen = pd.crosstab(truth["person"], truth["provider"]).clip(upper=1)
    seen = seen.reindex(columns=lists, fill_value=0)
    h = hist.set_index("person")
    pd.testing.assert_frame_equal(
        h[lists].sort_index(), seen.sort_index(), check_dtype=False, check_names=False
    )
    strata = truth.groupby("person")[["region", "year"]].nunique()
    assert (strata == 1).all().all()  # a person is in one stratum
    rec = records(small)
    assert (rec["region"] == rec["region_true"]).all()
    assert (pd.to_datetime(rec["date_identified"]).dt.year == rec["year"]).all()
    # no two people share a document number
    assert small.people.groupby("document")["person"].nunique().max() == 1
    # within-provider duplicates are the second copies
    dups = len(truth) - len(truth.drop_duplicates(["provider", "person"]))
    assert dups == int((truth["copy"] == 1).sum())
    # nobody observed beyond the population of the stratum
    n_obs = hist.groupby(["region", "year"]).size()
    pop = small.population.set_index(["region", "year"])["N"]
    assert (n_obs <= pop.reindex(n_obs.index)).all()


# -- seeds -----------------------------------------------------------------------------------------


def _same(a, b) -> bool:
    return a.submissions.keys() == b.submissions.keys() and all(
        a.submissions[k].equals(b.submissions[k]) for k in a.submissions
    )


def test_same_seed_same_country_and_another_seed_another() -> None:
    a = make_profile_country("south_asia", "small", seed=3)
    b = make_profile_country("south_asia", "small", seed=3)
    c = make_profile_country("south_asia", "small", seed=4)
    assert _same(a, b) and a.truth.equals(b.truth)
    assert not _same(a, c)


def test_streams_are_derived_by_key_not_by_position() -> None:
    # the same stratum size with one region or two: Tillaberi's people and records are the same
    one = make_profile_country("sahel", 300, regions=["Tillaberi"], years=[2022], seed=5)
    two = make_profile_country("sahel", 600, regions=["Tillaberi", "Niamey"], years=[2022], seed=5)
    assert one.population["N"].iloc[0] == two.population["N"].iloc[0]
    cols = ["provider", "given_name", "family_name", "date_of_birth", "date_identified", "phone"]

    def tillaberi(c) -> pd.DataFrame:
        frame = pd.concat(c.submissions.values(), ignore_index=True)
        frame = frame[frame["region"] == "Tillaberi"][cols]
        return frame.sort_values(cols).reset_index(drop=True)

    pd.testing.assert_frame_equal(tillaberi(one), tillaberi(two))
    x = keyed_rng(5, "records", "police", "Tillaberi", 2022).random(3)
    y = keyed_rng(5, "records", "police", "Tillaberi", 2022).random(3)
    z = keyed_rng(5, "records", "police", "Niamey", 2022).random(3)
    assert np.array_equal(x, y) and not np.array_equal(x, z)


# -- options ----------------------------------------------------------------------------------------


def test_pseudonymous_providers_and_year_only_dates() -> None:
    providers = tuple(
        replace(p, pseudonymous=p.name == "ngo") for p in DEFAULT_PROVIDERS
    )  # the ngo sends keys only
    country = make_profile_country(
        "sahel", "small", seed=SEED, providers=providers, year_only_as="year"
    )
    ngo = pd.concat(f for (p, _), f in country.submissions.items() if p == "ngo")
    assert not set(IDENTIFIER_COLUMNS) & set(ngo.columns)
    assert set(KEY_COLUMNS) <= set(ngo.columns)
    rec = records(country)
    clear = rec["provider"] != "ngo"  # the pseudonymiser reads full dates only: ngo leaves blank
    year_only = rec.loc[clear & (rec["dob_kind"] == "year_only"), "date_of_birth"]
    assert len(year_only) and year_only.str.fullmatch(r"\d{4}").all()


def test_bad_arguments_are_errors_naming_the_choice() -> None:
    with pytest.raises(ModelSpecificationError, match="sahel"):
        make_profile_country("atlantis")
    with pytest.raises(ModelSpecificationError, match="small"):
        make_profile_country("sahel", "medium")
    with pytest.raises(ModelSpecificationError, match=r"\[0, 1\]"):
        make_profile_country("sahel", typo_rate=1.5)
    with pytest.raises(ModelSpecificationError, match="courts"):
        make_profile_country("sahel", providers=DEFAULT_PROVIDERS[2:])  # dependence police:courts


def test_returning_people_keep_their_identity_and_leave_the_first_year_alone() -> None:
    """``return_rate``: that share of a later year's population are people of the same region the
    year before, with their identity. Who is found is drawn independently of it, so among the
    people found in 2023 the share of people of 2022 is the rate, within 4 binomial standard
    errors (a seeded country: never flaky). The first year is drawn by the same keyed streams
    with or without returns."""
    args = {"regions": ["Tillaberi"], "years": [2022, 2023], "seed": 11}
    base = make_profile_country("sahel", 3000, **args)
    back = make_profile_country("sahel", 3000, return_rate=0.2, **args)
    n = int(back.population["N"].iloc[0])
    people = back.people
    later = people[people["year"] == 2023]
    returned = later["person"] < n  # person ids of 2022's population are 0..n-1
    assert within(float(returned.mean()), 0.2, len(later))
    both = people[people["person"].isin(set(people.loc[people["year"] == 2022, "person"]))]
    both = both[both["person"].isin(set(later["person"]))]
    assert both["person"].nunique() > 20  # found in both years: identified again
    identity = ["sex", "given_name", "family_name", "date_of_birth", "document", "phone"]
    assert (both.groupby("person")[identity].nunique() == 1).all().all()
    # without returns no person is in two years, and 2022 is the same country either way
    assert base.people.groupby("person")["year"].nunique().max() == 1
    first = [(k, v) for k, v in base.submissions.items() if k[1].startswith("2022")]
    assert all(back.submissions[k].equals(v) for k, v in first)
