"""CLI: ``fl-estimate stats CONFIG.toml [--out DIR] [--lang fr]``."""

from __future__ import annotations

from pathlib import Path

import typer


def stats_cmd(
    config: Path = typer.Argument(
        ..., help="A TOML file with a [stats] table (the annual run's config can hold it)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: [stats] out, else the run's out + _stats)."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Language of the headings: en or fr (default: the config's)."
    ),
) -> None:
    """Periodic administrative statistics (IC-TIP): victims, cases, criminal-justice response
    and provider completeness by region and period, after disclosure control."""
    from fl_estimate.pipeline.stats import run_stats

    res = run_stats(config, out=out, lang=lang, echo=typer.echo)
    typer.echo(f"wrote {len(res.files)} files to {res.out}/ (open statistics.md)")


def register(app: typer.Typer) -> None:
    app.command("stats")(stats_cmd)
