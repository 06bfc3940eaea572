"""The bad-input corpus (issue 19): every case exits 2 with one line naming the file (and the
row/column where there is one), no traceback, and nothing written or removed."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fuzz.corpus import cases, run_case

CASES = cases()


def test_corpus_is_large_and_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_clean_error(case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path)
    assert outcome.kind == "clean", f"{outcome.why}\nstderr: {outcome.stderr}"
    assert outcome.code == 2
    assert outcome.stderr.startswith("fl-estimate: error:")


def _in_french(name: str) -> str | None:
    """What the French error line names instead of ``name``: ``ligne 3`` for ``row 3``; file
    names as they are; English words (``folder``, ``line``) have no one-word French check."""
    if re.fullmatch(r"row \d+", name):
        return name.replace("row", "ligne")
    return name if re.search(r"[./\\]", name) else None


#: Every third case, in French (FL_ESTIMATE_LANG=fr): the catalogs render every message without
#: error and the line still names the file and row (a third keeps the corpus's run time modest).
FRENCH = CASES[::3]


@pytest.mark.parametrize("case", FRENCH, ids=[c.id for c in FRENCH])
def test_bad_input_is_a_clean_error_in_french(case, tmp_path: Path) -> None:
    names = tuple(n for n in map(_in_french, case.names) if n is not None)
    french = replace(case, env={**case.env, "FL_ESTIMATE_LANG": "fr"}, names=names)
    outcome = run_case(french, tmp_path)
    assert outcome.kind == "clean", f"{outcome.why}\nstderr: {outcome.stderr}"
    assert outcome.code == 2
    assert outcome.stderr.startswith("fl-estimate: erreur\u00a0:"), outcome.stderr
