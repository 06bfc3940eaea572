"""Numba kernels of the LCMCR Gibbs sampler (cell-frequency form) and its replica exchange.

Imported by :class:`fl_estimate.mse.bayes.lcmcr.LCMCR` only when it samples, so that importing
the estimator (and the CLI) does not load numba. Every kernel is compiled once per machine
(``cache=True``) and releases the GIL (``nogil=True``), so chains run in parallel threads.

Each chain's state is five arrays, updated in place: ``lam`` (lists x classes capture
probabilities), ``nu`` and ``log_nu`` (class weights), ``count0k`` (the unobserved people's
classes) and ``scalars = [alpha, n0, capped]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "advance_chain",
    "advance_tempered",
    "init_chain",
    "truncated_loglik",
]


@njit(cache=True, nogil=True)
def log_gamma_rv(rng: np.random.Generator, a: float) -> float:
    """log of a Gamma(a, 1) variate, accurate for small shapes (Gamma(a) = Gamma(a+1) U^(1/a))."""
    if a < 1.0:
        u = rng.random()
        while u <= 0.0:
            u = rng.random()
        return math.log(rng.gamma(a + 1.0, 1.0)) + math.log(u) / a
    return math.log(rng.gamma(a, 1.0))


@njit(cache=True, nogil=True)
def log_add(a: float, b: float) -> float:
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, nogil=True)
def multinomial(
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
def cell_probs(
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
def missed_probs(lam: np.ndarray, nu: np.ndarray, out: np.ndarray) -> float:
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
def draw_sticks(
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
        g1 = log_gamma_rv(rng, 1.0 + countk[k])
        g2 = log_gamma_rv(rng, alpha + (total - acc))
        gs = log_add(g1, g2)
        log_nu[k] = g1 - gs + lacc
        lacc += g2 - gs
    log_nu[kk - 1] = lacc
    for k in range(kk):
        nu[k] = math.exp(log_nu[k])


@njit(cache=True, nogil=True)
def init_chain(
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
        draw_sticks(rng, np.zeros(kk, dtype=np.int64), alpha, 0, log_nu, nu)
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
def advance_chain(
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
            tot = cell_probs(cells, m, lam, nu, probs)
            multinomial(rng, freq[m], probs, tot, count_mk[m])
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
        draw_sticks(rng, countk, alpha, n_obs + n0, log_nu, nu)
        # 4. probability of being missed by every list
        p0 = missed_probs(lam, nu, probs0)
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
        multinomial(rng, n0, probs0, p0, count0k)
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
def truncated_loglik(cells: np.ndarray, freq: np.ndarray, lam: np.ndarray, nu: np.ndarray) -> float:
    """log of prod_c (pi_c / (1 - p0))^freq_c: the likelihood of the parameters given the
    observed cells once N is integrated out under p(N) proportional to 1/N."""
    work = np.empty(lam.shape[1])
    p0 = missed_probs(lam, nu, work)
    if p0 >= 1.0:
        return -np.inf
    n_obs = 0
    out = 0.0
    for m in range(cells.shape[0]):
        if freq[m] == 0:
            continue
        n_obs += freq[m]
        pc = cell_probs(cells, m, lam, nu, work)
        if pc <= 0.0:
            return -np.inf
        out += freq[m] * math.log(pc)
    return out - n_obs * math.log1p(-p0)


@njit(cache=True, nogil=True)
def refresh_unobserved(
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
    p0 = missed_probs(lam, nu, probs0)
    succ = 1.0 - p0
    n0 = rng.negative_binomial(n_obs, succ) if succ >= 1e-12 else 2**40
    multinomial(rng, n0, probs0, p0, count0k)
    scalars[1] = n0


@njit(cache=True, nogil=True)
def advance_tempered(
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
    parameters with N integrated out (:func:`truncated_loglik`; the priors are the same for every
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
            o_n0, o_alpha, o_k = advance_chain(
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
        # (blocks counted from the chain's first sweep, so a run split into pieces gives the
        # same draws as one run)
        for r in range((sweep0 // swap_every + b) % 2, n_rep - 1, 2):
            s = r + 1
            lr = (
                truncated_loglik(cells, freqs[r], lams[s], nus[s])
                + truncated_loglik(cells, freqs[s], lams[r], nus[r])
                - truncated_loglik(cells, freqs[r], lams[r], nus[r])
                - truncated_loglik(cells, freqs[s], lams[s], nus[s])
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
                refresh_unobserved(freqs[r], lams[r], nus[r], count0ks[r], scalars[r], rng)
                refresh_unobserved(freqs[s], lams[s], nus[s], count0ks[s], scalars[s], rng)
    return out_n0, out_alpha, out_kstar
