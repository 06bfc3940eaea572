"""Bayesian log-linear multiple systems estimation in PyMC (Silverman 2020, section 6).

The observed cells of the 2^K capture table are independent Poisson counts with
``log mu_c = intercept + sum_j beta_j x_cj + sum_{j<k} gamma_jk x_cj x_ck`` (plus any three-list
terms asked for); the unobserved cell has mean ``exp(intercept)``. Main effects get a flat
(improper) or a wide normal prior, interactions a normal shrinkage prior, a regularised horseshoe,
or a flat prior (interactions with a zero margin then at minus infinity, their cells fixed at
zero; refused when the posterior would be improper). The posterior of N is that of
``n + exp(intercept)`` (or, optionally, ``n + Poisson(exp(intercept))``).

:class:`BayesLogLinear` is built to be reused by Bayesian thresholding (fit all two-way terms,
keep those with ``|posterior mean| / posterior sd >= threshold``, refit): ``fit`` returns the
interaction summaries in ``result.tables["coefficients"]`` and :func:`significant_interactions`
picks the terms to keep.

:class:`~fl_estimate.mse.bayes.hierarchical.BayesHierarchicalLogLinear` fits strata together
with the same design (:func:`parse_interactions`, :func:`design_matrix`) and sampler
(:func:`sample_nuts`).

PyMC is imported lazily (importing this module is cheap); PyTensor compiles each distinct model
graph once per machine (cached on disk), and a one-line notice goes to this module's logger
(``logging.getLogger("fl_estimate.mse.bayes.loglinear")``, level INFO) first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError, ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.bayes import convergence as cv
from fl_estimate.mse.bayes.common import (
    DEFAULT_COMPILE_MODE,
    NutsEstimator,
    NutsOptions,
    add_posterior_var,
    chain_seeds,
    numpy_only_xarray,
    result_from_draws,
)
from fl_estimate.mse.bayes.imh import LaplacePosterior, imh_problems, laplace_mode, sample_imh
from fl_estimate.results import EstimationResult

if TYPE_CHECKING:
    from fl_estimate.mse.data import CaptureData

__all__ = [
    "DEFAULT_COMPILE_MODE",
    "BayesLogLinear",
    "ModelInputs",
    "NutsDraws",
    "all_interactions",
    "compiled_model",
    "design_matrix",
    "flat_prior_reduction",
    "laplace_mode",
    "parse_interactions",
    "sample_nuts",
    "sample_unobserved",
    "sampler_diagnostics",
    "significant_interactions",
    "term_label",
]

log = logging.getLogger(__name__)


def all_interactions(lists: Sequence[str]) -> list[str]:
    """Every two-list interaction ``"a:b"`` in list order.

    >>> all_interactions(["a", "b", "c"])
    ['a:b', 'a:c', 'b:c']
    """
    return [f"{a}:{b}" for a, b in combinations(lists, 2)]


def parse_interactions(
    interactions: str | Sequence[str] | None, lists: Sequence[str]
) -> list[tuple[int, ...]]:
    """Interaction terms as sorted tuples of list indices (two or three lists: ``"a:b"``,
    ``"a:b:c"``), ordered by size and then by list order; ``"all"`` is every two-list term.

    >>> parse_interactions(["b:c:a", "c:a"], ["a", "b", "c"])
    [(0, 2), (0, 1, 2)]
    >>> parse_interactions("all", ["a", "b", "c"])
    [(0, 1), (0, 2), (1, 2)]
    """
    if interactions is None:
        return []
    if isinstance(interactions, str):
        if interactions == "all":
            return list(combinations(range(len(lists)), 2))
        interactions = [interactions]
    pos = {name: i for i, name in enumerate(lists)}
    out: list[tuple[int, ...]] = []
    bad = []
    for term in interactions:
        parts = str(term).split(":")
        if (
            len(parts) not in (2, 3)
            or any(q not in pos for q in parts)
            or len(set(parts)) != len(parts)
        ):
            bad.append(str(term))
            continue
        idx = tuple(sorted(pos[q] for q in parts))
        if idx not in out:
            out.append(idx)
    if bad:
        raise ModelSpecificationError(
            N_(
                "unknown interaction term(s) {terms}; expected 'a:b' or 'a:b:c' with different "
                "lists among {lists}",
                terms=", ".join(map(repr, bad)),
                lists=", ".join(lists),
            )
        )
    return sorted(out, key=lambda t: (len(t), t))


def term_label(term: Sequence[int], lists: Sequence[str]) -> str:
    """The name of a term given as list indices.

    >>> term_label((0, 2), ["a", "b", "c"])
    'a:c'
    """
    return ":".join(lists[i] for i in term)


def design_matrix(k: int, terms: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Main-effect and interaction columns for the observable cells 1..2^K-1 (cell-index order:
    bit j of the cell index is list j).

    >>> x, xi = design_matrix(3, [(0, 1)])
    >>> x.shape, xi.shape, x[2].tolist(), xi[2].tolist()  # cell 3: on lists 0 and 1
    ((7, 3), (7, 1), [1.0, 1.0, 0.0], [1.0])
    """
    cells = np.arange(1, 1 << k)
    x = ((cells[:, None] >> np.arange(k)) & 1).astype(np.float64)
    xi = (
        np.stack([np.prod(x[:, list(t)], axis=1) for t in terms], axis=1)
        if terms
        else np.zeros((cells.size, 0))
    )
    return x, xi


def flat_prior_reduction(
    data: CaptureData, interactions: str | Sequence[str] | None, *, main_flat: bool = True
) -> tuple[list[str], list[str], np.ndarray]:
    """Extended-MLE reduction of a log-linear model whose interactions have a flat prior.

    An interaction whose observed margin is zero (two lists that never overlap, say) has its
    flat-prior posterior concentrated at minus infinity: it is taken out of the sampled
    parameters and every cell containing it is fixed at zero (Silverman 2020; as
    MultipleSystemsEstimation 1.2 prunes them). The rest has a proper posterior exactly when its
    maximum-likelihood estimate exists on the cells left (Fienberg–Rinaldo linear program) and
    is identifiable (rank), which is checked here.

    Returns
    -------
    kept : list of str
        Interactions sampled.
    minus_infinite : list of str
        Interactions at minus infinity (also in the model: their cells are zero).
    alive : ndarray of bool, shape (2**K - 1,)
        Observable cells that are not fixed at zero.

    Raises
    ------
    EstimateDoesNotExistError
        A list is empty while main effects are flat, or the reduced model has no MLE or is
        not identifiable: the flat-prior posterior is then improper.
    """
    from fl_estimate.mse.loglinear import check_existence

    lists = list(data.lists)
    terms = parse_interactions(interactions, lists)
    if main_flat:
        empty = [name for name, t in zip(lists, data.list_totals(), strict=True) if t == 0]
        if empty:
            raise EstimateDoesNotExistError(
                N_(
                    "{source}: no one is on list(s) {lists}: with a flat prior on the main "
                    "effects the posterior is improper; drop the list(s)",
                    source=data.source,
                    lists=", ".join(empty),
                ),
                code="no-mle",
            )
    masks = [sum(1 << i for i in t) for t in terms]
    chk = check_existence(data, frozenset(masks))
    if not chk.ok:
        raise EstimateDoesNotExistError(
            N_(
                "{source}: with flat (improper) priors on the interactions the posterior is "
                "improper: {reason}; or use the proper normal prior",
                source=data.source,
                reason=chk.reason(frozenset(masks)),
            ),
            code="no-mle" if chk.code & 1 else "not-identifiable",
        )
    boundary = set(chk.boundary_terms)
    cells = np.arange(1, 1 << len(lists))
    alive = np.ones(cells.size, dtype=bool)
    for m in boundary & set(masks):
        alive &= (cells & m) != m
    kept = [term_label(t, lists) for t, m in zip(terms, masks, strict=True) if m not in boundary]
    gone = [term_label(t, lists) for t, m in zip(terms, masks, strict=True) if m in boundary]
    return kept, gone, alive


def significant_interactions(result: EstimationResult, threshold: float = 2.0) -> list[str]:
    """Interactions whose ``|posterior mean| / posterior sd`` is at least ``threshold``.

    The selection step of Silverman's (2020, section 6) Bayesian thresholding; refit with
    ``BayesLogLinear(interactions=significant_interactions(res, 2))``.
    """
    coef = result.tables.get("coefficients")
    if coef is None:
        raise ModelSpecificationError(
            "this result has no coefficient table (not a BayesLogLinear fit)"
        )
    rows = coef[(coef["kind"] == "interaction") & (coef["z"] >= threshold)]
    return list(rows["term"])


@dataclass(frozen=True)
class ModelInputs:
    """What a PyMC model needs from one table: its shape (``key``: the model is compiled once
    per key and process) and the values of its ``pm.Data`` inputs and data-dependent starting
    values; for the independence sampler (``sampler="imh"``), the posterior itself when it is
    a Poisson log-linear one with normal or flat priors (else None), and the names of the
    coefficients (``coords``: ``list`` and ``interaction``)."""

    key: tuple[Any, ...]
    pairs: list[tuple[int, ...]]
    x: np.ndarray
    xi: np.ndarray
    values: dict[str, np.ndarray]
    initvals: dict[str, Any]
    n_observed: int
    posterior: LaplacePosterior | None = None
    coords: dict[str, list[str]] = field(default_factory=dict)


#: Most compiled models kept in a process (least recently used dropped first).
CACHE_SIZE = 32
_FROZEN: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def compiled_model(key: tuple[Any, ...], build: Callable[[], Any]) -> tuple[Any, bool]:
    """The frozen PyMC model of this shape, built by ``build()`` the first time in the process;
    returns it and whether it was new. A frozen model compiles its functions on first use and
    keeps them (PyMC's ``freeze_model``), and its ``pm.Data`` inputs take any table's values,
    so tables, strata and replicates of one shape share one compile."""
    from pymc.model.transform.optimization import freeze_model

    model = _FROZEN.pop(key, None)
    new = model is None
    if new:
        model = freeze_model(build())
    _FROZEN[key] = model
    while len(_FROZEN) > CACHE_SIZE:
        _FROZEN.popitem(last=False)
    return model, new


def sample_nuts(
    inputs: ModelInputs,
    build: Callable[[], Any],
    *,
    what: str,
    seeds: list[int],
    options: NutsOptions,
) -> Any:
    """The draws of the model of ``inputs`` by ``options.sampler`` (``"auto"``: the
    independence sampler of :func:`_sample_imh` when ``inputs.posterior`` is given, else
    PyMC's NUTS; ``"nutpie"``: :func:`_sample_nutpie`); for ``"pymc"``, ``pm.sample`` with
    ``options`` (chains, draws, tune, target acceptance, cores, compile
    mode, progress bar) and the chain seeds ``seeds`` on the compiled model of ``inputs.key``
    (:func:`compiled_model`) after setting its data to ``inputs.values``; one INFO log line
    says whether the model of ``what`` is compiled or reused. Returns the PyMC DataTree.

    The draws depend only on the data, the model and the seeds, never on whether the model
    was compiled for an earlier table: the data inputs and the data-dependent starting values
    are set on every call.
    """
    o = options
    if o.sampler == "auto" and inputs.posterior is None:
        tree = sample_nuts(
            inputs, build, what=what, seeds=seeds, options=replace(o, sampler="pymc")
        )
        tree["posterior"].attrs["sampler"] = "pymc"
        return tree
    if o.sampler in ("imh", "auto"):
        return _sample_imh(inputs, build, what=what, seeds=seeds, options=o)
    if o.sampler == "nutpie":
        return _sample_nutpie(inputs, build, what=what, seeds=seeds, options=o)
    import pymc as pm

    model, new = compiled_model((*inputs.key, o.compile_mode), build)
    log.info(
        "%s PyMC model for %s (PyTensor %s backend%s)",
        "compiling the" if new else "reusing the compiled",
        what,
        o.compile_mode,
        "; a new model shape can take 10-30 s the first time" if new else "",
    )
    pm.set_data({k: v for k, v in inputs.values.items() if k in model.named_vars}, model=model)
    return pm.sample(
        draws=o.draws,
        tune=o.tune,
        chains=o.chains,
        cores=o.cores,
        random_seed=seeds,
        target_accept=o.target_accept,
        progressbar=o.progress,
        initvals=dict(inputs.initvals) or None,
        model=model,
        compile_kwargs={"mode": o.compile_mode},
        nuts_sampler="pymc",  # PyMC's own; left unset, PyMC picks nutpie when it is installed
    )


def _sample_imh(
    inputs: ModelInputs,
    build: Callable[[], Any],
    *,
    what: str,
    seeds: list[int],
    options: NutsOptions,
) -> Any:
    """:func:`sample_nuts` with the exact independence Metropolis–Hastings sampler of
    :mod:`fl_estimate.mse.bayes.imh` (t proposal from the Laplace approximation, numpy only,
    nothing compiled). When the model is not a Poisson log-linear one with normal or flat
    priors (the horseshoe, the hierarchical model), or when :func:`~fl_estimate.mse.bayes.imh.
    imh_problems` finds the proposal poor (low acceptance, chains that disagree), the model
    is sampled by PyMC's NUTS instead, with the same seeds, and one INFO log line says why.
    The tree's ``posterior.attrs["sampler"]`` says which sampler drew it and
    ``attrs["imh_fallback"]`` why NUTS did, if it did."""
    post = inputs.posterior
    if post is None:
        why = "the independence sampler takes normal or flat priors only"
    else:
        fit = sample_imh(
            post, chains=options.chains, draws=options.draws, tune=options.tune, seeds=seeds
        )
        problems = imh_problems(fit)
        if not problems:
            log.info(
                "independence Metropolis-Hastings for %s: acceptance %.0f%%-%.0f%%, thin %d",
                what,
                100 * fit.acceptance.min(),
                100 * fit.acceptance.max(),
                fit.thin,
            )
            return _imh_tree(fit, inputs.coords)
        why = "; ".join(problems)
    log.info("sampling %s by PyMC's NUTS instead of the independence sampler: %s", what, why)
    tree = sample_nuts(
        inputs, build, what=what, seeds=seeds, options=replace(options, sampler="pymc")
    )
    tree["posterior"].attrs["sampler"] = "pymc"
    tree["posterior"].attrs["imh_fallback"] = why
    return tree


def sampler_diagnostics(tree: Any, asked: str) -> dict[str, Any]:
    """What a fit's ``diagnostics`` say about the sampler: ``sampler_used`` (``asked``, or
    ``"pymc"`` when the independence sampler fell back to NUTS), and for ``"imh"`` the
    chains' ``imh_acceptance`` and ``imh_thin``, or ``imh_fallback``: why NUTS ran instead."""
    attrs = tree["posterior"].attrs
    out: dict[str, Any] = {"sampler_used": attrs.get("sampler", asked)}
    if "imh_fallback" in attrs:
        out["imh_fallback"] = attrs["imh_fallback"]
    if out["sampler_used"] == "imh":
        out["imh_acceptance"] = list(attrs["acceptance"])
        out["imh_thin"] = int(attrs["thin"])
    return out


def _imh_tree(fit: Any, coords: dict[str, list[str]]) -> Any:
    """The ArviZ tree of an independence-sampler fit, shaped as PyMC's: ``posterior`` with
    ``z`` (whitened), ``intercept``, ``beta`` (dim ``list``), ``gamma`` (dim
    ``interaction``, when there are interactions); ``sample_stats`` with ``diverging`` (all
    False: no trajectories) and ``accepted`` (the chain moved since the previous kept draw)."""
    from arviz_base import from_dict

    k = len(coords["list"])
    theta = fit.theta
    post = {"z": fit.z, "intercept": theta[..., 0], "beta": theta[..., 1 : 1 + k]}
    dims = {"beta": ["list"], "z": ["z_dim_0"]}
    if coords["interaction"]:
        post["gamma"] = theta[..., 1 + k :]
        dims["gamma"] = ["interaction"]
    stats = {"diverging": np.zeros(fit.accepted.shape, dtype=bool), "accepted": fit.accepted}
    with numpy_only_xarray():
        tree = from_dict(
            {"posterior": post, "sample_stats": stats},
            coords={k_: v for k_, v in coords.items() if v},
            dims=dims,
        )
    tree["posterior"].attrs.update(
        sampler="imh",
        acceptance=[round(float(a), 4) for a in fit.acceptance],
        thin=int(fit.thin),
        proposal_df=float(fit.df),
        pilot_ess_share=round(float(fit.pilot_ess), 4),
    )
    return tree


_NUTPIE: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()


def _sample_nutpie(
    inputs: ModelInputs,
    build: Callable[[], Any],
    *,
    what: str,
    seeds: list[int],
    options: NutsOptions,
) -> Any:
    """:func:`sample_nuts` with nutpie's NUTS (Rust, on a numba-compiled log density): the
    model of ``inputs.key`` is compiled once per process, and each table sets its data with
    ``with_data``. The chains' random streams come from ``seeds[0]`` (nutpie takes one seed).
    The chains start from nutpie's jittered initial point around the starting values of the
    table the model was compiled on (the whitened models' coordinates are centred on each
    table's own Laplace mode, so their start does not depend on that table)."""
    import nutpie

    o = options
    key = (*inputs.key, "nutpie")
    entry = _NUTPIE.pop(key, None)
    new = entry is None
    log.info(
        "%s nutpie model for %s%s",
        "compiling the" if new else "reusing the compiled",
        what,
        "; a new model shape takes 10-40 s the first time (numba)" if new else "",
    )
    if entry is None:
        model = build()
        entry = (model, nutpie.compile_pymc_model(model, backend="numba"))
    _NUTPIE[key] = entry
    while len(_NUTPIE) > CACHE_SIZE:
        _NUTPIE.popitem(last=False)
    model, compiled = entry
    data = {k: v for k, v in inputs.values.items() if k in model.named_vars}
    return nutpie.sample(
        compiled.with_data(**data),
        draws=o.draws,
        tune=o.tune,
        chains=o.chains,
        cores=o.cores,
        seed=int(seeds[0]),
        target_accept=o.target_accept,
        progress_bar=o.progress,
        save_warmup=False,
    )


@dataclass(frozen=True)
class NutsDraws:
    """The draws of :func:`sample_unobserved`: PyMC's tree, the chains' seeds, and the draws of
    the intercept and of the unobserved count (each ``(chain, draw, ...)``)."""

    idata: Any
    chain_seeds: list[int]
    intercept: np.ndarray
    unobserved: np.ndarray

    @property
    def divergences(self) -> int:
        """Divergent NUTS transitions, over all chains."""
        return int(self.idata["sample_stats"]["diverging"].to_numpy().sum())


def sample_unobserved(
    inputs: ModelInputs,
    build: Callable[[], Any],
    *,
    what: str,
    options: NutsOptions,
    unobserved: str,
    source: str,
) -> NutsDraws:
    """:func:`sample_nuts` with the chain seeds of ``options.seed`` (:func:`chain_seeds`), then
    the unobserved count from the model's ``intercept`` draw by draw: ``exp(intercept)``
    (``unobserved="mean"``) or ``Poisson(exp(intercept))`` (``"poisson"``, from the generator
    that follows the chains' seeds).

    Raises
    ------
    ModelSpecificationError
        When the intercept is unbounded (not finite or above 40 in some draw): the data do not
        identify the model (``source`` names the table).
    """
    seeds, rng = chain_seeds(options.seed, options.chains)
    idata = sample_nuts(inputs, build, what=what, seeds=seeds, options=options)
    a = idata["posterior"]["intercept"].to_numpy()
    if not np.all(np.isfinite(a)) or a.max() > 40:
        raise ModelSpecificationError(
            N_(
                "{source}: the posterior of the unobserved cell is unbounded (intercept reached "
                "{value:.3g}); the model is not identified by these data: use fewer interactions or "
                "a proper prior",
                source=source,
                value=float(a.max()),
            )
        )
    n0 = rng.poisson(np.exp(a)) if unobserved == "poisson" else np.exp(a)
    return NutsDraws(idata, seeds, a, n0)


class _Priors:
    """Prior settings shared by the flat and hierarchical models."""

    def __init__(
        self,
        prior: str,
        prior_scale: float,
        main_prior: str | float,
        slab_scale: float,
        slab_df: float,
        global_scale: float | None,
    ) -> None:
        if prior not in ("normal", "horseshoe", "flat"):
            raise ModelSpecificationError(
                N_("prior must be 'normal', 'horseshoe' or 'flat', got {value!r}", value=prior)
            )
        if not prior_scale > 0:
            raise ModelSpecificationError(
                N_("{name} must be positive, got {value!r}", name="prior_scale", value=prior_scale)
            )
        if not (main_prior == "flat" or (isinstance(main_prior, int | float) and main_prior > 0)):
            raise ModelSpecificationError(
                N_(
                    "main_prior must be 'flat' or a positive normal standard deviation, got "
                    "{value!r}",
                    value=main_prior,
                )
            )
        self.prior = prior
        self.prior_scale = float(prior_scale)
        self.main_prior = main_prior
        self.slab_scale = float(slab_scale)
        self.slab_df = float(slab_df)
        self.global_scale = global_scale

    def settings(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "prior_scale": self.prior_scale,
            "main_prior": self.main_prior,
            "slab_scale": self.slab_scale,
            "slab_df": self.slab_df,
            "global_scale": self.global_scale,
        }


class BayesLogLinear(NutsEstimator["CaptureData"]):
    """Bayesian Poisson log-linear model for capture data, fitted by NUTS in PyMC.

    Parameters
    ----------
    interactions : "all", sequence of "a:b" or "a:b:c", or None, default "all"
        Interactions in the model: ``"all"`` is every two-list term; three-list terms are
        given by name (``None``: main effects only).
    prior : {"normal", "horseshoe", "flat"}, default "normal"
        Prior on the interactions: independent ``Normal(0, prior_scale)``, a regularised
        horseshoe (Piironen & Vehtari 2017) with slab scale ``slab_scale`` and slab degrees of
        freedom ``slab_df``, or improper flat (see Notes).
    prior_scale : float, default 1.0
        Standard deviation of the normal interaction prior (Silverman's default precision 1).
    main_prior : "flat" or float, default "flat"
        Prior of the main effects: improper flat, or ``Normal(0, main_prior)``. The intercept
        is always flat.
    slab_scale, slab_df : float
        Regularised-horseshoe slab (defaults 2 and 4).
    global_scale : float, optional
        Horseshoe global scale ``tau0``; default ``(p0 / (D - p0)) / sqrt(n)`` with ``p0 = 1``
        expected non-zero interaction out of ``D``.
    unobserved : {"mean", "poisson"}, default "mean"
        N is ``n + exp(intercept)`` per draw (the expected missing cell, as in Silverman's
        MultipleSystemsEstimation, whose reference values this matches), or
        ``n + Poisson(exp(intercept))`` (the posterior predictive of the missing count, slightly
        wider).

    Notes
    -----
    ``y_c ~ Poisson(exp(a + x_c' beta + z_c' gamma))`` for the ``2^K - 1`` observable cells
    (zeros included); ``a`` flat; ``beta`` flat or normal; ``gamma`` normal, horseshoe or flat.
    A pair of lists that never overlaps has its interaction identified by the prior alone. With
    ``prior="flat"`` such an interaction's posterior sits at minus infinity: it is taken out of
    the sampled parameters and the cells containing it are fixed at zero (extended MLE, as
    MultipleSystemsEstimation 1.2 does), and it is listed in
    ``diagnostics["minus_infinite_interactions"]``. The rest of the flat-prior posterior is
    proper exactly when the model's (extended) MLE exists and is identifiable; otherwise ``fit``
    raises :class:`~fl_estimate.exceptions.EstimateDoesNotExistError` saying which check failed
    (see :func:`flat_prior_reduction`).

    References
    ----------
    Silverman, B. W. (2020). Multiple-systems analysis for the quantification of modern slavery:
    classical and Bayesian approaches. JRSS A 183(3), 691–736, section 6.
    Piironen, J. and Vehtari, A. (2017). Sparsity information and regularization in the horseshoe
    and other shrinkage priors. Electron. J. Statist. 11(2), 5018–5051.

    Examples
    --------
    A table of 2,000 people in which lists A and B are dependent (odds ratio 4):

    >>> from fl_estimate.simulate import simulate
    >>> sim = simulate(2000, ["A", "B", "C"], capture_probs=0.3, dependence={("A", "B"): 4.0},
    ...                seed=5)
    >>> res = BayesLogLinear().fit(sim.data, seed=1, chains=2, draws=500, tune=500)
    >>> significant_interactions(res, 2.0), res.ci_low < 2000 < res.ci_high
    (['A:B'], True)
    >>> res.tables["coefficients"].columns.tolist()
    ['term', 'kind', 'mean', 'sd', 'q_low', 'q_high', 'z', 'rhat', 'ess_bulk']
    """

    method = "bayes-loglinear"

    def __init__(
        self,
        interactions: str | Sequence[str] | None = "all",
        *,
        prior: str = "normal",
        prior_scale: float = 1.0,
        main_prior: str | float = "flat",
        slab_scale: float = 2.0,
        slab_df: float = 4.0,
        global_scale: float | None = None,
        unobserved: str = "mean",
    ) -> None:
        self.interactions = interactions
        self.priors = _Priors(prior, prior_scale, main_prior, slab_scale, slab_df, global_scale)
        if unobserved not in ("poisson", "mean"):
            raise ModelSpecificationError(
                N_("unobserved must be 'poisson' or 'mean', got {value!r}", value=unobserved)
            )
        self.unobserved = unobserved

    def __repr__(self) -> str:
        p = self.priors
        return (
            f"BayesLogLinear(interactions={self.interactions!r}, prior={p.prior!r}, "
            f"prior_scale={p.prior_scale}, main_prior={p.main_prior!r})"
        )

    # ------------------------------------------------------------------ model
    def build_model(self, data: CaptureData) -> Any:
        """The PyMC model for ``data`` (deterministics ``intercept``, ``beta``, ``gamma``).

        With normal (or flat) priors the sampler works on whitened coordinates
        ``theta = theta_mode + L^-T z`` where ``L L' `` is the Hessian of the negative log
        posterior at its mode, so NUTS sees a nearly isotropic posterior (short trajectories,
        high ESS). With the horseshoe the linear predictor is centred at the count-weighted
        mean capture pattern instead. Everything that depends on the counts (the counts, the
        mode and whitening, the centring) is a ``pm.Data`` input, so one compiled model
        serves every table of the same shape (see :meth:`fit`).
        """
        return self._graph(self._inputs(data), data.lists)

    def _inputs(self, data: CaptureData) -> ModelInputs:
        """The model's shape (the cache key) and the values of its data inputs for ``data``."""
        k = data.n_lists
        p = self.priors
        interactions = self.interactions
        alive = None
        if p.prior == "flat":
            kept, _, alive = flat_prior_reduction(
                data, interactions, main_flat=p.main_prior == "flat"
            )
            interactions = kept or None
        pairs = parse_interactions(interactions, data.lists)
        x, xi = design_matrix(k, pairs)
        y = data.cell_counts()[1:].astype(np.float64)
        if alive is not None:  # cells of interactions at minus infinity are fixed at zero
            x, xi, y = x[alive], xi[alive], y[alive]
        values: dict[str, np.ndarray] = {"y_obs": y}
        initvals: dict[str, Any] = {}
        tau0 = None
        post = None
        if p.prior in ("normal", "flat"):
            design = np.hstack([np.ones((y.size, 1)), x, xi])
            post = LaplacePosterior.from_counts(design, y, self._precision(design.shape[1], k))
            values |= {"mode": post.mode, "linv_t": post.linv_t}
        else:
            tot = max(y.sum(), 1.0)
            values |= {"xbar": (y @ x) / tot, "xibar": (y @ xi) / tot}
            initvals["centre"] = float(np.log(max(y.mean(), 0.5)))
            tau0 = _horseshoe_global_scale(p, len(pairs), data.n_observed)
        key = (
            "bayes-loglinear",
            tuple(data.lists),
            tuple(pairs),
            None if alive is None else tuple(bool(a) for a in alive),
            tuple(sorted((n, str(v)) for n, v in p.settings().items())),
            tau0,
        )
        coords = {
            "list": list(data.lists),
            "interaction": [term_label(t, data.lists) for t in pairs],
        }
        return ModelInputs(key, pairs, x, xi, values, initvals, data.n_observed, post, coords)

    def _precision(self, n_par: int, k: int) -> np.ndarray:
        """Prior precision of (intercept, main effects, interactions); 0 = flat."""
        p = self.priors
        prec = np.zeros(n_par)
        if p.main_prior != "flat":
            prec[1 : 1 + k] = 1.0 / float(p.main_prior) ** 2
        if p.prior == "normal":
            prec[1 + k :] = 1.0 / p.prior_scale**2
        return prec

    def _graph(self, inp: ModelInputs, lists: Sequence[str]) -> Any:
        import pymc as pm

        k = len(lists)
        p = self.priors
        x, xi, v = inp.x, inp.xi, inp.values
        terms = [term_label(t, lists) for t in inp.pairs]
        coords = {"list": list(lists), "interaction": terms}
        n_t = len(inp.pairs)
        with pm.Model(coords=coords) as model:
            if p.prior in ("normal", "flat"):
                design = np.hstack([np.ones((x.shape[0], 1)), x, xi])
                z = pm.Flat("z", shape=design.shape[1], initval=np.zeros(design.shape[1]))
                # theta = mode + L^-T z
                theta = pm.Data("mode", v["mode"]) + pm.math.dot(pm.Data("linv_t", v["linv_t"]), z)
                pm.Deterministic("intercept", theta[0])
                beta = pm.Deterministic("beta", theta[1 : 1 + k], dims="list")
                if n_t:
                    gamma = pm.Deterministic("gamma", theta[1 + k :], dims="interaction")
                    if p.prior == "normal":
                        pm.Potential(
                            "gamma_prior", -0.5 * pm.math.sum((gamma / p.prior_scale) ** 2)
                        )
                if p.main_prior != "flat":
                    pm.Potential(
                        "beta_prior", -0.5 * pm.math.sum((beta / float(p.main_prior)) ** 2)
                    )
                eta = pm.math.dot(design, theta)
            else:
                xbar = pm.Data("xbar", v["xbar"])
                centre = pm.Flat("centre", initval=inp.initvals["centre"])
                if p.main_prior == "flat":
                    beta = pm.Flat("beta", dims="list", initval=np.zeros(k))
                else:
                    beta = pm.Normal("beta", 0.0, float(p.main_prior), dims="list")
                eta = centre + pm.math.dot(x, beta) - pm.math.dot(xbar, beta)
                intercept = centre - pm.math.dot(xbar, beta)
                if n_t:  # no interactions: no horseshoe scales to sample
                    xibar = pm.Data("xibar", v["xibar"])
                    gamma = _interaction_prior(pm, p, n_t, inp.n_observed, dims="interaction")
                    eta = eta + pm.math.dot(xi, gamma) - pm.math.dot(xibar, gamma)
                    intercept = intercept - pm.math.dot(xibar, gamma)
                pm.Deterministic("intercept", intercept)
            pm.Poisson("y", mu=pm.math.exp(eta), observed=pm.Data("y_obs", v["y_obs"]))
        return model

    def fit_with(self, data: CaptureData, options: NutsOptions) -> EstimationResult:
        """Sample the posterior by NUTS and summarise N (:meth:`fit` with the sampler options as
        one :class:`~fl_estimate.mse.bayes.common.NutsOptions`).

        ``options.seed`` seeds the chains (independent child seeds) and the missing-cell draws.

        Returns
        -------
        EstimationResult
            Posterior median and equal-tailed interval of N; ``diagnostics`` with R-hat/ESS of N,
            ``divergences`` and ``max_rhat_coefficients``; ``tables["coefficients"]``: one row
            per term (``term``, ``kind`` in intercept/main/interaction, ``mean``, ``sd``,
            ``q_low``, ``q_high``, ``z`` = ``|mean|/sd``, ``rhat``, ``ess_bulk``); ``draws``:
            the PyMC DataTree with ``N`` added to the posterior.
        """
        if data.n_observed == 0:
            raise ModelSpecificationError(
                N_("{source}: no one observed; nothing to estimate", source=data.source)
            )
        inp = self._inputs(data)
        minus_inf: list[str] = []
        if self.priors.prior == "flat":
            _, minus_inf, _ = flat_prior_reduction(
                data, self.interactions, main_flat=self.priors.main_prior == "flat"
            )
        n_terms = len(parse_interactions(self.interactions, data.lists))
        sampled = sample_unobserved(
            inp,
            lambda: self._graph(inp, data.lists),
            what=f"{data.n_lists} lists, {n_terms} interactions",
            options=options,
            unobserved=self.unobserved,
            source=data.source,
        )
        idata, seeds, a = sampled.idata, sampled.chain_seeds, sampled.intercept
        n_draws = data.n_observed + sampled.unobserved
        add_posterior_var(idata, "N", n_draws)
        coef = _coef_table(idata["posterior"], options.level)
        divergences = sampled.divergences
        extra = {
            "divergences": divergences,
            "max_rhat_coefficients": float(np.nanmax(coef["rhat"])) if len(coef) else float("nan"),
            "posterior_mean_unobserved_rate": float(np.exp(a).mean()),
            **sampler_diagnostics(idata, options.sampler),
        }
        if self.priors.prior == "flat":
            extra["minus_infinite_interactions"] = ", ".join(minus_inf) or "none"
        settings = {
            **self.priors.settings(),
            "interactions": [t for t in coef.loc[coef["kind"] == "interaction", "term"]],
            "unobserved": self.unobserved,
            "chains": options.chains,
            "draws": options.draws,
            "tune": options.tune,
            "target_accept": options.target_accept,
            "compile_mode": options.compile_mode,
            "sampler": options.sampler,
            "chain_seeds": seeds,
        }
        if minus_inf:
            settings["minus_infinite_interactions"] = minus_inf
        terms = settings["interactions"]
        if self.priors.prior == "horseshoe":
            settings["global_scale_used"] = _horseshoe_global_scale(
                self.priors, len(terms), data.n_observed
            )
        model_name = "main effects" + ("".join(f" + {t}" for t in terms + minus_inf))
        model_name += f" ({self.priors.prior} prior on interactions)" if terms else ""
        if minus_inf:
            model_name += f"; {', '.join(minus_inf)} at minus infinity (margin zero)"
        advice = N_("increase draws and tune, or target_accept")
        if divergences:
            advice = N_(
                "{divergences} divergent transitions: raise target_accept (e.g. 0.99) or use "
                "prior='normal' with a smaller prior_scale",
                divergences=divergences,
            )
        return result_from_draws(
            method=self.method,
            model=model_name,
            data=data,
            n_draws=n_draws,
            level=options.level,
            seed=options.seed,
            settings=settings,
            idata=idata,
            extra_diagnostics=extra,
            tables={"coefficients": coef},
            advice=advice,
            stacklevel=4,
        )


def _horseshoe_global_scale(p: _Priors, n_terms: int, n_obs: int) -> float:
    """Horseshoe global scale: ``p.global_scale``, or ``(1 / max(D - 1, 1)) / sqrt(n)``."""
    if p.global_scale is not None:
        return float(p.global_scale)
    return float((1.0 / max(n_terms - 1, 1)) / np.sqrt(max(n_obs, 1)))


def _interaction_prior(
    pm: Any, p: _Priors, n_terms: int, n_obs: int, dims: Any, shape: Any = None
) -> Any:
    """Interaction coefficients under the normal or regularised-horseshoe prior."""
    kw: dict[str, Any] = {"dims": dims} if shape is None else {"shape": shape}
    if p.prior == "normal":
        return pm.Normal("gamma", 0.0, p.prior_scale, **kw)
    tau0 = _horseshoe_global_scale(p, n_terms, n_obs)
    tau = pm.HalfStudentT("hs_tau", nu=1, sigma=tau0)
    lam = pm.HalfStudentT("hs_lambda", nu=1, sigma=1.0, **kw)
    c2 = pm.InverseGamma("hs_c2", alpha=p.slab_df / 2, beta=p.slab_df * p.slab_scale**2 / 2)
    lam_t = pm.math.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
    z = pm.Normal("hs_z", 0.0, 1.0, **kw)
    return pm.Deterministic("gamma", z * tau * lam_t, **kw)


def _coef_table(post: Any, level: float) -> pd.DataFrame:
    """Posterior summaries of intercept, main effects and interactions."""
    a = (1 - level) / 2
    rows = []

    def add(term: str, kind: str, x: np.ndarray) -> None:
        flat = x.ravel()
        mean, sd = float(flat.mean()), float(flat.std(ddof=1))
        # R-hat and bulk ESS only (as chain_diagnostics computes them; the MCSEs of quantiles
        # it adds cost more than the fit)
        ok = x.shape[1] > 3 and np.ptp(x) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rhat = cv.rhat(x) if ok and x.shape[0] > 1 else float("nan")
            ess = cv.ess_bulk(x) if ok else float("nan")
        rows.append(
            {
                "term": term,
                "kind": kind,
                "mean": mean,
                "sd": sd,
                "q_low": float(np.quantile(flat, a)),
                "q_high": float(np.quantile(flat, 1 - a)),
                "z": abs(mean) / sd if sd > 0 else float("inf"),
                "rhat": rhat,
                "ess_bulk": ess,
            }
        )

    add("(intercept)", "intercept", post["intercept"].to_numpy())
    beta = post["beta"]
    for i, name in enumerate(beta.coords[beta.dims[-1]].to_numpy()):
        add(str(name), "main", beta.to_numpy()[..., i])
    if "gamma" in post:
        gam = post["gamma"]
        for i, name in enumerate(gam.coords[gam.dims[-1]].to_numpy()):
            add(str(name), "interaction", gam.to_numpy()[..., i])
    return pd.DataFrame(rows)
