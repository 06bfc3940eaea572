"""CLI subcommands of the estimation layer: ``describe`` and ``mse``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fl_estimate.i18n import N_

if TYPE_CHECKING:
    from fl_estimate.mse.registry import Resolved
    from fl_estimate.results import EstimationResult


class DescribeFormat(StrEnum):
    table = "table"
    json = "json"


def _split(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def describe(
    ctx: typer.Context,
    data: Path = typer.Argument(
        ..., help=N_("Capture table CSV: 0/1 list columns plus `count`, or one row per person.")
    ),
    fmt: DescribeFormat = typer.Option(DescribeFormat.table, "--format", help=N_("Output format.")),
    strata: str | None = typer.Option(
        None, "--strata", help=N_("Comma-separated stratum columns (e.g. region,year).")
    ),
    lists: str | None = typer.Option(
        None,
        "--lists",
        help=N_("Comma-separated list columns (default: all but count and strata)."),
    ),
) -> None:
    # without strata, read, check and describe without pandas (mse.patterns): start-up is most
    # of this command's time, and importing pandas alone would double it
    import warnings

    from fl_estimate.exceptions import DataWarning
    from fl_estimate.mse.patterns import describe_arrays, merge_patterns, read_capture_arrays

    arrays = read_capture_arrays(data, lists=_split(lists), strata=_split(strata))
    if arrays.strata:
        from fl_estimate.mse.data import read_capture_csv

        frames = read_capture_csv(data, lists=_split(lists), strata=_split(strata)).describe()
        desc = {name: _rows(frame) for name, frame in frames.items()}
    else:
        with warnings.catch_warnings():
            if arrays.records:  # every person is a "duplicate pattern"
                warnings.simplefilter("ignore", DataWarning)
            pats, counts = merge_patterns(
                arrays.lists, arrays.patterns, arrays.counts, source=arrays.source
            )
        desc = describe_arrays(arrays.lists, pats, counts)
    if fmt is DescribeFormat.json:
        typer.echo(json.dumps(desc, indent=2))
        return
    from fl_estimate.cli.usage import message_lang
    from fl_estimate.i18n import translate

    lang = message_lang(ctx)
    titles = {
        "overview": N_("Overview"),
        "lists": N_("Lists (n: people on the list; only_this_list: seen on no other list)"),
        "overlaps": N_(
            "Pairwise overlaps (never_overlap: the pair's interaction has no finite MLE)"
        ),
        "frequencies": N_("People seen on exactly k lists"),
    }
    for key, title in titles.items():
        typer.echo(f"{translate(title, lang)}\n{_text_table(desc[key], lang)}\n")
    if not arrays.strata:
        overview = desc["overview"][0]
        observed = N_(
            "{observed} of {possible} possible capture patterns observed.",
            observed=overview["patterns_observed"],
            possible=overview["patterns_possible"],
        )
        typer.echo(translate(observed, lang))


def _rows(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts (NaN as None)."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


#: ``describe``'s columns in words (the JSON output and the English table keep the names).
DESCRIBE_COLUMNS = {
    "lists": N_("lists"),
    "observed": N_("observed"),
    "patterns_observed": N_("patterns observed"),
    "patterns_possible": N_("patterns possible"),
    "singletons": N_("on one list only"),
    "pairs_never_overlapping": N_("pairs never overlapping"),
    "pairs": N_("pairs"),
    "list": N_("list"),
    "only_this_list": N_("only this list"),
    "share_only": N_("share only on this list"),
    "list_a": N_("list A"),
    "list_b": N_("list B"),
    "overlap": N_("overlap"),
    "n_a": N_("n (list A)"),
    "n_b": N_("n (list B)"),
    "never_overlap": N_("never overlap"),
    "f": N_("people"),
}


def _text_table(rows: list[dict[str, Any]], lang: str = "en") -> str:
    """Rows as a plain text table: a header, right-aligned columns, floats to 3 decimals.

    In English the column names and Python's number formats, one space between columns; in
    another language the :data:`DESCRIBE_COLUMNS` words (a stratum column keeps its name), the
    language's numbers (``1 910``, ``0,592``), yes/no in words and two spaces between columns
    (the headings have spaces).
    """
    from fl_estimate.i18n import translate

    en = lang == "en"
    if not rows:
        return "(none)" if en else translate(N_("(none)"), lang)
    columns = list(rows[0])
    if en:
        headers = columns
    else:
        headers = [
            translate(DESCRIBE_COLUMNS[c], lang) if c in DESCRIBE_COLUMNS else c for c in columns
        ]
    yes, no = ("True", "False") if en else (translate(N_("yes"), lang), translate(N_("no"), lang))

    def cell(v: Any) -> str:
        from fl_estimate.i18n import format_int, format_number

        if v is None:
            return "-"
        if isinstance(v, bool):
            return yes if v else no
        if isinstance(v, float):
            return f"{v:.3f}" if en else format_number(v, lang, 3)
        if isinstance(v, int) and not en:
            return format_int(v, lang)
        return str(v)

    sep = " " if en else "  "
    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(headers)]
    lines = [sep.join(c.rjust(w) for c, w in zip(headers, widths, strict=True))]
    lines += [sep.join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


class OutFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def mse(
    ctx: typer.Context,
    data: Path = typer.Argument(
        ..., help=N_("Capture table CSV: 0/1 list columns plus `count`, or one row per person.")
    ),
    method: str = typer.Option(
        "default",
        "--method",
        help=N_(
            "default (stepwise, or a lower bound when the heterogeneity diagnosis fires; "
            "docs/mse.md) | independence | loglinear | stepwise | exhaustive | aic | bic | auto | "
            "search | closedp | mh | mth | latent-class | chao | lincoln-petersen | chapman | lcmcr | "
            "dga | bayes-loglinear | bayes-threshold | huggins | covariate-loglinear | "
            "post-stratified (these three read one row per person with covariate columns). An "
            "option the method does not take is an error that lists its options."
        ),
    ),
    interval: str | None = typer.Option(
        None,
        "--interval",
        help=N_(
            "wald (default: on the log of the unobserved count) | profile | bootstrap; "
            "closedp, mh, mth: profile (default) | wald | bootstrap; credible for the Bayesian "
            "methods."
        ),
    ),
    n_boot: int | None = typer.Option(None, "--n-boot", help=N_("Bootstrap replicates (1000).")),
    seed: int | None = typer.Option(None, "--seed", help=N_("Random seed (bootstrap, MCMC).")),
    level: float | None = typer.Option(None, "--level", help=N_("Interval coverage (0.95).")),
    model: str | None = typer.Option(
        None, "--model", help=N_("Interactions for --method loglinear, e.g. 'A:B + B:C'.")
    ),
    pthresh: float | None = typer.Option(None, "--pthresh", help=N_("Stepwise p cut-off (0.02).")),
    criterion: str | None = typer.Option(
        None,
        "--criterion",
        help=N_(
            "stepwise: pvalue (default) | aic | bic; exhaustive, bic, search: bic (default) | aic."
        ),
    ),
    max_order: int | None = typer.Option(
        None,
        "--max-order",
        help=N_(
            "Highest interaction order in the AIC/BIC search (bic: 2; auto: the reference's "
            "default for the list count; search: 3); bayes-threshold: 2 or 3 (eligible triples)."
        ),
    ),
    top_models: int | None = typer.Option(
        None,
        "--top-models",
        help=N_(
            "bic/auto with --interval bootstrap: models (best BIC first) among which every "
            "replicate re-selects (default: all for 2-3 lists, 20 for 4, 100 for 5-6)."
        ),
    ),
    bootstrap: str | None = typer.Option(
        None, "--bootstrap", help=N_("nonparametric | parametric.")
    ),
    boot_interval: str | None = typer.Option(None, "--boot-interval", help=N_("bca | percentile.")),
    prior: str | None = typer.Option(
        None,
        "--prior",
        help=N_(
            "bayes-threshold: proper (normal priors on interactions, default) | improper (flat)."
        ),
    ),
    h: str | None = typer.Option(
        None, "--h", help=N_("mh, mth: heterogeneity form chao | poisson | darroch | gamma.")
    ),
    theta: float | None = typer.Option(
        None, "--theta", help=N_("mh, mth: parameter of the poisson (2) and gamma (3.5) forms.")
    ),
    interactions: str | None = typer.Option(
        None, "--interactions", help=N_("mh, mth: two-list interactions added, e.g. 'A:B + C:D'.")
    ),
    covariates: str | None = typer.Option(
        None,
        "--covariates",
        help=N_(
            "huggins, covariate-loglinear: covariate columns of the per-person file, e.g. "
            "'sex + age_band' (':' for an interaction)."
        ),
    ),
    by: str | None = typer.Option(
        None, "--by", help=N_("post-stratified: covariate column(s), comma-separated.")
    ),
    chains: int | None = typer.Option(None, "--chains", help=N_("MCMC chains (Bayesian methods).")),
    draws: int | None = typer.Option(
        None, "--draws", help=N_("Posterior draws per chain (Bayesian methods).")
    ),
    sampler: str | None = typer.Option(
        None,
        "--sampler",
        help=N_(
            "PyMC methods: auto (default: imh where it applies, else pymc) | imh (bayes-loglinear, "
            "bayes-threshold: exact independence Metropolis-Hastings in numpy, nothing compiled; "
            "PyMC's NUTS when it mixes poorly) | pymc | nutpie (faster NUTS after a 10-40 s compile "
            "per model shape; needs fl_estimate[fast])."
        ),
    ),
    strata: str | None = typer.Option(
        None, "--strata", help=N_("Comma-separated stratum columns: one estimate per stratum.")
    ),
    fmt: OutFormat = typer.Option(OutFormat.table, "--format", help=N_("table | json | csv.")),
) -> None:
    from fl_estimate.cli.usage import message_lang
    from fl_estimate.exceptions import ModelSpecificationError
    from fl_estimate.mse.api import fit_resolved
    from fl_estimate.mse.data import CaptureData, check_full_table, iter_tables, read_capture_csv
    from fl_estimate.mse.registry import resolve

    # options the user did not give are None: the method's own defaults apply
    call = resolve(
        method,
        interval=interval,
        n_boot=n_boot,
        seed=seed,
        level=level,
        model=model,
        pthresh=pthresh,
        criterion=criterion,
        max_order=max_order,
        top_models=top_models,
        bootstrap=bootstrap,
        boot_interval=boot_interval,
        prior=prior,
        h=h,
        theta=theta,
        interactions=interactions,
        chains=chains,
        draws=draws,
        sampler=sampler,
        covariates=covariates,
        by=_split(by),
    )
    if call.spec.records:
        _fit_records(data, call, strata=strata, fmt=fmt, lang=message_lang(ctx))
        return
    cd = read_capture_csv(data, strata=_split(strata))
    if not call.spec.target.startswith("fl_estimate.mse.closed_form"):
        check_full_table(len(cd.lists), data.name)  # before any table of 2**K cells is built
    if max_order is not None and max_order > len(cd.lists):
        raise ModelSpecificationError(
            N_(
                "option max_order={max_order} is not valid: {file} has {k} lists, so interactions "
                "are of order 2 to at most the number of lists",
                max_order=max_order,
                file=data.name,
                k=len(cd.lists),
            )
        )
    if call.spec.name == "closedp" and fmt is OutFormat.table:
        from fl_estimate.mse.heterogeneity import ClosedPopulationModels

        # the whole table, as Rcapture's closedp.t / closedpCI.t print it
        for _key, table in iter_tables(cd):
            fit = ClosedPopulationModels().fit(table, intervals=True)
            typer.echo(str(fit.summary(message_lang(ctx))))
            typer.echo("")
        return
    results = [fit_resolved(table, call) for _key, table in iter_tables(cd)]
    _print_results(results, fmt, stratified=not isinstance(cd, CaptureData), lang=message_lang(ctx))


def _fit_records(
    data: Path, call: Resolved, *, strata: str | None, fmt: OutFormat, lang: str = "en"
) -> None:
    """A covariate method: the file is one row per person (0/1 list columns, covariates)."""
    from fl_estimate.exceptions import ModelSpecificationError
    from fl_estimate.tabular import read_table

    if strata is not None:
        raise ModelSpecificationError(
            N_(
                "method {method!r} models covariates within one table; --strata does not apply "
                "(use post-stratified with --by for per-level estimates)",
                method=call.spec.name,
            )
        )
    records, _info = read_table(data)
    result = call.build().fit(records, source=data.name, **call.fit_kwargs)
    _print_results([result], fmt, stratified=False, lang=lang)


def _print_results(
    results: list[EstimationResult], fmt: OutFormat, *, stratified: bool, lang: str = "en"
) -> None:
    import pandas as pd

    if fmt is OutFormat.json:
        payload = [r.to_dict() for r in results]
        typer.echo(json.dumps(payload if stratified else payload[0], indent=2))
    elif fmt is OutFormat.csv:
        frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
        typer.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
    else:
        for r in results:
            typer.echo(str(r.summary(lang)))
            typer.echo("")


def register(app: typer.Typer) -> None:
    app.command(
        "describe",
        help=N_(
            "Describe a capture table: list sizes, overlaps, pairs that never overlap, patterns."
        ),
    )(describe)
    app.command(
        "mse",
        help=N_(
            "Estimate the total population (observed + never observed) from overlapping lists.\n\n"
            "With --format json it prints one JSON object (a list of them with --strata) with at "
            "least method, model, observed, estimate, ci_low, ci_high, interval_kind, level and "
            'status ("ok" or the reason there is no estimate).'
        ),
    )(mse)
