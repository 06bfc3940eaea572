"""Bayesian thresholding (Silverman 2020, section 6; MultipleSystemsEstimation 1.2's
``estimate_population_bayesthresh``), built on the PyMC log-linear model of
:mod:`fl_estimate.mse.bayes.loglinear`.

1. Fit the model with every two-list interaction: flat priors on the intercept and main effects,
   independent ``Normal(0, prior_variance)`` priors on the interactions (``prior="proper"``,
   the default) or flat priors (``prior="improper"``).
2. Keep the interactions whose ``|posterior mean| / posterior sd`` is at least ``threshold``.
3. With ``max_order=3``: a three-list interaction is *eligible* when all three of its two-list
   interactions were kept. Fit the kept pairs plus every eligible triple, keep the triples
   whose ratio reaches the threshold (the kept pairs stay, whatever their new ratios, so the
   model remains hierarchical).
4. Refit the selected model; the estimate is the posterior median of ``N = n + exp(intercept)``
   and the interval its equal-tailed credible interval.

The improper prior, as in the reference:

- Before anything is fitted, the model with every two-list interaction must have an extended
  maximum-likelihood estimate (Fienberg–Rinaldo linear program, after interactions with a zero
  margin are put at minus infinity) and be identifiable; otherwise the flat-prior posterior is
  improper and :class:`~fl_estimate.exceptions.EstimateDoesNotExistError` is raised (the
  reference stops there too; e.g. the Korea table). The proper prior needs no such check
  (Forster 2010: a proper prior on the interactions can give a proper posterior where the MLE
  does not exist).
- An interaction whose margin is zero has its posterior at minus infinity: it is not sampled and
  not thresholded, its cells are fixed at zero in every later fit, and it is reported in
  ``diagnostics["minus_infinite_interactions"]`` (the reference's
  ``minus_infinite_estimated_effects``), not among the retained interactions.
- With ``max_order=3``, the model of kept pairs plus eligible triples is checked the same way;
  if its MLE does not exist, the three-list step is skipped with a
  :class:`~fl_estimate.exceptions.DataWarning`, the order-2 analysis is returned and
  ``diagnostics["triple_step"]`` says why. The reference checks that model without the
  minus-infinite pairs; here they are included (they are in the model that would be fitted),
  which can only make the check pass more often.

Differences from the reference: it samples with MCMCpack's random-walk Metropolis (1,000
burn-in, 10,000 draws, one chain, fixed seed) and, under the proper prior, puts ``N(0, 10^4)``
priors on intercept and main effects where this puts flat ones (the reference calls its choice
an implementation device for the flat prior). Here several chains run on whitened
coordinates (by default the exact independence Metropolis–Hastings sampler of
:mod:`fl_estimate.mse.bayes.imh`, PyMC's NUTS when its proposal mixes poorly or with
``sampler="pymc"``), so R-hat and ESS are reported and the Monte Carlo error of the ratios and
of N is far smaller; ``tables["threshold_statistics"]["mcse_ratio"]`` gives it and
``diagnostics["near_threshold"]`` names the terms whose decision is within two of it.

Where a ratio sits on the threshold the two can keep different terms, and N then differs by far
more than Monte Carlo error. On the 6-list Netherlands table P:R's ratio is 1.98–2.04 in our
runs; the reference kept it (70,940, 55,371–92,105), our default run does not (54,044). Refitted
with the reference's eleven terms ours gives 71,625 (56,264–93,017): the model and posterior
agree, the selection differs. The reference's sampler explains why its selection is a lottery
there: with 22 parameters its proposal (``1.1^2`` times the inverse information) is accepted
about 1.6% of the time and the smallest coefficient ESS is about 8 of 10,000 draws;
rerun with 20 seeds (``benchmarks/mse_bayes_threshold.py --emulate-reference``) it keeps P:R in
6, gives six different term sets and N from 50,406 to 76,879 (median 54,214). See docs/mse.md.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import spawn_seeds
from fl_estimate.exceptions import DataWarning, EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.bayes.common import NutsEstimator, NutsOptions
from fl_estimate.mse.bayes.loglinear import BayesLogLinear, significant_interactions
from fl_estimate.mse.data import CaptureData
from fl_estimate.results import EstimationResult

__all__ = ["BayesThresholdMSE", "eligible_triples"]

PRIORS = ("proper", "improper")


def eligible_triples(pairs: list[str], lists: tuple[str, ...] | list[str]) -> list[str]:
    """Three-list interactions all of whose two-list interactions are in ``pairs``
    (list order, as ``"a:b:c"``).

    >>> eligible_triples(["a:b", "b:c", "a:c", "c:d"], ["a", "b", "c", "d"])
    ['a:b:c']
    """
    have = {frozenset(p.split(":")) for p in pairs}
    return [
        ":".join(t)
        for t in combinations(lists, 3)
        if all(frozenset(q) in have for q in combinations(t, 2))
    ]


def _stats_table(fit: EstimationResult, order: int, threshold: float) -> pd.DataFrame:
    coef = fit.tables["coefficients"]
    rows = coef[(coef["kind"] == "interaction") & (coef["term"].str.count(":") == order - 1)]
    stats = rows[["term", "mean", "sd", "z", "rhat", "ess_bulk"]].rename(columns={"z": "ratio"})
    stats = stats.reset_index(drop=True)
    stats["kept"] = stats["ratio"] >= threshold
    # Monte Carlo error of the ratio |mean|/sd (delta method, near-normal posterior: the mean's
    # error is sd/sqrt(ESS), the sd's about sd/sqrt(2 ESS))
    stats["mcse_ratio"] = np.sqrt((1 + stats["ratio"] ** 2 / 2) / stats["ess_bulk"])
    stats["near_threshold"] = (stats["ratio"] - threshold).abs() < 2 * stats["mcse_ratio"]
    return stats


def _near(stats: pd.DataFrame) -> list[str]:
    return list(stats.loc[stats["near_threshold"], "term"])


class BayesThresholdMSE(NutsEstimator[CaptureData]):
    """Silverman's (2020) Bayesian thresholding of interactions, as MultipleSystemsEstimation 1.2.

    Parameters
    ----------
    threshold : float, default 2
        Keep interactions with ``|posterior mean| / posterior sd >= threshold``.
    prior_variance : float, default 1
        Variance of the normal prior on each interaction (``prior="proper"``).
    prior : {"proper", "improper"}, default "proper"
        Normal priors on the interactions, or improper flat ones (interactions with a zero
        margin then at minus infinity; refused where the posterior would be improper). See the
        module notes.
    max_order : {2, 3}, default 2
        3: after the pairs, threshold the eligible three-list interactions (those whose three
        pairs were all kept).

    Examples
    --------
    The table of :class:`~fl_estimate.mse.bayes.loglinear.BayesLogLinear`'s example (A and B
    dependent): the first fit has every pair, the refit keeps A:B alone.

    >>> from fl_estimate.simulate import simulate
    >>> sim = simulate(2000, ["A", "B", "C"], capture_probs=0.3, dependence={("A", "B"): 4.0},
    ...                seed=5)
    >>> res = BayesThresholdMSE().fit(sim.data, seed=1, chains=2, draws=500, tune=500)
    >>> res.diagnostics["retained_interactions"], res.ci_low < 2000 < res.ci_high
    ('A:B', True)
    >>> res.tables["threshold_statistics"][["term", "kept"]].to_dict("list")
    {'term': ['A:B', 'A:C', 'B:C'], 'kept': [True, False, False]}
    """

    method = "bayes-threshold"

    def __init__(
        self,
        threshold: float = 2.0,
        prior_variance: float = 1.0,
        prior: str = "proper",
        max_order: int = 2,
    ) -> None:
        if prior not in PRIORS:
            raise ModelSpecificationError(
                N_(
                    "prior must be 'proper' (normal) or 'improper' (flat), got {value!r}",
                    value=prior,
                )
            )
        if max_order not in (2, 3):
            raise ModelSpecificationError(
                N_(
                    "Bayesian thresholding takes max_order 2 or 3 (as the reference), got {value}",
                    value=max_order,
                )
            )
        if not prior_variance > 0:
            raise ModelSpecificationError(
                N_("prior_variance must be positive, got {value}", value=prior_variance)
            )
        if not threshold >= 0:
            raise ModelSpecificationError(
                N_("threshold must be non-negative, got {value}", value=threshold)
            )
        self.threshold = float(threshold)
        self.prior_variance = float(prior_variance)
        self.prior = prior
        self.max_order = int(max_order)

    def __repr__(self) -> str:
        return (
            f"BayesThresholdMSE(threshold={self.threshold}, prior_variance={self.prior_variance}, "
            f"prior={self.prior!r}, max_order={self.max_order})"
        )

    def _model(self, terms: list[str] | str | None) -> BayesLogLinear:
        if self.prior == "improper":
            return BayesLogLinear(terms or None, prior="flat")
        return BayesLogLinear(
            terms or None, prior="normal", prior_scale=np.sqrt(self.prior_variance)
        )

    def fit_with(self, data: CaptureData, options: NutsOptions) -> EstimationResult:
        """Threshold and refit; returns the refit's posterior summary of N (:meth:`fit` with
        the sampler options as one :class:`~fl_estimate.mse.bayes.common.NutsOptions`).

        Parameters
        ----------
        data : CaptureData
        options : NutsOptions
            The sampler options of each of the two (or, with ``max_order=3``, three) fits;
            their seeds are independent children of ``options.seed``.

        Returns
        -------
        EstimationResult
            ``tables["threshold_statistics"]``: every two-list interaction sampled in the first
            fit (``term``, posterior ``mean``, ``sd``, ``ratio``, ``rhat``, ``ess_bulk``,
            ``kept``, ``mcse_ratio`` (Monte Carlo error of the ratio), ``near_threshold`` (the
            ratio is within two of those of the threshold, so another seed may decide
            otherwise)); with ``max_order=3`` and eligible triples, ``tables[
            "triple_threshold_statistics"]`` likewise. ``diagnostics``: R-hat and ESS of N
            for the final fit, ``retained_interactions``, ``eligible_triples``,
            ``retained_triples``, ``minus_infinite_interactions`` (improper prior),
            ``near_threshold`` (terms whose keep/drop decision is within Monte Carlo error),
            ``triple_step`` (what happened at order 3), the largest coefficient R-hat of
            each earlier fit.

        Raises
        ------
        EstimateDoesNotExistError
            ``prior="improper"`` and the model with every two-list interaction has no
            (extended) MLE or is not identifiable: the flat-prior posterior is improper.
        """
        if not isinstance(data, CaptureData):
            raise TypeError("fit() takes one CaptureData table")
        if self.max_order == 3 and data.n_lists < 3:
            raise ModelSpecificationError(N_("three-list interactions need at least three lists"))
        if self.prior == "improper":
            _check_pairwise_start(data)
        # children 0 and 1 as before max_order 3 existed, so earlier results are unchanged
        s_first, s_final, s_triple = spawn_seeds(options.seed, 3)

        first = self._model("all").fit_with(data, options.with_seed(_int_seed(s_first)))
        pairs = significant_interactions(first, self.threshold)
        pair_stats = _stats_table(first, 2, self.threshold)
        minus_inf = _minus_infinite(first)
        tables: dict[str, pd.DataFrame] = {"threshold_statistics": pair_stats}
        diag: dict[str, Any] = {
            "threshold": self.threshold,
            "prior": self.prior,
            "prior_variance": self.prior_variance if self.prior == "proper" else None,
            "max_order": self.max_order,
            "retained_interactions": ", ".join(pairs) or "none",
            "near_threshold": _near(pair_stats),
            "first_fit_max_rhat": float(first.diagnostics.get("max_rhat_coefficients", np.nan)),
            "first_fit_divergences": first.diagnostics.get("divergences"),
        }

        triples_kept: list[str] = []
        if self.max_order == 3:
            triples = eligible_triples(pairs, data.lists)
            diag["eligible_triples"] = ", ".join(triples) or "none"
            step = "no eligible triples (no three lists with all three pairs kept)"
            if triples and self.prior == "improper":
                # the log-linear package loads scipy.stats: only the flat prior needs it
                from fl_estimate.mse.loglinear import check_existence
                from fl_estimate.mse.loglinear.terms import parse_model

                chk = check_existence(data, parse_model(pairs + triples + minus_inf, data.lists))
                if chk.ok:
                    step = ""
                else:
                    step = N_(
                        "not fitted: with the flat prior the model of the kept pairs and all "
                        "eligible triples has an improper posterior ({reason}); the order-2 "
                        "analysis is returned",
                        reason=chk.reason(parse_model(pairs + triples + minus_inf, data.lists)),
                    )
                    warnings.warn(
                        N_("{source}: {step}", source=data.source, step=step),
                        DataWarning,
                        stacklevel=3,
                    )
            elif triples:
                step = ""
            if not step:
                third = self._model(pairs + triples + minus_inf).fit_with(
                    data, options.with_seed(_int_seed(s_triple))
                )
                triple_stats = _stats_table(third, 3, self.threshold)
                triples_kept = list(triple_stats.loc[triple_stats["kept"], "term"])
                minus_inf = _merge(minus_inf, _minus_infinite(third))
                tables["triple_threshold_statistics"] = triple_stats
                diag["retained_triples"] = ", ".join(triples_kept) or "none"
                diag["near_threshold"] = diag["near_threshold"] + _near(triple_stats)
                diag["triple_fit_max_rhat"] = float(
                    third.diagnostics.get("max_rhat_coefficients", np.nan)
                )
                step = f"{len(triples)} eligible triple(s) fitted, {len(triples_kept)} kept"
            diag["triple_step"] = step

        final = self._model(pairs + triples_kept + minus_inf).fit_with(
            data, options.with_seed(_int_seed(s_final))
        )
        if self.prior == "improper":
            diag["minus_infinite_interactions"] = ", ".join(minus_inf) or "none"
        diag["near_threshold"] = ", ".join(diag["near_threshold"]) or "none"
        diag = {**final.diagnostics, **diag}
        prov = {
            **final.provenance,
            "method": self.method,
            "threshold": self.threshold,
            "prior": self.prior,
            "prior_variance": self.prior_variance,
            "max_order": self.max_order,
            "seed": options.seed if isinstance(options.seed, int | None) else str(options.seed),
        }
        model = "main effects" + "".join(f" + {t}" for t in pairs + triples_kept)
        model += " (retained by thresholding"
        model += f"; {self.prior} prior on interactions"
        if minus_inf:
            model += f"; {', '.join(minus_inf)} at minus infinity (margin zero)"
        model += ")"
        return replace(
            final,
            method=self.method,
            model=model,
            diagnostics=diag,
            provenance=prov,
            tables={**final.tables, **tables},
        )


def _int_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1)[0])


def _minus_infinite(fit: EstimationResult) -> list[str]:
    val = fit.diagnostics.get("minus_infinite_interactions", "none")
    return [] if val in (None, "none") else [t.strip() for t in str(val).split(",")]


def _merge(a: list[str], b: list[str]) -> list[str]:
    return a + [t for t in b if t not in a]


def _check_pairwise_start(data: CaptureData) -> None:
    """The reference's start check for the improper prior: every two-list interaction."""
    from fl_estimate.mse.loglinear import check_existence
    from fl_estimate.mse.loglinear.terms import parse_model

    model = parse_model([f"{a}:{b}" for a, b in combinations(data.lists, 2)], data.lists)
    chk = check_existence(data, model)
    if not chk.ok:
        raise EstimateDoesNotExistError(
            N_(
                "{source}: Bayesian thresholding with the improper (flat) prior on interactions "
                "cannot start: its first model, every two-list interaction, gives an improper "
                "posterior because {reason}. Use prior='proper' (normal priors on the "
                "interactions, which keep the posterior proper)",
                source=data.source,
                reason=chk.reason(model),
            ),
            code="no-mle" if chk.code & 1 else "not-identifiable",
        )
