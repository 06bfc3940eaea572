"""Write the three notebooks and run them, so that the committed files show their outputs.

    .venv/bin/python notebooks/make_notebooks.py [--no-execute] [--quick]

The notebooks are kept as code here so that a review sees plain Python. Each is then executed top
to bottom in a fresh kernel (nbclient, from the notebooks' folder) and written with its outputs:
tables, printed summaries and charts (inline PNG), so that a reader sees them on opening the file
without running anything. Cells carry no timing metadata, so a rerun changes only what the
computation changes. ``--no-execute`` writes the cells without outputs; ``--quick`` runs with
FL_QUICK=1 (short bootstrap and MCMC runs, as the test suite does: tests/test_notebooks.py); the
committed notebooks are run without it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import fl_estimate as fe

QUICK = os.environ.get("FL_QUICK") == "1"   # the test suite runs short chains and few replicates
ROOT = Path.cwd() if (Path.cwd() / "data_samples").exists() else Path.cwd().parent
"""

NB1 = [
    new_markdown_cell(
        "# 1. Quick start: how many victims of modern slavery in the UK in 2013?\n\n"
        "The UK Home Office's 2013 analysis (Silverman 2014) combined six lists of potential "
        "victims: local authorities (LA), NGOs (NG), police forces (PF), government organisations "
        "(GO), the general public (GP) and the National Crime Agency (NCA). 2,744 people were on "
        "at least one list. How many were on none?"
    ),
    new_code_cell(SETUP),
    new_code_cell(
        'data = fe.read_capture_csv(ROOT / "data_samples" / "uk_2013.csv")\n'
        "desc = data.describe()\n"
        'desc["lists"]'
    ),
    new_markdown_cell(
        "Which pairs of lists never overlap? Their interaction has no finite estimate."
    ),
    new_code_cell('desc["overlaps"].query("never_overlap")'),
    new_code_cell("from fl_estimate.plotting import plot_overlaps\n\nplot_overlaps(data);"),
    new_markdown_cell(
        "## The existence check\n\nA model with the interaction LA:GP is a *boundary* fit (the "
        "cells with both lists are fitted at zero), not a failure. The check tells the two apart "
        "(0: the extended MLE exists)."
    ),
    new_code_cell(
        "from fl_estimate.mse import check_existence\n"
        "from fl_estimate.mse.loglinear import parse_model\n\n"
        'check_existence(data, parse_model("LA:GP + LA:NG", data.lists)).code'
    ),
    new_markdown_cell(
        "## Several methods, side by side\n\nStepwise selection (SparseMSE's rule) with its "
        "conditional Wald interval and with a bootstrap that repeats the selection; the best "
        "model by BIC; the independence model with its profile-likelihood interval; and the "
        "Bayesian latent-class model."
    ),
    new_code_cell(
        "from fl_estimate.mse import ExhaustiveSearchMSE, LogLinearMSE, StepwiseMSE, estimate\n\n"
        "n_boot = 100 if QUICK else 1000\n"
        "results = {\n"
        '    "independence (profile)": LogLinearMSE().fit(data, interval="profile"),\n'
        '    "stepwise (Wald, conditional)": StepwiseMSE().fit(data),\n'
        '    "stepwise (BCa, reselection)": StepwiseMSE().fit(data, interval="bootstrap",\n'
        "                                                       n_boot=n_boot, seed=1),\n"
        '    "BIC search (Wald, conditional)": ExhaustiveSearchMSE("bic").fit(data),\n'
        '    "LCMCR (credible)": estimate(data, "lcmcr", seed=1,\n'
        "                                 draws=300 if QUICK else 1000,\n"
        "                                 chains=2 if QUICK else 4),\n"
        "}\n"
        "cmp = fe.compare(results)\n"
        'cmp.to_frame()[["name", "estimate", "ci_low", "ci_high", "interval_kind", "status"]]'
    ),
    new_code_cell("cmp.plot();"),
    new_code_cell('print(results["stepwise (Wald, conditional)"].summary())'),
    new_markdown_cell(
        "The methods disagree (as in the published literature): report several and prefer "
        "intervals that include model-selection uncertainty (the BCa bootstrap with reselection)."
    ),
]

NB2 = [
    new_markdown_cell(
        "# 2. Indicators and survey prevalence\n\nScore a (synthetic) household survey against "
        "the ILO 2012 forced-labour survey guidelines, then estimate prevalence per 1,000 with "
        "design-based intervals for its stratified two-stage sample."
    ),
    new_code_cell(SETUP),
    new_code_cell(
        "from fl_estimate.indicators import IndicatorScorer, SurveyPrevalence\n\n"
        'survey = ROOT / "data_samples" / "survey"\n'
        'answers = pd.read_csv(survey / "survey.csv")\n'
        'scored = IndicatorScorer("ilo2012").score(answers, survey / "mapping.toml")\n'
        'scored.table[["resp_id", "forced_labour", "classification", "reason"]].head()'
    ),
    new_code_cell("print(scored.summary())"),
    new_code_cell(
        'res = SurveyPrevalence(outcomes=["forced_labour"], by="region").fit(\n'
        '    scored, design=survey / "design.toml"\n'
        ")\n"
        "table = res.to_frame()\n"
        'table[["domain", "estimate", "ci_low", "ci_high", "ci_method", "deff", "n_unweighted"]]'
    ),
    new_markdown_cell("The true prevalence of the simulation, for comparison:"),
    new_code_cell('pd.read_csv(survey / "truth.csv").head(10)'),
    new_code_cell(
        "from fl_estimate.reporting import plot_indicator_prevalence\n\n"
        'by_region = table[table["domain"] != "all"] if "all" in set(table["domain"]) else table\n'
        "plot_indicator_prevalence(by_region);"
    ),
]

NB3 = [
    new_markdown_cell(
        "# 3. An annual national report from provider lists\n\nThe synthetic sample country: "
        "six providers send quarterly files of identified victims in eight regions. We check "
        "the files, link the same person across providers without clear identifiers, estimate "
        "by region and year, and produce the report's charts."
    ),
    new_code_cell(SETUP),
    new_markdown_cell("## 1. Check the submissions"),
    new_code_cell(
        "from fl_estimate.cli import main\n\n"
        'country = ROOT / "data_samples" / "country"\n'
        'main(["submissions", "check", str(country / "submissions" / "police_2022-Q3.csv")])'
    ),
    new_markdown_cell(
        "That file is rejected whole (exit code 2); its correction `police_2022-Q3_v2.csv` "
        "replaces it in the linkage.\n\n## 2. Link and estimate, from one configuration"
    ),
    new_code_cell(
        "import tempfile\n\n"
        "from fl_estimate.pipeline import run\n\n"
        'cfg_text = (ROOT / "data_samples" / "country.toml").read_text()\n'
        "if QUICK:\n"
        '    cfg_text = cfg_text.replace("n_boot = 1000", "n_boot = 60").replace(\n'
        '        "top_models = 10", "top_models = 0")\n'
        'work = Path(tempfile.mkdtemp(prefix="fl_report_"))\n'
        'cfg = work / "country.toml"\n'
        'cfg.write_text(cfg_text.replace(\'"country/\', f\'"{ROOT / "data_samples" / "country"}/\'))\n'
        'result = run(cfg, out=work / "report", progress=False)\n'
        "sorted(result.files)[:8]"
    ),
    new_code_cell(
        'nat = result.tables["national_estimates"]\n'
        'nat[["year", "kind", "method", "observed", "estimate", "ci_low", "ci_high"]]'
    ),
    new_markdown_cell("## 3. Charts"),
    new_code_cell(
        "from fl_estimate.reporting import plot_national_trend, plot_trend_by_region\n\n"
        'truth = pd.read_csv(country / "truth" / "population.csv")\n'
        'head = result.tables["strata_estimates"]\n'
        'plot_trend_by_region(head[head["method"] == "stepwise"], truth=truth);'
    ),
    new_code_cell('plot_national_trend(nat, truth=truth.groupby("year")["N"].sum());'),
    new_markdown_cell(
        "The report itself (`report.html`, self-contained) and every table (CSV, Excel) are in "
        "the output folder, with `manifest.json` recording the inputs' hashes, the configuration, "
        "the seed and the package versions."
    ),
]


NOTEBOOKS = (
    ("01_quick_start_uk2013.ipynb", NB1),
    ("02_indicators_and_survey_prevalence.ipynb", NB2),
    ("03_annual_report_from_provider_lists.ipynb", NB3),
)


def execute(nb: nbformat.NotebookNode, *, quick: bool) -> None:
    """Run ``nb`` top to bottom in a fresh ``python3`` kernel, keeping its outputs in place."""
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if k not in ("FL_QUICK", "MPLBACKEND")}
    if quick:
        env["FL_QUICK"] = "1"
    client = NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute(env=env)  # the kernel's environment


def build(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-execute", action="store_true", help="write cells without outputs")
    parser.add_argument("--quick", action="store_true", help="run with FL_QUICK=1")
    opts = parser.parse_args()
    for name, cells in NOTEBOOKS:
        nb = build(cells)
        if not opts.no_execute:
            print(f"running {name} ...", flush=True)
            execute(nb, quick=opts.quick)
            nb.metadata.pop("language_info", None)  # the kernel's exact Python version
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
