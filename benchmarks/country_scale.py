"""The annual run at country scale (issue 23, point 4), whole processes, stage by stage.

    .venv/bin/python benchmarks/country_scale.py                 # local processes, then Dask
    .venv/bin/python benchmarks/country_scale.py --no-dask       # local processes only
    .venv/bin/python benchmarks/country_scale.py --scale 1.5     # a smaller country (a quick look)

The country: the synthetic sample country's generator (:func:`fl_estimate.providers.synthetic.
make_country`: 8 regions, 6 providers with their file formats, typing errors, within-provider
duplicates, key-only providers) over 10 years (2015-2024), at the scale that gives about 100,000
records (``--scale``, default 7.4). Every submission goes through validation, pseudonymisation
and linkage (``fl-estimate run`` links them, as the sample country's run does), then stepwise
with 1,000 BCa replicates and Bayesian thresholding (``bayes-threshold``, the exact independence
sampler) per stratum: 80 strata and 10 pooled national tables. LCMCR runs on the 10 national
tables only (one process after the run, on the run's linked capture histories, pooled by year:
the annual run has no per-level method list, so the stage is run as a user would run it beside
the annual run).

Printed, per stage: wall seconds (from the time each progress line reached this process), per
stratum (the stage's time over 80 strata, or over 10 tables for LCMCR), and the peak resident
memory of the whole process tree (sampled every 0.2 s with psutil: the main process and its
workers together; the Dask run counts the cluster's workers, which this process starts).

Targets (issue 23): the whole run under 5 minutes on 2 cores, memory under 4 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

YEARS = tuple(range(2015, 2025))
N_STRATA = 8 * len(YEARS)


def make(folder: Path, scale: float, seed: int) -> tuple[Path, int]:
    """The country's files under ``folder/country`` and the number of submitted records."""
    from fl_estimate.providers.synthetic import make_country, write_country

    country = make_country(years=YEARS, scale=scale, seed=seed)
    out = write_country(country, folder / "country")
    return out, len(country.truth)


def run_config(folder: Path, country: Path, scheduler: str | None) -> Path:
    executor = f'scheduler = "{scheduler}"' if scheduler else "workers = 2"
    path = folder / ("dask.toml" if scheduler else "local.toml")
    path.write_text(
        f"""[run]
title = "Country scale"
seed = 20261201
out = "out"
cache = false
[input]
link = "{country / "link.toml"}"
strata = ["region", "year"]
[estimation]
methods = ["stepwise", "bayes-threshold"]
min_lists = 3
min_per_list = 3
[estimation.stepwise]
interval = "bootstrap"
n_boot = 1000
[sensitivity]
leave_one_out = false
top_models = 0
[executor]
{executor}
""",
        encoding="utf-8",
    )
    return path


class Peak:
    """Peak resident memory of a process tree (this process's children and theirs, and any
    ``extra`` processes), sampled every 0.2 s in a thread."""

    def __init__(self, extra: list[int] | None = None) -> None:
        self.peak = 0
        self.extra = extra or []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            procs = me.children(recursive=True)
            for pid in self.extra:
                try:
                    p = psutil.Process(pid)
                    procs += [p, *p.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed_lines(
    cmd: list[str], cwd: Path, extra: list[int] | None = None
) -> tuple[list[tuple[float, str]], float, int]:
    """Run ``cmd``; each stdout line with the seconds since the start, the whole time and the
    peak memory of the process tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    lines: list[tuple[float, str]] = []
    with Peak(extra) as peak:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - t0, line.rstrip()))
        err = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
        secs = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}:\n{err}")
    return lines, secs, peak.peak


def stages(lines: list[tuple[float, str]], total: float) -> list[tuple[str, float]]:
    """Wall time of each stage, from the progress lines: start-up and reading the config (to the
    first line), validation + pseudonymisation + linkage (to "fitting"), the fits (to the line
    after them), tables + disclosure control + report (to the end)."""
    at = {"link": None, "fit": None, "after": None}
    for i, (t, text) in enumerate(lines):
        if at["link"] is None and text.startswith("linking provider submissions"):
            at["link"] = t
        if at["fit"] is None and text.startswith("fitting "):
            at["fit"] = t
            at["after"] = lines[i + 1][0] if i + 1 < len(lines) else total
    if None in at.values():
        raise SystemExit("progress lines not found:\n" + "\n".join(x for _, x in lines))
    return [
        ("start-up (imports, config)", at["link"]),
        ("validation, pseudonymisation, linkage", at["fit"] - at["link"]),
        (
            "stepwise + 1,000 BCa and bayes-threshold, 80 strata + 10 pooled",
            at["after"] - at["fit"],
        ),
        ("tables, disclosure control, charts, report", total - at["after"]),
    ]


LCMCR = """
import sys, time
t0 = time.perf_counter()
import pandas as pd
from fl_estimate.mse import estimate
from fl_estimate.mse.data import CaptureData
hist = pd.read_csv(sys.argv[1])
lists = [c for c in hist.columns if c not in ("person", "region", "year")]
data = CaptureData.from_records(hist[["year", *lists]], lists=lists, strata=["year"])
print(f"start-up {time.perf_counter() - t0:.2f}", flush=True)
for year, table in data.items():
    t = time.perf_counter()
    r = estimate(table, "lcmcr", seed=int(str(year[0] if isinstance(year, tuple) else year)),
                 progress=False)
    print(f"table {year} {time.perf_counter() - t:.2f} {r.estimate:.0f} {r.status}", flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=7.4)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        country, records = make(tmp, args.scale, args.seed)
        print(f"country: {records:,} records, 8 regions x {len(YEARS)} years, 6 providers "
              f"(made in {time.perf_counter() - t0:.0f} s, not counted); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")  # fmt: skip
        runs: list[tuple[str, str | None]] = [("local processes (2 workers)", None)]
        if not args.no_dask:
            runs.append(("local Dask cluster (2 workers)", "dask"))
        for label, kind in runs:
            cluster = None
            extra: list[int] = []
            if kind == "dask":
                from distributed import LocalCluster

                cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                       processes=True)  # fmt: skip
                extra = [w.pid for w in cluster.workers.values() if getattr(w, "pid", None)]
            cfg = run_config(tmp, country, cluster.scheduler_address if cluster else None)
            out = tmp / f"out-{kind or 'local'}"
            cmd = [sys.executable, "-m", "fl_estimate.cli", "run", str(cfg), "--out", str(out),
                   "--no-progress"]  # fmt: skip
            lines, total, peak = timed_lines(cmd, tmp, extra)
            if cluster is not None:
                cluster.close()
            hist = out.with_name(out.name + ".internal") / "linkage" / "capture_histories.csv"
            lc_lines, lc_total, lc_peak = timed_lines([sys.executable, "-c", LCMCR, str(hist)], tmp)
            rows = stages(lines, total)
            tables = [ln for _, ln in lc_lines if ln.startswith("table ")]
            print(f"{label}")
            print(f"{'stage':<64}{'wall (s)':>9}{'per stratum':>13}")
            for name, secs in rows:
                print(f"{name:<64}{secs:>9.1f}{secs / N_STRATA:>13.2f}")
            print(f"{'annual run, whole process':<64}{total:>9.1f}{total / N_STRATA:>13.2f}"
                  f"   peak memory {peak / 2**30:.2f} GB")  # fmt: skip
            print(f"{'LCMCR on the 10 national tables, whole process':<64}{lc_total:>9.1f}"
                  f"{lc_total / max(1, len(tables)):>13.2f}   peak memory "
                  f"{lc_peak / 2**30:.2f} GB (per table)")  # fmt: skip
            whole = total + lc_total
            print(f"{'whole':<64}{whole:>9.1f}   target: under 300 s; memory under 4 GB\n")
            for ln in tables:
                print("  LCMCR", ln)
            persons = [ln for _, ln in lines if "persons" in ln]
            for ln in persons[:3]:
                print("  run:", ln)
            print()


if __name__ == "__main__":
    main()
