"""The report says what the results are, and the annual run's figures depend on their own keys.

Runs of the annual pipeline on a small simulated country (4 regions x 3 years, 4 lists; one
region too small to estimate) with Wald intervals, with 90% intervals, and with a Bayesian
headline (dga: exact posterior, no MCMC, so the test does not depend on convergence luck). Each
report's every sentence of "What the numbers mean" is checked against the run's own tables.
Then: adding a year leaves every earlier year's figures unchanged (seeds keyed by stratum), and
writing the report leaves the caller's tables and matplotlib backend as they were.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from fl_estimate import simulate
from fl_estimate.pipeline import RunResult, run
from fl_estimate.pipeline.run import report_spec
from fl_estimate.reporting import write_outputs
from fl_estimate.results import INTERVAL_KINDS

REGIONS = {"North": 400, "South": 300, "East": 250, "Lakes": 12}
YEARS = (2021, 2022, 2023)


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sizes = {
        (r, y): int(n * (1 + 0.1 * i)) for r, n in REGIONS.items() for i, y in enumerate(YEARS)
    }
    sim = simulate(
        sizes,
        ["police", "ngo", "iom", "labour"],
        capture_probs=[0.3, 0.25, 0.2, 0.3],
        dependence={("police", "ngo"): 2.0},
        strata_names=["region", "year"],
        seed=3,
    )
    p = tmp_path_factory.mktemp("hist") / "histories.csv"
    sim.records.drop(columns=["latent_class"]).to_csv(p, index=False)
    return p


def write_config(
    tmp: Path, histories: Path, estimation: str, *, seed: int = 11, out: str | None = None
) -> Path:
    """``tmp/run.toml`` of the small country (``out`` default: ``tmp/out``, absolute)."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "run.toml"
    cfg.write_text(
        f"""
[run]
title = "Report test"
seed = {seed}
out = "{tmp / "out" if out is None else out}"
[input]
capture_histories = "{histories}"
strata = ["region", "year"]
[estimation]
min_per_list = 5
{estimation}
[sensitivity]
leave_one_out = false
top_models = 0
[executor]
workers = 1
"""
    )
    return cfg


def _run(tmp: Path, histories: Path, estimation: str, *, seed: int = 11) -> RunResult:
    return run(write_config(tmp, histories, estimation, seed=seed), progress=False)


@pytest.fixture(scope="module")
def wald_run(tmp_path_factory: pytest.TempPathFactory, histories: Path) -> RunResult:
    tmp = tmp_path_factory.mktemp("wald")
    return _run(tmp, histories, 'methods = ["stepwise", "independence"]\ninterval = "wald"')


def _meaning(res: RunResult) -> list[str]:
    """The bullet points of the report's "What the numbers mean"."""
    md = (res.out / "report.md").read_text()
    section = md.split("## What the numbers mean\n\n", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in section.strip().splitlines()]


def _headline_rows(res: RunResult, method: str) -> pd.DataFrame:
    s = res.tables["strata_estimates"]
    return s[(s["method"] == method) & s["estimate"].notna()]


def _totals(res: RunResult) -> pd.DataFrame:
    n = res.tables["national_estimates"]
    return n[n["kind"] == "sum of strata"]


def _without_estimate_sentence(res: RunResult, method: str) -> str:
    s = res.tables["strata_estimates"]
    head = s[s["method"] == method]
    n_without = int(head["estimate"].isna().sum())
    assert n_without == 3  # Lakes, every year: lists below min_per_list
    return (
        f"{n_without} of {len(head)} strata have no {method} estimate (the status column says "
        "why); their identified victims are added to the totals without a dark figure."
    )


COMMON_FIRST = (
    "The estimate counts victims who were identified by at least one provider and, from how the "
    "providers' lists overlap, those identified by none (the 'dark figure')."
)
COMMON_LAST = (
    "Counts of identified people below 5 are suppressed in published tables, with further cells "
    "hidden where totals would reveal them."
)
LOGLINEAR_ASSUMES = (
    "The headline method assumes a closed population in each region and year, that the same "
    "person was recognised across the providers' lists, and that the log-linear model captures "
    "how the providers' lists depend on each other. People whom no provider is ever likely to "
    "meet are not counted: the estimate is best read as a lower bound on the true number."
)
NO_TOTAL_INTERVAL = (
    "Each region and year is estimated on its own; national totals add the strata's estimates "
    "and have no interval: intervals of strata cannot be added up, and an interval of a sum "
    "needs the strata's bootstrap replicates or posterior draws, which these results do not have."
)


def test_wald_run_reports_wald_intervals_and_totals_without_one(wald_run: RunResult) -> None:
    res = wald_run
    # the facts, from the tables
    assert set(_headline_rows(res, "stepwise")["interval_kind"]) == {"wald-log"}
    assert set(_headline_rows(res, "independence")["interval_kind"]) == {"wald-log"}
    totals = _totals(res)
    assert totals["ci_low"].isna().all() and set(totals["interval_kind"]) == {"none"}
    assert _meaning(res) == [
        COMMON_FIRST,
        "Headline method: **stepwise** (a log-linear capture–recapture model chosen from the data "
        "by stepwise selection).",
        "Each stepwise interval is a 95% Wald interval on the log of the unobserved count, "
        "conditional on the chosen model: it leaves out the uncertainty of choosing the model, "
        "so it understates the uncertainty.",
        "Shown beside it for comparison: **independence** (the log-linear model of independent "
        "lists).",
        "Each independence interval is a 95% Wald interval on the log of the unobserved count.",
        NO_TOTAL_INTERVAL,
        LOGLINEAR_ASSUMES,
        _without_estimate_sentence(res, "stepwise"),
        COMMON_LAST,
    ]
    md = (res.out / "report.md").read_text()
    for year in YEARS:
        assert f"- **{year}**: about **" in md and "victims (no interval);" in md


def test_level_090_run_says_90_percent_everywhere(tmp_path: Path, histories: Path) -> None:
    res = _run(
        tmp_path,
        histories,
        'methods = ["stepwise"]\ninterval = "bootstrap"\nn_boot = 60\nlevel = 0.9',
    )
    head = _headline_rows(res, "stepwise")
    assert set(head["level"]) == {0.9}
    totals = _totals(res)
    assert set(totals["level"]) == {0.9}
    assert set(totals["interval_kind"]) == {"bootstrap-percentile"}
    kinds = head["interval_kind"].value_counts()
    assert set(kinds.index) <= {"bootstrap-bca", "bootstrap-percentile"}
    kind_words = " or ".join(
        INTERVAL_KINDS[k] for k in sorted(kinds.index, key=lambda k: (-kinds[k], k))
    )
    assert _meaning(res) == [
        COMMON_FIRST,
        "Headline method: **stepwise** (a log-linear capture–recapture model chosen from the data "
        "by stepwise selection).",
        f"Each stepwise interval is a 90% {kind_words} that repeats the model choice on every "
        "replicate.",
        "Each region and year is estimated on its own; national totals add the strata's bootstrap "
        "replicates replicate by replicate, so their 90% interval (a bootstrap percentile "
        "interval of the sums) reflects every stratum's uncertainty.",
        LOGLINEAR_ASSUMES,
        _without_estimate_sentence(res, "stepwise"),
        COMMON_LAST,
    ]
    md = (res.out / "report.md").read_text()
    assert "95%" not in md
    for _, r in totals.iterrows():
        lo, hi = round(r["ci_low"]), round(r["ci_high"])
        assert f"- **{r['year']}**: about **{round(r['estimate']):,}** victims (90% interval " in md
        assert f"{lo:,} to {hi:,})" in md


def test_bayesian_headline_is_described_as_bayesian(tmp_path: Path, histories: Path) -> None:
    res = _run(tmp_path, histories, 'methods = ["dga"]')
    head = _headline_rows(res, "dga")
    assert set(head["interval_kind"]) == {"credible-eti"}
    totals = _totals(res)
    (kind,) = set(totals["interval_kind"])
    # dga's exact posterior as draws (ArviZ) can be added draw by draw; a grid cannot
    totals_sentence = {
        "credible-eti": "Each region and year is estimated on its own; national totals add the "
        "strata's posterior draws draw by draw, so their 95% interval (an equal-tailed posterior "
        "credible interval of the sums) reflects every stratum's uncertainty.",
        "none": NO_TOTAL_INTERVAL,
    }[kind]
    assert _meaning(res) == [
        COMMON_FIRST,
        "Headline method: **dga** (Bayesian model averaging over decomposable graphical models "
        "(dga)).",
        "Each dga interval is a 95% equal-tailed posterior credible interval.",
        totals_sentence,
        "The headline method assumes a closed population in each region and year, that the same "
        "person was recognised across the providers' lists, and that the model and its priors "
        "capture how the providers' lists depend on each other and how people differ in their "
        "chances of being listed. People whom no provider is ever likely to meet are not counted: "
        "the estimate is best read as a lower bound on the true number.",
        _without_estimate_sentence(res, "dga"),
        COMMON_LAST,
    ]
    md = (res.out / "report.md").read_text()
    assert "log-linear capture–recapture" not in md and "bootstrap BCa" not in md


def test_adding_a_year_leaves_earlier_years_unchanged(tmp_path: Path, histories: Path) -> None:
    """Seeds are keyed by stratum, pooled table, total and sensitivity case (not by position):
    the 2021-2022 figures of a run on 2021-2022 are those of a run on 2021-2023, to the bit."""
    two = tmp_path / "two_years.csv"
    df = pd.read_csv(histories)
    df[df["year"] < 2023].to_csv(two, index=False)
    est = 'methods = ["stepwise"]\ninterval = "bootstrap"\nn_boot = 40'
    a = _run(tmp_path / "a", two, est)
    b = _run(tmp_path / "b", histories, est)
    for name in ("strata_estimates", "national_estimates", "sensitivity"):
        ta, tb = a.tables[name], b.tables[name]
        tb = tb[tb["year"] < 2023].reset_index(drop=True)
        assert len(ta) == len(tb) > 0
        pd.testing.assert_frame_equal(ta, tb, check_exact=True, obj=name)
    # ... and the intervals really are random: another seed moves them
    c = _run(tmp_path / "c", two, est, seed=12)
    ci = ["ci_low", "ci_high"]
    assert not a.tables["national_estimates"][ci].equals(c.tables["national_estimates"][ci])


def test_report_leaves_tables_and_backend_alone(tmp_path: Path, wald_run: RunResult) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    res = wald_run
    tables = res.tables
    before = copy.deepcopy(tables)
    previous = matplotlib.get_backend()
    open_figures = plt.get_fignums()
    matplotlib.use("svg")  # a backend the report must not switch away from
    try:
        spec = report_spec(_config_of(res), res.strata, tables)
        stage = tmp_path / "again"
        stage.mkdir()
        files = write_outputs(
            spec,
            stage,
            tables,
            pooled=pd.DataFrame({"police": [1, 0], "ngo": [0, 1], "iom": [1, 1], "count": [3, 4]}),
        )
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == open_figures  # nothing left registered with pyplot
    finally:
        matplotlib.use(previous)
    assert "report.md" in files and (stage / "list_overlaps.png").exists()
    assert tables.keys() == before.keys()
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)


def _config_of(res: RunResult):  # type: ignore[no-untyped-def]
    from fl_estimate.pipeline import read_run_config

    return read_run_config(res.out.parent / "run.toml")


def test_published_texts_name_no_small_count(wald_run: RunResult) -> None:
    """A stratum's reason for not being estimated names its small lists, not their counts."""
    res = wald_run
    strata = pd.read_csv(res.out / "strata_estimates.csv")
    national = pd.read_csv(res.out / "national_estimates.csv", keep_default_na=False)
    texts = [*strata["status"].astype(str), *national["note"].astype(str)]
    # the reason "lists with fewer than 5 people: X" would narrow X's total to 1-4: withheld
    assert any(t == "not estimable (reason withheld: disclosure control)" for t in texts)
    for t in texts:
        assert not re.search(r"\(\d\)|\b[1-4] observed", t), t


def test_same_seed_gives_byte_identical_outputs(
    tmp_path_factory: pytest.TempPathFactory, wald_run: RunResult, histories: Path
) -> None:
    """Tables, charts (PNG and SVG: no dates, fixed SVG ids) and the report, byte for byte;
    the manifest (a timestamp) and the workbook (its metadata) are left out."""
    again = _run(
        tmp_path_factory.mktemp("again"),
        histories,
        'methods = ["stepwise", "independence"]\ninterval = "wald"',
    )
    assert sorted(again.files) == sorted(wald_run.files)
    compared = [f for f in wald_run.files if f not in ("manifest.json", "tables.xlsx")]
    assert {f.rsplit(".", 1)[1] for f in compared} == {"csv", "png", "svg", "md", "html"}
    for f in compared:
        assert (again.out / f).read_bytes() == (wald_run.out / f).read_bytes(), f


def _section(md: str, title: str) -> list[str]:
    part = md.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in part.strip().splitlines()]


def _report_with(tmp: Path, res: RunResult, quality: object, lang: str) -> str:
    import dataclasses

    spec = dataclasses.replace(
        report_spec(_config_of(res), res.strata, res.tables), linkage=quality, language=lang
    )
    stage = tmp / lang
    stage.mkdir()
    pooled = pd.DataFrame({"police": [1, 0], "ngo": [0, 1], "iom": [1, 1], "count": [3, 4]})
    write_outputs(spec, stage, res.tables, pooled=pooled)
    return (stage / "report.md").read_text()


def test_linkage_quality_section_in_english_and_french(tmp_path: Path, wald_run: RunResult) -> None:
    """Issue 19/22: shares merged, estimated precision/recall, persons and N-hat across the
    plausible thresholds, the warnings; every number read from the spec, in each language."""
    from fl_estimate.reporting import LinkageQuality

    q = LinkageQuality(
        records=1200, persons=1000, share_merged=1 / 6, precision=0.991, recall=0.962,
        threshold=0.9, data_threshold=0.8004, plausible=(0.8, 0.99), persons_range=(990, 1030),
        n_hat_range=(1500, 1620), warnings=("m-prior",),
        with_linkage_error=(1550.0, 1480.0, 1630.0, 1540.0, 1450.0, 1650.0),
    )  # fmt: skip
    en = _section(_report_with(tmp_path, wald_run, q, "en"), "Linkage quality")
    assert en == [
        "1,200 records from the providers were linked into 1,000 persons: 16.7% of the records "
        "were merged with another record of the same person.",
        "Match threshold 0.9; the threshold chosen from the data would be 0.8.",
        "Estimated from the linkage model's match probabilities: precision 99.1% (pairs linked "
        "that are the same person) and recall 96.2% (pairs of the same person that were "
        "linked); both assume that the model's probabilities are right.",
        "Across the plausible match thresholds (0.8 to 0.99), the one used and the one chosen "
        "from the data: "
        "from 990 to 1,030 persons.",
        "Across the same thresholds, N-hat of the reference model (fitted to the table pooled "
        "over strata, to compare thresholds) goes from 1,500 to 1,620.",
        "With linkage error (links drawn from their match probabilities), N-hat of the "
        "reference model is 1,540 (1,450 to 1,650), against 1,550 (1,480 to 1,630) without; the "
        "figures above do not include linkage error.",
        "1 linkage warning(s), listed with the warnings below.",
    ]
    fr = _section(_report_with(tmp_path, wald_run, q, "fr"), "Qualité du couplage")
    nb, pc = "\u202f", "\u00a0%"  # CLDR French: grouping U+202F, percent sign after U+00A0
    assert fr[0] == (
        f"Les 1{nb}200 enregistrements des fournisseurs ont été couplés en 1{nb}000 personnes : "
        f"16,7{pc} des enregistrements ont été fusionnés avec un autre enregistrement de la "
        "même personne."
    )
    assert f"précision 99,1{pc}" in fr[2] and "0,99" in fr[3] and f"1{nb}030" in fr[3]


def test_report_says_why_the_default_threshold_is_below_the_data_driven_one(
    tmp_path: Path, wald_run: RunResult
) -> None:
    """At the default 0.3, under a higher data-driven threshold, the report says that the default
    links pairs more likely different (and why), in each language; at another fixed threshold
    it does not."""
    from fl_estimate.reporting import LinkageQuality

    q = LinkageQuality(records=1200, persons=1000, share_merged=1 / 6, threshold=0.3,
                       data_threshold=0.55)  # fmt: skip
    en = _section(_report_with(tmp_path, wald_run, q, "en"), "Linkage quality")
    assert en[1:3] == [
        "Match threshold 0.3; the threshold chosen from the data would be 0.55.",
        "The default threshold, 0.3, also links pairs more likely to be two people than one: on "
        "synthetic countries with known truth it gave counts of persons and estimates closer to "
        "the truth than the threshold chosen from the data, which leaves more records of one "
        "person apart.",
    ]
    fr = _section(_report_with(tmp_path, wald_run, q, "fr"), "Qualité du couplage")
    assert fr[2].startswith("Le seuil par défaut, 0,3, couple aussi des paires")
    other = dataclasses.replace(q, threshold=0.9)
    again = tmp_path / "other"
    again.mkdir()
    assert not any("default threshold" in line
                   for line in _section(_report_with(again, wald_run, other, "en"),
                                        "Linkage quality"))  # fmt: skip


def test_linkage_quality_section_prints_no_small_count(tmp_path: Path, wald_run: RunResult) -> None:
    """Counts below the disclosure threshold (5) are left out even when the spec holds them."""
    from fl_estimate.reporting import LinkageQuality

    q = LinkageQuality(
        records=7, persons=4, share_merged=3 / 7, precision=0.99, recall=0.9, threshold=0.93,
        data_driven=True, plausible=(0.8, 0.99), persons_range=(3, 4), n_hat_range=(None, 9),
    )  # fmt: skip
    lines = _section(_report_with(tmp_path, wald_run, q, "en"), "Linkage quality")
    assert lines[0] == "42.9% of the records were merged with another record of the same person."
    assert lines[1].startswith("Match threshold 0.93, chosen from the data")
    assert lines[-1] == "No linkage warning."
    assert not any(re.search(r"\b[1-4] persons|from \d+ to", t) for t in lines), lines
    assert len(lines) == 4  # the two ranges are left out


def test_linkage_quality_names_each_added_periods_threshold(
    tmp_path: Path, wald_run: RunResult
) -> None:
    """An incremental linkage cuts each period added at its own data-driven threshold (issue
    21): the report gives them all, in order, in each language."""
    from fl_estimate.reporting import LinkageQuality

    q = LinkageQuality(records=1200, persons=1000, share_merged=1 / 6, threshold=0.72,
                       data_driven=True, thresholds=(0.72, 0.66))  # fmt: skip
    en = _section(_report_with(tmp_path, wald_run, q, "en"), "Linkage quality")
    assert en[1] == (
        "Match thresholds 0.72, 0.66, chosen from the data for the first linkage and for each "
        "period of records added to it since (expected false and missed links balance)."
    )
    fr = _section(_report_with(tmp_path, wald_run, q, "fr"), "Qualité du couplage")
    assert fr[1].startswith("Seuils de concordance 0,72, 0,66, tirés des données")
    one = LinkageQuality(records=1200, persons=1000, share_merged=1 / 6, threshold=0.72,
                         data_driven=True, thresholds=(0.72, 0.72))  # fmt: skip
    (tmp_path / "one").mkdir()
    lines = _section(_report_with(tmp_path / "one", wald_run, one, "en"), "Linkage quality")
    assert lines[1].startswith("Match threshold 0.72, chosen from the data")


def test_statistics_section_links_the_tables_in_english_and_french(
    tmp_path: Path, wald_run: RunResult
) -> None:
    """Issue 22 point 4: the periodic statistics written beside the report have a section of
    their own, in the report's language, linking their document, workbook and every table (in
    the HTML page too); without them, no such section."""
    import dataclasses

    from fl_estimate.reporting import StatisticsSection

    tables = (
        ("Identified victims by sex and age group (records, by year)",
         "statistics/victims_sex_age_records_year.csv"),
        ("Cases: trafficking in persons and smuggling of migrants (by year)",
         "statistics/cases_type_year.csv"),
    )  # fmt: skip
    section = StatisticsSection("statistics", tables, linked=True)
    spec = dataclasses.replace(
        report_spec(_config_of(wald_run), wald_run.strata, wald_run.tables), statistics=section
    )
    for lang, title, words in (
        ("en", "Periodic statistics (IC-TIP)", "persons the linkage above made"),
        ("fr", "Statistiques périodiques (IC-TIP)", "personnes, celles que l'appariement"),
    ):
        stage = tmp_path / lang
        stage.mkdir()
        pooled = pd.DataFrame({"police": [1, 0], "ngo": [0, 1], "iom": [1, 1], "count": [3, 4]})
        write_outputs(dataclasses.replace(spec, language=lang), stage, wald_run.tables,
                      pooled=pooled)  # fmt: skip
        lines = _section((stage / "report.md").read_text(encoding="utf-8"), title)
        assert "[statistics/statistics.md](statistics/statistics.md)" in lines[0]
        assert "(statistics/statistics.xlsx)" in lines[0] and " 2 " in lines[0]
        assert lines[1] == f"- [{tables[0][0]}]({tables[0][1]})"  # nested item: "  - [..]"
        assert words in lines[3]
        assert "6" in lines[4]  # threshold 5: at least 6 possible values
        page = (stage / "report.html").read_text(encoding="utf-8")
        assert f"<h2>{title}</h2>" in page
        assert "<a href='statistics/cases_type_year.csv'>" in page
    plain = tmp_path / "none"
    plain.mkdir()
    write_outputs(dataclasses.replace(spec, statistics=None), plain, wald_run.tables,
                  pooled=pooled)  # fmt: skip
    assert "IC-TIP" not in (plain / "report.md").read_text(encoding="utf-8")
