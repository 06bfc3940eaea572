"""Message catalogs and locale formatting, with the language always passed explicitly.

Nothing here reads or sets a global locale: a report in French and one in English can be made in
the same process. Strings come from gettext catalogs (``locale/<lang>/LC_MESSAGES/fl_estimate.po``,
compiled to ``.mo``; see ``docs/i18n.md``); numbers and dates follow the CLDR rules of the language
through Babel.

Two ways to make a string translatable:

- where the language is known, take the catalog's ``gettext`` under the name ``_`` (the name the
  extractor looks for)::

      _ = translator(lang).gettext
      heading = _("National estimates")

- where it is not (a library error raised before anyone chose a language), mark the text with
  :func:`N_` and its parameters; the result is a :class:`Message`, a ``str`` holding the English
  text that :func:`translate` renders in any language later::

      raise InputValidationError([Problem(N_("{file} is empty", file=name), source=name)])
      ...
      print(translate(problem.message, "fr"))

Examples
--------
>>> format_int(8500000, "fr") == "8\\u202f500\\u202f000"
True
>>> format_number(12.5, "fr"), format_date("2024-02-15", "fr")
('12,5', '15/02/2024')
>>> column_label("ci_low", "fr")
'borne inférieure'
"""

from __future__ import annotations

import gettext
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fl_estimate.exceptions import FLEstimateError, InputValidationError, Problem

if TYPE_CHECKING:
    import pandas as pd
    from babel import Locale

__all__ = [
    "COLUMN_LABELS",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Message",
    "column_label",
    "format_date",
    "format_int",
    "format_number",
    "format_percent",
    "join_or",
    "join_semicolons",
    "language_of",
    "message_language",
    "message_of",
    "problem_message",
    "relabel_columns",
    "render_error",
    "render_problem",
    "translate",
    "translator",
]

#: gettext domain: the catalogs are ``LOCALE_DIR/<lang>/LC_MESSAGES/fl_estimate.mo``.
DOMAIN = "fl_estimate"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Languages with a complete catalog. English is the source language (msgids are English).
LANGUAGES = ("en", "fr")
#: CLDR locale used for numbers and dates when only a language is given. English dates are
#: day-first (``15/02/2024``, as in UN documents), not the US ``2/15/24``; pass ``en_US`` for that.
_DEFAULT_LOCALES = {"en": "en_GB", "fr": "fr_FR"}


class Message(str):
    """English text that keeps its msgid and parameters, to be translated later.

    Behaves as the English ``str`` everywhere (comparison, printing, JSON); :func:`translate` (or
    :meth:`render`) renders it in another language. Parameters that are themselves messages
    are translated too; other parameters (file names, values) are inserted as they are. Make one
    with :func:`N_`.

    Parameters
    ----------
    msgid : str
        Catalog key, with ``{name}`` placeholders (:meth:`str.format` syntax).
    params : mapping, optional
        Values of the placeholders.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None) -> Message:
        params = dict(params or {})
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.params))

    def render(self, lang: str) -> str:
        """This message in ``lang``."""
        text = translator(lang).gettext(self.msgid)
        if not self.params:
            return text
        params = {
            k: v.render(lang) if isinstance(v, Message) else v for k, v in self.params.items()
        }
        if language_of(lang) == "en":
            return text.format(**params)
        return _NumberFormatter(lang).format(text, **params)


class _NumberFormatter(string.Formatter):
    """:meth:`str.format` with the numbers of a message in the language's format.

    A number placeholder is formatted as Python does (so ``{p:.2g}``, ``{n:,}``, ``{x:.0%}`` keep
    their precision), then given the language's decimal sign, grouping separator and percent
    sign (``1,2e-29``, ``14 341,7``, ``95 %`` in French). A number is grouped when its format
    asks for it (``{n:,}``) and otherwise from five digits on (``12 345``, but ``2024``:
    four-digit numbers may stay whole, and years must); a ``seed`` is never grouped. Values
    converted with ``!r`` or ``!s`` and non-numbers are left as they are.
    """

    def __init__(self, lang: str) -> None:
        self.decimal, self.group, self.percent = _number_symbols(lang)
        self._field = ""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        self._field = field_name
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:  # {value!r}: the value as written, not a number to localise
            return _Verbatim(super().convert_field(value, conversion))
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        import numbers

        if isinstance(value, _Verbatim):
            return format(str(value), format_spec)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return format(value, format_spec)
        if not format_spec:
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
            big = math.isfinite(value) and abs(value) >= 10_000 and "e" not in str(value)
            format_spec = "," if big and "seed" not in self._field else ""
        text = format(value, format_spec)
        if text.endswith("%"):
            text = text[:-1] + self.percent
        table = {",": self.group, "_": self.group, ".": self.decimal}
        return "".join(table.get(ch, ch) for ch in text)


@lru_cache(maxsize=32)
def _number_symbols(lang: str) -> tuple[str, str, str]:
    """Decimal sign, grouping separator and percent suffix of ``lang`` (CLDR)."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    loc = _locale(lang)
    percent = loc.percent_formats[None].suffix[0] or "%"
    return get_decimal_symbol(loc), get_group_symbol(loc), percent


class _Verbatim(str):
    """A converted placeholder value (``!r``): inserted as it is."""


def N_(msgid: str, /, **params: Any) -> Message:
    """Mark ``msgid`` for extraction and return it as a :class:`Message` (English for now).

    Parameters
    ----------
    msgid : str
        English text, a literal string (the extractor reads the source), with ``{name}``
        placeholders for ``params``.
    **params
        Placeholder values; a value that is a :class:`Message` is translated with the text.
    """
    return Message(msgid, params)


def _chain(items: Iterable[Any], pair: Callable[[str, str], Message]) -> str:
    first, *rest = (i if isinstance(i, Message) else str(i) for i in items)
    text: str = first
    for item in rest:
        text = pair(text, item)
    return text


def join_or(items: Iterable[Any]) -> str:
    """``a``, ``a or b``, ``a or b or c`` as a :class:`Message` (``ou`` in French)."""
    return _chain(items, lambda a, b: N_("{first} or {second}", first=a, second=b))


def join_semicolons(items: Iterable[Any]) -> str:
    """``a; b; c`` as a :class:`Message` whose items stay translatable (``a ; b`` in French)."""
    return _chain(items, lambda a, b: N_("{first}; {second}", first=a, second=b))


def message_of(error: BaseException | str) -> str:
    """The :class:`Message` an error was raised with (``str(error)`` loses it), else its text
    (a warning's message may be a plain string)."""
    if isinstance(error, str):
        return error
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return str(error)


def language_of(lang: str) -> str:
    """The catalog language of ``lang`` (``"fr"`` for ``fr``, ``fr_FR``, ``fr-NE``).

    Raises
    ------
    InputValidationError
        If the language has no catalog (naming the languages that have one).
    """
    return _locale(lang).language


@lru_cache(maxsize=32)
def _locale(lang: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    text = str(lang).strip().replace("-", "_")
    text = _DEFAULT_LOCALES.get(text.lower(), text)
    try:
        loc = Locale.parse(text)
    except (ValueError, TypeError, UnknownLocaleError):
        loc = None
    if loc is None or loc.language not in LANGUAGES:
        raise InputValidationError(
            [
                Problem(
                    N_(
                        "unsupported language {lang!r}: expected one of {languages}",
                        lang=str(lang),
                        languages=", ".join(LANGUAGES),
                    ),
                    column="language",
                    value=lang,
                )
            ]
        )
    return loc


@lru_cache(maxsize=8)
def _translator(language: str) -> gettext.NullTranslations:
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except FileNotFoundError:
        if language == "en":  # source language: the msgids are the English text
            return gettext.NullTranslations()
        raise
    # a missing French .mo is a packaging error, not something to hide behind English


def translator(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang``: use its ``gettext``, ``ngettext`` and ``pgettext``.

    Parameters
    ----------
    lang : str
        ``"en"``, ``"fr"`` or a CLDR locale of those languages (``"fr_NE"``).

    Returns
    -------
    gettext.NullTranslations
        A :class:`gettext.GNUTranslations` read from the compiled catalog; untranslated strings
        come back in English.

    Examples
    --------
    >>> _ = translator("fr").gettext
    >>> _("lower limit")
    'borne inférieure'
    """
    return _translator(language_of(lang))


def translate(text: str, lang: str) -> str:
    """``text`` in ``lang``: a :class:`Message` with its parameters, a plain string as a msgid."""
    if isinstance(text, Message):
        return text.render(lang)
    if not isinstance(text, str):
        return str(text)
    return translator(lang).gettext(text)


# ---------------------------------------------------------------- numbers and dates (CLDR)
def _missing(x: Any) -> bool:
    """None, NaN, pandas NA or NaT (without importing pandas)."""
    if x is None or type(x).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(math.isnan(x))
    except TypeError:
        return False


def _decimal(x: float, lang: str, digits: int | None, percent: bool = False) -> str:
    from babel.numbers import parse_pattern

    loc = _locale(lang)
    formats = loc.percent_formats if percent else loc.decimal_formats
    pattern = parse_pattern(formats[None].pattern)
    if digits is not None:
        pattern.frac_prec = (digits, digits)
    return pattern.apply(x, loc)


def format_number(
    x: Any, lang: str, digits: int | None = None, *, significant: int | None = None
) -> str:
    """A number in the language's format: ``12,5`` and ``8 500 000`` in French.

    Parameters
    ----------
    x : number
        ``None`` and NaN give ``""``.
    lang : str
        Language or CLDR locale.
    digits : int, optional
        Exact number of decimals; default up to 3, trailing zeros dropped (CLDR).
    significant : int, optional
        Instead of ``digits``: this many significant digits, as Python's ``g`` format
        (``0,000314``, ``6,44e-05`` in French), for small probabilities.

    Returns
    -------
    str
        With the locale's grouping (a narrow no-break space U+202F in French) and decimal sign.
    """
    if _missing(x):
        return ""
    if significant is not None:
        return _NumberFormatter(lang).format_field(float(x), f".{significant}g")
    return _decimal(x, lang, digits)


def format_int(x: Any, lang: str) -> str:
    """``x`` rounded to a whole number, grouped as the language does (``8 500 000``)."""
    if _missing(x):
        return ""
    return _decimal(round(float(x)), lang, 0)


def format_percent(x: Any, lang: str, digits: int = 1) -> str:
    """A proportion as a percentage: ``0.125`` gives ``12,5 %`` in French, ``12.5%`` in English."""
    if _missing(x):
        return ""
    return _decimal(x, lang, digits, percent=True)


def format_date(d: date | datetime | str | None, lang: str) -> str:
    """A date in the language's short numeric form: ``15/02/2024`` (fr and en).

    Parameters
    ----------
    d : date, datetime, pandas Timestamp or ISO string
        ``None`` gives ``""``.
    lang : str
        Language or CLDR locale (``en_US`` gives ``2/15/24``).
    """
    from babel.dates import format_date as _babel_format_date

    if _missing(d):
        return ""
    if isinstance(d, str):
        d = date.fromisoformat(d.strip()[:10])
    if isinstance(d, datetime):
        d = d.date()
    return _babel_format_date(d, "short", locale=_locale(lang))


# ---------------------------------------------------------------- column labels
#: Published table columns -> English label (the msgid). Add a column here and run ``make i18n``.
COLUMN_LABELS: dict[str, Message] = {
    "region": N_("region"),
    "year": N_("year"),
    "period": N_("period"),
    "stratum": N_("stratum"),
    "scope": N_("scope"),
    "kind": N_("kind"),
    "name": N_("name"),
    "variant": N_("variant"),
    "method": N_("method"),
    "model": N_("model"),
    "observed": N_("observed"),
    "estimate": N_("estimate"),
    "ci_low": N_("lower limit"),
    "ci_high": N_("upper limit"),
    "interval_kind": N_("interval type"),
    "level": N_("confidence level"),
    "conditional_on_model": N_("conditional on the model"),
    "status": N_("status"),
    "note": N_("note"),
    "warning": N_("warning"),
    "lists_used": N_("lists used"),
    "strata": N_("strata"),
    "strata_not_estimable": N_("strata not estimable"),
    "population": N_("population"),
    "rate": N_("rate"),
    "per": N_("per"),
    "count": N_("count"),
    "provider": N_("provider"),
    "records": N_("records"),
    "persons": N_("persons"),
    "threshold": N_("threshold"),
    "sex": N_("sex"),
    "age": N_("age"),
    "age_band": N_("age group"),
    "nationality": N_("nationality"),
    "exploitation": N_("form of exploitation"),
    "source": N_("file"),
    "row": N_("row"),
    "column": N_("column"),
    "value": N_("value"),
    "expected": N_("expected"),
}


#: Columns labelled in a language other than English only (English keeps their names).
_FOREIGN_COLUMN_LABELS: dict[str, Message] = {
    "rank": N_("rank"),
    "bic": N_("BIC"),
    "aic": N_("AIC"),
}


def column_label(name: str, lang: str) -> str:
    """Readable label of a published column in ``lang``; an unknown column keeps its name.

    In a language other than English, a labelled column's rate per ``n`` (``estimate_per_100000``)
    and its suppression flag (``observed_suppressed``) are labelled too.

    Examples
    --------
    >>> column_label("interval_kind", "fr"), column_label("ci_low", "en")
    ("type d'intervalle", 'lower limit')
    >>> column_label("ci_low_per_100000", "fr"), column_label("ci_low_per_100000", "en")
    ('borne inférieure pour 100\u202f000', 'ci_low_per_100000')
    """
    label = COLUMN_LABELS.get(name)
    if label is not None:
        return label.render(lang)
    if language_of(lang) == "en":
        return name
    if name in _FOREIGN_COLUMN_LABELS:
        return _FOREIGN_COLUMN_LABELS[name].render(lang)
    per = re.fullmatch(r"(?P<base>.+)_per_(?P<per>\d+)", name)
    if per and per["base"] in COLUMN_LABELS:
        base = COLUMN_LABELS[per["base"]]
        return N_("{label} per {per}", label=base, per=int(per["per"])).render(lang)
    flag = re.fullmatch(r"(?P<base>.+)_suppressed", name)
    if flag and flag["base"] in COLUMN_LABELS:
        return N_("{label}: why hidden", label=COLUMN_LABELS[flag["base"]]).render(lang)
    return name


def relabel_columns(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`column_label` headings (for a published table)."""
    return frame.rename(columns={c: column_label(str(c), lang) for c in frame.columns})


# ---------------------------------------------------------------- errors on the command line
def message_language(args: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> str:
    """The language of the command line's messages.

    In order: the value of a ``--lang`` option on the command line (``run`` and ``submissions
    template`` take one for what they write), ``FL_ESTIMATE_LANG``, then the usual locale
    variables (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as gettext reads them): the first whose
    language has a catalog; English otherwise.

    >>> message_language(["run", "pays.toml", "--lang", "fr"], environ={})
    'fr'
    >>> message_language([], environ={"LANG": "fr_NE.UTF-8"})
    'fr'
    >>> message_language([], environ={"LANG": "C.UTF-8"})
    'en'
    """
    import os

    env = os.environ if environ is None else environ
    candidates: list[str] = []
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            candidates.append(args[i + 1])
        elif a.startswith("--lang="):
            candidates.append(a.partition("=")[2])
    candidates += [env.get(k, "") for k in ("FL_ESTIMATE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")]
    for c in candidates:
        code = c.split(".")[0].replace("-", "_").split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return "en"


def render_problem(problem: Problem, lang: str) -> str:
    """One problem in ``lang``: where it is (file, row, column), what is wrong, the value."""
    _ = translator(lang).gettext
    where = []
    if problem.source:
        where.append(str(problem.source))
    if problem.row is not None:
        where.append(_("row {row}").format(row=problem.row))
    if problem.column is not None:
        where.append(_("column {column}").format(column=repr(problem.column)))
    message = translate(problem.message, lang)
    value = (
        ""
        if problem.value is None
        else " " + _("(value {value})").format(value=repr(problem.value))
    )
    colon = _(": ")
    return f"{', '.join(where)}{colon}{message}{value}" if where else f"{message}{value}"


class _ProblemMessage(Message):
    """A :class:`Problem` as a message: English ``str(problem)``, rendered by :func:`render_problem`."""

    problem: Problem

    def __new__(cls, problem: Problem) -> _ProblemMessage:
        self = cast("_ProblemMessage", super().__new__(cls, "{problem}", {"problem": str(problem)}))
        self.problem = problem
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ProblemMessage, (self.problem,))

    def render(self, lang: str) -> str:
        return render_problem(self.problem, lang)


def problem_message(problem: Problem) -> Message:
    """``problem`` as a :class:`Message` (to put in a progress line or another message): its
    English text is ``str(problem)``, :func:`translate` gives :func:`render_problem`'s."""
    return _ProblemMessage(problem)


def render_error(error: FLEstimateError, lang: str, max_problems: int = 1) -> str:
    """The error on one line in ``lang`` (what the command line prints after ``error:``).

    The parts of the message that are in the catalogs are translated (the framing of validation
    problems, and every message made with :func:`N_`); the rest stays in English.

    >>> from fl_estimate.exceptions import InputValidationError, Problem
    >>> err = InputValidationError([Problem("x", source="a.csv", row=3, column="sex", value="Q")])
    >>> print(render_error(err, "fr").replace("\xa0", " "))  # no-break space before ':' in French
    1 problème trouvé dans a.csv : a.csv, ligne 3, colonne 'sex' : x (valeur 'Q')
    """
    if lang == "en":
        return error.one_line(max_problems)
    _ = translator(lang).gettext
    if not isinstance(error, InputValidationError):
        return _one_line(translate(message_of(error), lang))
    n = len(error.problems)
    sources = sorted({str(p.source) for p in error.problems if p.source})
    headline = translator(lang).ngettext("{n} problem found", "{n} problems found", n).format(n=n)
    if sources:
        headline = _("{headline} in {where}").format(headline=headline, where=", ".join(sources))
    default = f"{n} problem{'s' if n != 1 else ''} found"
    if not error.summary.startswith(default):
        headline = translate(error.summary, lang)
    if not error.problems:
        return _one_line(headline)
    shown = [render_problem(p, lang) for p in error.problems[: max(1, max_problems)]]
    more = n - len(shown)
    tail = " " + _("(and {n} more)").format(n=more) if more else ""
    colon = _(": ")
    return _one_line(f"{headline}{colon}{'; '.join(shown)}{tail}")


def _one_line(text: str) -> str:
    """Line breaks and runs of spaces as one space; no-break spaces (French `` :``) kept."""
    import re

    return re.sub(r"[ \t\r\n]+", " ", text).strip()
