"""Closed-form estimators, simulated truth, the estimate() entry point and the `mse` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate import CaptureData, compare, read_capture_csv, simulate
from fl_estimate.cli import main
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.api import estimate
from fl_estimate.mse.closed_form import ChaoLowerBound, Chapman, LincolnPetersen
from fl_estimate.mse.loglinear import LogLinearMSE, StepwiseMSE
from tests._refs import MSE_DATA


def _two(n1: int, n2: int, m: int) -> CaptureData:
    df = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [n1 - m, n2 - m, m]})
    out = CaptureData.from_counts(df)
    assert isinstance(out, CaptureData)
    return out


def test_lincoln_petersen_and_chapman_closed_forms() -> None:
    data = _two(200, 150, 30)
    lp = LincolnPetersen().fit(data)
    assert lp.estimate == pytest.approx(200 * 150 / 30)  # 1000
    var = 200 * 150 * 170 * 120 / 30**3
    assert lp.diagnostics["variance"] == pytest.approx(var)
    # Chao (1987) log-normal interval on f0 = N - n
    n, f0 = 320, 1000 - 320
    c = np.exp(1.959963984540054 * np.sqrt(np.log(1 + var / f0**2)))
    assert lp.interval == pytest.approx((n + f0 / c, n + f0 * c))
    ch = Chapman().fit(data)
    assert ch.estimate == pytest.approx(201 * 151 / 31 - 1)
    assert ch.diagnostics["variance"] == pytest.approx(201 * 151 * 170 * 120 / (31**2 * 32))


def test_lincoln_petersen_on_poisson_model_equals_independence_loglinear() -> None:
    # with two lists the independence log-linear Poisson MLE is n1 n2 / m exactly
    data = _two(200, 150, 30)
    assert LogLinearMSE().fit(data).estimate == pytest.approx(1000.0, rel=1e-9)


def test_no_overlap_has_no_lincoln_petersen_estimate() -> None:
    res = LincolnPetersen().fit(_two(20, 15, 0))
    assert res.estimate is None and res.status_code == "no-overlap"
    assert Chapman().fit(_two(20, 15, 0)).estimate == pytest.approx(21 * 16 - 1)


def test_two_list_estimators_refuse_more_lists() -> None:
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    with pytest.raises(ModelSpecificationError, match="exactly 2 lists"):
        LincolnPetersen().fit(data)  # type: ignore[arg-type]


def test_chao_lower_bound() -> None:
    data = read_capture_csv(MSE_DATA / "uk_2013.csv")
    res = ChaoLowerBound().fit(data)
    f1, f2 = 2492, 241  # people on exactly one / two lists (descriptives test)
    assert res.estimate == pytest.approx(2744 + f1**2 / (2 * f2))
    # f2 = 0: bias-corrected form
    df = pd.DataFrame({"A": [1, 0, 0], "B": [0, 1, 0], "C": [0, 0, 1], "count": [5, 4, 3]})
    d = CaptureData.from_counts(df)
    r0 = ChaoLowerBound().fit(d)  # type: ignore[arg-type]
    assert r0.diagnostics["f2"] == 0 and r0.estimate == pytest.approx(12 + 12 * 11 / 2)


@pytest.mark.slow
def test_loglinear_methods_recover_simulated_truth() -> None:
    """Independence holds in the simulation, so the independence model's 95% Wald interval should
    cover the truth in about 95% of populations: 40 populations, expect at least 33 (binomial
    probability of fewer than 33 at p=0.95 is below 0.001)."""
    covered = 0
    for seed in range(40):
        sim = simulate(3000, 4, capture_probs=[0.15, 0.2, 0.1, 0.25], seed=seed)
        res = LogLinearMSE().fit(sim.data)  # type: ignore[arg-type]
        covered += res.ci_low <= 3000 <= res.ci_high
    assert covered >= 33


def test_positive_dependence_biases_independence_and_stepwise_corrects() -> None:
    # lists A and B strongly positively dependent: independence underestimates; the stepwise
    # model picks up A:B and its interval covers the truth
    sim = simulate(
        20000,
        ["A", "B", "C", "D"],
        capture_probs=[0.1, 0.1, 0.15, 0.2],
        dependence={("A", "B"): 8.0},
        seed=5,
    )
    ind = LogLinearMSE().fit(sim.data)  # type: ignore[arg-type]
    step = StepwiseMSE().fit(sim.data)  # type: ignore[arg-type]
    assert ind.ci_high < 20000
    assert "A:B" in step.model
    assert step.ci_low <= 20000 <= step.ci_high


def test_estimate_entry_point_and_compare() -> None:
    data = read_capture_csv(MSE_DATA / "western_us.csv")
    res = [estimate(data, m) for m in ("independence", "stepwise", "bic", "chao")]  # type: ignore[arg-type]
    assert [r.method for r in res] == ["independence", "stepwise", "bic", "chao"]
    tab = compare(res).to_frame()
    assert tab["estimate"].notna().all()
    with pytest.raises(ModelSpecificationError, match="unknown method"):
        estimate(data, "magic")  # type: ignore[arg-type]


def test_cli_mse_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["mse", str(MSE_DATA / "uk_2013_5lists.csv"), "--method", "stepwise", "--format", "json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "method",
        "model",
        "observed",
        "estimate",
        "ci_low",
        "ci_high",
        "interval_kind",
        "level",
        "status",
    ):
        assert key in out
    assert out["estimate"] == pytest.approx(11312.9902894352, rel=1e-6)  # SparseMSE
    assert out["interval_kind"] == "wald-log" and out["status"] == "ok"


# issue 20: the calibrated heterogeneity diagnosis fires on this table (a warning, not the
# point of this test)
@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.HeterogeneityWarning")
def test_cli_mse_profile_csv_and_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "mse",
                str(MSE_DATA / "kosovo.csv"),
                "--method",
                "independence",
                "--interval",
                "profile",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    frame = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    # Rcapture closedpCI.t Mt on Kosovo: [7147.7, 7656.2]
    assert frame.loc[0, "ci_low"] == pytest.approx(7147.74889204003, rel=1e-3)
    assert frame.loc[0, "interval_kind"] == "profile"
    assert (
        main(
            [
                "mse",
                str(MSE_DATA / "korea.csv"),
                "--method",
                "stepwise",
                "--interval",
                "bootstrap",
                "--n-boot",
                "50",
                "--seed",
                "3",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["interval_kind"] == "bootstrap-bca"
    assert out["provenance"]["seed"] == 3


def test_cli_mse_no_estimate_and_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "mse",
                str(MSE_DATA / "artificial_3.csv"),
                "--method",
                "loglinear",
                "--model",
                "A:B",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] is None and out["status"] != "ok"
    bad = tmp_path / "bad.csv"
    bad.write_text("A,B,count\n1,0,x\n")
    assert main(["mse", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 2, column 'count'" in err
    assert main(["mse", str(MSE_DATA / "kosovo.csv"), "--method", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_cli_mse_strata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = simulate(
        {"N": 800, "S": 1200}, ["A", "B", "C"], capture_probs=0.3, seed=2, strata_names=["region"]
    )
    p = tmp_path / "people.csv"
    sim.records[["A", "B", "C", "region"]].to_csv(p, index=False)
    assert (
        main(["mse", str(p), "--strata", "region", "--method", "independence", "--format", "json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [o["stratum"]["region"] for o in out] == ["N", "S"]
