"""Candidate heterogeneity tests on the randomised design family: raw statistics per replicate.

Draws designs fresh from :data:`fl_estimate.simulate.DESIGN_CLASSES` (master seed new each run
unless ``--seed``) and writes, per replicate, the statistics the candidate rules of issue 20 use:

- ``p_fwd`` / ``p_fwd_darroch`` / ``p_fwd_poisson``: the forward-selection diagnosis' one-sided
  p-value with the Gamma3.5 / Darroch (the implemented rule) / Poisson2 column competing with the
  two-list interactions;
- ``p_add_gamma`` / ``p_add_darroch``: one-sided LR p-value of adding the heterogeneity column to
  the stepwise-selected model (no competition with further pairs);
- ``z_chao``: (log unobserved of Chao's bound - log unobserved of stepwise) / the stepwise model's
  se of the log unobserved count (large: the selected estimate is below Chao's bound);
- ``z_loo`` (with ``--loo``): log of the stepwise estimate on all lists minus the mean of the
  leave-one-list-out stepwise estimates, over the full fit's se of the log unobserved count
  (heterogeneity makes the estimate rise as lists are added);
- the stepwise estimate, Chao's bound and its lower limit, the Mth Gamma3.5 extension's estimate,
  for the lower-bound validity of the default policy;
- ``lr_lc2`` / ``p_lc2_boot`` (and ``*_fwd``): the likelihood ratio of the stepwise model (of the
  forward diagnosis' pairs) against its two-class extension
  (:mod:`fl_estimate.mse.heterogeneity.mixture`) and its parametric-bootstrap p-value (199 draws,
  stopped after 10 exceedances: the verdict at 0.05 of all 199);
- ``lam_oracle``: the noncentrality of the most powerful test against the design's true
  alternative (independent designs; the summary's "oracle power" is ``Phi(sqrt(lam) - 1.645)``
  averaged over the counted replicates: an upper bound on any test's power there).

``--summarise`` also prints the default policy's success per class with the old quiet branch
(stepwise interval) and the new one (upper limit of the Darroch extension).

Calibrate a rule on one seed, report it on another (``benchmarks/mse_validation.py`` reports the
implemented diagnosis). Usage: python benchmarks/heterogeneity_power.py --reps 100 [--seed S]
--out stats.csv, then ``--out stats.csv --summarise`` prints each rule's false alarms / power per
class (benchmarks/results/heterogeneity_power_seed*.txt).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.stats import norm  # noqa: E402

from fl_estimate.exceptions import InputValidationError  # noqa: E402
from fl_estimate.mse.closed_form import ChaoLowerBound  # noqa: E402
from fl_estimate.mse.heterogeneity.diagnosis import (  # noqa: E402
    diagnose_heterogeneity,
    heterogeneity_column,
)
from fl_estimate.mse.heterogeneity.mixture import two_class_bootstrap_p  # noqa: E402
from fl_estimate.mse.loglinear import Table, design, irls  # noqa: E402
from fl_estimate.mse.loglinear.selection import stepwise  # noqa: E402
from fl_estimate.mse.loglinear.table import reduce_model  # noqa: E402
from fl_estimate.simulate import (  # noqa: E402
    DESIGN_CLASSES,
    _level,
    _person_effects,
    _stream,
    draw_design,
    simulate_design,
)


def _extension(table: Table, model, kind: str) -> tuple[float, float, float]:
    """(one-sided p of adding the column to the model, extended estimate, its se log unobs)."""
    terms = [0, *[1 << j for j in range(table.k)], *sorted(model)]
    x = design(table, terms)
    y = table.y
    _b0, _m, d0, _i, c0 = irls(x, y)
    xh = np.column_stack([x, heterogeneity_column(table.k, kind)])
    b1, m1, d1, _i, c1 = irls(xh, y)
    if not (c0 and c1) or np.max(np.abs(b1)) > 20 or xh.shape[0] - xh.shape[1] < 1:
        return np.nan, np.nan, np.nan
    lr = max(d0 - d1, 0.0)
    p = float(norm.sf(np.sqrt(lr))) if b1[-1] > 0 else 1.0
    w = np.sqrt(m1)[:, None] * xh
    try:
        cov = np.linalg.inv(w.T @ w)
        se = float(np.sqrt(cov[0, 0]))
    except np.linalg.LinAlgError:
        se = np.nan
    return p, table.n + float(np.exp(b1[0])), se


def _two_class(table: Table, model, seed) -> dict:
    """LR of the stepwise model against its two-class extension, sequential bootstrap p."""
    keep, _boundary, alive = reduce_model(table, model)
    x = design(table, keep)[alive]
    t0 = time.process_time()
    p, fit = two_class_bootstrap_p(
        x, table.y[alive], table.cells[alive], n_boot=199, seed=seed, stop_after=10
    )
    return {
        "lr_lc2": fit.lr,
        "p_lc2_boot": p,
        "lc2_b": fit.b,
        "lc2_est": table.n + fit.unobserved1 if np.isfinite(fit.lr) else np.nan,
        "lc2_df_resid": x.shape[0] - x.shape[1] - 2,
        "lc2_cpu": time.process_time() - t0,
    }


def _oracle(d, ss) -> float:
    """Noncentrality of the most powerful test of "homogeneous, independent lists" against the
    design's true alternative (known exactly): the main-effects model's deviance on the realised
    population's expected pattern counts (NaN for dependent designs). Asymptotically the
    Neyman-Pearson test at 0.05 has power Phi(sqrt(lambda) - 1.645): no test can do better."""
    if d.dependence:
        return np.nan
    level = _level(d, ss)  # the population simulate_design draws (same streams)
    e = _person_effects(d, d.population_size, _stream(ss, "population"))
    probs = np.clip(1 / (1 + np.exp(-(level + np.asarray(d.list_effects)))), 1e-9, 1 - 1e-9)
    p = 1 / (1 + np.exp(-(np.log(probs / (1 - probs))[None, :] + e[:, None])))
    cells = np.arange(1, 1 << d.k)
    bits = ((cells[:, None] >> np.arange(d.k)[None, :]) & 1).astype(float)
    mu = np.exp(bits @ np.log(p).T + (1 - bits) @ np.log1p(-p).T).sum(axis=1)
    terms = np.r_[0, 1 << np.arange(d.k)]
    x = ((cells[:, None] & terms[None, :]) == terms[None, :]).astype(float)
    return float(irls(x, mu)[2])


def one_rep(args: tuple[int, int, int, bool]) -> dict | None:
    cls_index, rep, master, loo_on = args
    cls = DESIGN_CLASSES[cls_index]
    ss = np.random.SeedSequence(master, spawn_key=(cls_index, rep))
    d = draw_design(cls, ss)
    try:
        sim = simulate_design(d, ss)
    except InputValidationError:
        return None
    data = sim.data
    if data.n_observed < 10:
        return None
    t0 = time.process_time()
    table = Table.from_data(data)
    try:
        sw = stepwise(table).fit
    except Exception:
        return None
    est, se = sw.estimate, sw.se_log_unobserved
    z = norm.ppf(0.975)
    chao = ChaoLowerBound().fit(data)
    row = {
        "class": cls.name,
        "rep": rep,
        "k": d.k,
        "truth": sim.truth,
        "observed": data.n_observed,
        "family": d.person_effects.get("family", "none"),
        "step_est": est,
        "step_low": table.n + sw.unobserved * np.exp(-z * se),
        "step_high": table.n + sw.unobserved * np.exp(z * se),
        "step_se": se,
        "chao_est": chao.estimate,
        "chao_low": chao.ci_low,
        "p_fwd": diagnose_heterogeneity(data).p_value,
        "p_fwd_darroch": diagnose_heterogeneity(data, column="darroch").p_value,
        "p_fwd_poisson": diagnose_heterogeneity(data, column="poisson").p_value,
    }
    for kind in ("gamma", "darroch"):
        p, e, s = _extension(table, sw.model, kind)
        row[f"p_add_{kind}"] = p
        row[f"ext_{kind}_est"] = e
        row[f"ext_{kind}_low"] = (
            table.n + (e - table.n) * np.exp(-z * s) if np.isfinite(s) else np.nan
        )
    row.update(
        _two_class(table, sw.model, np.random.SeedSequence(master, spawn_key=(cls_index, rep, 7)))
    )
    # the same test against the pairs the forward diagnosis kept (Darroch's column competing)
    fwd = diagnose_heterogeneity(data, column="darroch")
    index = {name: 1 << j for j, name in enumerate(table.lists)}
    fwd_model = frozenset(index[a] | index[b] for a, b in (p.split(":") for p in fwd.pairs))
    alt = _two_class(
        table, fwd_model, np.random.SeedSequence(master, spawn_key=(cls_index, rep, 8))
    )
    row.update({f"{key}_fwd": v for key, v in alt.items()})
    u_chao = max(chao.estimate - table.n, 1e-9)
    row["z_chao"] = (np.log(u_chao) - np.log(sw.unobserved)) / se if se > 0 else np.nan
    loo = []
    for name in data.lists if loo_on else []:
        try:
            loo.append(stepwise(Table.from_data(data.drop_list(name))).fit.estimate)
        except Exception:
            continue
    row["loo_mean"] = float(np.exp(np.mean(np.log(loo)))) if loo else np.nan
    row["z_loo"] = (np.log(est) - np.log(row["loo_mean"])) / (se * sw.unobserved / est)
    row["cpu"] = time.process_time() - t0
    row["lam_oracle"] = _oracle(d, ss)
    return row


def rules(d: pd.DataFrame) -> dict[str, pd.Series]:
    """The candidate rules (True: fires) on the raw statistics."""
    d = d.copy()
    if "p_fwd_poisson" not in d:  # files made before the Poisson2 column was added (seed 1001)
        d["p_fwd_poisson"] = np.nan
    p = {c: d[c].fillna(1.0) for c in ("p_fwd", "p_fwd_darroch", "p_fwd_poisson", "p_add_darroch")}
    n = d["observed"]
    factor = (d["k"] - 1) / d["k"]
    chao_k_low = n + factor * (d["chao_low"] - n)
    if "p_lc2_boot" in d:
        lc2 = {c: d[c].fillna(1.0) for c in ("p_lc2_boot", "p_lc2_boot_fwd")}
        return new_rules(d, p, lc2, chao_k_low)
    return {  # the rules of seeds 1001 / 1002 (files without the two-class statistics)
        "fwd Gamma3.5 (old)": p["p_fwd"] < 0.05,
        "fwd Darroch (new)": p["p_fwd_darroch"] < 0.05,
        "fwd Poisson2": p["p_fwd_poisson"] < 0.05,
        "Darroch|Poisson2 at .025": (p["p_fwd_darroch"] < 0.025) | (p["p_fwd_poisson"] < 0.025),
        "add Darroch to stepwise": p["p_add_darroch"] < 0.05,
        "stepwise < Chao K-sample low": d["step_est"] < chao_k_low,
        "leave-one-out z > 2": d["z_loo"] > 2.0,
    }


def new_rules(d, p, lc2, chao_k_low) -> dict[str, pd.Series]:
    """The rules of issue 20's second round (two-class LR, bootstrap null; calibration seed
    20261202, validation seed in benchmarks/results)."""
    return {
        "fwd Darroch (current)": p["p_fwd_darroch"] < 0.05,
        "2-class LR | stepwise, bootstrap": lc2["p_lc2_boot"] <= 0.05,
        "2-class LR | fwd pairs, bootstrap": lc2["p_lc2_boot_fwd"] <= 0.05,
        "Darroch .025 | 2-class(step) .025": (p["p_fwd_darroch"] < 0.025)
        | (lc2["p_lc2_boot"] <= 0.025),
        "Darroch .025 | 2-class(fwd) .025": (p["p_fwd_darroch"] < 0.025)
        | (lc2["p_lc2_boot_fwd"] <= 0.025),
        "Darroch .05 | 2-class(step) .05": (p["p_fwd_darroch"] < 0.05)
        | (lc2["p_lc2_boot"] <= 0.05),
        "Darroch .05 | step < Chao-K low": (p["p_fwd_darroch"] < 0.05)
        | (d["step_est"] < chao_k_low),
        "stepwise < Chao K-sample low": d["step_est"] < chao_k_low,
    }


def summarise(d: pd.DataFrame) -> pd.DataFrame:
    """Per class: false alarms (homogeneous) or power where stepwise is > 20% low, per rule."""
    hom = d["class"].str.startswith("homogeneous")
    low = d["step_est"] < 0.8 * d["truth"]
    fired = rules(d)
    if "p_fwd_poisson" not in d:
        fired = {k: v for k, v in fired.items() if "Poisson2" not in k}
    oracle = (
        pd.Series(norm.cdf(np.sqrt(d["lam_oracle"].clip(lower=0)) - norm.ppf(0.95)), d.index)
        if "lam_oracle" in d
        else pd.Series(np.nan, d.index)
    )
    rows = []
    for name, g in d.groupby("class", sort=False):
        use = g.index if hom[g.index[0]] else g.index[low[g.index]]
        row = {"class": name, "tables": len(g), "counted": len(use)}
        row["measure"] = "false alarms" if hom[g.index[0]] else "power (stepwise >20% low)"
        for label, f in fired.items():
            row[label] = float(f[use].mean()) if len(use) else np.nan
        row["oracle power"] = float(oracle[use].mean()) if len(use) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def policy_table(d: pd.DataFrame) -> pd.DataFrame:
    """Per class, the default policy's success (its two-sided interval covers N, or its lower
    bound is below N) with the Darroch diagnosis as trigger: old (quiet -> stepwise Wald) and new
    (quiet -> upper limit raised to the stepwise model's Darroch extension's), and the share of
    fired tables whose lower limit (of max(Chao K-sample, stepwise)) is below N."""
    n, truth = d["observed"], d["truth"]
    f = (d["k"] - 1) / d["k"]
    chao_k_est, chao_k_low = n + f * (d["chao_est"] - n), n + f * (d["chao_low"] - n)
    fired = d["p_fwd_darroch"].fillna(1.0) < 0.05
    lb_low = np.where(chao_k_est >= d["step_est"], chao_k_low, d["step_low"])
    e, lo = d["ext_darroch_est"], d["ext_darroch_low"]
    ext_high = n + (e - n) ** 2 / (lo - n)  # Wald on the log unobserved: symmetric in log
    high = np.where(np.isfinite(ext_high), np.maximum(d["step_high"], ext_high), d["step_high"])
    old = (d["step_low"] <= truth) & (truth <= d["step_high"])
    new = (d["step_low"] <= truth) & (truth <= high)
    lb_ok = lb_low <= truth
    rows = []
    for name, g in d.groupby("class", sort=False):
        i = g.index
        q = i[~fired[i]]
        rows.append(
            {
                "class": name,
                "tables": len(i),
                "fired": float(fired[i].mean()),
                "LB below N (fired)": float(lb_ok[i][fired[i]].mean())
                if fired[i].any()
                else np.nan,
                "policy old": float(np.where(fired[i], lb_ok[i], old[i]).mean()),
                "policy new": float(np.where(fired[i], lb_ok[i], new[i]).mean()),
                "quiet width old": float(np.median(((d["step_high"] - d["step_low"]) / truth)[q])),
                "quiet width new": float(np.median(((high - d["step_low"]) / truth)[q])),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", required=True, help="CSV of the statistics per replicate")
    ap.add_argument("--summarise", action="store_true", help="only print the table of --out")
    ap.add_argument("--loo", action="store_true", help="also the leave-one-list-out statistic")
    args = ap.parse_args()
    pd.set_option("display.width", 250)
    if args.summarise:
        d = pd.read_csv(args.out)
        print(f"seed {d['seed'].iloc[0]}: {len(d)} tables; Monte Carlo error of a share p over m")
        print("counted tables: sqrt(p (1 - p) / m)\n")
        print(summarise(d).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nDefault policy (Darroch trigger): success per class, old and new quiet branch")
        print(policy_table(d).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return
    master = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    jobs = [(c, r, master, args.loo) for c in range(len(DESIGN_CLASSES)) for r in range(args.reps)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = [r for r in pool.map(one_rep, jobs, chunksize=4) if r is not None]
    df = pd.DataFrame(rows)
    df["seed"] = master
    df.to_csv(args.out, index=False)
    print(
        f"seed {master}: {len(df)} replicates, {time.perf_counter() - t0:.0f} s wall, "
        f"{df['cpu'].sum():.0f} s CPU in workers"
    )


if __name__ == "__main__":
    main()
