"""Which estimate to trust: every population-size estimator on simulated populations of known size.

Designs (N known; 5 lists unless said):
- ``independence``: every list catches 20% of everyone, independently.
- ``positive-dep``: as independence, with odds ratios 5 (L1 -> L2) and 3 (L3 -> L4).
- ``negative-dep``: odds ratio 0.2 (L1 -> L2): being on L1 makes L2 less likely.
- ``het-mild``: two equal latent classes, capture 30% vs 12% on every list.
- ``het-strong``: 30% of people caught 40% of the time on each list, 70% only 3%.
- ``het-strong-dep``: het-strong plus odds ratio 4 (L1 -> L2).
- ``sparse-7``: 7 lists catching 2-10% each (N = 3,000): most people on one list, many pairs never
  overlap.

Methods: independence and stepwise (Wald on the log dark figure, conditional on the model);
stepwise with the selection-repeating BCa bootstrap; ``auto`` (MultipleSystemsEstimation's rule)
with the top-models BCa bootstrap (up to 5 lists); greedy search with three-list terms (Wald); Chao's
lower bound; the latent-class (2-class) ML estimate with its profile interval (upper end may be
open: an open interval counts as covering when its lower end is below the truth, and has infinite
width); dga (Bayesian model averaging over decomposable graphs, up to 5 lists); LCMCR (with
``--bayes``: 2 chains x 1,000 draws, adaptive, at most 3M replica-sweeps per chain).

Printed per design and method: coverage of the 95% intervals, median relative error |N_hat - N|/N,
median relative width (high - low)/N, share of open intervals, failures (no estimate), and for the
whole table the share of replicates flagged by the heterogeneity check
(:func:`fl_estimate.mse.mixture.check_heterogeneity`).

Usage: .venv/bin/python benchmarks/mse_validation.py [--reps 12] [--n-boot 200] [--bayes]
       [--designs a,b] [--methods lcmcr,dga] [--jobs 2]
Defaults (12 replicates per design, 200 bootstrap replicates) take about 20-25 minutes on 2 shared
cores (the latent-class profile is the slowest method, 10-30 s per table);
``--reps 200`` gives coverage to about +-3 percentage points.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fl_estimate.mse.api import estimate  # noqa: E402
from fl_estimate.mse.bayes.lcmcr import LCMCR  # noqa: E402
from fl_estimate.mse.mixture import LatentClassMSE, check_heterogeneity  # noqa: E402
from fl_estimate.simulate import simulate  # noqa: E402

DESIGNS: dict[str, dict] = {
    "independence": dict(population_size=2000, lists=5, capture_probs=0.2),
    "positive-dep": dict(
        population_size=2000,
        lists=5,
        capture_probs=0.2,
        dependence={("L1", "L2"): 5.0, ("L3", "L4"): 3.0},
    ),
    "negative-dep": dict(
        population_size=2000, lists=5, capture_probs=0.2, dependence={("L1", "L2"): 0.2}
    ),
    "het-mild": dict(
        population_size=5000,
        lists=5,
        capture_probs=[[0.3] * 5, [0.12] * 5],
        class_weights=[0.5, 0.5],
    ),
    "het-strong": dict(
        population_size=5000,
        lists=5,
        capture_probs=[[0.4] * 5, [0.03] * 5],
        class_weights=[0.3, 0.7],
    ),
    "het-strong-dep": dict(
        population_size=5000,
        lists=5,
        capture_probs=[[0.4] * 5, [0.03] * 5],
        class_weights=[0.3, 0.7],
        dependence={("L1", "L2"): 4.0},
    ),
    "sparse-7": dict(
        population_size=3000,
        lists=7,
        capture_probs=[0.02, 0.04, 0.05, 0.06, 0.08, 0.1, 0.03],
    ),
}


def methods(k: int, n_boot: int, bayes: bool) -> list[tuple[str, str, dict]]:
    out = [
        ("independence", "independence", {}),
        ("stepwise (Wald)", "stepwise", {}),
        ("stepwise (BCa)", "stepwise", dict(interval="bootstrap", n_boot=n_boot, n_jobs=1)),
        ("search, order 3 (Wald)", "search", dict(max_order=3)),
        ("chao lower bound", "chao", {}),
        ("latent-class (profile)", "latent-class", {}),
    ]
    if k <= 5:
        out.insert(
            3, ("auto = BIC (top-models BCa)", "auto", dict(interval="bootstrap", n_boot=n_boot))
        )
        out.append(("dga", "dga", {}))
    if bayes:
        out.append(("lcmcr", "lcmcr", dict(chains=2, draws=1000, max_sweeps=3_000_000)))
    return out


def one_rep(args: tuple[str, int, int, bool, tuple[str, ...]]) -> list[dict]:
    design, rep, n_boot, bayes, only = args
    spec = DESIGNS[design]
    sim = simulate(seed=1000 * rep + 7, **spec)
    data, truth = sim.data, sim.truth
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flag = check_heterogeneity(data, warn=False)["flag"]
        for label, method, kw in methods(data.n_lists, n_boot, bayes):
            if only and method not in only:
                continue
            t0 = time.perf_counter()
            try:
                if method == "latent-class":
                    res = LatentClassMSE().fit(data)
                elif method == "lcmcr":
                    res = LCMCR().fit(data, seed=rep, **kw)
                else:
                    opts = dict(kw)
                    if opts.get("interval") == "bootstrap":
                        opts.update(seed=rep, n_jobs=1)
                    res = estimate(data, method, **opts)
                est, lo, hi, ok = res.estimate, res.ci_low, res.ci_high, res.status == "ok"
                if not ok and method == "latent-class":
                    lo = res.diagnostics.get("profile_lower")
            except Exception:  # a method that cannot run here counts as a failure
                est, lo, hi, ok = None, None, None, False
            rows.append(
                {
                    "design": design,
                    "rep": rep,
                    "method": label,
                    "truth": truth,
                    "observed": data.n_observed,
                    "estimate": est,
                    "low": lo,
                    "high": hi,
                    "ok": ok,
                    "flagged": flag,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (design, method), g in df.groupby(["design", "method"], sort=False):
        truth = g["truth"].to_numpy(float)
        est = pd.to_numeric(g["estimate"], errors="coerce").to_numpy(float)
        lo = pd.to_numeric(g["low"], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(g["high"], errors="coerce").to_numpy(float)
        has_lo = ~np.isnan(lo)
        open_hi = has_lo & np.isnan(hi)
        hi_f = np.where(open_hi, np.inf, hi)
        covered = has_lo & (lo <= truth) & (truth <= hi_f)
        width = np.where(has_lo, (hi_f - lo) / truth, np.nan)
        rel = np.abs(est - truth) / truth
        out.append(
            {
                "design": design,
                "method": method,
                "reps": len(g),
                "coverage_95": float(covered.mean()),
                "median_rel_error": float(np.nanmedian(rel)) if np.any(~np.isnan(rel)) else np.nan,
                "median_rel_width": float(np.nanmedian(width)) if np.any(has_lo) else np.nan,
                "open_above": float(open_hi.mean()),
                "no_estimate": float((~g["ok"]).mean()),
                "flagged": float(g["flagged"].mean()),
                "sec_per_fit": float(g["seconds"].mean()),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--bayes", action="store_true", help="also run LCMCR (slow)")
    ap.add_argument("--designs", default=None)
    ap.add_argument(
        "--methods", default=None, help="only these method names, e.g. lcmcr,dga (default: all)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None, help="CSV of every replicate")
    args = ap.parse_args()
    designs = args.designs.split(",") if args.designs else list(DESIGNS)
    only = tuple(args.methods.split(",")) if args.methods else ()
    jobs = [(d, r, args.n_boot, args.bayes, only) for d in designs for r in range(args.reps)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for part in pool.map(one_rep, jobs) for row in part]
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    summ = summarise(df)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 200)
    print(summ.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(
        f"\n{args.reps} replicates per design, {args.n_boot} bootstrap replicates; "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
