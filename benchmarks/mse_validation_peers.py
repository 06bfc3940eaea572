"""The R peers on the validation study's own randomised designs, beside the package's default policy.

Draws its tables with ``benchmarks/mse_validation.py``'s :func:`draw_table` (the same
``fl_estimate.simulate.draw_design`` family, the same replicate streams: replicate ``r`` of class
``c`` under master seed ``S`` is the same table in both scripts), fits on each the package's methods
of ``mse_validation.py --fast`` (the default policy, stepwise, ...), and runs the R reference peers on
the SAME tables, every table of a design class in one ``Rscript`` call per peer
(``benchmarks/r/peer_call.R batch``: R's start-up is about a second), through a temporary directory
of CSVs and a JSON file read back:

- MultipleSystemsEstimation ``estimate_population(z, nboot = B)``: its default method "auto" (BIC
  over every hierarchical model at its default maximum order for K <= 5; stepwise at K >= 6, which
  is SparseMSE's call, so run at K <= 5 only) with its BCa interval that repeats the BIC selection
  over the best-ranked models (``--mse-nboot``, default 200 replicates; its default ``nboot = 0``
  gives no interval at all);
- SparseMSE ``estimatepopulation.0`` (stepwise, Wald interval on the log dark figure, conditional
  on the selected model: cheap) on every table, and ``estimatepopulation(nboot = B)`` (stepwise +
  BCa repeating the selection; its default is B = 1,000) with ``--sparse-nboot`` replicates on every
  ``--sparse-every``-th replicate;
- LCMCR ``lcmCR(K = 10)`` with SHORT chains (``--lcmcr-chain``, default burn-in 20,000, 2,000 samples
  thinned by 20: one chain of 60,000 iterations, against the 600,000 of peer_results.json) on every
  ``--lcmcr-every``-th replicate; LCMCR needs at least 3 lists, which every class has;
- dga ``bma.cr`` (prior 1/N, delta 2^-K) at K <= 5 only (dga ships its decomposable graphs for 3 to
  5 lists), on a grid of about 2,000 points extended until the tail mass is under 1e-4.

Prints per design class and method: coverage of the 95% intervals with its Monte Carlo error, median
relative error, median relative width, failures (and the default policy's lower-bound share), the
package's rows restricted to the replicates the peers ran on. The master seed is fresh unless
``--seed`` is given, and printed. Without ``Rscript`` or with a peer package missing from
``$FL_PEERS_RLIB`` (default ``~/peers/Rlib``) the peer is skipped with a message, and the script still
prints the package's rows: R stays out of the tests and CI.

Usage: .venv/bin/python benchmarks/mse_validation_peers.py [--reps 25] [--seed S] [--jobs 2]
       [--classes 0,1,...] [--peers mse,sparse-wald,sparse-bca,lcmcr,dga] [--out reps.csv]
       [--summarise reps.csv]
The cheap peers run first (SparseMSE Wald, dga, LCMCR, then MultipleSystemsEstimation's bootstrap
and SparseMSE's); ``--out`` is rewritten after every Rscript call, and ``--summarise a.csv[,b.csv]``
prints the tables of saved CSVs (of a run stopped early, too; runs of other peers or classes on the
same seed are merged, a replicate's row for a method taken from the first file that has it).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mse_validation import FAST, draw_table, one_rep, summarise  # noqa: E402
from peers_side_by_side import R_SCRIPT, RLIB, peers_available  # noqa: E402

from fl_estimate.simulate import DESIGN_CLASSES  # noqa: E402

#: the package's rows printed beside the peers
OURS = ("stepwise (Wald)", "default policy (Wald)")


@dataclass(frozen=True)
class Peer:
    """One peer call of ``peer_call.R batch``."""

    key: str
    label: str
    package: str
    task: str
    max_k: int = 99


def peer_list(args: argparse.Namespace) -> list[Peer]:
    chain = args.lcmcr_chain.split(",")
    burn, samples, thin = (int(x) for x in chain)
    return [
        Peer(
            "mse",
            f"MSE auto=BIC (BCa {args.mse_nboot})",
            "MultipleSystemsEstimation",
            "mse-default",
            max_k=5,
        ),
        Peer("sparse-wald", "SparseMSE stepwise (Wald)", "SparseMSE", "sparsemse-wald"),
        Peer(
            "sparse-bca",
            f"SparseMSE stepwise (BCa {args.sparse_nboot})",
            "SparseMSE",
            "sparsemse-bca",
        ),
        Peer("lcmcr", f"LCMCR ({burn // 1000}k+{samples}x{thin})", "LCMCR", "lcmcr"),
        Peer("dga", "dga (bma.cr)", "dga", "dga-auto", max_k=5),
    ]


def peer_extra(peer: Peer, args: argparse.Namespace) -> list[str]:
    if peer.key == "mse":
        return [str(args.mse_nboot)]
    if peer.key == "sparse-bca":
        return [str(args.sparse_nboot)]
    if peer.key == "lcmcr":
        return args.lcmcr_chain.split(",")
    return []


def every(peer: Peer, args: argparse.Namespace) -> int:
    return {"sparse-bca": args.sparse_every, "lcmcr": args.lcmcr_every}.get(peer.key, 1)


def run_batch(rscript: str, peer: Peer, tables: dict[str, pd.DataFrame], extra: list[str]) -> dict:
    """Every table through one Rscript call; {file stem: peer record} and the call's CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="fl_peers_") as tmp:
        for name, frame in tables.items():
            frame.to_csv(Path(tmp) / f"{name}.csv", index=False)
        out = Path(tmp) / "out.json"
        cmd = [rscript, str(R_SCRIPT), "batch", peer.task, tmp, str(out), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * 3600)
        if proc.returncode != 0 or not out.exists():
            msg = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            return {name: {"error": f"Rscript: {msg[0]}"} for name in tables}
        records = json.loads(out.read_text())
    return {Path(r["file"]).stem: r for r in records}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=25, help="replicates per design class")
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: fresh)")
    ap.add_argument("--classes", default=None, help="indices into DESIGN_CLASSES, e.g. 0,6")
    ap.add_argument("--jobs", type=int, default=2, help="processes for ours, Rscript calls at once")
    ap.add_argument("--peers", default="mse,sparse-wald,sparse-bca,lcmcr,dga")
    ap.add_argument("--mse-nboot", type=int, default=200)
    ap.add_argument("--sparse-nboot", type=int, default=200)
    ap.add_argument("--sparse-every", type=int, default=1, help="SparseMSE BCa on every n-th rep")
    ap.add_argument("--lcmcr-chain", default="20000,2000,20", help="burn-in,samples,thinning")
    ap.add_argument("--lcmcr-every", type=int, default=1, help="LCMCR on every n-th replicate")
    ap.add_argument("--out", default=None, help="CSV of every replicate and method")
    ap.add_argument(
        "--summarise", default=None, help="print the tables of saved --out CSVs (a.csv,b.csv)"
    )
    args = ap.parse_args()
    if args.summarise:
        saved = pd.concat([pd.read_csv(f) for f in args.summarise.split(",")], ignore_index=True)
        saved = saved.drop_duplicates(["class", "rep", "method"], keep="first")
        package = {label for label, _, _ in FAST}
        print_tables(saved, [m for m in saved["method"].unique() if m not in package])
        return
    master = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    classes = (
        [int(c) for c in args.classes.split(",")] if args.classes else range(len(DESIGN_CLASSES))
    )
    t0 = time.perf_counter()
    c0 = time.process_time()

    # the package, as mse_validation.py --fast computes it, on the same replicate streams
    jobs = [(c, r, master, 0, False, 0, True) for c in classes for r in range(args.reps)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [row for part in pool.map(one_rep, jobs, chunksize=4) for row in part]
    ours_cpu = time.process_time() - c0 + _children_cpu()
    print(f"master seed {master}; {args.reps} replicates per class", flush=True)
    print(f"the package's fits: {time.perf_counter() - t0:.0f} s wall, {ours_cpu:.0f} s CPU")

    rscript = shutil.which("Rscript")
    peers = [p for p in peer_list(args) if p.key in args.peers.split(",")]
    found = peers_available(rscript)
    live = []
    for p in peers:
        if rscript is None:
            print(f"skipped {p.label}: Rscript not found")
        elif not found.get(p.package, False):
            print(f"skipped {p.label}: R package {p.package} not installed in {RLIB}")
        else:
            live.append(p)

    # the same tables, drawn again (deterministic), grouped per class and peer
    tables: dict[tuple[int, int], tuple] = {}
    for c in classes:
        for r in range(args.reps):
            drawn = draw_table(c, r, master)
            if drawn is not None:
                tables[c, r] = drawn
    calls = []  # the cheap peers first, so that a run stopped early has them all
    cost = {"sparse-wald": 0, "dga": 1, "lcmcr": 2, "mse": 3, "sparse-bca": 4}
    for p in sorted(live, key=lambda p: cost.get(p.key, 9)):
        for c in classes:
            batch = {
                f"rep{r:05d}": data.to_frame()
                for (cc, r), (design, data, _) in tables.items()
                if cc == c and design.k <= p.max_k and r % every(p, args) == 0
            }
            if batch:
                calls.append((p, c, batch))
    r0 = _children_cpu()
    peer_wall: dict[str, float] = {}

    def call(item: tuple[Peer, int, dict]) -> tuple[Peer, int, dict, float]:
        p, c, batch = item
        w0 = time.perf_counter()
        return (
            p,
            c,
            run_batch(str(rscript), p, batch, peer_extra(p, args)),
            time.perf_counter() - w0,
        )

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for p, c, records, wall in pool.map(call, calls):
            peer_wall[p.label] = peer_wall.get(p.label, 0.0) + wall
            for name, rec in records.items():
                r = int(name.removeprefix("rep"))
                design, data, truth = tables[c, r]
                err = rec.get("error")
                est = rec.get("estimate")
                status = "ok" if err is None and est is not None else f"error: {err}"
                rows.append(
                    {
                        "class": DESIGN_CLASSES[c].name,
                        "rep": r,
                        "k": design.k,
                        "truth": truth,
                        "observed": data.n_observed,
                        "heterogeneity": design.person_effects.get("family", "none"),
                        "design": design.describe(),
                        "method": p.label,
                        "estimate": est if err is None else None,
                        "low": rec.get("ci_low") if err is None else None,
                        "high": rec.get("ci_high") if err is None else None,
                        "status": status,
                        "seconds": rec.get("seconds", np.nan),
                        "cpu_seconds": np.nan,
                        "flagged": None,
                        "error": err,
                    }
                )
            if args.out:  # after every call: a run stopped early keeps what it did
                pd.DataFrame(rows).to_csv(args.out, index=False)
            print(
                f"  {p.label}, {DESIGN_CLASSES[c].name}: {len(records)} tables, {wall:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    print_tables(df, [p.label for p in live])
    total_cpu = time.process_time() - c0 + _children_cpu()
    print(
        f"\n{time.perf_counter() - t0:.0f} s wall, {total_cpu:.0f} s CPU in all (the package "
        f"{ours_cpu:.0f} s, the Rscript calls {_children_cpu() - r0:.0f} s); Rscript wall per peer: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in peer_wall.items())
    )


def _children_cpu() -> float:
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ch.ru_utime + ch.ru_stime


def print_tables(df: pd.DataFrame, live: list[str]) -> None:
    """Per class: the package's two rows on every replicate and each peer's rows."""
    pd.set_option("display.width", 220)
    pd.set_option("display.max_rows", 500)
    fmt = {"float_format": lambda v: f"{v:.3g}", "index": False}
    df = df[df["method"].isin([*OURS, *live])]
    _, meth = summarise(df.drop(columns=["error"], errors="ignore"))
    cols = [
        "class",
        "method",
        "reps",
        "coverage",
        "mcse",
        "median_rel_error",
        "median_rel_width",
        "lower_bound",
        "failed",
        "sec_per_fit",
    ]
    print(
        "\nAll replicates (coverage: a lower-bound result covers when its lower limit is below N)"
    )
    print(meth[cols].to_string(**fmt))
    # the package on the replicates of a subsampled peer, so that the rows compare like with like
    keys = df["class"].astype(str) + "#" + df["rep"].astype(str)
    ours = set(keys[df["method"] == OURS[0]])
    for label in live:
        ran = set(keys[df["method"] == label])
        classes = set(df.loc[df["method"] == label, "class"])
        if ran < {k for k in ours if k.split("#")[0] in classes}:
            sub = df[keys.isin(ran) & df["method"].isin([*OURS, label])]
            _, m = summarise(sub.drop(columns=["error"], errors="ignore"))
            print(f"\nThe replicates {label} ran on, with the package's rows on the same ones")
            print(m[cols].to_string(**fmt))
    errors = df[df["status"].astype(str).str.startswith("error")]
    if len(errors):
        print("\nFailures (method: message, count)")
        msg = errors["status"].astype(str).str.slice(0, 110)
        for (method, m), n in errors.assign(msg=msg).groupby(["method", "msg"]).size().items():
            print(f"  {method}: {m}: {n}")


if __name__ == "__main__":
    main()
