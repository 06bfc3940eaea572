"""What a report says about the results it shows: a small frozen specification.

The report (:func:`fl_estimate.reporting.write_outputs`) writes its sentences from a
:class:`ReportSpec` and the run's plain tables, never from a configuration object: whoever makes
the results (the annual run, a script) says in the spec which methods they come from, what kind
of interval they carry and at which level, and where the national totals' intervals come from.
:meth:`MethodSpec.from_results` reads those facts off the results themselves.

>>> from fl_estimate.results import EstimationResult
>>> r = EstimationResult("stepwise", "A:B", 90, 120.0, (100.0, 150.0), "wald-log", level=0.9,
...                      conditional_on_model=True)
>>> MethodSpec.from_results("stepwise", [r, r])
MethodSpec(name='stepwise', family='log-linear', interval_kinds=('wald-log',), level=0.9, conditional_on_model=True)
>>> percent(0.9), percent(0.975)
('90%', '97.5%')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fl_estimate.results import METHOD_FAMILIES, EstimationResult
from fl_estimate.tabular import ReadInfo

__all__ = [
    "LinkageQuality",
    "MethodSpec",
    "ReportSpec",
    "StatisticsSection",
    "TotalsFrom",
    "percent",
]

#: Where the intervals of national totals (sums of strata) come from.
TotalsFrom = Literal["bootstrap replicates", "posterior draws", "not available", "mixed"]


def percent(level: float, lang: str = "en") -> str:
    """A level as the report prints it: ``0.95`` -> ``"95%"``, ``0.975`` -> ``"97.5%"``; in
    French ``"95 %"``, ``"97,5 %"`` (CLDR, through :func:`fl_estimate.i18n.format_percent`)."""
    if lang == "en":
        return f"{level * 100:g}%"
    from fl_estimate.i18n import format_percent

    return format_percent(level, lang, digits=0 if float(level * 100).is_integer() else 1)


@dataclass(frozen=True)
class MethodSpec:
    """A method as the report describes it.

    Attributes
    ----------
    name : str
        The method's name in :func:`fl_estimate.mse.estimate` (``"stepwise"``, ``"lcmcr"``...).
    family : str
        One of :data:`fl_estimate.results.METHOD_FAMILIES`' values (``"log-linear"``,
        ``"latent-class"``, ``"closed-form"``, ``"bayesian"``), or ``"other"``.
    interval_kinds : tuple of str
        The kinds of interval its results carry (:data:`fl_estimate.results.INTERVAL_KINDS`),
        most frequent first; empty when no result has an interval.
    level : float
        The nominal level of those intervals.
    conditional_on_model : bool
        True when some interval ignores the uncertainty of choosing the model from the data.
    """

    name: str
    family: str
    interval_kinds: tuple[str, ...] = ()
    level: float = 0.95
    conditional_on_model: bool = False

    @classmethod
    def from_results(cls, name: str, results: Iterable[EstimationResult]) -> MethodSpec:
        """The spec of method ``name`` from its results (those with an estimate)."""
        ok = [r for r in results if r.ok]
        counts: dict[str, int] = {}
        for r in ok:
            if r.interval_kind and r.ci_low is not None and r.ci_high is not None:
                counts[r.interval_kind] = counts.get(r.interval_kind, 0) + 1
        kinds = tuple(sorted(counts, key=lambda k: (-counts[k], k)))
        levels = sorted({float(r.level) for r in ok})
        return cls(
            name=name,
            family=METHOD_FAMILIES.get(name, "other"),
            interval_kinds=kinds,
            level=levels[0] if levels else 0.95,
            conditional_on_model=any(r.conditional_on_model for r in ok),
        )


@dataclass(frozen=True)
class LinkageQuality:
    """What the report says about the linkage that built the capture histories.

    Made from the published ``linkage_summary.json`` of ``fl-estimate link``
    (:meth:`from_summary`); counts below the disclosure threshold are ``None`` there, and the
    report prints no count below its own threshold either.

    Attributes
    ----------
    records, persons : int or None
        Records linked and persons found (None: below the disclosure threshold).
    share_merged : float or None
        Share of the records merged with another record of the same person.
    precision, recall : float or None
        Pairwise precision and recall of the links estimated from the model's match
        probabilities (:meth:`fl_estimate.providers.linkage.LinkageResult.estimated_quality`).
    threshold : float
        The match threshold used.
    data_driven : bool
        True when that threshold was chosen from the data (``threshold = "auto"``).
    data_threshold : float or None
        The data-driven threshold.
    thresholds : tuple of float or None
        The threshold of each generation of records of an incremental linkage (the first
        linkage, then each period added: ``LinkageResult.thresholds``); None: one linkage.
    plausible : (float, float) or None
        The range of plausible match thresholds, and across it:
    persons_range, n_hat_range : (int or None, int or None) or None
        Lowest and highest persons found and N-hat (the reference model on the table pooled over
        strata).
    warnings : tuple of str
        Codes of the linkage warnings.
    with_linkage_error : (float, float, float, float, float, float) or None
        N-hat, low, high without and with linkage error (reference model), when the links were
        drawn.
    """

    records: int | None = None
    persons: int | None = None
    share_merged: float | None = None
    precision: float | None = None
    recall: float | None = None
    threshold: float = 0.9
    data_driven: bool = False
    data_threshold: float | None = None
    thresholds: tuple[float, ...] | None = None
    plausible: tuple[float, float] | None = None
    persons_range: tuple[int | None, int | None] | None = None
    n_hat_range: tuple[int | None, int | None] | None = None
    warnings: tuple[str, ...] = ()
    with_linkage_error: tuple[float | None, ...] | None = None

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> LinkageQuality:
        """From the dict of ``linkage_summary.json``.

        >>> q = LinkageQuality.from_summary({"records": 120, "persons": 100, "threshold": 0.9,
        ...     "share_of_records_merged": 0.1667, "warnings": [{"scope": "linkage",
        ...     "code": "m-prior"}], "persons_range_plausible": [98, 103]})
        >>> q.persons, q.persons_range, q.warnings, q.data_driven
        (100, (98, 103), ('m-prior',), False)
        """

        def pair(key: str) -> Any:
            v = summary.get(key)
            return tuple(v) if v is not None else None

        unc = summary.get("linkage_uncertainty")
        keys = ("n_hat", "low", "high", "n_hat_draws", "low_linkage", "high_linkage")
        return cls(
            records=summary.get("records"),
            persons=summary.get("persons"),
            share_merged=summary.get("share_of_records_merged"),
            precision=summary.get("estimated_precision"),
            recall=summary.get("estimated_recall"),
            threshold=float(summary.get("threshold", 0.9)),
            data_driven=summary.get("threshold_setting") == "auto",
            data_threshold=summary.get("data_threshold"),
            thresholds=pair("thresholds_by_generation"),
            plausible=pair("plausible_thresholds"),
            persons_range=pair("persons_range_plausible"),
            n_hat_range=pair("n_hat_range_plausible"),
            warnings=tuple(dict.fromkeys(str(w["code"]) for w in summary.get("warnings", []))),
            with_linkage_error=tuple(unc.get(k) for k in keys) if unc else None,
        )


@dataclass(frozen=True)
class StatisticsSection:
    """The periodic statistics (IC-TIP) written beside the report, for its section on them.

    Attributes
    ----------
    folder : str
        Their folder, relative to the report (``statistics``).
    tables : tuple of (str, str)
        Each table's heading in the report's language and its CSV file (relative to the
        report), in order.
    linked : bool
        Whether the victims are also counted as linked persons.
    document : str
        The statistics' own document (``statistics.md``) inside ``folder``.
    workbook : str
        The workbook inside ``folder``.
    """

    folder: str
    tables: tuple[tuple[str, str], ...]
    linked: bool = False
    document: str = "statistics.md"
    workbook: str = "statistics.xlsx"


@dataclass(frozen=True)
class ReportSpec:
    """What the report says about the results.

    Attributes
    ----------
    title : str
    headline : MethodSpec
        The method of the headline figures (strata and their sums).
    comparison : tuple of MethodSpec
        The other methods, shown beside the headline.
    strata : tuple of str
        The stratum columns, the geography first (e.g. ``("region", "year")``); the others group
        the national totals.
    totals_from : TotalsFrom
        Where the national totals' intervals come from: the strata's ``"bootstrap
        replicates"`` or ``"posterior draws"`` added replicate by replicate, ``"not available"``
        (no interval: the strata's intervals have no replicates to add), or ``"mixed"``.
    totals_level : float
        The level of the national totals' intervals.
    threshold : int
        Disclosure threshold: counts of identified people below it are suppressed.
    language : str
        The report's language: ``"en"`` or ``"fr"`` (:data:`fl_estimate.i18n.LANGUAGES`).
    inputs : tuple of (str, ReadInfo)
        The input files and how each was read (:class:`fl_estimate.tabular.ReadInfo`), for the
        report to state.
    linkage : LinkageQuality, optional
        The linkage's quality, when the run linked provider submissions (a section of the
        report).
    statistics : StatisticsSection, optional
        The periodic statistics written beside the report (a section linking them).
    """

    title: str
    headline: MethodSpec
    comparison: tuple[MethodSpec, ...] = ()
    strata: tuple[str, ...] = ("region", "year")
    totals_from: TotalsFrom = "not available"
    totals_level: float = 0.95
    threshold: int = 5
    language: str = "en"
    inputs: tuple[tuple[str, ReadInfo], ...] = ()
    linkage: LinkageQuality | None = None
    statistics: StatisticsSection | None = None
