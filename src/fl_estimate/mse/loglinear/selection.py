"""Model selection for log-linear MSE: SparseMSE's stepwise p-value rule, AIC/BIC forward steps,
and exhaustive AIC/BIC search over a catalogue of hierarchical models.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear import Table, exhaustive_search, model_label, stepwise
>>> data = read_capture_csv("data_samples/uk_2013.csv")
>>> path = stepwise(Table.from_data(data))
>>> [s["added"] for s in path.steps]
['PF:NCA', 'LA:NG', 'NG:GP', 'LA:PF', 'PF:GP', 'GO:GP', 'NG:GO']
>>> round(path.fit.estimate)
11418
>>> five = data.drop_list("NCA")
>>> s = exhaustive_search(Table.from_data(five), criterion="aic")
>>> s.n_searched, s.n_refused, round(s.fits.estimate[s.best_index])
(1024, 0, 11247)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.special import pdtr, pdtrc

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.i18n import N_
from fl_estimate.mse.loglinear.fit import LogLinearFit, fit_loglinear
from fl_estimate.mse.loglinear.grid import ManyFits, fit_many
from fl_estimate.mse.loglinear.table import Table
from fl_estimate.mse.loglinear.terms import Model, hierarchical_models, model_label, term_label

__all__ = ["SearchResult", "StepwisePath", "exhaustive_search", "stepwise"]


@dataclass
class StepwisePath:
    """The fitted model and the steps that led to it."""

    fit: LogLinearFit
    steps: list[dict[str, object]] = field(default_factory=list)
    n_refused: int = 0


def _pairs(k: int) -> list[int]:
    return [(1 << i) | (1 << j) for i, j in combinations(range(k), 2)]


def pair_pvalues(fit: LogLinearFit, pairs: list[int]) -> np.ndarray:
    """SparseMSE's one-sided Poisson p-values of pairs' overlaps under the current model.

    The overlap count of a pair (people on both lists, whatever else they are on) is Poisson with
    mean the fitted total of the cells containing the pair; the p-value is the smaller tail:
    ``min(P(X <= n*), P(X >= n*))``.
    """
    table = fit.table
    inc = (table.cells[None, :] & np.asarray(pairs)[:, None]) == np.asarray(pairs)[:, None]
    nstar = inc @ table.y
    pstar = inc @ fit.mu
    lower = pdtr(nstar, pstar)
    upper = np.where(nstar > 0, pdtrc(nstar - 1, pstar), 1.0)
    return np.minimum(lower, upper)


def stepwise(table: Table, *, pthresh: float = 0.02, criterion: str = "pvalue") -> StepwisePath:
    """Forward selection of two-list interactions from the independence model.

    ``criterion="pvalue"`` is SparseMSE's rule (Chan, Silverman & Vincent 2021): add the pair with
    the smallest one-sided Poisson p-value while it is below ``pthresh`` and the enlarged model
    passes the existence and identifiability checks (ties go to the first pair in list order).
    ``"aic"`` / ``"bic"``: add the pair that lowers the criterion most, while it lowers it.
    """
    fit = fit_loglinear(table, frozenset())
    path = StepwisePath(fit=fit)
    if criterion == "pvalue" and pthresh <= 0:
        return path
    pairs = _pairs(table.k)
    included: set[int] = set()
    while len(included) < len(pairs):
        cands = [p for p in pairs if p not in included]
        if criterion == "pvalue":
            pvals = pair_pvalues(fit, cands)
            order = np.lexsort((np.arange(len(cands)), pvals))
            chosen = None
            for i in order:
                if pvals[i] >= pthresh:
                    break
                try:
                    new = fit_loglinear(table, fit.model | {cands[i]}, start=fit)
                except EstimateDoesNotExistError:
                    path.n_refused += 1
                    continue
                chosen = (cands[i], new, pvals[i])
                break
            if chosen is None:
                return path
            pair, fit, score = chosen
        else:
            cur = fit.aic if criterion == "aic" else fit.bic
            best = None
            for p in cands:
                try:
                    new = fit_loglinear(table, fit.model | {p}, start=fit)
                except EstimateDoesNotExistError:
                    path.n_refused += 1
                    continue
                val = new.aic if criterion == "aic" else new.bic
                if val < cur and (best is None or val < best[2]):
                    best = (p, new, val)
            if best is None:
                return path
            pair, fit, score = best
        included.add(pair)
        path.fit = fit
        path.steps.append(
            {
                "added": term_label(pair, table.lists),
                "score": float(score),
                "estimate": fit.estimate,
            }
        )
    return path


@dataclass
class SearchResult:
    """Exhaustive search: every model's criterion and estimate, and the best one."""

    criterion: str
    max_order: int
    fits: ManyFits
    values: np.ndarray
    best_index: int

    @property
    def n_searched(self) -> int:
        return len(self.fits.models)

    @property
    def n_refused(self) -> int:
        return int((self.fits.code != 0).sum())

    @property
    def best_model(self) -> Model:
        return self.fits.models[self.best_index]

    def ranking(self, lists: tuple[str, ...], top: int | None = None) -> list[dict[str, object]]:
        order = np.argsort(self.values, kind="stable")
        order = order[np.isfinite(self.values[order])]
        if top is not None:
            order = order[:top]
        return [
            {
                "rank": r + 1,
                "model": model_label(self.fits.models[i], lists),
                self.criterion: float(self.values[i]),
                "estimate": float(self.fits.estimate[i]),
            }
            for r, i in enumerate(order)
        ]


def exhaustive_search(
    table: Table, *, criterion: str = "bic", max_order: int = 2, models: list[Model] | None = None
) -> SearchResult:
    """Fit every hierarchical model with generators up to ``max_order`` and rank by AIC or BIC.

    Models whose extended MLE does not exist or is not identifiable are refused (counted, never
    ranked). Ties are broken by catalogue order (fewer terms first).

    Raises
    ------
    EstimateDoesNotExistError
        If every model is refused.
    """
    if models is None:
        models = list(hierarchical_models(table.k, max_order))
    fits = fit_many(table, models)
    vals = fits.criterion(criterion, table.n)
    if not np.isfinite(vals).any():
        raise EstimateDoesNotExistError(
            N_("all {n} models were refused (no existing, identifiable MLE)", n=len(models)),
            code="no-model",
        )
    best = int(np.argmin(vals))
    return SearchResult(criterion, max_order, fits, vals, best)
