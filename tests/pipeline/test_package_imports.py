"""What a worker that fits strata imports, and the package's names (fl_estimate.pipeline)."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_a_stratum_worker_does_not_import_the_linkage_or_the_report() -> None:
    # the annual run's workers unpickle fl_estimate.pipeline.strata.fit_stratum: their start-up
    # is the estimators' import only (the linkage's, pandera's and the report's are half of it)
    out = _run(
        "import sys, fl_estimate.pipeline.strata\n"
        "print(sorted(m for m in ('fl_estimate.pipeline.run', 'fl_estimate.providers',"
        " 'fl_estimate.reporting', 'pandera') if m in sys.modules))"
    )
    assert out == "[]"


def test_run_is_the_function_before_and_after_its_module_is_imported() -> None:
    out = _run(
        "import fl_estimate.pipeline as p\n"
        "from fl_estimate.pipeline import run, RunResult\n"
        "import fl_estimate.pipeline.run\n"
        "import importlib\n"
        "m = importlib.import_module('fl_estimate.pipeline.run')\n"
        "print(callable(run), run is p.run, run is m.run, RunResult is m.RunResult,"
        " type(m).__name__)"
    )
    assert out == "True True True True module"


def test_unknown_names_raise_attribute_error() -> None:
    import fl_estimate.pipeline as p

    try:
        p.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("no AttributeError")
