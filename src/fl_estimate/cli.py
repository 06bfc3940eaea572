"""The ``fl-estimate`` command line.

Thin by design: each layer registers its subcommands (``register(app)`` in its ``_cli`` module),
which parse arguments, call the library and print. Every error of the package becomes one line on
stderr and exit code 2; anything unexpected exits 1 with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from fl_estimate._version import __version__
from fl_estimate.exceptions import FLEstimateError, InputValidationError

__all__ = ["app", "main"]

app = typer.Typer(
    name="fl-estimate",
    help=(
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

#: Modules whose ``register(app)`` adds subcommands; one per layer.
LAYERS: tuple[str, ...] = (
    "fl_estimate.mse._cli",
    "fl_estimate.providers._cli",
    "fl_estimate.indicators._cli",
    "fl_estimate.pipeline._cli",
    "fl_estimate._demo",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fl-estimate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when something goes wrong."
    ),
) -> None:
    """fl-estimate: prevalence estimates of forced labour and human trafficking."""


def _register_layers() -> None:
    for name in LAYERS:
        importlib.import_module(name).register(app)


_register_layers()

_MAX_PROBLEMS_ON_LINE = 5


def _one_line(exc: FLEstimateError) -> str:
    if isinstance(exc, InputValidationError):
        probs = [str(p) for p in exc.problems[:_MAX_PROBLEMS_ON_LINE]]
        more = len(exc.problems) - len(probs)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{exc.summary}: {'; '.join(probs)}{tail}"
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 unexpected error, 2 error in the input)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # standalone mode: typer/click handle --help, --version and usage errors (exit 2) and
        # always finish with SystemExit; errors raised by our commands propagate to here.
        app(args=args, prog_name="fl-estimate")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except FLEstimateError as exc:
        if debug:
            raise
        typer.echo(f"fl-estimate: error: {_one_line(exc)}", err=True)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
