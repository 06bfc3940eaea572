"""Record linkage of pseudonymised submissions into one capture history per person.

Records are prepared (:mod:`.prepare`: keys, Bloom-filter words, canonical order), linked by
deterministic rules and a Fellegi–Sunter model fitted with splink (:mod:`.model`), and clustered
by connected components of the links at or above a match-probability threshold (:mod:`.clusters`);
a cluster is a person. Links within a provider are kept too, so the same pass removes each
provider's duplicates. :class:`LinkageResult` (:mod:`.result`) gives the capture histories and a
linkage report with counts only. The same splink settings run on Spark for national-scale data
(see ``docs/providers.md``). N̂ across match thresholds, which needs an estimator, is computed in
the pipeline layer (:func:`fl_estimate.pipeline.linkage_sensitivity.linkage_sensitivity`).
"""

from __future__ import annotations

from fl_estimate.providers.linkage.model import (
    DEFAULT_BLOCKING,
    DEFAULT_DETERMINISTIC_RULES,
    DEFAULT_EM_BLOCKING,
    DEFAULT_PRIOR_RULES,
    RecordLinker,
)
from fl_estimate.providers.linkage.prepare import SPLINK_COLUMNS, prepare_records, splink_table
from fl_estimate.providers.linkage.result import (
    DEFAULT_THRESHOLD,
    LinkageResult,
    published_warning,
)

__all__ = [
    "DEFAULT_BLOCKING",
    "DEFAULT_DETERMINISTIC_RULES",
    "DEFAULT_EM_BLOCKING",
    "DEFAULT_PRIOR_RULES",
    "DEFAULT_THRESHOLD",
    "SPLINK_COLUMNS",
    "LinkageResult",
    "RecordLinker",
    "prepare_records",
    "published_warning",
    "splink_table",
]
