"""Covariate models: Huggins' conditional likelihood against R VGAM, closed forms, the identities
between the three covariate estimators, missing values, and the covariate simulation."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import InputValidationError, ModelSpecificationError
from fl_estimate.mse.covariates import (
    MISSING,
    CovariateLogLinearMSE,
    HugginsMSE,
    PostStratifiedMSE,
    prepare_records,
)
from fl_estimate.mse.covariates.common import BY_LEVEL_COLUMNS
from fl_estimate.mse.covariates.loglinear import cross_table
from fl_estimate.mse.loglinear import irls
from fl_estimate.simulate import (
    draw_covariate_design,
    simulate_covariate_design,
    simulate_covariates,
)

VGAM = Path(__file__).resolve().parents[1] / "data" / "vgam"
OPTIONS = {
    "list-specific": {"parallel": False},
    "parallel": {"parallel": True},
    "all-parallel": {"parallel": True, "list_intercepts": False},
}


@cache
def vgam_reference() -> dict:
    return json.loads((VGAM / "vgam_reference.json").read_text())


def read_set(name: str) -> tuple[pd.DataFrame, list[str]]:
    # the CSVs write missing values as "(missing)"; read them back as missing
    df = pd.read_csv(VGAM / f"{name}.csv", na_values=[MISSING], keep_default_na=False)
    return df, [c for c in df.columns if c.startswith("L")]


def fit_ids() -> list[str]:
    return [f"{f['dataset']}-{f['model']}" for f in vgam_reference()["fits"]]


# ---------------------------------------------------------------------------- VGAM reference


@pytest.mark.parametrize("ref", vgam_reference()["fits"], ids=fit_ids())
def test_huggins_matches_vgam(ref: dict) -> None:
    """VGAM 1.1.7 ``vglm(cbind(L1..LK) ~ covariates, posbernoulli.t(parallel.t = ...))`` (the call
    is in the JSON; tests/data/vgam/make_vgam_reference.R). Tolerance 1e-6 relative: the same
    MLE, VGAM run to epsilon 1e-13; the differences seen are below 3e-8 (VGAM's covariance comes
    from the working weights of its last iteration)."""
    df, lists = read_set(ref["dataset"])
    res = HugginsMSE(ref["formula"], **OPTIONS[ref["model"]]).fit(
        df, lists=lists, interval="wald-n"
    )
    assert res.ok
    assert res.observed == ref["n"]
    assert res.estimate == pytest.approx(ref["N_hat"], rel=1e-6)
    assert res.diagnostics["std_error"] == pytest.approx(ref["SE_N_hat"], rel=1e-6)
    assert res.diagnostics["loglik"] == pytest.approx(ref["loglik"], rel=1e-9)
    coef = res.tables["coefficients"]
    # same order as VGAM's: term by term, lists within a term
    assert len(coef) == len(ref["coef"])
    np.testing.assert_allclose(coef["estimate"], ref["coef"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(coef["std_error"], ref["std_error"], rtol=1e-6)
    z = 1.959963984540054
    se = ref["SE_N_hat"]
    assert res.interval == pytest.approx((ref["N_hat"] - z * se, ref["N_hat"] + z * se), rel=1e-6)


def test_vgam_coefficient_names_line_up() -> None:
    """Our term names, in VGAM's order (VGAM writes ``sexM:2`` for our ``L2:sex[M]``)."""
    ref = next(
        f
        for f in vgam_reference()["fits"]
        if f["dataset"] == "sex_nat_k4" and f["model"] == "list-specific"
    )
    df, lists = read_set("sex_nat_k4")
    terms = list(HugginsMSE("sex + nationality").fit(df, lists=lists).tables["coefficients"].term)
    assert terms[:5] == [
        "L1:(Intercept)",
        "L2:(Intercept)",
        "L3:(Intercept)",
        "L4:(Intercept)",
        "L1:sex[M]",
    ]
    assert ref["coef_names"][4] == "sexM:1"
    assert terms[-1] == f"L4:nationality[{MISSING}]"
    assert ref["coef_names"][-1] == "nationality(missing):4"


# ---------------------------------------------------------------------------- closed forms


def _two_list_records() -> pd.DataFrame:
    rows = []
    # level A: n1 = 60, n2 = 50, both 20; level B: n1 = 30, n2 = 40, both 10
    for level, (both, only1, only2) in {"A": (20, 40, 30), "B": (10, 20, 30)}.items():
        rows += [(1, 1, level)] * both + [(1, 0, level)] * only1 + [(0, 1, level)] * only2
    return pd.DataFrame(rows, columns=["L1", "L2", "g"])


def test_two_lists_give_lincoln_petersen_per_level() -> None:
    """With two lists and list-specific effects of one covariate, the conditional MLE in each
    level is Lincoln-Petersen's n1 n2 / m (exact: 60*50/20 = 150 and 30*40/10 = 120)."""
    df = _two_list_records()
    res = HugginsMSE("g").fit(df, lists=["L1", "L2"])
    by = res.tables["by_level"].set_index("level")
    assert by.loc["A", "estimate"] == pytest.approx(150.0, rel=1e-10)
    assert by.loc["B", "estimate"] == pytest.approx(120.0, rel=1e-10)
    assert res.estimate == pytest.approx(270.0, rel=1e-10)
    # Huggins' variance of LP in one level: closed form n1 n2 (n1 - m)(n2 - m) / m^3 (the
    # delta-method variance of the Lincoln-Petersen estimator), 150 * 40 * 30 / 400 = 450
    assert by.loc["A", "std_error"] ** 2 == pytest.approx(60 * 50 * 40 * 30 / 20**3, rel=1e-8)


def test_post_stratified_two_lists_equals_huggins() -> None:
    """Post-stratified independence (stepwise on two lists adds nothing) is Lincoln-Petersen in
    each level too, and its Wald variance (stratum variance plus Poisson f0) equals Huggins'."""
    df = _two_list_records()
    hu = HugginsMSE("g").fit(df, lists=["L1", "L2"])
    ps = PostStratifiedMSE("g").fit(df, lists=["L1", "L2"])
    assert ps.estimate == pytest.approx(hu.estimate, rel=1e-9)
    assert ps.diagnostics["std_error"] == pytest.approx(hu.diagnostics["std_error"], rel=1e-7)
    assert ps.interval == pytest.approx(hu.interval, rel=1e-7)
    assert len(ps.tables["strata"]) == 2


# ---------------------------------------------------------------------------- identities


@pytest.mark.parametrize("model", list(OPTIONS))
@pytest.mark.parametrize("missing", ["level", "mar"])
def test_loglinear_without_list_interactions_is_huggins(model: str, missing: str) -> None:
    """The Poisson log-linear model with free covariate margins and covariate x list terms is
    Huggins' model (the likelihood factors): same N, standard error and interval to rounding
    (1e-9 relative); with missing values at random too (Huggins is then fitted as its twin)."""
    df, lists = read_set("sex_nat_k4")
    kw = OPTIONS[model]
    hu = HugginsMSE("sex + nationality", missing=missing, **kw).fit(df, lists=lists)
    ll = CovariateLogLinearMSE("sex + nationality", missing=missing, **kw).fit(df, lists=lists)
    assert hu.estimate == pytest.approx(ll.estimate, rel=1e-9)
    assert hu.diagnostics["std_error"] == pytest.approx(ll.diagnostics["std_error"], rel=1e-8)
    assert hu.interval == pytest.approx(ll.interval, rel=1e-8)
    pd.testing.assert_series_equal(
        hu.tables["by_level"]["estimate"], ll.tables["by_level"]["estimate"], rtol=1e-8
    )


def test_mar_is_the_em_fixed_point() -> None:
    """missing='mar' against a plain EM written here: spread every incomplete record over its
    cells in proportion to the fitted means, refit, repeat (1e-7 relative: EM stopped at a
    coefficient change of 1e-12)."""
    df, lists = read_set("sex_nat_k4")
    model = CovariateLogLinearMSE("sex + nationality", missing="mar")
    res = model.fit(df, lists=lists)
    rec = prepare_records(df, ["sex", "nationality"], lists=lists, missing="mar")
    assert rec.n_missing["nationality"] == int(df["nationality"].isna().sum()) > 0
    table = cross_table(rec)
    x, _ = model._design(rec, table, [])
    nf = table.link.shape[1]
    part, y_part = table.link[nf:], table.y[nf:]
    full = table.y[:nf] + part.T @ (y_part / part.sum(axis=1))
    beta = np.zeros(x.shape[1])
    for _ in range(10_000):
        new, mu, *_ = irls(x, full)
        share = part * mu
        full = table.y[:nf] + (share / share.sum(axis=1, keepdims=True)).T @ y_part
        done = np.max(np.abs(new - beta)) < 1e-12
        beta = new
        if done:
            break
    g = len(table.combos)
    assert res.estimate == pytest.approx(rec.n + np.exp(beta[:g]).sum(), rel=1e-7)


def test_mar_removes_the_bias_of_list_dependent_missingness() -> None:
    """Missing values that depend on the lists (L1 fails to record sex for 60% of the people it
    catches, plus 10% missing completely at random): treated as a level they bias N down
    (about -6%); treated as missing at random given the pattern they do not. One large
    population (N = 200,000; the standard error is about 1% of N): MAR within 3%, the level
    approach more than 4% low. (If L1 recorded nothing, the missing level would hold only
    people seen by L1 alone, without recaptures, and have no estimate at all.)"""
    sim = simulate_covariates(
        200_000,
        3,
        covariates={"sex": {"F": 0.5, "M": 0.5}},
        capture_probs=[0.25, 0.2, 0.3],
        effects={"sex": {"M": [-1.2, -0.8, -1.5]}},
        missing=0.1,
        missing_by_list={"L1": 0.6},
        seed=5,
    )
    lists = ["L1", "L2", "L3"]
    level = HugginsMSE("sex").fit(sim.records, lists=lists)
    mar = HugginsMSE("sex", missing="mar").fit(sim.records, lists=lists)
    assert abs(mar.estimate / sim.truth - 1) < 0.03
    assert level.estimate / sim.truth - 1 < -0.04
    by = mar.tables["by_level"].set_index("level")["estimate"]
    truth = sim.truth_by_level["sex"]
    assert list(by.index) == ["F", "M"]  # no missing level: those people are spread
    assert by["F"] == pytest.approx(truth["F"], rel=0.04)
    assert by["M"] == pytest.approx(truth["M"], rel=0.04)
    assert mar.tables["by_level"]["observed"].sum() == pytest.approx(mar.observed, rel=1e-9)


def test_stepwise_list_interactions_find_a_dependent_pair() -> None:
    """Lists L1 and L2 dependent given the covariate (odds ratio 4): the stepwise covariate model
    adds L1:L2 and nothing else, and its estimate is within 5% of the truth (N = 100,000)."""
    sim = simulate_covariates(
        100_000,
        4,
        covariates={"sex": {"F": 0.5, "M": 0.5}},
        capture_probs=0.15,
        effects={"sex": {"M": [-1.0, -0.5, -1.2, -0.7]}},
        dependence={("L1", "L2"): 4.0},
        seed=9,
    )
    lists = ["L1", "L2", "L3", "L4"]
    res = CovariateLogLinearMSE("sex", interactions="stepwise").fit(sim.records, lists=lists)
    assert list(res.tables["steps"]["added"]) == ["L1:L2"]
    assert res.model.endswith("+ L1:L2")
    assert res.conditional_on_model
    assert abs(res.estimate / sim.truth - 1) < 0.05
    fixed = CovariateLogLinearMSE("sex", interactions="L1:L2").fit(sim.records, lists=lists)
    assert fixed.estimate == pytest.approx(res.estimate, rel=1e-9)


# ---------------------------------------------------------------------------- results


def test_result_tables_and_provenance() -> None:
    df, lists = read_set("sex_k3")
    res = HugginsMSE("sex").fit(df, lists=lists, seed=3)
    assert res.interval_kind == "wald-log"
    assert res.ci_low > res.observed
    by = res.tables["by_level"]
    assert list(by.columns) == BY_LEVEL_COLUMNS
    assert {"covariate", "level", "estimate", "ci_low", "ci_high"} <= set(by.columns)
    assert by["observed"].sum() == res.observed
    assert by["estimate"].sum() == pytest.approx(res.estimate, rel=1e-12)
    assert (
        res.provenance["data_hash"]
        == HugginsMSE("sex").fit(df, lists=lists).provenance["data_hash"]
    )
    shuffled = df.sample(frac=1.0, random_state=1)
    assert (
        HugginsMSE("sex").fit(shuffled, lists=lists).provenance["data_hash"]
        == (res.provenance["data_hash"])
    )
    assert res.to_dict()["tables"]["by_level"][0]["level"] == "F"


def test_bootstrap_is_reproducible_and_keyed() -> None:
    df, lists = read_set("sex_k3")
    a = HugginsMSE("sex").fit(df, lists=lists, interval="bootstrap", n_boot=60, seed=4)
    b = HugginsMSE("sex").fit(df, lists=lists, interval="bootstrap", n_boot=60, seed=4)
    assert a.interval_kind == "bootstrap-percentile"
    np.testing.assert_array_equal(a.draws, b.draws)
    assert a.draws.shape == (60,)
    assert a.ci_low < a.estimate < a.ci_high
    # the bootstrap SD is close to Huggins' standard error (60 replicates: within 35%)
    assert np.nanstd(a.draws) == pytest.approx(a.diagnostics["std_error"], rel=0.35)
    ll = CovariateLogLinearMSE("sex").fit(df, lists=lists, interval="bootstrap", n_boot=40, seed=4)
    assert ll.draws.shape == (40,) and ll.ci_low < ll.estimate < ll.ci_high


def test_post_stratified_bootstrap_adds_replicates() -> None:
    df, lists = read_set("sex_k3")
    res = PostStratifiedMSE("sex").fit(df, lists=lists, interval="bootstrap", n_boot=40, seed=2)
    assert res.interval_kind == "bootstrap-percentile"
    assert res.draws.shape == (40,)
    assert not res.conditional_on_model
    by = res.tables["by_level"]
    assert by["estimate"].sum() == pytest.approx(res.estimate, rel=1e-12)


def _with_unestimable_level() -> pd.DataFrame:
    extra = pd.DataFrame({"L1": [1, 0, 1], "L2": [0, 1, 0], "g": ["C", "C", "C"]})
    return pd.concat([_two_list_records(), extra], ignore_index=True)


def test_level_without_recaptures_has_no_estimate() -> None:
    df = _with_unestimable_level()
    for model in (HugginsMSE("g"), CovariateLogLinearMSE("g"), PostStratifiedMSE("g")):
        res = model.fit(df, lists=["L1", "L2"], unestimable="fail")
        assert not res.ok
        assert "g = C" in res.status
    res = HugginsMSE("g").fit(df, lists=["L1", "L2"], unestimable="fail")
    assert res.status_code == "no-mle" and "more than one list" in res.status


@pytest.mark.parametrize(
    "model", [HugginsMSE("g"), CovariateLogLinearMSE("g"), PostStratifiedMSE("g")]
)
def test_level_without_recaptures_gives_a_lower_bound(model: object) -> None:
    """By default the other levels are estimated (Lincoln-Petersen: 150 + 120, exact) and the 3
    people of the level without recaptures added: a lower bound of 273 with no upper limit."""
    df = _with_unestimable_level()
    res = model.fit(df, lists=["L1", "L2"])
    assert res.status_code == res.status == "lower_bound"
    assert res.estimate == pytest.approx(273.0, rel=1e-9)
    assert res.observed == len(df)
    assert res.ci_high is None and res.ci_low < 273
    assert res.diagnostics["unestimable_levels"] == "g = C"
    assert "lower bound" in res.interval_notes
    by = res.tables["by_level"].set_index("level")
    assert by.loc["C", "estimate"] == 3 and np.isnan(by.loc["C", "ci_high"])


# ---------------------------------------------------------------------------- validation


def test_input_problems_are_collected() -> None:
    df = _two_list_records()
    with pytest.raises(InputValidationError, match="covariate column not found"):
        HugginsMSE("age").fit(df, lists=["L1", "L2"])
    bad = df.copy()
    bad.loc[3, "L1"] = 2
    with pytest.raises(InputValidationError) as err:
        HugginsMSE("g").fit(bad, lists=["L1", "L2"])
    assert err.value.problems[0].row == 5  # spreadsheet row: header is row 1
    one = df.assign(g="A")
    with pytest.raises(InputValidationError, match="at least 2"):
        HugginsMSE("g").fit(one, lists=["L1", "L2"])
    with pytest.raises(ModelSpecificationError, match="parallel=True"):
        HugginsMSE("g", list_intercepts=False)
    with pytest.raises(ModelSpecificationError, match="unknown interval"):
        HugginsMSE("g").fit(df, lists=["L1", "L2"], interval="profile")
    with pytest.raises(ModelSpecificationError, match="list interaction"):
        CovariateLogLinearMSE("g", interactions="L1:L9").fit(df, lists=["L1", "L2"])
    with pytest.raises(ModelSpecificationError, match="unestimable"):
        HugginsMSE("g").fit(df, lists=["L1", "L2"], unestimable="drop")
    with pytest.raises(ModelSpecificationError, match="takes no option"):
        HugginsMSE("g").fit(df, lists=["L1", "L2"], n_jobs=2)
    with pytest.raises(ModelSpecificationError, match="missing-value policy"):
        HugginsMSE("g", missing="drop").fit(df, lists=["L1", "L2"])


def test_missing_values_as_a_level() -> None:
    df = _two_list_records()
    df.loc[[0, 1, 50, 60], "g"] = None
    rec = prepare_records(df, ["g"], lists=["L1", "L2"])
    assert rec.levels["g"] == ("A", "B", MISSING)
    assert rec.n_missing == {"g": 4}
    res = HugginsMSE("g").fit(df, lists=["L1", "L2"])
    assert list(res.tables["by_level"]["level"]) == ["A", "B", MISSING]


# ---------------------------------------------------------------------------- simulation


def test_simulate_covariates_truth_and_missingness() -> None:
    sim = simulate_covariates(
        20_000,
        3,
        covariates={"sex": {"F": 0.6, "M": 0.4}, "age": {"young": 0.5, "old": 0.5}},
        capture_probs=0.3,
        effects={"sex": {"M": [-1.0, -0.5, -1.5]}},
        missing={"sex": 0.1, "age": 0.0},
        missing_by_list={"L1": 0.5},
        seed=1,
    )
    assert sim.total == 20_000
    assert sim.truth_by_level["sex"].sum() == 20_000
    assert sim.truth_by_level["sex"]["F"] == pytest.approx(12_000, rel=0.03)
    seen = sim.records
    assert len(seen) == sim.data.n_observed
    # true values are kept in the population; the records lose some
    assert sim.population["sex"].notna().all()
    caught = seen[["L1", "L2", "L3"]]
    only_l1 = (caught["L1"] == 1) & (caught.sum(axis=1) == 1)
    not_l1 = caught["L1"] == 0
    # age: missing only where L1 alone caught the person and failed (probability 0.5)
    assert seen.loc[not_l1, "age"].notna().all()
    assert seen.loc[only_l1, "age"].isna().mean() == pytest.approx(0.5, abs=0.05)
    assert seen.loc[not_l1, "sex"].isna().mean() == pytest.approx(0.1, abs=0.02)
    # men are caught less often
    rate = seen.merge(sim.population[["person"]], on="person")["sex"].value_counts()
    assert rate["M"] / sim.truth_by_level["sex"]["M"] < rate["F"] / sim.truth_by_level["sex"]["F"]


def test_covariate_design_is_reproducible() -> None:
    d1, d2 = draw_covariate_design(21), draw_covariate_design(21)
    assert d1 == d2
    a, b = simulate_covariate_design(d1, 21), simulate_covariate_design(d2, 21)
    pd.testing.assert_frame_equal(a.records, b.records)
    assert 3 <= d1.k <= 5 and 2 <= len(d1.shares) <= 4
    share = len(a.records) / a.truth
    assert share == pytest.approx(d1.observed_share, abs=0.05)
    dm = draw_covariate_design(21, missing=True)
    assert 0.05 <= dm.missing <= 0.25 and len(dm.missing_by_list) == dm.k


def test_covariate_model_covers_where_the_blind_model_does_not() -> None:
    """One strong design (N = 20,000; the men are much harder to find on every list): the
    covariate-blind stepwise interval misses the truth far below, the covariate models' cover
    it. Not a coverage study (benchmarks/mse_covariates.py is), but each claim would fail if the
    covariate were ignored or the variance were wrong by a large factor."""
    from fl_estimate.mse import StepwiseMSE

    sim = simulate_covariates(
        20_000,
        4,
        covariates={"sex": {"F": 0.4, "M": 0.6}},
        capture_probs=[0.35, 0.3, 0.4, 0.25],
        effects={"sex": {"M": [-2.2, -1.8, -2.6, -2.0]}},
        seed=12,
    )
    lists = ["L1", "L2", "L3", "L4"]
    blind = StepwiseMSE().fit(sim.data)
    assert blind.ci_high < 0.9 * sim.truth
    for model in (HugginsMSE("sex"), CovariateLogLinearMSE("sex"), PostStratifiedMSE("sex")):
        res = model.fit(sim.records, lists=lists)
        assert res.ci_low < sim.truth < res.ci_high, model


def test_covariate_methods_through_the_registry_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """``fl-estimate mse FILE --method huggins --covariates sex`` on a per-person file gives
    VGAM's posbernoulli.t estimate (list-specific effects; same 1e-6 tolerance as above), and
    the two other covariate methods are reachable by name; a missing ``--covariates`` and
    ``--strata`` are errors (exit 2) before any fit."""
    from fl_estimate.cli import main
    from fl_estimate.mse import estimate

    ref = next(
        f
        for f in vgam_reference()["fits"]
        if (f["dataset"], f["model"]) == ("sex_k3", "list-specific")
    )
    path = str(VGAM / "sex_k3.csv")
    assert (
        main(["mse", path, "--method", "huggins", "--covariates", "sex", "--format", "json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "huggins" and out["observed"] == ref["n"]
    assert out["estimate"] == pytest.approx(ref["N_hat"], rel=1e-6)
    df, lists = read_set("sex_k3")
    via_api = estimate(df, "huggins", covariates="sex", lists=lists)
    assert via_api.estimate == pytest.approx(ref["N_hat"], rel=1e-6)
    for method, option in (("covariate-loglinear", "--covariates"), ("post-stratified", "--by")):
        assert main(["mse", path, "--method", method, option, "sex", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["method"] == method
    assert main(["mse", path, "--method", "huggins"]) == 2
    assert "needs option 'covariates'" in capsys.readouterr().err
    assert main(["mse", path, "--method", "huggins", "--covariates", "sex", "--strata", "sex"]) == 2
    assert "--strata does not apply" in capsys.readouterr().err
