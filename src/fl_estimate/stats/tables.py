"""Periodic administrative statistics (IC-TIP units), from plain record frames, after disclosure
control.

Every table here is a count of records or of persons by region (rows) and a category (columns),
one block per period (quarter ``2023-Q1``, half-year ``2023-H1``, year ``2023``), each block
passed through :func:`fl_estimate.disclosure.suppress` with its margins: no published cell lies
between 1 and ``threshold - 1`` and no hidden cell can be worked out from its block's totals.

Records and persons are distinguished: a victim reported by three providers is three records and,
once linked (column ``person``), one person, counted in the period and region of their first
identification with the first known value of each characteristic (:func:`victim_persons`).

Examples
--------
>>> import pandas as pd
>>> v = pd.DataFrame({"region": ["North"] * 6 + ["South"] * 2,
...                   "date_identified": ["2023-01-10"] * 4 + ["2023-05-02"] * 2 + ["2023-02-01"] * 2,
...                   "sex": ["F", "F", "F", "M", "M", "F", "F", "M"]})
>>> t = count_blocks(v, "date_identified", "sex", ("F", "M"), level="half-year", threshold=2)
>>> t.values.index.tolist()
[('2023-H1', 'North'), ('2023-H1', 'South'), ('2023-H1', 'Total')]
>>> t.values["Total"].tolist(), t.values.loc[("2023-H1", "Total"), ["F", "M"]].tolist()
([6, 2, 8], [5, 3])
>>> t.publication()["F"].tolist()  # South: 1 and 1 are below 2; North hides the pair too
['c', 'c', '5']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fl_estimate.disclosure import TOTAL, suppress
from fl_estimate.stats.categories import AGE_GROUPS, LEVELS, MULTIPLE, SEXES

__all__ = [
    "PublishedTable",
    "age_group",
    "count_blocks",
    "exploitation_group",
    "period_label",
    "victim_persons",
]


def period_label(dates: pd.Series, level: str) -> pd.Series:
    """``2023-Q1`` (quarter), ``2023-H1`` (half-year) or ``2023`` (year) of ISO dates."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    d = pd.to_datetime(dates)
    year = d.dt.year.astype(str)
    if level == "year":
        return year
    if level == "quarter":
        return year + "-Q" + d.dt.quarter.astype(str)
    return year + "-H" + np.where(d.dt.month <= 6, "1", "2")


def age_group(frame: pd.DataFrame) -> pd.Series:
    """``child`` (under 18), ``adult`` or ``unknown`` from ``age``, else ``age_band``."""
    age = (
        pd.to_numeric(frame["age"], errors="coerce")
        if "age" in frame
        else pd.Series(np.nan, index=frame.index)
    )
    band = frame["age_band"] if "age_band" in frame else pd.Series(None, index=frame.index)
    band = band.astype(object).where(band.isin(AGE_GROUPS), "unknown")
    return pd.Series(
        np.where(age.notna(), np.where(age < 18, "child", "adult"), band),
        index=frame.index,
        dtype=object,
    )


def exploitation_group(forms: pd.Series) -> pd.Series:
    """One category per record: its single form, :data:`MULTIPLE` for several, ``Unknown``."""

    def one(value: object) -> str:
        if not isinstance(value, str) or not value:
            return "Unknown"
        parts = sorted({p for p in value.split(";") if p and p != "Unknown"})
        return parts[0] if len(parts) == 1 else (MULTIPLE if parts else "Unknown")

    return forms.map(one)


def victim_persons(records: pd.DataFrame) -> pd.DataFrame:
    """One row per linked person (column ``person``): first identification's region and date,
    first known sex, age group and nationality, and the forms of exploitation of all their
    records (one form, :data:`MULTIPLE` or ``Unknown``).

    ``records`` needs ``person, region, date_identified, sex, nationality, exploitation`` (and
    ``age``/``age_band``); rows are ordered by date, then ``source`` and ``record_id`` if given.
    """
    order = [c for c in ("date_identified", "unique_id", "source", "record_id") if c in records]
    rec = records.sort_values(["person", *order], kind="stable").copy()
    rec["age_group"] = age_group(rec)
    known = rec.assign(
        sex=rec["sex"].where(rec["sex"] != "unknown"),
        age_group=rec["age_group"].where(rec["age_group"] != "unknown"),
        nationality=rec["nationality"].where(rec["nationality"].str.upper() != "UNKNOWN"),
    )
    g = known.groupby("person", sort=True)
    out = g[["region", "date_identified"]].first()
    for col, missing in (("sex", "unknown"), ("age_group", "unknown"), ("nationality", "UNKNOWN")):
        out[col] = g[col].first().reindex(out.index).fillna(missing)
    out["exploitation"] = g["exploitation"].agg(lambda s: ";".join(s.dropna().astype(str)))
    return out.reset_index()


@dataclass(frozen=True)
class PublishedTable:
    """A count table by period and region after disclosure control, one block per period.

    Attributes
    ----------
    values : DataFrame
        Index ``(period, region)`` (a ``Total`` row per period), one column per category and
        ``Total``; nullable integers, hidden cells ``<NA>``.
    flags : DataFrame
        Same shape: ``""``, ``"primary"`` or ``"secondary"``.
    threshold : int
    margins : bool
        Whether the blocks carry totals (``False`` for multi-response tables: a case with two
        means counts in both columns).
    """

    values: pd.DataFrame
    flags: pd.DataFrame
    threshold: int
    margins: bool = True

    @property
    def n_suppressed(self) -> int:
        return int((self.flags != "").to_numpy().sum())

    def publication(self, symbol: str = "c") -> pd.DataFrame:
        """Numbers as text, hidden cells shown as ``symbol`` (the form of the published CSV)."""
        shown = self.values.astype(object).where(self.flags == "", symbol)
        return shown.map(lambda v: v if v == symbol else str(int(v)))


def count_blocks(
    units: pd.DataFrame,
    date_column: str,
    column: str,
    categories: Sequence[str],
    *,
    level: str,
    threshold: int,
    regions: Sequence[str] | None = None,
    margins: bool = True,
    split: str | None = None,
    drop_empty: bool = False,
) -> PublishedTable:
    """Count ``units`` by period (of ``date_column``) x region x ``column``, then suppress.

    Parameters
    ----------
    units : DataFrame
        One row per record or person, with ``region``, ``date_column`` and ``column``.
    categories : sequence of str
        Columns of the table, in order (values outside it are counted in ``"other"``, added
        only when present).
    level : {"quarter", "half-year", "year"}
    threshold : int
        Disclosure threshold (cells 1..threshold-1 hidden).
    regions : sequence of str, optional
        Rows (default: the regions present, sorted); a region with no unit is a row of zeros.
    margins : bool
        Publish row, column and block totals (and protect them); ``False`` for multi-response
        tables, where ``column`` holds ``;``-joined values counted once each.
    split : str, optional
        Split ``;``-joined values of ``column`` (multi-response; implies ``margins=False``).
    drop_empty : bool
        Leave out the categories with no unit in any period (narrower tables; the columns then
        depend on the data).

    Returns
    -------
    PublishedTable
    """
    frame = units[["region", date_column, column]].copy()
    frame["period"] = period_label(frame[date_column], level)
    if split is not None or not margins:
        margins = False
        frame[column] = frame[column].astype(str).str.split(";")
        frame = frame.explode(column)
    cats = list(categories)
    if (~frame[column].isin(cats)).any():
        frame.loc[~frame[column].isin(cats), column] = "other"
        cats.append("other")
    if drop_empty:
        cats = [c for c in cats if (frame[column] == c).any()]
    rows = list(regions) if regions is not None else sorted(frame["region"].unique())
    value_blocks: list[pd.DataFrame] = []
    flag_blocks: list[pd.DataFrame] = []
    for period in sorted(frame["period"].unique()):
        part = frame[frame["period"] == period]
        table = (
            pd.crosstab(part["region"], part[column])
            .reindex(index=rows, columns=cats, fill_value=0)
            .astype(np.int64)
        )
        table.index.name, table.columns.name = "region", None
        sup = suppress(table, threshold=threshold, margins=margins, source=f"{column} {period}")
        for block, target in ((sup.values, value_blocks), (sup.flags, flag_blocks)):
            block = block.copy()
            block.index = pd.MultiIndex.from_product(
                [[period], list(block.index)], names=["period", "region"]
            )
            target.append(block)
    if not value_blocks:
        cols = [*cats, TOTAL] if margins else cats
        empty = pd.DataFrame(
            columns=cols, index=pd.MultiIndex.from_tuples([], names=["period", "region"])
        )
        return PublishedTable(empty.astype("Int64"), empty.astype(object), threshold, margins)
    return PublishedTable(pd.concat(value_blocks), pd.concat(flag_blocks), threshold, margins)


#: Columns of the sex x age-group table: ``F|child`` ... (sex, age group).
SEX_AGE = tuple(f"{s}|{a}" for s in SEXES for a in AGE_GROUPS)
