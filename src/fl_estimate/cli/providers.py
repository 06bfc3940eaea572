"""CLI of the providers layer: ``submissions check|pseudonymise|template`` and ``link CONFIG``.

The providers layer (pandas, pandera, splink) is imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fl_estimate.i18n import N_

#: The default of ``--key-env`` (``fl_estimate.providers.pseudonymise.KEY_ENV_VAR``; a test checks
#: that the two agree: importing the providers layer here would slow every command's start).
KEY_ENV_VAR = "FL_ESTIMATE_LINKAGE_KEY"

submissions_app = typer.Typer(
    help=N_("Check provider submission files (format: docs/providers.md)."),
    no_args_is_help=True,
)


@submissions_app.command(
    "check",
    help=N_("Validate submission files and print one report per file (exit 2 if any is rejected)."),
)
def check(
    files: list[Path] = typer.Argument(..., help=N_("Submission files (CSV or Excel).")),
    registry: Path | None = typer.Option(
        None, "--registry", help=N_("Provider registry CSV: also check providers and regions.")
    ),
    as_json: bool = typer.Option(False, "--json", help=N_("Print the reports as JSON.")),
    lang: str | None = typer.Option(
        None,
        "--lang",
        help=N_("Language of the reports: en or fr (default: FL_ESTIMATE_LANG, then the locale)."),
    ),
) -> None:
    from fl_estimate.exceptions import InputValidationError
    from fl_estimate.i18n import N_, language_of, message_language, translator
    from fl_estimate.providers.registry import ProviderRegistry
    from fl_estimate.providers.submissions import validate_submission

    lang = language_of(lang) if lang else message_language()

    reg = ProviderRegistry.read_csv(registry) if registry else None
    reports = [
        validate_submission(
            f,
            regions=reg.regions_of() if reg else None,
            providers=reg.providers if reg else None,
        )[0]
        for f in files
    ]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            typer.echo(r.to_text(lang))
        n_bad = sum(not r.accepted for r in reports)
        typer.echo(
            translator(lang)
            .gettext("{accepted} accepted, {rejected} rejected")
            .format(accepted=len(reports) - n_bad, rejected=n_bad)
        )
    rejected = [r for r in reports if not r.accepted]
    if rejected:
        # the reports are on stdout; the error line (file, row, column) on stderr, exit 2
        raise InputValidationError(
            [p for r in rejected for p in r.problems],
            summary=N_(
                "{rejected} of {files} file(s) rejected ({names})",
                rejected=len(rejected),
                files=len(reports),
                names=", ".join(r.source for r in rejected),
            ),
        )


@submissions_app.command(
    "pseudonymise",
    help=N_(
        "Replace a submission's identifiers by pseudonymous keys (for providers sending keys only)."
    ),
)
def pseudonymise(
    ctx: typer.Context,
    infile: Path = typer.Argument(
        ..., help=N_("Submission with clear identifiers (CSV or Excel).")
    ),
    outfile: Path = typer.Argument(
        ..., help=N_("Where to write the file with keys instead (CSV).")
    ),
    key_file: Path | None = typer.Option(
        None, "--key-file", help=N_("File holding the linkage key.")
    ),
    key_env: str = typer.Option(
        KEY_ENV_VAR, "--key-env", help=N_("Environment variable holding the key (if no key file).")
    ),
) -> None:
    from fl_estimate._io import atomic_write_text
    from fl_estimate.exceptions import InputValidationError
    from fl_estimate.i18n import N_
    from fl_estimate.providers.pseudonymise import Pseudonymiser
    from fl_estimate.providers.submissions import read_submission_file, validate_submission

    report, clean = validate_submission(infile)
    if clean is None:
        raise InputValidationError(report.problems, summary=N_("{file} rejected", file=infile.name))
    pseudo = Pseudonymiser.from_env(key_env, key_file)
    raw = read_submission_file(infile)
    out = pseudo.pseudonymise(raw)
    atomic_write_text(outfile, out.to_csv(index=False, lineterminator="\n"))
    from fl_estimate.cli.usage import echo_in, message_lang

    echo_in(message_lang(ctx))(N_("{n} rows pseudonymised -> {file}", n=len(out), file=outfile))


@submissions_app.command(
    "template",
    help=N_("Write a provider's Excel template for one period (drop-down lists, locked header)."),
)
def template(
    ctx: typer.Context,
    registry: Path = typer.Option(..., "--registry", help=N_("Provider registry CSV.")),
    provider: str = typer.Option(..., "--provider", help=N_("Provider code, as in the registry.")),
    period: str = typer.Option(..., "--period", help=N_("YYYY-Qn (quarterly) or YYYY (annual).")),
    lang: str = typer.Option("en", "--lang", help=N_("Language of the template: en or fr.")),
    out: Path = typer.Option(..., "--out", help=N_("The .xlsx file to write.")),
) -> None:
    from fl_estimate.cli.usage import echo_in, message_lang
    from fl_estimate.providers.template import write_template

    path = write_template(registry, provider, period, lang, out)
    echo_in(message_lang(ctx))(N_("wrote {file}", file=path))


def link(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help=N_("Linkage config (TOML; see docs/config.md).")),
    out: Path | None = typer.Option(
        None, "--out", help=N_("Output folder (default: from config).")
    ),
) -> None:
    from fl_estimate.cli.usage import echo_in, message_lang
    from fl_estimate.pipeline.linkage_sensitivity import run_link

    lang = message_lang(ctx)
    echo = echo_in(lang)
    run = run_link(config, out=out, echo=echo, lang=lang)
    echo(N_("wrote {n} files to {folder}", n=len(run.files), folder=run.output))


def register(app: typer.Typer) -> None:
    app.add_typer(submissions_app, name="submissions")
    app.command(
        "link",
        help=N_(
            "Validate, pseudonymise and link submissions; write capture histories and the report."
        ),
    )(link)
