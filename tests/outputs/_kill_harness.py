"""Kill harness for test_kill.py: run as ``python _kill_harness.py WORKDIR``; prints JSON.

One process imports fl_estimate once and forks a child per trial (a fresh interpreter per kill
would cost seconds each). The harness only kills and observes; the assertions are in
test_kill.py.

- ``kills``: a child publishes generation after generation into WORKDIR/MODE/out. In a *step*
  trial every step of publish_folder (and of the writer: one step per file) reports to the harness
  and waits for its go-ahead, and the harness sends SIGKILL or SIGTERM at step number K, so kills
  land deterministically between any two steps, the swap's included. In a *timed* trial the child
  runs freely and is killed after a seeded random delay. After each kill the harness records what
  is at the target and beside it; the next child (and, last, the harness itself) recovers.
- ``transition``: the same, at each step of a fallback publish over a real folder (its two renames
  included); the harness then records what recovery finds.
- ``lock``: a child holds the lock (paused in publish_folder) while the harness tries to publish
  into the same folder.
- ``workers``: a child opens a process_pool of two workers, reports their pids and process group,
  and is killed (or raises an error); the harness records which workers are alive afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

warnings.simplefilter("ignore", DeprecationWarning)  # os.fork next to numpy's threads: harmless

from fl_estimate.exceptions import OutputFolderError  # noqa: E402
from fl_estimate.outputs.determinism import (  # noqa: E402
    folder_listing,
    read_manifest,
    write_manifest,
)
from fl_estimate.outputs.folder import exchange_supported, publish_folder  # noqa: E402
from fl_estimate.outputs.processes import process_pool, terminate_children_on_signal  # noqa: E402

FILES = ("a.txt", "b.txt", "sub/c.txt")
KIND = "kill-test"
STEP_TRIALS = 12  # every step of a child's first publish (9 exchange, 11 symlink) and more
TIMED_TRIALS = 8


def publish(target: Path, gen: int, swap: str, step: Callable[[str], None]) -> None:
    with publish_folder(target, kind=KIND, swap=swap, on_step=step) as stage:  # type: ignore[arg-type]
        for name in FILES:
            (stage / name).parent.mkdir(exist_ok=True)
            (stage / name).write_text(str(gen))
            step(f"wrote {name}")
        write_manifest(stage / "manifest.json", kind=KIND, inputs={}, config={"generation": gen})
        step("manifest")


def generation(target: Path) -> int:
    m = read_manifest(target)
    return -1 if m is None else int(m["config"]["generation"])


def observe(target: Path) -> dict[str, object]:
    """What is at the target (every file's content) and beside it."""
    beside = sorted(p for p in os.listdir(target.parent) if p != target.name)
    if not target.is_dir():
        return {"exists": False, "beside": beside}
    m = read_manifest(target)
    return {
        "exists": True,
        "files": {f: (target / f).read_text() for f in folder_listing(target)},
        "manifest_generation": None if m is None else m["config"]["generation"],
        "link": os.readlink(target) if target.is_symlink() else None,
        "beside": beside,
    }


def fork(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into the harness
        code = 0
        try:
            body()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            os._exit(code)
    return pid


def status(raw: int) -> int:
    return os.waitstatus_to_exitcode(raw)


def publisher(target: Path, swap: str, report: int | None, go: int | None) -> Callable[[], None]:
    def step(name: str) -> None:
        if report is not None and go is not None:
            os.write(report, f"{name}\n".encode())
            os.read(go, 1)

    def body() -> None:
        with terminate_children_on_signal():
            gen = generation(target) + 1
            while True:
                publish(target, gen, swap, step)
                gen += 1

    return body


def step_trial(target: Path, swap: str, k: int, sig: int) -> dict[str, object]:
    before = generation(target)
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = fork(publisher(target, swap, report_w, go_r))
    os.close(report_w)
    os.close(go_r)
    events: list[str] = []
    with os.fdopen(report_r) as reports:
        for line in reports:  # ends when the child is gone
            events.append(line.strip())
            if len(events) == k + 1:
                os.kill(pid, sig)
            try:
                os.write(go_w, b".")
            except BrokenPipeError:
                break
    os.close(go_w)
    _, raw = os.waitpid(pid, 0)
    return {
        "kind": "step",
        "k": k,
        "signal": int(sig),
        "events_to_kill": events[: k + 1],
        "before": before,
        "exit": status(raw),
        "after": observe(target),
    }


def timed_trial(target: Path, swap: str, delay: float, sig: int) -> dict[str, object]:
    before = generation(target)
    pid = fork(publisher(target, swap, None, None))
    time.sleep(delay)
    os.kill(pid, sig)
    _, raw = os.waitpid(pid, 0)
    return {
        "kind": "timed",
        "signal": int(sig),
        "before": before,
        "exit": status(raw),
        "after": observe(target),
    }


def kills(work: Path) -> dict[str, object]:
    rng = random.Random(20240601)
    out: dict[str, object] = {}
    for swap in ("exchange", "symlink"):
        if swap == "exchange" and not exchange_supported(work):
            continue
        target = work / swap / "out"
        target.parent.mkdir(parents=True)
        publish(target, 0, swap, lambda s: None)
        trials = []
        for k in range(STEP_TRIALS):
            for sig in (signal.SIGKILL, signal.SIGTERM):
                trials.append(step_trial(target, swap, k, sig))
        for i in range(TIMED_TRIALS):
            sig = (signal.SIGKILL, signal.SIGTERM)[i % 2]
            trials.append(timed_trial(target, swap, rng.uniform(0.001, 0.05), sig))
        last = generation(target)
        publish(target, last + 1, swap, lambda s: None)  # recovers what the last kill left
        out[swap] = {"trials": trials, "final": observe(target), "final_generation": last + 1}
    return out


def transition(work: Path) -> list[dict[str, object]]:
    """SIGKILL at each step of the first fallback publish over a real folder, then recovery."""
    trials = []
    for k in range(12):
        target = work / "transition" / str(k) / "out"
        target.parent.mkdir(parents=True)
        publish(target, 0, "exchange", lambda s: None)  # a real folder (no exchange is needed)
        trial = step_trial(target, "symlink", k, signal.SIGKILL)
        seen: list[dict[str, object]] = []

        def look(name: str, target: Path = target, seen: list[dict[str, object]] = seen) -> None:
            if name == "recovered":
                seen.append(observe(target))

        publish(target, 9, "symlink", look)
        trial["recovered"] = seen[0]
        trials.append(trial)
    return trials


def lock(work: Path) -> dict[str, object]:
    target = work / "lock" / "out"
    target.parent.mkdir(parents=True)
    report_r, report_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = fork(lambda: publish(target, 1, "auto", pause_at("wrote a.txt", report_w, go_r)))
    os.close(report_w)
    os.close(go_r)
    with os.fdopen(report_r) as reports:
        first = reports.readline().strip()  # the child holds the lock, has staged a file, waits
        staging_before = sorted(os.listdir(target.parent))
        try:
            publish(target, 2, "auto", lambda s: None)
            error = None
        except OutputFolderError as exc:
            error = str(exc)
        staging_after = sorted(os.listdir(target.parent))
        os.write(go_w, b"go")
        os.close(go_w)
        reports.read()
    _, raw = os.waitpid(pid, 0)
    return {
        "first_step": first,
        "child": pid,
        "error": error,
        "beside_before": staging_before,
        "beside_after": staging_after,
        "exit": status(raw),
        "after": observe(target),
    }


def pause_at(where: str, report: int, go: int) -> Callable[[str], None]:
    """A step hook that reports step ``where`` and waits there until the harness says go."""

    def step(name: str) -> None:
        if name == where:
            os.write(report, f"{name}\n".encode())
            os.read(go, 1)
            os.close(report)

    return step


def proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or during the read
        return "gone"


def wait_gone(pids: list[int]) -> list[int]:
    """The pids still alive (zombies count as ended) after waiting a generous while."""
    deadline = time.monotonic() + 20  # a bound for the kernel to deliver signals, not a timing
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if proc_state(p) not in ("gone", "Z", "X")]
        time.sleep(0.02)
    return alive


def workers(sig: int) -> dict[str, object]:
    """Kill a run that waits on its two workers with ``sig``.

    With ``sig == 0`` the run raises an error inside the pool instead, catches it outside and,
    still alive (so the parent-death signal plays no part), reports which workers survived.
    """
    report_r, report_w = os.pipe()

    def body() -> None:
        import multiprocessing

        try:
            with process_pool(2) as pool:
                pending = [pool.submit(time.sleep, 120) for _ in range(2)]
                pids = sorted(p.pid for p in multiprocessing.active_children())
                info = {"pids": pids, "groups": sorted({os.getpgid(p) for p in pids})}
                info["run_group"] = os.getpgid(0)
                os.write(report_w, json.dumps(info).encode() + b"\n")
                if not sig:
                    raise RuntimeError("an error in the run")
                pending[0].result()
        except RuntimeError:
            os.write(report_w, json.dumps(wait_gone(pids)).encode() + b"\n")

    pid = fork(body)
    os.close(report_w)
    with os.fdopen(report_r) as reports:
        info = json.loads(reports.readline())
        if sig:
            os.kill(pid, sig)
        else:
            info["alive_in_run"] = json.loads(reports.readline())
    _, raw = os.waitpid(pid, 0)
    return {
        "signal": int(sig),
        "run_group": info["run_group"],
        "worker_groups": info["groups"],
        "workers": info["pids"],
        "exit": status(raw),
        "alive_in_run": info.get("alive_in_run"),
        "alive_after": wait_gone(info["pids"]),
    }


def main() -> None:
    work = Path(sys.argv[1])
    result = {
        "kills": kills(work),
        "transition": transition(work),
        "lock": lock(work),
        "workers": [workers(signal.SIGTERM), workers(signal.SIGKILL), workers(0)],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
