"""LCMCR-type latent-class Gibbs sampler: reference runs of the R package LCMCR, known truth."""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import ConvergenceWarning, ModelSpecificationError
from fl_estimate.mse.bayes.lcmcr import LCMCR
from fl_estimate.mse.data import read_capture_csv
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
    # ArviZ reads the tree: its summary of N is that of the draws
    summary = az.summary(res.draws)
    assert set(summary.index) == {"N", "alpha", "k_star"}
    assert summary.loc["N", "mean"] == pytest.approx(n.mean(), abs=0.01)
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
        res = LCMCR().fit(data, seed=1, chains=2, draws=30, thin=1, burnin=0, adapt=False)
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


def test_progress_bar_changes_nothing_in_the_draws(capsys):
    # The run is cut into the same pieces whether or not a bar is shown, and the bar goes to
    # rich's console, not through warnings or the logger: same seed, same draws.
    # 30,000 sweeps per chain: two pieces of the run. Whether it converges does not matter here.
    data = read_capture_csv(MSE_DATA / "korea.csv")
    kw = {"seed": 3, "chains": 2, "draws": 500, "thin": 50, "burnin": 5000, "adapt": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        quiet = LCMCR().fit(data, **kw)
        shown = LCMCR().fit(data, progress=True, **kw)
    np.testing.assert_array_equal(
        quiet.draws["posterior"]["N"].to_numpy(), shown.draws["posterior"]["N"].to_numpy()
    )
    assert "fl_estimate" not in capsys.readouterr().err  # no library notice on stderr


def test_trace_plot_draws_one_line_per_chain():
    import matplotlib.pyplot as plt

    from fl_estimate.mse.bayes.common import plot_trace

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


# ---------------------------------------------------------------- adaptive length and tempering
def test_continued_chains_equal_one_long_run():
    # The adaptive rounds continue each chain from its state with its own random stream: two
    # pieces must give exactly the draws of one run of the same total length.
    data = read_capture_csv(MSE_DATA / "korea.csv")
    model = LCMCR()
    whole = model.sample(data, seed=3, chains=2, draws=200, thin=10, burnin=100)
    ch = model._chains(data, 3, 2)
    first = ch.run(100, 100, 10, 1, warm=100)
    second = ch.run(0, 100, 10, 2, warm=100)
    np.testing.assert_array_equal(whole["n0"], np.concatenate([first["n0"], second["n0"]], axis=1))


def test_truncated_likelihood_is_the_augmented_likelihood_summed_over_n():
    # The exchange moves use L(theta) = prod_c (pi_c / (1 - p0))^n_c, the likelihood once N is
    # summed out under p(N) ∝ 1/N. Check it against that sum done numerically (to n0 = 20,000,
    # where the terms are below 1e-300) for two random parameter values: the log-likelihood
    # differences must agree to 1e-8 (the sum's normalising constant cancels).
    from scipy.special import gammaln, logsumexp

    from fl_estimate.mse.bayes.lcmcr_kernels import truncated_loglik

    data = read_capture_csv(MSE_DATA / "korea.csv")
    keep = data.counts > 0
    cells = data.patterns[keep].astype(np.uint8)
    freq = data.counts[keep].astype(np.int64)
    n = int(freq.sum())
    rng = np.random.default_rng(0)

    def summed(lam, nu):
        pi = (nu * np.prod(np.where(cells[:, :, None] == 1, lam, 1 - lam), axis=1)).sum(axis=1)
        p0 = float((nu * np.prod(1 - lam, axis=0)).sum())
        n0 = np.arange(20_000)
        terms = -np.log(n + n0) + gammaln(n + n0 + 1) - gammaln(n0 + 1) + n0 * np.log(p0)
        return logsumexp(terms) + float(freq @ np.log(pi))

    vals = []
    for _ in range(2):
        lam = rng.uniform(0.05, 0.6, size=(3, 4))
        nu = rng.dirichlet(np.ones(4))
        vals.append((summed(lam, nu), truncated_loglik(cells, freq, lam, nu)))
    assert vals[0][0] - vals[1][0] == pytest.approx(vals[0][1] - vals[1][1], abs=1e-8)


def test_tempered_sampler_reproduces_the_plain_posterior():
    # Replica exchange changes how the chain moves, not what it targets: on a unimodal table
    # (madigan_york_5lists, LCMCR multi-seed record stable) the tempered fit must agree with
    # LCMCR's record at the tolerances (4% median, 8% quantiles), swap between every
    # pair of neighbouring replicas, and say it was tempered.
    ref = peer("madigan_york_5lists", "LCMCR", "lcmCR long runs over several seeds")
    data = read_capture_csv(MSE_DATA / "madigan_york_5lists.csv")
    res = LCMCR().fit(
        data,
        seed=5,
        tempering="always",
        temperatures=6,
        hottest=0.05,
        chains=2,
        draws=500,
        thin=20,
        burnin=2000,
    )
    d = res.diagnostics
    assert d["tempered"] and len(d["swap_rates"]) == 5
    assert min(d["swap_rates"]) > 0.05, d["swap_rates"]
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.04)
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=0.08)
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=0.08)
    assert res.provenance["settings"]["tempering"] == "always"


def test_chains_that_agree_in_location_are_extended_not_tempered():
    # A deliberately short first round (no burn-in, 200 unthinned draws) fails R-hat/ESS, but
    # the chains sit in one mode (korea's posterior is unimodal): adapt=True must continue the
    # plain chains with longer thinning until R-hat and ESS pass, without replica exchange,
    # and report every round.
    data = read_capture_csv(MSE_DATA / "korea.csv")
    res = LCMCR().fit(
        data, seed=2, chains=4, draws=200, thin=1, burnin=0, temperatures=4, hottest=0.1
    )
    rounds = res.tables["rounds"]
    assert rounds["rhat_N"].iloc[0] > 1.01 or rounds["ess_bulk_N"].iloc[0] < 100  # it failed
    assert (rounds["several_modes"] == "").all(), rounds
    assert not rounds["tempered"].any() and not res.diagnostics["tempered"]
    assert res.diagnostics["converged"], rounds
    assert list(rounds["sweeps_per_chain"]) == sorted(rounds["sweeps_per_chain"])
    # and the answer is LCMCR's (stable record; 4%)
    ref = peer("korea", "LCMCR", "lcmCR long runs over several seeds")
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.04)


def test_escalation_to_tempering_needs_evidence_of_several_modes():
    # The decision after a failed round, on synthetic draws: R-hat 1.05 alone (chains in one
    # place, mixing slowly) extends the plain chains; chains in separate modes switch to
    # replica exchange (unless tempering="never" or the budget would be exceeded).
    from fl_estimate.mse.bayes.common import chain_diagnostics, several_modes

    data = read_capture_csv(MSE_DATA / "korea.csv")
    model = LCMCR()
    rng = np.random.default_rng(4)
    e = rng.normal(size=(4, 1000))
    x = np.zeros((4, 1000))
    for t in range(1, 1000):  # AR(1), phi 0.95: sticky but unimodal
        x[:, t] = 0.95 * x[:, t - 1] + np.sqrt(1 - 0.95**2) * e[:, t]
    sticky = np.exp(np.log(150) + 0.2 * x)
    apart = sticky * np.array([[1.0], [1.0], [2.0], [2.0]])
    kw = dict(chains=4, draws=1000, thin=100, burnin=20_000, level=0.95, n_jobs=None)
    kw |= dict(adapt=True, max_sweeps=12_000_000, temperatures=16, hottest=0.01, swap_every=2)

    def step(n, tempering="auto", **extra):
        plan = model._plan(data, tempering=tempering, **(kw | extra))
        ch = model._chains(data, 1, 4)
        d = chain_diagnostics(n)
        action, more = model._next_step(d, several_modes(n), ch, plan, plan.thin, 500)
        return d["rhat_N"], action, more

    rhat, decision, more = step(sticky)
    assert rhat > 1.01 and decision == "extend"
    # sized from the ESS per draw: the 500 carried draws plus `more` should give 1.25 x 400
    ess = min(chain_diagnostics(sticky)["ess_bulk_N"], chain_diagnostics(sticky)["ess_tail_N"])
    assert 500 + more == pytest.approx(min(max(500 * 1000 / ess, 2000), 8000), abs=1)
    rhat, decision, _ = step(apart)
    assert rhat > 1.01 and decision == "temper"
    assert step(apart, tempering="never")[1] == "extend"
    assert step(apart, max_sweeps=100_000)[1] == "stop"  # 16 copies would exceed the budget


def test_tempering_refused_with_a_cap():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.raises(ModelSpecificationError, match="max_unobserved_ratio"):
        LCMCR(max_unobserved_ratio=5).fit(data, tempering="always")
    with pytest.raises(ModelSpecificationError, match="tempering"):
        LCMCR().fit(data, tempering="sometimes")
