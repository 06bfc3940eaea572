"""Linkage that never fails silently (issue 21): training, placeholder dates, warnings, clusters.

The name-dense case of the issue is the ``sahel-3`` country of ``benchmarks/linkage.py``: three
providers (police, ngo, social services), documents recorded by the police only and no true
within-provider duplicates, so the EM session blocked on document numbers has no pairs.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import InputValidationError, LinkageWarning
from fl_estimate.providers.country_profiles import DEFAULT_PROVIDERS, make_profile_country
from fl_estimate.providers.linkage import DEFAULT_THRESHOLD, RecordLinker, prepare_records
from fl_estimate.providers.linkage.clusters import split_clusters
from fl_estimate.providers.linkage.model import quiet_splink
from fl_estimate.providers.linkage.result import LinkageResult
from fl_estimate.providers.linkage.rules import rule_pairs, splink_rule
from fl_estimate.providers.linkage.training import fit_prior
from fl_estimate.providers.linkrun import link_submissions, read_link_config
from fl_estimate.providers.pseudonymise import Pseudonymiser, normalise_birth_date
from fl_estimate.providers.submissions import validate_submission
from fl_estimate.providers.synthetic import SAMPLE_KEY

SEED = 20240601  # the benchmark's seed


def _records(country) -> pd.DataFrame:
    frames = []
    for (prov, period), frame in sorted(country.submissions.items()):
        report, clean = validate_submission(frame.astype(object), source=f"{prov}_{period}")
        assert clean is not None, report.to_text()
        frames.append(clean.assign(source=f"{prov}_{period}"))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def sahel3():
    """The issue's failing case (about 490 records), linked with the default linker."""
    providers = tuple(
        p for p in DEFAULT_PROVIDERS if p.name in ("police", "ngo", "social_services")
    )
    country = make_profile_country(
        "sahel", "small", seed=SEED, providers=providers, dependence=(), duplicate_rate=0.0
    )
    prepared = prepare_records(_records(country), Pseudonymiser(SAMPLE_KEY))
    person = prepared["record_id"].map(country.truth.set_index("record_id")["person"]).to_numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = RecordLinker().fit(prepared)
    return result, person, [w for w in caught if issubclass(w.category, LinkageWarning)]


def _true_prior(person: np.ndarray) -> float:
    n = len(person)
    sizes = pd.Series(person).value_counts().to_numpy()
    return float((sizes * (sizes - 1) / 2).sum() / (n * (n - 1) / 2))


def test_name_dense_case_is_not_silent(sahel3) -> None:
    result, person, caught = sahel3
    report = result.report()
    true_persons = len(set(person))
    off = report["persons"] / true_persons - 1
    codes = {w["code"] for w in report["warnings"]}
    # the acceptance rule: correct within 3%, or a warning naming the cause
    assert abs(off) <= 0.03 or "threshold-sensitive" in codes, (off, codes)
    if abs(off) > 0.03:  # the cause is named, and raised at fit time too
        assert any("data-driven threshold" in str(w.message) for w in caught)
        auto = result.data_threshold()
        persons_auto = len(np.unique(result.clusters(auto)))
        # the data-driven threshold is within 3% (measured +1.4%; the country is seeded)
        assert abs(persons_auto / true_persons - 1) <= 0.03
    # no within-provider merge where the data have no duplicates (the issue saw 53)
    assert sum(report["duplicates_removed"].values()) <= 2
    assert report["largest_cluster"] <= 3  # three providers, one record each (issue: 9)


def test_skipped_session_leaves_the_model_whole(sahel3) -> None:
    result, person, _ = sahel3
    training = result.training
    doc = next(s for s in training["sessions"] if s["rule"] == "key_doc")
    assert doc["status"] == "skipped" and doc["pairs"] == 0
    # the document comparison is still in the model and the prior was not overwritten by the
    # session's blocking-adjusted value (issue: 0.418 instead of about 0.001)
    names = [c["output_column_name"] for c in result.model["comparisons"]]
    assert "doc" in names and len(names) == 10
    prior = training["prior"]["used"]
    truth = _true_prior(person)  # share of all pairs that are the same person
    assert truth / 2 < prior < truth * 2, (prior, truth)  # EM fixed point: measured 0.94 x truth
    assert any(w["code"] == "em-session" and "key_doc" in w["message"] for w in result.warnings())


def test_untrained_levels_fall_back_on_documented_priors(sahel3) -> None:
    result, _, _ = sahel3
    levels = {(r["comparison"], r["level"]): r for r in result.report()["model"]}
    doc = levels[("doc", "same document number")]
    # no two records share a document: no EM session saw the level, no random pair either
    assert doc["m_source"].startswith("prior 0.95")
    assert doc["m"] == pytest.approx(0.95)
    assert doc["u_source"].startswith("value frequencies")
    assert all(r["m"] is not None and r["u"] is not None for r in levels.values())
    warned = {w["code"]: w["message"] for w in result.warnings()}
    assert "doc / same document number" in warned["m-prior"]
    assert "u-fallback" in warned


def test_linkage_warnings_are_catalog_messages(sahel3) -> None:
    """The warnings' texts read in French (issue 22), with their counts and comparison names as
    they are; their English is the text of before."""
    import re

    from fl_estimate.i18n import Message, translate

    result, _, _ = sahel3
    warned = {w["code"]: w["message"] for w in result.warnings()}
    assert all(isinstance(m, Message) for m in warned.values())
    m_prior = re.sub("[\u00a0\u202f]", " ", translate(warned["m-prior"], "fr"))
    assert re.match(
        r"\d+ probabilités? m non entraînées?, fixées? d'après les valeurs a priori documentées : ",
        m_prior,
    ), m_prior
    # comparison names stay, their levels and the reasons are in words (issue 22)
    assert "doc / même numéro de document (niveau jamais vu dans les sessions EM" in m_prior
    assert "same document number" not in m_prior and "level never seen" not in m_prior
    assert re.match(r"\d+ m probabilit(y|ies) not trained, set from documented priors: ",
                    warned["m-prior"])  # fmt: skip
    session = translate(warned["em-session"], "fr")
    assert session.startswith("session d'entraînement EM bloquée sur key_doc"), session


def test_splink_damages_the_live_model_on_an_empty_session() -> None:
    # the splink 5 behaviour the linker works around: starting an EM session removes the
    # comparisons the blocking rule reads from the LIVE settings, and they stay removed when
    # the session then fails for want of pairs. If splink fixes this, this test says so.
    from splink import DuckDBAPI, Linker

    from fl_estimate.providers.linkage import splink_table

    country = make_profile_country("sahel", 300, seed=SEED)
    rec = prepare_records(_records(country), Pseudonymiser(SAMPLE_KEY))
    rec["key_doc"] = None  # no document at all: a session blocked on it has no pair
    with quiet_splink():
        linker = Linker(
            DuckDBAPI().register(splink_table(rec)),
            RecordLinker().splink_settings(1e-3),
            log_level=None,
        )
        before = linker.misc.save_model_to_json(out_path=None)
        with pytest.raises(Exception, match="no record pairs"):
            linker.training.estimate_parameters_using_expectation_maximisation(
                splink_rule(("key_doc",))
            )
        after = linker.misc.save_model_to_json(out_path=None)
    assert len(after["comparisons"]) < len(before["comparisons"])
    assert after["probability_two_random_records_match"] != 1e-3
    # the linker, forced to start that session (min_em_pairs=0), keeps its model whole
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)
        res = RecordLinker(min_em_pairs=0).fit(rec)
    session = next(s for s in res.training["sessions"] if s["rule"] == "key_doc")
    assert session["status"] == "failed" and "no record pairs" in session["reason"]
    assert len(res.model["comparisons"]) == len(before["comparisons"])


def test_placeholder_birth_dates_are_years() -> None:
    assert normalise_birth_date("14/03/1990") == ("1990-03-14", "1990")
    assert normalise_birth_date("01/01/1990") == (None, "1990")  # placeholder
    assert normalise_birth_date("1990-01-01") == (None, "1990")
    assert normalise_birth_date("1990") == (None, "1990")
    assert normalise_birth_date(1990) == (None, "1990")  # a spreadsheet number
    assert normalise_birth_date("") == (None, None)
    with pytest.raises(ValueError, match="unreadable"):
        normalise_birth_date("31/02/1990")
    p = Pseudonymiser("k" * 20)
    keys = p.key_columns(
        pd.DataFrame(
            {
                "given_name": ["Amina", "Amina", "Amina", "Amina"],
                "family_name": ["Garba", "Garba", "Garba", "Garba"],
                "date_of_birth": ["01/01/1990", "1990-01-01", "1990", "14/03/1990"],
            }
        )
    )
    assert keys["key_dob"].iloc[:3].isna().all() and keys["key_dob"].iloc[3] is not None
    assert keys["key_yob"].nunique() == 1  # one year for all four
    # two namesakes with 1 January dates are not a deterministic link; a full date is
    rec = pd.DataFrame({"unique_id": range(4), **keys})
    det = rule_pairs(rec, RecordLinker().deterministic_rules)
    assert det.empty
    rec.loc[2, "key_dob"] = rec.loc[3, "key_dob"]
    det = rule_pairs(rec, RecordLinker().deterministic_rules)
    assert det[["unique_id_l", "unique_id_r"]].to_numpy().tolist() == [[2, 3]]


def test_year_only_birth_dates_pass_validation() -> None:
    frame = pd.DataFrame(
        {
            "provider": ["ngo"] * 2, "period": ["2022-Q1"] * 2, "record_id": ["1", "2"],
            "region": ["N", "N"], "date_identified": ["2022-01-05", "2022-02-01"],
            "sex": ["F", "M"], "age": [30, 40], "nationality": ["NER", "NER"],
            "exploitation": ["ForcedLabour"] * 2, "given_name": ["Amina", "Ali"],
            "family_name": ["Garba", "Issa"], "date_of_birth": ["1992", "2023"],
        }
    )  # fmt: skip
    report, clean = validate_submission(frame.astype(object))
    problems = report.to_frame() if clean is None else pd.DataFrame()
    # 1992 is fine; 2023 is after the identification in 2022 (row 3: the header is row 1)
    assert clean is None and set(problems["row"]) == {3}
    assert problems["expected"].str.contains("before date_identified").all()


def test_family_phonetic_key_uses_the_first_family_name() -> None:
    p = Pseudonymiser("k" * 20)
    keys = p.key_columns(
        pd.DataFrame(
            {
                "given_name": ["María", "María", "Lopez"],
                "family_name": ["García López", "García", "María"],  # second name left out; swap
            }
        )
    )
    assert keys["key_family_ph"].iloc[0] == keys["key_family_ph"].iloc[1]
    assert keys["key_name_ph"].iloc[0] == keys["key_name_ph"].iloc[1]  # swap-invariant
    assert keys["key_name_ph"].iloc[2] != keys["key_name_ph"].iloc[0]


def test_fitted_prior_closed_form() -> None:
    # two sure matches and one sure non-match among the 6 pairs of 4 records: lambda = 2/6
    lam, _ = fit_prior(np.array([30.0, 30.0, -30.0]), 0.01, 4)
    assert lam == pytest.approx(1 / 3, rel=1e-6)  # 1e-6: the fixed point's tolerance
    # two pairs at weight 0 under prior 0.5 (Bayes factor 1) among 3 records: the fixed point
    # of lambda = 2 lambda / 3 is 0 (clipped at 1e-12): no evidence, no matches
    lam, _ = fit_prior(np.array([0.0, 0.0]), 0.5, 3)
    assert lam < 1e-9


def test_clusters_split_for_size_and_for_providers_without_dedupe() -> None:
    pairs = pd.DataFrame(
        {"unique_id_l": [0, 1, 2, 3], "unique_id_r": [1, 2, 3, 4],
         "match_weight": [9.0, 3.0, 8.0, 7.0], "match_probability": [0.99] * 4}
    )  # fmt: skip
    none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    labels, info = split_clusters(5, pairs, none, 0.9)
    assert len(set(labels)) == 1 and info["links_dropped"] == 0
    labels, info = split_clusters(5, pairs, none, 0.9, max_size=3)
    assert labels.tolist() == [0, 0, 1, 1, 1]  # the weakest link (1-2) goes
    assert info["split_for_size"] == 1
    provider = np.array(["a", "b", "a", "c", "d"])
    labels, info = split_clusters(5, pairs, none, 0.9, provider=provider, no_dedupe=["a"])
    assert labels[0] != labels[2] and info["split_for_no_dedupe"] == 1
    assert max(np.bincount(labels)) == 3
    # a provider with de-duplication on may hold two records of one cluster
    labels, _ = split_clusters(5, pairs, none, 0.9, provider=provider, no_dedupe=["b"])
    assert len(set(labels)) == 1


def _result(p: np.ndarray) -> LinkageResult:
    n = len(p) + 1
    pairs = pd.DataFrame(
        {"unique_id_l": np.zeros(len(p), np.int64), "unique_id_r": np.arange(1, n),
         "match_weight": np.log2(p / (1 - p)), "match_probability": p}
    )  # fmt: skip
    rec = pd.DataFrame({"unique_id": np.arange(n), "provider": "a"})
    none = pd.DataFrame({"unique_id_l": [], "unique_id_r": [], "rule": []})
    return LinkageResult(rec, pairs, none, 0.9, "test")


def test_data_threshold_balances_false_and_missed_links() -> None:
    p = np.random.default_rng(1).beta(0.3, 0.3, 2000).clip(1e-6, 1 - 1e-6)
    res = _result(p)
    t = res.data_threshold()
    false, missed = (1 - p[p >= t]).sum(), p[p < t].sum()
    # the sum moves by at most one pair's probability across the threshold
    assert abs(false - missed) <= 1.0, (false, missed)
    t2 = res.data_threshold("false-rate", false_rate=0.01)
    assert (1 - p[p >= t2]).mean() <= 0.01 and t2 >= t
    assert _result(np.full(5, 0.2)).data_threshold() == 0.3  # never below MIN_DATA_THRESHOLD


def test_within_provider_merges_report_the_evidence(prepared_sample) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)
        res = RecordLinker().fit(prepared_sample)
    merges = res.within_provider_merges()
    report = res.report()
    assert set(merges["provider"]) <= set(report["duplicates_removed"])
    removed = sum(report["duplicates_removed"].values())
    assert removed > 0 and len(merges) >= removed  # a cluster of k records: k-1 removed
    assert merges["link"].str.match(r"deterministic|probabilistic|through other").all()
    direct = merges[merges["link"] == "probabilistic"]
    assert (direct["match_probability"] >= res.threshold).all()
    assert merges["agree"].str.len().gt(0).all()
    text = merges.to_csv()
    assert not pd.Series(text.split(",")).str.fullmatch(r"[0-9a-f]{32}").any()  # no token
    # switched off for the police: no two police records in one person
    off = dataclasses.replace(RecordLinker(), no_dedupe=("police",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)
        res_off = off.fit(prepared_sample)
    assert res_off.report()["duplicates_removed"]["police"] == 0
    assert res_off.report()["duplicates_removed"]["iom"] == report["duplicates_removed"]["iom"]


@pytest.fixture(scope="module")
def prepared_sample(country_dir):
    from fl_estimate.providers.submissions import load_submissions

    files = sorted((country_dir / "submissions").glob("*2023*"))
    return prepare_records(load_submissions(files).records(), Pseudonymiser(SAMPLE_KEY))


def test_link_config_switches_dedupe_off_per_provider(country_dir, tmp_path) -> None:
    cfg = read_link_config(country_dir / "link.toml")
    with pytest.raises(InputValidationError, match="no_dedupe"):
        link_submissions(dataclasses.replace(cfg, no_dedupe=["polise"]))
    text = re.sub(
        r"(?m)^threshold = .*$",
        'threshold = "auto"\nno_dedupe = ["police"]\nmax_cluster_size = 0',
        (country_dir / "link.toml").read_text(),
    )
    assert 'threshold = "auto"' in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("max_cluster_size = 0", "max_cluster_size = 1"))
    with pytest.raises(InputValidationError, match="max_cluster_size"):
        read_link_config(bad)
    good = tmp_path / "link.toml"
    good.write_text(text.replace("submissions/", str(country_dir / "submissions") + "/")
                    .replace('"registry.csv"', f'"{country_dir / "registry.csv"}"')
                    .replace('"linkage.key"', f'"{country_dir / "linkage.key"}"'))  # fmt: skip
    cfg = read_link_config(good)
    assert cfg.threshold == "auto" and cfg.no_dedupe == ["police"] and cfg.max_cluster_size == 0


def test_link_outputs_carry_warnings_and_merges(link_run) -> None:
    out = link_run.internal  # warning texts hold small counts, merges are evidence: internal
    warn = pd.read_csv(out / "warnings.csv")
    assert list(warn.columns) == ["scope", "code", "message"]
    report = link_run.report
    assert len(warn) == len(report["warnings"])
    assert [w["message"] for w in report["warnings"]] == warn["message"].tolist()
    merges = pd.read_csv(out / "within_provider_merges.csv")
    assert len(merges) >= sum(report["linkage"]["duplicates_removed"].values())
    html = (out / "linkage_report.html").read_text()
    assert "Model parameters" in html and "EM training sessions" in html
    sens = pd.read_csv(out / "sensitivity.csv")
    assert "data-driven" in " ".join(sens["kind"]) and "default" in " ".join(sens["kind"])
    assert sens["threshold"].is_monotonic_increasing


def test_annual_run_reads_the_linkage_warnings(tmp_path) -> None:
    from fl_estimate.i18n import translate
    from fl_estimate.pipeline.run import add_linkage_warnings
    from fl_estimate.providers.linkage import published_warning

    folder = tmp_path / "linkage"
    folder.mkdir()
    pd.DataFrame(
        {"scope": ["linkage", "sensitivity"], "code": ["m-prior", "threshold-persons"],
         "message": ["m of doc set from its prior", "persons move by 9%"]}
    ).to_csv(folder / "warnings.csv", index=False)  # fmt: skip
    est = pd.DataFrame({"scope": ["stratum"], "region": ["A"], "warning": ["few lists"]})
    out = add_linkage_warnings(est, folder)
    assert out["scope"].tolist() == ["linkage", "linkage sensitivity", "stratum"]
    # the published text is the code's count-free sentence, translated in the report
    assert out["warning"].iloc[0] == published_warning("m-prior")
    assert "9%" not in out["warning"].iloc[1] and "N-hat" not in out["warning"].iloc[1]
    assert translate(out["warning"].iloc[0], "fr") != str(out["warning"].iloc[0])
    assert out["region"].isna().sum() == 2
    assert add_linkage_warnings(est, tmp_path / "none").equals(est)


def test_linkage_uncertainty_without_uncertain_links_is_the_plain_interval(sahel3) -> None:
    from fl_estimate.pipeline.linkage_uncertainty import linkage_uncertainty

    result, _, _ = sahel3
    sure = result.pairs.assign(
        match_probability=(result.pairs["match_probability"] >= result.threshold).astype(float)
    )
    plain = dataclasses.replace(result, pairs=sure)
    row = linkage_uncertainty(plain, n_draws=5, seed=1).iloc[0]
    # every draw is the clustering at the threshold: no between-draw variance (closed form)
    assert row["between_share"] == 0 and row["draws_ok"] == 5
    assert row["n_hat_draws"] == pytest.approx(row["n_hat"], rel=1e-12)
    assert row["low_linkage"] == pytest.approx(row["low"], rel=1e-9)


def test_linkage_uncertainty_covers_the_true_histories(sahel3) -> None:
    from fl_estimate.mse import LogLinearMSE
    from fl_estimate.pipeline.linkage_uncertainty import linkage_uncertainty

    result, person, _ = sahel3
    # at the fixed threshold 0.9 (the default is the data-driven one, near 0.5 here)
    result = result.with_threshold(0.9)
    table = linkage_uncertainty(result, n_draws=30, seed=1)
    row = table.iloc[0]
    assert row["draws_ok"] == 30 and 0 < row["between_share"] < 1
    assert row["persons_draws_min"] <= row["persons_draws_mean"] <= row["persons_draws_max"]
    # N-hat (independence, pooled) from the true persons, through the same code path
    ids = result.records["unique_id"].to_numpy()
    first = pd.Series(ids).groupby(person).transform("min").to_numpy()
    truth = pd.DataFrame({"unique_id_l": first[ids != first], "unique_id_r": ids[ids != first],
                          "rule": "truth"})  # fmt: skip
    true_result = dataclasses.replace(
        result, pairs=result.pairs.iloc[:0], deterministic_pairs=truth
    )
    target = LogLinearMSE().fit(true_result.capture_data(strata=None)).estimate
    # at the fixed threshold the missed links push N-hat up, out of its own interval; the draws
    # link each pair with its probability and the interval with linkage error covers the
    # true-histories N-hat (seeded country and draws; measured in the benchmark's sahel-3)
    assert row["low_linkage"] <= target <= row["high_linkage"], (row.to_dict(), target)
    assert abs(np.log(row["n_hat_draws"] / target)) < abs(np.log(row["n_hat"] / target))


def _f1(labels: np.ndarray, person: np.ndarray) -> float:
    def pairs(keys: pd.Series) -> int:
        n = keys.value_counts().to_numpy()
        return int((n * (n - 1) // 2).sum())

    lab, per = pd.Series(labels).astype(str), pd.Series(person).astype(str)
    tp = pairs(lab + "|" + per)
    prec, rec = tp / pairs(lab), tp / pairs(per)
    return 2 * prec * rec / (prec + rec)


def test_default_threshold_is_fixed_below_the_data_driven_one(sahel3) -> None:
    result, person, _ = sahel3
    assert result.settings["threshold"] == DEFAULT_THRESHOLD == 0.3
    assert result.threshold == 0.3
    # the data-driven balance is an option, and lies higher on a country of this size
    assert result.data_threshold() > result.threshold
    # the name-dense case: at the default, persons within 3% of the truth (345 for 347
    # here; +0.3% on average over 30 fresh countries, benchmarks/linkage_oracle.py --pool); at
    # the old fixed 0.9 they were 7-8% over
    persons = len(np.unique(result.clusters()))
    assert abs(persons / len(set(person)) - 1) <= 0.03
    assert len(np.unique(result.clusters(0.9))) > persons
    assert len(np.unique(result.clusters(result.data_threshold()))) >= persons


def test_cannot_link_keeps_apart_what_the_model_finds_different(sahel3) -> None:
    result, person, _ = sahel3
    assert result.cannot_link == 0.01
    labels = result.clusters()
    left = result.pairs["unique_id_l"].to_numpy()
    right = result.pairs["unique_id_r"].to_numpy()
    low = result.pairs["match_probability"].to_numpy() < result.cannot_link
    det = result.deterministic_pairs
    # no two records the model scored below 0.01 share a cluster (no deterministic link here
    # joins such a pair, the only exception the constraint allows)
    joined = labels[left] == labels[right]
    sure = set(zip(det["unique_id_l"], det["unique_id_r"], strict=True))
    assert not any(
        (a, b) not in sure for a, b in zip(left[joined & low], right[joined & low], strict=True)
    )
    plain = dataclasses.replace(result, cannot_link=None)
    # without the constraint, such pairs are merged by transitivity, and F1 against the truth is
    # no better: at the default threshold 0.3 (measured on this seeded country: F1 0.952 with the
    # constraint, 0.915 without) and at 0.5 (0.952 and 0.943)
    for threshold in (None, 0.5):
        labels, plain_labels = result.clusters(threshold), plain.clusters(threshold)
        assert (plain_labels[left[low]] == plain_labels[right[low]]).any()
        assert _f1(labels, person) >= _f1(plain_labels, person)


def test_disagreement_m_never_exceeds_its_documented_bound(sahel3) -> None:
    from fl_estimate.providers.linkage.comparisons import default_comparisons

    result, _, _ = sahel3
    rows = pd.DataFrame(result.report()["model"])
    for spec in default_comparisons():
        mine = rows[rows["comparison"] == spec.name]
        # the m of a comparison still sum to one after the cap (closed form)
        assert mine["m"].sum() == pytest.approx(1.0, abs=1e-9), spec.name
        last = mine.iloc[-1]
        assert last["m"] <= spec.levels[-1].m_prior + 1e-12, (spec.name, last["m"])
        if "capped" in last["m_source"]:
            assert last["m"] == pytest.approx(spec.levels[-1].m_prior)
            assert any("capped" in n and spec.name in n for n in result.training["notes"])


def test_link_config_sets_cannot_link_and_fixed_links(country_dir, tmp_path, monkeypatch) -> None:
    """``cannot_link`` and ``fixed_links`` are [linkage] settings, checked before any work and
    handed to the linker as they are (0: the cannot-link constraint off)."""
    from fl_estimate.providers import linkrun

    base = (country_dir / "link.toml").read_text()
    base = (base.replace("submissions/", str(country_dir / "submissions") + "/")
            .replace('"registry.csv"', f'"{country_dir / "registry.csv"}"')
            .replace('"linkage.key"', f'"{country_dir / "linkage.key"}"'))  # fmt: skip
    cfg = read_link_config(country_dir / "link.toml")
    assert cfg.cannot_link == 0.01
    assert cfg.fixed_links == [["key_doc"], ["key_name", "key_dob"]]
    for extra, column in [
        ("cannot_link = 0.5", "cannot_link"),
        ("cannot_link = -0.1", "cannot_link"),
        ('cannot_link = "no"', "cannot_link"),
        ('fixed_links = ["key_doc"]', "fixed_links"),
        ('fixed_links = [["key_passport"]]', "fixed_links"),
        ('fixed_links = [["age~6"]]', "fixed_links"),  # a window alone links everyone
        ("fixed_links = [[]]", "fixed_links"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(base.replace("[linkage]\n", f"[linkage]\n{extra}\n"))
        with pytest.raises(InputValidationError) as err:
            read_link_config(bad)
        assert [p.column for p in err.value.problems] == [column], extra
    good = tmp_path / "link.toml"
    good.write_text(base.replace(
        "[linkage]\n",
        '[linkage]\ncannot_link = 0\nfixed_links = [["key_doc"], ["key_name", "key_dob", "region"]]\n',
    ))  # fmt: skip
    cfg = read_link_config(good)
    assert cfg.cannot_link == 0 and cfg.fixed_links[1] == ["key_name", "key_dob", "region"]

    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    class Recording(RecordLinker):
        def fit(self, records):  # type: ignore[override]
            seen.update(cannot_link=self.cannot_link, rules=self.deterministic_rules)
            raise Stop

    monkeypatch.setattr(linkrun, "RecordLinker", Recording)
    with pytest.raises(Stop):
        link_submissions(cfg)
    assert seen == {
        "cannot_link": None,
        "rules": (("key_doc",), ("key_name", "key_dob", "region")),
    }


def test_link_config_max_pairs_stops_a_run_that_would_not_fit(country_dir, tmp_path) -> None:
    from fl_estimate.exceptions import EstimateDoesNotExistError

    text = (country_dir / "link.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[linkage]", "[linkage]\nmax_pairs = -1", 1))
    with pytest.raises(InputValidationError, match="max_pairs"):
        read_link_config(bad)
    cfg = read_link_config(country_dir / "link.toml")
    assert cfg.max_pairs == 40_000_000
    with pytest.raises(EstimateDoesNotExistError, match="max_pairs") as info:
        link_submissions(dataclasses.replace(cfg, max_pairs=10))
    assert info.value.code == "linkage-too-many-pairs"


def test_trained_probabilities_keep_twelve_digits(sahel3) -> None:
    # DuckDB's parallel sums change the last digits of u and m from run to run; the model keeps
    # 12 significant digits, so that two runs give the same model, weights and report bytes
    result, _, _ = sahel3
    values = [
        lv[key]
        for comp in result.model["comparisons"]
        for lv in comp["comparison_levels"]
        for key in ("m_probability", "u_probability")
        if isinstance(lv.get(key), float)
    ]
    assert len(values) > 20
    assert all(v == float(f"{v:.12g}") for v in values)
