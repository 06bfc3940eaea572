"""CLI: ``fl-estimate run CONFIG.toml [--out DIR]``."""

from __future__ import annotations

from pathlib import Path

import typer

from fl_estimate.i18n import N_


def run_cmd(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help=N_("Run configuration (TOML); see docs/config.md.")),
    out: Path | None = typer.Option(
        None, "--out", help=N_("Output folder (default: the config's [run] out). Replaced whole.")
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=N_("Progress bar.")),
    lang: str | None = typer.Option(
        None,
        "--lang",
        help=N_(
            "Language of the report: en or fr (default: the config's [report] language, else en)."
        ),
    ),
    cache: bool = typer.Option(
        True,
        "--cache/--no-cache",
        help=N_("Reuse fits cached by earlier runs (the config's [run] cache; docs/config.md)."),
    ),
) -> None:
    from fl_estimate.cli.usage import echo_in, message_lang
    from fl_estimate.pipeline.run import run

    echo = echo_in(message_lang(ctx))

    res = run(
        config,
        out=out,
        progress=progress,
        echo=echo,
        lang=lang,
        cache=None if cache else False,
    )
    echo(N_("wrote {n} files to {folder}/ (open report.html)", n=len(res.files), folder=res.out))


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        help=N_(
            "Run the annual estimation: strata, national totals, sensitivity, charts and report."
        ),
    )(run_cmd)
