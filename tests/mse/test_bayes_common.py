"""The Bayesian family as a whole: fit signatures the method registry can read, imports that stay
light, no writes to stderr, diagnostics and ArviZ trees of the shared helpers."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import subprocess
import sys
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.bayes import common
from fl_estimate.mse.bayes.dga import DGA
from fl_estimate.mse.bayes.hierarchical import BayesHierarchicalLogLinear
from fl_estimate.mse.bayes.lcmcr import LCMCR
from fl_estimate.mse.bayes.loglinear import BayesLogLinear
from fl_estimate.mse.bayes.threshold import BayesThresholdMSE

BAYES_DIR = Path(common.__file__).parent
CLASSES = [LCMCR, DGA, BayesLogLinear, BayesThresholdMSE, BayesHierarchicalLogLinear]
HEAVY = ("pymc", "pytensor", "numba")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fit_options_are_keyword_only_with_real_defaults(cls):
    # The method registry derives each method's options from the constructor and fit
    # signatures: every option must be named, have a default, and fit's must be keyword-only
    # (no **kwargs that would swallow a misspelt option).
    ctor = inspect.signature(cls).parameters.values()
    assert all(p.default is not p.empty for p in ctor), cls
    params = list(inspect.signature(cls.fit).parameters.values())
    assert [p.name for p in params[:2]] == ["self", "data"]
    opts = params[2:]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in opts), opts
    assert {"chains", "draws", "seed", "level"} <= {p.name for p in opts}
    assert inspect.signature(cls.fit).parameters["level"].default == 0.95


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at the top of a file (outside functions and classes)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(BAYES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_heavy_libraries_are_imported_only_where_used(path):
    # pymc, pytensor and numba load in seconds: no module of the family imports them (or the
    # numba kernels) at its top, except the kernels module itself, imported when a fit runs.
    top = _top_level_imports(path)
    heavy = {m for m in top if m.split(".")[0] in HEAVY or m.endswith("lcmcr_kernels")}
    assert heavy == ({"numba"} if path.name == "lcmcr_kernels.py" else set()), heavy


def test_importing_the_family_loads_no_pymc():
    # The same in a fresh interpreter: importing every estimator module loads neither PyMC nor
    # PyTensor (numba may come in through other estimators of fl_estimate.mse).
    mods = ", ".join(f"fl_estimate.mse.bayes.{p.stem}" for p in BAYES_DIR.glob("*.py"))
    code = f"import sys, {mods}; print(sorted(m for m in ('pymc', 'pytensor') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("path", sorted(BAYES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_writes_to_stderr_or_print(path):
    # Library code reports through logging; the CLI decides what to show.
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("stderr", "stdout"):
            pytest.fail(f"{path.name}:{node.lineno} uses sys.{node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            pytest.fail(f"{path.name}:{node.lineno} calls print")


def test_common_never_imports_the_estimators():
    # No import cycle: the estimators import common, never the other way round.
    top = _top_level_imports(BAYES_DIR / "common.py")
    inner = {
        n.module
        for n in ast.walk(ast.parse((BAYES_DIR / "common.py").read_text()))
        if isinstance(n, ast.ImportFrom) and n.module
    }
    siblings = {f"fl_estimate.mse.bayes.{p.stem}" for p in BAYES_DIR.glob("*.py")}
    assert not (top | inner) & siblings


def test_chain_diagnostics_flag_disagreeing_chains():
    # Two chains around 100, two around 110 (sd 1): R-hat far above 1.01; four chains from the
    # same distribution: R-hat within 0.01 of 1 (4 x 2,000 independent draws: its noise is
    # about 0.001). Exact ESS: independent draws give ESS close to the number of draws.
    rng = np.random.default_rng(0)
    same = rng.normal(100, 1, size=(4, 2000))
    apart = same + np.array([[0], [0], [10], [10]])
    good, bad = common.chain_diagnostics(same), common.chain_diagnostics(apart)
    assert abs(good["rhat_N"] - 1) < 0.01 and good["ess_bulk_N"] > 6000
    assert bad["rhat_N"] > 1.5
    assert common.convergence_problems(good) == []
    assert "chains disagree" in common.convergence_problems(bad)[0]
    tree = common.draws_to_datatree({"N": same}, method="test")
    assert az.summary(tree).loc["N", "mean"] == pytest.approx(same.mean(), abs=0.01)


def test_pymc_classes_share_one_fit_whose_defaults_are_the_options_object():
    # One signature (NutsEstimator.fit) for the three PyMC methods, and its defaults are
    # NutsOptions' fields: the registry lists what fit_with receives.
    params = list(inspect.signature(common.NutsEstimator.fit).parameters.values())[2:]
    assert {p.name: p.default for p in params} == {
        f.name: f.default for f in dataclasses.fields(common.NutsOptions)
    }
    for cls in (BayesLogLinear, BayesThresholdMSE, BayesHierarchicalLogLinear):
        assert cls.fit is common.NutsEstimator.fit, cls


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("draws", 0, "draws must be an integer >= 1, got 0"),
        ("chains", 2.5, "chains must be an integer >= 1"),
        ("tune", -1, "tune must be an integer >= 0"),
        ("level", 95, "option level=95 is not valid"),
        ("target_accept", 1.0, "target_accept must be strictly between 0 and 1"),
    ],
)
def test_sampler_options_are_checked_before_pymc_runs(option, value, message):
    # Checked when fit builds the options, before any model is built or sampled (no PyMC
    # import needed: the table is never looked at).
    with pytest.raises(ModelSpecificationError, match=re.escape(message)):
        BayesLogLinear().fit(None, **{option: value})
    with pytest.raises(ModelSpecificationError, match=re.escape(message)):
        common.NutsOptions(**{option: value})


def test_count_options_are_whole_numbers():
    assert common.check_count("thin", 10.0, 1) == 10
    for bad in (0, 1.5, "3", True, None):
        with pytest.raises(ModelSpecificationError, match="thin must be an integer >= 1"):
            common.check_count("thin", bad, 1)
