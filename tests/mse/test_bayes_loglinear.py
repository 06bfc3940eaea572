"""PyMC log-linear models: MultipleSystemsEstimation's Bayesian thresholding records, known truth.

Only three distinct model graphs are compiled in this file (3 lists with one interaction,
3 lists with all three, and the hierarchical model), each sampled with 4 chains x 1,000
draws or less; the slow part is PyTensor's compile, cached on disk after the first run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse._bayes import fit_bayesian
from fl_estimate.mse.bayes_loglinear import (
    BayesHierarchicalLogLinear,
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
    return data, BayesLogLinear().fit(data, seed=1, chains=4, draws=500, tune=500)


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
    # the estimate is the median of N draws stored in the ArviZ tree
    n = res.draws["posterior"]["N"].to_numpy()
    assert res.estimate == pytest.approx(np.median(n))


def test_same_seed_same_result(spina_full):
    data, res = spina_full
    again = BayesLogLinear().fit(data, seed=1, chains=4, draws=500, tune=500)
    assert again.estimate == res.estimate and again.interval == res.interval


def test_bad_terms_are_named():
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.raises(ModelSpecificationError, match="'b:z'"):
        BayesLogLinear(interactions=["b:c", "b:z"]).build_model(data)
    with pytest.raises(ModelSpecificationError, match="prior"):
        BayesLogLinear(prior="laplace")
    with pytest.raises(ModelSpecificationError, match="main_prior"):
        BayesLogLinear(main_prior=-1)


def test_compile_notice_is_one_line(capsys):
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    res = fit_bayesian("bayes-loglinear", data, chains=4, draws=250, seed=3)
    assert res.method == "bayes-loglinear" and res.diagnostics["draws_per_chain"] == 250
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if line.startswith("fl_estimate: compiling")]
    assert len(notices) == 1


@pytest.mark.filterwarnings(PYMC_TUNING_OVERFLOW)
def test_hierarchical_pools_small_strata_and_covers_truth():
    # Four strata with the same list behaviour (independent lists, equal capture probabilities
    # across strata): partial pooling must give the small strata narrower intervals than the
    # separate fits of the same model, and cover the truth. The full study (many replicates,
    # coverage) is benchmarks/bayes_hierarchical.py.
    sizes = {"north": 3000, "south": 800, "east": 300, "west": 150}
    sim = simulate(sizes, ["L1", "L2", "L3"], capture_probs=[0.3, 0.2, 0.25], seed=3)
    out = BayesHierarchicalLogLinear(interactions=None).fit_strata(
        sim.data, seed=1, chains=4, draws=300, tune=300
    )
    for key, size in sizes.items():
        res = out[(key,)]
        assert res.ci_low <= size <= res.ci_high, (key, res.interval)
        assert res.stratum == {"stratum": key}
    total = out["total"]
    assert total.ci_low <= sum(sizes.values()) <= total.ci_high
    assert len(total.tables["strata"]) == 4
    separate = BayesLogLinear(interactions=None, unobserved="poisson").fit(
        sim.data[("west",)], seed=1, chains=4, draws=300, tune=300
    )
    pooled = out[("west",)]
    width = lambda r: r.ci_high - r.ci_low  # noqa: E731
    assert width(pooled) < width(separate)
