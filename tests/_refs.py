"""Paths and reference records shared by the tests (reference data read relative to this file)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
MSE_DATA = DATA / "mse"
SHARED = TESTS.parent.parent / "shared"

BENCHMARK_TABLES = sorted(p.stem for p in MSE_DATA.glob("*.csv"))


@cache
def peer_results() -> list[dict]:
    return json.loads((MSE_DATA / "peer_results.json").read_text())


def peer(dataset: str, peer_name: str, method_prefix: str, **settings: object) -> dict:
    """The one peer record for a table whose method starts with ``method_prefix``."""
    recs = [
        r
        for r in peer_results()
        if r["dataset"] == dataset
        and r["peer"] == peer_name
        and r["method"].startswith(method_prefix)
        and all(r.get("settings", {}).get(k) == v for k, v in settings.items())
    ]
    exact = [r for r in recs if r["method"] == method_prefix]
    if exact:
        recs = exact
    if len(recs) != 1:
        raise LookupError(
            f"{len(recs)} records for {dataset} {peer_name} {method_prefix} {settings}"
        )
    return recs[0]
