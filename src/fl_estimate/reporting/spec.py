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
from typing import Literal

from fl_estimate.results import METHOD_FAMILIES, EstimationResult
from fl_estimate.tabular import ReadInfo

__all__ = ["MethodSpec", "ReportSpec", "TotalsFrom", "percent"]

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
