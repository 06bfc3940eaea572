"""Speed of scoring 1 million survey records with the ILO 2012 rule (target: under 2 s).

The questionnaire is the synthetic survey's (``data_samples/survey/mapping.toml``: 11
involuntariness questions, 5 penalties asked in each of the 3 dimensions); answers are drawn at
random (yes 3%, don't know 1%, refused 0.5%, else no), which gives many more distinct answer
patterns than a real survey (the reasons are built once per distinct pattern). Timed: reading the
codes through the mapping (validation included) and scoring (three-valued rules, dimensions,
classification, reasons). Best of 3 runs.

Run from the repository root: ``python benchmarks/indicators_speed.py [--n 1000000]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fl_estimate.indicators.mapping import load_mapping
from fl_estimate.indicators.scoring import IndicatorScorer

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "data_samples" / "survey" / "mapping.toml"
TARGET_S = 2.0


def make_answers(n: int, seed: int = 1) -> pd.DataFrame:
    mapping = load_mapping(MAPPING)
    rng = np.random.default_rng(seed)
    cols = mapping.variables
    u = rng.random((n, len(cols)))
    codes = np.select([u < 0.03, u < 0.04, u < 0.045], [1, 8, 9], default=2).astype(np.int64)
    df = pd.DataFrame(codes, columns=cols)
    df.insert(0, "resp_id", np.arange(n))
    df.insert(1, "region", rng.choice(["North", "East", "South", "West"], size=n))
    return df


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    data = make_answers(args.n)
    mapping = load_mapping(MAPPING)
    scorer = IndicatorScorer("ilo2012")
    best = {"code answers (mapping)": np.inf, "score (rules, reasons)": np.inf, "total": np.inf}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        coded = mapping.apply(data, scorer.framework, source="answers")
        t1 = time.perf_counter()
        res = scorer.score_indicators(coded, keep=["resp_id", "region"])
        t2 = time.perf_counter()
        best["code answers (mapping)"] = min(best["code answers (mapping)"], t1 - t0)
        best["score (rules, reasons)"] = min(best["score (rules, reasons)"], t2 - t1)
        best["total"] = min(best["total"], t2 - t0)
    counts = res.counts()
    print(f"Scoring {args.n:,} records x {len(mapping.variables)} questions, ILO 2012 rule "
          f"(best of {args.repeats})")  # fmt: skip
    tab = pd.DataFrame(
        [
            {"step": k, "seconds": v, "baseline_target_s": TARGET_S if k == "total" else None}
            for k, v in best.items()
        ]
    )
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"distinct reasons: {res.table['reason'].nunique():,}")
    print(counts.to_string(index=False))


if __name__ == "__main__":
    main()
