from __future__ import annotations

import os

import matplotlib

# The command line's messages follow FL_ESTIMATE_LANG or the locale (fl_estimate.i18n.
# message_language): the suite's expected messages are English whatever the machine's locale;
# tests of French messages set the variable themselves.
os.environ["FL_ESTIMATE_LANG"] = "en"

matplotlib.use("Agg")

import shutil
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """The annual run's fit cache (fl_estimate.pipeline.cache) in a fresh folder per test
    process, never the user's cache: no test reads a fit that an earlier session stored."""
    folder = tempfile.mkdtemp(prefix="fl_estimate_cache_")
    config.stash[_CACHE] = folder
    os.environ["FL_ESTIMATE_CACHE"] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_CACHE, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


_CACHE = pytest.StashKey[str]()
