"""Wall time of the annual run.

1. The sample country (data_samples/country.toml: linkage of 64 provider files, 24 strata, stepwise +
   independence, 1,000 bootstrap replicates each, sensitivity and top models).
2. A larger generated country: 8 regions x 10 years x 6 lists (simulated with fl_estimate.simulate,
   capture histories given directly), stepwise + 1,000-replicate BCa per stratum, national totals from
   the replicates; on local processes and on a local Dask cluster. Target: under 3 minutes on 2 cores.

Usage: .venv/bin/python benchmarks/pipeline.py [--skip-sample] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from fl_estimate import simulate  # noqa: E402
from fl_estimate.pipeline import run  # noqa: E402


def big_country(tmp: Path, seed: int = 11) -> Path:
    regions = ["North", "South", "East", "West", "Central", "Lakes", "Highlands", "Coast"]
    rng = np.random.default_rng(seed)
    sizes = {(r, y): int(rng.integers(300, 900)) for r in regions for y in range(2014, 2024)}
    sim = simulate(
        sizes,
        ["police", "gendarmerie", "courts", "social", "ngo", "iom"],
        capture_probs=[[0.12, 0.10, 0.08, 0.15, 0.2, 0.1], [0.35, 0.3, 0.25, 0.4, 0.45, 0.3]],
        class_weights=[0.8, 0.2],
        dependence={("police", "courts"): 3.0},
        strata_names=["region", "year"],
        seed=seed,
    )
    hist = tmp / "histories.csv"
    sim.records.drop(columns=["latent_class"]).to_csv(hist, index=False)
    return hist


def config(tmp: Path, hist: Path, n_boot: int, scheduler: str | None = None) -> Path:
    ex = f'scheduler = "{scheduler}"' if scheduler else "workers = 2"
    text = f"""
[run]
title = "Large generated country"
seed = 1
out = "{tmp / "out"}"
[input]
capture_histories = "{hist}"
strata = ["region", "year"]
[estimation]
methods = ["stepwise"]
interval = "bootstrap"
n_boot = {n_boot}
[sensitivity]
leave_one_out = false
top_models = 0
[executor]
{ex}
"""
    p = tmp / ("dask.toml" if scheduler else "local.toml")
    p.write_text(text)
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_sample:
            t0 = time.perf_counter()
            res = run(ROOT / "data_samples" / "country.toml", out=tmp / "sample", progress=False)
            secs = time.perf_counter() - t0
            rows.append(
                ("sample country (24 strata, linkage + 2 methods)", secs, secs / len(res.strata))
            )
        hist = big_country(tmp)
        t0 = time.perf_counter()
        res = run(config(tmp, hist, args.n_boot), progress=False)
        secs = time.perf_counter() - t0
        rows.append(
            (
                f"8 regions x 10 years x 6 lists, stepwise + {args.n_boot} BCa, local",
                secs,
                secs / len(res.strata),
            )
        )
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl:
            t0 = time.perf_counter()
            res = run(config(tmp, hist, args.n_boot, cl.scheduler_address), progress=False)
            secs = time.perf_counter() - t0
        rows.append(("same on a local Dask cluster (2 workers)", secs, secs / len(res.strata)))
    print(f"{'run':<62}{'wall (s)':>10}{'per stratum (s)':>17}")
    for name, secs, per in rows:
        print(f"{name:<62}{secs:>10.1f}{per:>17.2f}")
    print("target: the large run under 180 s on 2 cores")


if __name__ == "__main__":
    main()
