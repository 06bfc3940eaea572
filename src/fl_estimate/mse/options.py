"""How an interval is computed, as one frozen object: :class:`IntervalOptions`.

The log-linear estimators take these options as keywords (``fit(data, interval="bootstrap",
n_boot=1000, seed=1)``) or whole (``fit(data, options=IntervalOptions(...))``); either way one
validated object travels from the caller to the result builder and the bootstrap.

Examples
--------
>>> from fl_estimate.mse.options import IntervalOptions
>>> opts = IntervalOptions(interval="bootstrap", n_boot=200, seed=1)
>>> opts.level, opts.boot_interval
(0.95, 'bca')
>>> opts.merged(level=0.9).level
0.9
>>> IntervalOptions(level=95)
Traceback (most recent call last):
...
fl_estimate.exceptions.ModelSpecificationError: option level=95 is not valid: expected a number strictly between 0 and 1 (e.g. 0.95)
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

import numpy as np

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_

__all__ = [
    "BOOTSTRAP_INTERVALS",
    "BOOTSTRAP_KINDS",
    "INTERVALS",
    "IntervalArgs",
    "IntervalOptions",
    "check_level",
    "invalid_option",
]

#: Interval kinds of the log-linear estimators.
INTERVALS = ("wald", "profile", "bootstrap")
#: How bootstrap tables are drawn.
BOOTSTRAP_KINDS = ("nonparametric", "parametric")
#: Limits read from the bootstrap replicates.
BOOTSTRAP_INTERVALS = ("bca", "percentile")


def invalid_option(name: str, value: Any, expected: str) -> ModelSpecificationError:
    """The error for an option with a value it cannot take (names option, value, expectation;
    ``expected`` is best a :class:`~fl_estimate.i18n.Message`, translated with the rest)."""
    return ModelSpecificationError(
        N_(
            "option {name}={value!r} is not valid: expected {expected}",
            name=name,
            value=value,
            expected=expected,
        )
    )


def check_level(level: Any) -> float:
    """``level`` as a float strictly between 0 and 1, or :class:`ModelSpecificationError`."""
    ok = isinstance(level, int | float | np.floating) and not isinstance(level, bool)
    if not ok or not 0.0 < float(level) < 1.0:
        raise invalid_option("level", level, N_("a number strictly between 0 and 1 (e.g. 0.95)"))
    return float(level)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise invalid_option(
            name, value, N_("one of {values}", values=", ".join(repr(a) for a in allowed))
        )


def _positive_int(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise invalid_option(
            name,
            value,
            N_("a whole number >= 1 or None (the default)")
            if optional
            else N_("a whole number >= 1"),
        )


def _check_seed(seed: Any) -> None:
    if seed is None or isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise invalid_option(
            "seed", seed, N_("a whole number >= 0, a numpy Generator or SeedSequence, or None")
        )


class IntervalArgs(TypedDict, total=False):
    """The fields of :class:`IntervalOptions` as keyword arguments (for ``**kwargs`` typing)."""

    interval: str
    level: float
    n_boot: int
    bootstrap: str
    boot_interval: str
    seed: SeedLike
    n_jobs: int | None
    executor: Executor | None


@dataclass(frozen=True)
class IntervalOptions:
    """How the interval of a log-linear estimate is computed.

    Parameters
    ----------
    interval : {"wald", "profile", "bootstrap"}
        Wald on the log of the unobserved count (conditional on the model); Rcapture's
        multinomial profile likelihood; or the bootstrap of the whole procedure (model selection
        repeated on every replicate).
    level : float
        Coverage, strictly between 0 and 1.
    n_boot : int
        Bootstrap replicates.
    bootstrap : {"nonparametric", "parametric"}
        Multinomial resampling of the observed cells, or draws from the fitted model.
    boot_interval : {"bca", "percentile"}
        BCa limits (with the delete-one jackknife acceleration) or percentile limits.
    seed : int, numpy Generator or SeedSequence, or None
        Replicate ``i`` uses the ``i``-th child of ``SeedSequence(seed)``: the result does not
        depend on the number of workers.
    n_jobs : int, optional
        Worker processes for the bootstrap (default: the CPUs available, at most 8; 1 runs in
        this process).
    executor : concurrent.futures.Executor, optional
        Run the bootstrap's chunks on this executor instead (e.g. a Dask client's).

    Raises
    ------
    ModelSpecificationError
        Naming the option, its value and what is expected.
    """

    interval: str = "wald"
    level: float = 0.95
    n_boot: int = 1000
    bootstrap: str = "nonparametric"
    boot_interval: str = "bca"
    seed: SeedLike = None
    n_jobs: int | None = None
    executor: Executor | None = None

    def __post_init__(self) -> None:
        _choice("interval", self.interval, INTERVALS)
        object.__setattr__(self, "level", check_level(self.level))
        _positive_int("n_boot", self.n_boot)
        _choice("bootstrap", self.bootstrap, BOOTSTRAP_KINDS)
        _choice("boot_interval", self.boot_interval, BOOTSTRAP_INTERVALS)
        _check_seed(self.seed)
        _positive_int("n_jobs", self.n_jobs, optional=True)
        if self.executor is not None and not callable(getattr(self.executor, "map", None)):
            raise invalid_option(
                "executor",
                self.executor,
                N_("a concurrent.futures.Executor (with .map) or None"),
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in signature order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Option name -> default."""
        return {f.name: f.default for f in fields(cls)}

    @classmethod
    def build(cls, options: IntervalOptions | None = None, /, **kwargs: Any) -> IntervalOptions:
        """``options`` (default: all defaults) with the keywords that are not None replacing
        its fields: the one place where ``fit(data, options=..., **interval)`` becomes one
        object.

        Raises
        ------
        ModelSpecificationError
            For a keyword that is not an interval option, naming the valid ones.
        """
        if options is not None and not isinstance(options, IntervalOptions):
            raise invalid_option("options", options, N_("an IntervalOptions or None"))
        base = options if options is not None else cls()
        return base.merged(**kwargs)

    def merged(self, **kwargs: Any) -> IntervalOptions:
        """A copy with the given fields replaced (None: keep the current value)."""
        unknown = sorted(set(kwargs) - set(self.names()))
        if unknown:
            raise ModelSpecificationError(
                N_(
                    "unknown interval option {name!r}; the interval options are {options}",
                    name=unknown[0],
                    options=", ".join(self.names()),
                )
            )
        given = {k: v for k, v in kwargs.items() if v is not None}
        return replace(self, **given) if given else self

    @property
    def is_bootstrap(self) -> bool:
        return self.interval == "bootstrap"

    def provenance(self) -> Mapping[str, Any]:
        """The settings a result records (bootstrap settings only for the bootstrap)."""
        return {
            "interval": self.interval,
            "level": self.level,
            "n_boot": self.n_boot if self.is_bootstrap else None,
            "bootstrap": self.bootstrap if self.is_bootstrap else None,
        }
