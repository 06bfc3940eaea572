"""benchmarks/peers_side_by_side.py: its peer records and commands, without running R or timing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "peers_side_by_side.py"
spec = importlib.util.spec_from_file_location("peers_side_by_side", BENCH)
side = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
sys.modules[spec.name] = side  # type: ignore[union-attr]  # dataclasses look their module up
spec.loader.exec_module(side)  # type: ignore[union-attr]


def test_every_peer_task_has_its_record() -> None:
    # the fallback needs exactly the record of the peer's call on the task's table
    for task in side.TASKS:
        if task.peer is None:
            continue
        rec = side.recorded(task)
        assert rec["dataset"] == task.table and rec["peer"] == task.peer
        assert rec["seconds"] > 0


def test_dga_command_reuses_the_recorded_grid() -> None:
    task = next(t for t in side.TASKS if t.key == "dga")
    cmd = side.peer_command(task, "Rscript")
    # peer_results.json: Nmissing = seq(0, 219520, by = 2) for uk_2013_5lists
    assert cmd[-2:] == ["219520", "2"] and cmd[2] == "dga"


def test_parse_result_reads_the_peer_line() -> None:
    out = 'message\nPEER_RESULT {"estimate":22990,"ci_low":10388,"ci_high":33510,"model":null} \n'
    assert side.parse_result(out) == {
        "estimate": 22990,
        "ci_low": 10388,
        "ci_high": 33510,
        "model": None,
    }
    assert side.parse_result('{"estimate": 1.5}') == {"estimate": 1.5}
