"""Output folders of the annual run and the linkage run (issue 19, points 1 and 10).

Two identical annual runs give byte-identical folders but for the manifest's ``"run"`` block;
``--out`` (or ``[run] out``) naming a folder that holds someone else's file, the folder of an
input, or ``.`` is exit 2 naming the folder, before any work, with nothing deleted.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from fl_estimate.cli import main
from fl_estimate.outputs import folder_listing, manifest_without_run
from tests.pipeline.test_report_reads_results import (  # noqa: F401 (histories: a fixture)
    histories,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]
COUNTRY = ROOT / "data_samples" / "country"


def _config(folder: Path, hist: Path, *, out: str = "out") -> Path:
    """The small simulated country of test_report_reads_results, output relative to the config
    (so that two configs in two folders are the same bytes)."""
    return write_config(folder, hist, 'methods = ["stepwise"]\ninterval = "wald"', out=out)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {rel: (folder / rel).read_bytes() for rel in folder_listing(folder)}


def test_two_identical_runs_are_byte_identical_but_the_run_block(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """... whether the fits come from the fit cache or not: a run without the cache, one that
    fills a new cache and one that takes every fit from it (and fits nothing)."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    configs = {d: _config(d, histories) for d in (a, b, c)}
    for cfg in configs.values():  # the same bytes in each folder
        cfg.write_text(cfg.read_text().replace("[run]\n", '[run]\ncache = "../fits"\n', 1))
    assert main(["run", str(configs[a]), "--no-progress", "--no-cache"]) == 0
    assert "fit cache" not in capsys.readouterr().out
    for d in (b, c):
        assert main(["run", str(configs[d]), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"fit cache: 0 fit\(s\) reused, [1-9]\d* new", out), out  # b: cold
    assert re.search(r"fit cache: [1-9]\d* fit\(s\) reused, 0 new", out), out  # c: all cached
    sa, sb, sc = _snapshot(a / "out"), _snapshot(b / "out"), _snapshot(c / "out")
    assert sorted(sa) == sorted(sb) == sorted(sc)
    assert {p.rsplit(".", 1)[1] for p in sa} >= {"csv", "xlsx", "png", "svg", "md", "html"}
    for rel in sa:  # every file but the manifest: tables, workbook, charts, report
        assert sa[rel] == sb[rel] == sc[rel], rel
    ma, mb, mc = (manifest_without_run(d / "out") for d in (a, b, c))
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)
    assert json.dumps(ma, sort_keys=True) == json.dumps(mc, sort_keys=True)
    # the run-specific fields are all in the "run" block, and only there
    full = json.loads((a / "out" / "manifest.json").read_text())
    assert full["run"]["output"] == str((a / "out").resolve())
    assert str(tmp_path) not in json.dumps(ma)
    assert set(ma["inputs"]) == {"run.toml", "capture_histories"}
    assert "out" not in ma["config"]["run"]
    assert ma["fl_estimate_output"] == "run" and set(ma["outputs"]) == set(sa)


def _refused(argv: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output folder" in err, err
    assert str(folder.resolve()) in err, err
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before  # nothing deleted, nothing changed
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]


def test_run_refuses_a_folder_with_a_foreign_file(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = _config(tmp_path / "cfg", histories)
    v = tmp_path / "v"
    (v / "sub").mkdir(parents=True)
    (v / "thesis.txt").write_text("keep\n")
    (v / "sub" / "chapter.txt").write_text("keep too\n")
    _refused(["run", str(cfg), "--out", str(v), "--no-progress"], v, capsys)


def test_run_refuses_the_input_folder(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = _config(tmp_path / "cfg", histories)
    _refused(["run", str(cfg), "--out", str(histories.parent), "--no-progress"], histories.parent,
             capsys)  # fmt: skip


def test_run_refuses_dot_as_output(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "cfg"
    cfg = _config(folder, histories, out=".")
    monkeypatch.chdir(folder)
    _refused(["run", str(cfg), "--no-progress"], folder, capsys)  # [run] out = "."
    _refused(["run", str(cfg), "--out", ".", "--no-progress"], folder, capsys)


def test_link_refuses_a_foreign_folder_and_the_input_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = tmp_path / "v"
    v.mkdir()
    (v / "thesis.txt").write_text("keep\n")
    _refused(["link", str(COUNTRY / "link.toml"), "--out", str(v)], v, capsys)
    before = sorted(os.listdir(COUNTRY))
    assert main(["link", str(COUNTRY / "link.toml"), "--out", str(COUNTRY)]) == 2
    err = capsys.readouterr().err
    assert str(COUNTRY) in err and "input" in err
    assert sorted(os.listdir(COUNTRY)) == before


def test_region_names_cannot_inject_html_or_formulas(
    tmp_path: Path,
    histories: Path,  # noqa: F811
) -> None:
    """Issue 19, point 4: a stratum name from a data file is text in every output: escaped in
    report.md, neutralised (leading ') in CSV, a string cell (never a formula) in tables.xlsx."""
    import pandas as pd
    from openpyxl import load_workbook

    evil = {"North": '=HYPERLINK("http://evil.example","x")', "South": "<b>South</b>"}
    hist = pd.read_csv(histories)
    hist["region"] = hist["region"].replace(evil)
    path = tmp_path / "evil.csv"
    hist.to_csv(path, index=False)
    cfg = _config(tmp_path / "cfg", path)
    assert main(["run", str(cfg), "--no-progress"]) == 0
    out = tmp_path / "cfg" / "out"
    md = (out / "report.md").read_text()
    assert "<b>" not in md and "&lt;b&gt;South&lt;/b&gt;" in md
    assert "<b>South</b>" not in (out / "report.html").read_text()
    text = (out / "strata_estimates.csv").read_text()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    wb = load_workbook(out / "tables.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + evil["North"] for c in cells)


def test_the_runs_workers_are_spawned_not_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The annual run's worker pool uses the ``spawn`` start method: forked after the linkage
    (DuckDB's threads), a worker fitting ``bayes-threshold`` on a 10-year synthetic country
    crashed with a segmentation fault while importing xarray (benchmarks/country_scale.py
    --scale 0.4, twice in two runs; with spawn, the same run exits 0)."""
    import importlib
    from contextlib import contextmanager

    from fl_estimate.pipeline.config import RunConfig

    run_module = importlib.import_module("fl_estimate.pipeline.run")

    seen: list[str] = []

    @contextmanager
    def pool(max_workers=None, mp_context=None, **kw):  # type: ignore[no-untyped-def]
        seen.append(mp_context.get_start_method() if mp_context is not None else "default")
        yield None

    monkeypatch.setattr(run_module, "process_pool", pool)
    cfg = object.__new__(RunConfig)
    object.__setattr__(cfg, "scheduler", None)
    object.__setattr__(cfg, "workers", 2)
    with run_module._executor(cfg, None):
        pass
    assert seen == ["spawn"]


def test_a_script_without_a_main_guard_runs_with_spawned_workers(tmp_path: Path) -> None:
    """Spawned workers do not run the caller's script again: a script that calls the annual run
    at its top level (no ``if __name__ == "__main__":``) with 2 workers exits 0 (before the
    main module was hidden while workers start, each worker re-ran the script and the pool
    broke)."""
    import subprocess
    import sys

    from fl_estimate import simulate

    sizes = {("North", 2021): 300, ("South", 2021): 250, ("North", 2022): 320}
    sim = simulate(sizes, ["a", "b", "c"], capture_probs=[0.3, 0.25, 0.3],
                   strata_names=["region", "year"], seed=3)  # fmt: skip
    sim.records.drop(columns=["latent_class"], errors="ignore").to_csv(
        tmp_path / "h.csv", index=False
    )
    (tmp_path / "run.toml").write_text(
        '[run]\ntitle = "t"\nseed = 1\nout = "out"\ncache = false\n'
        '[input]\ncapture_histories = "h.csv"\nstrata = ["region", "year"]\n'
        '[estimation]\nmethods = ["independence"]\n'
        "[sensitivity]\nleave_one_out = false\ntop_models = 0\n[executor]\nworkers = 2\n"
    )
    script = tmp_path / "annual.py"
    script.write_text(
        "from fl_estimate.pipeline import run\nrun('run.toml', progress=False)\nprint('done')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("done") == 1  # the script ran once, not once more per worker
