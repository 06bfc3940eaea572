"""Kill tests: SIGKILL/SIGTERM at every step of a publish and at random moments; the lock held by
another process; no worker process left after the run is killed.

The killing is done by ``_kill_harness.py`` in one subprocess (see its docstring); these tests
assert on what it observed. Linux only (fork, /proc, PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fork, /proc and PR_SET_PDEATHSIG are Linux"
)

HARNESS = Path(__file__).with_name("_kill_harness.py")
FILES = {"a.txt", "b.txt", "sub/c.txt"}
IN_SWAP = {"versioned", "linked", "moved-old", "swapped"}  # run with SIGINT/SIGTERM blocked
LEFT_BY_A_RUN = (".staging-", ".old-", ".link-", ".lock")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("kill")
    src = Path(__file__).resolve().parents[2] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, str(HARNESS), str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    found["stderr"] = done.stderr[-4000:]  # a killed child's traceback, if any: for messages
    return found


def generation_of(after: dict[str, Any]) -> int:
    """The generation of a complete output; fails unless the folder is complete and consistent."""
    assert after["exists"], f"no output folder: {after}"
    files = after["files"]
    assert set(files) == FILES, f"incomplete output: {sorted(files)}"
    assert len(set(files.values())) == 1, f"files from two generations: {files}"
    assert int(next(iter(files.values()))) == after["manifest_generation"]
    return int(after["manifest_generation"])


def expected_generation(trial: dict[str, Any]) -> int:
    """SIGKILL stops the run where it is; SIGTERM raised inside the swap waits for its end."""
    events = trial["events_to_kill"]
    gen = trial["before"] + events.count("swapped")
    if trial["signal"] == signal.SIGTERM and events[-1] in IN_SWAP - {"swapped"}:
        gen += 1
    return int(gen)


def modes(observed: dict[str, Any]) -> list[str]:
    return sorted(observed["kills"])


def test_both_layouts_were_exercised(observed: dict[str, Any]) -> None:
    assert "symlink" in observed["kills"]
    # the exchange layout is skipped only where the file system lacks RENAME_EXCHANGE
    steps = {e for t in observed["kills"]["symlink"]["trials"] for e in t.get("events_to_kill", [])}
    assert {"locked", "recovered", "wrote a.txt", "staged", "versioned", "linked"} <= steps


def test_killed_between_steps_leaves_the_old_or_the_new_output(observed: dict[str, Any]) -> None:
    for mode in modes(observed):
        for trial in observed["kills"][mode]["trials"]:
            if trial["kind"] != "step":
                continue
            where = f"{mode}, signal {trial['signal']} at {trial['events_to_kill'][-1]!r}"
            assert generation_of(trial["after"]) == expected_generation(trial), where
            if trial["signal"] == signal.SIGTERM:  # handled: exit 143, nothing left beside
                assert trial["exit"] == 128 + signal.SIGTERM, where
                left = [b for b in trial["after"]["beside"] if b.endswith(LEFT_BY_A_RUN)]
                assert left == [], where
            else:
                assert trial["exit"] == -signal.SIGKILL, where


def test_killed_at_random_moments_leaves_a_complete_output(observed: dict[str, Any]) -> None:
    for mode in modes(observed):
        timed = [t for t in observed["kills"][mode]["trials"] if t["kind"] == "timed"]
        assert len(timed) >= 8
        for trial in timed:
            why = f"{mode}: {trial}\nharness stderr:\n{observed['stderr']}"
            assert trial["exit"] in (-signal.SIGKILL, -signal.SIGTERM, 128 + signal.SIGTERM), why
            try:
                assert generation_of(trial["after"]) >= trial["before"], why
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{why}") from None


def test_the_next_run_recovers_what_killed_runs_left(observed: dict[str, Any]) -> None:
    for mode in modes(observed):
        runs = observed["kills"][mode]
        left = [b for t in runs["trials"] for b in t["after"]["beside"] if ".staging-" in b]
        assert left, "no SIGKILL left a staging folder: recovery was not exercised"
        final = runs["final"]
        assert generation_of(final) == runs["final_generation"]
        expected = [final["link"]] if mode == "symlink" else []
        assert final["beside"] == expected


def test_killed_inside_the_fallback_transition_is_restored(observed: dict[str, Any]) -> None:
    """Over a real folder the fallback needs two renames: a SIGKILL between them leaves NAME
    missing (documented), and the next run restores it before anything else."""
    trials = observed["transition"]
    assert {t["events_to_kill"][-1] for t in trials} >= {"moved-old", "swapped"}
    for trial in trials:
        where = trial["events_to_kill"][-1]
        if where == "moved-old":
            assert not trial["after"]["exists"]
            assert any(".old-" in b for b in trial["after"]["beside"])
        else:
            assert generation_of(trial["after"]) == expected_generation(trial), where
        assert generation_of(trial["recovered"]) == expected_generation(trial), where
        assert not [b for b in trial["recovered"]["beside"] if ".old-" in b or ".staging-" in b]


def test_a_second_process_cannot_take_the_lock(observed: dict[str, Any]) -> None:
    lock = observed["lock"]
    assert lock["error"] is not None
    assert f"another fl_estimate run (process {lock['child']})" in lock["error"]
    staging = f".out.staging-{lock['child']}"
    assert staging in lock["beside_before"]
    assert lock["beside_after"] == lock["beside_before"]  # the first run's staging untouched
    assert lock["exit"] == 0 and generation_of(lock["after"]) == 1  # and it finished
    assert lock["after"]["beside"] == []


@pytest.mark.parametrize(
    ("sig", "exit_code"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL), (0, 0)],
    ids=["SIGTERM", "SIGKILL", "error"],
)
def test_no_worker_outlives_the_run(observed: dict[str, Any], sig: int, exit_code: int) -> None:
    (run,) = [w for w in observed["workers"] if w["signal"] == sig]
    assert len(run["workers"]) == 2
    assert run["worker_groups"] == [run["run_group"]]  # in the run's process group
    assert run["exit"] == exit_code
    assert run["alive_after"] == []
    if not sig:  # an error in the run: its workers were ended while the run was still alive
        assert run["alive_in_run"] == []
