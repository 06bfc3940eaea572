"""The IC-TIP tables of one release, from plain frames, protected together.

Tables (one per period level; ``<unit>`` is ``records`` or ``persons`` for the victims):

=====================================  =================================================
``victims_sex_age_<unit>``             sex x age group (girls, women, boys, men, ...)
``victims_citizenship_<unit>``         citizenship (ISO code), by frequency
``victims_citizenship_group_<unit>``   nationals, foreigners, unknown (``country`` given)
``victims_exploitation_<unit>``        form of exploitation (one, several, unknown)
``cases_type``                         trafficking in persons, smuggling of migrants
``cases_means``                        trafficking cases by means (several per case)
``justice_<offence>``                  perpetrator records by stage
``perpetrators_sex_<offence>``         by stage and sex [1]
``perpetrators_citizenship_<offence>`` by stage and citizenship (or nationals/foreigners) [1]
``perpetrators_age_<offence>``         by stage and age group (child, adult, unknown) [1]
=====================================  =================================================

[1] At the coarsest level configured only (the year, usually): by stage, sex, citizenship or age
group and region, a quarter's cells would nearly all be below the threshold.

Every cell of every table goes through :func:`fl_estimate.stats.protect.protect_statistics`.

Examples
--------
>>> import pandas as pd
>>> v = pd.DataFrame({"region": ["North"] * 6 + ["South"] * 2,
...                   "date_identified": ["2023-01-10"] * 6 + ["2023-05-02"] * 2,
...                   "sex": ["F", "F", "F", "F", "M", "M", "F", "M"], "age": [30] * 8,
...                   "nationality": ["NER"] * 8, "exploitation": ["ForcedLabour"] * 8})
>>> tables, protection = release_tables(v, None, None, None, levels=("year",), threshold=3)
>>> tables["victims_sex_age_records_year"].publication()[["F|adult", "M|adult"]].to_numpy().tolist()
[['c', 'c'], ['c', 'c'], ['5', '3']]
>>> bool(protection.intervals["protected"].all())
True
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import pandas as pd

from fl_estimate.disclosure import LinkedProtection, protect_tables
from fl_estimate.stats.categories import (
    AGE_GROUPS,
    CASE_TYPES,
    LEVELS,
    MEANS,
    MULTIPLE,
    SEXES,
    STAGES,
)
from fl_estimate.stats.protect import Attribute, Partner, System, TableSpec, protect_statistics
from fl_estimate.stats.tables import SEX_AGE, PublishedTable, age_group, exploitation_group

__all__ = ["CITIZENSHIP_GROUPS", "OFFENCES", "release_tables"]

#: Offences of the criminal-justice tables: (offence code, name in the table names).
OFFENCES = (("trafficking_in_persons", "trafficking"), ("smuggling_of_migrants", "smuggling"))
#: Citizenship against the publishing country (``[stats] country``).
CITIZENSHIP_GROUPS = ("national", "foreign", "UNKNOWN")


def _by_frequency(categories: pd.Series) -> tuple[str, ...]:
    """Codes by decreasing count (ties by name), ``UNKNOWN`` last."""
    counts = categories.value_counts()
    rest = sorted((c for c in counts.index if c != "UNKNOWN"), key=lambda c: (-counts[c], c))
    return (*rest, *(("UNKNOWN",) if "UNKNOWN" in counts.index else ()))


#: A table's column of the atoms (a function of the atoms' frame).
_Column = Callable[[pd.DataFrame], pd.Series]


def _group(codes: pd.Series, country: str) -> pd.Series:
    up = codes.astype(str).str.upper()
    return up.where(up == "UNKNOWN", up.map(lambda c: "national" if c == country else "foreign"))


def _forms_present(frame: pd.DataFrame) -> tuple[str, ...]:
    present = set(exploitation_group(frame["exploitation"]))
    return (*sorted(present - {MULTIPLE, "Unknown"}), MULTIPLE, "Unknown")


def _victim_system(name: str, v: pd.DataFrame, forms: tuple[str, ...]) -> System:
    v = v.copy()
    v["age_group"] = v["age_group"] if "age_group" in v else age_group(v)
    v["sex_age"] = v["sex"].astype(str) + "|" + v["age_group"].astype(str)
    v["exploitation_group"] = exploitation_group(v["exploitation"])
    v["nationality"] = v["nationality"].astype(str).str.upper()
    attrs = (
        Attribute("sex_age", SEX_AGE),
        Attribute("nationality", _by_frequency(v["nationality"])),
        Attribute("exploitation_group", forms),
    )
    return System(name, v, "date_identified", attributes=attrs)


def _column(field: str, mapping: dict[str, str] | None = None) -> _Column:
    def f(atoms: pd.DataFrame) -> pd.Series:
        values = atoms[field]
        return values.map(mapping) if mapping is not None else values

    return f


def _staged(offence: str, mapping: dict[str, str] | None = None) -> _Column:
    """Column ``stage|value`` of the atoms of ``offence`` (None for the others)."""

    def f(atoms: pd.DataFrame) -> pd.Series:
        value = atoms["value"].map(mapping) if mapping is not None else atoms["value"]
        return (atoms["stage"] + "|" + value).where(atoms["offence"] == offence)

    return f


def _stage_of(offence: str) -> _Column:
    def f(atoms: pd.DataFrame) -> pd.Series:
        return atoms["stage"].where(atoms["offence"] == offence)

    return f


def release_tables(
    victims: pd.DataFrame | None,
    persons: pd.DataFrame | None,
    events: pd.DataFrame | None,
    perpetrators: pd.DataFrame | None,
    *,
    levels: Sequence[str],
    threshold: int,
    regions: Sequence[str] | None = None,
    country: str | None = None,
    forms: tuple[str, ...] | None = None,
    partner: Partner | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> tuple[dict[str, PublishedTable], LinkedProtection]:
    """Every table of the release (see the module's docstring), protected together.

    Parameters
    ----------
    victims : DataFrame or None
        Victim records: ``region, date_identified, sex, age``/``age_band``, ``nationality,
        exploitation``.
    persons : DataFrame or None
        The same, one row per linked person (:func:`fl_estimate.stats.tables.victim_persons`).
    events : DataFrame or None
        Case records: ``region, date_recorded, case_type`` and ``means``.
    perpetrators : DataFrame or None
        Perpetrator records: ``region, date_recorded, offence, stage, sex, citizenship`` and
        ``age`` or ``age_band`` (the age group is ``unknown`` without either).
    levels : sequence of str
        Period levels published (``quarter``, ``half-year``, ``year``).
    threshold : int
        Disclosure threshold.
    regions : sequence of str, optional
        Rows of every table (default: the regions present, sorted).
    country : str, optional
        ISO 3166-1 alpha-3 code of the publishing country: citizenship is also published as
        nationals / foreigners.
    forms : tuple of str, optional
        Columns of the exploitation tables, in order (the pipeline gives the HTCDS forms,
        several, unknown; default: the groups present, by name, then several and unknown).
    partner : Partner, optional
        Another publication counting the same linked persons, protected with them
        (:func:`fl_estimate.stats.protect.protect_statistics`).

    Returns
    -------
    tables : dict of str to PublishedTable
        Keyed ``<table>_<level>``, in the order of the module's list.
    protection : LinkedProtection
    """
    systems: list[System] = []
    specs: list[TableSpec] = []
    group = None if country is None else {c: c for c in CITIZENSHIP_GROUPS}
    for unit, frame in (("records", victims), ("persons", persons)):
        if frame is None or frame.empty:
            continue
        s = _victim_system(unit, frame, forms or _forms_present(frame))
        systems.append(s)
        nat = s.attributes[1].values
        for level in levels:
            specs += [
                TableSpec(f"victims_sex_age_{unit}_{level}", unit, "sex_age", level,
                          _column("value"), SEX_AGE, drop_empty=True),
                TableSpec(f"victims_citizenship_{unit}_{level}", unit, "nationality", level,
                          _column("value"), nat, drop_empty=True),
            ]  # fmt: skip
            if group is not None and country is not None:
                mapped = dict(zip(nat, _group(pd.Series(nat, dtype=object), country), strict=True))
                specs.append(
                    TableSpec(f"victims_citizenship_group_{unit}_{level}", unit, "nationality",
                              level, _column("value", mapped), CITIZENSHIP_GROUPS)
                )  # fmt: skip
            specs.append(
                TableSpec(f"victims_exploitation_{unit}_{level}", unit, "exploitation_group",
                          level, _column("value"), s.attributes[2].values, drop_empty=True)
            )  # fmt: skip
    if events is not None and len(events):
        ev = events.assign(
            means=events["means"].fillna("unknown") if "means" in events else "unknown"
        )
        tip = bool((ev["case_type"] == "trafficking_in_persons").any())
        attrs = [Attribute("case_type", CASE_TYPES)]
        if tip:
            attrs.append(Attribute("means", MEANS, ("case_type", "trafficking_in_persons")))
        systems.append(System("events", ev, "date_recorded", attributes=tuple(attrs)))
        for level in levels:
            specs.append(
                TableSpec(f"cases_type_{level}", "events", "case_type", level, _column("value"),
                          CASE_TYPES)
            )  # fmt: skip
            if tip:
                specs.append(
                    TableSpec(f"cases_means_{level}", "events", "means", level,
                              _column("value"), MEANS, margins=False, drop_empty=True)
                )  # fmt: skip
    if perpetrators is not None and len(perpetrators):
        pe = perpetrators.assign(
            citizenship=perpetrators["citizenship"].astype(str).str.upper(),
            age_group=age_group(perpetrators),
        )
        offences = ("trafficking_in_persons", "smuggling_of_migrants", "unknown")
        cit = _by_frequency(pe["citizenship"])
        systems.append(
            System("perpetrators", pe, "date_recorded", ("offence", "stage"),
                   {"offence": offences, "stage": STAGES},
                   (Attribute("sex", SEXES), Attribute("citizenship", cit),
                    Attribute("age_group", AGE_GROUPS)))
        )  # fmt: skip
        cit_map = (
            None
            if country is None
            else dict(zip(cit, _group(pd.Series(cit), country), strict=True))
        )
        cit_cols = CITIZENSHIP_GROUPS if country is not None else cit
        coarsest = max(levels, key=LEVELS.index)
        for offence, name in OFFENCES:
            if not (pe["offence"] == offence).any():
                continue
            for level in levels:
                specs.append(
                    TableSpec(f"justice_{name}_{level}", "perpetrators", "sex", level,
                              _stage_of(offence), STAGES)
                )  # fmt: skip
                if level != coarsest:  # characteristics by stage: the coarsest level only
                    continue
                specs += [
                    TableSpec(f"perpetrators_sex_{name}_{level}", "perpetrators", "sex", level,
                              _staged(offence), tuple(f"{s}|{x}" for s in STAGES for x in SEXES),
                              drop_empty=True),
                    TableSpec(f"perpetrators_citizenship_{name}_{level}", "perpetrators",
                              "citizenship", level, _staged(offence, cit_map),
                              tuple(f"{s}|{x}" for s in STAGES for x in cit_cols),
                              drop_empty=True),
                    TableSpec(f"perpetrators_age_{name}_{level}", "perpetrators", "age_group",
                              level, _staged(offence),
                              tuple(f"{s}|{x}" for s in STAGES for x in AGE_GROUPS),
                              drop_empty=True),
                ]  # fmt: skip
    if not specs:
        if partner is not None:  # the partner's cells are protected all the same
            return {}, protect_tables(
                partner.atoms, list(partner.cells), threshold=threshold, previous=previous
            )
        return {}, LinkedProtection(frozenset(), frozenset(), pd.DataFrame(), threshold)
    if regions is None:
        present: set[str] = set()
        for s in systems:
            present |= set(s.units["region"].astype(str))
        regions = sorted(present)
    return protect_statistics(
        systems, specs, threshold=threshold, regions=regions, partner=partner, previous=previous
    )
