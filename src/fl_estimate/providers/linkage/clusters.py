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
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "capture_histories",
    "cluster_labels",
    "generation_clusters",
    "pair_codes",
    "pairs_inside",
    "pairs_within",
    "split_clusters",
    "union_pairs",
]


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


def pair_codes(left: Any, right: Any, n: int) -> np.ndarray:
    """One int64 per pair of records, whichever record comes first: ``min * n + max`` (``n``:
    the number of records). Sets of pairs compare as arrays of these (``np.isin``,
    ``np.searchsorted``), with no Python object per pair.

    Examples
    --------
    >>> pair_codes([0, 3], [2, 1], 5).tolist()
    [2, 8]
    """
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    return np.minimum(left, right) * n + np.maximum(left, right)


def pairs_inside(labels: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The pairs of records inside a cluster of three or more records that are not among
    ``left``/``right`` (the pairs already scored): two columns, the smaller id first, sorted.

    A cluster closes links transitively: two of its records can be linked only through others,
    never compared with each other. Scoring these pairs too lets the clusters' ``cannot_link``
    constraint see two people joined through a third record that resembles both (a household
    member, a common name with an unknown date of birth).

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 1, 1])
    >>> pairs_inside(labels, np.array([0, 1, 3]), np.array([1, 2, 4])).tolist()
    [[0, 2]]
    """
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes[labels] >= 3)
    if not len(big):
        return np.zeros((0, 2), dtype=np.int64)
    order = big[np.argsort(labels[big], kind="stable")]
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    found = [np.array(np.triu_indices(len(g), 1)).T for g in groups]
    inside = np.concatenate([g[f] for g, f in zip(groups, found, strict=True)])
    inside = np.sort(inside, axis=1)
    # the scored pairs inside these clusters, as codes (a set of every scored pair, a Python
    # object each, held 3 GB at 1,000,000 records)
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    same = (labels[left] == labels[right]) & (sizes[labels[left]] >= 3)
    n = len(labels)
    seen = pair_codes(left[same], right[same], n)
    out = inside[~np.isin(pair_codes(inside[:, 0], inside[:, 1], n), seen)]
    return out[np.lexsort((out[:, 1], out[:, 0]))] if len(out) else out


def split_clusters(
    n: int,
    pairs: pd.DataFrame,
    deterministic_pairs: pd.DataFrame,
    threshold: float,
    *,
    provider: np.ndarray | None = None,
    no_dedupe: Sequence[str] = (),
    max_size: int | None = None,
    cannot_link: float | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Clusters of the links, and how many components had to be split.

    Components of the links (probabilistic at or above ``threshold``, and deterministic) are
    the clusters, except those larger than ``max_size``, holding two records of a provider in
    ``no_dedupe`` (``provider`` gives each record's) or holding two records the model found
    almost surely different (a scored pair with match probability below ``cannot_link``:
    linked to each other only through others, by transitivity). Those are rebuilt from their
    own links, strongest first (deterministic links, then by match weight), each link kept only
    if the cluster it makes breaks no constraint (Kruskal's order, as in single-linkage
    clustering with constraints; a deterministic link is kept whatever the model says of the
    other pairs). Labels are 0..k-1 in order of each cluster's first record.

    Returns
    -------
    labels : ndarray
    info : dict
        ``split_for_size``, ``split_for_no_dedupe``, ``split_for_conflict`` (components
        rebuilt for each reason) and ``links_dropped`` (links left out of the rebuilt clusters).

    Examples
    --------
    A chain 0-1-2-3 of decreasing strength, at most 2 records per cluster:

    >>> pairs = pd.DataFrame({"unique_id_l": [0, 1, 2], "unique_id_r": [1, 2, 3],
    ...                       "match_weight": [9.0, 5.0, 7.0], "match_probability": [0.99] * 3})
    >>> none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    >>> labels, info = split_clusters(4, pairs, none, 0.9, max_size=2)
    >>> labels.tolist(), info["split_for_size"], info["links_dropped"]
    ([0, 0, 1, 1], 1, 1)

    The same chain where the model finds records 0 and 3 almost surely different:

    >>> far = pd.concat([pairs, pd.DataFrame({"unique_id_l": [0], "unique_id_r": [3],
    ...                  "match_weight": [-20.0], "match_probability": [1e-6]})])
    >>> labels, info = split_clusters(4, far, none, 0.9, cannot_link=0.01)
    >>> labels.tolist(), info["split_for_conflict"], info["links_dropped"]
    ([0, 0, 1, 1], 1, 1)
    """
    prob = pairs["match_probability"].to_numpy(float) if len(pairs) else np.zeros(0)
    p = pairs[prob >= threshold]
    det_l = deterministic_pairs["unique_id_l"].to_numpy(np.int64)
    det_r = deterministic_pairs["unique_id_r"].to_numpy(np.int64)
    left = np.concatenate([det_l, p["unique_id_l"].to_numpy(np.int64)])
    right = np.concatenate([det_r, p["unique_id_r"].to_numpy(np.int64)])
    labels = union_pairs(n, left, right)
    info = {"split_for_size": 0, "split_for_no_dedupe": 0, "split_for_conflict": 0,
            "links_dropped": 0}  # fmt: skip
    blocked = set(no_dedupe) if provider is not None else set()
    far_l = far_r = np.zeros(0, np.int64)
    if cannot_link is not None and len(pairs):
        low = prob < cannot_link
        far_l = pairs["unique_id_l"].to_numpy(np.int64)[low]
        far_r = pairs["unique_id_r"].to_numpy(np.int64)[low]
        inside_far = labels[far_l] == labels[far_r]
        far_l, far_r = far_l[inside_far], far_r[inside_far]
    if max_size is None and not blocked and not len(far_l):
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
    conflict = np.isin(labels, labels[far_l])
    bad = too_big | clash | conflict
    if not bad.any():
        return _first_order(labels), info
    info["split_for_size"] = len(np.unique(labels[too_big]))
    info["split_for_no_dedupe"] = len(np.unique(labels[clash & ~too_big]))
    info["split_for_conflict"] = len(np.unique(labels[conflict & ~clash & ~too_big]))
    apart: dict[int, set[int]] = {}
    for a, b in zip(far_l.tolist(), far_r.tolist(), strict=True):
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    weight = np.concatenate([np.full(len(det_l), np.inf), p["match_weight"].to_numpy(float)])
    inside = bad[left] & bad[right]
    order = np.argsort(-weight[inside], kind="stable")
    el, er = left[inside][order], right[inside][order]
    parent = {int(i): int(i) for i in np.flatnonzero(bad)}
    size = dict.fromkeys(parent, 1)
    members = {i: [i] for i in parent}
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

    sure = np.isinf(weight[inside][order]).tolist()
    for a, b, det in zip(el.tolist(), er.tolist(), sure, strict=True):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        if (max_size is not None and size[ra] + size[rb] > max_size) or owned[ra] & owned[rb]:
            info["links_dropped"] += 1
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        if apart and not det and any(root(y) == ra for x in members[rb] for y in apart.get(x, ())):
            info["links_dropped"] += 1
            continue
        parent[rb] = ra
        size[ra] += size[rb]
        owned[ra] |= owned[rb]
        members[ra] += members.pop(rb)
    new = labels.astype(np.int64).copy()
    offset = int(labels.max()) + 1
    for i in parent:
        new[i] = offset + root(i)
    return _first_order(new), info


def pairs_within(frame: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """The pairs of ``frame`` with both records in ``[lo, hi)``, numbered from ``lo`` (the
    pairs of one generation of records, numbered as its own)."""
    left = frame["unique_id_l"].to_numpy(np.int64)
    right = frame["unique_id_r"].to_numpy(np.int64)
    keep = (left >= lo) & (left < hi) & (right >= lo) & (right < hi)
    if lo == 0 and keep.all():
        return frame  # every pair, numbered as they are: no copy (the pairs of a whole linkage)
    out = frame[keep].copy()
    out["unique_id_l"] = left[keep] - lo
    out["unique_id_r"] = right[keep] - lo
    return out


def _reaching_back(
    frame: pd.DataFrame, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which pairs of ``frame`` join a record before ``lo`` to one in ``[lo, hi)`` (a mask), and
    their earlier and later records."""
    a = frame["unique_id_l"].to_numpy(np.int64)
    b = frame["unique_id_r"].to_numpy(np.int64)
    early, late = np.minimum(a, b), np.maximum(a, b)
    keep = (early < lo) & (late >= lo) & (late < hi)
    return keep, early[keep], late[keep]


def generation_clusters(
    n: int,
    pairs: pd.DataFrame,
    deterministic_pairs: pd.DataFrame,
    threshold: float | Sequence[float],
    starts: Sequence[int],
    *,
    provider: np.ndarray | None = None,
    no_dedupe: Sequence[str] = (),
    max_size: int | None = None,
    cannot_link: float | None = None,
) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """Clusters of records linked in generations, each earlier one held as it was.

    ``threshold``: one for every generation, or one per generation (the first, then one per
    entry of ``starts``): a generation's links, among its records and back to earlier ones,
    are those at or above its own.

    Records ``0..starts[0]-1`` are the first generation (linked together once), records
    ``starts[0]..starts[1]-1`` the second (added later), and so on. Each generation's clusters
    are made from its own links alone (:func:`split_clusters`), so the clusters of the earlier
    generations are exactly those they had before the later records came. A cluster of a later
    generation with a link (at or above ``threshold``, or deterministic) to an earlier record is
    a person found again: it joins the earlier cluster of its strongest such link (deterministic
    first, then by match weight; never one that would hold two records of a ``no_dedupe``
    provider, nor, through a probabilistic link, one holding a record that the model scored
    below ``cannot_link`` with a record of the new cluster) and its records are not *counted*
    (they change neither the earlier person's capture history nor its stratum: see
    :func:`capture_histories`). Two earlier clusters are
    never merged.

    Returns
    -------
    labels : ndarray
        0..k-1 in order of each cluster's first record.
    info : dict
        As :func:`split_clusters`, summed over generations.
    counted : ndarray of bool
        False for the records of clusters found again.

    Examples
    --------
    Records 0-1 are the first generation; 2 (linked to 1) and 3 come later:

    >>> pairs = pd.DataFrame({"unique_id_l": [0, 1], "unique_id_r": [1, 2],
    ...                       "match_weight": [9.0, 8.0], "match_probability": [0.99, 0.98]})
    >>> none = pd.DataFrame({"unique_id_l": [], "unique_id_r": []})
    >>> labels, _, counted = generation_clusters(4, pairs, none, 0.9, [2])
    >>> labels.tolist(), counted.tolist()
    ([0, 0, 0, 1], [True, True, False, True])
    """
    bounds = [0, *[int(s) for s in starts], n]
    thresholds = (
        [float(threshold)] * (len(bounds) - 1)
        if isinstance(threshold, int | float)
        else [float(t) for t in threshold]
    )
    if len(thresholds) != len(bounds) - 1:
        raise ValueError(f"{len(thresholds)} thresholds for {len(bounds) - 1} generations")
    prov = np.asarray(provider, dtype=object) if provider is not None else None
    blocked = set(no_dedupe) if prov is not None else set()
    prob = pairs["match_probability"].to_numpy(float)
    labels = np.zeros(n, dtype=np.int64)
    counted = np.ones(n, dtype=bool)
    info = {"split_for_size": 0, "split_for_no_dedupe": 0, "split_for_conflict": 0,
            "links_dropped": 0}  # fmt: skip
    offset = 0
    for (lo, hi), thr in zip(pairwise(bounds), thresholds, strict=True):
        if hi <= lo:
            continue
        p = pairs[prob >= thr]
        scored = p if cannot_link is None else pairs[(prob >= thr) | (prob < cannot_link)]
        own, more = split_clusters(
            hi - lo,
            pairs_within(scored, lo, hi),
            pairs_within(deterministic_pairs, lo, hi),
            thr,
            provider=None if prov is None else prov[lo:hi],
            no_dedupe=no_dedupe,
            max_size=max_size,
            cannot_link=cannot_link,
        )
        info = {k: info[k] + more[k] for k in info}
        # links back to earlier records, strongest first (deterministic ones are certain)
        _, det_e, det_l = _reaching_back(deterministic_pairs, lo, hi)
        back, prob_e, prob_l = _reaching_back(p, lo, hi)
        weight = np.concatenate(
            [np.full(len(det_e), np.inf), p["match_weight"].to_numpy(float)[back]]
        )
        early = np.concatenate([det_e, prob_e])
        late = np.concatenate([det_l, prob_l])
        order = np.lexsort((late, early, -weight))
        # candidates joining an earlier person and a new cluster that hold a pair the model
        # found almost surely different (codes of the two labels; a deterministic link joins
        # them whatever the model says)
        early, late, weight = early[order], late[order], weight[order]
        width = int(own.max()) + 1
        refused = np.zeros(len(early), dtype=bool)
        if cannot_link is not None and len(early):
            _, low_e, low_l = _reaching_back(pairs[prob < cannot_link], lo, hi)
            low = labels[low_e] * width + own[low_l - lo]
            refused = np.isin(labels[early] * width + own[late - lo], low) & (weight != np.inf)
        joined: dict[int, int] = {}
        for e, lt, no in zip(early.tolist(), late.tolist(), refused.tolist(), strict=True):
            cluster = int(own[lt - lo])
            if cluster in joined or no:
                continue
            if blocked:
                assert prov is not None
                mine = set(prov[lo:hi][own == cluster]) & blocked
                theirs = set(prov[:lo][labels[:lo] == labels[e]]) & blocked
                if mine & theirs:
                    continue
            joined[cluster] = int(labels[e])
        found = np.array([joined.get(int(c), -1) for c in own], dtype=np.int64)
        again = found >= 0
        labels[lo:hi] = np.where(again, found, offset + own)
        counted[lo:hi] = ~again
        offset = max(offset + int(own.max()) + 1, int(labels[:hi].max()) + 1)
    return _first_order(labels), info, counted


def _first_order(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of each cluster's first record."""
    return pd.factorize(labels)[0].astype(np.int64)


def capture_histories(
    records: pd.DataFrame,
    labels: np.ndarray,
    *,
    strata: Sequence[str],
    lists: Sequence[str],
    counted: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per cluster: ``person``, 0/1 per list (provider), and the stratum columns.

    A person's stratum is that of their earliest identification (ties: first record); persons
    are numbered ``P000001...`` in stratum, date and record order. ``counted`` (boolean per
    record, default all): the records that make the histories; the others (records of a later
    generation finding an earlier person again, :func:`generation_clusters`) are left out.
    """
    strata, lists = list(strata), list(lists)
    rec = records[["unique_id", "provider", "date_identified", *strata]].copy()
    rec["cluster"] = labels
    if counted is not None:
        rec = rec[np.asarray(counted, dtype=bool)]
    rec = rec.sort_values(["cluster", "date_identified", "unique_id"], kind="stable")
    first = rec.drop_duplicates("cluster")[["cluster", "date_identified", "unique_id", *strata]]
    # 0/1 per cluster and list (pd.crosstab did this ten times slower; it is made once per
    # threshold of the sensitivity table and for every output of the linkage)
    cluster_code, clusters = pd.factorize(rec["cluster"], sort=True)
    list_code = pd.Categorical(rec["provider"], categories=lists).codes
    on = list_code >= 0
    marks = np.zeros((len(clusters), len(lists)), dtype=np.int64)
    marks[cluster_code[on], list_code[on]] = 1
    flags = pd.DataFrame(marks, index=pd.Index(clusters, name="cluster"), columns=lists)
    out = first.set_index("cluster").join(flags)
    out = out.sort_values([*strata, "date_identified", "unique_id"], kind="stable")
    out.insert(0, "person", [f"P{i + 1:06d}" for i in range(len(out))])
    out = out.reset_index(drop=True)[["person", *lists, *strata]]
    for s in strata:
        if pd.api.types.is_integer_dtype(out[s]):
            out[s] = out[s].astype(np.int64)
    return out
