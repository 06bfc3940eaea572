"""Linkage quality and speed on the synthetic country, against the known truth.

    .venv/bin/python benchmarks/linkage.py            # full run (about 2-3 minutes on 2 cores)
    .venv/bin/python benchmarks/linkage.py --quick    # skip the 100,000-record timing

Prints, for the sample country at the default typo rate (0.08) and at double it (0.16):
pairwise precision, recall and F1 of the clusters against the true persons at several match
thresholds, for the probabilistic linkage (splink + rules) and for the deterministic rules alone
(the baseline); persons found against the true number of people observed; and N-hat
(independence model) against the true population. Then the time to pseudonymise and link about
100,000 records (target: under 60 s on 2 cores; F1 target: >= 0.97 at the default threshold and
typo rate).
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from fl_estimate.pipeline.linkage_sensitivity import linkage_sensitivity
from fl_estimate.providers.linkage import RecordLinker, prepare_records
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.submissions import validate_submission
from fl_estimate.providers.synthetic import SAMPLE_KEY, make_country

THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)


def _pairs(keys: pd.Series) -> int:
    n = keys.value_counts().to_numpy()
    return int((n * (n - 1) // 2).sum())


def scores(labels, person) -> tuple[float, float, float]:
    lab, per = pd.Series(labels), pd.Series(person)
    tp = _pairs(lab.astype(str) + "|" + per.astype(str))
    p, r = tp / max(_pairs(lab), 1), tp / max(_pairs(per), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def accepted_records(country) -> pd.DataFrame:
    frames = []
    for (prov, period), frame in sorted(country.submissions.items()):
        report, clean = validate_submission(frame.astype(object), source=f"{prov}_{period}")
        if clean is None:
            raise SystemExit(report.to_text())
        frames.append(clean.assign(source=f"{prov}_{period}"))
    return pd.concat(frames, ignore_index=True)


def quality(typo_rate: float) -> pd.DataFrame:
    country = make_country(typo_rate=typo_rate)
    prepared = prepare_records(accepted_records(country), Pseudonymiser(SAMPLE_KEY))
    person = prepared["record_id"].map(country.truth.set_index("record_id")["person"])
    true_persons = person.nunique()
    rows = []
    for method in ("probabilistic", "deterministic"):
        res = RecordLinker(method=method).fit(prepared)
        thresholds = THRESHOLDS if method == "probabilistic" else (0.9,)
        sens = linkage_sensitivity(res, thresholds)
        for thr, (_, s) in zip(thresholds, sens.iterrows(), strict=True):
            p, r, f1 = scores(res.clusters(thr), person)
            rows.append(
                {
                    "typo_rate": typo_rate,
                    "method": method if method == "probabilistic" else "deterministic (baseline)",
                    "threshold": thr if method == "probabilistic" else "-",
                    "precision": round(p, 4),
                    "recall": round(r, 4),
                    "F1": round(f1, 4),
                    "persons": int(s["persons"]),
                    "true persons": true_persons,
                    "N-hat (indep.)": round(float(s["n_hat"])),
                    "true N": int(country.population["N"].sum()),
                }
            )
    return pd.DataFrame(rows)


def timing(scale: float) -> dict[str, object]:
    t0 = time.perf_counter()
    country = make_country(scale=scale)
    records = accepted_records(country)
    t1 = time.perf_counter()
    prepared = prepare_records(records, Pseudonymiser(SAMPLE_KEY))
    t2 = time.perf_counter()
    res = RecordLinker().fit(prepared)
    labels = res.clusters()
    t3 = time.perf_counter()
    person = prepared["record_id"].map(country.truth.set_index("record_id")["person"])
    p, r, f1 = scores(labels, person)
    return {
        "records": len(prepared),
        "pairs compared": len(res.pairs),
        "simulate+validate s": round(t1 - t0, 1),
        "pseudonymise s": round(t2 - t1, 1),
        "link+cluster s": round(t3 - t2, 1),
        "total (pseudonymise+link) s": round(t3 - t1, 1),
        "target s": 60,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "F1": round(f1, 4),
        "cores": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip the 100,000-record timing")
    ap.add_argument("--scale", type=float, default=36.0, help="scale of the timing run")
    args = ap.parse_args()
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 20)
    table = pd.concat([quality(0.08), quality(0.16)], ignore_index=True)
    print("Linkage quality against the truth (pairwise; default threshold 0.9; target F1 >= 0.97)")
    print(table.to_string(index=False))
    if not args.quick:
        print("\nTime for about 100,000 records (target < 60 s on 2 cores)")
        print(pd.Series(timing(args.scale), dtype=object).to_string())


if __name__ == "__main__":
    main()
