"""Incremental linkage (issue 19, "Incremental reruns"): adding a year of submissions links only
the new records, against the cached linkage, and leaves every earlier stratum as published.

Unit tests of the clustering in generations (no splink), then runs on a small synthetic country
(3 years, about 800 records: a few seconds per linkage): the base is its first two years, the
second run adds the third year's files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.pipeline import run
from fl_estimate.pipeline.cache import FitCache
from fl_estimate.pipeline.linkage_sensitivity import run_link
from fl_estimate.providers.linkage.clusters import generation_clusters, split_clusters
from fl_estimate.providers.synthetic import make_country, write_country

NONE = pd.DataFrame({"unique_id_l": pd.Series(dtype=np.int64),
                     "unique_id_r": pd.Series(dtype=np.int64)})  # fmt: skip


def _pairs(links: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id_l": [a for a, _, _ in links],
            "unique_id_r": [b for _, b, _ in links],
            "match_weight": [w for _, _, w in links],
            "match_probability": [0.99] * len(links),
        }
    )


# ------------------------------------------------------------------ clustering in generations


def test_one_generation_is_the_plain_clustering() -> None:
    """Without later generations the clusters are :func:`split_clusters`' (a cold linkage)."""
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 40, 60), rng.integers(0, 40, 60)
    keep = a < b
    pairs = _pairs([(int(x), int(y), float(w)) for x, y, w in
                    zip(a[keep], b[keep], rng.normal(8, 3, keep.sum()), strict=True)])  # fmt: skip
    plain, info = split_clusters(40, pairs, NONE, 0.9, max_size=4)
    labels, info_g, counted = generation_clusters(40, pairs, NONE, 0.9, [], max_size=4)
    assert labels.tolist() == plain.tolist() and info_g == info and counted.all()


def test_later_records_never_change_earlier_clusters() -> None:
    """Records 0-3 are the first generation (0-1 linked, 2-3 linked); 4 links to 1 (weight 5)
    and to 2 (weight 9), 5 links to 4, 6 stands alone. 4 and 5 find the person {2, 3} again (the
    strongest link) and are not counted; {0, 1} and {2, 3} are never merged through them."""
    pairs = _pairs([(0, 1, 9.0), (2, 3, 9.0), (1, 4, 5.0), (2, 4, 9.0), (4, 5, 9.0)])
    labels, _, counted = generation_clusters(7, pairs, NONE, 0.9, [4])
    first, _ = split_clusters(4, pairs[pairs["unique_id_r"] < 4], NONE, 0.9)
    assert labels[:4].tolist() == first.tolist()  # the first generation as it was
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, 2]
    assert counted.tolist() == [True] * 4 + [False, False, True]
    # without the generations the new record would merge the two earlier persons
    assert len(set(split_clusters(7, pairs, NONE, 0.9)[0][:4].tolist())) == 1


def test_each_generation_holds_the_ones_before() -> None:
    """Three generations (0-1, 2-3, 4-5): a record of the third finding a record of the second
    that had itself found the first joins that first person; the second generation's own new
    person (3) stays as it was when the third came."""
    pairs = _pairs([(0, 1, 9.0), (1, 2, 9.0), (2, 4, 9.0), (3, 5, 9.0), (0, 3, 1.0)])
    pairs.loc[4, "match_probability"] = 0.5  # below the threshold: never a link
    two, _, counted_two = generation_clusters(4, pairs[pairs["unique_id_r"] < 4], NONE, 0.9, [2])
    three, _, counted = generation_clusters(6, pairs, NONE, 0.9, [2, 4])
    assert three[:4].tolist() == two.tolist() == [0, 0, 0, 1]
    assert three.tolist() == [0, 0, 0, 1, 0, 1]
    assert counted[:4].tolist() == counted_two.tolist() == [True, True, False, True]
    assert counted.tolist() == [True, True, False, True, False, False]


def test_found_again_respects_no_dedupe() -> None:
    """A later record of a ``no_dedupe`` provider never joins an earlier person holding one of
    that provider's records: it is a new person (counted)."""
    pairs = _pairs([(0, 1, 9.0), (1, 2, 9.0)])
    provider = np.array(["courts", "police", "courts"], dtype=object)
    labels, _, counted = generation_clusters(
        3, pairs, NONE, 0.9, [2], provider=provider, no_dedupe=["courts"]
    )
    assert labels.tolist() == [0, 0, 1] and counted.all()


# ------------------------------------------------------------------------ runs


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``full/``: a small country, 2021-2023; ``base/``: the same without the 2023 files.

    The synthetic country finds each person in one year only: six people of the police's
    2022-Q1 file are recorded again in its 2023-Q1 file (new record numbers, identified in 2023),
    so that the third year finds earlier people again.
    """
    root = tmp_path_factory.mktemp("incremental")
    full = write_country(make_country(years=(2021, 2022, 2023), scale=0.4, seed=11), root / "full")
    sub = full / "submissions"
    old = pd.read_csv(sub / "police_2022-Q1.csv", dtype=str).head(6)
    new = pd.read_csv(sub / "police_2023-Q1.csv", dtype=str)
    again = old.assign(record_id="AGAIN-" + old["record_id"], period="2023-Q1",
                       date_identified="2023-02-01")  # fmt: skip
    age = pd.to_numeric(again["age"], errors="coerce") + 1  # a year older
    again["age"] = age.map(lambda a: "" if pd.isna(a) else str(int(a)))
    pd.concat([new, again]).to_csv(sub / "police_2023-Q1.csv", index=False, lineterminator="\n")
    base = root / "base"
    shutil.copytree(full, base)
    for f in (base / "submissions").glob("*2023*"):
        f.unlink()
    return root


def _run_config(folder: Path, cache: Path) -> Path:
    cfg = folder / "run.toml"
    cfg.write_text(
        f"""
[run]
title = "Incremental test"
seed = 5
out = "out"
cache = "{cache}"
[input]
link = "link.toml"
strata = ["region", "year"]
[estimation]
methods = ["stepwise", "independence"]
min_per_list = 3
[sensitivity]
leave_one_out = false
top_models = 0
[executor]
workers = 1
"""
    )
    return cfg


def _series_of(result) -> dict:
    from fl_estimate.pipeline.run import _series, read_run_config

    return _series(read_run_config(result.out.parent / "run.toml"))


def _rows(path: Path, years: set[int]) -> list[str]:
    """The lines of a published CSV whose ``year`` is one of ``years`` (as written)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    col = lines[0].split(",").index("year")
    return [ln for ln in lines[1:] if int(ln.split(",")[col]) in years]


@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.LinkageWarning")
@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.FLEstimateWarning")
def test_adding_a_year_refits_only_its_strata_and_keeps_earlier_figures(
    country: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    folder = tmp_path / "runs"
    shutil.copytree(country / "base", folder / "base")
    shutil.copytree(country / "full", folder / "full")
    first = run(_run_config(folder / "base", cache), progress=False)
    assert first.cache.hits == 0
    second = run(_run_config(folder / "full", cache), progress=False)
    # the linkage was extended: the 2023 records linked against the earlier ones, some of
    # them finding an earlier person again (counted in that person's first stratum only)
    report = json.loads((second.out.with_name("out.internal") / "linkage" / "linkage_report.json")
                        .read_text())  # fmt: skip
    gens = report["linkage"]["generations"]
    assert (
        gens[0]["records"]
        == json.loads(
            (first.out.with_name("out.internal") / "linkage" / "linkage_report.json").read_text()
        )["linkage"]["records"]
    )
    assert gens[1]["found_again"] > 0 and gens[1]["new_persons"] > 0
    # the six people recorded again in 2023 are found again (measured: 6; one more or fewer
    # allowed, a link either side of the threshold), and no one else: 2023's records are
    # otherwise new people; the config pins the threshold (0.9), so every generation has it
    assert abs(gens[1]["found_again"] - 6) <= 1
    assert report["linkage"]["thresholds"] == [0.9, 0.9]
    # only the new year's tables were fitted: its strata and its pooled table (two methods
    # each), its sensitivity check ("all lists"), and the linkage and its N-hat across
    # thresholds (made again: they pool every year)
    new = [o for o in second.strata if o.stratum["year"] == 2023 and o.estimable]
    assert len(new) >= 2
    sens = int((second.tables["sensitivity"]["year"] == 2023).sum())
    assert second.cache.stored == 2 * len(new) + 2 + sens + 2
    # every earlier fit reused, and the earlier linkage read to be extended
    assert second.cache.hits == first.cache.stored - 2 + 1
    # every earlier year's published figures, byte for byte: estimates by stratum, national
    # (sums of strata and pooled), sensitivity and list totals, suppressed cells included (the
    # second run holds the first's suppression pattern: tests/test_disclosure_previous.py)
    for name in ("strata_estimates.csv", "national_estimates.csv", "sensitivity.csv",
                 "list_totals.csv"):  # fmt: skip
        before = _rows(first.out / name, {2021, 2022})
        after = _rows(second.out / name, {2021, 2022})
        assert len(before) >= 2 and before == after, name
    assert second.cache.previous_publication(_series_of(first)) is not None
    observed = [pd.read_csv(r.out / "observed_by_stratum.csv", dtype=str) for r in (first, second)]
    assert observed[0][["region", "2021", "2022"]].equals(observed[1][["region", "2021", "2022"]])
    assert "2023" in observed[1]


@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.LinkageWarning")
def test_relinking_everything_and_late_submissions(country: Path, tmp_path: Path) -> None:
    """``incremental = false`` links every file again (the cold linkage's persons), and so does
    a new file for a period that is not after the cached linkage's last one."""
    cache = FitCache(tmp_path / "cache")
    base = run_link(country / "base" / "link.toml", out=tmp_path / "a", cache=cache)
    assert "generations" not in base.report["linkage"]
    cold = run_link(country / "full" / "link.toml", out=tmp_path / "cold")  # no cache
    # incremental = false: everything linked again, as without the cache
    full = tmp_path / "full"
    shutil.copytree(country / "full", full)
    link = full / "link.toml"
    link.write_text(link.read_text().replace("[linkage]\n", "[linkage]\nincremental = false\n"))
    again = run_link(link, out=tmp_path / "b", cache=FitCache(tmp_path / "cache"))
    assert "generations" not in again.report["linkage"]
    for rel in ("capture_histories.csv", "capture_counts.csv"):
        assert (tmp_path / "b.internal" / rel).read_bytes() == (
            tmp_path / "cold.internal" / rel
        ).read_bytes(), rel
    assert cold.report["linkage"]["persons"] == again.report["linkage"]["persons"]
    # a late file of 2022 (and the 2023 files): not an extension of the cached linkage
    late = tmp_path / "late"
    shutil.copytree(country / "base", late)
    moved = sorted((late / "submissions").glob("iom_2022-Q4*"))
    assert moved
    for f in moved:
        f.rename(tmp_path / f.name)
    first = run_link(late / "link.toml", out=tmp_path / "c", cache=FitCache(tmp_path / "c2"))
    for f in moved:
        (tmp_path / f.name).rename(late / "submissions" / f.name)
    lines: list[str] = []
    second = run_link(
        late / "link.toml", out=tmp_path / "d", cache=FitCache(tmp_path / "c2"), echo=lines.append
    )
    assert "generations" not in first.report["linkage"]
    assert "generations" not in second.report["linkage"]
    assert any(ln.startswith("linking every submission again: iom_2022-Q4") for ln in lines)
