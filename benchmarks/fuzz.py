"""Run the bad-input corpus (tests/fuzz/corpus.py) and print, by input surface, how many inputs
gave a clean error (exit 2 naming the file), a crash (exit 1, traceback) or a silent wrong result
(exit 0, files written or removed, or an error that does not say where).

    PYTHONPATH=src python benchmarks/fuzz.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.corpus import cases, run_in_tmp


def main(verbose: bool = False) -> int:
    table: dict[str, Counter[str]] = {}
    bad: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            outcome = run_in_tmp(case, Path(tmp))
            table.setdefault(case.surface, Counter())[outcome.kind] += 1
            if outcome.kind != "clean":
                bad.append(f"{outcome.kind:6} {case.id}: {outcome.why} | {outcome.stderr[:300]!r}")
    rows = [(s, sum(c.values()), c["clean"], c["crash"], c["silent"]) for s, c in table.items()]
    rows.append(("total", *(sum(r[i] for r in rows) for i in range(1, 5))))
    print(f"{'surface':<18} {'inputs':>6} {'clean errors':>12} {'crashes':>7} {'silent wrong':>12}")
    for s, n, clean, crash, silent in rows:
        print(f"{s:<18} {n:>6} {clean:>12} {crash:>7} {silent:>12}")
    if verbose:
        print("\n".join(bad))
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main("-v" in sys.argv))
