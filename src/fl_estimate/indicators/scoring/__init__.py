"""Score respondents (or case records) against a framework, with three-valued logic.

Every indicator answer is three-valued: ``True`` (present), ``False`` (asked and absent) or ``None``
(don't know, refused, missing, not asked in a skip pattern). The answer's *status* (``yes``, ``no``,
``dont_know``, ``refused``, ``missing``; :mod:`fl_estimate.indicators.answers`) is kept next to the
value, so "don't know" is never confused with "no". A rule evaluates to ``True`` when the positive
condition is met by ``True`` answers alone, ``False`` when it cannot become ``True`` whatever the
unknown answers turn out to be, and ``None`` (indeterminate) otherwise (Kleene logic,
:mod:`.logic`). ``missing="as_absent"`` gives publication-style minimum counts instead.

Indicators a questionnaire does not measure at all (no column) are *excluded* from the rule, not
unknown: otherwise no respondent could ever be classified negative. The scored table lists which
indicators were measured (:attr:`ScoredRecords.measured`).

Everything is vectorised over respondents; the reason strings are built once per distinct answer
pattern, not once per row (:mod:`.reasons`).

Modules: :mod:`.scorer` (:class:`IndicatorScorer`), :mod:`.records` (:class:`ScoredRecords`), one
module per framework rule (:mod:`.paired_dimensions` ILO 2012, :mod:`.involuntariness_and_coercion`
ICLS 2018, :mod:`.delphi` Delphi 2009, :mod:`.count` ILO 11 and case records), :mod:`.logic` and
:mod:`.reasons`.
"""

from __future__ import annotations

from fl_estimate.indicators.answers import STATUS
from fl_estimate.indicators.frameworks import indicator_keys
from fl_estimate.indicators.scoring.records import ScoredRecords
from fl_estimate.indicators.scoring.scorer import IndicatorScorer

__all__ = [
    "STATUS",
    "IndicatorScorer",
    "ScoredRecords",
    "indicator_keys",
]
