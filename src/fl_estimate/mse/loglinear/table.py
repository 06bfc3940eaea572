"""Cell counts of one capture table in the layout the log-linear fitting code needs, and the
design matrices over its observed cells.

Cells are indexed by capture pattern (bit ``j`` set: on list ``j``); cell 0, the people on no
list, is never observed. A term (see :mod:`fl_estimate.mse.loglinear.terms`) is a bit mask; the
design column of a term marks the cells that contain it.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear.table import Table, design, param_terms
>>> table = Table.from_data(read_capture_csv("data_samples/uk_2013.csv"))
>>> table.k, table.n, len(table.cells)
(6, 2744.0, 63)
>>> table.margin(0b11)  # people on both LA and NG
18.0
>>> design(table, param_terms(table.k, frozenset({0b11}))).shape
(63, 8)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.loglinear.terms import Model, bits

__all__ = ["Table", "design", "param_terms", "reduce_model"]


class Table:
    """Cell counts of one capture table in the layout the fitting code needs.

    Parameters
    ----------
    counts : ndarray of shape (2**K,)
        Counts in cell-index order (cell 0, the unobserved cell, is ignored).
    lists : sequence of str
    """

    def __init__(self, counts: np.ndarray, lists: Sequence[str]) -> None:
        self.lists = tuple(lists)
        self.k = len(self.lists)
        full = np.asarray(counts, dtype=float)
        if full.shape != (1 << self.k,):
            raise ValueError(
                N_("expected {n} cell counts, got {shape}", n=1 << self.k, shape=full.shape)
            )
        self.cells = np.arange(1, 1 << self.k)  # observable cells
        self.y = full[1:].copy()
        self.n = float(self.y.sum())

    @classmethod
    def from_data(cls, data: CaptureData) -> Table:
        return cls(data.cell_counts(), data.lists)

    def with_counts(self, y: np.ndarray) -> Table:
        """Same lists, new observed-cell counts (length 2**K - 1)."""
        full = np.concatenate([[0.0], np.asarray(y, dtype=float)])
        return Table(full, self.lists)

    def column(self, term: int) -> np.ndarray:
        """0/1 indicator over the observed cells of the cells that contain ``term``."""
        return ((self.cells & term) == term).astype(float)

    def margin(self, term: int) -> float:
        """Observed count of the cells containing ``term`` (its sufficient statistic)."""
        return float(self.y[(self.cells & term) == term].sum())


def param_terms(k: int, model: Model) -> list[int]:
    """Every parameter's term: intercept (0), main effects, then the interactions in order."""
    inter = sorted(model, key=lambda t: (t.bit_count(), bits(t)))
    return [0, *[1 << j for j in range(k)], *inter]


def design(table: Table, terms: Sequence[int]) -> np.ndarray:
    """Design matrix over the observed cells: one column per term."""
    cells = table.cells[:, None]
    t = np.asarray(terms, dtype=np.int64)[None, :]
    return ((cells & t) == t).astype(float)


def reduce_model(table: Table, model: Model) -> tuple[list[int], list[int], np.ndarray]:
    """Parameters kept, terms at minus infinity, and the mask of cells not fixed at zero.

    A term whose observed margin is zero has extended MLE minus infinity: it is dropped and every
    cell containing it is fixed at zero (Fienberg & Rinaldo 2012).
    """
    terms = param_terms(table.k, model)
    boundary = [t for t in terms if t != 0 and table.margin(t) == 0]
    keep = [t for t in terms if t not in boundary]
    alive = np.ones(len(table.cells), dtype=bool)
    for t in boundary:
        alive &= (table.cells & t) != t
    return keep, boundary, alive
