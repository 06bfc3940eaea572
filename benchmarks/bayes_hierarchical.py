"""Partial pooling across strata vs one model per stratum, on simulated strata with known sizes.

Each replicate simulates six strata (sizes 4,000 down to 80) captured by the same four lists
(capture probabilities 0.25, 0.2, 0.3, 0.15 in every stratum, lists L1 and L2 positively
dependent, odds ratio 2), then fits

* ``BayesHierarchicalLogLinear(interactions="all")``: one model, main effects and interactions
  partially pooled across strata;
* ``BayesLogLinear(interactions="all", unobserved="poisson")`` separately in every stratum
  (same likelihood and interaction prior, no pooling).

It prints, per stratum size, the coverage of the 95% credible intervals and their median width
relative to the true size. Partial pooling should give narrower intervals at (at least) the
same coverage, most for the small strata.

Usage: ``python benchmarks/bayes_hierarchical.py [--reps 8] [--draws 500]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ConvergenceWarning
from fl_estimate.mse.bayes_loglinear import BayesHierarchicalLogLinear, BayesLogLinear
from fl_estimate.simulate import simulate

SIZES = {"s1": 4000, "s2": 1500, "s3": 600, "s4": 300, "s5": 150, "s6": 80}
LISTS = ["L1", "L2", "L3", "L4"]
PROBS = [0.25, 0.2, 0.3, 0.15]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    args = ap.parse_args()
    rows = []
    warned = {"pooled": 0, "separate": 0}
    t0 = time.perf_counter()
    for rep in range(args.reps):
        sim = simulate(
            SIZES, LISTS, capture_probs=PROBS, dependence={("L1", "L2"): 2.0}, seed=1000 + rep
        )
        kw = {"chains": args.chains, "draws": args.draws, "tune": args.draws, "seed": rep}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # PyMC tuning overflow noise
            pooled = BayesHierarchicalLogLinear().fit_strata(sim.data, **kw)
        warned["pooled"] += len(caught)
        for key, size in SIZES.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                sep = BayesLogLinear(unobserved="poisson").fit(sim.data[(key,)], **kw)
            warned["separate"] += len(caught)
            for label, res in (("pooled", pooled[(key,)]), ("separate", sep)):
                rows.append(
                    {
                        "rep": rep,
                        "size": size,
                        "observed": res.observed,
                        "fit": label,
                        "covered": res.ci_low <= size <= res.ci_high,
                        "rel_width": (res.ci_high - res.ci_low) / size,
                        "rel_error": res.estimate / size - 1,
                    }
                )
        print(
            f"replicate {rep + 1}/{args.reps} done ({time.perf_counter() - t0:.0f} s)", flush=True
        )
    df = pd.DataFrame(rows)
    table = (
        df.groupby(["size", "fit"])
        .agg(
            observed=("observed", "median"),
            coverage=("covered", "mean"),
            median_rel_width=("rel_width", "median"),
            median_rel_error=("rel_error", "median"),
        )
        .unstack("fit")
    )
    print(
        f"\n{args.reps} replicates, {args.chains} chains x {args.draws} draws; convergence "
        f"warnings: pooled {warned['pooled']}, separate {warned['separate']}\n"
    )
    print(
        "| true size | observed (median) | coverage pooled | coverage separate | rel. width pooled | rel. width separate | median rel. error pooled | separate |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size, r in table.sort_index(ascending=False).iterrows():
        print(
            f"| {size:,} | {r[('observed', 'pooled')]:.0f} | {r[('coverage', 'pooled')]:.2f} | "
            f"{r[('coverage', 'separate')]:.2f} | {r[('median_rel_width', 'pooled')]:.2f} | "
            f"{r[('median_rel_width', 'separate')]:.2f} | {r[('median_rel_error', 'pooled')]:+.1%} | "
            f"{r[('median_rel_error', 'separate')]:+.1%} |"
        )
    overall = df.groupby("fit")["covered"].mean()
    print(f"\noverall coverage: pooled {overall['pooled']:.2f}, separate {overall['separate']:.2f}")
    print(f"total time {time.perf_counter() - t0:.0f} s; numpy {np.__version__}")


if __name__ == "__main__":
    main()
