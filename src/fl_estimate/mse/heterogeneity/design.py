"""Design columns of Rcapture's closed-population models on the capture-pattern table.

Every model is a Poisson log-linear model on the ``2**K - 1`` observable capture patterns
(Rivest & Baillargeon 2007). A pattern ``c`` (cell index, list ``j`` = bit ``j``, as
:class:`fl_estimate.mse.data.CaptureData`) has ``k(c)`` captures; its first capture is on list
``f(c)`` (1-based, in column order). With intercept ``a``:

- **M0**: ``log mu_c = a + b k(c)``  (everyone equally catchable on every list);
- **Mt**: ``log mu_c = a + sum_j b_j x_j(c)``  (lists differ, people do not);
- **Mh** / **Mth**: M0 / Mt plus heterogeneity columns ``h(k(c))`` (Darroch et al. 1993,
  Rivest & Baillargeon 2007):

  - Chao (lower bound): ``(k - 2)_+, (k - 3)_+, ..., (k - K + 1)_+`` with negative coefficients
    removed (one at a time, first negative first), so ``N`` is Chao's lower bound;
  - Poisson: ``theta**k - 1`` (theta 2 by default);
  - Darroch: ``k**2 / 2``;
  - Gamma: ``-log(1 + k / theta)`` (theta 3.5 by default);

- **Mb** (behavioural response): ``a + b1 (f - 1) + b2 (k - 1)``;
- **Mbh**: Mb plus an indicator of "not caught on the first list".

Every column except the intercept is 0 on the unobserved pattern, so for M0, Mt, Mh and Mth
``mu_0 = exp(a)`` and ``N = n + exp(a)``. Mb and Mbh have their own ``N`` (see
:mod:`fl_estimate.mse.heterogeneity.closedp`). Two-list (or higher) interactions ``x_i x_j``
can be added to any model, as Rcapture's ``closedpCI.t(mX = ..., h = ...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_

__all__ = [
    "BASES",
    "DEFAULT_THETA",
    "HETEROGENEITY",
    "ClosedpModel",
    "closedp_catalogue",
    "parse_interactions",
]

#: Base models: how catchability varies between lists (t), with behaviour (b), and people (h).
BASES = ("M0", "Mt", "Mh", "Mth", "Mb", "Mbh")
#: Heterogeneity forms and the Rcapture label of each.
HETEROGENEITY = {"chao": "Chao (LB)", "poisson": "Poisson", "darroch": "Darroch", "gamma": "Gamma"}
#: Rcapture's defaults for the parameter of the Poisson and Gamma forms.
DEFAULT_THETA = {"poisson": 2.0, "gamma": 3.5}


def _theta_text(theta: float) -> str:
    return f"{theta:g}"


def parse_interactions(
    interactions: str | Iterable[str] | Iterable[Sequence[str]] | None, lists: Sequence[str]
) -> tuple[int, ...]:
    """Interaction terms as bit masks over ``lists``.

    Parameters
    ----------
    interactions : str, iterable of str, or iterable of name tuples
        ``"A:B + B:C"``, ``["A:B", "B:C"]`` or ``[("A", "B")]``. Each term names two or more
        distinct lists.
    lists : sequence of str

    Returns
    -------
    tuple of int
        One bit mask per term (list ``j`` = bit ``j``), sorted, without duplicates.

    Raises
    ------
    ModelSpecificationError
        A list name that is not in the table, or a term with fewer than two distinct lists.
    """
    if interactions is None:
        return ()
    if isinstance(interactions, str):
        items: list[Sequence[str]] = [
            [p.strip() for p in t.split(":")] for t in interactions.split("+") if t.strip()
        ]
    else:
        items = [
            [p.strip() for p in t.split(":")] if isinstance(t, str) else list(t)
            for t in interactions
        ]
    index = {name: j for j, name in enumerate(lists)}
    out = set()
    for names in items:
        unknown = [nm for nm in names if nm not in index]
        if unknown:
            raise ModelSpecificationError(
                N_(
                    "interaction {term!r} names {unknown}, which is not a list of this table "
                    "(lists: {lists})",
                    term=":".join(names),
                    unknown=", ".join(map(repr, unknown)),
                    lists=", ".join(lists),
                )
            )
        mask = 0
        for nm in names:
            mask |= 1 << index[nm]
        if mask.bit_count() < 2:
            raise ModelSpecificationError(
                N_(
                    "interaction {term!r} must name at least two different lists",
                    term=":".join(names),
                )
            )
        out.add(mask)
    return tuple(sorted(out, key=lambda m: (m.bit_count(), m)))


def _term_text(mask: int, lists: Sequence[str]) -> str:
    return ":".join(lists[j] for j in range(len(lists)) if mask >> j & 1)


@dataclass(frozen=True)
class ClosedpModel:
    """One model of the closed-population family.

    Parameters
    ----------
    base : {"M0", "Mt", "Mh", "Mth", "Mb", "Mbh"}
    h : {"chao", "poisson", "darroch", "gamma"} or None
        Heterogeneity form; required for Mh and Mth, not allowed otherwise.
    theta : float or None
        Parameter of the Poisson (``theta**k - 1``) and Gamma (``-log(1 + k/theta)``) forms;
        default 2 and 3.5 (Rcapture's).
    interactions : tuple of int
        Extra interaction terms (bit masks over the lists), e.g. from :func:`parse_interactions`.
    """

    base: str
    h: str | None = None
    theta: float | None = None
    interactions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ModelSpecificationError(
                N_(
                    "unknown model {model!r}; use one of {models}",
                    model=self.base,
                    models=", ".join(BASES),
                )
            )
        h = None if self.h is None else str(self.h).lower()
        if h == "lb":
            h = "chao"
        if self.base in ("Mh", "Mth"):
            if h not in HETEROGENEITY:
                raise ModelSpecificationError(
                    N_(
                        "model {model} needs a heterogeneity form h: one of {forms} (got {h!r})",
                        model=self.base,
                        forms=", ".join(HETEROGENEITY),
                        h=self.h,
                    )
                )
        elif h is not None:
            raise ModelSpecificationError(
                N_(
                    "model {model} takes no heterogeneity form (got h={h!r}); use Mh or Mth",
                    model=self.base,
                    h=self.h,
                )
            )
        theta = self.theta
        if h in DEFAULT_THETA:
            theta = DEFAULT_THETA[h] if theta is None else float(theta)
            if not (np.isfinite(theta) and theta > 0) or (h == "poisson" and theta == 1):
                raise ModelSpecificationError(
                    N_(
                        "theta must be a positive number (and not 1 for the Poisson form), "
                        "got {theta!r}",
                        theta=self.theta,
                    )
                )
        elif theta is not None:
            raise ModelSpecificationError(N_("theta is used only by the Poisson and Gamma forms"))
        if self.interactions and self.base in ("Mb", "Mbh"):
            raise ModelSpecificationError(N_("interactions can be added to M0, Mt, Mh or Mth only"))
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "interactions", tuple(self.interactions))

    # ------------------------------------------------------------------ labels
    @property
    def label(self) -> str:
        """Rcapture's row name: ``"M0"``, ``"Mh Chao (LB)"``, ``"Mth Gamma3.5"``, ..."""
        if self.h is None:
            return self.base
        name = HETEROGENEITY[self.h]
        if self.theta is not None:
            name += _theta_text(self.theta)
        return f"{self.base} {name}"

    def describe(self, lists: Sequence[str]) -> str:
        """The label plus the interaction terms, e.g. ``"Mth Darroch + A:B"``."""
        extra = " + ".join(_term_text(m, lists) for m in self.interactions)
        return f"{self.label} + {extra}" if extra else self.label

    @property
    def is_chao(self) -> bool:
        return self.h == "chao"

    @property
    def behavioural(self) -> bool:
        return self.base in ("Mb", "Mbh")

    # ------------------------------------------------------------------ design
    def n_core(self, k: int) -> int:
        """Columns (intercept included) that do not model heterogeneity: they come first."""
        return len(self.design(k)[1]) - len(self.h_columns(k))

    def h_columns(self, k: int) -> list[str]:
        """Names of the heterogeneity columns (Chao: one per ``j = 3..K``)."""
        if self.h is None:
            return []
        if self.h == "chao":
            return [f"eta{j}" for j in range(3, k + 1)]
        return ["tau"]

    def design(self, k: int, lists: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """Design matrix over the observable patterns (cells ``1 .. 2**K - 1``).

        Returns
        -------
        x : ndarray of shape (2**K - 1, p)
            First column the intercept.
        names : list of str
            Column names (lists named by ``lists`` when given, else by position).
        """
        if k < 2:
            raise ModelSpecificationError(
                N_("the closed-population models need at least two lists")
            )
        if self.h == "chao" and k < 3:
            raise ModelSpecificationError(
                N_("Chao's lower-bound columns need at least three lists")
            )
        lists = list(lists) if lists is not None else [f"c{j + 1}" for j in range(k)]
        cells = np.arange(1, 1 << k, dtype=np.int64)
        hist = ((cells[:, None] >> np.arange(k)) & 1).astype(float)
        ncap = hist.sum(axis=1)
        cols: list[np.ndarray] = [np.ones(len(cells))]
        names = ["intercept"]
        if self.base in ("M0", "Mh"):
            cols.append(ncap)
            names.append("captures")
        elif self.base in ("Mt", "Mth"):
            cols += list(hist.T)
            names += list(lists)
        else:  # Mb, Mbh: f = first list caught on (1-based)
            first = np.argmax(hist > 0, axis=1).astype(float)
            if self.base == "Mbh":
                cols.append(1.0 - hist[:, 0])
                names.append("missed_first")
            cols += [first, ncap - 1.0]
            names += ["before_first", "after_first"]
        for mask in self.interactions:
            if mask >> k:
                raise ModelSpecificationError(
                    N_(
                        "interaction term {mask} refers to a list beyond the table's {k}",
                        mask=mask,
                        k=k,
                    )
                )
            cols.append(((cells & mask) == mask).astype(float))
            names.append(_term_text(mask, lists))
        if self.h == "chao":
            cols += [np.maximum(ncap - j + 1.0, 0.0) for j in range(3, k + 1)]
        elif self.h == "poisson":
            assert self.theta is not None
            cols.append(self.theta**ncap - 1.0)
        elif self.h == "darroch":
            cols.append(ncap**2 / 2.0)
        elif self.h == "gamma":
            assert self.theta is not None
            cols.append(-np.log1p(ncap / self.theta))
        names += self.h_columns(k)
        return np.column_stack(cols), names


def closedp_catalogue(k: int) -> list[ClosedpModel]:
    """The models of Rcapture's ``closedp.t`` table, in its order (M0, Mt, Mb only for 2 lists)."""
    if k == 2:
        return [ClosedpModel("M0"), ClosedpModel("Mt"), ClosedpModel("Mb")]
    forms = [("chao", None), ("poisson", 2.0), ("darroch", None), ("gamma", 3.5)]
    return [
        ClosedpModel("M0"),
        ClosedpModel("Mt"),
        *[ClosedpModel("Mh", h, th) for h, th in forms],
        *[ClosedpModel("Mth", h, th) for h, th in forms],
        ClosedpModel("Mb"),
        ClosedpModel("Mbh"),
    ]
