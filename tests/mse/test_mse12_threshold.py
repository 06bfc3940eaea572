"""Bayesian thresholding against MultipleSystemsEstimation 1.2 and simulated truth.

Tolerance 5% against the reference's records: it ran one random-walk Metropolis chain of 10,000
draws (MCMCpack), whose own Monte Carlo error on the median and the 2.5%/97.5% quantiles of N is
a few per cent; ours (NUTS, 4 x 1,000 draws) is well under 1% on the median. spina_bifida_ny's
two model graphs (all three pairs; S1:S2 alone) are those of tests/mse/test_bayes_loglinear.py,
so PyTensor's compile cache is shared; western_us adds two graphs (ten pairs; A:E); the other tests use one simulated 4-list table (true
A:B:C interaction) and a variant of it, so that the proper and flat fits share graphs too.
Every table: benchmarks/mse_bayes_threshold.py.
"""

from __future__ import annotations

import itertools

import arviz as az
import numpy as np
import pandas as pd
import pytest

from fl_estimate import read_capture_csv
from fl_estimate.exceptions import (
    DataWarning,
    EstimateDoesNotExistError,
    ModelSpecificationError,
)
from fl_estimate.mse.api import estimate
from fl_estimate.mse.bayes.loglinear import BayesLogLinear
from fl_estimate.mse.bayes.threshold import BayesThresholdMSE, eligible_triples
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear import fit_loglinear, parse_model
from tests._refs import MSE_DATA, peer

pytestmark = pytest.mark.bayes

TRUE_N = 6000
FAST = {"chains": 4, "draws": 500, "tune": 500}


def _triple_table(seed: int = 2) -> CaptureData:
    """6,000 people on lists A-D: pairs A:B, A:C, B:C at +0.7 and a three-list A:B:C at +0.8 on
    the log scale, D independent; about a third are on no list. Multinomial, so the population
    is exactly TRUE_N. (The pairwise fit of this table gives A:B, A:C, B:C ratios near 15 and
    the D pairs under 1.5; the pairwise model's N is about 6,500, 8% high.)"""
    cells = np.array(list(itertools.product([0, 1], repeat=4)))
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    eta = (
        cells @ np.array([-1.5, -1.5, -1.5, -1.0]) + 0.7 * (a * b + a * c + b * c) + 0.8 * a * b * c
    )
    p = np.exp(eta) / np.exp(eta).sum()
    counts = np.random.default_rng(seed).multinomial(TRUE_N, p)
    df = pd.DataFrame(cells, columns=list("ABCD"))
    df["count"] = counts
    return CaptureData.from_counts(df[cells.sum(axis=1) > 0], source="simulated A:B:C table")


@pytest.fixture(scope="module")
def triple_table() -> CaptureData:
    return _triple_table()


@pytest.fixture(scope="module")
def proper_order3(triple_table: CaptureData):
    return BayesThresholdMSE(max_order=3).fit(triple_table, seed=3, **FAST)


def test_thresholding_matches_reference_on_spina_bifida() -> None:
    ref = peer("spina_bifida_ny", "MultipleSystemsEstimation", "Bayesian thresholding")
    data = read_capture_csv(MSE_DATA / "spina_bifida_ny.csv")
    res = BayesThresholdMSE().fit(data, seed=1, chains=4, draws=1000, tune=500)
    assert res.diagnostics["retained_interactions"] == ref["model"]
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.05)
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=0.05)
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=0.05)
    assert res.interval_kind == "credible-eti" and res.method == "bayes-threshold"
    assert res.diagnostics["rhat_N"] < 1.01 and res.diagnostics["ess_bulk_N"] > 400
    stats = res.tables["threshold_statistics"]
    assert list(stats.loc[stats["kept"], "term"]) == ["S1:S2"]
    assert (stats.loc[~stats["kept"], "ratio"] < 2).all()


def test_thresholding_matches_reference_on_five_lists() -> None:
    # western_us (5 lists, 10 candidate pairs): the reference keeps A:E alone. Same 5% tolerance
    # (the reference's own Monte Carlo error is a few per cent); the other 13 tables are compared
    # in benchmarks/mse_bayes_threshold.py (12 within 1.5%; netherlands and new_orleans explained
    # in docs/mse.md).
    ref = peer("western_us", "MultipleSystemsEstimation", "Bayesian thresholding")
    data = read_capture_csv(MSE_DATA / "western_us.csv")
    res = BayesThresholdMSE().fit(data, seed=1, chains=4, draws=1000, tune=500)
    assert res.diagnostics["retained_interactions"] == ref["model"] == "A:E"
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.05)
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=0.05)
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=0.05)
    assert res.diagnostics["rhat_N"] < 1.01


def test_order_3_keeps_a_true_three_list_interaction(triple_table, proper_order3) -> None:
    # Known truth: the population is exactly 6,000 and the table was drawn from a model with
    # A:B:C. The pairs are strong (ratios about 15 in the pairwise fit), so all three are kept;
    # A:B:C is then the one eligible triple and its ratio (about 6.6 at the MLE) keeps it. The
    # credible interval must cover 6,000 (a 95% interval; the seed is fixed, so this is
    # deterministic, and the margin is wide: the estimate sits within 3% of the truth).
    res = proper_order3
    d = res.diagnostics
    assert d["retained_interactions"] == "A:B, A:C, B:C"
    assert d["eligible_triples"] == "A:B:C"
    assert d["retained_triples"] == "A:B:C"
    tri = res.tables["triple_threshold_statistics"]
    assert tri["term"].tolist() == ["A:B:C"] and tri["ratio"].iloc[0] > 3
    assert tri["mean"].iloc[0] == pytest.approx(0.8, abs=0.3)  # truth 0.8; its sd is ~0.12
    assert res.ci_low <= TRUE_N <= res.ci_high, res.interval
    assert res.estimate == pytest.approx(TRUE_N, rel=0.05)
    assert "A:B:C" in res.model and d["rhat_N"] < 1.01
    # the final fit's ArviZ tree, with N
    assert az.summary(res.draws, var_names=["N"]).loc["N", "mean"] == pytest.approx(
        d["posterior_mean_N"]
    )
    # The same model by classical MLE gives nearly the same N (the proper N(0, 1) prior barely
    # moves interactions with this much data): within 3%.
    mle = fit_loglinear(triple_table, parse_model("A:B:C", triple_table.lists))
    assert res.estimate == pytest.approx(mle.estimate, rel=0.03)


def test_improper_prior_nearly_agrees_with_proper_on_a_rich_table(
    triple_table, proper_order3
) -> None:
    # Every pair overlaps by hundreds of people: the N(0, 1) prior is worth one observation's
    # information against hundreds, so proper and flat priors keep the same terms and their
    # posterior medians differ by far less than the interval (allowed: 2%, about a fifth of
    # the interval's half-width; Monte Carlo error of each median is about 0.3%). With flat
    # priors on everything the posterior median of N is close to the MLE's N (Laplace:
    # median of exp(intercept) = exp(mode)): within 2%.
    proper = proper_order3
    flat = BayesThresholdMSE(prior="improper", max_order=3).fit(triple_table, seed=3, **FAST)
    for key in ("retained_interactions", "retained_triples"):
        assert flat.diagnostics[key] == proper.diagnostics[key]
    assert flat.diagnostics["minus_infinite_interactions"] == "none"
    assert flat.estimate == pytest.approx(proper.estimate, rel=0.02)
    assert flat.ci_high == pytest.approx(proper.ci_high, rel=0.05)
    mle = fit_loglinear(triple_table, parse_model("A:B:C", triple_table.lists))
    assert flat.estimate == pytest.approx(mle.estimate, rel=0.02)
    assert "improper prior" in flat.model


def test_order_3_matches_reference_vignette_on_kosovo() -> None:
    # MultipleSystemsEstimation 1.2 vignette "Bayesian-thresholding multiple systems estimation":
    # Kosovo, maxorder = 3, threshold = 2.5: the five pairs kept, eligible EXH:ABA:OSCE and
    # EXH:OSCE:HRW (ratios 4.26 and 2.45), EXH:ABA:OSCE kept; N 10,314 (9,032-12,095).
    # Tolerance 5% on N (the reference's one random-walk chain has a Monte Carlo error of a few
    # per cent). The ratios: EXH:ABA:OSCE within 15%: ours is 3.8-3.9 (NUTS, Monte Carlo error
    # about 0.1 with 4 x 500 draws), theirs 4.26. A random-walk chain of 10,000 correlated draws
    # under-explores a skewed posterior's long tail, so its sd is small and its ratios high; the
    # same happens on Western and UK (benchmarks/mse_bayes_threshold.py --emulate-reference
    # reruns that sampler). EXH:OSCE:HRW: theirs 2.45, ours 2.33-2.45 over seeds and draw
    # counts (the sd of a skewed coefficient converges slowly), allowed 0.2. Its keep/drop
    # decision at 2.5 is within Monte Carlo error (seed 1 gives 2.33 in one process, above 2.5
    # in another, whose compiled graph rounds differently; seed 2 gives 2.5005): the test does
    # not bet on it. Where it is dropped (the reference's model), N must be the reference's
    # (5%); where it is kept (its ratio then within 0.2 of theirs all the same), the interval
    # must still contain the reference's N (that model gives about 11,900).
    data = read_capture_csv(MSE_DATA / "kosovo.csv")
    res = BayesThresholdMSE(max_order=3, threshold=2.5).fit(data, seed=1, **FAST)
    d = res.diagnostics
    assert d["retained_interactions"] == "EXH:ABA, EXH:OSCE, EXH:HRW, ABA:OSCE, OSCE:HRW"
    assert d["eligible_triples"] == "EXH:ABA:OSCE, EXH:OSCE:HRW"
    stats = res.tables["triple_threshold_statistics"].set_index("term")
    tri = stats["ratio"]
    assert tri["EXH:ABA:OSCE"] == pytest.approx(4.263698, rel=0.15)
    assert tri["EXH:OSCE:HRW"] == pytest.approx(2.451189, abs=0.2)
    assert (stats["kept"] == (tri >= 2.5)).all()
    if d["retained_triples"] == "EXH:ABA:OSCE":
        assert res.estimate == pytest.approx(10313.857, rel=0.05)
        assert res.ci_low == pytest.approx(9031.819, rel=0.05)
        assert res.ci_high == pytest.approx(12094.699, rel=0.05)
    else:
        assert d["retained_triples"] == "EXH:ABA:OSCE, EXH:OSCE:HRW"
        assert res.ci_low <= 10313.857 <= res.ci_high, res.interval


def test_flat_prior_model_matches_reference_vignette_on_uk_5_lists() -> None:
    # Same vignette: UKdat_5 with prior = "improper" keeps LA:NG, LA:PFNCA, NG:GP, PFNCA:GP,
    # GO:GP with LA:GP at minus infinity (LA and GP never overlap) and gets 12,188
    # (10,652-13,947). Our first fit puts LA:PFNCA at 1.99 (theirs 2.003), just under the
    # threshold, so the full procedure keeps one term fewer (benchmark); here the reference's
    # final model is fitted with flat priors: same model, same posterior. Tolerance 3% on the
    # median, 5% on the interval ends (their Monte Carlo error; ours is under 1%).
    data = read_capture_csv(MSE_DATA / "uk_2013_5lists.csv")
    terms = ["LA:NG", "LA:PFNCA", "NG:GP", "PFNCA:GP", "GO:GP", "LA:GP"]
    res = BayesLogLinear(terms, prior="flat").fit(data, seed=2, **FAST)
    assert res.diagnostics["minus_infinite_interactions"] == "LA:GP"
    coef = res.tables["coefficients"]
    assert "LA:GP" not in set(coef["term"]) and "LA:GP at minus infinity" in res.model
    assert res.estimate == pytest.approx(12188.27, rel=0.03)
    assert res.ci_low == pytest.approx(10652.41, rel=0.05)
    assert res.ci_high == pytest.approx(13946.75, rel=0.05)


def test_improper_prior_refused_where_the_posterior_does_not_exist() -> None:
    # MultipleSystemsEstimation 1.2's vignette: Korea with prior = "improper" stops, "the full
    # pairwise model fails the Fienberg-Rinaldo existence criterion". No MCMC is run.
    data = read_capture_csv(MSE_DATA / "korea.csv")
    with pytest.raises(EstimateDoesNotExistError, match="improper") as err:
        BayesThresholdMSE(prior="improper").fit(data, seed=1)
    assert "Fienberg" in str(err.value) and "prior='proper'" in str(err.value)
    assert err.value.code == "no-mle"


def test_improper_triple_step_skipped_when_its_posterior_is_improper(
    triple_table: CaptureData,
) -> None:
    # One empty cell (A and D only): the pairwise model still has an MLE, but with threshold 0
    # every pair is kept, every triple is eligible, and pairs + all four triples is saturated on
    # the observed cells, so the empty cell can only be fitted at zero: no MLE, improper flat
    # posterior. As the reference (its Western example) the order-3 step is skipped with a
    # warning and the order-2 analysis is returned, saying why.
    df = triple_table.to_frame()
    ad = (df["A"] == 1) & (df["D"] == 1) & (df["B"] == 0) & (df["C"] == 0)
    df.loc[ad, "count"] = 0
    data = CaptureData.from_counts(df, lists=list("ABCD"), source="A-D cell emptied")
    with pytest.warns(DataWarning, match="improper posterior"):
        res = BayesThresholdMSE(prior="improper", max_order=3, threshold=0).fit(
            data, seed=5, **FAST
        )
    d = res.diagnostics
    assert d["eligible_triples"] == "A:B:C, A:B:D, A:C:D, B:C:D"
    assert d["triple_step"].startswith("not fitted") and "Fienberg" in d["triple_step"]
    assert "retained_triples" not in d and "triple_threshold_statistics" not in res.tables
    assert d["retained_interactions"] == "A:B, A:C, A:D, B:C, B:D, C:D"
    assert np.isfinite(res.estimate) and res.ci_low < res.estimate < res.ci_high


def test_eligible_triples_need_all_three_pairs() -> None:
    lists = ("EXH", "ABA", "OSCE", "HRW")
    # the reference's Kosovo pairs (vignette): eligible EXH:ABA:OSCE and EXH:OSCE:HRW
    pairs = ["EXH:ABA", "EXH:OSCE", "ABA:OSCE", "EXH:HRW", "OSCE:HRW"]
    assert eligible_triples(pairs, lists) == ["EXH:ABA:OSCE", "EXH:OSCE:HRW"]
    assert eligible_triples(["EXH:ABA", "ABA:OSCE"], lists) == []


def test_bad_options_say_so() -> None:
    with pytest.raises(ModelSpecificationError, match="prior"):
        BayesThresholdMSE(prior="flat")
    with pytest.raises(ModelSpecificationError, match="max_order 2 or 3"):
        BayesThresholdMSE(max_order=4)
    data = read_capture_csv(MSE_DATA / "korea.csv").drop_list("d")
    with pytest.raises(ModelSpecificationError, match="three lists"):
        BayesThresholdMSE(max_order=3).fit(data)
    with pytest.raises(ModelSpecificationError, match="interval"):
        estimate(data, method="bayes-threshold", interval="wald")


def test_cli_runs_order_3_and_explains_improper_refusal(capsys) -> None:
    # Korea keeps b:c and c:d (the reference's record): no triple has all three pairs, so the
    # order-3 step says so and the order-2 estimate stands (reference 152.9, within 5%).
    import json

    from fl_estimate.cli import main

    path = str(MSE_DATA / "korea.csv")
    args = ["mse", path, "--method", "bayes-threshold", "--seed", "1", "--draws", "500"]
    assert main([*args, "--max-order", "3", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "bayes-threshold" and out["interval_kind"] == "credible-eti"
    assert out["diagnostics"]["retained_interactions"] == "b:c, c:d"
    assert out["diagnostics"]["eligible_triples"] == "none"
    assert out["diagnostics"]["triple_step"].startswith("no eligible triples")
    assert out["estimate"] == pytest.approx(152.893, rel=0.05)
    assert main([*args, "--prior", "improper"]) == 2
    assert "Fienberg" in capsys.readouterr().err
    assert main(["mse", path, "--method", "stepwise", "--prior", "improper"]) == 2
    assert "--prior" in capsys.readouterr().err
