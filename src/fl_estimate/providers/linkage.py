"""Record linkage of pseudonymised submissions into one capture history per person.

Two kinds of links are combined:

* **deterministic** links on keyed tokens that almost never agree by chance (the same document
  number; the same full name and date of birth; the same full name and phone);
* **probabilistic** links (Fellegi–Sunter) fitted by `splink <https://moj-analytical-services.github.io/splink/>`_
  on its DuckDB backend: name similarity as the Dice coefficient of the keyed Bloom filters, date
  of birth (exact, same year, different), document number, phone, sex, age and region, with ``m``
  probabilities from expectation–maximisation and ``u`` probabilities from random pairs.

Records are clustered by connected components of the links at or above a match-probability
threshold; a cluster is a person. Links within a provider are kept too, so the same pass removes
each provider's duplicates. The same splink settings run on Spark for national-scale data (see
``docs/providers.md``).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData
from fl_estimate.providers.pseudonymise import (
    BLOOM_WORDS,
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    Pseudonymiser,
    bloom_hex_to_words,
)

__all__ = [
    "DEFAULT_BLOCKING",
    "DEFAULT_DETERMINISTIC_RULES",
    "DEFAULT_EM_BLOCKING",
    "LinkageResult",
    "RecordLinker",
    "prepare_records",
    "splink_table",
]

#: Pairs of records compared by the probabilistic model: those agreeing on all columns of a rule.
DEFAULT_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("key_dob",),
    ("key_family_ph", "key_given_ph"),
    ("key_doc",),
    ("key_phone",),
    ("key_name",),
    ("key_family_ph", "region"),
    ("key_given_ph", "key_yob"),
    ("key_given", "region", "age"),
)
#: Blocking rules of the EM sessions that estimate the m probabilities.
DEFAULT_EM_BLOCKING: tuple[tuple[str, ...], ...] = (("key_dob",), ("key_doc",))
#: Token agreements taken as links whatever the model says.
DEFAULT_DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (
    ("key_doc",),
    ("key_name", "key_dob"),
    ("key_name", "key_phone"),
)
_BLOOM_COLS = [f"bloom_{i}" for i in range(BLOOM_WORDS)]
#: Columns of the prepared records that the splink model reads.
SPLINK_COLUMNS = (
    "unique_id", "region", "sex", "age", *[c for c in KEY_COLUMNS if c != "key_bloom"],
    *_BLOOM_COLS, "bloom_n",
)  # fmt: skip


def prepare_records(
    records: pd.DataFrame, pseudonymiser: Pseudonymiser | None = None
) -> pd.DataFrame:
    """Pseudonymise accepted submission records and shape them for linkage.

    Rows with clear identifiers are turned into keys with ``pseudonymiser``; rows from providers
    who submitted keys keep theirs. The clear identifier columns are dropped. Records are put in
    a canonical order (provider, period, record_id), so that the linkage does not depend on the
    order in which files were read.

    Returns
    -------
    DataFrame
        ``unique_id`` (0..n-1), ``record_id, provider, source, region, year, date_identified,
        sex, age``, the key columns, ``bloom_0..bloom_7`` (int64 words) and ``bloom_n`` (bits set).
    """
    frame = records.copy()
    order = [c for c in ("provider", "period", "record_id", "source") if c in frame]
    if order:  # canonical order: the result does not depend on the order files were read in
        frame = frame.sort_values(order, kind="stable")
    frame = frame.reset_index(drop=True)
    clear = [c for c in IDENTIFIER_COLUMNS if c in frame.columns]
    if clear:
        has_clear = frame[clear].notna().any(axis=1)
        has_keys = (
            frame[[c for c in KEY_COLUMNS if c in frame.columns]].notna().any(axis=1)
            if any(c in frame.columns for c in KEY_COLUMNS)
            else pd.Series(False, index=frame.index)
        )
        todo = has_clear & ~has_keys
        if todo.any():
            if pseudonymiser is None:
                raise ModelSpecificationError(
                    "records carry clear identifiers: a linkage key is needed to pseudonymise them"
                )
            keys = pseudonymiser.key_columns(frame.loc[todo, clear])
            for c in KEY_COLUMNS:
                if c not in frame:
                    frame[c] = None
                frame[c] = frame[c].astype(object)
                frame.loc[todo, c] = keys[c]
        frame = frame.drop(columns=clear)
    for c in KEY_COLUMNS:
        if c not in frame:
            frame[c] = None
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    words = bloom_hex_to_words(frame["key_bloom"].tolist())
    out = pd.DataFrame({"unique_id": np.arange(len(frame), dtype=np.int64)})
    for c in ("record_id", "provider", "source", "region"):
        out[c] = frame[c].astype(object) if c in frame else None
    dates = pd.to_datetime(
        frame["date_identified"]
        if "date_identified" in frame
        else pd.Series(None, index=frame.index),
        errors="coerce",
    )
    out["date_identified"] = dates
    out["year"] = dates.dt.year.astype("Int64")
    sex = frame["sex"] if "sex" in frame else pd.Series(None, index=frame.index)
    out["sex"] = sex.where(sex.isin(["F", "M", "other"]), None).astype(object)
    out["age"] = pd.to_numeric(
        frame["age"] if "age" in frame else pd.Series(np.nan, index=frame.index), errors="coerce"
    )
    for c in KEY_COLUMNS:
        out[c] = frame[c].to_numpy()
    for i, c in enumerate(_BLOOM_COLS):
        out[c] = words[:, i]
    out["bloom_n"] = np.bitwise_count(words.view(np.uint64)).sum(axis=1).astype(np.int64)
    return out


def splink_table(records: pd.DataFrame) -> pd.DataFrame:
    """The columns of prepared records the splink model reads (to register with any backend)."""
    table = records[list(SPLINK_COLUMNS)].copy()
    table["age"] = table["age"].astype(float)
    return table


def _dice_sql() -> str:
    inter = " + ".join(f"CAST(bit_count({c}_l & {c}_r) AS INTEGER)" for c in _BLOOM_COLS)
    return f"(2.0 * ({inter}) / (bloom_n_l + bloom_n_r))"


@contextlib.contextmanager
def _quiet_splink() -> Iterator[None]:
    logger = logging.getLogger("splink")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # splink's advice on training sample sizes
            yield
    finally:
        logger.setLevel(old)


def _union_pairs(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _rule_pairs(records: pd.DataFrame, rules: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Pairs of records agreeing (non-missing) on every column of a rule; star-shaped per group."""
    frames = []
    for rule in rules:
        cols = list(rule)
        sub = records[["unique_id", *cols]].dropna(subset=cols)
        if sub.empty:
            continue
        first = sub.groupby(cols, sort=False)["unique_id"].transform("min")
        keep = sub["unique_id"] != first
        frames.append(
            pd.DataFrame(
                {
                    "unique_id_l": first[keep].to_numpy(np.int64),
                    "unique_id_r": sub.loc[keep, "unique_id"].to_numpy(np.int64),
                    "rule": "+".join(cols),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["unique_id_l", "unique_id_r", "rule"])
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class RecordLinker:
    """Link pseudonymised records of several providers into persons.

    Parameters
    ----------
    method : {"probabilistic", "deterministic"}
        ``probabilistic``: Fellegi–Sunter with splink (DuckDB) plus the deterministic rules;
        ``deterministic``: the rules only.
    threshold : float
        Match probability at or above which a pair is linked.
    blocking : sequence of column tuples
        Blocking rules of the probabilistic model.
    deterministic_rules : sequence of column tuples
        Token agreements linked whatever the model says.
    prior_recall : float
        Assumed recall of the deterministic rules, used to set the prior match probability.
    u_max_pairs : float
        Random pairs sampled to estimate the ``u`` probabilities.
    em_blocking : sequence of column tuples
        One EM session per rule estimates the ``m`` probabilities of the comparisons not in the
        rule. Rules whose pairs are nearly all matches train best (document number); a session
        that cannot run (too few pairs) is skipped and noted in the model.
    seed : int
        Seed of that sample.
    """

    method: str = "probabilistic"
    threshold: float = 0.9
    blocking: Sequence[Sequence[str]] = DEFAULT_BLOCKING
    deterministic_rules: Sequence[Sequence[str]] = DEFAULT_DETERMINISTIC_RULES
    prior_recall: float = 0.6
    u_max_pairs: float = 2e6
    em_blocking: Sequence[Sequence[str]] = DEFAULT_EM_BLOCKING
    seed: int = 1

    def __post_init__(self) -> None:
        if self.method not in ("probabilistic", "deterministic"):
            raise ModelSpecificationError(
                f"method must be 'probabilistic' or 'deterministic', not {self.method!r}"
            )
        if not 0 < self.threshold < 1:
            raise ModelSpecificationError(f"threshold must lie in (0, 1), got {self.threshold}")
        allowed = set(SPLINK_COLUMNS)
        for what, rules in (
            ("blocking", self.blocking),
            ("deterministic_rules", self.deterministic_rules),
            ("em_blocking", self.em_blocking),
        ):
            for rule in rules:
                bad = [c for c in rule if c not in allowed]
                if bad or not rule:
                    raise ModelSpecificationError(
                        f"{what} rule {list(rule)} names unknown columns {bad}; rules may use "
                        f"{', '.join(sorted(allowed - {'unique_id', 'bloom_n'}))}"
                    )

    def splink_settings(self) -> Any:
        """The splink ``SettingsCreator``: pass it to ``splink.Linker`` with any backend (Spark)."""
        import splink.comparison_level_library as cll
        import splink.comparison_library as cl
        from splink import SettingsCreator, block_on

        dice = _dice_sql()
        name = cl.CustomComparison(
            output_column_name="name",
            comparison_levels=[
                cll.CustomLevel("bloom_n_l = 0 OR bloom_n_r = 0").configure(is_null_level=True),
                cll.CustomLevel("key_name_l = key_name_r", "same full name"),
                cll.CustomLevel(f"{dice} >= 0.9", "name Dice >= 0.9"),
                cll.CustomLevel(f"{dice} >= 0.8", "name Dice >= 0.8"),
                cll.CustomLevel(f"{dice} >= 0.65", "name Dice >= 0.65"),
                cll.ElseLevel(),
            ],
        )
        dob = cl.CustomComparison(
            output_column_name="dob",
            comparison_levels=[
                cll.NullLevel("key_dob"),
                cll.ExactMatchLevel("key_dob"),
                cll.ExactMatchLevel("key_yob"),
                cll.ElseLevel(),
            ],
        )
        age = cl.CustomComparison(
            output_column_name="age",
            comparison_levels=[
                cll.NullLevel("age"),
                cll.CustomLevel("abs(age_l - age_r) <= 1", "age within 1 year"),
                cll.CustomLevel("abs(age_l - age_r) <= 3", "age within 3 years"),
                cll.ElseLevel(),
            ],
        )
        return SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=[
                name,
                dob,
                cl.ExactMatch("key_doc"),
                cl.ExactMatch("key_phone"),
                cl.ExactMatch("sex"),
                age,
                cl.ExactMatch("region"),
            ],
            blocking_rules_to_generate_predictions=[block_on(*r) for r in self.blocking],
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )

    def fit(self, records: pd.DataFrame) -> LinkageResult:
        """Link records prepared by :func:`prepare_records`.

        Raises
        ------
        EstimateDoesNotExistError
            When there are too few candidate pairs to train the probabilistic model (use
            ``method="deterministic"``).
        """
        missing = [
            c for c in ("unique_id", "provider", *KEY_COLUMNS, "bloom_n") if c not in records
        ]
        if missing:
            raise ModelSpecificationError(
                f"records lack {', '.join(missing)}: prepare them with prepare_records()"
            )
        records = records.reset_index(drop=True)
        if not np.array_equal(records["unique_id"].to_numpy(), np.arange(len(records))):
            raise ModelSpecificationError("unique_id must be 0..n-1 in order (use prepare_records)")
        det = _rule_pairs(records, self.deterministic_rules)
        model: dict[str, Any] = {}
        if self.method == "probabilistic" and len(records) > 1:
            pairs, model = self._splink(records)
        else:
            pairs = pd.DataFrame(
                {
                    "unique_id_l": pd.Series(dtype=np.int64),
                    "unique_id_r": pd.Series(dtype=np.int64),
                    "match_weight": pd.Series(dtype=float),
                    "match_probability": pd.Series(dtype=float),
                }
            )
        return LinkageResult(
            records=records,
            pairs=pairs,
            deterministic_pairs=det,
            threshold=self.threshold,
            method="splink-duckdb+rules" if self.method == "probabilistic" else "deterministic",
            model=model,
            settings={
                "method": self.method,
                "threshold": self.threshold,
                "blocking": [list(r) for r in self.blocking],
                "deterministic_rules": [list(r) for r in self.deterministic_rules],
                "prior_recall": self.prior_recall,
                "u_max_pairs": self.u_max_pairs,
                "em_blocking": [list(r) for r in self.em_blocking],
                "seed": self.seed,
            },
        )

    def _splink(self, records: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        from splink import DuckDBAPI, Linker, block_on

        table = splink_table(records)
        with _quiet_splink():
            db = DuckDBAPI()
            linker = Linker(db.register(table), self.splink_settings(), log_level=None)
            training = linker.training
            notes: list[str] = []
            trained = 0
            try:
                training.estimate_probability_two_random_records_match(
                    [block_on(*r) for r in self.deterministic_rules], recall=self.prior_recall
                )
                training.estimate_u_using_random_sampling(
                    max_pairs=self.u_max_pairs, seed=self.seed
                )
                for rule in self.em_blocking:
                    try:
                        training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
                        trained += 1
                    except Exception as exc:  # a session with too few pairs: go on without it
                        notes.append(
                            f"EM session blocked on {'+'.join(rule)} skipped: "
                            f"{' '.join(str(exc).split())[:160]}"
                        )
            except Exception as exc:  # splink raises plain exceptions on untrainable data
                raise EstimateDoesNotExistError(
                    "the probabilistic linkage model could not be trained on these records "
                    f"({' '.join(str(exc).split())[:200]}); with few records use "
                    "method='deterministic'",
                    code="linkage-untrainable",
                ) from exc
            if trained == 0:
                raise EstimateDoesNotExistError(
                    "no EM training session could be run on these records ("
                    + "; ".join(notes)
                    + "); with few records use method='deterministic'",
                    code="linkage-untrainable",
                )
            pred = linker.inference.predict().as_pandas_dataframe()
            model = linker.misc.save_model_to_json(out_path=None)
            model["fl_estimate_training_notes"] = notes
        pairs = pd.DataFrame(
            {
                "unique_id_l": pred["unique_id_l"].to_numpy(np.int64),
                "unique_id_r": pred["unique_id_r"].to_numpy(np.int64),
                "match_weight": pred["match_weight"].to_numpy(float),
                "match_probability": pred["match_probability"].to_numpy(float),
            }
        )
        return pairs.sort_values(["unique_id_l", "unique_id_r"]).reset_index(drop=True), model


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
        p = self.pairs[self.pairs["match_probability"] >= thr]
        left = np.concatenate(
            [
                p["unique_id_l"].to_numpy(np.int64),
                self.deterministic_pairs["unique_id_l"].to_numpy(np.int64),
            ]
        )
        right = np.concatenate(
            [
                p["unique_id_r"].to_numpy(np.int64),
                self.deterministic_pairs["unique_id_r"].to_numpy(np.int64),
            ]
        )
        return _union_pairs(len(self.records), left, right)

    @property
    def providers(self) -> list[str]:
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
        rec = self.records[["unique_id", "provider", "date_identified", *strata]].copy()
        rec["cluster"] = self.clusters(threshold)
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
        w = self.pairs["match_weight"].to_numpy(float)
        hist: list[dict[str, Any]] = []
        if len(w):
            inner = np.arange(-30.0, 30.0 + 1e-9, 2.0)  # open-ended bins beyond +-30
            edges = np.concatenate([[-np.inf], inner, [np.inf]])
            counts, _ = np.histogram(w, bins=edges)
            hist = [
                {
                    "from": None if not np.isfinite(a) else float(a),
                    "to": None if not np.isfinite(b) else float(b),
                    "pairs": int(c),
                }
                for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
            ]
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
            "match_weight_histogram": hist,
            "persons": len(np.unique(labels)),
            "cluster_sizes": dict(zip(sizes.index.tolist(), sizes.tolist(), strict=True)),
            "duplicates_removed": {str(k): int(v) for k, v in dup.sort_index().items()},
            "clusters_spanning_strata": span,
            "model": _model_summary(self.model),
            "training_notes": list(self.model.get("fl_estimate_training_notes", [])),
        }

    def sensitivity(
        self,
        thresholds: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999),
        *,
        lists: Sequence[str] | None = None,
        estimator: Any = None,
    ) -> pd.DataFrame:
        """N̂ at a range of match thresholds (missed links push N̂ up, false links down).

        Parameters
        ----------
        thresholds : sequence of float
        lists : sequence of str, optional
            List order (default: providers in order of appearance).
        estimator : estimator, optional
            Any fl_estimate MSE estimator (``fit(CaptureData)`` returning an
            ``EstimationResult``), applied to the table pooled over strata. Default:
            ``LogLinearMSE()`` (independence), a simple reference; compare the rows with each
            other, not with the final estimate.

        Returns
        -------
        DataFrame
            ``threshold, persons, links, n_hat, low, high, level, interval_kind, method, model,
            status`` (``n_hat`` is NaN when the estimate does not exist; ``status`` says why).
        """
        from fl_estimate.mse import LogLinearMSE

        est = estimator if estimator is not None else LogLinearMSE()
        rows = []
        for thr in thresholds:
            cd = self.capture_data(thr, strata=None, lists=lists)
            assert isinstance(cd, CaptureData)  # no strata: one table
            res = est.fit(cd)
            ok = res.status == "ok"
            rows.append(
                {
                    "threshold": thr,
                    "persons": cd.n_observed,
                    "links": int((self.pairs["match_probability"] >= thr).sum()),
                    "n_hat": res.estimate if ok else float("nan"),
                    "low": res.interval[0] if ok else float("nan"),
                    "high": res.interval[1] if ok else float("nan"),
                    "level": res.level,
                    "interval_kind": res.interval_kind,
                    "method": res.method,
                    "model": res.model,
                    "status": res.status,
                }
            )
        return pd.DataFrame(rows)


def _model_summary(model: dict[str, Any]) -> list[dict[str, Any]]:
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
