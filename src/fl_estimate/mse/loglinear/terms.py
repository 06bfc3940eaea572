"""Hierarchical log-linear models over K lists: terms, names, and the catalogue of models.

A term is a set of lists, stored as a bit mask (bit ``j`` = list ``j``); the empty mask is the
intercept and single bits are main effects. A model is the set of its interaction terms (two lists
or more), always closed downwards (hierarchical): if ``A:B:C`` is in the model, so are ``A:B``,
``A:C`` and ``B:C``. Main effects and the intercept are always in.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv
>>> from fl_estimate.mse.loglinear.terms import (
...     count_hierarchical_models, model_label, msenotation, parse_model)
>>> lists = read_capture_csv("data_samples/uk_2013.csv").lists
>>> lists
('LA', 'NG', 'PF', 'GO', 'GP', 'NCA')
>>> model = parse_model("LA:NG:PF + PF:GO", lists)
>>> sorted(model)  # bit masks: LA:NG = 0b11, LA:PF = 0b101, ...
[3, 5, 6, 7, 12]
>>> model_label(model, lists)
'main effects + LA:NG:PF + PF:GO'
>>> msenotation(model, len(lists)), parse_model("[123,34]", lists) == model
('[123,34,5,6]', True)
>>> count_hierarchical_models(4, 3)
113
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import TypeAlias

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_

__all__ = [
    "Model",
    "all_terms",
    "bits",
    "closure",
    "count_hierarchical_models",
    "generators",
    "hierarchical_models",
    "model_label",
    "msenotation",
    "order",
    "parse_model",
    "term_label",
]

Model: TypeAlias = frozenset[int]


def bits(mask: int) -> list[int]:
    """Indices of the lists in a term."""
    out = []
    j = 0
    while mask:
        if mask & 1:
            out.append(j)
        mask >>= 1
        j += 1
    return out


def order(mask: int) -> int:
    return int(mask).bit_count()


def closure(terms: Iterable[int]) -> Model:
    """Smallest hierarchical model containing ``terms`` (interaction terms only: order >= 2)."""
    out: set[int] = set()
    for t in terms:
        idx = bits(t)
        for r in range(2, len(idx) + 1):
            for sub in combinations(idx, r):
                out.add(sum(1 << j for j in sub))
    return frozenset(out)


def generators(model: Model) -> list[int]:
    """Maximal terms of a model (its generating class), ordered by size then lists."""
    gens = [t for t in model if not any(t != u and (t & u) == t for u in model)]
    return sorted(gens, key=lambda t: (-order(t), bits(t)))


def term_label(mask: int, lists: Sequence[str]) -> str:
    """``"A:B"`` for the term of lists A and B."""
    return ":".join(lists[j] for j in bits(mask))


def model_label(model: Model, lists: Sequence[str]) -> str:
    """Readable model: ``"main effects + A:B + B:C"`` (generators only)."""
    gens = generators(model)
    if not gens:
        return "main effects (independence)"
    return "main effects + " + " + ".join(term_label(t, lists) for t in gens)


def msenotation(model: Model, n_lists: int) -> str:
    """The model in MultipleSystemsEstimation's notation: interaction generators with lists numbered
    from 1 (highest order first, then in list order), then lists in no generator as single digits,
    e.g. ``"[123,25,34]"``, ``"[135,12,24,34]"`` or ``"[15,2,3,4]"``.

    Numbers above 9 are not representable in that notation; a ``ValueError`` is raised.
    """
    if n_lists > 9:
        raise ValueError("the reference notation supports at most 9 lists")
    gens = generators(model)
    covered = 0
    parts = []
    for t in sorted(gens, key=lambda t: bits(t)):
        parts.append("".join(str(j + 1) for j in bits(t)))
        covered |= t
    singles = [str(j + 1) for j in range(n_lists) if not covered >> j & 1]
    parts.sort(key=lambda s: (-len(s), [int(c) for c in s]))
    return "[" + ",".join(parts + singles) + "]"


_SPLIT = re.compile(r"[+,;\s]+")


def parse_model(
    spec: str | Iterable[str] | Iterable[Sequence[str]] | None, lists: Sequence[str]
) -> Model:
    """Parse a model given as interaction terms.

    Accepts ``None`` or ``""`` (main effects only), a string ``"A:B + B:C:D"`` (separators ``+``,
    ``,``, ``;`` or spaces), a string in the reference notation ``"[12,23]"`` (lists numbered from
    1 in column order), or an iterable of ``"A:B"`` strings or of tuples of list names. Lower-order
    terms implied by a higher-order one are added (the model is hierarchical).

    Raises
    ------
    ModelSpecificationError
        Unknown list names, or a term with fewer than two lists.
    """
    if spec is None:
        return frozenset()
    index = {name: j for j, name in enumerate(lists)}
    terms: list[int] = []
    items: list[Sequence[str]]
    if isinstance(spec, str):
        s = spec.strip()
        if s in ("", "main", "main effects", "independence"):
            return frozenset()
        if s.startswith("[") and s.endswith("]"):
            out = []
            for g in s[1:-1].split(","):
                g = g.strip()
                if not g:
                    continue
                try:
                    idx = [int(c) - 1 for c in g]
                except ValueError:
                    raise ModelSpecificationError(
                        N_("cannot read generator {g!r} in {spec!r}", g=g, spec=spec)
                    ) from None
                if any(j < 0 or j >= len(lists) for j in idx):
                    raise ModelSpecificationError(
                        N_("generator {g!r} names a list number outside 1..{n}", g=g,
                           n=len(lists))
                    )  # fmt: skip
                if len(idx) >= 2:
                    out.append(sum(1 << j for j in idx))
            return closure(out)
        items = [t.split(":") for t in _SPLIT.split(s) if t]
    else:
        items = [t.split(":") if isinstance(t, str) else list(t) for t in spec]
    for raw in items:
        names = [n.strip() for n in raw]
        if any(not n for n in names):
            raise ModelSpecificationError(
                N_(
                    "term {term!r} in {spec!r} has an empty list name; write terms as A:B joined "
                    "with +",
                    term=":".join(raw),
                    spec=spec,
                )
            )
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ModelSpecificationError(
                N_(
                    "unknown list {name!r} in term {term!r}; the lists are {lists}",
                    name=unknown[0],
                    term=":".join(names),
                    lists=", ".join(lists),
                )
            )
        if len(set(names)) < 2:
            raise ModelSpecificationError(
                N_(
                    "term {term!r} is not an interaction (needs two or more lists); main effects "
                    "are always in the model",
                    term=":".join(names),
                )
            )
        terms.append(sum(1 << index[n] for n in names))
    return closure(terms)


def all_terms(n_lists: int, max_order: int) -> list[int]:
    """Interaction terms of order 2..max_order, ordered by order then lexicographically."""
    out = []
    for r in range(2, max_order + 1):
        for sub in combinations(range(n_lists), r):
            out.append(sum(1 << j for j in sub))
    return out


def hierarchical_models(n_lists: int, max_order: int = 2) -> Iterator[Model]:
    """Every hierarchical model whose generators have order at most ``max_order``.

    For ``max_order=2`` these are the ``2**(K(K-1)/2)`` sets of two-list terms. For higher orders a
    term of order r may be added only when all its sub-terms of order r-1 are present. Generated
    level by level, so the catalogue depends only on the list count and the maximum order.
    """
    if max_order < 1:
        raise ModelSpecificationError(N_("max_order must be at least 1"))
    max_order = min(max_order, n_lists)
    levels = [[t for t in all_terms(n_lists, r) if order(t) == r] for r in range(2, max_order + 1)]

    def extend(current: frozenset[int], level: int) -> Iterator[Model]:
        if level >= len(levels):
            yield current
            return
        r = level + 2
        if r == 2:
            candidates = levels[0]
        else:
            candidates = [
                t for t in levels[level] if all((t & ~(1 << j)) in current for j in bits(t))
            ]
        for k in range(len(candidates) + 1):
            for chosen in combinations(candidates, k):
                yield from extend(current | frozenset(chosen), level + 1)

    yield from extend(frozenset(), 0)


def count_hierarchical_models(n_lists: int, max_order: int = 2) -> int:
    return sum(1 for _ in hierarchical_models(n_lists, max_order))
