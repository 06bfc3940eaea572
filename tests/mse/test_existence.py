"""Existence and identifiability of the extended MLE.

Reference: MultipleSystemsEstimation's ``check_extended_MLE`` verdicts in
tests/data/mse/existence/checks.csv (codes 0 exists, 1 Fienberg–Rinaldo fails, 2 not identifiable,
3 both), for every benchmark table and the reference's small synthetic tables built to fail.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_estimate import read_capture_csv
from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.mse.loglinear import (
    LogLinearMSE,
    Table,
    check_existence,
    design,
    fit_loglinear,
    fit_many,
    parse_model,
)
from fl_estimate.mse.loglinear.table import reduce_model
from tests._refs import MSE_DATA

CHECKS = pd.read_csv(MSE_DATA / "existence" / "checks.csv", keep_default_na=False)


@cache
def _table(dataset: str) -> Table:
    return Table.from_data(read_capture_csv(MSE_DATA / f"{dataset}.csv"))


def _model(dataset: str, interactions: str):  # type: ignore[no-untyped-def]
    return parse_model(interactions.replace(";", " + "), _table(dataset).lists)


@pytest.mark.parametrize("dataset", sorted(CHECKS["dataset"].unique()))
def test_every_reference_verdict(dataset: str) -> None:
    """The batched checker used by the model search agrees with every row (codes 0-3)."""
    rows = CHECKS[CHECKS["dataset"] == dataset]
    models = [_model(dataset, s) for s in rows["interactions"]]
    fits = fit_many(_table(dataset), models, resolve_codes=True)
    np.testing.assert_array_equal(fits.code, rows["code"].to_numpy())
    # where the extended MLE exists there is an estimate, and never where it does not
    assert np.all(np.isfinite(fits.estimate[fits.code == 0]))
    assert np.all(np.isnan(fits.estimate[fits.code != 0]))


def test_linear_program_on_a_sample_of_rows() -> None:
    """The single-model check (linear program always run) on every 8th row the reference marks
    as failing and every 40th passing row: the LP itself, not the batched fast path (which the
    test above runs on every row). Sampled to keep the suite fast: each LP costs ~5 ms."""
    fail = CHECKS[CHECKS["code"] != 0].iloc[::8]
    ok = CHECKS[CHECKS["code"] == 0].iloc[::40]
    for row in pd.concat([fail, ok]).itertuples():
        got = check_existence(_table(row.dataset), _model(row.dataset, row.interactions)).code
        assert got == row.code, (row.dataset, row.interactions)


def test_artificial_3_documented_cases() -> None:
    # SparseMSE's documentation of Artificial_3: all three pairs -> not identifiable;
    # A:B alone -> no MLE; A:C + B:C -> passes
    t = _table("artificial_3")
    assert check_existence(t, parse_model("A:B + A:C + B:C", t.lists)).code == 2
    assert check_existence(t, parse_model("A:B", t.lists)).code == 1
    assert check_existence(t, parse_model("A:C + B:C", t.lists)).code == 0
    res = LogLinearMSE("A:B").fit(read_capture_csv(MSE_DATA / "artificial_3.csv"))
    assert res.estimate is None and res.status_code == "no-mle"
    assert "Fienberg–Rinaldo" in res.status and "merge lists" in res.status
    res2 = LogLinearMSE("A:B + A:C + B:C").fit(read_capture_csv(MSE_DATA / "artificial_3.csv"))
    assert res2.status_code == "not-identifiable" and res2.estimate is None


def test_boundary_fit_is_fitted_not_refused() -> None:
    # UK 2013: LA and GP never overlap; a model with LA:GP is a boundary fit (code 0):
    # the cells with both lists are fitted at zero and the rest is an ordinary MLE
    data = read_capture_csv(MSE_DATA / "uk_2013.csv")
    t = Table.from_data(data)
    fit = fit_loglinear(t, parse_model("LA:GP + LA:NG", t.lists))
    la_gp = (t.cells & 0b10001) == 0b10001
    assert np.all(fit.mu[la_gp] == 0)
    assert fit.n_params == 1 + 6 + 2  # the -inf parameter counts in AIC/BIC
    assert [term for term, est, _ in fit.coefficients() if est == -np.inf] == ["LA:GP"]
    # the boundary fit equals an ordinary Poisson fit of main effects + LA:NG on the table with
    # the LA-and-GP cells removed by hand (statsmodels GLM, an independent implementation)
    import statsmodels.api as sm

    keep, _, alive = reduce_model(t, fit.model)
    assert alive.sum() == len(t.cells) - la_gp.sum()
    x = design(t, keep)[~la_gp]
    glm = sm.GLM(t.y[~la_gp], x, family=sm.families.Poisson()).fit(tol=1e-12)
    assert t.n + np.exp(glm.params[0]) == pytest.approx(fit.estimate, rel=1e-8)


def _diverges(table: Table, model) -> bool:  # type: ignore[no-untyped-def]
    """Brute force: Newton ascent on the Poisson log-likelihood (cells of zero-margin terms
    removed) for up to 300 damped steps. Where the MLE exists it converges; where it does not,
    the likelihood keeps increasing along a recession direction and the parameters run off."""
    keep, _, alive = reduce_model(table, model)
    x = design(table, keep)[alive]
    y = table.y[alive]
    beta = np.linalg.lstsq(x, np.log(y + 0.5), rcond=None)[0]

    def loglik(b: np.ndarray) -> float:
        eta = x @ b
        return float(y @ eta - np.exp(eta).sum())

    for _ in range(300):
        mu = np.exp(x @ beta)
        grad = x.T @ (y - mu)
        h = x.T @ (mu[:, None] * x) + 1e-12 * np.eye(len(beta))
        step = np.linalg.lstsq(h, grad, rcond=None)[0]
        t, cur = 1.0, loglik(beta)
        while loglik(beta + t * step) < cur - 1e-12 and t > 1e-8:
            t /= 2
        beta = beta + t * step
        if np.max(np.abs(beta)) > 60:
            return True
        if np.max(np.abs(t * step)) < 1e-10:
            return False
    return bool(np.max(np.abs(beta)) > 25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(3, 4).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.sampled_from([0, 0, 0, 1, 2, 5, 9]), min_size=2**k - 1, max_size=2**k - 1),
            st.sets(st.integers(0, k * (k - 1) // 2 - 1)),
        )
    )
)
def test_existence_check_against_brute_force(case: tuple[int, list[int], set[int]]) -> None:
    k, counts, chosen = case
    y = np.array([0, *counts], dtype=float)
    lists = [chr(65 + j) for j in range(k)]
    per_list = [(y[[c for c in range(1, 2**k) if c >> j & 1]]).sum() for j in range(k)]
    if min(per_list) == 0:
        return
    table = Table(y, lists)
    pairs = [(1 << i) | (1 << j) for i in range(k) for j in range(i + 1, k)]
    model = frozenset(pairs[i] for i in chosen)
    chk = check_existence(table, model)
    if chk.code & 2:
        return  # not identifiable: Newton's system is singular, nothing to compare
    assert bool(chk.code & 1) == _diverges(table, model)
    # and the estimator refuses exactly those
    try:
        fit_loglinear(table, model)
        refused = False
    except EstimateDoesNotExistError:
        refused = True
    assert refused == bool(chk.code & 1)


def test_reference_tables_cover_the_failure_codes() -> None:
    counts = defaultdict(int)
    for c in CHECKS["code"]:
        counts[int(c)] += 1
    assert set(counts) == {0, 1, 2, 3}
