"""``fl-estimate submissions template`` and the run's report language setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_estimate.cli import main
from fl_estimate.exceptions import InputValidationError

ROOT = Path(__file__).resolve().parents[2]


def test_template_command_writes_french_workbook(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "police_2024-Q1.xlsx"
    code = main(
        [
            "submissions",
            "template",
            "--registry",
            str(ROOT / "data_samples/pays/registry.csv"),
            "--provider",
            "police",
            "--period",
            "2024-Q1",
            "--lang",
            "fr",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "données" and "colonnes" in wb.sheetnames


def test_template_command_unknown_provider_exits_2(tmp_path: Path) -> None:
    code = main(
        [
            "submissions",
            "template",
            "--registry",
            str(ROOT / "data_samples/pays/registry.csv"),
            "--provider",
            "nobody",
            "--period",
            "2024-Q1",
            "--out",
            str(tmp_path / "x.xlsx"),
        ]
    )
    assert code == 2


def test_report_language_read_and_checked(tmp_path: Path) -> None:
    from fl_estimate.pipeline.config import read_run_config

    assert read_run_config(ROOT / "data_samples/pays.toml").language == "fr"
    text = (ROOT / "data_samples/pays.toml").read_text(encoding="utf-8")
    bad = tmp_path / "pays.toml"
    bad.write_text(
        text.replace('language = "fr"', 'language = "de"').replace(
            '"pays/', f'"{ROOT}/data_samples/pays/'
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputValidationError, match="language"):
        read_run_config(bad)
