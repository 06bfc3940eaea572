"""From provider submissions to capture histories.

Validation of provider files (:mod:`.submissions`), the provider registry and completeness report
(:mod:`.registry`), pseudonymisation (:mod:`.pseudonymise`), record linkage (:mod:`.linkage`),
the whole path driven by a configuration file (:mod:`.pipeline`) and the synthetic sample country
(:mod:`.synthetic`).
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
