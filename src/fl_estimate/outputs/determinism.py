"""Writers whose bytes depend only on their content: canonical JSON, figures, the manifest.

Two runs on the same inputs with the same seed must give byte-identical files (issue 19, point 10).
Four things broke that: floats whose last digit varies with summation order, random element ids in
SVG files, timestamps in image metadata and an absolute path plus a timestamp in the manifest.

Canonical JSON
--------------
:func:`dumps_canonical` sorts keys, indents by two spaces, writes UTF-8 (no ``\\u`` escapes) and
ends with a newline. Every finite float is rounded to :data:`FLOAT_DIGITS` (12) significant digits
and then written in Python's shortest round-trip form (``repr``), so ``0.1`` stays ``0.1`` and a
value that differs between runs only in its 16th digit is written the same. ``-0.0`` is written
``0.0``; NaN and infinities become ``null``. An integer-valued float keeps its ``.0``. Values of
any type other than mappings, sequences, sets (sorted), numbers, strings, ``None``, numpy scalars
and arrays, pandas frames and series, dates and paths raise ``TypeError`` rather than being
written as ``str(value)``, whose text (an object address...) could differ between runs.

Manifest
--------
:func:`write_manifest` writes ``manifest.json`` into an output folder::

    {
      "config": {...},                    # the run's configuration, canonical
      "fl_estimate_output": "run",        # marker: the folder is an fl_estimate output of this kind
      "format": 1,
      "inputs": {"LABEL": {"bytes": N, "sha256": "..."}},
      "outputs": {"RELATIVE/PATH": "sha256", ...},  # every file of the folder but the manifest
      "run": {...},                       # the ONLY part that differs between identical runs
      "versions": {"fl_estimate": "...", "numpy": "...", ...}
    }

Everything outside ``"run"`` is byte-identical across reruns. ``"run"`` holds ``created_utc``,
``host``, ``input_paths`` (label -> absolute path) and whatever the caller adds (output folder,
command line). A nested fl_estimate output (``linkage/`` inside an annual run) is listed in
``"outputs"`` with its manifest hashed without its ``"run"`` block, so that the outer manifest
stays reproducible too. :func:`manifest_without_run` reads a manifest back without that block.

Figures
-------
:func:`save_figure` writes PNG, SVG or PDF with fixed metadata (no dates, no software stamp in
PNG) and ``svg.hashsalt`` set, so that SVG clip-path and glyph ids are the same on every run.
Byte identity holds on one machine with one set of library versions; zlib and fonts may differ
across machines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import functools
import hashlib
import io
import json
import math
import os
import platform
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from fl_estimate._io import atomic_write_bytes, atomic_write_text, package_versions, sha256_file

__all__ = [
    "FLOAT_DIGITS",
    "MANIFEST_NAME",
    "MARKER",
    "canonical",
    "deterministic_figures",
    "dumps_canonical",
    "folder_listing",
    "manifest_without_run",
    "move_out_of_output",
    "read_manifest",
    "relative_labels",
    "save_figure",
    "write_json",
    "write_manifest",
]

FLOAT_DIGITS = 12
"""Significant digits kept of every float written as JSON."""

MANIFEST_NAME = "manifest.json"
MARKER = "fl_estimate_output"
"""Manifest field that marks a folder as an fl_estimate output; its value is the output's kind."""

_MANIFEST_FORMAT = 1
_versions = functools.cache(package_versions)  # importlib.metadata is slow; versions do not change
SVG_HASH_SALT = "fl_estimate"


def _float(x: float, digits: int | None) -> float | None:
    x = float(x)
    if not math.isfinite(x):
        return None
    if digits is not None and x != 0.0:
        x = float(format(x, f".{digits}g"))
    return x + 0.0  # -0.0 -> 0.0


def canonical(obj: Any, *, digits: int | None = FLOAT_DIGITS) -> Any:
    """Convert ``obj`` to plain JSON types with the canonical float rule.

    Parameters
    ----------
    obj : object
        Mappings (keys become ``str``), lists, tuples, sets and frozensets (sorted by their
        canonical JSON), bool, int, float, str, None, numpy scalars and arrays, pandas DataFrame
        (records) and Series (dict), dates and datetimes (ISO 8601), paths (POSIX form), enums
        (their value) and dataclass instances (as dicts).
    digits : int or None
        Significant digits kept of floats; ``None`` keeps full precision.

    Returns
    -------
    object
        Built of dict, list, str, int, float, bool and None only.

    Raises
    ------
    TypeError
        For any other type.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return _float(obj, digits)
    if isinstance(obj, Mapping):
        return {str(k): canonical(v, digits=digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [canonical(v, digits=digits) for v in obj]
    if isinstance(obj, set | frozenset):
        items = [canonical(v, digits=digits) for v in obj]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, enum.Enum):
        return canonical(obj.value, digits=digits)
    if isinstance(obj, PurePath):
        return obj.as_posix()
    kind = type(obj).__module__.split(".")[0]
    if kind == "numpy":
        return canonical(obj.tolist(), digits=digits)  # a scalar gives a Python scalar
    if kind == "pandas":
        import pandas as pd

        if obj is pd.NA or obj is pd.NaT:
            return None
        if isinstance(obj, pd.DataFrame):
            return canonical(obj.to_dict(orient="records"), digits=digits)
        if isinstance(obj, pd.Series):
            return canonical(obj.to_dict(), digits=digits)
        if isinstance(obj, pd.Index):
            return canonical(obj.tolist(), digits=digits)
        if isinstance(obj, pd.Timestamp):
            return obj.isoformat()
    if isinstance(obj, _dt.date | _dt.time):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return canonical(dataclasses.asdict(obj), digits=digits)
    raise TypeError(f"cannot write a {type(obj).__name__} as canonical JSON: {obj!r:.80}")


def dumps_canonical(obj: Any, *, digits: int | None = FLOAT_DIGITS, indent: int = 2) -> str:
    """Canonical JSON text of ``obj`` (see the module notes), ending with a newline.

    Examples
    --------
    >>> print(dumps_canonical({"b": 0.1 + 0.2, "a": [float("nan"), -0.0, 3]}), end="")
    {
      "a": [
        null,
        0.0,
        3
      ],
      "b": 0.3
    }
    """
    text = json.dumps(
        canonical(obj, digits=digits),
        sort_keys=True,
        indent=indent,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ": "),
    )
    return text + "\n"


def write_json(path: str | Path, obj: Any, *, digits: int | None = FLOAT_DIGITS) -> None:
    """Write ``obj`` as canonical JSON (UTF-8), atomically."""
    atomic_write_text(path, dumps_canonical(obj, digits=digits))


# ---------------------------------------------------------------------------- figures


@contextlib.contextmanager
def deterministic_figures() -> Iterator[None]:
    """Within the block, matplotlib writes the same SVG ids on every run (``svg.hashsalt``)."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        yield


_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}


def save_figure(fig: Any, path: str | Path, *, dpi: int = 150, **kwargs: Any) -> None:
    """Save a matplotlib figure with fixed metadata and ids, atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        Its suffix (``.png``, ``.svg``, ``.pdf``) gives the format.
    dpi : int
        Resolution of raster output.
    **kwargs
        Passed to ``Figure.savefig`` (default ``bbox_inches="tight"``).
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in _METADATA:
        raise ValueError(f"cannot save a figure as {path.name}: use .png, .svg or .pdf")
    kwargs.setdefault("bbox_inches", "tight")
    buf = io.BytesIO()
    with deterministic_figures():
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=_METADATA[fmt], **kwargs)
    atomic_write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------------------- manifest


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of ``folder`` as a dict, or ``None`` if it has none (or it is not JSON)."""
    try:
        with open(Path(folder) / MANIFEST_NAME, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def manifest_without_run(path: str | Path) -> dict[str, Any]:
    """The manifest at ``path`` (a file or its folder) without its run-specific ``"run"`` block."""
    path = Path(path)
    data = read_manifest(path if path.is_dir() else path.parent)
    if data is None:
        raise FileNotFoundError(f"no readable {MANIFEST_NAME} at {path}")
    data.pop("run", None)
    return data


def _file_hash(path: Path) -> str:
    """SHA-256 of a file; a nested fl_estimate manifest is hashed without its ``"run"`` block."""
    if path.name == MANIFEST_NAME:
        data = read_manifest(path.parent)
        if data is not None and MARKER in data:
            data.pop("run", None)
            return hashlib.sha256(dumps_canonical(data).encode("utf-8")).hexdigest()
    return sha256_file(path)


def folder_listing(folder: str | Path) -> list[str]:
    """Relative POSIX paths of every file (and symbolic link) below ``folder``, sorted.

    The folder's own manifest is left out; empty folders do not appear.
    """
    folder = Path(folder)
    out: list[str] = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        names = files + [d for d in dirs if (base / d).is_symlink()]
        out += [(base / n).relative_to(folder).as_posix() for n in names]
    return sorted(p for p in out if p != MANIFEST_NAME)


def _input_entry(path: Path) -> dict[str, Any]:
    if path.is_dir():
        listing = folder_listing(path)
        h = hashlib.sha256()
        for rel in listing:
            h.update(f"{rel}\0{sha256_file(path / rel)}\n".encode())
        return {"files": len(listing), "sha256": h.hexdigest()}
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def relative_labels(
    paths: Sequence[str | Path], base: str | Path, *, names: Sequence[str] | None = None
) -> dict[str, Path]:
    """Manifest labels of input paths that do not depend on where the run happens.

    Parameters
    ----------
    paths : sequence of paths
    base : path
        Usually the configuration file's folder: a path below it is labelled by its POSIX path
        relative to it (``submissions/police_2023.csv``).
    names : sequence of str, optional
        A label for each path outside ``base`` (a role such as ``"population"``); by default its
        file name. Repeated labels get ``#2``, ``#3``...

    Returns
    -------
    dict of str to Path
        Label -> path, in the order given (a path given twice is kept once).

    Examples
    --------
    >>> relative_labels(["/d/cfg/a/x.csv", "/e/pop.csv"], "/d/cfg")
    {'a/x.csv': PosixPath('/d/cfg/a/x.csv'), 'pop.csv': PosixPath('/e/pop.csv')}
    """
    root = Path(os.path.realpath(base))
    out: dict[str, Path] = {}
    seen: set[Path] = set()
    for i, given in enumerate(paths):
        path = Path(given)
        real = Path(os.path.realpath(path))
        if real in seen:
            continue
        seen.add(real)
        if real == root or root in real.parents:
            label = real.relative_to(root).as_posix() or "."
        else:
            label = names[i] if names is not None else path.name
        candidate, k = label, 2
        while candidate in out:
            candidate, k = f"{label}#{k}", k + 1
        out[candidate] = path
    return out


def write_manifest(
    path: str | Path,
    *,
    kind: str,
    inputs: Mapping[str, str | Path],
    config: Mapping[str, Any],
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the manifest of the output folder that holds ``path``; write it last.

    Parameters
    ----------
    path : path
        Where to write it, normally ``FOLDER/manifest.json``; every other file below FOLDER is
        listed with its SHA-256 under ``"outputs"``.
    kind : str
        The kind of output (``"run"``, ``"link"``, ``"demo"``...), written as the marker by which
        :func:`fl_estimate.outputs.folder.publish_folder` recognises a folder it may replace.
    inputs : mapping of str to path
        Input files or folders by a label that does not depend on where the run happens (a path
        relative to the configuration file, say). Hashed; their absolute paths go into ``"run"``.
    config : mapping
        The configuration, written canonically. Put no absolute paths in it.
    run : mapping, optional
        Run-specific fields added to the ``"run"`` block (output folder, command line...).

    Returns
    -------
    dict
        The manifest as written.

    Raises
    ------
    ValueError
        If an input label is an absolute path.
    """
    path = Path(path)
    for label in inputs:
        if Path(label).is_absolute():
            raise ValueError(f"input label {label!r} is an absolute path; use a relative label")
    run_block: dict[str, Any] = {
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": platform.node(),
        "input_paths": {k: str(Path(p).resolve()) for k, p in inputs.items()},
    }
    run_block.update(run or {})
    folder = path.parent
    manifest = {
        MARKER: kind,
        "format": _MANIFEST_FORMAT,
        "inputs": {k: _input_entry(Path(p)) for k, p in inputs.items()},
        "config": dict(config),
        "versions": _versions(),
        "outputs": {rel: _file_hash(folder / rel) for rel in folder_listing(folder)},
        "run": run_block,
    }
    text = dumps_canonical(manifest)
    atomic_write_text(path, text)
    return json.loads(text)


def move_out_of_output(folder: str | Path, rel: str, dest: str | Path) -> None:
    """Move the file ``rel`` of the output folder ``folder`` to ``dest`` and drop it from the
    folder's manifest (its other entries unchanged), so the folder is still recognised as a
    complete fl_estimate output. Used where a composing run publishes a file in another form
    (the annual run's jointly disclosure-controlled counts replace the linkage's own table)."""
    import os

    folder, dest = Path(folder), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder / rel, dest)
    manifest = read_manifest(folder)
    if manifest is not None and rel in manifest.get("outputs", {}):
        del manifest["outputs"][rel]
        atomic_write_text(folder / MANIFEST_NAME, dumps_canonical(manifest))
