"""Bayesian thresholding (Silverman 2020 s.6) beside MultipleSystemsEstimation's records.

For every benchmark table: the interactions retained at threshold 2 (N(0, 1) priors on
interactions), the posterior median and 95% interval of N, R-hat and bulk ESS of N, next to the
reference's record (MCMCpack random-walk Metropolis, 10,000 draws: its own Monte Carlo error is a
few per cent). The new_orleans record is a non-converged fit with a degenerate interval; ours is
printed for comparison with the other methods instead.

Usage: .venv/bin/python benchmarks/mse_bayes_threshold.py [--tables a,b] [--draws 1000]
Each table compiles two PyMC models (10-40 s each the first time; cached afterwards).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fl_estimate import read_capture_csv  # noqa: E402
from fl_estimate.mse.bayes_threshold import BayesThresholdMSE  # noqa: E402

DATA = ROOT / "tests" / "data" / "mse"
PEERS = json.loads((DATA / "peer_results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=None)
    ap.add_argument("--draws", type=int, default=1000)
    args = ap.parse_args()
    recs = [
        r
        for r in PEERS
        if r["peer"] == "MultipleSystemsEstimation" and r["method"].startswith("Bayesian thresh")
    ]
    if args.tables:
        keep = set(args.tables.split(","))
        recs = [r for r in recs if r["dataset"] in keep]
    print(
        "table | ours: retained | N | 95% | R-hat | ESS | s || ref: retained | N | 95% | "
        "rel. diff N | status"
    )
    for r in recs:
        data = read_capture_csv(DATA / f"{r['dataset']}.csv")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = BayesThresholdMSE().fit(data, seed=1, draws=args.draws, tune=1000)
        dt = time.perf_counter() - t0
        d = res.diagnostics
        print(
            f"{r['dataset']} | {d['retained_interactions']} | {res.estimate:,.0f} | "
            f"{res.ci_low:,.0f}-{res.ci_high:,.0f} | {d.get('rhat_N', float('nan')):.3f} | "
            f"{d.get('ess_bulk_N', float('nan')):.0f} | {dt:.0f} || {r['model'] or 'none'} | "
            f"{r['estimate']:,.0f} | {r['ci_low']:,.0f}-{r['ci_high']:,.0f} | "
            f"{res.estimate / r['estimate'] - 1:+.3f} | {r['status']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
