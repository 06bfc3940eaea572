"""Pseudonymised submission records shaped for linkage: keys, Bloom-filter words, canonical order.

Examples
--------
The sample country's accepted submissions of 2023, pseudonymised with its demonstration key:

>>> from pathlib import Path
>>> from fl_estimate.providers import Pseudonymiser, load_submissions
>>> files = sorted(Path("data_samples/country/submissions").glob("*2023*"))  # 2023 files
>>> accepted = load_submissions(files).records()
>>> key = Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> records = prepare_records(accepted, key)
>>> len(records), "given_name" in records, bool(records["key_bloom"].notna().all())
(1031, False, True)
>>> list(splink_table(records).columns) == list(SPLINK_COLUMNS)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.providers.pseudonymise import (
    BLOOM_WORDS,
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    Pseudonymiser,
    bloom_hex_to_words,
)

__all__ = ["BLOOM_COLUMNS", "SPLINK_COLUMNS", "prepare_records", "splink_table"]

#: The Bloom filter of a record's name as int64 words.
BLOOM_COLUMNS = tuple(f"bloom_{i}" for i in range(BLOOM_WORDS))
#: Columns of the prepared records that the splink model reads.
SPLINK_COLUMNS = (
    "unique_id", "provider", "region", "year", "sex", "age", "nationality",
    *[c for c in KEY_COLUMNS if c != "key_bloom"], *BLOOM_COLUMNS, "bloom_n",
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
        ``unique_id`` (0..n-1), ``record_id, provider, source, region, date_identified, year,
        sex, nationality`` (ISO code; unknown as missing), ``age``, the key columns, ``bloom_0..bloom_7`` (int64 words) and ``bloom_n`` (bits set).
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
    nat = frame["nationality"] if "nationality" in frame else pd.Series(None, index=frame.index)
    nat = (
        nat.astype(object)
        .where(nat.notna(), None)
        .map(lambda v: None if v is None else str(v).strip().upper())
    )
    # "XXX" is ICAO Doc 9303's code for an unspecified nationality (travel documents), "UNK"
    # the usual "unknown": both mean no information, not a country
    out["nationality"] = nat.where(~nat.isin(["", "UNKNOWN", "UNK", "XXX"]), None).astype(object)
    out["age"] = pd.to_numeric(
        frame["age"] if "age" in frame else pd.Series(np.nan, index=frame.index), errors="coerce"
    )
    for c in KEY_COLUMNS:
        out[c] = frame[c].to_numpy()
    for i, c in enumerate(BLOOM_COLUMNS):
        out[c] = words[:, i]
    out["bloom_n"] = np.bitwise_count(words.view(np.uint64)).sum(axis=1).astype(np.int64)
    return out


def splink_table(records: pd.DataFrame) -> pd.DataFrame:
    """The columns of prepared records the splink model reads (to register with any backend)."""
    table = records[list(SPLINK_COLUMNS)].copy()
    table["age"] = table["age"].astype(float)
    table["year"] = table["year"].astype(float)
    return table
