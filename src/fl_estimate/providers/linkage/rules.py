"""Rules over keyed tokens: which pairs of records a rule selects, in SQL and in pandas.

A rule is a tuple of column names of the prepared records. A pair of records satisfies it when it
agrees, non-missing, on every column; a name ``column~k`` (a number column, e.g. ``age~6``) asks
instead that the two values differ by at most ``k``, or that either is missing, and ``column?``
(e.g. ``key_yob?``) that they agree or that either is missing (they do not disagree). Rules serve as
blocking rules (which pairs the probabilistic model compares), as blocking rules of the EM
training sessions and as deterministic rules (pairs linked whatever the model says).

Examples
--------
>>> rule_sql(("key_name_ph", "region", "age~6"))
'l.key_name_ph = r.key_name_ph AND l.region = r.region AND (l.age IS NULL OR r.age IS NULL OR abs(l.age - r.age) <= 6)'
>>> import pandas as pd
>>> rec = pd.DataFrame({"unique_id": [0, 1, 2, 3], "key_doc": ["a", "a", "a", None],
...                     "age": [20, 21, 40, 20]})
>>> count_rule_pairs(rec, ("key_doc",)), count_rule_pairs(rec, ("key_doc", "age~3"))
(3, 1)
>>> rule_sql(("key_name_ph", "key_yob?"))
'l.key_name_ph = r.key_name_ph AND (l.key_yob IS NULL OR r.key_yob IS NULL OR l.key_yob = r.key_yob)'

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_

__all__ = [
    "Rule",
    "check_rules",
    "count_rule_pairs",
    "rule_columns",
    "rule_label",
    "rule_pairs",
    "rule_sql",
    "splink_rule",
]

#: A rule: column names, ``column~k`` for a numeric window, ``column?`` for "not different".
Rule = Sequence[str]

_WINDOW = re.compile(r"^([a-z_][a-z0-9_]*)~(\d+(?:\.\d+)?)$")
_COMPATIBLE = re.compile(r"^([a-z_][a-z0-9_]*)\?$")


def _parse(rule: Rule) -> tuple[list[str], list[tuple[str, float | None]]]:
    """Equality columns, and the conditions that let a missing value through: ``(column, k)``
    for a window, ``(column, None)`` for ``column?``."""
    equal: list[str] = []
    window: list[tuple[str, float | None]] = []
    for part in rule:
        m = _WINDOW.match(part)
        c = _COMPATIBLE.match(part)
        if m:
            window.append((m[1], float(m[2])))
        elif c:
            window.append((c[1], None))
        else:
            equal.append(part)
    return equal, window


def rule_columns(rule: Rule) -> list[str]:
    """The columns a rule reads."""
    equal, window = _parse(rule)
    return [*equal, *(c for c, _ in window)]


def rule_label(rule: Rule) -> str:
    """``key_name_ph+region+age~6``: how reports name a rule."""
    return "+".join(rule)


def check_rules(what: str, rules: Sequence[Rule], allowed: set[str]) -> None:
    """Raise :class:`ModelSpecificationError` naming a rule that is empty or reads unknown
    columns, or whose only conditions are windows (every pair would pass one)."""
    for rule in rules:
        equal, window = _parse(rule)
        bad = [c for c in [*equal, *(c for c, _ in window)] if c not in allowed]
        if bad or not rule or not equal:
            raise ModelSpecificationError(
                N_(
                    "{what} rule {rule} names unknown columns {bad}; rules may use {allowed}, and "
                    "at least one column must be an equality (``age~6``, a window, cannot stand "
                    "alone)",
                    what=what,
                    rule=list(rule),
                    bad=bad,
                    allowed=", ".join(sorted(allowed - {"unique_id", "bloom_n"})),
                )
            )


def rule_sql(rule: Rule) -> str:
    """The rule as a splink blocking condition on ``l`` and ``r``."""
    equal, window = _parse(rule)
    parts = [f"l.{c} = r.{c}" for c in equal]
    parts += [
        f"(l.{c} IS NULL OR r.{c} IS NULL OR "
        + (f"l.{c} = r.{c})" if k is None else f"abs(l.{c} - r.{c}) <= {k:g})")
        for c, k in window
    ]
    return " AND ".join(parts)


def splink_rule(rule: Rule) -> Any:
    """The splink blocking-rule creator of a rule (``block_on`` when it has no window)."""
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    equal, window = _parse(rule)
    return block_on(*equal) if not window else CustomRule(rule_sql(rule))


def count_rule_pairs(records: pd.DataFrame, rule: Rule, *, bound: bool = False) -> int:
    """Pairs of records satisfying a rule (counted exactly; windows compared within groups).

    ``bound=True``: the pairs agreeing on the rule's equality columns only (an upper bound for a
    rule with a window, counted without forming the pairs).
    """
    equal, window = _parse(rule)
    sub = records.dropna(subset=equal)
    if sub.empty:
        return 0
    sizes = sub.groupby(equal, sort=False).size().to_numpy(np.int64)
    if not window or bound:
        return int((sizes * (sizes - 1) // 2).sum())
    return len(_window_pairs(sub, equal, window))


def _window_pairs(
    sub: pd.DataFrame, equal: list[str], window: list[tuple[str, float | None]]
) -> pd.DataFrame:
    cols = ["unique_id", *equal, *(c for c, _ in window)]
    base = sub[list(dict.fromkeys(cols))]
    pairs = base.merge(base, on=equal, suffixes=("_l", "_r"))
    pairs = pairs[pairs["unique_id_l"] < pairs["unique_id_r"]]
    for c, k in window:
        a, b = pairs[f"{c}_l"], pairs[f"{c}_r"]
        near = (a == b) if k is None else ((a - b).abs() <= k)
        pairs = pairs[a.isna() | b.isna() | near.fillna(False).astype(bool)]
    return pairs[["unique_id_l", "unique_id_r"]]


def rule_pairs(records: pd.DataFrame, rules: Sequence[Rule]) -> pd.DataFrame:
    """Pairs of records satisfying a rule: ``unique_id_l, unique_id_r, rule``.

    For an equality rule, each record is paired with the first record of its group (star-shaped:
    the same clusters as every pair, with fewer links); a rule with a window gives every pair.
    """
    frames = []
    for rule in rules:
        equal, window = _parse(rule)
        sub = records[list(dict.fromkeys(["unique_id", *rule_columns(rule)]))].dropna(subset=equal)
        if sub.empty:
            continue
        if window:
            pairs = _window_pairs(sub, equal, window)
            left = pairs["unique_id_l"].to_numpy(np.int64)
            right = pairs["unique_id_r"].to_numpy(np.int64)
        else:
            first = sub.groupby(equal, sort=False)["unique_id"].transform("min")
            keep = sub["unique_id"] != first
            left = first[keep].to_numpy(np.int64)
            right = sub.loc[keep, "unique_id"].to_numpy(np.int64)
        frames.append(
            pd.DataFrame({"unique_id_l": left, "unique_id_r": right, "rule": rule_label(rule)})
        )
    if not frames:
        return pd.DataFrame(
            {
                "unique_id_l": pd.Series(dtype=np.int64),
                "unique_id_r": pd.Series(dtype=np.int64),
                "rule": pd.Series(dtype=object),
            }
        )
    return pd.concat(frames, ignore_index=True)
