"""Partial pooling across strata vs one model per stratum, on simulated strata with known sizes.

Each replicate simulates six strata (sizes 4,000 down to 80) captured by the same four lists
(capture probabilities 0.25, 0.2, 0.3, 0.15 in every stratum, lists L1 and L2 positively
dependent, odds ratio 2), then fits

* ``BayesHierarchicalLogLinear(interactions="all")``: one model, main effects and interactions
  partially pooled across strata;
* ``BayesLogLinear(interactions="all", unobserved="poisson")`` separately in every stratum
  (same likelihood and interaction prior, no pooling).

It prints, per stratum size, the coverage of the 95% credible intervals with its Monte Carlo
standard error (binomial, ``sqrt(p (1 - p) / reps)``), the median interval width relative to
the true size, the median over replicates of the paired width ratio (separate / pooled), and
the median relative error. Partial pooling should give narrower intervals at (at least) the
same coverage, most for the small strata.

Replicate ``r`` uses the child seed ``SeedSequence(seed).spawn(reps)[r]`` for the simulation
and both fits, so results do not depend on ``--jobs``. Per-replicate rows are written (after
every replicate, atomically) to ``--out`` so a long run can be inspected or re-tabulated with
``--table-only``.

Usage: ``python benchmarks/bayes_hierarchical.py [--reps 40] [--draws 500] [--chains 2]
[--seed 20261123] [--jobs 1] [--out bayes_hierarchical_rows.csv] [--resume] [--table-only]``.
Each replicate compiles seven PyMC models (one pooled, six separate), which dominates its cost
(about 1.5 CPU-minutes); ``--jobs`` runs replicates in separate processes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._io import atomic_write_text

SIZES = {"s1": 4000, "s2": 1500, "s3": 600, "s4": 300, "s5": 150, "s6": 80}
LISTS = ["L1", "L2", "L3", "L4"]
PROBS = [0.25, 0.2, 0.3, 0.15]


def replicate(rep: int, seed: np.random.SeedSequence, chains: int, draws: int) -> list[dict]:
    """Simulate one set of strata and fit it pooled and separately: one row per stratum and fit.

    ``flagged`` marks results whose diagnostics trigger the estimators' ConvergenceWarning
    (R-hat of N > 1.01 or a bulk/tail ESS < 400); the warnings themselves are silenced here.
    """
    from fl_estimate.exceptions import ConvergenceWarning
    from fl_estimate.mse.bayes.common import ESS_MIN, RHAT_MAX
    from fl_estimate.mse.bayes.hierarchical import BayesHierarchicalLogLinear
    from fl_estimate.mse.bayes.loglinear import BayesLogLinear
    from fl_estimate.simulate import simulate

    t0 = time.perf_counter()
    sim_seed, fit_seed = seed.spawn(2)
    sim = simulate(SIZES, LISTS, capture_probs=PROBS, dependence={("L1", "L2"): 2.0}, seed=sim_seed)
    kw = {"chains": chains, "draws": draws, "tune": draws, "seed": fit_seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # PyMC tuning overflow noise
        pooled = BayesHierarchicalLogLinear().fit_strata(sim.data, **kw)
        separate = {
            key: BayesLogLinear(unobserved="poisson").fit(sim.data[(key,)], **kw) for key in SIZES
        }
    rows = []
    for key, size in SIZES.items():
        for label, res in (("pooled", pooled[(key,)]), ("separate", separate[key])):
            d = res.diagnostics
            rows.append(
                {
                    "rep": rep,
                    "stratum": key,
                    "size": size,
                    "observed": res.observed,
                    "fit": label,
                    "estimate": res.estimate,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                    "covered": res.ci_low <= size <= res.ci_high,
                    "rel_width": (res.ci_high - res.ci_low) / size,
                    "rel_error": res.estimate / size - 1,
                    "rhat_N": d["rhat_N"],
                    "ess_bulk_N": d["ess_bulk_N"],
                    "ess_tail_N": d["ess_tail_N"],
                    "flagged": bool(
                        d["rhat_N"] > RHAT_MAX or min(d["ess_bulk_N"], d["ess_tail_N"]) < ESS_MIN
                    ),
                    "divergences": d.get("divergences", 0),
                    "chains": chains,
                    "draws": draws,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def _mcse(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n)) if n else float("nan")


def table(df: pd.DataFrame) -> str:
    """Markdown table by stratum size (coverage with binomial MCSE, widths, paired ratio)."""
    lines = [
        "| true size | observed (median) | coverage pooled (± MCSE) | coverage separate (± MCSE) "
        "| rel. width pooled | rel. width separate | width ratio separate/pooled (median) "
        "| median rel. error pooled | separate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    wide = df.pivot_table(
        index=["rep", "size"], columns="fit", values=["covered", "rel_width", "rel_error"]
    )
    obs = df[df["fit"] == "pooled"].groupby("size")["observed"].median()
    for size in sorted(df["size"].unique(), reverse=True):
        w = wide.xs(size, level="size")
        n = len(w)
        cp, cs = w[("covered", "pooled")].mean(), w[("covered", "separate")].mean()
        ratio = (w[("rel_width", "separate")] / w[("rel_width", "pooled")]).median()
        lines.append(
            f"| {size:,} | {obs[size]:.0f} | {cp:.3f} ± {_mcse(cp, n):.3f} | "
            f"{cs:.3f} ± {_mcse(cs, n):.3f} | {w[('rel_width', 'pooled')].median():.3f} | "
            f"{w[('rel_width', 'separate')].median():.3f} | {ratio:.2f} | "
            f"{w[('rel_error', 'pooled')].median():+.1%} | {w[('rel_error', 'separate')].median():+.1%} |"
        )
    n = len(wide)
    cp, cs = wide[("covered", "pooled")].mean(), wide[("covered", "separate")].mean()
    # paired difference of coverage indicators: its MCSE accounts for the shared replicates
    diff = wide[("covered", "pooled")].astype(float) - wide[("covered", "separate")].astype(float)
    ratio = (wide[("rel_width", "separate")] / wide[("rel_width", "pooled")]).median()
    lines.append(
        f"| all ({n} intervals each) | | {cp:.3f} ± {_mcse(cp, n):.3f} | {cs:.3f} ± "
        f"{_mcse(cs, n):.3f} | | | {ratio:.2f} | | |"
    )
    lines.append("")
    reps = df["rep"].nunique()
    # the strata of one replicate share the pooled fit (and the lists' behaviour), so their
    # misses cluster: the MCSE over all strata is computed from per-replicate means
    by_rep = wide.groupby(level="rep").mean()
    cl_p = by_rep[("covered", "pooled")].std(ddof=1) / np.sqrt(reps)
    cl_s = by_rep[("covered", "separate")].std(ddof=1) / np.sqrt(reps)
    cl_d = diff.groupby(level="rep").mean().std(ddof=1) / np.sqrt(reps)
    lines.append(
        f"coverage difference pooled − separate, all strata: {diff.mean():+.3f} ± "
        f"{diff.std(ddof=1) / np.sqrt(n):.3f} (paired MCSE; by replicate clusters ± {cl_d:.3f}). "
        f"Over all strata with replicate clusters: pooled ± {cl_p:.3f}, separate ± {cl_s:.3f}. "
        f"MCSE = sqrt(p (1 - p) / n) at the observed p (0 when p = 1); at the nominal 0.95 it is "
        f"{_mcse(0.95, reps):.3f} per stratum size and {_mcse(0.95, n):.3f} over all strata."
    )
    return "\n".join(lines)


def header(df: pd.DataFrame) -> str:
    """One paragraph: replicates, sampler settings, convergence flags, divergences."""
    reps = df["rep"].nunique()
    pooled, sep = df[df["fit"] == "pooled"], df[df["fit"] == "separate"]
    div_pooled = int((pooled.groupby("rep")["divergences"].max() > 0).sum())
    return (
        f"{reps} replicates, {int(df['chains'].iloc[0])} chains x {int(df['draws'].iloc[0])} draws "
        f"(+ as many tuning steps); results flagged by the convergence check (R-hat of N > 1.01 "
        f"or ESS < 400): pooled {int(pooled['flagged'].sum())} of {len(pooled)}, separate "
        f"{int(sep['flagged'].sum())} of {len(sep)}; max R-hat of N: pooled "
        f"{pooled['rhat_N'].max():.3f}, separate {sep['rhat_N'].max():.3f}; fits with divergent "
        f"transitions: pooled {div_pooled} of {reps}, separate "
        f"{int((sep['divergences'] > 0).sum())} of {len(sep)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument(
        "--draws", type=int, default=500, help="kept draws (and tuning steps) per chain"
    )
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--jobs", type=int, default=1, help="replicates run in parallel processes")
    ap.add_argument("--out", default="bayes_hierarchical_rows.csv", help="per-replicate rows")
    ap.add_argument(
        "--resume", action="store_true", help="keep the replicates already in --out, run the rest"
    )
    ap.add_argument("--table-only", action="store_true", help="re-tabulate --out, no fitting")
    args = ap.parse_args()
    if args.table_only:
        df = pd.read_csv(args.out)
        print(header(df) + "\n")
        print(table(df))
        return
    seeds = np.random.SeedSequence(args.seed).spawn(args.reps)
    rows: list[dict[str, Any]] = []
    if args.resume and Path(args.out).exists():
        rows = pd.read_csv(args.out).to_dict("records")
    done_reps = {int(r["rep"]) for r in rows}
    todo = [r for r in range(args.reps) if r not in done_reps]
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        futs = [pool.submit(replicate, r, seeds[r], args.chains, args.draws) for r in todo]
        for done, fut in enumerate(as_completed(futs), 1):
            new = fut.result()
            rows.extend(new)
            frame = pd.DataFrame(rows).sort_values(["rep", "size", "fit"])
            atomic_write_text(args.out, frame.to_csv(index=False))
            print(
                f"replicate {new[0]['rep']} done, {done}/{len(todo)} this run "
                f"({new[-1]['seconds']:.0f} s; elapsed {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    df = pd.DataFrame(rows)
    print(f"\nseed {args.seed}; " + header(df) + "\n")
    print(table(df))
    print(
        f"\ntime this run {time.perf_counter() - t0:.0f} s ({args.jobs} job(s); median "
        f"{df.groupby('rep')['seconds'].max().median():.0f} s per replicate); numpy {np.__version__}"
    )


if __name__ == "__main__":
    main()
