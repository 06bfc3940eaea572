"""CLI of the indicators layer: ``fl-estimate indicators score|prevalence|frameworks|template``."""

from __future__ import annotations

import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_

if TYPE_CHECKING:
    import pandas as pd

indicators_app = typer.Typer(
    help=N_(
        "Score survey answers against the forced-labour and trafficking frameworks and estimate "
        "prevalence per 1,000 from a survey design.\n\n"
        "`fl-estimate indicators score DATA.csv --framework ilo2012 --mapping map.toml --out "
        "scored.csv`, then `fl-estimate indicators prevalence scored.csv --by region --design "
        "design.toml`."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _read_table(path: Path) -> pd.DataFrame:
    """The table with pandas' typed columns, after :func:`fl_estimate.tabular.read_table` has
    checked it (encoding, separator, ragged rows, folders, binary files: errors naming the file)."""
    import pandas as pd

    from fl_estimate.i18n import N_
    from fl_estimate.tabular import read_table

    _frame, info = read_table(path)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return pd.read_excel(path)
        return pd.read_csv(
            path, low_memory=False, encoding=info.encoding, sep=info.delimiter,
            decimal=info.decimal,
        )  # fmt: skip
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputValidationError(
            [
                Problem(
                    N_("cannot read as a table: {error}", error=" ".join(str(exc).split())),
                    str(path),
                )
            ]
        ) from exc


def _check_ids(ids: pd.Series, source: str, column: str) -> None:
    """Refuse missing and duplicate respondent ids, naming their rows."""
    from fl_estimate.i18n import N_

    problems = [
        Problem(N_("respondent id is missing"), source, int(i) + 2, column)
        for i in ids.index[ids.isna() | (ids.astype(str).str.strip() == "")]
    ]
    dup = ids.duplicated(keep="first") & ids.notna()
    problems += [
        Problem(N_("duplicate respondent id (each respondent once)"), source, int(i) + 2, column,
                ids.loc[i])
        for i in ids.index[dup][:10]
    ]  # fmt: skip
    if problems:
        raise InputValidationError(problems)


def _split(value: str | None) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()] if value else []


def score(
    ctx: typer.Context,
    data: Path = typer.Argument(
        ..., help=N_("Survey answers (CSV or Excel), one row per respondent.")
    ),
    mapping: Path = typer.Option(
        ..., "--mapping", help=N_("Mapping file (TOML): questionnaire variables -> indicators.")
    ),
    framework: str | None = typer.Option(
        None,
        "--framework",
        help=N_(
            "Framework id (ilo2012, icls2018, delphi2009, ilo11) or a framework file; "
            "default: the mapping's."
        ),
    ),
    out: Path | None = typer.Option(
        None, "--out", help=N_("Write the scored records here (CSV); default: CSV on stdout.")
    ),
    missing: str = typer.Option(
        "indeterminate",
        "--missing",
        help=N_(
            "indeterminate (default: unknown answers can make a classification indeterminate) "
            "or as_absent (minimum counts)."
        ),
    ),
) -> None:
    from fl_estimate._io import atomic_open
    from fl_estimate.exceptions import FLEstimateError
    from fl_estimate.i18n import N_
    from fl_estimate.indicators.mapping import load_mapping
    from fl_estimate.indicators.scoring import IndicatorScorer

    m = load_mapping(mapping)
    df = _read_table(data)
    if m.id_column and m.id_column in df.columns:
        _check_ids(df[m.id_column], data.name, m.id_column)
    try:
        scorer = IndicatorScorer(framework or m.framework, missing=missing)
    except FLEstimateError as exc:
        if framework:
            raise
        raise InputValidationError(
            [Problem(N_("[mapping] framework: {error}", error=exc.one_line()), mapping.name)]
        ) from None
    res = scorer.score(df, m, source=data.name)
    table = res.to_frame()
    if out is None:
        table.to_csv(sys.stdout, index=False)
        return
    with atomic_open(out, "w", newline="") as fh:
        table.to_csv(fh, index=False)
    from fl_estimate.cli.usage import echo_in, message_lang

    typer.echo(res.summary(message_lang(ctx)))
    echo_in(message_lang(ctx))(N_("wrote {n} scored records to {file}", n=len(table), file=out))


def prevalence(
    ctx: typer.Context,
    scored: Path = typer.Argument(..., help=N_("Scored records (output of `indicators score`).")),
    design: Path = typer.Option(..., "--design", help=N_("Survey design file (TOML).")),
    by: str | None = typer.Option(
        None,
        "--by",
        help=N_("Comma-separated domain columns (e.g. region,sex); cross with * (region*sex)."),
    ),
    outcome: str | None = typer.Option(
        None,
        "--outcome",
        help=N_(
            "Comma-separated outcome columns (default: the classification and every indicator)."
        ),
    ),
    ci_method: str = typer.Option(
        "beta", "--ci-method", help=N_("beta (Korn-Graubard, default), logit, xlogit or wald.")
    ),
    level: float = typer.Option(0.95, "--level", help=N_("Confidence level.")),
    missing: str = typer.Option(
        "exclude", "--missing", help=N_("Indeterminate values: exclude, as_absent or as_present.")
    ),
    min_n: int = typer.Option(30, "--min-n", help=N_("Small-domain threshold (respondents).")),
    min_clusters: int = typer.Option(
        2, "--min-clusters", help=N_("Small-domain threshold (first-stage clusters).")
    ),
    fmt: OutFormat = typer.Option(OutFormat.table, "--format", help=N_("table, csv or json.")),
) -> None:
    from fl_estimate.exceptions import SmallSampleWarning
    from fl_estimate.indicators.prevalence import SurveyPrevalence, load_design

    spec = load_design(design)
    df = _read_table(scored)
    est = SurveyPrevalence(
        outcomes=_split(outcome) or None,
        by=_split(by),
        ci_method=ci_method,
        level=level,
        missing=missing,
        min_n=min_n,
        min_clusters=min_clusters,
    )
    with warnings.catch_warnings():
        # small domains are flagged in the table (small_domain) and in the summary
        warnings.simplefilter("ignore", SmallSampleWarning)
        res = est.fit(df, design=spec, source=scored.name)
    if fmt is OutFormat.csv:
        res.to_frame().to_csv(sys.stdout, index=False)
    elif fmt is OutFormat.json:
        typer.echo(res.to_json())
    else:
        from fl_estimate.cli.usage import message_lang

        typer.echo(res.summary(message_lang(ctx)))


def frameworks(ctx: typer.Context) -> None:
    from fl_estimate.cli.usage import message_lang
    from fl_estimate.indicators.frameworks import available_frameworks, load_framework

    lang = message_lang(ctx)
    for fid in available_frameworks():
        typer.echo(f"[{fid}]\n{load_framework(fid).describe(lang)}\n")


def template(
    framework: str = typer.Argument(..., help=N_("Framework id or file.")),
) -> None:
    from fl_estimate.indicators.mapping import mapping_template

    typer.echo(mapping_template(framework))


def register(app: typer.Typer) -> None:
    indicators_app.command(
        "score",
        help=N_("Score survey answers: each indicator, dimension, classification and the reason."),
    )(score)
    indicators_app.command(
        "prevalence",
        help=N_("Prevalence per 1,000 with design-based intervals, overall and by domain."),
    )(prevalence)
    indicators_app.command(
        "frameworks",
        help=N_("List the frameworks shipped with the package (id, rule, source, version)."),
    )(frameworks)
    indicators_app.command(
        "template", help=N_("Print a mapping-file skeleton listing every indicator of a framework.")
    )(template)
    app.add_typer(indicators_app, name="indicators")
