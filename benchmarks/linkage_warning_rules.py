"""Does the threshold-sensitivity warning tell which estimates the linkage has pushed off? (issue 21)

    .venv/bin/python benchmarks/linkage_warning_rules.py --countries 60 --seed 17001

For countries of randomised designs (``benchmarks/linkage_designs.py``'s ``draw_design``), each
linked with the default linker, N-hat (pooled table, independence model: the annual run's
sensitivity table) is computed at a grid of thresholds, and N-hat by stratum at the default
threshold (stepwise) is set against N-hat from the true capture histories. A country is *off*
when that difference (mean over strata) exceeds 3% (issue 21's target). Each candidate rule
("warn when N-hat moves by more than a share across a range of thresholds", or by more than a
multiple of the interval's half-width) is then scored by how many off countries it warns about
and how many countries within 3% it warns about needlessly. The first row is the rule the code
applies, through ``sensitivity_warnings`` itself with ``LinkConfig``'s defaults (thresholds
0.8-0.99 with the rows of the default and the data-driven threshold, share 5%).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linkage as bench
from linkage_designs import draw_design
from linkage_oracle import clustering_row, true_nhat

from fl_estimate.pipeline.linkage_sensitivity import linkage_sensitivity

GRID = (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


def one_country(seed: int) -> dict[str, Any]:
    profile, size, overrides = draw_design(seed)
    country, res, person = bench.linked_country(profile, size, seed, **overrides)
    truth_nh, lists = true_nhat(country, res, person)
    got = clustering_row(res, person, res.clusters(0.3), truth_nh, lists)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit warnings of the pooled tables
        table = linkage_sensitivity(res, GRID, lists=lists)
    return {"seed": seed, "off %": got["N-hat mean %"], "data thr": res.data_threshold(),
            "rows": table.to_dict("records")}  # fmt: skip


def move(c: dict[str, Any], lo: float, hi: float) -> float:
    """Relative move of N-hat (highest over lowest, minus one) across thresholds lo-hi."""
    vals = [r["n_hat"] for r in c["rows"] if lo - 1e-9 <= r["threshold"] <= hi + 1e-9
            and np.isfinite(r["n_hat"]) and r["n_hat"] > 0]  # fmt: skip
    return max(vals) / min(vals) - 1 if len(vals) >= 2 else 0.0


def half_widths(c: dict[str, Any], lo: float, hi: float) -> float:
    """N-hat's move across lo-hi on the log scale, in median half-widths of the intervals."""
    rows = [r for r in c["rows"] if lo - 1e-9 <= r["threshold"] <= hi + 1e-9
            and np.isfinite(r["n_hat"]) and r["n_hat"] > 0]  # fmt: skip
    if len(rows) < 2:
        return 0.0
    n = np.log([r["n_hat"] for r in rows])
    hw = np.median([(np.log(r["high"]) - np.log(r["low"])) / 2 for r in rows])
    return float((n.max() - n.min()) / hw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--countries", type=int, default=60)
    ap.add_argument("--seed", type=int, default=17001)
    a = ap.parse_args()
    countries = [one_country(a.seed + i) for i in range(a.countries)]
    off = np.array([abs(c["off %"]) > 3 for c in countries])
    rules: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
        ("the code's: 0.8-0.99 + default + data-driven, 5%",
         lambda c: "threshold-n-hat" in bench.default_sensitivity_codes(pd.DataFrame(c["rows"])))
    ]  # fmt: skip
    for share in (0.03, 0.05, 0.08):
        for lo, hi in ((0.2, 0.4), (0.2, 0.5), (0.3, 0.5), (0.3, 0.7)):
            rules.append((f"{lo:g}-{hi:g}, {share:.0%}",
                          lambda c, lo=lo, hi=hi, s=share: move(c, lo, hi) > s))  # fmt: skip
        rules.append((f"0.3-data-driven, {share:.0%}",
                      lambda c, s=share: move(c, 0.3, max(0.3, c["data thr"])) > s))  # fmt: skip
    for k in (0.5, 1.0, 1.5):
        rules.append(
            (f"0.2-0.5, move > {k:g} half-widths", lambda c, k=k: half_widths(c, 0.2, 0.5) > k)
        )
        rules.append((f"0.3-data-driven, move > {k:g} half-widths",
                      lambda c, k=k: half_widths(c, 0.3, max(0.3, c["data thr"])) > k))  # fmt: skip
    print(f"{a.countries} countries of randomised designs, seeds {a.seed}-{a.seed + a.countries - 1}: "
          f"{int(off.sum())} with N-hat at the default more than 3% from the true histories' "
          "(mean over strata)\n")  # fmt: skip
    print(f"{'rule: warn when N-hat moves across':52s} warns  off warned  within warned")
    for name, rule in rules:
        w = np.array([rule(c) for c in countries])
        print(f"{name:52s} {int(w.sum()):5d}  {int((w & off).sum()):3d}/{int(off.sum()):<3d}"
              f"     {int((w & ~off).sum()):3d}/{int((~off).sum())}")  # fmt: skip


if __name__ == "__main__":
    main()
