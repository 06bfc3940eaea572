"""Worker processes that end with the run.

A run killed with SIGTERM or SIGKILL used to leave its worker processes (some 280 MB each) alive,
adopted by PID 1 (issue 19, point 2). Here:

- :func:`process_pool` makes a :class:`~concurrent.futures.ProcessPoolExecutor` whose workers stay
  in the run's process group (they are not detached: a terminal's Ctrl-C or a ``kill -- -PGID``
  reaches them too), ignore SIGINT (the run handles it and ends them), and on Linux ask the kernel
  to kill them when their parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes), which
  covers a SIGKILL of the run that no handler can see.
- :func:`terminate_children_on_signal` installs SIGINT and SIGTERM handlers that terminate every
  child process of the run (:func:`multiprocessing.active_children`) and then raise
  ``KeyboardInterrupt`` (SIGINT) or ``SystemExit(128 + signal)`` (SIGTERM), so that ``with``
  blocks clean up (a staging folder is removed, the run lock released) and the exit status is
  the usual one for a signal (130, 143). :func:`process_pool` installs it when it runs in the
  main thread.

Notes
-----
Linux delivers the parent-death signal when the *thread* that created the worker exits. With the
``fork`` start method the pool creates its workers in the thread that first submits work: use a
pool from the thread that lives as long as the run (the main thread), as the pipeline does.
Elsewhere than Linux only the signal handlers apply.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import FrameType
from typing import Any

__all__ = ["end_with_parent", "process_pool", "spawn_context", "terminate_children_on_signal"]

_PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """In a child process: be killed with ``sig`` when the parent process dies (Linux).

    If the parent died before this call, the child exits at once.

    Parameters
    ----------
    parent : int
        The parent's process id (``os.getpid()`` in the parent).
    sig : int
        Signal the kernel sends when the parent dies.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) != 0:  # pragma: no cover
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent is already gone: do not linger
        os._exit(1)


def _init_worker(
    parent: int, initializer: Callable[..., object] | None, initargs: Sequence[Any]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the run's handler
    end_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


#: Seconds a terminated child has to end before it is killed.
TERMINATE_GRACE = 2.0


def _terminate_children(
    spare: frozenset[Any] = frozenset(), grace: float = TERMINATE_GRACE
) -> None:
    """SIGTERM every live child but ``spare``, then SIGKILL those still alive after ``grace``.

    SIGTERM alone can be lost: a worker that receives it while it starts, before its initializer
    has set the default action (:func:`_init_worker`), has the signal noted for the Python
    handler it inherited, and Python drops the note once the handler is replaced. That worker
    then waits on the pool's queue for ever, and the pool's shutdown waits on it (a run ended by
    an error hung once in about 80 runs of tests/outputs/test_kill.py under load).
    """
    children = [c for c in multiprocessing.active_children() if c not in spare]
    for child in children:
        with contextlib.suppress(OSError):
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            with contextlib.suppress(OSError):
                child.kill()


@contextlib.contextmanager
def terminate_children_on_signal(
    signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM end the run's child processes, then the run.

    SIGINT raises ``KeyboardInterrupt``, any other signal ``SystemExit(128 + signum)``, after
    :meth:`multiprocessing.Process.terminate` on every live child. Outside the main thread
    (where Python cannot install handlers) the block runs unchanged. The previous handlers are
    restored at the end.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _terminate_children()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While a spawned process starts, ``__main__`` is an empty module, so the child does not
    run the caller's script again (a script calling the annual run at its top level, without
    ``if __name__ == "__main__":``, would otherwise run once more in every worker, and fail)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _SpawnProcess(multiprocessing.context.SpawnProcess):
    def start(self) -> None:
        with _main_hidden():
            super().start()


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnProcess


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The ``spawn`` start method for workers that run library functions only: the child starts
    a fresh interpreter (nothing of the parent's threads or half-built state) and does not import
    the caller's main script (see :func:`_main_hidden`).

    Examples
    --------
    >>> spawn_context().get_start_method()
    'spawn'
    """
    return _SpawnContext()


@contextlib.contextmanager
def process_pool(
    max_workers: int | None = None,
    *,
    mp_context: Any = None,
    initializer: Callable[..., object] | None = None,
    initargs: Sequence[Any] = (),
) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers end with the run (see the module notes).

    Parameters
    ----------
    max_workers : int, optional
        As for :class:`~concurrent.futures.ProcessPoolExecutor`.
    mp_context : multiprocessing context, optional
        Default: the platform's default start method.
    initializer, initargs
        Run in each worker after it is set up.

    Yields
    ------
    concurrent.futures.ProcessPoolExecutor

    Notes
    -----
    On a normal exit the pool is shut down and waited for; when the block raises (an error,
    Ctrl-C, SIGTERM) the child processes started since the pool was made (its workers) are
    terminated first and pending work is cancelled.
    """
    init = functools.partial(_init_worker, os.getpid(), initializer, tuple(initargs))
    earlier = frozenset(multiprocessing.active_children())
    with terminate_children_on_signal():
        pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context, initializer=init)
        try:
            yield pool
        except BaseException:
            _terminate_children(spare=earlier)  # this pool's workers, not older children
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
