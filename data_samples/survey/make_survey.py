"""Generate the synthetic forced-labour survey in this folder (known truth by region).

Run from the repository root::

    python data_samples/survey/make_survey.py

It writes ``survey.csv`` (one sample, 4,000 respondents), ``truth.csv`` (the finite population's
true prevalence per 1,000 by region) and relies on ``mapping.toml`` / ``design.toml`` (committed,
hand-written). The benchmark ``benchmarks/survey_coverage.py`` imports :func:`make_population`,
:func:`draw_sample` and :func:`questionnaire` to draw 200 samples.

Population: 4 regions (strata); each region has 300 enumeration areas (EAs, the PSUs) of 40–160
adults. Forced labour (ILO 2012 rule) is generated person by person with a region-level rate and
an EA-level random effect (so clustering matters: design effects above 1). True prevalence is the
population's own proportion (a finite-population quantity, not the generating rate).

Design: stratified two-stage sample: in each region 40 EAs by simple random sampling without
replacement, then 25 adults per EA without replacement. Weights = (M_h / 40) × (N_hi / 25);
first- and second-stage population sizes are in ``ea_total`` and ``adults_in_ea``.

Questionnaire (codes 1 yes, 2 no, 8 don't know, 9 refused): 11 involuntariness questions and 5
penalty questions asked per dimension (15), see ``mapping.toml``. People in forced labour answer
yes to one involuntariness question and one penalty of the same dimension (plus noise); others
may report isolated indicators (involuntariness without penalty, penalties in another dimension)
that never make a same-dimension pair, and some "don't know" answers that cannot change the
classification, so the scored classification equals the truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REGIONS = ("North", "East", "South", "West")
#: generating rates per 1,000 by region (the truth is the population's realised proportion)
RATES = (12.0, 20.0, 35.0, 55.0)
EAS_PER_REGION = 300
SAMPLE_EAS = 40
SAMPLE_PER_EA = 25

#: questionnaire variables -> ILO 2012 indicators (dimension, indicator id)
INV_QUESTIONS = {
    "q01": ("D1", "HTS.D1.INV.02"),
    "q02": ("D1", "HTS.D1.INV.04"),
    "q03": ("D1", "HTS.D1.INV.05"),
    "q04": ("D1", "HTS.D1.INV.06"),
    "q05": ("D2", "HTS.D2.INV.01"),
    "q06": ("D2", "HTS.D2.INV.03"),
    "q07": ("D2", "HTS.D2.INV.04"),
    "q08": ("D2", "HTS.D2.INV.08"),
    "q09": ("D3", "HTS.D3.INV.02"),
    "q10": ("D3", "HTS.D3.INV.03"),
    "q11": ("D3", "HTS.D3.INV.04"),
}
PENALTIES = ("HTS.PEN.01", "HTS.PEN.03", "HTS.PEN.05", "HTS.PEN.10", "HTS.PEN.12")
DIMS = ("D1", "D2", "D3")
PEN_QUESTIONS = {
    f"p{d[1]}{k + 1}": (d, pid) for d in DIMS for k, pid in enumerate(PENALTIES)
}  # p11..p15 (D1), p21..p25 (D2), p31..p35 (D3)


def make_population(seed: int = 20240601) -> pd.DataFrame:
    """The finite population: one row per adult with region, EA, sex, age group and truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for h, (region, rate) in enumerate(zip(REGIONS, RATES, strict=True)):
        sizes = rng.integers(40, 161, size=EAS_PER_REGION)
        # EA random effect on the logit scale (sd 0.8): clustered forced labour
        base = np.log(rate / (1000 - rate))
        eff = rng.normal(0.0, 0.8, size=EAS_PER_REGION)
        for e, (size, u) in enumerate(zip(sizes, eff, strict=True)):
            p = 1 / (1 + np.exp(-(base + u - 0.3)))  # -0.3 ~ centring of the lognormal mean
            fl = rng.random(size) < p
            rows.append(
                pd.DataFrame(
                    {
                        "region": region,
                        "ea": f"{region[0]}{e:03d}",
                        "person": np.arange(size),
                        "sex": rng.choice(["female", "male"], size=size),
                        "age_group": rng.choice(
                            ["18-29", "30-49", "50+"], size=size, p=[0.35, 0.4, 0.25]
                        ),
                        "true_fl": fl,
                        "ea_total": EAS_PER_REGION,
                        "adults_in_ea": size,
                        "stratum_id": h,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def true_prevalence(pop: pd.DataFrame) -> pd.DataFrame:
    """True prevalence per 1,000 by region and overall (columns: domain, prevalence)."""
    by = pop.groupby("region", sort=True)["true_fl"].mean() * 1000
    out = [{"domain": "all", "prevalence": pop["true_fl"].mean() * 1000}]
    out += [{"domain": r, "prevalence": v} for r, v in by.items()]
    return pd.DataFrame(out)


def draw_sample(pop: pd.DataFrame, seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Stratified two-stage sample with weights (see the module docstring)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _region, sub in pop.groupby("region", sort=True):
        eas = sub["ea"].unique()
        chosen = rng.choice(eas, size=SAMPLE_EAS, replace=False)
        for ea in chosen:
            people = sub[sub["ea"] == ea]
            take = people.iloc[rng.choice(len(people), size=SAMPLE_PER_EA, replace=False)]
            take = take.assign(weight=(len(eas) / SAMPLE_EAS) * (len(people) / SAMPLE_PER_EA))
            parts.append(take)
    return pd.concat(parts, ignore_index=True)


def draw_samples_fast(pop: pd.DataFrame, seeds: list[np.random.SeedSequence]) -> list[pd.DataFrame]:
    """:func:`draw_sample` for many seeds, using an index of EAs (same design, faster)."""
    groups = {ea: idx.to_numpy() for ea, idx in pop.groupby("ea").groups.items()}
    ea_region = pop.drop_duplicates("ea").set_index("ea")["region"]
    by_region = {r: ea_region.index[ea_region == r].to_numpy() for r in REGIONS}
    out = []
    for s in seeds:
        rng = np.random.default_rng(s)
        rows, wts = [], []
        for r in REGIONS:
            eas = by_region[r]
            for ea in rng.choice(eas, size=SAMPLE_EAS, replace=False):
                members = groups[ea]
                rows.append(rng.choice(members, size=SAMPLE_PER_EA, replace=False))
                wts.append(
                    np.full(SAMPLE_PER_EA, len(eas) / SAMPLE_EAS * len(members) / SAMPLE_PER_EA)
                )
        smp = pop.iloc[np.concatenate(rows)].reset_index(drop=True)
        smp["weight"] = np.concatenate(wts)
        out.append(smp)
    return out


def questionnaire(sample: pd.DataFrame, seed: int | np.random.SeedSequence) -> pd.DataFrame:
    """Answers (1 yes, 2 no, 8 don't know, 9 refused) consistent with ``true_fl``.

    In forced labour: one same-dimension pair (involuntariness + penalty), sometimes more.
    Otherwise: with probability 0.15 one involuntariness indicator (no penalty anywhere), with
    probability 0.05 one penalty (no involuntariness anywhere), and with probability 0.03 a
    "don't know" on one penalty question of a respondent without any involuntariness (cannot
    change the classification).
    """
    rng = np.random.default_rng(seed)
    n = len(sample)
    inv_cols, pen_cols = list(INV_QUESTIONS), list(PEN_QUESTIONS)
    A = {c: np.full(n, 2, dtype=np.int64) for c in inv_cols + pen_cols}
    fl = sample["true_fl"].to_numpy(dtype=bool)
    dim_of_inv = np.array([INV_QUESTIONS[c][0] for c in inv_cols])
    dim_of_pen = np.array([PEN_QUESTIONS[c][0] for c in pen_cols])
    for i in np.flatnonzero(fl):
        d = rng.choice(DIMS)
        A[rng.choice(np.array(inv_cols)[dim_of_inv == d])][i] = 1
        A[rng.choice(np.array(pen_cols)[dim_of_pen == d])][i] = 1
        if rng.random() < 0.3:  # a second pair in another dimension
            d2 = rng.choice([x for x in DIMS if x != d])
            A[rng.choice(np.array(inv_cols)[dim_of_inv == d2])][i] = 1
            A[rng.choice(np.array(pen_cols)[dim_of_pen == d2])][i] = 1
    u = rng.random(n)
    inv_only = ~fl & (u < 0.15)
    pen_only = ~fl & (u >= 0.15) & (u < 0.20)
    dk = ~fl & (u >= 0.20) & (u < 0.23)
    for i in np.flatnonzero(inv_only):
        A[rng.choice(inv_cols)][i] = 1
    for i in np.flatnonzero(pen_only | dk):
        A[rng.choice(pen_cols)][i] = 1 if pen_only[i] else 8
    out = sample.drop(columns=["true_fl"]).copy()
    out.insert(0, "resp_id", [f"R{i:05d}" for i in range(n)])
    for c in inv_cols + pen_cols:
        out[c] = A[c]
    return out


def mapping_toml() -> str:
    """The mapping file for this questionnaire (written to mapping.toml)."""
    lines = [
        "# Mapping of the synthetic questionnaire (make_survey.py) to the ILO 2012 indicators.",
        "[mapping]",
        'framework = "ilo2012"',
        'id_column = "resp_id"',
        "",
        "[codes]",
        "yes = [1]",
        "no = [2]",
        "dont_know = [8]",
        "refused = [9]",
        "",
    ]
    for q, (_, iid) in INV_QUESTIONS.items():
        lines += ["[[indicator]]", f'id = "{iid}"', f'variable = "{q}"', ""]
    for q, (d, pid) in PEN_QUESTIONS.items():
        lines += ["[[indicator]]", f'id = "{pid}"', f'dimension = "{d}"', f'variable = "{q}"', ""]
    return "\n".join(lines)


DESIGN_TOML = """# Design of the synthetic survey: stratified (region) two-stage (EA, then adult) sample.
[design]
weights = "weight"
strata = "region"
ids = ["ea", "person"]
fpc = ["ea_total", "adults_in_ea"]
"""


def main() -> None:
    pop = make_population()
    smp = draw_sample(pop, seed=1)
    answers = questionnaire(smp, seed=2)
    answers.drop(columns=["stratum_id"]).to_csv(HERE / "survey.csv", index=False)
    true_prevalence(pop).round(4).to_csv(HERE / "truth.csv", index=False)
    (HERE / "mapping.toml").write_text(mapping_toml(), encoding="utf-8")
    (HERE / "design.toml").write_text(DESIGN_TOML, encoding="utf-8")


if __name__ == "__main__":
    main()
