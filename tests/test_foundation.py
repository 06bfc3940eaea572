"""Results API, compare, simulator, CLI error contract, atomic outputs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fl_estimate import EstimationResult, compare, simulate
from fl_estimate.cli import main
from fl_estimate.exceptions import InputValidationError, ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from tests._refs import MSE_DATA

# ---------------------------------------------------------------------------- results


def _result(**kw: object) -> EstimationResult:
    base = dict(
        method="chapman",
        model="two lists",
        observed=100,
        estimate=150.5,
        interval=(120.0, 190.0),
        interval_kind="wald",
        diagnostics={"deviance": 1.5},
        provenance={"seed": 1},
    )
    base.update(kw)
    return EstimationResult(**base)  # type: ignore[arg-type]


def test_result_serialisations() -> None:
    r = _result()
    d = r.to_dict()
    assert {
        k: d[k]
        for k in ("method", "estimate", "ci_low", "ci_high", "interval_kind", "level", "status")
    } == {
        "method": "chapman",
        "estimate": 150.5,
        "ci_low": 120.0,
        "ci_high": 190.0,
        "interval_kind": "wald",
        "level": 0.95,
        "status": "ok",
    }
    json.dumps(d)  # JSON-safe
    f = r.to_frame()
    assert f.shape[0] == 1 and f.loc[0, "estimate"] == 150.5
    text = str(r.summary())
    assert "150.5" in text and "Wald interval on N" in text
    assert "<table>" in r._repr_html_()
    assert r.unobserved == pytest.approx(50.5)


def test_failed_result_has_no_number_and_json_has_null() -> None:
    r = EstimationResult.failed(
        method="loglinear",
        model="A:B",
        observed=96,
        reason="lists A and B ... no MLE",
        code="no-mle",
    )
    assert not r.ok and r.estimate is None
    d = r.to_dict()
    assert d["estimate"] is None and d["status"] == "lists A and B ... no MLE"
    assert d["status_code"] == "no-mle"


def test_open_interval_serialises_infinity_as_null() -> None:
    r = _result(interval=(120.0, float("inf")))
    assert r.to_dict()["ci_high"] is None


def test_compare_table_and_forest_plot() -> None:
    a, b = _result(), _result(method="lp", estimate=160.0, interval=(130.0, 200.0))
    fail = EstimationResult.failed(method="x", model="", observed=100, reason="r", code="no-mle")
    cmp = compare([a, b, fail])
    tab = cmp.to_frame()
    assert tab["name"].tolist() == ["chapman: two lists", "lp: two lists", "x"]
    assert tab["estimate"].iloc[:2].tolist() == [150.5, 160.0]
    assert np.isnan(tab["estimate"].iloc[2])
    ax = cmp.plot()
    assert len(ax.get_yticklabels()) == 3
    # the observed count is drawn as a vertical line, each estimate as a point
    xs = sorted(line.get_xdata()[0] for line in ax.get_lines() if len(line.get_xdata()) == 1)
    assert 150.5 in xs and 160.0 in xs
    plt.close("all")
    ax2 = a.plot()
    assert ax2.get_xlabel().startswith("Estimated population size")
    plt.close("all")


# ---------------------------------------------------------------------------- simulator


def test_simulator_is_seeded_and_truthful() -> None:
    s1 = simulate(3000, ["A", "B", "C"], capture_probs=0.3, seed=7)
    s2 = simulate(3000, ["A", "B", "C"], capture_probs=0.3, seed=7)
    assert s1.data == s2.data
    assert s1.truth == 3000 and len(s1.population) == 3000
    assert s1.data.n_observed == int(s1.population["observed"].sum())
    # P(seen) = 1 - 0.7^3 = 0.657; binomial sd on 3000 is about 26: 5 sd = 130
    assert abs(s1.data.n_observed - 3000 * (1 - 0.7**3)) < 130


def test_simulator_dependence_raises_overlap() -> None:
    # odds ratio 5 between A and B: P(B | A) = 5*(0.2/0.8) / (1 + 5*0.25) = 0.556
    sim = simulate(20000, ["A", "B"], capture_probs=0.2, dependence={("A", "B"): 5.0}, seed=3)
    pop = sim.population
    p_b_given_a = pop.loc[pop.A == 1, "B"].mean()
    p_b_given_not_a = pop.loc[pop.A == 0, "B"].mean()
    assert p_b_given_a == pytest.approx(0.5556, abs=0.03)  # ~4000 trials: sd 0.008
    assert p_b_given_not_a == pytest.approx(0.2, abs=0.02)


def test_simulator_latent_classes_and_strata() -> None:
    sim = simulate(
        {("North", 2024): 500, ("South", 2024): 1500},
        ["A", "B", "C"],
        capture_probs=[[0.05, 0.05, 0.05], [0.6, 0.6, 0.6]],
        class_weights=[0.8, 0.2],
        strata_names=["region", "year"],
        seed=11,
    )
    assert isinstance(sim.data, StratifiedCaptureData)
    assert sim.total == 2000
    assert sim.truth.loc[("South", 2024)] == 1500
    assert set(sim.data) <= {("North", 2024), ("South", 2024)}
    frac_class1 = (sim.population.latent_class == 1).mean()
    assert frac_class1 == pytest.approx(0.2, abs=0.03)


def test_simulator_rejects_bad_settings() -> None:
    with pytest.raises(ModelSpecificationError, match="strictly between 0 and 1"):
        simulate(100, 3, capture_probs=1.2)
    with pytest.raises(ModelSpecificationError, match="must come before"):
        simulate(100, ["A", "B"], dependence={("B", "A"): 2.0})


# ---------------------------------------------------------------------------- CLI


def test_cli_describe_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["describe", str(MSE_DATA / "korea.csv"), "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overview"][0]["observed"] == 123
    assert {r["list"]: r["n"] for r in out["lists"]} == {"b": 77, "c": 71, "d": 59}


def test_cli_describe_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", str(MSE_DATA / "uk_2013.csv")]) == 0
    out = capsys.readouterr().out
    assert "25 of 63 possible capture patterns observed." in out


def test_cli_malformed_file_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("A,B,count\n1,0,3\n1,x,-1\n")
    code = main(["describe", str(p)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("fl-estimate: error: 2 problems found in bad.csv")
    assert "row 3, column 'B'" in err


def test_cli_usage_error_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", "--no-such-option"]) == 2
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("fl-estimate ")


def test_cli_unexpected_error_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fl_estimate.mse.patterns as mpatterns

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaput")

    # the command imports its reader when it runs (fast start-up): patch it where it lives
    monkeypatch.setattr(mpatterns, "read_capture_arrays", boom)
    assert main(["describe", str(MSE_DATA / "korea.csv")]) == 1
    err = capsys.readouterr().err
    assert "unexpected error (RuntimeError: kaput)" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "describe", str(MSE_DATA / "korea.csv")])


def test_cli_demo_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--data", str(MSE_DATA / "kosovo.csv"), "--n-boot", "60"]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert {"overlaps.png", "estimates.png", "estimates.csv", "manifest.json"} <= set(names)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["inputs"]["kosovo.csv"]["sha256"]) == 64
    lists = pd.read_csv(out / "descriptives_lists.csv")
    raw = pd.read_csv(MSE_DATA / "kosovo.csv")
    expected = {c: int((raw[c] * raw["count"]).sum()) for c in raw.columns if c != "count"}
    assert dict(zip(lists["list"], lists["n"], strict=True)) == expected
    est = pd.read_csv(out / "estimates.csv")
    assert est["status"].eq("ok").all() and len(est) == 5


def test_cli_key_env_default_is_the_providers_constant() -> None:
    from fl_estimate.cli import providers as cli_providers
    from fl_estimate.providers.pseudonymise import KEY_ENV_VAR

    assert cli_providers.KEY_ENV_VAR == KEY_ENV_VAR


def test_cli_error_line_lists_up_to_five_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("A,B,count\n" + "".join(f"1,x{i},1\n" for i in range(7)))
    assert main(["describe", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.count("column 'B'") == 5 and err.rstrip().endswith("(and 2 more)")


def test_package_names_are_imported_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fl_estimate; assert 'pandas' not in sys.modules; "
        "import fl_estimate.simulate; "
        "assert fl_estimate.simulate is sys.modules['fl_estimate.simulate'].simulate; "
        "assert fl_estimate.CaptureData.__module__ == 'fl_estimate.mse.data'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_input_validation_error_one_line() -> None:
    err = InputValidationError(["a", "b"])
    assert err.one_line() == "2 problems found: a (and 1 more)"


def test_capture_data_repr_and_equality() -> None:
    d = CaptureData.from_counts(pd.DataFrame({"A": [1, 1], "B": [0, 1], "count": [3, 2]}))
    assert "observed=5" in repr(d)
    assert d != CaptureData.from_counts(pd.DataFrame({"A": [1, 1], "B": [0, 1], "count": [3, 1]}))
