"""BIC model selection as MultipleSystemsEstimation 1.2 does it: higher-order hierarchical
models, the ``auto`` rule, and bootstrap intervals that repeat the selection among the top models.

Silverman, Chan & Vincent (2024) rank the hierarchical models by BIC on the original data, keep
the top ``n``, and in every bootstrap replicate (and every delete-one jackknife table) select by
BIC among the top ``k`` for each ``k = 1..n``; BCa limits for every ``k`` come from the same
fits. The table of limits against ``k`` shows whether the interval has settled as more models are
admitted; the headline interval is its last row.

Every (model, replicate) fit goes through :func:`fl_estimate.mse.loglinear.grid.fit_grid` (extended
MLE, existence and identifiability per replicate) and the replicates are drawn from the same
seeded streams as every other bootstrap in the package
(:func:`fl_estimate.mse.loglinear.intervals.bootstrap`).

References
----------
Silverman, B. W., Chan, L. and Vincent, K. (2024). Bootstrapping multiple systems estimates to
account for model selection. Statistics and Computing 34, 44.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import pandas as pd

from fl_estimate._typing import spawn_seeds
from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.estimators import (
    ExhaustiveSearchMSE,
    RankingEstimator,
    Search,
    StepwiseMSE,
)
from fl_estimate.mse.loglinear.fit import fit_loglinear
from fl_estimate.mse.loglinear.grid import fit_grid
from fl_estimate.mse.loglinear.intervals import (
    acceleration,
    bca_limits,
    chunk_bounds,
    default_jobs,
    parallel_map,
    replicate_counts,
)
from fl_estimate.mse.loglinear.result import (
    IntervalPart,
    failed_result,
    fit_result,
    result_provenance,
)
from fl_estimate.mse.loglinear.selection import SearchResult, exhaustive_search
from fl_estimate.mse.loglinear.table import Table
from fl_estimate.mse.loglinear.terms import (
    Model,
    count_hierarchical_models,
    model_label,
    msenotation,
)
from fl_estimate.mse.options import IntervalArgs, IntervalOptions
from fl_estimate.results import EstimationResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DEFAULT_MAX_ORDER",
    "DEFAULT_TOP_MODELS",
    "AutoMSE",
    "BicMSE",
    "TopModelsBCa",
    "default_max_order",
    "default_top_models",
    "plot_limits_by_k",
    "top_models_bca",
]

#: MultipleSystemsEstimation's default highest interaction order of the BIC search, by list count.
DEFAULT_MAX_ORDER = {2: 1, 3: 2, 4: 3, 5: 3, 6: 2}
#: Its default number of top models kept for the bootstrap (None: all), by list count.
DEFAULT_TOP_MODELS: dict[int, int | None] = {2: None, 3: None, 4: 20, 5: 100, 6: 100}
#: The reference's BCa probability levels.
BCA_ALPHA = (0.025, 0.1, 0.9, 0.975)


def default_max_order(n_lists: int) -> int:
    """The reference's default maximum order (2 beyond 6 lists, where it has no BIC search)."""
    return DEFAULT_MAX_ORDER.get(n_lists, 2)


def default_top_models(n_lists: int) -> int | None:
    return DEFAULT_TOP_MODELS.get(n_lists, 100)


# ---------------------------------------------------------------------------- top-k BCa


@dataclass
class TopModelsBCa:
    """BCa limits for every number ``k`` of top models admitted to the bootstrap selection.

    Attributes
    ----------
    models : list of Model
        The top ``n`` models, best BIC on the original data first.
    bic, estimates : ndarray (n,)
        Their BIC and N on the original data.
    estimate : float
        The point estimate (the best model's N).
    alpha : tuple of float
        Probability levels of the limits.
    limits : ndarray (n, len(alpha))
        Row ``k-1``: BCa limits when each replicate selects among the top ``k``.
    acceleration : ndarray (n,)
        Jackknife acceleration for each ``k``.
    replicates : ndarray (n, B)
        Row ``k-1``: the selected N of every replicate (NaN: no top-``k`` model could be fitted).
    selected : ndarray (B,)
        Index (into ``models``) of the model selected among all ``n`` in each replicate (-1: none).
    """

    lists: tuple[str, ...]
    models: list[Model]
    bic: np.ndarray
    estimates: np.ndarray
    estimate: float
    alpha: tuple[float, ...]
    limits: np.ndarray
    acceleration: np.ndarray
    replicates: np.ndarray
    selected: np.ndarray
    n_boot: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_top(self) -> int:
        return len(self.models)

    def frame(self) -> pd.DataFrame:
        """One row per ``k``: the k-th model, its BIC and N, the limits, acceleration, failures,
        and how often the k-th model is the one selected when all ``n`` are admitted."""
        share = np.bincount(self.selected[self.selected >= 0], minlength=self.n_top) / max(
            1, self.n_boot
        )
        rows: dict[str, Any] = {
            "k": np.arange(1, self.n_top + 1),
            "model": [msenotation(m, len(self.lists)) for m in self.models]
            if len(self.lists) <= 9
            else [model_label(m, self.lists) for m in self.models],
            "bic": self.bic,
            "model_estimate": self.estimates,
            "selected_share": share,
        }
        for j, a in enumerate(self.alpha):
            rows[f"bca_{a:g}"] = self.limits[:, j]
        rows["acceleration"] = self.acceleration
        rows["failed_replicates"] = np.isnan(self.replicates).sum(axis=1)
        return pd.DataFrame(rows)

    def plot(self, ax: Axes | None = None) -> Axes:
        """BCa limits against the number of top models admitted (see :func:`plot_limits_by_k`)."""
        return plot_limits_by_k(self.frame(), self.estimate, ax=ax)


def plot_limits_by_k(
    frame: pd.DataFrame, estimate: float | None = None, ax: Axes | None = None
) -> Axes:
    """Plot a limits-against-k table (``TopModelsBCa.frame()`` or a result's
    ``tables["limits_by_k"]``): one line per probability level, the estimate dashed."""
    import matplotlib.pyplot as plt

    from fl_estimate._palette import OKABE_ITO

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    cols = [c for c in frame.columns if c.startswith("bca_")]
    colours = list(OKABE_ITO.values()) if isinstance(OKABE_ITO, dict) else list(OKABE_ITO)
    for j, c in enumerate(cols):
        ax.step(frame["k"], frame[c], where="post", color=colours[j % len(colours)], label=c[4:])
    if estimate is not None:
        ax.axhline(estimate, color="black", linestyle="--", linewidth=1, label="estimate")
    ax.set_xlabel("models admitted to the bootstrap selection (top k by BIC)")
    ax.set_ylabel("BCa limit for N")
    ax.legend(title="probability", fontsize="small")
    return ax


def _cumulative_selection(est: np.ndarray, crit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column, the estimate of the best-criterion model among the first k rows, for
    every k (strictly better replaces: ties go to the higher-ranked model), and the index chosen
    among all rows."""
    n, b = est.shape
    out = np.full((n, b), np.nan)
    best = np.full(b, np.inf)
    cur = np.full(b, np.nan)
    idx = np.full(b, -1)
    for k in range(n):
        better = np.isfinite(crit[k]) & (crit[k] < best)
        best = np.where(better, crit[k], best)
        cur = np.where(better, est[k], cur)
        idx = np.where(better, k, idx)
        out[k] = cur
    return out, idx


def _boot_chunk(
    args: tuple[Table, list[Model], list[np.random.SeedSequence], float, str],
) -> tuple[np.ndarray, np.ndarray]:
    table, models, seeds, estimate, criterion = args
    counts = np.stack([replicate_counts(table, "nonparametric", None, estimate, s) for s in seeds])
    g = fit_grid(table, models, counts)
    return g.estimate, g.criterion(criterion)


#: Below this many (model, replicate) fits the top-models bootstrap runs in this process.
IN_PROCESS_FITS = 20000


def top_models_bca(
    table: Table,
    *,
    max_order: int,
    n_top: int | None = None,
    alpha: Sequence[float] = BCA_ALPHA,
    criterion: str = "bic",
    search: SearchResult | None = None,
    options: IntervalOptions | None = None,
    **interval: Unpack[IntervalArgs],
) -> TopModelsBCa:
    """Silverman, Chan & Vincent's (2024) bootstrap over the top models, for every ``k``.

    Parameters
    ----------
    table : Table
    max_order : int
        Catalogue of the search (hierarchical models with generators up to this order).
    n_top : int, optional
        Models kept (by criterion on the original data); None keeps every model that can be
        fitted. Capped at the number of fitted models.
    alpha : sequence of float
        Probability levels of the BCa limits.
    criterion : {"bic", "aic"}
    search : SearchResult, optional
        The exhaustive search on the original data, if already run.
    options : IntervalOptions, optional
    **interval
        Fields of :class:`~fl_estimate.mse.options.IntervalOptions` replacing those of
        ``options``; used here: ``n_boot`` (multinomial bootstrap replicates of the observed
        cells), ``seed`` (replicate ``i`` uses the ``i``-th child of ``SeedSequence(seed)``, as
        every bootstrap in the package, so the result does not depend on the number of
        workers), ``n_jobs`` (default: CPUs available, at most 8; 1 runs here) and
        ``executor``.

    Returns
    -------
    TopModelsBCa

    Notes
    -----
    A model that cannot be fitted to a replicate (no extended MLE, or not identifiable) is skipped
    in that replicate; a replicate with no fittable model among the top ``k`` is left out of row
    ``k``. The jackknife removes one person from each cell with people, refits the top ``n`` and
    selects as in the replicates; the acceleration of row ``k`` is NaN (and so are its limits)
    when some such table has no fittable model among the top ``k``, as in the reference.
    """
    opts = IntervalOptions.build(options, **interval)
    if search is None:
        search = exhaustive_search(table, criterion=criterion, max_order=max_order)
    vals = search.values
    order = np.argsort(vals, kind="stable")
    order = order[np.isfinite(vals[order])]
    if n_top is not None:
        if n_top < 1:
            raise ModelSpecificationError(
                N_("the number of top models must be positive, got {n}", n=n_top)
            )
        order = order[:n_top]
    models = [search.fits.models[i] for i in order]
    estimate = float(search.fits.estimate[order[0]])
    n_boot = opts.n_boot
    seeds = spawn_seeds(opts.seed, n_boot)
    n_jobs = default_jobs(opts.n_jobs)
    in_process = opts.executor is None and (n_jobs <= 1 or len(models) * n_boot < IN_PROCESS_FITS)
    jobs = [
        (table, models, seeds[a:b], estimate, criterion)
        for a, b in chunk_bounds(n_boot, 1 if in_process else 2 * max(n_jobs, 2))
    ]
    parts = parallel_map(
        _boot_chunk, jobs, n_jobs=n_jobs, executor=opts.executor, in_process=in_process
    )
    boot_est = np.concatenate([p[0] for p in parts], axis=1)
    boot_crit = np.concatenate([p[1] for p in parts], axis=1)
    reps, chosen = _cumulative_selection(boot_est, boot_crit)
    # delete-one jackknife over the cells with people
    y = table.y
    cells = np.flatnonzero(y > 0)
    jack_counts = np.repeat(y[None, :], len(cells), axis=0)
    jack_counts[np.arange(len(cells)), cells] -= 1
    g = fit_grid(table, models, jack_counts)
    jest, _ = _cumulative_selection(g.estimate, g.criterion(criterion))
    alpha = tuple(float(a) for a in alpha)
    n = len(models)
    acc = np.full(n, np.nan)
    limits = np.full((n, len(alpha)), np.nan)
    for k in range(n):
        jack = np.zeros(len(y))
        jack[cells] = jest[k]
        acc[k] = acceleration(jack, y)
        r = reps[k][~np.isnan(reps[k])]
        if r.size and np.isfinite(acc[k]):
            p_below = np.mean(r < estimate)
            if 0 < p_below < 1:
                limits[k] = bca_limits(r, estimate, acc[k], alpha)
    return TopModelsBCa(
        lists=table.lists,
        models=models,
        bic=np.asarray(vals[order], dtype=float),
        estimates=np.asarray(search.fits.estimate[order], dtype=float),
        estimate=estimate,
        alpha=alpha,
        limits=limits,
        acceleration=acc,
        replicates=reps,
        selected=chosen,
        n_boot=n_boot,
        settings={"max_order": max_order, "n_top": n, "criterion": criterion},
    )


# ---------------------------------------------------------------------------- estimators


def _search_reason(k: int, max_order: int, given: bool) -> str:
    if given:
        return N_(
            "BIC over every hierarchical model with terms up to order {order} (as asked)",
            order=max_order,
        )
    return N_(
        "BIC over every hierarchical model with terms up to order {order}: "
        "MultipleSystemsEstimation's default for {k} lists",
        order=max_order,
        k=k,
    )


def _top_models_interval(tm: TopModelsBCa) -> IntervalPart:
    """The headline interval of the top-models bootstrap: the last row of limits against k."""
    last = tm.limits[-1]
    note = None
    if not np.all(np.isfinite(last)):
        note = N_(
            "no BCa limits with all top models admitted (a jackknife table or every "
            "replicate had no fittable model); see tables['limits_by_k']"
        )
    ci = (float(last[0]), float(last[-1])) if np.all(np.isfinite(last[[0, -1]])) else (None, None)
    diag = {
        "top_models": tm.n_top,
        "n_boot": tm.n_boot,
        "n_failed": int(np.isnan(tm.replicates[-1]).sum()),
        "acceleration": float(tm.acceleration[-1]),
        "bootstrap": "nonparametric",
        "share_selecting_best_model": float(np.mean(tm.selected == 0)),
    }
    return IntervalPart(ci, "bootstrap-bca", diag, note, tm.replicates[-1])


class BicMSE(ExhaustiveSearchMSE):
    """Exhaustive BIC search over hierarchical models, with the top-models bootstrap.

    Parameters
    ----------
    max_order : int, optional
        Highest order of interaction in the catalogue. Default 2 (two-list terms; the core's
        ``--method bic``); ``AutoMSE`` uses the reference's defaults instead.
    top_models : int, optional
        Models kept for the bootstrap (``interval="bootstrap"``); default as
        MultipleSystemsEstimation: all for 2–3 lists, 20 for 4, 100 for 5–6.
    criterion : {"bic", "aic"}

    Notes
    -----
    ``interval="wald"`` or ``"profile"``: conditional on the selected model (as
    :class:`~fl_estimate.mse.loglinear.estimators.ExhaustiveSearchMSE`). ``interval="bootstrap"``:
    BCa limits with the selection repeated among the top ``k`` models in every replicate, for
    every ``k`` (``tables["limits_by_k"]``, plotted by :func:`plot_limits_by_k`); the headline
    interval is the last row. Percentile limits are not offered for this bootstrap
    (``boot_interval`` must be ``"bca"``), and only the nonparametric (multinomial) bootstrap, as
    in the reference.

    Examples
    --------
    >>> from fl_estimate.mse import BicMSE, read_capture_csv
    >>> five = read_capture_csv("data_samples/uk_2013.csv").drop_list("NCA")
    >>> res = BicMSE(top_models=5).fit(five, interval="bootstrap", n_boot=100, seed=1, n_jobs=1)
    >>> res.method, res.diagnostics["models_searched"], round(res.estimate), res.interval_kind
    ('bic', 1024, 23133, 'bootstrap-bca')
    >>> res.tables["limits_by_k"]["k"].tolist()
    [1, 2, 3, 4, 5]
    """

    method = "bic"

    def __init__(
        self, max_order: int | None = 2, top_models: int | None = None, criterion: str = "bic"
    ) -> None:
        super().__init__(criterion, max_order if max_order is not None else 2)
        self.order_given = max_order is not None
        self.top_models = top_models

    def fit_with(
        self,
        data: CaptureData,
        options: IntervalOptions,
        *,
        top: int = 20,
        reason: str | None = None,
        method_name: str | None = None,
    ) -> EstimationResult:
        """Search, fit the best model and compute the interval (see
        :meth:`~fl_estimate.mse.loglinear.estimators.RankingEstimator.fit`); ``reason`` (why this
        search, ``diagnostics["search"]``) and the result's ``method`` may be given by the
        caller (:class:`AutoMSE`)."""
        k = data.n_lists
        why = reason or _search_reason(k, self.max_order, self.order_given)
        n_models = count_hierarchical_models(k, self.max_order) if k <= 6 else None
        extra = {"search": why, "catalogue_size": n_models}
        if not options.is_bootstrap:
            res = super().fit_with(data, options, top=top)
            return _amend(res, method_name, extra)
        if options.bootstrap != "nonparametric" or options.boot_interval != "bca":
            raise ModelSpecificationError(
                N_(
                    "the top-models bootstrap after BIC selection is nonparametric with BCa "
                    "limits (as in MultipleSystemsEstimation); drop --bootstrap/--boot-interval"
                )
            )
        self.check_size(data)
        table = Table.from_data(data)
        n_top = self.top_models if self.top_models is not None else default_top_models(k)
        name = method_name or self.criterion
        level = options.level
        try:
            search = exhaustive_search(table, criterion=self.criterion, max_order=self.max_order)
            tm = top_models_bca(
                table,
                max_order=self.max_order,
                n_top=n_top,
                alpha=(0.5 - level / 2, 0.1, 0.9, 0.5 + level / 2),
                criterion=self.criterion,
                search=search,
                options=options,
            )
        except EstimateDoesNotExistError as exc:
            settings = {**Search(self.criterion, self.max_order).settings(), "top_models": n_top}
            return failed_result(
                name, data, exc, prov=result_provenance(data, name, options, settings)
            )
        return fit_result(
            name,
            data,
            Search(self.criterion, self.max_order),
            options,
            fit=fit_loglinear(table, search.best_model),
            interval=_top_models_interval(tm),
            diagnostics={**extra, **self.search_diagnostics(search)},
            tables={
                "models": pd.DataFrame(search.ranking(data.lists, top=top)),
                "limits_by_k": tm.frame(),
            },
            settings={"top_models": n_top},
        )


def _amend(
    res: EstimationResult, method_name: str | None, extra: dict[str, Any]
) -> EstimationResult:
    diag = {**res.diagnostics, **extra}
    return replace(res, method=method_name or res.method, diagnostics=diag)


class AutoMSE(RankingEstimator):
    """MultipleSystemsEstimation's ``estimate_population(method = "auto")``.

    Up to 5 lists: BIC over all hierarchical models with the reference's default maximum order
    (2 lists: 1; 3 lists: 2; 4–5 lists: 3), with the top-models bootstrap for
    ``interval="bootstrap"``. 6 lists or more: SparseMSE's stepwise selection of two-list terms
    (p < 0.02), because exhaustive search is pairwise-only and slow at 6 lists and impossible
    beyond. ``max_order`` overrides the order of the BIC search (and, at 6 lists with
    ``max_order`` given, asks for the BIC search instead of stepwise).

    The result's ``diagnostics`` say which method and order were chosen and why
    (``chosen_method``, ``chosen_max_order``, ``choice_reason``) and, for BIC, how many models
    were searched and refused.

    Examples
    --------
    >>> from fl_estimate.mse import AutoMSE, read_capture_csv
    >>> data = read_capture_csv("data_samples/uk_2013.csv")
    >>> AutoMSE().choose(data.n_lists)[:2]
    ('stepwise', 2)
    >>> res = AutoMSE().fit(data)
    >>> res.method, res.diagnostics["chosen_method"], round(res.estimate)
    ('auto', 'stepwise', 11418)
    >>> AutoMSE().choose(5)[:2]
    ('bic', 3)
    """

    method = "auto"

    def __init__(self, max_order: int | None = None, top_models: int | None = None) -> None:
        self.max_order = max_order
        self.top_models = top_models

    def choose(self, n_lists: int) -> tuple[str, int, str]:
        """(method, max order, reason) for a table with ``n_lists`` lists."""
        if n_lists <= 5 or (n_lists == 6 and self.max_order is not None):
            order = self.max_order if self.max_order is not None else default_max_order(n_lists)
            if self.max_order is not None:
                why = N_(
                    "{k} lists: BIC over every hierarchical model with terms up to order "
                    "{order} (order as asked)",
                    k=n_lists,
                    order=order,
                )
            else:
                why = N_(
                    "{k} lists: BIC over every hierarchical model with terms up to order "
                    "{order} (MultipleSystemsEstimation's auto rule: BIC up to 5 lists, its "
                    "default order for {k} lists)",
                    k=n_lists,
                    order=order,
                )
            return "bic", order, why
        return (
            "stepwise",
            2,
            N_(
                "{k} lists: stepwise selection of two-list terms, p < 0.02 "
                "(MultipleSystemsEstimation's auto rule for 6 or more lists: exhaustive BIC is "
                "pairwise-only and slow at 6 lists and not available beyond)",
                k=n_lists,
            ),
        )

    def fit_with(
        self, data: CaptureData, options: IntervalOptions, *, top: int = 20
    ) -> EstimationResult:
        """Choose the method for this table and fit it (see
        :meth:`~fl_estimate.mse.loglinear.estimators.RankingEstimator.fit`)."""
        chosen, order, why = self.choose(data.n_lists)
        info = {"chosen_method": chosen, "chosen_max_order": order, "choice_reason": why}
        if chosen == "bic":
            bic = BicMSE(max_order=order, top_models=self.top_models)
            res = bic.fit_with(data, options, top=top, reason=why, method_name="auto")
        else:
            res = StepwiseMSE().fit_with(data, options)
        return _amend(res, "auto", info)
