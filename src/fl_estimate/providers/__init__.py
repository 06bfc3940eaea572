"""From provider submissions to capture histories.

Validation of provider files (:mod:`.submissions`), the provider registry and completeness report
(:mod:`.registry`), pseudonymisation (:mod:`.pseudonymise`), record linkage (:mod:`.linkage`),
the linkage run driven by a configuration file (:mod:`.linkrun`) and the synthetic sample country
(:mod:`.synthetic`). The table of N̂ across match thresholds, and so the whole
``fl-estimate link`` command, is composed in :mod:`fl_estimate.pipeline.linkage_sensitivity`:
this layer never runs an estimator.
"""

from fl_estimate.providers.linkage import (
    LinkageResult,
    RecordLinker,
    prepare_records,
)
from fl_estimate.providers.pseudonymise import KEY_ENV_VAR, Pseudonymiser
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import (
    LoadedSubmissions,
    SubmissionReport,
    load_submissions,
    validate_submission,
)

__all__ = [
    "KEY_ENV_VAR",
    "LinkageResult",
    "LoadedSubmissions",
    "ProviderRegistry",
    "Pseudonymiser",
    "RecordLinker",
    "SubmissionReport",
    "load_submissions",
    "prepare_records",
    "validate_submission",
]
