"""Shared machinery of the Bayesian estimators: results from posterior draws, diagnostics, and
the PyMC estimators' sampler options (:class:`NutsOptions`) and base class
(:class:`NutsEstimator`).

The Bayesian estimators (:class:`~fl_estimate.mse.bayes.lcmcr.LCMCR`,
:class:`~fl_estimate.mse.bayes.dga.DGA`, :class:`~fl_estimate.mse.bayes.loglinear.BayesLogLinear`,
:class:`~fl_estimate.mse.bayes.hierarchical.BayesHierarchicalLogLinear`,
:class:`~fl_estimate.mse.bayes.threshold.BayesThresholdMSE`) report the same way: the posterior median of N as the estimate, the equal-tailed credible
interval (``interval_kind="credible-eti"``), and, for MCMC, the R-hat and bulk/tail effective
sample sizes of N computed by ArviZ, with a :class:`~fl_estimate.exceptions.ConvergenceWarning`
that says what to do when they are not good enough. Every result's ``draws`` is an ArviZ
``DataTree`` whose ``posterior`` group holds ``N`` (see docs/bayesian.md).

The three PyMC estimators (``BayesLogLinear``, ``BayesHierarchicalLogLinear``,
``BayesThresholdMSE``) take the same sampler options as keywords of one ``fit`` (that of
:class:`NutsEstimator`), which checks them once, as one frozen :class:`NutsOptions`, and hands
that object to the class's :meth:`~NutsEstimator.fit_with`.

This module imports none of the estimators (they import it), and ArviZ only inside the
functions that need it, and then only its data half (``arviz_base``, for the trees); the
diagnostics are ArviZ's estimators written in numpy (:mod:`fl_estimate.mse.bayes.convergence`),
so a fit loads neither ``arviz_stats`` (and ``scipy.stats``) nor the plotting half
(matplotlib).

Examples
--------
>>> opts = NutsOptions(chains=2, draws=500, seed=1)
>>> opts.tune, opts.level, opts.with_seed(7).seed
(1000, 0.95, 7)
>>> NutsOptions(draws=0)
Traceback (most recent call last):
...
fl_estimate.exceptions.ModelSpecificationError: draws must be an integer >= 1, got 0
"""

from __future__ import annotations

import importlib.util
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import ConvergenceWarning, ModelSpecificationError
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.bayes import convergence as cv
from fl_estimate.mse.options import check_level
from fl_estimate.results import EstimationResult, provenance

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fl_estimate.mse.data import CaptureData

__all__ = [
    "DEFAULT_COMPILE_MODE",
    "ESS_MIN",
    "RHAT_MAX",
    "SAMPLERS",
    "NutsEstimator",
    "NutsOptions",
    "add_posterior_var",
    "chain_diagnostics",
    "chain_seeds",
    "check_count",
    "convergence_problems",
    "draws_to_datatree",
    "numpy_only_xarray",
    "plot_trace",
    "result_from_draws",
    "several_modes",
]

#: R-hat above this triggers a :class:`ConvergenceWarning` (Vehtari et al. 2021).
RHAT_MAX = 1.01
#: Bulk or tail ESS of N below this triggers a :class:`ConvergenceWarning`.
ESS_MIN = 400.0
#: PyTensor compile mode used for sampling. NUMBA compiles the model graph much faster than
#: the C backend on a cold cache (measured: about 20 s vs 100 s for a 3-list model).
DEFAULT_COMPILE_MODE = "NUMBA"
#: The NUTS implementations :class:`NutsOptions` offers.
SAMPLERS = ("auto", "pymc", "nutpie", "imh")


def check_count(name: str, value: Any, low: int) -> int:
    """``value`` as an int if it is a whole number ``>= low``, else
    :class:`ModelSpecificationError` naming the option (chains, draws, thin, ...).

    Examples
    --------
    >>> check_count("chains", 4.0, 1)
    4
    >>> check_count("burnin", -1, 0)
    Traceback (most recent call last):
    ...
    fl_estimate.exceptions.ModelSpecificationError: burnin must be an integer >= 0, got -1
    """
    try:
        whole = int(value) == value and value >= low
    except (TypeError, ValueError):
        whole = False
    if isinstance(value, bool) or not whole:
        raise ModelSpecificationError(
            N_("{name} must be an integer >= {low}, got {value!r}", name=name, low=low, value=value)
        )
    return int(value)


@dataclass(frozen=True)
class NutsOptions:
    """How the PyMC estimators sample (NUTS) and summarise: one checked, frozen object.

    :meth:`NutsEstimator.fit` builds it from its keywords; the fields are those keywords.

    Parameters
    ----------
    chains, draws, tune : int
        NUTS chains, kept draws per chain and tuning steps per chain.
    seed : int, Generator or SeedSequence, optional
        Seeds the chains (independent child seeds, :func:`chain_seeds`) and the draws made
        after sampling (e.g. of the unobserved count).
    level : float
        Credible level of the equal-tailed interval, strictly between 0 and 1.
    target_accept : float
        NUTS target acceptance, strictly between 0 and 1 (raise towards 0.99 if there are
        divergences).
    cores : int
        Processes for the chains (1: sequential, which avoids process start-up cost for small
        models).
    compile_mode : str
        PyTensor mode (``"NUMBA"`` default, ``"FAST_RUN"`` for the C backend).
    progress : bool
        PyMC's progress bar.
    sampler : {"auto", "pymc", "nutpie", "imh"}
        Which sampler draws the posterior. ``"imh"``: the exact independence
        Metropolis–Hastings sampler of :mod:`fl_estimate.mse.bayes.imh` (t proposal from the
        Laplace approximation, numpy, nothing compiled: milliseconds per fit) for the normal-
        and flat-prior models of ``BayesLogLinear`` and ``BayesThresholdMSE``, with PyMC's
        NUTS instead when its proposal mixes poorly (low acceptance, chains that disagree) and
        for the other models. ``"pymc"``: PyMC's own NUTS, the reference of the tests.
        ``"nutpie"``: nutpie's NUTS (Rust; the extra ``fl_estimate[fast]``), which samples the
        same posterior several times faster once the model is compiled (numba, 10-40 s per
        model shape and process). ``"auto"`` (default): ``"imh"`` where it applies (so NUTS
        when the proposal is poor), ``"pymc"`` elsewhere (the horseshoe prior, the
        hierarchical model). ``diagnostics["sampler_used"]`` says which one drew the draws.

    Raises
    ------
    ModelSpecificationError
        Naming the option and its value.
    """

    chains: int = 4
    draws: int = 1000
    seed: SeedLike = None
    level: float = 0.95
    tune: int = 1000
    target_accept: float = 0.9
    cores: int = 1
    compile_mode: str = DEFAULT_COMPILE_MODE
    progress: bool = False
    sampler: str = "auto"

    def __post_init__(self) -> None:
        for name, low in (("chains", 1), ("draws", 1), ("tune", 0), ("cores", 1)):
            object.__setattr__(self, name, check_count(name, getattr(self, name), low))
        object.__setattr__(self, "level", check_level(self.level))
        if self.sampler not in SAMPLERS:
            raise ModelSpecificationError(
                N_(
                    "sampler must be one of {samplers}, got {sampler!r}",
                    samplers=", ".join(SAMPLERS),
                    sampler=self.sampler,
                )
            )
        if self.sampler == "nutpie" and importlib.util.find_spec("nutpie") is None:
            raise ModelSpecificationError(
                N_("sampler 'nutpie' needs the nutpie package: pip install 'fl_estimate[fast]'")
            )
        if not (isinstance(self.target_accept, int | float) and 0 < self.target_accept < 1):
            raise ModelSpecificationError(
                N_(
                    "target_accept must be strictly between 0 and 1, got {value!r}",
                    value=self.target_accept,
                )
            )

    def with_seed(self, seed: SeedLike) -> NutsOptions:
        """A copy with another seed (e.g. one child seed per fit of a multi-fit method)."""
        return replace(self, seed=seed)


class NutsEstimator[DataT](ABC):
    """Base of the PyMC estimators: one ``fit`` with the sampler options as keywords.

    A subclass sets ``method`` and implements :meth:`fit_with`, which receives the options
    checked once, as one :class:`NutsOptions`. The method registry reads the options from
    :meth:`fit`'s signature, so every PyMC method offers the same ones with the same defaults.
    """

    method: str

    def fit(
        self,
        data: DataT,
        *,
        chains: int = 4,
        draws: int = 1000,
        seed: SeedLike = None,
        level: float = 0.95,
        tune: int = 1000,
        target_accept: float = 0.9,
        cores: int = 1,
        compile_mode: str = DEFAULT_COMPILE_MODE,
        progress: bool = False,
        sampler: str = "auto",
    ) -> EstimationResult:
        """Sample the posterior by NUTS and summarise N.

        Parameters
        ----------
        data : CaptureData (StratifiedCaptureData for the hierarchical model)
        chains, draws, seed, level, tune, target_accept, cores, compile_mode, progress, sampler
            The sampler options, as the fields of :class:`NutsOptions` (the defaults shown).

        Returns
        -------
        EstimationResult
            What the class's :meth:`fit_with` returns (its docstring says what the
            ``diagnostics``, ``tables`` and ``draws`` hold).

        Raises
        ------
        ModelSpecificationError
            An option out of range (see :class:`NutsOptions`), or what :meth:`fit_with` raises.
        """
        options = NutsOptions(
            chains=chains,
            draws=draws,
            seed=seed,
            level=level,
            tune=tune,
            target_accept=target_accept,
            cores=cores,
            compile_mode=compile_mode,
            progress=progress,
            sampler=sampler,
        )
        return self.fit_with(data, options)

    @abstractmethod
    def fit_with(self, data: DataT, options: NutsOptions) -> EstimationResult:
        """Fit ``data`` with the sampler options as one object (what :meth:`fit` calls)."""


def chain_diagnostics(n_draws: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """R-hat, bulk and tail ESS and Monte Carlo standard errors of quantiles of N.

    Parameters
    ----------
    n_draws : ndarray of shape (chains, draws)
        Posterior draws of N.
    level : float
        Level of the equal-tailed interval whose ends get a Monte Carlo standard error.

    Returns
    -------
    dict
        ``rhat_N`` (rank-normalised split R-hat), ``ess_bulk_N``, ``ess_tail_N``,
        ``mcse_median_N``, ``mcse_low_N``, ``mcse_high_N`` (MCSE of the interval ends),
        ``chains``, ``draws_per_chain``. R-hat is ``nan`` with a single chain.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = chain_diagnostics(rng.normal(1000, 50, size=(4, 500)))
    >>> d["chains"], d["draws_per_chain"], round(d["rhat_N"], 2), d["ess_bulk_N"] > 1500
    (4, 500, 1.0, True)
    """
    x = np.asarray(n_draws, dtype=float)
    if x.ndim != 2:
        raise ValueError(N_("n_draws must have shape (chains, draws), got {shape}", shape=x.shape))
    a = (1 - level) / 2
    out: dict[str, float] = {"chains": int(x.shape[0]), "draws_per_chain": int(x.shape[1])}
    if np.ptp(x) == 0:
        # a constant chain: ArviZ returns nan; say so plainly
        out.update(
            rhat_N=float("nan"),
            ess_bulk_N=float("nan"),
            ess_tail_N=float("nan"),
            mcse_median_N=0.0,
            mcse_low_N=0.0,
            mcse_high_N=0.0,
        )
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rhat_N"] = cv.rhat(x) if x.shape[0] > 1 else float("nan")
        out["ess_bulk_N"] = cv.ess_bulk(x)
        out["ess_tail_N"] = cv.ess_tail(x, (0.05, 0.95))
        out["mcse_median_N"] = cv.mcse_quantile(x, 0.5)
        out["mcse_low_N"] = cv.mcse_quantile(x, a)
        out["mcse_high_N"] = cv.mcse_quantile(x, 1 - a)
    return out


def convergence_problems(diag: Mapping[str, Any]) -> list[str]:
    """Plain-language list of what is wrong with the chains (empty if nothing).

    Examples
    --------
    >>> convergence_problems({"rhat_N": 1.05, "ess_bulk_N": 900.0, "ess_tail_N": 250.0})
    ['R-hat of N is 1.050 (> 1.01): the chains disagree', 'tail ESS of N is 250 (< 400)']
    """
    msgs: list[str] = []
    rhat = diag.get("rhat_N")
    if rhat is not None and np.isfinite(rhat) and rhat > RHAT_MAX:
        msgs.append(
            N_(
                "R-hat of N is {rhat:.3f} (> {limit}): the chains disagree",
                rhat=rhat,
                limit=RHAT_MAX,
            )
        )
    ess = diag.get("ess_bulk_N")
    if ess is not None and np.isfinite(ess) and ess < ESS_MIN:
        msgs.append(N_("bulk ESS of N is {ess:.0f} (< {limit:.0f})", ess=ess, limit=ESS_MIN))
    ess = diag.get("ess_tail_N")
    if ess is not None and np.isfinite(ess) and ess < ESS_MIN:
        msgs.append(N_("tail ESS of N is {ess:.0f} (< {limit:.0f})", ess=ess, limit=ESS_MIN))
    return msgs


def several_modes(n_draws: np.ndarray, *, min_share: float = 0.2) -> str | None:
    """Evidence that MCMC chains sit in different modes of N, in words, or None.

    Chains that agree in location but have not yet mixed well (R-hat a little above 1.01, ESS
    short) only need to run longer; chains in separate modes need another sampler (replica
    exchange). Two signs of separate modes, both on ``log N``:

    1. *Separated chains*: two chains whose interquartile ranges do not overlap (their
       medians are further apart than their spread).
    2. *A bimodal pooled histogram*: smoothed over 40 bins of the central 99% of the pooled
       draws, a second peak at least ``min_share`` as high as the highest, with a valley
       between them below half the lower peak.

    Parameters
    ----------
    n_draws : ndarray of shape (chains, draws)
    min_share : float, default 0.2
        Height of the second peak relative to the first for 2.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> one = rng.lognormal(np.log(1000), 0.1, size=(4, 1000))
    >>> several_modes(one) is None
    True
    >>> two = np.vstack([one[:2], 3 * one[2:]])  # two chains near 1,000, two near 3,000
    >>> several_modes(two)
    'chains 0 and 2 do not overlap (medians 993 and 2,964, interquartile ranges apart)'
    >>> mixed = np.where(rng.random((4, 1000)) < 0.3, 3 * one, one)  # every chain in both
    >>> several_modes(mixed)
    'the pooled draws have two peaks (near 1,013 and 2,995)'
    """
    x = np.log(np.maximum(np.asarray(n_draws, dtype=float), 1e-300))
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75], axis=1)
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            if i < j and (q3[i] < q1[j] or q3[j] < q1[i]):
                return N_(
                    "chains {i} and {j} do not overlap (medians {med_i:,.0f} and "
                    "{med_j:,.0f}, interquartile ranges apart)",
                    i=i,
                    j=j,
                    med_i=float(np.exp(med[i])),
                    med_j=float(np.exp(med[j])),
                )
    lo, hi = np.quantile(x, [0.005, 0.995])
    if not hi > lo:
        return None
    counts, edges = np.histogram(x, bins=40, range=(lo, hi))
    smooth = np.convolve(counts, np.ones(3) / 3, mode="same")
    peaks = [
        k
        for k in range(1, smooth.size - 1)
        if smooth[k] >= smooth[k - 1] and smooth[k] > smooth[k + 1]
    ]
    top = max(peaks, key=lambda k: smooth[k], default=None)
    for k in sorted(peaks, key=lambda k: -smooth[k]):
        if top is None or k == top or smooth[k] < min_share * smooth[top]:
            continue
        a, b = sorted((k, top))
        if smooth[a : b + 1].min() < 0.5 * smooth[k]:
            mids = np.exp((edges[:-1] + edges[1:]) / 2)
            return N_(
                "the pooled draws have two peaks (near {a:,.0f} and {b:,.0f})",
                a=float(mids[a]),
                b=float(mids[b]),
            )
    return None


def result_from_draws(
    *,
    method: str,
    model: str,
    data: CaptureData,
    n_draws: np.ndarray,
    level: float,
    seed: Any,
    settings: Mapping[str, Any],
    idata: Any = None,
    extra_diagnostics: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    advice: str = N_("run longer chains (increase draws or thin) or more chains"),
    warn: bool = True,
    interval_notes: str | None = None,
    stacklevel: int = 3,
) -> EstimationResult:
    """Build an :class:`EstimationResult` from MCMC draws of N.

    The estimate is the posterior median; the interval the equal-tailed ``level`` credible
    interval (quantiles ``(1 - level)/2`` and ``(1 + level)/2``, numpy's default linear
    interpolation). Diagnostics are those of :func:`chain_diagnostics`; when R-hat > 1.01 or an
    ESS < 400, a :class:`ConvergenceWarning` names the numbers and ``advice``, and
    ``diagnostics["converged"]`` is False.

    Examples
    --------
    >>> from fl_estimate.simulate import simulate
    >>> data = simulate(500, ["a", "b", "c"], capture_probs=0.4, seed=2).data
    >>> n = np.random.default_rng(1).normal(500, 20, size=(4, 1000)).round()
    >>> res = result_from_draws(method="demo", model="toy", data=data, n_draws=n, level=0.9,
    ...                         seed=1, settings={}, idata=draws_to_datatree({"N": n}))
    >>> res.interval_kind, res.level, bool(res.estimate == np.median(n)), res.diagnostics["converged"]
    ('credible-eti', 0.9, True, True)
    """
    x = np.asarray(n_draws, dtype=float)
    a = (1 - level) / 2
    flat = x.ravel()
    med, lo, hi = np.quantile(flat, [0.5, a, 1 - a])
    diag: dict[str, Any] = chain_diagnostics(x, level)
    problems = convergence_problems(diag)
    diag["converged"] = not problems
    diag["posterior_mean_N"] = float(flat.mean())
    if extra_diagnostics:
        diag.update(extra_diagnostics)
    if problems and warn:
        warnings.warn(
            N_(
                "{method} on {source}{stratum}: {problems}. The estimate is not reliable yet: "
                "{advice}.",
                method=method,
                source=data.source,
                stratum=_stratum_text(data),
                problems=join_semicolons(problems),
                advice=advice,
            ),
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    return EstimationResult(
        method=method,
        model=model,
        observed=data.n_observed,
        estimate=float(med),
        interval=(float(lo), float(hi)),
        interval_kind="credible-eti",
        level=level,
        conditional_on_model=False,
        diagnostics=diag,
        provenance=provenance(data.data_hash, seed, **settings),
        stratum=dict(data.stratum),
        tables=dict(tables or {}),
        draws=idata,
        interval_notes=interval_notes,
    )


def _stratum_text(data: CaptureData) -> str:
    if not data.stratum:
        return ""
    return " (" + ", ".join(f"{k}={v}" for k, v in data.stratum.items()) + ")"


def draws_to_datatree(variables: Mapping[str, np.ndarray], **attrs: Any) -> Any:
    """An ArviZ DataTree whose ``posterior`` group holds ``variables`` (each (chain, draw, ...)),
    with ``attrs`` on that group.

    Examples
    --------
    >>> import arviz as az
    >>> tree = draws_to_datatree({"N": np.arange(8.0).reshape(2, 4)}, method="demo")
    >>> float(az.summary(tree).loc["N", "mean"]), tree["posterior"].attrs["method"]
    (3.5, 'demo')
    """
    from arviz_base import from_dict

    with numpy_only_xarray():
        tree = from_dict({"posterior": {k: np.asarray(v) for k, v in variables.items()}})
    for k, v in attrs.items():
        tree["posterior"].attrs[k] = v
    return tree


def add_posterior_var(tree: Any, name: str, values: np.ndarray, dims: Sequence[str] = ()) -> None:
    """Add ``values`` (shape (chain, draw, *dims)) to ``tree["posterior"]`` as ``name``."""
    import xarray as xr

    with numpy_only_xarray():
        ds = tree["posterior"].to_dataset()
        ds[name] = xr.DataArray(values, dims=("chain", "draw", *dims))
        tree["posterior"] = xr.DataTree(ds)


@contextmanager
def numpy_only_xarray() -> Iterator[None]:
    """Build xarray objects from numpy arrays without xarray importing dask.

    When dask is installed (``distributed`` is a dependency), xarray imports ``dask.array``
    the first time it wraps any array, only to ask whether the array is a dask one: about
    1.3 CPU-s of a fresh process, as much as a whole Bayesian thresholding fit. While no dask
    array can exist (``dask.array`` not imported yet), the answer is no; inside this block
    xarray is told so through its cache of array modules
    (``xarray.namedarray.pycompat._cached_duck_array_modules``), and the entry is removed on
    exit, so code after the block finds dask as usual. Does nothing once ``dask.array`` is
    imported, or if xarray's internals differ from those of xarray 2024-2026. Also installs
    :func:`_dask_check_without_import` (once, for the process).
    """
    import sys

    try:
        from xarray.namedarray import pycompat

        cache = pycompat._cached_duck_array_modules
        stub = object.__new__(pycompat.DuckArrayModule)
    except (ImportError, AttributeError):
        yield
        return
    if "dask.array" in sys.modules or "dask" in cache:
        yield
        return
    from packaging.version import Version

    _dask_check_without_import()
    stub.module, stub.version, stub.type, stub.available = None, Version("0"), (), False
    cache["dask"] = stub
    try:
        yield
    finally:
        if cache.get("dask") is stub:
            del cache["dask"]


def _dask_check_without_import() -> None:
    """Let xarray tell a numpy array from a dask one without importing ``dask.base``.

    xarray 2026 asks ``dask.base.is_dask_collection`` about every array it converts (in
    ``DataArray.to_numpy``, index creation, ...), importing ``dask.base`` (0.15 CPU-s: jinja2,
    yaml, psutil) when dask is installed. dask's function is False for any object without a
    ``__dask_graph__`` attribute; ``xarray.namedarray.utils.is_dask_collection`` is replaced,
    for the process, by a function that gives that answer itself and calls xarray's own
    otherwise: the same answer for every object, without the import for plain arrays. Does
    nothing if xarray has no such function or it is already replaced.
    """
    try:
        from xarray.namedarray import utils as xr_utils

        original = xr_utils.is_dask_collection
    except (ImportError, AttributeError):
        return
    if getattr(original, "_fl_estimate_wrapper", False):
        return

    def is_dask_collection(x: object) -> bool:
        return hasattr(x, "__dask_graph__") and original(x)

    is_dask_collection._fl_estimate_wrapper = True  # type: ignore[attr-defined]
    xr_utils.is_dask_collection = is_dask_collection  # type: ignore[assignment]


def chain_seeds(seed: SeedLike, chains: int) -> tuple[list[int], np.random.Generator]:
    """Integer seeds for ``chains`` MCMC chains and a generator for draws made afterwards
    (e.g. the unobserved count), all independent children of ``seed``. Chain ``i``'s seed is
    child ``i``, so it does not depend on how many chains run.

    Examples
    --------
    >>> seeds, rng = chain_seeds(1, 3)
    >>> len(seeds), seeds == chain_seeds(1, 3)[0], seeds[:2] == chain_seeds(1, 2)[0]
    (3, True, True)
    """
    kids = spawn_seeds(seed, chains + 1)
    seeds = [int(s.generate_state(1, np.uint32)[0]) for s in kids[:chains]]
    return seeds, np.random.default_rng(kids[chains])


def plot_trace(result: EstimationResult, ax: Any = None) -> Any:
    """Trace plot of N, one line per chain, with the posterior median and interval.

    Parameters
    ----------
    result : EstimationResult
        An MCMC result (LCMCR or PyMC log-linear), whose ``draws`` hold ``N``.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> from fl_estimate.mse.bayes.lcmcr import LCMCR
    >>> from fl_estimate.simulate import simulate
    >>> data = simulate(500, ["a", "b", "c"], capture_probs=0.4, seed=2).data
    >>> res = LCMCR().fit(data, seed=1, chains=2, draws=500, thin=10, burnin=1000)
    >>> ax = plot_trace(res)
    >>> len(ax.get_lines())  # two chains, the median and the interval's two ends
    5
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    from fl_estimate._palette import OKABE_ITO

    try:
        n = np.asarray(result.draws["posterior"]["N"].to_numpy(), dtype=float)
    except (TypeError, KeyError) as exc:
        raise ModelSpecificationError(
            N_(
                "{method} results have no MCMC draws of N to trace (exact or non-MCMC method)",
                method=result.method,
            )
        ) from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    colours = list(OKABE_ITO)
    for c in range(n.shape[0]):
        ax.plot(n[c], lw=0.6, alpha=0.8, color=colours[c % len(colours)], label=f"chain {c}")
    ax.axhline(result.estimate, color="black", lw=1)
    for y in result.interval:
        if y is not None:
            ax.axhline(y, color="black", lw=0.8, ls="--")
    rhat = result.diagnostics.get("rhat_N", float("nan"))
    ess = result.diagnostics.get("ess_bulk_N", float("nan"))
    ax.set_title(f"{result.method}: N by chain (R-hat {rhat:.3f}, bulk ESS {ess:.0f})")
    ax.set_xlabel("draw")
    ax.set_ylabel("N")
    ax.legend(fontsize=7, ncol=min(n.shape[0], 4))
    return ax
