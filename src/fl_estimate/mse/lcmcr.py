"""Bayesian non-parametric latent-class capture–recapture (the model of the R package LCMCR).

Manrique-Vallier (2016): each person belongs to one of K* latent classes with weights from a
truncated stick-breaking (Dirichlet process) prior; given the class, the K lists capture
independently with class-specific probabilities. The unobserved people are imputed by data
augmentation, so the Gibbs sampler gives posterior draws of the population size N.

This is an independent implementation of the same model and the same Gibbs sampler as LCMCR's
``NPLCM_CR_Basic_Freq`` (cell-frequency form: the sweep costs O(cells x K* x lists), not
O(people)), compiled with numba, running several chains in parallel threads with independent
child seeds.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numba import njit

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse._bayes import draws_to_datatree, result_from_draws
from fl_estimate.results import EstimationResult

if TYPE_CHECKING:
    from fl_estimate.mse.data import CaptureData

__all__ = ["LCMCR"]


# ---------------------------------------------------------------------------- numba kernel
@njit(cache=True, nogil=True)
def _log_gamma_rv(rng: np.random.Generator, a: float) -> float:
    """log of a Gamma(a, 1) variate, accurate for small shapes (Gamma(a) = Gamma(a+1) U^(1/a))."""
    if a < 1.0:
        u = rng.random()
        while u <= 0.0:
            u = rng.random()
        return math.log(rng.gamma(a + 1.0, 1.0)) + math.log(u) / a
    return math.log(rng.gamma(a, 1.0))


@njit(cache=True, nogil=True)
def _log_add(a: float, b: float) -> float:
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, nogil=True)
def _multinomial(
    rng: np.random.Generator, n: int, probs: np.ndarray, total: float, out: np.ndarray
) -> None:
    """Multinomial(n, probs / total): categorical draws for n <= 4, else sequential binomials."""
    k_len = probs.shape[0]
    for k in range(k_len):
        out[k] = 0
    if n == 0:
        return
    if n <= 4:
        # a few categorical draws are cheaper than up to K-1 binomial draws
        for _ in range(n):
            u = rng.random() * total
            acc = 0.0
            hit = k_len - 1
            for k in range(k_len):
                acc += probs[k]
                if u < acc:
                    hit = k
                    break
            out[hit] += 1
        return
    rem = n
    rest = total
    for k in range(k_len - 1):
        if rem == 0:
            return
        if rest <= 0.0:
            break
        p = probs[k] / rest
        if p >= 1.0:
            out[k] = rem
            return
        x = rng.binomial(rem, p) if p > 0.0 else 0
        out[k] = x
        rem -= x
        rest -= probs[k]
    out[k_len - 1] += rem


@njit(cache=True, nogil=True)
def _run_chain(
    cells: np.ndarray,
    freq: np.ndarray,
    n_classes: int,
    a_alpha: float,
    b_alpha: float,
    burnin: int,
    n_draws: int,
    thin: int,
    rng: np.random.Generator,
    n0_max: int,
    dispersed: bool,
):
    """One Gibbs chain. Returns (n0 draws, alpha draws, occupied-class draws, capped count)."""
    m_cells, n_lists = cells.shape
    kk = n_classes
    n_obs = 0
    for m in range(m_cells):
        n_obs += freq[m]

    lam = np.empty((n_lists, kk))
    nu = np.empty(kk)
    log_nu = np.empty(kk)
    count_mk = np.zeros((m_cells, kk), dtype=np.int64)
    count0k = np.zeros(kk, dtype=np.int64)
    countk = np.zeros(kk, dtype=np.int64)
    aux1 = np.zeros((n_lists, kk), dtype=np.int64)
    aux0 = np.zeros((n_lists, kk), dtype=np.int64)
    probs = np.empty(kk)
    probs0 = np.empty(kk)

    # start. "lcmcr" (dispersed=False): LCMCR's own start, every class at the lists' observed
    # capture shares, four big classes, and a tiny concentration (0.3 / K*) held for the first
    # 500 sweeps, so the chain settles in the few-class region first. "dispersed": capture
    # probabilities jittered by a factor U(0.5, 1.5) per class and class weights from one
    # stick-breaking draw, so that chains start apart and R-hat can see separate modes.
    for j in range(n_lists):
        on_list = 0
        for m in range(m_cells):
            if cells[m, j] == 1:
                on_list += freq[m]
        p = on_list / n_obs
        for k in range(kk):
            q = p * (0.5 + rng.random()) if dispersed else p
            lam[j, k] = min(max(q, 0.01), 0.99)
    if dispersed:
        lacc = 0.0
        for k in range(kk - 1):
            g1 = _log_gamma_rv(rng, 1.0)
            g2 = _log_gamma_rv(rng, 1.0)
            gs = _log_add(g1, g2)
            log_nu[k] = g1 - gs + lacc
            lacc += g2 - gs
        log_nu[kk - 1] = lacc
        for k in range(kk):
            nu[k] = math.exp(log_nu[k])
        alpha = 1.0
    else:
        big = min(4, kk)
        for k in range(kk):
            nu[k] = 0.9 / big if k < big else 0.1 / (kk - big)
        if kk == big:
            for k in range(kk):
                nu[k] = 1.0 / kk
        for k in range(kk):
            log_nu[k] = math.log(nu[k])
        alpha = 0.3 / kk
    n0 = 0

    out_n0 = np.empty(n_draws, dtype=np.int64)
    out_alpha = np.empty(n_draws)
    out_kstar = np.empty(n_draws, dtype=np.int64)
    capped = 0
    total_iter = burnin + n_draws * thin
    warm = min(500, burnin)  # LCMCR holds alpha fixed for its first 500 sweeps
    d = 0
    for it in range(total_iter):
        # 1. latent classes of the observed people, cell by cell
        for m in range(m_cells):
            tot = 0.0
            for k in range(kk):
                p = nu[k]
                for j in range(n_lists):
                    if cells[m, j] == 1:
                        p *= lam[j, k]
                    else:
                        p *= 1.0 - lam[j, k]
                probs[k] = p
                tot += p
            _multinomial(rng, freq[m], probs, tot, count_mk[m])
        # 2. capture probabilities: Beta(1 + captured, 1 + not captured), unobserved included
        for j in range(n_lists):
            for k in range(kk):
                aux1[j, k] = 0
                aux0[j, k] = count0k[k]
        for m in range(m_cells):
            for k in range(kk):
                c = count_mk[m, k]
                if c > 0:
                    for j in range(n_lists):
                        if cells[m, j] == 1:
                            aux1[j, k] += c
                        else:
                            aux0[j, k] += c
        for j in range(n_lists):
            for k in range(kk):
                if aux1[j, k] == 0 and aux0[j, k] == 0:
                    lam[j, k] = rng.random()  # empty class: Beta(1, 1) is uniform
                else:
                    lam[j, k] = rng.beta(1.0 + aux1[j, k], 1.0 + aux0[j, k])
        # 3. stick-breaking weights, in logs (classes can be nearly empty)
        for k in range(kk):
            countk[k] = count0k[k]
        for m in range(m_cells):
            for k in range(kk):
                countk[k] += count_mk[m, k]
        total = n_obs + n0
        acc = 0
        lacc = 0.0
        for k in range(kk - 1):
            acc += countk[k]
            g1 = _log_gamma_rv(rng, 1.0 + countk[k])
            g2 = _log_gamma_rv(rng, alpha + (total - acc))
            gs = _log_add(g1, g2)
            log_nu[k] = g1 - gs + lacc
            lacc += g2 - gs
        log_nu[kk - 1] = lacc
        for k in range(kk):
            nu[k] = math.exp(log_nu[k])
        # 4. probability of being missed by every list
        p0 = 0.0
        for k in range(kk):
            p = nu[k]
            for j in range(n_lists):
                p *= 1.0 - lam[j, k]
            probs0[k] = p
            p0 += p
        # 5. unobserved count: NegBin(n, 1 - p0) (the prior p(N) proportional to 1/N)
        succ = 1.0 - p0
        if succ < 1e-12:
            n0 = n0_max if n0_max >= 0 else 2**40
            capped += 1
        else:
            n0 = rng.negative_binomial(n_obs, succ)
            if n0_max >= 0 and n0 > n0_max:
                tries = 0
                while n0 > n0_max and tries < 100:
                    n0 = rng.negative_binomial(n_obs, succ)
                    tries += 1
                if n0 > n0_max:
                    n0 = n0_max
                    capped += 1
        # 6. classes of the unobserved
        _multinomial(rng, n0, probs0, p0, count0k)
        # 7. concentration: Gamma(a + K* - 1, rate b - log(last stick))
        if it >= warm:
            rate = b_alpha - log_nu[kk - 1]
            alpha = rng.gamma(a_alpha + kk - 1.0, 1.0 / rate)
        if it >= burnin and (it - burnin + 1) % thin == 0:
            out_n0[d] = n0
            out_alpha[d] = alpha
            ks = 0
            for k in range(kk):
                if countk[k] > 0:
                    ks += 1
            out_kstar[d] = ks
            d += 1
    return out_n0, out_alpha, out_kstar, capped


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
    >>> res.interval_kind
    'credible-eti'
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
                f"K (number of latent classes) must be an integer >= 1 (1 is the independence model), got {K!r}"
            )
        if not (a_alpha > 0 and b_alpha > 0):
            raise ModelSpecificationError(
                f"a_alpha and b_alpha must be positive, got {a_alpha!r}, {b_alpha!r}"
            )
        if max_unobserved_ratio is not None and not max_unobserved_ratio > 0:
            raise ModelSpecificationError(
                f"max_unobserved_ratio must be positive or None, got {max_unobserved_ratio!r}"
            )
        if init not in ("lcmcr", "dispersed"):
            raise ModelSpecificationError(f"init must be 'lcmcr' or 'dispersed', got {init!r}")
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

    def sample(
        self,
        data: CaptureData,
        *,
        seed: SeedLike = None,
        chains: int = 4,
        draws: int = 1000,
        thin: int = 100,
        burnin: int = 20_000,
        n_jobs: int | None = None,
    ) -> dict[str, Any]:
        """Run the chains and return raw draws (``n0``, ``alpha``, ``k_star``: (chains, draws)).

        Also returns ``seconds`` (wall time), ``iterations_per_second_per_chain`` and
        ``capped_draws``. :meth:`fit` wraps this into an :class:`EstimationResult`.
        """
        for name, v, lo in (
            ("chains", chains, 1),
            ("draws", draws, 1),
            ("thin", thin, 1),
            ("burnin", burnin, 0),
        ):
            if int(v) != v or v < lo:
                raise ModelSpecificationError(f"{name} must be an integer >= {lo}, got {v!r}")
        keep = data.counts > 0
        cells = np.ascontiguousarray(data.patterns[keep].astype(np.uint8))
        freq = np.ascontiguousarray(data.counts[keep].astype(np.int64))
        n_obs = int(freq.sum())
        n0_max = -1
        if self.max_unobserved_ratio is not None:
            n0_max = math.floor(self.max_unobserved_ratio * n_obs)
        child = spawn_seeds(seed, int(chains))
        chain_seeds = [str(s.entropy) + ":" + ",".join(map(str, s.spawn_key)) for s in child]

        def one(s: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
            rng = np.random.Generator(np.random.PCG64(s))
            t = time.perf_counter()
            out = _run_chain(
                cells,
                freq,
                self.K,
                self.a_alpha,
                self.b_alpha,
                int(burnin),
                int(draws),
                int(thin),
                rng,
                n0_max,
                self.init == "dispersed",
            )
            return (*out, time.perf_counter() - t)

        workers = n_jobs or min(int(chains), os.cpu_count() or 1)
        t0 = time.perf_counter()
        if workers > 1 and chains > 1:
            with ThreadPoolExecutor(max_workers=workers) as ex:
                outs = list(ex.map(one, child))
        else:
            outs = [one(s) for s in child]
        seconds = time.perf_counter() - t0
        iters = int(burnin) + int(draws) * int(thin)
        chain_secs = np.array([o[4] for o in outs])
        return {
            "n0": np.stack([o[0] for o in outs]),
            "alpha": np.stack([o[1] for o in outs]),
            "k_star": np.stack([o[2] for o in outs]),
            "capped_draws": int(sum(o[3] for o in outs)),
            "seconds": seconds,
            "iterations_per_chain": iters,
            "iterations_per_second_per_chain": float(iters / chain_secs.mean()),
            "chain_seeds": chain_seeds,
        }

    def fit(
        self,
        data: CaptureData,
        *,
        seed: SeedLike = None,
        chains: int = 4,
        draws: int = 1000,
        thin: int = 100,
        burnin: int = 20_000,
        level: float = 0.95,
        n_jobs: int | None = None,
    ) -> EstimationResult:
        """Sample the posterior of N.

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

        Returns
        -------
        EstimationResult
            ``estimate`` the posterior median of N, ``interval`` the equal-tailed credible
            interval; ``diagnostics``: ``rhat_N``, ``ess_bulk_N``, ``ess_tail_N``, Monte Carlo
            standard errors of the median and interval ends, ``converged``, per-chain medians
            (``chain_medians``), ``iterations_per_second_per_chain``, ``capped_draws``;
            ``draws``: an ArviZ DataTree with ``N``, ``alpha`` and ``k_star`` (occupied classes).

        Warns
        -----
        ConvergenceWarning
            When R-hat of N > 1.01 or its bulk or tail ESS < 400.
        """
        if data.n_lists < 2:
            raise ModelSpecificationError("LCMCR needs at least 2 lists")
        if data.n_observed == 0:
            raise ModelSpecificationError(f"{data.source}: no one observed; nothing to estimate")
        raw = self.sample(
            data, seed=seed, chains=chains, draws=draws, thin=thin, burnin=burnin, n_jobs=n_jobs
        )
        n = data.n_observed
        n_draws = raw["n0"] + n
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
        }
        settings = {
            "K": self.K,
            "a_alpha": self.a_alpha,
            "b_alpha": self.b_alpha,
            "max_unobserved_ratio": self.max_unobserved_ratio,
            "init": self.init,
            "chains": chains,
            "draws": draws,
            "thin": thin,
            "burnin": burnin,
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
            tables={"chains": chain_table},
            advice=(
                f"rerun with more sweeps, e.g. fit(data, thin={2 * thin}, burnin={2 * burnin}), "
                "and compare the chain medians in result.tables['chains']; if chains settle on "
                "different values the posterior is multimodal and no single estimate should be "
                "reported"
            ),
            interval_notes=notes,
        )
