"""typer's own words (usage errors, ``--help`` framing) in the language of the messages.

typer (0.29) runs on its own copy of click, ``typer._click``, whose messages are English
f-strings, not gettext calls; only ``typer.core`` marks a few strings for gettext (``Options``,
``Commands``, ``No such command``, ...). So, when the language of the messages is not English:

- ``typer.core``'s ``_`` points at our catalog (its msgids are repeated in :data:`TYPER_MESSAGES`
  so that ``make i18n`` extracts them);
- the usage line's ``Usage:`` and the help option's text are translated;
- a usage error is shown by :func:`show_usage_error` (same layout, and typer still exits with
  code 2), its message rebuilt in the language from the exception's fields; why pydantic refused
  a value (``Input should be a valid integer``) from the error's ``type`` code
  (:data:`PYDANTIC_REASONS`; a type not listed stays English).

Help texts of our own commands and options are catalog messages (``help=N_(...)`` in the command
modules); :func:`translate_help` renders them on the command tree before typer formats ``--help``.
Everything here touches typer's internals only inside :func:`click_language`; the English command
line goes straight to typer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fl_estimate.i18n import N_, translate, translator

__all__ = [
    "PYDANTIC_REASONS",
    "TYPER_MESSAGES",
    "click_language",
    "echo_in",
    "message_lang",
    "pydantic_reason",
    "show_usage_error",
    "translate_help",
]

#: typer.core's gettext strings (what ``--help`` and a wrong command print), for extraction.
TYPER_MESSAGES = (
    N_("Options"),
    N_("Arguments"),
    N_("Commands"),
    N_("Missing command."),
    N_("No such command {name!r}."),
    N_("default: {default}"),
    N_("required"),
    N_("env var: {var}"),
    N_("(dynamic)"),
    N_("Aborted!"),
)
_HELP_OPTION = N_("Show this message and exit.")
_EXTRA_ARGS = re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", re.S)
_NOT_VALID = re.compile(r"Value (?P<value>.*) is not a valid (?P<label>\w+)\.", re.S)
_NEEDS_VALUE = re.compile(r"Option (?P<name>'.*') requires (?:an argument|(?P<n>\d+) arguments)\.")
_NO_VALUE = re.compile(r"Option (?P<name>'.*') does not take a value\.")
_NOT_ONE_OF = re.compile(r"(?:Value error, )?(?P<value>.*) is not one of (?P<choices>.*)\.", re.S)


@contextmanager
def click_language(lang: str) -> Iterator[None]:
    """typer's gettext strings, the ``Usage:`` prefix and the help option in ``lang`` inside the
    block; everything is put back on leaving it."""
    import typer.core
    from typer._click import core, formatting
    from typer._click import exceptions as ex

    cat = translator(lang)
    saved: list[tuple[Any, str, Any]] = [
        (typer.core, "_", typer.core._),
        (formatting.HelpFormatter, "write_usage", formatting.HelpFormatter.write_usage),
        (core.Command, "get_help_option", core.Command.get_help_option),
        (ex.UsageError, "show", ex.UsageError.show),  # NoArgsIsHelpError keeps its own
    ]
    write_usage, get_help_option = saved[1][2], saved[2][2]

    def usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        prefix = cat.gettext("Usage: ") if prefix is None else prefix
        write_usage(self, prog, args, prefix)

    def help_option(self: Any, ctx: Any) -> Any:
        option = get_help_option(self, ctx)
        if option is not None and option.help == _HELP_OPTION:
            option.help = translate(_HELP_OPTION, lang)
        return option

    typer.core._ = cat.gettext
    formatting.HelpFormatter.write_usage = usage  # type: ignore[method-assign]
    core.Command.get_help_option = help_option  # type: ignore[method-assign]
    ex.UsageError.show = lambda self, file=None: show_usage_error(self, lang)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


def _hint(exc: Any) -> str | None:
    hint = getattr(exc, "param_hint", None)
    if hint is None and getattr(exc, "param", None) is not None:
        hint = exc.param.get_error_hint()
    if hint is None:
        return None
    return " / ".join(repr(h) for h in hint) if isinstance(hint, list | tuple) else str(hint)


def usage_message(exc: Any, lang: str) -> str:
    """The message of a typer usage error in ``lang``, from the exception's fields."""
    from typer._click import exceptions as ex

    _ = translator(lang).gettext
    if isinstance(exc, ex.NoSuchOption):
        text = _("No such option: {name}").format(name=exc.option_name)
        if exc.possibilities:
            text += " " + _("(Possible options: {options})").format(
                options=", ".join(sorted(exc.possibilities))
            )
        return text
    if isinstance(exc, ex.MissingParameter):
        hint = _hint(exc)
        where = f" {hint}" if hint else ""
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "")
        text = {
            "argument": _("Missing argument{hint}."),
            "option": _("Missing option{hint}."),
        }.get(kind, _("Missing parameter{hint}.")).format(hint=where)
        extra = exc.param.get_missing_message(ctx=exc.ctx) if exc.param is not None else ""
        if extra:
            text += " " + extra.replace("Choose from:", _("Choose from:"), 1)
        return text
    if isinstance(exc, ex.BadParameter):
        message = translate(exc.message, lang)
        if m := _NOT_VALID.fullmatch(exc.message):
            message = _("Value {value} is not a valid {label}.").format(**m.groupdict())
        elif m := _NOT_ONE_OF.fullmatch(exc.message):
            message = _("{value} is not one of {choices}.").format(**m.groupdict())
        elif (reason := pydantic_reason(exc.__cause__, lang)) is not None:
            message = reason
        hint = _hint(exc)
        if hint is None:
            return _("Invalid value: {message}").format(message=message)
        return _("Invalid value for {param_hint}: {message}").format(
            param_hint=hint, message=message
        )
    if m := _NEEDS_VALUE.fullmatch(exc.message):
        if m["n"] is None:
            return _("Option {name} requires an argument.").format(name=m["name"])
        return _("Option {name} requires {n} arguments.").format(name=m["name"], n=m["n"])
    if m := _NO_VALUE.fullmatch(exc.message):
        return _("Option {name} does not take a value.").format(name=m["name"])
    if m := _EXTRA_ARGS.fullmatch(exc.message):
        return _("Got unexpected extra argument(s) ({args})").format(args=m["args"])
    return translate(exc.message, lang)


#: pydantic error ``type`` -> catalog message (typer 0.29 converts option values with pydantic and
#: prints the first error's English ``msg``); ``{...}`` are keys of the error's ``ctx``
PYDANTIC_REASONS = {
    "int_parsing": N_("expected a whole number"),
    "int_type": N_("expected a whole number"),
    "int_from_float": N_("expected a whole number"),
    "int_parsing_size": N_("expected a whole number of at most 4,300 digits"),
    "float_parsing": N_("expected a number"),
    "float_type": N_("expected a number"),
    "finite_number": N_("expected a finite number"),
    "bool_parsing": N_("expected true or false (also yes/no, on/off, 1/0)"),
    "bool_type": N_("expected true or false (also yes/no, on/off, 1/0)"),
    "greater_than": N_("expected a number greater than {gt}"),
    "greater_than_equal": N_("expected a number of at least {ge}"),
    "less_than": N_("expected a number less than {lt}"),
    "less_than_equal": N_("expected a number of at most {le}"),
    "string_too_short": N_("expected at least {min_length} character(s)"),
    "string_too_long": N_("expected at most {max_length} character(s)"),
    "path_type": N_("expected a file or folder path"),
    "missing": N_("a value is required"),
    "enum": N_("expected {expected}"),
    "literal_error": N_("expected {expected}"),
}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")


def pydantic_reason(error: Any, lang: str) -> str | None:
    """Why pydantic refused a value (the first error of ``error``, a
    ``pydantic.ValidationError``), in ``lang``; None when ``error`` is not one or its type is
    not in :data:`PYDANTIC_REASONS` (the English text is kept then)."""
    from fl_estimate.i18n import join_or

    errors = getattr(error, "errors", None)
    if not callable(errors):
        return None
    try:
        first = errors()[0]
        reason = PYDANTIC_REASONS[first["type"]]
    except (IndexError, KeyError, TypeError):
        return None
    ctx = dict(first.get("ctx") or {})
    if "expected" in ctx:  # "'a', 'b' or 'c'": the choices, joined in the language
        choices = _QUOTED.findall(str(ctx["expected"]))
        ctx["expected"] = join_or(choices) if choices else str(ctx["expected"])
    try:
        return translate(N_(reason.msgid, **{k: ctx[k] for k in _fields(reason.msgid)}), lang)
    except KeyError:
        return None


def _fields(msgid: str) -> list[str]:
    import string

    return [name for _text, name, _spec, _conv in string.Formatter().parse(msgid) if name]


def show_usage_error(exc: Any, lang: str) -> None:
    """What typer prints for a usage error (usage line, help hint, ``Error: ...``) in ``lang``,
    on stderr."""
    import typer

    _ = translator(lang).gettext
    ctx = exc.ctx
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = (
                _("Try '{command} {option}' for help.").format(
                    command=ctx.command_path, option=ctx.help_option_names[0]
                )
                + "\n"
            )
        typer.echo(f"{ctx.get_usage()}\n{hint}", err=True, color=ctx.color)
    text = _("Error: {message}").format(message=usage_message(exc, lang))
    typer.echo(text, err=True, color=None if ctx is None else ctx.color)


def translate_help(command: Any, lang: str) -> None:
    """The help texts of ``command``, its subcommands and their parameters in ``lang``, in place
    (texts not in the catalogs stay as they are)."""
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, translate(text, lang))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = translate(param.help, lang)
    for sub in getattr(command, "commands", {}).values():
        translate_help(sub, lang)


def message_lang(ctx: Any) -> str:
    """The language of the messages of the command running in ``ctx`` (what
    :func:`fl_estimate.cli.main` found: ``--lang``, ``FL_ESTIMATE_LANG``, the locale)."""
    from fl_estimate.i18n import message_language

    obj = getattr(ctx, "obj", None)
    return obj["lang"] if isinstance(obj, dict) and "lang" in obj else message_language()


def echo_in(lang: str) -> Any:
    """``typer.echo`` of progress lines in ``lang`` (catalog messages; English as they are)."""
    import typer

    if lang == "en":
        return typer.echo
    return lambda text: typer.echo(translate(text, lang))
