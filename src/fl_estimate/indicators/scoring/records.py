"""The scored table: per-record indicators, dimensions, classification and reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from fl_estimate.i18n import N_
from fl_estimate.indicators.frameworks import Framework

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CLASSIFICATION_WORDS", "ScoredRecords"]

#: The classifications of the frameworks' rules in words (a summary in a language other than
#: English prints these; the scored table keeps the codes).
CLASSIFICATION_WORDS = {
    "forced_labour": N_("forced labour"),
    "not_forced_labour": N_("not forced labour"),
    "indeterminate": N_("indeterminate"),
    "indicated": N_("indicated"),
    "not_indicated": N_("not indicated"),
    "victim": N_("victim"),
    "recruitment_means_and_exploitation": N_("recruitment, means and exploitation"),
    "destination_means_and_exploitation": N_("destination, means and exploitation"),
    "exploitation_only": N_("exploitation only"),
    "means_without_exploitation": N_("means without exploitation"),
}


@dataclass(frozen=True)
class ScoredRecords:
    """Per-respondent scoring: indicators, dimensions, classification and reason.

    Attributes
    ----------
    table : DataFrame
        One row per respondent (per person when spells were pooled). Columns: the kept columns of
        the input (ids, design and domain variables); for each measured indicator key its value
        (nullable boolean: True / False / <NA>) and ``"<key>:answer"`` (the status: yes, no,
        dont_know, refused, missing); ``"dim:<id>"`` per dimension (nullable boolean);
        ``population`` (adults / children); the outcome column (``forced_labour``,
        ``trafficking_victim`` or ``indicated``, nullable boolean: <NA> = indeterminate);
        ``classification`` (text label); ``reason`` (which indicators made it, or which unknown
        answers it depends on); ``review`` (cross-spell or cross-dimension pairs to look at).
    framework : Framework
        Framework and parameters used.
    outcome : str
        Name of the outcome column.
    measured : list of str
        Indicator keys the input measured (the others were excluded from the rules).
    missing : str
        ``"indeterminate"`` or ``"as_absent"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fl_estimate.indicators import IndicatorScorer
    >>> survey = pd.read_csv("data_samples/survey/survey.csv")
    >>> scored = IndicatorScorer("ilo2012").score(survey, "data_samples/survey/mapping.toml")
    >>> scored
    ScoredRecords(ilo2012, n=4000, outcome='forced_labour')
    >>> scored.counts()
          classification     n   share
    0  not_forced_labour  3890  0.9725
    1      forced_labour   110  0.0275
    2      indeterminate     0  0.0000
    >>> scored.explain("R00006")
    'forced_labour: D3: HTS.D3.INV.02 with HTS.PEN.01@D3'
    """

    table: pd.DataFrame
    framework: Framework
    outcome: str
    measured: list[str]
    missing: str = "indeterminate"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-respondent table (a copy)."""
        return self.table.copy()

    def counts(self) -> pd.DataFrame:
        """Unweighted counts of each classification (columns: classification, n, share)."""
        c = self.table["classification"].value_counts().rename("n").reset_index()
        c["share"] = c["n"] / c["n"].sum()
        return c

    def summary(self, lang: str = "en") -> str:
        """Text: framework, rule parameters, measured indicators and classification counts.

        In a language other than English (``"fr"``) the words, the classifications
        (:data:`CLASSIFICATION_WORDS`), the column labels and the numbers are in that language;
        the framework's title, the rule and its parameters are codes and stay as they are.
        """
        fw = self.framework
        params = ", ".join(f"{k}={v!r}" for k, v in fw.parameters.items())
        if lang == "en":
            lines = [
                f"{fw.title} [{fw.id}, data {fw.data_version}]",
                f"rule: {fw.rule} ({params}); missing answers: {self.missing}",
                f"{len(self.table)} records; {len(self.measured)} indicator columns measured",
                self.counts().to_string(index=False),
            ]
            return "\n".join(lines)
        from fl_estimate.i18n import format_int, format_number, translate

        counts = self.counts()
        show = pd.DataFrame(
            {
                translate(N_("classification"), lang): [
                    translate(CLASSIFICATION_WORDS.get(c, c), lang)
                    for c in counts["classification"]
                ],
                "n": [format_int(v, lang) for v in counts["n"]],
                translate(N_("share"), lang): [format_number(v, lang, 4) for v in counts["share"]],
            }
        )
        lines = [
            N_("{title} [{id}, data {version}]", title=fw.title, id=fw.id, version=fw.data_version),
            N_(
                "rule: {rule} ({params}); missing answers: {missing}",
                rule=fw.rule,
                params=params,
                missing=self.missing,
            ),
            N_(
                "{n} records; {m} indicator columns measured",
                n=format_int(len(self.table), lang),
                m=len(self.measured),
            ),
        ]
        return "\n".join([*(translate(line, lang) for line in lines), show.to_string(index=False)])

    def __repr__(self) -> str:
        return f"ScoredRecords({self.framework.id}, n={len(self.table)}, outcome={self.outcome!r})"

    def explain(self, row: int | str) -> str:
        """Reason for one record (by position, or by id when an id column was kept)."""
        if isinstance(row, str) and "id" in self.settings:
            sel = self.table[self.table[self.settings["id"]] == row]
            if sel.empty:
                raise KeyError(row)
            r = sel.iloc[0]
        else:
            r = self.table.iloc[int(row)]
        return f"{r['classification']}: {r['reason']}"

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the share of records in which each measured indicator is present."""
        import matplotlib.pyplot as plt

        from fl_estimate._palette import OKABE_ITO

        if ax is None:
            _, ax = plt.subplots(figsize=(6, max(2.0, 0.25 * len(self.measured))))
        shares = [float(self.table[k].astype("Float64").mean()) for k in self.measured]
        ax.barh(self.measured, shares, color=OKABE_ITO[1])
        ax.set_xlabel("share present (among known answers)")
        ax.set_title(f"{self.framework.id}: indicators present")
        return ax
