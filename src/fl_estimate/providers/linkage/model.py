"""The linkage model: deterministic rules on keyed tokens plus a Fellegi–Sunter model in splink.

Two kinds of links are combined:

* **deterministic** links on keyed tokens that almost never agree by chance (the same document
  number; the same full name and date of birth; the same full name and phone): :func:`rule_pairs`;
* **probabilistic** links (Fellegi–Sunter) fitted by `splink <https://moj-analytical-services.github.io/splink/>`_
  on its DuckDB backend: name similarity as the Dice coefficient of the keyed Bloom filters, date
  of birth (exact, same year, different), document number, phone, sex, age and region, with ``m``
  probabilities from expectation–maximisation and ``u`` probabilities from random pairs
  (:class:`RecordLinker`).

splink reports its progress and training advice through logging (the ``splink`` logger is held at
ERROR during a run; EM sessions that could not run are recorded in the linkage report's
``training_notes``). Of Python warnings, only the notices splink, DuckDB and sqlglot raise about
their own APIs are held back (:func:`quiet_splink`); every other warning, ours included, reaches
the caller.

Examples
--------
>>> from pathlib import Path
>>> from fl_estimate.providers import Pseudonymiser, load_submissions, prepare_records
>>> files = sorted(Path("data_samples/country/submissions").glob("*2023*"))  # 2023 files
>>> key = Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> records = prepare_records(load_submissions(files).records(), key)
>>> result = RecordLinker(threshold=0.9, seed=1).fit(records)    # a few seconds
>>> report = result.report()
>>> report["records"], report["persons"], report["duplicates_removed"]
(1031, 574, {'courts': 2, 'gendarmerie': 2, 'iom': 3, 'ngo': 0, 'police': 8, 'social_services': 3})
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.providers.linkage.prepare import BLOOM_COLUMNS, SPLINK_COLUMNS, splink_table
from fl_estimate.providers.linkage.result import LinkageResult
from fl_estimate.providers.pseudonymise import KEY_COLUMNS

__all__ = [
    "DEFAULT_BLOCKING",
    "DEFAULT_DETERMINISTIC_RULES",
    "DEFAULT_EM_BLOCKING",
    "SPLINK_WARNINGS",
    "RecordLinker",
    "dice_sql",
    "quiet_splink",
    "rule_pairs",
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


#: Warnings held back during a splink run: (category, module pattern) of notices that splink,
#: DuckDB and sqlglot (splink's SQL translator) raise about their own APIs and dependencies. A
#: user of fl_estimate can do nothing about them; every other warning reaches the caller.
SPLINK_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (DeprecationWarning, r"(splink|duckdb|sqlglot)(\.|$)"),
    (FutureWarning, r"(splink|duckdb|sqlglot)(\.|$)"),
)


def dice_sql() -> str:
    """SQL of the Dice coefficient of the two records' Bloom filters (splink's ``_l``/``_r``)."""
    inter = " + ".join(f"CAST(bit_count({c}_l & {c}_r) AS INTEGER)" for c in BLOOM_COLUMNS)
    return f"(2.0 * ({inter}) / (bloom_n_l + bloom_n_r))"


@contextlib.contextmanager
def quiet_splink() -> Iterator[None]:
    """Run splink with its logger at ERROR and its own API notices (:data:`SPLINK_WARNINGS`)
    ignored; both are restored on exit."""
    logger = logging.getLogger("splink")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for category, module in SPLINK_WARNINGS:
                warnings.filterwarnings("ignore", category=category, module=module)
            yield
    finally:
        logger.setLevel(old)


def rule_pairs(records: pd.DataFrame, rules: Sequence[Sequence[str]]) -> pd.DataFrame:
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

        dice = dice_sql()
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
        det = rule_pairs(records, self.deterministic_rules)
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
        with quiet_splink():
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
