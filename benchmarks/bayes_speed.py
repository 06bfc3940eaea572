"""Speed and mixing of the Bayesian estimators beside the R packages' recorded runs.

Prints three tables (markdown):

1. LCMCR: our Gibbs sweeps per second per chain (one chain, one thread) beside LCMCR 0.4.14's
   recorded ``iterations_per_second`` (long run, seed 20240601); our default fit (4 chains x
   1,000 draws, thin 100, burn-in 20,000, extended adaptively, with replica exchange when the
   chains disagree, until R-hat <= 1.01 and bulk and tail ESS >= 400): wall time, rounds, sweeps
   per chain, R-hat, ESS of N and ESS per second beside LCMCR's ``ess_N / sampling_seconds``;
   median and interval beside the multi-seed LCMCR record (``stable`` says whether LCMCR agreed
   with itself).
2. dga: our exact computation (default range extended until the tail is negligible, and on
   dga's own grid) beside dga 2.0.2's recorded ``seconds``.
3. The Netherlands tables, where LCMCR's seeds disagree by a factor of three: plain Gibbs at
   LCMCR's run length beside our default (tempered) fit: chain medians, the share of draws in
   the high mode, R-hat, ESS, and whether we warn.

4. PyMC models compiled once per shape (``--pymc``): Bayesian thresholding of kosovo in a fresh
   process (the CLI, twice: the second run has PyTensor's on-disk cache warm), then in one
   process the time of the first ``BayesLogLinear`` fit of a shape and of each further table
   of the same shape (strata, replicates), with PyMC's sampler and with nutpie's when it is
   installed (``sampler="nutpie"``).

5. The hierarchical model on 24 strata (``--hierarchical``): ``BayesHierarchicalLogLinear`` (its
   defaults: every two-list interaction, partially pooled; PyMC's NUTS, 4 chains x 1,000 draws)
   on 24 simulated strata (8 regions x 3 years, 6 lists, sizes 150-1,500, known truth) in a fresh
   process, timed from launch to exit (issue 23's target: under 60 s on 2 cores).

Usage: ``python benchmarks/bayes_speed.py [--quick] [--pymc] [--lcmcr-only] [--hierarchical]``
(``--quick``: 3 tables only; ``--pymc``: table 4 only; ``--lcmcr-only``: table 1 only;
``--hierarchical``: table 5 only).
Timings are wall-clock on whatever machine runs this; the R timings were taken on a shared
2-core machine and are indicative to about a factor of 2.
"""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from fl_estimate.exceptions import ConvergenceWarning
from fl_estimate.mse.bayes.dga import DGA
from fl_estimate.mse.bayes.lcmcr import LCMCR
from fl_estimate.mse.data import read_capture_csv

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "mse"


def records() -> list[dict]:
    return json.loads((DATA / "peer_results.json").read_text())


def lcmcr_tables(quick: bool) -> None:
    recs = records()
    long_runs = {
        r["dataset"]: r
        for r in recs
        if r["peer"] == "LCMCR"
        and r["method"].startswith("lcmCR: Bayesian")
        and r["settings"].get("burnin") == 100000
    }
    multi = {r["dataset"]: r for r in recs if r["method"].startswith("lcmCR long runs")}
    names = sorted(long_runs)
    if quick:
        names = ["korea", "kosovo", "western_us"]
    print("## LCMCR: Gibbs speed per chain and ESS of N\n")
    print(
        "| table | lists | n | ours it/s/chain | LCMCR it/s | ours wall s (4 chains) | rounds | "
        "sweeps/chain | R-hat | ESS bulk N | ESS tail N | ours ESS/s | LCMCR ESS/s | ours median "
        "(95% CrI) | LCMCR multi-seed median (95%) | stable | median diff |"
    )
    print("|" + "---|" * 17)
    model = LCMCR()
    for name in names:
        data = read_capture_csv(DATA / f"{name}.csv")
        ref = long_runs[name]
        # raw speed: one chain on one thread, 50,000 sweeps (compile excluded by a warm-up)
        model.sample(data, seed=0, chains=1, draws=10, thin=1, burnin=10, n_jobs=1)
        t = time.perf_counter()
        model.sample(data, seed=1, chains=1, draws=1000, thin=50, burnin=0, n_jobs=1)
        ips = 50_000 / (time.perf_counter() - t)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t = time.perf_counter()
            res = model.fit(data, seed=20240601)
            wall = time.perf_counter() - t
        d = res.diagnostics
        m = multi[name]
        warned = "" if not caught else " (warned)"
        print(
            f"| {name} | {data.n_lists} | {data.n_observed} | {ips:,.0f} | "
            f"{ref['iterations_per_second']:,.0f} | {wall:.1f} | {d['rounds']}"
            f"{' (tempered)' if d['tempered'] else ''} | {d['iterations_per_chain']:,} | "
            f"{d['rhat_N']:.3f}{warned} | {d['ess_bulk_N']:.0f} | {d['ess_tail_N']:.0f} | "
            f"{d['ess_bulk_N'] / wall:.0f} | "
            f"{ref['ess_N'] / ref['sampling_seconds']:.0f} | {res.estimate:,.0f} "
            f"({res.ci_low:,.0f}–{res.ci_high:,.0f}) | {m['estimate']:,.0f} "
            f"({m['ci_low']:,.0f}–{m['ci_high']:,.0f}) | {m['stable']} | "
            f"{res.estimate / m['estimate'] - 1:+.1%} |",
            flush=True,
        )
    print()


def dga_tables(quick: bool) -> None:
    recs = [
        r
        for r in records()
        if r["peer"] == "dga" and r["status"] == "ok" and r["method"].startswith("bma.cr: Bayesian")
    ]
    if quick:
        recs = [r for r in recs if r["dataset"] in ("netherlands_5lists", "western_us", "korea")]
    print("## dga: exact model averaging, seconds\n")
    print(
        "| table | lists | dga grid points | dga s | ours s (dga's range) | ours s (auto range) | "
        "auto range: N up to | tail mass | ours median (95%) | dga median (95%) |"
    )
    print("|" + "---|" * 10)
    DGA().fit(read_capture_csv(DATA / "korea.csv"))  # warm-up (graph enumeration)
    for r in recs:
        data = read_capture_csv(DATA / f"{r['dataset']}.csv")
        upper = int(re.findall(r"\d+", r["settings"]["Nmissing"])[1])
        t = time.perf_counter()
        DGA(max_unobserved=upper).fit(data)
        t_grid = time.perf_counter() - t
        t = time.perf_counter()
        res = DGA().fit(data)
        t_auto = time.perf_counter() - t
        d = res.diagnostics
        print(
            f"| {r['dataset']} | {data.n_lists} | {r['grid_points']:,} | {r['seconds']:.2f} | "
            f"{t_grid:.3f} | {t_auto:.3f} | {d['grid_upper_N']:,} | {d['tail_mass']:.0e} | "
            f"{res.estimate:,.0f} ({res.ci_low:,.0f}–{res.ci_high:,.0f}) | "
            f"{r['estimate']:,.0f} ({r['ci_low']:,.0f}–{r['ci_high']:,.0f}) |",
            flush=True,
        )
    # six lists: beyond dga
    for name in ("uk_2013", "netherlands", "snowshoe_hare"):
        data = read_capture_csv(DATA / f"{name}.csv")
        t = time.perf_counter()
        res = DGA().fit(data)
        t_auto = time.perf_counter() - t
        print(
            f"| {name} | 6 | — | not applicable | — | {t_auto:.3f} | "
            f"{res.diagnostics['grid_upper_N']:,} | {res.diagnostics['tail_mass']:.0e} | "
            f"{res.estimate:,.0f} ({res.ci_low:,.0f}–{res.ci_high:,.0f}) | — |",
            flush=True,
        )
    print()


def netherlands() -> None:
    print("## Netherlands: do our chains agree?\n")
    multi = {r["dataset"]: r for r in records() if r["method"].startswith("lcmCR long runs")}
    print(
        "| table | setting | wall s | chain medians | share of draws > 90,000 | median (95% CrI) | "
        "R-hat | ESS bulk/tail | warned | LCMCR seed medians |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ("netherlands_5lists", "netherlands"):
        data = read_capture_csv(DATA / f"{name}.csv")
        for label, kw in (
            (
                "plain Gibbs, LCMCR's run length (100,000 + 500,000)",
                {
                    "draws": 1000,
                    "thin": 500,
                    "burnin": 100_000,
                    "adapt": False,
                    "tempering": "never",
                },
            ),
            ("default (adaptive, tempering when chains disagree)", {}),
        ):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                t = time.perf_counter()
                res = LCMCR().fit(data, seed=20240601, **kw)
                wall = time.perf_counter() - t
            d = res.diagnostics
            meds = ", ".join(f"{x:,.0f}" for x in d["chain_medians"])
            seeds = ", ".join(f"{x:,.0f}" for x in multi[name]["seed_estimates"])
            n = res.draws["posterior"]["N"].to_numpy()
            high = ", ".join(f"{x:.2f}" for x in (n > 90_000).mean(axis=1))
            print(
                f"| {name} | {label} | {wall:.0f} | {meds} | {high} | {res.estimate:,.0f} "
                f"({res.ci_low:,.0f}–{res.ci_high:,.0f}) | {d['rhat_N']:.3f} | "
                f"{d['ess_bulk_N']:.0f}/{d['ess_tail_N']:.0f} | {'yes' if caught else 'no'} | "
                f"{seeds} |",
                flush=True,
            )
    print()


def pymc_reuse() -> None:
    import subprocess

    from fl_estimate.mse.bayes.loglinear import BayesLogLinear
    from fl_estimate.simulate import simulate

    print("## PyMC: one compiled model per shape\n")
    kosovo = DATA / "kosovo.csv"
    cmd = [sys.executable, "-m", "fl_estimate.cli", "mse", str(kosovo), "--method"]
    cmd += ["bayes-threshold", "--seed", "1", "--format", "json"]
    print("| run | whole process s | estimate (95% CrI) |")
    print("|---|---|---|")
    for label in ("fresh process (first run here)", "fresh process again (disk cache warm)"):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        res = json.loads(out.stdout)
        print(
            f"| {label} | {wall:.1f} | {res['estimate']:,.0f} "
            f"({res['ci_low']:,.0f}–{res['ci_high']:,.0f}) |",
            flush=True,
        )
    print()
    data = read_capture_csv(kosovo)
    tables = [data] + [
        simulate(10_000 + 1_000 * i, list(data.lists), capture_probs=0.25, seed=i).data
        for i in range(4)
    ]
    import importlib.util

    model = BayesLogLinear()  # every two-list interaction, N(0, 1): the thresholding's first fit
    samplers = ["pymc"] + (["nutpie"] if importlib.util.find_spec("nutpie") else [])
    print(
        "| sampler | table (same shape: 4 lists, 6 interactions) | s | of which sampling s | estimate |"
    )
    print("|---|---|---|---|---|")
    for sampler in samplers:
        for i, tab in enumerate(tables):
            t = time.perf_counter()
            res = model.fit(tab, seed=1, sampler=sampler)
            wall = time.perf_counter() - t
            stats = res.draws["sample_stats"]
            sampling = float(stats.attrs.get("sampling_time", float("nan")))
            label = "first (compiles)" if i == 0 else f"table {i + 1} (reuses)"
            print(
                f"| {sampler} | {label} | {wall:.2f} | {sampling:.2f} | {res.estimate:,.0f} |",
                flush=True,
            )
    if len(samplers) == 1:
        print("\n(nutpie is not installed: pip install 'fl_estimate[fast]' for its rows)")
    print()


_HIERARCHICAL = """
import json, time
import numpy as np
from fl_estimate.simulate import simulate
from fl_estimate.mse.bayes.hierarchical import BayesHierarchicalLogLinear
rng = np.random.default_rng(20261202)
sizes = {(r, y): int(rng.integers(150, 1500)) for r in range(8) for y in (2021, 2022, 2023)}
sim = simulate(sizes, 6, capture_probs=[0.25, 0.2, 0.3, 0.15, 0.2, 0.1],
               dependence={("L1", "L2"): 2.0}, strata_names=["region", "year"], seed=7)
t = time.perf_counter()
res = BayesHierarchicalLogLinear().fit(sim.data, seed=1)
d = res.diagnostics
print(json.dumps({"fit": time.perf_counter() - t, "estimate": res.estimate, "low": res.ci_low,
                  "high": res.ci_high, "truth": sum(sizes.values()), "rhat": d.get("rhat_N"),
                  "ess": d.get("ess_bulk_N"), "sampler": d.get("sampler_used"),
                  "divergences": d.get("divergences"), "strata": d.get("n_strata")}))
"""


def hierarchical() -> None:
    """Table 5: one 24-stratum hierarchical fit, whole process (start-up and compile included)."""
    import json
    import os
    import resource
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _HIERARCHICAL], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print("## Hierarchical log-linear model, 24 strata x 6 lists, whole process\n")
    print(
        "| strata | wall s | CPU s | fit s | sampler | R-hat N | ESS bulk N | divergences "
        "| N-hat (95% CrI) | true N | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['strata']} | {wall:.1f} | {cpu:.1f} | {r['fit']:.1f} | {r['sampler']} | "
          f"{r['rhat']:.3f} | {r['ess']:.0f} | {r['divergences']} | {r['estimate']:,.0f} "
          f"({r['low']:,.0f}-{r['high']:,.0f}) | {r['truth']:,} | under 60 s |\n")  # fmt: skip


def main() -> None:
    quick = "--quick" in sys.argv
    if "--hierarchical" in sys.argv:
        hierarchical()
        return
    print(f"numpy {np.__version__}; quick={quick}\n")
    if "--pymc" in sys.argv:
        pymc_reuse()
        return
    if "--lcmcr-only" in sys.argv:
        lcmcr_tables(quick)
        return
    dga_tables(quick)
    lcmcr_tables(quick)
    if not quick:
        netherlands()
        pymc_reuse()
        hierarchical()


if __name__ == "__main__":
    main()
