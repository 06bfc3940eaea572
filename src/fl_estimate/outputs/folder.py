"""Publish an output folder without losing anyone's files.

:func:`publish_folder` builds a whole output folder in a staging folder and swaps it in at the
end. It refuses, before writing anything, to replace a folder fl_estimate did not write, or to
write into or over the folder of an input; it takes a lock so that two runs cannot write the same
folder; and at every instant the folder is either the complete previous output or the complete
new one, whatever kills the run.

Which folders are replaced
--------------------------
A target is replaced only if it does not exist, is an empty folder, or is a previous fl_estimate
output of the same kind: its ``manifest.json`` carries ``"fl_estimate_output": KIND`` and every
file in it is listed in the manifest's ``"outputs"``. A folder with any other file (a
``thesis.txt`` dropped into an old output included) is refused with
:class:`~fl_estimate.exceptions.OutputFolderError`, which the command line reports with exit
code 2. A target that is the folder of an input file, or holds an input (at any depth), or is,
holds or lies inside a folder given as an input, is refused too (paths compared after resolving
symbolic links).

Layout beside the target ``PARENT/NAME``
----------------------------------------
===============================  ==============================================================
``NAME/``                        the published output
``.NAME.lock``                   run lock (``flock``; holds the pid); removed when the run ends
``.NAME.staging-PID/``           run PID builds the new output here; after the swap (Linux) it
                                 holds the previous output until that is deleted
``.NAME.old-PID/``               fallback only: the previous output while it is moved aside
``.NAME.v-PID-N/``               fallback only: a published output, reached through ``NAME``
``.NAME.link-PID``               fallback only: the new symbolic link before it replaces ``NAME``
===============================  ==============================================================

**Linux** (glibc 2.28+, a file system with ``RENAME_EXCHANGE``: ext4, xfs, btrfs, tmpfs...): the
staging folder and ``NAME`` are exchanged atomically with ``renameat2(..., RENAME_EXCHANGE)``
(through ctypes); ``NAME`` stays a real folder and the previous output, now at the staging path,
is deleted afterwards.

**Fallback** (other systems; file systems such as NFS that do not support the exchange):
``NAME`` is a symbolic link to ``.NAME.v-PID-N/``. The staging folder is renamed to a new
``.NAME.v-...``, a new link is made beside ``NAME`` and renamed over it (atomic), and the previous
version is deleted. Readers open ``NAME/...`` as usual. The first fallback publish over an
existing real folder needs two renames (``NAME`` to ``.NAME.old-PID``, then the link to
``NAME``); SIGINT and SIGTERM are blocked between them, and if the process dies there (SIGKILL,
power cut) the next run renames ``.NAME.old-PID`` back before anything else.

Pairs
-----
:func:`publish_folders` publishes several folders (a run's published and internal folders)
together: all are locked and staged first, then swapped one after the other with SIGINT and
SIGTERM held back, and only then are the previous outputs deleted.

Recovery
--------
Under the lock, before staging, a run removes what dead runs left beside the target: staging,
old, link and unreferenced version folders whose PID is no longer alive (and its own, from an
earlier attempt), after restoring an ``.NAME.old-PID`` if ``NAME`` itself is missing. Entries of a
live PID are left alone (a PID reused, or a run on another host of a shared file system) and
logged. Nothing else is ever deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from fl_estimate.exceptions import OutputFolderError
from fl_estimate.outputs.determinism import (
    MANIFEST_NAME,
    MARKER,
    folder_listing,
    read_manifest,
    write_manifest,
)

__all__ = ["SwapMode", "check_target", "exchange_supported", "publish_folder", "publish_folders"]

log = logging.getLogger(__name__)

SwapMode = Literal["auto", "exchange", "symlink"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP)
_FULL = (errno.ENOSPC, errno.EDQUOT)
_BLOCKED = {signal.SIGINT, signal.SIGTERM}


# ---------------------------------------------------------------------------- renameat2


@functools.cache
def _libc_renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # musl or glibc < 2.28
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False if the system or file system does not support it."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def exchange_supported(folder: str | Path) -> bool:
    """Whether two entries of ``folder`` can be exchanged atomically (``RENAME_EXCHANGE``)."""
    folder = Path(folder)
    a, b = folder / f".fl-exchange-a-{os.getpid()}", folder / f".fl-exchange-b-{os.getpid()}"
    a.mkdir()
    try:
        b.mkdir()
        return _renameat2(a, b, _RENAME_EXCHANGE)
    finally:
        for p in (a, b):
            with contextlib.suppress(FileNotFoundError):
                p.rmdir()


# ---------------------------------------------------------------------------- checks


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it."""
    return path == folder or folder in path.parents


def _check_inputs(place: Path, inputs: Sequence[str | Path]) -> None:
    real = Path(os.path.realpath(place))
    for given in inputs:
        p = Path(os.path.realpath(given))
        if p.is_dir():
            if _inside(real, p) or _inside(p, real):
                rel = "is" if real == p else ("lies inside" if _inside(real, p) else "holds")
                raise OutputFolderError(
                    place,
                    f"it {rel} the input folder {given}; write the outputs to a separate folder",
                )
        elif _inside(p, real):
            raise OutputFolderError(
                place,
                f"it holds the input {given}; fl_estimate never writes into or over an input "
                "folder: choose a new folder for the outputs",
            )


def _version_name(name: str, entry: str) -> bool:
    return re.fullmatch(rf"\.{re.escape(name)}\.v-\d+-\d+", entry) is not None


def _published(place: Path) -> Path | None:
    """The folder holding the current output (``place`` or its link's target), if any."""
    if place.is_symlink():
        dest = os.readlink(place)
        if not _version_name(place.name, dest):
            raise OutputFolderError(
                place,
                f"it is a symbolic link to {dest}, not a folder fl_estimate made; "
                "give the folder itself, or a new one",
            )
        return place.parent / dest
    if not os.path.lexists(place):
        return None
    if not place.is_dir():
        raise OutputFolderError(place, "it is a file, not a folder")
    return place


def check_target(target: str | Path, *, kind: str, inputs: Sequence[str | Path] = ()) -> None:
    """Raise unless ``target`` may be replaced by a new output of ``kind`` (see module notes).

    Raises
    ------
    OutputFolderError
        Naming the folder and why it is refused.
    """
    place = _place(target)
    _check_inputs(place, inputs)
    folder = _published(place)
    if folder is None:
        return
    try:
        empty = next(folder.iterdir(), None) is None
    except OSError as exc:
        raise OutputFolderError(place, f"it cannot be read ({exc.strerror})") from exc
    if empty:
        return
    manifest = read_manifest(folder)
    found = None if manifest is None else manifest.get(MARKER)
    if found is None:
        raise OutputFolderError(
            place,
            "it is not empty and is not an fl_estimate output (it has no manifest.json marking "
            "it as one); fl_estimate replaces only an empty folder or one it wrote: choose a new "
            "folder, or move its files away yourself",
        )
    if found != kind:
        raise OutputFolderError(
            place,
            f"it holds an fl_estimate {found!r} output, not a {kind!r} output; choose another "
            "folder",
        )
    listed = set(manifest.get("outputs") or {}) if manifest else set()
    extra = [rel for rel in folder_listing(folder) if rel not in listed]
    if extra:
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        raise OutputFolderError(
            place,
            f"it is an fl_estimate output but also holds files it did not write "
            f"({', '.join(extra[:5])}{more}); move them elsewhere first",
        )


def _place(target: str | Path) -> Path:
    """Absolute target with its parent's symbolic links resolved (the target's own are kept)."""
    target = Path(os.path.abspath(target))
    if not target.name or target.name in (".", ".."):
        raise OutputFolderError(target, "the root of a file system cannot be an output folder")
    return target.parent.resolve() / target.name


# ---------------------------------------------------------------------------- lock


class _RunLock:
    """``flock`` on ``.NAME.lock`` beside the target; the file is removed on release."""

    def __init__(self, place: Path) -> None:
        self.place = place
        self.path = place.parent / f".{place.name}.lock"
        self.fd = -1

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputFolderError(
                    self.place,
                    f"another fl_estimate run (process {holder}) is writing it; wait for that "
                    "run to finish, or choose another folder",
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:  # else the holder removed the file between our open and our flock
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = -1


# ---------------------------------------------------------------------------- recovery


def _remove(path: Path, name: str, keep: str | None = None) -> None:
    """Delete a folder or a link this module made beside output ``name``.

    A link's version folder goes with it unless it is ``keep`` (the one published).
    """
    if path.is_symlink():
        dest = os.readlink(path)
        path.unlink()
        if _version_name(name, dest) and dest != keep:
            _remove(path.parent / dest, name)
    elif path.is_dir():
        # SIGINT/SIGTERM wait for the end: a signal raised inside rmtree's ``os.close`` made it
        # close the descriptor again in its error path, and the run ended with EBADF (an
        # unexpected error, exit 99 in tests/outputs/test_kill.py) instead of its exit 143
        with _signals_blocked():
            shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _siblings(place: Path) -> list[tuple[str, Path, int]]:
    """(group, path, pid) of the entries this module makes beside ``place``, links first."""
    pat = re.compile(rf"\.{re.escape(place.name)}\.(link|staging|old|v)-(\d+)(-\d+)?")
    order = {"link": 0, "staging": 1, "old": 2, "v": 3}
    found = []
    for entry in os.listdir(place.parent):
        m = pat.fullmatch(entry)
        if m and (m.group(1) == "v") == (m.group(3) is not None):
            found.append((m.group(1), place.parent / entry, int(m.group(2))))
    return sorted(found, key=lambda t: (order[t[0]], t[1].name))


def _stale(pid: int) -> bool:
    return pid == os.getpid() or not _pid_alive(pid)


def _recover(place: Path) -> None:
    """Restore or remove what dead runs left beside ``place`` (the caller holds the lock)."""
    entries = _siblings(place)
    found = [(g, p) for g, p, pid in entries if _stale(pid)]
    olds = [p for g, p in found if g == "old"]
    if olds and not os.path.lexists(place):
        os.rename(olds[-1], place)
        log.warning("restored the previous output %s from %s", place, olds[-1].name)
    current = os.readlink(place) if place.is_symlink() else None
    for _, p in found:
        if os.path.lexists(p) and p.name != current:
            _remove(p, place.name, keep=current)
            log.info("removed %s, left by an earlier run", p.name)
    kept = [p.name for _, p, pid in entries if not _stale(pid) and p.name != current]
    if kept:
        log.warning("left %s beside %s: their process is still alive", ", ".join(kept), place)


# ---------------------------------------------------------------------------- swap


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the swaps' few system calls run.

    On the main thread the two signals' handlers are replaced by one that notes the signal,
    and the noted signals are raised again once the block ends: a process-directed signal may
    reach any thread, but Python runs every handler on the main thread, so this defers it
    whichever thread the kernel chose. On another thread (where handlers cannot be set) the
    signals are masked in that thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        if not hasattr(signal, "pthread_sigmask"):
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in _BLOCKED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for held in dict.fromkeys(pending):
            signal.raise_signal(held)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(staging: Path, place: Path, mode: SwapMode, step: Callable[[str], None]) -> list[Path]:
    """Make ``staging`` the output at ``place``; return what holds the previous output (for the
    caller to delete once every folder of the publication is swapped)."""
    name = place.name
    exists = os.path.lexists(place)
    if mode != "symlink":
        if not exists:
            if not _renameat2(staging, place, _RENAME_NOREPLACE):
                os.rename(staging, place)  # nothing to replace: one rename is atomic
            step("swapped")
            return []
        if _renameat2(staging, place, _RENAME_EXCHANGE):
            step("swapped")
            return [staging]  # the previous output, now at the staging path
        if mode == "exchange":
            raise OSError(errno.ENOTSUP, "RENAME_EXCHANGE is not supported here", str(place))
    version = place.parent / f".{name}.v-{os.getpid()}-{time.time_ns()}"
    link = place.parent / f".{name}.link-{os.getpid()}"
    os.rename(staging, version)
    step("versioned")
    os.symlink(version.name, link)
    step("linked")
    previous = os.readlink(place) if place.is_symlink() else None
    old = None
    if exists and previous is None:  # a real folder: moved aside, then the link takes its name
        old = place.parent / f".{name}.old-{os.getpid()}"
        os.rename(place, old)
        step("moved-old")
    try:
        os.replace(link, place)
    except BaseException:
        if old is not None:
            os.rename(old, place)
        raise
    step("swapped")
    return [p for p in (place.parent / previous if previous else None, old) if p is not None]


def _ensure_manifest(staging: Path, kind: str, place: Path) -> None:
    manifest = read_manifest(staging)
    if manifest is None:
        write_manifest(staging / MANIFEST_NAME, kind=kind, inputs={}, config={})
        return
    if manifest.get(MARKER) != kind:
        raise ValueError(f"the manifest written for {place} does not mark it as a {kind!r} output")
    unlisted = [p for p in folder_listing(staging) if p not in (manifest.get("outputs") or {})]
    if unlisted:
        raise ValueError(
            f"files written to {place} after its manifest: {', '.join(unlisted[:5])}; "
            "write the manifest last"
        )


@contextlib.contextmanager
def publish_folder(
    target: str | Path,
    *,
    kind: str,
    inputs: Sequence[str | Path] = (),
    mode: int = 0o777,
    swap: SwapMode = "auto",
    on_step: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Build an output folder in a staging folder; publish it whole when the block succeeds.

    Parameters
    ----------
    target : path
        The output folder. Its parent is created if needed.
    kind : str
        Kind of output (``"run"``, ``"link"``, ``"demo"``...): a previous output is replaced only
        if its manifest carries this kind.
    inputs : sequence of paths
        Every input file or folder of the run: the target may not be, hold or lie inside an input
        folder, nor hold an input file.
    mode : int
        Permissions of the new folder (before the umask); ``0o700`` for internal outputs.
    swap : {"auto", "exchange", "symlink"}
        How the folder is swapped in (see the module notes); ``"auto"`` uses the exchange where
        the system supports it. The other values exist for tests.
    on_step : callable, optional
        Called with the name of each step (``"locked"``, ``"recovered"``, ``"staged"``,
        ``"versioned"``, ``"linked"``, ``"moved-old"``, ``"swapped"``, ``"done"``); for tests
        that kill a run between steps.

    Yields
    ------
    Path
        The staging folder: write every output there and, last, the manifest with
        :func:`fl_estimate.outputs.determinism.write_manifest` (a bare one is written if the
        block writes none).

    Raises
    ------
    OutputFolderError
        The target is refused (see :func:`check_target`), another run holds its lock, or the disk
        filled up while staging (the previous output is then unchanged).

    Examples
    --------
    >>> import tempfile
    >>> from fl_estimate.outputs.cells import write_csv
    >>> import pandas as pd
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with publish_folder(Path(tmp) / "out", kind="demo") as stage:
    ...         write_csv(pd.DataFrame({"a": [1]}), stage / "a.csv")
    ...     sorted(p.name for p in (Path(tmp) / "out").iterdir())
    ['a.csv', 'manifest.json']
    """
    with publish_folders([(target, kind, mode)], inputs=inputs, swap=swap, on_step=on_step) as (
        staging,
    ):
        yield staging


@contextlib.contextmanager
def publish_folders(
    targets: Sequence[tuple[str | Path, str, int]],
    *,
    inputs: Sequence[str | Path] = (),
    swap: SwapMode = "auto",
    on_step: Callable[[str], None] | None = None,
) -> Iterator[list[Path]]:
    """Build several output folders (a published one and its internal one) and publish them
    together: as :func:`publish_folder` for each, with one lock per folder taken before any is
    staged, and the swaps of all of them done one after the other while SIGINT and SIGTERM are
    held back, before any previous output is deleted.

    A kill with SIGKILL (or a power cut) can still fall between two of the swaps, a window of one
    system call: each folder is then complete, one new and one previous. The next run replaces
    both.

    Parameters
    ----------
    targets : sequence of (path, kind, mode)
        Each folder with its kind and permissions, as :func:`publish_folder`'s ``target``,
        ``kind`` and ``mode``.
    inputs, swap, on_step
        As :func:`publish_folder`.

    Yields
    ------
    list of Path
        The staging folders, in the order of ``targets``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out, inside = Path(tmp) / "out", Path(tmp) / "out.internal"
    ...     with publish_folders([(out, "demo", 0o777), (inside, "demo", 0o700)]) as stages:
    ...         [p.name.startswith(".out") for p in stages]
    ...     sorted(p.name for p in Path(tmp).iterdir())
    [True, True]
    ['out', 'out.internal']
    """
    step = on_step or (lambda name: None)
    places = [_place(t) for t, _kind, _mode in targets]
    for place in places:
        _check_inputs(place, inputs)
    locks: list[_RunLock] = []
    made: list[Path] = []  # staging folders this call created (only those are removed)
    previous: list[tuple[Path, str]] = []  # what holds the previous outputs once swapped
    stagings = [p.parent / f".{p.name}.staging-{os.getpid()}" for p in places]
    try:
        for place in places:
            lock = _RunLock(place)
            try:
                place.parent.mkdir(parents=True, exist_ok=True)
                lock.acquire()
            except OutputFolderError:
                raise
            except OSError as exc:  # read-only, no permission, full...
                raise OutputFolderError(
                    place, f"cannot create files beside it in {place.parent} ({exc.strerror})"
                ) from exc
            locks.append(lock)
        step("locked")
        for place in places:
            _recover(place)
        step("recovered")
        for place, (_t, kind, _m) in zip(places, targets, strict=True):
            check_target(place, kind=kind, inputs=inputs)
        for staging, (_t, _k, mode) in zip(stagings, targets, strict=True):
            staging.mkdir(mode=mode)
            made.append(staging)
        try:
            yield stagings
            step("staged")
            for staging, place, (_t, kind, _m) in zip(stagings, places, targets, strict=True):
                _ensure_manifest(staging, kind, place)
                check_target(place, kind=kind, inputs=inputs)  # again: files may have been added
        except OSError as exc:
            if exc.errno in _FULL:
                raise OutputFolderError(
                    places[0],
                    f"the disk is full ({exc.strerror}) while writing the new output; the "
                    "previous output is unchanged",
                ) from exc
            raise
        with _signals_blocked():
            for staging, place in zip(stagings, places, strict=True):
                previous += [(p, place.name) for p in _swap(staging, place, swap, step)]
            for parent in dict.fromkeys(p.parent for p in places):
                _fsync_dir(parent)
        step("done")
    finally:
        try:
            for path, name in previous:  # also when a held-back signal ends the run here
                _remove(path, name)
            for staging, place in zip(stagings, places, strict=True):
                if staging in made and os.path.lexists(staging):
                    _remove(staging, place.name)
        finally:
            for lock in reversed(locks):
                lock.release()
