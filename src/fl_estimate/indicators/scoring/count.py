"""Rule ``count`` (the ILO's eleven indicators, framework ``ilo11``; CTDC case records).

No combination rule: a record is ``indicated`` when at least ``min_present`` measured indicators
are present, ``not_indicated`` when even counting every unknown answer as present it would fall
short, ``indeterminate`` otherwise.

Examples
--------
>>> import pandas as pd
>>> from fl_estimate.indicators import IndicatorScorer
>>> answers = pd.DataFrame({"ILO11.01": [True, None, False], "ILO11.02": [False, False, False]})
>>> table = IndicatorScorer("ilo11").score_indicators(answers).table
>>> table[["classification", "indicators_present"]]
  classification  indicators_present
0      indicated                   1
1  indeterminate                   0
2  not_indicated                   0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fl_estimate.indicators.frameworks import Framework
from fl_estimate.indicators.scoring.logic import Tri, categorical
from fl_estimate.indicators.scoring.reasons import present_keys, unknown_answers

__all__ = ["evaluate", "explain"]


def evaluate(fw: Framework, tri: Mapping[str, Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    """Outcome, labels and the number of indicators present (``count``)."""
    items = [tri[i.id] for i in fw.indicators if i.id in tri]
    cnt = sum((x.t.astype(np.int16) for x in items), np.zeros(n, np.int16))
    unk = sum((x.u.astype(np.int16) for x in items), np.zeros(n, np.int16))
    k = int(fw.parameters.get("min_present", 1))
    outcome = Tri(cnt >= k, cnt + unk < k)
    labels = categorical(
        np.where(outcome.t, 0, np.where(outcome.f, 1, 2)).astype(np.int8),
        categories=["indicated", "not_indicated", "indeterminate"],
    )
    return {"dimensions": {}, "outcome": outcome, "labels": labels, "count": cnt}


def explain(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    """Reason of one answer pattern: how many indicators are present, which, and the unknown."""
    present = present_keys(status, [i.id for i in fw.indicators])
    text = f"{len(present)} of {len(status)} measured indicators present"
    if present:
        text += ": " + ", ".join(present)
    unk = unknown_answers(status)
    if unk:
        text += "; unknown: " + ", ".join(unk)
    return text
