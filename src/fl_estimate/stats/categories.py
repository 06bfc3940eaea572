"""The IC-TIP categories used by the periodic administrative statistics.

The International Classification for Administrative Data on Trafficking in Persons (IC-TIP; IOM
and UNODC, endorsed by the UN Statistical Commission in 2025; its working version was the ICS-TIP
with the guidance manual *Making each case count*) describes four units of count: **events**
(cases), **victims**, **perpetrators** and **reporting entities**. The names below follow those
units. Where the category list itself could not be checked against the published classification,
the list comes from the public source named beside it and the IC-TIP numeric codes are not used
(as for the HTCDS forms of exploitation in :mod:`fl_estimate.providers.submissions`); see
``docs/statistics.md``.
"""

from __future__ import annotations

__all__ = [
    "AGE_GROUPS",
    "CASE_TYPES",
    "LEVELS",
    "MEANS",
    "MULTIPLE",
    "ROLES",
    "SEXES",
    "STAGES",
    "UNITS",
]

#: The four units of count of the IC-TIP.
UNITS = ("events", "victims", "perpetrators", "reporting_entities")

#: Type of an event (case): the agency's mandate covers both offences, which providers confuse.
#: Definitions: Trafficking in Persons Protocol art. 3, Smuggling of Migrants Protocol art. 3.
CASE_TYPES = ("trafficking_in_persons", "smuggling_of_migrants", "unknown")

#: Means of trafficking in persons, as listed in the Trafficking in Persons Protocol, art. 3(a)
#: (``none_child``: a child victim, for whom no means is needed, art. 3(c)).
MEANS = (
    "threat_or_use_of_force",
    "other_coercion",
    "abduction",
    "fraud",
    "deception",
    "abuse_of_power",
    "abuse_of_vulnerability",
    "payments_or_benefits",
    "none_child",
    "unknown",
)

#: Role of a perpetrator in the trafficking process (act element of art. 3(a): recruitment,
#: transportation, transfer, harbouring, receipt, and the exploitation itself).
ROLES = (
    "recruiter",
    "transporter",
    "harbourer",
    "exploiter",
    "organiser",
    "other",
    "unknown",
)

#: Criminal-justice stage of a perpetrator record (the counts UNODC collects for its Global
#: Report on Trafficking in Persons: persons suspected, prosecuted and convicted).
STAGES = ("suspected", "prosecuted", "convicted")

#: Sex of a victim or perpetrator as the submission format canonicalises it.
SEXES = ("F", "M", "other", "unknown")
#: Age group: child (under 18 at identification) or adult.
AGE_GROUPS = ("child", "adult", "unknown")

#: Category of a record that carries several forms of exploitation (the victim tables stay
#: additive: each victim is counted once, in one column).
MULTIPLE = "Multiple"

#: Periods the statistics are published for.
LEVELS = ("quarter", "half-year", "year")
