"""Linked-tables disclosure control of the annual run, audited as tau-argus audits a pattern.

Random small countries (regions x years x lists, strata of a few people) go through the run's
own steps (``fit_stratum``, ``build_tables``, ``published_tables``). The audit here is written
from the *published frames* alone, not from :func:`fl_estimate.pipeline.published.linked_cells`:
it reads every published count (observed_by_stratum with its margins, the observed column of
the strata, national and sensitivity tables, list totals) and what the texts say (lists_used,
the status of a stratum not estimated, the national sum of strata that adds the observed of the
strata without an estimate) and what the report's list-overlaps chart prints (pooled patterns,
pooled list totals, the number of people, read by the chart's rule and ``chart_hidden``), writes
them as linear constraints on the atoms (people by stratum and capture pattern, nonnegative),
and for every count from 1 to threshold - 1 asks
``scipy.optimize.linprog`` (HiGHS) for its smallest and largest value. The rule: the count is
blank in every published table, and its interval is at least ``threshold`` wide.
"""

from __future__ import annotations

import re
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from fl_estimate.disclosure import LinkedCell, audit, protect_tables
from fl_estimate.mse.data import CaptureData
from fl_estimate.pipeline.config import RunConfig
from fl_estimate.pipeline.published import (
    CHART_PATTERNS,
    chart_hidden,
    linked_cells,
    published_tables,
)
from fl_estimate.pipeline.strata import StratumTask, fit_stratum
from fl_estimate.pipeline.tables import build_tables

LISTS = ("police", "courts", "ngo", "labour")
REGIONS = ("North", "South", "East")
YEARS = (2021, 2022)
TOL = 1e-6  # LP bounds of whole counts: floating point only


def _config(threshold: int, min_per_list: int) -> RunConfig:
    return RunConfig(
        path=Path("run.toml"),
        title="t",
        seed=1,
        out=Path("out"),
        capture_histories=None,
        link=None,
        strata=("region", "year"),
        population=None,
        per=100000,
        methods=("independence",),
        interval=None,
        level=None,
        n_boot=None,
        chains=None,
        draws=None,
        min_lists=3,
        min_per_list=min_per_list,
        leave_one_out=True,
        merge=(),
        top_models=0,
        threshold=threshold,
        workers=1,
        scheduler=None,
        truth=None,
    )


def _run(cfg: RunConfig, records: pd.DataFrame):  # type: ignore[no-untyped-def]
    """The run's own steps from capture histories to the published tables."""
    data = CaptureData.from_records(records, strata=list(cfg.strata))
    keys = sorted(data.keys(), key=lambda k: tuple(str(v) for v in k))
    opts = {m: cfg.options_for(m) for m in cfg.methods}

    def fit(key, table):  # type: ignore[no-untyped-def]
        return fit_stratum(StratumTask(key, table, opts, 1, cfg.min_lists, cfg.min_per_list))

    outcomes = [fit(k, data[k]) for k in keys]
    groups = sorted(data.collapse(keep=["year"]).items(), key=lambda kv: str(kv[0]))
    national = [fit(("national", *g), t) for g, t in groups]
    tables = build_tables(cfg, data, outcomes, groups, national)
    pub, protection = published_tables(cfg, data, outcomes, tables)
    return data, tables, pub, chart_hidden(protection.hidden)


class Attacker:
    """Everything published, as constraints on the atoms (stratum x capture pattern)."""

    def __init__(self, data: CaptureData, lists: tuple[str, ...]) -> None:
        self.lists = lists
        self.patterns = [p for p in product((0, 1), repeat=len(lists)) if any(p)]
        self.strata = sorted(data.keys(), key=str)  # type: ignore[attr-defined]
        self.index = {(s, p): i for i, (s, p) in enumerate(product(self.strata, self.patterns))}
        self.truth = np.zeros(len(self.index))
        for s in self.strata:
            frame = data[s].to_frame()  # type: ignore[index]
            for _, r in frame.iterrows():
                self.truth[self.index[(s, tuple(int(r[x]) for x in lists))]] = r["count"]
        self.rows: list[tuple[np.ndarray, float, float]] = []

    def atoms(self, strata, keep=lambda p: True) -> np.ndarray:  # type: ignore[no-untyped-def]
        a = np.zeros(len(self.index))
        for s in strata:
            for p in self.patterns:
                if keep(p):
                    a[self.index[(s, p)]] = 1.0
        return a

    def on(self, name: str):  # type: ignore[no-untyped-def]
        j = self.lists.index(name)
        return lambda p: p[j] == 1

    def add(self, a: np.ndarray, low: float, high: float) -> None:
        assert low - TOL <= a @ self.truth <= high + TOL  # what is published is true
        self.rows.append((a, low, high))

    def bounds(self, a: np.ndarray) -> tuple[float, float]:
        eq = [(r, lo) for r, lo, hi in self.rows if lo == hi]
        ub = [(r, hi) for r, lo, hi in self.rows if lo < hi and np.isfinite(hi)]
        ub += [(-r, -lo) for r, lo, hi in self.rows if lo < hi and lo > 0]
        kw = {"bounds": (0, None), "method": "highs"}
        if eq:
            kw |= {"A_eq": np.array([r for r, _ in eq]), "b_eq": [b for _, b in eq]}
        if ub:
            kw |= {"A_ub": np.array([r for r, _ in ub]), "b_ub": [b for _, b in ub]}
        low = linprog(a, **kw)
        high = linprog(-a, **kw)
        assert low.status == 0 and high.status in (0, 3)
        return low.fun, (np.inf if high.status == 3 else -high.fun)


def _read_published(att: Attacker, cfg: RunConfig, pub: dict[str, pd.DataFrame]) -> None:
    """What a reader of the published tables knows, as constraints."""
    in_year = {y: [s for s in att.strata if s[1] == y] for y in YEARS}
    obs = pub["observed_by_stratum"].set_index("region")
    for region, row in obs.iterrows():
        for col, v in row.items():
            if pd.isna(v):
                continue
            strata = [
                s for s in att.strata if region in ("Total", s[0]) and col in ("Total", str(s[1]))
            ]
            att.add(att.atoms(strata), float(v), float(v))
    for _, r in pub["strata_estimates"].iterrows():
        s = (r["region"], r["year"])
        if pd.notna(r["observed"]):
            att.add(att.atoms([s]), float(r["observed"]), float(r["observed"]))
        used = [x for x in str(r["lists_used"] or "").split(", ") if x]
        if used:  # estimated: the lists used have min_per_list people or more, the others none
            for name in att.lists:
                a = att.atoms([s], att.on(name))
                att.add(a, *((cfg.min_per_list, np.inf) if name in used else (0.0, 0.0)))
        m = re.match(r"not estimable: lists with fewer than (\d+) people: ([^;]*);", r["status"])
        if m:
            for name in m.group(2).split(", "):
                att.add(att.atoms([s], att.on(name)), 1.0, int(m.group(1)) - 1.0)
    for _, r in pub["national_estimates"].iterrows():
        if pd.notna(r["observed"]):
            att.add(att.atoms(in_year[r["year"]]), float(r["observed"]), float(r["observed"]))
    for _, r in pub["sensitivity"].iterrows():
        if pd.isna(r["observed"]):
            continue
        name = r["variant"][len("without ") :] if r["variant"].startswith("without ") else None
        keep = (lambda p: True) if name is None else _other_list(att, name)
        att.add(att.atoms(in_year[r["year"]], keep), float(r["observed"]), float(r["observed"]))
    for _, r in pub["list_totals"].iterrows():
        for name in att.lists:
            if pd.notna(r[name]):
                a = att.atoms([(r["region"], r["year"])], att.on(name))
                att.add(a, float(r[name]), float(r[name]))
    _read_sum_of_strata(att, pub, in_year)


def _read_chart(att: Attacker, threshold: int, hidden) -> None:  # type: ignore[no-untyped-def]
    """What the report's list-overlaps chart prints (``plot_overlaps(min_count=threshold,
    hidden=)``): the ``CHART_PATTERNS`` largest pooled patterns of at least ``threshold``
    people less those suppressed, each list's pooled total, the number of people."""
    pooled = {p: sum(att.truth[att.index[(s, p)]] for s in att.strata) for p in att.patterns}
    order = sorted(att.patterns, key=lambda p: -pooled[p])  # stable, as np.argsort(stable)
    drawn = [p for p in order if pooled[p] >= threshold][:CHART_PATTERNS]
    for p in drawn:
        names = tuple(x for x, on in zip(att.lists, p, strict=True) if on)
        if names not in hidden:
            att.add(att.atoms(att.strata, lambda q, p=p: q == p), pooled[p], pooled[p])
    for name in att.lists:
        if name not in hidden:
            a = att.atoms(att.strata, att.on(name))
            att.add(a, a @ att.truth, a @ att.truth)
    if "Total" not in hidden:
        a = att.atoms(att.strata)
        att.add(a, a @ att.truth, a @ att.truth)


def _other_list(att: Attacker, name: str):  # type: ignore[no-untyped-def]
    j = att.lists.index(name)
    return lambda p: any(v for i, v in enumerate(p) if i != j)


def _read_sum_of_strata(att: Attacker, pub: dict[str, pd.DataFrame], in_year) -> None:  # type: ignore[no-untyped-def]
    """National sum of strata = strata's estimates + observed of strata without one: published
    estimates are whole numbers (rounded as the report rounds them), so the observed of the
    strata without an estimate is known to within half a person per estimate."""
    strata = pub["strata_estimates"]
    for _, r in pub["national_estimates"].iterrows():
        if r["kind"] != "sum of strata" or pd.isna(r["estimate"]):
            continue
        rows = strata[strata["year"] == r["year"]]
        without = [(x["region"], x["year"]) for _, x in rows.iterrows() if pd.isna(x["estimate"])]
        if not without:
            continue
        est = np.round(rows["estimate"].dropna().to_numpy(dtype=float))
        d = float(np.round(r["estimate"])) - est.sum()
        slack = 0.5 * (len(est) + 1) + 1e-6
        att.add(att.atoms(without), d - slack, d + slack)


def _published_texts(pub: dict[str, pd.DataFrame]) -> list[str]:
    texts = []
    for df in pub.values():
        for c in df.columns:
            if not pd.api.types.is_numeric_dtype(df[c]):
                texts += [str(v) for v in df[c].dropna()]
    return texts


#: Numbers a published text may hold: parameters of the run, never a count of people.
_PARAMETERS = re.compile(
    r"fewer than \d+ people|at least \d+ needed|only \d+ lists with captures|\b20\d\d\b"
    r"|\d+ stratum/strata|\d+ of \d+ strata"
)


@st.composite
def countries(draw):  # type: ignore[no-untyped-def]
    """Capture histories of a small country: 1-3 regions, 2 years, 3-4 lists, strata of a few
    people (each pattern 0-2 people) beside strata of some more (0-6 per pattern)."""
    n_regions = draw(st.integers(1, 3))
    n_lists = draw(st.integers(3, 4))
    lists = LISTS[:n_lists]
    patterns = [p for p in product((0, 1), repeat=n_lists) if any(p)]
    rows = []
    for region, year in product(REGIONS[:n_regions], YEARS):
        top = draw(st.sampled_from([1, 2, 6]))
        counts = draw(st.lists(st.integers(0, top), min_size=len(patterns), max_size=len(patterns)))
        if not any(counts):
            counts[0] = 1
        if region == REGIONS[0]:  # every list has someone every year: one person on all lists
            counts = [n + (sum(p) == n_lists) for p, n in zip(patterns, counts, strict=True)]
        for p, n in zip(patterns, counts, strict=True):
            rows += [{"region": region, "year": year, **dict(zip(lists, p, strict=True))}] * n
    threshold = draw(st.integers(3, 6))
    min_per_list = draw(st.integers(2, threshold + 1))
    return pd.DataFrame(rows), lists, threshold, min_per_list


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failing country is shown as drawn
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(countries())
def test_no_small_count_can_be_narrowed_from_all_published_tables(country) -> None:  # type: ignore[no-untyped-def]
    records, lists, threshold, min_per_list = country
    cfg = _config(threshold, min_per_list)
    data, _, pub, in_chart = _run(cfg, records)
    att = Attacker(data, lists)
    _read_published(att, cfg, pub)
    _read_chart(att, threshold, in_chart)
    small = []  # every count of people from 1 to threshold - 1 that a table holds
    for s in att.strata:
        small.append(att.atoms([s]))
        small += [att.atoms([s], att.on(name)) for name in lists]
    for y in YEARS:
        small.append(att.atoms([s for s in att.strata if s[1] == y]))
        small += [
            att.atoms([s for s in att.strata if s[1] == y], _other_list(att, x)) for x in lists
        ]
    for region in {s[0] for s in att.strata}:
        small.append(att.atoms([s for s in att.strata if s[0] == region]))
    small += [att.atoms(att.strata, lambda q, p=p: q == p) for p in att.patterns]  # the chart's
    small += [att.atoms(att.strata, att.on(name)) for name in lists]
    for a in small:
        value = a @ att.truth
        if not 1 <= value < threshold:
            continue
        low, high = att.bounds(a)
        assert high - low >= threshold - TOL, (value, low, high)
    for text in _published_texts(pub):
        # a whole number standing alone (not a decimal such as p = 0.049, not part of a name
        # such as Gamma3.5) other than a parameter of the run would be a count of people
        assert not re.search(r"(?<![\w.])\d+(?![\w.])", _PARAMETERS.sub("", text)), text


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(countries())
def test_no_secondary_suppression_is_needless(country) -> None:  # type: ignore[no-untyped-def]
    """Every secondary cell is needed: published again on its own, it would let some primary
    count be narrowed below the threshold (the audit's LP on the cells with it shown). So
    secondary suppression is minimal cell by cell, not only sufficient."""
    records, _, threshold, min_per_list = country
    cfg = _config(threshold, min_per_list)
    data = CaptureData.from_records(records, strata=list(cfg.strata))
    keys = sorted(data.keys(), key=lambda k: tuple(str(v) for v in k))
    opts = {m: cfg.options_for(m) for m in cfg.methods}
    outcomes = [
        fit_stratum(StratumTask(k, data[k], opts, 1, cfg.min_lists, cfg.min_per_list)) for k in keys
    ]
    groups = sorted(data.collapse(keep=["year"]).items(), key=lambda kv: str(kv[0]))
    national = [
        fit_stratum(StratumTask(("national", *g), t, opts, 1, cfg.min_lists, cfg.min_per_list))
        for g, t in groups
    ]
    tables = build_tables(cfg, data, outcomes, groups, national)
    atoms, cells = linked_cells(cfg, data, outcomes, tables)
    p = protect_tables(atoms.values, cells, threshold=threshold)
    assert p.intervals["protected"].all()
    by_atoms: dict[tuple[int, ...], set] = {}  # cells with the same atoms are one number
    for c in cells:
        if c.bounds is None:
            by_atoms.setdefault(tuple(sorted(set(c.atoms))), set()).add(c.key)
    seen = set()
    for c in cells:
        if c.key not in p.secondary or c.key in seen:
            continue
        same = by_atoms[tuple(sorted(set(c.atoms)))] if c.bounds is None else {c.key}
        seen |= same
        again = audit(atoms.values, cells, p.hidden - same, threshold=threshold, primary_only=True)
        assert not again["protected"].all(), c.key


def test_the_2x2_table_closed_form() -> None:
    """A 2 x 2 table [[1, 6], [5, 9]] with its margins (rows 7, 14; columns 6, 15; total 21).
    The cell of 1 alone hidden is 7 - 6 = 1 exactly; with its row neighbour hidden too, the
    column still gives 6 - 5 = 1; all four hidden, the cell is t and the others 7 - t, 6 - t
    and 8 + t, all nonnegative: t in [0, 6] (and the 9 in [8, 14]). The LP must give exactly
    these bounds (a linear programme on whole numbers: no tolerance), and protection at
    threshold 5 must stop at the four interior cells (width 6 >= 5) without hiding a margin."""
    atoms = [1, 6, 5, 9]
    cells = [LinkedCell(("t", i), (i,)) for i in range(4)]
    margins = {"r0": (0, 1), "r1": (2, 3), "c0": (0, 2), "c1": (1, 3), "total": (0, 1, 2, 3)}
    cells += [LinkedCell(k, a, cost=10 * sum(atoms[j] for j in a)) for k, a in margins.items()]
    one = audit(atoms, cells, {("t", 0)}).iloc[0]
    assert (one["low"], one["high"], one["protected"]) == (1.0, 1.0, False)
    row = audit(atoms, cells, {("t", 0), ("t", 1)}).iloc[0]
    assert (row["low"], row["high"]) == (1.0, 1.0)
    every = audit(atoms, cells, {("t", i) for i in range(4)}).set_index("key")
    assert every.loc[[("t", 0)], ["low", "high"]].to_numpy().tolist() == [[0.0, 6.0]]
    assert every.loc[[("t", 3)], ["low", "high"]].to_numpy().tolist() == [[8.0, 14.0]]
    p = protect_tables(atoms, cells, threshold=5)
    assert p.hidden == {("t", i) for i in range(4)} and p.primary == {("t", 0)}
    assert p.intervals["protected"].all()
    # threshold 7: no pattern of interior cells gives width 7 (the column margin is 6): a
    # margin is hidden too, and the interval reaches 7
    p7 = protect_tables(atoms, cells, threshold=7)
    assert p7.intervals.set_index("key").loc[[("t", 0)], "width"].iloc[0] >= 7
    assert p7.hidden - {("t", i) for i in range(4)}


def test_a_bound_from_text_counts() -> None:
    """'list A was used' (at least 3 people) with A's total hidden (3 of threshold 5): from the
    stratum's total 9 and list B's 6 (A and B disjoint), A = 3 exactly; hiding B too leaves
    A in [3, 9], wide enough."""
    atoms = [3, 6]  # people on A only, on B only
    cells = [
        LinkedCell("A", (0,)),
        LinkedCell("B", (1,)),
        LinkedCell("total", (0, 1), cost=100),
        LinkedCell("A used", (0,), (3.0, np.inf), cost=1e9),
    ]
    p = protect_tables(atoms, cells, threshold=5)
    assert p.hidden == {"A", "B"}
    row = p.intervals.set_index("key").loc["A"]
    assert (row["low"], row["high"]) == (3.0, 9.0)


def test_a_false_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="not true"):
        protect_tables([3], [LinkedCell("A", (0,), (5.0, np.inf))])
