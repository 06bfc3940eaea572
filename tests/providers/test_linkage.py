"""Linkage on the sample country against the known truth (data_samples/country/truth)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import DataWarning, LinkageWarning, ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.pipeline.linkage_sensitivity import linkage_sensitivity
from fl_estimate.providers.linkage import RecordLinker, prepare_records
from fl_estimate.providers.linkage.model import quiet_splink
from fl_estimate.providers.linkrun import LinkRun
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.submissions import load_submissions
from fl_estimate.providers.synthetic import SAMPLE_KEY


def pair_scores(labels: np.ndarray, person: np.ndarray) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the true persons."""

    def pairs(keys: pd.Series) -> int:
        n = keys.value_counts().to_numpy()
        return int((n * (n - 1) // 2).sum())

    lab, per = pd.Series(labels), pd.Series(person)
    tp = pairs(lab.astype(str) + "|" + per.astype(str))
    prec, rec = tp / pairs(lab), tp / pairs(per)
    return prec, rec, 2 * prec * rec / (prec + rec)


@pytest.fixture(scope="module")
def prepared(country_dir):
    files = sorted((country_dir / "submissions").glob("*.*"))
    records = load_submissions(files).records()
    return prepare_records(records, Pseudonymiser(SAMPLE_KEY))


@pytest.fixture(scope="module")
def fitted(prepared):
    return RecordLinker().fit(prepared)


def test_prepared_records_hold_no_clear_identifiers(prepared) -> None:
    assert not {"given_name", "family_name", "date_of_birth", "phone"} & set(prepared.columns)
    assert prepared["key_bloom"].notna().mean() > 0.99


def test_f1_at_default_threshold_meets_target(fitted, truth) -> None:
    # acceptance target of the issue: pairwise F1 >= 0.97 at the default (data-driven) threshold
    # with the sample's default typo rate; the sample is deterministic (seeded), so this is not
    # flaky (measured 0.998 on the small sample in benchmarks/linkage.py)
    person = fitted.records["record_id"].map(truth.set_index("record_id")["person"]).to_numpy()
    assert not np.isnan(person.astype(float)).any()
    prec, rec, f1 = pair_scores(fitted.clusters(), person)
    assert f1 >= 0.97, (prec, rec, f1)
    assert prec >= 0.98


def test_deterministic_links_are_precise_but_miss_noisy_pairs(prepared, truth) -> None:
    res = RecordLinker(method="deterministic").fit(prepared)
    person = res.records["record_id"].map(truth.set_index("record_id")["person"]).to_numpy()
    prec, rec, _ = pair_scores(res.clusters(), person)
    assert prec >= 0.995  # exact keyed tokens: only a shared document number or name+DOB
    assert rec < 0.9  # typos and missing dates defeat exact matching


def test_within_provider_duplicates_are_found(fitted, truth) -> None:
    report = fitted.report()
    true_dups = (
        truth.groupby("provider").size() - truth.groupby("provider")["person"].nunique()
    ).to_dict()
    found = report["duplicates_removed"]
    total_true, total_found = sum(true_dups.values()), sum(found.values())
    assert total_true > 30
    assert abs(total_found - total_true) <= 0.2 * total_true, (found, true_dups)


def test_capture_histories_feed_capture_data(fitted) -> None:
    hist = fitted.capture_histories(strata=["region", "year"])
    lists = fitted.providers
    assert list(hist.columns) == ["person", *lists, "region", "year"]
    assert hist[lists].isin([0, 1]).all().all()
    assert (hist[lists].sum(axis=1) >= 1).all()
    assert hist["person"].is_unique
    data = CaptureData.from_records(
        hist.drop(columns="person"), lists=lists, strata=["region", "year"]
    )
    assert isinstance(data, StratifiedCaptureData)
    assert data.n_observed == len(hist) == fitted.report()["persons"]
    assert len(data) == 24  # 8 regions x 3 years


def test_report_counts_are_consistent(fitted) -> None:
    r = fitted.report()
    assert r["records"] == len(fitted.records)
    assert sum(r["records_by_provider"].values()) == r["records"]
    assert sum(k * v for k, v in r["cluster_sizes"].items()) == r["records"]
    assert sum(b["pairs"] for b in r["match_weight_histogram"]) == r["pairs_compared"]
    assert r["model"] and all(0 <= lv["m"] <= 1 for lv in r["model"] if lv["m"] is not None)


def test_sensitivity_moves_the_right_way(fitted) -> None:
    sens = linkage_sensitivity(fitted, [0.5, 0.9, 0.999])
    # a stricter threshold links fewer pairs, so more persons and a larger N-hat
    assert sens["persons"].is_monotonic_increasing
    assert sens["n_hat"].is_monotonic_increasing
    assert (sens["low"] < sens["n_hat"]).all() and (sens["n_hat"] < sens["high"]).all()
    assert set(sens["interval_kind"]) == {"wald-log"}
    assert set(sens["status"]) == {"ok"}
    # an estimator that does not exist for these data says so instead of giving a number
    from fl_estimate.mse import LogLinearMSE

    model = "courts:gendarmerie:iom:ngo:police:social_services"  # saturated: not identifiable
    bad = linkage_sensitivity(fitted, [0.9], estimator=LogLinearMSE(model))
    assert bad["n_hat"].isna().all() and (bad["status"] != "ok").all()


def test_same_seed_same_persons(fitted, link_run: LinkRun) -> None:
    # the pipeline fitted its own model on the same accepted files: identical persons (at the
    # sample config's threshold, 0.3, the linker's default)
    lists = link_run.report["lists"]
    assert fitted.threshold == 0.3
    ours = fitted.capture_histories(lists=lists)
    assert link_run.internal is not None
    theirs = pd.read_csv(link_run.internal / "capture_histories.csv")
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_pipeline_outputs(link_run: LinkRun) -> None:
    published = {
        "completeness.csv", "persons_by_region_year.csv", "linkage_summary.json",
        "manifest.json", "provider_regions.csv",
    }  # fmt: skip
    internal = {
        "capture_histories.csv", "capture_counts.csv", "linkage_report.json",
        "linkage_report.html", "submissions.csv", "validation_problems.csv",
        "sensitivity.csv", "link.log", "manifest.json", "linkage_report.xlsx",
        "warnings.csv", "within_provider_merges.csv",
    }  # fmt: skip
    assert set(link_run.files) == published
    assert set(link_run.internal_files) == internal
    assert link_run.internal == link_run.output.with_name(link_run.output.name + ".internal")
    assert {p.name for p in link_run.output.iterdir()} == published
    assert {p.name for p in link_run.internal.iterdir()} == internal
    assert (link_run.internal.stat().st_mode & 0o777) == 0o700  # owner only
    summary = json.loads((link_run.output / "linkage_summary.json").read_text())
    assert 0 < summary["share_of_records_merged"] < 1 and summary["persons"] >= 5
    lo, hi = summary["n_hat_range_across_thresholds"]
    assert lo <= hi
    assert link_run.rejected == ["police_2022-Q3.csv"]
    comp = pd.read_csv(link_run.output / "completeness.csv")
    late = comp[comp["status"] == "late"][["provider", "period"]].to_records(index=False).tolist()
    assert late == [("ngo", "2023-Q4")]
    cover = pd.read_csv(link_run.output / "provider_regions.csv").set_index("provider")
    assert cover.shape == (6, 8) and cover.loc["gendarmerie", "Central"] == 0
    counts = pd.read_csv(link_run.internal / "capture_counts.csv")
    hist = pd.read_csv(link_run.internal / "capture_histories.csv")
    assert counts["count"].sum() == len(hist)


def tiny_frame() -> pd.DataFrame:
    """Three records with clear identifiers: two of one person (providers a and b), one other."""
    return pd.DataFrame(
        {
            "provider": ["a", "b", "a"],
            "record_id": ["1", "2", "3"],
            "region": ["N", "N", "S"],
            "date_identified": ["2022-01-01"] * 3,
            "sex": ["F", "F", "M"],
            "age": [20, 20, 30],
            "given_name": ["Amina", "Amina", "Seydou"],
            "family_name": ["Garba", "Garba", "Moussa"],
            "date_of_birth": ["2001-03-14", "2001-03-14", None],
        }
    )


def test_tiny_input_links_or_says_why() -> None:
    # three records: EM on document numbers has no pairs; that session is skipped and noted
    df = tiny_frame()
    rec = prepare_records(df, Pseudonymiser("k" * 20))
    with pytest.warns(LinkageWarning, match="key_doc skipped"):  # says why
        res = RecordLinker().fit(rec)
    hist = res.capture_histories(strata=["region"])
    assert hist[["a", "b"]].to_numpy().tolist() == [[1, 1], [1, 0]]
    assert any("key_doc" in n for n in res.report()["training_notes"])
    with pytest.raises(ModelSpecificationError, match="linkage key"):
        prepare_records(df)
    with pytest.raises(ModelSpecificationError, match="unknown columns"):
        RecordLinker(blocking=[("key_bloom",)])


def test_warnings_of_our_own_code_surface_during_the_splink_run(monkeypatch) -> None:
    # the splink run holds back only splink's/DuckDB's notices about their own APIs: a warning
    # raised by fl_estimate code inside the run (here: while building the settings) reaches the
    # caller (it did not while the run ignored every warning)
    original = RecordLinker.splink_settings

    def noisy(self: RecordLinker, *args: object) -> object:
        warnings.warn("raised inside the splink run", DataWarning, stacklevel=2)
        return original(self, *args)

    monkeypatch.setattr(RecordLinker, "splink_settings", noisy)
    rec = prepare_records(tiny_frame(), Pseudonymiser("k" * 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)  # three records: training notes
        with pytest.warns(DataWarning, match="inside the splink run"):
            RecordLinker().fit(rec)


def test_splink_filter_holds_back_only_library_notices() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_splink():
            for module in ("splink.internals.linker", "duckdb", "sqlglot.dialects"):
                warnings.warn_explicit(
                    "old API", DeprecationWarning, f"{module}.py", 1, module=module
                )
            warnings.warn_explicit("old API", DeprecationWarning, "ours.py", 1, module="ours")
            warnings.warn_explicit("a user warning", UserWarning, "splink.py", 1, module="splink")
            warnings.warn("ours", DataWarning, stacklevel=1)
        after = len(seen)
        warnings.warn_explicit("old API", DeprecationWarning, "splink.py", 1, module="splink")
    messages = [(w.category, str(w.message)) for w in seen[:after]]
    assert messages == [
        (DeprecationWarning, "old API"),
        (UserWarning, "a user warning"),
        (DataWarning, "ours"),
    ]
    assert len(seen) == after + 1  # the filter ends with the run


def test_blocked_pairs_counted_before_scoring_are_the_pairs_scored(prepared, fitted) -> None:
    """The DuckDB count of the blocking rules' pairs (each once, as splink's predict does) is
    exactly the number of pairs the fit scored besides those inside candidate clusters (at most
    66 per cluster of 12): the memory guard counts what predict makes."""
    from splink import DuckDBAPI

    from fl_estimate.providers.linkage.model import count_blocked_pairs
    from fl_estimate.providers.linkage.prepare import splink_table

    linker = RecordLinker(seed=1)
    with quiet_splink():
        db = DuckDBAPI()
        frame = db.register(splink_table(prepared))
        count = count_blocked_pairs(db, frame.physical_name, linker.blocking_rules(prepared))
    inside = fitted.training["cluster_pairs"]
    assert 0 < inside < count / 100  # a few pairs only (measured: 4 of 12,406)
    assert count == len(fitted.pairs) - inside


def test_too_many_pairs_is_a_clear_error_before_training(prepared, fitted) -> None:
    from fl_estimate.exceptions import EstimateDoesNotExistError

    limit = len(fitted.pairs) - fitted.training["cluster_pairs"] - 1  # the blocked pairs, less one
    with pytest.raises(EstimateDoesNotExistError, match="max_pairs") as info:
        RecordLinker(seed=1, max_pairs=limit).fit(prepared)
    assert info.value.code == "linkage-too-many-pairs"
    assert f"{limit + 1:,}" in str(info.value)
    with pytest.raises(ModelSpecificationError, match="max_pairs"):
        RecordLinker(max_pairs=0)
