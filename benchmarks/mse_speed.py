"""Speed of the classical MSE core beside the R references' recorded times.

Prints, per benchmark table, our wall time next to the `seconds` recorded in
tests/data/mse/peer_results.json (R 4.2.2 on a shared 2-core machine; indicative to about a factor
of 2) for: SparseMSE stepwise; exhaustive pairwise BIC at 5 and 6 lists (Rcapture closedpMS.t and
MultipleSystemsEstimation); stepwise + 1,000-replicate BCa (SparseMSE estimatepopulation); MultipleSystemsEstimation 1.2's BIC
at its default order (order 3 at 4-5 lists) and BIC + 1,000-replicate BCa over the top 20 (4 lists)
or 100 (5 lists) models, for every k.

Then **the physical limit** of the log-linear core: for the exhaustive pairwise BIC over uk_2013
(6 lists, 32,768 models) the floating-point work of the IRLS solves themselves (per iteration:
``X' W X`` over the observed cells, 2 n p^2 flops with n cells and p parameters; its Cholesky
factor, p^3 / 3; the two triangular solves and ``X' (W z)``, 2 p^2 + 4 n p), with the iteration
count of every model counted by fitting a random sample of the models one by one, divided by the
machine's own dense matrix-multiply rate (numpy's BLAS on a 1,000 x 1,000 product, the best this
machine's cores reach on any floating-point kernel), printed beside the achieved time and fits per
second. The ratio achieved / floor is the distance to the limit. It is a floor, not a target: at
p of 7-22 and n of 63 the solves are far too small to run at dense-BLAS speed, so a ratio of a
few tens is close to what any implementation can reach.

Usage: .venv/bin/python benchmarks/mse_speed.py [--quick] [--floor-only]
(--quick: 200 bootstrap replicates instead of 1,000, for a fast look.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fl_estimate import read_capture_csv  # noqa: E402
from fl_estimate.mse.loglinear import StepwiseMSE, Table, exhaustive_search, stepwise  # noqa: E402
from fl_estimate.mse.loglinear.fit import fit_loglinear  # noqa: E402
from fl_estimate.mse.loglinear.terms import hierarchical_models  # noqa: E402

DATA = ROOT / "tests" / "data" / "mse"
PEERS = json.loads((DATA / "peer_results.json").read_text())


def ref_seconds(dataset: str, peer: str, prefix: str, **settings: object) -> str:
    for r in PEERS:
        if (
            r["dataset"] == dataset
            and r["peer"] == peer
            and r["method"].startswith(prefix)
            and all(r["settings"].get(k) == v for k, v in settings.items())
        ):
            s = (
                r.get("search_seconds")
                if "search_seconds" in r and r.get("search_seconds")
                else None
            )
            s = s or r.get("seconds")
            return "—" if s is None else f"{s:.3f}"
    return "—"


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mse12_rows(names: list[str], n_boot: int) -> list[tuple]:
    """MultipleSystemsEstimation 1.2 rows: BIC point estimate at the default order (order 3 at
    4-5 lists: 113 / 6,212 models) and BIC + BCa over the top models (20 at 4 lists, 100 at 5),
    beside the reference's recorded seconds."""
    from fl_estimate.mse.loglinear.topmodels import (
        default_max_order,
        default_top_models,
        top_models_bca,
    )

    out = []
    for name in names:
        data = read_capture_csv(DATA / f"{name}.csv")
        k = data.n_lists
        if k not in (4, 5):
            continue
        table = Table.from_data(data)
        order = default_max_order(k)
        t_bic = timed(
            lambda table=table, order=order: exhaustive_search(
                table, criterion="bic", max_order=order
            ),
            repeat=2,
        )
        out.append(
            (
                name,
                k,
                f"BIC point estimate, order {order}",
                f"{t_bic:.3f}",
                ref_seconds(
                    name, "MultipleSystemsEstimation", "estimate_population(method='auto')"
                ),
                "MultipleSystemsEstimation auto",
            )
        )
        ntop = default_top_models(k)
        t_boot = timed(
            lambda table=table, order=order, ntop=ntop: top_models_bca(
                table, max_order=order, n_top=ntop, n_boot=n_boot, seed=1, n_jobs=2
            )
        )
        out.append(
            (
                name,
                k,
                f"BIC + {n_boot} BCa, top {ntop}, every k",
                f"{t_boot:.2f}",
                ref_seconds(
                    name,
                    "MultipleSystemsEstimation",
                    "BIC over hierarchical models (default maxorder), BCa bootstrap",
                    nboot=1000,
                ),
                "MultipleSystemsEstimation (nboot=1000)",
            )
        )
    return out


def blas_flops_per_second(size: int = 1000, repeat: int = 5) -> float:
    """The machine's dense matrix-multiply rate (flop/s): best of ``repeat`` products."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    a @ b  # warm the BLAS threads
    return 2.0 * size**3 / timed(lambda: a @ b, repeat=repeat)


def irls_floor(name: str = "uk_2013", sample: int = 400) -> list[tuple[str, str]]:
    """Rows of the physical-limit table for the exhaustive pairwise BIC on one table."""
    import numpy as np

    data = read_capture_csv(DATA / f"{name}.csv")
    table = Table.from_data(data)
    models = list(hierarchical_models(table.k, 2))
    n = 2**table.k - 1  # every observable cell enters X'WX (empty cells included)
    rng = np.random.default_rng(20261201)
    pick = rng.choice(len(models), size=min(sample, len(models)), replace=False)
    flops = []
    iterations = []
    for i in pick:
        fit = fit_loglinear(table, models[i], check=False)
        p = len(fit.terms)
        per_iteration = 2 * n * p**2 + p**3 / 3 + 2 * p**2 + 4 * n * p
        flops.append(fit.iterations * per_iteration)
        iterations.append(fit.iterations)
    total_flops = float(np.mean(flops)) * len(models)
    rate = blas_flops_per_second()
    floor = total_flops / rate
    achieved = timed(lambda: exhaustive_search(table, criterion="bic"), repeat=3)
    return [
        ("table", f"{name} ({table.k} lists, {len(models):,} models, {n} cells)"),
        ("IRLS iterations per model (mean of a sample)", f"{np.mean(iterations):.1f}"),
        ("flops of the solves, whole search", f"{total_flops:.3g}"),
        ("machine's dense matmul rate (flop/s)", f"{rate:.3g}"),
        ("floor: flops / rate (s)", f"{floor:.4f}"),
        ("achieved: exhaustive_search (s, best of 3)", f"{achieved:.3f}"),
        ("achieved fits per second", f"{len(models) / achieved:,.0f}"),
        ("floor fits per second", f"{len(models) / floor:,.0f}"),
        ("achieved / floor", f"{achieved / floor:.1f}x"),
    ]


def print_rows(head: tuple[str, ...], rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--floor-only", action="store_true", help="only the physical-limit table")
    args = ap.parse_args()
    if args.floor_only:
        print_rows(("physical limit of the log-linear core", "value"), irls_floor())
        return
    n_boot = 200 if args.quick else 1000
    names = sorted({r["dataset"] for r in PEERS})
    rows = []
    for name in names:
        data = read_capture_csv(DATA / f"{name}.csv")
        table = Table.from_data(data)
        t_step = timed(lambda table=table: stepwise(table), repeat=3)
        rows.append(
            (
                name,
                data.n_lists,
                "stepwise",
                f"{t_step:.4f}",
                ref_seconds(name, "SparseMSE", "stepwise (Poisson"),
                "SparseMSE",
            )
        )
        if data.n_lists in (5, 6):
            t_bic = timed(lambda table=table: exhaustive_search(table, criterion="bic"))
            rows.append(
                (
                    name,
                    data.n_lists,
                    "exhaustive pairwise BIC",
                    f"{t_bic:.3f}",
                    ref_seconds(name, "Rcapture", "closedpMS.t best BIC"),
                    "Rcapture",
                )
            )
            prefix = (
                "BIC over hierarchical models (default"
                if data.n_lists == 6
                else "BIC over hierarchical models with two-list"
            )
            rows.append(
                (
                    name,
                    data.n_lists,
                    "exhaustive pairwise BIC",
                    f"{t_bic:.3f}",
                    ref_seconds(name, "MultipleSystemsEstimation", prefix),
                    "MultipleSystemsEstimation",
                )
            )
        if data.n_lists <= 6 and name in {
            r["dataset"] for r in PEERS if r["method"].startswith("stepwise + BCa")
        }:
            t_boot = timed(
                lambda data=data: StepwiseMSE().fit(
                    data, interval="bootstrap", n_boot=n_boot, seed=1
                )
            )
            rows.append(
                (
                    name,
                    data.n_lists,
                    f"stepwise + {n_boot} BCa",
                    f"{t_boot:.2f}",
                    ref_seconds(name, "SparseMSE", "stepwise + BCa", nboot=1000),
                    "SparseMSE (nboot=1000)",
                )
            )
    rows += mse12_rows(names, n_boot)
    print_rows(("table", "K", "task", "ours (s)", "reference (s)", "reference"), rows)
    print()
    print_rows(("physical limit of the log-linear core", "value"), irls_floor())


if __name__ == "__main__":
    main()
