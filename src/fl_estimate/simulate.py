"""Simulated closed populations with known size, for tests, benchmarks and teaching.

A population of known size (optionally split into strata of different sizes) is captured by K lists.
Capture probabilities may differ between latent classes (heterogeneity: some people are much easier
to find than others) and lists may depend on each other (being on one list raises or lowers the
odds of being on another). The result holds the capture data of the people observed and the truth.

Randomised families of designs, for validation on designs nobody chose: a *design class* fixes
only the qualitative features (is catchability heterogeneous, do lists depend on each other, how
many lists); :func:`draw_design` draws everything else at random:

- the number of lists K within the class's range (3, 4-5 or 6-7);
- the population size N, log-uniform on [200, 20,000];
- the share of the population seen by at least one list, uniform on [5%, 60%] (the overall level
  of the capture probabilities is solved for it);
- list effects: normal with sd 0.5 on the logit scale (lists differ in how much they catch);
- heterogeneity (heterogeneous classes only): one of two latent classes, three latent classes,
  logit-normal or beta catchability, with random spread (class offsets uniform on [0, s] with s
  uniform on [1, 3.5] logits and Dirichlet(1) class shares; logit-normal sd uniform on [0.5, 2];
  beta shapes uniform on [0.3, 3]); person effects are centred and added to every list's log-odds;
- dependence (dependent classes only): 1 to max(1, K // 2) random pairs of lists, each with an
  odds ratio drawn log-uniform on [2, 6], positive with probability 0.7 and inverted otherwise.

Every random choice comes from a stream derived from one seed by key (``"design"``,
``"calibration"``, ``"population"``), so a design and its population are reproducible on their own.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData

__all__ = [
    "DESIGN_CLASSES",
    "Design",
    "DesignClass",
    "Simulation",
    "draw_design",
    "simulate",
    "simulate_design",
]


@dataclass(frozen=True)
class Simulation:
    """A simulated population and what the lists saw of it.

    Attributes
    ----------
    data : CaptureData or StratifiedCaptureData
        Capture data of the observed people (aggregated).
    records : DataFrame
        Record-level data of the observed people: one 0/1 column per list, the stratum columns,
        ``person`` (an id) and ``latent_class``.
    population : DataFrame
        Every member of the population, observed or not (same columns plus ``observed``).
    truth : int or Series
        True population size; a Series indexed by stratum when stratified.
    settings : dict
        The arguments that produced it.
    """

    data: CaptureData | StratifiedCaptureData
    records: pd.DataFrame
    population: pd.DataFrame
    truth: int | pd.Series
    settings: Mapping[str, Any]

    @property
    def total(self) -> int:
        """True population size over all strata."""
        return int(self.truth.sum()) if isinstance(self.truth, pd.Series) else int(self.truth)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def simulate(
    population_size: int | Mapping[Hashable, int],
    lists: int | Sequence[str] = 4,
    *,
    capture_probs: float | Sequence[float] | Sequence[Sequence[float]] = 0.2,
    class_weights: Sequence[float] | None = None,
    dependence: Mapping[tuple[str, str], float] | None = None,
    strata_names: Sequence[str] | None = None,
    individual_logit: Sequence[float] | np.ndarray | None = None,
    seed: SeedLike = None,
) -> Simulation:
    """Simulate a closed population captured by K lists.

    Parameters
    ----------
    population_size : int or mapping
        True size N, or a mapping from stratum key (a value or tuple of values) to the stratum's
        size for a stratified population.
    lists : int or sequence of str
        Number of lists (named ``L1..LK``) or their names.
    capture_probs : float, sequence, or 2-D sequence
        Capture probability: one for every list, one per list, or one row per latent class
        (shape ``(n_classes, K)``) for heterogeneous catchability.
    class_weights : sequence of float, optional
        Share of the population in each latent class (default equal shares).
    dependence : mapping (list_a, list_b) -> odds ratio, optional
        Being on ``list_a`` multiplies the odds of capture by ``list_b`` by this factor (> 1:
        positive dependence, < 1: negative). ``list_a`` must come before ``list_b``.
    strata_names : sequence of str, optional
        Names of the stratum columns (default ``stratum`` or ``stratum_1..``).
    individual_logit : array of float, optional
        One number per member of the population (in stratum order), added to every list's
        log-odds of capturing that person: continuous heterogeneity of catchability (for example
        normal draws for logit-normal catchability). Combines with latent classes.
    seed : int, Generator or None
        Random seed; the same seed gives the same population.

    Returns
    -------
    Simulation

    Examples
    --------
    >>> sim = simulate(2000, ["police", "ngo", "iom"], capture_probs=0.25, seed=1)
    >>> sim.truth
    2000
    >>> sim.data.n_lists
    3
    """
    rng = as_generator(seed)
    names = [f"L{j + 1}" for j in range(lists)] if isinstance(lists, int) else list(lists)
    k = len(names)
    if k < 2:
        raise ModelSpecificationError("simulate needs at least 2 lists")
    if len(set(names)) != k:
        raise ModelSpecificationError("list names must be distinct")
    probs = np.asarray(capture_probs, dtype=float)
    if probs.ndim == 0:
        probs = np.full((1, k), float(probs))
    elif probs.ndim == 1:
        if probs.shape[0] != k:
            raise ModelSpecificationError(f"{probs.shape[0]} capture probabilities for {k} lists")
        probs = probs[None, :]
    elif probs.shape[1] != k:
        raise ModelSpecificationError(f"capture_probs has {probs.shape[1]} columns for {k} lists")
    if np.any((probs <= 0) | (probs >= 1)):
        raise ModelSpecificationError("capture probabilities must lie strictly between 0 and 1")
    n_classes = probs.shape[0]
    if class_weights is None:
        weights = np.full(n_classes, 1.0 / n_classes)
    else:
        weights = np.asarray(class_weights, dtype=float)
        if weights.shape != (n_classes,) or np.any(weights < 0) or weights.sum() <= 0:
            raise ModelSpecificationError(
                f"class_weights must be {n_classes} non-negative numbers (one per class)"
            )
        weights = weights / weights.sum()
    log_or = np.zeros((k, k))
    for (a, b), ratio in (dependence or {}).items():
        if a not in names or b not in names:
            raise ModelSpecificationError(f"dependence names unknown list in ({a!r}, {b!r})")
        ia, ib = names.index(a), names.index(b)
        if ia >= ib:
            raise ModelSpecificationError(
                f"dependence ({a!r}, {b!r}): the first list must come before the second"
            )
        if ratio <= 0:
            raise ModelSpecificationError("odds ratios must be positive")
        log_or[ia, ib] = np.log(ratio)

    if isinstance(population_size, Mapping):
        keys = [k_ if isinstance(k_, tuple) else (k_,) for k_ in population_size]
        sizes = [int(v) for v in population_size.values()]
        width = {len(k_) for k_ in keys}
        if len(width) != 1:
            raise ModelSpecificationError("stratum keys must all have the same length")
        (w,) = width
        if strata_names is None:
            strata_names = ["stratum"] if w == 1 else [f"stratum_{i + 1}" for i in range(w)]
        if len(strata_names) != w:
            raise ModelSpecificationError("strata_names must match the stratum key length")
    else:
        keys, sizes = [()], [int(population_size)]
        strata_names = []
    if any(s < 0 for s in sizes):
        raise ModelSpecificationError("population sizes must be non-negative")

    total = sum(sizes)
    latent = rng.choice(n_classes, size=total, p=weights)
    lp = _logit(probs)[latent]  # (N, K) baseline log-odds
    if individual_logit is not None:
        offsets = np.asarray(individual_logit, dtype=float)
        if offsets.shape != (total,) or not np.all(np.isfinite(offsets)):
            raise ModelSpecificationError(
                f"individual_logit must hold {total} finite numbers (one per member of the "
                f"population), got shape {offsets.shape}"
            )
        lp = lp + offsets[:, None]
    caught = np.zeros((total, k), dtype=np.uint8)
    for j in range(k):
        eta = lp[:, j] + caught[:, :j].astype(float) @ log_or[:j, j]
        p = 1.0 / (1.0 + np.exp(-eta))
        caught[:, j] = rng.random(total) < p

    pop = pd.DataFrame(caught.astype(np.int64), columns=names)
    stratum_cols = list(strata_names)
    for i, s in enumerate(stratum_cols):
        pop[s] = np.repeat([key[i] for key in keys], sizes)
    pop["latent_class"] = latent
    pop["person"] = np.arange(total)
    pop["observed"] = caught.any(axis=1)
    records = pop[pop["observed"]].drop(columns="observed").reset_index(drop=True)

    data: CaptureData | StratifiedCaptureData
    if stratum_cols:
        data = CaptureData.from_records(
            records[[*names, *stratum_cols]], lists=names, strata=stratum_cols, source="simulation"
        )
        index = (
            pd.MultiIndex.from_tuples(keys, names=stratum_cols)
            if len(stratum_cols) > 1
            else (pd.Index([key[0] for key in keys], name=stratum_cols[0]))
        )
        truth: int | pd.Series = pd.Series(sizes, index=index, name="N")
    else:
        data = CaptureData.from_records(records[names], lists=names, source="simulation")
        truth = total
    settings = {
        "population_size": dict(population_size) if isinstance(population_size, Mapping) else total,
        "lists": names,
        "capture_probs": probs.tolist(),
        "class_weights": weights.tolist(),
        "dependence": {f"{a}:{b}": v for (a, b), v in (dependence or {}).items()},
        "seed": seed if isinstance(seed, int) or seed is None else str(seed),
    }
    return Simulation(data=data, records=records, population=pop, truth=truth, settings=settings)


# ---------------------------------------------------------------- randomised design families

N_RANGE = (200, 20_000)
OBSERVED_SHARE_RANGE = (0.05, 0.60)
LIST_EFFECT_SD = 0.5
HETEROGENEITY_FAMILIES = ("two-class", "three-class", "logit-normal", "beta")
ODDS_RATIO_RANGE = (2.0, 6.0)
P_POSITIVE_DEPENDENCE = 0.7
_CALIBRATION_SIZE = 20_000


@dataclass(frozen=True)
class DesignClass:
    """One of the 12 cells (homogeneous / heterogeneous) x (independent / dependent) x K range."""

    heterogeneous: bool
    dependent: bool
    lists: tuple[int, int]

    @property
    def name(self) -> str:
        lo, hi = self.lists
        k = f"K={lo}" if lo == hi else f"K={lo}-{hi}"
        het = "heterogeneous" if self.heterogeneous else "homogeneous"
        dep = "dependent" if self.dependent else "independent"
        return f"{het}/{dep}/{k}"


#: The 12 design classes of the validation study, homogeneous ones first.
DESIGN_CLASSES: tuple[DesignClass, ...] = tuple(
    DesignClass(het, dep, k)
    for het in (False, True)
    for dep in (False, True)
    for k in ((3, 3), (4, 5), (6, 7))
)


@dataclass(frozen=True)
class Design:
    """A drawn design: everything needed to simulate its population.

    ``person_effects`` describes the heterogeneity (``family`` and its parameters);
    ``dependence`` maps ``(list_a, list_b)`` to an odds ratio as :func:`simulate` takes it.
    """

    design_class: DesignClass
    k: int
    population_size: int
    observed_share: float
    list_effects: tuple[float, ...]
    person_effects: dict[str, Any] = field(default_factory=dict)
    dependence: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def lists(self) -> list[str]:
        return [f"L{j + 1}" for j in range(self.k)]

    def describe(self) -> str:
        het = self.person_effects.get("family", "none")
        dep = ", ".join(f"{a}:{b} OR {v:.2g}" for (a, b), v in self.dependence.items()) or "none"
        return (
            f"K={self.k}, N={self.population_size}, {self.observed_share:.0%} observed, "
            f"heterogeneity {het}, dependence {dep}"
        )


def _stream(seed: int | np.random.SeedSequence | None, key: str) -> np.random.Generator:
    """A generator derived from ``seed`` by a string key (never by position)."""
    if isinstance(seed, np.random.SeedSequence):
        base = seed
    else:
        base = np.random.SeedSequence(seed)
    child = np.random.SeedSequence(
        base.entropy, spawn_key=(*base.spawn_key, zlib.crc32(key.encode()))
    )
    return np.random.default_rng(child)


def draw_design(design_class: DesignClass, seed: int | np.random.SeedSequence | None) -> Design:
    """Draw one design of ``design_class`` (see the module docstring for the distributions).

    Examples
    --------
    >>> from fl_estimate.simulate import DESIGN_CLASSES, draw_design, simulate_design
    >>> cls = DESIGN_CLASSES[0]
    >>> cls.name
    'homogeneous/independent/K=3'
    >>> d = draw_design(cls, seed=1)
    >>> d.k, 200 <= d.population_size <= 20000
    (3, True)
    >>> sim = simulate_design(d, seed=1)
    >>> sim.truth == d.population_size
    True
    """
    rng = _stream(seed, "design")
    lo, hi = design_class.lists
    k = int(rng.integers(lo, hi + 1))
    n = round(np.exp(rng.uniform(np.log(N_RANGE[0]), np.log(N_RANGE[1]))))
    share = float(rng.uniform(*OBSERVED_SHARE_RANGE))
    effects = tuple(float(v) for v in rng.normal(0.0, LIST_EFFECT_SD, k))
    person: dict[str, Any] = {}
    if design_class.heterogeneous:
        family = str(rng.choice(HETEROGENEITY_FAMILIES))
        person["family"] = family
        if family in ("two-class", "three-class"):
            c = 2 if family == "two-class" else 3
            spread = float(rng.uniform(1.0, 3.5))
            person["shares"] = [float(v) for v in rng.dirichlet(np.ones(c))]
            person["offsets"] = [float(v) for v in np.sort(rng.uniform(0.0, spread, c))]
        elif family == "logit-normal":
            person["sd"] = float(rng.uniform(0.5, 2.0))
        else:
            person["shapes"] = [float(v) for v in rng.uniform(0.3, 3.0, 2)]
    dependence: dict[tuple[str, str], float] = {}
    if design_class.dependent:
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        m = int(rng.integers(1, max(1, k // 2) + 1))
        for idx in rng.choice(len(pairs), size=m, replace=False):
            i, j = pairs[int(idx)]
            ratio = float(np.exp(rng.uniform(*np.log(ODDS_RATIO_RANGE))))
            if rng.random() >= P_POSITIVE_DEPENDENCE:
                ratio = 1.0 / ratio
            dependence[(f"L{i + 1}", f"L{j + 1}")] = ratio
    return Design(design_class, k, n, share, effects, person, dependence)


def _person_effects(design: Design, size: int, rng: np.random.Generator) -> np.ndarray:
    pe = design.person_effects
    family = pe.get("family")
    if family is None:
        return np.zeros(size)
    if family in ("two-class", "three-class"):
        cls = rng.choice(len(pe["shares"]), size=size, p=pe["shares"])
        e = np.asarray(pe["offsets"])[cls]
    elif family == "logit-normal":
        e = rng.normal(0.0, pe["sd"], size)
    else:
        u = np.clip(rng.beta(*pe["shapes"], size), 1e-6, 1 - 1e-6)
        e = np.log(u) - np.log1p(-u)
    return e - e.mean()


def _captures(
    list_logit: np.ndarray, log_or: np.ndarray, effects: np.ndarray, uniforms: np.ndarray
) -> np.ndarray:
    """0/1 captures (people x lists) with :func:`simulate`'s sequential dependence rule."""
    k = len(list_logit)
    caught = np.zeros(uniforms.shape, dtype=bool)
    for j in range(k):
        eta = list_logit[j] + effects + caught[:, :j].astype(float) @ log_or[:j, j]
        caught[:, j] = uniforms[:, j] < 1.0 / (1.0 + np.exp(-eta))
    return caught


def _log_odds_ratios(design: Design) -> np.ndarray:
    log_or = np.zeros((design.k, design.k))
    for (a, b), ratio in design.dependence.items():
        log_or[design.lists.index(a), design.lists.index(b)] = np.log(ratio)
    return log_or


def _level(design: Design, seed: int | np.random.SeedSequence | None) -> float:
    """Overall logit level that makes the expected observed share the design's (bisection on a
    fixed calibration sample with common random numbers, so the level is a function of the design
    and seed only)."""
    rng = _stream(seed, "calibration")
    effects = _person_effects(design, _CALIBRATION_SIZE, rng)
    uniforms = rng.random((_CALIBRATION_SIZE, design.k))
    base = np.asarray(design.list_effects)
    log_or = _log_odds_ratios(design)
    lo, hi = -14.0, 8.0
    for _ in range(32):
        mid = 0.5 * (lo + hi)
        share = _captures(base + mid, log_or, effects, uniforms).any(axis=1).mean()
        if share < design.observed_share:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def simulate_design(design: Design, seed: int | np.random.SeedSequence | None) -> Simulation:
    """Simulate the population of ``design`` (truth ``design.population_size``)."""
    level = _level(design, seed)
    rng = _stream(seed, "population")
    effects = _person_effects(design, design.population_size, rng)
    probs = np.clip(
        1.0 / (1.0 + np.exp(-(level + np.asarray(design.list_effects)))), 1e-9, 1 - 1e-9
    )
    return simulate(
        design.population_size,
        design.lists,
        capture_probs=probs,
        dependence=design.dependence,
        individual_logit=effects,
        seed=rng,
    )
