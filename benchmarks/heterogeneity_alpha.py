"""The heterogeneity diagnosis' size: false alarms, power and the default policy at several levels.

Runs :class:`fl_estimate.mse.default.DefaultMSE` with the diagnosis at ``alpha`` 0.05, 0.04, 0.03
and 0.025 on every table of the randomised family (``benchmarks/mse_validation.py``'s
:func:`draw_table`, same classes and replicate streams) and prints per design class: the share
reported as a lower bound at each level (false alarms in the homogeneous classes), the default
policy's success at each (its two-sided interval covers N, or its lower bound is below N), and the
share flagged where stepwise is more than 20% too low (power). How ``ALPHA = 0.025`` was chosen
(calibration seed 6061; validated by ``mse_validation.py --fast`` on a fresh seed): see
:data:`fl_estimate.mse.heterogeneity.diagnosis.ALPHA` and docs/mse.md.

    .venv/bin/python benchmarks/heterogeneity_alpha.py [--seed S] [--reps 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mse_validation import DESIGN_CLASSES, draw_table, stepwise_too_low

from fl_estimate.mse.default import LOWER_BOUND, DefaultMSE

ALPHAS = (0.05, 0.04, 0.03, 0.025)


def one(args: tuple[int, int, int]) -> dict | None:
    cls, rep, master = args
    drawn = draw_table(cls, rep, master)
    if drawn is None:
        return None
    _design, data, truth = drawn
    row: dict = {"class": DESIGN_CLASSES[cls].name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["low"] = stepwise_too_low(data, truth)
        for a in ALPHAS:
            try:
                res = DefaultMSE(alpha=a).fit(data)
            except Exception:  # no estimate: a failure of the policy
                row[f"ok {a}"], row[f"lb {a}"] = False, False
                continue
            lb = res.status == LOWER_BOUND
            high = np.inf if res.ci_high is None else res.ci_high
            row[f"ok {a}"] = bool(res.ci_low <= truth and (lb or truth <= high))
            row[f"lb {a}"] = lb
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: fresh)")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    master = a.seed if a.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    jobs = [(c, r, master) for c in range(len(DESIGN_CLASSES)) for r in range(a.reps)]
    with ProcessPoolExecutor(a.jobs) as ex:
        df = pd.DataFrame([r for r in ex.map(one, jobs, chunksize=4) if r is not None])
    g = df.groupby("class", sort=False)
    out = g[[f"lb {x}" for x in ALPHAS] + [f"ok {x}" for x in ALPHAS]].mean().round(3)
    power = df[df.low].groupby("class", sort=False)[[f"lb {x}" for x in ALPHAS]].mean().round(3)
    print(f"master seed {master}; {a.reps} replicates per class")
    print(
        "lb: share reported as a lower bound; ok: policy success; power: lb where stepwise > 20% low"
    )
    print(out.join(power.add_prefix("power ")).to_string())


if __name__ == "__main__":
    main()
