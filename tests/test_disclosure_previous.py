"""A publication holds the previous one's suppression pattern (issue 19: adding a year leaves
every earlier year's tables as they were published, and the two publications together let no
hidden count be narrowed).

Random countries of region x list counts by year (small counts common): the first publication
is years 1-2, the second years 1-3 with totals over all years (cells the first did not have).
Checked against closed facts, not against a pattern found before: every earlier cell published
again with the same value is hidden exactly where it was, and the LP audit over the union of
both publications (what a reader of both knows) leaves every primary count an interval at least
the threshold wide.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fl_estimate.disclosure import LinkedCell, audit, protect_tables

THRESHOLD = 5


def _country(seed: int, n_years: int) -> tuple[np.ndarray, list[LinkedCell]]:
    """Atoms: counts by (year, region, list), 3 regions x 3 lists a year; cells: each count,
    its row and column totals and the year's total, and (with 3 years) totals over the years by
    region and by list."""
    rng = np.random.default_rng(seed)
    shape = (3, 3, 3)
    values = rng.choice([0, 1, 2, 3, 6, 9, 14, 30], size=shape)  # same draws for every n_years
    index = np.arange(values.size).reshape(shape)
    cells: list[LinkedCell] = []
    for y in range(n_years):
        for r in range(3):
            for j in range(3):
                cells.append(LinkedCell(("count", y, r, j), (int(index[y, r, j]),)))
            cells.append(LinkedCell(("region", y, r), tuple(int(a) for a in index[y, r, :])))
        for j in range(3):
            cells.append(LinkedCell(("list", y, j), tuple(int(a) for a in index[y, :, j])))
        cells.append(LinkedCell(("year", y), tuple(int(a) for a in index[y].ravel())))
    if n_years == 3:
        for r in range(3):
            cells.append(LinkedCell(("all years", r), tuple(int(a) for a in index[:, r].ravel())))
    return values.ravel(), cells


@pytest.mark.parametrize("seed", range(12))
def test_a_new_year_keeps_the_earlier_pattern_and_both_together_protect(seed: int) -> None:
    atoms, first_cells = _country(seed, 2)
    first = protect_tables(atoms, first_cells, threshold=THRESHOLD)
    _, second_cells = _country(seed, 3)
    second = protect_tables(atoms, second_cells, threshold=THRESHOLD, previous=first.pattern)
    # every earlier cell (same key, same value) is hidden exactly where it was
    for key, (value, was_hidden) in first.pattern.items():
        assert second.pattern[key][0] == value
        assert (key in second.hidden) == was_hidden, key
    assert second.held == len({c.atoms for c in first_cells})  # every earlier unit held
    assert second.intervals["protected"].all()
    # a reader of both publications: the first's cells under their own keys, with its pattern
    both = second_cells + [LinkedCell(("first", c.key), c.atoms) for c in first_cells]
    hidden = set(second.hidden) | {("first", k) for k in first.hidden}
    union = audit(atoms, both, hidden, threshold=THRESHOLD, primary_only=True)
    assert len(union) and union["protected"].all()


def test_a_changed_value_is_not_held() -> None:
    """A cell whose value changed (a late file) is a new number: its old pattern is not held."""
    atoms, cells = _country(3, 2)
    first = protect_tables(atoms, cells, threshold=THRESHOLD)
    key = next(k for k, (v, h) in first.pattern.items() if h and v >= THRESHOLD)  # a secondary
    changed = dict(first.pattern)
    changed[key] = (changed[key][0] + 1, True)
    again = protect_tables(atoms, cells, threshold=THRESHOLD, previous=changed)
    assert again.held == first_units(cells) - 1
    plain = protect_tables(atoms, cells, threshold=THRESHOLD)
    assert again.intervals["protected"].all() and plain.hidden == first.hidden


def first_units(cells: list[LinkedCell]) -> int:
    return len({c.atoms for c in cells})


def test_a_cell_hidden_before_stays_hidden_though_not_needed_now() -> None:
    """The 2 x 2 table of protect_tables' example, all counts large: nothing is needed, but a
    margin hidden in the previous publication (same value) stays hidden."""
    a = [11, 14, 15, 19]
    cells = [LinkedCell(("t", i), (i,)) for i in range(4)]
    cells += [LinkedCell("r0", (0, 1)), LinkedCell("r1", (2, 3))]
    assert protect_tables(a, cells).hidden == frozenset()
    held = protect_tables(a, cells, previous={"r0": (25, True), "r1": (34, False)})
    assert held.hidden == {"r0"} and held.held == 2
    # with another value it is another number: not held
    assert protect_tables(a, cells, previous={"r0": (26, True)}).hidden == frozenset()


def test_cells_shown_before_cannot_be_hidden_unless_nothing_else_protects(caplog) -> None:
    """Shown before, a cell is known: the new small count is protected by other cells. When only
    cells shown before could protect it, they are not held (logged) rather than publishing an
    unprotected count."""
    a = [1, 6, 5, 9]  # as protect_tables' example (no total): the 1 needs three more hidden
    cells = [LinkedCell(("t", i), (i,)) for i in range(4)]
    cells += [LinkedCell(k, i, cost=10 * sum(a[j] for j in i)) for k, i in
              [("r0", (0, 1)), ("r1", (2, 3)), ("c0", (0, 2)), ("c1", (1, 3))]]  # fmt: skip
    plain = protect_tables(a, cells)
    assert plain.hidden == {("t", 0), ("t", 1), ("t", 2), ("t", 3)}
    # t1 and t2 were shown: the margins through the 1 go instead (dearer, but not known)
    p = protect_tables(a, cells, previous={("t", 1): (6, False), ("t", 2): (5, False)})
    assert p.hidden == {("t", 0), "r0", "c0"} and p.held == 2
    assert p.intervals["protected"].all()
    # every cell but the 1 shown before: nothing else can protect it
    shown = {c.key: (int(sum(a[j] for j in c.atoms)), False) for c in cells[1:]}
    with caplog.at_level(logging.WARNING, logger="fl_estimate.disclosure"):
        q = protect_tables(a, cells, previous=shown)
    assert "not held" in caplog.text
    assert q.intervals["protected"].all() and q.hidden == plain.hidden
