"""Survey prevalence per 1,000 of forced labour and of each indicator, overall and by domain.

Design-based: :class:`SurveyPrevalence` estimates the weighted proportion of an outcome (a scored
classification or indicator) as a ratio of weighted totals, with Taylor-linearisation or
replicate-weight variances (:mod:`fl_estimate.indicators.survey`), intervals that stay inside
[0, 1] (logit by default; Korn–Graubard with ``ci_method="beta"``), design effects, unweighted
counts and degrees of freedom. Domains are subpopulations of the whole design.

The design is an already built design or a ``design.toml`` file
(:func:`~fl_estimate.indicators.survey.load_design`).

Indeterminate classifications (``<NA>`` in the scored table) are never counted as negatives
silently: by default (``missing="exclude"``) they leave the denominator, and every row reports
their number and the two bounds (all absent / all present).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate._version import __version__
from fl_estimate.exceptions import (
    InputValidationError,
    ModelSpecificationError,
    Problem,
    SmallSampleWarning,
)
from fl_estimate.i18n import N_
from fl_estimate.indicators.survey import CI_METHODS, BaseDesign, DesignSpec, load_design

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from fl_estimate.indicators.scoring import ScoredRecords

__all__ = ["PrevalenceResults", "SurveyPrevalence"]


#: Column labels of a prevalence summary in a language other than English.
PREVALENCE_LABELS = {
    "outcome": N_("outcome"),
    "by": N_("by"),
    "domain": N_("domain"),
    "estimate": N_("estimate"),
    "ci_low": N_("lower limit"),
    "ci_high": N_("upper limit"),
    "deff": N_("design effect"),
    "n_unweighted": N_("n unweighted"),
    "n_positive": N_("n positive"),
    "n_indeterminate": N_("n indeterminate"),
    "df": N_("df"),
}


@dataclass(frozen=True)
class PrevalenceResults:
    """Prevalence estimates per 1,000 (or per ``per``), one row per outcome × domain.

    Attributes
    ----------
    table : DataFrame
        Columns: ``outcome``; ``by`` (domain variable, ``"all"`` overall); ``domain`` (its value,
        ``"all"``); ``estimate``, ``se``, ``ci_low``, ``ci_high`` (per ``per``); ``ci_method``
        (interval used; a note when it had to change, e.g. Korn–Graubard for a domain with no
        positive case); ``level``; ``deff`` (design effect); ``n_unweighted`` (respondents with a
        known value in the domain); ``n_positive``; ``n_indeterminate`` (unknown values in the
        domain); ``df``; ``estimate_if_absent`` and ``estimate_if_present`` (bounds with the
        indeterminate counted as negative / positive); ``small_domain`` (below the thresholds);
        ``note``.
    per : float
        Scale (1,000: per 1,000 respondents of the reference population).
    settings : dict
        Design, interval method, level, missing-value rule, thresholds, package version.
    """

    table: pd.DataFrame
    per: float
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy); columns are listed in the class docstring."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        from fl_estimate.results import json_safe

        return json_safe({"settings": self.settings, "estimates": self.table})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self, lang: str = "en") -> str:
        """A text table: per domain, estimate and interval per ``per``, deff, n, df.

        In a language other than English (``"fr"``) the words, column labels, notes and numbers
        are in that language (``26,30``); outcome ids, design and option codes stay as they are.
        """
        if lang != "en":
            return self._summary_in(lang)
        t = self.table
        lines = [
            f"Prevalence per {self.per:g} (design-based; {self.settings.get('design', '')})",
            f"interval: {self.settings.get('ci_method')} at {self.settings.get('level'):.0%}; "
            f"indeterminate answers: {self.settings.get('missing')}",
        ]
        show = t[["outcome", "by", "domain", "estimate", "ci_low", "ci_high", "deff",
                  "n_unweighted", "n_positive", "n_indeterminate", "df"]].copy()  # fmt: skip
        for c in ("estimate", "ci_low", "ci_high"):
            show[c] = show[c].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        show["deff"] = show["deff"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        lines.append(show.to_string(index=False))
        notes = t.loc[t["note"] != "", ["outcome", "domain", "note"]]
        for _, r in notes.iterrows():
            lines.append(f"note: {r['outcome']} {r['domain']}: {r['note']}")
        small = t[t["small_domain"]]
        if len(small):
            lines.append(
                f"{len(small)} estimate(s) rest on a small domain (< {self.settings['min_n']} "
                f"respondents or < {self.settings['min_clusters']} clusters): "
                + ", ".join(
                    f"{a} {b}" for a, b in zip(small["outcome"], small["domain"], strict=True)
                )
            )
        return "\n".join(lines)

    def _summary_in(self, lang: str) -> str:
        from fl_estimate.i18n import format_int, format_number, format_percent, translate

        t, st = self.table, self.settings
        lines = [
            N_(
                "Prevalence per {per} (design-based; {design})",
                per=format_number(self.per, lang),
                design=st.get("design", ""),
            ),
            N_(
                "interval: {method} at {level}; indeterminate answers: {missing}",
                method=st.get("ci_method"),
                level=format_percent(st.get("level"), lang, 0),
                missing=st.get("missing"),
            ),
        ]
        out = [translate(line, lang) for line in lines]

        def num(v: Any, digits: int) -> str:
            return "" if pd.isna(v) else format_number(float(v), lang, digits)

        def everyone(v: Any) -> str:
            return translate(N_("all"), lang) if v == "all" else str(v)

        show = pd.DataFrame(index=t.index)
        for col, label in PREVALENCE_LABELS.items():
            if col in ("estimate", "ci_low", "ci_high", "deff"):
                values = [num(v, 2) for v in t[col]]
            elif col == "df":
                values = [num(v, 1) for v in t[col]]
            elif col.startswith("n_"):
                values = [format_int(v, lang) for v in t[col]]
            elif col in ("by", "domain"):
                values = [everyone(v) for v in t[col]]
            else:
                values = [str(v) for v in t[col]]
            show[translate(label, lang)] = values
        out.append(show.to_string(index=False))
        notes = t.loc[t["note"] != "", ["outcome", "domain", "note"]]
        for _, r in notes.iterrows():
            out.append(
                translate(
                    N_(
                        "note: {outcome} {domain}: {note}",
                        outcome=r["outcome"],
                        domain=everyone(r["domain"]),
                        note=translate(r["note"], lang),
                    ),
                    lang,
                )
            )
        small = t[t["small_domain"]]
        if len(small):
            msg = N_(
                "{n} estimate(s) rest on a small domain (< {min_n} respondents or "
                "< {min_clusters} clusters): {domains}",
                n=len(small),
                min_n=st["min_n"],
                min_clusters=st["min_clusters"],
                domains=", ".join(
                    f"{a} {everyone(b)}"
                    for a, b in zip(small["outcome"], small["domain"], strict=True)
                ),
            )
            out.append(translate(msg, lang))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)

    def plot(self, ax: Axes | None = None, *, outcome: str | None = None) -> Axes:
        """Forest plot of the estimates and intervals of one outcome across domains."""
        import matplotlib.pyplot as plt

        from fl_estimate._palette import OKABE_ITO

        t = self.table
        outcome = outcome or str(t["outcome"].iloc[0])
        t = t[t["outcome"] == outcome]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(t) + 1))
        labels = [f"{b}={d}" if b != "all" else "all" for b, d in zip(t["by"], t["domain"],
                                                                      strict=True)]  # fmt: skip
        y = np.arange(len(t))[::-1]
        ax.errorbar(
            t["estimate"], y,
            xerr=[t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]],
            fmt="o", color=OKABE_ITO[5], capsize=3,
        )  # fmt: skip
        ax.set_yticks(y, labels)
        ax.set_xlabel(f"{outcome} per {self.per:g} ({self.settings.get('ci_method')} interval)")
        ax.set_xlim(left=0)
        return ax


class SurveyPrevalence:
    """Weighted prevalence with design-based intervals, overall and by domain.

    Parameters
    ----------
    outcomes : list of str, optional
        Outcome columns (0/1, boolean or nullable boolean). Default: the scored table's outcome
        (``forced_labour``...) and every measured indicator.
    by : str or list, optional
        Domain variables, each estimated separately (``["region", "sex"]``); cross several with
        ``"region*sex"`` or a tuple ``("region", "sex")`` (domain values joined by ``/``).
    ci_method : {"beta", "logit", "xlogit", "wald"}
        Interval (R ``svyciprop``'s methods; ``"wald"`` may leave [0, 1]). Default
        Korn–Graubard (``"beta"``): it stays in [0, 1], exists for a domain with no positive
        case, and kept 0.94–0.965 coverage in every region of ``benchmarks/survey_coverage.py``
        where the logit interval fell to 0.92 in one region.
    level : float
        Confidence level.
    per : float
        Scale of the rate (1,000 by default).
    missing : {"exclude", "as_absent", "as_present"}
        Indeterminate values: out of the denominator (default), counted as negative, or positive.
    min_n, min_clusters : int
        Small-domain thresholds (SmallSampleWarning and ``small_domain`` flag).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"fl": [0, 1, 0, 0] * 10, "w": [1.0] * 40, "psu": range(40)})
    >>> res = SurveyPrevalence(outcomes=["fl"], min_n=5).fit(df, design={"design": {
    ...     "weights": "w", "ids": "psu"}})
    >>> round(res.to_frame()["estimate"].iloc[0])
    250

    Forced labour per 1,000 adults by region in the sample survey (stratified two-stage design):

    >>> from fl_estimate.indicators import IndicatorScorer
    >>> survey = pd.read_csv("data_samples/survey/survey.csv")
    >>> scored = IndicatorScorer("ilo2012").score(survey, "data_samples/survey/mapping.toml")
    >>> res = SurveyPrevalence(outcomes=["forced_labour"], by="region").fit(
    ...     scored, design="data_samples/survey/design.toml")
    >>> res.to_frame()[["domain", "estimate", "ci_low", "ci_high", "n_positive"]].round(1)
      domain  estimate  ci_low  ci_high  n_positive
    0    all      26.3    20.6     33.1         110
    1   East      24.8    15.4     37.7          24
    2  North       8.9     4.3     16.5          10
    3  South      40.8    24.3     63.9          42
    4   West      33.0    21.6     48.3          34
    """

    def __init__(
        self,
        *,
        outcomes: Sequence[str] | None = None,
        by: str | Sequence[str] | None = None,
        ci_method: str = "beta",
        level: float = 0.95,
        per: float = 1000.0,
        missing: str = "exclude",
        min_n: int = 30,
        min_clusters: int = 2,
    ) -> None:
        if ci_method not in CI_METHODS:
            raise ModelSpecificationError(
                N_(
                    "unknown ci_method {ci_method!r}; expected one of {methods}",
                    ci_method=ci_method,
                    methods=", ".join(CI_METHODS),
                )
            )
        if missing not in ("exclude", "as_absent", "as_present"):
            raise ModelSpecificationError(
                N_(
                    "missing must be exclude, as_absent or as_present, not {missing!r}",
                    missing=missing,
                )
            )
        if not 0 < level < 1:
            raise ModelSpecificationError(N_("level must be in (0, 1), not {level}", level=level))
        self.outcomes = list(outcomes) if outcomes is not None else None
        # each entry: one column, or several crossed ("region*sex" or a tuple of names)
        self.by: list[tuple[str, ...]] = [
            tuple(b.split("*")) if isinstance(b, str) else tuple(b)
            for b in ([by] if isinstance(by, str) else list(by or []))
        ]
        self.ci_method = ci_method
        self.level = level
        self.per = float(per)
        self.missing = missing
        self.min_n = int(min_n)
        self.min_clusters = int(min_clusters)
        if self.min_n < 1:
            raise ModelSpecificationError(
                N_("min_n (--min-n) must be at least 1, got {min_n!r}", min_n=min_n)
            )
        if self.min_clusters < 1:
            raise ModelSpecificationError(
                N_(
                    "min_clusters (--min-clusters) must be at least 1, got {min_clusters!r}",
                    min_clusters=min_clusters,
                )
            )
        if not (np.isfinite(self.per) and self.per > 0):
            raise ModelSpecificationError(N_("per must be a positive number, got {per!r}", per=per))

    def fit(
        self,
        data: pd.DataFrame | ScoredRecords | BaseDesign,
        *,
        design: DesignSpec | str | Path | dict[str, Any] | None = None,
        source: str = "<data>",
    ) -> PrevalenceResults:
        """Estimate prevalence.

        Parameters
        ----------
        data : DataFrame, ScoredRecords or a design
            The scored table (with the design columns), or an already built
            :class:`~fl_estimate.indicators.survey.SurveyDesign` / ``ReplicateDesign``.
        design : DesignSpec, path of a design TOML file, or dict
            Needed unless ``data`` is a design.
        source : str
            Data file name for error messages.
        """
        default_outcomes: list[str] = []
        if isinstance(data, BaseDesign):
            dsg = data
            table = dsg.data
        else:
            from fl_estimate.indicators.scoring import ScoredRecords

            if isinstance(data, ScoredRecords):
                default_outcomes = [data.outcome, *data.measured]
                table = data.table
            else:
                table = data
            if design is None:
                raise ModelSpecificationError(N_("a design is needed: pass design=design.toml"))
            spec = design if isinstance(design, DesignSpec) else load_design(design)
            dsg = spec.build(table, source=source)
        outcomes = self.outcomes or default_outcomes or _guess_outcomes(table)
        problems = [
            Problem(N_("outcome column not in the data"), source, None, o)
            for o in outcomes if o not in table.columns
        ] + [Problem(N_("domain column not in the data"), source, None, c)
             for b in self.by for c in b if c not in table.columns]  # fmt: skip
        problems += _duplicate_ids(table, source)
        if problems:
            raise InputValidationError(problems)
        rows = []
        for o in outcomes:
            y = _as_float(table[o], o, source)
            unknown = np.isnan(y)
            if self.missing == "as_absent":
                y = np.where(unknown, 0.0, y)
            elif self.missing == "as_present":
                y = np.where(unknown, 1.0, y)
            doms: list[tuple[str, Any, dict[str, Any] | None]] = [("all", "all", None)]
            for b in self.by:
                combos = table[list(b)].dropna().drop_duplicates()
                keys = sorted((tuple(r) for r in combos.itertuples(index=False)),
                              key=lambda t: tuple(map(str, t)))  # fmt: skip
                for k in keys:
                    value = k[0] if len(k) == 1 else "/".join(map(str, k))
                    doms.append(("*".join(b), value, dict(zip(b, k, strict=True))))
            for name, v, dom in doms:
                rows.append(self._one(dsg, o, y, unknown, name, v, dom))
        tab = pd.DataFrame(rows)
        settings = {
            "design": repr(dsg),
            "ci_method": self.ci_method,
            "level": self.level,
            "missing": self.missing,
            "min_n": self.min_n,
            "min_clusters": self.min_clusters,
            "per": self.per,
            "fl_estimate": __version__,
        }
        return PrevalenceResults(tab, self.per, settings)

    def _one(
        self,
        dsg: BaseDesign,
        outcome: str,
        y: np.ndarray,
        unknown: np.ndarray,
        by: str,
        value: Any,
        dom: dict[str, Any] | None,
    ) -> dict[str, Any]:
        mask = np.ones(len(y), bool)
        if dom is not None:
            for k, v in dom.items():
                mask &= (dsg.data[k] == v).to_numpy(dtype=bool, na_value=False)
        s = dsg.proportion(y, domain=mask, method=self.ci_method, level=self.level)
        known = mask & ~np.isnan(y)
        n_unknown = int((mask & unknown).sum())
        w = dsg.weights
        wm = w * mask
        tot = float(wm.sum())
        pos = float(np.dot(wm, np.nan_to_num(np.where(unknown, 0.0, y))))
        unk = float(np.dot(wm, unknown))
        small = s.n < self.min_n or s.n_clusters < self.min_clusters
        if small:
            warnings.warn(
                N_(
                    "{outcome} in {by}={value}: {n} respondents in {clusters} clusters "
                    "(thresholds {min_n} and {min_clusters}): unreliable estimate",
                    outcome=outcome,
                    by=by,
                    value=value,
                    n=s.n,
                    clusters=s.n_clusters,
                    min_n=self.min_n,
                    min_clusters=self.min_clusters,
                ),
                SmallSampleWarning,
                stacklevel=4,
            )
        per = self.per
        return {
            "outcome": outcome,
            "by": by,
            "domain": value,
            "estimate": s.estimate * per,
            "se": s.se * per,
            "ci_low": s.ci_low * per,
            "ci_high": s.ci_high * per,
            "ci_method": s.ci_method,
            "level": self.level,
            "deff": s.deff if s.deff is not None else math.nan,
            "n_unweighted": s.n,
            "n_positive": int(np.sum(known & (np.nan_to_num(y) == 1))),
            "n_indeterminate": n_unknown,
            "df": s.df,
            "estimate_if_absent": pos / tot * per if tot > 0 else math.nan,
            "estimate_if_present": (pos + unk) / tot * per if tot > 0 else math.nan,
            "small_domain": small,
            "note": s.note,
        }


#: Respondent id columns checked for duplicates (the scored output keeps the mapping's id column;
#: ``resp_id`` is the documented name).
ID_COLUMNS = ("resp_id", "respondent_id")
#: Outcome cells read as indeterminate (unknown); any other text that is not 0/1, true/false or
#: yes/no is refused with its row.
UNKNOWN_OUTCOMES = ("", "nan", "na", "indeterminate", "unknown")


def _duplicate_ids(table: pd.DataFrame, source: str) -> list[Problem]:
    problems: list[Problem] = []
    for c in ID_COLUMNS:
        if c not in table.columns:
            continue
        ids = table[c]
        for i in np.flatnonzero(ids.isna().to_numpy() | (ids.astype(str).str.strip() == "")):
            problems.append(Problem(N_("respondent id is missing"), source, int(i) + 2, c))
        dup = ids.duplicated(keep="first") & ids.notna()
        for i in np.flatnonzero(dup.to_numpy())[:10]:
            problems.append(
                Problem(N_("duplicate respondent id (each respondent once)"), source, int(i) + 2, c,
                        ids.iloc[i])
            )  # fmt: skip
    return problems


def _as_float(col: pd.Series, name: str, source: str) -> np.ndarray:
    if col.dtype == bool or str(col.dtype) == "boolean":
        return col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(col):  # object or pandas' str dtype
        low = col.astype(str).str.strip().str.lower()
        vals = np.where(low.isin(["true", "yes"]), 1.0, vals)
        vals = np.where(low.isin(["false", "no"]), 0.0, vals)
        text = np.isnan(vals) & col.notna().to_numpy() & ~low.isin(UNKNOWN_OUTCOMES).to_numpy()
        if text.any():
            rows = np.flatnonzero(text)
            raise InputValidationError(
                [Problem(N_("outcome must be 0/1, true/false, yes/no, or empty or 'indeterminate' "
                         "when unknown"), source, int(i) + 2, name, col.iloc[i])
                 for i in rows[:10]]
            )  # fmt: skip
    bad = ~np.isnan(vals) & ~np.isin(vals, (0.0, 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputValidationError(
            [Problem(N_("outcome must be 0/1, true/false or empty"), source, int(i) + 2, name,
                     col.iloc[i]) for i in rows[:10]]
        )  # fmt: skip
    return vals


def _guess_outcomes(table: pd.DataFrame) -> list[str]:
    for c in ("forced_labour", "trafficking_victim", "indicated"):
        if c in table.columns:
            inds = [k[: -len(":answer")] for k in table.columns if str(k).endswith(":answer")]
            return [c, *inds]
    raise ModelSpecificationError(
        N_("no outcome column found (forced_labour, trafficking_victim, indicated): pass outcomes=")
    )
