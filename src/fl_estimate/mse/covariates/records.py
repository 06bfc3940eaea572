"""Record-level capture data with categorical person covariates, coded for the covariate models.

One row per linked person: one 0/1 column per list and one column per covariate (sex, age band,
nationality group, form of exploitation, ...). Covariates are categorical: every distinct value
is a level (numbers too: bin a continuous covariate such as age into bands first). The first level
is the reference of the treatment coding (the order of a pandas ``Categorical``, else sorted).

Missing covariate values (NaN / None / empty):

- ``missing="level"`` makes them a level of their own, :data:`MISSING` (last): simple, and
  right when "not recorded" is itself a trait of the person that the model can treat like any
  other level. It is biased when values go missing because of *which* lists caught a person (a
  list that does not record nationality: people seen by it alone lack the value more often), and
  it mixes the levels inside the missing one.
- ``missing="mar"`` treats them as missing at random given the capture pattern (and the other
  covariates): the models spread each incomplete record over the levels it could have, in
  proportion to the fitted model (maximum likelihood over the observed data; Zwane & van der
  Heijden 2007). This stays unbiased when missingness depends on which lists caught a person.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations, product

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.mse.data import CaptureData

__all__ = [
    "MISSING",
    "MISSING_POLICIES",
    "CovariateRecords",
    "Groups",
    "boundary_reason",
    "group_records",
    "parse_terms",
    "prepare_records",
    "restrict",
    "treatment_columns",
    "unestimable_levels",
]

#: Level given to missing covariate values with ``missing="level"``.
MISSING = "(missing)"
MISSING_POLICIES = ("level", "mar")


def parse_terms(covariates: str | Sequence[str]) -> list[tuple[str, ...]]:
    """Covariate terms from a formula (``"sex + age"``, ``"sex * age"``, ``"sex + sex:age"``) or
    a list of terms; a term is a tuple of covariate names (an interaction has several). Terms
    implied by an interaction are added (``a:b`` brings ``a`` and ``b``), in hierarchical order.

    Examples
    --------
    >>> parse_terms("sex * age")
    [('sex',), ('age',), ('sex', 'age')]
    >>> parse_terms(["nationality", "sex:nationality"])
    [('nationality',), ('sex',), ('sex', 'nationality')]
    """
    parts = covariates.split("+") if isinstance(covariates, str) else list(covariates)
    raw: list[tuple[str, ...]] = []
    for part in parts:
        part = str(part).strip()
        if not part:
            continue
        if "*" in part:
            names = [p.strip() for p in part.split("*")]
            for r in range(1, len(names) + 1):
                raw += [tuple(c) for c in combinations(names, r)]
        else:
            raw.append(tuple(p.strip() for p in part.split(":")))
    for term in raw:
        for name in term:
            if not re.fullmatch(r"[^\s:*+()~]+", name):
                raise ModelSpecificationError(
                    N_(
                        "cannot read the covariate term {term!r}: write terms as "
                        "'sex + age + sex:age' (column names without spaces)",
                        term=":".join(term),
                    )
                )
    if not raw:
        raise ModelSpecificationError(N_("no covariate terms given"))
    out: list[tuple[str, ...]] = []
    for term in sorted(raw, key=len):
        closure = [sub for r in range(1, len(term) + 1) for sub in combinations(term, r)]
        for sub in closure:
            if not any(set(sub) == set(t) for t in out):
                out.append(tuple(sub))
    out.sort(key=len)
    return out


@dataclass(frozen=True)
class CovariateRecords:
    """Validated capture records with coded categorical covariates.

    Attributes
    ----------
    data : CaptureData
        The covariate-blind capture table of the same records.
    y : ndarray (n, K) of uint8
        Capture patterns, one row per person.
    covariates : tuple of str
    levels : dict of str to tuple of str
        Levels of each covariate (as strings), the reference first; :data:`MISSING` last where
        ``missing="level"`` and a value is missing.
    codes : ndarray (n, C) of int
        Level index of every person and covariate; -1 where missing (``missing="mar"``).
    missing : str
        The policy used.
    n_missing : dict of str to int
        People with a missing value of each covariate.
    """

    data: CaptureData
    y: np.ndarray
    covariates: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    codes: np.ndarray
    missing: str
    n_missing: dict[str, int]

    @property
    def lists(self) -> tuple[str, ...]:
        return self.data.lists

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def k(self) -> int:
        return int(self.y.shape[1])

    @cached_property
    def cells(self) -> np.ndarray:
        """Capture-pattern cell index of every person (list 0 the least significant bit)."""
        return self.y.astype(np.int64) @ (1 << np.arange(self.k, dtype=np.int64))

    @cached_property
    def data_hash(self) -> str:
        """SHA-256 of the lists, levels and the (pattern, codes) rows in canonical order."""
        h = hashlib.sha256()
        h.update(repr((self.lists, self.covariates, self.levels, self.missing)).encode())
        rows = np.column_stack([self.cells, self.codes]).astype(np.int64)
        rows = rows[np.lexsort(rows.T[::-1])] if len(rows) else rows
        h.update(np.ascontiguousarray(rows).tobytes())
        return h.hexdigest()

    def combos(self) -> np.ndarray:
        """Every combination of levels of the covariates (rows of level indices), missing level
        included where it is a level; cross product in the order of :attr:`levels`."""
        sizes = [len(self.levels[c]) for c in self.covariates]
        return np.array(list(product(*[range(s) for s in sizes])), dtype=np.int64).reshape(
            -1, len(sizes)
        )

    def complete(self) -> np.ndarray:
        """Mask of the people with every covariate value known."""
        return (self.codes >= 0).all(axis=1)


def _levels_of(col: pd.Series) -> list[str]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted({str(v) for v in col.dropna()})


def prepare_records(
    records: pd.DataFrame,
    covariates: Sequence[str],
    *,
    lists: Sequence[str] | None = None,
    missing: str = "level",
    source: str | None = None,
) -> CovariateRecords:
    """Validate and code record-level data for the covariate models.

    Parameters
    ----------
    records : DataFrame
        One row per person: 0/1 list columns and covariate columns.
    covariates : sequence of str
        Covariate columns used.
    lists : sequence of str, optional
        List columns; default every column that is not a covariate.
    missing : {"level", "mar"}
        What to do with missing covariate values (see the module docstring).
    source : str, optional
        File name for messages.

    Raises
    ------
    InputValidationError
        Unknown columns, non-binary list cells, rows on no list, a covariate with a single level
        (all problems at once, with spreadsheet row numbers).
    """
    source = source or "<DataFrame>"
    if not isinstance(records, pd.DataFrame):
        raise TypeError("records must be a pandas DataFrame with one row per person")
    if missing not in MISSING_POLICIES:
        raise ModelSpecificationError(
            N_(
                "unknown missing-value policy {missing!r}; use one of {policies}",
                missing=missing,
                policies=", ".join(MISSING_POLICIES),
            )
        )
    covariates = [str(c) for c in covariates]
    columns = [str(c) for c in records.columns]
    problems = [
        Problem("covariate column not found", source=source, column=c)
        for c in covariates
        if c not in columns
    ]
    if lists is None:
        lists = [c for c in columns if c not in covariates]
    else:
        lists = [str(x) for x in lists]
        problems += [
            Problem("list column not found", source=source, column=c)
            for c in lists
            if c not in columns
        ]
        problems += [
            Problem("a column cannot be both a list and a covariate", source=source, column=c)
            for c in lists
            if c in covariates
        ]
    if problems:
        raise InputValidationError(problems)
    tbl = records.reset_index(drop=True)
    y = _capture_matrix(tbl, lists, source)
    data = _capture_data(y, lists, source)
    levels: dict[str, tuple[str, ...]] = {}
    codes = np.zeros((len(tbl), len(covariates)), dtype=np.int64)
    n_missing: dict[str, int] = {}
    for i, c in enumerate(covariates):
        col = tbl[c]
        blank = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
        lv = [v for v in _levels_of(col[~blank]) if v.strip()]
        n_missing[c] = int(blank.sum())
        if missing == "level" and blank.any():
            lv.append(MISSING)
        if len(lv) < 2:
            problems.append(
                Problem(
                    N_(
                        "covariate has {n} level(s) {levels}; a covariate needs at least 2 "
                        "(drop it from the model)",
                        n=len(lv),
                        levels=lv,
                    ),
                    source=source,
                    column=c,
                )
            )
            continue
        index = {v: j for j, v in enumerate(lv)}
        text = col.astype(str).to_numpy()
        codes[:, i] = [
            (index[MISSING] if missing == "level" else -1) if b else index[t]
            for t, b in zip(text, blank, strict=True)
        ]
        levels[c] = tuple(lv)
    if problems:
        raise InputValidationError(problems)
    return CovariateRecords(
        data=data,
        y=y,
        covariates=tuple(covariates),
        levels=levels,
        codes=codes,
        missing=missing,
        n_missing=n_missing,
    )


def _capture_matrix(tbl: pd.DataFrame, lists: Sequence[str], source: str) -> np.ndarray:
    """0/1 capture matrix; every bad cell and every row on no list reported (vectorised: the
    same checks as :meth:`CaptureData.from_records`, fast on large record files)."""
    problems: list[Problem] = []
    if len(lists) < 2:
        problems.append(
            Problem(
                N_("at least 2 list columns are needed, got {lists}", lists=list(lists)), source
            )
        )
    values = np.zeros((len(tbl), len(lists)))
    bad = np.zeros(len(tbl), dtype=bool)
    for j, name in enumerate(lists):
        col = tbl[name]
        num = pd.to_numeric(col.astype(object).where(col.notna(), None), errors="coerce").to_numpy(
            dtype=float
        )
        wrong = ~np.isin(num, (0.0, 1.0))
        bad |= wrong
        values[:, j] = np.where(wrong, 0.0, num)
        problems += [
            Problem(
                "list cell must be 0 or 1",
                source=source,
                row=int(i) + 2,
                column=name,
                value=col.iloc[int(i)],
            )
            for i in np.flatnonzero(wrong)
        ]
    nowhere = ~bad & (values.sum(axis=1) == 0)
    problems += [
        Problem(
            "the person is on no list (every list cell is 0); remove this row",
            source=source,
            row=int(i) + 2,
        )
        for i in np.flatnonzero(nowhere)
    ]
    if problems:
        problems.sort(key=lambda p: (p.row or 0, str(p.column)))
        raise InputValidationError(problems)
    return values.astype(np.uint8)


def _capture_data(y: np.ndarray, lists: Sequence[str], source: str) -> CaptureData:
    """The covariate-blind capture table of the records."""
    k = y.shape[1]
    cells = y.astype(np.int64) @ (1 << np.arange(k, dtype=np.int64))
    uniq, counts = np.unique(cells, return_counts=True)
    table = pd.DataFrame(
        ((uniq[:, None] >> np.arange(k)) & 1).astype(np.int64), columns=list(lists)
    )
    table["count"] = counts
    data = CaptureData.from_counts(table, lists=lists, count_col="count", source=source)
    assert isinstance(data, CaptureData)  # no strata given
    return data


def treatment_columns(
    codes: np.ndarray,
    covariates: Sequence[str],
    levels: dict[str, tuple[str, ...]],
    terms: Sequence[tuple[str, ...]],
) -> tuple[np.ndarray, list[str]]:
    """Treatment-coded design (rows of ``codes``) of the covariate terms, without intercept.

    A main effect ``sex`` gives one 0/1 column per non-reference level (``sex[M]``); an
    interaction the products of its covariates' columns (``sex[M]:age[30+]``).
    """
    pos = {c: i for i, c in enumerate(covariates)}
    cols: list[np.ndarray] = []
    names: list[str] = []
    for term in terms:
        blocks: list[tuple[list[np.ndarray], list[str]]] = []
        for c in term:
            lv = levels[c]
            code = codes[:, pos[c]]
            blocks.append(
                (
                    [(code == j).astype(float) for j in range(1, len(lv))],
                    [f"{c}[{lv[j]}]" for j in range(1, len(lv))],
                )
            )
        for combo in product(*[range(len(b[0])) for b in blocks]):
            col = np.ones(len(codes))
            label = []
            for b, j in zip(blocks, combo, strict=True):
                col = col * b[0][j]
                label.append(b[1][j])
            cols.append(col)
            names.append(":".join(label))
    z = np.column_stack(cols) if cols else np.zeros((len(codes), 0))
    return z, names


@dataclass(frozen=True)
class Groups:
    """People grouped by their covariate values: ``m[g]`` people with levels ``codes[g]``,
    ``ysum[g, j]`` of them on list ``j`` (complete records only)."""

    codes: np.ndarray  # (G, C) level index of every group
    m: np.ndarray  # (G,)
    ysum: np.ndarray  # (G, K)


def group_records(rec: CovariateRecords) -> Groups:
    """Group the complete records by their covariate values."""
    keep = rec.complete()
    keys, inverse = np.unique(rec.codes[keep], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    g = len(keys)
    m = np.bincount(inverse, minlength=g).astype(float)
    ysum = np.zeros((g, rec.k))
    np.add.at(ysum, inverse, rec.y[keep].astype(float))
    return Groups(keys, m, ysum)


def boundary_reason(rec: CovariateRecords, groups: Groups, parallel: bool) -> str:
    """Why the conditional MLE is at a boundary, naming a level and list where possible."""
    for i, j in unestimable_levels(rec):
        c = rec.covariates[i]
        n_level = int((rec.codes[:, i] == j).sum())
        return (
            f"nobody with {c} = {rec.levels[c][j]} was seen on more than one list (no recaptures "
            f"among its {n_level} people): the size of that level has no finite estimate; merge "
            "the level with another or leave the covariate out"
        )
    for i, c in enumerate(rec.covariates):
        for j, lv in enumerate(rec.levels[c]):
            at = groups.codes[:, i] == j
            m = groups.m[at].sum()
            on = groups.ysum[at].sum(axis=0)
            for lst, count in zip(rec.lists, on, strict=True):
                if not parallel and count == 0:
                    return (
                        f"nobody with {c} = {lv} is on list {lst}: the effect of {c} on {lst} "
                        "has no finite estimate; use parallel=True (one effect per covariate "
                        "for every list) or merge that level with another"
                    )
                if count == m and m > 0:
                    return (
                        f"everyone with {c} = {lv} is on list {lst}: that list's capture "
                        "probability for the level is 1 and has no finite estimate; merge the "
                        "level with another or leave the covariate out"
                    )
    return (
        "the conditional likelihood has no finite maximum (some capture probability goes to 0 "
        "or 1): merge sparse levels, use parallel=True, or leave a covariate out"
    )


def unestimable_levels(rec: CovariateRecords) -> list[tuple[int, int]]:
    """(covariate index, level index) of every level whose people were never seen on more than
    one list (no recaptures: the size of the level has no finite estimate)."""
    out = []
    keep = rec.complete()
    seen = rec.y.sum(axis=1)
    for i, c in enumerate(rec.covariates):
        for j in range(len(rec.levels[c])):
            at = keep & (rec.codes[:, i] == j)
            if at.any() and seen[at].max() < 2:
                out.append((i, j))
    return out


def restrict(rec: CovariateRecords, mask: np.ndarray) -> CovariateRecords:
    """The records in ``mask``, each covariate's levels recoded to those still present (a
    covariate may be left with one level: it then adds no term)."""
    y, codes = rec.y[mask], rec.codes[mask]
    levels: dict[str, tuple[str, ...]] = {}
    new_codes = np.full_like(codes, -1)
    for i, c in enumerate(rec.covariates):
        present = sorted({int(v) for v in codes[:, i] if v >= 0})
        levels[c] = tuple(rec.levels[c][j] for j in present)
        for new, old in enumerate(present):
            new_codes[codes[:, i] == old, i] = new
    return CovariateRecords(
        data=_capture_data(y, rec.lists, rec.data.source),
        y=y,
        covariates=rec.covariates,
        levels=levels,
        codes=new_codes,
        missing=rec.missing,
        n_missing={
            c: int(
                (new_codes[:, i] < 0).sum() + (codes[:, i] == rec.levels[c].index(MISSING)).sum()
            )
            if MISSING in rec.levels[c]
            else int((new_codes[:, i] < 0).sum())
            for i, c in enumerate(rec.covariates)
        },
    )
