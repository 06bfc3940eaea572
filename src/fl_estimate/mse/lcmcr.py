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
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numba import njit

from fl_estimate._typing import SeedLike, spawn_seeds
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse._bayes import (
    ESS_MIN,
    RHAT_MAX,
    chain_diagnostics,
    draws_to_datatree,
    result_from_draws,
)
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
def _cell_probs(
    cells: np.ndarray, m: int, lam: np.ndarray, nu: np.ndarray, out: np.ndarray
) -> float:
    """P(class k and capture pattern ``cells[m]``) into ``out``; returns their sum."""
    n_lists, kk = lam.shape
    tot = 0.0
    for k in range(kk):
        p = nu[k]
        for j in range(n_lists):
            if cells[m, j] == 1:
                p *= lam[j, k]
            else:
                p *= 1.0 - lam[j, k]
        out[k] = p
        tot += p
    return tot


@njit(cache=True, nogil=True)
def _missed_probs(lam: np.ndarray, nu: np.ndarray, out: np.ndarray) -> float:
    """P(class k and missed by every list) into ``out``; returns p0, their sum."""
    n_lists, kk = lam.shape
    p0 = 0.0
    for k in range(kk):
        p = nu[k]
        for j in range(n_lists):
            p *= 1.0 - lam[j, k]
        out[k] = p
        p0 += p
    return p0


@njit(cache=True, nogil=True)
def _draw_sticks(
    rng: np.random.Generator,
    countk: np.ndarray,
    alpha: float,
    total: int,
    log_nu: np.ndarray,
    nu: np.ndarray,
) -> None:
    """Truncated stick-breaking weights given the class counts: stick k ~ Beta(1 + count_k,
    alpha + people in later classes), drawn through log-gamma variates (classes can be nearly
    empty), into ``log_nu`` and ``nu``."""
    kk = nu.shape[0]
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


@njit(cache=True, nogil=True)
def _init_chain(
    cells: np.ndarray,
    freq: np.ndarray,
    n_classes: int,
    rng: np.random.Generator,
    dispersed: bool,
):
    """Starting state of one chain: (lam, nu, log_nu, count0k, scalars = [alpha, n0, capped])."""
    m_cells, n_lists = cells.shape
    kk = n_classes
    n_obs = 0
    for m in range(m_cells):
        n_obs += freq[m]
    lam = np.empty((n_lists, kk))
    nu = np.empty(kk)
    log_nu = np.empty(kk)
    count0k = np.zeros(kk, dtype=np.int64)
    # "lcmcr" (dispersed=False): LCMCR's own start, every class at the lists' observed capture
    # shares, four big classes, and a tiny concentration (0.3 / K*) held for the first 500
    # sweeps, so the chain settles in the few-class region first. "dispersed": capture
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
        alpha = 1.0  # one draw from the stick-breaking prior: every stick Beta(1, 1)
        _draw_sticks(rng, np.zeros(kk, dtype=np.int64), alpha, 0, log_nu, nu)
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
    scalars = np.zeros(3)
    scalars[0] = alpha
    return lam, nu, log_nu, count0k, scalars


@njit(cache=True, nogil=True)
def _advance_chain(
    cells: np.ndarray,
    freq: np.ndarray,
    a_alpha: float,
    b_alpha: float,
    lam: np.ndarray,
    nu: np.ndarray,
    log_nu: np.ndarray,
    count0k: np.ndarray,
    scalars: np.ndarray,
    sweep0: int,
    warm: int,
    skip: int,
    n_draws: int,
    thin: int,
    rng: np.random.Generator,
    n0_max: int,
):
    """Continue one chain from its state (updated in place): ``skip`` sweeps discarded, then
    ``n_draws`` draws kept every ``thin`` sweeps. ``sweep0`` is the number of sweeps already
    run (the concentration is held fixed while the global sweep count is below ``warm``).

    Returns (n0 draws, alpha draws, occupied-class draws).
    """
    m_cells, n_lists = cells.shape
    kk = lam.shape[1]
    n_obs = 0
    for m in range(m_cells):
        n_obs += freq[m]
    count_mk = np.zeros((m_cells, kk), dtype=np.int64)
    countk = np.zeros(kk, dtype=np.int64)
    aux1 = np.zeros((n_lists, kk), dtype=np.int64)
    aux0 = np.zeros((n_lists, kk), dtype=np.int64)
    probs = np.empty(kk)
    probs0 = np.empty(kk)
    alpha = scalars[0]
    n0 = int(scalars[1])
    capped = int(scalars[2])

    out_n0 = np.empty(n_draws, dtype=np.int64)
    out_alpha = np.empty(n_draws)
    out_kstar = np.empty(n_draws, dtype=np.int64)
    total_iter = skip + n_draws * thin
    d = 0
    for it in range(total_iter):
        # 1. latent classes of the observed people, cell by cell
        for m in range(m_cells):
            tot = _cell_probs(cells, m, lam, nu, probs)
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
        _draw_sticks(rng, countk, alpha, n_obs + n0, log_nu, nu)
        # 4. probability of being missed by every list
        p0 = _missed_probs(lam, nu, probs0)
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
        if sweep0 + it >= warm:
            rate = b_alpha - log_nu[kk - 1]
            alpha = rng.gamma(a_alpha + kk - 1.0, 1.0 / rate)
        if it >= skip and (it - skip + 1) % thin == 0:
            out_n0[d] = n0
            out_alpha[d] = alpha
            ks = 0
            for k in range(kk):
                if countk[k] > 0:
                    ks += 1
            out_kstar[d] = ks
            d += 1
    scalars[0] = alpha
    scalars[1] = n0
    scalars[2] = capped
    return out_n0, out_alpha, out_kstar


@njit(cache=True, nogil=True)
def _truncated_loglik(
    cells: np.ndarray, freq: np.ndarray, lam: np.ndarray, nu: np.ndarray
) -> float:
    """log of prod_c (pi_c / (1 - p0))^freq_c: the likelihood of the parameters given the
    observed cells once N is integrated out under p(N) proportional to 1/N."""
    work = np.empty(lam.shape[1])
    p0 = _missed_probs(lam, nu, work)
    if p0 >= 1.0:
        return -np.inf
    n_obs = 0
    out = 0.0
    for m in range(cells.shape[0]):
        if freq[m] == 0:
            continue
        n_obs += freq[m]
        pc = _cell_probs(cells, m, lam, nu, work)
        if pc <= 0.0:
            return -np.inf
        out += freq[m] * math.log(pc)
    return out - n_obs * math.log1p(-p0)


@njit(cache=True, nogil=True)
def _refresh_unobserved(
    freq: np.ndarray,
    lam: np.ndarray,
    nu: np.ndarray,
    count0k: np.ndarray,
    scalars: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Draw the unobserved count and its classes afresh from their conditional given (lam, nu)."""
    n_obs = 0
    for m in range(freq.shape[0]):
        n_obs += freq[m]
    probs0 = np.empty(lam.shape[1])
    p0 = _missed_probs(lam, nu, probs0)
    succ = 1.0 - p0
    n0 = rng.negative_binomial(n_obs, succ) if succ >= 1e-12 else 2**40
    _multinomial(rng, n0, probs0, p0, count0k)
    scalars[1] = n0


@njit(cache=True, nogil=True)
def _advance_tempered(
    cells: np.ndarray,
    freqs: np.ndarray,
    a_alpha: float,
    b_alpha: float,
    lams: np.ndarray,
    nus: np.ndarray,
    log_nus: np.ndarray,
    count0ks: np.ndarray,
    scalars: np.ndarray,
    sweep0: int,
    warm: int,
    skip: int,
    n_draws: int,
    thin: int,
    swap_every: int,
    rng: np.random.Generator,
    swaps: np.ndarray,
):
    """Replica-exchange (parallel tempering) Gibbs on one chain.

    Replica ``r`` is the same Gibbs sampler run on the data-tempered table ``freqs[r]`` (the
    observed counts scaled by a temperature ``beta_r``, replica 0 the real data). Every
    ``swap_every`` sweeps, neighbouring replicas propose to exchange their parameters
    ``(lambda, nu, alpha)``; the Metropolis ratio uses the closed-form likelihood of the
    parameters with N integrated out (:func:`_truncated_loglik`; the priors are the same for every
    replica and cancel), and an exchanged replica redraws its unobserved count from its
    conditional. Draws are kept from replica 0 only. ``skip`` and ``thin`` must be multiples of
    ``swap_every``. ``swaps[r, 0]`` / ``swaps[r, 1]`` count proposals / acceptances between
    replicas ``r`` and ``r + 1``.
    """
    n_rep = freqs.shape[0]
    out_n0 = np.empty(n_draws, dtype=np.int64)
    out_alpha = np.empty(n_draws)
    out_kstar = np.empty(n_draws, dtype=np.int64)
    n_blocks = (skip + n_draws * thin) // swap_every
    keep_every = thin // swap_every
    skip_blocks = skip // swap_every
    d = 0
    for b in range(n_blocks):
        record = b >= skip_blocks and (b - skip_blocks + 1) % keep_every == 0
        for r in range(n_rep):
            o_n0, o_alpha, o_k = _advance_chain(
                cells,
                freqs[r],
                a_alpha,
                b_alpha,
                lams[r],
                nus[r],
                log_nus[r],
                count0ks[r],
                scalars[r],
                sweep0 + b * swap_every,
                warm,
                0,
                1,
                swap_every,
                rng,
                -1,
            )
            if r == 0 and record:
                out_n0[d] = o_n0[0]
                out_alpha[d] = o_alpha[0]
                out_kstar[d] = o_k[0]
                d += 1
        # exchange moves between neighbours, even pairs on even blocks and odd pairs on odd ones
        for r in range(b % 2, n_rep - 1, 2):
            s = r + 1
            lr = (
                _truncated_loglik(cells, freqs[r], lams[s], nus[s])
                + _truncated_loglik(cells, freqs[s], lams[r], nus[r])
                - _truncated_loglik(cells, freqs[r], lams[r], nus[r])
                - _truncated_loglik(cells, freqs[s], lams[s], nus[s])
            )
            swaps[r, 0] += 1
            if lr >= 0.0 or rng.random() < math.exp(lr):
                swaps[r, 1] += 1
                for j in range(lams.shape[1]):
                    for k in range(lams.shape[2]):
                        t = lams[r, j, k]
                        lams[r, j, k] = lams[s, j, k]
                        lams[s, j, k] = t
                for k in range(nus.shape[1]):
                    t = nus[r, k]
                    nus[r, k] = nus[s, k]
                    nus[s, k] = t
                    t = log_nus[r, k]
                    log_nus[r, k] = log_nus[s, k]
                    log_nus[s, k] = t
                t = scalars[r, 0]
                scalars[r, 0] = scalars[s, 0]
                scalars[s, 0] = t
                _refresh_unobserved(freqs[r], lams[r], nus[r], count0ks[r], scalars[r], rng)
                _refresh_unobserved(freqs[s], lams[s], nus[s], count0ks[s], scalars[s], rng)
    return out_n0, out_alpha, out_kstar


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
        self.model = model
        self.cells, self.freq, self.n0_max = cells, freq, n0_max
        self.seeds = [str(s.entropy) + ":" + ",".join(map(str, s.spawn_key)) for s in seeds]
        self.rngs = [np.random.Generator(np.random.PCG64(s)) for s in seeds]
        dispersed = model.init == "dispersed"
        self.states = [_init_chain(cells, freq, model.K, r, dispersed) for r in self.rngs]
        self.sweeps = 0
        self.work = 0  # sweeps of every replica (the cost), per chain
        self.seconds = 0.0
        self.chain_seconds = 0.0
        self.betas: np.ndarray | None = None  # set by temper()

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
                _init_chain(self.cells, self.freqs[r], m.K, rng, dispersed)
                for r in range(1, len(betas))
            ]
            reps.append(tuple(np.ascontiguousarray(np.stack(x)) for x in zip(*parts, strict=True)))
        self.replicas = reps
        self.swaps = [np.zeros((len(betas) - 1, 2), dtype=np.int64) for _ in self.rngs]

    def run(
        self, skip: int, draws: int, thin: int, n_jobs: int | None, warm: int
    ) -> dict[str, np.ndarray]:
        """Advance every chain by ``skip + draws * thin`` sweeps; return the kept draws."""
        m = self.model

        def one(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
            t = time.perf_counter()
            if self.betas is not None:
                lams, nus, log_nus, count0ks, scal = self.replicas[i]
                out = _advance_tempered(
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
                return (*out, time.perf_counter() - t)
            lam, nu, log_nu, count0k, scalars = self.states[i]
            out = _advance_chain(
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

        n = len(self.rngs)
        workers = n_jobs or min(n, os.cpu_count() or 1)
        t0 = time.perf_counter()
        if workers > 1 and n > 1:
            with ThreadPoolExecutor(max_workers=workers) as ex:
                outs = list(ex.map(one, range(n)))
        else:
            outs = [one(i) for i in range(n)]
        self.seconds += time.perf_counter() - t0
        self.chain_seconds += float(np.mean([o[3] for o in outs]))
        self.sweeps += skip + draws * thin
        self.work += (skip + draws * thin) * (1 if self.betas is None else len(self.betas))
        return {
            "n0": np.stack([o[0] for o in outs]),
            "alpha": np.stack([o[1] for o in outs]),
            "k_star": np.stack([o[2] for o in outs]),
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

    def _check_run(self, **kw: int) -> None:
        lows = {"chains": 1, "draws": 1, "thin": 1, "burnin": 0, "max_sweeps": 1}
        for name, v in kw.items():
            lo = lows[name]
            if int(v) != v or v < lo:
                raise ModelSpecificationError(f"{name} must be an integer >= {lo}, got {v!r}")

    def _chains(self, data: CaptureData, seed: SeedLike, chains: int) -> _Chains:
        keep = data.counts > 0
        cells = np.ascontiguousarray(data.patterns[keep].astype(np.uint8))
        freq = np.ascontiguousarray(data.counts[keep].astype(np.int64))
        n0_max = -1
        if self.max_unobserved_ratio is not None:
            n0_max = math.floor(self.max_unobserved_ratio * int(freq.sum()))
        return _Chains(self, cells, freq, n0_max, spawn_seeds(seed, int(chains)))

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
        """Run the chains for a fixed length and return raw draws (``n0``, ``alpha``,
        ``k_star``: (chains, draws)).

        Also returns ``seconds`` (wall time), ``iterations_per_second_per_chain`` and
        ``capped_draws``. :meth:`fit` wraps this into an :class:`EstimationResult` (and by
        default extends the chains until they converge).
        """
        self._check_run(chains=chains, draws=draws, thin=thin, burnin=burnin)
        ch = self._chains(data, seed, chains)
        out = ch.run(int(burnin), int(draws), int(thin), n_jobs, warm=min(500, int(burnin)))
        return ch.summary(out)

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
        adapt: bool = True,
        max_sweeps: int = 12_000_000,
        tempering: str = "auto",
        temperatures: int = 16,
        hottest: float = 0.01,
        swap_every: int = 2,
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
            replica exchange (see ``tempering``) if the chains disagree (R-hat > 1.01), then
            with the thinning doubled, ``draws`` more kept draws per chain and everything before
            them treated as burn-in, until the chains pass or the next round would take a chain
            past ``max_sweeps``. The rounds are in ``tables["rounds"]``. The decisions depend
            only on the draws, so the same seed still gives the same result. ``adapt=False``
            runs exactly the requested length.
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
            modes and hand them down. ``"auto"``: switch to it when the first round's chains
            disagree; ``"always"``: from the end of burn-in. Not available with
            ``max_unobserved_ratio`` (the cap breaks the closed-form likelihood).
        temperatures : int, default 16
            Replicas per chain when tempering (including the real-data one).
        hottest : float, default 0.01
            Count scale of the hottest replica.
        swap_every : int, default 2
            Sweeps between exchange proposals (the thinning is rounded up to a multiple).
            Frequent proposals move the parameters through the ladder faster; a proposal costs
            about as much as a fraction of a sweep.

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
        if data.n_lists < 2:
            raise ModelSpecificationError("LCMCR needs at least 2 lists")
        if data.n_observed == 0:
            raise ModelSpecificationError(f"{data.source}: no one observed; nothing to estimate")
        self._check_run(chains=chains, draws=draws, thin=thin, burnin=burnin, max_sweeps=max_sweeps)
        if tempering not in ("auto", "always", "never"):
            raise ModelSpecificationError(
                f"tempering must be 'auto', 'always' or 'never', got {tempering!r}"
            )
        if int(temperatures) != temperatures or temperatures < 2 or not 0 < hottest < 1:
            raise ModelSpecificationError(
                f"temperatures must be an integer >= 2 and hottest in (0, 1), got "
                f"{temperatures!r}, {hottest!r}"
            )
        if int(swap_every) != swap_every or swap_every < 1:
            raise ModelSpecificationError(f"swap_every must be an integer >= 1, got {swap_every!r}")
        can_temper = self.max_unobserved_ratio is None and tempering != "never"
        if tempering == "always" and not can_temper:
            raise ModelSpecificationError(
                "tempering is not available with max_unobserved_ratio (the cap breaks the "
                "closed-form likelihood the exchange moves use)"
            )
        n = data.n_observed
        draws, thin = int(draws), int(thin)
        ch = self._chains(data, seed, chains)
        warm = min(500, int(burnin))
        ladder = float(hottest) ** (np.arange(int(temperatures)) / (int(temperatures) - 1))
        every = int(swap_every)

        def tempered_thin(t: int) -> int:
            return max(every, -(-t // every) * every)  # a multiple of the exchange interval

        if tempering == "always":
            ch.run(int(burnin), 0, 1, n_jobs, warm)
            ch.temper(ladder, every)
            cur_thin = tempered_thin(thin)
            out = ch.run(0, draws, cur_thin, n_jobs, warm)
        else:
            cur_thin = thin
            out = ch.run(int(burnin), draws, cur_thin, n_jobs, warm)
        rounds: list[dict[str, Any]] = []
        while True:
            d = chain_diagnostics(out["n0"] + n, level)
            rounds.append(
                {
                    "round": len(rounds),
                    "tempered": ch.betas is not None,
                    "sweeps_per_chain": ch.sweeps,
                    "replica_sweeps_per_chain": ch.work,
                    "thin": cur_thin,
                    "rhat_N": d["rhat_N"],
                    "ess_bulk_N": d["ess_bulk_N"],
                    "ess_tail_N": d["ess_tail_N"],
                }
            )
            rhat = d["rhat_N"]
            ess = min(d["ess_bulk_N"], d["ess_tail_N"])
            # ESS cannot exceed the number of draws kept: with fewer than 800, aim at half of them
            target = min(ESS_MIN, chains * draws / 2)
            if not adapt or not (rhat > RHAT_MAX or ess < target):
                break
            if can_temper and ch.betas is None and np.isfinite(rhat) and rhat > RHAT_MAX:
                # the chains disagree: continue them with replica exchange; its first
                # 10,000 sweeps let the fresh hot replicas settle and are discarded
                cost = (10_000 + draws * thin) * len(ladder)
                if ch.work + cost > max_sweeps:
                    break
                sys.stderr.write(
                    f"fl_estimate: lcmcr on {data.source}: the chains disagree after "
                    f"{ch.sweeps:,} sweeps (R-hat {rhat:.2f}); continuing with replica exchange "
                    f"({len(ladder)} tempered copies per chain, up to {max_sweeps:,} "
                    "replica-sweeps per chain: this can take minutes)...\n"
                )
                sys.stderr.flush()
                ch.temper(ladder, every)
                cur_thin = tempered_thin(thin)
                out = ch.run(10_000, draws, cur_thin, n_jobs, warm)
                continue
            width = 1 if ch.betas is None else len(ladder)
            if ch.work + draws * cur_thin * 2 * width > max_sweeps:
                break
            cur_thin *= 2
            out = ch.run(0, draws, cur_thin, n_jobs, warm)
        raw = ch.summary(out)
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
            "thin": cur_thin,
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
            "chains": chains,
            "draws": draws,
            "thin": thin,
            "burnin": burnin,
            "adapt": adapt,
            "max_sweeps": max_sweeps,
            "tempering": tempering,
            "temperatures": int(temperatures),
            "hottest": float(hottest),
            "swap_every": every,
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
            advice=(
                (
                    f"each chain ran {raw['iterations_per_chain']:,} sweeps (the max_sweeps "
                    f"limit); rerun with fit(data, max_sweeps={4 * max_sweeps}) "
                    if adapt
                    else f"rerun with more sweeps, e.g. fit(data, thin={2 * thin}, "
                    f"burnin={2 * burnin}) or with adapt=True, "
                )
                + (
                    f"with more draws (ESS cannot exceed the {chains * draws} draws kept) "
                    if chains * draws < 2 * ESS_MIN
                    else ""
                )
                + "and compare the chain medians in result.tables['chains']; if chains settle "
                "on different values the posterior is multimodal and no single estimate should "
                "be reported"
            ),
            interval_notes=notes,
        )
