"""Coverage of the 95% intervals of the classical core on simulated populations.

Populations are drawn from a correctly specified log-linear model: the stepwise model that SparseMSE
selects on uk_2013_5lists (Chan, Silverman & Vincent 2021, section 3.4, used the same design): its
fitted cell means scaled to a population of size N = round(N-hat), observed counts drawn as a
multinomial of a binomial total. For each population we compute, per interval kind, whether the 95%
interval covers N, and report coverage, median relative error and median width.

Interval kinds: Wald on the log dark figure and profile likelihood, both conditional on the model
stepwise selected on that population; BCa bootstrap repeating the selection on every replicate.
Chan et al. (2021) report 61.4% for conditional intervals after BIC selection and 90% for the BCa
bootstrap with reselection.

Usage: .venv/bin/python benchmarks/mse_coverage.py [--sims 200] [--n-boot 200] [--seed 1]
(the defaults take several minutes on 2 cores; --sims 40 for a quick look)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fl_estimate import read_capture_csv  # noqa: E402
from fl_estimate.mse.loglinear import StepwiseMSE, Table, stepwise  # noqa: E402

DATA = ROOT / "tests" / "data" / "mse"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--table", default="uk_2013_5lists")
    args = ap.parse_args()

    data = read_capture_csv(DATA / f"{args.table}.csv")
    table = Table.from_data(data)
    truth_fit = stepwise(table).fit
    n_true = round(truth_fit.estimate)
    mu = truth_fit.mu
    rng = np.random.default_rng(args.seed)
    kinds = ("wald", "profile", "bootstrap")
    hits = {k: [] for k in kinds}
    err = {k: [] for k in kinds}
    width = {k: [] for k in kinds}
    t0 = time.perf_counter()
    for i in range(args.sims):
        nobs = rng.binomial(n_true, mu.sum() / truth_fit.estimate)
        y = rng.multinomial(nobs, mu / mu.sum()).astype(float)
        sim_table = table.with_counts(y)
        if (
            sim_table.y.reshape(1, -1)
            @ np.array([[(c >> j) & 1 for j in range(table.k)] for c in table.cells])
        ).min() == 0:
            continue  # a list with nobody on it: not a k-list table
        from fl_estimate.mse.data import CaptureData

        cd = CaptureData.from_counts(_frame(sim_table, data.lists))
        for kind in kinds:
            opts = {"interval": kind}
            if kind == "bootstrap":
                opts.update(n_boot=args.n_boot, seed=args.seed * 100_000 + i, n_jobs=2)
            res = StepwiseMSE().fit(cd, **opts)  # type: ignore[arg-type]
            if not res.ok or res.ci_low is None:
                continue
            hi = res.ci_high if res.ci_high is not None else np.inf
            hits[kind].append(res.ci_low <= n_true <= hi)
            err[kind].append(abs(res.estimate - n_true) / n_true)
            width[kind].append((hi - res.ci_low) / n_true)
    secs = time.perf_counter() - t0
    print(
        f"table {args.table}: true N = {n_true:,} (stepwise model "
        f"{truth_fit.label()}), {args.sims} populations, {args.n_boot} bootstrap replicates, "
        f"{secs:.0f} s"
    )
    print(
        f"{'interval':<34}{'n':>5}{'coverage':>10}{'median rel. error':>19}"
        f"{'median rel. width':>19}"
    )
    labels = {
        "wald": "Wald (log dark figure, conditional)",
        "profile": "profile likelihood (conditional)",
        "bootstrap": "BCa bootstrap with reselection",
    }
    for k in kinds:
        if hits[k]:
            print(
                f"{labels[k]:<34}{len(hits[k]):>5}{np.mean(hits[k]):>10.3f}"
                f"{np.median(err[k]):>19.3f}{np.median(width[k]):>19.3f}"
            )


def _frame(table: Table, lists: tuple[str, ...]):  # type: ignore[no-untyped-def]
    import pandas as pd

    pats = [[(c >> j) & 1 for j in range(table.k)] for c in table.cells]
    df = pd.DataFrame(pats, columns=list(lists))
    df["count"] = table.y.astype(int)
    return df[df["count"] > 0]


if __name__ == "__main__":
    main()
