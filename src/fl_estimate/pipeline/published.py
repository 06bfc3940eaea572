"""The annual run's published tables, protected together (linked-tables disclosure control).

:func:`published_tables` takes the run's tables (:func:`fl_estimate.pipeline.tables.build_tables`)
and returns them as published: every count of identified people and every statement that bounds
one goes into one system (:func:`linked_cells`), :func:`fl_estimate.disclosure.protect_tables`
chooses what to hide, and the hidden cells are blanked wherever they appear.

Atoms and published cells
-------------------------
The atoms are the people of each stratum with each capture pattern (stratum x pattern, every
``2**K - 1`` pattern, zeros included: the finest counts the tables are made of). Published:

=========================  =============================================================  =====
cell                       atoms                                                          cost
=========================  =============================================================  =====
observed_by_stratum        a stratum's patterns; margins: a region's or a year's strata   [1]
strata_estimates observed  the stratum's (the same cell as in observed_by_stratum)        v+1
national observed          the group's strata (the same cell as the year's margin)        [1]
sensitivity observed       the group's strata; "without X": patterns on another list      v+1
list_totals                the stratum's patterns that hold the list                      v+1
lists_used (text)          a list used: at least ``min_per_list``; a list not used: 0     inf
status (text)              "lists with fewer than m people: A": A from 1 to m - 1;        20
                           "A overlaps no other list": A's overlaps 0
national estimate          the sum of strata adds the observed of strata without an       1e5
                           estimate: the national estimate minus the strata's published
                           estimates bounds their observed (within the rounding)
list_overlaps (chart)      a pooled pattern (all strata) it can draw (at least            v+1
                           ``threshold`` people, the ``CHART_PATTERNS`` largest); one it
                           cannot: at most ``threshold - 1`` or the smallest drawable     inf
                           (a statement); a list's pooled total; the number of people     [2]
=========================  =============================================================  =====

[1] a stratum ``v + 1``, a region's total ``10 (v + 1)``, a year's total ``100 (v + 1)``, the
grand total ``1000 (v + 1)``: interior cells go before totals, and the national totals last.
[2] a list's pooled total ``10 (v + 1)``; the number of people is the grand total. The chart
leaves out what is hidden (:func:`chart_hidden`, ``plot_overlaps(hidden=)``); a small pooled
pattern is a count like any other (primary). Without the chart in the system, a list total
hidden in one stratum only was its pooled total minus the others' (issue 19).
The lists a stratum used are as good as published by its having an estimate at all (a stratum
is estimated only when every list has 0 or at least ``min_per_list`` people), so they are never
hidden. A status that must be hidden becomes "not estimable (reason withheld: disclosure
control)"; a national estimate, its interval and rates are blanked with a note.

Flags say only "suppressed": a flag telling primary from secondary would itself say which
counts are below the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.disclosure import TOTAL, LinkedCell, LinkedProtection, protect_tables
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.data import StratifiedCaptureData
from fl_estimate.pipeline.config import RunConfig
from fl_estimate.pipeline.strata import StratumOutcome
from fl_estimate.pipeline.tables import group_columns
from fl_estimate.stats.protect import Partner

__all__ = [
    "CHART_PATTERNS",
    "SUPPRESSED",
    "WITHHELD",
    "Atoms",
    "chart_hidden",
    "linked_cells",
    "persons_partner",
    "published_tables",
]

#: The flag of a suppressed cell (one word for primary and secondary alike).
SUPPRESSED = "suppressed"
#: The status of a not-estimable stratum whose reason would narrow a small count.
WITHHELD = N_("not estimable (reason withheld: disclosure control)")
_ESTIMATE_WITHHELD = N_("estimate withheld (disclosure control)")
_NEVER = np.inf  # cost of what is published anyway: never hidden


@dataclass(frozen=True)
class Atoms:
    """The atoms of a run: ``values[k]`` people in stratum ``strata[k // P]`` with pattern
    ``patterns[k % P]`` (P patterns, each a 0/1 row over ``lists``)."""

    strata: tuple[tuple[Hashable, ...], ...]
    lists: tuple[str, ...]
    patterns: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, data: StratifiedCaptureData) -> Atoms:
        keys = tuple(sorted(data.keys(), key=lambda k: tuple(str(v) for v in k)))
        lists = tuple(str(x) for x in data[keys[0]].lists)
        k = len(lists)
        idx = np.arange(1, 1 << k)
        patterns = ((idx[:, None] >> np.arange(k)) & 1).astype(np.int64)
        values = np.concatenate([data[key].cell_counts()[1:] for key in keys]).astype(np.int64)
        return cls(keys, lists, patterns, values)

    def of_strata(
        self, keys: Sequence[tuple[Hashable, ...]], pattern_mask: np.ndarray | None = None
    ) -> tuple[int, ...]:
        """Atom indices of the strata ``keys`` (the patterns ``pattern_mask`` selects)."""
        p = len(self.patterns)
        pats = np.arange(p) if pattern_mask is None else np.flatnonzero(pattern_mask)
        pos = {k: i for i, k in enumerate(self.strata)}
        return tuple(int(pos[k] * p + j) for k in keys if k in pos for j in pats)

    def on_list(self, name: str) -> np.ndarray:
        return self.patterns[:, self.lists.index(name)] == 1

    def total(self, atoms: tuple[int, ...]) -> int:
        return int(self.values[list(atoms)].sum())


def _key(row: pd.Series, cols: Sequence[str]) -> tuple[Hashable, ...]:
    return tuple(row[c] for c in cols)


def _observed_cells(cfg: RunConfig, atoms: Atoms) -> list[LinkedCell]:
    """observed_by_stratum: each stratum, and with two stratum columns the margins."""
    cells = []
    for key in atoms.strata:
        a = atoms.of_strata([key])
        cells.append(LinkedCell(("observed_by_stratum", *key), a, cost=atoms.total(a) + 1))
    if len(cfg.strata) != 2:
        return cells
    geos = sorted({k[0] for k in atoms.strata}, key=str)
    groups = sorted({k[1] for k in atoms.strata}, key=str)
    margins: list[tuple[tuple[Hashable, Hashable], list[tuple[Hashable, ...]], int]] = [
        ((g, TOTAL), [k for k in atoms.strata if k[0] == g], 10) for g in geos
    ]
    margins += [((TOTAL, y), [k for k in atoms.strata if k[1] == y], 100) for y in groups]
    margins.append(((TOTAL, TOTAL), list(atoms.strata), 1000))
    for (r, c), keys, weight in margins:
        a = atoms.of_strata(keys)
        cells.append(
            LinkedCell(("observed_by_stratum", r, c), a, cost=weight * (atoms.total(a) + 1))
        )
    return cells


def _group_strata(cfg: RunConfig, atoms: Atoms, gkey: tuple[Hashable, ...]) -> list[Any]:
    n = len(group_columns(cfg))
    return [k for k in atoms.strata if tuple(k[len(k) - n :]) == tuple(gkey)]


def _variant_mask(atoms: Atoms, variant: str) -> np.ndarray | None:
    """The patterns a sensitivity variant's table keeps (None: all)."""
    if variant.startswith("without ") and variant[8:] in atoms.lists:
        others = [i for i, x in enumerate(atoms.lists) if x != variant[8:]]
        return atoms.patterns[:, others].sum(axis=1) > 0
    return None


def _status_cells(cfg: RunConfig, atoms: Atoms, o: StratumOutcome) -> list[LinkedCell]:
    """What a stratum's lists_used and status say about its counts."""
    key = tuple(o.key)
    cells = []
    if o.estimable:
        for name in atoms.lists:
            a = atoms.of_strata([key], atoms.on_list(name))
            bounds = (float(cfg.min_per_list), np.inf) if name in o.lists_used else (0.0, 0.0)
            cells.append(LinkedCell(("lists_used", *key, name), a, bounds, cost=_NEVER))
        return cells
    reason = o.reason or ""
    for name in atoms.lists:
        a = atoms.of_strata([key], atoms.on_list(name))
        v = atoms.total(a)
        if reason.startswith("lists with fewer than") and 0 < v < cfg.min_per_list:
            cells.append(
                LinkedCell(("status", *key, name), a, (1.0, cfg.min_per_list - 1.0), cost=20)
            )
        if reason.startswith("list(s) ") and v > 0:
            both = atoms.on_list(name) & (atoms.patterns.sum(axis=1) > 1)
            b = atoms.of_strata([key], both)
            if atoms.total(b) == 0:
                cells.append(LinkedCell(("status", *key, name), b, (0.0, 0.0), cost=20))
    return cells


def _known(estimate: float, rate: float, population: float, per: int) -> tuple[float, float]:
    """What a reader knows of an estimate from its published (rounded) value and rate."""
    if not np.isfinite(estimate):
        return 0.0, np.inf
    e = float(np.round(estimate))
    low, high = e - 0.5, e + 0.5
    if np.isfinite(rate) and np.isfinite(population) and population > 0:
        r = float(np.round(rate, 2))
        low = max(low, (r - 0.005) * population / per)
        high = min(high, (r + 0.005) * population / per)
    return low - 1e-6, high + 1e-6


def _num(row: pd.Series, col: str) -> float:
    v = pd.to_numeric(pd.Series([row.get(col)]), errors="coerce").iloc[0]
    return float(v) if pd.notna(v) else np.nan


def _estimate_cells(
    cfg: RunConfig,
    atoms: Atoms,
    outcomes: Sequence[StratumOutcome],
    strata: pd.DataFrame,
    national: pd.DataFrame,
) -> list[LinkedCell]:
    """A sum of strata adds the observed of the strata without an estimate: the published
    national figure minus the published strata's bounds their observed."""
    gcols = group_columns(cfg)
    rate = f"estimate_per_{cfg.per}"
    head = strata[strata["method"] == cfg.headline]
    est_of = {_key(r, cfg.strata): r for _, r in head.iterrows()}
    by_key = {tuple(o.key): o for o in outcomes}
    cells = []
    for i, row in national.iterrows():
        if row["kind"] != "sum of strata":
            continue
        members = _group_strata(cfg, atoms, _key(row, gcols))
        missing = [
            k
            for k in members
            if not by_key[k].has_estimate(cfg.headline)
            and not by_key[k].has_lower_bound(cfg.headline)
        ]
        if not missing:
            continue
        lo, hi = _known(_num(row, "estimate"), _num(row, rate), _num(row, "population"), cfg.per)
        for k in members:
            if k in missing:
                continue
            r = est_of[k]
            e_lo, e_hi = _known(_num(r, "estimate"), _num(r, rate), _num(r, "population"), cfg.per)
            lo, hi = lo - e_hi, hi - e_lo
        a = atoms.of_strata(missing)
        cells.append(LinkedCell(("national_estimates", i, "estimate"), a, (lo, hi), cost=1e5))
    return cells


def linked_cells(
    cfg: RunConfig,
    data: StratifiedCaptureData,
    outcomes: Sequence[StratumOutcome],
    tables: dict[str, pd.DataFrame],
) -> tuple[Atoms, list[LinkedCell]]:
    """Every published count of the run and every statement that bounds one, over the atoms
    (see the module's docstring for the list and the costs)."""
    atoms = Atoms.of(data)
    cells = _observed_cells(cfg, atoms)
    gcols = group_columns(cfg)
    for i, row in tables["strata_estimates"].iterrows():
        a = atoms.of_strata([_key(row, cfg.strata)])
        cells.append(LinkedCell(("strata_estimates", i, "observed"), a))
    for i, row in tables["national_estimates"].iterrows():
        a = atoms.of_strata(_group_strata(cfg, atoms, _key(row, gcols)))
        cells.append(
            LinkedCell(("national_estimates", i, "observed"), a, cost=100 * (atoms.total(a) + 1))
        )
    for i, row in tables["sensitivity"].iterrows():
        keys = _group_strata(cfg, atoms, _key(row, gcols))
        a = atoms.of_strata(keys, _variant_mask(atoms, str(row["variant"])))
        cells.append(LinkedCell(("sensitivity", i, "observed"), a))
    for _, row in tables["list_totals"].iterrows():
        key = _key(row, cfg.strata)
        for name in atoms.lists:
            if name in row.index:
                a = atoms.of_strata([key], atoms.on_list(name))
                cells.append(LinkedCell(("list_totals", *key, name), a))
    for o in outcomes:
        cells += _status_cells(cfg, atoms, o)
    cells += _estimate_cells(
        cfg, atoms, outcomes, tables["strata_estimates"], tables["national_estimates"]
    )
    cells += _overlap_cells(cfg, atoms)
    return atoms, cells


#: Patterns the report's list-overlaps chart draws at most (``plot_overlaps(max_patterns=)``).
CHART_PATTERNS = 30


def _overlap_cells(cfg: RunConfig, atoms: Atoms) -> list[LinkedCell]:
    """What the list-overlaps chart prints: the pooled patterns of all strata it can draw (at
    least ``threshold`` people, the ``CHART_PATTERNS`` largest), each list's pooled total, the
    number of people; a pattern it cannot draw is at most the threshold - 1 or the smallest
    pattern drawn (a statement); a small pooled pattern is a count like any other (primary)."""
    p = len(atoms.patterns)
    of_pattern = [atoms.of_strata(atoms.strata, np.arange(p) == j) for j in range(p)]
    pooled = np.array([atoms.total(a) for a in of_pattern])
    drawable = np.sort(pooled[pooled >= cfg.threshold])[::-1]
    full = len(drawable) > CHART_PATTERNS
    smallest = int(drawable[CHART_PATTERNS - 1]) if full else cfg.threshold
    cap = float(max(cfg.threshold - 1, smallest if full else 0))
    cells = []
    for j, a in enumerate(of_pattern):
        key = ("list_overlaps", "pattern", _pattern_names(atoms, j))
        v = int(pooled[j])
        if 0 < v < cfg.threshold or (v >= cfg.threshold and v >= smallest):
            cells.append(LinkedCell(key, a, cost=v + 1))
        else:
            cells.append(LinkedCell(key, a, (0.0, cap), cost=_NEVER))
    for name in atoms.lists:
        a = atoms.of_strata(atoms.strata, atoms.on_list(name))
        cells.append(LinkedCell(("list_overlaps", "list", name), a, cost=10 * (atoms.total(a) + 1)))
    a = atoms.of_strata(atoms.strata)
    cells.append(LinkedCell(("list_overlaps", TOTAL), a, cost=1000 * (atoms.total(a) + 1)))
    return cells


def _pattern_names(atoms: Atoms, j: int) -> tuple[str, ...]:
    return tuple(x for x, on in zip(atoms.lists, atoms.patterns[j], strict=True) if on)


def chart_hidden(hidden: frozenset[Hashable]) -> frozenset[Hashable]:
    """What the list-overlaps chart must leave out (``plot_overlaps(hidden=)``): the patterns
    (tuples of list names), the lists whose totals (names) and ``TOTAL`` (the number of people)
    that disclosure control hides."""
    out: set[Hashable] = set()
    for key in hidden:
        if isinstance(key, tuple) and key[:1] == ("list_overlaps",):
            out.add(key[2] if len(key) == 3 else TOTAL)
    return frozenset(out)


def _mask_column(df: pd.DataFrame, table: str, hidden: frozenset[Hashable]) -> pd.DataFrame:
    """``observed`` blanked where its cell is hidden, and an ``observed_suppressed`` flag."""
    out = df.copy()
    hide = np.array([(table, i, "observed") in hidden for i in out.index], dtype=bool)
    out["observed"] = pd.to_numeric(out["observed"], errors="coerce").astype("Int64").mask(hide)
    out["observed_suppressed"] = np.where(hide, SUPPRESSED, "")
    return out


def _observed_frames(
    cfg: RunConfig, atoms: Atoms, hidden: frozenset[Hashable]
) -> dict[str, pd.DataFrame]:
    """observed_by_stratum (with margins for two stratum columns) and its flags."""
    if len(cfg.strata) == 2:
        rows = [*sorted({k[0] for k in atoms.strata}, key=str), TOTAL]
        cols = [*sorted({k[1] for k in atoms.strata}, key=str), TOTAL]
        cell: dict[tuple[Hashable, ...], tuple[int, ...]] = {
            **{("observed_by_stratum", r, c): () for r in rows for c in cols},
            **{("observed_by_stratum", *k): atoms.of_strata([k]) for k in atoms.strata},
        }
        for r in rows:
            for c in cols:
                if r == TOTAL or c == TOTAL:
                    keys = [k for k in atoms.strata if r in (TOTAL, k[0]) and c in (TOTAL, k[1])]
                    cell[("observed_by_stratum", r, c)] = atoms.of_strata(keys)
        values = pd.DataFrame(
            [[atoms.total(cell[("observed_by_stratum", r, c)]) for c in cols] for r in rows],
            index=pd.Index(rows, name=cfg.strata[0]),
            columns=[str(c) for c in cols],
        ).astype("Int64")
        flags = pd.DataFrame(
            [
                [SUPPRESSED if ("observed_by_stratum", r, c) in hidden else "" for c in cols]
                for r in rows
            ],
            index=values.index,
            columns=values.columns,
        )
    else:
        index = pd.MultiIndex.from_tuples(list(atoms.strata), names=list(cfg.strata))
        values = pd.DataFrame(
            {"observed": [atoms.total(atoms.of_strata([k])) for k in atoms.strata]}, index=index
        ).astype("Int64")
        flags = pd.DataFrame(
            {
                "observed": [
                    SUPPRESSED if ("observed_by_stratum", *k) in hidden else ""
                    for k in atoms.strata
                ]
            },
            index=index,
        )
    values = values.mask(flags != "")
    return {
        "observed_by_stratum": values.reset_index(),
        "observed_by_stratum_flags": flags.reset_index(),
    }


def _apply(
    cfg: RunConfig,
    atoms: Atoms,
    tables: dict[str, pd.DataFrame],
    hidden: frozenset[Hashable],
) -> dict[str, pd.DataFrame]:
    strata = _mask_column(tables["strata_estimates"], "strata_estimates", hidden)
    for i, row in strata.iterrows():
        key = _key(row, cfg.strata)
        if any(("status", *key, name) in hidden for name in atoms.lists):
            strata.loc[i, "status"] = WITHHELD
    national = _mask_column(tables["national_estimates"], "national_estimates", hidden)
    blank = [c for c in national.columns if c.startswith(("estimate", "ci_low", "ci_high"))]
    for i in national.index:
        if ("national_estimates", i, "estimate") in hidden:
            national.loc[i, blank] = np.nan
            note = national.loc[i, "note"] or ""
            national.loc[i, "note"] = (
                join_semicolons([note, _ESTIMATE_WITHHELD]) if note else _ESTIMATE_WITHHELD
            )
    lists = tables["list_totals"].copy()
    for name in atoms.lists:
        if name in lists.columns:
            hide = [
                ("list_totals", *_key(r, cfg.strata), name) in hidden for _, r in lists.iterrows()
            ]
            lists[name] = lists[name].astype("Int64").mask(np.array(hide, dtype=bool))
    sens = tables["sensitivity"]
    return {
        "strata_estimates": strata,
        "national_estimates": national,
        "sensitivity": _mask_column(sens, "sensitivity", hidden) if len(sens) else sens.copy(),
        "top_models": tables["top_models"].copy(),
        **_observed_frames(cfg, atoms, hidden),
        "list_totals": lists,
        "warnings": tables["warnings"].copy(),
    }


def published_tables(
    cfg: RunConfig,
    data: StratifiedCaptureData,
    outcomes: Sequence[StratumOutcome],
    tables: dict[str, pd.DataFrame],
    protect: Callable[[Partner], LinkedProtection] | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> tuple[dict[str, pd.DataFrame], LinkedProtection]:
    """The run's tables as published, protected together, and the protection (its audit).

    Parameters
    ----------
    cfg : RunConfig
    data : StratifiedCaptureData
        The run's capture data by stratum.
    outcomes : sequence of StratumOutcome
        The strata's outcomes (not the pooled national fits).
    tables : dict of DataFrame
        :func:`fl_estimate.pipeline.tables.build_tables`'s tables (not modified).
    protect : callable, optional
        Protects the run's cells with another publication's: given the run as a
        :class:`fl_estimate.stats.protect.Partner` (:func:`persons_partner`), returns the joint
        protection (the periodic statistics' linked persons count the run's people again).
    previous : mapping, optional
        The previous publication's suppression pattern (:attr:`LinkedProtection.pattern`),
        held for every cell published again with the same value
        (:func:`fl_estimate.disclosure.protect_tables`); ``protect`` holds its own.

    Returns
    -------
    tables : dict of DataFrame
        The same tables with every hidden count ``<NA>`` (``observed_suppressed`` flags in the
        tables of estimates), ``observed_by_stratum`` with its margins and
        ``observed_by_stratum_flags``; statuses and national estimates withheld where needed.
    protection : LinkedProtection
        What was hidden, and the audit: every hidden count's interval given all published
        cells (:func:`fl_estimate.disclosure.audit`); its ``pattern`` is the whole
        publication's (with ``protect``, the partner's cells too), for the next one to hold.
    """
    atoms, cells = linked_cells(cfg, data, outcomes, tables)
    if protect is None:
        protection = protect_tables(atoms.values, cells, threshold=cfg.threshold, previous=previous)
    else:
        protection = _own(protect(persons_partner(cfg, atoms, cells)), cells)
    return _apply(cfg, atoms, tables, protection.hidden), protection


def persons_partner(cfg: RunConfig, atoms: Atoms, cells: Sequence[LinkedCell]) -> Partner:
    """The run's cells as the statistics' partner (:class:`fl_estimate.stats.protect.Partner`):
    with strata by region and year, each stratum's people are the linked persons first
    identified in that region and year."""
    totals: dict[tuple[str, str], tuple[int, ...]] = {}
    if set(cfg.strata) == {"region", "year"}:
        r, y = cfg.strata.index("region"), cfg.strata.index("year")
        totals = {(str(k[r]), str(k[y])): atoms.of_strata([k]) for k in atoms.strata}
    return Partner(atoms.values, tuple(cells), totals)


def _own(joint: LinkedProtection, cells: Sequence[LinkedCell]) -> LinkedProtection:
    """The part of a joint protection that concerns the run's ``cells`` (its ``pattern`` stays
    the joint publication's, for the next publication to hold)."""
    keys = {c.key for c in cells}
    audit = joint.intervals
    if len(audit):
        audit = audit[[k in keys for k in audit["key"]]].reset_index(drop=True)
    return LinkedProtection(
        joint.hidden & keys, joint.primary & keys, audit, joint.threshold, joint.pattern,
        joint.held,
    )  # fmt: skip
