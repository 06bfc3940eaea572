"""Rule ``involuntariness_and_coercion`` (ILO 20th ICLS, 2018; framework ``icls2018``).

An adult is in forced labour when work is both involuntary and under coercion (in the same work
spell by default, ``pairing = "same_spell"``); a child when any route of forced labour of children
is present. Involuntariness is also recorded by stage (recruitment, employment, exit).

Examples
--------
Rows are work spells of persons A and B; A's involuntary spell and the spell under coercion are
different ones, so A is not counted under ``pairing = "same_spell"`` (and is flagged for review),
but is under ``pairing = "any"``:

>>> import pandas as pd
>>> from fl_estimate.indicators import IndicatorScorer
>>> spells = pd.DataFrame({"person": ["A", "A", "B"], "ICLS.INV.c": [True, False, True],
...                        "ICLS.COE.a": [False, True, True]})
>>> scored = IndicatorScorer("icls2018").score_indicators(spells, person="person")
>>> scored.table[["person", "classification", "review"]]
  person     classification  review
0      A  not_forced_labour    True
1      B      forced_labour   False
>>> any_spell = IndicatorScorer("icls2018", pairing="any").score_indicators(spells, person="person")
>>> any_spell.table["classification"].tolist()
['forced_labour', 'forced_labour']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fl_estimate.indicators.answers import MISSING, NO, YES
from fl_estimate.indicators.frameworks import Framework
from fl_estimate.indicators.scoring.logic import Tri, any_kind, any_of, labels_forced_labour
from fl_estimate.indicators.scoring.reasons import present_keys, unknown_answers

__all__ = ["evaluate", "evaluate_spells", "explain"]


def stages(fw: Framework, tri: Mapping[str, Tri], n: int) -> dict[str, Tri]:
    """Involuntariness by stage (recruitment, employment, exit), recorded as the ICLS asks."""
    return {
        d: any_of((tri[i.id] for i in fw.indicators
                   if i.kind == "involuntariness" and i.dimension == d and i.id in tri), n)
        for d in fw.dimension_ids
    }  # fmt: skip


def evaluate(fw: Framework, tri: Mapping[str, Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    """Dimensions, outcome and labels of records that are one row per person."""
    inv = any_kind(fw, tri, "involuntariness", n)
    coe = any_kind(fw, tri, "coercion", n)
    routes = any_kind(fw, tri, "child_route", n)
    adult = inv & coe
    outcome = Tri(np.where(child, routes.t, adult.t), np.where(child, routes.f, adult.f))
    return {
        "dimensions": {"involuntariness": inv, "coercion": coe, **stages(fw, tri, n)},
        "outcome": outcome,
        "labels": labels_forced_labour(outcome),
    }


def evaluate_spells(
    fw: Framework,
    tri: Mapping[str, Tri],
    present: list[str],
    child: np.ndarray,
    codes: np.ndarray,
    npers: int,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The rule on work spells pooled per person (``codes``: person code 0..npers-1 per spell).

    Returns the rule's result per person (with ``review``: involuntariness and coercion found in
    different spells of an adult whose pairing rule needs them in the same one), the person-level
    status matrix (a key is ``yes`` if yes in any spell, ``no`` if no in all) and whether the
    person is a child in any spell.
    """
    n = len(codes)
    inv = any_kind(fw, tri, "involuntariness", n)
    coe = any_kind(fw, tri, "coercion", n)

    def any_p(x: Tri) -> Tri:
        t = np.bincount(codes, weights=x.t, minlength=npers) > 0
        nf = np.bincount(codes, weights=x.f, minlength=npers)
        cnt = np.bincount(codes, minlength=npers)
        return Tri(t, nf == cnt)

    pinv, pcoe = any_p(inv), any_p(coe)
    spell_fl = any_p(inv & coe)
    fl_adult = spell_fl if fw.parameters.get("pairing") == "same_spell" else pinv & pcoe
    # person-level answers: a key is True if True in any spell, False if False in all
    PS = np.full((npers, len(present)), MISSING, dtype=np.int8)
    for j, k in enumerate(present):
        p = any_p(tri[k])
        PS[:, j] = np.where(p.t, YES, np.where(p.f, NO, MISSING))
    pchild = np.bincount(codes, weights=child, minlength=npers) > 0
    routes = any_of((any_p(tri[i.id]) for i in fw.indicators if i.kind == "child_route"
                     and i.id in tri), npers)  # fmt: skip
    outcome = Tri(np.where(pchild, routes.t, fl_adult.t), np.where(pchild, routes.f, fl_adult.f))
    review = pinv.t & pcoe.t & ~spell_fl.t & ~pchild
    res = {
        "dimensions": {
            "involuntariness": pinv,
            "coercion": pcoe,
            **{d: any_p(x) for d, x in stages(fw, tri, n).items()},
        },
        "outcome": outcome,
        "labels": labels_forced_labour(outcome),
        "review": review,
    }
    return res, PS, pchild


def explain(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    """Reason of one answer pattern."""
    inv = [i.id for i in fw.indicators if i.kind == "involuntariness"]
    coe = [i.id for i in fw.indicators if i.kind == "coercion"]
    routes = [i.id for i in fw.indicators if i.kind == "child_route"]
    if child:
        if label == "forced_labour":
            return "child; route(s) " + ", ".join(present_keys(status, routes))
        if label == "indeterminate":
            return "child; depends on " + ", ".join(unknown_answers(status, routes))
        return "child; no route of forced labour of children present"
    ti, tc = present_keys(status, inv), present_keys(status, coe)
    if label == "forced_labour":
        return f"involuntariness {', '.join(ti)} + coercion {', '.join(tc)}"
    if label == "indeterminate":
        return "depends on " + ", ".join(unknown_answers(status, inv + coe))
    if ti:
        return f"involuntariness {', '.join(ti)} but no coercion"
    if tc:
        return f"coercion {', '.join(tc)} but no involuntariness"
    return "neither involuntariness nor coercion"
