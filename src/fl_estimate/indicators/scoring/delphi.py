"""Rule ``delphi`` (ILO–EC 2009 Delphi operational indicators; framework ``delphi2009``).

Each dimension (deceptive, coercive, abusive recruitment; exploitation; coercion and abuse of
vulnerability at destination) is positive when its strong/medium/weak indicators meet one of the
combinations of the ``dimension_rule`` parameter. An adult is a victim of trafficking when
recruitment, exploitation and destination dimensions are all positive; a child when exploitation
is positive together with an act of recruitment/movement or a recruitment dimension. The other
outcomes (§3.4 of the specification) grade the partial patterns.

Examples
--------
Deceptive recruitment, exploitation and coercion at destination each met (two indicators, one
strong); in the second record one destination indicator is "don't know", and the other alone does
not meet the dimension rule:

>>> import pandas as pd
>>> from fl_estimate.indicators import IndicatorScorer
>>> answers = pd.DataFrame({"DEL.AL.DR.01": [True, True], "DEL.AL.DR.02": [True, True],
...                         "DEL.AL.EX.01": [True, True], "DEL.AL.EX.02": [True, True],
...                         "DEL.AL.CD.01": [True, "dont_know"], "DEL.AL.CD.02": [True, True]})
>>> scored = IndicatorScorer("delphi2009").score_indicators(answers)
>>> scored.table["classification"].tolist()
['victim', 'indeterminate']
>>> scored.explain(1)
'indeterminate: DR: DR.01 (S), DR.02 (M); EX: EX.01 (S), EX.02 (M); CD: CD.02 (S); depends on DEL.AL.CD.01 (dont_know)'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fl_estimate.indicators.answers import YES
from fl_estimate.indicators.frameworks import Framework
from fl_estimate.indicators.scoring.logic import Tri, any_kind, any_of, categorical
from fl_estimate.indicators.scoring.reasons import unknown_answers

__all__ = ["DELPHI_LABELS", "evaluate", "explain"]

#: Delphi outcome labels, in the order they are evaluated (§3.4 of the specification)
DELPHI_LABELS = (
    "victim",
    "indeterminate",
    "recruitment_means_and_exploitation",
    "destination_means_and_exploitation",
    "exploitation_only",
    "means_without_exploitation",
    "not_indicated",
)


def _meets(combos: list[dict[str, int]], s: np.ndarray, m: np.ndarray, w: np.ndarray) -> np.ndarray:
    ok = np.zeros(s.shape, bool)
    for c in combos:
        cond = np.ones(s.shape, bool)
        for k, v in c.items():
            x = {"strong": s, "medium": m, "weak": w, "medium_or_weak": m + w, "any": s + m + w}[k]
            cond &= x >= v
        ok |= cond
    return ok


def evaluate(fw: Framework, tri: Mapping[str, Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    """Dimensions, outcome (victim) and the graded labels."""
    combos = fw.parameters["dimension_rule"]
    dim_res: dict[str, Tri] = {}
    for d in fw.dimension_ids:
        cnt: dict[str, np.ndarray] = {}
        unk: dict[str, np.ndarray] = {}
        for s in ("strong", "medium", "weak"):
            items = [tri[i.id] for i in fw.indicators
                     if i.dimension == d and i.strength == s and i.id in tri]  # fmt: skip
            cnt[s] = sum((x.t.astype(np.int16) for x in items), np.zeros(n, np.int16))
            unk[s] = sum((x.u.astype(np.int16) for x in items), np.zeros(n, np.int16))
        lo = _meets(combos, cnt["strong"], cnt["medium"], cnt["weak"])
        hi = _meets(
            combos, cnt["strong"] + unk["strong"], cnt["medium"] + unk["medium"],
            cnt["weak"] + unk["weak"],
        )  # fmt: skip
        dim_res[d] = Tri(lo, ~hi)
    p = fw.parameters
    rec = any_of((dim_res[d] for d in p.get("recruitment_dimensions", ["DR", "CR", "VR"])), n)
    ex = any_of((dim_res[d] for d in p.get("exploitation_dimensions", ["EX"])), n)
    dest = any_of((dim_res[d] for d in p.get("destination_dimensions", ["CD", "VD"])), n)
    act = any_kind(fw, tri, "act", n)
    adult = rec & ex & dest
    kid = (act | rec) & ex
    victim = Tri(np.where(child, kid.t, adult.t), np.where(child, kid.f, adult.f))
    means = rec | dest
    codes = np.select(
        [
            victim.t,
            victim.u,
            rec.t & ex.t & ~dest.t & ~child,
            dest.t & ex.t & ~rec.t & ~child,
            ex.t & ~means.t,
            means.t & ~ex.t,
        ],
        [0, 1, 2, 3, 4, 5],
        default=6,
    ).astype(np.int8)
    labels = categorical(codes, categories=list(DELPHI_LABELS))
    return {"dimensions": dim_res, "outcome": victim, "labels": labels}


def explain(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    """Reason of one answer pattern: the indicators present by dimension, with their strength."""
    parts = []
    for d in fw.dimension_ids:
        present = [i for i in fw.indicators if i.dimension == d and status.get(i.id) == YES]
        if present:
            parts.append(
                f"{d}: "
                + ", ".join(
                    f"{i.id.split('.', 2)[-1]} ({(i.strength or '?')[0].upper()})" for i in present
                )
            )
    if status.get("DEL.ACT") == YES:
        parts.append("act of recruitment/movement")
    text = "; ".join(parts) if parts else "no indicator present"
    if label == "indeterminate":
        text += "; depends on " + ", ".join(unknown_answers(status))
    return ("child; " if child else "") + text
