"""The ``reason`` column: why each record got its classification, built once per answer pattern.

A rule's explainer turns one pattern of answers (indicator key -> status code) into a sentence;
:func:`reasons` calls it once per distinct pattern of what the sentence shows, not once per row,
so scoring a million respondents calls it a few hundred times.

Examples
--------
>>> present_keys({"a": 1, "b": 0, "c": 1}, ["a", "b", "c"])
['a', 'c']
>>> unknown_answers({"a": 1, "b": 2, "c": 4})
['b (dont_know)', 'c (missing)']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from fl_estimate.indicators.answers import NO, STATUS, YES
from fl_estimate.indicators.frameworks import Framework
from fl_estimate.indicators.scoring.logic import categorical

__all__ = ["Explainer", "present_keys", "reasons", "unknown_answers"]

#: ``explain(framework, status, child, label) -> reason``
Explainer = Callable[[Framework, Mapping[str, int], bool, str], str]


def present_keys(status: Mapping[str, int], keys: Iterable[str], code: int = YES) -> list[str]:
    """The ``keys`` whose answer has status ``code`` (present, by default)."""
    return [k for k in keys if status.get(k) == code]


def unknown_answers(status: Mapping[str, int], keys: Iterable[str] | None = None) -> list[str]:
    """Unknown answers with their status (all of ``status`` when ``keys`` is None)."""
    if keys is None:
        return [f"{k} ({STATUS[v]})" for k, v in status.items() if v > YES]
    return [f"{k} ({STATUS[status[k]]})" for k in keys if status.get(k, NO) > YES]


def reasons(
    framework: Framework,
    S: np.ndarray,
    present: list[str],
    child: np.ndarray,
    labels: pd.Categorical,
    explain: Explainer,
    *,
    unknown_on_every_row: bool = False,
) -> pd.Categorical:
    """Reason per row, computed once per distinct pattern of what the reason shows.

    The reason lists the indicators present and, for indeterminate rows only (every row when
    ``unknown_on_every_row``), the unknown answers with their status; the pattern key is reduced
    to that, so the number of distinct patterns (and of explainer calls) stays small.
    """
    n = S.shape[0]
    if n == 0:
        return categorical(np.array([], dtype=np.int8), [])
    lab_codes = np.asarray(labels.codes, dtype=np.int64)
    cats = list(labels.categories)
    indet = (
        lab_codes == cats.index("indeterminate") if "indeterminate" in cats
        else np.zeros(n, bool)
    )  # fmt: skip
    # yes -> 1; for indeterminate rows unknown statuses kept (2, 3, 4); everything else 0
    if unknown_on_every_row:
        K = S
    elif indet.any():
        K = np.where((S == YES) | indet[:, None], S, np.int8(0))
    else:
        K = np.where(S == YES, S, np.int8(0))
    # exact row key: 3 bits per column, 20 columns per int64 chunk, chunks combined by
    # successive factorisation (hash-based, linear time)
    inverse, _ = pd.factorize(child.astype(np.int64) * 8 + lab_codes)
    inverse = inverse.astype(np.int64)
    for c0 in range(0, K.shape[1], 20):
        h = np.zeros(n, dtype=np.int64)
        for j in range(c0, min(c0 + 20, K.shape[1])):
            h = h * 8 + K[:, j]
        hc, hu = pd.factorize(h)
        inverse, _ = pd.factorize(inverse * (len(hu) + 1) + hc)
        inverse = inverse.astype(np.int64)
    # factorize numbers codes by first appearance: first rows are where the running max grows
    run = np.maximum.accumulate(inverse)
    first = np.flatnonzero(np.r_[True, run[1:] > run[:-1]])
    texts = []
    rows = K[first].tolist()
    kids = child[first].tolist()
    labs = [cats[c] for c in lab_codes[first].tolist()]
    for u in range(len(first)):
        status = dict(zip(present, rows[u], strict=True))  # NO == 0: folded answers
        texts.append(explain(framework, status, kids[u], labs[u]))
    rcodes, runiq = pd.factorize(np.array(texts, dtype=object))
    return categorical(rcodes[inverse], categories=list(runiq))
