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
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["capture_histories", "cluster_labels", "split_clusters", "union_pairs"]


def union_pairs(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of each of ``n`` records linked by ``left[i]-right[i]``."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def cluster_labels(
    n: int, pairs: pd.DataFrame, deterministic_pairs: pd.DataFrame, threshold: float, **kw: Any
) -> np.ndarray:
    """Cluster of each record: components of the pairs with ``match_probability >= threshold``
    and of every deterministic pair, split where they break a constraint (``provider``,
    ``no_dedupe``, ``max_size``: see :func:`split_clusters`)."""
    return split_clusters(n, pairs, deterministic_pairs, threshold, **kw)[0]


def split_clusters(
    n: int,
    pairs: pd.DataFrame,
    deterministic_pairs: pd.DataFrame,
    threshold: float,
    *,
    provider: np.ndarray | None = None,
    no_dedupe: Sequence[str] = (),
    max_size: int | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Clusters of the links, and how many components had to be split.

    Components of the links (probabilistic at or above ``threshold``, and deterministic) are
    the clusters, except those larger than ``max_size`` or holding two records of a provider in
    ``no_dedupe`` (``provider`` gives each record's). Those are rebuilt from their own links,
    strongest first (deterministic links, then by match weight), each link kept only if the
    cluster it makes breaks neither constraint (Kruskal's order, as in single-linkage
    clustering with constraints). Labels are 0..k-1 in order of each cluster's first record.

    Returns
    -------
    labels : ndarray
    info : dict
        ``split_for_size``, ``split_for_no_dedupe`` (components rebuilt for each reason) and
        ``links_dropped`` (links left out of the rebuilt clusters).

    Examples
    --------
    A chain 0-1-2-3 of decreasing strength, at most 2 records per cluster:

    >>> pairs = pd.DataFrame({"unique_id_l": [0, 1, 2], "unique_id_r": [1, 2, 3],
    ...                       "match_weight": [9.0, 5.0, 7.0], "match_probability": [0.99] * 3})
    >>> none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    >>> labels, info = split_clusters(4, pairs, none, 0.9, max_size=2)
    >>> labels.tolist(), info["split_for_size"], info["links_dropped"]
    ([0, 0, 1, 1], 1, 1)
    """
    p = pairs[pairs["match_probability"] >= threshold]
    det_l = deterministic_pairs["unique_id_l"].to_numpy(np.int64)
    det_r = deterministic_pairs["unique_id_r"].to_numpy(np.int64)
    left = np.concatenate([det_l, p["unique_id_l"].to_numpy(np.int64)])
    right = np.concatenate([det_r, p["unique_id_r"].to_numpy(np.int64)])
    labels = union_pairs(n, left, right)
    info = {"split_for_size": 0, "split_for_no_dedupe": 0, "links_dropped": 0}
    blocked = set(no_dedupe) if provider is not None else set()
    if max_size is None and not blocked:
        return _first_order(labels), info
    sizes = np.bincount(labels)
    too_big = sizes[labels] > max_size if max_size is not None else np.zeros(n, bool)
    clash = np.zeros(n, bool)
    if blocked:
        assert provider is not None
        prov = np.asarray(provider, dtype=object)
        mine = np.isin(prov, list(blocked))
        if mine.any():
            tab = pd.DataFrame({"c": labels[mine], "p": prov[mine]})
            dup = tab.duplicated(["c", "p"])
            clash = np.isin(labels, tab.loc[dup, "c"].unique())
    bad = too_big | clash
    if not bad.any():
        return _first_order(labels), info
    info["split_for_size"] = len(np.unique(labels[too_big]))
    info["split_for_no_dedupe"] = len(np.unique(labels[clash & ~too_big]))
    weight = np.concatenate([np.full(len(det_l), np.inf), p["match_weight"].to_numpy(float)])
    inside = bad[left] & bad[right]
    order = np.argsort(-weight[inside], kind="stable")
    el, er = left[inside][order], right[inside][order]
    parent = {int(i): int(i) for i in np.flatnonzero(bad)}
    size = dict.fromkeys(parent, 1)
    prov_of = np.asarray(provider, dtype=object) if provider is not None else None
    owned: dict[int, set[str]] = {
        i: ({str(prov_of[i])} if prov_of is not None and str(prov_of[i]) in blocked else set())
        for i in parent
    }  # fmt: skip

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(el.tolist(), er.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if (max_size is not None and size[ra] + size[rb] > max_size) or owned[ra] & owned[rb]:
            info["links_dropped"] += 1
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        owned[ra] |= owned[rb]
    new = labels.astype(np.int64).copy()
    offset = int(labels.max()) + 1
    for i in parent:
        new[i] = offset + root(i)
    return _first_order(new), info


def _first_order(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of each cluster's first record."""
    return pd.factorize(labels)[0].astype(np.int64)


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
