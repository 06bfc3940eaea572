"""Linked-tables disclosure control of the annual run: time and share of suppressed cells.

For each case the run's own published cells (:func:`fl_estimate.pipeline.published.linked_cells`)
go through :func:`fl_estimate.disclosure.protect_tables`; the table gives the atoms (stratum x
capture pattern), the published counts, the primary and secondary suppressions, the share of
published counts suppressed (``share``; ``tables``: among the tables' counts alone, without the
list-overlaps chart's pooled counts, which are in the system since issue 19), whether every
primary count's protection interval is at least the threshold wide (the LP audit), and the
median wall and CPU time of ``protect_tables`` over ``--repeat`` calls.

1. The sample country (``data_samples/country.toml``, the annual run: linkage, stepwise and
   independence, 1,000 bootstrap replicates; ~2 minutes cold, seconds with ``--cache``).
2. The sample country cut as issue 19 cuts it: the first region's 2022 to 3 people, every
   stratum of the second region to 12 (its capture histories from case 1's internal folder,
   stepwise with 20 replicates).
3. ``--countries`` random small-strata countries drawn as the property test draws them
   (tests/pipeline/test_linked_disclosure.py: 1-3 regions x 2 years, 3-4 lists, 0-1, 0-2 or 0-6
   people per pattern, threshold 3-6), independence model, each drawn from its own key of one
   SeedSequence; totals over them.

Only public names are used, so that the script measures any version of the package: run it
with ``PYTHONPATH`` at another checkout's ``src`` to measure that one (benchmarks/results/
disclosure.txt holds main before and after issue 19's speed-up).

Usage: python benchmarks/disclosure.py [--cache DIR] [--countries 40] [--repeat 3] [--skip-sample]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
import warnings
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.disclosure import protect_tables
from fl_estimate.mse.data import CaptureData
from fl_estimate.pipeline.published import linked_cells
from fl_estimate.pipeline.strata import StratumTask, fit_stratum
from fl_estimate.pipeline.tables import build_tables

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the configurations of the tests that run these cases (stepwise on histories; independence)
from tests.pipeline.test_linked_disclosure import _config as small_config  # noqa: E402
from tests.pipeline.test_pipeline import _config as cut_config  # noqa: E402

LISTS = ("police", "courts", "ngo", "labour")
REGIONS = ("North", "South", "East")
YEARS = (2021, 2022)


def _capture_run(config: Path, out: Path, cache: Path | None) -> tuple[Any, ...]:
    """The annual run of ``config``; the inputs its ``published_tables`` was given."""
    runner = importlib.import_module("fl_estimate.pipeline.run")
    seen: list[tuple[Any, ...]] = []
    original = runner.published_tables

    def spy(*args: Any) -> Any:
        seen.append(args)
        return original(*args)

    runner.published_tables = spy
    try:
        kw: dict[str, Any] = {"out": out, "progress": False}
        if cache is not None:
            kw["cache"] = cache
        runner.run(config, **kw)
    finally:
        runner.published_tables = original
    return seen[0]


def _cut_histories(internal: Path, target: Path) -> Path:
    """Issue 19's cut: the first region's 2022 to 3 people, the second region's strata to 12."""
    h = pd.read_csv(internal / "linkage" / "capture_histories.csv")
    regions = sorted(h["region"].unique())
    parts = []
    for (r, y), g in h.groupby(["region", "year"]):
        if r == regions[0] and y == 2022:
            g = g.head(3)
        elif r == regions[1]:
            g = g.head(12)
        parts.append(g)
    pd.concat(parts).to_csv(target, index=False)
    return target


def small_country(rng: np.random.Generator) -> tuple[Any, ...]:
    """The property test's law of a small country, through the run's own steps."""
    n_lists = int(rng.integers(3, 5))
    lists = LISTS[:n_lists]
    patterns = [p for p in product((0, 1), repeat=n_lists) if any(p)]
    rows = []
    for region, year in product(REGIONS[: int(rng.integers(1, 4))], YEARS):
        top = int(rng.choice([1, 2, 6]))
        counts = [int(v) for v in rng.integers(0, top + 1, len(patterns))]
        if not any(counts):
            counts[0] = 1
        if region == REGIONS[0]:
            counts = [n + (sum(p) == n_lists) for p, n in zip(patterns, counts, strict=True)]
        for p, n in zip(patterns, counts, strict=True):
            rows += [{"region": region, "year": year, **dict(zip(lists, p, strict=True))}] * n
    threshold = int(rng.integers(3, 7))
    cfg = small_config(threshold, int(rng.integers(2, threshold + 2)))
    data = CaptureData.from_records(pd.DataFrame(rows), strata=list(cfg.strata))
    keys = sorted(data.keys(), key=lambda k: tuple(str(v) for v in k))
    opts = {m: cfg.options_for(m) for m in cfg.methods}

    def fit(key: Any, table: Any) -> Any:
        return fit_stratum(StratumTask(key, table, opts, 1, cfg.min_lists, cfg.min_per_list))

    outcomes = [fit(k, data[k]) for k in keys]
    groups = sorted(data.collapse(keep=["year"]).items(), key=lambda kv: str(kv[0]))
    national = [fit(("national", *g), t) for g, t in groups]
    return cfg, data, outcomes, build_tables(cfg, data, outcomes, groups, national)


def measure(inputs: tuple[Any, ...], repeat: int) -> dict[str, Any]:
    """protect_tables on a run's published cells: counts, share suppressed, audit, times."""
    cfg = inputs[0]
    atoms, cells = linked_cells(*inputs)
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        p = protect_tables(atoms.values, cells, threshold=cfg.threshold)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    counts = [c.key for c in cells if c.bounds is None]
    tables = [k for k in counts if not (isinstance(k, tuple) and k[0] == "list_overlaps")]
    return {
        "tables": len(tables),
        "tables hidden": sum(k in p.hidden for k in tables),
        "atoms": len(atoms.values),
        "counts": len(counts),
        "primary": sum(k in p.primary for k in counts),
        "secondary": sum(k in p.secondary for k in counts),
        "hidden": sum(k in p.hidden for k in counts),
        "protected": bool(p.intervals["protected"].all()),
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
    }


def _row(name: str, m: dict[str, Any]) -> str:
    share = m["hidden"] / m["counts"] if m["counts"] else 0.0
    in_tables = m["tables hidden"] / m["tables"] if m["tables"] else 0.0
    return (
        f"{name:<34}{m['atoms']:>7}{m['counts']:>8}{m['primary']:>9}{m['secondary']:>11}"
        f"{share:>9.1%}{in_tables:>9.1%}{'yes' if m['protected'] else 'NO':>11}"
        f"{m['wall']:>10.2f}{m['cpu']:>9.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, help="fit cache folder (reused between invocations)")
    ap.add_argument("--countries", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--skip-sample", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # the small strata's fits warn; the fits are not measured
    print(
        f"{'case':<34}{'atoms':>7}{'counts':>8}{'primary':>9}{'secondary':>11}{'share':>9}"
        f"{'tables':>9}{'audit ok':>11}{'wall (s)':>10}{'cpu (s)':>9}"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_sample:
            sample = _capture_run(ROOT / "data_samples" / "country.toml", tmp / "out", args.cache)
            print(_row("sample country", measure(sample, args.repeat)), flush=True)
            hist = _cut_histories(tmp / "out.internal", tmp / "cut.csv")
            cfg = cut_config(tmp / "cut", link=False, histories=hist, n_boot=20)
            cut = _capture_run(cfg, tmp / "cut" / "out", args.cache)
            print(_row("sample country, cut (issue 19)", measure(cut, args.repeat)), flush=True)
    seeds = np.random.SeedSequence(args.seed)
    total: dict[str, Any] = {}
    for i in range(args.countries):
        rng = np.random.default_rng(np.random.SeedSequence(seeds.entropy, spawn_key=(i,)))
        m = measure(small_country(rng), args.repeat)
        for k, v in m.items():
            total[k] = (total.get(k, True) and v) if k == "protected" else total.get(k, 0) + v
    if args.countries:
        print(_row(f"{args.countries} small countries (sum)", total))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    sys.exit(main())
