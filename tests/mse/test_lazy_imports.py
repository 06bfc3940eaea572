"""The packages whose names are imported on first use (PEP 562): every public name resolves, and
importing the package (or the CLI's heterogeneity check) does not load the heavy modules.

The import checks run in a fresh interpreter (``sys.modules`` of this process already holds
everything the other tests imported).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

LAZY_PACKAGES = (
    "fl_estimate",
    "fl_estimate.mse",
    "fl_estimate.mse.bayes",
    "fl_estimate.mse.covariates",
    "fl_estimate.mse.heterogeneity",
    "fl_estimate.mse.loglinear",
)

#: modules that none of these package imports may load
HEAVY = ("scipy.optimize", "scipy.stats", "pymc", "pytensor", "numba", "matplotlib")


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints a JSON value as its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_name_in_all_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        assert name in dir(module)
    # and through the import statement
    namespace: dict = {}
    exec(f"from {package} import {', '.join(module.__all__)}", namespace)
    assert set(module.__all__) <= set(namespace)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_lazy_names_are_the_defining_modules_objects() -> None:
    from fl_estimate.mse import heterogeneity, loglinear
    from fl_estimate.mse.heterogeneity import closedp
    from fl_estimate.mse.loglinear import fit, intervals

    assert loglinear.irls is fit.irls
    assert loglinear.profile_interval is intervals.profile_interval
    assert heterogeneity.profile_interval is not loglinear.profile_interval
    assert heterogeneity.ClosedPopulationModels is closedp.ClosedPopulationModels


def test_a_submodule_read_as_an_attribute_is_imported() -> None:
    """The eager packages had their sub-modules as attributes; the lazy ones import them."""
    found = _fresh(
        "import json, fl_estimate.mse.loglinear as ll\n"
        "print(json.dumps([ll.intervals.__name__, hasattr(ll, 'no_such_module')]))"
    )
    assert found == ["fl_estimate.mse.loglinear.intervals", False]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_importing_the_package_loads_no_heavy_module(package: str) -> None:
    loaded = _fresh(
        f"import json, sys, {package}\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_the_heterogeneity_check_loads_neither_scipy_optimize_nor_scipy_stats() -> None:
    """The diagnosis the CLI runs on every ``fl-estimate mse`` result (issue 23: its import was
    1.56 CPU-s of a 5 CPU-s Bayesian thresholding process)."""
    loaded = _fresh(
        "import json, sys\n"
        "from fl_estimate.mse.heterogeneity.diagnosis import diagnose_heterogeneity\n"
        "print(json.dumps([m for m in ('scipy.optimize', 'scipy.stats', 'scipy.special', "
        "'fl_estimate.mse.loglinear.intervals', 'fl_estimate.mse.loglinear.estimators') "
        "if m in sys.modules]))"
    )
    assert loaded == []


def test_normal_tail_matches_scipy() -> None:
    """The diagnosis's p-values use ``math.erfc`` instead of ``scipy.stats.norm.sf``: the same
    values to 1e-12 relative up to z = 30 (p = 5e-198): the argument z / sqrt(2) carries a
    rounding error of about z * 1e-16, which moves erfc by about 2 z^2 * 1e-16 relative in
    either implementation (1.8e-13 at z = 30), far below the 2 significant digits printed."""
    from scipy.stats import norm

    from fl_estimate.mse.heterogeneity.diagnosis import _normal_sf

    for z in (0.0, 0.1, 1.0, 1.96, 3.0, 8.0, 11.4, 30.0):
        assert _normal_sf(z) == pytest.approx(float(norm.sf(z)), rel=1e-12, abs=0.0)


def test_xarray_dask_check_gives_the_same_answers() -> None:
    """``_dask_check_without_import`` replaces xarray's ``is_dask_collection`` by one that
    answers plain arrays without importing dask.base, and gives dask's answer otherwise."""
    found = _fresh(
        "import json, sys\n"
        "import numpy as np\n"
        "from fl_estimate.mse.bayes.common import _dask_check_without_import, numpy_only_xarray\n"
        "from xarray.namedarray import utils\n"
        "_dask_check_without_import(); _dask_check_without_import()\n"
        "wrapped = utils.is_dask_collection\n"
        "import xarray as xr\n"
        "with numpy_only_xarray():\n"
        "    da = xr.DataArray(np.arange(3.0), dims=['x'], coords={'x': [1, 2, 3]})\n"
        "v = float(da.to_numpy().sum())\n"
        "before = 'dask.base' in sys.modules\n"
        "plain = wrapped(np.arange(3))\n"
        "import dask.array as dsa\n"
        "lazy = wrapped(dsa.ones(3))\n"
        "print(json.dumps([v, before, plain, lazy, utils.is_dask_collection is wrapped]))"
    )
    assert found == [3.0, False, False, True, True]


def test_default_estimate_and_bayesian_thresholding_load_neither_scipy_stats_nor_optimize() -> None:
    """What ``fl-estimate mse kosovo.csv`` runs (the default method, Wald interval, the
    heterogeneity check) and Bayesian thresholding with the independence sampler: scipy.stats
    and scipy.optimize stay unimported (0.5 and 0.2 s of a fresh process, issue 23)."""
    data = Path(__file__).resolve().parents[1] / "data" / "mse" / "kosovo.csv"
    loaded = _fresh(
        "import json, sys\n"
        "from fl_estimate.mse import estimate, read_capture_csv\n"
        "from fl_estimate.mse.heterogeneity.diagnosis import diagnose_heterogeneity\n"
        f"d = read_capture_csv({str(data)!r})\n"
        "r = estimate(d)\n"
        "diagnose_heterogeneity(d)\n"
        "t = estimate(d, method='bayes-threshold', seed=1, sampler='imh', draws=200)\n"
        "print(json.dumps([round(r.estimate), r.interval_kind, t.estimate > 0, "
        "[m for m in ('scipy.stats', 'scipy.optimize', 'dask.base') if m in sys.modules]]))"
    )
    assert loaded[1:] == ["wald-log", True, []]


def test_normal_quantiles_are_scipy_stats_own() -> None:
    """The Wald and BCa intervals call ``scipy.special.ndtri`` / ``ndtr``, the functions
    ``scipy.stats.norm.ppf`` / ``cdf`` evaluate: bit-identical."""
    import numpy as np
    from scipy.special import ndtr, ndtri
    from scipy.stats import norm

    q = np.array([0.0, 1e-12, 0.025, 0.5, 0.8, 0.975, 0.995, 1.0])
    assert np.array_equal(ndtri(q), norm.ppf(q))
    x = np.array([-40.0, -3.0, -1.96, 0.0, 0.3, 2.5, 40.0])
    assert np.array_equal(ndtr(x), norm.cdf(x))
    assert ndtri(0.5 + 0.95 / 2) == norm.ppf(0.5 + 0.95 / 2)
