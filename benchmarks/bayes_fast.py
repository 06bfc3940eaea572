"""The exact independence sampler (``sampler="imh"``) beside PyMC's NUTS and the R peer.

Two jobs:

``--reference``
    Long PyMC NUTS runs (4 chains x 5,000 draws, 1,000 tuning steps, seed 20261201) of the
    log-linear posteriors the tests compare the independence sampler with, written to
    ``tests/data/mse/bayes_pymc_reference.json``: posterior median and 95% interval of N with
    their Monte Carlo standard errors, and each coefficient's posterior mean and sd.

default
    Whole-process times (``python -m fl_estimate.cli mse ...``, a fresh process each time,
    PyTensor's on-disk cache warm after the first run) of Bayesian thresholding on kosovo and
    the Bayesian log-linear model on uk_2013_5lists, with ``--sampler pymc`` and ``--sampler
    imh``, ``--reps`` repetitions alternating with MultipleSystemsEstimation's
    ``estimate_population(method = "bayesthresh")`` (``benchmarks/r/peer_call.R``) when R and
    the peer are installed; then, in one process, the time of each further kosovo-shaped table
    (thresholding, independence sampler). Prints a markdown table with the machine's load.

Usage: ``python benchmarks/bayes_fast.py [--reference] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from fl_estimate.mse.data import read_capture_csv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from peers_side_by_side import R_SCRIPT, RLIB, run_process  # noqa: E402

DATA = ROOT / "tests" / "data" / "mse"
REFERENCE = DATA / "bayes_pymc_reference.json"
SEED = 20240601

#: (table, interactions, prior) of the reference posteriors
CASES = (
    ("kosovo", "all", "normal"),  # the first fit of Bayesian thresholding
    ("uk_2013_5lists", "all", "normal"),  # BayesLogLinear's default
    ("hiv_rome", "all", "flat"),  # flat priors throughout
)


def reference() -> None:
    import pymc

    from fl_estimate.exceptions import ConvergenceWarning
    from fl_estimate.mse.bayes.loglinear import BayesLogLinear

    out = {
        "generated_by": "benchmarks/bayes_fast.py --reference",
        "pymc": pymc.__version__,
        "sampler": "pymc NUTS, 4 chains x 5000 draws, tune 1000, seed 20261201",
        "cases": [],
    }
    for table, terms, prior in CASES:
        data = read_capture_csv(DATA / f"{table}.csv")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = BayesLogLinear(terms, prior=prior).fit(
                data, seed=20261201, chains=4, draws=5000, tune=1000, sampler="pymc"
            )
        d = res.diagnostics
        coef = res.tables["coefficients"]
        out["cases"].append(
            {
                "table": table,
                "interactions": terms,
                "prior": prior,
                "estimate": res.estimate,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "mcse_median_N": d["mcse_median_N"],
                "mcse_low_N": d["mcse_low_N"],
                "mcse_high_N": d["mcse_high_N"],
                "ess_bulk_N": d["ess_bulk_N"],
                "rhat_N": d["rhat_N"],
                "coefficients": {
                    r.term: {"mean": r.mean, "sd": r.sd, "ess_bulk": r.ess_bulk}
                    for r in coef.itertuples()
                },
            }
        )
        print(f"{table}: {res.estimate:,.0f} ({res.ci_low:,.0f}-{res.ci_high:,.0f})", flush=True)
    REFERENCE.write_text(json.dumps(out, indent=1) + "\n")


def ours(table: str, method: str, sampler: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fl_estimate.cli",
        "mse",
        str(DATA / f"{table}.csv"),
        "--method",
        method,
        "--seed",
        str(SEED),
        "--sampler",
        sampler,
        "--format",
        "json",
    ]


def fmt(runs: list) -> str:
    walls = [r.wall for r in runs]
    return (
        f"{statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f}) "
        f"[cpu {statistics.median(r.cpu for r in runs):.1f}]"
    )


def est(run) -> str:
    r = run.result
    return f"{r['estimate']:,.0f} ({r['ci_low']:,.0f}-{r['ci_high']:,.0f})"


def in_process(n_tables: int = 5) -> str:
    """Seconds per further kosovo-shaped table (thresholding, ``sampler="imh"``) in one
    process: kosovo's counts perturbed (Poisson resampling, seed 1)."""
    import pandas as pd

    from fl_estimate.mse.bayes.threshold import BayesThresholdMSE
    from fl_estimate.mse.data import CaptureData

    frame = pd.read_csv(DATA / "kosovo.csv")
    rng = np.random.default_rng(1)
    est_ = BayesThresholdMSE()
    est_.fit(read_capture_csv(DATA / "kosovo.csv"), seed=SEED, sampler="imh")  # first
    times, cpu = [], []
    for _ in range(n_tables):
        f = frame.copy()
        f["count"] = rng.poisson(f["count"])
        data = CaptureData.from_counts(f)
        t0, c0 = time.perf_counter(), time.process_time()
        est_.fit(data, seed=SEED, sampler="imh")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (
        f"per further kosovo-shaped table in one process (thresholding, imh, {n_tables} "
        f"tables): median {statistics.median(times):.2f} s wall (max {max(times):.2f} s), "
        f"{statistics.median(cpu):.2f} CPU-s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", action="store_true", help="write the PyMC reference runs")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if args.reference:
        reference()
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    rscript = "Rscript" if (RLIB / "MultipleSystemsEstimation").exists() else None
    renv = {**env, "R_LIBS": str(RLIB)}
    print(f"# Bayesian log-linear fits, whole processes ({args.reps} repetitions)\n")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}; machine: {os.cpu_count()} cores")
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()
    print("| task | sampler | seconds: median (min-max) [CPU] | N-hat (95% interval) | notes |")
    print("| --- | --- | --- | --- | --- |")
    tasks = [
        ("Bayesian thresholding, kosovo", "kosovo", "bayes-threshold", True),
        ("Bayesian log-linear, uk_2013_5lists", "uk_2013_5lists", "bayes-loglinear", False),
    ]
    for label, table, method, peer in tasks:
        runs: dict[str, list] = {"pymc": [], "imh": [], "R": []}
        # one unrecorded run each first: PyTensor's on-disk cache warm, files in the page cache
        run_process(ours(table, method, "pymc"), env)
        run_process(ours(table, method, "imh"), env)
        for _ in range(args.reps):
            for sampler in ("pymc", "imh"):
                runs[sampler].append(run_process(ours(table, method, sampler), env))
            if peer and rscript:
                cmd = [rscript, str(R_SCRIPT), "mse-bayesthresh", str(DATA / f"{table}.csv")]
                runs["R"].append(run_process(cmd, renv))
        for sampler in ("pymc", "imh"):
            d = runs[sampler][-1].result["diagnostics"]
            note = f"R-hat {d['rhat_N']:.3f}, ESS bulk {d['ess_bulk_N']:.0f}"
            if "retained_interactions" in d:
                note += f"; kept {d['retained_interactions']}"
            print(
                f"| {label} | {sampler} | {fmt(runs[sampler])} | {est(runs[sampler][-1])} | {note} |"
            )
        if runs["R"]:
            r = runs["R"][-1].result
            print(
                f"| {label} | MultipleSystemsEstimation bayesthresh (R) | {fmt(runs['R'])} | "
                f"{r['estimate']:,.0f} ({r['ci_low']:,.0f}-{r['ci_high']:,.0f}) | "
                f"kept {r.get('model', '')} |"
            )
        sys.stdout.flush()
    print()
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(in_process())


if __name__ == "__main__":
    main()
