"""Records added to a linkage without changing what it found before (a new year of submissions).

:func:`extend_linkage` links the records of new submissions against a fitted linkage and holds
everything the earlier linkage found:

* **the model**: the m and u probabilities (and the blocking rules) of the earlier linkage are
  used as they are, not trained again. A new period's records are a small share of what the
  model was trained on, and re-estimating the probabilities over every year would move the match
  weights, and so the links, of pairs of earlier years (the reason a new year used to change
  earlier years' figures). Only the prior match probability, which depends on how many of the
  pairs compared are matches, is fitted again to the new pairs (the EM update of
  :func:`.training.fit_prior`, m and u held), as a full linkage fits its own;
* **the pairs**: pairs of two earlier records keep their match weights; new records are compared
  (the same blocking rules, through splink) with each other and with the earlier records, the
  term-frequency adjustments of those pairs counted over every record;
* **the persons**: the earlier records' clusters stay as they were at every threshold
  (:func:`.clusters.generation_clusters`). New records are clustered among themselves; a new
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
    count_blocked_pairs,
    duckdb_api,
    fetch_scored_pairs,
    quiet_splink,
    scored_frame,
    too_many_pairs,
)
from fl_estimate.providers.linkage.prepare import splink_table
from fl_estimate.providers.linkage.result import LinkageResult
from fl_estimate.providers.linkage.rules import rule_pairs, rule_sql
from fl_estimate.providers.linkage.training import fit_prior, logit2

__all__ = ["extend_linkage"]

logger = logging.getLogger(__name__)


def _new_pairs(
    base: LinkageResult, records: pd.DataFrame, n_old: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The pairs with a new record (ids ``n_old`` and up) scored by the base's model, the prior
    refitted to them, and what was done."""
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
        frame = db.register(splink_table(records))
        if limit is not None:  # the guard of a full linkage, on the pairs with a new record
            count = count_blocked_pairs(
                db, frame.physical_name, [tuple(r) for r in blocking], f"r.unique_id >= {n_old}"
            )
            if count > limit:
                raise too_many_pairs(count, len(records) - n_old, limit)
        pred = Linker(frame, model, log_level=None)
        left, right, weight = fetch_scored_pairs(db, pred.inference.predict())
    logger.info("scored %d new pairs in %.1f s", len(weight), time.perf_counter() - t0)
    start = float(model["probability_two_random_records_match"])
    n_new = len(records) - n_old
    compared = n_new * (n_new - 1) / 2 + n_new * n_old
    prior, iterations = start, 0
    if base.settings.get("prior", "fitted") == "fitted":
        prior, iterations = fit_prior(weight, start, len(records), pairs=compared)
        weight = weight - logit2(start) + logit2(prior)
    pairs = scored_frame(left, right, weight)
    facts = {"pairs_scored": len(pairs), "prior": prior, "prior_fit_iterations": iterations}
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
    if base.method != "deterministic" and len(new):
        scored, more = _new_pairs(base, combined, n_old)
        facts |= more
        pairs = pd.concat([base.pairs, scored], ignore_index=True)
    model = dict(base.model)
    model["fl_estimate_generations"] = [*base.model.get("fl_estimate_generations", []), facts]
    result = dataclasses.replace(
        base,
        records=combined,
        pairs=pairs,
        deterministic_pairs=pd.concat([base.deterministic_pairs, det], ignore_index=True),
        model=model,
        generations=(*base.generations, n_old),
    )
    result.emit_warnings()
    return result
