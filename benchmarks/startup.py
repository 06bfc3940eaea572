"""Start-up time of the command line: whole processes, as a user meets them.

    python benchmarks/startup.py [--runs 7] [--top 15]

Times, over several runs (median and range), a fresh process running
  1. ``fl-estimate --help`` (target: under 0.3 s on the 2-core reference machine), and
  2. ``fl-estimate describe data_samples/uk_2013.csv`` to its first line of output (target: under
     0.6 s) and to its end,
then prints a summary of ``python -X importtime`` for each: the modules with the largest
cumulative import time (top-level imports of the command line and what they pull in), so that an
import that slows the start shows by name. The process runs exactly what the ``fl-estimate``
script runs (``fl_estimate.cli:main``) with the interpreter running this script. Nothing here is
asserted: a timing depends on the machine and its load (the test suite has no timed test).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from fl_estimate.cli import main; sys.exit(main())"
COMMANDS = {
    "fl-estimate --help": ["--help"],
    "fl-estimate describe data_samples/uk_2013.csv": [
        "describe",
        str(ROOT / "data_samples" / "uk_2013.csv"),
    ],
}


def _time_once(args: list[str]) -> tuple[float, float]:
    """Seconds to the first line on stdout and to the end of the process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - t0
    proc.stdout.read()
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"fl-estimate {' '.join(args)} exited {proc.returncode}")
    return first, time.perf_counter() - t0


def _importtime(args: list[str], top: int) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the slowest imports, from ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = (p.strip() for p in line[len("import time:") :].split("|"))
        rows.append((int(cum_us), int(self_us), name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per command (default 7)")
    parser.add_argument("--top", type=int, default=15, help="imports listed per command")
    opts = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {opts.runs} runs per command (first run discarded)\n")
    print(f"{'command':<48} {'first line (s)':>22} {'whole run (s)':>22}")
    for label, args in COMMANDS.items():
        _time_once(args)  # warm the file cache and the bytecode
        runs = [_time_once(args) for _ in range(opts.runs)]
        cells = []
        for i in (0, 1):
            xs = [r[i] for r in runs]
            cells.append(f"{statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}]")
        print(f"{label:<48} {cells[0]:>22} {cells[1]:>22}")
    for label, args in COMMANDS.items():
        print(f"\n{label}: slowest imports (python -X importtime; cumulative includes children)")
        print(f"{'cumulative ms':>14} {'self ms':>9}  module")
        for cum, own, name in _importtime(args, opts.top):
            print(f"{cum / 1000:>14.1f} {own / 1000:>9.1f}  {name}")


if __name__ == "__main__":
    main()
