"""Records added to a linkage without changing what it found before (a new year of submissions).

:func:`extend_linkage` links the records of new submissions against a fitted linkage and holds
everything the earlier linkage found:

* **the model**: the m probabilities (and the blocking rules) of the earlier linkage are used as
  they are, not trained again. A new period's records are a small share of what the model was
  trained on, and re-training over every year would move the match weights, and so the links, of
  pairs of earlier years (the reason a new year used to change earlier years' figures). The u
  probabilities are estimated again on a random sample of the pairs holding a new record
  (:func:`new_pair_u`): those are the pairs scored, and they are not those the base saw (a base
  of one year never saw a pair of two years). The prior match probability, which depends on how
  many of the pairs compared are matches, is fitted again to the new pairs (the EM update of
  :func:`.training.fit_prior`, m and u held), as a full linkage fits its own;
* **the pairs**: pairs of two earlier records keep their match weights; new records are compared
  (the same blocking rules, through splink) with each other and with the earlier records, the
  term-frequency adjustments of those pairs counted over every record;
* **the persons**: the earlier records' clusters stay as they were at every threshold
  (:func:`.clusters.generation_clusters`). New records are clustered among themselves (the pairs
  inside their candidate clusters scored first when the base checked its own:
  :func:`~.model.score_inside`; at the data-driven threshold of the new pairs when the base's
  was data-driven, ``threshold="auto"``, since the base's balances the base's pairs); a new
  cluster linked to an earlier record is that earlier person found again: the person stays
  counted once, in the stratum of their first identification (as a full linkage counts them),
  with the capture history published before, so every earlier stratum's table, and each figure
  estimated from it, is unchanged. Those records are counted in the report
  (``generations``: ``found_again``).

A full linkage of every year (``[linkage] incremental = false``, or a run without the fit cache:
docs/config.md, "Incremental linkage") trains the model on all records and may revise earlier
years, as a scheduled revision would.

Examples
--------
The sample country's 2022 files linked, then its 2023 files added:

>>> from pathlib import Path
>>> from fl_estimate.providers import Pseudonymiser, RecordLinker, load_submissions
>>> from fl_estimate.providers import prepare_records
>>> key = Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> def records(year):
...     files = sorted(Path("data_samples/country/submissions").glob(f"*{year}*"))
...     return prepare_records(load_submissions(files).records(), key)
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     base = RecordLinker(seed=1).fit(records(2022))
...     both = extend_linkage(base, records(2023))        # a few seconds
>>> before = base.capture_data(strata=["region", "year"])
>>> after = both.capture_data(strata=["region", "year"])
>>> all(after[k].to_frame().equals(before[k].to_frame()) for k in before.keys())
True
>>> [g["records"] for g in both.generation_report()] == [len(base.records), 1031]
True
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.providers.linkage.model import (
    DUCKDB_MEMORY_LIMIT,
    MAX_PAIRS,
    cluster_limits,
    count_blocked_pairs,
    duckdb_api,
    fetch_scored_pairs,
    quiet_splink,
    score_inside,
    scored_frame,
    too_many_pairs,
)
from fl_estimate.providers.linkage.prepare import SPLINK_COLUMNS, splink_table
from fl_estimate.providers.linkage.result import LinkageResult, threshold_from_probabilities
from fl_estimate.providers.linkage.rules import rule_pairs, rule_sql
from fl_estimate.providers.linkage.training import fit_prior, logit2
from fl_estimate.seeds import seed_sequence

__all__ = ["extend_linkage"]

logger = logging.getLogger(__name__)


def pairs_with_new(n_old: int, n: int) -> int:
    """Pairs of ``n`` records holding a record ``n_old`` or above (a new one): those of two new
    records and those of a new and an earlier one.

    >>> pairs_with_new(2, 4)
    5
    """
    n_new = n - n_old
    return n_new * (n_new - 1) // 2 + n_new * n_old


def sample_new_pairs(
    n_old: int, n: int, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of records drawn uniformly (with replacement) among the pairs holding a record
    ``n_old`` or above, of ``n`` records: all of them, in order, when there are at most
    ``size``. The smaller id first.

    Examples
    --------
    >>> left, right = sample_new_pairs(2, 4, 10, np.random.default_rng(0))
    >>> list(zip(left.tolist(), right.tolist()))
    [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    >>> left, right = sample_new_pairs(900, 1000, 20_000, np.random.default_rng(0))
    >>> len(left), bool((right >= 900).all()), bool((left < right).all())
    (20000, True, True)
    >>> round(float((left >= 900).mean()), 3)    # new-new pairs: 4,950 of 94,950 (0.052)
    0.053
    """
    if pairs_with_new(n_old, n) <= size:
        right = np.repeat(np.arange(n_old, n, dtype=np.int64), np.arange(n_old, n))
        left = np.concatenate([np.arange(b, dtype=np.int64) for b in range(n_old, n)] or [right])
        return left, right
    left_parts, right_parts, got = [], [], 0
    while got < size:
        # a new record b and any other record a: a pair of two new records is drawn twice as
        # often as one with an earlier record, and kept half the time
        a = rng.integers(0, n, 2 * size)
        b = rng.integers(n_old, n, 2 * size)
        keep = (a != b) & ((a < n_old) | (rng.random(2 * size) < 0.5))
        left_parts.append(np.minimum(a, b)[keep])
        right_parts.append(np.maximum(a, b)[keep])
        got += int(keep.sum())
    return np.concatenate(left_parts)[:size], np.concatenate(right_parts)[:size]


def new_pair_u(
    db: Any,
    table: str,
    comparisons: list[dict[str, Any]],
    n_old: int,
    n: int,
    *,
    size: int,
    seed: np.random.SeedSequence,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The comparisons (splink's model entries) with each level's ``u`` estimated on a random
    sample of the pairs holding a new record, and what was done.

    ``u`` is the share of the level among pairs of different people, and the pairs an
    extension scores are not those the base was trained on: most hold one earlier and one new
    record. The year of identification shows it most: a base of one year saw every random pair
    in the same year, and its ``u`` of "different year" came from the rule of half (1e-5), which
    made every pair of a new year's record with an earlier one 12 bits more alike than it is.
    So ``u`` is estimated again (``size`` pairs drawn by :func:`sample_new_pairs`, each
    level's SQL evaluated in DuckDB on ``table``, the records of
    :func:`~.prepare.splink_table` as registered); a level the sample
    never holds (an exact match of a rare value: the same document number) keeps the base's
    ``u``, which the base took from the values' frequencies when its own sample missed it. The
    ``m`` (and the term-frequency adjustments) are held.
    """
    left, right = sample_new_pairs(n_old, n, size, np.random.default_rng(seed))
    pairs = pd.DataFrame({"fl_l": left, "fl_r": right})
    view = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in SPLINK_COLUMNS)
    cases: list[str] = []
    for comp in comparisons:
        whens = []
        for i, level in enumerate(comp["comparison_levels"]):
            cond = level["sql_condition"]
            code = -1 if level.get("is_null_level") else i
            whens.append(f"ELSE {code}" if cond.strip().upper() == "ELSE" else
                         f"WHEN ({cond}) THEN {code}")  # fmt: skip
        if not whens[-1].startswith("ELSE"):
            whens.append("ELSE -1")
        cases.append(f"CASE {' '.join(whens)} END AS c{len(cases)}")
    con = db.duckdb_con
    con.register("fl_new_pair_sample", pairs)
    try:
        sql = (
            f"select {', '.join(cases)} from (select {view} from fl_new_pair_sample as p "
            f"join {table} as l on l.unique_id = p.fl_l join {table} as r on r.unique_id = p.fl_r)"
        )
        codes = con.execute(sql).fetchnumpy()
    finally:
        con.unregister("fl_new_pair_sample")
    out = [dict(c, comparison_levels=[dict(lv) for lv in c["comparison_levels"]])
           for c in comparisons]  # fmt: skip
    estimated: dict[str, list[float]] = {}
    for j, comp in enumerate(out):
        got = np.asarray(codes[f"c{j}"], dtype=np.int64)
        levels = comp["comparison_levels"]
        counts = np.bincount(got[got >= 0], minlength=len(levels))
        total = max(int(counts.sum()), 1)
        us = []
        for i, level in enumerate(levels):
            if level.get("is_null_level"):
                continue
            if counts[i]:  # else the base's u (training gives every level one)
                level["u_probability"] = float(counts[i] / total)
            us.append(float(f"{level['u_probability']:.6g}"))
        estimated[comp["output_column_name"]] = us
    return out, {"u_pairs": len(pairs), "u": estimated}


def _new_pairs(
    base: LinkageResult, records: pd.DataFrame, n_old: int, det: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The pairs with a new record (ids ``n_old`` and up) scored by the base's model, the prior
    refitted to them, and what was done.

    When the base checked its clusters (``check_clusters``), the pairs inside the new records'
    candidate clusters that no blocking rule compared are scored too (with the refitted prior:
    :func:`~.model.score_inside` from ``n_old``, ``det`` the deterministic pairs with a new
    record), as a full linkage scores those of its records."""
    from splink import Linker

    model = {k: v for k, v in base.model.items() if not k.startswith("fl_estimate")}
    blocking = base.training.get("blocking") or base.settings.get("blocking", [])
    # dedupe pairs have unique_id_l < unique_id_r: a pair holds a new record iff its right one is
    model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f"({rule_sql(r)}) AND r.unique_id >= {n_old}", "sql_dialect": "duckdb"}
        for r in blocking
    ]
    t0 = time.perf_counter()
    limit = base.settings.get("max_pairs", MAX_PAIRS)
    memory = base.settings.get("duckdb_memory_limit", DUCKDB_MEMORY_LIMIT)
    with quiet_splink(), duckdb_api(memory) as db:
        table = splink_table(records)
        frame = db.register(table)
        if limit is not None:  # the guard of a full linkage, on the pairs with a new record
            count = count_blocked_pairs(
                db, frame.physical_name, [tuple(r) for r in blocking], f"r.unique_id >= {n_old}"
            )
            if count > limit:
                raise too_many_pairs(count, len(records) - n_old, limit)
        model["comparisons"], u_facts = new_pair_u(
            db, frame.physical_name, model["comparisons"], n_old, len(records),
            size=int(base.settings.get("u_max_pairs", 2e6)),
            seed=seed_sequence(int(base.settings.get("seed", 1)), "extend_linkage", "u", n_old),
        )  # fmt: skip
        pred = Linker(frame, model, log_level=None)
        left, right, weight = fetch_scored_pairs(db, pred.inference.predict())
        logger.info("scored %d new pairs in %.1f s", len(weight), time.perf_counter() - t0)
        start = float(model["probability_two_random_records_match"])
        compared = pairs_with_new(n_old, len(records))
        prior, iterations = start, 0
        if base.settings.get("prior", "fitted") == "fitted":
            prior, iterations = fit_prior(weight, start, len(records), pairs=compared)
            weight = weight - logit2(start) + logit2(prior)
        pairs = scored_frame(left, right, weight)
        inside = 0
        # a base fitted before the check existed did not check its own clusters: nor do its
        # later generations
        if base.settings.get("check_clusters", False):
            model["probability_two_random_records_match"] = prior
            limits = cluster_limits(base)
            pairs, inside = score_inside(
                db, table, model, records, det, pairs, **limits, start=n_old
            )
    facts = {
        **u_facts,
        "pairs_scored": len(pairs) - inside,
        "cluster_pairs": inside,
        "prior": prior,
        "prior_fit_iterations": iterations,
    }
    return pairs, facts


def extend_linkage(base: LinkageResult, records: pd.DataFrame) -> LinkageResult:
    """The linkage ``base`` with ``records`` (new records, prepared by
    :func:`~fl_estimate.providers.linkage.prepare.prepare_records`) added as a new generation.

    The base's model, pairs, threshold and persons are held (see the module docstring); the new
    records get ``unique_id`` from ``len(base.records)`` on, in their canonical order.

    Raises
    ------
    ModelSpecificationError
        When ``records`` lack the base's columns.
    EstimateDoesNotExistError
        When the base's blocking rules give more than its ``max_pairs`` pairs with a new
        record (code ``linkage-too-many-pairs``, as a full linkage), counted before scoring.
    """
    n_old = len(base.records)
    missing = [c for c in base.records.columns if c not in records.columns]
    if missing:
        raise ModelSpecificationError(
            N_(
                "records lack {columns}: prepare them with prepare_records()",
                columns=", ".join(missing),
            )
        )
    new = records.reset_index(drop=True)[list(base.records.columns)].copy()
    new["unique_id"] = np.arange(n_old, n_old + len(new), dtype=np.int64)
    combined = pd.concat([base.records, new], ignore_index=True)
    for c in base.records.columns:  # an all-missing column of the new records keeps its dtype
        if combined[c].dtype != base.records[c].dtype:
            combined[c] = combined[c].astype(base.records[c].dtype)
    rules = [tuple(r) for r in base.settings.get("deterministic_rules", [])]
    det = rule_pairs(combined, rules)
    det = det[np.maximum(det["unique_id_l"], det["unique_id_r"]) >= n_old]
    facts: dict[str, Any] = {"pairs_scored": 0, "deterministic_links": len(det)}
    pairs = base.pairs
    threshold = base.threshold
    if base.method != "deterministic" and len(new):
        scored, more = _new_pairs(base, combined, n_old, det)
        facts |= more
        pairs = pd.concat([base.pairs, scored], ignore_index=True)
        if base.settings.get("threshold") == "auto":  # the data-driven one, of the new pairs
            found = threshold_from_probabilities(scored["match_probability"].to_numpy(float))
            threshold = threshold if found is None else found
    facts["threshold"] = threshold
    model = dict(base.model)
    model["fl_estimate_generations"] = [*base.model.get("fl_estimate_generations", []), facts]
    result = dataclasses.replace(
        base,
        records=combined,
        pairs=pairs,
        deterministic_pairs=pd.concat([base.deterministic_pairs, det], ignore_index=True),
        model=model,
        generations=(*base.generations, n_old),
        generation_thresholds=(*base.thresholds()[1:], threshold),
    )
    result.emit_warnings()
    return result
