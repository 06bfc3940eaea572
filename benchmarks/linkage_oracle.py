"""How far the linkage is from the best any rule on its comparisons could do (issue 21).

    .venv/bin/python benchmarks/linkage_oracle.py sahel large --seed 5311

For one synthetic country (``benchmarks/linkage.py``'s profiles), the pairs the linker scored are
sorted into the comparison levels of the default model (plus the frequency of a shared full name
in its region and whether the two records come from one provider). The *oracle* scores each pair
with the share of true matches among the pairs with the same levels, learnt from the truth on the
other half of the pairs (two-fold cross-fitting, so it is not scored on its own label): the best
pairwise decision any classifier of these levels can make, with no independence assumption. Its
best pairwise F1 over all cut-offs is set beside the model's match probabilities', on the compared
pairs and counting the true pairs the blocking never compared as missed.

Meaningful at the large size only: at 500 records most level vectors hold a few pairs and the
cross-fitted shares are noise. It also prints the calibration of the match probabilities apart
for pairs within one provider (duplicates) and across providers (the overlaps that MSE reads):
the model has one prior for both, so within-provider pairs, where matches are rarer, are
over-confident.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import linkage as bench


def best_f1(score: np.ndarray, same: np.ndarray, n_true: int) -> dict[str, float]:
    """Best pairwise F1 over cut-offs of ``score``: on the compared pairs, and over all true
    pairs (those never compared counted as missed)."""
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(same[order])
    k = np.arange(1, len(order) + 1)
    prec = tp / k
    out = {}
    for name, total in (("compared", same.sum()), ("all", n_true)):
        rec = tp / total
        f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
        i = int(np.argmax(f1))
        out |= {f"F1 {name}": f1[i], f"P {name}": prec[i], f"R {name}": rec[i]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("size")
    ap.add_argument("--seed", type=int, default=5311)
    a = ap.parse_args()
    _, res, person = bench.linked_country(a.profile, a.size, a.seed)
    rec, pairs = res.records, res.pairs
    left, right = pairs["unique_id_l"].to_numpy(), pairs["unique_id_r"].to_numpy()
    same = person[left] == person[right]
    n_true = bench._pairs(pd.Series(person).astype(str))
    levels = bench.comparison_levels(rec, pairs)
    freq = rec.groupby(["region", "key_name"])["unique_id"].transform("size").fillna(0).to_numpy()
    tf = np.digitize(np.minimum(freq[left], freq[right]), [2, 4, 8, 16, 32, 64])
    levels["tf"] = np.where(levels["name"] == "same full name", tf, -1)
    prov = rec["provider"].to_numpy()
    within = prov[left] == prov[right]
    levels["same provider"] = within
    key = pd.util.hash_pandas_object(levels, index=False).to_numpy()
    fold = np.random.default_rng(a.seed).integers(0, 2, len(key))
    oracle = np.zeros(len(key))
    for f in (0, 1):
        train = fold != f
        learnt = pd.DataFrame({"k": key[train], "t": same[train]}).groupby("k")["t"]
        got = learnt.agg(["sum", "size"]).reindex(key[~train])
        # a vector unseen in the other half: that half's share of matches, as half a pair
        base = same[train].mean()
        oracle[~train] = (got["sum"].fillna(0) + 0.5 * base) / (got["size"].fillna(0) + 0.5)
    prob = pairs["match_probability"].to_numpy(float)
    print(f"{a.profile} {a.size}, seed {a.seed}: {len(rec)} records, {len(pairs)} scored pairs, "
          f"{int(same.sum())} of the {n_true} true pairs compared; "
          f"{len(np.unique(key))} distinct level vectors\n")  # fmt: skip
    rows = {"oracle (levels, name frequency, provider)": best_f1(oracle, same, n_true),
            "model match probability": best_f1(prob, same, n_true)}  # fmt: skip
    print("Best pairwise F1 over cut-offs (target of issue 21: 0.97 on the clusters)")
    print(pd.DataFrame(rows).T.round(3).to_string(), "\n")
    print("Calibration: scored pairs by match probability, the share that are true matches")
    for name, m in (("within one provider", within), ("across providers", ~within)):
        print(f"{name}: {int(m.sum())} pairs, {int(same[m].sum())} true, sum of p "
              f"{prob[m].sum():.0f}")  # fmt: skip
        print(bench.calibration(prob[m], same[m]).to_string(), "\n")


if __name__ == "__main__":
    main()
