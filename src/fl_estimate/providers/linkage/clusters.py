"""Persons from links: connected components of the linked pairs, and one capture history each.

Examples
--------
Records 0-1 and 1-2 are linked, 3 stands alone: two persons.

>>> import numpy as np
>>> import pandas as pd
>>> pairs = pd.DataFrame({"unique_id_l": [0, 1], "unique_id_r": [1, 2],
...                       "match_probability": [0.95, 0.97]})
>>> none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
>>> cluster_labels(4, pairs, none, 0.9).tolist()
[0, 0, 0, 1]
>>> cluster_labels(4, pairs, none, 0.96).tolist()
[0, 1, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["capture_histories", "cluster_labels", "union_pairs"]


def union_pairs(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of each of ``n`` records linked by ``left[i]-right[i]``."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def cluster_labels(
    n: int, pairs: pd.DataFrame, deterministic_pairs: pd.DataFrame, threshold: float
) -> np.ndarray:
    """Cluster of each record: components of the pairs with ``match_probability >= threshold``
    and of every deterministic pair."""
    p = pairs[pairs["match_probability"] >= threshold]
    left = np.concatenate(
        [
            p["unique_id_l"].to_numpy(np.int64),
            deterministic_pairs["unique_id_l"].to_numpy(np.int64),
        ]
    )
    right = np.concatenate(
        [
            p["unique_id_r"].to_numpy(np.int64),
            deterministic_pairs["unique_id_r"].to_numpy(np.int64),
        ]
    )
    return union_pairs(n, left, right)


def capture_histories(
    records: pd.DataFrame, labels: np.ndarray, *, strata: Sequence[str], lists: Sequence[str]
) -> pd.DataFrame:
    """One row per cluster: ``person``, 0/1 per list (provider), and the stratum columns.

    A person's stratum is that of their earliest identification (ties: first record); persons
    are numbered ``P000001...`` in stratum, date and record order.
    """
    strata, lists = list(strata), list(lists)
    rec = records[["unique_id", "provider", "date_identified", *strata]].copy()
    rec["cluster"] = labels
    rec = rec.sort_values(["cluster", "date_identified", "unique_id"], kind="stable")
    first = rec.drop_duplicates("cluster")[["cluster", "date_identified", "unique_id", *strata]]
    flags = pd.crosstab(rec["cluster"], rec["provider"]).clip(upper=1)
    flags = flags.reindex(columns=lists, fill_value=0).astype(np.int64)
    out = first.set_index("cluster").join(flags)
    out = out.sort_values([*strata, "date_identified", "unique_id"], kind="stable")
    out.insert(0, "person", [f"P{i + 1:06d}" for i in range(len(out))])
    out = out.reset_index(drop=True)[["person", *lists, *strata]]
    for s in strata:
        if pd.api.types.is_integer_dtype(out[s]):
            out[s] = out[s].astype(np.int64)
    return out
