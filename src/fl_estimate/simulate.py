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
    "CovariateDesign",
    "CovariateSimulation",
    "Design",
    "DesignClass",
    "Simulation",
    "draw_covariate_design",
    "draw_design",
    "simulate",
    "simulate_covariate_design",
    "simulate_covariates",
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
        normal draws for logit-normal catchability). Combines with latent classes. An array of
        shape ``(N, K)`` gives one number per member and list (list-specific catchability, as
        :func:`simulate_covariates` uses for covariate x list effects).
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
        if offsets.shape not in ((total,), (total, k)) or not np.all(np.isfinite(offsets)):
            raise ModelSpecificationError(
                f"individual_logit must hold {total} finite numbers (one per member of the "
                f"population) or {total} rows of {k} (one per member and list), got shape "
                f"{offsets.shape}"
            )
        lp = lp + (offsets[:, None] if offsets.ndim == 1 else offsets)
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
        a, b = (float(x) for x in pe["shapes"])
        u = np.clip(rng.beta(a, b, size), 1e-6, 1 - 1e-6)
        e = np.log(u) - np.log1p(-u)
    return e - e.mean()


def _captures(
    list_logit: np.ndarray, log_or: np.ndarray, effects: np.ndarray, uniforms: np.ndarray
) -> np.ndarray:
    """0/1 captures (people x lists) with :func:`simulate`'s sequential dependence rule.

    ``effects`` is one log-odds shift per person (shape ``(N,)``, the same on every list) or one
    per person and list (shape ``(N, K)``).
    """
    k = len(list_logit)
    caught = np.zeros(uniforms.shape, dtype=bool)
    for j in range(k):
        person = effects if effects.ndim == 1 else effects[:, j]  # (N,) or list-specific (N, K)
        eta = list_logit[j] + person + caught[:, :j].astype(float) @ log_or[:j, j]
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
    return _solve_level(
        design.observed_share,
        np.asarray(design.list_effects),
        _log_odds_ratios(design),
        effects,
        uniforms,
    )


def _solve_level(
    target: float,
    base: np.ndarray,
    log_or: np.ndarray,
    effects: np.ndarray,
    uniforms: np.ndarray,
) -> float:
    """Bisection for the logit level added to ``base`` at which the calibration sample's observed
    share is ``target``."""
    lo, hi = -14.0, 8.0
    for _ in range(32):
        mid = 0.5 * (lo + hi)
        share = _captures(base + mid, log_or, effects, uniforms).any(axis=1).mean()
        if share < target:
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
        capture_probs=probs.tolist(),
        dependence=design.dependence,
        individual_logit=effects,
        seed=rng,
    )


# ---------------------------------------------------------------- covariate-driven catchability


@dataclass(frozen=True)
class CovariateSimulation(Simulation):
    """A simulated population whose catchability depends on recorded person covariates.

    Attributes (besides those of :class:`Simulation`)
    --------------------------------------------------
    covariates : tuple of str
        Names of the covariate columns. In ``records`` they are categorical with missing values
        (NaN) where the lists did not record the value; in ``population`` they hold every
        person's true value.
    truth_by_level : dict of str to Series
        True number of people at each level of each covariate (index: the levels in the order
        given, name ``"N"``).
    """

    covariates: tuple[str, ...] = ()
    truth_by_level: Mapping[str, pd.Series] = field(default_factory=dict)


def _seed_sequence(seed: SeedLike) -> np.random.SeedSequence | int | None:
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return seed


def _shares(name: str, levels: Mapping[Hashable, float]) -> tuple[list[Hashable], np.ndarray]:
    keys = list(levels)
    p = np.asarray([float(levels[v]) for v in keys])
    if len(keys) < 2 or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ModelSpecificationError(
            f"covariate {name!r} needs at least 2 levels with non-negative shares, got {levels}"
        )
    return keys, p / p.sum()


def _covariate_offsets(
    name: str,
    keys: list[Hashable],
    spec: Mapping[Hashable, float | Sequence[float]],
    lists: list[str],
) -> np.ndarray:
    """(levels, K) log-odds shift of every level on every list."""
    k = len(lists)
    out = np.zeros((len(keys), k))
    for level, value in spec.items():
        if level not in keys:
            raise ModelSpecificationError(
                f"effects of covariate {name!r} name level {level!r}, which is not one of "
                f"its levels {keys}"
            )
        v = np.asarray(value, dtype=float)
        if v.shape not in ((), (k,)) or not np.isfinite(v).all():
            raise ModelSpecificationError(
                f"the effect of {name}={level!r} must be one finite number (every list) or "
                f"{k} (one per list {lists}), got {value!r}"
            )
        out[keys.index(level)] = v
    return out


def simulate_covariates(
    population_size: int,
    lists: int | Sequence[str] = 4,
    *,
    covariates: Mapping[str, Mapping[Hashable, float]],
    capture_probs: float | Sequence[float] = 0.2,
    effects: Mapping[str, Mapping[Hashable, float | Sequence[float]]] | None = None,
    dependence: Mapping[tuple[str, str], float] | None = None,
    missing: float | Mapping[str, float] = 0.0,
    missing_by_list: Mapping[str, float] | None = None,
    seed: SeedLike = None,
) -> CovariateSimulation:
    """Simulate a population whose catchability depends on categorical person covariates.

    Every person draws a level of each covariate (independently, with the given shares); a
    person's log-odds of capture by list ``j`` is ``logit(capture_probs[j])`` plus the effect of
    each of their levels on list ``j`` (list-specific effects: covariate x list interactions).
    Lists are independent given the covariates unless ``dependence`` says otherwise.

    Parameters
    ----------
    population_size : int
        True size N.
    lists : int or sequence of str
        Number of lists (``L1..LK``) or their names.
    covariates : mapping name -> (mapping level -> share)
        The covariates and the population share of each level (normalised to sum to 1), e.g.
        ``{"sex": {"female": 0.6, "male": 0.4}}``.
    capture_probs : float or sequence of float
        Capture probability of each list for a person whose levels all have effect 0 (by default
        every level's effect is 0).
    effects : mapping name -> (mapping level -> float or sequence of K floats), optional
        Log-odds shift of a level: one number (the same on every list) or one per list. Levels
        not named have effect 0.
    dependence : mapping (list_a, list_b) -> odds ratio, optional
        As in :func:`simulate`.
    missing : float or mapping name -> float
        Share of people whose value of a covariate is not recorded, missing completely at random
        (one share for every covariate, or one per covariate).
    missing_by_list : mapping list -> float, optional
        Probability that a list does not record a covariate of a person it catches (each
        covariate and person separately); a value is missing when every list that caught the
        person failed to record it (linked records pool what each list recorded). Missingness
        then depends on the capture pattern: people seen by one list lack values more often.
    seed : int, Generator or None

    Returns
    -------
    CovariateSimulation
        ``records`` holds the list columns, the covariate columns (categorical; NaN where
        missing), ``person`` and ``latent_class``; ``truth`` the total and ``truth_by_level``
        the true size at each level.

    Examples
    --------
    >>> sim = simulate_covariates(
    ...     3000, 3, covariates={"sex": {"F": 0.5, "M": 0.5}},
    ...     capture_probs=0.3, effects={"sex": {"M": [-1.5, -1.0, -2.0]}}, seed=1)
    >>> sim.truth, list(sim.truth_by_level["sex"].index)
    (3000, ['F', 'M'])
    >>> sorted(sim.records.columns)
    ['L1', 'L2', 'L3', 'latent_class', 'person', 'sex']
    """
    names = [f"L{j + 1}" for j in range(lists)] if isinstance(lists, int) else list(lists)
    n = int(population_size)
    if n < 0:
        raise ModelSpecificationError("the population size must be non-negative")
    if not covariates:
        raise ModelSpecificationError("simulate_covariates needs at least one covariate")
    clash = sorted(set(covariates) & {*names, "person", "latent_class", "observed"})
    if clash:
        raise ModelSpecificationError(f"covariate names {clash} clash with other columns")
    base = _seed_sequence(seed)
    rng_levels = _stream(base, "covariate-levels")
    offsets = np.zeros((n, len(names)))
    values: dict[str, pd.Categorical] = {}
    truth_by: dict[str, pd.Series] = {}
    effects = effects or {}
    unknown = sorted(set(effects) - set(covariates))
    if unknown:
        raise ModelSpecificationError(f"effects name unknown covariates {unknown}")
    for name, levels in covariates.items():
        keys, p = _shares(name, levels)
        idx = rng_levels.choice(len(keys), size=n, p=p)
        offsets += _covariate_offsets(name, keys, effects.get(name, {}), names)[idx]
        values[name] = pd.Categorical.from_codes(idx, categories=pd.Index(keys))
        truth_by[name] = pd.Series(
            np.bincount(idx, minlength=len(keys)), index=pd.Index(keys, name=name), name="N"
        )
    sim = simulate(
        n,
        names,
        capture_probs=capture_probs,
        dependence=dependence,
        individual_logit=offsets,
        seed=_stream(base, "captures"),
    )
    pop = sim.population.copy()
    for name, cat in values.items():
        pop[name] = cat
    miss = missing if isinstance(missing, Mapping) else dict.fromkeys(covariates, float(missing))
    rates = dict(missing_by_list or {})
    bad = sorted(set(miss) - set(covariates)) + sorted(set(rates) - set(names))
    if bad:
        raise ModelSpecificationError(f"missing / missing_by_list name unknown columns {bad}")
    if any(not 0 <= float(v) <= 1 for v in [*miss.values(), *rates.values()]):
        raise ModelSpecificationError("missing shares and list failure rates must lie in [0, 1]")
    observed = pop["observed"].to_numpy()
    records = pop[observed].drop(columns="observed").reset_index(drop=True)
    caught = records[names].to_numpy().astype(bool)
    fail = np.array([float(rates.get(name, 0.0)) for name in names])
    rng_missing = _stream(base, "missing")
    for name in covariates:
        u_mcar = rng_missing.random(len(records))
        u_list = rng_missing.random(caught.shape)
        unrecorded = np.where(caught, u_list < fail[None, :], True).all(axis=1)
        lost = (u_mcar < float(miss.get(name, 0.0))) | unrecorded
        col = records[name].copy()
        col[lost] = np.nan
        records[name] = col
    settings = {
        **sim.settings,
        "covariates": {
            c: {str(k): float(v) for k, v in lv.items()} for c, lv in covariates.items()
        },
        "effects": {
            c: {str(k): np.asarray(v, dtype=float).tolist() for k, v in e.items()}
            for c, e in effects.items()
        },
        "missing": {c: float(v) for c, v in miss.items()},
        "missing_by_list": {c: float(v) for c, v in rates.items()},
        "seed": seed if isinstance(seed, int) or seed is None else str(seed),
    }
    return CovariateSimulation(
        data=sim.data,
        records=records,
        population=pop,
        truth=n,
        settings=settings,
        covariates=tuple(covariates),
        truth_by_level=truth_by,
    )


#: Ranges of the randomised covariate designs (:func:`draw_covariate_design`).
COVARIATE_N_RANGE = (1_000, 20_000)
COVARIATE_OBSERVED_SHARE_RANGE = (0.10, 0.50)
COVARIATE_LEVELS = (2, 4)
#: Logits between the least and the most catchable level (common to every list).
COVARIATE_SPREAD_RANGE = (2.0, 4.0)
#: Dirichlet concentration of the level shares (3: levels of a few percent are rare).
COVARIATE_SHARE_CONCENTRATION = 3.0
#: Standard deviation of the list-specific part of a level's effect (covariate x list).
COVARIATE_LIST_SD = 0.5
#: With missing values: MCAR share, and the probability that a list fails to record the value.
COVARIATE_MCAR_RANGE = (0.05, 0.25)
COVARIATE_LIST_FAILURE_RANGE = (0.0, 0.3)


@dataclass(frozen=True)
class CovariateDesign:
    """A drawn covariate design: one categorical covariate ``group`` drives catchability.

    ``level_effects[l][j]`` is the log-odds shift of level ``l`` on list ``j``; the overall level
    is solved so that ``observed_share`` of the population is seen.
    """

    k: int
    population_size: int
    observed_share: float
    list_effects: tuple[float, ...]
    shares: tuple[float, ...]
    level_effects: tuple[tuple[float, ...], ...]
    missing: float = 0.0
    missing_by_list: dict[str, float] = field(default_factory=dict)

    @property
    def lists(self) -> list[str]:
        return [f"L{j + 1}" for j in range(self.k)]

    @property
    def levels(self) -> list[str]:
        return [f"g{i + 1}" for i in range(len(self.shares))]

    def describe(self) -> str:
        spread = np.ptp(np.asarray(self.level_effects).mean(axis=1))
        miss = (
            f", {self.missing:.0%} MCAR missing, list failures "
            + "/".join(f"{v:.2f}" for v in self.missing_by_list.values())
            if self.missing or self.missing_by_list
            else ""
        )
        return (
            f"K={self.k}, N={self.population_size}, {self.observed_share:.0%} observed, "
            f"{len(self.shares)} levels, spread {spread:.2f} logits{miss}"
        )


def draw_covariate_design(
    seed: int | np.random.SeedSequence | None,
    *,
    lists: tuple[int, int] = (3, 5),
    missing: bool = False,
) -> CovariateDesign:
    """Draw a design where catchability follows one recorded categorical covariate.

    K uniform on ``lists``; N log-uniform on :data:`COVARIATE_N_RANGE`; the observed share uniform
    on :data:`COVARIATE_OBSERVED_SHARE_RANGE`; list effects normal (sd 0.5); 2 to 4 levels with
    Dirichlet(3) shares; level effects: common offsets uniform on ``[0, s]`` (sorted, centred; s
    uniform on :data:`COVARIATE_SPREAD_RANGE`) plus a list-specific part, normal with sd
    :data:`COVARIATE_LIST_SD`. Lists are independent given the covariate. With ``missing``: an
    MCAR share uniform on :data:`COVARIATE_MCAR_RANGE` and list failure rates uniform on
    :data:`COVARIATE_LIST_FAILURE_RANGE`.

    Examples
    --------
    >>> d = draw_covariate_design(3)
    >>> sim = simulate_covariate_design(d, seed=3)
    >>> sim.truth == d.population_size, sim.covariates
    (True, ('group',))
    """
    rng = _stream(seed, "covariate-design")
    k = int(rng.integers(lists[0], lists[1] + 1))
    n = round(np.exp(rng.uniform(*np.log(COVARIATE_N_RANGE))))
    share = float(rng.uniform(*COVARIATE_OBSERVED_SHARE_RANGE))
    list_effects = rng.normal(0.0, LIST_EFFECT_SD, k)
    n_levels = int(rng.integers(COVARIATE_LEVELS[0], COVARIATE_LEVELS[1] + 1))
    shares = rng.dirichlet(np.full(n_levels, COVARIATE_SHARE_CONCENTRATION))
    spread = rng.uniform(*COVARIATE_SPREAD_RANGE)
    common = np.sort(rng.uniform(0.0, spread, n_levels))
    common = common - common.mean()
    specific = rng.normal(0.0, COVARIATE_LIST_SD, (n_levels, k))
    level_effects = common[:, None] + specific
    mcar, failures = 0.0, {}
    if missing:
        mcar = float(rng.uniform(*COVARIATE_MCAR_RANGE))
        failures = {f"L{j + 1}": float(v) for j, v in enumerate(rng.uniform(0.0, 0.3, k))}
    return CovariateDesign(
        k=k,
        population_size=int(n),
        observed_share=share,
        list_effects=tuple(float(v) for v in list_effects),
        shares=tuple(float(v) for v in shares),
        level_effects=tuple(tuple(float(v) for v in row) for row in level_effects),
        missing=mcar,
        missing_by_list=failures,
    )


def simulate_covariate_design(
    design: CovariateDesign, seed: int | np.random.SeedSequence | None
) -> CovariateSimulation:
    """Simulate the population of a :class:`CovariateDesign` (truth ``design.population_size``)."""
    rng = _stream(seed, "calibration")
    effects = np.asarray(design.level_effects)
    cal = effects[rng.choice(len(design.shares), size=_CALIBRATION_SIZE, p=design.shares)]
    uniforms = rng.random((_CALIBRATION_SIZE, design.k))
    base = np.asarray(design.list_effects)
    level = _solve_level(design.observed_share, base, np.zeros((design.k, design.k)), cal, uniforms)
    probs = np.clip(1.0 / (1.0 + np.exp(-(level + base))), 1e-9, 1 - 1e-9)
    levels = design.levels
    return simulate_covariates(
        design.population_size,
        design.lists,
        covariates={"group": dict(zip(levels, design.shares, strict=True))},
        capture_probs=probs.tolist(),
        effects={"group": dict(zip(levels, effects.tolist(), strict=True))},
        missing=design.missing,
        missing_by_list=design.missing_by_list,
        seed=_stream(seed, "population"),
    )
