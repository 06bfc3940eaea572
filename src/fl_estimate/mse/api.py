"""One entry point for every population-size method: :func:`estimate`.

The CLI (``fl-estimate mse``) and the annual pipeline call this, so a method added here is available
to both. Bayesian methods are looked up lazily (their modules import PyMC or numba).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.estimators import LogLinearMSE, SearchMSE, StepwiseMSE
from fl_estimate.mse.simple import ChaoLowerBound, Chapman, LincolnPetersen
from fl_estimate.mse.topmodels import AutoMSE, BicMSE
from fl_estimate.results import EstimationResult

__all__ = ["METHODS", "estimate"]

_LOGLINEAR_OPTS = (
    "interval",
    "level",
    "n_boot",
    "bootstrap",
    "boot_interval",
    "seed",
    "n_jobs",
    "executor",
)


def _pick(opts: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in opts.items() if k in keys and v is not None}


def _independence(data: CaptureData, **o: Any) -> EstimationResult:
    return LogLinearMSE(o.pop("model", None)).fit(data, **_pick(o, _LOGLINEAR_OPTS))


def _stepwise(data: CaptureData, **o: Any) -> EstimationResult:
    return StepwiseMSE(
        pthresh=o.get("pthresh") or 0.02, criterion=o.get("criterion") or "pvalue"
    ).fit(data, **_pick(o, _LOGLINEAR_OPTS))


def _search(criterion: str) -> Callable[..., EstimationResult]:
    def run(data: CaptureData, **o: Any) -> EstimationResult:
        return SearchMSE(criterion, max_order=o.get("max_order") or 2).fit(
            data, **_pick(o, _LOGLINEAR_OPTS)
        )

    return run


def _bic(data: CaptureData, **o: Any) -> EstimationResult:
    return BicMSE(max_order=o.get("max_order") or 2, top_models=o.get("top_models")).fit(
        data, **_pick(o, _LOGLINEAR_OPTS)
    )


def _auto(data: CaptureData, **o: Any) -> EstimationResult:
    return AutoMSE(max_order=o.get("max_order"), top_models=o.get("top_models")).fit(
        data, **_pick(o, _LOGLINEAR_OPTS)
    )


def _greedy(data: CaptureData, **o: Any) -> EstimationResult:
    from fl_estimate.mse.greedy import GreedySearchMSE

    return GreedySearchMSE(
        criterion=str(o["criterion"]) if o.get("criterion") in ("aic", "bic") else "bic",
        max_order=o.get("max_order") or 3,
    ).fit(data, **_pick(o, _LOGLINEAR_OPTS))


def _latent_class(data: CaptureData, **o: Any) -> EstimationResult:
    from fl_estimate.mse.mixture import LatentClassMSE

    if o.get("interval") not in (None, "profile"):
        raise ModelSpecificationError("latent-class gives a profile-likelihood interval only")
    return LatentClassMSE(n_classes=o.get("n_classes") or 2).fit(
        data, **_pick(o, ("level", "seed"))
    )


def _simple(cls: type) -> Callable[..., EstimationResult]:
    def run(data: CaptureData, **o: Any) -> EstimationResult:
        interval = o.get("interval")
        if interval not in (None, "wald"):
            raise ModelSpecificationError(
                f"{cls.method} has a closed-form (log-normal Wald) interval only; "
                "drop --interval or use --interval wald"
            )
        return cls().fit(data, **_pick(o, ("level",)))

    return run


METHODS: dict[str, Callable[..., EstimationResult]] = {
    "independence": _independence,
    "loglinear": _independence,
    "stepwise": _stepwise,
    "aic": _search("aic"),
    "bic": _bic,
    "auto": _auto,
    "search": _greedy,
    "latent-class": _latent_class,
    "chao": _simple(ChaoLowerBound),
    "lincoln-petersen": _simple(LincolnPetersen),
    "chapman": _simple(Chapman),
}


#: Bayesian estimators, "module:class", imported on first use (stopgap until the registry).
_BAYES_CLASSES = {
    "bayes-threshold": "fl_estimate.mse.bayes.threshold:BayesThresholdMSE",
    "lcmcr": "fl_estimate.mse.bayes.lcmcr:LCMCR",
    "dga": "fl_estimate.mse.bayes.dga:DGA",
    "bayes-loglinear": "fl_estimate.mse.bayes.loglinear:BayesLogLinear",
}


def _bayes(data: CaptureData, **o: Any) -> EstimationResult:
    import inspect

    interval = o.get("interval")
    if interval not in (None, "credible"):
        raise ModelSpecificationError(
            f"{o['method']} gives an equal-tailed credible interval; drop --interval"
        )
    mod, name = _BAYES_CLASSES[o["method"]].split(":")
    cls = getattr(importlib.import_module(mod), name)
    ctor = _pick(o, tuple(inspect.signature(cls).parameters))
    return cls(**ctor).fit(data, **_pick(o, tuple(inspect.signature(cls.fit).parameters)[2:]))


#: Methods provided by modules that are imported only when used: name -> "module:function".
LAZY_METHODS: dict[str, str] = {name: "fl_estimate.mse.api:_bayes" for name in _BAYES_CLASSES}


def register_method(name: str, target: str) -> None:
    """Make ``estimate(method=name)`` call ``target`` ("module:function"), imported on first use."""
    LAZY_METHODS[name] = target


def available_methods() -> list[str]:
    return [*METHODS, *LAZY_METHODS]


def estimate(data: CaptureData, method: str = "stepwise", **options: Any) -> EstimationResult:
    """Estimate the population size of one capture table with the named method.

    Parameters
    ----------
    data : CaptureData
    method : str
        One of :func:`available_methods`: ``independence``, ``stepwise``, ``aic``, ``bic``,
        ``chao``, ``lincoln-petersen``, ``chapman`` and the Bayesian methods when installed.
    **options
        ``interval`` (wald, profile, bootstrap), ``level``, ``n_boot``, ``bootstrap``,
        ``boot_interval``, ``seed``, ``n_jobs``, ``model``, ``pthresh``, ``criterion``,
        ``max_order``, ``top_models`` (BIC bootstrap), and method-specific ones.

    Returns
    -------
    EstimationResult
    """
    if method in METHODS:
        res = METHODS[method](data, **options)
    elif method in LAZY_METHODS:
        mod, fn = LAZY_METHODS[method].split(":")
        res = getattr(importlib.import_module(mod), fn)(data, method=method, **options)
    else:
        raise ModelSpecificationError(
            f"unknown method {method!r}; choose one of {', '.join(available_methods())}"
        )
    return _with_heterogeneity_check(data, res)


def _with_heterogeneity_check(data: CaptureData, res: EstimationResult) -> EstimationResult:
    """Warn (HeterogeneityWarning) when the table shows strong capture heterogeneity, and record
    the check in ``diagnostics["heterogeneity_flag"]`` (see docs/mse.md)."""
    from dataclasses import replace

    from fl_estimate.mse.mixture import check_heterogeneity

    if not isinstance(data, CaptureData) or data.n_lists < 3:
        return res
    chk = check_heterogeneity(data)
    return replace(res, diagnostics={**res.diagnostics, "heterogeneity_flag": chk["flag"]})
