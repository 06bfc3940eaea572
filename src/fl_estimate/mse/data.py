"""Capture data: K named lists, the observed capture patterns and their counts.

The one data model every estimator reads. Built from an aggregated table (0/1 list columns plus a
``count`` column, the layout of the public MSE benchmark tables), from record-level data (one row
per linked person), or from either with stratum columns (one table per stratum).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from fl_estimate.exceptions import (
    DataWarning,
    InputValidationError,
    ModelSpecificationError,
    Problem,
)
from fl_estimate.i18n import N_
from fl_estimate.mse.patterns import (
    COUNT,
    MAX_COUNT,
    MAX_LISTS_FULL_TABLE,
    check_cells,
    check_columns,
    check_full_table,
    check_n_lists,
    conventional_order,
    describe_arrays,
    lists_without_captures,
    merge_patterns,
    read_capture_arrays,
    spreadsheet_row,
)

__all__ = [
    "COUNT",
    "MAX_COUNT",
    "MAX_LISTS_FULL_TABLE",
    "CaptureData",
    "StratifiedCaptureData",
    "check_full_table",
    "read_capture_csv",
]


@dataclass(frozen=True, eq=False)
class CaptureData:
    """Capture histories of one population (one stratum) over K named lists.

    Use the constructors :meth:`from_counts`, :meth:`from_records` or :func:`read_capture_csv`
    rather than this initialiser: they validate the input and name every problem they find.

    Parameters
    ----------
    lists : tuple of str
        List (data provider) names, in column order.
    patterns : ndarray of shape (m, K), dtype uint8
        Observed capture patterns, one row per distinct pattern (never the all-zero pattern).
    counts : ndarray of shape (m,), dtype int64
        Number of people with each pattern. Zero is allowed: an observable pattern seen by nobody.
    source : str
        Where the data came from (file name or ``"<DataFrame>"``), used in messages.
    stratum : dict
        Stratum column values when this table is one stratum of a stratified data set.

    Notes
    -----
    Patterns are also addressed by an integer cell index ``c = sum_j x_j 2**j`` (list 0 is the
    least significant bit), so cell 0 is the unobserved all-zero cell and :meth:`cell_counts`
    returns a vector of length ``2**K`` in that order.
    """

    lists: tuple[str, ...]
    patterns: np.ndarray
    counts: np.ndarray
    source: str = "<DataFrame>"
    stratum: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_counts(
        cls,
        table: pd.DataFrame,
        *,
        lists: Sequence[str] | None = None,
        count_col: str = COUNT,
        source: str | None = None,
        strata: Sequence[str] | None = None,
    ) -> CaptureData | StratifiedCaptureData:
        """Build capture data from an aggregated table: 0/1 list columns and a count column.

        Parameters
        ----------
        table : DataFrame
            One row per capture pattern. Observable patterns with count 0 are allowed; the
            all-zero pattern is not (nobody can be observed on no list). Duplicate patterns are
            merged with a :class:`~fl_estimate.exceptions.DataWarning`.
        lists : sequence of str, optional
            List columns; default every column except ``count_col`` and ``strata``.
        count_col : str
            Name of the count column.
        source : str, optional
            File name for messages.
        strata : sequence of str, optional
            Stratum columns (region, year, ...). If given, a :class:`StratifiedCaptureData`
            with one table per stratum is returned.

        Returns
        -------
        CaptureData or StratifiedCaptureData

        Raises
        ------
        InputValidationError
            Listing every problem: non-binary list cells, negative or non-integer counts, the
            all-zero pattern, duplicate list names, lists with no captures, fewer than 2 lists.
        """
        source = source or "<DataFrame>"
        strata = list(strata or [])
        columns = [str(c) for c in table.columns]
        names, problems = check_columns(
            columns, lists=lists, count_col=count_col, strata=strata, source=source
        )
        tbl = table.reset_index(drop=True)
        tbl.columns = columns
        pats, counts = check_cells(
            names,
            {name: tbl[name].tolist() for name in names},
            tbl[count_col].tolist(),
            source=source,
            count_col=count_col,
            problems=problems,
        )
        lists = names
        if strata:
            return StratifiedCaptureData._from_arrays(
                lists=tuple(lists),
                patterns=pats,
                counts=counts,
                strata_frame=tbl[strata],
                source=source,
            )
        return cls._build(tuple(lists), pats, counts, source=source, stratum={})

    @classmethod
    def from_records(
        cls,
        records: pd.DataFrame,
        *,
        lists: Sequence[str] | None = None,
        strata: Sequence[str] | None = None,
        id_col: str | None = None,
        source: str | None = None,
    ) -> CaptureData | StratifiedCaptureData:
        """Build capture data from record-level data: one row per linked person.

        Parameters
        ----------
        records : DataFrame
            One row per person, one 0/1 column per list. Rows on no list are an error (a person
            who was never captured cannot be in the data).
        lists : sequence of str, optional
            List columns; default every column except ``strata`` and ``id_col``.
        strata : sequence of str, optional
            Stratum columns; a :class:`StratifiedCaptureData` is returned if given.
        id_col : str, optional
            A person identifier column to ignore.
        source : str, optional
            File name for messages.
        """
        strata = list(strata or [])
        skip = set(strata) | ({id_col} if id_col else set())
        if lists is None:
            lists = [str(c) for c in records.columns if c not in skip]
        tbl = records.copy()
        tbl[COUNT] = 1
        tbl = tbl[[*lists, *strata, COUNT]]
        # validation on the per-person table gives per-person row numbers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # every person is a "duplicate pattern"
            out = cls.from_counts(tbl, lists=lists, source=source, strata=strata or None)
        return out

    @classmethod
    def _build(
        cls,
        lists: tuple[str, ...],
        patterns: np.ndarray,
        counts: np.ndarray,
        *,
        source: str,
        stratum: Mapping[str, Any],
        warn_duplicates: bool = True,
        check_lists: bool = True,
    ) -> CaptureData:
        """Merge duplicate patterns, sort, and check every list has a capture."""
        pats, merged = merge_patterns(
            lists,
            patterns,
            counts,
            source=source,
            warn_duplicates=warn_duplicates,
            check_lists=check_lists,
            stacklevel=4,
        )
        return cls(lists=lists, patterns=pats, counts=merged, source=source, stratum=dict(stratum))

    # ------------------------------------------------------------------ basic properties
    @property
    def n_lists(self) -> int:
        """Number of lists K."""
        return len(self.lists)

    @property
    def n_observed(self) -> int:
        """Number of distinct people observed on at least one list."""
        return int(self.counts.sum())

    @cached_property
    def cells(self) -> np.ndarray:
        """Integer cell index of each observed pattern (list 0 = least significant bit)."""
        return self.patterns.astype(np.int64) @ (1 << np.arange(self.n_lists, dtype=np.int64))

    def cell_counts(self) -> np.ndarray:
        """Counts of all ``2**K`` cells in cell-index order; cell 0 (unobserved) is 0.

        Raises :class:`~fl_estimate.exceptions.ModelSpecificationError` above
        :data:`MAX_LISTS_FULL_TABLE` lists (before allocating).
        """
        check_full_table(self.n_lists, self.source)
        full = np.zeros(1 << self.n_lists, dtype=np.int64)
        full[self.cells] = self.counts
        return full

    @cached_property
    def data_hash(self) -> str:
        """SHA-256 of the canonical table (list names, patterns, counts, stratum)."""
        h = hashlib.sha256()
        h.update(repr((self.lists, sorted(self.stratum.items()))).encode())
        h.update(self.cell_counts().tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        st = f", stratum={dict(self.stratum)}" if self.stratum else ""
        return (
            f"CaptureData(lists={list(self.lists)}, observed={self.n_observed}, "
            f"patterns={len(self.counts)}{st})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CaptureData):
            return NotImplemented
        return (
            self.lists == other.lists
            and dict(self.stratum) == dict(other.stratum)
            and np.array_equal(self.cell_counts(), other.cell_counts())
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ conversions
    def to_frame(self, *, include_zero: bool = False) -> pd.DataFrame:
        """The aggregated table: one row per pattern, 0/1 list columns and ``count``.

        Parameters
        ----------
        include_zero : bool
            If True, list every one of the ``2**K - 1`` observable patterns, zeros included.
        """
        if include_zero:
            k = self.n_lists
            idx = np.arange(1, 1 << k)
            pats = ((idx[:, None] >> np.arange(k)) & 1).astype(np.int64)
            counts = self.cell_counts()[1:]
        else:
            pats = self.patterns.astype(np.int64)
            counts = self.counts
        df = pd.DataFrame(pats, columns=list(self.lists))
        df[COUNT] = counts.astype(np.int64)
        return df.iloc[conventional_order(pats)].reset_index(drop=True)

    def to_records(self) -> pd.DataFrame:
        """Record-level data: one row per observed person, one 0/1 column per list."""
        reps = np.repeat(np.arange(len(self.counts)), self.counts)
        return pd.DataFrame(self.patterns[reps].astype(np.int64), columns=list(self.lists))

    # ------------------------------------------------------------------ descriptives
    def list_totals(self) -> pd.Series:
        """People on each list (a Series indexed by list name)."""
        tot = (self.patterns.astype(np.int64) * self.counts[:, None]).sum(axis=0)
        return pd.Series(tot, index=list(self.lists), name="n", dtype=np.int64)

    def pairwise_overlaps(self) -> pd.DataFrame:
        """People on both lists of every pair.

        Returns
        -------
        DataFrame
            Columns ``list_a``, ``list_b``, ``overlap`` (people on both), ``n_a``, ``n_b``.
        """
        tot = self.list_totals()
        rows = []
        for a, b in combinations(range(self.n_lists), 2):
            both = self.patterns[:, a].astype(bool) & self.patterns[:, b].astype(bool)
            rows.append(
                (
                    self.lists[a],
                    self.lists[b],
                    int(self.counts[both].sum()),
                    int(tot.iloc[a]),
                    int(tot.iloc[b]),
                )
            )
        return pd.DataFrame(rows, columns=["list_a", "list_b", "overlap", "n_a", "n_b"])

    def non_overlapping_pairs(self) -> list[tuple[str, str]]:
        """Pairs of lists that have nobody in common (their interaction has no finite MLE)."""
        ov = self.pairwise_overlaps()
        sel = ov[ov["overlap"] == 0]
        return list(zip(sel["list_a"], sel["list_b"], strict=True))

    def singletons(self) -> pd.Series:
        """People seen on one list only, per list."""
        one = self.patterns.sum(axis=1) == 1
        vals = (self.patterns[one].astype(np.int64) * self.counts[one][:, None]).sum(axis=0)
        return pd.Series(vals, index=list(self.lists), name="only_this_list", dtype=np.int64)

    def capture_frequencies(self) -> pd.Series:
        """f_k: people seen on exactly k lists, k = 1..K."""
        k = self.patterns.sum(axis=1)
        f = np.bincount(k, weights=self.counts, minlength=self.n_lists + 1)[1:]
        return pd.Series(
            f.astype(np.int64), index=pd.RangeIndex(1, self.n_lists + 1, name="k"), name="f"
        )

    @property
    def n_patterns_observed(self) -> int:
        """Number of patterns with a positive count."""
        return int((self.counts > 0).sum())

    @property
    def n_patterns_possible(self) -> int:
        """``2**K - 1``: the observable patterns."""
        return (1 << self.n_lists) - 1

    def describe(self) -> dict[str, pd.DataFrame]:
        """All descriptives as DataFrames.

        Returns
        -------
        dict of DataFrame
            ``overview`` (one row: lists, observed, patterns observed / possible, singletons,
            pairs never overlapping), ``lists`` (per list: ``n``, ``only_this_list``,
            ``share_only``), ``overlaps`` (every pair: ``overlap``, ``n_a``, ``n_b``,
            ``never_overlap``), ``frequencies`` (f_k), ``patterns`` (the aggregated table).
        """
        desc = describe_arrays(self.lists, self.patterns, self.counts, self.stratum)
        return {name: pd.DataFrame(rows) for name, rows in desc.items()}

    # ------------------------------------------------------------------ operations
    def _index(self, name: str) -> int:
        try:
            return self.lists.index(name)
        except ValueError:
            raise ModelSpecificationError(
                N_("unknown list {name!r}; the lists are {lists}", name=name,
                   lists=", ".join(self.lists))
            ) from None  # fmt: skip

    def drop_list(self, name: str) -> CaptureData:
        """The data without one list; people seen only on that list drop out.

        A list that was empty stays (empty): dropping one of a stratum's two absent providers
        must not fail on the other."""
        j = self._index(name)
        if self.n_lists <= 2:
            raise ModelSpecificationError(N_("cannot drop a list: at least 2 lists must remain"))
        keep = [i for i in range(self.n_lists) if i != j]
        pats = self.patterns[:, keep]
        on_some = pats.sum(axis=1) > 0
        return CaptureData._build(
            tuple(self.lists[i] for i in keep),
            pats[on_some],
            self.counts[on_some],
            source=self.source,
            stratum=self.stratum,
            warn_duplicates=False,
            check_lists=False,
        )

    def merge_lists(self, names: Sequence[str], new_name: str | None = None) -> CaptureData:
        """Merge lists into one (a person is on the merged list if on any of them).

        The merged list takes the position of the first of ``names``.
        """
        idx = [self._index(n) for n in names]
        if len(set(idx)) < 2:
            raise ModelSpecificationError(N_("merge_lists needs at least two different lists"))
        new_name = new_name or "".join(names)
        others = [i for i in range(self.n_lists) if i not in idx]
        if new_name in [self.lists[i] for i in others]:
            raise ModelSpecificationError(
                N_("merged list name {name!r} is already a list", name=new_name)
            )
        if len(others) + 1 < 2:
            raise ModelSpecificationError(N_("merging would leave fewer than 2 lists"))
        first = min(idx)
        order: list[int | None] = []
        for i in range(self.n_lists):
            if i == first:
                order.append(None)
            elif i not in idx:
                order.append(i)
        merged = self.patterns[:, idx].max(axis=1)
        cols = [merged if i is None else self.patterns[:, i] for i in order]
        names_out = tuple(new_name if i is None else self.lists[i] for i in order)
        return CaptureData._build(
            names_out,
            np.column_stack(cols).astype(np.uint8),
            self.counts,
            source=self.source,
            stratum=self.stratum,
            warn_duplicates=False,
        )

    def __add__(self, other: CaptureData) -> CaptureData:
        """Pool two tables over the same lists (people in different strata are different)."""
        if not isinstance(other, CaptureData):
            return NotImplemented
        if other.lists != self.lists:
            raise ModelSpecificationError(
                N_("cannot add tables with different lists: {a} and {b}", a=self.lists,
                   b=other.lists)
            )  # fmt: skip
        return CaptureData._build(
            self.lists,
            np.vstack([self.patterns, other.patterns]),
            np.concatenate([self.counts, other.counts]),
            source=self.source,
            stratum={},
            warn_duplicates=False,
            check_lists=False,
        )


class StratifiedCaptureData(Mapping[tuple[Hashable, ...], CaptureData]):
    """Capture data split by stratum columns: a mapping from stratum key to :class:`CaptureData`.

    Keys are tuples of stratum values in the order of :attr:`strata`. Every stratum has the same
    lists; a list may have no captures in some stratum (that stratum's table says so when checked).
    """

    def __init__(
        self,
        tables: Mapping[tuple[Hashable, ...], CaptureData],
        strata: Sequence[str],
        lists: Sequence[str],
        source: str = "<DataFrame>",
    ) -> None:
        self._tables = dict(tables)
        self.strata = tuple(strata)
        self.lists = tuple(lists)
        self.source = source

    @classmethod
    def _from_arrays(
        cls,
        *,
        lists: tuple[str, ...],
        patterns: np.ndarray,
        counts: np.ndarray,
        strata_frame: pd.DataFrame,
        source: str,
    ) -> StratifiedCaptureData:
        problems: list[Problem] = []
        strata = [str(c) for c in strata_frame.columns]
        for s in strata:
            miss = strata_frame[s].isna().to_numpy()
            for i in np.flatnonzero(miss):
                problems.append(
                    Problem(
                        "stratum value is missing",
                        source=source,
                        row=spreadsheet_row(int(i)),
                        column=s,
                    )
                )
        if problems:
            raise InputValidationError(problems)
        problems += check_n_lists(lists, source)
        if problems:
            raise InputValidationError(problems)
        problems += lists_without_captures(lists, patterns, counts, source=source, stratified=True)
        if problems:
            raise InputValidationError(problems)
        tables: dict[tuple[Hashable, ...], CaptureData] = {}
        groups = strata_frame.groupby(strata, sort=True, dropna=False).indices
        for key, idx in groups.items():
            key_t = key if isinstance(key, tuple) else (key,)
            key_t = tuple(_py(v) for v in key_t)
            tables[key_t] = CaptureData._build(
                lists,
                patterns[idx],
                counts[idx],
                source=source,
                stratum=dict(zip(strata, key_t, strict=True)),
                check_lists=False,
            )
        return cls(tables, strata, lists, source)

    def __getitem__(self, key: tuple[Hashable, ...] | Hashable) -> CaptureData:
        if not isinstance(key, tuple):
            key = (key,)
        return self._tables[key]

    def __iter__(self) -> Iterator[tuple[Hashable, ...]]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return (
            f"StratifiedCaptureData(strata={list(self.strata)}, lists={list(self.lists)}, "
            f"n_strata={len(self)}, observed={self.n_observed})"
        )

    @property
    def n_observed(self) -> int:
        return sum(t.n_observed for t in self._tables.values())

    def collapse(self, keep: Sequence[str] | None = None) -> CaptureData | StratifiedCaptureData:
        """Add strata together.

        Parameters
        ----------
        keep : sequence of str, optional
            Stratum columns to keep (e.g. ``["year"]`` to sum over regions). Default: none, which
            returns one :class:`CaptureData` for the whole population.
        """
        keep = list(keep or [])
        for k in keep:
            if k not in self.strata:
                raise ModelSpecificationError(
                    N_("unknown stratum column {name!r}; the strata are {strata}", name=k,
                       strata=", ".join(self.strata))
                )  # fmt: skip
        groups: dict[tuple[Hashable, ...], list[CaptureData]] = {}
        for key, tab in self._tables.items():
            sub = tuple(v for s, v in zip(self.strata, key, strict=True) if s in keep)
            groups.setdefault(sub, []).append(tab)
        out: dict[tuple[Hashable, ...], CaptureData] = {}
        for sub, tabs in groups.items():
            total = tabs[0]
            for t in tabs[1:]:
                total = total + t
            out[sub] = CaptureData._build(
                self.lists,
                total.patterns,
                total.counts,
                source=self.source,
                stratum=dict(zip(keep, sub, strict=True)),
                warn_duplicates=False,
                check_lists=False,
            )
        if not keep:
            return out[()]
        return StratifiedCaptureData(out, keep, self.lists, self.source)

    def to_frame(self) -> pd.DataFrame:
        """Aggregated table with the stratum columns first."""
        frames = []
        for key, tab in self._tables.items():
            df = tab.to_frame()
            for s, v in zip(self.strata, key, strict=True):
                df.insert(list(self.strata).index(s), s, cast(Any, v))
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def to_records(self) -> pd.DataFrame:
        """Record-level data (one row per person) with the stratum columns."""
        frames = []
        for key, tab in self._tables.items():
            df = tab.to_records()
            for s, v in zip(self.strata, key, strict=True):
                df[s] = cast(Any, v)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)[[*self.lists, *self.strata]]

    def describe(self) -> dict[str, pd.DataFrame]:
        """Descriptives per stratum, stacked, with the stratum columns first."""
        parts: dict[str, list[pd.DataFrame]] = {}
        for key, tab in self._tables.items():
            for name, df in tab.describe().items():
                df = df.copy()
                df = df[[c for c in df.columns if not c.startswith("stratum_")]]
                for i, (s, v) in enumerate(zip(self.strata, key, strict=True)):
                    df.insert(i, s, cast(Any, v))
                parts.setdefault(name, []).append(df)
        return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}


def _py(v: Any) -> Any:
    """numpy scalar -> Python scalar, so stratum keys print and serialise cleanly."""
    return v.item() if isinstance(v, np.generic) else v


def read_capture_csv(
    path: str | Path,
    *,
    lists: Sequence[str] | None = None,
    strata: Sequence[str] | None = None,
    count_col: str = COUNT,
    records: bool | None = None,
) -> CaptureData | StratifiedCaptureData:
    """Read capture data from a CSV file, aggregated or record-level.

    Parameters
    ----------
    path : str or Path
        CSV file. With a ``count`` column it is read as an aggregated table, otherwise as one row
        per person (unless ``records`` says otherwise).
    lists, strata, count_col
        As in :meth:`CaptureData.from_counts`.
    records : bool, optional
        Force record-level (True) or aggregated (False) reading.

    Raises
    ------
    InputValidationError
        Naming file, row (header = row 1), column, value and what was expected; also for a file
        that cannot be read as a table (see :func:`fl_estimate.tabular.read_table`: UTF-8,
        UTF-16 with byte-order mark, Windows-1252 or Latin-1; ``,``, ``;`` or tab separators).
    """
    arrays = read_capture_arrays(
        path, lists=lists, strata=strata, count_col=count_col, records=records
    )
    with warnings.catch_warnings():
        if arrays.records:  # every person is a "duplicate pattern"
            warnings.simplefilter("ignore", DataWarning)
        if arrays.strata:
            return StratifiedCaptureData._from_arrays(
                lists=arrays.lists,
                patterns=arrays.patterns,
                counts=arrays.counts,
                strata_frame=pd.DataFrame(arrays.strata),
                source=arrays.source,
            )
        return CaptureData._build(
            arrays.lists, arrays.patterns, arrays.counts, source=arrays.source, stratum={}
        )


def iter_tables(
    data: CaptureData | StratifiedCaptureData,
) -> Iterable[tuple[tuple[Hashable, ...], CaptureData]]:
    """Yield ``(stratum key, table)`` pairs; an unstratified table has key ``()``."""
    if isinstance(data, CaptureData):
        yield (), data
    else:
        yield from data.items()
