"""Excel templates for providers, made from the registry, in the provider's language.

:func:`write_template` writes one workbook per provider and period: the data sheet has the
submission columns (:data:`~fl_estimate.providers.submissions.SUBMISSION_COLUMNS`) in a locked
header row, drop-down lists (Excel data validation) for the provider's regions, sex, age group,
nationality (ISO 3166-1 alpha-3 codes; the names, in the language, on the lists sheet) and forms
of exploitation, dates shown day first, and a note on each heading. A second sheet explains each
column in the language; a third holds the lists. The sheet is protected without a password, only
against accidental edits of the header: every cell below it stays editable.

The codes in the lists are the values :func:`~fl_estimate.providers.submissions.validate_submission`
accepts, so a file filled from the lists passes ``fl-estimate submissions check`` unchanged.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_estimate._io import atomic_write_bytes
from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, Message, format_date, language_of, translate
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import (
    AGE_BANDS,
    EXPLOITATION_FORMS,
    SEX_VALUES,
    SUBMISSION_COLUMNS,
    period_bounds,
)

if TYPE_CHECKING:
    from openpyxl.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["TEMPLATE_COLUMNS", "nationality_names", "write_template"]

#: Columns of the template, in order: the submission format without the pseudonymous keys
#: (providers sending keys fill the template, then run ``submissions pseudonymise``).
TEMPLATE_COLUMNS = tuple(c for c, _, _ in SUBMISSION_COLUMNS if not c.startswith("key_"))
_REQUIRED = {c for c, required, _ in SUBMISSION_COLUMNS if required}
_DATE_COLUMNS = ("date_identified", "date_of_birth")
_TEXT_COLUMNS = ("record_id", "document_number", "phone")  # keep leading zeros
_DAY_FIRST = "DD/MM/YYYY"
_LAST_ROW = 1_048_576  # validations and formats cover the whole sheet
_FIXED_TIME = datetime(2000, 1, 1)  # workbook metadata: same bytes for the same template

#: Label of each template column, in English (the msgid).
_LABELS: dict[str, Message] = {
    "provider": N_("provider"),
    "period": N_("period"),
    "record_id": N_("record number"),
    "region": N_("region"),
    "date_identified": N_("date of identification"),
    "sex": N_("sex"),
    "age": N_("age"),
    "age_band": N_("age group"),
    "nationality": N_("nationality"),
    "exploitation": N_("form of exploitation"),
    "given_name": N_("given names"),
    "family_name": N_("family name"),
    "date_of_birth": N_("date of birth"),
    "document_number": N_("document number"),
    "phone": N_("phone"),
}
#: What to enter in each column, in English; ``{provider}``, ``{period}``, ``{start}`` and
#: ``{end}`` are filled in for the template.
_HELP: dict[str, Message] = {
    "provider": N_("Your provider code; always {provider}."),
    "period": N_("The reporting period; always {period}."),
    "record_id": N_("Your own number for the record; each row has a different one."),
    "region": N_("Region where the person was identified (from the list)."),
    "date_identified": N_(
        "Day/month/year the person was identified, inside the period ({start} to {end})."
    ),
    "sex": N_("F, M, other or unknown (from the list)."),
    "age": N_("Age in whole years when identified (0 to 120); leave empty if not known."),
    "age_band": N_("child (under 18), adult or unknown: fill it when the age is not known."),
    "nationality": N_("Three-letter ISO 3166 code of the country of citizenship, or unknown "
                      "(see the list sheet for the names)."),
    "exploitation": N_("Form of exploitation from the list; for several, type the codes "
                       "joined with ';' (e.g. ForcedLabour;ForcedBegging)."),
    "given_name": N_("Given name(s) as written in the file."),
    "family_name": N_("Family name(s) as written in the file."),
    "date_of_birth": N_("Day/month/year of birth, if known."),
    "document_number": N_("Number of an identity or travel document, if any."),
    "phone": N_("Phone number, if any."),
}  # fmt: skip
_SEX_LABELS = {
    "F": N_("female"),
    "M": N_("male"),
    "other": N_("other"),
    "unknown": N_("sex unknown"),
}
_AGE_LABELS = {
    "child": N_("child (under 18)"),
    "adult": N_("adult (18 or over)"),
    "unknown": N_("age unknown"),
}
_EXPLOITATION_LABELS = {
    "ForcedLabour": N_("forced labour"),
    "SexualExploitation": N_("sexual exploitation"),
    "ChildLabour": N_("child labour"),
    "ForcedMarriage": N_("forced marriage"),
    "Servitude": N_("servitude, domestic servitude included"),
    "ForcedMilitaryByNonStateActors": N_("forced recruitment by non-state armed groups"),
    "OrganRemoval": N_("removal of organs"),
    "ForcedBegging": N_("forced begging"),
    "ForcedAdoption": N_("forced or illegal adoption"),
    "Surrogacy": N_("forced surrogacy"),
    "Other": N_("other form"),
    "Unknown": N_("form unknown"),
}
_SHEETS = (N_("data"), N_("columns"), N_("lists"))


def _sort_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def nationality_names(lang: str) -> list[tuple[str, str]]:
    """``(alpha-3 code, country name in lang)`` for every ISO 3166-1 country, sorted by name.

    Names are CLDR territory names (Babel), falling back to the ISO name; ``unknown`` comes first.

    Examples
    --------
    >>> dict(nationality_names("fr"))["CIV"]
    'Côte d’Ivoire'
    """
    import pycountry
    from babel import Locale

    territories = Locale.parse(language_of(lang)).territories
    rows = [(c.alpha_3, territories.get(c.alpha_2, c.name)) for c in pycountry.countries]
    rows.sort(key=lambda r: (_sort_key(r[1]), r[0]))
    return [("unknown", translate(N_("nationality unknown"), lang)), *rows]


def _check_provider(registry: ProviderRegistry, provider: str, period: str) -> None:
    """Raise unless ``provider`` is in the registry and ``period`` is of its frequency."""
    rows = {str(r["provider"]): r for r in registry.table.to_dict("records")}
    if provider not in rows:
        raise InputValidationError(
            [
                Problem(
                    N_("provider {provider!r} is not in the registry; expected one of "
                       "{providers}", provider=provider, providers=", ".join(rows)),
                    column="provider",
                    value=provider,
                )
            ]
        )  # fmt: skip
    row = rows[provider]
    quarterly = row["frequency"] == "quarterly"
    pattern = r"\d{4}-Q[1-4]" if quarterly else r"\d{4}"
    if not re.fullmatch(pattern, period):
        expected = N_("a quarter YYYY-Qn") if quarterly else N_("a year YYYY")
        raise InputValidationError(
            [
                Problem(
                    N_("{provider} reports {frequency}: the period must be {expected}",
                       provider=provider, expected=expected,
                       frequency=N_("every quarter") if quarterly else N_("every year")),
                    column="period",
                    value=period,
                )
            ]
        )  # fmt: skip


def _lists(
    registry: ProviderRegistry, provider: str, period: str, lang: str
) -> dict[str, list[tuple[str, str]]]:
    """Column -> (code, label) pairs of its drop-down list."""

    def labelled(codes: tuple[str, ...], labels: dict[str, Message]) -> list[tuple[str, str]]:
        return [(c, translate(labels[c], lang)) for c in codes]

    return {
        "provider": [(provider, provider)],
        "period": [(period, period)],
        "region": [(r, r) for r in registry.regions_of()[provider]],
        "sex": labelled(SEX_VALUES, _SEX_LABELS),
        "age_band": labelled(AGE_BANDS, _AGE_LABELS),
        "nationality": nationality_names(lang),
        "exploitation": labelled(EXPLOITATION_FORMS, _EXPLOITATION_LABELS),
    }


def _header_style(ws: Worksheet, ncols: int) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill, Protection

    for cell in ws[1][:ncols]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        cell.protection = Protection(locked=True)


def _lists_sheet(
    ws: Worksheet, lists: dict[str, list[tuple[str, str]]], lang: str
) -> dict[str, str]:
    """Write each list as a (code, label) column pair; return column -> range of its codes."""
    from openpyxl.utils import get_column_letter, quote_sheetname

    ranges = {}
    for k, (col, pairs) in enumerate(lists.items()):
        code_col, label_col = 2 * k + 1, 2 * k + 2
        heading = translate(_LABELS[col], lang)
        ws.cell(1, code_col, heading)
        ws.cell(1, label_col, heading)
        for i, (code, label) in enumerate(pairs, start=2):
            for j, text in ((code_col, code), (label_col, label)):
                # registry text that looks like a formula ("=...") is written as text
                ws.cell(i, j, text).data_type = "s"
        letter = get_column_letter(code_col)
        ranges[col] = f"{quote_sheetname(ws.title)}!${letter}$2:${letter}${len(pairs) + 1}"
        ws.column_dimensions[letter].width = 14
        ws.column_dimensions[get_column_letter(label_col)].width = 36
    _header_style(ws, 2 * len(lists))
    ws.freeze_panes = "A2"
    ws.protection.sheet = True
    return ranges


def _validations(
    ws: Worksheet,
    ranges: dict[str, str],
    provider: str,
    period: str,
    lang: str,
) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    start, end = (t.date() for t in period_bounds(period))

    def tr(msg: Message) -> str:
        return translate(msg, lang)

    lists_hint = N_("Choose from the list.")
    rules: dict[str, dict[str, Any]] = {
        "provider": {"type": "list", "formula1": ranges["provider"]},
        "period": {"type": "list", "formula1": ranges["period"]},
        "region": {"type": "list", "formula1": ranges["region"]},
        "sex": {"type": "list", "formula1": ranges["sex"]},
        "age_band": {"type": "list", "formula1": ranges["age_band"]},
        "nationality": {"type": "list", "formula1": ranges["nationality"]},
        # several forms joined with ';' are allowed: warn, do not stop
        "exploitation": {
            "type": "list",
            "formula1": ranges["exploitation"],
            "errorStyle": "warning",
        },
        "age": {"type": "whole", "operator": "between", "formula1": "0", "formula2": "120"},
        "date_identified": {
            "type": "date",
            "operator": "between",
            "formula1": f"DATE({start.year},{start.month},{start.day})",
            "formula2": f"DATE({end.year},{end.month},{end.day})",
        },
        "date_of_birth": {
            "type": "date",
            "operator": "between",
            "formula1": "DATE(1900,1,1)",
            "formula2": f"DATE({end.year},{end.month},{end.day})",
        },
    }
    for j, col in enumerate(TEMPLATE_COLUMNS, start=1):
        if col not in rules:
            continue
        letter = get_column_letter(j)
        hint = lists_hint if rules[col]["type"] == "list" else N_("See the columns sheet.")
        dv = DataValidation(
            allow_blank=True,
            showErrorMessage=True,
            showInputMessage=True,
            promptTitle=tr(_LABELS[col])[:32],
            prompt=_description(col, provider, period, lang)[:255],
            errorTitle=tr(_LABELS[col])[:32],
            error=(tr(N_("This value is not accepted.")) + " " + tr(hint))[:255],
            **rules[col],
        )
        dv.add(f"{letter}2:{letter}{_LAST_ROW}")
        ws.add_data_validation(dv)


def _description(col: str, provider: str, period: str, lang: str) -> str:
    start, end = (t.date() for t in period_bounds(period))
    params = {
        "provider": provider,
        "period": period,
        "start": format_date(start, lang),
        "end": format_date(end, lang),
    }
    text = translate(_HELP[col], lang)
    return text.format(**params) if "{" in text else text


def _data_sheet(ws: Worksheet, provider: str, period: str, lang: str) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Protection
    from openpyxl.utils import get_column_letter

    ws.append(list(TEMPLATE_COLUMNS))
    _header_style(ws, len(TEMPLATE_COLUMNS))
    for j, col in enumerate(TEMPLATE_COLUMNS, start=1):
        letter = get_column_letter(j)
        dim = ws.column_dimensions[letter]
        dim.width = max(14, len(col) + 4)
        dim.protection = Protection(locked=False)  # new cells in the column stay editable
        if col in _DATE_COLUMNS:
            dim.number_format = _DAY_FIRST
        elif col in _TEXT_COLUMNS or col == "nationality":
            dim.number_format = "@"
        label = translate(_LABELS[col], lang)
        comment = Comment(f"{label}: {_description(col, provider, period, lang)}", "fl_estimate")
        comment.width, comment.height = 300, 110
        ws.cell(1, j).comment = comment
    ws.freeze_panes = "A2"
    # protected without password, against accidental edits of the header only
    ws.protection.sheet = True
    for allowed in (
        "formatColumns",
        "formatRows",
        "insertRows",
        "deleteRows",
        "sort",
        "autoFilter",
    ):
        setattr(ws.protection, allowed, False)


def _columns_sheet(ws: Worksheet, provider: str, period: str, lang: str) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    def tr(msg: Message) -> str:
        return translate(msg, lang)

    ws.append([tr(N_("How to fill in this file"))])
    ws["A1"].font = Font(bold=True, size=13)
    for line in (
        N_("One row per person identified by {provider} in the period {period}, on the first "
           "sheet, from row 2.", provider=provider, period=period),
        N_("Do not change the first row: the column names are read by the program."),
        N_("Dates are day/month/year. Choose regions, sex, age group, nationality and form of "
           "exploitation from the drop-down lists; their meaning is on the lists sheet."),
        N_("Save the file as Excel (.xlsx) and send it as agreed; names and identifiers are "
           "used only to link records and are never published."),
    ):  # fmt: skip
        ws.append([tr(line)])
    ws.append([])
    head = [N_("column"), N_("label"), N_("required"), N_("what to enter")]
    ws.append([tr(h) for h in head])
    first = ws.max_row
    for col in TEMPLATE_COLUMNS:
        required = N_("yes") if col in _REQUIRED else N_("no")
        ws.append(
            [
                col,
                tr(_LABELS[col]),
                tr(required),
                _description(col, provider, period, lang),
            ]
        )
    for cell in ws[first]:
        cell.font = Font(bold=True)
    for j, width in enumerate((18, 24, 12, 90), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    for row in ws.iter_rows(min_row=first + 1):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")
    ws.protection.sheet = True


def _xlsx_bytes(wb: Workbook) -> bytes:
    """The workbook's bytes, the same on every run: openpyxl's ``save`` stamps the modification
    time and its zip entries carry the current time; both are fixed here."""
    from openpyxl.writer.excel import ExcelWriter

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()  # unlike Workbook.save, keeps properties.modified
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def _workbook(registry: ProviderRegistry, provider: str, period: str, lang: str) -> Workbook:
    from openpyxl import Workbook

    wb = Workbook()
    data = wb.active
    data.title, columns_title, lists_title = (translate(s, lang) for s in _SHEETS)
    lists_ws = wb.create_sheet(lists_title)
    ranges = _lists_sheet(lists_ws, _lists(registry, provider, period, lang), lang)
    _data_sheet(data, provider, period, lang)
    _validations(data, ranges, provider, period, lang)
    _columns_sheet(wb.create_sheet(columns_title, 1), provider, period, lang)
    wb.active = 0
    wb.properties.creator = "fl_estimate"
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    wb.properties.title = f"{provider} {period}"
    return wb


def write_template(
    registry: ProviderRegistry | str | Path,
    provider: str,
    period: str,
    lang: str,
    path: str | Path,
) -> Path:
    """Write the Excel template of one provider and period, in ``lang``.

    Parameters
    ----------
    registry : ProviderRegistry or path
        The provider registry (or its CSV file): gives the provider's regions and frequency.
    provider : str
        Provider code, as in the registry.
    period : str
        ``YYYY-Qn`` for a quarterly provider, ``YYYY`` for an annual one.
    lang : str
        ``en``, ``fr`` (or a CLDR locale of those): sheet names, explanations, notes, country names.
    path : str or Path
        The ``.xlsx`` file to write (atomically).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputValidationError
        For a provider not in the registry, a period not of the provider's frequency, or an
        unsupported language.

    Notes
    -----
    Sheets, in order: data (the submission columns in a locked header row; drop-down lists for
    provider, period, region, sex, age_band, nationality, exploitation; whole numbers 0-120 for
    age; dates inside the period for ``date_identified``; dates shown ``DD/MM/YYYY``; identifiers
    as text), columns (what to enter in each), lists (codes with their labels in the language).
    The same arguments give the same bytes.

    Examples
    --------
    >>> write_template("data_samples/country/registry.csv", "police", "2024-Q1", "fr",
    ...                "police_2024-Q1.xlsx")                          # doctest: +SKIP
    """
    if not isinstance(registry, ProviderRegistry):
        registry = ProviderRegistry.read_csv(registry)
    language_of(lang)  # an unsupported language fails before anything is written
    _check_provider(registry, provider, period)
    wb = _workbook(registry, provider, period, lang)
    path = Path(path)
    atomic_write_bytes(path, _xlsx_bytes(wb))
    return path
