"""The provider registry (who reports, from which regions, how often) and a completeness report.

The registry is a CSV with one row per provider::

    provider,entity_type,frequency,regions,first_period,pseudonymous
    police,law_enforcement,quarterly,North;South;East,2021-Q1,False

``frequency`` is ``quarterly`` or ``annual``; ``regions`` is ``;``-separated; ``entity_type`` uses
the IC-TIP reporting-entity types (law_enforcement, prosecution, court_judiciary,
labour_inspection, other_government, ngo_service_provider, international_organisation, hotline,
other). Optional columns: ``last_period`` (a provider that stopped reporting) and ``grace_days``
(days after the end of a period before a missing file counts as late; default 45) and ``sends``:
the IC-TIP submission types the provider sends, joined with ``;`` (``victims``, ``events``,
``perpetrators``; default ``victims``), so that the registry is the map of reporting entities by
region and type with what each must send for each period.

Examples
--------
>>> registry = ProviderRegistry.read_csv("data_samples/country/registry.csv")
>>> registry.providers
['police', 'gendarmerie', 'courts', 'social_services', 'ngo', 'iom']
>>> due = registry.completeness([("police", "2021-Q1")], as_of="2021-06-30")  # one file received
>>> due[due["period"] == "2021-Q1"][["provider", "due", "status"]]
          provider         due    status
1      gendarmerie  2021-05-15      late
3              iom  2021-05-15      late
5              ngo  2021-05-15      late
7           police  2021-05-15  received
9  social_services  2021-05-15      late
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.providers.submissions import period_bounds

__all__ = ["ENTITY_TYPES", "SUBMISSION_TYPES", "ProviderRegistry"]

ENTITY_TYPES = (
    "law_enforcement",
    "prosecution",
    "court_judiciary",
    "labour_inspection",
    "other_government",
    "ngo_service_provider",
    "international_organisation",
    "hotline",
    "other",
)
_FREQUENCIES = ("quarterly", "annual")
#: What a provider may send (the IC-TIP units a provider reports on).
SUBMISSION_TYPES = ("victims", "events", "perpetrators")
_DEFAULT_GRACE = 45


def _periods(first: str, last: str, frequency: str) -> list[str]:
    y0, y1 = int(first[:4]), int(last[:4])
    if frequency == "annual":
        return [str(y) for y in range(y0, y1 + 1)]
    q0 = int(first[-1]) if "-Q" in first else 1
    q1 = int(last[-1]) if "-Q" in last else 4
    out = []
    for y in range(y0, y1 + 1):
        for q in range(1, 5):
            if (y, q) >= (y0, q0) and (y, q) <= (y1, q1):
                out.append(f"{y}-Q{q}")
    return out


@dataclass(frozen=True)
class ProviderRegistry:
    """Providers, their regions and reporting frequency.

    Parameters
    ----------
    table : DataFrame
        Columns ``provider, entity_type, frequency, regions, first_period`` (and optionally
        ``pseudonymous, last_period, grace_days, key_fingerprint``: the fingerprint of the
        linkage key, :attr:`fl_estimate.providers.pseudonymise.Pseudonymiser.fingerprint`,
        checked at linkage against the key and the providers' pseudonymised submissions); use :meth:`read_csv` or :meth:`from_frame`.
    """

    table: pd.DataFrame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<registry>") -> ProviderRegistry:
        """Validate a registry table (all problems at once)."""
        problems: list[Problem] = []
        for col in ("provider", "entity_type", "frequency", "regions", "first_period"):
            if col not in frame.columns:
                problems.append(Problem(N_("required column is missing"), source, 1, col))
        if problems:
            raise InputValidationError(problems)
        frame = frame.reset_index(drop=True).copy()
        for i, row in enumerate(frame.to_dict("records")):
            r = i + 2
            if str(row["entity_type"]) not in ENTITY_TYPES:
                problems.append(
                    Problem(N_("expected {what}", what=N_("one of {values}",
                               values=", ".join(ENTITY_TYPES))), source, r, "entity_type",
                            row["entity_type"])
                )  # fmt: skip
            if str(row["frequency"]) not in _FREQUENCIES:
                problems.append(
                    Problem(
                        N_("expected quarterly or annual"),
                        source,
                        r,
                        "frequency",
                        row["frequency"],
                    )
                )
            fp = str(row["first_period"])
            ok = len(fp) == 4 if row["frequency"] == "annual" else len(fp) == 7 and "-Q" in fp
            if not (ok and fp[:4].isdigit()):
                problems.append(
                    Problem(N_("expected YYYY (annual) or YYYY-Qn (quarterly)"), source, r,
                            "first_period", fp)
                )  # fmt: skip
            fpk = str(row.get("key_fingerprint") or "")
            if fpk and not re.fullmatch(r"[0-9a-f]{16}", fpk):
                problems.append(
                    Problem(N_("expected the key fingerprint printed by `fl-estimate "
                               "submissions pseudonymise` (16 lower-case hex digits) or nothing"),
                            source, r, "key_fingerprint", fpk)
                )  # fmt: skip
            sends = [t.strip() for t in str(row.get("sends") or "victims").split(";")]
            if not sends or any(t not in SUBMISSION_TYPES for t in sends):
                problems.append(
                    Problem(N_("expected submission types joined with ';' from {types}",
                               types=", ".join(SUBMISSION_TYPES)), source, r, "sends",
                            row.get("sends"))
                )  # fmt: skip
        if frame["provider"].duplicated().any():
            for i in frame.index[frame["provider"].duplicated()]:
                problems.append(
                    Problem(N_("provider listed twice"), source, int(i) + 2, "provider",
                            frame.at[i, "provider"])
                )  # fmt: skip
        if problems:
            raise InputValidationError(problems)
        if "pseudonymous" not in frame:
            frame["pseudonymous"] = False
        frame["pseudonymous"] = (
            frame["pseudonymous"].astype(str).str.lower().isin(["true", "1", "yes"])
        )
        if "grace_days" not in frame:
            frame["grace_days"] = _DEFAULT_GRACE
        return cls(frame)

    @classmethod
    def read_csv(cls, path: str | Path) -> ProviderRegistry:
        """Read a registry CSV (any encoding and separator :func:`fl_estimate.tabular.read_table`
        reads; a missing file, a folder or a binary file is an ``InputValidationError``)."""
        from fl_estimate.tabular import read_table

        path = Path(path)
        frame, _info = read_table(path, excel=False)
        return cls.from_frame(frame, path.name)

    def fingerprint_of(self, provider: str) -> str | None:
        """The registry's ``key_fingerprint`` of ``provider`` (None when not recorded)."""
        if "key_fingerprint" not in self.table:
            return None
        rows = self.table.loc[self.table["provider"] == provider, "key_fingerprint"]
        value = str(rows.iloc[0]).strip() if len(rows) else ""
        return value or None

    @property
    def providers(self) -> list[str]:
        return list(self.table["provider"])

    @property
    def regions(self) -> list[str]:
        """Every region any provider reports from, in first-seen order."""
        seen: dict[str, None] = {}
        for regs in self.table["regions"]:
            for r in str(regs).split(";"):
                if r.strip():
                    seen.setdefault(r.strip(), None)
        return list(seen)

    def regions_of(self) -> dict[str, list[str]]:
        """``provider -> regions`` (for validating submissions)."""
        return {
            p: [r.strip() for r in str(regs).split(";") if r.strip()]
            for p, regs in zip(self.table["provider"], self.table["regions"], strict=True)
        }

    def coverage(self) -> pd.DataFrame:
        """Provider-by-region table of 1 (reports from the region) and 0."""
        regs = self.regions
        rows = {p: [int(r in rs) for r in regs] for p, rs in self.regions_of().items()}
        return pd.DataFrame.from_dict(rows, orient="index", columns=regs).rename_axis("provider")

    def sends_of(self) -> dict[str, list[str]]:
        """``provider -> submission types`` it sends (``sends`` column; default ``victims``)."""
        values = self.table["sends"] if "sends" in self.table else ["victims"] * len(self.table)
        return {
            p: [t.strip() for t in str(v if isinstance(v, str) and v else "victims").split(";")]
            for p, v in zip(self.table["provider"], values, strict=True)
        }

    def expected_periods(self, as_of: str | pd.Timestamp, kind: str | None = None) -> pd.DataFrame:
        """Every (provider, period) expected up to ``as_of`` with its due date (of the providers
        that send ``kind``, when given)."""
        as_of = pd.Timestamp(as_of)
        rows = []
        sends = self.sends_of()
        for rec in self.table.to_dict("records"):
            if kind is not None and kind not in sends[rec["provider"]]:
                continue
            freq = rec["frequency"]
            last = rec.get("last_period") or (
                str(as_of.year) if freq == "annual" else f"{as_of.year}-Q{as_of.quarter}"
            )
            for period in _periods(str(rec["first_period"]), str(last), freq):
                start, end = period_bounds(period)
                if start > as_of:
                    continue
                due = end + pd.Timedelta(days=int(rec.get("grace_days") or _DEFAULT_GRACE))
                rows.append({"provider": rec["provider"], "period": period, "due": due.date()})
        return pd.DataFrame(rows, columns=["provider", "period", "due"])

    def completeness(
        self,
        received: Iterable[tuple[str, str]],
        as_of: str | pd.Timestamp,
        kind: str | None = None,
    ) -> pd.DataFrame:
        """Which providers sent which periods, and which are late.

        Parameters
        ----------
        received : iterable of (provider, period)
            Accepted submissions.
        as_of : date
            Date of the report.
        kind : str, optional
            A submission type (``victims``, ``events``, ``perpetrators``): only the providers
            that send it are expected.

        Returns
        -------
        DataFrame
            ``provider, period, due, status`` with status ``received``, ``late`` (not received
            and past due), ``not yet due`` (period ended or running, not yet due), or
            ``unexpected`` (received but not expected by the registry).
        """
        as_of = pd.Timestamp(as_of)
        got = {(str(p), str(q)) for p, q in received}
        exp = self.expected_periods(as_of, kind)
        status = []
        for p, q, due in zip(exp["provider"], exp["period"], exp["due"], strict=True):
            if (p, q) in got:
                status.append("received")
            elif pd.Timestamp(due) < as_of:
                status.append("late")
            else:
                status.append("not yet due")
        exp["status"] = status
        expected = set(zip(exp["provider"], exp["period"], strict=True))
        extra = sorted(got - expected)
        if extra:
            exp = pd.concat(
                [
                    exp,
                    pd.DataFrame(
                        [
                            {"provider": p, "period": q, "due": None, "status": "unexpected"}
                            for p, q in extra
                        ]
                    ),
                ],
                ignore_index=True,
            )
        return exp.sort_values(["provider", "period"], kind="stable").reset_index(drop=True)
