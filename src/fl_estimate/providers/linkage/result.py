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
(1031, 749, 329)
>>> result.capture_data(strata=None)
CaptureData(lists=['courts', 'gendarmerie', 'iom', 'ngo', 'police', 'social_services'], observed=749, patterns=41)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import LinkageWarning, ModelSpecificationError
from fl_estimate.i18n import N_, Message, join_semicolons
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.providers.linkage.clusters import (
    capture_histories,
    generation_clusters,
    split_clusters,
)
from fl_estimate.providers.linkage.prepare import BLOOM_COLUMNS
from fl_estimate.providers.linkage.words import level_message, linkage_message
from fl_estimate.providers.pseudonymise import KEY_COLUMNS, bloom_dice

__all__ = [
    "DEFAULT_THRESHOLD",
    "MIN_DATA_THRESHOLD",
    "PRIOR_MOVE_FACTOR",
    "PUBLISHED_WARNINGS",
    "THRESHOLD_SHARE",
    "LinkageResult",
    "match_weight_histogram",
    "model_summary",
    "published_warning",
    "threshold_from_probabilities",
]

#: Persons found at the threshold and at the data-driven threshold differing by more than this
#: share is a warning (``threshold-sensitive``).
THRESHOLD_SHARE = 0.02
#: Blocking refinements that can leave true pairs uncompared on real data (the synthetic countries
#: have no such pairs: each person is identified in one year, a guessed year of birth is guessed
#: once): a rule refined with one of them is a warning (``blocking-refined``).
LOSSY_REFINEMENTS = frozenset({"year", "key_yob?"})
#: Warning codes kept to the reports (not raised as Python warnings by ``fit``).
REPORT_ONLY = frozenset({"m-prior", "u-fallback"})
#: An EM session's status in words (the training record keeps the code).
_SESSION_STATUS = {"skipped": N_("skipped"), "failed": N_("failed")}
#: The fitted prior is reported as having moved when it differs from the counted one by more
#: than this factor (either way).
PRIOR_MOVE_FACTOR = 4.0
#: The lowest threshold :meth:`LinkageResult.data_threshold` gives. Not 0.5: in name-dense
#: countries of 100,000 records, where many true pairs are scored 0.3-0.5 (a common name, no
#: date of birth), the balanced threshold lay near 0.36; clipped at 0.5 the persons were
#: over-counted by 5% and N-hat by 23%, at 0.36 by 3.4% and 14%, with the same pairwise F1
#: (0.916 and 0.918: with calibrated probabilities the best F1 is reached near half the F1
#: itself, ``benchmarks/linkage.py``, sahel, seed 5101). A link less likely than this is never
#: made.
MIN_DATA_THRESHOLD = 0.3
#: The default match threshold of :class:`~fl_estimate.providers.linkage.RecordLinker` and of a
#: ``[linkage]`` config. Fixed, not the data-driven balance: the balance counts pairs, but a
#: person is a cluster, and a missed pair inside a cluster joined by its other links costs
#: nothing, so the balanced threshold (0.5-0.6 on countries of 500 records) leaves persons
#: split and N-hat too high; on the synthetic countries the pairs scored 0.3-0.5 were also
#: true matches more often than their probabilities say (58% at 500 records). Over 30 fresh
#: countries of each small profile (seeds 14801-14830, ``benchmarks/linkage_oracle.py --pool``)
#: 0.3 gave mean N-hat within 2.4% of the true histories' on every profile, the data-driven one
#: 2.1-4.1% (``benchmarks/results/linkage_oracle_pooled_small_seeds14801-14830.txt``); at 100,000
#: records the data-driven one is 0.32-0.38 and 0.3 is at least as good (docs/providers.md, "What
#: N-hat can reach, and the threshold").
DEFAULT_THRESHOLD = 0.3

#: The publishable text of each warning code (:meth:`LinkageResult.warnings`,
#: :func:`fl_estimate.pipeline.linkage_sensitivity.sensitivity_warnings`): no count, so that the
#: annual report can say it whatever the disclosure threshold; the full texts, with counts, stay
#: in the internal linkage report.
PUBLISHED_WARNINGS: dict[str, Message] = {
    "em-session": N_(
        "Linkage: a training session of the linkage model was skipped, failed or trained on a "
        "fallback (the internal linkage report says which and why)."
    ),
    "m-prior": N_(
        "Linkage: some match probabilities (m) of the linkage model could not be trained on "
        "these records and were set from documented priors."
    ),
    "u-fallback": N_(
        "Linkage: some chance-agreement probabilities (u) of the linkage model were not seen in "
        "the random sample of pairs and were set from a fallback."
    ),
    "prior-moved": N_(
        "Linkage: the fitted probability that two records match differs strongly from the one "
        "counted from near-certain agreements; the linkage model may be wrong."
    ),
    "cluster-split": N_(
        "Linkage: some persons joined more records than the cluster-size limit and were split: "
        "chains of links through namesakes or household members are likely; check the match "
        "threshold."
    ),
    "no-dedupe-split": N_(
        "Linkage: some persons were split so that no two records of a provider whose "
        "de-duplication is switched off are merged."
    ),
    "threshold-sensitive": N_(
        "Linkage: the persons found at the match threshold and at the data-driven threshold "
        "differ by more than the accepted share: the count of persons, and N-hat, depend on the "
        "threshold."
    ),
    "blocking-refined": N_(
        "Linkage: to keep the number of pairs compared within its budget, some blocking rules "
        "were narrowed in a way that can leave records of one person, identified in different "
        "years or with differently guessed years of birth, unlinked; persons may be "
        "over-counted."
    ),
    "clusters-span-strata": N_(
        "Linkage: some persons have records in more than one stratum (region or year); each is "
        "counted in the stratum of their first identification."
    ),
    "threshold-persons": N_(
        "Linkage: the persons found move by more than the accepted share across the plausible "
        "match thresholds."
    ),
    "threshold-n-hat": N_(
        "Linkage: N-hat moves by more than the accepted share across the plausible match "
        "thresholds: the linkage decides the estimate; compare the estimates at the default and "
        "the data-driven thresholds."
    ),
}


def published_warning(code: str) -> Message:
    """The publishable, count-free text of a linkage warning code (:data:`PUBLISHED_WARNINGS`).

    Examples
    --------
    >>> str(published_warning("m-prior"))[:37]
    'Linkage: some match probabilities (m)'
    >>> str(published_warning("new-code"))
    'Linkage: warning new-code (see the internal linkage report).'
    """
    found = PUBLISHED_WARNINGS.get(code)
    if found is not None:
        return found
    return N_("Linkage: warning {code} (see the internal linkage report).", code=code)


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
        splink model (m and u probabilities; no data), with how each was obtained
        (``fl_estimate_training``).
    settings : dict
    max_cluster_size : int or None
        Clusters larger than this are split, weakest links first.
    no_dedupe : tuple of str
        Providers whose records are never merged with each other.
    cannot_link : float or None
        Two records whose scored pair has a match probability below this are never put in one
        cluster through other links (see :func:`.clusters.split_clusters`). ``None``: no such
        constraint.
    generations : tuple of int
        Where each later generation of records starts (empty: the records were linked
        together once). A linkage extended with new records
        (:func:`fl_estimate.providers.linkage.incremental.extend_linkage`) holds the earlier
        records' persons as they were: see :func:`.clusters.generation_clusters`.
    generation_thresholds : tuple of float
        The default threshold of each later generation (one per entry of ``generations``;
        empty: ``threshold`` for all). ``threshold`` is the first generation's. An explicit
        threshold (``clusters(0.9)``, :meth:`with_threshold`) applies to every generation.
    """

    records: pd.DataFrame
    pairs: pd.DataFrame
    deterministic_pairs: pd.DataFrame
    threshold: float
    method: str
    model: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    max_cluster_size: int | None = None
    no_dedupe: tuple[str, ...] = ()
    cannot_link: float | None = None
    generations: tuple[int, ...] = ()
    generation_thresholds: tuple[float, ...] = ()
    _cache: dict[Any, tuple[np.ndarray, dict[str, int], np.ndarray | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    def with_threshold(self, threshold: float) -> LinkageResult:
        """The same linkage with another default threshold (for every generation)."""
        return dataclasses.replace(self, threshold=float(threshold), generation_thresholds=())

    def thresholds(self) -> list[float]:
        """The default threshold of each generation of records (one entry without
        ``generations``)."""
        later = list(self.generation_thresholds) or [self.threshold] * len(self.generations)
        return [self.threshold, *later]

    def pair_thresholds(self, threshold: float | None, later: np.ndarray) -> np.ndarray | float:
        """The threshold a pair is linked at, for pairs whose later record is ``later``: the
        given one, or (``None``) the default of that record's generation (one number when all
        generations share it)."""
        if threshold is not None:
            return float(threshold)
        if len(set(self.thresholds())) == 1:
            return self.threshold
        cuts = np.asarray(self.generations, dtype=np.int64)
        gen = np.searchsorted(cuts, np.asarray(later, dtype=np.int64), side="right")
        return np.asarray(self.thresholds(), dtype=float)[gen]

    def _clusters(self, threshold: float | None) -> tuple[np.ndarray, dict[str, int]]:
        labels, info, _ = self._linked(threshold)
        return labels, info

    def _linked(
        self, threshold: float | None
    ) -> tuple[np.ndarray, dict[str, int], np.ndarray | None]:
        """Labels, split counts and the counted records (None: all) at a threshold."""
        thr: Any = self.threshold if threshold is None else float(threshold)
        if threshold is None and self.generation_thresholds:
            thr = tuple(self.thresholds())
        if thr not in self._cache:
            args = (len(self.records), self.pairs, self.deterministic_pairs, thr)
            kw: dict[str, Any] = {
                "provider": self.records["provider"].to_numpy(),
                "no_dedupe": self.no_dedupe,
                "max_size": self.max_cluster_size,
                "cannot_link": self.cannot_link,
            }
            if self.generations:
                self._cache[thr] = generation_clusters(*args, self.generations, **kw)
            else:
                self._cache[thr] = (*split_clusters(*args, **kw), None)
        return self._cache[thr]

    def counted(self, threshold: float | None = None) -> np.ndarray:
        """Whether each record makes its person's capture history: all of them, except records
        of a later generation that found a person of an earlier one again (see
        ``generations``)."""
        found = self._linked(threshold)[2]
        return np.ones(len(self.records), dtype=bool) if found is None else found

    def clusters(self, threshold: float | None = None) -> np.ndarray:
        """Cluster label of each record (connected components of links >= threshold, split
        where larger than ``max_cluster_size`` or merging records of a ``no_dedupe`` provider)."""
        return self._clusters(threshold)[0]

    @property
    def providers(self) -> list[str]:
        """Providers in order of appearance in the records."""
        return list(dict.fromkeys(self.records["provider"]))

    def data_threshold(self, kind: str = "balanced", *, false_rate: float = 0.01) -> float:
        """A match threshold chosen from the fitted match probabilities.

        Parameters
        ----------
        kind : {"balanced", "false-rate"}
            ``balanced``: the threshold at which the expected number of false links among the
            links equals the expected number of true matches left unlinked, so that the count
            of links, and so of persons, is right on average:
            ``sum over p >= t of (1 - p) = sum over p < t of p``. ``false-rate``: the lowest
            threshold at which the expected share of false links among the links,
            ``mean over p >= t of (1 - p)``, is at most ``false_rate``.
        false_rate : float

        Returns
        -------
        float
            Never below :data:`MIN_DATA_THRESHOLD` (0.3) nor above 0.999. Both rest on the
            model's probabilities being calibrated. A balanced threshold below 0.5 links pairs
            more likely different than the same: each such link is more often false than true,
            but leaving them all out misses more true links than the false ones it avoids, and
            the count of persons (and N-hat, which each missed link between providers raises)
            is right only when the two balance.
        """
        got = threshold_from_probabilities(
            self.pairs["match_probability"].to_numpy(float), kind, false_rate
        )
        return self.threshold if got is None else got

    def estimated_quality(self, threshold: float | None = None) -> dict[str, float | None]:
        """Pairwise precision and recall of the links, estimated from the match probabilities.

        Every scored pair is a match with its match probability, every deterministic link with
        probability 1 (a pair both scored and linked by a rule counts once, as certain). With
        :math:`L` the pairs linked at ``threshold`` (probability at or above it, or a rule):

        .. math::

            \\widehat{\\text{precision}} = \\frac{1}{|L|}\\sum_{L} p, \\qquad
            \\widehat{\\text{recall}} = \\frac{\\sum_{L} p}{\\sum_{\\text{all}} p}.

        Both are pairwise (before the links are closed into persons) and rest on the model's
        probabilities being calibrated; matches in no compared pair are not counted.

        Returns
        -------
        dict
            ``{"precision", "recall"}``, None when there is no link (precision) or no likely
            match (recall).

        Examples
        --------
        >>> import pandas as pd
        >>> pairs = pd.DataFrame({"unique_id_l": [0, 0, 1], "unique_id_r": [1, 2, 2],
        ...                       "match_weight": 0.0, "match_probability": [0.99, 0.95, 0.5]})
        >>> none = pd.DataFrame(columns=["unique_id_l", "unique_id_r", "rule"])
        >>> res = LinkageResult(pd.DataFrame({"provider": ["a", "b", "c"]}), pairs, none, 0.9,
        ...                     "probabilistic")
        >>> {k: round(v, 3) for k, v in res.estimated_quality().items()}
        {'precision': 0.97, 'recall': 0.795}
        """
        # the largest probability of each distinct pair (a rule's link: 1), in the order of the
        # pair, on int64 codes of the pairs: a pandas groupby over every scored pair held about
        # ten times their memory (issue 21)
        left = np.concatenate(
            [
                self.pairs["unique_id_l"].to_numpy(np.int64),
                self.deterministic_pairs["unique_id_l"].to_numpy(np.int64),
            ]
        )
        right = np.concatenate(
            [
                self.pairs["unique_id_r"].to_numpy(np.int64),
                self.deterministic_pairs["unique_id_r"].to_numpy(np.int64),
            ]
        )
        p = np.concatenate([self.pairs["match_probability"].to_numpy(float),
                            np.ones(len(self.deterministic_pairs))])  # fmt: skip
        width = int(max(left.max(initial=0), right.max(initial=0))) + 1
        code = np.minimum(left, right) * width + np.maximum(left, right)
        del left, right
        order = np.lexsort((p, code))
        code, p = code[order], p[order]
        del order
        last = np.r_[code[1:] != code[:-1], True] if len(code) else np.zeros(0, dtype=bool)
        p, code = p[last], code[last]
        linked = p[p >= self.pair_thresholds(threshold, code % width)]
        total = float(p.sum())
        return {
            "precision": float(linked.mean()) if len(linked) else None,
            "recall": float(linked.sum()) / total if total > 0 else None,
        }

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
            raise ModelSpecificationError(
                N_(
                    "providers {unknown} are not among the lists {lists}",
                    unknown=unknown,
                    lists=lists,
                )
            )
        strata = list(strata)
        missing = [s for s in strata if s not in self.records]
        if missing:
            raise ModelSpecificationError(
                N_("stratum columns {missing} not in the records", missing=missing)
            )
        labels, _, counted = self._linked(threshold)
        return capture_histories(self.records, labels, strata=strata, lists=lists, counted=counted)

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

    @property
    def training(self) -> dict[str, Any]:
        """How each model parameter was obtained (see :class:`.training.Training`)."""
        return dict(self.model.get("fl_estimate_training", {}))

    def within_provider_merges(self, threshold: float | None = None) -> pd.DataFrame:
        """Pairs of records of one provider merged into one person, with the evidence.

        Returns
        -------
        DataFrame
            One row per pair of same-provider records in a cluster: ``provider, source_l,
            record_id_l, source_r, record_id_r`` (the provider's own record numbers, so it can
            check them), ``link`` (``deterministic: <rule>``, ``probabilistic`` or ``through
            other records`` when the two were joined only by links to other records),
            ``match_weight, match_probability`` (of the direct comparison, when there was
            one), ``name_dice`` (similarity of the keyed name Bloom filters) and ``agree``
            (the keyed fields that agree: ``name, given, family, dob, yob, doc, phone,
            sex, region``). Tokens and names never appear.
        """
        labels = self.clusters(threshold)
        rec = self.records
        frame = pd.DataFrame(
            {"c": labels, "p": rec["provider"].to_numpy(), "u": rec["unique_id"].to_numpy()}
        )
        frame = frame[frame.duplicated(["c", "p"], keep=False)]
        cols = ["provider", "source_l", "record_id_l", "source_r", "record_id_r", "link",
                "match_weight", "match_probability", "name_dice", "agree"]  # fmt: skip
        if frame.empty:
            return pd.DataFrame(columns=cols)
        pairs = frame.merge(frame, on=["c", "p"], suffixes=("_l", "_r"))
        pairs = pairs[pairs["u_l"] < pairs["u_r"]]
        left, right = pairs["u_l"].to_numpy(np.int64), pairs["u_r"].to_numpy(np.int64)
        scored = self.pairs.set_index(["unique_id_l", "unique_id_r"])
        key = pd.MultiIndex.from_arrays([left, right])
        hit = scored.reindex(key)
        det = self.deterministic_pairs
        det_l = det["unique_id_l"].to_numpy(np.int64)
        det_r = det["unique_id_r"].to_numpy(np.int64)
        det_rule = pd.Series(
            det["rule"].to_numpy(),
            index=pd.MultiIndex.from_arrays([np.minimum(det_l, det_r), np.maximum(det_l, det_r)]),
        )
        det_rule = det_rule[~det_rule.index.duplicated()].reindex(key)
        prob = hit["match_probability"].to_numpy(float)
        link = np.where(
            det_rule.notna().to_numpy(),
            "deterministic: " + det_rule.fillna("").astype(str).to_numpy(),
            np.where(
                prob >= self.pair_thresholds(threshold, right),
                "probabilistic",
                "through other records",
            ),
        )
        words = rec[list(BLOOM_COLUMNS)].to_numpy(np.int64)
        fields = {"name": "key_name", "given": "key_given", "family": "key_family",
                  "dob": "key_dob", "yob": "key_yob", "doc": "key_doc", "phone": "key_phone",
                  "sex": "sex", "region": "region"}  # fmt: skip
        same = {
            short: (rec[col].to_numpy(object)[left] == rec[col].to_numpy(object)[right])
            & rec[col].notna().to_numpy()[left]
            for short, col in fields.items()
            if col in rec
        }
        agree = [
            ", ".join(short for short, flags in same.items() if flags[i]) for i in range(len(left))
        ]
        out = pd.DataFrame(
            {
                "provider": pairs["p"].to_numpy(),
                "source_l": rec["source"].to_numpy()[left] if "source" in rec else None,
                "record_id_l": rec["record_id"].to_numpy()[left],
                "source_r": rec["source"].to_numpy()[right] if "source" in rec else None,
                "record_id_r": rec["record_id"].to_numpy()[right],
                "link": link,
                "match_weight": hit["match_weight"].to_numpy(float),
                "match_probability": prob,
                "name_dice": bloom_dice(words[left], words[right]),
                "agree": agree,
            }
        )
        return out.sort_values(["provider", "record_id_l", "record_id_r"]).reset_index(drop=True)

    def warnings(self, threshold: float | None = None) -> list[dict[str, str]]:
        """What may have gone wrong, one ``{"code", "message"}`` per finding (no identifiers).

        Codes: ``m-prior`` (an ``m`` set from its documented prior), ``u-fallback`` (a ``u`` not
        seen in the random sample), ``em-session`` (a training session skipped or failed),
        ``prior-moved`` (the fitted prior differs from the counted one by more than
        :data:`PRIOR_MOVE_FACTOR`), ``cluster-split`` (clusters larger than
        ``max_cluster_size`` split), ``no-dedupe-split``, ``threshold-sensitive`` (persons
        at the threshold and at :meth:`data_threshold` differ by more than
        :data:`THRESHOLD_SHARE`), ``blocking-refined`` (a blocking rule refined with a condition
        of :data:`LOSSY_REFINEMENTS`), ``clusters-span-strata``.
        """
        out: list[dict[str, str]] = []
        training = self.training
        for s in training.get("sessions", []):
            if s["status"] == "trained" and s.get("reason"):
                out.append(
                    {
                        "code": "em-session",
                        "message": N_(
                            "EM training session blocked on {rule} trained on {reason}",
                            rule=s["rule"],
                            reason=linkage_message(s["reason"]),
                        ),
                    }
                )
            elif s["status"] != "trained":
                out.append({"code": "em-session", "message": N_(
                    "EM training session blocked on {rule} {status}: {reason}; it would have "
                    "estimated {comparisons}", rule=s["rule"],
                    status=_SESSION_STATUS.get(s["status"], s["status"]),
                    reason=linkage_message(s["reason"]),
                    comparisons=", ".join(s["comparisons"]))})  # fmt: skip
        levels = training.get("levels", [])
        m_prior = [lv for lv in levels if lv["m_source"].startswith("prior")]
        if m_prior:
            named = join_semicolons(
                N_(
                    "{comparison} / {level} ({why})",
                    comparison=lv["comparison"],
                    level=level_message(lv["level"]),
                    why=linkage_message(lv["m_source"].split(": ", 1)[-1]),
                )
                for lv in m_prior
            )
            out.append({"code": "m-prior", "message": (
                N_("1 m probability not trained, set from documented priors: {named}",
                   named=named) if len(m_prior) == 1 else
                N_("{n} m probabilities not trained, set from documented priors: {named}",
                   n=len(m_prior), named=named))})  # fmt: skip
        u_fall = [lv for lv in levels if lv.get("u_source", "random sample") != "random sample"]
        if u_fall:
            named = join_semicolons(
                N_(
                    "{comparison} / {level} from {source}",
                    comparison=lv["comparison"],
                    level=level_message(lv["level"]),
                    source=linkage_message(lv["u_source"]),
                )
                for lv in u_fall
            )
            out.append({"code": "u-fallback", "message": (
                N_("1 u probability not seen in the random sample: {named}", named=named)
                if len(u_fall) == 1 else
                N_("{n} u probabilities not seen in the random sample: {named}",
                   n=len(u_fall), named=named))})  # fmt: skip
        prior = training.get("prior", {})
        if prior.get("fitted") is not None and prior.get("rules"):
            ratio = prior["fitted"] / prior["rules"]
            if not 1 / PRIOR_MOVE_FACTOR <= ratio <= PRIOR_MOVE_FACTOR:
                out.append({"code": "prior-moved", "message": N_(
                    "the prior probability that two records match, fitted to the scored "
                    "pairs ({fitted:.3g}), is {ratio:.3g} times the one counted from near-certain "
                    "agreements ({rules:.3g}): the model or the prior rules' assumed recall may be "
                    "wrong", fitted=prior['fitted'], ratio=ratio,
                    rules=prior['rules'])})  # fmt: skip
        _, info = self._clusters(threshold)
        if info["split_for_size"]:
            out.append({"code": "cluster-split", "message": N_(
                "{n} cluster(s) of more than {size} records split, weakest links first "
                "({dropped} links left out): chains of links through namesakes or household "
                "members are likely; check the threshold", n=info["split_for_size"],
                size=self.max_cluster_size, dropped=info["links_dropped"])})  # fmt: skip
        if info["split_for_no_dedupe"]:
            out.append(
                {
                    "code": "no-dedupe-split",
                    "message": N_(
                        "{n} cluster(s) split so that no two records of {providers} are merged "
                        "(de-duplication switched off)",
                        n=info["split_for_no_dedupe"],
                        providers=", ".join(self.no_dedupe),
                    ),
                }
            )
        if len(self.pairs):
            thr = self.threshold if threshold is None else threshold
            auto = self.data_threshold()
            n_thr = len(np.unique(self.clusters(threshold)))
            n_auto = len(np.unique(self.clusters(auto)))
            share = abs(n_thr - n_auto) / max(n_auto, 1)
            if share > THRESHOLD_SHARE:
                out.append({"code": "threshold-sensitive", "message": N_(
                    "persons found at the match threshold {thr:g} ({n_thr}) and at the "
                    "data-driven threshold {auto:.3g} ({n_auto}) differ by {share:.1f}%: many pairs "
                    "have a match probability between the two (names shared by many people, "
                    "dates of birth unknown), so the count of persons, and N-hat, depend on "
                    "the threshold; compare the estimates at both (threshold='auto' uses the "
                    "data-driven one)", thr=thr, n_thr=n_thr, auto=auto,
                    n_auto=n_auto, share=100 * share)})  # fmt: skip
        lossy = [
            r["refined"]
            for r in training.get("refined", [])
            if any(part in LOSSY_REFINEMENTS for part in r["refined"].split("+"))
        ]
        if lossy:
            out.append({"code": "blocking-refined", "message": N_(
                "{n} blocking rule(s) refined to fit rule_budget with a condition that can "
                "leave true pairs uncompared ({rules}): a person identified again in another "
                "year, or whose guessed year of birth differs between records, is then linked "
                "only through the date of birth, document and phone rules; raise rule_budget "
                "(and max_pairs, with the memory) to keep those links", n=len(lossy),
                rules="; ".join(lossy))})  # fmt: skip
        span = self._spanning(threshold)
        if span:
            out.append({"code": "clusters-span-strata", "message": N_(
                "{n} cluster(s) hold records of more than one stratum (region or year); each "
                "person is counted in the stratum of their first identification",
                n=span)})  # fmt: skip
        return out

    def emit_warnings(self, threshold: float | None = None) -> None:
        """Raise one :class:`LinkageWarning` listing :meth:`warnings` (if any), except the
        training notes ``m-prior`` and ``u-fallback``, which the linkage report, its
        ``warnings.csv`` and the annual run's warnings carry (small countries have them often:
        a level no EM session saw)."""
        found = [w for w in self.warnings(threshold) if w["code"] not in REPORT_ONLY]
        if found:
            text = join_semicolons(w["message"] for w in found[:6])
            if len(found) > 6:
                message = N_(
                    "linkage: {text} (and {n} more; see the linkage report)",
                    text=text,
                    n=len(found) - 6,
                )
            else:
                message = N_("linkage: {text}", text=text)
            warnings.warn(message, LinkageWarning, stacklevel=3)

    def _spanning(self, threshold: float | None) -> int:
        rec = self.records
        if "region" not in rec or "year" not in rec:
            return 0
        tmp = pd.DataFrame({"c": self.clusters(threshold), "r": rec["region"], "y": rec["year"]})
        return int((tmp.groupby("c")[["r", "y"]].nunique() > 1).any(axis=1).sum())

    def report(self, threshold: float | None = None) -> dict[str, Any]:
        """Linkage report (counts only; no identifiers and no tokens).

        Keys: ``method, threshold, data_threshold`` (:meth:`data_threshold`, balanced),
        ``records, records_by_provider, unlinkable_records, pairs_compared,
        links_probabilistic, links_deterministic, estimated_quality`` (pairwise precision and
        recall, :meth:`estimated_quality`), ``match_weight_histogram`` (bins of width 2 from
        -30 to 30, open-ended beyond), ``persons, cluster_sizes, largest_cluster,
        clusters_split, duplicates_removed`` (within-provider, by provider),
        ``within_provider_merges`` (by provider: direct links and merges through other
        records), ``no_dedupe, clusters_spanning_strata, model`` (m and u per comparison level,
        with their sources), ``training`` (EM sessions and the prior), ``training_notes`` and
        ``warnings`` (:meth:`warnings`).
        """
        thr = self.threshold if threshold is None else threshold
        labels, info = self._clusters(threshold)
        rec = self.records
        by_cluster_provider = pd.DataFrame({"c": labels, "p": rec["provider"].to_numpy()})
        distinct = by_cluster_provider.drop_duplicates()
        dup = (by_cluster_provider.groupby("p").size() - distinct.groupby("p").size()).astype(int)
        sizes = pd.Series(labels).value_counts().value_counts().sort_index()
        keys = rec[[c for c in KEY_COLUMNS]].notna().any(axis=1) | (rec["bloom_n"] > 0)
        merges = self.within_provider_merges(threshold)
        by_link = (
            merges.assign(kind=np.where(merges["link"] == "through other records", "through",
                                        "direct"))
            .groupby(["provider", "kind"]).size().unstack(fill_value=0)
            if len(merges) else pd.DataFrame()
        )  # fmt: skip
        training = self.training
        out: dict[str, Any] = {
            "method": self.method,
            "threshold": thr,
            "data_threshold": self.data_threshold() if len(self.pairs) else None,
            "records": len(rec),
            "records_by_provider": {
                str(k): int(v) for k, v in rec["provider"].value_counts().sort_index().items()
            },
            "unlinkable_records": int((~keys).sum()),
            "pairs_compared": len(self.pairs),
            "links_probabilistic": int(
                (
                    self.pairs["match_probability"].to_numpy(float)
                    >= self.pair_thresholds(threshold, self.pairs["unique_id_r"].to_numpy())
                ).sum()
            ),
            "links_deterministic": len(self.deterministic_pairs),
            "estimated_quality": self.estimated_quality(threshold),
            "match_weight_histogram": match_weight_histogram(
                self.pairs["match_weight"].to_numpy(float)
            ),
            "persons": len(np.unique(labels)),
            "cluster_sizes": dict(zip(sizes.index.tolist(), sizes.tolist(), strict=True)),
            "largest_cluster": int(sizes.index.max()) if len(sizes) else 0,
            "clusters_split": info,
            "duplicates_removed": {str(k): int(v) for k, v in dup.sort_index().items()},
            "within_provider_merges": {
                str(p): {k: int(v) for k, v in row.items()} for p, row in by_link.iterrows()
            },
            "no_dedupe": list(self.no_dedupe),
            "clusters_spanning_strata": self._spanning(threshold),
            "model": model_summary(self.model),
            "training": {k: v for k, v in training.items() if k != "levels"},
            "training_notes": list(self.model.get("fl_estimate_training_notes", [])),
            "warnings": self.warnings(threshold),
        }
        if self.generations:
            out["generations"] = self.generation_report(threshold)
            if threshold is None:
                out["thresholds"] = self.thresholds()
        return out

    def generation_report(self, threshold: float | None = None) -> list[dict[str, Any]]:
        """One entry per generation of records (see ``generations``): ``records``,
        ``found_again`` (records that found a person of an earlier generation, counted there and
        not again), ``new_persons``, and for the later generations how they were linked
        (``pairs_scored`` by the blocking rules, ``cluster_pairs`` inside candidate clusters,
        ``deterministic_links``, ``threshold``: the generation's own, ``prior``: the prior match
        probability refitted to their pairs, ``u_pairs`` and ``u``: the pairs the u
        probabilities were estimated on, and those u; the m probabilities are the first
        generation's)."""
        labels, _, counted = self._linked(threshold)
        assert counted is not None
        bounds = [0, *self.generations, len(self.records)]
        extra = self.model.get("fl_estimate_generations", [])
        out = []
        for i, (lo, hi) in enumerate(pairwise(bounds)):
            mine = labels[lo:hi][counted[lo:hi]]
            entry: dict[str, Any] = {
                "records": hi - lo,
                "found_again": int((~counted[lo:hi]).sum()),
                "new_persons": len(np.unique(mine)),
            }
            if i and i - 1 < len(extra):
                entry |= extra[i - 1]
            out.append(entry)
        return out


def threshold_from_probabilities(
    probabilities: np.ndarray, kind: str = "balanced", false_rate: float = 0.01
) -> float | None:
    """:meth:`LinkageResult.data_threshold` (``kind``: balanced or false-rate) of pairs with
    these match probabilities (None: no pairs).

    Linking the three pairs from 0.7 up expects 0.41 false links and leaves 0.3 true ones
    (the two below) unlinked, the closest the two can come:

    >>> threshold_from_probabilities(np.array([0.99, 0.9, 0.7, 0.2, 0.1]))
    0.7
    """
    p = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    if not len(p):
        return None
    if kind == "balanced":
        false = np.cumsum(1 - p)  # expected false links when the first k+1 are linked
        missed = p.sum() - np.cumsum(p)
        k = int(np.searchsorted(false - missed, 0.0, side="right"))
        t = p[min(k, len(p) - 1)]
    elif kind == "false-rate":
        rate = np.cumsum(1 - p) / np.arange(1, len(p) + 1)
        ok = np.flatnonzero(rate <= false_rate)
        t = p[ok[-1]] if len(ok) else 0.999
    else:
        raise ModelSpecificationError(
            N_("kind must be 'balanced' or 'false-rate', not {value!r}", value=kind)
        )
    return float(np.clip(t, MIN_DATA_THRESHOLD, 0.999))


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
    """m and u probabilities per comparison level of a splink model (null levels left out),
    with how each was obtained when the model records it (``m_source``, ``u_source``)."""
    sources = {
        (lv["comparison"], lv["level"]): lv
        for lv in model.get("fl_estimate_training", {}).get("levels", [])
    }
    out = []
    for comp in model.get("comparisons", []):
        for level in comp.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            row = {
                "comparison": comp.get("output_column_name"),
                "level": level.get("label_for_charts"),
                "m": level.get("m_probability"),
                "u": level.get("u_probability"),
            }
            src = sources.get((row["comparison"], row["level"]))
            if src is not None:
                row |= {"m_source": src.get("m_source"), "u_source": src.get("u_source")}
            out.append(row)
    return out
