"""One entry point for every population-size method: :func:`estimate`.

The method names, their classes and their options are those of :mod:`fl_estimate.mse.registry`;
:func:`estimate` adds the capture-heterogeneity check (``diagnostics["heterogeneity_flag"]`` and a
:class:`~fl_estimate.exceptions.HeterogeneityWarning`).

Examples
--------
>>> from fl_estimate.mse import estimate, read_capture_csv
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> res = estimate(data, "stepwise")
>>> res.method, round(res.estimate), res.diagnostics["heterogeneity_flag"]
('stepwise', 11418, False)
>>> estimate(data, "chao").method
'chao'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fl_estimate.mse import registry
from fl_estimate.mse.data import CaptureData
from fl_estimate.results import EstimationResult

__all__ = ["available_methods", "estimate", "fit_resolved"]


def available_methods() -> list[str]:
    """Every method name (and alias) :func:`estimate` accepts."""
    return registry.available_methods()


def estimate(data: CaptureData, method: str = "default", **options: Any) -> EstimationResult:
    """Estimate the population size of one capture table with the named method.

    Parameters
    ----------
    data : CaptureData
    method : str
        One of :func:`available_methods`: ``loglinear`` (alias ``independence``), ``stepwise``,
        ``exhaustive``, ``aic``, ``bic``, ``auto``, ``search`` (greedy), ``latent-class``,
        ``chao``, ``lincoln-petersen``, ``chapman`` and the Bayesian ``bayes-threshold``,
        ``lcmcr``, ``dga``, ``bayes-loglinear``.
    **options
        The method's constructor and fit options (:func:`fl_estimate.mse.registry.methods_table`
        lists them with their defaults): e.g. ``interval`` (wald, profile, bootstrap; credible
        for the Bayesian methods), ``level``, ``n_boot``, ``seed``, ``model``, ``pthresh``,
        ``criterion``, ``max_order``, ``top_models``, ``chains``, ``draws``. ``None`` means the
        default.

    Returns
    -------
    EstimationResult

    Raises
    ------
    ModelSpecificationError
        An unknown method, or an option the method does not take (the message lists the valid
        ones).
    """
    return fit_resolved(data, registry.resolve(method, **options))


def fit_resolved(
    data: CaptureData, call: registry.Resolved, *, warn: bool | None = None
) -> EstimationResult:
    """Fit a call checked by :func:`fl_estimate.mse.registry.resolve`, with the heterogeneity
    check of :func:`estimate` (resolve once, fit every stratum)."""
    if warn is None:
        warn = call.spec.target.startswith("fl_estimate.mse.loglinear")
    return _with_heterogeneity_check(data, call.run(data), warn=warn)


def _with_heterogeneity_check(
    data: CaptureData, res: EstimationResult, *, warn: bool = True
) -> EstimationResult:
    """Run the calibrated heterogeneity diagnosis (:func:`fl_estimate.mse.heterogeneity.diagnosis.
    check_heterogeneity`; a :class:`HeterogeneityWarning` when it fires) and record it in
    ``diagnostics["heterogeneity_flag"]`` / ``["heterogeneity_diagnosis"]``, unless the method
    already did (the default policy). The warning is for log-linear methods only (``warn``): the
    heterogeneity models and Bayesian methods model heterogeneity themselves."""
    from fl_estimate.mse.heterogeneity.diagnosis import check_heterogeneity

    if not isinstance(data, CaptureData) or "heterogeneity_diagnosis" in res.diagnostics:
        return res
    diag = check_heterogeneity(data, warn=warn)
    if diag is None:
        return res
    info = {"heterogeneity_flag": diag.flag, "heterogeneity_diagnosis": diag.to_dict()}
    return replace(res, diagnostics={**res.diagnostics, **info})
