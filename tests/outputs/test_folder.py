"""publish_folder: which folders it refuses, replacement, the lock, recovery, a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fl_estimate.exceptions import FLEstimateError, OutputFolderError
from fl_estimate.outputs import folder as folder_mod
from fl_estimate.outputs.determinism import manifest_without_run, write_manifest
from fl_estimate.outputs.folder import check_target, exchange_supported, publish_folder

MODES = ["exchange", "symlink"]


def publish(target: Path, content: str, *, swap: str = "auto", **kw: object) -> None:
    with publish_folder(target, kind="test", swap=swap, **kw) as stage:  # type: ignore[arg-type]
        (stage / "a.txt").write_text(content)
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text(content)
        write_manifest(stage / "manifest.json", kind="test", inputs={}, config={"c": content})


def read(target: Path) -> tuple[str, str]:
    return (target / "a.txt").read_text(), (target / "sub" / "b.txt").read_text()


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name != target.name)


@pytest.fixture(params=MODES)
def swap(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "exchange" and not exchange_supported(tmp_path):
        pytest.skip("RENAME_EXCHANGE not supported on this system or file system")
    return str(request.param)


# ---------------------------------------------------------------------------- refusals


def test_refuses_a_foreign_folder_and_keeps_its_files(tmp_path: Path) -> None:
    target = tmp_path / "v"
    target.mkdir()
    (target / "thesis.txt").write_text("keep")
    (target / "chapters").mkdir()
    with pytest.raises(OutputFolderError, match="not an fl_estimate output") as exc:
        publish(target, "new")
    assert isinstance(exc.value, FLEstimateError)  # the CLI turns these into exit code 2
    assert str(target) in str(exc.value)
    assert (target / "thesis.txt").read_text() == "keep" and (target / "chapters").is_dir()
    assert siblings(target) == []  # no staging, no lock file left behind


def test_refuses_a_previous_output_with_a_file_added(tmp_path: Path) -> None:
    target = tmp_path / "out"
    publish(target, "old")
    (target / "sub" / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match=r"did not write \(sub/notes.txt\)"):
        publish(target, "new")
    assert read(target) == ("old", "old") and (target / "sub" / "notes.txt").exists()


def test_refuses_an_output_of_another_kind(tmp_path: Path) -> None:
    target = tmp_path / "out"
    publish(target, "old")
    with pytest.raises(OutputFolderError, match="'test' output, not a 'run' output"):
        check_target(target, kind="run")


def test_refuses_a_file_and_a_foreign_symlink(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file"):
        publish(tmp_path / "f", "new")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputFolderError, match="symbolic link"):
        publish(tmp_path / "link", "new")


def test_refuses_the_folder_of_an_input_and_its_parents(tmp_path: Path) -> None:
    data = tmp_path / "project" / "data"
    data.mkdir(parents=True)
    config = data / "link.toml"
    config.write_text("x")
    for target in (data, data.parent, tmp_path, data / "."):
        with pytest.raises(OutputFolderError, match="holds the input"):
            publish(target, "new", inputs=[config])
    assert sorted(p.name for p in data.iterdir()) == ["link.toml"]
    # a new folder beside the inputs is fine (the documented default `output = "linkage_output"`)
    publish(data / "out", "new", inputs=[config])
    assert read(data / "out") == ("new", "new")


def test_refuses_an_input_reached_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.csv").write_text("x")
    (tmp_path / "alias").symlink_to(real)
    with pytest.raises(OutputFolderError, match="holds the input"):
        publish(real, "new", inputs=[tmp_path / "alias" / "a.csv"])


def test_refuses_to_write_inside_or_over_an_input_folder(tmp_path: Path) -> None:
    subs = tmp_path / "submissions"
    subs.mkdir()
    for target, word in ((subs, "is"), (subs / "out", "lies inside"), (tmp_path, "holds")):
        with pytest.raises(OutputFolderError, match=f"it {word} the input folder"):
            publish(target, "new", inputs=[subs])


# ---------------------------------------------------------------------------- replacement


def test_creates_replaces_and_cleans_up(tmp_path: Path, swap: str) -> None:
    target = tmp_path / "out"
    publish(target, "one", swap=swap)
    assert read(target) == ("one", "one")
    publish(target, "two", swap=swap)
    assert read(target) == ("two", "two")
    assert manifest_without_run(target)["config"] == {"c": "two"}
    left = siblings(target)
    if swap == "symlink":  # the link and the one version it points to, nothing else
        assert target.is_symlink() and left == [os.readlink(target)]
    else:
        assert not target.is_symlink() and left == []


def test_replaces_an_empty_folder(tmp_path: Path, swap: str) -> None:
    target = tmp_path / "out"
    target.mkdir()
    publish(target, "one", swap=swap)
    assert read(target) == ("one", "one")


def test_switches_between_layouts(tmp_path: Path) -> None:
    if not exchange_supported(tmp_path):
        pytest.skip("RENAME_EXCHANGE not supported here")
    target = tmp_path / "out"
    publish(target, "one", swap="exchange")
    publish(target, "two", swap="symlink")  # real folder -> link (two renames, signals blocked)
    assert target.is_symlink() and read(target) == ("two", "two")
    publish(target, "three", swap="exchange")  # link -> real folder; the old version goes too
    assert not target.is_symlink() and read(target) == ("three", "three")
    assert siblings(target) == []


def test_a_failed_run_leaves_the_previous_output(tmp_path: Path, swap: str) -> None:
    target = tmp_path / "out"
    publish(target, "old", swap=swap)
    with pytest.raises(RuntimeError), publish_folder(target, kind="test", swap=swap) as stage:  # type: ignore[arg-type]
        (stage / "a.txt").write_text("new")
        raise RuntimeError("boom")
    assert read(target) == ("old", "old")
    assert not [s for s in siblings(target) if "staging" in s or s.endswith(".lock")]


def test_disk_full_while_staging_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ext4 reports a full disk at write or fsync time: simulated by fsync raising ENOSPC."""
    import pandas as pd

    from fl_estimate.outputs.cells import write_csv

    target = tmp_path / "out"
    publish(target, "old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputFolderError, match="disk is full") as exc:
        with publish_folder(target, kind="test") as stage:
            write_csv(pd.DataFrame({"a": [1]}), stage / "first.csv")
            monkeypatch.setattr(os, "fsync", full)
            write_csv(pd.DataFrame({"a": [2]}), stage / "second.csv")
    monkeypatch.undo()
    assert exc.value.__cause__ is not None
    assert read(target) == ("old", "old")
    assert siblings(target) == []


def test_a_bare_manifest_is_written_and_a_late_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with publish_folder(target, kind="test") as stage:
        (stage / "a.txt").write_text("x")
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["fl_estimate_output"] == "test" and list(manifest["outputs"]) == ["a.txt"]
    with pytest.raises(ValueError, match="after its manifest"):
        with publish_folder(target, kind="test") as stage:
            write_manifest(stage / "manifest.json", kind="test", inputs={}, config={})
            (stage / "late.txt").write_text("x")
    assert (target / "a.txt").exists() and not (target / "late.txt").exists()


# ---------------------------------------------------------------------------- lock


def test_a_second_run_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    """flock conflicts between two open file descriptions even in one process; the
    cross-process case is in test_kill.py."""
    target = tmp_path / "out"
    publish(target, "old")
    with publish_folder(target, kind="test") as stage:
        (stage / "a.txt").write_text("first")
        with pytest.raises(
            OutputFolderError, match=rf"another fl_estimate run \(process {os.getpid()}\)"
        ):
            publish(target, "second")
        assert (stage / "a.txt").read_text() == "first"  # the first run's staging untouched
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text("first")
    assert read(target) == ("first", "first")
    assert siblings(target) == []


# ---------------------------------------------------------------------------- recovery


def dead_pid() -> int:
    """A process id that is not alive (a child that has exited and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_recovers_stale_staging_and_old_folders(tmp_path: Path) -> None:
    target = tmp_path / "out"
    publish(target, "old")
    pid = dead_pid()
    (tmp_path / f".out.staging-{pid}").mkdir()
    (tmp_path / f".out.staging-{pid}" / "half.csv").write_text("x")
    (tmp_path / f".out.old-{pid}").mkdir()
    (tmp_path / ".out.lock").write_text(f"{pid}\n")  # left by a SIGKILLed run: not locked
    alive = tmp_path / f".out.staging-{os.getppid()}"  # a live process: left alone
    alive.mkdir()
    unrelated = tmp_path / ".out.staging-notes"
    unrelated.mkdir()
    publish(target, "new")
    assert read(target) == ("new", "new")
    assert siblings(target) == sorted([alive.name, unrelated.name])


def test_recovery_restores_the_previous_output_moved_aside(tmp_path: Path) -> None:
    """A run killed between the fallback's two renames (or by the old two-rename swap) left
    NAME missing and the previous output at .NAME.old-PID: the next run puts it back first."""
    target = tmp_path / "out"
    publish(target, "old")
    pid = dead_pid()
    target.rename(tmp_path / f".out.old-{pid}")
    seen: list[tuple[str, str]] = []
    with publish_folder(target, kind="test") as stage:
        seen.append(read(target))  # restored before the block runs
        for name in ("a.txt", "sub/b.txt"):
            (stage / name).parent.mkdir(exist_ok=True)
            (stage / name).write_text("new")
    assert seen == [("old", "old")] and read(target) == ("new", "new")
    assert siblings(target) == []


def test_unsupported_exchange_falls_back_to_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    publish(target, "old")
    monkeypatch.setattr(folder_mod, "_libc_renameat2", lambda: None)
    publish(target, "new")
    assert target.is_symlink() and read(target) == ("new", "new")
    with pytest.raises(OSError, match="not supported"):
        publish(target, "x", swap="exchange")
    assert read(target) == ("new", "new")


def test_a_nested_output_is_part_of_the_outer_one(tmp_path: Path) -> None:
    """The annual run writes the linkage output as `linkage/` inside its own staging folder."""
    target = tmp_path / "run"
    for gen in ("one", "two"):
        with publish_folder(target, kind="run") as stage:
            publish(stage / "linkage", gen)
            (stage / "t.csv").write_text(gen)
            write_manifest(stage / "manifest.json", kind="run", inputs={}, config={}, run={})
        assert read(target / "linkage") == (gen, gen)
    assert sorted(p.name for p in target.iterdir()) == ["linkage", "manifest.json", "t.csv"]
    assert sorted(p.name for p in (target / "linkage").iterdir()) == [
        "a.txt",
        "manifest.json",
        "sub",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_parent_is_a_clean_error(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputFolderError, match="cannot create files beside it"):
            publish(locked / "out", "x")
    finally:
        locked.chmod(0o700)


def test_a_parent_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(OutputFolderError, match="cannot create files beside it"):
        publish(tmp_path / "notes.txt" / "out", "x")
    assert (tmp_path / "notes.txt").read_text() == "keep"


# ---------------------------------------------------------------------------- pairs


class _Stopped(Exception):
    pass


def test_a_published_and_an_internal_folder_are_swapped_together(tmp_path: Path, swap: str) -> None:
    """SIGTERM arriving between the two swaps of a pair is held back until both are done: the
    pair is never one new folder beside one previous one (short of SIGKILL or a power cut)."""
    import signal

    from fl_estimate.outputs.folder import publish_folders

    out, inside = tmp_path / "out", tmp_path / "out.internal"

    def pair(content: str, step: object = None) -> None:
        with publish_folders(
            [(out, "test", 0o777), (inside, "test-internal", 0o700)],
            swap=swap,  # type: ignore[arg-type]
            on_step=step,  # type: ignore[arg-type]
        ) as (stage, private):
            for folder, kind in ((stage, "test"), (private, "test-internal")):
                (folder / "a.txt").write_text(content)
                write_manifest(folder / "manifest.json", kind=kind, inputs={}, config={})

    pair("old")
    swaps: list[str] = []

    def step(name: str) -> None:
        if name == "swapped":
            swaps.append(name)
            if len(swaps) == 1:  # between the two swaps
                os.kill(os.getpid(), signal.SIGTERM)

    def stop(signum: int, frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(_Stopped):
            pair("new", step)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(swaps) == 2  # the signal was delivered after the second swap
    assert (out / "a.txt").read_text() == (inside / "a.txt").read_text() == "new"
    assert oct(inside.resolve().stat().st_mode & 0o777) == oct(0o700)
    current = {p.name for p in (out, inside)} | {
        os.readlink(p) for p in (out, inside) if p.is_symlink()
    }  # the fallback layout: each name links to its current version
    assert {p.name for p in tmp_path.iterdir()} == current  # the previous pair was removed


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
def test_sigterm_during_a_removal_waits_for_its_end(tmp_path, monkeypatch) -> None:
    """A SIGTERM that arrives while a stale folder is deleted ends the run after the deletion,
    with the signal's exit: it once arrived inside ``shutil.rmtree``'s ``os.close``, rmtree
    closed the descriptor again and the run ended with EBADF instead (a timed kill trial of
    tests/outputs/test_kill.py, once in about 40 runs)."""
    from fl_estimate.outputs.processes import terminate_children_on_signal

    stale = tmp_path / ".out.staging-1"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "f.txt").write_text("x")
    real = shutil.rmtree

    def signalled(path, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered at once unless held back
        assert stale.exists()
        real(path, *args, **kwargs)

    monkeypatch.setattr(folder_mod.shutil, "rmtree", signalled)
    with pytest.raises(SystemExit) as ended, terminate_children_on_signal():
        folder_mod._remove(stale, "out")
    assert ended.value.code == 128 + signal.SIGTERM
    assert not stale.exists()  # removed whole before the run ended


def _deaf_to_sigterm(ready) -> None:  # top level: a process target
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_a_child_that_outlives_sigterm_is_killed() -> None:
    """SIGTERM to a starting worker can be lost (noted for the handler it inherited, dropped when
    its initializer sets the default action): the run's workers are then killed after a grace,
    so that an error or a signal never leaves the pool's shutdown waiting on one for ever."""
    import multiprocessing

    from fl_estimate.outputs.processes import _terminate_children

    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_deaf_to_sigterm, args=(ready,))
    child.start()
    assert ready.wait(30)
    _terminate_children(grace=0.2)
    child.join(30)  # a bound for the kernel, not a timing
    assert not child.is_alive()
    assert child.exitcode == -signal.SIGKILL
