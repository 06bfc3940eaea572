"""``fl-estimate mse --method auto|bic|search [--max-order N] [--top-models N]``: the JSON contract,
with the BIC bootstrap's table of limits against k. Reference values as in test_mse12_bic.py."""

from __future__ import annotations

import json

import pytest

from fl_estimate.cli import main
from tests._refs import MSE_DATA, peer

KEYS = {"method", "model", "observed", "estimate", "ci_low", "ci_high", "interval_kind", "level"}


def _run(capsys, *args: str) -> dict:  # type: ignore[no-untyped-def]
    rc = main(["mse", str(MSE_DATA / "korea.csv"), *args, "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_auto_point_estimate(capsys) -> None:  # type: ignore[no-untyped-def]
    d = _run(capsys, "--method", "auto")
    ref = peer("korea", "MultipleSystemsEstimation", "estimate_population(method='auto')")
    assert KEYS <= set(d) and d["status"] == "ok"
    assert d["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert d["diagnostics"]["chosen_method"] == "bic"
    assert d["diagnostics"]["chosen_max_order"] == 2
    assert d["diagnostics"]["models_searched"] == 8 and d["diagnostics"]["models_refused"] == 2


def test_bic_bootstrap_json_has_limits_by_k(capsys) -> None:  # type: ignore[no-untyped-def]
    d = _run(
        capsys,
        "--method",
        "bic",
        "--max-order",
        "2",
        "--top-models",
        "4",
        "--interval",
        "bootstrap",
        "--n-boot",
        "200",
        "--seed",
        "3",
    )
    rows = d["tables"]["limits_by_k"]
    assert [r["k"] for r in rows] == [1, 2, 3, 4]
    assert d["interval_kind"] == "bootstrap-bca"
    assert d["ci_low"] == rows[-1]["bca_0.025"] and d["ci_high"] == rows[-1]["bca_0.975"]
    assert d["diagnostics"]["top_models"] == 4


def test_bic_bootstrap_refuses_percentile(capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(
        [
            "mse",
            str(MSE_DATA / "korea.csv"),
            "--method",
            "bic",
            "--interval",
            "bootstrap",
            "--boot-interval",
            "percentile",
        ]
    )
    assert rc == 2
    assert "BCa" in capsys.readouterr().err
