"""PyMC log-linear models: MultipleSystemsEstimation's Bayesian thresholding records, known truth.

Only three distinct model graphs are compiled in this file (3 lists with one interaction,
3 lists with all three, and the hierarchical model), each sampled with 4 chains x 1,000
draws or less; the slow part is PyTensor's compile, cached on disk after the first run.
"""

from __future__ import annotations

import json
import logging
import warnings

import arviz as az
import numpy as np
import pytest

from fl_estimate.exceptions import ConvergenceWarning, ModelSpecificationError
from fl_estimate.mse.bayes.hierarchical import BayesHierarchicalLogLinear
from fl_estimate.mse.bayes.loglinear import (
    BayesLogLinear,
    all_interactions,
    significant_interactions,
)
from fl_estimate.mse.data import read_capture_csv
from fl_estimate.simulate import simulate
from tests._refs import MSE_DATA, peer

pytestmark = pytest.mark.bayes

# PyMC's NUTS adaptation can overflow in its own quadpotential during the first tuning steps of
# the hierarchical model (a harmless RuntimeWarning inside pymc, not from our code).
PYMC_TUNING_OVERFLOW = "ignore:overflow encountered in dot:RuntimeWarning"


@pytest.fixture(scope="module")
def spina_full():
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    # PyMC's NUTS, the reference (the default, sampler="auto", is the independence sampler here)
    return data, BayesLogLinear().fit(data, seed=1, chains=4, draws=500, tune=500, sampler="pymc")


@pytest.mark.parametrize(
    ("dataset", "seed"),
    [("spina_bifida_ny", 1), ("korea", 2)],
)
def test_matches_multiple_systems_estimation_thresholding_fit(dataset, seed):
    # Reference: MultipleSystemsEstimation 1.2.0, Bayesian thresholding (Silverman 2020 s.6)
    # with its defaults: the retained interactions (record `model`) refitted with N(0, 1) priors
    # on interactions and flat main effects; estimate and interval are posterior quantiles of
    # n + exp(intercept). Same model => same posterior; tolerance 2% on the median, 4% on the
    # interval ends (our MCSE with 4 x 500 draws is about 0.3% / 1.5%, theirs is not recorded).
    ref = peer(dataset, "MultipleSystemsEstimation", "Bayesian thresholding")
    data = read_capture_csv(MSE_DATA / f"{dataset}.csv")
    terms = ref["model"].split(",")
    res = BayesLogLinear(interactions=terms).fit(data, seed=seed, chains=4, draws=500, tune=500)
    msg = f"ours {res.estimate:.1f} {res.interval} vs {ref['estimate']:.1f} ({ref['ci_low']:.1f}, {ref['ci_high']:.1f})"
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.02), msg
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=0.04), msg
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=0.04), msg
    assert res.diagnostics["converged"]
    assert res.interval_kind == "credible-eti"


def test_thresholding_summaries_select_the_reference_interaction(spina_full):
    # Fitting all two-way terms on the spina bifida table, MultipleSystemsEstimation keeps only
    # S1:S2 at threshold 2 (record `model` "S1:S2"); our |mean|/sd summaries pick the same.
    data, res = spina_full
    ref = peer("spina_bifida_ny", "MultipleSystemsEstimation", "Bayesian thresholding")
    assert significant_interactions(res, 2.0) == ref["model"].split(",")
    coef = res.tables["coefficients"]
    assert list(coef.loc[coef["kind"] == "interaction", "term"]) == all_interactions(data.lists)
    assert {"mean", "sd", "z", "rhat", "ess_bulk"} <= set(coef.columns)
    assert json.loads(json.dumps(res.to_dict()))["method"] == "bayes-loglinear"
    # the estimate is the median of N draws stored in the ArviZ tree, which ArviZ summarises
    n = res.draws["posterior"]["N"].to_numpy()
    assert res.estimate == pytest.approx(np.median(n))
    summary = az.summary(res.draws, var_names=["N", "intercept", "gamma"])
    assert summary.loc["N", "mean"] == pytest.approx(res.diagnostics["posterior_mean_N"])
    assert len(summary) == 1 + 1 + 3  # N, intercept, the three interactions


def test_same_seed_same_result_whether_compiled_or_reused(spina_full, caplog):
    # One compiled model per shape: after another table of the same shape (same lists, all
    # three interactions) the model is reused (the log says so), and refitting the first table
    # with its seed gives exactly its draws: the data inputs and the data-dependent starting
    # values are set on every fit, so the result does not depend on what was fitted before.
    data, res = spina_full
    other = simulate(3000, list(data.lists), capture_probs=0.3, seed=4).data
    name = "fl_estimate.mse.bayes.loglinear"
    with caplog.at_level(logging.INFO, logger=name):
        between = BayesLogLinear().fit(other, seed=1, chains=4, draws=500, tune=500, sampler="pymc")
        again = BayesLogLinear().fit(data, seed=1, chains=4, draws=500, tune=500, sampler="pymc")
    notes = [r.getMessage() for r in caplog.records if r.name == name]
    assert len(notes) == 2 and all(m.startswith("reusing the compiled") for m in notes), notes
    np.testing.assert_array_equal(
        again.draws["posterior"]["N"].to_numpy(), res.draws["posterior"]["N"].to_numpy()
    )
    assert again.estimate == res.estimate and again.interval == res.interval
    # and the table in between got its own answer (3,000 people; 95% interval covers it)
    assert between.ci_low <= 3000 <= between.ci_high, between.interval


def test_nutpie_samples_the_same_posterior_and_reuses_its_compile(spina_full, caplog):
    # nutpie (sampler="nutpie") is a second NUTS implementation of the same model: its median
    # and interval ends agree with PyMC's (the reference) within 2% / 4% (the MC error of either
    # with 4 x 500 draws is about 0.3% / 1.5%, as above); a second table of the same shape
    # reuses its compiled model, and the same seed gives the same draws.
    pytest.importorskip("nutpie")
    data, ref = spina_full
    name = "fl_estimate.mse.bayes.loglinear"
    opts = {"seed": 1, "chains": 4, "draws": 500, "tune": 500, "sampler": "nutpie"}
    with caplog.at_level(logging.INFO, logger=name):
        first = BayesLogLinear().fit(data, **opts)
        other = simulate(3000, list(data.lists), capture_probs=0.3, seed=4).data
        between = BayesLogLinear().fit(other, **opts)
        again = BayesLogLinear().fit(data, **opts)
    notes = [r.getMessage() for r in caplog.records if r.name == name]
    assert [m.split(" nutpie")[0] for m in notes] == [
        "compiling the",
        "reusing the compiled",
        "reusing the compiled",
    ], notes
    assert first.estimate == pytest.approx(ref.estimate, rel=0.02)
    assert first.ci_low == pytest.approx(ref.ci_low, rel=0.04)
    assert first.ci_high == pytest.approx(ref.ci_high, rel=0.04)
    assert first.diagnostics["converged"]
    np.testing.assert_array_equal(
        again.draws["posterior"]["N"].to_numpy(), first.draws["posterior"]["N"].to_numpy()
    )
    assert between.ci_low <= 3000 <= between.ci_high, between.interval


def test_unknown_sampler_is_named():
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    with pytest.raises(
        ModelSpecificationError, match="sampler must be one of auto, pymc, nutpie, imh"
    ):
        BayesLogLinear().fit(data, sampler="stan")


def test_bad_terms_are_named():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.raises(ModelSpecificationError, match="'b:z'"):
        BayesLogLinear(interactions=["b:c", "b:z"]).build_model(data)
    with pytest.raises(ModelSpecificationError, match="prior"):
        BayesLogLinear(prior="laplace")
    with pytest.raises(ModelSpecificationError, match="main_prior"):
        BayesLogLinear(main_prior=-1)


def test_compile_notice_is_one_log_record_not_stderr(capsys, caplog):
    # Library code does not write to stderr: the compile notice is one INFO record of the
    # module's logger, which the caller (the CLI) may show or not.
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    with caplog.at_level(logging.INFO, logger="fl_estimate.mse.bayes.loglinear"):
        res = BayesLogLinear().fit(data, chains=4, draws=250, seed=3, sampler="pymc")
    assert res.method == "bayes-loglinear" and res.diagnostics["draws_per_chain"] == 250
    ours = [r for r in caplog.records if r.name == "fl_estimate.mse.bayes.loglinear"]
    assert len(ours) == 1 and "PyMC model for 3 lists" in ours[0].getMessage()
    assert "fl_estimate" not in capsys.readouterr().err


@pytest.mark.filterwarnings(PYMC_TUNING_OVERFLOW)
def test_hierarchical_pools_small_strata_and_covers_truth():
    # Four strata with the same list behaviour (independent lists, equal capture probabilities
    # across strata): partial pooling must give the small strata narrower intervals than the
    # separate fits of the same model, and cover the truth. The full study (many replicates,
    # coverage) is benchmarks/bayes_hierarchical.py.
    # Nothing here depends on convergence luck: seeds are fixed and the chains run one after
    # the other in this process (cores=1), so the worker layout cannot change the draws; but
    # PyMC's draws do depend on the compiled graph's floating point, and with 4 x 300 draws the
    # R-hat of a stratum's N is 1.00-1.02 by Monte Carlo noise alone, so a ConvergenceWarning is
    # recorded, not raised, and R-hat is only required below 1.05 (a broken sampler or model
    # gives far more). The width comparison has a wide margin (pooled/separate about 0.55 on
    # this table; asserted < 0.9).
    sizes = {"north": 3000, "south": 800, "east": 300, "west": 150}
    sim = simulate(sizes, ["L1", "L2", "L3"], capture_probs=[0.3, 0.2, 0.25], seed=3)
    kw = {"seed": 1, "chains": 4, "draws": 300, "tune": 300, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        out = BayesHierarchicalLogLinear(interactions=None).fit_strata(sim.data, **kw)
        separate = BayesLogLinear(interactions=None, unobserved="poisson").fit(
            sim.data[("west",)], **kw
        )
    for key, size in sizes.items():
        res = out[(key,)]
        assert res.ci_low <= size <= res.ci_high, (key, res.interval)
        assert res.stratum == {"stratum": key}
        assert res.diagnostics["rhat_N"] < 1.05, (key, res.diagnostics)
    total = out["total"]
    assert total.ci_low <= sum(sizes.values()) <= total.ci_high
    assert len(total.tables["strata"]) == 4
    # the total's draws are an ArviZ tree: N (the total) and N_stratum
    summary = az.summary(total.draws, var_names=["N", "N_stratum"])
    assert summary.loc["N", "mean"] == pytest.approx(total.diagnostics["posterior_mean_N"])
    assert len(summary) == 1 + 4
    pooled = out[("west",)]
    width = lambda r: r.ci_high - r.ci_low  # noqa: E731
    assert width(pooled) < 0.9 * width(separate), (pooled.interval, separate.interval)


def test_hierarchical_fit_takes_the_options_of_fit_strata():
    # fit() is fit_strata()["total"]; an option neither knows is an error, not dropped.
    sim = simulate({"a": 300, "b": 200}, ["L1", "L2", "L3"], capture_probs=0.3, seed=1)
    with pytest.raises(TypeError, match="draw"):
        BayesHierarchicalLogLinear().fit_strata(sim.data, draw=10)
