"""The pandas-free capture-table core (``fl_estimate.mse.patterns``) agrees with CaptureData, and
``fl-estimate describe`` runs without importing pandas (its start-up, issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.cli import main
from fl_estimate.exceptions import DataWarning, InputValidationError
from fl_estimate.mse.data import CaptureData, read_capture_csv
from fl_estimate.mse.patterns import (
    describe_arrays,
    merge_patterns,
    read_capture_arrays,
)
from tests._refs import MSE_DATA

ROOT = Path(__file__).resolve().parents[2]


def test_describe_arrays_matches_capture_data_methods() -> None:
    # the descriptives are computed once (describe_arrays); check them against CaptureData's
    # own per-quantity methods, which compute each with pandas on the same arrays
    cd = read_capture_csv(MSE_DATA / "uk_2013.csv")
    assert isinstance(cd, CaptureData)
    d = describe_arrays(cd.lists, cd.patterns, cd.counts)
    assert [r["n"] for r in d["lists"]] == cd.list_totals().tolist()
    assert [r["only_this_list"] for r in d["lists"]] == cd.singletons().tolist()
    assert [r["f"] for r in d["frequencies"]] == cd.capture_frequencies().tolist()
    ov = cd.pairwise_overlaps()
    assert [r["overlap"] for r in d["overlaps"]] == ov["overlap"].tolist()
    assert [(r["list_a"], r["list_b"]) for r in d["overlaps"] if r["never_overlap"]] == (
        cd.non_overlapping_pairs()
    )
    assert d["overview"][0]["observed"] == cd.n_observed == 2744  # published total, uk_2013
    assert sum(r["count"] for r in d["patterns"]) == 2744
    pd.testing.assert_frame_equal(pd.DataFrame(d["patterns"]), cd.to_frame())


def test_records_and_counts_read_alike(tmp_path: Path) -> None:
    # one row per person gives the same table as its aggregate, without a duplicate warning
    agg = tmp_path / "agg.csv"
    agg.write_text("A,B,C,count\n1,0,0,2\n0,1,1,1\n1,1,0,3\n")
    rec = tmp_path / "rec.csv"
    rec.write_text("A,B,C\n" + "1,0,0\n" * 2 + "0,1,1\n" + "1,1,0\n" * 3)
    a = read_capture_arrays(agg)
    r = read_capture_arrays(rec)
    assert r.records and not a.records
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert read_capture_csv(rec) == read_capture_csv(agg)
    pa, ca = merge_patterns(a.lists, a.patterns, a.counts, source="agg.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        pr, cr = merge_patterns(r.lists, r.patterns, r.counts, source="rec.csv")
    np.testing.assert_array_equal(pa, pr)
    np.testing.assert_array_equal(ca, cr)


def test_cell_problems_are_named_once_per_cell_in_row_order(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("A,B,count\n1,2,3\n0,0,4\nx,1,-1\n")
    with pytest.raises(InputValidationError) as info:
        read_capture_arrays(p)
    got = [(q.row, q.column) for q in info.value.problems]
    assert got == [(2, "B"), (3, None), (4, "A"), (4, "count")]


def test_describe_runs_without_pandas() -> None:
    # what makes `describe` start fast: nothing on its path imports pandas (no timing here)
    code = (
        "import sys; from fl_estimate.cli import main; "
        f"rc = main(['describe', {str(MSE_DATA / 'uk_2013.csv')!r}]); "
        "assert 'pandas' not in sys.modules, 'pandas imported'; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "25 of 63 possible capture patterns observed." in proc.stdout


def test_describe_with_strata_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "strata.csv"
    p.write_text("region,A,B,count\nN,1,0,5\nN,0,1,4\nN,1,1,2\nS,1,0,3\nS,0,1,1\nS,1,1,1\n")
    assert main(["describe", str(p), "--strata", "region", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["region"], r["observed"]) for r in out["overview"]] == [("N", 11), ("S", 5)]
    assert main(["describe", str(p), "--strata", "region"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Overview\nregion lists observed")


def test_capture_table_problems_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the reader's messages come from the catalogs: a French user reads them in French, with
    # file, row, column and value as in English
    p = tmp_path / "mauvais.csv"
    p.write_text("A,B,count\n1,2,3\n0,0,4\n")
    monkeypatch.setenv("FL_ESTIMATE_LANG", "fr")
    assert main(["describe", str(p)]) == 2
    err = capsys.readouterr().err.replace("\u00a0", " ")  # French puts a no-break space before ':'
    assert "mauvais.csv, ligne 2, colonne 'B' : une cellule de liste doit valoir 0 ou 1" in err
    assert "ligne 3 : le profil tout à zéro (sur aucune liste) ne peut pas être observé" in err
