"""The comparisons of the Fellegi–Sunter model: levels, their SQL, and their documented priors.

Each comparison sorts a pair of records into one of its levels (first condition that holds,
after the null level, which carries no evidence). The model learns, for each level, ``m`` (the
share of pairs of the same person at that level) and ``u`` (the share of pairs of different
people). Each level also carries ``m_prior``: the share used when no training session could
estimate it (a level never seen in training), documented here so the fallback is never silent.
The priors are round guesses from the synthetic countries and the literature on civil records
(names written the same in about half of true pairs, full dates of birth agreeing in most pairs
where both are given); they matter only for levels the data cannot inform.

``name`` is one comparison whose levels read the given and the family name separately (so a
shared family name without the given name, the mark of two members of one household, has its own
level and weight, and a second family name left out is not a disagreement) and the name as a
whole (so swapped given and family names, and typing errors, still agree): splitting them into
two comparisons would count the same evidence twice. Exact full names carry a term-frequency
adjustment: agreeing on a common name is weaker evidence than on a rare one. Dates of birth do
not: a date's frequency among the records counts the person's own records, so any date of one
person recorded by two providers is at least 2 in n, which at 500 records is about 100 times the
level's u, and took several bits off the strongest evidence two records of one person share
(``benchmarks/linkage_oracle.py --pool 30 --seed 14601``, with ``--dob-tf`` for the linkage
with the adjustment; docs/providers.md, "What N-hat can reach").
A date of birth written as 1 January, or as a year only, is a year (see
:func:`fl_estimate.providers.pseudonymise.normalise_birth_date`): an unknown date. The levels of
``dob`` tell the three kinds of record apart (a full date, an unknown date with its year, no
date): two unknown dates of the same year, and a full date against an unknown one of the same
year, are different levels (in name-dense countries the second was the commonest false link:
people whose date is unknown are not people whose date is known, benchmarks/linkage.py
--diagnose), and a date against no date is a level of its own, not the null level (a full date
against none is weak evidence against a match, an unknown date against none weak evidence for
one); only two records with no date at all carry no evidence. Age counts only when a date of
birth is missing on one side: it is computed from the date of birth, and counting both would
count the same evidence twice; sex counts only when the given names differ, for the same reason
(a given name says the sex), and a phone only when they agree: members of one household share a
phone, so a shared phone under different given names is no evidence of one person. Region, year of identification and nationality are not
identifiers but tell people apart where names are shared; the model learns how often one person's
records differ on them (a person found again the next year, a nationality recorded differently).
The provider is one of them: a provider de-duplicates its own records, so two records of one
person from one provider are rarer than across providers, and the model learns how much rarer
(without it, one prior for all pairs made within-provider pairs over-confident: in the Sahel
profile at 100,000 records, 11% of within-provider pairs scored 0.3-0.5 were true matches,
48% of those scored 0.7-0.9; benchmarks/linkage_oracle.py).

Examples
--------
>>> [c.name for c in default_comparisons()]
['name', 'dob', 'doc', 'phone', 'sex', 'age', 'region', 'year', 'nationality', 'provider']
>>> [lv.label for lv in default_comparisons()[1].levels][:4]
['same date of birth', 'same year, both dates unknown', 'same year, one date unknown, one full', 'same year, other day']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fl_estimate.providers.linkage.prepare import BLOOM_COLUMNS

__all__ = ["ComparisonSpec", "Level", "default_comparisons", "dice_sql", "splink_comparison"]


def dice_sql() -> str:
    """SQL of the Dice coefficient of the two records' Bloom filters (splink's ``_l``/``_r``)."""
    inter = " + ".join(f"CAST(bit_count({c}_l & {c}_r) AS INTEGER)" for c in BLOOM_COLUMNS)
    return f"(2.0 * ({inter}) / (bloom_n_l + bloom_n_r))"


@dataclass(frozen=True)
class Level:
    """One level of a comparison.

    Attributes
    ----------
    label : str
    sql : str
        Condition on the pair (splink's ``_l``/``_r`` columns); ``ELSE`` for the last level.
    m_prior : float
        Share of pairs of the same person expected at this level, used only when training
        cannot estimate it.
    tf : str or None
        Column whose term frequencies adjust the weight of the level (exact levels).
    exact : str or None
        Column of which the level is an exact match; its ``u`` can then be computed from the
        frequencies of the column's values when the random sample holds no such pair.
    m_min : float
        Least ``m`` the level is given (a documented lower bound): where EM finds fewer pairs
        of the same person at this level, the bound is used and the report says so. For a
        level that the training data may show to be (almost) impossible for one person but
        that real registrations produce now and then, so that it is weak evidence against a
        match rather than a near-certain proof.
    """

    label: str
    sql: str
    m_prior: float
    tf: str | None = None
    exact: str | None = None
    m_min: float = 0.0


@dataclass(frozen=True)
class ComparisonSpec:
    """A comparison: its name, the null condition (no evidence) and its levels in order.

    ``null_column``: when the null level is "this column missing on either side" (or, with
    ``null_both``, "on both sides"), the column (used to compute ``u`` of an exact level from
    value frequencies).
    """

    name: str
    null_sql: str
    levels: tuple[Level, ...]
    null_column: str | None = None
    null_both: bool = False


def _exact(name: str, column: str, label: str, m: float) -> ComparisonSpec:
    return ComparisonSpec(
        name,
        f"{column}_l IS NULL OR {column}_r IS NULL",
        (
            Level(label, f"{column}_l = {column}_r", m, exact=column),
            Level("different", "ELSE", 1 - m),
        ),
        null_column=column,
    )


def default_comparisons() -> list[ComparisonSpec]:
    """The comparisons of the default model (see the module docstring)."""
    dice = dice_sql()
    given_agree = (
        "COALESCE(key_given_ph_l = key_given_ph_r, FALSE) OR "
        "COALESCE(key_name_ph_l = key_name_ph_r, FALSE) OR COALESCE(key_name_l = key_name_r, FALSE)"
    )
    same_given = "key_given_l = key_given_r"
    same_family_ph = "key_family_ph_l = key_family_ph_r"
    same_family = f"(key_family_l = key_family_r OR {same_family_ph})"
    name = ComparisonSpec(
        "name",
        "bloom_n_l = 0 OR bloom_n_r = 0",
        (
            Level("same full name", "key_name_l = key_name_r", 0.50, tf="key_name",
                  exact="key_name"),
            Level("same given name, same first family name", f"{same_given} AND {same_family_ph}",
                  0.10),
            Level("name Dice >= 0.9", f"{dice} >= 0.9", 0.10),
            Level("same sounds of given and family name",
                  "key_name_ph_l = key_name_ph_r OR (key_given_ph_l = key_given_ph_r AND "
                  f"{same_family_ph})", 0.10),
            Level("name Dice >= 0.8", f"{dice} >= 0.8", 0.07),
            Level("same family name, one given name missing",
                  f"(key_given_l IS NULL OR key_given_r IS NULL) AND {same_family}", 0.01),
            Level("same family name, other given name", same_family, 0.02),
            Level("name Dice >= 0.65", f"{dice} >= 0.65", 0.05),
            Level("different", "ELSE", 0.05),
        ),
    )  # fmt: skip
    full_l, full_r = "key_dob_l IS NOT NULL", "key_dob_r IS NOT NULL"
    year_l = "(key_dob_l IS NULL AND key_yob_l IS NOT NULL)"
    year_r = "(key_dob_r IS NULL AND key_yob_r IS NOT NULL)"
    blank_l, blank_r = "key_yob_l IS NULL", "key_yob_r IS NULL"
    dob = ComparisonSpec(
        "dob",
        "key_yob_l IS NULL AND key_yob_r IS NULL",
        (
            Level("same date of birth", "key_dob_l = key_dob_r", 0.78, exact="key_dob"),
            Level("same year, both dates unknown", f"key_yob_l = key_yob_r AND {year_l} AND {year_r}",
                  0.08),
            Level("same year, one date unknown, one full",
                  f"key_yob_l = key_yob_r AND ({year_l} OR {year_r})", 0.02, m_min=0.01),
            Level("same year, other day", "key_yob_l = key_yob_r", 0.02),
            Level("one full date, no date on the other",
                  f"({full_l} AND {blank_r}) OR ({blank_l} AND {full_r})", 0.03),
            Level("one date unknown, no date on the other",
                  f"({year_l} AND {blank_r}) OR ({blank_l} AND {year_r})", 0.03),
            Level("different", "ELSE", 0.04),
        ),
        null_column="key_yob",
        null_both=True,
    )  # fmt: skip
    age = ComparisonSpec(
        "age",
        "age_l IS NULL OR age_r IS NULL OR (key_yob_l IS NOT NULL AND key_yob_r IS NOT NULL)",
        (
            Level("age within 1 year", "abs(age_l - age_r) <= 1", 0.70),
            Level("age within 3 years", "abs(age_l - age_r) <= 3", 0.20),
            Level("age within 6 years", "abs(age_l - age_r) <= 6", 0.08),
            Level("different", "ELSE", 0.02),
        ),
    )
    return [
        name,
        dob,
        _exact("doc", "key_doc", "same document number", 0.95),
        ComparisonSpec(
            "phone",
            f"key_phone_l IS NULL OR key_phone_r IS NULL OR NOT ({given_agree})",
            (
                Level("same phone", "key_phone_l = key_phone_r", 0.85, exact="key_phone"),
                Level("different", "ELSE", 0.15),
            ),
        ),
        ComparisonSpec(
            "sex",
            f"sex_l IS NULL OR sex_r IS NULL OR {given_agree}",
            (Level("same sex", "sex_l = sex_r", 0.97), Level("different", "ELSE", 0.03)),
        ),
        age,
        _exact("region", "region", "same region", 0.95),
        _exact("year", "year", "same year of identification", 0.90),
        _exact("nationality", "nationality", "same nationality", 0.95),
        _exact("provider", "provider", "same provider", 0.05),
    ]


def splink_comparison(spec: ComparisonSpec) -> Any:
    """The splink comparison of a spec (levels labelled with the spec's labels)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[Any] = [cll.CustomLevel(spec.null_sql).configure(is_null_level=True)]
    for lv in spec.levels:
        if lv.sql == "ELSE":
            levels.append(cll.ElseLevel().configure(label_for_charts=lv.label))
            continue
        level: Any = cll.CustomLevel(lv.sql, lv.label)
        if lv.tf:
            level = level.configure(tf_adjustment_column=lv.tf, tf_adjustment_weight=1.0)
        levels.append(level)
    return cl.CustomComparison(output_column_name=spec.name, comparison_levels=levels)
