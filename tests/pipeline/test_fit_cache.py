"""The fit cache (issue 19, "Incremental reruns"): a fit is reused exactly when its table, method,
options, seed, seed key and code are the same.

Unit tests count fits through :class:`FitPlan` (the cache's own ``hits`` / ``stored`` counters);
run tests check that a rerun with nothing changed fits nothing and writes the same bytes, that
adding a year fits only the new year's tables, and that results (Bayesian ones with an ArviZ
DataTree included) survive the pickle round trip unchanged.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate import simulate
from fl_estimate.exceptions import InputValidationError
from fl_estimate.mse.data import CaptureData
from fl_estimate.pipeline import run
from fl_estimate.pipeline.cache import FitCache, default_cache_folder, run_cache
from fl_estimate.pipeline.config import read_run_config
from fl_estimate.pipeline.strata import FitPlan, StratumTask, fit_stratum
from fl_estimate.results import EstimationResult
from tests.pipeline.test_report_reads_results import (  # noqa: F401 (histories: a fixture)
    histories,
    write_config,
)

OPTIONS = {"independence": {}, "stepwise": {"interval": "bootstrap", "n_boot": 20}}


def _table(extra: int = 0) -> CaptureData:
    sim = simulate(400, ["A", "B", "C"], capture_probs=0.35, seed=5)
    counts = sim.data.to_frame()
    counts.loc[0, "count"] += extra
    return dataclasses.replace(
        CaptureData.from_counts(counts), stratum={"region": "North", "year": 2022}
    )


def _task(table: CaptureData, options=OPTIONS, seed: int = 1, key=("North", 2022)) -> StratumTask:  # type: ignore[no-untyped-def]
    return StratumTask(key, table, options, seed, 3, 5)


def _fit(tasks: list[StratumTask], cache: FitCache) -> list:  # type: ignore[type-arg]
    plan = FitPlan(tasks, cache)
    return plan.outcomes([fit_stratum(t) for t in plan.todo])


def test_unchanged_task_is_not_refitted_and_gives_the_same_result(tmp_path: Path) -> None:
    cold = FitCache(tmp_path)
    first = _fit([_task(_table())], cold)
    assert (cold.hits, cold.stored) == (0, 2)  # two methods fitted and stored
    warm = FitCache(tmp_path)
    plan = FitPlan([_task(_table())], warm)
    assert plan.todo == []  # nothing goes to a worker
    again = plan.outcomes([])
    assert (warm.hits, warm.stored) == (2, 0)
    for m in OPTIONS:
        a, b = first[0].results[m], again[0].results[m]
        # the same result to the bit (both once through pickle, so that shared objects match)
        assert pickle.dumps(pickle.loads(pickle.dumps(a))) == pickle.dumps(b), m
    assert first[0].warnings == again[0].warnings


@pytest.mark.parametrize(
    ("change", "refits"),
    [
        ({"table": _table(extra=1)}, 2),  # one cell of the table: both methods
        ({"options": {**OPTIONS, "stepwise": {"interval": "bootstrap", "n_boot": 21}}}, 1),
        ({"options": {**OPTIONS, "stepwise": {**OPTIONS["stepwise"], "level": 0.9}}}, 1),
        ({"seed": 2}, 2),  # another run seed gives another stratum seed
        ({"key": ("North", 2023)}, 2),  # the same table under another stream's key
    ],
)
def test_any_change_refits(tmp_path: Path, change: dict, refits: int) -> None:  # type: ignore[type-arg]
    _fit([_task(_table())], FitCache(tmp_path))
    parts = {"table": _table(), "options": OPTIONS, "seed": 1, "key": ("North", 2022), **change}
    cache = FitCache(tmp_path)
    _fit([_task(parts["table"], parts["options"], parts["seed"], parts["key"])], cache)
    assert cache.stored == refits
    assert cache.hits == 2 - refits


def test_code_version_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from fl_estimate.pipeline import cache as cache_mod

    c = FitCache(None)
    before = c.fit_key(_table(), "independence", {}, 1, ("k",))
    versions = {**cache_mod.code_versions(), "fl_estimate": "99.0"}
    monkeypatch.setattr(cache_mod, "code_versions", lambda: versions)
    assert c.fit_key(_table(), "independence", {}, 1, ("k",)) != before


def test_unreadable_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = FitCache(tmp_path)
    key = cache.fit_key(_table(), "independence", {}, 1, ("k",))
    assert cache.call(key, lambda: 1) == 1
    (entry,) = tmp_path.rglob("*.pkl")
    entry.write_bytes(entry.read_bytes()[:10])  # truncated (a full disk, a kill)
    again = FitCache(tmp_path)
    assert again.call(key, lambda: 2) == 2 and (again.hits, again.stored) == (0, 1)
    assert oct((tmp_path / "fit").stat().st_mode)[-3:] == "700"  # fitted results are internal


def test_no_cache_fits_every_time(tmp_path: Path) -> None:
    off = FitCache(None)
    for _ in range(2):
        plan = FitPlan([_task(_table())], off)
        assert len(plan.todo) == 1
        plan.outcomes([fit_stratum(t) for t in plan.todo])
    assert (off.hits, off.stored) == (0, 0)
    assert list(tmp_path.iterdir()) == []


def test_bayesian_results_with_a_datatree_pickle_unchanged(tmp_path: Path) -> None:
    """A result whose draws are an ArviZ DataTree comes back from the cache with the same draws,
    attributes and summary (the cache stores pickles; so does a process pool)."""
    from fl_estimate.mse.bayes.common import draws_to_datatree, result_from_draws

    data = _table()
    n = np.random.default_rng(1).normal(500, 20, size=(2, 500)).round()
    res = result_from_draws(method="demo", model="toy", data=data, n_draws=n, level=0.9, seed=1,
                            settings={}, idata=draws_to_datatree({"N": n}, method="demo"),
                            warn=False)  # fmt: skip
    cache = FitCache(tmp_path)
    key = cache.fit_key(data, "demo", {}, 1, ("k",))
    cache.call(key, lambda: res)
    back = FitCache(tmp_path).call(key, lambda: None)
    assert isinstance(back, EstimationResult)
    np.testing.assert_array_equal(np.asarray(back.draws["posterior"]["N"]), n)
    assert back.draws["posterior"].attrs == res.draws["posterior"].attrs
    assert (back.estimate, back.ci_low, back.ci_high) == (res.estimate, res.ci_low, res.ci_high)
    assert back.diagnostics == res.diagnostics


def test_dga_result_pickles(tmp_path: Path) -> None:
    """A real Bayesian fit (dga: exact posterior over models, no MCMC) through the cache."""
    from fl_estimate.mse.registry import fit

    res = fit(_table(), "dga", seed=3)
    back = pickle.loads(pickle.dumps(res))
    assert (back.estimate, back.ci_low, back.ci_high, back.status) == (
        res.estimate, res.ci_low, res.ci_high, res.status)  # fmt: skip


# ------------------------------------------------------------------------------------ runs


def _config(folder: Path, hist: Path, cache: Path, estimation: str = "") -> Path:
    est = (
        estimation or 'methods = ["stepwise", "independence"]\ninterval = "bootstrap"\nn_boot = 30'
    )
    cfg = write_config(folder, hist, est, out="out")
    text = cfg.read_text().replace("[run]\n", f'[run]\ncache = "{cache}"\n', 1)
    cfg.write_text(text)
    return cfg


def _bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_rerun_fits_nothing_and_writes_the_same_bytes(
    tmp_path: Path,
    histories: Path,  # noqa: F811
) -> None:
    cache = tmp_path / "cache"
    cold = run(_config(tmp_path / "a", histories, cache), progress=False)
    assert cold.cache.hits == 0 and cold.cache.stored > 0
    warm = run(_config(tmp_path / "b", histories, cache), progress=False)
    assert warm.cache.stored == 0  # nothing refitted
    assert warm.cache.hits == cold.cache.stored
    off = run(_config(tmp_path / "c", histories, cache), progress=False, cache=False)
    assert (off.cache.hits, off.cache.stored) == (0, 0)
    a, b, c = (_bytes(r.out) for r in (cold, warm, off))
    assert a.keys() == b.keys() == c.keys() and len(a) > 10
    for rel in a:
        assert a[rel] == b[rel] == c[rel], rel


def test_adding_a_year_fits_only_the_new_year(
    tmp_path: Path,
    histories: Path,  # noqa: F811
) -> None:
    two = tmp_path / "two_years.csv"
    df = pd.read_csv(histories)
    df[df["year"] < 2023].to_csv(two, index=False)
    cache = tmp_path / "cache"
    est = 'methods = ["stepwise", "independence"]\ninterval = "bootstrap"\nn_boot = 30'
    first = run(_config(tmp_path / "a", two, cache, est), progress=False)
    # the same histories under the other file name: a table's source is part of its key
    (tmp_path / "b").mkdir()
    three = tmp_path / "b" / "two_years.csv"
    df.to_csv(three, index=False)
    second = run(_config(tmp_path / "b", three, cache, est), progress=False)
    assert second.cache.hits == first.cache.stored  # every earlier fit reused
    new_strata = [o for o in second.strata if o.stratum["year"] == 2023 and o.estimable]
    sens = second.tables["sensitivity"]
    expected = 2 * len(new_strata) + 2 + int((sens["year"] == 2023).sum())  # strata, national
    assert len(new_strata) == 3 and second.cache.stored == expected


def test_cache_inside_the_output_folder_is_refused(tmp_path: Path, histories: Path) -> None:  # noqa: F811
    cfg = read_run_config(_config(tmp_path, histories, tmp_path / "out" / "cache"))
    with pytest.raises(InputValidationError, match=r"\[run\] cache") as err:
        run_cache(cfg, cfg.out)
    assert err.value.problems[0].source == "run.toml"
    assert run_cache(cfg, cfg.out, False).folder is None


def test_config_cache_key(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = _config(tmp_path, histories, tmp_path / "c")
    assert read_run_config(cfg).cache == (tmp_path / "c").resolve()
    cfg.write_text(cfg.read_text().replace(f'cache = "{tmp_path / "c"}"', "cache = false"))
    assert read_run_config(cfg).cache is None
    cfg.write_text(cfg.read_text().replace("cache = false", 'cache = "rel"'))
    assert read_run_config(cfg).cache == (tmp_path / "rel").resolve()
    cfg.write_text(cfg.read_text().replace('cache = "rel"', "cache = 3"))
    with pytest.raises(InputValidationError, match=r"\[run\] cache must be str or bool"):
        read_run_config(cfg)
    monkeypatch.setenv("FL_ESTIMATE_CACHE", "off")
    assert default_cache_folder() is None
    monkeypatch.delenv("FL_ESTIMATE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_folder() == tmp_path / "xdg" / "fl_estimate"


@pytest.mark.filterwarnings("ignore::fl_estimate.exceptions.LinkageWarning")
def test_cached_linkage_holds_no_clear_identifier(tmp_path: Path) -> None:
    """The linkage is cached without the submissions' clear names, dates of birth and documents
    (the pickle is searched for every family name of the files linked), and a rerun reuses it.
    Two providers of one year only: the linkage says (LinkageWarning, not under test here) that
    the document comparison has too few agreeing pairs to train; the rest is trained."""
    from fl_estimate.pipeline.linkage_sensitivity import run_link

    country = Path(__file__).resolve().parents[2] / "data_samples" / "country"
    link = tmp_path / "link.toml"
    text = (country / "link.toml").read_text()
    text = text.replace('submissions = ["submissions/*.csv", "submissions/*.xlsx"]',
                        f'submissions = ["{country}/submissions/police_2023-Q*.csv", '
                        f'"{country}/submissions/iom_2023-Q*.csv"]')  # fmt: skip
    text = text.replace('registry = "registry.csv"', f'registry = "{country / "registry.csv"}"')
    text = text.replace('key_file = "linkage.key"', f'key_file = "{country / "linkage.key"}"')
    link.write_text(text)
    cache = FitCache(tmp_path / "cache")
    first = run_link(link, out=tmp_path / "a", cache=cache)
    assert cache.stored == 2  # the linkage and its N-hat across thresholds
    names = set()
    for f in sorted((country / "submissions").glob("police_2023-Q*.csv")):
        frame = pd.read_csv(f, dtype=str)
        names |= set(frame["family_name"].dropna()) | set(frame["document_number"].dropna())
    assert len(names) > 100
    (entry,) = (tmp_path / "cache" / "linkage").rglob("*.pkl")
    blob = entry.read_bytes()
    assert [n for n in names if n.encode() in blob] == []
    again = FitCache(tmp_path / "cache")
    second = run_link(link, out=tmp_path / "b", cache=again)
    assert (again.hits, again.stored) == (2, 0)
    for rel in first.files:
        if rel != "manifest.json":
            assert (first.output / rel).read_bytes() == (second.output / rel).read_bytes(), rel
