"""The scorer: classify records under a framework's rule, with three-valued logic.

:class:`IndicatorScorer` reads the answers (through a mapping file, or as a table of indicator
columns), evaluates the framework's rule (one module per rule in this package) and assembles the
scored table (:class:`~fl_estimate.indicators.scoring.records.ScoredRecords`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import fl_estimate.indicators.scoring.count as count
import fl_estimate.indicators.scoring.delphi as delphi
import fl_estimate.indicators.scoring.involuntariness_and_coercion as involuntariness_and_coercion
import fl_estimate.indicators.scoring.paired_dimensions as paired_dimensions
from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.indicators.answers import NO, STATUS_DTYPE, YES, status_matrix
from fl_estimate.indicators.frameworks import Framework, indicator_keys, load_framework
from fl_estimate.indicators.mapping import Mapping as MappingFile
from fl_estimate.indicators.mapping import load_mapping
from fl_estimate.indicators.scoring.logic import Tri, categorical
from fl_estimate.indicators.scoring.reasons import Explainer, reasons
from fl_estimate.indicators.scoring.records import ScoredRecords

__all__ = ["RULES", "IndicatorScorer", "Rule"]


@dataclass(frozen=True)
class Rule:
    """How a framework's ``rule`` is evaluated and explained, and its main outcome column."""

    evaluate: Any  # (framework, tri, child, n) -> {"dimensions", "outcome", "labels", ...}
    explain: Explainer
    outcome: str
    #: the reason lists unknown answers on every row (not only on indeterminate ones)
    unknown_on_every_row: bool = False


#: rule name (the ``rule`` of a framework file) -> how to score it
RULES: dict[str, Rule] = {
    "involuntariness_and_coercion": Rule(
        involuntariness_and_coercion.evaluate, involuntariness_and_coercion.explain,
        "forced_labour",
    ),
    "paired_dimensions": Rule(
        paired_dimensions.evaluate, paired_dimensions.explain, "forced_labour"
    ),
    "delphi": Rule(delphi.evaluate, delphi.explain, "trafficking_victim"),
    "count": Rule(count.evaluate, count.explain, "indicated", unknown_on_every_row=True),
}  # fmt: skip


class IndicatorScorer:
    """Classify records under a framework's rules (ILO 2012, ICLS 2018, Delphi 2009, ILO 11).

    Parameters
    ----------
    framework : str or Framework
        Shipped id (``"ilo2012"``, ``"icls2018"``, ``"delphi2009"``, ``"ilo11"``), a path to a
        framework file, or a :class:`~fl_estimate.indicators.frameworks.Framework`.
    missing : {"indeterminate", "as_absent"}
        Keep unknown answers unknown (default; indeterminate classifications are reported
        separately) or treat them as absent (minimum counts).
    **parameters
        Rule parameters overriding the framework file's (e.g. ``require_strong=True``,
        ``pairing="any"``).

    Examples
    --------
    Worked example H of the specification (ILO 2012, §2.7):

    >>> import pandas as pd
    >>> s = IndicatorScorer("ilo2012")
    >>> df = pd.DataFrame({"HTS.D1.INV.06": [True], "HTS.PEN.03@D1": [True]})
    >>> row = s.score_indicators(df).table.iloc[0]
    >>> bool(row["forced_labour"]), row["classification"], row["reason"]
    (True, 'forced_labour', 'D1: HTS.D1.INV.06 with HTS.PEN.03@D1')
    """

    def __init__(
        self,
        framework: str | Framework = "ilo2012",
        *,
        missing: str = "indeterminate",
        **parameters: Any,
    ) -> None:
        if missing not in ("indeterminate", "as_absent"):
            raise ModelSpecificationError(
                N_(
                    "missing must be 'indeterminate' or 'as_absent', not {missing!r}",
                    missing=missing,
                )
            )
        fw = framework if isinstance(framework, Framework) else load_framework(framework)
        if parameters:
            fw = fw.with_parameters(**parameters)
        self.framework = fw
        self.missing = missing
        self.keys = indicator_keys(fw)

    def __repr__(self) -> str:
        return f"IndicatorScorer({self.framework.id!r}, missing={self.missing!r})"

    # -- public
    def score(
        self, data: pd.DataFrame, mapping: Any, *, source: str = "<DataFrame>"
    ) -> ScoredRecords:
        """Score questionnaire answers through a mapping file.

        Parameters
        ----------
        data : DataFrame
            One row per respondent (or per respondent × work spell, see the mapping's
            ``person_column``).
        mapping : Mapping, str or Path
            A :class:`~fl_estimate.indicators.mapping.Mapping` or the path of a mapping file.
        source : str
            Data file name, for error messages.

        Raises
        ------
        InputValidationError
            All problems of the mapping against the framework and the data, at once.
        """
        m = mapping if isinstance(mapping, MappingFile) else load_mapping(mapping)
        if m.framework not in (self.framework.id, self.framework.path):
            mapped_fw = load_framework(m.framework)
            if mapped_fw.id != self.framework.id:
                raise InputValidationError(
                    [
                        Problem(
                            f"the mapping is written for framework {mapped_fw.id!r}, not "
                            f"{self.framework.id!r}",
                            m.source, None, "framework", m.framework,
                        )
                    ]
                )  # fmt: skip
        coded = m.apply(data, self.framework, source=source)
        return self.score_indicators(
            coded, age=m.age_column, person=m.person_column, keep=m.keep_columns(data)
        )

    def score_indicators(
        self,
        indicators: pd.DataFrame,
        *,
        age: str | None = None,
        person: str | None = None,
        keep: Sequence[str] | None = None,
        source: str = "<DataFrame>",
    ) -> ScoredRecords:
        """Score a table whose columns are indicator keys (see :func:`indicator_keys`).

        Values: True/False/1/0, empty (missing), or a status word (``"dont_know"``,
        ``"refused"``, ``"missing"``, ``"yes"``, ``"no"``). Key columns absent from the table are
        indicators the survey did not measure: they are excluded from the rules.

        Parameters
        ----------
        age : str, optional
            Age column; records below the framework's ``child_age`` are scored with the children's
            rule (missing age: adults' rule, and the reason says so).
        person : str, optional
            Person id column when rows are work spells (ICLS): spells are pooled per person, the
            pairing within a spell decided by the ``pairing`` parameter.
        keep : list of str, optional
            Columns copied to the output (default: every column that is not an indicator key).
        """
        S, present = status_matrix(indicators, self.keys, source)
        if self.missing == "as_absent":
            S = np.asfortranarray(np.where(S == YES, YES, NO).astype(np.int8))
        n = len(indicators)
        idx = indicators.index
        child = np.zeros(n, bool)
        if age is not None:
            if age not in indicators.columns:
                raise ModelSpecificationError(N_("age column {age!r} is not in the data", age=age))
            a = pd.to_numeric(indicators[age], errors="coerce").to_numpy(dtype=float)
            child = a < self.framework.parameters.get("child_age", 18)
        if keep is None:
            keep = [c for c in indicators.columns if c not in self.keys]
        keep = list(keep)
        if person is not None and self.framework.rule == "involuntariness_and_coercion":
            return self._score_spells(indicators, S, present, child, person, keep)
        rule = RULES[self.framework.rule]
        tri = {k: Tri(S[:, j] == YES, S[:, j] == NO) for j, k in enumerate(present)}
        res = rule.evaluate(self.framework, tri, child, n)
        out = self._assemble(indicators[keep].copy(), S, present, res, child, idx)
        return ScoredRecords(
            out, self.framework, rule.outcome, present, self.missing,
            {"id": keep[0]} if keep else {},
        )  # fmt: skip

    # -- assembly
    def _assemble(
        self,
        out: pd.DataFrame,
        S: np.ndarray,
        present: list[str],
        res: dict[str, Any],
        child: np.ndarray,
        idx: pd.Index,
    ) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for j, k in enumerate(present):
            cols[k] = pd.arrays.BooleanArray(S[:, j] == YES, S[:, j] > YES)
            cols[f"{k}:answer"] = pd.Categorical.from_codes(S[:, j], dtype=STATUS_DTYPE)
        for d, tri in res["dimensions"].items():
            cols[f"dim:{d}"] = tri.to_array()
        cols["population"] = categorical(child.astype(np.int64), categories=["adults", "children"])
        rule = RULES[self.framework.rule]
        outcome: Tri = res["outcome"]
        cols[rule.outcome] = outcome.to_array()
        for name, tri in res.get("extra", {}).items():
            cols[name] = tri.to_array()
        if "count" in res:
            cols["indicators_present"] = res["count"]
        labels: pd.Categorical = res["labels"]
        cols["classification"] = labels
        cols["review"] = res.get("review", np.zeros(len(idx), bool))
        cols["reason"] = reasons(
            self.framework, S, present, child, labels, rule.explain,
            unknown_on_every_row=rule.unknown_on_every_row,
        )  # fmt: skip
        extra = pd.DataFrame(cols, index=idx)
        return pd.concat([out, extra], axis=1)

    # -- ICLS work spells
    def _score_spells(
        self,
        data: pd.DataFrame,
        S: np.ndarray,
        present: list[str],
        child: np.ndarray,
        person: str,
        keep: list[str],
    ) -> ScoredRecords:
        fw = self.framework
        codes, uniq = pd.factorize(data[person])
        tri = {k: Tri(S[:, j] == YES, S[:, j] == NO) for j, k in enumerate(present)}
        res, PS, pchild = involuntariness_and_coercion.evaluate_spells(
            fw, tri, present, child, codes, len(uniq)
        )
        review = res["review"]
        first = np.unique(codes, return_index=True)[1]
        base = data[keep].iloc[first].reset_index(drop=True)
        out = self._assemble(base, PS, present, res, pchild, base.index)
        out["reason"] = out["reason"].astype(object)
        out.loc[review, "reason"] = (
            out.loc[review, "reason"]
            + "; involuntariness and coercion were found in different work spells: "
            "flagged for review"
        )
        return ScoredRecords(
            out, fw, RULES[fw.rule].outcome, present, self.missing,
            {"id": person, "spells": True},
        )  # fmt: skip
