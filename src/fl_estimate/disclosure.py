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

Linked tables
-------------
:func:`suppress` protects one table against its own margins. A publication with several tables
cut from the same people (a table by region and year, the same counts in a table of estimates,
national totals by year, people on each list, the lists a text names) needs them protected
together: :func:`protect_tables` takes every published number of the publication as a
:class:`LinkedCell`, a sum of *atoms* (the finest cross-classified counts, nonnegative; the run
uses stratum x capture pattern), published either exactly (a count) or as bounds (what a text
implies, e.g. "list A was used" means at least ``min_per_list`` people on list A).

**Rule** (the protection-interval rule of tau-argus's audit, Hundepool et al. 2012, section
4.3): for every primary cell (a count from 1 to ``threshold - 1``), an attacker who knows every
published cell and that the atoms are nonnegative computes, by linear programming, the smallest
and largest value the cell can take; the interval must be at least ``threshold`` wide
(``upper - lower >= threshold``). So the cell can be neither recovered nor narrowed to "3 or 4";
with the cell's true value inside the interval, this is a required sliding protection of
``threshold``. The bounds are those of the linear relaxation (atoms real, not integer), as in
tau-argus's audit; an integer attacker can at most round them inwards, which is why the rule is
applied with no tolerance beyond floating point.

**Augmentation**: cells are protected one by one in a fixed order; while a primary cell's
interval is too narrow, the cheapest published cell whose constraint binds at either optimum
(a nonzero dual value) is hidden too. Hiding only widens intervals, so a cell once protected
stays protected, and the loop ends (at worst with everything hidden). **Release**: then each
secondary cell, the most costly first, is published again when every primary interval stays
wide enough with it shown; showing only narrows intervals, so a cell refused once stays refused
and the final pattern is minimal cell by cell (no secondary cell can be shown again alone).
:func:`audit` gives the interval of every hidden count, for the footnote's audit and for tests.

**The LP** is one HiGHS model (``highspy``) built once, every unit a row: hiding or showing a
cell changes its row's bounds, a new cell to bound changes the objective, and each solve starts
from the last basis (primal simplex). Every solution is kept: a point that satisfies the shown
rows stays possible when cells are hidden, so a cell whose values over the kept points (the
true atoms among them) already spread over ``threshold`` needs no LP; the final audit solves
every primary cell exactly, and augmentation resumes, LPs only, if a kept point misled it.

**Relations**: what an attacker knows about the atoms besides the published cells, when that
is not a sum being published: :class:`AtomRelation` is a linear constraint with coefficients of
either sign (e.g. two tables cut from the same people by different characteristics have equal
totals in every region and period, which lets each table keep atoms of its own characteristic
instead of the full cross-classification). Relations are never hidden.

References
----------
Cox, L. H. (1980). Suppression methodology and statistical disclosure control. JASA 75, 377-385.
Castro, J. (2006). Minimum-distance controlled perturbation methods for large-scale tabular data
protection. EJOR 171, 39-52 (section 2 on cell suppression).
Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E., Spicer, K.
and de Wolf, P.-P. (2012). Statistical Disclosure Control. Wiley (section 4.3, protection
intervals and the audit of a suppression pattern).
"""

from __future__ import annotations

import heapq
import logging
import os
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_

log = logging.getLogger(__name__)

__all__ = [
    "AtomRelation",
    "LinkedCell",
    "LinkedProtection",
    "SuppressedTable",
    "audit",
    "protect_tables",
    "recoverable_cells",
    "suppress",
]

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
        problems.append(
            Problem(
                N_("threshold must be at least 1, got {threshold}", threshold=threshold), source
            )
        )
    values = table.to_numpy(dtype=float, na_value=np.nan)
    for i, j in zip(
        *np.nonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values))), strict=True
    ):
        problems.append(
            Problem(
                N_("expected a non-negative whole count"),
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


# ---------------------------------------------------------------------------- linked tables

#: A dual value (or cost) this small is zero: the constraint does not bind.
_DUAL_TOL = 1e-9
#: Slack of the width rule for floating point in the LP (the bounds of counts are whole or halves).
_WIDTH_TOL = 1e-7


@dataclass(frozen=True)
class LinkedCell:
    """One published number of a publication, as a sum of atoms.

    Attributes
    ----------
    key : hashable
        Where it is published, e.g. ``("list_totals", "North", 2023, "police")``; unique. Cells
        with the same atoms are the same number wherever they appear: they are hidden together.
    atoms : tuple of int
        Indices of the atoms the number adds up.
    bounds : (float, float) or None
        None for a count (its value, the sum of its atoms, is published); ``(low, high)`` for a
        statement that only bounds the sum (a text such as "list A was used": at least
        ``min_per_list``), with ``-inf``/``inf`` for a side it leaves open.
    cost : float or None
        What hiding it loses; None: the count plus one (a statement: 1); ``inf``: never hidden
        (something published anyway, in another form).
    """

    key: Hashable
    atoms: tuple[int, ...]
    bounds: tuple[float, float] | None = None
    cost: float | None = None


@dataclass(frozen=True)
class AtomRelation:
    """A linear constraint on the atoms that the attacker knows: ``low <= sum(coef * atom) <=
    high`` (``low == high`` for an equation). Never hidden, never a cell.

    Attributes
    ----------
    terms : tuple of (int, float)
        ``(atom index, coefficient)`` pairs.
    low, high : float
        The bounds (``-inf``/``inf`` for a side left open).
    """

    terms: tuple[tuple[int, float], ...]
    low: float = 0.0
    high: float = 0.0


@dataclass
class _Unit:
    """Cells with the same atoms (counts), or one bounding statement: hidden or shown as one."""

    keys: list[Hashable]
    atoms: tuple[int, ...]
    low: float
    high: float
    count: bool
    cost: float
    value: int


@dataclass(frozen=True)
class LinkedProtection:
    """The result of :func:`protect_tables`.

    Attributes
    ----------
    hidden : frozenset
        Keys of the cells not to publish (primary and secondary).
    primary : frozenset
        Keys of the counts from 1 to ``threshold - 1`` (0 too with ``suppress_zeros``).
    intervals : DataFrame
        :func:`audit` of the final pattern: one row per primary count.
    threshold : int
    pattern : mapping of key to (int, bool)
        Every cell's value and whether it is hidden: the publication as it went out, to be held
        by the next one (``protect_tables(previous=)``).
    held : int
        Cells whose pattern was held from the previous publication (hidden or shown as then).
    """

    hidden: frozenset[Hashable]
    primary: frozenset[Hashable]
    intervals: pd.DataFrame
    threshold: int
    pattern: Mapping[Hashable, tuple[int, bool]] = field(default_factory=dict)
    held: int = 0

    @property
    def secondary(self) -> frozenset[Hashable]:
        return self.hidden - self.primary

    def notes(self) -> list[str]:
        """What was done, in words, for the publication's footnote (no count in them)."""
        if not self.primary:
            return [f"No count below {self.threshold}; nothing suppressed."]
        out = [
            f"Counts from 1 to {self.threshold - 1} are suppressed; further cells are suppressed "
            f"so that no suppressed count can be narrowed, from everything published, to fewer "
            f"than {self.threshold + 1} possible values."
        ]
        return out


def _units(atoms: np.ndarray, cells: Sequence[LinkedCell]) -> list[_Unit]:
    """Counts grouped by their atoms, one unit per bounding statement; checks every cell."""
    units: list[_Unit] = []
    by_atoms: dict[tuple[int, ...], int] = {}
    seen: set[Hashable] = set()
    for c in cells:
        if c.key in seen:
            raise ValueError(f"two linked cells have the key {c.key!r}")
        seen.add(c.key)
        idx = tuple(sorted(set(c.atoms)))
        if idx and (idx[0] < 0 or idx[-1] >= len(atoms)):
            raise ValueError(f"cell {c.key!r} names an atom outside 0..{len(atoms) - 1}")
        value = int(atoms[list(idx)].sum())
        if c.bounds is None:
            cost = float(value + 1 if c.cost is None else c.cost)
            k = by_atoms.get(idx)
            if k is None:
                by_atoms[idx] = len(units)
                units.append(_Unit([c.key], idx, value, value, True, cost, value))
            else:
                units[k].keys.append(c.key)
                units[k].cost = max(units[k].cost, cost)
            continue
        low, high = (float(b) for b in c.bounds)
        if not low - _WIDTH_TOL <= value <= high + _WIDTH_TOL:
            raise ValueError(f"cell {c.key!r} bounds its sum {value} by [{low}, {high}]: not true")
        cost = float(1.0 if c.cost is None else c.cost)
        units.append(_Unit([c.key], idx, low, high, False, cost, value))
    return units


_HIGHS_ANNOUNCED = False


def _new_highs(highspy: Any) -> Any:
    """A ``highspy.Highs()``, without the banner HiGHS writes to the process's standard output
    the first time one is made ("Running HiGHS 1.16.0 ...": before any option can be set; it
    would land in the command's output). Standard output's descriptor is sent to ``/dev/null``
    for that first construction only."""
    global _HIGHS_ANNOUNCED
    if _HIGHS_ANNOUNCED:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)
    _HIGHS_ANNOUNCED = True
    return h


class _Attacker:
    """The LP of an attacker who knows the published units and that atoms are nonnegative.

    One HiGHS model is built once with every unit as a row: a shown count's row is fixed at its
    value, a shown statement's row has its bounds, a hidden unit's row is free. Showing or hiding
    a unit changes its row's bounds and a new target changes the objective; every solve starts
    from the previous optimal basis (a warm-started simplex), so a bound costs a few simplex
    iterations instead of a model built and presolved from nothing.

    Every optimal solution is kept (:meth:`spread`): a point that satisfies the rows of a set of
    shown units is a possible truth for every pattern that shows no more of them, so the spread
    of a target over the kept points that satisfy today's shown rows is a lower bound of its
    interval's width, and a target already wide enough over them needs no LP. The true atoms are
    the first point.
    """

    #: Kept points at most (the oldest go first); a row is satisfied to this tolerance.
    _MAX_POINTS = 4096
    _FEASIBLE_TOL = 1e-6

    def __init__(
        self,
        units: list[_Unit],
        n_atoms: int,
        truth: np.ndarray,
        relations: Sequence[AtomRelation] = (),
    ) -> None:
        import highspy
        from scipy import sparse

        rows = [k for k, u in enumerate(units) for _ in u.atoms]
        cols = [a for u in units for a in u.atoms]
        n = max(n_atoms, 1)
        self.units = units
        self.matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(units), n))
        self.low = np.array([u.low for u in units], dtype=float)
        self.high = np.array([u.high for u in units], dtype=float)
        self.n_solves = 0
        self._hs = highspy
        h = _new_highs(highspy)
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.setOptionValue("presolve", "off")  # tiny models, re-solved warm: presolve only costs
        # primal simplex: a new objective or a row set free keeps the last basis primal feasible,
        # so the warm start holds (the dual simplex would restart, ~30 times the iterations)
        h.setOptionValue("simplex_strategy", 4)
        inf = highspy.kHighsInf
        h.addVars(n, np.zeros(n), np.full(n, inf))
        if units:
            m = self.matrix
            h.addRows(
                len(units),
                np.full(len(units), -inf),
                np.full(len(units), inf),
                m.nnz,
                m.indptr[:-1].astype(np.int32),
                m.indices.astype(np.int32),
                m.data.astype(float),
            )
        for r in relations:  # rows after the units', their bounds never change
            idx = np.array([a for a, _ in r.terms], dtype=np.int32)
            coef = np.array([float(c) for _, c in r.terms], dtype=float)
            h.addRow(max(r.low, -inf), min(r.high, inf), len(idx), idx, coef)
        self._h = h
        self._shown = np.zeros(len(units), dtype=bool)
        self._cost_atoms: np.ndarray = np.zeros(0, dtype=np.int32)
        # kept points, in arrays that grow by doubling (restacking lists at every question
        # cost quadratic time): each point's row values, and which rows' bounds it breaks
        # which rows' bounds a point breaks is a bitset (64 rows a word): the test "does a
        # point break a shown row" is then a few words per point, not a row per point
        self._rows = np.zeros((16, len(units)))
        self._unsat = np.zeros((16, _n_words(len(units))), dtype=np.uint64)
        self._n_points = 0
        self._version = 0  # changes whenever a point is kept
        self._possible: tuple[bytes, int, np.ndarray] | None = None  # last shown's points
        self._next_slot = 1  # once full, points replace the oldest in turn (never the truth)
        self._keep(np.asarray(truth, dtype=float))

    def _keep(self, x: np.ndarray) -> None:
        r = self.matrix @ np.pad(x, (0, self.matrix.shape[1] - len(x)))
        tol = self._FEASIBLE_TOL
        if self._n_points < self._MAX_POINTS:
            slot = self._n_points
            if slot == len(self._rows):
                self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
                self._unsat = np.concatenate([self._unsat, np.zeros_like(self._unsat)])
            self._n_points += 1
        else:
            slot = self._next_slot
            self._next_slot = self._next_slot % (self._MAX_POINTS - 1) + 1
        self._rows[slot] = r
        self._unsat[slot] = _bitset((r < self.low - tol) | (r > self.high + tol))
        self._version += 1

    def _values(self, target: int, shown: np.ndarray) -> np.ndarray:
        """The target's values at the kept points possible given ``shown``.

        Which points are possible is kept for the last ``shown`` until a point is added: the
        release pass asks about every primary cell with the same ``shown``."""
        n = self._n_points
        key = shown.tobytes()
        if self._possible is None or self._possible[:2] != (key, self._version):
            ok = ~(self._unsat[:n] & _bitset(shown)).any(axis=1)
            self._possible = (key, self._version, ok)
        return self._rows[:n, target][self._possible[2]]

    def spread(self, target: int, shown: np.ndarray) -> float:
        """Width of the target's values over the kept points possible given ``shown``."""
        values = self._values(target, shown)
        return float(values.max() - values.min())

    def wide(self, target: int, shown: np.ndarray, width: float) -> bool:
        """Whether the target's interval given ``shown`` is at least ``width`` wide: the kept
        points' spread, else the LP maximum against the points' minimum (one LP), else both
        LP ends."""
        values = self._values(target, shown)
        if values.max() - values.min() >= width:
            return True
        self._show(shown)
        self._objective(target)
        high = self._solve(self._hs.ObjSense.kMaximize)[0]
        if high - values.min() >= width:
            return True
        return high - self._solve(self._hs.ObjSense.kMinimize)[0] >= width

    def _show(self, shown: np.ndarray) -> None:
        inf = self._hs.kHighsInf
        for k in np.flatnonzero(shown != self._shown):
            lo, hi = (self.low[k], self.high[k]) if shown[k] else (-inf, inf)
            self._h.changeRowBounds(int(k), max(lo, -inf), min(hi, inf))
        self._shown = shown.copy()

    def _objective(self, target: int) -> None:
        new = np.array(self.units[target].atoms, dtype=np.int32)
        old = np.setdiff1d(self._cost_atoms, new).astype(np.int32)
        if len(old):
            self._h.changeColsCost(len(old), old, np.zeros(len(old)))
        if len(new):
            self._h.changeColsCost(len(new), new, np.ones(len(new)))
        self._cost_atoms = new

    def _solve(self, sense: Any) -> tuple[float, np.ndarray | None]:
        """Optimum and row duals (None: unbounded)."""
        hs, h = self._hs, self._h
        h.changeObjectiveSense(sense)
        h.run()
        self.n_solves += 1
        status = h.getModelStatus()
        unbounded = (hs.HighsModelStatus.kUnbounded, hs.HighsModelStatus.kUnboundedOrInfeasible)
        if status in unbounded and sense == hs.ObjSense.kMaximize:
            return np.inf, None  # the true atoms are feasible: unbounded, not infeasible
        if status != hs.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"the audit's LP failed ({h.modelStatusToString(status)}): published cells disagree"
            )
        sol = h.getSolution()
        self._keep(np.array(sol.col_value))
        # the units' rows (the relations' rows follow them and are never hidden)
        duals = np.array(sol.row_dual)[: len(self.units)]
        return float(h.getInfo().objective_function_value), duals

    def bounds(self, target: int, shown: np.ndarray) -> tuple[float, float, set[int]]:
        """Smallest and largest value of unit ``target`` given the units ``shown``; and the
        shown units whose constraints bind at either optimum."""
        self._show(shown)
        self._objective(target)
        binding: set[int] = set()
        ends = []
        for sense in (self._hs.ObjSense.kMinimize, self._hs.ObjSense.kMaximize):
            value, duals = self._solve(sense)
            ends.append(value)
            if duals is not None:
                binding |= {int(i) for i in np.flatnonzero((np.abs(duals) > _DUAL_TOL) & shown)}
        return ends[0], ends[1], binding

    def widens(self, target: int, shown: np.ndarray, low: float, high: float) -> bool:
        """Whether unit ``target``'s interval given ``shown`` is wider than ``[low, high]``
        (one LP when the maximum already is)."""
        self._show(shown)
        self._objective(target)
        if self._solve(self._hs.ObjSense.kMaximize)[0] > high + _WIDTH_TOL:
            return True
        return self._solve(self._hs.ObjSense.kMinimize)[0] < low - _WIDTH_TOL


def _n_words(n_bits: int) -> int:
    return max(1, -(-n_bits // 64))


def _bitset(mask: np.ndarray) -> np.ndarray:
    """A boolean vector as 64-bit words (bit order of :func:`numpy.packbits`)."""
    packed = np.packbits(mask)
    return np.pad(packed, (0, 8 * _n_words(len(mask)) - len(packed))).view(np.uint64)


def _shown(units: list[_Unit], hidden: set[Hashable] | frozenset[Hashable]) -> np.ndarray:
    """A unit is shown when any of its cells is: a number hidden in one table but printed in
    another is published."""
    return np.array([any(k not in hidden for k in u.keys) for u in units], dtype=bool)


def _is_primary(u: _Unit, threshold: int, zeros: bool) -> bool:
    return u.count and bool(u.atoms) and (1 <= u.value < threshold or (zeros and u.value == 0))


def _check_atoms(atoms: Sequence[int] | np.ndarray, threshold: int) -> np.ndarray:
    if threshold < 1:
        raise InputValidationError(
            [
                Problem(
                    N_("threshold must be at least 1, got {threshold}", threshold=threshold),
                    "<disclosure>",
                )
            ]
        )
    values = np.asarray(atoms)
    if values.ndim != 1 or (
        values.size and (values.min() < 0 or (values != np.round(values)).any())
    ):
        raise ValueError("atoms must be a 1-d array of nonnegative whole counts")
    return values.astype(np.int64)


def _check_relations(values: np.ndarray, relations: Sequence[AtomRelation]) -> None:
    for k, r in enumerate(relations):
        if any(a < 0 or a >= len(values) for a, _ in r.terms):
            raise ValueError(f"relation {k} names an atom outside 0..{len(values) - 1}")
        total = float(sum(c * values[a] for a, c in r.terms))
        if not r.low - _WIDTH_TOL <= total <= r.high + _WIDTH_TOL:
            raise ValueError(f"relation {k} bounds {total} by [{r.low}, {r.high}]: not true")


def audit(
    atoms: Sequence[int] | np.ndarray,
    cells: Sequence[LinkedCell],
    hidden: set[Hashable] | frozenset[Hashable],
    *,
    threshold: int = 5,
    suppress_zeros: bool = False,
    primary_only: bool = False,
    relations: Sequence[AtomRelation] = (),
) -> pd.DataFrame:
    """The protection interval of every hidden count, given every published cell.

    Parameters
    ----------
    atoms : array of int
        The atoms' true values (nonnegative whole counts).
    cells : sequence of LinkedCell
        Every number of the publication (and every bounding statement).
    hidden : set of keys
        The cells not published.
    threshold : int
        Primary counts need an interval at least this wide.
    suppress_zeros : bool
        Zeros are primary too.
    primary_only : bool
        Only the primary counts (the others need no interval).
    relations : sequence of AtomRelation
        What else the attacker knows about the atoms (see the module's "Relations").

    Returns
    -------
    DataFrame
        One row per hidden count (cells with the same atoms once), in the order of ``cells``:
        ``key`` (its first cell), ``keys`` (all of them), ``value``, ``low`` and ``high`` (the
        attacker's LP bounds), ``width`` (``high - low``), ``primary`` and ``protected``
        (``width >= threshold``, or True for a secondary cell, which needs no protection).

    Examples
    --------
    A 2 x 2 table with its margins, one cell of 1 and the three others hidden: the cell can be
    anything from 0 to 5 (the smaller of the two margins it is in), width 5.

    >>> a = [1, 4, 5, 9]   # atoms: the four interior cells
    >>> cells = [LinkedCell(("t", i), (i,)) for i in range(4)]
    >>> cells += [LinkedCell("r0", (0, 1)), LinkedCell("r1", (2, 3)),
    ...           LinkedCell("c0", (0, 2)), LinkedCell("c1", (1, 3)),
    ...           LinkedCell("total", (0, 1, 2, 3))]
    >>> out = audit(a, cells, {("t", 0), ("t", 1), ("t", 2), ("t", 3)})
    >>> out.loc[0, ["value", "low", "high", "width", "protected"]].to_dict()
    {'value': 1, 'low': 0.0, 'high': 5.0, 'width': 5.0, 'protected': True}
    """
    values = _check_atoms(atoms, threshold)
    _check_relations(values, relations)
    units = _units(values, cells)
    lp = _Attacker(units, len(values), values, relations)
    return _intervals(lp, _shown(units, hidden), threshold, suppress_zeros, primary_only)


def _intervals(
    lp: _Attacker, shown: np.ndarray, threshold: int, zeros: bool, primary_only: bool
) -> pd.DataFrame:
    """:func:`audit`'s frame from an attacker's LP."""
    rows = []
    for k, u in enumerate(lp.units):
        primary = _is_primary(u, threshold, zeros)
        if shown[k] or not u.count or (primary_only and not primary):
            continue
        low, high, _ = lp.bounds(k, shown)
        rows.append(
            {
                "key": u.keys[0],
                "keys": tuple(u.keys),
                "value": int(u.value),
                "low": float(low),
                "high": float(high),
                "width": float(high - low),
                "primary": bool(primary),
                "protected": bool((not primary) or high - low >= threshold - _WIDTH_TOL),
            }
        )
    columns = ["key", "keys", "value", "low", "high", "width", "primary", "protected"]
    return pd.DataFrame(rows, columns=columns)


#: Candidates tried per step (each trial is one or two LPs).
_TRIALS = 4


def _next_to_hide(
    lp: _Attacker, target: int, hidden: np.ndarray, binding: set[int], low: float, high: float
) -> int:
    """The next unit to hide so that the target's interval widens.

    Candidates are the published units that bind at an LP optimum or share atoms with the
    target, cheapest first (those that cannot be hidden left out). The first of the
    ``_TRIALS`` cheapest whose hiding alone widens the interval is taken; when none does (a
    cell that other published cells determine widens nothing by itself), the cheapest, and the
    loop goes on from there.
    """
    units = lp.units
    near = {
        int(j) for j in np.flatnonzero(~hidden) if set(units[j].atoms) & set(units[target].atoms)
    }
    candidates = sorted(
        (j for j in (binding | near) - {target} if np.isfinite(units[j].cost)),
        key=lambda i: (units[i].cost, i),
    )
    if not candidates:  # only what cannot be hidden bounds it
        raise RuntimeError(f"cannot protect {units[target].keys[0]!r}")
    for j in candidates[:_TRIALS]:
        trial = hidden.copy()
        trial[j] = True
        if lp.widens(target, ~trial, low, high):
            return j
    return candidates[0]


def protect_tables(
    atoms: Sequence[int] | np.ndarray,
    cells: Sequence[LinkedCell],
    *,
    threshold: int = 5,
    suppress_zeros: bool = False,
    relations: Sequence[AtomRelation] = (),
    start: Iterable[Hashable] = (),
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> LinkedProtection:
    """Suppress small counts across linked tables so that no count can be narrowed down.

    Every count from 1 to ``threshold - 1`` is hidden (primary); then, cell by cell, while an
    attacker who knows every published cell can bound a primary cell to an interval narrower
    than ``threshold`` (LP bounds, see the module's "Linked tables"), the cheapest published
    cell whose constraint binds is hidden too (secondary). Cells with the same atoms are hidden
    together, wherever they are published.

    Parameters
    ----------
    atoms : array of int
        The finest counts (nonnegative whole numbers); every cell is a sum of some of them.
    cells : sequence of LinkedCell
        Every number the publication holds, and every statement that bounds one.
    threshold : int
        Smallest count published; also the width every primary cell's interval must reach.
    suppress_zeros : bool
        Also treat zero counts as primary.
    relations : sequence of AtomRelation
        What else the attacker knows about the atoms (see the module's "Relations").
    start : iterable of keys
        Cells hidden from the start (secondary unless primary), e.g. the pattern a faster
        table-by-table method found; the LP adds to it, and the release pass may show again
        those not needed.
    previous : mapping of key to (int, bool), optional
        The previous publication's cells (:attr:`LinkedProtection.pattern`: value, hidden).
        A cell published again with the same value keeps its pattern: hidden then, hidden now
        (never shown again by the release pass); shown then, it is known to anyone who read
        that publication, so it is never hidden now. An earlier year's tables thus stay as they
        were published when a year is added, and no cell hidden then can be differenced from
        the two publications together. When a new small count can only be protected by hiding
        a cell shown before, the shown cells are not held (logged) and the protection is made
        as without them; cells hidden before stay hidden.

    Returns
    -------
    LinkedProtection

    Raises
    ------
    InputValidationError
        When the threshold is below 1.

    Examples
    --------
    The 2 x 2 table of :func:`audit` with its margins published (hiding a margin costs ten
    times its value): the cell of 1 is hidden, and then the other three, so that it could be
    anything from 0 to 5.

    >>> a = [1, 4, 5, 9]
    >>> cells = [LinkedCell(("t", i), (i,)) for i in range(4)]
    >>> cells += [LinkedCell(k, i, cost=10 * sum(a[j] for j in i)) for k, i in
    ...           [("r0", (0, 1)), ("r1", (2, 3)), ("c0", (0, 2)), ("c1", (1, 3)),
    ...            ("total", (0, 1, 2, 3))]]
    >>> p = protect_tables(a, cells)
    >>> sorted(p.hidden, key=str)
    [('t', 0), ('t', 1), ('t', 2), ('t', 3)]
    >>> bool(p.intervals["protected"].all())
    True
    """
    values = _check_atoms(atoms, threshold)
    _check_relations(values, relations)
    units = _units(values, cells)
    primary = [k for k, u in enumerate(units) if _is_primary(u, threshold, suppress_zeros)]
    kept, shown = _held(units, previous or {}, set(primary))
    args = (units, values, relations, primary, set(start), kept)
    try:
        hidden, intervals = _suppress_linked(*args, shown, threshold, suppress_zeros)
    except RuntimeError:
        if not shown:
            raise
        log.warning(
            "a new small count can only be protected by hiding cells shown in the previous "
            "publication: those cells are not held (cells hidden before stay hidden)"
        )
        shown = set()
        hidden, intervals = _suppress_linked(*args, shown, threshold, suppress_zeros)
    hidden_keys = frozenset(key for k in np.flatnonzero(hidden) for key in units[k].keys)
    primary_keys = frozenset(key for k in primary for key in units[k].keys)
    pattern = {key: (u.value, bool(hidden[k])) for k, u in enumerate(units) for key in u.keys}
    return LinkedProtection(
        hidden_keys, primary_keys, intervals, threshold, pattern, len(kept) + len(shown)
    )


def _held(
    units: list[_Unit], previous: Mapping[Hashable, tuple[int, bool]], primary: set[int]
) -> tuple[set[int], set[int]]:
    """Units published before with the same value: those hidden then, those shown then (a
    unit is hidden when any of its cells was)."""
    kept: set[int] = set()
    shown: set[int] = set()
    if not previous:
        return kept, shown
    for k, u in enumerate(units):
        before = [previous[key][1] for key in u.keys if previous.get(key, (None,))[0] == u.value]
        if not before:
            continue
        if any(before):
            kept.add(k)
        elif k not in primary:  # shown before yet small now: only if the threshold changed
            shown.add(k)
    return kept, shown


def _suppress_linked(
    units: list[_Unit],
    values: np.ndarray,
    relations: Sequence[AtomRelation],
    primary: list[int],
    start: set[Hashable],
    kept: set[int],
    shown: set[int],
    threshold: int,
    suppress_zeros: bool,
) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`protect_tables`' pattern (primary, augmentation, release) and its audit; units in
    ``kept`` hidden and never released, units in ``shown`` never hidden."""
    hidden = np.zeros(len(units), dtype=bool)
    hidden[primary] = True
    hidden[[k for k, u in enumerate(units) if start & set(u.keys)]] = True
    hidden[sorted(kept)] = True
    hidden[sorted(shown)] = False  # known from the previous publication (never primary)
    # units shown before are never hidden (a copy: the caller's units keep their costs)
    units = [replace(u, cost=np.inf) if k in shown else u for k, u in enumerate(units)]
    lp = _Attacker(units, len(values), values, relations)
    for k in primary:
        _protect(lp, k, hidden, threshold, quick=True)
    _release(lp, primary, hidden, threshold, kept)
    intervals = _intervals(lp, ~hidden, threshold, suppress_zeros, primary_only=True)
    if not intervals["protected"].all():  # a kept point a hair outside a row: LPs only
        for k in primary:
            _protect(lp, k, hidden, threshold, quick=False)
        intervals = _intervals(lp, ~hidden, threshold, suppress_zeros, primary_only=True)
    return hidden, intervals


def _protect(lp: _Attacker, k: int, hidden: np.ndarray, threshold: int, *, quick: bool) -> None:
    """Hide further units (``hidden`` is changed in place) until unit ``k``'s interval is at
    least ``threshold`` wide; ``quick``: the kept points' spread, when wide enough, stands for
    the LP (the final audit checks it)."""
    while True:
        if quick and lp.spread(k, ~hidden) >= threshold - _WIDTH_TOL:
            return
        low, high, binding = lp.bounds(k, ~hidden)
        if high - low >= threshold - _WIDTH_TOL:
            return
        hidden[_next_to_hide(lp, k, hidden, binding, low, high)] = True


def _release(
    lp: _Attacker,
    primary: list[int],
    hidden: np.ndarray,
    threshold: int,
    kept: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Publish again every secondary unit that is not needed (``hidden`` changed in place).

    Augmentation protects one primary cell at a time, so a cell hidden for an early one may be
    needless once later ones have hidden theirs. Secondary units are tried in turn, the most
    costly first (margins and totals before interior cells): one is shown again when every
    primary interval stays at least ``threshold`` wide with it shown (the kept points' spread,
    or the LP where the points do not show it). Showing a unit only narrows intervals, so every
    primary cell stays protected after each step, as after augmentation.
    """
    is_primary = np.zeros(len(hidden), dtype=bool)
    is_primary[primary] = True
    units = lp.units
    order = list(primary)  # the primary cell that stopped the last release is asked first
    for j in sorted(np.flatnonzero(hidden & ~is_primary), key=lambda i: (-units[i].cost, i)):
        if j in kept:  # hidden in the previous publication: stays hidden
            continue
        trial = ~hidden
        trial[j] = True
        for n, k in enumerate(order):
            if not lp.wide(k, trial, threshold - _WIDTH_TOL):
                order.insert(0, order.pop(n))
                break
        else:
            hidden[j] = False
