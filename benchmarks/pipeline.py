"""Wall time of the annual run.

0. Incremental reruns (the fit cache, issue 19), whole processes (``fl-estimate run`` in a
   subprocess, start-up included) on the sample country: a cold run (empty cache), an unchanged
   rerun (target: under 10 s on 2 cores) and the sample country plus one year (2024 submissions
   made by fl_estimate.providers.synthetic and added to a copy of the country; target: under 40% of
   a cold run). The plus-one-year run extends the cached linkage of 2021-2023 (incremental
   linkage: earlier persons held) and fits only 2024's tables. Two cold runs are timed, and the
   ratio is printed against both: the sample country's (2021-2023, what the cache was filled by)
   and the same four years' without a cache (what the incremental run saves the user from).
1. The sample country (data_samples/country.toml: linkage of 64 provider files, 24 strata, stepwise +
   independence, 1,000 bootstrap replicates each, sensitivity and top models).
2. A larger generated country: 8 regions x 10 years x 6 lists (simulated with fl_estimate.simulate,
   capture histories given directly), stepwise + 1,000-replicate BCa per stratum, national totals from
   the replicates; on local processes and on a local Dask cluster. Target: under 3 minutes on 2 cores.

Usage: .venv/bin/python benchmarks/pipeline.py [--skip-sample] [--skip-large] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from fl_estimate import simulate  # noqa: E402
from fl_estimate.pipeline import run  # noqa: E402


def _country_copy(folder: Path) -> Path:
    """``folder/country.toml`` and ``folder/country/``: the sample country, its run config's
    relative paths unchanged."""
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "data_samples" / "country", folder / "country",
                    ignore=shutil.ignore_patterns("linkage_output*"))  # fmt: skip
    shutil.copy(ROOT / "data_samples" / "country.toml", folder / "country.toml")
    return folder / "country.toml"


def plus_one_year(folder: Path, year: int = 2024) -> Path:
    """The sample country with one more year: the committed 2021-2023 files as they are, and the
    ``year`` submissions of a synthetic country made for that year alone (record ids prefixed so
    that they do not repeat earlier ones), its populations and true sizes appended."""
    import pandas as pd

    from fl_estimate.providers.synthetic import make_country, write_country

    cfg = _country_copy(folder)
    country = folder / "country"
    extra = write_country(make_country(years=(year,), seed=year), folder / "extra")
    for path in sorted((extra / "submissions").iterdir()):
        frame = pd.read_excel(path) if path.suffix == ".xlsx" else pd.read_csv(path, dtype=str)
        frame["record_id"] = f"Y{year}-" + frame["record_id"].astype(str)
        target = country / "submissions" / path.name
        if path.suffix == ".xlsx":
            frame.to_excel(target, index=False, sheet_name="submission")
        else:
            frame.to_csv(target, index=False, lineterminator="\n")
    pop = pd.read_csv(country / "population.csv")
    last = pop[pop["year"] == pop["year"].max()].assign(year=year)
    last["population"] = (last["population"] * 1.01).round().astype(int)
    pd.concat([pop, last]).to_csv(country / "population.csv", index=False, lineterminator="\n")
    truth = country / "truth" / "population.csv"
    both = pd.concat([pd.read_csv(truth), pd.read_csv(extra / "truth" / "population.csv")])
    both.to_csv(truth, index=False, lineterminator="\n")
    link = country / "link.toml"
    link.write_text(link.read_text().replace('as_of = "2024-02-15"', f'as_of = "{year + 1}-02-15"'))
    shutil.rmtree(extra)
    return cfg


def _cli_run(cfg: Path, out: Path, cache: Path) -> tuple[float, str]:
    """Wall time of ``fl-estimate run`` in a new process, and its "fit cache" line."""
    env = {**os.environ, "FL_ESTIMATE_CACHE": str(cache), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "fl_estimate.cli", "run", str(cfg), "--out", str(out),
           "--no-progress"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    found = re.search(r"fit cache: (.*)", proc.stdout)
    return secs, found.group(1) if found else ""


def _linkage_generations(folder: Path) -> str:
    """How the linkage of a run was made: "linked anew", or the records it added to a cached
    linkage (the internal linkage report's ``generations``)."""
    import json

    report = json.loads((folder / "linkage_report.json").read_text(encoding="utf-8"))
    gens = report["linkage"].get("generations")
    if not gens:
        return "linked anew"
    last = gens[-1]
    return (f"linkage extended: {last['records']} new records, {last['found_again']} found "
            f"again, {last['new_persons']} new persons")  # fmt: skip


def incremental_rows(tmp: Path) -> list[tuple[str, float, str]]:
    """Cold run, unchanged rerun and plus one year of the sample country, one process each."""
    cache = tmp / "fit-cache"
    base = _country_copy(tmp / "base")
    plus = plus_one_year(tmp / "plus")
    cold, cold_info = _cli_run(base, tmp / "out-cold", cache)
    again, again_info = _cli_run(base, tmp / "out-again", cache)
    more, more_info = _cli_run(plus, tmp / "out-plus", cache)
    linkage = _linkage_generations(tmp / "out-plus.internal" / "linkage")
    more_info += f"; {linkage}"
    plus_cold, plus_cold_info = _cli_run(plus, tmp / "out-plus-cold", tmp / "empty-cache")
    return [
        ("sample country, cold (empty fit cache)", cold, cold_info),
        ("sample country, unchanged rerun", again, again_info),
        ("sample country plus one year (2024)", more, more_info),
        ("plus one year, cold (empty fit cache)", plus_cold, plus_cold_info),
    ]


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
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--only-incremental", action="store_true")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        inc = incremental_rows(Path(d)) if not args.skip_sample else []
    if inc:
        cold, plus_cold = inc[0][1], inc[3][1]
        print(
            f"{'incremental reruns (whole process)':<42}{'wall (s)':>10}{'of cold':>9}"
            f"{'of cold 4 y':>13}  fit cache"
        )
        for name, secs, info in inc:
            print(f"{name:<42}{secs:>10.1f}{secs / cold:>9.0%}{secs / plus_cold:>13.0%}  {info}")
        print(
            f"targets: unchanged rerun under 10 s ({inc[1][1]:.1f} s), plus one year under 40% of "
            f"a cold run: {inc[2][1] / plus_cold:.0%} of the same four years' cold run, "
            f"{inc[2][1] / cold:.0%} of the 2021-2023 cold run; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
        )
    if args.only_incremental:
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_sample:
            t0 = time.perf_counter()
            res = run(ROOT / "data_samples" / "country.toml", out=tmp / "sample", progress=False)
            secs = time.perf_counter() - t0
            rows.append(
                ("sample country (24 strata, linkage + 2 methods)", secs, secs / len(res.strata))
            )
        if args.skip_large:
            rows_print(rows)
            return
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
    rows_print(rows)
    print("target: the large run under 180 s on 2 cores")


def rows_print(rows: list[tuple[str, float, float]]) -> None:
    print(f"{'run':<62}{'wall (s)':>10}{'per stratum (s)':>17}")
    for name, secs, per in rows:
        print(f"{name:<62}{secs:>10.1f}{per:>17.2f}")


if __name__ == "__main__":
    main()
