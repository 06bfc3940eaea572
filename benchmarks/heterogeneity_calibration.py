"""Does the heterogeneity diagnosis need a parametric-bootstrap null? (issue 20, section 2)

The issue allows a cheaper calibration than a parametric bootstrap of at least 199 replicates if it
is shown to give the same size. This script runs, on the randomised family of designs drawn fresh
by ``benchmarks/mse_validation.py``'s :func:`draw_table` (same classes, same replicate streams),
both calibrations of :func:`fl_estimate.mse.heterogeneity.diagnosis.diagnose_heterogeneity` on every
table:

* ``asymptotic`` (the default): the heterogeneity column's one-sided normal p-value at entry;
* ``bootstrap``: where the asymptotic selection lets the column in, a parametric bootstrap of the
  whole forward selection (199 tables drawn from the forward selection over the two-list
  interactions alone; statistic: the column's p-value at entry; Besag-Clifford early stop).

Printed per design class: tables, share flagged by each (false alarms in the homogeneous classes,
with Monte Carlo errors), power of each where stepwise is more than 20% too low, and CPU seconds
of each. Usage:

    .venv/bin/python benchmarks/heterogeneity_calibration.py [--seed S] [--reps 400,100]
        [--classes 0,1,...] [--jobs 2]

``--reps H,E``: H replicates per homogeneous class (size needs many), E per heterogeneous class.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mse_validation import DESIGN_CLASSES, draw_table, stepwise_too_low

from fl_estimate.mse.heterogeneity.diagnosis import diagnose_heterogeneity


def one(args: tuple[int, int, int]) -> dict | None:
    cls, rep, master = args
    drawn = draw_table(cls, rep, master)
    if drawn is None:
        return None
    _design, data, truth = drawn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.process_time()
        asym = diagnose_heterogeneity(data, calibration="asymptotic")
        t_asym = time.process_time() - t
        t = time.process_time()
        boot = diagnose_heterogeneity(data, calibration="bootstrap")
        t_boot = time.process_time() - t
        low = stepwise_too_low(data, truth)
    return {
        "class": DESIGN_CLASSES[cls].name,
        "homogeneous": cls < 6,
        "asymptotic": asym.flag,
        "bootstrap": boot.flag,
        "draws": boot.n_boot,
        "cpu_asymptotic": t_asym,
        "cpu_bootstrap": t_boot,
        "stepwise_low": low,
    }


def mcse(p: float, n: int) -> float:
    return float(np.sqrt(max(p * (1 - p), 1e-12) / max(n, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: fresh)")
    ap.add_argument("--reps", default="400,100", help="replicates: homogeneous,heterogeneous")
    ap.add_argument("--classes", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    master = a.seed if a.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    hom, het = (int(x) for x in a.reps.split(","))
    classes = (
        [int(c) for c in a.classes.split(",")] if a.classes else list(range(len(DESIGN_CLASSES)))
    )
    jobs = [(c, r, master) for c in classes for r in range(hom if c < 6 else het)]
    t0 = time.time()
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = [r for r in ex.map(one, jobs, chunksize=4) if r is not None]
    df = pd.DataFrame(rows)
    out = []
    for name, g in df.groupby("class", sort=False):
        low = g[g.stepwise_low]
        row = {"class": name, "tables": len(g)}
        for cal in ("asymptotic", "bootstrap"):
            p = float(g[cal].mean())
            row[f"flagged_{cal}"] = f"{p:.3f} ± {mcse(p, len(g)):.3f}"
        row["low"] = len(low)
        for cal in ("asymptotic", "bootstrap"):
            p = float(low[cal].mean()) if len(low) else float("nan")
            row[f"power_{cal}"] = f"{p:.2f} ± {mcse(p, len(low)):.2f}" if len(low) else "-"
        row["cpu_asymptotic"] = round(float(g.cpu_asymptotic.sum()), 1)
        row["cpu_bootstrap"] = round(float(g.cpu_bootstrap.sum()), 1)
        out.append(row)
    print(f"master seed {master}; {hom} replicates per homogeneous class, {het} per heterogeneous")
    print("flagged: false alarms in the homogeneous classes; power: where stepwise is > 20% low")
    print(pd.DataFrame(out).to_string(index=False))
    h = df[df.homogeneous]
    agree = float((h.asymptotic == h.bootstrap).mean()) if len(h) else float("nan")
    print(
        f"homogeneous tables: verdicts agree on {agree:.3f}; false alarms pooled "
        f"{h.asymptotic.mean():.4f} (asymptotic) vs {h.bootstrap.mean():.4f} (bootstrap); "
        f"wall {time.time() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
