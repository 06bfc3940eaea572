"""Atomic output files, hashing and run manifests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from fl_estimate._version import __version__

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "package_versions",
    "sha256_file",
    "write_manifest",
]


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    If the block raises (or the process is killed), ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_VERSIONED = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib", "pymc", "arviz")


def package_versions(extra: Sequence[str] = ()) -> dict[str, str]:
    out = {"fl_estimate": __version__, "python": platform.python_version()}
    for name in (*_VERSIONED, *extra):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(
    path: str | Path,
    *,
    inputs: Sequence[str | Path],
    config: Mapping[str, Any] | None = None,
    seed: Any = None,
    outputs: Sequence[str | Path] = (),
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write a JSON manifest: inputs' SHA-256, config, seed, versions, outputs' SHA-256.

    The manifest carries a timestamp, so it is the one output that differs between identical runs.
    """
    from fl_estimate.results import json_safe

    manifest = {
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": list(command if command is not None else sys.argv),
        "inputs": {str(p): sha256_file(p) for p in inputs},
        "config": json_safe(dict(config or {})),
        "seed": seed,
        "versions": package_versions(),
        "outputs": {Path(p).name: sha256_file(p) for p in outputs},
    }
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@contextlib.contextmanager
def atomic_output_dir(path: str | Path) -> Iterator[Path]:
    """Build a whole output folder in a staging folder; swap it in only when the block succeeds.

    A run that fails or is killed leaves the previous ``path`` untouched (at worst a stray
    ``.path.staging-*`` folder beside it, removed by the next successful run).
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.staging-*"):
        import shutil

        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.staging-", dir=path.parent))
    try:
        yield staging
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    import shutil

    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{os.getpid()}"
        os.replace(path, old)
    os.replace(staging, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
