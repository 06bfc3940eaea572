"""Make the small record-level data sets that make_vgam_reference.R fits (run once; committed).

    PYTHONPATH=src python tests/data/vgam/make_vgam_data.py

Each CSV has one row per person caught: 0/1 list columns L1..LK and categorical covariates.
"""

from __future__ import annotations

from pathlib import Path

from fl_estimate.simulate import simulate_covariates

HERE = Path(__file__).resolve().parent


def main() -> None:
    sets = {
        # K = 3, one covariate with list-specific effects
        "sex_k3": simulate_covariates(
            1500,
            3,
            covariates={"sex": {"F": 0.55, "M": 0.45}},
            capture_probs=[0.30, 0.22, 0.35],
            effects={"sex": {"M": [-1.2, -0.6, -1.5]}},
            seed=101,
        ),
        # K = 4, two covariates, a share of nationality values recorded as "(missing)"
        "sex_nat_k4": simulate_covariates(
            2500,
            4,
            covariates={
                "sex": {"F": 0.5, "M": 0.5},
                "nationality": {"EU": 0.4, "nonEU": 0.45, "UK": 0.15},
            },
            capture_probs=[0.20, 0.15, 0.25, 0.12],
            effects={
                "sex": {"M": [-0.8, -0.3, -1.0, 0.2]},
                "nationality": {"nonEU": [-1.0, -0.5, -1.2, -0.7], "UK": 0.6},
            },
            missing={"sex": 0.0, "nationality": 0.1},
            seed=202,
        ),
        # K = 5, an age band with 4 levels
        "age_k5": simulate_covariates(
            3000,
            5,
            covariates={"age": {"a18_24": 0.3, "a25_34": 0.35, "a35_49": 0.25, "a50p": 0.1}},
            capture_probs=[0.12, 0.18, 0.10, 0.15, 0.08],
            effects={
                "age": {
                    "a25_34": [-0.4, -0.2, -0.5, 0.1, -0.3],
                    "a35_49": [-0.9, -0.6, -1.1, -0.4, -0.8],
                    "a50p": -1.4,
                }
            },
            seed=303,
        ),
    }
    for name, sim in sets.items():
        lists = list(sim.data.lists)
        out = sim.records[[*lists, *sim.covariates]].copy()
        for c in sim.covariates:
            out[c] = out[c].astype(object).where(out[c].notna(), "(missing)")
        out.to_csv(HERE / f"{name}.csv", index=False)
        print(name, len(out), "people caught of", sim.truth)


if __name__ == "__main__":
    main()
