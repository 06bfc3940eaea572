"""Greedy search with restarts (past the reference: 6-8 lists, three-list terms).

It is not exhaustive, so the tests check what it must find: on the 6-list benchmark tables the
exhaustive pairwise BIC optimum (MultipleSystemsEstimation's records: same model, BIC to 1e-6,
the same fits), and on simulated 6-8-list tables drawn from a log-linear model with a true
three-list interaction (large counts, so the term is clearly supported) that term.
"""

from __future__ import annotations

import numpy as np
import pytest

from fl_estimate import read_capture_csv
from fl_estimate.mse import estimate
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear import GreedySearchMSE, Table, greedy_search, msenotation
from tests._refs import MSE_DATA, peer


@pytest.mark.parametrize("name", ["uk_2013", "netherlands", "snowshoe_hare"])
def test_finds_exhaustive_pairwise_optimum_on_six_lists(name: str) -> None:
    ref = peer(name, "MultipleSystemsEstimation", "BIC over hierarchical models (default maxorder)")
    table = Table.from_data(read_capture_csv(MSE_DATA / f"{name}.csv"))
    res = greedy_search(table, max_order=2, restarts=5, seed=0)
    assert msenotation(res.best_model, 6) == ref["model"]
    assert res.best_value == pytest.approx(ref["BIC"], rel=1e-6)
    assert not res.exhaustive
    assert res.n_evaluated < 2000  # of 32,768 pairwise models


def _simulated(k: int, seed: int) -> tuple[Table, float]:
    """Poisson log-linear table: capture odds 0.3/0.7 on every list, L1:L2:L3 (+1.0) with its
    pairs (+0.5 each), and L4:L5 (+1.0); 5,000 never caught."""
    rng = np.random.default_rng(seed)
    cells = np.arange(1 << k)
    x = (cells[:, None] >> np.arange(k)) & 1
    eta = np.log(5000.0) + x @ np.full(k, np.log(0.3 / 0.7))
    eta = eta + 0.5 * (x[:, 0] * x[:, 1] + x[:, 0] * x[:, 2] + x[:, 1] * x[:, 2])
    eta = eta + 1.0 * x[:, 0] * x[:, 1] * x[:, 2] + 1.0 * x[:, 3] * x[:, 4]
    y = rng.poisson(np.exp(eta)).astype(float)
    y[0] = 0
    table = Table(y, [f"L{j + 1}" for j in range(k)])
    return table, table.n + 5000.0  # observed + the expected never-caught count


@pytest.mark.parametrize("k", [6, 7, 8])
def test_finds_true_three_list_interaction(k: int) -> None:
    table, _ = _simulated(k, seed=k)
    res = greedy_search(table, max_order=3, restarts=3, seed=0)
    assert 0b111 in res.best_model  # L1:L2:L3
    assert 0b11000 in res.best_model  # L4:L5
    # and nothing of order 3 that is not in the truth
    assert [t for t in res.best_model if t.bit_count() == 3] == [0b111]


# issue 20: the calibrated heterogeneity diagnosis fires on this table (a warning, not the
# point of this test)
@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.HeterogeneityWarning")
def test_estimator_result_says_not_exhaustive() -> None:
    table, truth = _simulated(7, seed=11)
    rows = []
    for c in range(1, 1 << 7):
        if table.y[c - 1] > 0:
            rows.append([(c >> j) & 1 for j in range(7)] + [int(table.y[c - 1])])
    import pandas as pd

    df = pd.DataFrame(rows, columns=[*table.lists, "count"])
    data = CaptureData.from_counts(df)
    res = estimate(data, "search", max_order=3)
    assert GreedySearchMSE().proc.max_order == 3
    assert res.status == "ok" and res.diagnostics["exhaustive"] is False
    assert "not exhaustive" in res.diagnostics["search_note"]
    assert res.ci_low <= truth <= res.ci_high
    assert res.conditional_on_model
