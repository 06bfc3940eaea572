"""Hierarchical Bayesian log-linear model: strata fitted together with partial pooling.

Each stratum (region x year ...) has its own intercept, and its main effects and interactions
are drawn around common means, so small strata borrow strength from the others. Same design
and sampler as :class:`~fl_estimate.mse.bayes.loglinear.BayesLogLinear`; PyMC is imported
only when a model is built.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.bayes.common import (
    NutsEstimator,
    NutsOptions,
    add_posterior_var,
    result_from_draws,
)
from fl_estimate.mse.bayes.loglinear import (
    ModelInputs,
    design_matrix,
    parse_interactions,
    sample_unobserved,
    sampler_diagnostics,
    term_label,
)
from fl_estimate.results import EstimationResult

if TYPE_CHECKING:
    from fl_estimate.mse.data import StratifiedCaptureData

__all__ = ["BayesHierarchicalLogLinear"]


class BayesHierarchicalLogLinear(NutsEstimator["StratifiedCaptureData"]):
    """Log-linear models for several strata with partially pooled capture effects.

    Every stratum ``s`` has its own flat intercept (its own size); its main effects and
    interactions are drawn around common means:
    ``beta_sj = mu_j + sigma_j z_sj``, ``gamma_st = nu_t + sigma_gamma w_st`` (non-centred),
    ``mu_j ~ Normal(0, main_scale)``, ``nu_t ~ Normal(0, prior_scale)``,
    ``sigma ~ HalfNormal(pooling_scale)``. Small strata thus borrow the lists' capture
    behaviour from the others, which narrows their intervals when the lists behave alike
    across strata (see ``benchmarks/bayes_hierarchical.py``).

    Parameters
    ----------
    interactions : "all", sequence of "a:b", or None, default "all"
    prior_scale : float, default 1.0
        Standard deviation of the prior on the common interaction means.
    main_scale : float, default 5.0
        Standard deviation of the prior on the common main-effect means.
    pooling_scale : float, default 1.0
        Half-normal scale of the between-strata standard deviations (small: strong pooling).
    unobserved : {"poisson", "mean"}, default "poisson"
        As in :class:`BayesLogLinear`, but the default here is the posterior predictive
        ``n + Poisson(exp(intercept))``: in a small stratum the Poisson variation of the
        unobserved count itself is a sizeable part of the uncertainty, and intervals for the
        expected count alone under-cover the stratum's actual size.
    """

    method = "bayes-loglinear-hierarchical"

    def __init__(
        self,
        interactions: str | Sequence[str] | None = "all",
        *,
        prior_scale: float = 1.0,
        main_scale: float = 5.0,
        pooling_scale: float = 1.0,
        unobserved: str = "poisson",
    ) -> None:
        for name, v in (
            ("prior_scale", prior_scale),
            ("main_scale", main_scale),
            ("pooling_scale", pooling_scale),
        ):
            if not v > 0:
                raise ModelSpecificationError(
                    N_("{name} must be positive, got {value!r}", name=name, value=v)
                )
        if unobserved not in ("poisson", "mean"):
            raise ModelSpecificationError(
                N_("unobserved must be 'poisson' or 'mean', got {value!r}", value=unobserved)
            )
        self.interactions = interactions
        self.prior_scale = float(prior_scale)
        self.main_scale = float(main_scale)
        self.pooling_scale = float(pooling_scale)
        self.unobserved = unobserved

    def build_model(self, data: StratifiedCaptureData) -> Any:
        """The PyMC model (variables ``intercept[stratum]``, ``beta[stratum, list]``, ...).

        Examples
        --------
        >>> from fl_estimate.simulate import simulate
        >>> sim = simulate({"north": 900, "south": 300}, ["L1", "L2", "L3"], capture_probs=0.3,
        ...                seed=3)
        >>> model = BayesHierarchicalLogLinear(interactions=None).build_model(sim.data)
        >>> sorted(v.name for v in model.free_RVs), model.coords["stratum"]
        (['beta_mean', 'beta_sd', 'beta_z', 'centre'], ('north', 'south'))
        """
        return self._graph(self._inputs(data), data.lists)

    def _inputs(self, data: StratifiedCaptureData) -> ModelInputs:
        """The model's shape (strata, lists, terms, scales: the cache key) and data values."""
        keys = list(data)
        pairs = parse_interactions(self.interactions, data.lists)
        x, xi = design_matrix(len(data.lists), pairs)
        y = np.stack([data[key].cell_counts()[1:] for key in keys]).astype(np.float64)
        # centre each stratum's predictor at its count-weighted mean pattern: the centre and
        # the capture effects are then nearly uncorrelated a posteriori
        tot = np.maximum(y.sum(axis=1, keepdims=True), 1.0)
        values = {"y_obs": y, "xbar": (y @ x) / tot, "xibar": (y @ xi) / tot}
        key = (
            self.method,
            tuple(_key_label(k) for k in keys),
            tuple(data.lists),
            tuple(pairs),
            (self.prior_scale, self.main_scale, self.pooling_scale),
        )
        init = {"centre": np.log(np.maximum(y.mean(axis=1), 0.5))}
        n = sum(data[k].n_observed for k in keys)
        return ModelInputs(key, pairs, x, xi, values, init, n)

    def _graph(self, inp: ModelInputs, lists: Sequence[str]) -> Any:
        import pymc as pm

        x, xi, v = inp.x, inp.xi, inp.values
        terms = [term_label(t, lists) for t in inp.pairs]
        coords = {"stratum": list(inp.key[1]), "list": list(lists), "interaction": terms}
        with pm.Model(coords=coords) as model:
            centre = pm.Flat("centre", dims="stratum", initval=inp.initvals["centre"])
            mu = pm.Normal("beta_mean", 0.0, self.main_scale, dims="list")
            sig = pm.HalfNormal("beta_sd", self.pooling_scale, dims="list")
            z = pm.Normal("beta_z", 0.0, 1.0, dims=("stratum", "list"))
            beta = pm.Deterministic("beta", mu + sig * z, dims=("stratum", "list"))
            eta = centre[:, None] + pm.math.dot(beta, x.T)
            shift = pm.math.sum(beta * pm.Data("xbar", v["xbar"]), axis=1)
            if inp.pairs:
                nu = pm.Normal("gamma_mean", 0.0, self.prior_scale, dims="interaction")
                gs = pm.HalfNormal("gamma_sd", self.pooling_scale)
                w = pm.Normal("gamma_z", 0.0, 1.0, dims=("stratum", "interaction"))
                gamma = pm.Deterministic("gamma", nu + gs * w, dims=("stratum", "interaction"))
                eta = eta + pm.math.dot(gamma, xi.T)
                shift = shift + pm.math.sum(gamma * pm.Data("xibar", v["xibar"]), axis=1)
            eta = eta - shift[:, None]
            pm.Deterministic("intercept", centre - shift, dims="stratum")
            pm.Poisson("y", mu=pm.math.exp(eta), observed=pm.Data("y_obs", v["y_obs"]))
        return model

    def fit_with(self, data: StratifiedCaptureData, options: NutsOptions) -> EstimationResult:
        """Fit and return the result for the total over strata (:meth:`fit` with the sampler
        options as one :class:`~fl_estimate.mse.bayes.common.NutsOptions`).

        ``tables["strata"]`` has one row per stratum: stratum columns, ``observed``,
        ``estimate``, ``ci_low``, ``ci_high``, ``rhat_N``, ``ess_bulk_N``; ``draws`` holds
        ``N`` (the total) and ``N_stratum``. :meth:`fit_strata` also returns each stratum's
        result.
        """
        return self._strata(data, options, stacklevel=5)["total"]

    def fit_strata(
        self, data: StratifiedCaptureData, **options: Any
    ) -> dict[Hashable, EstimationResult]:
        """Fit once; return one result per stratum (keyed as ``data``) plus ``"total"``.

        Each stratum's result has ``stratum`` set; ``"total"`` is the posterior of the sum of
        the strata's N (draw by draw, so its interval is not the sum of the intervals).
        ``options`` are those of :meth:`fit` (an unknown one raises ``TypeError``).
        """
        return self._strata(data, NutsOptions(**options), stacklevel=4)

    def _strata(
        self, data: StratifiedCaptureData, options: NutsOptions, stacklevel: int
    ) -> dict[Hashable, EstimationResult]:
        """The fit of :meth:`fit_strata`; ``stacklevel`` of its warnings: the caller's frame."""
        keys = list(data)
        if len(keys) < 2:
            raise ModelSpecificationError(
                N_(
                    "the hierarchical model needs at least 2 strata; use BayesLogLinear for one "
                    "table"
                )
            )
        inp = self._inputs(data)
        sampled = sample_unobserved(
            inp,
            lambda: self._graph(inp, data.lists),
            what=f"{len(keys)} strata x {len(data.lists)} lists (hierarchical)",
            options=options,
            unobserved=self.unobserved,
            source=data.source,
        )
        idata, seeds = sampled.idata, sampled.chain_seeds
        n_obs = np.array([data[key].n_observed for key in keys])
        n_s = sampled.unobserved + n_obs[None, None, :]  # (chain, draw, stratum)
        add_posterior_var(idata, "N_stratum", n_s, dims=("stratum",))
        add_posterior_var(idata, "N", n_s.sum(axis=-1))
        divergences = sampled.divergences
        used = sampler_diagnostics(idata, options.sampler)  # "imh" falls back to NUTS here
        settings = {
            "interactions": self.interactions
            if isinstance(self.interactions, str | None)
            else list(self.interactions),
            "prior_scale": self.prior_scale,
            "main_scale": self.main_scale,
            "pooling_scale": self.pooling_scale,
            "unobserved": self.unobserved,
            "chains": options.chains,
            "draws": options.draws,
            "tune": options.tune,
            "sampler": options.sampler,
            "chain_seeds": seeds,
        }
        model_name = "hierarchical log-linear, partially pooled main effects"
        if parse_interactions(self.interactions, data.lists):
            model_name += " and interactions"
        out: dict[Hashable, EstimationResult] = {}
        rows = []
        for s, key in enumerate(keys):
            res = result_from_draws(
                method=self.method,
                model=model_name,
                data=data[key],
                n_draws=n_s[..., s],
                level=options.level,
                seed=options.seed,
                settings=settings,
                idata=None,
                extra_diagnostics={"divergences": divergences, **used},
                advice=N_("increase draws and tune, or target_accept"),
                stacklevel=stacklevel,
            )
            out[key] = res
            rows.append(
                {
                    **dict(data[key].stratum),
                    "observed": res.observed,
                    "estimate": res.estimate,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                    "rhat_N": res.diagnostics["rhat_N"],
                    "ess_bulk_N": res.diagnostics["ess_bulk_N"],
                }
            )
        total_data = data.collapse()
        total = result_from_draws(
            method=self.method,
            model=model_name + f" ({len(keys)} strata, total)",
            data=total_data,  # type: ignore[arg-type]
            n_draws=n_s.sum(axis=-1),
            level=options.level,
            seed=options.seed,
            settings=settings,
            idata=idata,
            extra_diagnostics={"divergences": divergences, "n_strata": len(keys), **used},
            tables={"strata": pd.DataFrame(rows)},
            advice=N_("increase draws and tune, or target_accept"),
            stacklevel=stacklevel,
        )
        out["total"] = total
        return out


def _key_label(key: Any) -> str:
    if isinstance(key, tuple):
        return "/".join(str(v) for v in key)
    return str(key)
