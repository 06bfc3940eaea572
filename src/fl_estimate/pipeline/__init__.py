"""The annual national run: from a configuration file to tables, charts and a report.

The only place that composes linkage (:mod:`fl_estimate.providers`), estimation
(:mod:`fl_estimate.mse`) and reporting (:mod:`fl_estimate.reporting`).
"""

from fl_estimate.pipeline.config import RunConfig, read_run_config
from fl_estimate.pipeline.run import RunResult, run
from fl_estimate.pipeline.strata import check_stratum

__all__ = ["RunConfig", "RunResult", "check_stratum", "read_run_config", "run"]
