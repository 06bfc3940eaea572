"""Charts and reports of the annual run."""

from fl_estimate.reporting.charts import (
    plot_indicator_prevalence,
    plot_national_trend,
    plot_regional_comparison,
    plot_trend_by_region,
)

__all__ = [
    "plot_indicator_prevalence",
    "plot_national_trend",
    "plot_regional_comparison",
    "plot_trend_by_region",
]
