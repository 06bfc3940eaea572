"""Bayesian thresholding against MultipleSystemsEstimation's records.

Tolerance 5%: the reference ran one random-walk Metropolis chain of 10,000 draws (MCMCpack), whose
own Monte Carlo error on the median and the 2.5%/97.5% quantiles of N is a few per cent; ours
(NUTS, 4 x 1,000 draws) is well under 1% on the median. Only spina_bifida_ny is run here: its two
model graphs (all three pairs; S1:S2 alone) are those of tests/mse/test_bayes_loglinear.py, so
PyTensor's compile cache is shared. Every table: benchmarks/mse_bayes_threshold.py.
"""

from __future__ import annotations

import pytest

from fl_estimate import read_capture_csv
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.bayes_threshold import BayesThresholdMSE
from tests._refs import MSE_DATA, peer

pytestmark = pytest.mark.bayes


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


def test_unsupported_variants_say_so() -> None:
    with pytest.raises(ModelSpecificationError, match="proper"):
        BayesThresholdMSE(prior="improper")
    with pytest.raises(ModelSpecificationError, match="two-list"):
        BayesThresholdMSE(max_order=3)
