"""The linkage model: deterministic rules on keyed tokens plus a Fellegi–Sunter model in splink.

Two kinds of links are combined:

* **deterministic** links on keyed tokens that almost never agree by chance (the same document
  number; the same full name and full date of birth):
  :func:`~fl_estimate.providers.linkage.rules.rule_pairs`. A date written as 1 January is a
  placeholder (year only) and never part of a deterministic link; the same full name with the
  same phone is not one either (households share phones): the model weighs them instead;
* **probabilistic** links (Fellegi–Sunter) fitted by `splink <https://moj-analytical-services.github.io/splink/>`_
  on its DuckDB backend: names (given and family name read separately and as a whole, Dice
  coefficient of the keyed Bloom filters), date of birth (1 January and year-only dates read as a
  year), document number, phone, sex, age (only where a date of birth is missing) and region
  (:mod:`.comparisons`), with a term-frequency adjustment on full names, ``u``
  from random pairs and ``m`` from EM sessions that are counted before they start and fall back
  to documented priors (:mod:`.training`). The prior is fitted to the scored pairs.

Persons are the clusters of the links at or above the threshold (:mod:`.clusters`), with a size
limit and per-provider de-duplication switches. Whatever had to fall back on a prior, and
clusters that look wrong, are warnings (:class:`~fl_estimate.exceptions.LinkageWarning`) and
lines of the linkage report.

splink reports its progress and training advice through logging (the ``splink`` logger is held at
ERROR during a run). Of Python warnings, only the notices splink, DuckDB and sqlglot raise about
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
(1031, 579, {'courts': 2, 'gendarmerie': 2, 'iom': 3, 'ngo': 0, 'police': 9, 'social_services': 3})
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.providers.linkage.clusters import (
    pair_codes,
    pairs_inside,
    pairs_within,
    split_clusters,
)
from fl_estimate.providers.linkage.comparisons import (
    ComparisonSpec,
    default_comparisons,
    dice_sql,
    splink_comparison,
)
from fl_estimate.providers.linkage.prepare import SPLINK_COLUMNS, splink_table
from fl_estimate.providers.linkage.result import (
    DEFAULT_THRESHOLD,
    MIN_DATA_THRESHOLD,
    LinkageResult,
)
from fl_estimate.providers.linkage.rules import (
    Rule,
    check_rules,
    count_rule_pairs,
    rule_columns,
    rule_label,
    rule_pairs,
    rule_sql,
    splink_rule,
)
from fl_estimate.providers.linkage.training import (
    fit_prior,
    logit2,
    probability,
    rules_prior,
    train_model,
)
from fl_estimate.providers.pseudonymise import KEY_COLUMNS

__all__ = [
    "DEFAULT_BLOCKING",
    "DEFAULT_DETERMINISTIC_RULES",
    "DEFAULT_EM_BLOCKING",
    "DEFAULT_EXTRA_BLOCKING",
    "DEFAULT_PRIOR_RULES",
    "DEFAULT_REFINEMENTS",
    "SPLINK_WARNINGS",
    "RecordLinker",
    "dice_sql",
    "quiet_splink",
    "rule_pairs",
]

logger = logging.getLogger(__name__)

#: Pairs of records compared by the probabilistic model: those satisfying any rule
#: (``age~6``: ages within 6 years, or either unknown). The last two (one name sound, with the
#: same region, year of identification, sex and known age) catch, at about 2 pairs per record,
#: a third of the true pairs that the others leave uncompared in large name-dense countries
#: (a typing error or variant in one name part and no full date of birth); in small ones the
#: looser rules of :data:`DEFAULT_EXTRA_BLOCKING` hold them already.
DEFAULT_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("key_dob",),
    ("key_doc",),
    ("key_phone",),
    ("key_name_ph", "region", "age~6"),
    ("key_given_ph", "key_family_ph", "region", "age~6"),
    ("key_given", "region", "key_yob"),
    ("key_family_ph", "region", "key_yob", "sex"),
    ("key_family_ph", "region", "year", "sex", "age"),
    ("key_given_ph", "region", "year", "sex", "age"),
)
#: Looser blocking rules added, in order, while the pairs they may add stay within
#: ``blocking_budget`` pairs per record: small countries get more pairs compared (typing errors
#: in both name keys), large ones stay fast.
DEFAULT_EXTRA_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("key_family_ph", "region", "age~3"),
    ("key_given_ph", "region", "age~3"),
    ("key_family_ph", "region"),
    ("key_given_ph", "region"),
    ("region", "sex", "age~1"),
)
#: Conditions added in order to the blocking rules giving most pairs while together they give
#: more than ``rule_budget`` pairs per record (name-dense countries, where namesakes of a region
#: grow with the square of the records): the years of birth do not differ, sexes do not differ, ages within 3
#: years, nationalities do not differ, and last the same year of identification (which drops a
#: person's pairs across years: only where the rule's namesakes are far too many to compare).
#: A condition already implied by the rule (``sex?`` of a rule on ``sex``) is skipped.
DEFAULT_REFINEMENTS: tuple[str, ...] = ("key_yob?", "sex?", "age~3", "nationality?", "year")
#: Default ``max_pairs`` (about 6 GB of scored pairs) and DuckDB ``memory_limit`` of a linkage,
#: full or incremental (:func:`~fl_estimate.providers.linkage.incremental.extend_linkage` uses
#: them for a base fitted before they were settings).
MAX_PAIRS = 4e7
DUCKDB_MEMORY_LIMIT = "4GB"
#: Blocking rules of the EM sessions that estimate the m probabilities: date of birth (trains
#: the names), the sounds of the names within a region (trains date of birth, documents, phone,
#: age) and document number (nearly all true matches).
DEFAULT_EM_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("key_dob",),
    ("key_name_ph", "region", "sex"),
    ("key_doc",),
)
#: Token agreements taken as links whatever the model says: the same document number, or the
#: same full name and date of birth (a full date: 1 January and year-only dates have no
#: ``key_dob``). Not the same full name and phone: households share phones.
DEFAULT_DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (("key_doc",), ("key_name", "key_dob"))
#: Near-certain agreements from which the starting prior is counted (with ``prior_recall``).
DEFAULT_PRIOR_RULES: tuple[tuple[str, ...], ...] = (("key_doc",), ("key_name", "key_dob"))

#: Warnings held back during a splink run: (category, module pattern) of notices that splink,
#: DuckDB and sqlglot (splink's SQL translator) raise about their own APIs and dependencies. A
#: user of fl_estimate can do nothing about them; every other warning reaches the caller.
SPLINK_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (DeprecationWarning, r"(splink|duckdb|sqlglot)(\.|$)"),
    (FutureWarning, r"(splink|duckdb|sqlglot)(\.|$)"),
)


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def check_memory_limit(value: str | None) -> None:
    """Raise :class:`ModelSpecificationError` unless ``value`` is a DuckDB size (or None)."""
    if value is not None and not _MEMORY.match(str(value)):
        raise ModelSpecificationError(
            N_(
                "duckdb_memory_limit must be a size such as '4GB' or '500MB', got {value!r}",
                value=value,
            )
        )


@contextlib.contextmanager
def duckdb_api(
    memory_limit: str | None = DUCKDB_MEMORY_LIMIT, temp_directory: str | None = None
) -> Iterator[Any]:
    """splink's ``DuckDBAPI`` on a new in-memory DuckDB connection with ``memory_limit`` and
    ``temp_directory`` set (DuckDB spills there above the limit; by default a private folder,
    removed on exit), closed on exit."""
    import duckdb
    from splink import DuckDBAPI

    check_memory_limit(memory_limit)
    with contextlib.ExitStack() as stack:
        folder = temp_directory or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="fl_estimate_duckdb_")
        )
        con = duckdb.connect(":memory:")
        stack.callback(con.close)
        con.execute("SET temp_directory = ?", [str(folder)])
        if memory_limit is not None:
            con.execute("SET memory_limit = ?", [str(memory_limit)])
        yield DuckDBAPI(connection=con)


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


@dataclass(frozen=True)
class RecordLinker:
    """Link pseudonymised records of several providers into persons.

    Parameters
    ----------
    method : {"probabilistic", "deterministic"}
        ``probabilistic``: Fellegi–Sunter with splink (DuckDB) plus the deterministic rules;
        ``deterministic``: the rules only.
    threshold : float or "auto"
        Match probability at or above which a pair is linked. The default, 0.3
        (:data:`~fl_estimate.providers.linkage.result.DEFAULT_THRESHOLD`), is fixed: it links
        pairs more likely different than the same, because a person is a cluster and a pair
        missed inside a cluster its other links join costs nothing, while a pair missed between
        two providers splits a person and raises N-hat. ``"auto"``: the data-driven threshold of
        :meth:`LinkageResult.data_threshold` (expected false links equal to expected missed
        links among the scored pairs, never below 0.3). Both were measured on synthetic
        countries with known truth (``benchmarks/linkage_oracle.py --pool``, fresh seeds): at
        500 records the data-driven one lay at 0.5-0.6 and left N-hat 2-4% higher than 0.3 did;
        at 100,000 it lay at 0.32-0.38 and 0.3 was at least as close. A fixed 0.9, the default
        before issue 21, over-counted the persons by 4-8% in name-dense countries.
    blocking : sequence of rules
        Blocking rules of the probabilistic model (see :mod:`.rules`; ``age~6`` is a window).
    extra_blocking : sequence of rules
        Looser rules added in order while the pairs they may add (counted on their equality
        columns) keep the total within ``blocking_budget`` pairs per record.
    blocking_budget : float
    rule_budget : float or None
        Most pairs per record the ``blocking`` rules may give together (the sum of each rule's
        own pairs, counted in DuckDB, on a random sample of ``count_sample`` records when there
        are more) before they are refined: while the sum is over it, the rule giving most pairs
        gets the next condition of ``refinements`` (:func:`refine_rules`). Small countries keep
        their wide blocking; in name-dense large ones the rules on name sounds within a region
        would otherwise compare every pair of namesakes (``benchmarks/results/
        linkage_memory.txt``: 178 pairs per record at 1,000,000 records of the ``sahel``
        profile). Refinements are listed in the report's training notes and in the training's
        ``refined``. ``None``: never refined.
    refinements : sequence of str
        Conditions (rule parts: ``key_yob?``, ``sex?``, ``age~3``, ``year``) a rule gets, in
        order, when the rules are over ``rule_budget`` (:data:`DEFAULT_REFINEMENTS`).
    count_sample : int
        Records sampled to count a rule's pairs (all when there are fewer; the count is scaled
        to every pair of records).
    duckdb_memory_limit : str or None
        DuckDB's ``memory_limit`` for the linker's connection (``"4GB"``; ``None``: DuckDB's
        default, 80% of the machine's memory). Above it DuckDB spills its joins, sorts and
        aggregates to ``duckdb_temp_directory`` instead of failing or being killed; the pairs
        fetched into Python (about 32 bytes each) and the records are outside the limit.
    duckdb_temp_directory : str or None
        Where DuckDB spills (``None``: a new private folder in the system's temporary folder,
        removed after the fit). Spilled data are keyed tokens, never clear identifiers.
    max_pairs : float or None
        Most pairs the blocking rules may give to be scored (counted exactly in DuckDB before
        training; ``None``: no limit). More is an error (:class:`EstimateDoesNotExistError`,
        code ``linkage-too-many-pairs``; exit 2 in the CLI) instead of the process running out
        of memory: each scored pair holds about 130-150 bytes at the peak (DuckDB's
        scoring), so the default, 40 million, is about 6 GB over the records' own memory.
        Where names repeat, the unrefined blocking rules on name sounds within a region give
        pairs that grow with the square of the records (``benchmarks/results/
        linkage_memory.txt``: 1.9 million pairs at 100,000 records of the ``sahel`` profile,
        178 million at 1,000,000); ``rule_budget`` refines them (17.5 million at 1,000,000).
    deterministic_rules : sequence of rules
        Token agreements linked whatever the model says.
    prior : {"fitted", "rules"}
        ``fitted``: the prior match probability is fitted to the scored pairs
        (:func:`.training.fit_prior`), starting from the count of ``prior_rules``;
        ``rules``: that count only.
    prior_rules : sequence of rules
        Near-certain agreements from which the starting prior is counted.
    prior_recall : float
        Assumed share of true matching pairs that satisfy ``prior_rules``.
    u_max_pairs : float
        Random pairs sampled to estimate the ``u`` probabilities.
    em_blocking : sequence of rules
        One EM session per rule estimates the ``m`` probabilities of the comparisons that do
        not read the rule's columns. A rule with fewer than ``min_em_pairs`` pairs is not run
        (noted in the report); a level no session estimates gets its documented prior.
    em_max_pairs : float
        Pairs sampled from a session's blocked pairs (all when there are fewer).
    min_em_pairs : int
    em_max_iterations : int
        Iterations of each EM session at most (splink stops earlier when the largest change of
        a parameter is under 1e-4).
    max_cluster_size : int or None
        A cluster with more records is split, weakest links first, until no part is larger
        (noted and warned). ``None``: no limit.
    cannot_link : float or None
        Two records whose pair the model scored below this match probability (almost surely
        different people) are never put in one cluster through others: a component holding
        such a pair is rebuilt from its links, strongest first, leaving out a link that would
        join them (deterministic links are kept). Without it, two people are merged by
        transitivity through a third record that resembles both (a household member, a common
        name with a date of birth unknown). ``None``: plain connected components.
    check_clusters : bool
        Score, with the fitted model, every pair of records inside a candidate cluster of three
        or more records (the clusters at the least data-driven threshold,
        :data:`~fl_estimate.providers.linkage.result.MIN_DATA_THRESHOLD`) that no blocking rule
        compared, so that ``cannot_link`` sees two people joined only through others. These
        pairs are then scored pairs like the others (``training["cluster_pairs"]`` counts them).
    no_dedupe : sequence of str
        Providers whose records are never merged with each other (each of their records is
        taken as a different person): within-provider de-duplication switched off.
    seed : int
        Seed of the random samples.
    """

    method: str = "probabilistic"
    threshold: float | str = DEFAULT_THRESHOLD
    blocking: Sequence[Rule] = DEFAULT_BLOCKING
    extra_blocking: Sequence[Rule] = DEFAULT_EXTRA_BLOCKING
    blocking_budget: float = 20.0
    rule_budget: float | None = 20.0
    refinements: Sequence[str] = DEFAULT_REFINEMENTS
    count_sample: int = 100_000
    max_pairs: float | None = MAX_PAIRS
    duckdb_memory_limit: str | None = DUCKDB_MEMORY_LIMIT
    duckdb_temp_directory: str | None = None
    deterministic_rules: Sequence[Rule] = DEFAULT_DETERMINISTIC_RULES
    prior: str = "fitted"
    prior_rules: Sequence[Rule] = DEFAULT_PRIOR_RULES
    prior_recall: float = 0.6
    u_max_pairs: float = 2e6
    em_blocking: Sequence[Rule] = DEFAULT_EM_BLOCKING
    em_max_pairs: float = 2e5
    min_em_pairs: int = 50
    em_max_iterations: int = 100
    max_cluster_size: int | None = 12
    cannot_link: float | None = 0.01
    check_clusters: bool = True
    no_dedupe: Sequence[str] = ()
    seed: int = 1

    def __post_init__(self) -> None:
        if self.method not in ("probabilistic", "deterministic"):
            raise ModelSpecificationError(
                N_(
                    "method must be 'probabilistic' or 'deterministic', not {value!r}",
                    value=self.method,
                )
            )
        if self.threshold != "auto" and not (
            isinstance(self.threshold, int | float) and 0 < self.threshold < 1
        ):
            raise ModelSpecificationError(
                N_("threshold must lie in (0, 1) or be 'auto', got {value!r}", value=self.threshold)
            )
        if self.prior not in ("fitted", "rules"):
            raise ModelSpecificationError(
                N_("prior must be 'fitted' or 'rules', not {value!r}", value=self.prior)
            )
        if not 0 < self.prior_recall <= 1:
            raise ModelSpecificationError(
                N_("prior_recall must lie in (0, 1], got {value}", value=self.prior_recall)
            )
        if self.cannot_link is not None and not 0 < self.cannot_link < 0.5:
            raise ModelSpecificationError(
                N_(
                    "cannot_link must lie in (0, 0.5) (or None), got {value}",
                    value=self.cannot_link,
                )
            )
        if self.max_pairs is not None and not self.max_pairs >= 1:
            raise ModelSpecificationError(
                N_("max_pairs must be at least 1 (or None), got {value}", value=self.max_pairs)
            )
        if self.rule_budget is not None and not self.rule_budget > 0:
            raise ModelSpecificationError(
                N_("rule_budget must be positive (or None), got {value}", value=self.rule_budget)
            )
        check_memory_limit(self.duckdb_memory_limit)
        if self.count_sample < 2:
            raise ModelSpecificationError(
                N_("count_sample must be at least 2, got {value}", value=self.count_sample)
            )
        if self.max_cluster_size is not None and self.max_cluster_size < 2:
            raise ModelSpecificationError(
                N_(
                    "max_cluster_size must be at least 2 (or None), got {value}",
                    value=self.max_cluster_size,
                )
            )
        allowed = set(SPLINK_COLUMNS)
        for what, rules in (
            ("blocking", self.blocking),
            ("extra_blocking", self.extra_blocking),
            ("deterministic_rules", self.deterministic_rules),
            ("prior_rules", self.prior_rules),
            ("em_blocking", self.em_blocking),
        ):
            check_rules(what, rules, allowed)
        check_rules("refinements", [("unique_id", *self.refinements)], allowed)

    @property
    def comparisons(self) -> list[ComparisonSpec]:
        """The comparisons of the model (:func:`.comparisons.default_comparisons`)."""
        return default_comparisons()

    def blocking_rules(self, records: pd.DataFrame | None = None) -> list[Rule]:
        """``blocking`` (each refined to fit ``rule_budget`` on ``records``) and the
        ``extra_blocking`` rules that fit ``blocking_budget``."""
        return self._blocking(records)[0]

    def _blocking(self, records: pd.DataFrame | None) -> tuple[list[Rule], list[dict[str, Any]]]:
        """The blocking rules of a fit, and the refinements made (``rule``, ``refined``,
        ``pairs_per_record`` before and after, estimated)."""
        rules: list[Rule] = [tuple(r) for r in self.blocking]
        refined: list[dict[str, Any]] = []
        if records is None or not len(records):
            return rules, refined
        if self.rule_budget is not None and len(records) > 1:
            rules, refined = refine_rules(
                records, rules, self.refinements, self.rule_budget, self.count_sample, self.seed
            )
        total = sum(count_rule_pairs(records, r, bound=True) for r in rules)
        budget = self.blocking_budget * len(records)
        for rule in self.extra_blocking:
            more = count_rule_pairs(records, rule, bound=True)
            if total + more <= budget:
                rules.append(tuple(rule))
                total += more
        return rules, refined

    def splink_settings(self, prior: float = 1e-4, blocking: Sequence[Rule] | None = None) -> Any:
        """The splink ``SettingsCreator``: pass it to ``splink.Linker`` with any backend (Spark).

        ``blocking``: the prediction blocking rules (default: :attr:`blocking`; see
        :meth:`blocking_rules` for those a fit uses).
        """
        from splink import SettingsCreator

        return SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=[splink_comparison(c) for c in self.comparisons],
            blocking_rules_to_generate_predictions=[
                splink_rule(r) for r in (self.blocking if blocking is None else blocking)
            ],
            probability_two_random_records_match=prior,
            em_convergence=1e-4,
            max_iterations=self.em_max_iterations,
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )

    def settings_dict(self) -> dict[str, Any]:
        """The linker's settings as plain data (for the report and the manifest)."""
        return {
            "method": self.method,
            "threshold": self.threshold,
            "blocking": [list(r) for r in self.blocking],
            "extra_blocking": [list(r) for r in self.extra_blocking],
            "blocking_budget": self.blocking_budget,
            "rule_budget": self.rule_budget,
            "refinements": list(self.refinements),
            "count_sample": self.count_sample,
            "max_pairs": self.max_pairs,
            "duckdb_memory_limit": self.duckdb_memory_limit,
            "deterministic_rules": [list(r) for r in self.deterministic_rules],
            "prior": self.prior,
            "prior_rules": [list(r) for r in self.prior_rules],
            "prior_recall": self.prior_recall,
            "u_max_pairs": self.u_max_pairs,
            "em_blocking": [list(r) for r in self.em_blocking],
            "em_max_pairs": self.em_max_pairs,
            "min_em_pairs": self.min_em_pairs,
            "em_max_iterations": self.em_max_iterations,
            "max_cluster_size": self.max_cluster_size,
            "cannot_link": self.cannot_link,
            "check_clusters": self.check_clusters,
            "no_dedupe": list(self.no_dedupe),
            "seed": self.seed,
        }

    def fit(self, records: pd.DataFrame) -> LinkageResult:
        """Link records prepared by :func:`prepare_records`.

        Warns (:class:`~fl_estimate.exceptions.LinkageWarning`) when a parameter had to fall
        back on its prior, the fitted prior moved far from the counted one, a cluster was split
        for its size, or clusters span strata (see :meth:`LinkageResult.warnings`).

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
                N_(
                    "records lack {columns}: prepare them with prepare_records()",
                    columns=", ".join(missing),
                )
            )
        records = records.reset_index(drop=True)
        if not np.array_equal(records["unique_id"].to_numpy(), np.arange(len(records))):
            raise ModelSpecificationError("unique_id must be 0..n-1 in order (use prepare_records)")
        det = rule_pairs(records, self.deterministic_rules)
        model: dict[str, Any] = {}
        if self.method == "probabilistic" and len(records) > 1:
            pairs, model = self._splink(records, det)
        else:
            pairs = pd.DataFrame(
                {
                    "unique_id_l": pd.Series(dtype=np.int64),
                    "unique_id_r": pd.Series(dtype=np.int64),
                    "match_weight": pd.Series(dtype=float),
                    "match_probability": pd.Series(dtype=float),
                }
            )
        result = LinkageResult(
            records=records,
            pairs=pairs,
            deterministic_pairs=det,
            threshold=DEFAULT_THRESHOLD if self.threshold == "auto" else float(self.threshold),
            method="splink-duckdb+rules" if self.method == "probabilistic" else "deterministic",
            model=model,
            settings=self.settings_dict(),
            max_cluster_size=self.max_cluster_size,
            no_dedupe=tuple(self.no_dedupe),
            cannot_link=self.cannot_link,
        )
        if self.threshold == "auto" and len(pairs):
            result = result.with_threshold(result.data_threshold())
        result.emit_warnings()
        return result

    def _check_pairs(self, db: Any, table: str, blocking: Sequence[Rule], n: int) -> None:
        """Raise when the blocking rules give more than ``max_pairs`` pairs to score."""
        assert self.max_pairs is not None
        t0 = time.perf_counter()
        count = count_blocked_pairs(db, table, blocking)
        logger.info("%d pairs to score (counted in %.1f s)", count, time.perf_counter() - t0)
        if count > self.max_pairs:
            raise too_many_pairs(count, n, self.max_pairs)

    def _splink(
        self, records: pd.DataFrame, det: pd.DataFrame
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        from splink import Linker

        table = splink_table(records)
        start, how = rules_prior(records, self.prior_rules, self.prior_recall)
        blocking, refined = self._blocking(records)
        with quiet_splink(), duckdb_api(self.duckdb_memory_limit, self.duckdb_temp_directory) as db:
            frame = db.register(table)
            if self.max_pairs is not None:
                self._check_pairs(db, frame.physical_name, blocking, len(records))

            def make_linker(model: dict[str, Any] | None) -> Any:
                settings = self.splink_settings(start, blocking) if model is None else model
                return Linker(frame, settings, log_level=None)

            model, training = train_model(
                make_linker,
                records,
                self.comparisons,
                em_rules=self.em_blocking,
                u_max_pairs=self.u_max_pairs,
                em_max_pairs=self.em_max_pairs,
                min_em_pairs=self.min_em_pairs,
                seed=self.seed,
            )
            model["probability_two_random_records_match"] = start
            t0 = time.perf_counter()
            left, right, weight = fetch_scored_pairs(db, make_linker(model).inference.predict())
            logger.info("scored %d pairs in %.1f s", len(weight), time.perf_counter() - t0)
            prior, iterations = start, 0
            if self.prior == "fitted":
                prior, iterations = fit_prior(weight, start, len(records))
                weight = weight - logit2(start) + logit2(prior)
                model["probability_two_random_records_match"] = prior
            pairs = scored_frame(left, right, weight)
            inside = 0
            if self.check_clusters:
                limits = cluster_limits(self)
                pairs, inside = score_inside(db, table, model, records, det, pairs, **limits)
        training.blocking = [list(r) for r in blocking]
        training.notes.extend(refinement_notes(refined, self.rule_budget))
        training.prior = {
            "rules": start,
            "rules_how": how,
            "fitted": prior if self.prior == "fitted" else None,
            "fit_iterations": iterations,
            "used": prior,
        }
        model["fl_estimate_training"] = training.to_dict() | {
            "refined": refined,
            "cluster_pairs": inside,
        }
        model["fl_estimate_training_notes"] = list(training.notes)
        return pairs, model


def cluster_limits(owner: RecordLinker | LinkageResult) -> dict[str, Any]:
    """The cluster constraints of a linker or a linkage, as :func:`score_inside` takes them."""
    return {
        "no_dedupe": tuple(owner.no_dedupe),
        "max_size": owner.max_cluster_size,
        "cannot_link": owner.cannot_link,
    }


def score_inside(
    db: Any,
    table: pd.DataFrame,
    model: dict[str, Any],
    records: pd.DataFrame,
    det: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    no_dedupe: Sequence[str] = (),
    max_size: int | None = None,
    cannot_link: float | None = None,
    start: int = 0,
) -> tuple[pd.DataFrame, int]:
    """The scored ``pairs`` with every pair inside a candidate cluster of three or more
    records added (:func:`~.clusters.pairs_inside`), scored by the fitted ``model`` and
    sorted by their two ids, and the count of pairs added.

    The candidate clusters are those of the records ``start`` and up (a generation added by
    :func:`~.incremental.extend_linkage`; 0: every record) at
    :data:`~fl_estimate.providers.linkage.result.MIN_DATA_THRESHOLD`, made from their own
    links (pairs and deterministic pairs of two such records) under the constraints
    ``no_dedupe``, ``max_size`` and ``cannot_link``, as :func:`~.clusters.split_clusters` makes
    a generation's clusters. ``table``: the records as registered in ``db`` (splink's table).
    """
    from splink import Linker

    n = len(records)
    own = pairs_within(pairs, start, n)
    labels, _ = split_clusters(
        n - start,
        own,
        pairs_within(det, start, n),
        MIN_DATA_THRESHOLD,
        provider=records["provider"].to_numpy()[start:],
        no_dedupe=no_dedupe,
        max_size=max_size,
        cannot_link=cannot_link,
    )
    inside = pairs_inside(labels, own["unique_id_l"].to_numpy(), own["unique_id_r"].to_numpy())
    if not len(inside):
        return pairs, 0
    t0 = time.perf_counter()
    group = np.full(n, -1, dtype=np.int64)
    group[inside.ravel() + start] = labels[inside.ravel()]  # the records of the checked clusters
    inside = inside + start
    cluster = pd.Series(group, index=table.index, dtype="Int64").mask(group < 0)
    frame = db.register(table.assign(fl_cluster=cluster))
    settings = dict(model)
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": "l.fl_cluster = r.fl_cluster", "sql_dialect": "duckdb"}
    ]
    more = scored_frame(
        *fetch_scored_pairs(db, Linker(frame, settings, log_level=None).inference.predict())
    )
    new = np.isin(
        pair_codes(more["unique_id_l"], more["unique_id_r"], n),
        pair_codes(inside[:, 0], inside[:, 1], n),
    )
    logger.info("scored %d pairs inside clusters in %.1f s", int(new.sum()),
                time.perf_counter() - t0)  # fmt: skip
    return merge_sorted(pairs, more[new], n), int(new.sum())


def merge_sorted(pairs: pd.DataFrame, more: pd.DataFrame, n: int) -> pd.DataFrame:
    """``pairs`` with the rows of ``more`` (pairs not among them) inserted, sorted by the two
    ids (``n``: the number of records).

    Both are sorted by the two ids as :func:`fetch_scored_pairs` gives them; each column is
    then copied once with the new rows in place (a concatenation and a sort held three copies
    of the pairs at 1,000,000 records). Unsorted input is concatenated and sorted.

    Examples
    --------
    >>> a = pd.DataFrame({"unique_id_l": [0, 1], "unique_id_r": [3, 2], "w": [1.0, 2.0]})
    >>> b = pd.DataFrame({"unique_id_l": [0, 2], "unique_id_r": [4, 3], "w": [3.0, 4.0]})
    >>> merge_sorted(a, b, 5)["w"].tolist()
    [1.0, 3.0, 2.0, 4.0]
    """
    # the order of the sort by (unique_id_l, unique_id_r), as one int64 per pair
    old = pairs["unique_id_l"].to_numpy(np.int64) * n + pairs["unique_id_r"].to_numpy(np.int64)
    new = more["unique_id_l"].to_numpy(np.int64) * n + more["unique_id_r"].to_numpy(np.int64)
    if np.any(old[1:] <= old[:-1]) or np.any(new[1:] <= new[:-1]):
        out = pd.concat([pairs, more], ignore_index=True)
        return out.sort_values(["unique_id_l", "unique_id_r"], kind="stable", ignore_index=True)
    at = np.searchsorted(old, new)
    del old, new
    return pd.DataFrame(
        {c: np.insert(pairs[c].to_numpy(), at, more[c].to_numpy()) for c in pairs.columns}
    )


def scored_frame(left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """Scored pairs as the linkage keeps them: the two ids, the match weight and probability."""
    return pd.DataFrame(
        {
            "unique_id_l": left,
            "unique_id_r": right,
            "match_weight": weight,
            "match_probability": probability(weight),
        }
    )


#: Bytes of memory a scored pair holds at the peak of a linkage (measured: 146 at 200,000
#: records, 128 at 300,000: ``benchmarks/results/linkage_memory.txt``).
PAIR_BYTES = 150


def refine_rules(
    records: pd.DataFrame,
    rules: Sequence[Rule],
    refinements: Sequence[str],
    budget: float,
    sample: int,
    seed: int,
) -> tuple[list[Rule], list[dict[str, Any]]]:
    """The rules refined until together they give at most ``budget`` pairs per record.

    The measure is the pairs the rules give, each pair counted once (a rule's pairs that an
    earlier rule gives are not its own, as in splink; estimated by :func:`estimate_rule_pairs`
    on a random sample of ``sample`` records, scaled to all). While it is over the budget, the
    rule giving most pairs of its own gets the next condition of ``refinements``; a condition
    the rule already holds (the column an equality, or the same part), or that removes less
    than 2% of its own pairs, is skipped. Returns the rules and, for each refined one, ``rule,
    refined, pairs_per_record`` (its own pairs before and after).
    """
    import duckdb

    n = len(records)
    rules = [tuple(r) for r in rules]
    if sum(count_rule_pairs(records, r, bound=True) for r in rules) <= budget * n:
        return rules, []  # within the budget on the equality columns alone: nothing to count
    cols = sorted({c for r in rules for c in rule_columns(r)} | set(map(_column, refinements)))
    table = records[["unique_id", *[c for c in cols if c != "unique_id"]]]
    if n > sample:
        table = table.sample(n=sample, random_state=seed)
    scale = n * (n - 1) / (len(table) * (len(table) - 1))
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("sample_view", table)
        con.execute("create temp table sample as select * from sample_view")

        def new_pairs(rules: Sequence[Rule], i: int) -> float:
            """Pairs of rule ``i`` that no earlier rule gives (as splink compares them)."""
            return estimate_rule_pairs(con, "sample", rules[i], earlier=rules[:i]) * scale

        current = list(rules)
        counts = [new_pairs(current, i) for i in range(len(current))]
        first = list(counts)
        todo = [list(refinements) for _ in rules]  # conditions each rule may still get
        while sum(counts) > budget * n:
            open_ = [i for i in range(len(rules)) if todo[i]]
            if not open_:
                break
            i = max(open_, key=lambda j: counts[j])
            part = todo[i].pop(0)
            if part in current[i] or _column(part) in current[i]:
                continue
            trial = [*current[:i], (*current[i], part), *current[i + 1 :]]
            fewer = new_pairs(trial, i)
            if fewer < 0.98 * counts[i]:  # a condition that removes (almost) nothing is left out
                current = trial
                counts[i:] = [fewer, *(new_pairs(current, j) for j in range(i + 1, len(rules)))]
    finally:
        con.close()
    done = [
        {
            "rule": rule_label(rule),
            "refined": rule_label(new),
            "pairs_per_record": [round(before / n, 2), round(after / n, 2)],
        }
        for rule, new, before, after in zip(rules, current, first, counts, strict=True)
        if new != rule
    ]
    return current, done


def _column(part: str) -> str:
    return part.rstrip("?").split("~")[0]


def estimate_rule_pairs(con: Any, table: str, rule: Rule, earlier: Sequence[Rule] = ()) -> int:
    """Pairs of records of ``table`` (a DuckDB table) satisfying ``rule`` and none of the
    ``earlier`` rules, counted without keeping them (a rule without windows and without
    earlier rules: from its groups' sizes)."""
    cond = rule_sql(rule)
    equal = [c for c in rule if c == _column(c)]
    if len(equal) == len(rule) and not earlier:
        keys = ", ".join(equal)
        not_null = " and ".join(f"{c} is not null" for c in equal)
        sql = (
            f"select coalesce(sum(k * (k - 1) // 2), 0) from (select count(*) as k from {table} "
            f"where {not_null} group by {keys})"
        )
    else:
        where = " AND ".join(f"NOT coalesce(({rule_sql(e)}), false)" for e in earlier)
        sql = (
            f"select count(*) from {table} as l join {table} as r "
            f"on ({cond}) and l.unique_id < r.unique_id" + (f" where {where}" if where else "")
        )
    return int(con.execute(sql).fetchall()[0][0])


def refinement_notes(refined: Sequence[dict[str, Any]], budget: float | None) -> list[str]:
    """One training note per refined blocking rule."""
    return [
        f"blocking rule {r['rule']} (about {r['pairs_per_record'][0]:g} pairs per record) "
        f"refined to {r['refined']} (about {r['pairs_per_record'][1]:g}): the blocking rules "
        f"gave more than rule_budget ({budget:g}) pairs per record"
        for r in refined
    ]


def too_many_pairs(count: int, n: int, limit: float) -> EstimateDoesNotExistError:
    """The error of a linkage whose blocking rules give more than ``max_pairs`` pairs."""
    return EstimateDoesNotExistError(
        N_(
            "the blocking rules give {pairs} pairs of records to score ({per} per "
            "record), more than max_pairs ({limit}): scoring them would need about "
            "{gb} GB of memory. Names that repeat within a region make these pairs grow "
            "with the square of the records (most come from the rule on name sounds "
            "within a region, key_name_ph+region+age~6); give blocking rules that "
            "select fewer pairs, or raise max_pairs if the machine has the memory",
            pairs=f"{count:,}",
            per=f"{count / max(n, 1):.0f}",
            limit=f"{limit:,.0f}",
            gb=f"{count * PAIR_BYTES / 1e9:.0f}",
        ),
        code="linkage-too-many-pairs",
    )


def count_blocked_pairs(db: Any, table: str, rules: Sequence[Rule], also: str = "") -> int:
    """Pairs of records the blocking rules give to splink's ``predict``, each counted once
    (a pair of a rule is left out when an earlier rule gave it, as splink does), counted in
    DuckDB without forming them. ``also``: a further SQL condition on ``l`` and ``r`` every
    pair must meet (``r.unique_id >= 100``: pairs with a new record)."""
    total = 0
    earlier: list[str] = []
    for rule in rules:
        cond = rule_sql(rule) + (f" AND ({also})" if also else "")
        where = " AND ".join(f"NOT coalesce(({c}), false)" for c in earlier)
        sql = (
            f"select count(*) from {table} as l join {table} as r "
            f"on ({cond}) and l.unique_id < r.unique_id" + (f" where {where}" if where else "")
        )
        total += int(db._execute_sql_against_backend(sql).fetchall()[0][0])
        earlier.append(cond)
    return total


def fetch_scored_pairs(db: Any, predictions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``unique_id_l, unique_id_r, match_weight`` of splink's predictions, in the order of the
    two ids, read from DuckDB as three arrays; the predictions table is then dropped.

    Only these columns are fetched: splink's table also holds ``match_probability`` and
    ``match_key`` (a string per pair, a Python object each in pandas), and fetching all of it
    held about ten times the memory of the pairs (issue 21: 1,000,000 records ran out of
    memory). Sorting in DuckDB avoids a copy of the pairs in pandas.
    """
    sql = (
        "select unique_id_l, unique_id_r, match_weight "
        f"from {predictions.physical_name} order by unique_id_l, unique_id_r"
    )
    got = db._execute_sql_against_backend(sql).fetchnumpy()
    with contextlib.suppress(Exception):  # freeing DuckDB's copy is best effort
        predictions.drop_table_from_database_and_remove_from_cache()
    return (
        np.asarray(got["unique_id_l"], dtype=np.int64),
        np.asarray(got["unique_id_r"], dtype=np.int64),
        np.asarray(got["match_weight"], dtype=float),
    )
