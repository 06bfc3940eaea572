"""The honest default: what ``fl-estimate mse FILE``, ``estimate(data)`` and the annual run report.

Policy (docs/mse.md, "Which estimate to trust"):

1. Fit the stepwise log-linear model (SparseMSE's rule) with the interval asked for.
2. Run the heterogeneity diagnosis (:func:`fl_estimate.mse.heterogeneity.diagnosis.
   diagnose_heterogeneity`) on tables of 3 or more lists.
3. Quiet: report the stepwise result (its ``diagnostics`` carry the diagnosis).
   Fires: report a **lower bound**: ``status`` and ``status_code`` ``"lower_bound"``, ``estimate`` the
   larger of Chao's lower bound (his K-sample form, ``n + (K-1)/K f1^2/(2 f2)``:
   ``ChaoLowerBound(k_sample=True)``) and the stepwise estimate, ``ci_low`` the lower confidence limit of
   that larger one, ``ci_high`` ``None`` (no model the data support bounds N above), the reason in
   ``interval_notes``; the stepwise and Chao results are in ``tables``.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.default import DefaultMSE
>>> res = DefaultMSE().fit(read_capture_csv("data_samples/uk_2013.csv"))
>>> res.method, res.status
('stepwise', 'ok')
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fl_estimate.i18n import N_
from fl_estimate.mse.closed_form import ChaoLowerBound
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.heterogeneity.diagnosis import ALPHA, diagnose_heterogeneity
from fl_estimate.mse.loglinear.estimators import LogLinearEstimator, StepwiseMSE
from fl_estimate.mse.options import IntervalOptions
from fl_estimate.results import LOWER_BOUND, EstimationResult

__all__ = ["LOWER_BOUND", "DefaultMSE", "lower_bound_result"]


def lower_bound_result(
    selected: EstimationResult, chao: EstimationResult, reason: str, **diagnostics: Any
) -> EstimationResult:
    """Combine the selected model and Chao's bound into a lower-bound result (see the module)."""
    use_chao = chao.ok and (not selected.ok or (chao.estimate or 0) >= (selected.estimate or 0))
    base = chao if use_chao else selected
    source = (
        N_("Chao's lower bound")
        if use_chao
        else N_("the {method} estimate", method=selected.method)
    )
    note = N_(
        "Only a lower bound: {reason}. The figure is {source} (the larger of Chao's lower bound "
        "and the {method} estimate), and {level:.0%} confidence goes with 'at least the lower "
        "limit'; no upper limit can be claimed from these data.",
        reason=reason,
        source=source,
        method=selected.method,
        level=base.level,
    )
    return EstimationResult(
        method="lower-bound",
        model=f"max(Chao lower bound, {selected.method}: {selected.model})",
        observed=selected.observed,
        estimate=base.estimate,
        interval=(base.ci_low, None),
        interval_kind=base.interval_kind,
        level=base.level,
        status=LOWER_BOUND,
        status_code=LOWER_BOUND,
        conditional_on_model=base.conditional_on_model,
        diagnostics={
            **dict(selected.diagnostics),
            **diagnostics,
            "lower_bound_source": "chao" if use_chao else selected.method,
            "selected_estimate": selected.estimate,
            "chao_estimate": chao.estimate,
        },
        provenance=selected.provenance,
        stratum=dict(selected.stratum),
        tables={
            **dict(selected.tables),
            "selected_model": selected.to_frame(),
            "chao_lower_bound": chao.to_frame(),
        },
        draws=None,
        interval_notes=note,
    )


class DefaultMSE(LogLinearEstimator):
    """The documented default policy: stepwise, or a lower bound when heterogeneity shows.

    Parameters
    ----------
    pthresh : float
        Stepwise entry level of two-list interactions (SparseMSE's 0.02; ``criterion="pvalue"``).
    criterion : {"pvalue", "aic", "bic"}
        Stepwise rule of the selected model (see :class:`StepwiseMSE`).
    alpha : float
        Size of the heterogeneity diagnosis (0.05).
    """

    method = "default"

    def __init__(
        self, pthresh: float = 0.02, criterion: str = "pvalue", alpha: float = ALPHA
    ) -> None:
        self.pthresh = pthresh
        self.criterion = criterion
        self.alpha = alpha

    def fit_with(self, data: CaptureData, options: IntervalOptions) -> EstimationResult:
        """The policy with the interval options as one object (:meth:`fit` takes keywords)."""
        selected = StepwiseMSE(pthresh=self.pthresh, criterion=self.criterion).fit_with(
            data, options
        )
        if data.n_lists < 3 or data.n_observed == 0:
            return replace(
                selected,
                diagnostics={
                    **selected.diagnostics,
                    "policy": N_(
                        "selected model (heterogeneity not testable with fewer than 3 lists)"
                    ),
                },
            )
        diag = diagnose_heterogeneity(data, alpha=self.alpha)
        info = {"heterogeneity_diagnosis": diag.to_dict(), "heterogeneity_flag": diag.flag}
        if not diag.flag:
            return replace(
                selected,
                diagnostics={
                    **selected.diagnostics,
                    **info,
                    "policy": N_("selected model (heterogeneity diagnosis quiet)"),
                },
            )
        chao = ChaoLowerBound(k_sample=True).fit(data, level=options.level)
        return lower_bound_result(
            selected,
            chao,
            diag.reason,
            **info,
            policy=N_("lower bound (heterogeneity diagnosis fired)"),
        )
