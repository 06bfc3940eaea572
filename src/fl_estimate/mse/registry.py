"""The one registry of population-size methods: method name -> estimator class, its options (with
the defaults of the class's own signatures) and its aliases.

Everything that fits a method by name goes through here: :func:`fl_estimate.mse.estimate`, the
command line (``fl-estimate mse --method``), the annual run and its sensitivity checks. An option
is either a constructor argument of the method's class or an argument of its ``fit``; the
log-linear classes take the interval options of
:class:`~fl_estimate.mse.options.IntervalOptions` (gathered here into one object). An option the
method does not take is an error naming the valid ones, never dropped; an option given as
``None`` means "the default".

Public functions
----------------
:func:`available_methods`
    Every name :func:`resolve` accepts (canonical names and aliases).
:func:`get`
    The :class:`MethodSpec` of a name or alias.
:func:`resolve`
    ``resolve(method, **options) -> Resolved(spec, ctor_kwargs, fit_kwargs)``: checks every option
    (unknown, inapplicable, interval kind, level) before any data are read, and splits them
    between the constructor and ``fit``. ``Resolved.run(data)`` fits one table;
    ``Resolved.settings()`` gives every option in effect (defaults included), for a manifest.
:func:`fit`
    ``fit(data, method, **options)``: ``resolve(method, **options).run(data)``.
:func:`methods_table`
    The registry as a DataFrame (method, aliases, class, interval kinds, options).

How another module calls it
---------------------------
Resolve once per method (so a configuration error stops the run before any table is fitted),
then run the resolved call on every stratum::

    from fl_estimate.mse import registry
    from fl_estimate.mse.api import fit_resolved   # adds the heterogeneity check of estimate()

    call = registry.resolve("stepwise", interval="bootstrap", n_boot=1000, seed=seed)
    results = {key: fit_resolved(table, call) for key, table in data.items()}
    manifest["settings"] = call.settings()

Options that travel together can be given whole: ``registry.resolve("bic",
options=IntervalOptions(interval="bootstrap", n_boot=1000), top_models=20)``.

Examples
--------
>>> from fl_estimate.mse import read_capture_csv, registry
>>> call = registry.resolve("independence", interval="profile")
>>> call.spec.name, call.ctor_kwargs, call.fit_kwargs["options"].interval
('loglinear', {}, 'profile')
>>> res = call.run(read_capture_csv("data_samples/uk_2013.csv"))
>>> res.method, res.interval_kind
('independence', 'profile')
>>> registry.resolve("bic", intreval="bootstrap")
Traceback (most recent call last):
...
fl_estimate.exceptions.ModelSpecificationError: method 'bic' takes no option 'intreval' (--intreval); did you mean 'interval'? Its options: max_order, top_models, criterion (constructor); top, options, interval, level, n_boot, bootstrap, boot_interval, seed, n_jobs, executor (fit)
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.options import IntervalOptions, check_level, invalid_option

if TYPE_CHECKING:
    import pandas as pd

    from fl_estimate.mse.data import CaptureData
    from fl_estimate.results import EstimationResult

__all__ = [
    "METHOD_SPECS",
    "MethodSpec",
    "Resolved",
    "available_methods",
    "fit",
    "get",
    "methods_table",
    "resolve",
]

#: The interval option, checked by the registry for every method.
INTERVAL = "interval"
#: A fit parameter of this name takes an IntervalOptions: its fields are fit options too.
OPTIONS = "options"
LOGLINEAR_INTERVALS = ("wald", "profile", "bootstrap")


def _import(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _parameters(func: Any, skip: int) -> dict[str, Any]:
    """Named parameters of ``func`` (a class: its constructor's) after the first ``skip`` -> default
    (``inspect.Parameter.empty`` when required); ``*args``/``**kwargs`` left out."""
    params = list(inspect.signature(func).parameters.values())[skip:]
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {p.name: p.default for p in params if p.kind not in kinds}


@dataclass(frozen=True)
class MethodSpec:
    """One method of the registry.

    Attributes
    ----------
    name : str
        Canonical name (``--method``).
    target : str
        The estimator class as ``"module:Class"``, imported on first use.
    summary : str
        One line for listings.
    intervals : tuple of str
        Interval kinds the method gives (the first is its default); ``interval`` must be one of
        these.
    interval_text : str
        The same in words, for the error message.
    aliases : tuple of str
        Other names of the method.
    fixed : mapping
        Constructor options the method's name fixes (``aic``: ``criterion="aic"``).
    records : bool
        Whether the method fits record-level data (a DataFrame, one row per person: 0/1 list
        columns and covariate columns) rather than a capture table.
    """

    name: str
    target: str
    summary: str
    intervals: tuple[str, ...]
    interval_text: str
    aliases: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    records: bool = False

    def load(self) -> Any:
        """The estimator class."""
        return _load(self.target)

    def constructor_options(self) -> dict[str, Any]:
        """Constructor option -> default (options fixed by the method's name left out)."""
        opts = _parameters(self.load(), 0)
        return {k: v for k, v in opts.items() if k not in self.fixed}

    def fit_options(self) -> dict[str, Any]:
        """Fit option -> default; with an ``options`` parameter, the fields of
        :class:`IntervalOptions` too."""
        opts = _parameters(self.load().fit, 2)
        if OPTIONS in opts:
            opts.update(IntervalOptions.defaults())
        return opts

    @property
    def takes_interval_options(self) -> bool:
        return OPTIONS in _parameters(self.load().fit, 2)

    def options(self) -> dict[str, Any]:
        """Every option -> default (``interval`` included, with the method's default kind)."""
        return {
            **self.constructor_options(),
            **self.fit_options(),
            INTERVAL: self.intervals[0],
        }


@cache
def _load(target: str) -> Any:
    return _import(target)


_LOGLINEAR_TEXT = N_("Wald, profile-likelihood or bootstrap intervals")
_CLOSED_FORM_TEXT = N_("a closed-form (log-normal Wald) interval")
_CREDIBLE_TEXT = N_("an equal-tailed credible interval")
_CLOSEDP_INTERVALS = ("profile", "wald", "bootstrap")
_CLOSEDP_TEXT = N_("profile-likelihood, Wald (log-normal) or bootstrap intervals")
_COVARIATE_INTERVALS = ("wald", "wald-n", "bootstrap")
_COVARIATE_TEXT = N_("Wald (log-normal or normal on N) or bootstrap intervals")
_COV = "fl_estimate.mse.covariates"


def _bayes(name: str, module: str, cls: str, summary: str) -> MethodSpec:
    """A Bayesian method of :mod:`fl_estimate.mse.bayes`."""
    return MethodSpec(
        name, f"fl_estimate.mse.bayes.{module}:{cls}", summary, ("credible",), _CREDIBLE_TEXT
    )


_LL = "fl_estimate.mse.loglinear"

#: The methods, in the order listings show them.
METHOD_SPECS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "default",
        "fl_estimate.mse.default:DefaultMSE",
        "the documented default: stepwise, or a lower bound when the heterogeneity diagnosis fires",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
    ),
    MethodSpec(
        "loglinear",
        f"{_LL}.estimators:LogLinearMSE",
        "log-linear model with given interactions (default: independence)",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
        aliases=("independence",),
    ),
    MethodSpec(
        "stepwise",
        f"{_LL}.estimators:StepwiseMSE",
        "SparseMSE's forward stepwise selection of two-list terms",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
    ),
    MethodSpec(
        "exhaustive",
        f"{_LL}.estimators:ExhaustiveSearchMSE",
        "exhaustive search over hierarchical models, best AIC or BIC",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
    ),
    MethodSpec(
        "aic",
        f"{_LL}.estimators:ExhaustiveSearchMSE",
        "exhaustive search over hierarchical models, best AIC",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
        fixed={"criterion": "aic"},
    ),
    MethodSpec(
        "bic",
        f"{_LL}.topmodels:BicMSE",
        "exhaustive BIC search, with MultipleSystemsEstimation's top-models bootstrap",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
    ),
    MethodSpec(
        "auto",
        f"{_LL}.topmodels:AutoMSE",
        "MultipleSystemsEstimation's auto rule: BIC up to 5 lists, stepwise beyond",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
    ),
    MethodSpec(
        "search",
        f"{_LL}.greedy:GreedySearchMSE",
        "greedy AIC/BIC search with restarts (not exhaustive; for many lists)",
        LOGLINEAR_INTERVALS,
        _LOGLINEAR_TEXT,
        aliases=("greedy",),
    ),
    MethodSpec(
        "latent-class",
        "fl_estimate.mse.latent_class:LatentClassMSE",
        "finite-mixture (latent-class) maximum likelihood, profile interval",
        ("profile",),
        "a profile-likelihood interval",
    ),
    MethodSpec(
        "chao",
        "fl_estimate.mse.closed_form:ChaoLowerBound",
        "Chao's lower bound",
        ("wald",),
        _CLOSED_FORM_TEXT,
    ),
    MethodSpec(
        "lincoln-petersen",
        "fl_estimate.mse.closed_form:LincolnPetersen",
        "Lincoln–Petersen (two lists)",
        ("wald",),
        _CLOSED_FORM_TEXT,
    ),
    MethodSpec(
        "chapman",
        "fl_estimate.mse.closed_form:Chapman",
        "Chapman (two lists)",
        ("wald",),
        _CLOSED_FORM_TEXT,
    ),
    MethodSpec(
        "closedp",
        "fl_estimate.mse.heterogeneity.estimator:ClosedpMSE",
        "Rcapture's closed-population family (M0, Mt, Mh, Mth; best AIC), whole table attached",
        _CLOSEDP_INTERVALS,
        _CLOSEDP_TEXT,
    ),
    MethodSpec(
        "mh",
        "fl_estimate.mse.heterogeneity.estimator:MhMSE",
        "Rcapture's Mh heterogeneity model (h: chao, poisson, darroch, gamma)",
        _CLOSEDP_INTERVALS,
        _CLOSEDP_TEXT,
    ),
    MethodSpec(
        "mth",
        "fl_estimate.mse.heterogeneity.estimator:MthMSE",
        "Rcapture's Mth model: list effects and heterogeneity (h: chao, poisson, darroch, gamma)",
        _CLOSEDP_INTERVALS,
        _CLOSEDP_TEXT,
    ),
    MethodSpec(
        "huggins",
        f"{_COV}.huggins:HugginsMSE",
        "conditional likelihood with individual covariates, Horvitz-Thompson N (VGAM "
        "posbernoulli.t); record-level data",
        _COVARIATE_INTERVALS,
        _COVARIATE_TEXT,
        aliases=("posbernoulli",),
        records=True,
    ),
    MethodSpec(
        "covariate-loglinear",
        f"{_COV}.loglinear:CovariateLogLinearMSE",
        "log-linear model with covariate x list terms (Zwane & van der Heijden 2005); "
        "record-level data",
        _COVARIATE_INTERVALS,
        _COVARIATE_TEXT,
        records=True,
    ),
    MethodSpec(
        "post-stratified",
        f"{_COV}.poststratified:PostStratifiedMSE",
        "stepwise fitted per level of covariates (by), the estimates added; record-level data",
        _COVARIATE_INTERVALS,
        _COVARIATE_TEXT,
        aliases=("poststratified",),
        records=True,
    ),
    _bayes(
        "bayes-threshold", "threshold", "BayesThresholdMSE", "Silverman's Bayesian thresholding"
    ),
    _bayes("lcmcr", "lcmcr", "LCMCR", "Bayesian non-parametric latent classes (LCMCR)"),
    _bayes("dga", "dga", "DGA", "Bayesian model averaging over decomposable graphs (dga)"),
    _bayes("bayes-loglinear", "loglinear", "BayesLogLinear", "Bayesian log-linear model (PyMC)"),
)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _by_name() -> dict[str, MethodSpec]:
    out: dict[str, MethodSpec] = {}
    for spec in METHOD_SPECS:
        for n in (spec.name, *spec.aliases):
            out[n] = spec
    return out


_BY_NAME = _by_name()


def available_methods() -> list[str]:
    """Every method name and alias :func:`resolve` accepts, canonical names first in each
    group."""
    return list(_BY_NAME)


def get(method: str) -> MethodSpec:
    """The :class:`MethodSpec` of a method name or alias (case and ``_``/``-`` do not matter).

    Raises
    ------
    ModelSpecificationError
        For an unknown name, listing the known ones.
    """
    spec = _BY_NAME.get(_normalise(str(method)))
    if spec is None:
        close = difflib.get_close_matches(_normalise(str(method)), list(_BY_NAME), n=1)
        hint = N_(" (did you mean {name!r}?)", name=close[0]) if close else ""
        raise ModelSpecificationError(
            N_(
                "unknown method {method!r}{hint}; choose one of {methods}",
                method=method,
                hint=hint,
                methods=", ".join(available_methods()),
            )
        )
    return spec


class Resolved(NamedTuple):
    """A method call checked by :func:`resolve`: the spec, the constructor's keyword arguments
    and ``fit``'s (for log-linear methods ``fit_kwargs["options"]`` is one
    :class:`IntervalOptions`)."""

    spec: MethodSpec
    ctor_kwargs: dict[str, Any]
    fit_kwargs: dict[str, Any]

    def build(self) -> Any:
        """The configured estimator."""
        return self.spec.load()(**{**self.spec.fixed, **self.ctor_kwargs})

    def run(self, data: Any) -> EstimationResult:
        """Fit one capture table (a record-level DataFrame for ``spec.records`` methods)."""
        result: EstimationResult = self.build().fit(data, **self.fit_kwargs)
        return result

    def settings(self) -> dict[str, Any]:
        """Every option in effect, defaults included (``options`` spelled out field by field;
        the executor left out)."""
        out = {**self.spec.options(), **self.spec.fixed, **self.ctor_kwargs}
        fit_kwargs = dict(self.fit_kwargs)
        opts = fit_kwargs.pop(OPTIONS, None)
        out.pop(OPTIONS, None)
        out.update(fit_kwargs)
        if isinstance(opts, IntervalOptions):
            out.update({k: getattr(opts, k) for k in IntervalOptions.names()})
        out.pop("executor", None)
        return out


def _valid_options(spec: MethodSpec) -> tuple[list[str], list[str]]:
    """The method's constructor options and fit options (``interval`` among the latter)."""
    fit_opts = list(spec.fit_options())
    return list(spec.constructor_options()), fit_opts + [INTERVAL] * (INTERVAL not in fit_opts)


def _unknown_option(spec: MethodSpec, name: str) -> ModelSpecificationError:
    if name in spec.fixed:
        return ModelSpecificationError(
            N_(
                "method {method!r} fixes {name}={value!r}; use method 'exhaustive' to choose {name}",
                method=spec.name,
                name=name,
                value=spec.fixed[name],
            )
        )
    ctor, fit_opts = _valid_options(spec)
    close = difflib.get_close_matches(name, ctor + fit_opts, n=1)
    hint = N_("; did you mean {name!r}?", name=close[0]) if close else "."
    listing = (
        N_("{options} (constructor); {fit_options} (fit)", options=", ".join(ctor),
           fit_options=", ".join(fit_opts))
        if ctor
        else N_("{fit_options} (fit)", fit_options=", ".join(fit_opts))
    )  # fmt: skip
    return ModelSpecificationError(
        N_(
            "method {method!r} takes no option {name!r} (--{flag}){hint} Its options: {listing}",
            method=spec.name,
            name=name,
            flag=name.replace("_", "-"),
            hint=hint,
            listing=listing,
        )
    )


def _check_interval(spec: MethodSpec, value: Any) -> None:
    if value not in spec.intervals:
        kinds = ", ".join(repr(k) for k in spec.intervals)
        must = N_("one of {values}", values=kinds) if len(spec.intervals) > 1 else kinds
        raise ModelSpecificationError(
            N_(
                "method {method!r} gives {intervals} only: interval must be {must}, got "
                "{value!r} (drop --interval for the default, {default!r})",
                method=spec.name,
                intervals=spec.interval_text,
                must=must,
                value=value,
                default=spec.intervals[0],
            )
        )


def _whole_at_least(low: int) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        return bool(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= low)

    return ok


def _open_unit(v: Any) -> bool:
    return bool(isinstance(v, int | float | np.number) and not isinstance(v, bool) and 0 < v < 1)


def _positive_finite(v: Any) -> bool:
    return bool(
        isinstance(v, int | float | np.number)
        and not isinstance(v, bool)
        and bool(np.isfinite(v))
        and v > 0
    )


#: The range of each numeric option, whatever the method (checked by :func:`resolve` before any
#: fit): ``name -> (test, what is expected)``.
OPTION_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "pthresh": (_open_unit, N_("a p-value cut-off strictly between 0 and 1 (e.g. 0.02)")),
    "n_boot": (_whole_at_least(1), N_("a whole number of bootstrap replicates, at least 1")),
    "chains": (_whole_at_least(1), N_("a whole number of MCMC chains, at least 1")),
    "draws": (_whole_at_least(1), N_("a whole number of posterior draws per chain, at least 1")),
    "tune": (_whole_at_least(0), N_("a whole number of tuning steps, at least 0")),
    "top_models": (_whole_at_least(1), N_("a whole number of models, at least 1")),
    "max_order": (_whole_at_least(1), N_("an interaction order of at least 1")),
    "theta": (_positive_finite, N_("a positive finite number")),
    "seed": (_whole_at_least(0), N_("a non-negative whole number")),
}


def check_ranges(options: Mapping[str, Any]) -> None:
    """Raise :class:`ModelSpecificationError` for the first option outside its
    :data:`OPTION_RANGES` range (options that are None are not given)."""
    for name, value in options.items():
        rule = OPTION_RANGES.get(name)
        if rule is not None and value is not None and not rule[0](value):
            raise invalid_option(name, value, rule[1])


def resolve(method: str, **options: Any) -> Resolved:
    """Check a method call's options and split them between the constructor and ``fit``.

    Parameters
    ----------
    method : str
        A name or alias of :func:`available_methods`.
    **options
        Constructor and fit options of the method's class (see :func:`methods_table`), the
        fields of :class:`IntervalOptions` for log-linear methods (or ``options=`` one
        :class:`IntervalOptions`), and ``interval`` for every method (checked against the kinds
        the method gives). ``None`` means "the default".

    Returns
    -------
    Resolved
        ``(spec, ctor_kwargs, fit_kwargs)``; only options that were given (not None), except
        ``fit_kwargs["options"]``, the complete :class:`IntervalOptions` of a log-linear method.

    Raises
    ------
    ModelSpecificationError
        An unknown method; an option the method does not take (naming the valid ones); an
        interval kind the method does not give; a level outside (0, 1); an invalid interval
        option (see :class:`IntervalOptions`).
    """
    spec = get(method)
    given = {k: v for k, v in options.items() if v is not None}
    if INTERVAL in given:
        _check_interval(spec, given[INTERVAL])
    if "level" in given:
        check_level(given["level"])
    check_ranges(given)
    ctor_names = spec.constructor_options()
    fit_names = spec.fit_options()
    for name, value in given.items():
        if name in spec.fixed and value == spec.fixed[name]:
            continue
        if name not in ctor_names and name not in fit_names and name != INTERVAL:
            raise _unknown_option(spec, name)
    missing = [
        k
        for k, default in ctor_names.items()
        if default is inspect.Parameter.empty and k not in given and k not in spec.fixed
    ]
    if missing:
        raise ModelSpecificationError(
            N_(
                "method {method!r} needs option {name!r} (--{flag}): {summary}",
                method=spec.name,
                name=missing[0],
                flag=missing[0].replace("_", "-"),
                summary=spec.summary,
            )
        )
    ctor = {k: v for k, v in given.items() if k in ctor_names}
    fit_kwargs = {k: v for k, v in given.items() if k in fit_names and k not in ctor}
    if spec.takes_interval_options:
        whole = fit_kwargs.pop(OPTIONS, None)
        fields = {k: fit_kwargs.pop(k) for k in IntervalOptions.names() if k in fit_kwargs}
        if whole is not None and not isinstance(whole, IntervalOptions):
            raise invalid_option(OPTIONS, whole, N_("an IntervalOptions"))
        fit_kwargs[OPTIONS] = IntervalOptions.build(whole, **fields)
    elif INTERVAL not in _parameters(spec.load().fit, 2):
        fit_kwargs.pop(INTERVAL, None)  # one interval kind only: checked above, nothing to pass
    return Resolved(spec, ctor, fit_kwargs)


def fit(data: CaptureData, method: str, **options: Any) -> EstimationResult:
    """Fit one capture table with the named method: ``resolve(method, **options).run(data)``.

    :func:`fl_estimate.mse.estimate` does the same and adds the heterogeneity check.
    """
    return resolve(method, **options).run(data)


def methods_table() -> pd.DataFrame:
    """The registry as a table: ``method``, ``aliases``, ``estimator`` (module:Class),
    ``intervals``, ``options`` (every option with its default) and ``summary``. Imports every
    estimator class (the Bayesian ones too)."""
    import pandas as pd

    rows = []
    for spec in METHOD_SPECS:
        opts = {k: v for k, v in spec.options().items() if k not in (OPTIONS, "executor")}
        rows.append(
            {
                "method": spec.name,
                "aliases": ", ".join(spec.aliases),
                "estimator": spec.target,
                "intervals": ", ".join(spec.intervals),
                "options": ", ".join(f"{k}={v!r}" for k, v in opts.items()),
                "summary": spec.summary,
            }
        )
    return pd.DataFrame(rows)
