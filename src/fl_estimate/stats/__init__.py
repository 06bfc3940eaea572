"""Periodic administrative statistics by the IC-TIP units (events, victims, perpetrators,
reporting entities): category lists (:mod:`.categories`), count tables by region and period after
disclosure control (:mod:`.tables`) and their labels in the report's language (:mod:`.labels`).

This package works on plain DataFrames (estimator layer); reading and checking the providers'
files is :mod:`fl_estimate.providers.casefiles`, and ``fl-estimate stats`` is composed in
:mod:`fl_estimate.pipeline.stats`.
"""

from fl_estimate.stats.tables import (
    PublishedTable,
    age_group,
    count_blocks,
    exploitation_group,
    period_label,
    victim_persons,
)

__all__ = [
    "PublishedTable",
    "age_group",
    "count_blocks",
    "exploitation_group",
    "period_label",
    "victim_persons",
]
