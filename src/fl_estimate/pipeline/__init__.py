"""The annual national run: from a configuration file to tables, charts and a report.

The only place that composes linkage (:mod:`fl_estimate.providers`), estimation
(:mod:`fl_estimate.mse`) and reporting (:mod:`fl_estimate.reporting`).

:func:`run` and :class:`RunResult` are imported on first use: a worker process that fits
strata (:mod:`fl_estimate.pipeline.strata`) then imports the estimators only, not the linkage
and reporting the run composes (half its start-up).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from fl_estimate.pipeline.config import RunConfig, read_run_config
from fl_estimate.pipeline.strata import check_stratum

if TYPE_CHECKING:
    from fl_estimate.pipeline.run import RunResult, run

__all__ = ["RunConfig", "RunResult", "check_stratum", "read_run_config", "run"]


class _Package(types.ModuleType):
    """The package's module, whose name ``run`` is the function :func:`run` also once the
    submodule of that name is imported (the import system then binds the submodule to the
    package's attribute of its name; as with the eager import it replaces, the submodule is
    ``sys.modules["fl_estimate.pipeline.run"]``)."""

    @property
    def run(self) -> Any:
        return importlib.import_module("fl_estimate.pipeline.run").run

    @run.setter
    def run(self, value: Any) -> None:  # the import system binding the submodule: not a name
        pass


def __getattr__(name: str) -> Any:
    if name == "RunResult":
        return importlib.import_module("fl_estimate.pipeline.run").RunResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


sys.modules[__name__].__class__ = _Package
