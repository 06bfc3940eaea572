"""Answer status codes shared by mapping files and scoring, and reading them from a table.

Every indicator answer has a *status*: ``yes``, ``no``, ``dont_know``, ``refused`` or
``missing`` (int8 codes 1, 0, 2, 3, 4; anything above :data:`YES` is an unknown answer). A mapping
file (:mod:`fl_estimate.indicators.mapping`) turns questionnaire codes into these statuses; the
scorer (:mod:`fl_estimate.indicators.scoring`) reads them, or reads True/False/1/0/status words
from a table of indicator columns (:func:`status_matrix`).

Examples
--------
>>> import pandas as pd
>>> S, present = status_matrix(pd.DataFrame({"a": [True, None], "b": ["refused", 0]}),
...                            ["a", "b", "c"])
>>> present, [[STATUS[int(v)] for v in row] for row in S]
(['a', 'b'], [['yes', 'refused'], ['missing', 'no']])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_

__all__ = [
    "DK",
    "MISSING",
    "NO",
    "REF",
    "STATUS",
    "STATUS_CODE",
    "STATUS_DTYPE",
    "YES",
    "status_matrix",
    "value_code",
]

#: answer status codes (int8) and their names
STATUS: dict[int, str] = {0: "no", 1: "yes", 2: "dont_know", 3: "refused", 4: "missing"}
#: status name -> code
STATUS_CODE: dict[str, int] = {v: k for k, v in STATUS.items()}
#: categorical dtype of the ``"<key>:answer"`` columns of a scored table
STATUS_DTYPE = pd.CategoricalDtype([STATUS[i] for i in range(5)])
YES, NO, DK, REF, MISSING = 1, 0, 2, 3, 4


def value_code(v: object) -> int | None:
    """Status code of one cell: True/False/1/0 or a status word; ``None`` if it is neither.

    >>> value_code(True), value_code(0), value_code(" Dont_Know "), value_code("maybe")
    (1, 0, 2, None)
    """
    if isinstance(v, bool | np.bool_):
        return YES if v else NO
    if isinstance(v, str):
        return STATUS_CODE.get(v.strip().lower())
    if isinstance(v, int | float | np.integer | np.floating):
        return YES if v == 1 else NO if v == 0 else None
    return None


def status_matrix(
    data: pd.DataFrame, keys: Sequence[str], source: str = "<DataFrame>"
) -> tuple[np.ndarray, list[str]]:
    """Status codes (n, k) int8 of the indicator columns of ``data`` among ``keys``.

    Empty cells are ``missing``. Returns the matrix and the keys present (its columns), in the
    order of ``keys``.

    Raises
    ------
    InputValidationError
        Every cell (up to 20 per column) that is not True/False/1/0, empty or a status word.
    """
    present = [k for k in keys if k in data.columns]
    n = len(data)
    S = np.full((n, len(present)), MISSING, dtype=np.int8, order="F")
    problems: list[Problem] = []
    for j, k in enumerate(present):
        col = data[k]
        if col.dtype == np.int8:
            arr = col.to_numpy()
            if n == 0 or (arr.min() >= 0 and arr.max() <= MISSING):
                S[:, j] = arr
                continue
        if col.dtype == bool:
            S[:, j] = col.to_numpy().astype(np.int8)
            continue
        isna = col.isna().to_numpy()
        vals = col.astype(object).where(~col.isna(), None).to_numpy()
        out = np.full(n, MISSING, dtype=np.int8)
        bad = np.zeros(n, bool)
        for i_val in pd.unique(vals[~isna]):
            m = (vals == i_val) & ~isna
            code = value_code(i_val)
            if code is None:
                bad |= m
            else:
                out[m] = code
        for i in np.flatnonzero(bad)[:20]:
            problems.append(
                Problem(
                    N_("indicator value must be True/False/1/0, empty, or one of {codes}",
                       codes=", ".join(STATUS_CODE)),
                    source, int(i) + 2, k, vals[i],
                )
            )  # fmt: skip
        S[:, j] = out
    if problems:
        raise InputValidationError(problems)
    return S, present
