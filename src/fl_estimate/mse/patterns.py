"""Capture-pattern tables without pandas: the checks of a table, its merge and its descriptives.

A capture table is a set of 0/1 list columns and a count per row (or one row per person). This
module checks such a table cell by cell (naming row, column and value of every problem), merges
duplicate patterns and computes the descriptives ``describe`` prints, on numpy arrays only.
:class:`~fl_estimate.mse.data.CaptureData` is built on exactly these checks; ``fl-estimate
describe`` uses them without importing pandas, so that its first line comes quickly (importing
pandas alone takes longer than the whole command otherwise).

Examples
--------
>>> table = read_capture_arrays("data_samples/uk_2013.csv")
>>> table.lists
('LA', 'NG', 'PF', 'GO', 'GP', 'NCA')
>>> d = describe_arrays(table.lists, table.patterns, table.counts)
>>> d["overview"][0]["observed"], d["overview"][0]["patterns_observed"]
(2744, 25)
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from fl_estimate.exceptions import DataWarning, InputValidationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.tabular import read_rows

__all__ = [
    "COUNT",
    "MAX_COUNT",
    "MAX_LISTS_FULL_TABLE",
    "CaptureArrays",
    "check_cells",
    "check_column_names",
    "check_columns",
    "check_full_table",
    "check_n_lists",
    "conventional_order",
    "describe_arrays",
    "lists_without_captures",
    "merge_patterns",
    "read_capture_arrays",
    "spreadsheet_row",
]

COUNT = "count"

#: Largest count accepted in one cell of a capture table, and for the sum of a table's counts:
#: 2**53, the largest integer that every float64 computation of the estimators holds exactly (and
#: far above any population). A larger count is refused with its row rather than overflowing
#: int64 silently.
MAX_COUNT = 2**53

#: Most lists a full-table method (log-linear models, the Bayesian and latent-class methods: every
#: one builds the 2**K table of capture patterns) accepts. 20 lists make a table of 1,048,576
#: cells (about 1 GB for the independence fit); each list doubles it.
MAX_LISTS_FULL_TABLE = 20


def spreadsheet_row(pos: int) -> int:
    """Row number as a spreadsheet shows it: header is row 1, first data row is row 2."""
    return int(pos) + 2


def _is_bool(value: Any) -> bool:
    """A Python or numpy boolean (numpy scalars carry a dtype; kind ``b`` is boolean)."""
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"


def _is_binary(value: Any) -> bool:
    if _is_bool(value):
        return True
    try:
        f = float(value)
    except (TypeError, ValueError):
        return False
    return f in (0.0, 1.0)


def _as_int_count(value: Any) -> int | None:
    """The count as an exact Python int, or None when it is not a whole number in [0, MAX_COUNT].

    Text is parsed exactly ("5000000000000000000" is that integer, not a rounded float); "12.0"
    and "1e3" are accepted as whole numbers.
    """
    if _is_bool(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            n = int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                return None
            if not math.isfinite(f) or f != int(f):
                return None
            n = int(f)
    else:
        try:
            f = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f) or f != int(f):
            return None
        n = int(value) if isinstance(value, numbers.Integral) else int(f)
    return n if 0 <= n <= MAX_COUNT else None


def _too_large(value: Any) -> bool:
    try:
        return abs(float(value)) > MAX_COUNT
    except (TypeError, ValueError, OverflowError):
        return False


def check_full_table(n_lists: int, source: str | None = None) -> None:
    """Refuse, before allocating, a table of 2**K cells larger than :data:`MAX_LISTS_FULL_TABLE`.

    Raises
    ------
    ModelSpecificationError
        With the number of lists and the memory the table would need.
    """
    from fl_estimate.exceptions import ModelSpecificationError

    if n_lists > MAX_LISTS_FULL_TABLE:
        gib = (2**n_lists) * 8 * (n_lists + 1) / 2**30
        text = N_(
            "{n} lists: the full table of capture patterns has 2^{n} cells (about {gib:,.0f} GiB "
            "for the simplest model); methods that fit it accept at most {most} lists. Merge or "
            "drop lists (e.g. small ones), or use --method chao or lincoln-petersen",
            n=n_lists,
            gib=gib,
            most=MAX_LISTS_FULL_TABLE,
        )
        raise ModelSpecificationError(
            N_("{source}: {step}", source=source, step=text) if source else text
        )


def check_column_names(columns: Sequence[str], source: str) -> list[Problem]:
    """A problem for every column name that appears more than once."""
    seen: dict[str, int] = {}
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
    return [
        Problem(
            N_("duplicate column name (appears {n} times); every list needs its own name", n=n),
            source=source,
            row=1,
            column=c,
        )
        for c, n in seen.items()
        if n > 1
    ]


def check_n_lists(lists: Sequence[str], source: str) -> list[Problem]:
    """A problem when fewer than 2 lists are given."""
    if len(lists) < 2:
        message = (
            N_("at least 2 lists are needed for capture-recapture, found {n} ({names})",
               n=len(lists), names=", ".join(lists))
            if lists
            else N_("at least 2 lists are needed for capture-recapture, found {n}", n=0)
        )  # fmt: skip
        return [Problem(message, source=source)]
    return []


def check_columns(
    columns: Sequence[str],
    *,
    lists: Sequence[str] | None,
    count_col: str,
    strata: Sequence[str],
    source: str,
) -> tuple[list[str], list[Problem]]:
    """The list columns of an aggregated table, or raise naming every missing column.

    Parameters
    ----------
    columns : sequence of str
        The table's header.
    lists : sequence of str, optional
        List columns asked for; default every column except ``count_col`` and ``strata``.
    count_col : str
        Name of the count column.
    strata : sequence of str
        Stratum columns asked for.
    source : str
        File name for messages.

    Returns
    -------
    lists : list of str
    problems : list of Problem
        Fewer than 2 lists, if so: reported with the cells' problems (:func:`check_cells`).

    Raises
    ------
    InputValidationError
        Duplicate column names, no count column, a stratum or list column not found.
    """
    problems = check_column_names(columns, source)
    if count_col not in columns:
        problems.append(
            Problem(
                N_(
                    "no {count!r} column; expected 0/1 list columns and a {count!r} column "
                    "(use from_records for one row per person)",
                    count=count_col,
                ),
                source=source,
            )
        )
        raise InputValidationError(problems)
    for s in strata:
        if s not in columns:
            problems.append(Problem(N_("stratum column not found"), source=source, column=s))
    if lists is None:
        lists = [c for c in columns if c != count_col and c not in strata]
    else:
        lists = [str(x) for x in lists]
        for name in lists:
            if name not in columns:
                problems.append(Problem(N_("list column not found"), source=source, column=name))
    if problems:
        raise InputValidationError(problems)
    return list(lists), check_n_lists(lists, source)


def check_cells(
    lists: Sequence[str],
    list_values: Mapping[str, Sequence[Any]],
    count_values: Sequence[Any],
    *,
    source: str,
    count_col: str = COUNT,
    problems: Sequence[Problem] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Patterns and counts of an aggregated table, or raise naming every bad cell.

    Parameters
    ----------
    lists : sequence of str
        List columns, in order.
    list_values : mapping of str to sequence
        The cells of each list column, one per row (text, numbers or booleans).
    count_values : sequence
        The count of each row.
    source, count_col
        For messages.
    problems : sequence of Problem
        Found earlier (:func:`check_columns`), raised with these.

    Returns
    -------
    patterns : ndarray of uint8, shape (rows, lists)
    counts : ndarray of int64, shape (rows,)

    Raises
    ------
    InputValidationError
        Every list cell that is not 0 or 1, every count that is not a whole number in
        [0, 2^53], a total above 2^53, every row with the all-zero pattern; sorted by row.
    """
    n_rows = len(count_values)
    problems = list(problems)
    bad = [False] * n_rows
    pats = np.zeros((n_rows, len(lists)), dtype=np.uint8)
    for j, name in enumerate(lists):
        for i, v in enumerate(list_values[name]):
            if _is_binary(v):
                pats[i, j] = int(float(v))
            else:
                bad[i] = True
                problems.append(
                    Problem(
                        N_("list cell must be 0 or 1"),
                        source=source,
                        row=spreadsheet_row(i),
                        column=name,
                        value=v,
                    )
                )
    counts = np.zeros(n_rows, dtype=np.int64)
    total = 0
    for i, v in enumerate(count_values):
        c = _as_int_count(v)
        if c is None:
            bad[i] = True
            problems.append(
                Problem(
                    N_(
                        "count must be a non-negative whole number of at most 2^53 = {max:,}",
                        max=MAX_COUNT,
                    )
                    if _too_large(v)
                    else N_("count must be a non-negative whole number"),
                    source=source,
                    row=spreadsheet_row(i),
                    column=count_col,
                    value=v,
                )
            )
        else:
            counts[i] = c
            total += c
    if total > MAX_COUNT:
        problems.append(
            Problem(
                N_(
                    "the counts add up to {total:,}, above the bound {max:,}",
                    total=total,
                    max=MAX_COUNT,
                ),
                source=source,
                column=count_col,
            )
        )
    zero = pats.sum(axis=1) == 0
    for i in range(n_rows):
        if zero[i] and not bad[i]:
            problems.append(
                Problem(
                    N_("the all-zero pattern (on no list) cannot be observed; remove this row"),
                    source=source,
                    row=spreadsheet_row(i),
                    value=int(counts[i]),
                )
            )
    if problems:
        order: dict[str | None, int] = {name: j for j, name in enumerate(lists)}
        problems.sort(key=lambda p: (p.row or 0, order.get(p.column, len(lists))))
        raise InputValidationError(problems)
    return pats, counts


def merge_patterns(
    lists: Sequence[str],
    patterns: np.ndarray,
    counts: np.ndarray,
    *,
    source: str,
    warn_duplicates: bool = True,
    check_lists: bool = True,
    stacklevel: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct pattern, in cell order (list 0 = least significant bit).

    Duplicate patterns are added together (with a :class:`~fl_estimate.exceptions.DataWarning`
    if ``warn_duplicates``); with ``check_lists``, a list on which nobody was captured is an
    :class:`~fl_estimate.exceptions.InputValidationError` naming it.
    """
    k = len(lists)
    weights = (1 << np.arange(k, dtype=np.int64)).astype(np.int64)
    cells = patterns.astype(np.int64) @ weights if len(patterns) else np.zeros(0, np.int64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    if warn_duplicates and len(uniq) < len(cells):
        n = len(cells) - len(uniq)
        warnings.warn(
            N_(
                "{n} duplicate capture pattern row(s) in {source} were merged by adding their "
                "counts",
                n=n,
                source=source,
            )
            if source
            else N_("{n} duplicate capture pattern row(s) were merged by adding their counts", n=n),
            DataWarning,
            stacklevel=stacklevel,
        )
    merged = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(merged, inverse, counts.astype(np.int64))
    pats = ((uniq[:, None] >> np.arange(k)) & 1).astype(np.uint8)
    if check_lists:
        problems = lists_without_captures(lists, pats, merged, source=source)
        if problems:
            raise InputValidationError(problems)
    return pats, merged


def lists_without_captures(
    lists: Sequence[str],
    patterns: np.ndarray,
    counts: np.ndarray,
    *,
    source: str,
    stratified: bool = False,
) -> list[Problem]:
    """A problem for every list on which nobody was captured (in any stratum, if
    ``stratified``)."""
    totals = (patterns.astype(np.int64) * counts[:, None]).sum(axis=0)
    text = (
        N_("list has no captures in any stratum; drop it or check the data")
        if stratified
        else N_("list has no captures (every count on it is 0); drop it or check the data")
    )
    return [
        Problem(text, source=source, column=name)
        for name, tot in zip(lists, totals, strict=True)
        if tot == 0
    ]


def describe_arrays(
    lists: Sequence[str],
    patterns: np.ndarray,
    counts: np.ndarray,
    stratum: Mapping[str, Any] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The descriptives of one table as rows of plain Python values.

    Returns
    -------
    dict of list of dict
        ``overview`` (one row: lists, observed, patterns observed / possible, singletons,
        pairs never overlapping, pairs, and ``stratum_<name>`` for each stratum value),
        ``lists`` (per list: ``list``, ``n``, ``only_this_list``, ``share_only``),
        ``overlaps`` (every pair: ``list_a``, ``list_b``, ``overlap``, ``n_a``, ``n_b``,
        ``never_overlap``), ``frequencies`` (``k``, ``f``: people seen on exactly k lists),
        ``patterns`` (the table: one 0/1 column per list and ``count``, in
        :func:`conventional_order`). Values are JSON-ready: ``share_only`` is ``None`` for a
        list with nobody on it.
    """
    k = len(lists)
    pats = patterns.astype(np.int64)
    counts = counts.astype(np.int64)
    totals = (pats * counts[:, None]).sum(axis=0)
    seen_on = pats.sum(axis=1)
    one = seen_on == 1
    only = (pats[one] * counts[one][:, None]).sum(axis=0)
    freq = np.bincount(seen_on, weights=counts, minlength=k + 1)[1:].astype(np.int64)
    overlaps = []
    for a, b in combinations(range(k), 2):
        both = int(counts[(pats[:, a] & pats[:, b]).astype(bool)].sum())
        overlaps.append(
            {
                "list_a": lists[a],
                "list_b": lists[b],
                "overlap": both,
                "n_a": int(totals[a]),
                "n_b": int(totals[b]),
                "never_overlap": both == 0,
            }
        )
    overview = {
        "lists": k,
        "observed": int(counts.sum()),
        "patterns_observed": int((counts > 0).sum()),
        "patterns_possible": (1 << k) - 1,
        "singletons": int(only.sum()),
        "pairs_never_overlapping": sum(bool(o["never_overlap"]) for o in overlaps),
        "pairs": len(overlaps),
        **{f"stratum_{name}": v for name, v in (stratum or {}).items()},
    }
    return {
        "overview": [overview],
        "lists": [
            {
                "list": name,
                "n": int(totals[j]),
                "only_this_list": int(only[j]),
                "share_only": float(only[j] / totals[j]) if totals[j] else None,
            }
            for j, name in enumerate(lists)
        ],
        "overlaps": overlaps,
        "frequencies": [{"k": j + 1, "f": int(f)} for j, f in enumerate(freq)],
        "patterns": [
            {**dict(zip(lists, pats[i].tolist(), strict=True)), COUNT: int(counts[i])}
            for i in conventional_order(pats)
        ],
    }


def conventional_order(patterns: np.ndarray) -> np.ndarray:
    """Row order of a pattern table as printed: by number of lists, then lexicographic with
    list 0 first (``100, 010, 001, 110, ...``)."""
    pats = patterns.astype(np.int64)
    k = pats.shape[1]
    return np.lexsort([*(-pats[:, j] for j in reversed(range(k))), pats.sum(1)])


@dataclass(frozen=True)
class CaptureArrays:
    """A capture table as read from a file: checked, not yet merged or split by stratum.

    Attributes
    ----------
    lists : tuple of str
    patterns : ndarray of uint8, shape (rows, lists)
    counts : ndarray of int64, shape (rows,)
    strata : dict of str to list
        The stratum columns' cells (text), one per row; empty without strata.
    source : str
        File name for messages.
    records : bool
        Whether the file had one row per person (no count column).
    """

    lists: tuple[str, ...]
    patterns: np.ndarray
    counts: np.ndarray
    strata: dict[str, list[Any]] = field(default_factory=dict)
    source: str = ""
    records: bool = False


def read_capture_arrays(
    path: str | Path,
    *,
    lists: Sequence[str] | None = None,
    strata: Sequence[str] | None = None,
    count_col: str = COUNT,
    records: bool | None = None,
) -> CaptureArrays:
    """Read and check a capture-table CSV, aggregated or one row per person, without pandas.

    Parameters are those of :func:`fl_estimate.mse.data.read_capture_csv`, which builds its
    :class:`~fl_estimate.mse.data.CaptureData` from this.

    Raises
    ------
    InputValidationError
        Naming file, row (header = row 1), column, value and what was expected; also for a file
        that cannot be read as a table (see :func:`fl_estimate.tabular.read_rows`).
    """
    path = Path(path)
    source = path.name
    header, rows, _info = read_rows(path, excel=False)
    dup = check_column_names(header, source)
    if dup:
        raise InputValidationError(dup)
    strata = list(strata or [])
    if records is None:
        records = count_col not in header
    columns = {name: [str(r[j]).strip() for r in rows] for j, name in enumerate(header)}
    if records:  # one row per person: each row counts 1
        if lists is None:
            lists = [c for c in header if c not in strata]
        if count_col not in columns:
            header = [*header, count_col]
        columns[count_col] = ["1"] * len(rows)
    list_names, problems = check_columns(
        header, lists=lists, count_col=count_col, strata=strata, source=source
    )
    pats, counts = check_cells(
        list_names,
        columns,
        columns[count_col],
        source=source,
        count_col=count_col,
        problems=problems,
    )
    return CaptureArrays(
        lists=tuple(list_names),
        patterns=pats,
        counts=counts,
        strata={s: columns[s] for s in strata},
        source=source,
        records=bool(records),
    )
