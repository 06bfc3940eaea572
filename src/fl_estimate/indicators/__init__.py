"""Indicators: score survey answers and case records against the forced-labour frameworks, and
estimate prevalence from complex surveys.

Frameworks are versioned data files (:func:`load_framework`); a mapping file connects a
questionnaire to a framework (:func:`load_mapping`); :class:`IndicatorScorer` classifies every
respondent with three-valued logic; :class:`CaseRecordScorer` does the same for CTDC/HTCDS case
records; :class:`SurveyPrevalence` estimates prevalence per 1,000 with design-based intervals,
built on :class:`SurveyDesign` (Taylor linearisation) and :class:`ReplicateDesign` (both
:class:`BaseDesign`), described by a ``design.toml`` file (:func:`load_design`).
See ``docs/indicators.md``.
"""

from __future__ import annotations

from fl_estimate.indicators.case_records import CaseRecordScorer, read_ctdc
from fl_estimate.indicators.frameworks import Framework, available_frameworks, load_framework
from fl_estimate.indicators.mapping import Mapping, load_mapping, mapping_template
from fl_estimate.indicators.prevalence import PrevalenceResults, SurveyPrevalence
from fl_estimate.indicators.scoring import IndicatorScorer, ScoredRecords, indicator_keys
from fl_estimate.indicators.survey import (
    BaseDesign,
    DesignSpec,
    ReplicateDesign,
    SurveyDesign,
    SurveyStat,
    load_design,
)

__all__ = [
    "BaseDesign",
    "CaseRecordScorer",
    "DesignSpec",
    "Framework",
    "IndicatorScorer",
    "Mapping",
    "PrevalenceResults",
    "ReplicateDesign",
    "ScoredRecords",
    "SurveyDesign",
    "SurveyPrevalence",
    "SurveyStat",
    "available_frameworks",
    "indicator_keys",
    "load_design",
    "load_framework",
    "load_mapping",
    "mapping_template",
    "read_ctdc",
]
