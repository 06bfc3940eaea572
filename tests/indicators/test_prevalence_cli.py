"""Survey prevalence (per 1,000, domains, indeterminate bounds, design files) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.cli import main
from fl_estimate.exceptions import InputValidationError, SmallSampleWarning
from fl_estimate.indicators.prevalence import SurveyPrevalence
from fl_estimate.indicators.scoring import IndicatorScorer
from fl_estimate.indicators.survey import SurveyDesign, load_design

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "data_samples" / "survey"
DATA = Path(__file__).resolve().parents[1] / "data" / "survey"


@pytest.fixture(scope="module")
def scored():
    data = pd.read_csv(SURVEY / "survey.csv")
    return IndicatorScorer("ilo2012").score(data, SURVEY / "mapping.toml", source="survey.csv")


def test_prevalence_matches_the_survey_estimator(scored) -> None:
    """Per-1,000 rows equal 1000 × SurveyDesign.proportion (same design; 1e-12)."""
    res = SurveyPrevalence(outcomes=["forced_labour"], by="region").fit(
        scored, design=SURVEY / "design.toml"
    )
    t = res.to_frame()
    assert list(t.columns) == [
        "outcome", "by", "domain", "estimate", "se", "ci_low", "ci_high", "ci_method", "level",
        "deff", "n_unweighted", "n_positive", "n_indeterminate", "df", "estimate_if_absent",
        "estimate_if_present", "small_domain", "note",
    ]  # fmt: skip
    d = SurveyDesign(scored.table.assign(y=scored.table["forced_labour"].astype(float)),
                     weights="weight", strata="region", ids=["ea", "person"],
                     fpc=["ea_total", "adults_in_ea"])  # fmt: skip
    west = d.proportion("y", domain={"region": "West"}, method="beta")
    row = t[t["domain"] == "West"].iloc[0]
    assert row["estimate"] == pytest.approx(1000 * west.estimate, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (1000 * west.ci_low, 1000 * west.ci_high), rel=1e-12
    )
    assert row["n_unweighted"] == 1000 and row["df"] == 39  # 40 EAs in the region - 1


def test_estimates_are_near_the_known_truth(scored) -> None:
    """The one committed sample: every estimate is within 3 standard errors of the true
    prevalence (truth.csv, from the generating population; West is 2.5 SE off in this sample,
    outside its 95% interval, as 1 in 20 intervals should be). Coverage over 200 samples is
    measured by benchmarks/survey_coverage.py."""
    truth = pd.read_csv(SURVEY / "truth.csv").set_index("domain")["prevalence"]
    t = SurveyPrevalence(outcomes=["forced_labour"], by="region").fit(
        scored, design=SURVEY / "design.toml"
    ).table  # fmt: skip
    z = (t["estimate"] - t["domain"].astype(str).map(truth)) / t["se"]
    assert (z.abs() < 3).all(), z.tolist()
    covered = [r["ci_low"] <= truth[str(r["domain"])] <= r["ci_high"] for _, r in t.iterrows()]
    assert sum(covered) == 4  # all, East, North, South


def test_indeterminate_excluded_and_bounds_reported() -> None:
    df = pd.DataFrame({
        "fl": pd.array([True, False, None, False] * 25, dtype="boolean"),
        "w": np.r_[np.ones(50), 2 * np.ones(50)], "psu": np.arange(100),
    })  # fmt: skip
    spec = {"design": {"weights": "w", "ids": "psu"}}
    r = SurveyPrevalence(outcomes=["fl"]).fit(df, design=spec).table.iloc[0]
    y = df["fl"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    w = df["w"].to_numpy()
    known = ~np.isnan(y)
    pos = np.nan_to_num(y) == 1
    # closed forms (1e-12): weighted share among known; bounds with unknown as 0 / as 1
    assert r["estimate"] == pytest.approx(1000 * w[pos].sum() / w[known].sum(), rel=1e-12)
    assert r["n_unweighted"] == 75 and r["n_indeterminate"] == 25 and r["n_positive"] == 25
    assert r["estimate_if_absent"] == pytest.approx(1000 * w[pos].sum() / w.sum(), rel=1e-12)
    assert r["estimate_if_present"] == pytest.approx(
        1000 * (w[pos].sum() + w[~known].sum()) / w.sum(), rel=1e-12
    )
    low = SurveyPrevalence(outcomes=["fl"], missing="as_absent").fit(df, design=spec).table
    assert low["estimate"].iloc[0] == pytest.approx(r["estimate_if_absent"], rel=1e-12)


def test_small_domain_warning_and_flag() -> None:
    df = pd.DataFrame({"fl": [0, 1] * 20, "g": ["a"] * 36 + ["b"] * 4, "psu": range(40)})
    with pytest.warns(SmallSampleWarning, match="g=b"):
        t = SurveyPrevalence(outcomes=["fl"], by="g").fit(
            df, design={"design": {"ids": "psu"}}
        ).table  # fmt: skip
    assert t["small_domain"].tolist() == [False, False, True]


def test_no_positive_domain_reported_with_korn_graubard() -> None:
    df = pd.DataFrame({"fl": [1, 0, 0, 0] * 20 + [0] * 40, "g": ["a"] * 80 + ["b"] * 40,
                       "psu": range(120)})  # fmt: skip
    t = SurveyPrevalence(outcomes=["fl"], by="g", ci_method="logit").fit(
        df, design={"design": {"ids": "psu"}}
    ).table  # fmt: skip
    b = t[t["domain"] == "b"].iloc[0]
    assert b["estimate"] == 0 and b["ci_low"] == 0 and b["ci_high"] > 0
    assert b["ci_method"].startswith("beta") and "no positive case" in b["note"]


def test_replicate_design_from_file(tmp_path: Path) -> None:
    """design.toml with [replicates]: the JK1 reference design (R survey; 1e-6)."""
    c1 = pd.read_csv(DATA / "apiclus1.csv")
    reps = pd.read_csv(DATA / "apiclus1_jk1_repweights.csv")
    data = pd.concat([c1, reps.add_prefix("jk_")], axis=1)
    data["high_meals"] = (data["meals"] >= 90).astype(int)
    p = tmp_path / "design.toml"
    p.write_text('[design]\nweights = "pw"\n[replicates]\ncolumns = "jk_"\ntype = "JK1"\n'
                 "scale = 0.933333333333333\n")  # fmt: skip
    t = SurveyPrevalence(outcomes=["high_meals"], ci_method="wald", per=1).fit(data, design=p)
    row = t.table.iloc[0]
    # R: svymean(~high_meals, as.svrepdesign(clus1_wr, type="JK1")) (survey_results.json)
    assert row["estimate"] == pytest.approx(0.0983606557377049, rel=1e-6)
    assert row["se"] == pytest.approx(0.0645383804533614, rel=1e-6)


def test_design_file_problems_all_reported(tmp_path: Path) -> None:
    p = tmp_path / "design.toml"
    p.write_text('[design]\nweights = 3\nstrata = "s"\nclusters = "c"\nlonely_psu = "x"\n')
    with pytest.raises(InputValidationError) as err:
        load_design(p)
    cols = {pr.column for pr in err.value.problems}
    assert cols == {"design.weights", "design.clusters", "design.lonely_psu"}


def test_results_summary_plot_json(scored) -> None:
    res = SurveyPrevalence(outcomes=["forced_labour"], by=["region", "sex", "region*sex"]).fit(
        scored, design=SURVEY / "design.toml"
    )
    assert "Prevalence per 1000" in res.summary()
    t = res.to_frame()
    assert len(t) == 1 + 4 + 2 + 8
    crossed = t[t["by"] == "region*sex"]
    assert crossed["domain"].iloc[0] == "East/female"
    # crossed domain = subpopulation of both (closed form: weighted share in the cell, 1e-12)
    cell = scored.table[(scored.table["region"] == "East") & (scored.table["sex"] == "female")]
    share = (cell["weight"] * cell["forced_labour"].astype(float)).sum() / cell["weight"].sum()
    assert crossed["estimate"].iloc[0] == pytest.approx(1000 * share, rel=1e-12)
    ax = res.plot()
    assert len(ax.get_yticklabels()) == 15
    d = json.loads(res.to_json())
    assert d["settings"]["ci_method"] == "beta" and len(d["estimates"]) == 15


# ------------------------------------------------------------------ CLI
def test_cli_score_then_prevalence(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scored.csv"
    code = main(["indicators", "score", str(SURVEY / "survey.csv"), "--framework", "ilo2012",
                 "--mapping", str(SURVEY / "mapping.toml"), "--out", str(out)])  # fmt: skip
    assert code == 0 and out.exists()
    scored = pd.read_csv(out)
    assert {"forced_labour", "classification", "reason", "dim:D1"} <= set(scored.columns)
    capsys.readouterr()
    code = main(["indicators", "prevalence", str(out), "--by", "region", "--design",
                 str(SURVEY / "design.toml"), "--outcome", "forced_labour", "--format", "csv"])  # fmt: skip
    assert code == 0
    from io import StringIO

    tab = pd.read_csv(StringIO(capsys.readouterr().out))
    assert tab["domain"].tolist() == ["all", "East", "North", "South", "West"]
    code = main(["indicators", "prevalence", str(out), "--by", "region", "--design",
                 str(SURVEY / "design.toml"), "--outcome", "forced_labour", "--format", "json"])  # fmt: skip
    assert code == 0 and json.loads(capsys.readouterr().out)["estimates"][0]["outcome"] == (
        "forced_labour"
    )


def test_cli_bad_mapping_one_line_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "map.toml"
    bad.write_text('[mapping]\nframework = "ilo2012"\n[[indicator]]\nid = "HTS.NOPE"\n'
                   'variable = "q01"\n')  # fmt: skip
    code = main(["indicators", "score", str(SURVEY / "survey.csv"), "--mapping", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "HTS.NOPE" in err and "map.toml" in err


def test_cli_missing_file_exit_2(capsys) -> None:
    code = main(["indicators", "prevalence", "nope.csv", "--design", str(SURVEY / "design.toml")])
    assert code == 2 and "nope.csv" in capsys.readouterr().err


def test_scored_records_summary_counts_plot(scored) -> None:
    c = scored.counts().set_index("classification")["n"]
    # the synthetic survey's truth: 110 respondents in forced labour in this sample
    assert c["forced_labour"] == 110 and c.sum() == 4000
    assert "4000 records; 26 indicator columns measured" in scored.summary()
    ax = scored.plot()
    assert len(ax.patches) == 26
    assert scored.explain("R00000").startswith("not_forced_labour")


def test_replicate_mse_centres_on_full_sample_estimate() -> None:
    """mse=True: V = scale Σ rscales (θ_r − θ̂)² (closed form on the JK1 weights, 1e-12)."""
    from fl_estimate.indicators.survey import ReplicateDesign

    c1 = pd.read_csv(DATA / "apiclus1.csv")
    reps = pd.read_csv(DATA / "apiclus1_jk1_repweights.csv").to_numpy()
    d = ReplicateDesign(c1, repweights=reps, scale=14 / 15, mse=True, weights="pw")
    s = d.mean("api00")
    y = c1["api00"].to_numpy(float)
    theta_r = (reps * y[:, None]).sum(0) / reps.sum(0)
    assert s.se == pytest.approx(np.sqrt(14 / 15 * ((theta_r - s.estimate) ** 2).sum()), rel=1e-12)
