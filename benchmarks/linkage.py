"""Linkage quality, speed and memory on synthetic countries with known truth (issue 21).

    .venv/bin/python benchmarks/linkage.py                  # small: every profile; large: every profile
    .venv/bin/python benchmarks/linkage.py --quick          # small sizes only (a few minutes)
    .venv/bin/python benchmarks/linkage.py --large sahel    # large for one profile only
    .venv/bin/python benchmarks/linkage.py --xlarge sahel   # also 1,000,000 records (slow)
    .venv/bin/python benchmarks/linkage.py --one sahel small --json   # one case, as JSON
    .venv/bin/python benchmarks/linkage.py --diagnose sahel small     # why one case goes wrong
    .venv/bin/python benchmarks/linkage.py --diagnose sahel-3 small   # the issue's failing case

Countries: the profiles of fl_estimate.providers.country_profiles (sahel, latin, south_asia;
name-dense, households, variant spellings, unknown birth dates: the documented defaults of
issue 21) at small (about 500 records) and large (about 100,000) sizes, the issue's failing
case (``sahel-3``: 3 providers, documents from the police only, no within-provider duplicates;
small only) and the shipped sample country (``sample``: wide invented name pool) for reference. Each case is generated, validated,
pseudonymised and linked with the linker as it is (``RecordLinker()`` defaults: the fixed
threshold 0.3, ``cannot_link=0.01``), and compared with the truth:

* pairwise precision, recall and F1 of the clusters against the true persons;
* persons found against true persons;
* within-provider merges (records removed as duplicates) against true duplicates, and how many
  of the merged within-provider pairs are different people;
* largest cluster, clusters spanning strata;
* the threshold used (``thr``: the default, 0.3, since session 14), the data-driven one
  (``data thr``: expected false and missed links balance; the default in sessions 9-13) and
  the same measures at the fixed threshold 0.9 (``*``: the default before issue 21's work),
  the fitted prior against the true share of matching pairs, the m probabilities set from their
  documented priors and the codes of the linkage warnings;
* N-hat by stratum over draws of the links from their match probabilities (``--draws``,
  :func:`fl_estimate.pipeline.linkage_uncertainty.linkage_uncertainty`, stepwise), and the
  share of strata whose interval with linkage error covers the true-histories N-hat;
* N-hat by stratum (stepwise, the annual run's headline method, through
  ``fl_estimate.mse.estimate``) from the linked capture histories against N-hat from the true
  capture histories (same method, same rule for a person's stratum), at the default and at 0.9 (``*``):
  mean and largest relative difference over strata, and the totals against the true population;
* time of each step (wall, and CPU seconds of the linkage: the machine may be shared) and peak
  resident memory (``resource.getrusage``; each large case runs in
  its own process so the peak is its own; ``--tracemalloc`` adds the Python-heap peak of the
  linkage step, which slows it).

Targets (issue 21): F1 >= 0.97, persons within 2%, N-hat difference under 3% on every profile;
100,000 records linked in under 30 s, 1,000,000 in under 10 minutes, within 8 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fl_estimate.exceptions import EstimateDoesNotExistError, LinkageWarning  # noqa: E402
from fl_estimate.mse import StepwiseMSE, estimate  # noqa: E402
from fl_estimate.mse.data import StratifiedCaptureData  # noqa: E402
from fl_estimate.pipeline.linkage_uncertainty import linkage_uncertainty  # noqa: E402
from fl_estimate.providers.country_profiles import (  # noqa: E402
    DEFAULT_PROVIDERS,
    PROFILES,
    make_profile_country,
)
from fl_estimate.providers.linkage import LinkageResult, RecordLinker, prepare_records  # noqa: E402
from fl_estimate.providers.pseudonymise import Pseudonymiser  # noqa: E402
from fl_estimate.providers.submissions import validate_submission  # noqa: E402
from fl_estimate.providers.synthetic import SAMPLE_KEY, Country, make_country  # noqa: E402

STRATA = ["region", "year"]
#: The fixed threshold reported beside the default (the linker's default before issue 21's work).
FIXED = 0.9
HEADLINE = "stepwise"


def _pairs(keys: pd.Series) -> int:
    n = keys.value_counts().to_numpy()
    return int((n * (n - 1) // 2).sum())


def scores(labels: Any, person: Any) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the true persons."""
    lab, per = pd.Series(labels).astype(str), pd.Series(person).astype(str)
    tp = _pairs(lab + "|" + per)
    p, r = tp / max(_pairs(lab), 1), tp / max(_pairs(per), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def accepted_records(country: Country) -> pd.DataFrame:
    frames = []
    for (prov, period), frame in sorted(country.submissions.items()):
        report, clean = validate_submission(frame.astype(object), source=f"{prov}_{period}")
        if clean is None:
            raise SystemExit(report.to_text())
        frames.append(clean.assign(source=f"{prov}_{period}"))
    return pd.concat(frames, ignore_index=True)


def true_result(res: LinkageResult, person: np.ndarray) -> LinkageResult:
    """The linkage result whose clusters are the true persons (star links to each first record)."""
    ids = res.records["unique_id"].to_numpy(np.int64)
    first = pd.Series(ids).groupby(person).transform("min").to_numpy(np.int64)
    keep = ids != first
    links = pd.DataFrame({"unique_id_l": first[keep], "unique_id_r": ids[keep], "rule": "truth"})
    return LinkageResult(
        records=res.records,
        pairs=res.pairs.iloc[:0],
        deterministic_pairs=links,
        threshold=res.threshold,
        method="truth",
    )


def n_hat_by_stratum(data: StratifiedCaptureData) -> dict[tuple[Any, ...], float]:
    out = {}
    for key in data:
        cd = data[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heterogeneity and fit warnings: same for both sides
            try:
                res = estimate(cd, HEADLINE)
            except EstimateDoesNotExistError:  # no estimate on this table: left out of the mean
                out[key if isinstance(key, tuple) else (key,)] = float("nan")
                continue
        out[key if isinstance(key, tuple) else (key,)] = (
            res.estimate if res.status == "ok" else float("nan")
        )
    return out


#: Variants of the profiles benchmarked beside them. ``sahel-3`` is the issue's failing case
#: (3 providers, documents from the police only, no true within-provider duplicates): the EM
#: session blocked on document numbers has no pairs. ``sahel-return``: a fifth of each later
#: year's population are people of the year before (``return_rate``), so some persons are
#: identified in two years and a linkage year by year must find them again (``--incremental``).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "sahel-return": ("sahel", {"return_rate": 0.2}),
    "sahel-3": (
        "sahel",
        {
            "providers": tuple(
                p for p in DEFAULT_PROVIDERS if p.name in ("police", "ngo", "social_services")
            ),
            "dependence": (),
            "duplicate_rate": 0.0,
        },
    ),
}


def make(profile: str, size: str | int, seed: int, **overrides: Any) -> Country:
    if profile == "sample":
        return make_country(scale=1.0 if size == "small" else 36.0, seed=seed)
    if profile in VARIANTS:
        profile, extra = VARIANTS[profile]
        overrides = {**extra, **overrides}
    return make_profile_country(profile, size, seed=seed, **overrides)


def linked_country(
    profile: str,
    size: str | int,
    seed: int,
    *,
    linker: type[RecordLinker] = RecordLinker,
    **overrides: Any,
) -> tuple[Country, LinkageResult, np.ndarray]:
    """A country, its linkage at the default settings (of ``linker``) and the true person of
    each record."""
    country = make(profile, size, seed, **overrides)
    prepared = prepare_records(accepted_records(country), Pseudonymiser(SAMPLE_KEY))
    person = prepared["record_id"].map(country.truth.set_index("record_id")["person"]).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)  # diagnose prints them
        return country, linker(**linker_options()).fit(prepared), person


#: Warning codes that tell the reader the estimate depends on the linkage (the run's threshold
#: sensitivity, and the linkage's own comparison of the threshold with the data-driven one).
CAUSE_CODES = ("threshold-n-hat", "threshold-persons", "threshold-sensitive")


def default_sensitivity_codes(table: pd.DataFrame) -> set[str]:
    """Codes of the threshold-sensitivity warnings a run with ``LinkConfig``'s defaults gives
    for a table of :func:`fl_estimate.pipeline.linkage_sensitivity.linkage_sensitivity`."""
    from fl_estimate.pipeline.linkage_sensitivity import sensitivity_warnings
    from fl_estimate.providers.linkrun import LinkConfig

    fields = {f.name: f for f in dataclasses.fields(LinkConfig)}
    plausible = fields["plausible_thresholds"].default_factory()  # type: ignore[misc]
    share = fields["sensitivity_share"].default
    return {w["code"] for w in sensitivity_warnings(table, plausible, share=share)}


def warning_codes(res: LinkageResult, lists: list[str]) -> list[str]:
    """Every warning code a run of ``fl-estimate link`` (or the annual run) with the default
    settings gives this linkage: the linkage's own and those of the threshold sensitivity (on
    N-hat of the pooled table across the default thresholds, independence model)."""
    from fl_estimate.pipeline.linkage_sensitivity import linkage_sensitivity
    from fl_estimate.providers.linkrun import DEFAULT_THRESHOLDS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit warnings of the pooled tables
        table = linkage_sensitivity(res, DEFAULT_THRESHOLDS, lists=lists)
    return sorted({w["code"] for w in res.warnings()} | default_sensitivity_codes(table))


def silent(n_hat_pct: float, codes: list[str]) -> bool:
    """Issue 21's "silent run": N-hat more than 3% from the true histories' with no warning
    that the linkage decides the estimate (:data:`CAUSE_CODES`)."""
    return bool(abs(n_hat_pct) > 3 and not set(codes) & set(CAUSE_CODES))


def linker_options() -> dict[str, Any]:
    """``RecordLinker`` settings other than the defaults: ``--fixed-links`` (passed to the
    large cases' subprocesses as ``FL_BENCH_FIXED_LINKS``, JSON)."""
    fixed = os.environ.get("FL_BENCH_FIXED_LINKS")
    if not fixed:
        return {}
    return {"deterministic_rules": tuple(tuple(r) for r in json.loads(fixed))}


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def run_case(
    profile: str, size: str, *, seed: int, trace: bool = False, draws: int = 20
) -> dict[str, Any]:
    t0 = time.perf_counter()
    country = make(profile, size, seed)
    t1 = time.perf_counter()
    records = accepted_records(country)
    t2 = time.perf_counter()
    prepared = prepare_records(records, Pseudonymiser(SAMPLE_KEY))
    del records
    t3 = time.perf_counter()
    if trace:
        tracemalloc.start()
    c3 = _cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinkageWarning)  # the table lists the warning codes
        res = RecordLinker(**linker_options()).fit(prepared)
    labels = res.clusters()
    t4 = time.perf_counter()
    c4 = _cpu()
    heap = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    person = prepared["record_id"].map(country.truth.set_index("record_id")["person"]).to_numpy()
    prov = prepared["provider"].to_numpy()
    p, r, f1 = scores(labels, person)
    report = res.report()
    auto = FIXED
    labels_auto = res.clusters(auto)
    p_a, r_a, f1_a = scores(labels_auto, person)
    persons_auto = len(np.unique(labels_auto))
    lab, per, pv = pd.Series(labels).astype(str), pd.Series(person).astype(str), pd.Series(prov)
    within_pairs = _pairs(lab + "|" + pv)
    within_true_pairs = _pairs(lab + "|" + pv + "|" + per)
    lists = country.registry["provider"].tolist()
    linked = res.capture_data(strata=STRATA, lists=lists)
    linked_auto = res.capture_data(auto, strata=STRATA, lists=lists)
    truth = true_result(res, person).capture_data(strata=STRATA, lists=lists)
    assert isinstance(linked, StratifiedCaptureData) and isinstance(truth, StratifiedCaptureData)
    assert isinstance(linked_auto, StratifiedCaptureData)
    nh_linked, nh_true = n_hat_by_stratum(linked), n_hat_by_stratum(truth)
    nh_auto = n_hat_by_stratum(linked_auto)
    rel = np.array([nh_linked.get(k, np.nan) / v - 1 for k, v in nh_true.items()])
    rel_auto = np.array([nh_auto.get(k, np.nan) / v - 1 for k, v in nh_true.items()])
    t5 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heterogeneity and fit warnings, as in n_hat_by_stratum
        unc = linkage_uncertainty(
            res, estimator=StepwiseMSE(), n_draws=draws, seed=seed, strata=STRATA, lists=lists
        )
    unc_time = time.perf_counter() - t5
    unc_key = {tuple(r[s] for s in STRATA): r for r in unc.to_dict("records")}
    rel_draws, cover, cover0 = [], [], []
    for k, v in nh_true.items():
        got = unc_key.get(k)
        if got is None or not np.isfinite(v):
            continue
        rel_draws.append(got["n_hat_draws"] / v - 1)
        cover.append(bool(got["low_linkage"] <= v <= got["high_linkage"]))
        cover0.append(got["low"] <= v <= got["high"])
    untrained = sum(1 for lv in report["model"] if str(lv.get("m_source", "")).startswith("prior"))
    prior = report["training"].get("prior", {})
    codes = warning_codes(res, lists)
    n_hat_pct = 100 * float(np.nanmean(rel))
    n_rec = len(prepared)
    true_prior = _pairs(pd.Series(person).astype(str)) / (n_rec * (n_rec - 1) / 2)
    return {
        "profile": profile,
        "size": size,
        "seed": seed,
        "records": len(prepared),
        "persons": report["persons"],
        "true persons": int(pd.Series(person).nunique()),
        "persons %": 100 * (report["persons"] / pd.Series(person).nunique() - 1),
        "precision": p,
        "recall": r,
        "F1": f1,
        "thr": res.threshold,
        "data thr": res.data_threshold(),
        "persons* %": 100 * (persons_auto / pd.Series(person).nunique() - 1),
        "precision*": p_a,
        "recall*": r_a,
        "F1*": f1_a,
        "prior/true": (prior.get("used") or float("nan")) / true_prior,
        "warnings": ",".join(codes),
        "silent": silent(n_hat_pct, codes),
        "within merges": sum(report["duplicates_removed"].values()),
        "true dups": len(prepared) - len(pd.DataFrame({"p": person, "v": prov}).drop_duplicates()),
        "false within pairs": within_pairs - within_true_pairs,
        "max cluster": max(report["cluster_sizes"]),
        "span strata": report["clusters_spanning_strata"],
        "untrained m": untrained,
        "notes": len(report["training_notes"]),
        "strata": len(nh_true),
        "N-hat mean %": n_hat_pct,
        "N-hat max |%|": 100 * float(np.nanmax(np.abs(rel))),
        "N-hat* mean %": 100 * float(np.nanmean(rel_auto)),
        "N-hat* max |%|": 100 * float(np.nanmax(np.abs(rel_auto))),
        "N-hat~ mean %": 100 * float(np.nanmean(rel_draws)),
        "cover": float(np.mean(cover0)),
        "cover~": float(np.mean(cover)),
        "covered~": int(np.sum(cover)),
        "covered": int(np.sum(cover0)),
        "draws s": unc_time,
        "N-hat linked": float(np.nansum(list(nh_linked.values()))),
        "N-hat* linked": float(np.nansum(list(nh_auto.values()))),
        "N-hat true hist": float(np.nansum(list(nh_true.values()))),
        "true N": int(country.population["N"].sum()),
        "pairs": len(res.pairs),
        "generate s": t1 - t0,
        "validate s": t2 - t1,
        "pseudonymise s": t3 - t2,
        "link s": t4 - t3,
        "link cpu s": c4 - c3,
        "peak RSS MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "link heap MB": heap,
        "by stratum": [
            {"stratum": "/".join(map(str, k)), "linked": nh_linked.get(k), "true hist": v}
            for k, v in nh_true.items()
        ],
    }


def run_in_subprocess(
    profile: str, size: str, seed: int, trace: bool, draws: int = 20
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", profile, size, "--json", "--seed", str(seed),
           "--draws", str(draws)]  # fmt: skip
    if trace:
        cmd.append("--tracemalloc")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        tail = " | ".join(out.stderr.strip().splitlines()[-3:])
        return {"profile": profile, "size": size, "error": tail[:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


_QUALITY = [
    "profile", "size", "records", "persons", "true persons", "persons %", "precision", "recall",
    "F1", "within merges", "true dups", "false within pairs", "max cluster", "span strata",
]  # fmt: skip
_AUTO = ["profile", "size", "thr", "data thr", "persons* %", "precision*", "recall*", "F1*", "prior/true",
         "untrained m", "warnings"]  # fmt: skip
_NHAT = ["profile", "size", "strata", "N-hat mean %", "N-hat max |%|", "N-hat* mean %",
         "N-hat* max |%|", "N-hat~ mean %", "cover", "cover~", "N-hat linked",
         "N-hat* linked", "N-hat true hist", "true N"]  # fmt: skip
_COST = ["profile", "size", "records", "pairs", "generate s", "validate s", "pseudonymise s",
         "link s", "link cpu s", "peak RSS MB", "link heap MB", "draws s"]  # fmt: skip


def print_tables(rows: list[dict[str, Any]]) -> None:
    ok = [r for r in rows if "error" not in r]
    frame = pd.DataFrame(ok)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    fmt = {"precision": 3, "recall": 3, "F1": 3, "persons %": 1, "N-hat mean %": 1,
           "N-hat max |%|": 1, "N-hat linked": 0, "N-hat true hist": 0, "generate s": 1,
           "thr": 3, "data thr": 3, "persons* %": 1, "precision*": 3, "recall*": 3, "F1*": 3,
           "prior/true": 2, "N-hat* mean %": 1, "N-hat* max |%|": 1, "N-hat* linked": 0,
           "N-hat~ mean %": 1, "cover": 2, "cover~": 2, "draws s": 1,
           "validate s": 1, "pseudonymise s": 1, "link s": 1, "link cpu s": 1, "peak RSS MB": 0,
           "link heap MB": 0}  # fmt: skip
    frame = frame.round(fmt)
    print(
        "Linkage against the truth at the default settings (RecordLinker(): threshold 0.3, "
        "cannot_link 0.01)"
    )
    print("targets: F1 >= 0.97, persons within 2%\n")
    frame = frame.reindex(columns=list(dict.fromkeys([*_QUALITY, *_AUTO, *_NHAT, *_COST])))
    print(frame[_QUALITY].to_string(index=False))
    print("\nThe threshold used (thr) and the data-driven one (data thr: expected false and "
          "missed links balance); * at the fixed threshold 0.9; the "
          "fitted prior against the true share of matching pairs, parameters set from priors, "
          "warning codes\n")  # fmt: skip
    print(frame[_AUTO].to_string(index=False))
    print(f"\nN-hat ({HEADLINE}) by stratum: linked (at the default, * at 0.9, ~ over draws of the "
          "links) vs true capture histories (target: under 3%); share of strata whose 95% "
          "interval covers the true-histories N-hat (at the default; ~ with linkage error)\n")  # fmt: skip
    print(frame[_NHAT].to_string(index=False))
    print("\nCost (target: 100,000 records linked in under 30 s on 2 cores, within 8 GB)\n")
    print(frame[_COST].to_string(index=False))
    small = [r for r in ok if r["size"] == "small" and r["profile"] in PROFILES]
    if small:
        print("\nN-hat by stratum, small sizes\n")
        by = pd.DataFrame(
            [{"profile": r["profile"], **s} for r in small for s in r["by stratum"]]
        ).round({"linked": 0, "true hist": 0})
        print(by.to_string(index=False))
    for r in rows:
        if "error" in r:
            print(f"\n{r['profile']} {r['size']}: FAILED: {r['error']}")
    print(f"\ncores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f}")


_SUMMARY = ["profile", "size", "seed", "data thr", "F1", "persons %", "N-hat mean %", "F1*",
            "persons* %", "N-hat* mean %", "N-hat~ mean %", "covered", "covered~", "strata"]  # fmt: skip


def print_summary(rows: list[dict[str, Any]]) -> None:
    """One line per case and seed, then mean and worst over the seeds of each profile."""
    frame = pd.DataFrame([r for r in rows if "error" not in r])
    if frame.empty:
        return
    frame = frame[_SUMMARY]
    print("\nBy seed (default settings; * at the fixed 0.9)\n")
    print(frame.round(3).to_string(index=False))
    worst = frame.groupby(["profile", "size"]).agg(
        seeds=("seed", "size"),
        F1_mean=("F1", "mean"),
        F1_min=("F1", "min"),
        persons_mean=("persons %", "mean"),
        persons_worst=("persons %", lambda x: x.iloc[int(np.argmax(np.abs(x.to_numpy())))]),
        nhat_mean=("N-hat mean %", "mean"),
        F1_fixed_mean=("F1*", "mean"),
        persons_fixed_mean=("persons* %", "mean"),
        nhat_fixed_mean=("N-hat* mean %", "mean"),
    )
    print("\nOver the seeds (targets: F1 >= 0.97, persons within 2%, N-hat under 3%)\n")
    print(worst.round(3).to_string())


def coverage_study(profiles: list[str], n: int, seed: int, draws: int) -> None:
    """``n`` replicates of each small profile: strata whose interval covers the true N-hat."""
    rows = []
    for p in profiles:
        for i in range(n):
            r = run_case(p, "small", seed=seed + i, draws=draws)
            rows.append({k: r[k] for k in ("profile", "seed", "strata", "covered", "covered~")})
    frame = pd.DataFrame(rows)
    frame["all~"] = frame["covered~"] == frame["strata"]
    out = frame.groupby("profile").agg(
        replicates=("seed", "size"),
        strata=("strata", "sum"),
        covered=("covered", "sum"),
        covered_linkage=("covered~", "sum"),
        replicates_all_covered_linkage=("all~", "sum"),
    )
    print(f"Coverage of the true-histories N-hat ({HEADLINE}, 95% intervals, by stratum), "
          f"{n} replicates per small profile (seeds {seed}..{seed + n - 1}), {draws} draws of "
          "the links; covered: without linkage error, covered_linkage: with it "
          "(target: at least 90 of 100)\n")  # fmt: skip
    print(out.to_string())


def incremental_case(profile: str, size: str, seed: int) -> dict[str, Any]:
    """One country linked whole, and linked as it would be year by year: its first year linked,
    each later year added with :func:`~fl_estimate.providers.linkage.incremental.extend_linkage`
    (the annual run with the fit cache). Both against the truth: F1, persons, records found
    again (records of a person identified in an earlier year: the truth's count beside), and
    N-hat by stratum against the true histories' N-hat (mean and largest over the strata of
    the added years, where the two linkages can differ)."""
    from fl_estimate.providers.linkage.incremental import extend_linkage

    country = make(profile, size, seed)
    records = accepted_records(country)
    year = pd.to_datetime(records["date_identified"]).dt.year.to_numpy()
    key = Pseudonymiser(SAMPLE_KEY)
    who = country.truth.set_index("record_id")["person"]
    lists = country.registry["provider"].tolist()
    out: dict[str, Any] = {"profile": profile, "size": size, "seed": seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        full = RecordLinker(**linker_options()).fit(prepare_records(records, key))
        out["full s"] = time.perf_counter() - t0
        years = sorted(set(year.tolist()))
        t0 = time.perf_counter()
        inc = RecordLinker(**linker_options()).fit(prepare_records(records[year == years[0]], key))
        for y in years[1:]:
            inc = extend_linkage(inc, prepare_records(records[year == y], key))
        out["incremental s"] = time.perf_counter() - t0
    first_year = pd.Series(year, index=records["record_id"]).groupby(who).min()
    for name, res in (("full", full), ("incremental", inc)):
        person = res.records["record_id"].map(who).to_numpy()
        labels = res.clusters()
        out[f"F1 {name}"] = scores(labels, person)[2]
        out[f"persons % {name}"] = 100 * (len(np.unique(labels)) / len(set(person)) - 1)
        truth = true_result(res, person).capture_data(strata=STRATA, lists=lists)
        linked = res.capture_data(strata=STRATA, lists=lists)
        assert isinstance(truth, StratifiedCaptureData) and isinstance(
            linked, StratifiedCaptureData
        )
        nh_true, nh = n_hat_by_stratum(truth), n_hat_by_stratum(linked)
        later = [k for k in nh_true if int(k[STRATA.index("year")]) != years[0]]
        rel = np.array([nh.get(k, np.nan) / nh_true[k] - 1 for k in later])
        out[f"N-hat mean % {name}"] = 100 * float(np.nanmean(rel))
        out[f"N-hat max |%| {name}"] = 100 * float(np.nanmax(np.abs(rel)))
        if name == "incremental":
            n_first = res.generations[0]
            again = sum(g.get("found_again", 0) for g in res.generation_report())
            late = res.records["record_id"].iloc[n_first:].map(who)
            late_year = res.records["year"].iloc[n_first:].to_numpy()
            out["found again"] = int(again)
            out["true found again"] = int((first_year.reindex(late).to_numpy() < late_year).sum())
    out["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the process
    return out


def incremental_study(profiles: list[str], seeds: list[int], size: str) -> None:
    """:func:`incremental_case` over profiles and seeds, one row each and the mean per profile."""
    rows = [incremental_case(p, size, s) for s in seeds for p in profiles]
    frame = pd.DataFrame(rows)
    print(f"Linkage year by year (extend_linkage) against the whole linkage, {size}, seeds "
          f"{','.join(map(str, seeds))}; N-hat ({HEADLINE}) over the added years' strata against "
          "the true histories\n")  # fmt: skip
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(frame.round(3).to_string(index=False))
        cols = [c for c in frame.columns if c not in ("profile", "size", "seed")]
        print("\nMean over the seeds\n")
        print(frame.groupby("profile")[cols].mean().round(3).to_string())


def _block_pairs(records: pd.DataFrame, person: np.ndarray, cols: Any) -> tuple[int, int]:
    """Pairs satisfying a rule (windows such as ``age~6`` included), and how many are true."""
    pairs = _window_rule_pairs(records, cols)
    left, right = pairs["unique_id_l"].to_numpy(), pairs["unique_id_r"].to_numpy()
    return len(pairs), int((person[left] == person[right]).sum())


def _window_rule_pairs(records: pd.DataFrame, rule: Any) -> pd.DataFrame:
    """Every pair satisfying a rule (not the star-shaped links of ``rule_pairs``)."""
    from fl_estimate.providers.linkage.rules import _parse, _window_pairs

    equal, window = _parse(rule)
    sub = records.dropna(subset=equal)
    return _window_pairs(sub, equal, window)


def comparison_levels(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The level (label, ``null`` for the null level) of each scored pair in each comparison of
    the default model, from the comparisons' SQL evaluated in DuckDB on the prepared records."""
    import duckdb

    from fl_estimate.providers.linkage.comparisons import default_comparisons
    from fl_estimate.providers.linkage.prepare import splink_table

    table = splink_table(records)
    con = duckdb.connect()
    con.register("t", table)
    con.register("p", pairs[["unique_id_l", "unique_id_r"]].assign(rn=np.arange(len(pairs))))
    cases = []
    for spec in default_comparisons():
        whens = [f"WHEN {spec.null_sql} THEN 'null'"] + [
            f"WHEN {lv.sql} THEN '{lv.label}'" for lv in spec.levels if lv.sql != "ELSE"
        ]
        cases.append(f"CASE {' '.join(whens)} ELSE '{spec.levels[-1].label}' END AS {spec.name}")
    left = ", ".join(f"{c} AS {c}_l" for c in table.columns)
    right = ", ".join(f"{c} AS {c}_r" for c in table.columns)
    sql = (
        f"WITH l AS (SELECT {left} FROM t), r AS (SELECT {right} FROM t) "
        f"SELECT {', '.join(cases)} FROM p JOIN l ON p.unique_id_l = l.unique_id_l "
        "JOIN r ON p.unique_id_r = r.unique_id_r ORDER BY p.rn"
    )
    return con.execute(sql).df()


def calibration(prob: np.ndarray, same: np.ndarray) -> pd.DataFrame:
    """Scored pairs by bins of match probability: how many, their mean probability, the share
    and the number that are true matches."""
    bins = [0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.99, 0.999, 1.0001]
    calib = pd.DataFrame({"p": prob, "true": same}).groupby(
        pd.cut(prob, bins, right=False), observed=True
    )
    return calib.agg(pairs=("p", "size"), mean_p=("p", "mean"), true_share=("true", "mean"),
                     true=("true", "sum")).round(3)  # fmt: skip


def diagnose(profile: str, size: str | int, seed: int, **overrides: Any) -> None:
    """Why the linkage of one country goes wrong: training, prior, blocking, false and missed links."""
    country, res, person = linked_country(profile, size, seed, **overrides)
    rec = res.records
    thr = res.threshold
    truth = country.truth.set_index("record_id")
    n = len(rec)
    n_true = _pairs(pd.Series(person).astype(str))
    report = res.report()
    pd.set_option("display.width", 200)
    shown = {k: [p.name for p in v] if k == "providers" else v for k, v in overrides.items()}
    print(f"{profile} {size} {shown or ''}: {n} records, {len(set(person))} persons, "
          f"{report['persons']} found at {thr}")  # fmt: skip
    print("\n1. Training notes:", report["training_notes"] or "none")
    lam = res.model.get("probability_two_random_records_match")
    print(f"2. Prior (probability two random records match): model {lam:.3g}, "
          f"true {n_true / (n * (n - 1) / 2):.3g}")  # fmt: skip
    comps = [c["output_column_name"] for c in res.model.get("comparisons", [])]
    print("3. Comparisons in the fitted model:", ", ".join(comps))
    model = pd.DataFrame(report["model"])
    print("   m/u by level (m = None: never trained; splink then uses its default m):")
    print(model.to_string(index=False))
    print("\n4. Blocking: pairs agreeing on each rule, true matches among them "
          f"(true matching pairs in all: {n_true})")  # fmt: skip
    rules = {"prediction": res.settings["blocking"], "EM training": res.settings["em_blocking"]}
    rows = [
        {
            "use": use,
            "rule": "+".join(r),
            **dict(zip(("pairs", "true"), _block_pairs(rec, person, r), strict=True)),
        }
        for use, rs in rules.items()
        for r in rs
    ]
    print(pd.DataFrame(rows).to_string(index=False))
    pairs = res.pairs
    same = person[pairs["unique_id_l"]] == person[pairs["unique_id_r"]]
    print(f"   compared: {len(pairs)} pairs, {int(same.sum())} of the {n_true} true pairs")
    det = res.deterministic_pairs
    det_true = person[det["unique_id_l"]] == person[det["unique_id_r"]]
    print("\n5. Deterministic links by rule (true / false):")
    print(pd.crosstab(det["rule"], np.where(det_true, "true", "false")).to_string())

    def kinds(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for side in ("l", "r"):
            rid = rec["record_id"].to_numpy()[frame[f"unique_id_{side}"]]
            t = truth.loc[rid]
            for c in ("provider", "household", "dob_kind"):
                if c in t:
                    out[f"{c}_{side}"] = t[c].to_numpy()
        desc = pd.Series("", index=frame.index)
        if "dob_kind_l" in out:
            desc = out[["dob_kind_l", "dob_kind_r"]].apply(lambda r: "/".join(sorted(r)), axis=1)
        same_prov = out["provider_l"] == out["provider_r"]
        hh = (out.get("household_l", -1) == out.get("household_r", -2)) & (
            out.get("household_l", -1) >= 0
        )
        return pd.DataFrame({"dob": desc, "same provider": same_prov, "same household": hh})

    linked = pairs["match_probability"] >= thr
    false_links = pairs[linked & ~same]
    missed = pairs[~linked & same]
    print(f"\n6. Probabilistic links at {thr}: {int(linked.sum())}, of which false "
          f"{len(false_links)}; true pairs compared but not linked: {len(missed)}")  # fmt: skip
    for title, frame in (("false links", false_links), ("missed true pairs", missed)):
        if len(frame):
            k = kinds(frame)
            print(f"   {title} by dates of birth (truth), provider and household:")
            print(k.value_counts().head(12).to_string())
    print(
        "\n   scored pairs by comparison level: true pairs, missed (true, not linked), false links"
    )
    from fl_estimate.providers.linkage.comparisons import default_comparisons

    lv = comparison_levels(rec, pairs)
    order = {c.name: [x.label for x in c.levels] + ["null"] for c in default_comparisons()}
    for name in ("name", "dob", "age"):
        tab = pd.DataFrame(
            {"level": lv[name], "true": same, "missed": same & ~linked, "false": ~same & linked}
        )
        out = tab.groupby("level", sort=False).agg(pairs=("true", "size"), true=("true", "sum"),
                                                     missed=("missed", "sum"),
                                                     false=("false", "sum"))  # fmt: skip
        print(f"   {name}:")
        print(out.reindex([x for x in order[name] if x in out.index]).to_string())
    print("\n   calibration: scored pairs by match probability, the share that are true matches")
    print(calibration(pairs["match_probability"].to_numpy(float), same).to_string())
    labels = res.clusters(thr)
    print("\n7. Clusters: largest", max(report["cluster_sizes"]), "; spanning strata",
          report["clusters_spanning_strata"], "; within-provider merges",
          sum(report["duplicates_removed"].values()), "against true duplicates",
          n - len(pd.DataFrame({"p": person, "v": rec["provider"]}).drop_duplicates()))  # fmt: skip
    prec, recall, f1 = scores(labels, person)
    lab = pd.Series(labels).astype(str)
    wrong = _pairs(lab) - _pairs(lab + "|" + pd.Series(person).astype(str))
    direct = len(false_links) + int((~det_true).sum())
    print(f"   pairwise precision {prec:.3f}, recall {recall:.3f}, F1 {f1:.3f}; pairs of different "
          f"people in one cluster: {wrong} (direct false links: {direct}; the rest by transitivity)")  # fmt: skip


def _override(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    if key == "providers":
        names = value.split(",")
        return key, tuple(p for p in DEFAULT_PROVIDERS if p.name in names)
    if key == "dependence":
        return key, ()
    return key, float(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--large", nargs="*", default=None, help="profiles at 100,000 (default all)")
    ap.add_argument("--xlarge", nargs="*", default=[], help="profiles at 1,000,000 records")
    ap.add_argument("--one", nargs=2, metavar=("PROFILE", "SIZE"), help="one case only")
    ap.add_argument("--json", action="store_true", help="with --one: print the row as JSON")
    ap.add_argument("--tracemalloc", action="store_true", help="Python-heap peak of the linkage")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument(
        "--seeds",
        default=None,
        help="comma-separated seeds: every small profile (and --large ones) at each, with a "
        "summary table over the seeds (validation on fresh seeds)",
    )
    ap.add_argument(
        "--coverage",
        type=int,
        default=0,
        metavar="N",
        help="coverage study: N replicates (seeds --seed, --seed+1, ...) of each small profile; "
        "how many strata's 95%% intervals with linkage error (--draws) cover the "
        "true-histories N-hat",
    )
    ap.add_argument("--draws", type=int, default=20, help="draws of the links (linkage error)")
    ap.add_argument(
        "--incremental",
        default=None,
        metavar="SEEDS",
        help="comma-separated seeds: each profile (--profiles) linked whole and year by year "
        "(extend_linkage, as the annual run with the fit cache), against the truth",
    )
    ap.add_argument(
        "--profiles",
        default=None,
        help="comma-separated profiles for --coverage and --incremental (default: the base "
        "profiles; the variant sahel-3 may be named)",
    )
    ap.add_argument("--size", default="small", help="with --incremental: small or large")
    ap.add_argument(
        "--fixed-links",
        default=None,
        help='the linker\'s fixed links as JSON, e.g. \'[["key_doc"], ["key_name", "key_dob", '
        "\"region\"]]' (default: the linker's; the [linkage] setting fixed_links)",
    )
    ap.add_argument("--diagnose", nargs=2, metavar=("PROFILE", "SIZE"), help="explain one case")
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="with --diagnose: profile parameters (providers=police,ngo; dependence=none; "
        "duplicate_rate=0 ...)",
    )
    args = ap.parse_args()
    if args.fixed_links:
        json.loads(args.fixed_links)  # refuse bad JSON before any work
        os.environ["FL_BENCH_FIXED_LINKS"] = args.fixed_links
    if args.diagnose:
        prof, size = args.diagnose
        diagnose(prof, int(size) if size.isdigit() else size, args.seed,
                 **dict(_override(t) for t in args.set))  # fmt: skip
        return
    if args.one:
        row = run_case(*args.one, seed=args.seed, trace=args.tracemalloc, draws=args.draws)
        if args.json:
            print(json.dumps(row, default=float))
        else:
            print_tables([row])
        return
    profiles = sorted(PROFILES)
    chosen = args.profiles.split(",") if args.profiles else profiles
    if args.incremental:
        incremental_study(chosen, [int(x) for x in args.incremental.split(",")], args.size)
        return
    if args.coverage:
        coverage_study(chosen, args.coverage, args.seed, args.draws)
        return
    if args.seeds:
        seeds = [int(x) for x in args.seeds.split(",")]
        rows = [run_case(p, "small", seed=s, draws=args.draws) for s in seeds
                for p in [*profiles, *VARIANTS]]  # fmt: skip
        large = [] if args.large is None else (args.large or profiles)
        rows += [run_in_subprocess(p, "large", s, False, args.draws) for s in seeds[:1]
                 for p in large]  # fmt: skip
        print_tables(rows)
        print_summary(rows)
        return
    rows = [
        run_case(p, "small", seed=args.seed, draws=args.draws)
        for p in [*profiles, *VARIANTS, "sample"]
    ]
    if not args.quick:
        large = profiles if args.large is None or not args.large else args.large
        rows += [
            run_in_subprocess(p, "large", args.seed, args.tracemalloc, args.draws) for p in large
        ]
        rows += [
            run_in_subprocess(p, "xlarge", args.seed, args.tracemalloc, args.draws)
            for p in args.xlarge
        ]
    print_tables(rows)


if __name__ == "__main__":
    main()
