"""The annual national run: from a configuration file to tables, charts and a report."""

from fl_estimate.pipeline.config import RunConfig, read_run_config
from fl_estimate.pipeline.run import RunResult, check_stratum, run

__all__ = ["RunConfig", "RunResult", "check_stratum", "read_run_config", "run"]
