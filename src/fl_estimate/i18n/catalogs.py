"""Catalog upkeep: extract the strings from the sources, update the ``.po`` files, compile ``.mo``.

Run ``make i18n`` (that is ``python -m fl_estimate.i18n.catalogs``) after adding or changing a
translatable string, fill the new ``msgstr`` in ``locale/fr/LC_MESSAGES/fl_estimate.po``, and run it
again to compile. The same steps with Babel's command line (the defaults are what this module
uses: every ``*.py``, the keywords ``_``, ``N_``, ``gettext``, ``ngettext``, ``pgettext``)::

    pybabel extract -c TRANSLATORS: -o build/fl_estimate.pot src/fl_estimate
    pybabel update -D fl_estimate -i build/fl_estimate.pot -d src/fl_estimate/i18n/locale
    pybabel compile -D fl_estimate -d src/fl_estimate/i18n/locale

This module writes byte-identical files for unchanged strings (fixed header dates, locations
without line numbers); the compiled ``.mo`` files are committed (the package also runs from a
source tree), and :func:`check` (run by the test suite) fails when one holds other translations
than its ``.po``, when a string is untranslated, or when a ``.po`` string is no longer in the code.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.catalog import Message as PoEntry
from babel.messages.extract import DEFAULT_KEYWORDS, DEFAULT_MAPPING, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from fl_estimate.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

__all__ = [
    "SOURCE_DIR",
    "CatalogCheck",
    "check",
    "compile_mo",
    "extract",
    "po_path",
    "render_po",
    "update",
]

#: The package sources the strings are extracted from.
SOURCE_DIR = Path(__file__).resolve().parents[1]
_FIXED_DATE = datetime(2025, 1, 1, tzinfo=UTC)  # header dates: fixed, so reruns change nothing
_PLACEHOLDER = re.compile(r"\{([^{}!:]*)[^{}]*\}")


def _header(catalog: Catalog) -> Catalog:
    catalog.project = "fl_estimate"
    catalog.version = ""
    catalog.copyright_holder = "fl_estimate developers"
    catalog.msgid_bugs_address = ""
    catalog.creation_date = _FIXED_DATE
    catalog.revision_date = _FIXED_DATE
    catalog.last_translator = "fl_estimate developers"
    catalog.language_team = ""
    catalog.fuzzy = False
    return catalog


def po_path(lang: str, ext: str = "po") -> Path:
    """``locale/<lang>/LC_MESSAGES/fl_estimate.<ext>``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.{ext}"


def extract(source_dir: str | Path = SOURCE_DIR) -> Catalog:
    """The template: every translatable string in ``source_dir`` (file locations, no line numbers).

    Parameters
    ----------
    source_dir : path
        Folder searched recursively for ``*.py`` files (default: the installed package).

    Returns
    -------
    babel.messages.catalog.Catalog
    """
    source_dir = Path(source_dir)
    template = _header(Catalog(domain=DOMAIN, fuzzy=False))
    found = extract_from_dir(
        source_dir,
        method_map=DEFAULT_MAPPING,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    for filename, lineno, message, comments, context in found:
        location = (f"{source_dir.name}/{Path(filename).as_posix()}", lineno)
        template.add(message, None, [location], auto_comments=comments, context=context)
    return template


def update(lang: str, template: Catalog, fallbacks: Iterable[Catalog] = ()) -> Catalog:
    """The catalog of ``lang`` brought in line with ``template``: translations kept, new strings
    added untranslated, changed ones marked fuzzy, strings no longer in the sources dropped.

    A string left untranslated (or fuzzy) takes its translation from the first of ``fallbacks``
    (catalogs of the same language, e.g. another branch's ``.po`` when two branches added
    strings at the same time) that has a complete one."""
    path = po_path(lang)
    if path.exists():
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN)
    catalog.update(template, update_creation_date=False)
    catalog.obsolete.clear()
    for m in catalog:
        if not m.id or not _untranslated(m):
            continue
        found = next(
            (f for fb in fallbacks if (f := fb.get(m.id)) is not None and not _untranslated(f)),
            None,
        )
        if found is not None:
            m.string = found.string
            m.flags.discard("fuzzy")
    return _header(catalog)


def render_po(catalog: Catalog) -> bytes:
    """``.po`` bytes: sorted, locations without line numbers, no obsolete entries."""
    buf = io.BytesIO()
    write_po(buf, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)
    return buf.getvalue()


def compile_mo(catalog: Catalog) -> bytes:
    """``.mo`` bytes of ``catalog`` (fuzzy and untranslated entries left out, as gettext does)."""
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def _read(path: Path, lang: str) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def _mo_messages(data: bytes) -> dict[object, object]:
    """Translations held by a ``.mo`` (its header, which names the Babel version, left out)."""

    def frozen(v: object) -> object:  # plural forms come as lists
        return tuple(v) if isinstance(v, list | tuple) else v

    return {(m.context, frozen(m.id)): frozen(m.string) for m in read_mo(io.BytesIO(data)) if m.id}


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _forms(value: object) -> tuple[str, ...]:
    """The msgid or msgstr of an entry as a tuple (plural entries hold one per form)."""
    return (
        tuple(str(v or "") for v in value)
        if isinstance(value, list | tuple)
        else (str(value or ""),)
    )


def _untranslated(message: PoEntry) -> bool:
    """An empty or fuzzy translation, or a plural entry with an empty form."""
    return message.fuzzy or not all(_forms(message.string))


def _bad_placeholders(message: PoEntry) -> bool:
    """A translation whose ``{placeholders}`` differ from the msgid's (a plural form may leave
    out ones of the msgid, as French ``un problème`` for ``{n} problem``, but adds none)."""
    ids = [_placeholders(i) for i in _forms(message.id)]
    strings = [_placeholders(t) for t in _forms(message.string) if t]
    if len(ids) == 1:
        return any(t != ids[0] for t in strings)
    return any(not t <= set().union(*ids) for t in strings)


@dataclass(frozen=True)
class CatalogCheck:
    """What is wrong with one language's catalog (all empty when it is complete and current)."""

    lang: str
    missing: list[str]  #: in the sources, not in the .po
    unused: list[str]  #: in the .po, no longer in the sources
    untranslated: list[str]  #: empty or fuzzy msgstr (French only; English is the source)
    bad_placeholders: list[str]  #: msgstr whose {placeholders} differ from the msgid's
    stale_mo: bool  #: the committed .mo holds other translations than the .po

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.unused
            or self.untranslated
            or self.bad_placeholders
            or self.stale_mo
        )


def check(
    languages: Iterable[str] = LANGUAGES, source_dir: str | Path = SOURCE_DIR
) -> list[CatalogCheck]:
    """Compare each committed catalog with the sources (used by the test suite)."""
    template = extract(source_dir)
    wanted = {m.id for m in template if m.id}
    out = []
    for lang in languages:
        catalog = _read(po_path(lang), lang)
        have = {m.id for m in catalog if m.id}
        untranslated, bad = [], []
        for m in catalog:
            if not m.id:
                continue
            if _bad_placeholders(m):
                bad.append(_forms(m.id)[0])
            if lang != "en" and _untranslated(m):
                untranslated.append(_forms(m.id)[0])
        mo = po_path(lang, "mo")
        stale = not mo.exists() or _mo_messages(mo.read_bytes()) != _mo_messages(
            compile_mo(catalog)
        )
        out.append(
            CatalogCheck(
                lang,
                missing=sorted(str(i) for i in wanted - have),
                unused=sorted(str(i) for i in have - wanted),
                untranslated=sorted(untranslated),
                bad_placeholders=sorted(bad),
                stale_mo=stale,
            )
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Extract, update every ``.po`` and compile every ``.mo``; list what still needs a translator.

    Returns 1 when a French string is untranslated (so ``make i18n`` says so), else 0.

    ``--merge-from FILE.po ...`` fills untranslated strings from those catalogs (each applied to
    the language its header names): after merging two branches that both added strings, take
    either side's ``.po``, then run this with the other side's ``.po`` files.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fl_estimate.i18n.catalogs")
    parser.add_argument("--merge-from", nargs="+", default=[], metavar="FILE.po")
    args = parser.parse_args(list(argv or []))  # a usage error exits 2 (argparse)
    extra: dict[str, list[Catalog]] = {}
    for name in args.merge_from:
        with open(name, "rb") as fh:
            other = read_po(fh, domain=DOMAIN)
        extra.setdefault(str(other.locale.language if other.locale else ""), []).append(other)
    template = extract()
    status = 0
    for lang in LANGUAGES:
        catalog = update(lang, template, extra.get(lang, ()))
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_po(catalog))
        path.with_suffix(".mo").write_bytes(compile_mo(catalog))
        todo = [m.id for m in catalog if m.id and lang != "en" and _untranslated(m)]
        sys.stdout.write(f"{path}: {len(catalog)} strings, {len(todo)} to translate\n")
        for msgid in todo:
            sys.stdout.write(f"  - {msgid!r}\n")
        status = status or int(bool(todo))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
