"""The regularised-horseshoe prior of BayesLogLinear on a simulated population with known truth.

One horseshoe model graph is sampled in this file (4 lists, all six two-list interactions,
4 chains x 300 draws), plus one normal-prior fit of the same table for comparison; the other
tests only build models (no compilation).

The population: N = 2,000 people, four lists with capture probabilities 0.3, 0.25, 0.2, 0.3,
lists A and B dependent (odds ratio 4, so the true A:B log-linear interaction is log 4 = 1.386)
and every other pair independent (true interaction 0).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from fl_estimate.exceptions import ConvergenceWarning
from fl_estimate.mse.bayes.common import ESS_MIN, RHAT_MAX
from fl_estimate.mse.bayes.loglinear import BayesLogLinear
from fl_estimate.simulate import simulate

pytestmark = pytest.mark.bayes

TRUE_N = 2000
STRONG = "A:B"
NULL_TERMS = ["A:C", "A:D", "B:C", "B:D", "C:D"]
DRAWS = {"chains": 4, "draws": 300, "tune": 300}


def _population():
    return simulate(
        TRUE_N,
        ["A", "B", "C", "D"],
        capture_probs=[0.3, 0.25, 0.2, 0.3],
        dependence={("A", "B"): 4.0},
        seed=5,
    )


def _fit(model, data, **kw):
    """Fit, keeping any ConvergenceWarning (the tests check it against the diagnostics)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        res = model.fit(data, seed=1, **DRAWS, **kw)
    return res, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.fixture(scope="module")
def fits():
    data = _population().data
    # target_accept 0.95: the horseshoe's funnel needs small steps (the docstring's advice is
    # 0.99; 0.95 gives no divergences on this table and halves the run time)
    horseshoe = _fit(BayesLogLinear(prior="horseshoe"), data, target_accept=0.95)
    normal = _fit(BayesLogLinear(prior="normal"), data)
    return data, horseshoe, normal


def _interactions(res):
    coef = res.tables["coefficients"]
    return coef[coef["kind"] == "interaction"].set_index("term")


def test_default_global_scale_is_the_documented_closed_form():
    # Docstring: tau0 = (p0 / (D - p0)) / sqrt(n), p0 = 1 expected non-zero interaction out of
    # D, n = number observed (Piironen & Vehtari 2017, eq. 3.12, with the Poisson pseudo-sigma
    # 1/sqrt(mean count) folded into sqrt(n)). Read from the model graph: the scale of the
    # half-Cauchy prior on the global scale tau. Exact up to float rounding (rel 1e-12).
    data = _population().data
    n = data.n_observed
    # D = 1 would divide by zero (p0 = D): the code then uses p0 / (D - p0) = 1
    cases = [
        ("all", 6, (1 / 5) / math.sqrt(n)),
        (["A:B", "C:D", "B:D"], 3, (1 / 2) / math.sqrt(n)),
        (["A:B"], 1, 1 / math.sqrt(n)),
    ]
    for interactions, d, expected in cases:
        model = BayesLogLinear(interactions, prior="horseshoe").build_model(data)
        node = model["hs_tau"].owner
        assert "halfstudentt" in str(node.op).lower()
        nu, sigma = (float(i.data) for i in node.inputs[-2:])
        assert nu == 1.0  # half-Cauchy
        assert sigma == pytest.approx(expected, rel=1e-12), (d, sigma, expected)
        assert model["gamma"].type.shape[-1] in (d, None)
    # an explicit global scale is used as given
    model = BayesLogLinear(prior="horseshoe", global_scale=0.3).build_model(data)
    assert float(model["hs_tau"].owner.inputs[-1].data) == pytest.approx(0.3)
    # the slab: c^2 ~ InvGamma(slab_df / 2, slab_df * slab_scale^2 / 2) (P&V 2017, eq. 2.8)
    model = BayesLogLinear(prior="horseshoe", slab_scale=1.5, slab_df=6.0).build_model(data)
    alpha, beta = (float(i.data) for i in model["hs_c2"].owner.inputs[-2:])
    assert (alpha, beta) == pytest.approx((3.0, 6.0 * 1.5**2 / 2), rel=1e-6)  # float32 consts


def test_horseshoe_interval_covers_true_population_size(fits):
    # Deterministic given the seeds; the assertion fails if the model or N's posterior is wrong
    # (e.g. a sign error in the centring of the predictor moves N by hundreds).
    _, (res, _), _ = fits
    assert res.interval_kind == "credible-eti" and res.level == 0.95
    assert res.ci_low <= TRUE_N <= res.ci_high, res.interval
    assert res.estimate == pytest.approx(np.median(res.draws["posterior"]["N"].to_numpy()))
    # the posterior of N is not degenerate: its interval is wider than 2% of N and narrower
    # than 30% (a well-identified 4-list table with n ~ 1,400 observed)
    assert 0.02 * TRUE_N < res.ci_high - res.ci_low < 0.3 * TRUE_N


def test_true_dependence_is_found_and_kept_large(fits):
    # The slab keeps the one real interaction at its size: its 95% interval covers the truth
    # log 4 and lies far from zero (lower end > 0.5, |mean|/sd > 5).
    _, (res, _), _ = fits
    ab = _interactions(res).loc[STRONG]
    assert ab["q_low"] <= math.log(4.0) <= ab["q_high"], ab.to_dict()
    assert ab["q_low"] > 0.5 and ab["z"] > 5, ab.to_dict()


def test_null_interactions_are_shrunk_harder_than_under_the_normal_prior(fits):
    # Under N(0, 1) the null terms' posteriors are essentially the likelihood (sd about 0.14
    # here); the horseshoe's global scale tau0 = 0.2 / sqrt(n) ~ 0.005 pulls them to zero. On
    # this table the horseshoe's posterior sds are 0.35-0.45 times the normal prior's and the
    # summed |posterior means| about a tenth; the bounds (0.6 and 0.5) leave room for Monte
    # Carlo error (sds from 1,200 draws with ESS >= 300: relative error < 10%).
    _, (hs, _), (nrm, _) = fits
    h, n = _interactions(hs).loc[NULL_TERMS], _interactions(nrm).loc[NULL_TERMS]
    ratio = h["sd"] / n["sd"]
    assert ratio.median() < 0.6, ratio.to_dict()
    assert h["mean"].abs().sum() < 0.5 * n["mean"].abs().sum(), (h["mean"], n["mean"])
    # shrinkage is selective: the strong term's sd is not cut like the nulls' (within 30% of
    # the normal prior's), since the slab, not the global scale, governs it
    assert _interactions(hs).loc[STRONG, "sd"] > 0.7 * _interactions(nrm).loc[STRONG, "sd"]
    # and Silverman's thresholding at 2 keeps exactly the true term under the horseshoe
    from fl_estimate.mse.bayes.loglinear import significant_interactions

    assert significant_interactions(hs, 2.0) == [STRONG]


def test_horseshoe_diagnostics_are_reported_and_small(fits):
    # R-hat of N and of every coefficient below 1.02 (1.01 is the warning threshold for
    # final results; with 4 x 300 draws R-hat's own Monte Carlo noise is about 0.005, so this
    # short test run gets a little room); ESS of N at least 200 of 1,200 draws.
    _, (res, caught), _ = fits
    d = res.diagnostics
    for key in ("rhat_N", "ess_bulk_N", "ess_tail_N", "mcse_median_N", "divergences"):
        assert key in d, key
    assert d["rhat_N"] < 1.02 and d["max_rhat_coefficients"] < 1.02, d
    assert min(d["ess_bulk_N"], d["ess_tail_N"]) > 200, d
    # the funnel of the horseshoe: at most 1% divergent transitions at target_accept 0.95 (the
    # count moves by a few with the floating point of the compiled graph; a wrong scale or an
    # uncentred funnel gives tens to hundreds)
    assert d["divergences"] <= 12, d["divergences"]
    coef = res.tables["coefficients"]
    assert coef["rhat"].notna().all() and (coef["ess_bulk"] > 100).all()
    # the ConvergenceWarning fires exactly when the diagnostics cross the thresholds
    bad = d["rhat_N"] > RHAT_MAX or min(d["ess_bulk_N"], d["ess_tail_N"]) < ESS_MIN
    assert bool(caught) == bad, ([str(w.message) for w in caught], d)
    assert d["converged"] == (not bad)


def test_prior_settings_are_recorded(fits):
    data, (res, _), (nrm, _) = fits
    settings = res.provenance["settings"]
    assert settings["prior"] == "horseshoe"
    assert settings["slab_scale"] == 2.0 and settings["slab_df"] == 4.0
    # the user's setting (None: the default formula) and the value the model used
    assert settings["global_scale"] is None
    assert settings["global_scale_used"] == pytest.approx(0.2 / math.sqrt(data.n_observed))
    assert settings["interactions"] == ["A:B", *NULL_TERMS]
    assert settings["target_accept"] == 0.95 and len(settings["chain_seeds"]) == 4
    assert res.provenance["data_hash"] == data.data_hash
    assert "horseshoe prior" in res.model
    assert nrm.provenance["settings"]["prior"] == "normal" and "normal prior" in nrm.model
    assert "global_scale_used" not in nrm.provenance["settings"]


def test_horseshoe_without_interactions_has_no_horseshoe_scales():
    # Main effects only: nothing for the horseshoe to shrink, so the model must not carry (and
    # NUTS must not sample) the unused global, local and slab scales. Builds the graph only.
    data = _population().data
    model = BayesLogLinear(None, prior="horseshoe").build_model(data)
    names = {v.name for v in model.free_RVs}
    assert not names & {"hs_tau", "hs_lambda", "hs_c2", "hs_z"}, names
    assert {"centre", "beta"} <= names
