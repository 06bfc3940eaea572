"""CLI subcommands of the estimation layer: ``describe`` (and, with the core, ``mse``)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from fl_estimate.mse.data import CaptureData, read_capture_csv
from fl_estimate.results import json_safe


class DescribeFormat(StrEnum):
    table = "table"
    json = "json"


def _split(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def describe(
    data: Path = typer.Argument(
        ..., help="Capture table CSV: 0/1 list columns plus `count`, or one row per person."
    ),
    fmt: DescribeFormat = typer.Option(DescribeFormat.table, "--format", help="Output format."),
    strata: str | None = typer.Option(
        None, "--strata", help="Comma-separated stratum columns (e.g. region,year)."
    ),
    lists: str | None = typer.Option(
        None, "--lists", help="Comma-separated list columns (default: all but count and strata)."
    ),
) -> None:
    """Describe a capture table: list sizes, overlaps, pairs that never overlap, patterns."""
    cd = read_capture_csv(data, lists=_split(lists), strata=_split(strata))
    desc = cd.describe()
    if fmt is DescribeFormat.json:
        typer.echo(json.dumps(json_safe(desc), indent=2))
        return
    titles = {
        "overview": "Overview",
        "lists": "Lists (n: people on the list; only_this_list: seen on no other list)",
        "overlaps": "Pairwise overlaps (never_overlap: the pair's interaction has no finite MLE)",
        "frequencies": "People seen on exactly k lists",
    }
    for key, title in titles.items():
        typer.echo(f"{title}\n{desc[key].to_string(index=False)}\n")
    if isinstance(cd, CaptureData):
        typer.echo(
            f"{cd.n_patterns_observed} of {cd.n_patterns_possible} possible capture patterns "
            "observed."
        )


def register(app: typer.Typer) -> None:
    app.command("describe")(describe)
