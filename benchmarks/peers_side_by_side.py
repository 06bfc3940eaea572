"""fl_estimate beside the R reference peers, run side by side as whole processes (issue 23).

For each task of issue 23's table, runs our CLI (``python -m fl_estimate.cli mse TABLE --method ...
--format json``) and an ``Rscript`` doing the peer's equivalent call (``benchmarks/r/peer_call.R``,
the settings of the ``tests/data/mse/peer_results.json`` records), each as a fresh process timed
from launch to exit (start-up, imports, JIT or compile caches as they are on disk, reading the CSV,
the fit, printing), alternating ours and theirs (ours first on odd repetitions, theirs first on even
ones), ``--reps`` times. Prints a markdown table: wall seconds as median (min-max) with the median
CPU seconds (user + sys of the process and its children) in brackets, the ratio of the median wall
times (fl_estimate / peer: below 1, ours is faster) and both N-hats with their 95% intervals, so a
reader sees that the two computed the same thing.

Tasks (table: our method vs the peer's call):

- exhaustive pairwise BIC, uk_2013 (6 lists, 32,768 models): ``--method bic`` vs
  MultipleSystemsEstimation 1.2.0 ``estimate_population(method = "bic", nboot = 0, maxorder = 2)``
- stepwise + 1,000 BCa, uk_2013_5lists: ``--method stepwise --interval bootstrap --n-boot 1000`` vs
  SparseMSE 2.0.1 ``estimatepopulation(nboot = 1000, pthresh = 0.02, iseed = 20240601)``
- dga-type averaging, uk_2013_5lists: ``--method dga`` (its own range, extended until the tail mass is
  negligible) vs dga 2.0.2 ``bma.cr`` on the final grid recorded for the table (one call: the record's
  ``seconds`` also count its grid extensions)
- Bayesian thresholding, kosovo: ``--method bayes-threshold`` vs MultipleSystemsEstimation
  ``estimate_population(method = "bayesthresh")`` (threshold 2, proper priors, MCMCpack)
- Bayesian log-linear, uk_2013_5lists: ``--method bayes-loglinear``; no peer (issue 23's target:
  sampling at least half of the whole-process time; the sampling seconds are PyMC's own report)
- LCMCR-type, kosovo: ``--method lcmcr`` (default: 4 chains until R-hat <= 1.01 and ESS >= 400) vs
  LCMCR 0.4.14 ``lcmCR(K = 10)`` + ``lcmCR_PostSampl(burnin = 100000, samples = 5000, thinning = 100)``
  (one chain, 600,000 iterations)

When ``Rscript`` or a peer package is missing (or with ``--recorded``), the peer column holds the
``seconds`` recorded in peer_results.json (R 4.2.2 on a loaded shared 2-core machine, R's start-up
excluded) and the table says so.

Usage: ``python benchmarks/peers_side_by_side.py [--reps 3] [--tasks bic6,dga] [--recorded]``
(the peers are looked up in ``$FL_PEERS_RLIB``, default ``~/peers/Rlib``, where
``../shared/tools/install-r-peers`` installs them). The whole run takes about 15 minutes on a quiet
2-core machine with 3 repetitions; the machine's load average is printed before and after, because
wall times on a shared machine are inflated by whatever else runs there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "mse"
R_SCRIPT = ROOT / "benchmarks" / "r" / "peer_call.R"
RLIB = Path(os.environ.get("FL_PEERS_RLIB", Path.home() / "peers" / "Rlib"))
SEED = 20240601
TIMEOUT = 3600


@dataclass(frozen=True)
class Task:
    """One row: our CLI call and the peer's Rscript call on the same table."""

    key: str
    label: str
    table: str
    ours: tuple[str, ...]
    peer: str | None = None
    r_task: str | None = None
    record: dict = field(default_factory=dict)  # selects the peer_results.json record


TASKS = (
    Task(
        "bic6",
        "exhaustive pairwise BIC, uk_2013 (6 lists)",
        "uk_2013",
        ("--method", "bic", "--max-order", "2"),
        "MultipleSystemsEstimation",
        "mse-bic",
        {"method": "BIC over hierarchical models (default maxorder)", "nboot": 0},
    ),
    Task(
        "bca",
        "stepwise + 1,000 BCa, uk_2013_5lists",
        "uk_2013_5lists",
        (
            "--method",
            "stepwise",
            "--interval",
            "bootstrap",
            "--n-boot",
            "1000",
            "--seed",
            str(SEED),
        ),
        "SparseMSE",
        "sparsemse-bca",
        {"method": "stepwise + BCa bootstrap", "nboot": 1000},
    ),
    Task(
        "dga",
        "dga-type averaging, uk_2013_5lists",
        "uk_2013_5lists",
        ("--method", "dga"),
        "dga",
        "dga",
        {"method": "bma.cr"},
    ),
    Task(
        "bayesthresh",
        "Bayesian thresholding, kosovo",
        "kosovo",
        ("--method", "bayes-threshold", "--seed", str(SEED)),
        "MultipleSystemsEstimation",
        "mse-bayesthresh",
        {"method": "Bayesian thresholding"},
    ),
    Task(
        "bayesloglinear",
        "Bayesian log-linear, uk_2013_5lists",
        "uk_2013_5lists",
        ("--method", "bayes-loglinear", "--seed", str(SEED)),
    ),
    Task(
        "lcmcr",
        "LCMCR-type, kosovo, default",
        "kosovo",
        ("--method", "lcmcr", "--seed", str(SEED)),
        "LCMCR",
        "lcmcr",
        {"method": "lcmCR: Bayesian", "burnin": 100000},
    ),
)


@dataclass
class Run:
    """One whole-process run: wall and CPU seconds, the parsed result, its stderr."""

    wall: float
    cpu: float
    result: dict
    stderr: str


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to completion; wall time from launch to exit, CPU of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return Run(wall, cpu, parse_result(proc.stdout), proc.stderr)


def parse_result(stdout: str) -> dict:
    """Our CLI prints one JSON object; peer_call.R prints a ``PEER_RESULT {json}`` line."""
    for line in stdout.splitlines():
        if line.startswith("PEER_RESULT "):
            return json.loads(line[len("PEER_RESULT ") :])
    return json.loads(stdout)


def ours_command(task: Task) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "fl_estimate.cli", "mse", str(DATA / f"{task.table}.csv")]
    return [*cmd, *task.ours, "--format", "json"], env


def peer_command(task: Task, rscript: str) -> list[str]:
    cmd = [rscript, str(R_SCRIPT), str(task.r_task), str(DATA / f"{task.table}.csv")]
    if task.r_task == "dga":  # the final grid of the record: Nmissing = seq(0, NMAX, by = BY)
        grid = recorded(task)["settings"]["Nmissing"]
        nmax, by = re.fullmatch(r"seq\(0, (\d+), by = (\d+)\)", grid).groups()  # type: ignore[union-attr]
        cmd += [nmax, by]
    return cmd


def records() -> list[dict]:
    return json.loads((DATA / "peer_results.json").read_text())


def recorded(task: Task) -> dict:
    """The peer_results.json record of the peer's call on the task's table."""
    sel = dict(task.record)
    prefix = sel.pop("method")
    for r in records():
        if (
            r["dataset"] == task.table
            and r["peer"] == task.peer
            and r["method"].startswith(prefix)
            and all(r["settings"].get(k) == v for k, v in sel.items())
        ):
            return r
    raise LookupError(f"no peer_results.json record for {task.key}")


def peers_available(rscript: str | None) -> dict[str, bool]:
    """Which peer packages load from RLIB (one Rscript call)."""
    names = sorted({t.peer for t in TASKS if t.peer})
    if rscript is None:
        return dict.fromkeys(names, False)
    code = (
        f".libPaths(c('{RLIB}', .libPaths())); "
        f"for (p in c({', '.join(repr(n) for n in names)})) "
        "cat(p, suppressWarnings(requireNamespace(p, quietly = TRUE)), '\\n')"
    )
    proc = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    found = dict(line.split() for line in proc.stdout.splitlines() if line.strip())
    return {n: found.get(n) == "TRUE" for n in names}


def peer_versions(rscript: str) -> str:
    code = (
        f".libPaths(c('{RLIB}', .libPaths())); cat(R.version.string); "
        "for (p in c('MultipleSystemsEstimation', 'SparseMSE', 'dga', 'LCMCR', 'MCMCpack')) "
        "cat(';', p, tryCatch(as.character(packageVersion(p)), error = function(e) 'missing'))"
    )
    proc = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=120)
    return proc.stdout.strip()


def fmt_n(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def fmt_estimate(who: str, res: dict) -> str:
    interval = (
        f" ({fmt_n(res.get('ci_low'))}–{fmt_n(res.get('ci_high'))})"
        if res.get("ci_low") is not None
        else " (no interval)"
    )
    return f"{who} {fmt_n(res.get('estimate'))}{interval}"


def fmt_times(runs: list[Run]) -> str:
    walls = [r.wall for r in runs]
    cpu = statistics.median(r.cpu for r in runs)
    spread = f" ({min(walls):.1f}–{max(walls):.1f})" if len(walls) > 1 else ""
    return f"{statistics.median(walls):.1f}{spread} [cpu {cpu:.1f}]"


def notes(task: Task, ours: list[Run], theirs: list[Run]) -> str:
    """What else a reader needs: sampling share, convergence, ESS, the chosen models."""
    res = ours[-1].result
    diag = res.get("diagnostics", {})
    out = []
    sampled = [sum(float(s) for s in re.findall(r"took ([\d.]+) seconds", r.stderr)) for r in ours]
    if any(sampled):
        share = statistics.median(s / r.wall for s, r in zip(sampled, ours, strict=True))
        out.append(f"ours: PyMC sampling {statistics.median(sampled):.1f} s = {share:.0%} of wall")
    external = set(re.findall(r"NUTS\[(\w+)\]", ours[-1].stderr))  # pm.sample's external sampler
    if external:
        out.append(f"ours: sampled by {', '.join(sorted(external))} (no sampling time printed)")
    if "rhat_N" in diag:
        out.append(f"ours: R-hat {diag['rhat_N']:.3f}, ESS bulk {diag['ess_bulk_N']:.0f}")
    if task.key == "lcmcr":
        out.append(
            f"ours: {diag.get('rounds')} rounds, {diag.get('iterations_per_chain'):,} sweeps/chain, "
            f"tempered {diag.get('tempered')}"
        )
    if "seconds" in diag:
        out.append(
            f"ours: fit {statistics.median(r.result['diagnostics']['seconds'] for r in ours):.1f} s"
        )
    if theirs and "ess_N" in theirs[-1].result:
        out.append(f"LCMCR: ESS {theirs[-1].result['ess_N']:.0f} (coda)")
    if task.key in ("bic6", "bca", "bayesthresh"):
        out.append(f"ours: {res.get('model', '').replace('main effects + ', '')}")
        if theirs and theirs[-1].result.get("model"):
            out.append(f"peer: {theirs[-1].result['model']}")
    return "; ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each pair (3)")
    ap.add_argument("--tasks", default=",".join(t.key for t in TASKS), help="comma-separated keys")
    ap.add_argument("--recorded", action="store_true", help="use the recorded peer times, no R")
    args = ap.parse_args()
    tasks = [t for t in TASKS if t.key in args.tasks.split(",")]
    rscript = None if args.recorded else shutil.which("Rscript")
    available = peers_available(rscript)

    print(f"# fl_estimate beside the R peers, whole processes ({args.reps} repetitions)\n")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}; machine: {os.cpu_count()} cores")
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    r_line = peer_versions(rscript) if rscript else "not used (--recorded) or not found"
    print(f"python {sys.version.split()[0]}; R: {r_line}")
    missing = [p for p, ok in available.items() if not ok]
    if rscript is None:
        print("Rscript not found (or --recorded): the peer column holds recorded times, see below.")
    elif missing:
        print(
            f"peers not installed in {RLIB}: {', '.join(missing)}: their rows hold recorded times."
        )
    print()
    print(
        "| task | fl_estimate (s) | R peer (s) | ratio | estimates side by side (N-hat, 95% interval) | notes |"
    )
    print("| --- | --- | --- | --- | --- | --- |", flush=True)
    rows = []  # each row is printed as soon as its task is done
    for task in tasks:
        live = task.peer is not None and rscript is not None and available.get(task.peer, False)
        ours: list[Run] = []
        theirs: list[Run] = []
        for rep in range(args.reps):
            order = ("ours", "peer") if rep % 2 == 0 else ("peer", "ours")
            for who in order:
                if who == "ours":
                    ours.append(run_process(*ours_command(task)))
                elif live:
                    theirs.append(run_process(peer_command(task, str(rscript))))
            print(f"  {task.key}: repetition {rep + 1} done", file=sys.stderr, flush=True)
        estimates = [fmt_estimate("ours", ours[-1].result)]
        if task.peer is None:
            peer_time, ratio = "no peer", "—"
        elif live:
            peer_time = f"{task.peer} {fmt_times(theirs)}"
            ratio = f"{statistics.median(r.wall for r in ours) / statistics.median(r.wall for r in theirs):.2f}"
            estimates.append(fmt_estimate(task.peer, theirs[-1].result))
        else:
            rec = recorded(task)
            peer_time = f"{task.peer} {rec['seconds']:.1f} (recorded)"
            ratio = f"{statistics.median(r.wall for r in ours) / rec['seconds']:.2f} (vs recorded)"
            estimates.append(fmt_estimate(f"{task.peer} (recorded)", rec))
        rows.append(
            (
                task.label,
                fmt_times(ours),
                peer_time,
                ratio,
                "; ".join(estimates),
                notes(task, ours, theirs),
            )
        )
        print("| " + " | ".join(rows[-1]) + " |", flush=True)

    print()
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(
        "Seconds: wall time of the whole process, median (min–max) over the repetitions, [median CPU\n"
        "seconds, user + sys of the process and its children]; ratio = fl_estimate / peer median wall\n"
        "time (below 1: fl_estimate is faster). Intervals: ours as the CLI reports them (bic: Wald on the\n"
        "log dark figure, conditional on the model; stepwise: BCa repeating the selection; Bayesian: 95%\n"
        "equal-tailed credible); the peers': MultipleSystemsEstimation's BIC with nboot = 0 gives none,\n"
        "SparseMSE BCa (iseed 20240601), dga and LCMCR posterior quantiles, bayesthresh posterior\n"
        "quantiles (MCMCpack, seed 20240601). Bootstrap and MCMC intervals differ by Monte Carlo error."
    )
    if any("(recorded)" in r[2] for r in rows):
        print(
            "Recorded peer times come from tests/data/mse/peer_results.json: R 4.2.2 on a loaded shared\n"
            "2-core machine, R's start-up excluded, indicative to about a factor of 2."
        )


if __name__ == "__main__":
    main()
