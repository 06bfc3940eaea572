"""The statistics tables of one release, audited together as tau-argus audits a pattern.

Random small releases (victim records and the persons they link into, cases with several means,
perpetrators by offence and stage; two regions, dates in three quarters, half-year and year
tables) go through :func:`fl_estimate.stats.release.release_tables`. The audit here is written
from the *published tables* alone, not from the package's atoms: its unknowns are the full
cross-classification of each kind of unit (victims by region x quarter x sex and age group x
citizenship x form of exploitation; cases by region x quarter x type x set of means;
perpetrators by region x quarter x offence x stage x sex x citizenship x age group), nonnegative,
with what a reader of the method also knows (a region's linked persons of a quarter are at most its records
of that quarter). Every published cell is an equation; for every hidden count from 1 to
threshold - 1, ``scipy.optimize.linprog`` (HiGHS) gives its smallest and largest value. The
rule: no published cell lies in 1..threshold - 1, and every such hidden count keeps an interval at
least ``threshold`` wide (the LP bounds of whole counts: TOL is floating point only).
"""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from fl_estimate.stats.release import release_tables
from fl_estimate.stats.tables import victim_persons

REGIONS = ("North", "South")
QUARTERS = ("2023-01-15", "2023-04-15", "2023-07-15")  # Q1, Q2 (H1), Q3 (H2)
SEX_AGE = [("F", 30), ("F", 12), ("M", 40), ("M", 9)]
NATIONALITY = ("NER", "MLI", "unknown")
FORMS = ("ForcedLabour", "SexualExploitation", "ForcedLabour;SexualExploitation")
MEANS = ("fraud", "deception", None)
LEVELS = ("half-year", "year")  # the quarter too would triple the cells: the test stays small
TOL = 1e-6


def _quarter(date: str) -> int:
    return (int(date[5:7]) - 1) // 3 + 1


def _in_period(period: str, quarter: pd.Series) -> pd.Series:
    if "-Q" in period:
        return quarter == int(period[-1])
    if "-H" in period:
        return (quarter <= 2) == (period[-1] == "1")
    return quarter > 0  # the year


class Attacker:
    """Unknowns: one per combination of the characteristics of each kind of unit."""

    def __init__(self) -> None:
        self.vars: list[dict[str, object]] = []
        self.truth: list[float] = []
        self.rows: list[tuple[np.ndarray, float, float]] = []

    def add_kind(self, kind: str, combos: list[dict[str, object]], units: list[dict]) -> None:
        start = len(self.vars)
        index = {}
        for c in combos:
            index[tuple(sorted(c.items()))] = len(self.vars)
            self.vars.append({"kind": kind, **c})
            self.truth.append(0.0)
        for u in units:
            self.truth[index[tuple(sorted(u.items()))]] += 1
        assert len(self.vars) - start == len(combos)

    def frame(self) -> pd.DataFrame:
        if getattr(self, "_frame", None) is None or len(self._frame) != len(self.vars):
            self._frame = pd.DataFrame(self.vars)
        return self._frame

    def select(self, pred) -> np.ndarray:  # type: ignore[no-untyped-def]
        """``pred``: DataFrame of the unknowns -> boolean Series."""
        return pred(self.frame()).fillna(False).to_numpy(dtype=float)

    def add(self, a: np.ndarray, low: float, high: float) -> None:
        assert low - TOL <= a @ np.array(self.truth) <= high + TOL  # what is published is true
        self.rows.append((a, low, high))

    def bounds(self, a: np.ndarray) -> tuple[float, float]:
        from scipy import sparse

        eq = [(r, lo) for r, lo, hi in self.rows if lo == hi]
        ub = [(r, hi) for r, lo, hi in self.rows if lo < hi and np.isfinite(hi)]
        kw: dict = {"bounds": (0, None), "method": "highs"}
        if eq:
            kw |= {"A_eq": sparse.csr_matrix(np.array([r for r, _ in eq])),
                   "b_eq": [b for _, b in eq]}  # fmt: skip
        if ub:
            kw |= {"A_ub": sparse.csr_matrix(np.array([r for r, _ in ub])),
                   "b_ub": [b for _, b in ub]}  # fmt: skip
        low, high = linprog(a, **kw), linprog(-a, **kw)
        assert low.status == 0 and high.status in (0, 3)
        return low.fun, (np.inf if high.status == 3 else -high.fun)


def _victim_combo(region: str, q: int, sex: str, age: str, nat: str, form: str) -> dict:
    return {"region": region, "q": q, "sex_age": f"{sex}|{age}", "nat": nat, "form": form}


def _form_group(forms: str) -> str:
    parts = sorted(set(forms.split(";")))
    return parts[0] if len(parts) == 1 else "Multiple"


def _victim_units(frame: pd.DataFrame) -> list[dict]:
    out = []
    for r in frame.itertuples():
        age = r.age_group if "age_group" in frame else ("child" if r.age < 18 else "adult")
        nat = str(r.nationality).upper()
        form = _form_group(r.exploitation)
        out.append(_victim_combo(r.region, _quarter(str(r.date_identified)[:10]), r.sex, age,
                                 nat, form))  # fmt: skip
    return out


def _victim_combos() -> list[dict]:
    forms = ("ForcedLabour", "SexualExploitation", "Multiple")
    sexes = [("F", "adult"), ("F", "child"), ("M", "adult"), ("M", "child")]
    return [
        _victim_combo(r, q, s, a, n.upper(), f)
        for r, q, (s, a), n, f in product(REGIONS, (1, 2, 3), sexes, NATIONALITY, forms)
    ]


def _means_sets() -> list[frozenset[str]]:
    names = ("fraud", "deception", "unknown")
    return [frozenset(c) for k in (1, 2, 3) for c in combinations(names, k)]


def _offence(table: str) -> str:
    return "trafficking_in_persons" if "trafficking" in table else "smuggling_of_migrants"


def _column_pred(table: str, column: str):  # type: ignore[no-untyped-def]
    """Which unknowns a published column adds up (a function of the unknowns' frame)."""
    if column == "Total":
        if table.startswith(("justice_", "perpetrators_")):
            return lambda v: v["offence"] == _offence(table)
        return lambda v: pd.Series(True, index=v.index)
    if table.startswith("victims_sex_age"):
        return lambda v: v["sex_age"] == column
    if table.startswith("victims_citizenship_group"):
        group = {"NER": "national", "MLI": "foreign", "UNKNOWN": "UNKNOWN"}
        return lambda v: v["nat"].map(group) == column
    if table.startswith("victims_citizenship"):
        return lambda v: v["nat"] == column
    if table.startswith("victims_exploitation"):
        return lambda v: v["form"] == column
    if table.startswith("cases_type"):
        return lambda v: v["case_type"] == column
    if table.startswith("cases_means"):
        return lambda v: (
            (v["case_type"] == "trafficking_in_persons")
            & v["means"].map(lambda m: isinstance(m, frozenset) and column in m)
        )
    offence = _offence(table)
    if table.startswith("justice_"):
        return lambda v: (v["offence"] == offence) & (v["stage"] == column)
    stage, value = column.split("|")
    if table.startswith("perpetrators_sex"):
        return lambda v: (v["offence"] == offence) & (v["stage"] == stage) & (v["sex"] == value)
    if table.startswith("perpetrators_age"):
        return lambda v: (v["offence"] == offence) & (v["stage"] == stage) & (v["age"] == value)
    group = {"NER": "national", "MLI": "foreign"}
    return lambda v: (
        (v["offence"] == offence) & (v["stage"] == stage) & (v["cit"].map(group) == value)
    )


def _universe(table: str) -> list[str]:
    """Every column a table could have (the categories of the drawn units)."""
    stages = ("suspected", "prosecuted", "convicted")
    if table.startswith("victims_sex_age"):
        return [f"{s}|{a}" for s in "FM" for a in ("child", "adult")]
    if table.startswith("victims_citizenship_group"):
        return ["national", "foreign", "UNKNOWN"]
    if table.startswith("victims_citizenship"):
        return ["NER", "MLI", "UNKNOWN"]
    if table.startswith("victims_exploitation"):
        return ["ForcedLabour", "SexualExploitation", "Multiple"]
    if table.startswith("cases_means"):
        return ["fraud", "deception", "unknown"]
    if table.startswith("perpetrators_sex"):
        return [f"{s}|{x}" for s in stages for x in "FM"]
    if table.startswith("perpetrators_citizenship"):
        return [f"{s}|{x}" for s in stages for x in ("national", "foreign")]
    if table.startswith("perpetrators_age"):
        return [f"{s}|{x}" for s in stages for x in ("child", "adult")]
    return []


def _kind_of(table: str) -> str:
    if table.startswith("victims_"):
        return "persons" if "_persons_" in table else "records"
    return "events" if table.startswith("cases_") else "perpetrators"


@st.composite
def releases(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(3, 14))
    rows = []
    for i in range(n):
        sex, age = draw(st.sampled_from(SEX_AGE))
        rows.append({
            "record_id": f"r{i}", "region": draw(st.sampled_from(REGIONS)),
            "date_identified": draw(st.sampled_from(QUARTERS)), "sex": sex, "age": age,
            "nationality": draw(st.sampled_from(NATIONALITY)),
            "exploitation": draw(st.sampled_from(FORMS)),
            "person": draw(st.integers(0, max(1, n * 2 // 3))),
        })  # fmt: skip
    victims = pd.DataFrame(rows)
    m = draw(st.integers(0, 8))
    events = pd.DataFrame([
        {"region": draw(st.sampled_from(REGIONS)), "date_recorded": draw(st.sampled_from(QUARTERS)),
         "case_type": draw(st.sampled_from(["trafficking_in_persons"] * 2 + ["smuggling_of_migrants"])),
         "means": draw(st.sampled_from(["fraud", "deception", "fraud;deception", None]))}
        for _ in range(m)
    ], columns=["region", "date_recorded", "case_type", "means"])  # fmt: skip
    k = draw(st.integers(0, 8))
    perps = pd.DataFrame([
        {"region": draw(st.sampled_from(REGIONS)), "date_recorded": draw(st.sampled_from(QUARTERS)),
         "offence": draw(st.sampled_from(["trafficking_in_persons", "smuggling_of_migrants"])),
         "stage": draw(st.sampled_from(["suspected", "prosecuted", "convicted"])),
         "sex": draw(st.sampled_from(["F", "M"])), "citizenship": draw(st.sampled_from(["NER", "MLI"])),
         "age_band": draw(st.sampled_from(["child", "adult"]))}
        for _ in range(k)
    ], columns=["region", "date_recorded", "offence", "stage", "sex", "citizenship", "age_band"])  # fmt: skip
    threshold = draw(st.integers(3, 5))
    linked = draw(st.booleans())
    return victims, events, perps, threshold, linked


def _attacker(victims, events, perps, linked) -> Attacker:  # type: ignore[no-untyped-def]
    att = Attacker()
    att.add_kind("records", _victim_combos(), _victim_units(victims))
    if linked:
        att.add_kind("persons", _victim_combos(), _victim_units(victim_persons(victims)))
    types = ("trafficking_in_persons", "smuggling_of_migrants")
    combos = [{"region": r, "q": q, "case_type": t, "means": m}
              for r, q in product(REGIONS, (1, 2, 3))
              for t in types for m in (_means_sets() if t == types[0] else [frozenset()])]  # fmt: skip
    units = [{"region": e.region, "q": _quarter(e.date_recorded), "case_type": e.case_type,
              "means": frozenset((e.means if isinstance(e.means, str) else "unknown").split(";"))
              if e.case_type == types[0] else frozenset()}
             for e in events.itertuples()]  # fmt: skip
    att.add_kind("events", combos, units)
    combos = [dict(zip(("region", "q", "offence", "stage", "sex", "cit", "age"), c, strict=True))
              for c in product(REGIONS, (1, 2, 3), types, ("suspected", "prosecuted", "convicted"),
                               ("F", "M"), ("NER", "MLI"), ("child", "adult"))]  # fmt: skip
    units = [{"region": p.region, "q": _quarter(p.date_recorded), "offence": p.offence,
              "stage": p.stage, "sex": p.sex, "cit": p.citizenship, "age": p.age_band}
             for p in perps.itertuples()]  # fmt: skip
    att.add_kind("perpetrators", combos, units)
    if linked:
        for r, q in product(REGIONS, (1, 2, 3)):  # persons of a region and quarter <= records

            def at(v: pd.DataFrame, kind: str, r: str = r, q: int = q) -> pd.Series:
                return (v["kind"] == kind) & (v["region"] == r) & (v["q"] == q)

            rows = att.select(lambda v: at(v, "persons")) - att.select(lambda v: at(v, "records"))
            att.add(rows, -np.inf, 0.0)
    return att


def _cell(kind: str, table: str, period: str, region: str, column: str):  # type: ignore[no-untyped-def]
    """The unknowns a published cell adds up."""
    pred = _column_pred(table, column)

    def f(v: pd.DataFrame) -> pd.Series:
        where = (v["region"] == region) if region != "Total" else (v["q"] > 0)
        return (v["kind"] == kind) & where & _in_period(period, v["q"]) & pred(v)

    return f


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failing release is shown as drawn
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(releases())
def test_no_hidden_count_can_be_narrowed_from_all_published_tables(release) -> None:  # type: ignore[no-untyped-def]
    victims, events, perps, threshold, linked = release
    persons = victim_persons(victims) if linked else None
    tables, protection = release_tables(
        victims, persons, events, perps, levels=LEVELS, threshold=threshold, regions=REGIONS,
        country="NER",
    )  # fmt: skip
    att = _attacker(victims, events, perps, linked)
    hidden = []
    for name, table in tables.items():
        kind = _kind_of(name)
        shown = table.publication()
        for (period, region), row in shown.iterrows():
            for column, text in row.items():
                a = att.select(_cell(kind, name, str(period), str(region), str(column)))
                if text == "c":
                    hidden.append(a)
                    continue
                assert not 1 <= int(text) < threshold, (name, period, region, column, text)
                att.add(a, float(text), float(text))
        # a category left out of a table (no unit has it) is a published zero; so is a
        # half-year left out of the half-yearly tables (no unit of that kind then)
        for column in set(_universe(name)) - set(map(str, shown.columns)):
            pred = _column_pred(name, column)
            att.add(att.select(lambda v: (v["kind"] == kind) & pred(v)), 0.0, 0.0)  # noqa: B023
        if name.endswith("_half-year"):
            listed = {int(p[-1]) for p in shown.index.get_level_values("period")}
            for h in {1, 2} - listed:
                in_h = (lambda v: v["q"] <= 2) if h == 1 else (lambda v: v["q"] == 3)
                att.add(att.select(lambda v: (v["kind"] == kind) & in_h(v)), 0.0, 0.0)  # noqa: B023
    truth = np.array(att.truth)
    small = [a for a in hidden if 1 <= a @ truth < threshold]
    assert len(small) == sum(int((t.flags == "primary").to_numpy().sum()) for t in tables.values())
    for a in {a.tobytes(): a for a in small}.values():  # a count in several tables: once
        low, high = att.bounds(a)
        assert high - low >= threshold - TOL, (a @ truth, low, high)
    assert protection.intervals.empty or protection.intervals["protected"].all()
