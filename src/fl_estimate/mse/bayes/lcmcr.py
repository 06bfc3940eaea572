"""Bayesian non-parametric latent-class capture–recapture (the model of the R package LCMCR).

Manrique-Vallier (2016): each person belongs to one of K* latent classes with weights from a
truncated stick-breaking (Dirichlet process) prior; given the class, the K lists capture
independently with class-specific probabilities. The unobserved people are imputed by data
augmentation, so the Gibbs sampler gives posterior draws of the population size N.

This is an independent implementation of the same model and the same Gibbs sampler as LCMCR's
``NPLCM_CR_Basic_Freq`` (cell-frequency form: the sweep costs O(cells x K* x lists), not
O(people)), compiled with numba (:mod:`fl_estimate.mse.bayes.lcmcr_kernels`, imported only
when a fit runs), running several chains in parallel threads with independent child seeds.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.mse.bayes.common import (
    ESS_MIN,
    RHAT_MAX,
    chain_diagnostics,
    check_count,
    draws_to_datatree,
    result_from_draws,
    several_modes,
)
from fl_estimate.results import EstimationResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fl_estimate.mse.data import CaptureData

__all__ = ["LCMCR"]

log = logging.getLogger(__name__)

#: Replica-sweeps per chain run by one call of the kernels. Runs are cut into pieces of about
#: this size (at draw boundaries; the pieces give exactly the draws of one call), so that a
#: progress bar can advance; the cut does not depend on whether a bar is shown.
PIECE_WORK = 20_000

#: Sweeps discarded when the chains switch to replica exchange (the fresh hot replicas settle).
TEMPER_SETTLE = 10_000


class _Chains:
    """Several chains' states and random streams, advanced together (in parallel threads)."""

    def __init__(
        self,
        model: LCMCR,
        cells: np.ndarray,
        freq: np.ndarray,
        n0_max: int,
        seeds: list[np.random.SeedSequence],
    ) -> None:
        from fl_estimate.mse.bayes import lcmcr_kernels

        self.kernels = lcmcr_kernels
        self.model = model
        self.cells, self.freq, self.n0_max = cells, freq, n0_max
        self.seeds = [str(s.entropy) + ":" + ",".join(map(str, s.spawn_key)) for s in seeds]
        self.rngs = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        dispersed = model.init == "dispersed"
        self.states = [
            lcmcr_kernels.init_chain(cells, freq, model.K, r, dispersed) for r in self.rngs
        ]
        self.sweeps = 0
        self.work = 0  # sweeps of every replica (the cost), per chain
        self.seconds = 0.0
        self.chain_seconds = 0.0
        self.betas: np.ndarray | None = None  # set by temper()
        self.swap_every = 1

    @property
    def width(self) -> int:
        """Replicas per chain (1 for plain Gibbs)."""
        return 1 if self.betas is None else len(self.betas)

    def temper(self, betas: np.ndarray, swap_every: int) -> None:
        """Switch to replica exchange: replica 0 of each chain continues from the chain's
        current state; the hotter replicas (data scaled by ``betas[1:]``) start afresh."""
        m = self.model
        betas = np.asarray(betas, dtype=float)
        freqs = np.rint(betas[:, None] * self.freq[None, :]).astype(np.int64)
        freqs[0] = self.freq
        for r in range(1, len(betas)):
            if freqs[r].sum() == 0:  # keep at least one person in the hottest replica
                freqs[r, int(np.argmax(self.freq))] = 1
        self.freqs = np.ascontiguousarray(freqs)
        self.betas = betas
        self.swap_every = int(swap_every)
        dispersed = m.init == "dispersed"
        reps = []
        for i, rng in enumerate(self.rngs):
            parts = [self.states[i]] + [
                self.kernels.init_chain(self.cells, self.freqs[r], m.K, rng, dispersed)
                for r in range(1, len(betas))
            ]
            reps.append(tuple(np.ascontiguousarray(np.stack(x)) for x in zip(*parts, strict=True)))
        self.replicas = reps
        self.swaps = [np.zeros((len(betas) - 1, 2), dtype=np.int64) for _ in self.rngs]

    def _pieces(self, skip: int, draws: int, thin: int) -> list[tuple[int, int]]:
        """(skip, draws) of consecutive kernel calls that together run ``skip + draws * thin``
        sweeps, each about :data:`PIECE_WORK` replica-sweeps; skips stay multiples of the
        exchange interval."""
        quantum = self.swap_every
        skip_piece = max(quantum, PIECE_WORK // self.width // quantum * quantum)
        out = [(min(skip_piece, skip - s), 0) for s in range(0, skip, skip_piece)]
        per = max(1, PIECE_WORK // (self.width * thin))
        out += [(0, min(per, draws - d)) for d in range(0, draws, per)]
        return out or [(0, 0)]

    def _advance(self, i: int, skip: int, draws: int, thin: int, warm: int) -> tuple[Any, ...]:
        """Advance chain ``i`` by one kernel call; returns (n0, alpha, k_star, seconds)."""
        m, k = self.model, self.kernels
        t = time.perf_counter()
        if self.betas is not None:
            lams, nus, log_nus, count0ks, scal = self.replicas[i]
            out = k.advance_tempered(
                self.cells,
                self.freqs,
                m.a_alpha,
                m.b_alpha,
                lams,
                nus,
                log_nus,
                count0ks,
                scal,
                self.sweeps,
                warm,
                skip,
                draws,
                thin,
                self.swap_every,
                self.rngs[i],
                self.swaps[i],
            )
        else:
            lam, nu, log_nu, count0k, scalars = self.states[i]
            out = k.advance_chain(
                self.cells,
                self.freq,
                m.a_alpha,
                m.b_alpha,
                lam,
                nu,
                log_nu,
                count0k,
                scalars,
                self.sweeps,
                warm,
                skip,
                draws,
                thin,
                self.rngs[i],
                self.n0_max,
            )
        return (*out, time.perf_counter() - t)

    def run(
        self,
        skip: int,
        draws: int,
        thin: int,
        n_jobs: int | None,
        warm: int,
        tick: Callable[[int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Advance every chain by ``skip + draws * thin`` sweeps; return the kept draws.

        ``tick(sweeps)`` is called after each piece of the run (for a progress bar).
        """
        n = len(self.rngs)
        quantum = self.swap_every
        skip = -(-skip // quantum) * quantum  # tempered: whole exchange blocks
        workers = n_jobs or min(n, os.cpu_count() or 1)
        kept: list[list[tuple[Any, ...]]] = []
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) if workers > 1 and n > 1 else _serial() as ex:
            for p_skip, p_draws in self._pieces(skip, draws, thin):
                each = [[x] * n for x in (p_skip, p_draws, thin, warm)]
                outs = list(ex.map(self._advance, range(n), *each))
                swept = p_skip + p_draws * thin
                self.chain_seconds += float(np.mean([o[3] for o in outs]))
                self.sweeps += swept
                self.work += swept * self.width
                kept.append(outs)
                if tick is not None:
                    tick(swept)
        self.seconds += time.perf_counter() - t0
        return {
            name: np.concatenate([np.stack([o[j] for o in outs]) for outs in kept], axis=1)
            for j, name in enumerate(("n0", "alpha", "k_star"))
        }

    def swap_rates(self) -> list[float]:
        """Share of accepted exchanges between each pair of neighbouring replicas."""
        tot = np.sum(np.stack(self.swaps), axis=0)
        return [float(x) for x in tot[:, 1] / np.maximum(tot[:, 0], 1)]

    def summary(self, out: dict[str, np.ndarray]) -> dict[str, Any]:
        return {
            **out,
            "capped_draws": int(sum(st[4][2] for st in self.states)),
            "swap_rates": None if self.betas is None else self.swap_rates(),
            "seconds": self.seconds,
            "iterations_per_chain": self.sweeps,
            "replica_sweeps_per_chain": self.work,
            "iterations_per_second_per_chain": float(self.work / max(self.chain_seconds, 1e-12)),
            "chain_seeds": self.seeds,
        }


class _Serial:
    """The ``map`` of an executor, run in the calling thread."""

    @staticmethod
    def map(fn: Callable[..., Any], *items: Any) -> Iterator[Any]:
        return map(fn, *items)


@contextmanager
def _serial() -> Iterator[_Serial]:
    yield _Serial()


@contextmanager
def _progress_bar(
    enabled: bool, what: str
) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar, one task per round; yields ``start(description, total)`` which
    returns the ``tick(sweeps)`` callback of a new task. Disabled: the callbacks do nothing.
    The words are in the language of the messages (``FL_ESTIMATE_LANG``, else the locale)."""
    if not enabled:
        yield lambda _d, _t: lambda _s: None
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fl_estimate.i18n import message_language, translate

    lang = message_language()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(escape(translate(N_("sweeps per chain"), lang))),
        TimeElapsedColumn(),
    ) as bar:

        def start(description: str, total: int) -> Callable[[int], None]:
            label = translate(N_("{what}: {step}", what=what, step=description), lang)
            task = bar.add_task(escape(label), total=total)
            return lambda s: bar.advance(task, s)

        yield start


@dataclass(frozen=True)
class _RunPlan:
    """Validated run options of :meth:`LCMCR.fit`."""

    chains: int
    draws: int
    thin: int
    burnin: int
    level: float
    n_jobs: int | None
    adapt: bool
    max_sweeps: int
    tempering: str
    ladder: np.ndarray
    swap_every: int

    @property
    def warm(self) -> int:
        """Sweeps with the concentration held at its start value (LCMCR's 500)."""
        return min(500, self.burnin)

    @property
    def can_temper(self) -> bool:
        return self.tempering != "never"

    def tempered_thin(self, thin: int) -> int:
        """``thin`` rounded up to a multiple of the exchange interval."""
        every = self.swap_every
        return max(every, -(-thin // every) * every)

    def ess_target(self) -> float:
        """ESS wanted of N: 400, or half the kept draws when fewer than 800 are kept."""
        return min(ESS_MIN, self.chains * self.draws / 2)


# ---------------------------------------------------------------------------- estimator
class LCMCR:
    """Latent-class (Dirichlet process mixture) capture–recapture, Manrique-Vallier (2016).

    Parameters
    ----------
    K : int, default 10
        Truncation of the stick-breaking prior (maximum number of latent classes, LCMCR's ``K``).
    a_alpha, b_alpha : float, default 0.25
        Gamma(shape, rate) prior on the Dirichlet-process concentration (LCMCR's defaults).
    max_unobserved_ratio : float, optional
        Cap the unobserved count at this multiple of the number observed (the negative-binomial
        update is then truncated; draws that hit the cap are counted in
        ``diagnostics["capped_draws"]``). Default: no cap, as in LCMCR 0.4.14, whose
        ``NPLCM_CR_Basic_Freq`` sampler produced the reference values.
    init : {"lcmcr", "dispersed"}, default "lcmcr"
        Starting state of each chain. ``"lcmcr"``: LCMCR's start (all classes at the lists'
        observed capture shares, concentration 0.3/K* for 500 sweeps), chains differing only in
        their random streams: this reproduces LCMCR's answers. ``"dispersed"``: jittered
        capture probabilities and random class weights, so chains start apart and R-hat
        sees regions that one start would take long to leave.

    Notes
    -----
    Model: class weights ``nu ~ stick-breaking(alpha)`` truncated at ``K``,
    ``alpha ~ Gamma(a_alpha, b_alpha)``, capture probabilities ``lambda_jk ~ Beta(1, 1)``,
    ``p(N) ∝ 1/N``. Each Gibbs sweep updates the class counts of every observed capture
    pattern (multinomial), the ``lambda`` (beta), the stick-breaking weights (beta, drawn
    through log-gamma variates), the unobserved count ``n0 ~ NegBin(n, 1 - p0)`` with
    ``p0 = sum_k nu_k prod_j (1 - lambda_jk)``, the classes of the unobserved (multinomial),
    and ``alpha ~ Gamma(a_alpha + K - 1, b_alpha - log nu_K)``. Chains start
    from LCMCR's own initial state unless ``init="dispersed"``.

    References
    ----------
    Manrique-Vallier, D. (2016). Bayesian population size estimation using Dirichlet process
    mixtures. Biometrics 72(4), 1246–1254. doi:10.1111/biom.12502

    Examples
    --------
    >>> from fl_estimate.simulate import simulate
    >>> sim = simulate(2000, ["a", "b", "c"], capture_probs=0.3, seed=1)
    >>> res = LCMCR().fit(sim.data, seed=1, draws=500, thin=20, burnin=2000)
    >>> res.interval_kind, res.ci_low < 2000 < res.ci_high
    ('credible-eti', True)
    >>> res.diagnostics["converged"], res.draws["posterior"]["N"].shape[0]  # 4 chains
    (True, 4)
    """

    method = "lcmcr"

    def __init__(
        self,
        K: int = 10,
        a_alpha: float = 0.25,
        b_alpha: float = 0.25,
        max_unobserved_ratio: float | None = None,
        init: str = "lcmcr",
    ) -> None:
        if int(K) != K or K < 1:
            raise ModelSpecificationError(
                N_(
                    "K (number of latent classes) must be an integer >= 1 (1 is the "
                    "independence model), got {K!r}",
                    K=K,
                )
            )
        if not (a_alpha > 0 and b_alpha > 0):
            raise ModelSpecificationError(
                N_(
                    "a_alpha and b_alpha must be positive, got {a!r}, {b!r}",
                    a=a_alpha,
                    b=b_alpha,
                )
            )
        if max_unobserved_ratio is not None and not max_unobserved_ratio > 0:
            raise ModelSpecificationError(
                N_(
                    "max_unobserved_ratio must be positive or None, got {value!r}",
                    value=max_unobserved_ratio,
                )
            )
        if init not in ("lcmcr", "dispersed"):
            raise ModelSpecificationError(
                N_("init must be 'lcmcr' or 'dispersed', got {value!r}", value=init)
            )
        self.init = init
        self.K = int(K)
        self.a_alpha = float(a_alpha)
        self.b_alpha = float(b_alpha)
        self.max_unobserved_ratio = max_unobserved_ratio

    def __repr__(self) -> str:
        return (
            f"LCMCR(K={self.K}, a_alpha={self.a_alpha}, b_alpha={self.b_alpha}, "
            f"max_unobserved_ratio={self.max_unobserved_ratio}, init={self.init!r})"
        )

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _check_counts(**kw: int) -> None:
        lows = {"chains": 1, "draws": 1, "thin": 1, "burnin": 0, "max_sweeps": 1}
        for name, v in kw.items():
            check_count(name, v, lows[name])

    def _plan(self, data: CaptureData, **o: Any) -> _RunPlan:
        """Check the table and the run options of :meth:`fit` before any sampling."""
        if data.n_lists < 2:
            raise ModelSpecificationError(N_("LCMCR needs at least 2 lists"))
        if data.n_observed == 0:
            raise ModelSpecificationError(
                N_("{source}: no one observed; nothing to estimate", source=data.source)
            )
        self._check_counts(**{k: o[k] for k in ("chains", "draws", "thin", "burnin", "max_sweeps")})
        tempering, temperatures, hottest = o["tempering"], o["temperatures"], o["hottest"]
        if tempering not in ("auto", "always", "never"):
            raise ModelSpecificationError(
                N_("tempering must be 'auto', 'always' or 'never', got {value!r}", value=tempering)
            )
        if int(temperatures) != temperatures or temperatures < 2 or not 0 < hottest < 1:
            raise ModelSpecificationError(
                N_(
                    "temperatures must be an integer >= 2 and hottest in (0, 1), got "
                    "{temperatures!r}, {hottest!r}",
                    temperatures=temperatures,
                    hottest=hottest,
                )
            )
        every = o["swap_every"]
        if int(every) != every or every < 1:
            raise ModelSpecificationError(
                N_(
                    "{name} must be an integer >= {low}, got {value!r}",
                    name="swap_every",
                    low=1,
                    value=every,
                )
            )
        capped = self.max_unobserved_ratio is not None
        if tempering == "always" and capped:
            raise ModelSpecificationError(
                "tempering is not available with max_unobserved_ratio (the cap breaks the "
                "closed-form likelihood the exchange moves use)"
            )
        t = int(temperatures)
        return _RunPlan(
            chains=int(o["chains"]),
            draws=int(o["draws"]),
            thin=int(o["thin"]),
            burnin=int(o["burnin"]),
            level=float(o["level"]),
            n_jobs=o["n_jobs"],
            adapt=bool(o["adapt"]),
            max_sweeps=int(o["max_sweeps"]),
            tempering="never" if capped else tempering,
            ladder=float(hottest) ** (np.arange(t) / (t - 1)),
            swap_every=int(every),
        )

    def _chains(self, data: CaptureData, seed: SeedLike, chains: int) -> _Chains:
        keep = data.counts > 0
        cells = np.ascontiguousarray(data.patterns[keep].astype(np.uint8))
        freq = np.ascontiguousarray(data.counts[keep].astype(np.int64))
        n0_max = -1
        if self.max_unobserved_ratio is not None:
            n0_max = math.floor(self.max_unobserved_ratio * int(freq.sum()))
        return _Chains(self, cells, freq, n0_max, spawn_seeds(seed, int(chains)))

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        data: CaptureData,
        *,
        chains: int = 4,
        draws: int = 1000,
        seed: SeedLike = None,
        thin: int = 100,
        burnin: int = 20_000,
        n_jobs: int | None = None,
    ) -> dict[str, Any]:
        """Run the chains for a fixed length and return raw draws (``n0``, ``alpha``,
        ``k_star``: (chains, draws)).

        Also returns ``seconds`` (wall time), ``iterations_per_second_per_chain`` and
        ``capped_draws``. :meth:`fit` wraps this into an :class:`EstimationResult` (and by
        default extends the chains until they converge).

        Examples
        --------
        >>> from fl_estimate.simulate import simulate
        >>> data = simulate(500, ["a", "b", "c"], capture_probs=0.4, seed=2).data
        >>> raw = LCMCR().sample(data, seed=1, chains=2, draws=100, thin=5, burnin=200)
        >>> raw["n0"].shape, raw["iterations_per_chain"]
        ((2, 100), 700)
        """
        self._check_counts(chains=chains, draws=draws, thin=thin, burnin=burnin)
        ch = self._chains(data, seed, chains)
        out = ch.run(int(burnin), int(draws), int(thin), n_jobs, warm=min(500, int(burnin)))
        return ch.summary(out)

    def fit(
        self,
        data: CaptureData,
        *,
        chains: int = 4,
        draws: int = 1000,
        seed: SeedLike = None,
        level: float = 0.95,
        thin: int = 100,
        burnin: int = 20_000,
        n_jobs: int | None = None,
        adapt: bool = True,
        max_sweeps: int = 12_000_000,
        tempering: str = "auto",
        temperatures: int = 16,
        hottest: float = 0.01,
        swap_every: int = 2,
        progress: bool = False,
    ) -> EstimationResult:
        """Sample the posterior of N, extending the chains until they converge.

        Parameters
        ----------
        data : CaptureData
            One capture table (at least 2 lists).
        seed : int, Generator or SeedSequence, optional
            The chains use independent child seeds ``SeedSequence(seed).spawn(chains)``, so the
            result does not depend on how many run at once.
        chains : int, default 4
            Chains, run in parallel threads (the sampler releases the GIL).
        draws : int, default 1000
            Draws kept per chain.
        thin : int, default 100
            Gibbs sweeps per kept draw.
        burnin : int, default 20000
            Sweeps discarded at the start of each chain.
        level : float, default 0.95
            Credible level of the equal-tailed interval.
        n_jobs : int, optional
            Threads (default ``min(chains, CPUs)``).
        adapt : bool, default True
            If the first ``burnin + draws * thin`` sweeps leave R-hat of N above 1.01 or its
            bulk or tail ESS below 400, continue every chain from where it stopped: with
            replica exchange (see ``tempering``) if the chains sit in different modes (two
            chains' interquartile ranges of N apart, or a bimodal pooled histogram:
            ``tables["rounds"]["several_modes"]`` says which); otherwise, and after that, with
            more draws of the same chains, pooled with those already kept less the first half
            of the first round (more burn-in). Each extension is sized from the ESS per draw
            so far (aiming at 1.25 times the ESS wanted); beyond 8 x ``draws`` per chain the
            kept draws are thinned by two. Rounds continue until the chains pass or the
            budget (``max_sweeps``) is spent; they are in ``tables["rounds"]``. The decisions
            depend only on the draws, so the same seed still gives the same result.
            ``adapt=False`` runs exactly the requested length.
        max_sweeps : int, default 12,000,000
            Most Gibbs sweeps per chain when adapting, counting every tempered replica's sweeps
            (LCMCR's reference runs used 600,000 sweeps of one chain).
        tempering : {"auto", "always", "never"}, default "auto"
            Replica exchange (parallel tempering) for multimodal posteriors. Each chain runs
            ``temperatures`` copies of the sampler on the table with its counts scaled by
            ``beta`` (geometric from 1 down to ``hottest``); neighbours exchange their
            parameters with the exact Metropolis probability computed from the likelihood with
            N integrated out, and only the real-data copy is kept. Where a plain chain sits in
            one mode for hundreds of thousands of sweeps (the Netherlands and UK tables: LCMCR's
            seeds disagree by up to a factor of three there), the hot copies move between the
            modes and hand them down. ``"auto"``: switch to it when a round fails and the
            chains sit in different modes (see ``adapt``); ``"always"``: from the end of
            burn-in. Not available with
            ``max_unobserved_ratio`` (the cap breaks the closed-form likelihood).
        temperatures : int, default 16
            Replicas per chain when tempering (including the real-data one).
        hottest : float, default 0.01
            Count scale of the hottest replica.
        swap_every : int, default 2
            Sweeps between exchange proposals (the thinning is rounded up to a multiple).
            Frequent proposals move the parameters through the ladder faster; a proposal costs
            about as much as a fraction of a sweep.
        progress : bool, default False
            Show a rich progress bar (one line per round, in sweeps per chain) on the console.
            Off in library use; the CLI turns it on for interactive runs. It changes nothing
            in the draws.

        Returns
        -------
        EstimationResult
            ``estimate`` the posterior median of N, ``interval`` the equal-tailed credible
            interval; ``diagnostics``: ``rhat_N``, ``ess_bulk_N``, ``ess_tail_N``, Monte Carlo
            standard errors of the median and interval ends, ``converged``, per-chain medians
            (``chain_medians``), ``iterations_per_chain`` (all sweeps run, burn-in included),
            ``thin`` (of the kept draws), ``rounds``, ``iterations_per_second_per_chain``,
            ``capped_draws``; ``draws``: an ArviZ DataTree with ``N``, ``alpha`` and ``k_star``
            (occupied classes).

        Warns
        -----
        ConvergenceWarning
            When, after adapting, R-hat of N > 1.01 or its bulk or tail ESS < 400.
        """
        plan = self._plan(
            data,
            chains=chains,
            draws=draws,
            thin=thin,
            burnin=burnin,
            level=level,
            n_jobs=n_jobs,
            adapt=adapt,
            max_sweeps=max_sweeps,
            tempering=tempering,
            temperatures=temperatures,
            hottest=hottest,
            swap_every=swap_every,
        )
        ch = self._chains(data, seed, plan.chains)
        with _progress_bar(progress, N_("lcmcr on {source}", source=data.source)) as bar:
            out, thin_used, rounds = self._run_rounds(data, ch, plan, bar)
        return self._result(data, ch, out, thin_used, rounds, plan, seed)

    def _run_rounds(
        self, data: CaptureData, ch: _Chains, plan: _RunPlan, bar: Callable[..., Any]
    ) -> tuple[dict[str, np.ndarray], int, list[dict[str, Any]]]:
        """The first round, then (``adapt``) further rounds until the chains pass or the
        budget is spent. Returns the kept draws, their thinning and every round's row."""
        thin, kept = self._first_round(ch, plan, bar)
        rounds: list[dict[str, Any]] = []
        burned = False  # the first half of this sampler's first round dropped yet?
        while True:
            n_draws = kept["n0"] + data.n_observed
            d = chain_diagnostics(n_draws, plan.level)
            modes = several_modes(n_draws)
            rounds.append(
                {
                    "round": len(rounds),
                    "tempered": ch.betas is not None,
                    "sweeps_per_chain": ch.sweeps,
                    "replica_sweeps_per_chain": ch.work,
                    "thin": thin,
                    "draws_per_chain": n_draws.shape[1],
                    "rhat_N": d["rhat_N"],
                    "ess_bulk_N": d["ess_bulk_N"],
                    "ess_tail_N": d["ess_tail_N"],
                    "several_modes": modes or "",
                }
            )
            drop = 0 if burned else n_draws.shape[1] // 2
            step, more = self._next_step(d, modes, ch, plan, thin, n_draws.shape[1] - drop)
            if step == "stop":
                return kept, thin, rounds
            what = N_("round {n}", n=len(rounds))
            if step == "temper":
                log.info(
                    "lcmcr on %s: the chains sit in different modes after %s sweeps (%s; R-hat "
                    "%.2f); continuing with replica exchange (%d tempered copies per chain, up "
                    "to %s replica-sweeps per chain: this can take minutes)",
                    data.source,
                    f"{ch.sweeps:,}",
                    modes,
                    d["rhat_N"],
                    len(plan.ladder),
                    f"{plan.max_sweeps:,}",
                )
                ch.temper(plan.ladder, plan.swap_every)
                thin = plan.tempered_thin(plan.thin)
                total = TEMPER_SETTLE + plan.draws * thin
                tick = bar(N_("{round} (replica exchange)", round=what), total)
                kept = ch.run(TEMPER_SETTLE, plan.draws, thin, plan.n_jobs, plan.warm, tick)
                burned = False
                continue
            log.debug("lcmcr on %s: %d more draws per chain", data.source, more)
            kept, thin = self._extend(ch, plan, kept, drop, more, thin, partial(bar, what))
            burned = True

    @staticmethod
    def _first_round(
        ch: _Chains, plan: _RunPlan, bar: Callable[..., Any]
    ) -> tuple[int, dict[str, np.ndarray]]:
        """Burn-in and the first ``draws`` per chain (tempered from the start with
        ``tempering="always"``); returns the thinning and the draws."""
        if plan.tempering == "always":
            ch.run(plan.burnin, 0, 1, plan.n_jobs, plan.warm, bar(N_("burn-in"), plan.burnin))
            ch.temper(plan.ladder, plan.swap_every)
            thin = plan.tempered_thin(plan.thin)
            tick = bar(
                N_("{round} (replica exchange)", round=N_("round {n}", n=0)), plan.draws * thin
            )
            return thin, ch.run(0, plan.draws, thin, plan.n_jobs, plan.warm, tick)
        tick = bar(N_("round {n}", n=0), plan.burnin + plan.draws * plan.thin)
        return plan.thin, ch.run(plan.burnin, plan.draws, plan.thin, plan.n_jobs, plan.warm, tick)

    @staticmethod
    def _extend(
        ch: _Chains,
        plan: _RunPlan,
        kept: dict[str, np.ndarray],
        drop: int,
        more: int,
        thin: int,
        bar: Callable[[int], Callable[[int], None]],
    ) -> tuple[dict[str, np.ndarray], int]:
        """Continue the chains by ``more`` draws and pool them with ``kept`` less its first
        ``drop`` draws; beyond 8 x ``draws`` per chain, every other draw (ending at the newest)
        is kept and the thinning doubled. Returns the pooled draws and their thinning."""
        carried = {k: v[:, drop:] for k, v in kept.items()}
        if carried["n0"].shape[1] + more > 8 * plan.draws:
            carried = {k: v[:, ::-1][:, ::2][:, ::-1] for k, v in carried.items()}
            thin *= 2
            more = -(-more // 2)
        new = ch.run(0, more, thin, plan.n_jobs, plan.warm, bar(more * thin))
        return {k: np.concatenate([carried[k], new[k]], axis=1) for k in carried}, thin

    @staticmethod
    def _next_step(
        d: dict[str, Any],
        modes: str | None,
        ch: _Chains,
        plan: _RunPlan,
        thin: int,
        carried: int,
    ) -> tuple[str, int]:
        """What the adaptive run does after a round: ``("stop", 0)``, ``("temper", 0)`` or
        ``("extend", more)`` with ``more`` draws to add per chain to the ``carried`` ones.

        A round that fails (R-hat > 1.01 or an ESS short) is extended with plain chains while
        the chains agree in location; replica exchange (16x the cost per sweep) starts only on
        evidence of several modes (``modes``, from
        :func:`~fl_estimate.mse.bayes.common.several_modes`: two chains' interquartile ranges
        apart, or a bimodal pooled histogram). An extension is sized from the ESS per draw so
        far: the pooled draws should give 1.25 times the ESS wanted (at least twice as many
        draws when R-hat fails, at least 1.5 and at most 8 times as many as now). Depends only
        on the draws and the budget, so a seed still fixes the result.
        """
        rhat = d["rhat_N"]
        ess = min(d["ess_bulk_N"], d["ess_tail_N"])
        if not plan.adapt or not (rhat > RHAT_MAX or ess < plan.ess_target()):
            return "stop", 0
        if plan.can_temper and ch.betas is None and modes is not None:
            cost = (TEMPER_SETTLE + plan.draws * plan.thin) * len(plan.ladder)
            return ("temper", 0) if ch.work + cost <= plan.max_sweeps else ("stop", 0)
        window = d["draws_per_chain"]
        want = 1.25 * plan.ess_target() * window / max(ess if np.isfinite(ess) else 1.0, 1.0)
        if np.isfinite(rhat) and rhat > RHAT_MAX:
            want = max(want, 2.0 * window)
        want = min(max(want, 1.5 * window), 8.0 * window)
        more = max(1, math.ceil(want - carried))
        room = (plan.max_sweeps - ch.work) // (thin * ch.width)  # draws the budget allows
        if room < max(1, min(more, window // 2)):
            return "stop", 0
        return "extend", min(more, room)

    # ------------------------------------------------------------------ result
    def _result(
        self,
        data: CaptureData,
        ch: _Chains,
        out: dict[str, np.ndarray],
        thin_used: int,
        rounds: list[dict[str, Any]],
        plan: _RunPlan,
        seed: SeedLike,
    ) -> EstimationResult:
        raw = ch.summary(out)
        level = plan.level
        n_draws = raw["n0"] + data.n_observed
        idata = draws_to_datatree(
            {"N": n_draws, "alpha": raw["alpha"], "k_star": raw["k_star"]},
            method="lcmcr",
        )
        chain_meds = np.median(n_draws, axis=1)
        extra = {
            "chain_medians": [float(x) for x in chain_meds],
            "chain_spread": float(chain_meds.max() / chain_meds.min() - 1),
            "iterations_per_chain": raw["iterations_per_chain"],
            "iterations_per_second_per_chain": raw["iterations_per_second_per_chain"],
            "seconds": raw["seconds"],
            "capped_draws": raw["capped_draws"],
            "mean_occupied_classes": float(raw["k_star"].mean()),
            "thin": thin_used,
            "rounds": len(rounds),
            "tempered": ch.betas is not None,
            "replica_sweeps_per_chain": raw["replica_sweeps_per_chain"],
            "swap_rates": raw["swap_rates"],
        }
        settings = {
            "K": self.K,
            "a_alpha": self.a_alpha,
            "b_alpha": self.b_alpha,
            "max_unobserved_ratio": self.max_unobserved_ratio,
            "init": self.init,
            "chains": plan.chains,
            "draws": plan.draws,
            "thin": plan.thin,
            "burnin": plan.burnin,
            "adapt": plan.adapt,
            "max_sweeps": plan.max_sweeps,
            "tempering": plan.tempering,
            "temperatures": len(plan.ladder),
            "hottest": float(plan.ladder[-1]),
            "swap_every": plan.swap_every,
            "chain_seeds": raw["chain_seeds"],
        }
        chain_table = pd.DataFrame(
            {
                "chain": np.arange(n_draws.shape[0]),
                "median": chain_meds,
                "q_low": np.quantile(n_draws, (1 - level) / 2, axis=1),
                "q_high": np.quantile(n_draws, (1 + level) / 2, axis=1),
            }
        )
        notes = None
        if raw["capped_draws"]:
            notes = (
                f"{raw['capped_draws']} draws hit the cap of {self.max_unobserved_ratio}x the "
                "observed count: the upper limit is truncated"
            )
        return result_from_draws(
            method=self.method,
            model=f"latent classes, K*={self.K}, Dirichlet process",
            data=data,
            n_draws=n_draws,
            level=level,
            seed=seed,
            settings=settings,
            idata=idata,
            extra_diagnostics=extra,
            tables={"chains": chain_table, "rounds": pd.DataFrame(rounds)},
            advice=self._advice(plan, raw["iterations_per_chain"]),
            interval_notes=notes,
            stacklevel=4,
        )

    @staticmethod
    def _advice(plan: _RunPlan, sweeps: int) -> str:
        """What to type next when the chains did not converge."""
        kept = plan.chains * plan.draws
        draws = (
            N_("with more draws (ESS cannot exceed the {kept} draws kept) ", kept=kept)
            if kept < 2 * ESS_MIN
            else ""
        )
        compare = N_(
            "and compare the chain medians in result.tables['chains']; if chains settle on "
            "different values the posterior is multimodal and no single estimate should be "
            "reported"
        )
        if plan.adapt:
            return N_(
                "each chain ran {sweeps:,} sweeps (the max_sweeps limit); rerun with "
                "fit(data, max_sweeps={max_sweeps}) {draws}{compare}",
                sweeps=sweeps,
                max_sweeps=4 * plan.max_sweeps,
                draws=draws,
                compare=compare,
            )
        return N_(
            "rerun with more sweeps, e.g. fit(data, thin={thin}, burnin={burnin}) or with "
            "adapt=True, {draws}{compare}",
            thin=2 * plan.thin,
            burnin=2 * plan.burnin,
            draws=draws,
            compare=compare,
        )
