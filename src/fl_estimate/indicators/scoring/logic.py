"""Three-valued (Kleene) logic over arrays of records, and the label columns it gives.

A :class:`Tri` holds, for every record, whether a condition is definitely true, definitely false
or unknown (neither). ``&`` and ``|`` follow Kleene's strong logic: a conjunction is false as soon
as one side is false, true only when both are true.

Examples
--------
>>> import numpy as np
>>> a = Tri(np.array([True, False, False]), np.array([False, False, True]))  # T, ?, F
>>> b = Tri(np.array([True, True, True]), np.array([False, False, False]))   # T, T, T
>>> (a & b).to_array().tolist(), (a | all_false(3)).to_array().tolist()
([True, <NA>, False], [True, <NA>, False])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.indicators.frameworks import Framework

__all__ = ["Tri", "all_false", "any_kind", "any_of", "categorical", "labels_forced_labour"]


@dataclass(frozen=True)
class Tri:
    """Three-valued array: ``t`` definitely true, ``f`` definitely false, else unknown."""

    t: np.ndarray  # definitely true
    f: np.ndarray  # definitely false

    @property
    def u(self) -> np.ndarray:
        """Unknown: neither definitely true nor definitely false."""
        return ~self.t & ~self.f

    def __and__(self, o: Tri) -> Tri:
        return Tri(self.t & o.t, self.f | o.f)

    def __or__(self, o: Tri) -> Tri:
        return Tri(self.t | o.t, self.f & o.f)

    def to_array(self) -> pd.arrays.BooleanArray:
        """Nullable boolean array: True, False, <NA> for indeterminate."""
        return pd.arrays.BooleanArray(self.t.copy(), ~self.t & ~self.f)


def all_false(n: int) -> Tri:
    """``n`` definitely false values (the neutral element of ``|``)."""
    return Tri(np.zeros(n, bool), np.ones(n, bool))


def any_of(items: Iterable[Tri], n: int) -> Tri:
    """Disjunction of ``items`` (definitely false when there are none)."""
    out = all_false(n)
    for it in items:
        out = out | it
    return out


def any_kind(fw: Framework, tri: Mapping[str, Tri], kind: str, n: int) -> Tri:
    """Disjunction of the measured indicators of one kind (``"coercion"``, ``"child_route"``...)."""
    return any_of((tri[i.id] for i in fw.indicators if i.kind == kind and i.id in tri), n)


def categorical(codes: Any, categories: Sequence[Any]) -> pd.Categorical:
    """A categorical column from integer codes."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


def labels_forced_labour(outcome: Tri) -> pd.Categorical:
    """``forced_labour`` / ``not_forced_labour`` / ``indeterminate`` per record."""
    codes = np.where(outcome.t, 0, np.where(outcome.f, 1, 2)).astype(np.int8)
    return categorical(codes, categories=["forced_labour", "not_forced_labour", "indeterminate"])
