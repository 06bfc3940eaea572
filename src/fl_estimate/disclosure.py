"""Disclosure control: the one function every table meant for publication goes through.

:func:`suppress` hides small counts (primary suppression: cells from 1 to ``threshold - 1``,
default threshold 5) and then hides as few other cells as needed (secondary suppression) so that
no hidden cell can be worked out exactly from the published cells and margins. It returns the
table with its margins, the suppressed cells marked, and flags saying which cells were hidden and
why.

Method
------
A two-way table with its row totals, column totals and grand total satisfies one linear equation
per row and per column. Write the table with its margins as an (m+1) x (n+1) array and think of
each cell as an edge between its row and its column in a bipartite graph. The hidden cells that
can be recovered exactly are the hidden edges that are *bridges* of the graph of hidden edges: a
hidden edge lying on a cycle of hidden edges can be shifted by +t, -t around the cycle without
changing any published number (Cox 1980; the "cycle" view of cell suppression in Castro 2006).
So secondary suppression repeats: find a bridge, close a cycle through it by the cheapest path
of published cells (cost: the cell's value, with margins and zeros made expensive and the grand
total a last resort), hide those cells, until no bridge is left.

One-way tables (a Series) have the single equation "cells sum to the total": a lone hidden cell
is hidden together with the next smallest published cell.

References
----------
Cox, L. H. (1980). Suppression methodology and statistical disclosure control. JASA 75, 377-385.
Castro, J. (2006). Minimum-distance controlled perturbation methods for large-scale tabular data
protection. EJOR 171, 39-52 (section 2 on cell suppression).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, Problem

__all__ = ["SuppressedTable", "recoverable_cells", "suppress"]

TOTAL = "Total"
PRIMARY = "primary"
SECONDARY = "secondary"


@dataclass(frozen=True)
class SuppressedTable:
    """A table after disclosure control.

    Attributes
    ----------
    values : DataFrame
        The table with margins (``Total`` row and column when ``margins=True``), nullable
        integers, suppressed cells ``<NA>``.
    flags : DataFrame
        Same shape: ``""`` (published), ``"primary"`` (below the threshold) or ``"secondary"``
        (hidden so that margins cannot reveal a primary cell).
    threshold : int
    notes : list of str
        What was done, in words, for the publication's footnote.
    """

    values: pd.DataFrame
    flags: pd.DataFrame
    threshold: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_primary(self) -> int:
        return int((self.flags == PRIMARY).to_numpy().sum())

    @property
    def n_secondary(self) -> int:
        return int((self.flags == SECONDARY).to_numpy().sum())

    @property
    def suppressed(self) -> pd.DataFrame:
        """Boolean mask of hidden cells."""
        return self.flags != ""

    def to_frame(self, symbol: str = "c") -> pd.DataFrame:
        """Publication form: numbers as text, hidden cells shown as ``symbol``."""
        text = self.values.astype(object).where(~self.suppressed, symbol)
        return text.map(lambda v: v if v == symbol else str(int(v)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "primary": self.n_primary,
            "secondary": self.n_secondary,
            "notes": list(self.notes),
            "table": self.to_frame().reset_index().to_dict(orient="records"),
        }


def _check(table: pd.DataFrame, threshold: int, source: str) -> np.ndarray:
    problems = []
    if threshold < 1:
        problems.append(Problem(f"threshold must be at least 1, got {threshold}", source))
    values = table.to_numpy(dtype=float, na_value=np.nan)
    for i, j in zip(
        *np.nonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values))), strict=True
    ):
        problems.append(
            Problem(
                "expected a non-negative whole count",
                source,
                int(i) + 2,
                str(table.columns[j]),
                table.iat[i, j],
            )
        )
    if problems:
        raise InputValidationError(problems)
    return values.astype(np.int64)


def _bridges(n_nodes: int, edges: list[tuple[int, int]]) -> list[int]:
    """Indices of the edges that are bridges (iterative Tarjan; simple graph)."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for k, (a, b) in enumerate(edges):
        adj[a].append((b, k))
        adj[b].append((a, k))
    disc = [-1] * n_nodes
    low = [0] * n_nodes
    out: list[int] = []
    t = 0
    for root in range(n_nodes):
        if disc[root] != -1:
            continue
        disc[root] = low[root] = t
        t += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            node, parent_edge, it = stack[-1]
            advanced = False
            for nb, k in it:
                if k == parent_edge:
                    continue
                if disc[nb] == -1:
                    disc[nb] = low[nb] = t
                    t += 1
                    stack.append((nb, k, iter(adj[nb])))
                    advanced = True
                    break
                low[node] = min(low[node], disc[nb])
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > disc[parent]:
                        out.append(parent_edge)
    return sorted(out)


def _cheapest_path(
    cost: np.ndarray, hidden: np.ndarray, start_row: int, end_col: int, skip: tuple[int, int]
) -> list[tuple[int, int]] | None:
    """Cheapest row->column path in the complete bipartite graph (cells as edges)."""
    m, n = cost.shape
    # nodes: rows 0..m-1, columns m..m+n-1
    dist = np.full(m + n, np.inf)
    prev: list[tuple[int, tuple[int, int]] | None] = [None] * (m + n)
    dist[start_row] = 0.0
    heap = [(0.0, start_row)]
    target = m + end_col
    while heap:
        d, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        if node == target:
            break
        if node < m:
            nbrs = [(m + j, (node, j)) for j in range(n)]
        else:
            nbrs = [(i, (i, node - m)) for i in range(m)]
        for nb, cell in nbrs:
            if cell == skip:
                continue
            w = 0.0 if hidden[cell] else cost[cell]
            if not np.isfinite(w):
                continue
            nd = d + w
            if nd < dist[nb]:
                dist[nb] = nd
                prev[nb] = (node, cell)
                heapq.heappush(heap, (nd, nb))
    if not np.isfinite(dist[target]):
        return None
    path = []
    node = target
    while node != start_row:
        step = prev[node]
        assert step is not None
        node, cell = step
        path.append(cell)
    return path


def recoverable_cells(values: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Mask of hidden cells of an extended table (with margins) that the margins determine."""
    m, n = values.shape
    cells = [(i, j) for i in range(m) for j in range(n) if hidden[i, j]]
    edges = [(i, m + j) for i, j in cells]
    out = np.zeros_like(hidden, dtype=bool)
    for k in _bridges(m + n, edges):
        out[cells[k]] = True
    return out


def suppress(
    table: pd.DataFrame | pd.Series,
    *,
    threshold: int = 5,
    margins: bool = True,
    suppress_zeros: bool = False,
    source: str = "<table>",
) -> SuppressedTable:
    """Suppress small counts and protect them from being recovered from the margins.

    Parameters
    ----------
    table : DataFrame or Series
        Counts (non-negative whole numbers) without margins; a DataFrame is a two-way table
        (rows x columns), a Series a one-way table.
    threshold : int
        Cells with ``1 <= count < threshold`` are suppressed (primary); margins too.
    margins : bool
        Publish row and column totals and the grand total (default). Secondary suppression
        protects against exactly these margins; tables published without margins need only
        primary suppression.
    suppress_zeros : bool
        Also treat zero cells as primary (where a published zero would itself disclose).
    source : str
        Name used in error messages.

    Returns
    -------
    SuppressedTable

    Raises
    ------
    InputValidationError
        When a cell is missing, negative or not a whole number.

    Notes
    -----
    Protection is against exact recovery from this table's own margins. Tables cut from the
    same data in other ways (another breakdown, another year's difference) must be protected
    together; publish them from one table or check their combination.

    Examples
    --------
    >>> t = pd.DataFrame({"F": [12, 3, 20], "M": [9, 14, 2]}, index=["North", "South", "East"])
    >>> s = suppress(t)
    >>> s.n_primary, s.n_secondary
    (2, 2)
    >>> s.to_frame().loc["South", "F"]
    'c'
    """
    if isinstance(table, pd.Series):
        return _suppress_1d(table, threshold, margins, suppress_zeros, source)
    raw = _check(table, threshold, source)
    m, n = raw.shape
    if margins:
        ext = np.zeros((m + 1, n + 1), dtype=np.int64)
        ext[:m, :n] = raw
        ext[:m, n] = raw.sum(axis=1)
        ext[m, :n] = raw.sum(axis=0)
        ext[m, n] = raw.sum()
        index: Any = [*table.index, TOTAL]
        columns: Any = [*table.columns, TOTAL]
    else:
        ext = raw.copy()
        index, columns = table.index, table.columns  # a MultiIndex keeps its levels and names
    small = (ext < threshold) & ((ext > 0) | suppress_zeros)
    if margins:
        small[m, n] = False  # the grand total is the one number always published
    flags = np.where(small, PRIMARY, "").astype(object)
    hidden = small.copy()
    if margins and hidden.any():
        big = float(ext.sum() + 1) * 10
        cost = ext.astype(float) + 1.0
        cost[ext == 0] += big  # hiding a zero protects little
        cost[m, :] += big
        cost[:, n] += big
        cost[m, n] = big * 100  # grand total: last resort
        while True:
            rec = recoverable_cells(ext, hidden)
            if not rec.any():
                break
            i, j = (int(v) for v in np.argwhere(rec)[0])
            path = _cheapest_path(cost, hidden, i, j, (i, j))
            if path is None:  # 1x1 tables: nothing can protect the cell but hiding all
                hidden[:] = True
                flags[(flags == "")] = SECONDARY
                break
            for cell in path:
                if not hidden[cell]:
                    hidden[cell] = True
                    flags[cell] = SECONDARY
    values = pd.DataFrame(ext, index=index, columns=columns).astype("Int64")
    values = values.mask(pd.DataFrame(hidden, index=index, columns=columns))
    flag_df = pd.DataFrame(flags, index=index, columns=columns)
    for frame in (flag_df, values):
        if frame.index.nlevels == table.index.nlevels:
            frame.index.names = table.index.names
        frame.columns.name = table.columns.name
    return SuppressedTable(values, flag_df, threshold, _notes(flag_df, threshold, suppress_zeros))


def _notes(flags: pd.DataFrame, threshold: int, zeros: bool) -> list[str]:
    n1 = int((flags == PRIMARY).to_numpy().sum())
    n2 = int((flags == SECONDARY).to_numpy().sum())
    if n1 == 0:
        return [f"No cell below {threshold}; nothing suppressed."]
    what = f"counts from {'0' if zeros else '1'} to {threshold - 1}"
    notes = [f"{n1} cell(s) with {what} suppressed (primary)."]
    if n2:
        notes.append(
            f"{n2} further cell(s) suppressed (secondary) so that totals cannot reveal them."
        )
    return notes


def _suppress_1d(
    series: pd.Series, threshold: int, margins: bool, zeros: bool, source: str
) -> SuppressedTable:
    raw = _check(series.to_frame(name=series.name or "count"), threshold, source)[:, 0]
    values = np.append(raw, raw.sum()) if margins else raw.copy()
    small = (values < threshold) & ((values > 0) | zeros)
    if margins:
        small[-1] = False
    flags = np.where(small, PRIMARY, "").astype(object)
    if margins and small[:-1].sum() == 1:
        order = [
            k for k in np.argsort(values[:-1], kind="stable") if not small[k] and values[k] > 0
        ] or [k for k in range(len(raw)) if not small[k]]
        if order:
            flags[order[0]] = SECONDARY
    index = [*series.index, TOTAL] if margins else list(series.index)
    name = series.name or "count"
    out = pd.DataFrame({name: values}, index=index).astype("Int64")
    out = out.mask(pd.DataFrame({name: flags != ""}, index=index))
    flag_df = pd.DataFrame({name: flags}, index=index)
    return SuppressedTable(out, flag_df, threshold, _notes(flag_df, threshold, zeros))
