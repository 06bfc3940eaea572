"""Greedy search with restarts over hierarchical log-linear models: past exhaustive search.

MultipleSystemsEstimation enumerates every hierarchical model, which stops at 6 lists with
two-list terms (32,768 models; with three-list terms there are 3.7 million, and at 8 lists
2^28 pairwise models alone). This search scales instead, and says plainly that it is **not
exhaustive**: it may miss the best model.

From each starting model it moves to the best neighbour by AIC/BIC while that improves the
criterion; neighbours add one term whose sub-terms are all present (so the model stays
hierarchical) or remove one term that no larger term contains. Every step's neighbours are fitted
together in one batched call (:func:`fl_estimate.mse.loglinear.grid.fit_many`: extended MLE,
existence and identifiability checks), and fits are cached across steps and restarts. Starts:
independence, the stepwise (p-value) model, and ``restarts`` random hierarchical models (seeded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.estimators import LogLinearEstimator
from fl_estimate.mse.loglinear.fit import LogLinearFit, fit_loglinear
from fl_estimate.mse.loglinear.grid import fit_many
from fl_estimate.mse.loglinear.result import failed_result, fit_result
from fl_estimate.mse.loglinear.selection import stepwise
from fl_estimate.mse.loglinear.table import Table
from fl_estimate.mse.loglinear.terms import (
    Model,
    all_terms,
    bits,
    closure,
    model_label,
    msenotation,
)
from fl_estimate.mse.options import IntervalOptions
from fl_estimate.results import EstimationResult

__all__ = ["GreedyResult", "GreedySearch", "GreedySearchMSE", "greedy_search"]


@dataclass
class GreedyResult:
    """Outcome of :func:`greedy_search`."""

    best_model: Model
    best_value: float
    criterion: str
    max_order: int
    n_evaluated: int
    n_refused: int
    starts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exhaustive(self) -> bool:
        return False


def _neighbours(model: Model, k: int, max_order: int) -> list[Model]:
    out = []
    for t in all_terms(k, max_order):
        if t in model:
            # removable only if no larger term in the model contains it
            if not any(u != t and (u & t) == t for u in model):
                out.append(frozenset(model - {t}))
        elif t.bit_count() == 2 or all((t & ~(1 << j)) in model for j in bits(t)):
            out.append(frozenset(model | {t}))
    return out


def _random_model(k: int, max_order: int, rng: np.random.Generator) -> Model:
    pairs = all_terms(k, 2)
    size = int(rng.integers(1, max(2, len(pairs) // 3) + 1))
    chosen = [pairs[i] for i in rng.choice(len(pairs), size=size, replace=False)]
    model = set(closure(chosen))
    if max_order >= 3:
        for t in all_terms(k, max_order):
            if t.bit_count() >= 3 and all((t & ~(1 << j)) in model for j in bits(t)):
                if rng.random() < 0.3:
                    model.add(t)
    return frozenset(model)


def greedy_search(
    table: Table,
    *,
    criterion: str = "bic",
    max_order: int = 3,
    restarts: int = 10,
    seed: SeedLike = None,
    max_steps: int = 200,
) -> GreedyResult:
    """Best-improvement hill climbing with restarts over hierarchical models (not exhaustive).

    Parameters
    ----------
    table : Table
    criterion : {"bic", "aic"}
    max_order : int
        Highest order of interaction allowed.
    restarts : int
        Random starting models in addition to independence and the stepwise model.
    seed : int, Generator or None
        Seeds the random starts.
    max_steps : int
        Safety cap on steps per start.

    Raises
    ------
    EstimateDoesNotExistError
        If no model visited could be fitted.
    """
    if criterion not in ("aic", "bic"):
        raise ModelSpecificationError("criterion must be 'aic' or 'bic'")
    k = table.k
    max_order = min(max_order, k)
    cache: dict[Model, float] = {}
    refused = 0

    def evaluate(models: list[Model]) -> None:
        nonlocal refused
        new = [m for m in dict.fromkeys(models) if m not in cache]
        if not new:
            return
        fits = fit_many(table, new)
        vals = fits.criterion(criterion, table.n)
        refused += int((fits.code != 0).sum())
        for m, v in zip(new, vals, strict=True):
            cache[m] = float(v)

    rng = as_generator(seed)
    try:
        step_model = stepwise(table).fit.model
    except EstimateDoesNotExistError:
        step_model = frozenset()
    starts: list[tuple[str, Model]] = [("independence", frozenset()), ("stepwise", step_model)]
    starts += [(f"random {i + 1}", _random_model(k, max_order, rng)) for i in range(restarts)]
    log = []
    for name, start in starts:
        evaluate([start])
        cur = start
        steps = 0
        while steps < max_steps:
            nbrs = _neighbours(cur, k, max_order)
            evaluate(nbrs)
            best = min(nbrs, key=lambda m: cache[m], default=None)
            if best is None or not cache[best] < cache[cur]:
                break
            cur = best
            steps += 1
        log.append(
            {
                "start": name,
                "start_model": model_label(start, table.lists),
                "end_model": model_label(cur, table.lists),
                criterion: cache[cur],
                "steps": steps,
            }
        )
    finite = {m: v for m, v in cache.items() if np.isfinite(v)}
    if not finite:
        raise EstimateDoesNotExistError(
            N_("none of the {n} models visited could be fitted", n=len(cache)), code="no-model"
        )
    best_model = min(finite, key=lambda m: (finite[m], len(m)))
    return GreedyResult(
        best_model, finite[best_model], criterion, max_order, len(cache), refused, log
    )


@dataclass(frozen=True)
class GreedySearch:
    """The greedy search as a procedure (picklable; the bootstrap reruns it on every replicate)."""

    criterion: str = "bic"
    max_order: int = 3
    restarts: int = 10
    seed: int | None = 0
    selects = True

    def search(self, table: Table) -> GreedyResult:
        return greedy_search(
            table,
            criterion=self.criterion,
            max_order=self.max_order,
            restarts=self.restarts,
            seed=self.seed,
        )

    def fit(self, table: Table) -> LogLinearFit:
        return fit_loglinear(table, self.search(table).best_model)

    def __call__(self, table: Table) -> float:
        return self.fit(table).estimate

    def settings(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "max_order": self.max_order,
            "restarts": self.restarts,
            "search_seed": self.seed,
        }


class GreedySearchMSE(LogLinearEstimator):
    """Greedy AIC/BIC search with restarts over hierarchical models: for 6–8 lists or more, and
    for three-list terms where exhaustive search is out of reach. **Not exhaustive.**

    Parameters
    ----------
    criterion : {"bic", "aic"}
    max_order : int, default 3
    restarts : int, default 10
        Random starts besides independence and the stepwise model.
    search_seed : int, default 0
        Seed of the random starts (fixed, so the point estimate is reproducible).

    Notes
    -----
    ``diagnostics["exhaustive"]`` is False and ``diagnostics["models_evaluated"]`` says how many
    models were fitted; ``tables["starts"]`` shows where each start ended (if they disagree, the
    criterion surface has several local optima and a better model may exist). Intervals as
    :class:`~fl_estimate.mse.loglinear.estimators.LogLinearMSE`; the bootstrap reruns the whole
    search.

    Examples
    --------
    >>> from fl_estimate.mse import GreedySearchMSE, read_capture_csv
    >>> data = read_capture_csv("data_samples/uk_2013.csv")
    >>> res = GreedySearchMSE(max_order=2).fit(data)
    >>> res.diagnostics["exhaustive"], res.diagnostics["starts"], round(res.estimate)
    (False, 12, 12350)

    Here it finds the model of the exhaustive search over all 32,768 pairwise models:

    >>> res.model
    'main effects + LA:NG + LA:PF + NG:GP + PF:GP + PF:NCA + GO:GP'
    """

    method = "search"

    def __init__(
        self,
        criterion: str = "bic",
        max_order: int = 3,
        restarts: int = 10,
        search_seed: int | None = 0,
    ) -> None:
        if criterion not in ("aic", "bic"):
            raise ModelSpecificationError(
                N_("criterion must be 'aic' or 'bic', got {value!r}", value=criterion)
            )
        self.proc = GreedySearch(criterion, max_order, restarts, search_seed)

    def fit_with(self, data: CaptureData, options: IntervalOptions) -> EstimationResult:
        """Search, fit the best model found, compute the interval (see
        :meth:`~fl_estimate.mse.loglinear.estimators.LogLinearEstimator.fit`)."""
        table = Table.from_data(data)
        try:
            res = self.proc.search(table)
        except EstimateDoesNotExistError as exc:
            return failed_result(self.method, data, exc)
        extra = {
            "exhaustive": False,
            "search_note": N_(
                "greedy search with restarts: not exhaustive; the best model found, not "
                "necessarily the best model"
            ),
            "models_evaluated": res.n_evaluated,
            "models_refused": res.n_refused,
            "criterion": res.criterion,
            "max_order": res.max_order,
            "starts_agreeing": int(
                sum(s["end_model"] == model_label(res.best_model, data.lists) for s in res.starts)
            ),
            "starts": len(res.starts),
        }
        if data.n_lists <= 9:
            extra["model_reference_notation"] = msenotation(res.best_model, data.n_lists)
        return fit_result(
            self.method,
            data,
            self.proc,
            options,
            fit=fit_loglinear(table, res.best_model),
            diagnostics=extra,
            tables={"starts": pd.DataFrame(res.starts)},
        )
