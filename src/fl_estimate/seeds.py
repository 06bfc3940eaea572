"""Random streams derived from one seed by a key, never by position.

A run has one seed. Every random stream in it (a stratum's bootstrap, a national fit, the
resampling that adds strata into a total, a sensitivity case) gets its own
:class:`numpy.random.SeedSequence`, derived from the run's seed and a *key* that names what the
stream is for, such as ``("stratum", "North", 2022)`` or ``("sensitivity", 2022, "without
police")``. The key is hashed (SHA-256 of its canonical JSON) into the sequence's ``spawn_key``,
so a stream depends only on the run's seed and its own key: adding a year, a region or a method
to a run leaves every other stream, and so every other figure, as it was; so does the order in
which strata are fitted or the number of workers.

>>> key_seed(7, "stratum", "North", 2022) == key_seed(7, "stratum", "North", 2022)
True
>>> key_seed(7, "stratum", "North", 2022) != key_seed(7, "stratum", "North", 2023)
True
>>> import numpy as np
>>> key_seed(7, "national", np.int64(2022)) == key_seed(7, "national", 2022)
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from typing import Any

import numpy as np

__all__ = ["key_seed", "seed_sequence"]


def _canonical(value: Any) -> Any:
    """JSON-ready form of a key element (numpy scalars as Python values, tuples as lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a seed key holds str, int, float, bool or None values, got {value!r}")


def _key_words(key: tuple[Hashable, ...]) -> tuple[int, ...]:
    """Four 32-bit words from the SHA-256 of the key's canonical JSON."""
    text = json.dumps(_canonical(key), separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def seed_sequence(root: int | np.random.SeedSequence, *key: Hashable) -> np.random.SeedSequence:
    """The seed sequence of the stream named ``key`` under the run's seed ``root``.

    Parameters
    ----------
    root : int or SeedSequence
        The run's seed.
    *key : str, int, float, bool or None (or tuples of them)
        What the stream is for, e.g. ``"stratum", "North", 2022``. NumPy scalars count as the
        Python values they hold.

    Returns
    -------
    numpy.random.SeedSequence
        A child of ``root`` (its ``spawn_key`` extended by the key's hash).
    """
    base = root if isinstance(root, np.random.SeedSequence) else np.random.SeedSequence(root)
    return np.random.SeedSequence(
        base.entropy,
        spawn_key=(*base.spawn_key, *_key_words(tuple(key))),
        pool_size=base.pool_size,
    )


def key_seed(root: int | np.random.SeedSequence, *key: Hashable) -> int:
    """An integer seed (63 bits) for the stream named ``key``: what estimators take as ``seed``
    and record in their provenance. See :func:`seed_sequence`."""
    return int(seed_sequence(root, *key).generate_state(1, np.uint64)[0] >> np.uint64(1))
