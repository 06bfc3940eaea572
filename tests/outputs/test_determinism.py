"""Canonical JSON, the manifest (run-specific fields in one block), reproducible figures."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.outputs.determinism import (
    canonical,
    dumps_canonical,
    manifest_without_run,
    save_figure,
    write_json,
    write_manifest,
)


def test_canonical_json_sorts_keys_and_rounds_floats() -> None:
    a = {"b": 0.1 + 0.2, "a": 1 / 3, "c": [1e-300, 123456789.123456789]}
    assert json.loads(dumps_canonical(a)) == {
        "a": 0.333333333333,
        "b": 0.3,
        "c": [1e-300, 123456789.123],
    }
    assert dumps_canonical(a).index('"a"') < dumps_canonical(a).index('"b"')
    # values that differ only in the last digits (summation order) are written the same
    x = 0.0
    for _ in range(10):  # (not sum(): Python 3.12 sums floats with compensation)
        x += 0.1  # 0.9999999999999999
    assert x != 1.0 and dumps_canonical({"m": x}) == dumps_canonical({"m": 1.0})
    assert dumps_canonical(0.5 + 1e-9) != dumps_canonical(0.5)  # a real difference stays
    assert dumps_canonical(3.0) == "3.0\n" and dumps_canonical(3) == "3\n"


def test_canonical_json_non_finite_and_types() -> None:
    obj = {
        "nan": math.nan,
        "inf": -math.inf,
        "neg0": -0.0,
        "np": [np.float64(0.1), np.int64(7), np.array([1.5, np.nan])],
        "pd": pd.Series({"x": 1.0}),
        "frame": pd.DataFrame({"a": [1, 2]}),
        "when": dt.date(2024, 2, 15),
        "ts": pd.Timestamp("2024-02-15 10:00"),
        "missing": [pd.NA, pd.NaT, None],
        "path": Path("a") / "b.csv",
        "set": {"b", "a"},
        "tuple": (1, "x"),
        "bool": np.bool_(True),
    }
    assert canonical(obj) == {
        "nan": None,
        "inf": None,
        "neg0": 0.0,
        "np": [0.1, 7, [1.5, None]],
        "pd": {"x": 1.0},
        "frame": [{"a": 1}, {"a": 2}],
        "when": "2024-02-15",
        "ts": "2024-02-15T10:00:00",
        "missing": [None, None, None],
        "path": "a/b.csv",
        "set": ["a", "b"],
        "tuple": [1, "x"],
        "bool": True,
    }
    assert "NaN" not in dumps_canonical(obj) and "Infinity" not in dumps_canonical(obj)
    assert dumps_canonical({"s": "é"}) == '{\n  "s": "é"\n}\n'
    with pytest.raises(TypeError, match="canonical JSON"):
        dumps_canonical({"x": object()})


def test_write_json_is_atomic_utf8(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": [0.1 + 0.2]})
    assert (tmp_path / "a.json").read_bytes() == b'{\n  "x": [\n    0.3\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def output(folder: Path, inputs: Path, when: str) -> dict[str, object]:
    (folder / "sub").mkdir(parents=True)
    (folder / "t.csv").write_text("a\n1\n")
    (folder / "sub" / "u.csv").write_text("b\n2\n")
    write_manifest(
        folder / "sub" / "manifest.json",
        kind="link",
        inputs={"data.csv": inputs / "data.csv"},
        config={},
        run={"when": when},
    )
    return write_manifest(
        folder / "manifest.json",
        kind="run",
        inputs={"data.csv": inputs / "data.csv", "subs": inputs / "subs"},
        config={"seed": 1, "threshold": 0.9},
        run={"output": str(folder), "when": when},
    )


def test_manifest_differs_between_reruns_only_in_its_run_block(tmp_path: Path) -> None:
    for place in ("x", "y"):  # the same inputs at two absolute paths
        (tmp_path / place / "subs").mkdir(parents=True)
        (tmp_path / place / "data.csv").write_text("a\n1\n")
        (tmp_path / place / "subs" / "p.csv").write_text("p\n")
    one = output(tmp_path / "out1", tmp_path / "x", "monday")
    two = output(tmp_path / "out2", tmp_path / "y", "tuesday")
    assert one != two and one["run"] != two["run"]
    assert manifest_without_run(tmp_path / "out1") == manifest_without_run(tmp_path / "out2")
    strip = manifest_without_run(tmp_path / "out1" / "manifest.json")
    assert str(tmp_path) not in json.dumps(strip)  # no absolute path outside "run"
    assert strip["fl_estimate_output"] == "run" and strip["format"] == 1
    assert set(strip) == {"config", "fl_estimate_output", "format", "inputs", "outputs", "versions"}
    assert sorted(strip["outputs"]) == ["sub/manifest.json", "sub/u.csv", "t.csv"]
    assert strip["inputs"]["data.csv"]["bytes"] == 4 and strip["inputs"]["subs"]["files"] == 1
    assert one["run"]["input_paths"]["data.csv"] == str((tmp_path / "x" / "data.csv").resolve())
    assert {"created_utc", "host", "output", "when"} <= set(one["run"])


def test_manifest_outputs_hashes_detect_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_text("a\n1\n")
    (tmp_path / "in" / "subs").mkdir()
    first = output(tmp_path / "o1", tmp_path / "in", "m")
    shutil.copytree(tmp_path / "o1", tmp_path / "o2")
    (tmp_path / "o2" / "sub" / "u.csv").write_text("b\n3\n")
    second = write_manifest(
        tmp_path / "o2" / "manifest.json", kind="run", inputs={}, config={}, run={}
    )
    assert second["outputs"]["sub/u.csv"] != first["outputs"]["sub/u.csv"]  # type: ignore[index]
    assert second["outputs"]["t.csv"] == first["outputs"]["t.csv"]  # type: ignore[index]


def test_manifest_refuses_an_absolute_label(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="absolute"):
        write_manifest(
            tmp_path / "manifest.json", kind="x", inputs={str(tmp_path): tmp_path}, config={}
        )


def figure() -> object:
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.bar(["a", "b"], [1, 2])
    ax.plot([0, 1], [1, 2])
    ax.set_title("t")
    return fig


@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_figures_are_byte_identical_across_reruns(tmp_path: Path, ext: str) -> None:
    save_figure(figure(), tmp_path / f"1.{ext}")
    save_figure(figure(), tmp_path / f"2.{ext}")  # a new figure, as a rerun makes
    one = (tmp_path / f"1.{ext}").read_bytes()
    assert one == (tmp_path / f"2.{ext}").read_bytes()
    if ext == "svg":  # what differed before: random clip-path ids and the date
        assert b'clipPath id="p' in one and b"<dc:date>" not in one
    if ext == "png":
        assert b"Software" not in one


def test_save_figure_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        save_figure(figure(), tmp_path / "x.jpg")
