"""CLI: ``fl-estimate stats CONFIG.toml [--out DIR] [--lang fr]``."""

from __future__ import annotations

from pathlib import Path

import typer

from fl_estimate.i18n import N_


def stats_cmd(
    ctx: typer.Context,
    config: Path = typer.Argument(
        ..., help=N_("A TOML file with a [stats] table (the annual run's config can hold it).")
    ),
    out: Path | None = typer.Option(
        None, "--out", help=N_("Output folder (default: [stats] out, else the run's out + _stats).")
    ),
    lang: str | None = typer.Option(
        None, "--lang", help=N_("Language of the headings: en or fr (default: the config's).")
    ),
    cache: bool = typer.Option(
        True,
        "--cache/--no-cache",
        help=N_(
            "Hold the last publication's suppression pattern, kept in the fit cache's folder "
            "(docs/providers.md, section 5)."
        ),
    ),
) -> None:
    from fl_estimate.cli.usage import echo_in, message_lang
    from fl_estimate.pipeline.stats import run_stats

    echo = echo_in(message_lang(ctx))
    res = run_stats(config, out=out, lang=lang, echo=echo, cache=None if cache else False)
    echo(N_("wrote {n} files to {folder}/ (open statistics.md)", n=len(res.files), folder=res.out))


def register(app: typer.Typer) -> None:
    app.command(
        "stats",
        help=N_(
            "Periodic administrative statistics (IC-TIP): victims, cases, criminal-justice "
            "response and provider completeness by region and period, after disclosure control."
        ),
    )(stats_cmd)
