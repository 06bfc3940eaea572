"""LCMCR-type latent-class Gibbs sampler: reference runs of the R package LCMCR, known truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import ConvergenceWarning, ModelSpecificationError
from fl_estimate.mse._bayes import fit_bayesian
from fl_estimate.mse.data import read_capture_csv
from fl_estimate.mse.lcmcr import LCMCR
from fl_estimate.simulate import simulate
from tests._refs import MSE_DATA, peer

pytestmark = pytest.mark.bayes

# Moderate runs (4 chains x 1,000 draws, thin 50, burn-in 5,000: 55,000 sweeps per chain, about
# 1-3 s per table on 2 cores). On these tables the measured Monte Carlo standard error of our
# median is <= 1% and of the 2.5%/97.5% quantiles <= 3% of the value (printed in the assertion
# message), well inside the tolerances of 4% (median) and 8% (quantiles).
MODERATE = {"chains": 4, "draws": 1000, "thin": 50, "burnin": 5000}


@pytest.mark.parametrize(
    "dataset",
    ["korea", "artificial_3", "madigan_york_5lists", "new_orleans_5lists"],
)
def test_agrees_with_stable_multi_seed_lcmcr_runs(dataset):
    # Reference: LCMCR 0.4.14 "lcmCR long runs over several seeds" (K*=10, a=b=0.25, five seeds of
    # 100,000 burn-in + 500,000 sweeps); only tables where that record is `stable` (seeds agree
    # within 3%, each ESS >= 400). Tolerance: 4% on the median, 8% on the 2.5%/97.5% quantiles.
    ref = peer(dataset, "LCMCR", "lcmCR long runs over several seeds")
    assert ref["stable"]
    data = read_capture_csv(MSE_DATA / f"{dataset}.csv")
    res = LCMCR().fit(data, seed=20240601, **MODERATE)
    d = res.diagnostics
    msg = (
        f"{dataset}: ours {res.estimate} {res.interval} vs LCMCR {ref['estimate']} "
        f"({ref['ci_low']}, {ref['ci_high']}); MCSE median {d['mcse_median_N']:.1f}, "
        f"low {d['mcse_low_N']:.1f}, high {d['mcse_high_N']:.1f}; R-hat {d['rhat_N']:.3f}"
    )
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.04), msg
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=0.08), msg
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=0.08), msg
    assert d["converged"], msg
    assert res.interval_kind == "credible-eti"


def test_result_shape_and_diagnostics():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    res = LCMCR().fit(data, seed=4, chains=2, draws=500, thin=40, burnin=2000)
    d = res.diagnostics
    for key in ("rhat_N", "ess_bulk_N", "ess_tail_N", "mcse_median_N", "chain_medians"):
        assert key in d
    assert d["chains"] == 2 and d["draws_per_chain"] == 500
    n = res.draws["posterior"]["N"].to_numpy()
    assert n.shape == (2, 500)
    assert n.min() >= data.n_observed  # N is never below the number observed
    # the estimate is the posterior median of the returned draws, the interval their quantiles
    assert res.estimate == np.median(n)
    assert res.interval == pytest.approx(tuple(np.quantile(n, [0.025, 0.975])))
    assert isinstance(res.tables["chains"], pd.DataFrame)
    assert res.provenance["settings"]["K"] == 10
    json.dumps(res.to_dict())  # the CLI's JSON contract: everything serialisable


def test_same_seed_same_draws_whatever_the_threads():
    data = read_capture_csv(MSE_DATA / "artificial_3.csv")
    kw = {"chains": 3, "draws": 200, "thin": 5, "burnin": 500}
    model = LCMCR()
    a = model.sample(data, seed=7, n_jobs=1, **kw)
    b = model.sample(data, seed=7, n_jobs=3, **kw)
    c = model.sample(data, seed=8, n_jobs=3, **kw)
    np.testing.assert_array_equal(a["n0"], b["n0"])  # exact: each chain owns its seed
    assert not np.array_equal(a["n0"], c["n0"])
    assert not np.array_equal(a["n0"][0], a["n0"][1])  # chains are independent streams


def test_heterogeneous_population_known_truth():
    # Two latent classes with very different catchability: independence under-estimates,
    # the latent-class model should cover the truth (N = 3,000).
    sim = simulate(
        3000,
        ["a", "b", "c", "d"],
        capture_probs=[[0.6, 0.5, 0.55, 0.6], [0.2, 0.25, 0.2, 0.2]],
        class_weights=[0.3, 0.7],
        seed=11,
    )
    res = LCMCR().fit(sim.data, seed=5, chains=4, draws=500, thin=40, burnin=5000)
    assert res.ci_low <= 3000 <= res.ci_high, (res.estimate, res.interval)
    # one simulated population: its posterior median is within 10% of the truth (the posterior
    # sd here is about 5%)
    assert abs(res.estimate / 3000 - 1) < 0.10
    assert res.diagnostics["converged"]


def test_short_run_warns_with_advice():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.warns(ConvergenceWarning, match=r"ESS of N .* rerun with more sweeps"):
        res = LCMCR().fit(data, seed=1, chains=2, draws=30, thin=1, burnin=0)
    assert res.diagnostics["converged"] is False


def test_cap_on_unobserved_is_respected():
    data = read_capture_csv(MSE_DATA / "artificial_3.csv")
    raw = LCMCR(max_unobserved_ratio=2.0).sample(
        data, seed=2, chains=2, draws=300, thin=10, burnin=1000
    )
    assert raw["n0"].max() <= 2 * data.n_observed  # the artificial_3 posterior reaches 8n


def test_bad_configuration():
    with pytest.raises(ModelSpecificationError, match="K"):
        LCMCR(K=0)
    with pytest.raises(ModelSpecificationError, match="a_alpha"):
        LCMCR(a_alpha=0)
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.raises(ModelSpecificationError, match="thin"):
        LCMCR().fit(data, thin=0)


def test_fit_bayesian_dispatch():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    res = fit_bayesian("lcmcr", data, chains=2, draws=400, seed=1)
    assert res.method == "lcmcr"
    assert res.diagnostics["chains"] == 2 and res.diagnostics["draws_per_chain"] == 400
    with pytest.raises(ModelSpecificationError, match="unknown Bayesian method"):
        fit_bayesian("mcmc", data, chains=2, draws=10, seed=1)


def test_trace_plot_draws_one_line_per_chain():
    import matplotlib.pyplot as plt

    from fl_estimate.mse._bayes import plot_trace

    data = read_capture_csv(MSE_DATA / "korea.csv")
    res = LCMCR().fit(data, seed=4, chains=2, draws=500, thin=40, burnin=2000)
    ax = plot_trace(res)
    assert len(ax.get_lines()) == 2 + 3  # two chains, median, two interval ends
    assert "R-hat" in ax.get_title()
    plt.close(ax.figure)


@pytest.mark.parametrize("dataset", ["korea", "spina_bifida_ny"])
def test_one_class_matches_closed_form_posterior(dataset):
    # With K* = 1 the model is the independence model with Beta(1, 1) capture probabilities
    # and p(N) ∝ 1/N, whose posterior is closed-form:
    # p(N | x) ∝ (1/N) N! / (N - n)! prod_j B(n_j + 1, N - n_j + 1).
    # Tolerance: 1% on the median, 2% on the 2.5%/97.5% quantiles (4 x 1,000 draws; MCSE of
    # the quantiles about 0.5%).
    from scipy.special import betaln, gammaln

    data = read_capture_csv(MSE_DATA / f"{dataset}.csv")
    n = data.n_observed
    nj = data.list_totals().to_numpy()
    grid = np.arange(n, 50 * n)
    lp = -np.log(grid) + gammaln(grid + 1) - gammaln(grid - n + 1)
    lp += sum(betaln(x + 1, grid - x + 1) for x in nj)
    cdf = np.cumsum(np.exp(lp - lp.max()))
    cdf /= cdf[-1]
    lo, med, hi = (grid[np.searchsorted(cdf, q)] for q in (0.025, 0.5, 0.975))
    res = LCMCR(K=1).fit(data, seed=9, chains=4, draws=1000, thin=5, burnin=1000)
    assert res.estimate == pytest.approx(med, rel=0.01)
    assert res.ci_low == pytest.approx(lo, rel=0.02)
    assert res.ci_high == pytest.approx(hi, rel=0.02)
