"""The exact independence Metropolis–Hastings sampler (``sampler="imh"``,
:mod:`fl_estimate.mse.bayes.imh`) beside PyMC's NUTS, closed forms, and its fallback.

Tolerances are Monte Carlo errors: a quantile of N from the independence sampler is compared
with the reference within 4 of the combined Monte Carlo standard errors (``mcse_*_N`` of both
runs, ArviZ's quantile MCSE), a bound an exact sampler exceeds with probability about 6e-5 per
comparison; the runs are seeded, so each test passes or fails every time.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from fl_estimate.mse.bayes import convergence as cv
from fl_estimate.mse.bayes import loglinear
from fl_estimate.mse.bayes.common import chain_diagnostics
from fl_estimate.mse.bayes.imh import LaplacePosterior, imh_problems, sample_imh
from fl_estimate.mse.bayes.loglinear import BayesLogLinear, design_matrix
from fl_estimate.mse.bayes.threshold import BayesThresholdMSE
from fl_estimate.mse.data import CaptureData, read_capture_csv
from tests._refs import MSE_DATA

pytestmark = pytest.mark.bayes

REFERENCE = json.loads((MSE_DATA / "bayes_pymc_reference.json").read_text())
FAST = {"chains": 4, "draws": 1000, "tune": 500, "sampler": "imh"}


def _within_mcse(res, ref: dict, what: str, k: float = 4.0) -> None:
    """Median and interval ends of N within ``k`` combined MCSEs of ``ref``."""
    d = res.diagnostics
    for name, ours, key in (
        ("median", res.estimate, "median"),
        ("ci_low", res.ci_low, "low"),
        ("ci_high", res.ci_high, "high"),
    ):
        theirs = ref["estimate"] if name == "median" else ref[name]
        tol = k * math.hypot(d[f"mcse_{key}_N"], ref[f"mcse_{key}_N"])
        assert abs(ours - theirs) <= tol, (
            f"{what} {name}: imh {ours:.1f} vs {theirs:.1f} (tol {tol:.1f})"
        )


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['table']}-{c['prior']}")
def test_imh_agrees_with_long_pymc_runs(case):
    # Reference: PyMC NUTS, 4 x 5,000 draws (benchmarks/bayes_fast.py --reference, recorded in
    # tests/data/mse/bayes_pymc_reference.json): same model, same posterior. N within 4
    # combined MCSEs; each coefficient's posterior mean within 4 combined standard errors of
    # the means (sd / sqrt(ESS) of each run), its sd within 10% (the thresholding ratio
    # |mean| / sd is what Bayesian thresholding decides on).
    data = read_capture_csv(MSE_DATA / f"{case['table']}.csv")
    res = BayesLogLinear(case["interactions"], prior=case["prior"]).fit(data, seed=3, **FAST)
    assert res.diagnostics["sampler_used"] == "imh"
    assert res.diagnostics["converged"]
    _within_mcse(res, case, case["table"])
    for row in res.tables["coefficients"].itertuples():
        ref = case["coefficients"][row.term]
        se = math.hypot(row.sd / math.sqrt(row.ess_bulk), ref["sd"] / math.sqrt(ref["ess_bulk"]))
        assert abs(row.mean - ref["mean"]) <= 4 * se, (row.term, row.mean, ref["mean"])
        assert row.sd == pytest.approx(ref["sd"], rel=0.10), row.term


def test_imh_agrees_with_pymc_run_beside_it():
    # Both samplers run here on the 3-list spina bifida table (PyMC 4 x 1,000 draws): N within
    # 4 combined MCSEs.
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    model = BayesLogLinear(["S1:S2"])
    nuts = model.fit(data, seed=1, chains=4, draws=1000, tune=500, sampler="pymc")
    imh = model.fit(data, seed=2, chains=4, draws=1000, tune=500)  # the default, "auto"
    ref = {"estimate": nuts.estimate, "ci_low": nuts.ci_low, "ci_high": nuts.ci_high}
    ref |= {k: nuts.diagnostics[k] for k in ("mcse_median_N", "mcse_low_N", "mcse_high_N")}
    _within_mcse(imh, ref, "spina_bifida_ny")
    assert nuts.diagnostics["sampler_used"] == "pymc"
    assert imh.diagnostics["sampler_used"] == "imh"
    assert set(imh.draws["posterior"].data_vars) == set(nuts.draws["posterior"].data_vars)


def _saturated_minus_top(counts: dict[tuple[int, ...], int], rng, n: int = 400_000):
    """Draws of the unobserved cell when every cell mean has a flat prior on its log: the
    means are independent Gamma(y_c, 1) a posteriori, and with every interaction but the
    K-list one in the model, log mu_0 = sum over observed cells c of (-1)^(|c|+1) log mu_c."""
    logmu0 = np.zeros(n)
    for pattern, y in counts.items():
        sign = 1 if sum(pattern) % 2 == 1 else -1
        logmu0 += sign * np.log(rng.gamma(y, 1.0, n))
    return np.exp(logmu0)


@pytest.mark.parametrize(
    ("cells", "interactions"),
    [
        ({(1, 0): 300, (0, 1): 200, (1, 1): 100}, None),  # 2 lists, independence
        (None, "all"),  # spina bifida, 3 lists, every pair
    ],
    ids=["two-lists", "three-lists"],
)
def test_flat_prior_posterior_in_closed_form(cells, interactions):
    # Flat priors on every log-linear parameter = flat priors on the log cell means (a linear
    # bijection when the model has every term but the K-list one), so the posterior of the
    # unobserved cell is a ratio of independent Gamma(y_c, 1) draws (400,000 of them: their
    # quantiles' Monte Carlo error is under a tenth of the sampler's). Tolerance 4 MCSEs of
    # the sampler plus 4 of the closed form's draws (binomial MCSE of a quantile).
    if cells is None:
        frame = pd.read_csv(MSE_DATA / "spina_bifida_ny.csv")
        lists = [c for c in frame.columns if c != "count"]
        cells = {
            tuple(int(v) for v in row[lists]): int(row["count"]) for _, row in frame.iterrows()
        }
    else:
        lists = ["a", "b"]
        frame = pd.DataFrame([(*k, v) for k, v in cells.items()], columns=[*lists, "count"])
    data = CaptureData.from_counts(frame)
    res = BayesLogLinear(interactions, prior="flat").fit(data, seed=4, **FAST)
    assert res.diagnostics["sampler_used"] == "imh"
    exact = data.n_observed + _saturated_minus_top(cells, np.random.default_rng(7))
    m = exact.size
    for q, ours, key in (
        (0.5, res.estimate, "median"),
        (0.025, res.ci_low, "low"),
        (0.975, res.ci_high, "high"),
    ):
        ref = float(np.quantile(exact, q))
        # the closed form's own MCSE: the order statistics one binomial sd either side
        lo, hi = np.quantile(
            exact, [q - math.sqrt(q * (1 - q) / m), q + math.sqrt(q * (1 - q) / m)]
        )
        tol = 4 * (res.diagnostics[f"mcse_{key}_N"] + (hi - lo) / 2)
        assert abs(ours - ref) <= tol, f"q={q}: imh {ours:.1f} vs exact {ref:.1f} (tol {tol:.1f})"


def test_same_seed_same_draws():
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    a = BayesThresholdMSE().fit(data, seed=5, sampler="imh")
    b = BayesThresholdMSE().fit(data, seed=5, sampler="imh")
    c = BayesThresholdMSE().fit(data, seed=6, sampler="imh")
    na, nb, nc = (r.draws["posterior"]["N"].to_numpy() for r in (a, b, c))
    assert np.array_equal(na, nb)
    assert a.estimate == b.estimate and a.interval == b.interval
    assert a.tables["threshold_statistics"].equals(b.tables["threshold_statistics"])
    assert not np.array_equal(na, nc)


def test_chain_streams_do_not_depend_on_the_number_of_chains():
    # chain i's stream is keyed under chain i's seed, so the first two chains of a 4-chain run
    # are those of a 2-chain run with the same seeds, when the thinning is the same (fixed here)
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    post = _posterior(data, "all")
    four = sample_imh(post, chains=4, draws=300, tune=100, seeds=[11, 12, 13, 14], thin=2)
    two = sample_imh(post, chains=2, draws=300, tune=100, seeds=[11, 12], thin=2)
    assert np.array_equal(four.theta[:2], two.theta)


def _posterior(data, interactions, prior_sd=1.0):
    x, xi = design_matrix(data.n_lists, loglinear.parse_interactions(interactions, data.lists))
    design = np.hstack([np.ones((x.shape[0], 1)), x, xi])
    prec = np.r_[np.zeros(1 + data.n_lists), np.full(xi.shape[1], 1 / prior_sd**2)]
    return LaplacePosterior.from_counts(design, data.cell_counts()[1:].astype(float), prec)


def test_poor_proposal_is_detected_on_new_orleans():
    # A constructed bad case, real data: every pair of New Orleans' 8 lists (37 parameters,
    # sparse cells); the t proposal is accepted under 30% of the time, and imh_problems says so.
    data = read_capture_csv(MSE_DATA / "new_orleans.csv")
    fit = sample_imh(_posterior(data, "all"), chains=4, draws=500, tune=500, seeds=[1, 2, 3, 4])
    problems = imh_problems(fit)
    assert fit.acceptance.min() < 0.3
    assert any("accepted" in p for p in problems)
    # the same draws from kosovo's posterior raise nothing
    kos = read_capture_csv(MSE_DATA / "kosovo.csv")
    good = sample_imh(_posterior(kos, "all"), chains=4, draws=500, tune=500, seeds=[1, 2, 3, 4])
    assert imh_problems(good) == []


def test_poor_proposal_falls_back_to_pymc(monkeypatch, caplog):
    # The fit asks for "imh" on New Orleans; the estimator hands the same model, inputs and
    # seeds to PyMC's NUTS (stood in for here by a fake that records the call and returns
    # Laplace draws, to keep the test fast), and the result says which sampler ran and why.
    data = read_capture_csv(MSE_DATA / "new_orleans.csv")
    real = loglinear.sample_nuts
    calls = []

    def spy(inputs, build, *, what, seeds, options):
        calls.append((options.sampler, list(seeds)))
        if options.sampler != "pymc":
            return real(inputs, build, what=what, seeds=seeds, options=options)
        from arviz_base import from_dict

        rng = np.random.default_rng(0)
        z = rng.standard_normal((options.chains, options.draws, inputs.posterior.mode.size))
        theta = inputs.posterior.theta(z)
        k = len(inputs.coords["list"])
        post = {
            "intercept": theta[..., 0],
            "beta": theta[..., 1 : 1 + k],
            "gamma": theta[..., 1 + k :],
        }
        return from_dict(
            {"posterior": post, "sample_stats": {"diverging": np.zeros(z.shape[:2], bool)}},
            coords=inputs.coords,
            dims={"beta": ["list"], "gamma": ["interaction"]},
        )

    monkeypatch.setattr(loglinear, "sample_nuts", spy)
    with caplog.at_level(logging.INFO, logger="fl_estimate.mse.bayes.loglinear"):
        res = BayesLogLinear().fit(data, seed=1, chains=2, draws=400, tune=200, sampler="imh")
    assert [c[0] for c in calls] == ["imh", "pymc"]
    assert calls[0][1] == calls[1][1]  # the same chain seeds
    assert res.diagnostics["sampler_used"] == "pymc"
    assert "accepted" in res.diagnostics["imh_fallback"]
    assert any("PyMC's NUTS instead" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("asked", ["imh", "auto"])
def test_horseshoe_prior_is_sampled_by_pymc(monkeypatch, asked):
    # the independence sampler takes normal and flat priors only
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    seen = []
    real = loglinear.sample_nuts

    def spy(inputs, build, *, what, seeds, options):
        seen.append(options.sampler)
        if options.sampler == "pymc":
            raise RuntimeError("stop: NUTS would run here")
        return real(inputs, build, what=what, seeds=seeds, options=options)

    monkeypatch.setattr(loglinear, "sample_nuts", spy)
    with pytest.raises(RuntimeError, match="NUTS would run"):
        BayesLogLinear(prior="horseshoe").fit(data, seed=1, sampler=asked)
    assert seen == [asked, "pymc"]


@pytest.mark.parametrize("phi", [0.0, 0.9])
def test_numpy_diagnostics_equal_arviz(phi):
    # convergence.py re-implements ArviZ's rank R-hat, bulk/tail ESS and quantile MCSE so a
    # fit need not import arviz_stats; same algorithms, so agreement to rounding (1e-12).
    az = pytest.importorskip("arviz_stats")
    rng = np.random.default_rng(int(phi * 10))
    e = rng.normal(size=(4, 801))
    x = np.zeros_like(e)
    for t in range(1, e.shape[1]):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    x = np.exp(x / 3) * 1000  # skewed, like N
    ties = rng.poisson(2, size=(3, 400)).astype(float)
    for arr in (x, ties):
        ours = chain_diagnostics(arr)
        assert ours["rhat_N"] == pytest.approx(float(az.rhat(arr)), rel=1e-12)
        assert ours["ess_bulk_N"] == pytest.approx(float(az.ess(arr, method="bulk")), rel=1e-12)
        assert ours["ess_tail_N"] == pytest.approx(
            float(az.ess(arr, method="tail", prob=(0.05, 0.95))), rel=1e-12
        )
        for key, p in (("mcse_median_N", 0.5), ("mcse_low_N", 0.025), ("mcse_high_N", 0.975)):
            assert ours[key] == pytest.approx(
                float(az.mcse(arr, method="quantile", prob=p)), rel=1e-12
            )
    assert math.isnan(cv.rhat(x[:1]))
