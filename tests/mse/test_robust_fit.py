"""Robust log-linear fitting (issue 19 item 6): IRLS with step-halving gives the same MLE from any
start, a singular information matrix is "no estimate" (never a LinAlgError), and a bootstrap
replicate that fails is counted and never ends the run."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from fl_estimate import read_capture_csv
from fl_estimate._typing import spawn_seeds
from fl_estimate.cli import main
from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.mse.loglinear import Table, fit_loglinear, irls, parse_model, stepwise
from fl_estimate.mse.loglinear.fit import inverse_information
from fl_estimate.mse.loglinear.intervals import bootstrap, replicate_counts
from fl_estimate.mse.options import IntervalOptions
from tests._refs import MSE_DATA

TABLES = sorted(p.stem for p in MSE_DATA.glob("*.csv"))


def _pairs(k: int) -> list[int]:
    return [(1 << i) | (1 << j) for i, j in combinations(range(k), 2)]


def _fit_or_none(table: Table, model: frozenset[int], **kw: object):  # type: ignore[no-untyped-def]
    try:
        return fit_loglinear(table, model, **kw)  # type: ignore[arg-type]
    except EstimateDoesNotExistError:
        return None


@pytest.mark.parametrize("name", TABLES)
def test_warm_start_gives_the_cold_start_mle(name: str) -> None:
    # Every one-pair extension of the independence model and of the stepwise model, fitted from
    # glm's start and warm-started from the smaller model (as stepwise does). Tolerances: both
    # runs stop at a relative deviance change below 1e-11 on a strictly convex deviance; on these
    # tables they agree to 1e-11 (estimates) and 1e-9 (coefficients), so 1e-8 and 1e-7 leave
    # room for the platform's rounding while still failing on a different optimum.
    table = Table.from_data(read_capture_csv(MSE_DATA / f"{name}.csv"))
    starts = [fit_loglinear(table, frozenset()), stepwise(table).fit]
    compared = 0
    for start in starts:
        for pair in _pairs(table.k):
            if pair in start.model:
                continue
            model = start.model | {pair}
            cold = _fit_or_none(table, model)
            warm = _fit_or_none(table, model, start=start)
            assert (cold is None) == (warm is None), model
            if cold is None or warm is None:
                continue
            compared += 1
            assert warm.converged and cold.converged
            assert warm.estimate == pytest.approx(cold.estimate, rel=1e-8)
            np.testing.assert_allclose(warm.coef, cold.coef, rtol=0, atol=1e-7)
    assert compared > 0


def test_the_new_orleans_replicate_that_diverged_from_its_warm_start() -> None:
    # Replicate 455 of the seed-1 bootstrap of stepwise on New Orleans: warm-started from the
    # independence fit, plain Fisher scoring left the MLE in its second step (|beta| 43, then a
    # singular system). With step-halving the warm start converges to the cold start's MLE
    # (same tolerance as above).
    table = Table.from_data(read_capture_csv(MSE_DATA / "new_orleans.csv"))
    estimate = stepwise(table).fit.estimate
    counts = replicate_counts(table, "nonparametric", None, estimate, spawn_seeds(1, 1000)[455])
    rep = table.with_counts(counts)
    model = parse_model("B:F", rep.lists)
    warm = fit_loglinear(rep, model, start=fit_loglinear(rep, frozenset()))
    cold = fit_loglinear(rep, model)
    assert warm.estimate == pytest.approx(cold.estimate, rel=1e-8)
    np.testing.assert_allclose(warm.coef, cold.coef, rtol=0, atol=1e-7)
    assert stepwise(rep).fit.converged


def test_irls_from_a_far_start_reaches_the_same_mle() -> None:
    # Starts a thousand times too large, and a thousand times too small, in every cell: the
    # halving keeps every iterate lowering the deviance, so the MLE is the cold start's (1e-7
    # on the coefficients, as above).
    table = Table.from_data(read_capture_csv(MSE_DATA / "uk_2013.csv"))
    fit = fit_loglinear(table, parse_model("LA:NG + PF:GO", table.lists))
    x = np.asarray([[((c & t) == t) for t in fit.terms] for c in table.cells], dtype=float)
    beta0, _mu, dev0, _it, conv0 = irls(x, table.y)
    assert conv0
    for scale in (1e3, 1e-3):
        beta, _mu, dev, _it, conv = irls(x, table.y, mu_start=(table.y + 1.0) * scale)
        assert conv
        np.testing.assert_allclose(beta, beta0, rtol=0, atol=1e-7)
        assert dev == pytest.approx(dev0, rel=1e-9)


def test_irls_offset_closed_form_and_as_a_fixed_column() -> None:
    # intercept-only Poisson model with offset log E: the MLE is log(sum y / sum E) exactly (the
    # score equation sum y = sum E exp(b)); tolerance 1e-10, IRLS's deviance criterion
    rng = np.random.default_rng(5)
    e = rng.uniform(0.5, 3.0, 40)
    y = rng.poisson(4.0 * e).astype(float)
    one = np.ones((40, 1))
    beta, mu, _dev, _it, conv = irls(one, y, offset=np.log(e))
    assert conv and beta[0] == pytest.approx(np.log(y.sum() / e.sum()), abs=1e-10)
    np.testing.assert_allclose(mu, e * y.sum() / e.sum(), rtol=1e-9)
    # a model with an offset is the full model with that column's coefficient held at 1: fit the
    # full model, then refit the rest with its fitted column as offset: same beta and deviance
    table = Table.from_data(read_capture_csv(MSE_DATA / "uk_2013.csv"))
    fit = fit_loglinear(table, parse_model("LA:NG", table.lists))
    x = np.asarray([[((c & t) == t) for t in fit.terms] for c in table.cells], dtype=float)
    b_full, _mu, d_full, _it, _c = irls(x, table.y)
    off = x[:, 1] * b_full[1]
    rest = np.delete(x, 1, axis=1)
    b_off, _mu, d_off, _it, conv = irls(rest, table.y, offset=off, mu_start=table.y + 0.5)
    assert conv and d_off == pytest.approx(d_full, rel=1e-9)
    np.testing.assert_allclose(b_off, np.delete(b_full, 1), rtol=1e-6, atol=1e-8)


def test_singular_information_is_no_estimate_not_linalgerror() -> None:
    # Fitted means of zero on every cell of a column: X' diag(mu) X is singular.
    x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    mu = np.array([2.0, 0.0, 0.0])
    with pytest.raises(EstimateDoesNotExistError, match="Fisher information is singular") as err:
        inverse_information(x, mu, "main effects + A:B")
    assert err.value.code == "not-identifiable"


class _FailsOnOddTotals:
    """A procedure whose fit fails (a singular matrix) on replicates with an odd total."""

    def __call__(self, table: Table) -> float:
        if int(table.n) % 2:
            raise np.linalg.LinAlgError("Singular matrix")
        return float(table.n)


def test_failed_replicates_are_counted_and_do_not_end_the_bootstrap() -> None:
    # Parametric replicates have a binomial total: about half are odd, and fail.
    table = Table.from_data(read_capture_csv(MSE_DATA / "korea.csv"))
    fitted = table.y.copy()
    opts = IntervalOptions(interval="bootstrap", n_boot=60, bootstrap="parametric", seed=3)
    boot = bootstrap(
        table, _FailsOnOddTotals(), estimate=200.0, options=opts.merged(n_jobs=1), fitted=fitted
    )
    odd = np.array(
        [
            int(replicate_counts(table, "parametric", fitted, 200.0, s).sum()) % 2
            for s in spawn_seeds(3, 60)
        ],
        dtype=bool,
    )
    assert boot.n_failed == int(odd.sum()) > 0
    assert np.isnan(boot.replicates[odd]).all() and np.isfinite(boot.replicates[~odd]).all()


@pytest.mark.slow
def test_cli_stepwise_bootstrap_on_new_orleans_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # Before step-halving this run ended with "LinAlgError: Singular matrix" (replicate 455).
    path = str(MSE_DATA / "new_orleans.csv")
    args = ["mse", path, "--method", "stepwise", "--interval", "bootstrap", "--seed", "1"]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["interval_kind"] == "bootstrap-bca"
    assert out["diagnostics"]["n_boot"] == 1000
    assert out["diagnostics"]["n_failed"] <= 500  # else there would be no interval
    assert out["ci_low"] < out["estimate"] < out["ci_high"]
