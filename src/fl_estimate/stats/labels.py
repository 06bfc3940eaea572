"""Readable names of the statistics' categories and tables, in the report's language.

Examples
--------
>>> category_label("F|child", "fr"), category_label("smuggling_of_migrants", "en")
('filles', 'smuggling of migrants')
>>> category_label("NER", "fr"), category_label("XYZ", "fr")
('Niger', 'XYZ')
"""

from __future__ import annotations

from fl_estimate.i18n import N_, Message

__all__ = ["CATEGORY_LABELS", "TABLE_TITLES", "category_label", "table_title"]

#: Category codes -> English label (the msgid).
CATEGORY_LABELS: dict[str, Message] = {
    "F": N_("female"),
    "M": N_("male"),
    "other": N_("other"),
    "unknown": N_("unknown"),
    "UNKNOWN": N_("unknown"),
    "Unknown": N_("unknown"),
    "child": N_("child"),
    "F|child": N_("girls"),
    "F|adult": N_("women"),
    "F|unknown": N_("female, age unknown"),
    "M|child": N_("boys"),
    "M|adult": N_("men"),
    "M|unknown": N_("male, age unknown"),
    "other|child": N_("other sex, child"),
    "other|adult": N_("other sex, adult"),
    "other|unknown": N_("other sex, age unknown"),
    "unknown|child": N_("sex unknown, child"),
    "unknown|adult": N_("sex unknown, adult"),
    "unknown|unknown": N_("sex and age unknown"),
    "adult": N_("adult"),
    "Total": N_("Total"),
    "Multiple": N_("several forms"),
    "ForcedLabour": N_("forced labour"),
    "SexualExploitation": N_("sexual exploitation"),
    "ChildLabour": N_("child labour"),
    "ForcedMarriage": N_("forced marriage"),
    "Servitude": N_("servitude"),
    "ForcedMilitaryByNonStateActors": N_("forced recruitment by armed groups"),
    "OrganRemoval": N_("removal of organs"),
    "ForcedBegging": N_("forced begging"),
    "ForcedAdoption": N_("illegal adoption"),
    "Surrogacy": N_("forced surrogacy"),
    "Other": N_("other form"),
    "trafficking_in_persons": N_("trafficking in persons"),
    "smuggling_of_migrants": N_("smuggling of migrants"),
    "threat_or_use_of_force": N_("threat or use of force"),
    "other_coercion": N_("other coercion"),
    "abduction": N_("abduction"),
    "fraud": N_("fraud"),
    "deception": N_("deception"),
    "abuse_of_power": N_("abuse of power"),
    "abuse_of_vulnerability": N_("abuse of a position of vulnerability"),
    "payments_or_benefits": N_("payments or benefits"),
    "none_child": N_("none needed (child)"),
    "suspected": N_("suspected"),
    "prosecuted": N_("prosecuted"),
    "convicted": N_("convicted"),
    "received": N_("received"),
    "late": N_("late"),
    "not yet due": N_("not yet due"),
    "unexpected": N_("unexpected"),
    "law_enforcement": N_("law enforcement"),
    "prosecution": N_("prosecution service"),
    "court_judiciary": N_("courts"),
    "labour_inspection": N_("labour inspection"),
    "other_government": N_("other government service"),
    "ngo_service_provider": N_("NGO or service provider"),
    "international_organisation": N_("international organisation"),
    "hotline": N_("hotline"),
    "national": N_("nationals"),
    "foreign": N_("foreigners"),
    "victims": N_("victims"),
    "events": N_("events"),
    "perpetrators": N_("perpetrators"),
}

#: Table names -> English title (the msgid).
TABLE_TITLES: dict[str, Message] = {
    "victims_sex_age": N_("Identified victims by sex and age group"),
    "victims_citizenship": N_("Identified victims by citizenship"),
    "victims_exploitation": N_("Identified victims by form of exploitation"),
    "cases_type": N_("Cases: trafficking in persons and smuggling of migrants"),
    "cases_means": N_("Trafficking cases by means used (a case may count under several means)"),
    "justice_trafficking": N_(
        "Criminal-justice response, trafficking in persons: persons by stage"
    ),
    "justice_smuggling": N_("Criminal-justice response, smuggling of migrants: persons by stage"),
    "completeness": N_("Reporting entities: what each provider sent for each period"),
    "victims_citizenship_group": N_("Identified victims: nationals and foreigners"),
    "perpetrators_sex_trafficking": N_("Perpetrators of trafficking in persons by stage and sex"),
    "perpetrators_sex_smuggling": N_("Perpetrators of smuggling of migrants by stage and sex"),
    "perpetrators_citizenship_trafficking": N_(
        "Perpetrators of trafficking in persons by stage and citizenship"
    ),
    "perpetrators_citizenship_smuggling": N_(
        "Perpetrators of smuggling of migrants by stage and citizenship"
    ),
    "perpetrators_age_trafficking": N_(
        "Perpetrators of trafficking in persons by stage and age group"
    ),
    "perpetrators_age_smuggling": N_(
        "Perpetrators of smuggling of migrants by stage and age group"
    ),
}


def _country(code: str, lang: str) -> str | None:
    import pycountry
    from babel import Locale

    country = pycountry.countries.get(alpha_3=code) or pycountry.countries.get(alpha_2=code)
    if country is None:
        return None
    return Locale.parse(lang.replace("-", "_")).territories.get(country.alpha_2, country.name)


def category_label(code: str, lang: str) -> str:
    """Label of a category code (``F|child`` is sex and age group: girls; ISO country codes get
    the country's name in ``lang``); an unknown code is returned as it is."""
    label = CATEGORY_LABELS.get(code)
    if label is None and "|" in code:
        return ", ".join(category_label(part, lang) for part in code.split("|"))
    if label is not None:
        return label.render(lang)
    if code.isupper() and len(code) in (2, 3):
        return _country(code, lang) or code
    return code


def table_title(name: str, lang: str) -> str:
    """Title of a statistics table (``name`` without its period level)."""
    title = TABLE_TITLES.get(name)
    return name if title is None else title.render(lang)
