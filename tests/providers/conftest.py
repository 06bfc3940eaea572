from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fl_estimate.pipeline.linkage_sensitivity import run_link
from fl_estimate.providers.linkrun import LinkRun

COUNTRY = Path(__file__).resolve().parents[2] / "data_samples" / "country"


@pytest.fixture(scope="session")
def country_dir() -> Path:
    assert (COUNTRY / "link.toml").is_file(), "run data_samples/make_country.py"
    return COUNTRY


@pytest.fixture(scope="session")
def link_run(country_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LinkRun:
    """The whole path on the sample country, once per session (about 10 s)."""
    out = tmp_path_factory.mktemp("link") / "out"
    lines: list[str] = []
    run = run_link(country_dir / "link.toml", out=out, echo=lines.append)
    (out.parent / "echo.log").write_text("\n".join(lines))
    return run


@pytest.fixture(scope="session")
def truth(country_dir: Path) -> pd.DataFrame:
    return pd.read_csv(country_dir / "truth" / "records.csv")
