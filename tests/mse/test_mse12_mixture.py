"""Latent-class ML with a profile interval, and the strong-heterogeneity warning.

- one class is the independence model: its multinomial MLE of N is Rcapture's Mt estimate
  (closedpCI.t, same likelihood; tolerance 1e-4 relative, the profile optimiser's xatol).
- simulated truth: a homogeneous population (interval closed and covering), and strong
  heterogeneity (30% caught 40% of the time per list, 70% only 3%): the upper end is open or N is
  not identified, and what the data do support (the lower end) is below the truth.
- the warning fires on the strong-heterogeneity population and on none of the 15 benchmark tables.
"""

from __future__ import annotations

import warnings

import pytest

from fl_estimate import read_capture_csv
from fl_estimate.mse import estimate
from fl_estimate.mse.heterogeneity.diagnosis import check_heterogeneity
from fl_estimate.mse.latent_class import HeterogeneityWarning, LatentClassMSE
from fl_estimate.simulate import simulate
from tests._refs import BENCHMARK_TABLES, MSE_DATA, peer

STRONG = dict(capture_probs=[[0.4] * 5, [0.03] * 5], class_weights=[0.3, 0.7])


def test_one_class_is_rcapture_mt() -> None:
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    ref = peer("kosovo", "Rcapture", "closedpCI.t Mt")
    res = LatentClassMSE(n_classes=1).fit(data)
    assert res.estimate == pytest.approx(ref["estimate"], rel=1e-4)
    assert res.interval_kind == "profile" and res.ci_high is not None


def test_homogeneous_population_closed_interval_covers() -> None:
    # 95% intervals on 10 independent populations: at least 8 must cover (P(fewer) ~ 1%)
    covered = 0
    for seed in range(10):
        sim = simulate(3000, 5, capture_probs=0.25, seed=seed)
        res = LatentClassMSE(n_classes=1).fit(sim.data)
        assert res.ci_high is not None
        covered += res.ci_low <= sim.truth <= res.ci_high
    assert covered >= 8


def test_strong_heterogeneity_warns_and_interval_is_open() -> None:
    sim = simulate(5000, 5, seed=1007, **STRONG)
    with pytest.warns(HeterogeneityWarning, match="lower bound"):
        res = estimate(sim.data, "independence")
    assert res.diagnostics["heterogeneity_flag"] is True
    # the log-linear answer is far below the truth with a confident interval ...
    assert res.ci_high < sim.truth
    # ... while the latent-class profile says the upper end is not identified
    lc = LatentClassMSE().fit(sim.data)
    if lc.status == "ok":
        assert lc.ci_high is None and "not identified" in lc.interval_notes
        assert lc.ci_low <= sim.truth
    else:
        assert lc.status_code == "not-identified"
        assert lc.diagnostics["profile_lower"] <= sim.truth


#: Tables the calibrated diagnosis flags (issue 20 replaced the fixed-threshold screen, which
#: flagged none): snowshoe hare is Otis et al. (1978)'s textbook case of heterogeneity (model Mh),
#: Kosovo the table LCMCR was made for, Allegheny lesbians (Cormack 1989) a three-list-plus case
#: where the many-list patterns outrun every pairwise model.
FLAGGED = {"snowshoe_hare", "kosovo", "lesbian_allegheny"}


@pytest.mark.parametrize("name", BENCHMARK_TABLES)
def test_benchmark_tables_flags(name: str) -> None:
    data = read_capture_csv(MSE_DATA / f"{name}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HeterogeneityWarning)
        diag = check_heterogeneity(data)
    if data.n_lists < 3:
        assert diag is None
    else:
        assert diag.flag is (name in FLAGGED)
