"""Charts and reports of the annual run.

:func:`write_outputs` takes a :class:`ReportSpec` and plain DataFrames (it never imports the
annual run, :mod:`fl_estimate.pipeline`, which composes it).
"""

from fl_estimate.reporting.charts import (
    plot_indicator_prevalence,
    plot_national_trend,
    plot_regional_comparison,
    plot_trend_by_region,
)
from fl_estimate.reporting.report import write_outputs
from fl_estimate.reporting.spec import LinkageQuality, MethodSpec, ReportSpec, StatisticsSection

__all__ = [
    "LinkageQuality",
    "MethodSpec",
    "ReportSpec",
    "StatisticsSection",
    "plot_indicator_prevalence",
    "plot_national_trend",
    "plot_regional_comparison",
    "plot_trend_by_region",
    "write_outputs",
]
