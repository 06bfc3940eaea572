"""The bad-input corpus (issue 19): every case exits 2 with one line naming the file (and the
row/column where there is one), no traceback, and nothing written or removed."""

from __future__ import annotations

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
