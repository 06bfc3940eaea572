"""Fits cached by a hash of everything they depend on, so that a rerun refits only what changed.

A fit's result is a function of: the table fitted (lists, capture patterns and counts, the stratum
it is and its source's name), the method, the method's options, the seed (derived from the run's
seed by the stream's key, :mod:`fl_estimate.seeds`) and that key, and the code (fl_estimate's
version and a digest of its source files, and the versions of the numerical libraries). The cache
key is the SHA-256 of the canonical JSON of all of them, with the table's arrays hashed as bytes: a
cached result is used exactly when every one of them is the same, so a rerun with nothing changed
fits nothing, and adding a year fits only the new year's strata and pooled table.

The linkage of provider submissions (:func:`fl_estimate.providers.linkrun.link_submissions`) is
cached the same way, by the bytes of every input file, the linkage configuration, the key's
fingerprint and the completeness date. A linkage index (``FOLDER/linkage-index/<key>.json``, by
the settings that change the persons linked) lists the cached linkages with their submission
files' digests: a run whose submissions are an earlier linkage's, byte for byte, plus new
periods extends that linkage instead of linking everything again
(:func:`fl_estimate.providers.linkrun.extend_submissions`; docs/config.md, "Incremental
linkage").

Layout: ``FOLDER/<kind>/<first two hex digits>/<key>.pkl`` (pickles written atomically), the
folder mode 0700: it holds fitted results and the pseudonymised linkage, as internal as
``OUT.internal``. Where FOLDER is, and how to clear or switch off the cache: docs/config.md,
"Fit cache". A pickle that cannot be read (truncated, from other library versions) counts as a
miss and is replaced. Only point the cache at a folder that you alone can write: a pickle runs
code when it is read.

Examples
--------
>>> import tempfile
>>> import pandas as pd
>>> from fl_estimate.mse.data import CaptureData
>>> t = CaptureData.from_counts(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [9, 8, 2]}))
>>> with tempfile.TemporaryDirectory() as tmp:
...     cache = FitCache(tmp)
...     key = cache.fit_key(t, "lp", {}, 7, ("stratum", "North"))
...     first = cache.call(key, lambda: 9 * 8 / 2)
...     again = cache.call(key, lambda: 1 / 0)       # not called: the cached value is used
>>> first, again, cache.hits, cache.stored
(36.0, 36.0, 1, 1)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import warnings
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from fl_estimate._io import atomic_write_text
from fl_estimate._version import __version__
from fl_estimate.exceptions import FLEstimateError, FLEstimateWarning, InputValidationError, Problem
from fl_estimate.i18n import N_, message_of
from fl_estimate.mse.data import CaptureData
from fl_estimate.outputs import dumps_canonical

__all__ = [
    "CACHE_ENV_VAR",
    "CachedFit",
    "FitCache",
    "capture",
    "default_cache_folder",
    "run_cache",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Environment variable naming the default cache folder (``off`` switches the default off).
CACHE_ENV_VAR = "FL_ESTIMATE_CACHE"

#: Libraries whose versions are part of every key (a new version may change a result's last bits).
_LIBRARIES = ("numpy", "scipy", "pandas", "numba", "pymc", "pytensor", "arviz", "splink", "duckdb")


def default_cache_folder() -> Path | None:
    """The cache folder used when the run config names none: ``$FL_ESTIMATE_CACHE`` when set
    (``off`` or empty: no cache), else ``$XDG_CACHE_HOME/fl_estimate``, else
    ``~/.cache/fl_estimate``."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "false", "no") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fl_estimate"


@lru_cache(maxsize=1)
def code_versions() -> dict[str, str]:
    """fl_estimate's version and the SHA-256 of its source files (a changed line in a source
    tree with an unchanged version still invalidates every entry), and the libraries' versions."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    out = {"fl_estimate": __version__, "fl_estimate_source": digest.hexdigest()}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = ""
    return out


def table_digest(table: CaptureData) -> dict[str, Any]:
    """What a fit reads of a table: its lists, stratum and source, and the SHA-256 of its capture
    patterns and counts (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for arr in (table.patterns, table.counts):
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes(order="C"))
    return {
        "type": type(table).__name__,
        "lists": list(table.lists),
        "stratum": dict(table.stratum),
        "source": table.source,
        "cells": h.hexdigest(),
    }


@dataclass(frozen=True)
class CachedFit:
    """A value (a result) and the package warnings (category, message) given while making it."""

    value: Any
    warnings: tuple[tuple[type[Warning], str], ...] = ()

    @property
    def messages(self) -> list[str]:
        return [msg for _, msg in self.warnings]

    def replay(self) -> None:
        """Give the recorded warnings again (as a fit that was not cached would)."""
        for category, msg in self.warnings:
            warnings.warn(msg, category, stacklevel=3)


def capture(fn: Callable[[], Any]) -> CachedFit:
    """Call ``fn`` and keep its value and the package warnings it gave (other warnings are
    dropped, as the annual run drops them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FLEstimateWarning)
        value = fn()
    kept = tuple(
        # the Message, not its English text: a French report translates the warning
        (w.category, message_of(w.message))
        for w in caught
        if issubclass(w.category, FLEstimateWarning)
    )
    return CachedFit(value, kept)


@dataclass
class FitCache:
    """Pickled fits in ``folder`` by key (``folder=None``: no cache; every call computes).

    ``hits`` counts values read from the cache, ``stored`` values computed and written (what a
    test counts: a rerun with nothing changed stores nothing).
    """

    folder: Path | None
    hits: int = 0
    stored: int = 0
    _made: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.folder is not None:
            self.folder = Path(self.folder)

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def key(self, kind: str, **parts: Any) -> str:
        """``kind`` and the SHA-256 of the canonical JSON of ``parts`` and the code's versions."""
        text = dumps_canonical({"parts": parts, "code": code_versions()}, digits=None, indent=0)
        return f"{kind}/{hashlib.sha256(text.encode('utf-8')).hexdigest()}"

    def fit_key(
        self,
        table: CaptureData,
        method: str,
        options: Mapping[str, Any],
        seed: int | None,
        seed_key: tuple[Hashable, ...],
    ) -> str:
        """The key of fitting ``table`` with ``method`` and ``options`` under ``seed``, the seed
        of the stream ``seed_key``."""
        return self.key(
            "fit",
            table=table_digest(table),
            method=method,
            options=dict(options),
            seed=seed,
            seed_key=list(seed_key),
        )

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        kind, digest = key.split("/")
        return self.folder / kind / digest[:2] / f"{digest}.pkl"

    def get(self, key: str) -> CachedFit | None:
        """The cached fit of ``key``, or None (no cache, no entry, or an entry that cannot be
        read)."""
        if self.folder is None:
            return None
        path = self._path(key)
        try:
            with path.open("rb") as fh:
                value = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # truncated, or pickled by other library versions: refit
            log.info(
                "fit cache: unreadable entry %s (%s), refitting", path.name, type(exc).__name__
            )
            return None
        if not isinstance(value, CachedFit):
            return None
        self.hits += 1
        return value

    def put(self, key: str, fit: CachedFit) -> None:
        """Write ``fit`` under ``key`` (atomically: a reader sees the whole pickle or none)."""
        if self.folder is None:
            return
        self.stored += 1
        path = self._path(key)
        if not self._made:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._made = True
        for folder in (path.parent.parent, path.parent):  # <kind>/, then <kind>/<xx>/
            folder.mkdir(exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as fh:
                pickle.dump(fit, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only cache never ends the run
            tmp.unlink(missing_ok=True)
            log.warning("fit cache: could not write %s (%s)", path, exc)

    def call(self, key: str, fn: Callable[[], T]) -> T:
        """``fn()``'s value from the cache, or computed and stored; its package warnings are given
        either way."""
        fit = self.get(key)
        if fit is None:
            fit = capture(fn)
            self.put(key, fit)
        fit.replay()
        return fit.value

    @staticmethod
    def _digests(config: Any, files: list[Path]) -> dict[str, str]:
        """Each input file's SHA-256 by its path relative to the config's folder."""
        base = Path(config.base_dir)
        out = {}
        for f in files:
            rel = os.path.relpath(Path(f).resolve(), base.resolve())
            out[Path(rel).as_posix()] = hashlib.sha256(Path(f).read_bytes()).hexdigest()
        return out

    @staticmethod
    def _fingerprint(config: Any) -> str | None:
        from fl_estimate.providers.pseudonymise import Pseudonymiser

        try:
            key_file = config.resolve(config.key_file) if config.key_file else None
            return Pseudonymiser.from_env(config.key_env, key_file).fingerprint
        except FLEstimateError:  # no key, or a bad one: linking says so (and is not cached)
            return None

    def linkage_key(self, config: Any, files: list[Path]) -> str:
        """The key of linking a linkage config's submissions: the config's settings and folder,
        every input file's name (relative to the config's folder) and SHA-256, the key's
        fingerprint and the completeness date (``as_of``, else today)."""
        return self.key(
            "linkage",
            settings=asdict(config),  # its folder too: the linked records name their files
            inputs=self._digests(config, files),
            key_fingerprint=self._fingerprint(config),
            as_of=config.as_of or date.today().isoformat(),
        )

    def _family(self, config: Any, files: list[Path]) -> tuple[Path, dict[str, str]]:
        """The index file of the linkages an incremental linkage of ``config`` may extend (the
        same linking settings, registry, key file and key fingerprint, wherever the config's
        folder is), and the current submission files' digests."""
        from fl_estimate.providers.linkrun import REMADE_SETTINGS, submission_inputs

        assert self.folder is not None
        digests = self._digests(config, files)
        subs = set(submission_inputs(config))
        own = self._digests(config, [Path(config.path)]) if config.path else {}
        settings = {k: v for k, v in asdict(config).items() if k not in REMADE_SETTINGS}
        family = self.key(
            "linkage-index",
            settings=settings,
            others={k: v for k, v in digests.items() if k not in subs and k not in own},
            key_fingerprint=self._fingerprint(config),
        )
        kind, digest = family.split("/")
        return self.folder / kind / f"{digest}.json", {k: digests[k] for k in subs}

    def remember_linkage(self, config: Any, files: list[Path], key: str) -> None:
        """Note in the linkage index that ``key`` links these submission files (a small JSON
        file beside the pickles, not counted in ``hits`` or ``stored``)."""
        if self.folder is None:
            return
        path, subs = self._family(config, files)
        entries = self._index(path)
        if any(e.get("key") == key for e in entries):
            return
        entries.append({"key": key, "inputs": subs})
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_text(path, dumps_canonical({"linkages": entries}, digits=None))
        except OSError as exc:  # a full or read-only cache never ends the run
            log.warning("fit cache: could not write %s (%s)", path, exc)

    @staticmethod
    def _index(path: Path) -> list[dict[str, Any]]:
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("linkages", [])
        except (OSError, ValueError, AttributeError):
            return []
        return [e for e in found if isinstance(e, dict) and isinstance(e.get("inputs"), dict)]

    def earlier_linkage(self, config: Any, files: list[Path]) -> tuple[Any, set[str]] | None:
        """The largest cached linkage of the same settings whose every submission file is still
        an input with the same bytes, and those files (relative paths); None when there is none
        (then everything is linked)."""
        if self.folder is None:
            return None
        path, subs = self._family(config, files)
        fits = [
            e for e in self._index(path)
            if e["inputs"] and len(e["inputs"]) < len(subs)
            and all(subs.get(k) == v for k, v in e["inputs"].items())
        ]  # fmt: skip
        for entry in sorted(fits, key=lambda e: -len(e["inputs"])):
            found = self.get(str(entry["key"]))
            if found is not None:
                return found.value, set(entry["inputs"])
        return None

    def _publication_path(self, series: Mapping[str, Any]) -> Path:
        assert self.folder is not None
        text = dumps_canonical(dict(series), digits=None, indent=0)
        return self.folder / "publication" / f"{hashlib.sha256(text.encode()).hexdigest()}.pkl"

    def previous_publication(
        self, series: Mapping[str, Any]
    ) -> dict[Hashable, tuple[int, bool]] | None:
        """The suppression pattern of the last publication of ``series`` (every cell's value
        and whether it was hidden: :attr:`fl_estimate.disclosure.LinkedProtection.pattern`), or
        None. Keyed by the series alone (not by the code's version: an upgrade between two
        years keeps last year's pattern); not counted in ``hits``."""
        if self.folder is None:
            return None
        try:
            with self._publication_path(series).open("rb") as fh:
                found = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreadable: the pattern is made afresh (and logged)
            log.warning("fit cache: previous publication unreadable (%s)", type(exc).__name__)
            return None
        return found if isinstance(found, dict) else None

    def remember_publication(
        self, series: Mapping[str, Any], pattern: Mapping[Hashable, tuple[int, bool]]
    ) -> None:
        """Keep ``pattern`` as the last publication of ``series`` (written atomically; not
        counted in ``stored``)."""
        if self.folder is None:
            return
        path = self._publication_path(series)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            with tmp.open("wb") as fh:
                pickle.dump(dict(pattern), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only cache never ends the run
            tmp.unlink(missing_ok=True)
            log.warning("fit cache: could not write %s (%s)", path, exc)


def run_cache(config: Any, out: str | Path, override: bool | str | Path | None = None) -> FitCache:
    """The fit cache of an annual run writing to ``out``.

    Parameters
    ----------
    config : RunConfig
        Its ``cache`` (the folder ``[run] cache`` names, the default one, or None: off).
    out : path
        The run's output folder: the cache may not lie inside it or its internal folder, which
        every run replaces.
    override : bool or path, optional
        False: no cache (``--no-cache``); True: the config's folder or the default one; a path:
        that folder.

    Raises
    ------
    InputValidationError
        A cache folder inside the output folders, or a file in its place (naming the config
        file and ``[run] cache``).
    """
    from fl_estimate.providers.linkrun import internal_folder

    if override is False:
        return FitCache(None)
    if override is None or override is True:
        folder = config.cache if override is None else config.cache or default_cache_folder()
    else:
        folder = Path(override)
    if folder is None:
        return FitCache(None)
    folder = Path(folder).resolve()
    src = Path(config.path).name
    out = Path(out).resolve()
    for place in (out, internal_folder(out)):
        if folder == place or place in folder.parents:
            raise InputValidationError(
                [
                    Problem(
                        N_(
                            "[run] cache: the fit cache folder {folder} is inside the output "
                            "folder {place}, which every run replaces; name a folder outside it",
                            folder=folder,
                            place=place,
                        ),
                        source=src,
                    )
                ]
            )
    if folder.exists() and not folder.is_dir():
        raise InputValidationError(
            [
                Problem(
                    N_("[run] cache: {folder} is a file, not a folder", folder=folder), source=src
                )
            ]
        )
    return FitCache(folder)
