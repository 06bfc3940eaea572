"""Simulated closed populations with known size, for tests, benchmarks and teaching.

A population of known size (optionally split into strata of different sizes) is captured by K lists.
Capture probabilities may differ between latent classes (heterogeneity: some people are much easier
to find than others) and lists may depend on each other (being on one list raises or lowers the
odds of being on another). The result holds the capture data of the people observed and the truth.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse.data import CaptureData, StratifiedCaptureData

__all__ = ["Simulation", "simulate"]


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
