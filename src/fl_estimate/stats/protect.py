"""Disclosure control across every statistics table of one publication.

The tables of a release are cut from the same records: victims by sex and age group, by
citizenship and by form of exploitation are three breakdowns of the same people; a half-year is
the sum of its quarters; the Total column of one table is the Total column of the next; a region's
count of linked persons is at most its count of records. Protected one block at a time, a hidden
cell could be worked out (or narrowed) by differencing with another table. Here every number of
the release goes into one linear system (:func:`fl_estimate.disclosure.protect_tables`) and a
hidden count must keep, given *everything* published, an interval at least ``threshold`` wide
(the protection-interval rule of :mod:`fl_estimate.disclosure`).

Atoms
-----
A :class:`System` is one kind of unit (victim records, linked persons, cases, perpetrator
records). Its atoms are, for each characteristic (``attribute``) the tables break it down by, the
units of each region, finest period (the quarter, or the finest level published) and value of
the system's ``base`` columns (e.g. offence and stage for perpetrators) with each value of that
characteristic. Characteristics are not crossed with each other: no table crosses them, and any
set of one-way breakdowns with equal totals is the breakdown of some population (a
cross-classification with those margins always exists), so the atoms of each characteristic
and one *relation* per region, period and base value (the totals are equal,
:class:`fl_estimate.disclosure.AtomRelation`) describe exactly what a reader can know, with far
fewer atoms than the full cross-classification.

A multi-response characteristic (the means of a trafficking case: a case may have several) has
atoms "cases with this means"; its relations say that each is at most the number of trafficking
cases, and that together they are at least that number (every case has one means, ``unknown``
at least). Linked persons are counted in the region and period of their first record: the
persons of a region and period are at most its records (a relation between the two systems).

Totals (a region's Total column, a period's Total row) are written over the atoms of the
system's first characteristic: the same number printed in two tables is one cell, hidden or
shown in both. A category a table leaves out because no unit has it is a published zero.

Costs: a cell costs its count plus one; a margin ten times that, a period's grand total a
hundred times; cells of coarser periods twice (half-year) and four times (year) as much, so
quarters go before years. Bounds are those of the linear relaxation, as in tau-argus's audit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from fl_estimate.disclosure import (
    TOTAL,
    AtomRelation,
    LinkedCell,
    LinkedProtection,
    protect_tables,
)
from fl_estimate.stats.categories import LEVELS
from fl_estimate.stats.tables import PublishedTable, period_label

logger = logging.getLogger(__name__)

__all__ = [
    "Attribute",
    "Partner",
    "System",
    "TableSpec",
    "finest_level",
    "protect_statistics",
]

#: Cost factor of a cell by its period level: finer periods are hidden first.
_LEVEL_WEIGHT = {"quarter": 1.0, "half-year": 2.0, "year": 4.0}
_NEVER = np.inf


def finest_level(levels: Sequence[str]) -> str:
    """The finest of ``levels`` (quarter before half-year before year)."""
    return min(levels, key=LEVELS.index)


def coarser(period: pd.Series, fine: str, level: str) -> pd.Series:
    """Period labels at ``level`` of labels at the finer level ``fine``."""
    if level == fine:
        return period
    year = period.str[:4]
    if level == "year":
        return year
    quarter = period.str[-1].astype(int)  # fine is quarter here
    return year + "-H" + np.where(quarter <= 2, "1", "2")


@dataclass(frozen=True)
class Attribute:
    """A characteristic of a system's units.

    Attributes
    ----------
    column : str
        Column of the units' frame (one category per unit, or ``;``-joined values when
        ``multi_of`` is set).
    values : tuple of str
        The categories, in order (values outside them become ``other``).
    multi_of : (str, str), optional
        A multi-response characteristic of the units whose ``column`` (another characteristic)
        has the given value, e.g. ``("case_type", "trafficking_in_persons")`` for the means.
    """

    column: str
    values: tuple[str, ...]
    multi_of: tuple[str, str] | None = None


@dataclass(frozen=True)
class System:
    """One kind of unit counted by the tables (see the module's "Atoms").

    Attributes
    ----------
    name : str
    units : DataFrame
        One row per unit: ``region``, ``date``, the ``base`` columns and each attribute's column.
    date : str
        The column of dates that places a unit in its period.
    base : tuple of str
        Columns every table of the system splits or filters by besides region and period.
    base_values : dict of str to tuple of str
        The values of each base column (atoms for all of them, zeros included).
    attributes : tuple of Attribute
        The first is the one totals are written over (not multi-response).
    """

    name: str
    units: pd.DataFrame
    date: str
    base: tuple[str, ...] = ()
    base_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A published table: rows region (and Total), columns computed from the atoms.

    Attributes
    ----------
    name : str
        The table's name (file name without ``.csv``).
    system : str
    attribute : str
        The attribute column whose atoms the cells add up.
    level : str
        ``quarter``, ``half-year`` or ``year``.
    column : callable
        DataFrame of atoms (base columns and ``value``) -> Series of column labels (None: the
        atom is not in this table, e.g. another offence).
    columns : tuple of str
        The columns, in order.
    margins : bool
        Publish the Total column and row (False for a multi-response table).
    drop_empty : bool
        Leave out the columns no unit has in any period (a published zero).
    """

    name: str
    system: str
    attribute: str
    level: str
    column: Callable[[pd.DataFrame], pd.Series]
    columns: tuple[str, ...]
    margins: bool = True
    drop_empty: bool = False


@dataclass(frozen=True)
class Partner:
    """Another publication's tables that count the same linked persons (the annual run's), to
    be protected in one LP with the statistics of the persons.

    Attributes
    ----------
    atoms : array of int
        The partner's atoms (e.g. the run's people by stratum and capture pattern).
    cells : sequence of LinkedCell
        Every published cell of the partner, over its own atoms (keys distinct from the
        statistics' ``(table, period, region, column)`` keys).
    totals : dict of (str, str) to tuple of int
        For a region and a year, the partner's atoms whose sum is the number of linked persons
        first identified there then: the same number as the persons' atoms of that region and
        year (an equation the LP is given where the true counts agree; where they do not, a
        warning is logged and the two stay in one LP without it).
    """

    atoms: np.ndarray
    cells: tuple[LinkedCell, ...]
    totals: dict[tuple[str, str], tuple[int, ...]]


def _with_partner(
    counts: np.ndarray,
    atoms: _Atoms,
    systems: Sequence[System],
    cells: list[LinkedCell],
    relations: list[AtomRelation],
    partner: Partner,
) -> np.ndarray:
    """The partner's atoms appended after the statistics' (``cells`` and ``relations`` extended
    in place): its cells, and for each of its totals the equation with the persons' atoms."""
    offset = len(counts)
    cells += [
        LinkedCell(c.key, tuple(a + offset for a in c.atoms), c.bounds, c.cost)
        for c in partner.cells
    ]
    first = next(s for s in systems if s.name == "persons").attributes[0].column
    f = atoms.frame
    own = f[(f["system"] == "persons") & (f["attribute"] == first)]
    by_key = own.groupby([own["region"].astype(str), own["fine"].str[:4]]).groups
    both = np.concatenate([counts, np.asarray(partner.atoms, dtype=np.int64)])
    for key, theirs in partner.totals.items():
        ours = [int(i) for i in by_key.get(key, [])]
        terms = tuple((a + offset, 1.0) for a in theirs) + tuple((i, -1.0) for i in ours)
        if not terms:
            continue
        if int(both[[a for a, _ in terms]].dot([w for _, w in terms])) != 0:
            # counted apart (e.g. records the statistics leave out): not the same number, so
            # no equation; both tables stay in this LP
            logger.warning("the run's and the statistics' persons differ in one stratum")
            continue
        relations.append(AtomRelation(terms))
    return both


@dataclass
class _Atoms:
    """Every system's atoms, one frame: ``system, attribute, region, fine, <base...>, value``."""

    frame: pd.DataFrame
    counts: np.ndarray
    fine: str


def _values_of(units: pd.DataFrame, a: Attribute) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The units of an attribute (one row per unit and value) and its categories."""
    frame = units
    col = frame[a.column].astype(object)
    if a.multi_of is not None:
        key, value = a.multi_of
        frame = frame[frame[key] == value]
        col = frame[a.column].fillna("unknown").astype(str).str.split(";")
        frame = frame.assign(value=col).explode("value")
        col = frame["value"]
    frame = frame.assign(value=col.astype(str))
    cats = list(a.values)
    outside = ~frame["value"].isin(cats)
    if outside.any():
        frame.loc[outside, "value"] = "other"
        cats.append("other")
    return frame, tuple(cats)


def _atoms(systems: Sequence[System], regions: Sequence[str], fine: str) -> _Atoms:
    from itertools import product

    parts = []
    for s in systems:
        units = s.units.assign(fine=period_label(s.units[s.date], fine))
        periods = sorted(units["fine"].unique())
        base = [s.base_values[b] for b in s.base]
        for a in s.attributes:
            frame, cats = _values_of(units, a)
            keys = ["region", "fine", *s.base, "value"]
            grid = pd.DataFrame(
                list(product(regions, periods, *base, cats)), columns=keys, dtype=object
            )
            n = frame.groupby(keys, sort=False).size()
            grid["count"] = (
                n.reindex(pd.MultiIndex.from_frame(grid[keys])).fillna(0).astype(np.int64).values
                if len(grid)
                else np.zeros(0, dtype=np.int64)
            )
            parts.append(grid.assign(system=s.name, attribute=a.column))
    frame = pd.concat(parts, ignore_index=True)
    return _Atoms(frame.drop(columns="count"), frame["count"].to_numpy(np.int64), fine)


def _relations(systems: Sequence[System], atoms: _Atoms) -> list[AtomRelation]:
    """Equal totals across a system's attributes; the multi-response bounds; persons <= records
    (a system named ``persons`` beside one named ``records``)."""
    f = atoms.frame
    out: list[AtomRelation] = []
    groups: dict[tuple[str, str], dict[tuple[Any, ...], list[int]]] = {}
    for s in systems:
        keys = ["region", "fine", *s.base]
        for a in s.attributes:
            sub = f[(f["system"] == s.name) & (f["attribute"] == a.column)]
            groups[(s.name, a.column)] = {
                tuple(k if isinstance(k, tuple) else (k,)): list(idx)
                for k, idx in sub.groupby(keys, sort=False).groups.items()
            }
        first = groups[(s.name, s.attributes[0].column)]
        for a in s.attributes[1:]:
            other = groups[(s.name, a.column)]
            for k, idx in first.items():
                if a.multi_of is None:
                    terms = [(int(i), 1.0) for i in idx] + [(int(j), -1.0) for j in other[k]]
                    out.append(AtomRelation(tuple(terms)))
                    continue
                key, value = a.multi_of
                of = [int(i) for i in idx if f.at[i, "value"] == value]
                if key != s.attributes[0].column:
                    raise ValueError("multi_of must name the system's first attribute")
                many = [(int(j), 1.0) for j in other[k]]
                out.append(AtomRelation((*many, *((i, -1.0) for i in of)), 0.0, np.inf))
                for j in other[k]:
                    pair = ((int(j), 1.0), *((i, -1.0) for i in of))
                    out.append(AtomRelation(pair, -np.inf, 0.0))
    names = {s.name: s for s in systems}
    if "persons" in names and "records" in names:
        p = groups[("persons", names["persons"].attributes[0].column)]
        r = groups[("records", names["records"].attributes[0].column)]
        for k, idx in p.items():
            terms = [(int(i), 1.0) for i in idx] + [(int(j), -1.0) for j in r.get(k, [])]
            out.append(AtomRelation(tuple(terms), -np.inf, 0.0))
    return out


@dataclass
class _Layout:
    """Where each cell of a table is: its key, atoms and cost, and the table's shape."""

    spec: TableSpec
    periods: list[str]
    regions: list[str]
    columns: list[str]
    cells: dict[tuple[str, str, str], tuple[int, ...]]


def _layout(spec: TableSpec, systems: dict[str, System], atoms: _Atoms) -> _Layout:
    f = atoms.frame
    s = systems[spec.system]
    own = f[(f["system"] == spec.system) & (f["attribute"] == spec.attribute)]
    col = spec.column(own)
    own = own.assign(column=col.values).dropna(subset=["column"])
    total_attr = s.attributes[0].column
    tot = f[(f["system"] == spec.system) & (f["attribute"] == total_attr)]
    # the Total column counts the units of the table: those whose atoms have a column here
    tot_col = spec.column(tot) if total_attr == spec.attribute else None
    if tot_col is None:
        in_table = _in_table(spec, own, tot, s)
        tot = tot[in_table]
    else:
        tot = tot[tot_col.notna().values]
    own = own.assign(period=coarser(own["fine"], atoms.fine, spec.level).values)
    tot = tot.assign(period=coarser(tot["fine"], atoms.fine, spec.level).values)
    columns = list(spec.columns)
    columns += sorted(set(own["column"]) - set(columns))  # values outside the list, if any
    if spec.drop_empty:
        present = set(own.loc[atoms.counts[own.index] > 0, "column"])
        columns = [c for c in columns if c in present]
    regions = list(dict.fromkeys(f.loc[f["system"] == spec.system, "region"]))
    periods = sorted(own["period"].unique())
    cells: dict[tuple[str, str, str], tuple[int, ...]] = {}
    by_cell = own.groupby(["period", "region", "column"], sort=False).groups
    for key, idx in by_cell.items():
        p, r, c = cast(tuple[str, str, str], key)
        cells[(p, r, c)] = tuple(int(i) for i in idx)
        if spec.margins:
            cells.setdefault((p, TOTAL, c), ())
            cells[(p, TOTAL, c)] += tuple(int(i) for i in idx)
    if spec.margins:
        for key, idx in tot.groupby(["period", "region"], sort=False).groups.items():
            p, r = cast(tuple[str, str], key)
            cells[(p, r, TOTAL)] = tuple(int(i) for i in idx)
            cells.setdefault((p, TOTAL, TOTAL), ())
            cells[(p, TOTAL, TOTAL)] += tuple(int(i) for i in idx)
    return _Layout(spec, periods, regions, columns, cells)


def _in_table(spec: TableSpec, own: pd.DataFrame, tot: pd.DataFrame, s: System) -> np.ndarray:
    """The total attribute's atoms whose base values some atom of the table has."""
    if not s.base:
        return np.ones(len(tot), dtype=bool)
    kept = set(map(tuple, own[list(s.base)].drop_duplicates().to_numpy().tolist()))
    return np.array([tuple(v) in kept for v in tot[list(s.base)].to_numpy().tolist()], dtype=bool)


def _cost(value: int, region: str, column: str, level: str) -> float:
    weight = (100.0 if region == TOTAL and column == TOTAL else 10.0) if TOTAL in (
        region, column
    ) else 1.0  # fmt: skip
    return weight * _LEVEL_WEIGHT[level] * (value + 1)


def protect_statistics(
    systems: Sequence[System],
    specs: Sequence[TableSpec],
    *,
    threshold: int,
    regions: Sequence[str],
    start: Sequence[Hashable] = (),
    partner: Partner | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> tuple[dict[str, PublishedTable], LinkedProtection]:
    """Every table of the release, protected together.

    Parameters
    ----------
    systems : sequence of System
        The kinds of unit (atoms and relations: see the module's docstring).
    specs : sequence of TableSpec
        The tables, every level included.
    threshold : int
        Counts from 1 to ``threshold - 1`` are hidden, and every hidden count keeps an interval
        at least ``threshold`` wide given everything published.
    regions : sequence of str
        The rows of every table (a region with no unit is a row of zeros).
    start : sequence of keys
        Cells ``(table, period, region, column)`` hidden from the start (a faster table-by-table
        pattern); the LP adds to them.
    partner : Partner, optional
        Another publication's cells counting the same linked persons: protected in the LP of
        the persons (a system named ``persons``), or alone without one; the protection
        returned covers its cells either way.
    previous : mapping, optional
        The previous publication's pattern (:attr:`LinkedProtection.pattern`): cells published
        again with the same value are hidden or shown as then
        (:func:`fl_estimate.disclosure.protect_tables`).

    Returns
    -------
    tables : dict of str to PublishedTable
    protection : LinkedProtection
        The cells hidden and the audit of every primary count (keys ``(table, period, region,
        column)``, and the partner's keys).
    """
    levels = sorted({s.level for s in specs}, key=LEVELS.index)
    fine = finest_level(levels)
    tables: dict[str, PublishedTable] = {}
    parts: list[LinkedProtection] = []
    partnered = False
    for group in _components(systems):  # systems that share no relation
        atoms = _atoms(group, list(regions), fine)
        by_name = {s.name: s for s in group}
        layouts = [_layout(spec, by_name, atoms) for spec in specs if spec.system in by_name]
        cells: list[LinkedCell] = []
        for lay in layouts:
            for (p, r, c), idx in lay.cells.items():
                key = (lay.spec.name, p, r, c)
                if c != TOTAL and c not in lay.columns:  # left out: a published zero
                    cells.append(LinkedCell(("zero", *key), idx, cost=_NEVER))
                    continue
                value = int(atoms.counts[list(idx)].sum())
                cells.append(LinkedCell(key, idx, cost=_cost(value, r, c, lay.spec.level)))
        relations = _relations(group, atoms)
        counts = atoms.counts
        if partner is not None and "persons" in by_name:
            counts = _with_partner(counts, atoms, group, cells, relations, partner)
            partnered = True
        found = [
            _protect_part(counts, c, r, threshold, start, previous or {})
            for c, r in _split(len(counts), cells, relations)
        ]
        protection = _merged(found, threshold)
        parts.append(protection)
        tables |= {lay.spec.name: _published(lay, atoms, protection, threshold) for lay in layouts}
    if partner is not None and not partnered:  # no linked persons: the partner alone
        parts.append(
            protect_tables(
                partner.atoms, list(partner.cells), threshold=threshold, previous=previous
            )
        )
    ordered = {spec.name: tables[spec.name] for spec in specs}
    return ordered, _merged(parts, threshold)


def _split(
    n_atoms: int, cells: list[LinkedCell], relations: list[AtomRelation]
) -> list[tuple[list[LinkedCell], list[AtomRelation]]]:
    """Cells and relations by connected component of the atoms (two atoms are connected when a
    cell or a relation holds both): separate LPs give the same bounds, much faster (a year's
    tables share no atom with another year's, an offence's with another offence's)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    groups = [c.atoms for c in cells if c.atoms] + [tuple(a for a, _ in r.terms) for r in relations]
    i = [g[0] for g in groups for _ in g]
    j = [a for g in groups for a in g]
    graph = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n_atoms, n_atoms))
    _, label = connected_components(graph, directed=False)
    by_cells: dict[int, list[LinkedCell]] = {}
    by_rel: dict[int, list[AtomRelation]] = {}
    for c in cells:
        if c.atoms:
            by_cells.setdefault(int(label[c.atoms[0]]), []).append(c)
    for r in relations:
        by_rel.setdefault(int(label[r.terms[0][0]]), []).append(r)
    return [(by_cells[k], by_rel.get(k, [])) for k in sorted(by_cells)]


def _protect_part(
    counts: np.ndarray,
    cells: list[LinkedCell],
    relations: list[AtomRelation],
    threshold: int,
    start: Sequence[Hashable],
    previous: Mapping[Hashable, tuple[int, bool]],
) -> LinkedProtection:
    """:func:`fl_estimate.disclosure.protect_tables` on one component, its atoms renumbered."""
    used = sorted({a for c in cells for a in c.atoms} | {a for r in relations for a, _ in r.terms})
    local = {a: k for k, a in enumerate(used)}
    values = counts[used]
    sums = [int(values[[local[a] for a in c.atoms]].sum()) for c in cells]
    keys = {c.key for c in cells}
    kept = {k for k, (_, hidden) in previous.items() if hidden} & keys
    if not any(1 <= v < threshold for v in sums) and not keys & (set(start) | kept):
        pattern = {c.key: (v, False) for c, v in zip(cells, sums, strict=True)}
        return LinkedProtection(frozenset(), frozenset(), pd.DataFrame(), threshold, pattern)
    return protect_tables(
        values,
        [LinkedCell(c.key, tuple(local[a] for a in c.atoms), c.bounds, c.cost) for c in cells],
        threshold=threshold,
        relations=[
            AtomRelation(tuple((local[a], w) for a, w in r.terms), r.low, r.high) for r in relations
        ],
        start=[k for k in start if k in keys],
        previous=previous,
    )


def _components(systems: Sequence[System]) -> list[list[System]]:
    """Victim records and linked persons together (a relation joins them); the others alone."""
    names = {s.name for s in systems}
    joined = {"records", "persons"} if {"records", "persons"} <= names else set()
    groups = [[s for s in systems if s.name in joined]] if joined else []
    return groups + [[s] for s in systems if s.name not in joined]


def _merged(parts: Sequence[LinkedProtection], threshold: int) -> LinkedProtection:
    frames = [p.intervals for p in parts if len(p.intervals)]
    return LinkedProtection(
        frozenset().union(*(p.hidden for p in parts)),
        frozenset().union(*(p.primary for p in parts)),
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        threshold,
        {k: v for p in parts for k, v in p.pattern.items()},
        sum(p.held for p in parts),
    )


def _published(
    lay: _Layout, atoms: _Atoms, protection: LinkedProtection, threshold: int
) -> PublishedTable:
    rows = [*lay.regions, TOTAL] if lay.spec.margins else lay.regions
    cols = [*lay.columns, TOTAL] if lay.spec.margins else lay.columns
    index = pd.MultiIndex.from_product([lay.periods, rows], names=["period", "region"])
    values = pd.DataFrame(0, index=index, columns=cols, dtype=np.int64)
    flags = pd.DataFrame("", index=index, columns=cols, dtype=object)
    for p in lay.periods:
        for r in rows:
            for c in cols:
                idx = lay.cells.get((p, r, c), ())
                values.loc[(p, r), c] = int(atoms.counts[list(idx)].sum())
                key = (lay.spec.name, p, r, c)
                if key in protection.hidden:
                    flags.loc[(p, r), c] = "primary" if key in protection.primary else "secondary"
    values.columns.name = flags.columns.name = None
    shown = values.astype("Int64").mask(flags != "")
    return PublishedTable(shown, flags, threshold, lay.spec.margins)
