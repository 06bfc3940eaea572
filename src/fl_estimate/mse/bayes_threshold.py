"""Bayesian thresholding (Silverman 2020, section 6; MultipleSystemsEstimation's
``estimate_population_bayesthresh``), built on the PyMC log-linear model of
:mod:`fl_estimate.mse.bayes_loglinear`.

1. Fit the model with every two-list interaction: flat priors on the intercept and main effects,
   independent ``Normal(0, prior_variance)`` priors on the interactions.
2. Keep the interactions whose ``|posterior mean| / posterior sd`` is at least ``threshold``.
3. Refit with those; the estimate is the posterior median of ``N = n + exp(intercept)`` and the
   interval its equal-tailed credible interval.

Differences from the reference: it samples with MCMCpack's random-walk Metropolis (1,000 burn-in,
10,000 draws, one chain, fixed seed); here NUTS runs several chains, so R-hat and ESS are reported
and the posterior Monte Carlo error is smaller. The reference's own Monte Carlo error is a few per
cent, so agreement is expected to within about 5%.

Not offered (yet): the improper flat prior on interactions and the ``max_order=3`` variant with
eligible triples (the PyMC model has two-list interactions only); both raise
:class:`~fl_estimate.exceptions.ModelSpecificationError` saying so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.bayes_loglinear import BayesLogLinear, significant_interactions
from fl_estimate.mse.data import CaptureData
from fl_estimate.results import EstimationResult

__all__ = ["BayesThresholdMSE", "estimate_bayes_threshold"]


class BayesThresholdMSE:
    """Silverman's (2020) Bayesian thresholding of two-list interactions.

    Parameters
    ----------
    threshold : float, default 2
        Keep interactions with ``|posterior mean| / posterior sd >= threshold``.
    prior_variance : float, default 1
        Variance of the normal prior on each interaction (the reference's default).
    prior : {"proper"}
        Only the proper normal prior is offered (see the module notes).
    max_order : {2}
        Only two-list interactions (see the module notes).
    """

    method = "bayes-threshold"

    def __init__(
        self,
        threshold: float = 2.0,
        prior_variance: float = 1.0,
        prior: str = "proper",
        max_order: int = 2,
    ) -> None:
        if prior != "proper":
            raise ModelSpecificationError(
                "Bayesian thresholding is offered with the proper normal prior on interactions "
                "only (the improper prior needs the zero-margin pruning of the reference, not "
                "implemented here)"
            )
        if max_order != 2:
            raise ModelSpecificationError(
                "Bayesian thresholding is offered for two-list interactions only (max_order=2); "
                "for three-list terms use method 'bic' with --max-order 3 or 'search'"
            )
        if not prior_variance > 0:
            raise ModelSpecificationError(f"prior_variance must be positive, got {prior_variance}")
        self.threshold = float(threshold)
        self.prior_variance = float(prior_variance)

    def fit(
        self,
        data: CaptureData,
        *,
        seed: SeedLike = None,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        level: float = 0.95,
        target_accept: float = 0.9,
    ) -> EstimationResult:
        """Threshold and refit; returns the refit's posterior summary of N.

        ``tables["threshold_statistics"]`` holds every two-list interaction's posterior mean, sd
        and ratio from the first fit and whether it was kept; ``diagnostics`` has R-hat and ESS
        of N for the final fit and the largest R-hat of the first fit's coefficients.
        """
        if not isinstance(data, CaptureData):
            raise TypeError("fit() takes one CaptureData table")
        s1, s2 = spawn_seeds(seed, 2)
        seed1 = int(s1.generate_state(1)[0])
        seed2 = int(s2.generate_state(1)[0])
        scale = float(np.sqrt(self.prior_variance))
        opts: dict[str, Any] = {
            "chains": chains,
            "draws": draws,
            "tune": tune,
            "level": level,
            "target_accept": target_accept,
        }
        first = BayesLogLinear("all", prior="normal", prior_scale=scale).fit(
            data, seed=seed1, **opts
        )
        kept = significant_interactions(first, self.threshold)
        coef = first.tables["coefficients"]
        stats = coef[coef["kind"] == "interaction"][["term", "mean", "sd", "z", "rhat"]].copy()
        stats = stats.rename(columns={"z": "ratio"})
        stats["kept"] = stats["term"].isin(kept)
        final = BayesLogLinear(kept or None, prior="normal", prior_scale=scale).fit(
            data, seed=seed2, **opts
        )
        diag = {
            **final.diagnostics,
            "threshold": self.threshold,
            "prior_variance": self.prior_variance,
            "retained_interactions": ", ".join(kept) or "none",
            "first_fit_max_rhat": float(first.diagnostics.get("max_rhat_coefficients", np.nan)),
            "first_fit_divergences": first.diagnostics.get("divergences"),
        }
        prov = {
            **final.provenance,
            "method": self.method,
            "threshold": self.threshold,
            "prior_variance": self.prior_variance,
            "seed": seed if isinstance(seed, int | None) else str(seed),
        }
        model = "main effects" + "".join(f" + {t}" for t in kept)
        return replace(
            final,
            method=self.method,
            model=model + " (retained by thresholding)",
            diagnostics=diag,
            provenance=prov,
            tables={**final.tables, "threshold_statistics": pd.DataFrame(stats)},
        )


def estimate_bayes_threshold(data: CaptureData, **o: Any) -> EstimationResult:
    """Entry point for :func:`fl_estimate.mse.estimate` (``method="bayes-threshold"``)."""
    interval = o.get("interval")
    if interval not in (None, "credible"):
        raise ModelSpecificationError(
            "bayes-threshold gives an equal-tailed credible interval; drop --interval"
        )
    est = BayesThresholdMSE(
        threshold=o.get("threshold") or 2.0,
        max_order=o.get("max_order") or 2,
    )
    kw = {k: o[k] for k in ("chains", "draws", "tune", "level", "seed") if o.get(k) is not None}
    return est.fit(data, **kw)
