"""Where the default policy missed at K = 3, and candidate quiet-branch intervals (calibration).

Run: python benchmarks/k3_quiet_branch.py SEED REPS 0,3,6,9 out.csv (the four K = 3 classes of
mse_validation.draw_table), then python benchmarks/k3_quiet_branch.py --summarise out.csv. The rules
R1-R7 are printed with their success (median width of the quiet tables' interval);
benchmarks/results/k3_quiet_branch_calibration_seed576076730936184754.txt. Written for the policy as
it was before the three-list widening: on the current policy "policy" is already rule R5.
"""

import itertools
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from mse_validation import draw_table
from scipy.stats import chi2

from fl_estimate.mse.default import DefaultMSE
from fl_estimate.mse.loglinear.estimators import LogLinearMSE, StepwiseMSE


def rep(args):
    c, r, master = args
    d = draw_table(c, r, master)
    if d is None:
        return None
    _design, data, truth = d
    warnings.simplefilter("ignore")
    out = {"class": c, "rep": r, "truth": truth, "n": data.n_observed}
    try:
        pol = DefaultMSE().fit(data)
    except Exception:
        return {**out, "status": "error"}
    out.update(
        status=pol.status_code,
        est=pol.estimate,
        lo=pol.ci_low,
        hi=pol.ci_high,
        src=pol.diagnostics.get("upper_limit_source"),
        model=pol.model,
        step_hi=pol.diagnostics.get("selected_ci_high", pol.ci_high),
    )
    L = list(data.lists)
    pairs = [f"{a}:{b}" for a, b in itertools.combinations(L, 2)]
    models = [list(s) for k in range(4) for s in itertools.combinations(pairs, k)]
    wl, wh, fl, fh = [], [], [], []
    for m in models:
        try:
            res = LogLinearMSE(m or None).fit(data)
        except Exception:
            continue
        if not res.ok or res.ci_low is None or res.ci_high is None:
            continue
        dev = res.diagnostics.get("deviance")
        df = res.diagnostics.get("df_residual")
        wl.append(res.ci_low)
        wh.append(res.ci_high)
        fits = df is None or df == 0 or (dev is not None and chi2.sf(dev, df) > 0.05)
        if fits:
            fl.append(res.ci_low)
            fh.append(res.ci_high)
        if len(m) == 3:
            out.update(sat_lo=res.ci_low, sat_hi=res.ci_high, sat_est=res.estimate)
    out.update(
        all_lo=min(wl, default=np.nan),
        all_hi=max(wh, default=np.nan),
        fit_lo=min(fl, default=np.nan),
        fit_hi=max(fh, default=np.nan),
    )
    try:
        b = StepwiseMSE().fit(data, interval="bootstrap", n_boot=200, seed=r, n_jobs=1)
        out.update(bca_lo=b.ci_low, bca_hi=b.ci_high)
    except Exception:
        pass
    return out


def summarise(path):
    df = pd.read_csv(path)
    names = {0: "hom/indep/K=3", 3: "hom/dep/K=3", 6: "het/indep/K=3", 9: "het/dep/K=3"}
    df["npairs"] = df["model"].fillna("").str.count(":")
    q = df["status"] == "ok"
    lb = df["status"] == "lower_bound"
    T = df["truth"]

    def success(lo, hi):
        hi = hi.fillna(np.inf)
        two = q & (lo <= T) & (T <= hi)
        one = lb & (df["lo"] <= T)
        return two | one

    rules = {}
    rules["policy"] = (df["lo"], df["hi"])

    def mx(a, b):
        return np.fmax(a, b)

    def mn(a, b):
        return np.fmin(a, b)

    rules["R1 2-pair: hi∨sat"] = (
        df["lo"],
        np.where(df["npairs"] == 2, mx(df["hi"], df["sat_hi"]), df["hi"]),
    )
    rules["R2 hi∨sat"] = (df["lo"], mx(df["hi"], df["sat_hi"]))
    rules["R3 ∪sat"] = (mn(df["lo"], df["sat_lo"]), mx(df["hi"], df["sat_hi"]))
    rules["R4 ∪BCa"] = (mn(df["lo"], df["bca_lo"]), mx(df["hi"], df["bca_hi"]))
    rules["R5 ∪fitting models"] = (mn(df["lo"], df["fit_lo"]), mx(df["hi"], df["fit_hi"]))
    rules["R6 ∪all models"] = (mn(df["lo"], df["all_lo"]), mx(df["hi"], df["all_hi"]))
    rules["R7 lo∧sat, hi∨sat, 2-pair"] = (
        np.where(df["npairs"] == 2, mn(df["lo"], df["sat_lo"]), df["lo"]),
        np.where(df["npairs"] == 2, mx(df["hi"], df["sat_hi"]), df["hi"]),
    )
    rows = []
    for c, g in df.groupby("class"):
        idx = g.index
        r = {"class": names.get(c, c), "n": len(g), "quiet": q[idx].mean(), "fired": lb[idx].mean()}
        qi = idx[q[idx]]
        r["quiet miss: hi<N"] = (df.loc[qi, "hi"] < T[qi]).sum()
        r["quiet miss: lo>N"] = (df.loc[qi, "lo"] > T[qi]).sum()
        r["fired LB>N"] = (lb[idx] & (df.loc[idx, "lo"] > T[idx])).sum()
        r["errors"] = (df.loc[idx, "status"] == "error").sum()
        for name, (lo, hi) in rules.items():
            lo = pd.Series(lo, index=df.index)
            hi = pd.Series(hi, index=df.index)
            s = success(lo, hi)[idx].mean()
            w = ((hi.fillna(np.inf) - lo) / T)[qi].median()
            r[name] = f"{s:.3f} ({w:.2f})"
        rows.append(r)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    out = pd.DataFrame(rows)
    print(out.iloc[:, :9].to_string(index=False))
    print(out[["class", *rules]].T.to_string())
    # misses by npairs under the policy
    for c, g in df.groupby("class"):
        gq = g[g.status == "ok"]
        miss = ~((gq.lo <= gq.truth) & (gq.truth <= gq.hi.fillna(np.inf)))
        print(
            names.get(c, c),
            "quiet by npairs (n, misses):",
            {k: (len(v), int(miss[v.index].sum())) for k, v in gq.groupby("npairs")},
            "src of misses:",
            gq[miss].src.value_counts().to_dict(),
        )


if __name__ == "__main__":
    if sys.argv[1] == "--summarise":
        summarise(sys.argv[2])
        sys.exit()
    master = int(sys.argv[1])
    reps = int(sys.argv[2])
    classes = [int(x) for x in sys.argv[3].split(",")]
    jobs = [(c, r, master) for c in classes for r in range(reps)]
    with ProcessPoolExecutor(2) as pool:
        rows = [x for x in pool.map(rep, jobs, chunksize=8) if x]
    df = pd.DataFrame(rows)
    df.to_csv(sys.argv[4], index=False)
    print(len(df))
