"""Rule ``paired_dimensions`` (ILO 2012 survey guidelines; framework ``ilo2012``).

A dimension (unfree recruitment, work and life under duress, impossibility of leaving) is positive
when an involuntariness indicator of the dimension is present together with a penalty (or menace
of penalty) applied in that same dimension (``pairing = "any"``: in any dimension); with
``require_strong`` one of the two must be a strong indicator. A person is in forced labour when
any dimension is positive; children also through the routes of forced labour of children.
Involuntariness in one dimension with a penalty only in another is flagged for review.

Examples
--------
One involuntariness indicator of dimension D1 with a penalty applied in D1, in D1 but answered
"don't know", and only in D2:

>>> import pandas as pd
>>> from fl_estimate.indicators import IndicatorScorer
>>> answers = pd.DataFrame({"HTS.D1.INV.06": [True, True, True],
...                         "HTS.PEN.03@D1": [True, "dont_know", False],
...                         "HTS.PEN.03@D2": [None, None, True]})
>>> table = IndicatorScorer("ilo2012").score_indicators(answers).table
>>> table[["forced_labour", "classification", "review"]]
   forced_labour     classification  review
0           True      forced_labour   False
1           <NA>      indeterminate   False
2          False  not_forced_labour    True
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from fl_estimate.indicators.answers import YES
from fl_estimate.indicators.frameworks import Framework
from fl_estimate.indicators.scoring.logic import Tri, any_kind, any_of, labels_forced_labour
from fl_estimate.indicators.scoring.reasons import present_keys, unknown_answers

__all__ = ["evaluate", "explain"]


def evaluate(fw: Framework, tri: Mapping[str, Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    """Dimensions, outcome, labels, cross-dimension review flags and trafficking for forced
    labour (when movement indicators are measured)."""
    strict = bool(fw.parameters.get("require_strong", False))
    pairing = fw.parameters.get("pairing", "same_dimension")
    dims = fw.dimension_ids

    def population(pop: str) -> tuple[dict[str, Tri], Tri, np.ndarray]:
        inds = [i for i in fw.indicators if i.population == pop]
        inv = {d: [i for i in inds if i.kind == "involuntariness" and i.dimension == d
                   and i.id in tri] for d in dims}  # fmt: skip
        pens = [i for i in inds if i.kind == "penalty"]
        pen = {d: [(i, f"{i.id}@{d}") for i in pens if f"{i.id}@{d}" in tri] for d in dims}
        if pairing == "any":
            allpen = [p for d in dims for p in pen[d]]
            pen = {d: allpen for d in dims}
        dim_res = {}
        for d in dims:
            inv_any = any_of((tri[i.id] for i in inv[d]), n)
            pen_any = any_of((tri[k] for _, k in pen[d]), n)
            if strict:
                inv_s = any_of((tri[i.id] for i in inv[d] if i.strength == "strong"), n)
                pen_s = any_of((tri[k] for i, k in pen[d] if i.strength == "strong"), n)
                dim_res[d] = (inv_s & pen_any) | (inv_any & pen_s)
            else:
                dim_res[d] = inv_any & pen_any
        fl = any_of(dim_res.values(), n)
        # cross-dimension pairs (involuntariness in one dimension, penalty only in another)
        inv_t = [any_of((tri[i.id] for i in inv[d]), n).t for d in dims]
        pen_t = [any_of((tri[k] for _, k in pen[d]), n).t for d in dims]
        cross = np.zeros(n, bool)
        for a in range(len(dims)):
            for b in range(len(dims)):
                if a != b:
                    cross |= inv_t[a] & pen_t[b]
        return dim_res, fl, cross & ~fl.t

    dims_a, fl_a, review_a = population("adults")
    if child.any():
        dims_c, fl_c, review_c = population("children")
        fl_c = fl_c | any_kind(fw, tri, "child_route", n)
        outcome = Tri(np.where(child, fl_c.t, fl_a.t), np.where(child, fl_c.f, fl_a.f))
        dim_res = {
            d: Tri(np.where(child, dims_c[d].t, dims_a[d].t),
                   np.where(child, dims_c[d].f, dims_a[d].f))
            for d in dims
        }  # fmt: skip
        review = np.where(child, review_c, review_a)
    else:
        outcome, dim_res, review = fl_a, dims_a, review_a
    extra = {}
    moves = [tri[i.id] for i in fw.indicators if i.kind == "movement" and i.id in tri]
    rec = fw.parameters.get("recruitment_dimension", dims[0])
    if moves and rec in dim_res:
        others = any_of((dim_res[d] for d in dims if d != rec), n)
        # trafficking for forced labour (ILO 2012, section 2.5 of the specification)
        extra["trafficking_for_forced_labour"] = dim_res[rec] & others & any_of(moves, n)
    return {"dimensions": dim_res, "outcome": outcome, "labels": labels_forced_labour(outcome),
            "review": review, "extra": extra}  # fmt: skip


@cache
def _structure(fw: Framework, pop: str) -> list[tuple[str, list[str], list[str]]]:
    """Per dimension: involuntariness keys and the penalty keys that pair with them."""
    inds = [i for i in fw.indicators if i.population == pop]
    pairing = fw.parameters.get("pairing")
    out = []
    for d in fw.dimension_ids:
        inv = [i.id for i in inds if i.kind == "involuntariness" and i.dimension == d]
        pdims = fw.dimension_ids if pairing == "any" else [d]
        pen = [f"{i.id}@{e}" for i in inds if i.kind == "penalty" for e in pdims]
        out.append((d, inv, pen))
    return out


def explain(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    """Reason of one answer pattern."""
    if label == "indeterminate":
        return ("child; " if child else "") + "depends on " + ", ".join(unknown_answers(status))
    yes = {k for k, v in status.items() if v == YES}
    parts = []
    for d, inv, pen in _structure(fw, "children" if child else "adults"):
        ti = [k for k in inv if k in yes]
        tp = [k for k in pen if k in yes]
        if ti and tp:
            parts.append(f"{d}: {' + '.join(ti)} with {' + '.join(tp)}")
    prefix = "child; " if child else ""
    rule = " (require_strong)" if fw.parameters.get("require_strong") else ""
    if label == "forced_labour":
        routes = present_keys(status, [i.id for i in fw.indicators if i.kind == "child_route"])
        return prefix + "; ".join(parts + ([f"route(s) {', '.join(routes)}"] if routes else []))
    if parts:
        return (
            prefix + "pairs found but none with a strong indicator" + rule + ": " + "; ".join(parts)
        )
    if not yes:
        return prefix + "no indicator present"
    found = [k for k in status if k in yes]
    return (
        prefix
        + "no dimension has both involuntariness and a penalty (present: "
        + (", ".join(found) + ")")
    )
