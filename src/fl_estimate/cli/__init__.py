"""The ``fl-estimate`` command line.

Thin by design: one module per layer (:mod:`.providers`, :mod:`.indicators`, :mod:`.pipeline`,
:mod:`.demo`, :mod:`.mse`) adds its subcommands to
:data:`app`; the commands parse arguments, call the library and print. Those modules import only
typer at the top: pandas, scipy, matplotlib, PyMC, splink and numba are imported inside the command
functions, so ``fl-estimate --help`` starts fast.

Every error of the package becomes one line on stderr and exit code 2 (the line is
:meth:`fl_estimate.exceptions.FLEstimateError.one_line`); anything unexpected exits 1 with a hint to
rerun with ``--debug``.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Sequence

import typer

from fl_estimate._version import __version__
from fl_estimate.exceptions import FLEstimateError, FLEstimateWarning
from fl_estimate.i18n import N_

__all__ = ["app", "main"]

#: Problems of an :class:`~fl_estimate.exceptions.InputValidationError` shown on the error line.
MAX_PROBLEMS_ON_LINE = 5

app = typer.Typer(
    name="fl-estimate",
    help=N_(
        "Estimate how many victims of forced labour and trafficking there are, from overlapping "
        "lists of identified victims (multiple systems estimation) and from surveys.\n\n"
        "Start with `fl-estimate describe DATA.csv` to see what a capture table holds, then "
        "`fl-estimate mse DATA.csv` to estimate. Every command has --help."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fl-estimate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help=N_("Print the version.")
    ),
    debug: bool = typer.Option(
        False, "--debug", help=N_("Show the full traceback when something goes wrong.")
    ),
    lang: str | None = typer.Option(
        None,
        "--lang",
        help=N_(
            "Language of the messages: en or fr (default: FL_ESTIMATE_LANG, then the locale). "
            "`run`, `stats` and `submissions` also take --lang for what they write."
        ),
    ),
) -> None:
    """fl-estimate: prevalence estimates of forced labour and human trafficking."""
    if lang is not None:
        from fl_estimate.i18n import language_of

        language_of(lang)  # an unknown language is an error (exit 2), not English in silence


# One module per layer, imported statically (the order is the order of --help).
from fl_estimate.cli import (  # noqa: E402
    demo,
    indicators,
    mse,
    pipeline,
    providers,
    stats,
)

mse.register(app)
providers.register(app)
indicators.register(app)
pipeline.register(app)
stats.register(app)
demo.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 unexpected error, 2 error in the input)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    with warnings.catch_warnings():
        # the package's warnings are for the user: one line each on stderr, never an exception
        warnings.simplefilter("always", FLEstimateWarning)
        warnings.showwarning = functools.partial(_show_warning, lang=_lang(args))
        return _run(args, debug)


def _lang(args: Sequence[str]) -> str:
    """The language of the messages (English unless ``--lang``, FL_ESTIMATE_LANG or the locale
    say otherwise; see :func:`fl_estimate.i18n.message_language`). ``run`` and ``stats`` without
    ``--lang`` or FL_ESTIMATE_LANG speak the language of their configuration's report
    (``[report] language``) before the locale's."""
    import os

    from fl_estimate.i18n import message_language

    explicit = any(a == "--lang" or a.startswith("--lang=") for a in args)
    if not explicit and not os.environ.get("FL_ESTIMATE_LANG"):
        configured = _config_language(args)
        if configured is not None:
            return configured
    return message_language(args)


def _config_language(args: Sequence[str]) -> str | None:
    """The ``[report] language`` of the configuration file given to ``run`` or ``stats``, when
    it names a language with a catalog (``None`` otherwise, or when the file cannot be read:
    the command itself then reports the problem)."""
    import tomllib

    from fl_estimate.i18n import LANGUAGES

    for i, a in enumerate(args):
        if a in ("run", "stats"):
            path = next((x for x in args[i + 1 :] if x.endswith(".toml")), None)
            if path is None:
                return None
            try:
                with open(path, "rb") as f:
                    report = tomllib.load(f).get("report", {})
            except (OSError, ValueError):
                return None
            lang = report.get("language") if isinstance(report, dict) else None
            if isinstance(lang, str) and lang.split("_")[0].lower() in LANGUAGES:
                return lang.split("_")[0].lower()
            return None
    return None


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
    lang: str = "en",
) -> None:
    if issubclass(category, FLEstimateWarning):
        if lang == "en":
            typer.echo(f"fl-estimate: warning: {' '.join(str(message).split())}", err=True)
            return
        import re

        from fl_estimate.i18n import message_of, translate, translator

        text = translate(message_of(message) if isinstance(message, Warning) else message, lang)
        prefix = translator(lang).gettext("warning: ")
        # one line; the no-break spaces of French punctuation (`` :``) are kept
        text = re.sub(r"[ \t\r\n]+", " ", text).strip()
        typer.echo(f"fl-estimate: {prefix}{text}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _error_line(exc: FLEstimateError, args: list[str]) -> str:
    """``fl-estimate: error: ...`` in the language of the messages
    (:func:`fl_estimate.i18n.message_language`: ``--lang``, ``FL_ESTIMATE_LANG``, the locale)."""
    from fl_estimate.i18n import message_language, render_error, translator

    lang = message_language(args)
    if lang == "en":
        return f"fl-estimate: error: {exc.one_line(MAX_PROBLEMS_ON_LINE)}"
    _ = translator(lang).gettext
    return f"fl-estimate: {_('error: ')}{render_error(exc, lang, MAX_PROBLEMS_ON_LINE)}"


def _invoke(args: list[str]) -> None:
    """The command line in the language of the messages: click's usage errors and the
    ``--help`` texts too (:mod:`fl_estimate.cli.usage`); English goes straight to typer."""
    lang = _lang(args)
    if lang == "en":
        app(args=args, prog_name="fl-estimate", obj={"lang": lang})
        return
    from fl_estimate.cli.usage import click_language, translate_help

    command = typer.main.get_command(app)
    translate_help(command, lang)
    with click_language(lang):
        command(args=args, prog_name="fl-estimate", obj={"lang": lang})


def _run(args: list[str], debug: bool) -> int:
    try:
        # standalone mode: typer/click handle --help, --version and usage errors (exit 2) and
        # always finish with SystemExit; errors raised by our commands propagate to here.
        _invoke(args)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except FLEstimateError as exc:
        if debug:
            raise
        typer.echo(_error_line(exc, args), err=True)
        return 2
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"fl-estimate: unexpected error ({type(exc).__name__}: {' '.join(str(exc).split())}); "
            "rerun with --debug for the full traceback",
            err=True,
        )
        return 1
    return 0
