"""Provider templates from the registry: locked header, drop-down lists, explanations in French,
and a template filled with openpyxl from its own lists passes the submission check unchanged."""

from __future__ import annotations

import datetime
import time
import zipfile
from datetime import date
from itertools import cycle
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter

from fl_estimate.exceptions import InputValidationError
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import validate_submission
from fl_estimate.providers.template import TEMPLATE_COLUMNS, nationality_names, write_template

time_time = time.time
REGIONS = ["Tillabéri", "Zinder", "Niamey", "Agadez"]


@pytest.fixture
def registry() -> ProviderRegistry:
    return ProviderRegistry.from_frame(
        pd.DataFrame(
            {
                "provider": ["police", "tribunaux"],
                "entity_type": ["law_enforcement", "court_judiciary"],
                "frequency": ["quarterly", "annual"],
                "regions": [";".join(REGIONS), "Niamey;Maradi"],
                "first_period": ["2021-Q1", "2021"],
            }
        ),
        "registry.csv",
    )


def _validations(ws) -> dict[str, object]:
    """Template column name -> its DataValidation."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        (rng,) = str(dv.sqref).split()
        letter = rng.split(":")[0].rstrip("0123456789")
        out[TEMPLATE_COLUMNS[column_index_from_string(letter) - 1]] = dv
    return out


def _list_values(wb, formula: str) -> list[str]:
    """The values a drop-down offers: an explicit "a,b" list or a range of the lists sheet."""
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    sheet, rng = formula.rsplit("!", 1)
    ws = wb[sheet.strip("'")]
    return [row[0].value for row in ws[rng.replace("$", "")]]


def test_french_template_layout(registry: ProviderRegistry, tmp_path: Path) -> None:
    path = write_template(registry, "police", "2024-Q1", "fr", tmp_path / "police.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["données", "colonnes", "listes"]
    ws = wb["données"]
    assert [c.value for c in ws[1]] == list(TEMPLATE_COLUMNS)
    assert ws.protection.sheet and ws.protection.password is None
    assert all(c.protection.locked for c in ws[1])
    for j, col in enumerate(TEMPLATE_COLUMNS, start=1):
        dim = ws.column_dimensions[get_column_letter(j)]
        assert dim.protection.locked is False, col  # the data area stays editable
    fmt = {col: ws.column_dimensions[get_column_letter(j)].number_format
           for j, col in enumerate(TEMPLATE_COLUMNS, start=1)}  # fmt: skip
    assert fmt["date_identified"] == fmt["date_of_birth"] == "DD/MM/YYYY"
    assert fmt["phone"] == fmt["record_id"] == "@"
    assert ws["E1"].comment.text.startswith("date d'identification: Jour/mois/année")
    assert "du 01/01/2024 au 31/03/2024" in ws["E1"].comment.text

    dvs = _validations(ws)
    assert set(dvs) == {
        "provider", "period", "region", "date_identified", "sex", "age", "age_band",
        "nationality", "exploitation", "date_of_birth",
    }  # fmt: skip
    assert _list_values(wb, dvs["region"].formula1) == REGIONS
    assert _list_values(wb, dvs["provider"].formula1) == ["police"]
    assert _list_values(wb, dvs["sex"].formula1) == ["F", "M", "other", "unknown"]
    assert dvs["exploitation"].errorStyle == "warning"  # "A;B" must stay possible
    assert dvs["region"].errorStyle in (None, "stop")
    assert dvs["date_identified"].formula1 == "DATE(2024,1,1)"
    assert dvs["date_identified"].formula2 == "DATE(2024,3,31)"
    assert dvs["nationality"].prompt.startswith("Code ISO 3166 à trois lettres")

    lists = wb["listes"]
    nat = [c.value for c in lists[1]].index("nationalité") + 1
    pairs = {
        r[0].value: r[1].value for r in lists.iter_rows(min_row=2, min_col=nat, max_col=nat + 1)
    }
    assert pairs["NER"] == "Niger" and pairs["CIV"] == "Côte d’Ivoire"
    assert pairs["DEU"] == "Allemagne" and pairs["unknown"] == "nationalité inconnue"
    assert len(pairs) == 250  # 249 ISO 3166-1 countries and unknown

    explained = wb["colonnes"]
    assert explained["A1"].value == "Comment remplir ce fichier"
    rows = {r[0]: r for r in explained.iter_rows(values_only=True) if r[0] in TEMPLATE_COLUMNS}
    assert list(rows) == list(TEMPLATE_COLUMNS)
    assert rows["age_band"][1:3] == ("tranche d'âge", "non")
    assert rows["region"][1:3] == ("région", "oui")


def test_filled_template_passes_the_check_unchanged(
    registry: ProviderRegistry, tmp_path: Path
) -> None:
    """One row per nationality in the list, the other lists cycled: every value a drop-down
    offers is accepted by validate_submission (what `fl-estimate submissions check` runs)."""
    path = write_template(registry, "police", "2024-Q1", "fr", tmp_path / "police.xlsx")
    wb = load_workbook(path)
    ws = wb["données"]
    dvs = _validations(ws)
    offered = {c: _list_values(wb, dv.formula1) for c, dv in dvs.items() if dv.type == "list"}
    lists = {c: cycle(v) for c, v in offered.items() if c != "nationality"}
    col = {c: j for j, c in enumerate(TEMPLATE_COLUMNS, start=1)}
    for i, nat in enumerate(offered["nationality"]):
        r = i + 2
        values = {c: next(it) for c, it in lists.items()}
        values.update(
            record_id=f"P-{i:04d}",
            nationality=nat,
            date_identified=date(2024, 1 + i % 3, 1 + i % 28),
            given_name="Aïcha" if i % 2 else "Élodie",
            family_name="Maïga-N’Diaye",
            document_number=f"0{i:07d}",
        )
        if i % 3:
            values.pop("age_band")
            values["age"] = 12 + i % 50
        if i % 5 == 0:
            values["exploitation"] = "ForcedLabour;ForcedBegging"
            values["date_of_birth"] = date(1990, 5, 17)
            if "age" in values:
                values["age"] = 33  # consistent with the date of birth (identified in 2024-Q1)
        for c, v in values.items():
            ws.cell(r, col[c], v)
    wb.save(path)

    report, clean = validate_submission(
        path, regions=registry.regions_of(), providers=registry.providers
    )
    assert report.accepted, report.to_text()
    assert clean is not None and len(clean) == len(offered["nationality"]) == 250
    assert set(clean["region"]) == set(REGIONS)
    assert clean.loc[0, "date_identified"] == "2024-01-01"
    assert clean.loc[0, "document_number"] == "00000000"


def test_english_template_and_same_bytes(
    registry: ProviderRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_template(registry, "tribunaux", "2024", "en", tmp_path / "a.xlsx")
    # a later run (clock moved on by a day) writes the same bytes: no timestamp gets in
    real = datetime.datetime

    class Tomorrow(real):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return real.now(tz) + datetime.timedelta(days=1)

    monkeypatch.setattr(datetime, "datetime", Tomorrow)
    monkeypatch.setattr(time, "time", lambda: time_time() + 86400)
    b = write_template(registry, "tribunaux", "2024", "en", tmp_path / "b.xlsx")
    monkeypatch.undo()
    assert a.read_bytes() == b.read_bytes()
    wb = load_workbook(a)
    assert wb.sheetnames == ["data", "columns", "lists"]
    assert dict(nationality_names("en"))["DEU"] == "Germany"
    dvs = _validations(wb["data"])
    assert _list_values(wb, dvs["region"].formula1) == ["Niamey", "Maradi"]
    assert dvs["date_identified"].formula2 == "DATE(2024,12,31)"


def test_template_refuses_bad_arguments(registry: ProviderRegistry, tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    with pytest.raises(InputValidationError, match="'gendarmerie' is not in the registry"):
        write_template(registry, "gendarmerie", "2024-Q1", "fr", out)
    with pytest.raises(InputValidationError, match="every year: the period must be a year YYYY"):
        write_template(registry, "tribunaux", "2024-Q1", "en", out)
    with pytest.raises(InputValidationError, match="unsupported language"):
        write_template(registry, "police", "2024-Q1", "de", out)
    assert not out.exists()


def test_formula_like_registry_text_is_written_as_text(tmp_path: Path) -> None:
    reg = ProviderRegistry.from_frame(
        pd.DataFrame(
            {
                "provider": ["ngo"],
                "entity_type": ["ngo_service_provider"],
                "frequency": ["annual"],
                "regions": ['=HYPERLINK("http://evil.example","x");Nord'],
                "first_period": ["2021"],
            }
        )
    )
    path = write_template(reg, "ngo", "2024", "en", tmp_path / "t.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in z.read(n) for n in sheets)  # no formula anywhere
    wb = load_workbook(path)
    assert _list_values(wb, _validations(wb["data"])["region"].formula1) == [
        '=HYPERLINK("http://evil.example","x")',
        "Nord",
    ]


def test_template_from_the_sample_registry_file(tmp_path: Path) -> None:
    reg = Path(__file__).resolve().parents[2] / "data_samples" / "country" / "registry.csv"
    path = write_template(reg, "ngo", "2023-Q4", "fr", tmp_path / "ngo.xlsx")
    wb = load_workbook(path)
    dvs = _validations(wb["données"])
    assert _list_values(wb, dvs["region"].formula1) == [
        "North", "South", "East", "West", "Central",
    ]  # fmt: skip
