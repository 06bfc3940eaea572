"""The result of a linkage: scored pairs, deterministic links, the persons they make, the report.

Examples
--------
The deterministic rules alone (exact keyed tokens; fast) on the sample country's 2023 files:

>>> from pathlib import Path
>>> from fl_estimate.providers import Pseudonymiser, RecordLinker, load_submissions
>>> from fl_estimate.providers import prepare_records
>>> files = sorted(Path("data_samples/country/submissions").glob("*2023*"))  # 2023 files
>>> key = Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> records = prepare_records(load_submissions(files).records(), key)
>>> result = RecordLinker(method="deterministic").fit(records)
>>> report = result.report()
>>> report["records"], report["persons"], report["links_deterministic"]
(1031, 739, 356)
>>> result.capture_data(strata=None)
CaptureData(lists=['courts', 'gendarmerie', 'iom', 'ngo', 'police', 'social_services'], observed=739, patterns=43)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.providers.linkage.clusters import capture_histories, cluster_labels
from fl_estimate.providers.pseudonymise import KEY_COLUMNS

__all__ = ["LinkageResult", "match_weight_histogram", "model_summary"]


@dataclass(frozen=True, eq=False)
class LinkageResult:
    """Scored pairs, deterministic links and the clusters (persons) they make.

    Attributes
    ----------
    records : DataFrame
        The prepared (pseudonymised) records. Confidential: holds keyed tokens.
    pairs : DataFrame
        Every pair compared by the model: ``unique_id_l, unique_id_r, match_weight,
        match_probability``.
    deterministic_pairs : DataFrame
        ``unique_id_l, unique_id_r, rule`` linked by the deterministic rules.
    threshold : float
        Default match-probability threshold.
    method : str
    model : dict
        splink model (m and u probabilities; no data).
    settings : dict
    """

    records: pd.DataFrame
    pairs: pd.DataFrame
    deterministic_pairs: pd.DataFrame
    threshold: float
    method: str
    model: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def clusters(self, threshold: float | None = None) -> np.ndarray:
        """Cluster label of each record (connected components of links >= threshold)."""
        thr = self.threshold if threshold is None else threshold
        return cluster_labels(len(self.records), self.pairs, self.deterministic_pairs, thr)

    @property
    def providers(self) -> list[str]:
        """Providers in order of appearance in the records."""
        return list(dict.fromkeys(self.records["provider"]))

    def capture_histories(
        self,
        threshold: float | None = None,
        *,
        strata: Sequence[str] = ("region", "year"),
        lists: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """One row per linked person: ``person``, 0/1 per provider list, and the stratum columns.

        A person's stratum is that of their earliest identification (ties: first record). Ready
        for ``CaptureData.from_records(df, lists=lists, strata=strata)``.
        """
        lists = list(lists) if lists is not None else self.providers
        unknown = sorted(set(self.records["provider"]) - set(lists))
        if unknown:
            raise ModelSpecificationError(f"providers {unknown} are not among the lists {lists}")
        strata = list(strata)
        missing = [s for s in strata if s not in self.records]
        if missing:
            raise ModelSpecificationError(f"stratum columns {missing} not in the records")
        return capture_histories(self.records, self.clusters(threshold), strata=strata, lists=lists)

    def capture_data(
        self,
        threshold: float | None = None,
        *,
        strata: Sequence[str] | None = ("region", "year"),
        lists: Sequence[str] | None = None,
    ) -> CaptureData | StratifiedCaptureData:
        """The capture data of :meth:`capture_histories` (stratified unless ``strata`` is empty)."""
        hist = self.capture_histories(threshold, strata=strata or (), lists=lists)
        names = [c for c in hist.columns if c not in ("person", *(strata or ()))]
        return CaptureData.from_records(
            hist.drop(columns="person"), lists=names, strata=list(strata) if strata else None
        )

    def report(self, threshold: float | None = None) -> dict[str, Any]:
        """Linkage report (counts only; no identifiers and no tokens).

        Keys: ``method, threshold, records, records_by_provider, unlinkable_records,
        pairs_compared, links_probabilistic, links_deterministic, match_weight_histogram``
        (bins of width 2 from -30 to 30, open-ended beyond), ``persons, cluster_sizes,
        duplicates_removed`` (within-provider, by provider), ``clusters_spanning_strata, model``
        (m and u probabilities per comparison level) and ``training_notes``.
        """
        thr = self.threshold if threshold is None else threshold
        labels = self.clusters(thr)
        rec = self.records
        by_cluster_provider = pd.DataFrame({"c": labels, "p": rec["provider"].to_numpy()})
        distinct = by_cluster_provider.drop_duplicates()
        dup = (by_cluster_provider.groupby("p").size() - distinct.groupby("p").size()).astype(int)
        sizes = pd.Series(labels).value_counts().value_counts().sort_index()
        keys = rec[[c for c in KEY_COLUMNS]].notna().any(axis=1) | (rec["bloom_n"] > 0)
        span = 0
        if "region" in rec and "year" in rec:
            tmp = pd.DataFrame({"c": labels, "r": rec["region"], "y": rec["year"]})
            span = int((tmp.groupby("c")[["r", "y"]].nunique() > 1).any(axis=1).sum())
        return {
            "method": self.method,
            "threshold": thr,
            "records": len(rec),
            "records_by_provider": {
                str(k): int(v) for k, v in rec["provider"].value_counts().sort_index().items()
            },
            "unlinkable_records": int((~keys).sum()),
            "pairs_compared": len(self.pairs),
            "links_probabilistic": int((self.pairs["match_probability"] >= thr).sum()),
            "links_deterministic": len(self.deterministic_pairs),
            "match_weight_histogram": match_weight_histogram(
                self.pairs["match_weight"].to_numpy(float)
            ),
            "persons": len(np.unique(labels)),
            "cluster_sizes": dict(zip(sizes.index.tolist(), sizes.tolist(), strict=True)),
            "duplicates_removed": {str(k): int(v) for k, v in dup.sort_index().items()},
            "clusters_spanning_strata": span,
            "model": model_summary(self.model),
            "training_notes": list(self.model.get("fl_estimate_training_notes", [])),
        }


def match_weight_histogram(weights: np.ndarray) -> list[dict[str, Any]]:
    """Pairs by match weight: bins of width 2 from -30 to 30, open-ended beyond (``None``).

    >>> [b for b in match_weight_histogram(np.array([-40.0, 1.0, 1.5, 35.0])) if b["pairs"]]
    [{'from': None, 'to': -30.0, 'pairs': 1}, {'from': 0.0, 'to': 2.0, 'pairs': 2}, {'from': 30.0, 'to': None, 'pairs': 1}]
    """
    if not len(weights):
        return []
    inner = np.arange(-30.0, 30.0 + 1e-9, 2.0)  # open-ended bins beyond +-30
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    counts, _ = np.histogram(weights, bins=edges)
    return [
        {
            "from": None if not np.isfinite(a) else float(a),
            "to": None if not np.isfinite(b) else float(b),
            "pairs": int(c),
        }
        for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def model_summary(model: dict[str, Any]) -> list[dict[str, Any]]:
    """m and u probabilities per comparison level of a splink model (null levels left out)."""
    out = []
    for comp in model.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            out.append(
                {
                    "comparison": comp.get("output_column_name"),
                    "level": level.get("label_for_charts"),
                    "m": level.get("m_probability"),
                    "u": level.get("u_probability"),
                }
            )
    return out
