"""One stratum of the annual run: is it estimable, and its fit by every configured method.

:func:`fit_stratum` is what a worker process runs (a top-level function taking one
:class:`StratumTask`, so that any ``concurrent.futures`` executor, a Dask cluster's included, can
run it); it returns a :class:`StratumOutcome`. :class:`FitPlan` reads what the fit cache
(:mod:`fl_estimate.pipeline.cache`) already holds before any task goes to a worker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fl_estimate.exceptions import FLEstimateError
from fl_estimate.i18n import N_, message_of
from fl_estimate.mse.api import fit_resolved
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.registry import resolve
from fl_estimate.pipeline.cache import CachedFit, FitCache, capture
from fl_estimate.results import EstimationResult

__all__ = ["FitPlan", "StratumOutcome", "StratumTask", "check_stratum", "fit_stratum", "n_draws"]


def check_stratum(
    table: CaptureData, *, min_lists: int = 3, min_per_list: int = 5, show_counts: bool = True
) -> tuple[CaptureData | None, str | None]:
    """Decide whether a stratum can be estimated.

    Lists with nobody in the stratum (a provider absent from a region) are dropped first. The
    stratum is estimable when at least ``min_lists`` lists remain, each has at least
    ``min_per_list`` people and overlaps at least one other list.

    Parameters
    ----------
    table : CaptureData
    min_lists, min_per_list : int
    show_counts : bool
        Name the small lists' counts in the reason (``"C (2)"``); the annual run publishes its
        reasons and passes False, so that no small count reaches a published text.

    Returns
    -------
    (table, None) when estimable (the table without empty lists), else (None, reason).

    Examples
    --------
    >>> import pandas as pd
    >>> t = CaptureData.from_counts(pd.DataFrame(
    ...     {"A": [1, 0, 1], "B": [0, 1, 1], "C": [1, 1, 0], "count": [9, 8, 2]}))
    >>> check_stratum(t, min_per_list=12)[1].split(";")[0]
    'lists with fewer than 12 people: A (11), B (10)'
    >>> check_stratum(t, min_per_list=12, show_counts=False)[1].split(";")[0]
    'lists with fewer than 12 people: A, B'
    >>> check_stratum(t, min_per_list=5)[0] is t
    True
    """
    tot = table.list_totals()
    empty = [str(name) for name, v in tot.items() if v == 0]
    t = table
    for name in empty:
        if t.n_lists <= 2:
            break
        t = t.drop_list(name)
    tot = t.list_totals()
    if t.n_lists < min_lists or (tot > 0).sum() < min_lists:
        return (
            None,
            N_(
                "only {n} lists with captures (at least {needed} needed)",
                n=int((tot > 0).sum()),
                needed=min_lists,
            ),
        )
    small = [f"{k} ({v})" if show_counts else str(k) for k, v in tot.items() if v < min_per_list]
    if small:
        return None, N_(
            "lists with fewer than {m} people: {lists}; merge or drop these lists for this "
            "stratum, or pool strata",
            m=min_per_list,
            lists=", ".join(small),
        )
    ov = t.pairwise_overlaps()
    isolated = [
        name
        for name in t.lists
        if ov[(ov.list_a == name) | (ov.list_b == name)]["overlap"].sum() == 0
    ]
    if isolated:
        return None, N_(
            "list(s) {lists} overlap no other list: their share of the unobserved cannot be "
            "estimated",
            lists=", ".join(isolated),
        )
    return t, None


def n_draws(result: EstimationResult) -> np.ndarray | None:
    """Bootstrap replicates or posterior draws of N held by a result (None if it has none).

    Replicates are an array; posterior draws an ArviZ object with ``posterior["N"]``. Anything
    else (a dga posterior grid, weighted draws) counts as none: equal-weight draws are summed
    replicate by replicate, and a grid is not draws.
    """
    d = result.draws
    if d is None:
        return None
    if isinstance(d, np.ndarray):
        return d[~np.isnan(d)] if d.dtype.kind == "f" else d
    try:
        return np.asarray(d["posterior"]["N"]).ravel().astype(float)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass
class StratumOutcome:
    """A stratum (or a pooled national table) after :func:`fit_stratum`.

    ``key`` names the task (the stratum's values, or ``("national", *group)``); ``reason`` is
    why it was not estimable (None when it was); ``results`` one result per configured method.
    """

    key: tuple[Hashable, ...]
    stratum: dict[str, Any]
    observed: int
    lists_used: tuple[str, ...]
    reason: str | None
    results: dict[str, EstimationResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: each method's result and warnings, as the fit cache keeps them
    fits: dict[str, CachedFit] = field(default_factory=dict, repr=False)

    @property
    def estimable(self) -> bool:
        return self.reason is None

    def has_estimate(self, method: str) -> bool:
        """True when the stratum was fitted and ``method`` gave an estimate."""
        return self.estimable and method in self.results and self.results[method].ok

    def has_lower_bound(self, method: str) -> bool:
        """True when ``method`` (the default policy) gave only a lower bound for the stratum."""
        return self.estimable and method in self.results and self.results[method].is_lower_bound


@dataclass(frozen=True)
class StratumTask:
    """What a worker needs to check and fit one table with every method.

    ``done`` holds the methods already fitted (read from the fit cache by :class:`FitPlan`):
    :func:`fit_stratum` fits only the others.
    """

    key: tuple[Hashable, ...]
    table: CaptureData
    options: Mapping[str, Mapping[str, Any]]  # method -> options, in the configured order
    seed: int
    min_lists: int
    min_per_list: int
    done: Mapping[str, CachedFit] = field(default_factory=dict)


def _fit_method(t: CaptureData, method: str, opts: Mapping[str, Any], seed: int) -> CachedFit:
    """One method's result on a checked table, and the package warnings it gave.

    An error of the package (no estimate for these data, a model the data cannot identify)
    becomes a failed result with the reason.
    """
    # strata already run in parallel: a bootstrap inside a worker stays on one core
    extra = {"n_jobs": 1} if opts.get("interval") == "bootstrap" else {}

    def fit() -> EstimationResult:
        try:
            # no HeterogeneityWarning from here (worker threads share the warning filters):
            # the diagnosis is in the result's diagnostics and becomes the stratum's warning
            return fit_resolved(t, resolve(method, seed=seed, **opts, **extra), warn=False)
        except FLEstimateError as exc:
            return EstimationResult.failed(
                method=method,
                model="",
                observed=t.n_observed,
                reason=message_of(exc),
                code="failed",
                stratum=dict(t.stratum),
            )

    return capture(fit)


def fit_stratum(task: StratumTask) -> StratumOutcome:
    """Check and fit one table with every method (top level: runs in worker processes).

    A method's failure is a failed result with the reason; the other methods still run. The
    methods in ``task.done`` are not fitted again.
    """
    t, reason = check_stratum(
        task.table, min_lists=task.min_lists, min_per_list=task.min_per_list, show_counts=False
    )
    return _outcome(task, t, reason)


def _outcome(task: StratumTask, t: CaptureData | None, reason: str | None) -> StratumOutcome:
    """The outcome of a checked task (``t``: the table to fit, or None and the ``reason``)."""
    out = StratumOutcome(
        task.key,
        dict(task.table.stratum),
        task.table.n_observed,
        t.lists if t is not None else (),
        reason,
    )
    if t is None:
        return out
    caught: list[str] = []
    for method, opts in task.options.items():
        fit = task.done.get(method) or _fit_method(t, method, opts, task.seed)
        out.fits[method] = fit
        res = out.results[method] = fit.value
        diag = res.diagnostics.get("heterogeneity_diagnosis")
        if res.diagnostics.get("heterogeneity_flag") and isinstance(diag, dict):
            out.warnings.append(N_("{method}: {reason}", method=method, reason=diag["reason"]))
        caught += fit.messages
    out.warnings += caught
    return out


class FitPlan:
    """The tasks of a run with what the fit cache already holds, and the fits still to make.

    Each task's table is checked here (cheap); each method's fit of an estimable table is looked
    up by :meth:`FitCache.fit_key` (table fitted, method, options, seed and the task's key, code
    versions). ``todo`` are the tasks with a method left to fit (for the executor);
    :meth:`outcomes` takes their outcomes, stores the new fits and returns every task's outcome
    in the tasks' order (the others are assembled here, without fitting).

    Examples
    --------
    >>> import pandas as pd
    >>> t = CaptureData.from_counts(pd.DataFrame(
    ...     {"A": [1, 0, 1], "B": [0, 1, 1], "count": [9, 8, 2]}))
    >>> task = StratumTask(("all",), t, {"lp": {}}, 1, 2, 1)
    >>> plan = FitPlan([task], FitCache(None))
    >>> len(plan.todo), plan.outcomes([fit_stratum(task) for task in plan.todo])[0].estimable
    (1, True)
    """

    def __init__(self, tasks: Sequence[StratumTask], cache: FitCache) -> None:
        self.cache = cache
        self.tasks: list[StratumTask] = []
        self.keys: list[dict[str, str]] = []
        self.checked: list[tuple[CaptureData | None, str | None]] = []
        for task in tasks:
            keys: dict[str, str] = {}
            done: dict[str, CachedFit] = {}
            if cache.enabled:
                t, why = check_stratum(
                    task.table,
                    min_lists=task.min_lists,
                    min_per_list=task.min_per_list,
                    show_counts=False,
                )
                self.checked.append((t, why))
                for method, opts in task.options.items():
                    if t is None:  # not estimable: nothing to fit
                        break
                    keys[method] = cache.fit_key(t, method, opts, task.seed, task.key)
                    hit = cache.get(keys[method])
                    if hit is not None:
                        done[method] = hit
            self.tasks.append(dataclasses.replace(task, done=done))
            self.keys.append(keys)
        self._fit = [
            not self.cache.enabled or len(t.done) < len(self.keys[i])
            for i, t in enumerate(self.tasks)
        ]

    @property
    def todo(self) -> list[StratumTask]:
        """The tasks with a fit to make, in order."""
        return [t for t, fit in zip(self.tasks, self._fit, strict=True) if fit]

    def outcomes(self, fitted: Iterable[StratumOutcome]) -> list[StratumOutcome]:
        """Every task's outcome, in order, given the outcomes of :attr:`todo` (in its order)."""
        it = iter(fitted)
        out = []
        for i, (task, keys, fit) in enumerate(zip(self.tasks, self.keys, self._fit, strict=True)):
            o = next(it) if fit else _outcome(task, *self.checked[i])
            for method, key in keys.items():
                if method not in task.done:
                    self.cache.put(key, o.fits[method])
            out.append(o)
        return out
