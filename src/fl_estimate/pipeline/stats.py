"""The agency's periodic administrative statistics (IC-TIP): ``fl-estimate stats CONFIG``.

Composes the providers layer (victim, event and perpetrator files validated; victims linked into
persons when a linkage config is given; the registry's completeness per submission type) with
the statistics tables (:mod:`fl_estimate.stats.tables`, every table through disclosure control)
and writes them with the safe writers: one CSV per table and period level (codes as column
names, hidden cells ``c``), ``statistics.xlsx`` and ``statistics.md`` with headings in the
chosen language, and a manifest.

The configuration is a ``[stats]`` table, alone in a file or in the annual run's configuration
(where ``[input] link``, ``[disclosure] threshold``, ``[report] language`` and ``[run] title``
are used too); see ``docs/statistics.md``.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fl_estimate._io import atomic_write_text
from fl_estimate.disclosure import LinkedProtection
from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, join_or, language_of, problem_message
from fl_estimate.outputs import publish_folder, relative_labels, write_manifest
from fl_estimate.outputs.cells import escape_markdown_html, write_csv, write_xlsx
from fl_estimate.providers.casefiles import load_case_files
from fl_estimate.providers.pseudonymise import IDENTIFIER_COLUMNS, KEY_COLUMNS
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import EXPLOITATION_FORMS, load_submissions
from fl_estimate.stats.categories import LEVELS, MULTIPLE
from fl_estimate.stats.labels import category_label, table_title
from fl_estimate.stats.protect import Partner
from fl_estimate.stats.release import release_tables
from fl_estimate.stats.tables import PublishedTable, victim_persons
from fl_estimate.tabular import read_toml

if TYPE_CHECKING:
    from fl_estimate.providers.linkrun import LinkedSubmissions

__all__ = [
    "STATS_KEYS",
    "StatsConfig",
    "StatsResult",
    "WrittenStatistics",
    "linked_victims",
    "read_stats_config",
    "run_section",
    "run_stats",
    "statistics_release",
    "statistics_tables",
    "write_statistics",
]  # fmt: skip

#: Keys of the ``[stats]`` table.
STATS_KEYS = frozenset(
    {"title", "out", "link", "victims", "events", "perpetrators", "registry", "levels", "as_of",
     "threshold", "language", "country"}
)  # fmt: skip


@dataclass(frozen=True)
class StatsConfig:
    """A validated ``[stats]`` configuration (paths resolved against the file's folder)."""

    path: Path
    title: str
    out: Path
    link: Path | None
    victims: tuple[Path, ...]
    events: tuple[Path, ...]
    perpetrators: tuple[Path, ...]
    registry: Path | None
    levels: tuple[str, ...]
    as_of: str | None
    threshold: int
    language: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    #: ISO 3166-1 alpha-3 code of the publishing country (citizenship: nationals / foreigners).
    country: str | None = None


def _files(
    patterns: list[str], base: Path, key: str, src: str, problems: list[Problem]
) -> tuple[Path, ...]:
    out: dict[Path, None] = {}
    for pattern in patterns:
        matched = sorted(glob.glob(str(base / pattern)))
        if not matched:
            problems.append(
                Problem(
                    N_("[stats] {key}: no file matches {pattern!r}", key=key, pattern=pattern), src
                )
            )
        for m in matched:
            out.setdefault(Path(m).resolve(), None)
    return tuple(out)


def read_stats_config(path: str | Path) -> StatsConfig:
    """Read the ``[stats]`` table of a TOML file (a run configuration or a file of its own).

    Raises
    ------
    InputValidationError
        Every problem at once: unknown keys, wrong types, patterns matching no file, levels.
    """
    path = Path(path)
    src, base = path.name, path.resolve().parent
    raw = read_toml(path)
    sec = raw.get("stats")
    problems: list[Problem] = []
    if not isinstance(sec, dict):
        raise InputValidationError(
            [Problem(N_("expected a [stats] table (see docs/statistics.md)"), src)]
        )
    for key in sorted(set(sec) - STATS_KEYS):
        problems.append(
            Problem(
                N_(
                    "unknown key [stats] {key}; expected one of {keys}",
                    key=key,
                    keys=", ".join(sorted(STATS_KEYS)),
                ),
                src,
            )
        )

    def get(table: str, key: str, typ: type, default: Any) -> Any:
        holder = sec if table == "stats" else raw.get(table, {})
        val = holder.get(key, default) if isinstance(holder, dict) else default
        if val is not default and (
            not isinstance(val, typ) or (isinstance(val, bool) and typ is int)
        ):
            names = join_or(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            problems.append(
                Problem(
                    N_(
                        "[{table}] {key} must be {names}, got {value!r}",
                        table=table,
                        key=key,
                        names=names,
                        value=val,
                    ),
                    src,
                )
            )
            return default
        return val

    def patterns(key: str) -> list[str]:
        val = get("stats", key, (list, str), [])  # type: ignore[arg-type]
        return [val] if isinstance(val, str) else [str(v) for v in val]

    link_text = get("stats", "link", str, None) or get("input", "link", str, None)
    link = (base / link_text).resolve() if link_text else None
    if link is not None and not link.exists():
        problems.append(Problem(N_("[stats] link: file not found: {link}", link=link), src))
    registry_text = get("stats", "registry", str, None)
    registry = (base / registry_text).resolve() if registry_text else None
    as_of = get("stats", "as_of", str, None)
    if link is not None and not problems:
        from fl_estimate.providers.linkrun import read_link_config

        lcfg = read_link_config(link)
        if registry is None and lcfg.registry:
            registry = lcfg.resolve(lcfg.registry).resolve()
        as_of = as_of or lcfg.as_of
    if registry is not None and not registry.exists():
        problems.append(
            Problem(N_("[stats] registry: file not found: {registry}", registry=registry), src)
        )
    levels = get("stats", "levels", list, ["quarter", "half-year", "year"])
    for level in levels:
        if level not in LEVELS:
            problems.append(
                Problem(
                    N_(
                        "[stats] levels: {level!r} is not one of {levels}",
                        level=level,
                        levels=", ".join(LEVELS),
                    ),
                    src,
                )
            )
    threshold = get("stats", "threshold", int, None) or get("disclosure", "threshold", int, 5)
    if threshold < 1:
        problems.append(
            Problem(
                N_("[stats] threshold must be at least 1, got {threshold}", threshold=threshold),
                src,
            )
        )
    language = get("stats", "language", str, None) or get("report", "language", str, "en")
    try:
        language = language_of(language)
    except InputValidationError as exc:
        problems.extend(exc.problems)
    run_out = get("run", "out", str, None)
    out_text = get("stats", "out", str, None)
    out = (
        (base / out_text).resolve()
        if out_text
        else (base / f"{run_out}_stats").resolve()
        if run_out
        else base / "statistics"
    )
    victims = _files(patterns("victims"), base, "victims", src, problems)
    events = _files(patterns("events"), base, "events", src, problems)
    perpetrators = _files(patterns("perpetrators"), base, "perpetrators", src, problems)
    if link is None and not (victims or events or perpetrators):
        problems.append(
            Problem(
                N_("[stats] needs link (or [input] link), victims, events or perpetrators"), src
            )
        )
    country = _country_code(get("stats", "country", str, None), src, problems)
    if problems:
        raise InputValidationError(problems)
    title = get("stats", "title", str, None) or get("run", "title", str, "Statistics")
    return StatsConfig(
        path.resolve(), title, out, link, victims, events, perpetrators, registry,
        tuple(levels), as_of, threshold, language, raw, country,
    )  # fmt: skip


def _country_code(value: str | None, src: str, problems: list[Problem]) -> str | None:
    """``[stats] country`` as an ISO 3166-1 alpha-3 code (alpha-2 accepted)."""
    if value is None:
        return None
    import pycountry

    found = pycountry.countries.get(alpha_3=value.upper()) or pycountry.countries.get(
        alpha_2=value.upper()
    )
    if found is None:
        problems.append(
            Problem(f"[stats] country must be an ISO 3166-1 country code, got {value!r}", src)
        )
        return None
    return str(found.alpha_3)


@dataclass
class StatsInputs:
    """What the statistics are made of (no identifiers: they are dropped on reading)."""

    victims: pd.DataFrame
    linked: bool
    events: pd.DataFrame
    perpetrators: pd.DataFrame
    registry: ProviderRegistry | None
    received: dict[str, list[tuple[str, str]]]
    rejected: list[str]


def _without_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in (*IDENTIFIER_COLUMNS, *KEY_COLUMNS) if c in frame])


def linked_victims(linked: LinkedSubmissions) -> pd.DataFrame:
    """The victim records of a linkage without identifiers, with their person (cluster)."""
    labels = linked.result.clusters()
    # unique_id (the linkage's record order) breaks ties of date as the linkage's capture
    # histories do, so a person's first record is the one that places them in a stratum
    ids = linked.result.records[["source", "record_id", "unique_id"]].assign(person=labels)
    return _without_identifiers(linked.loaded.records()).merge(
        ids, on=["source", "record_id"], how="left", validate="one_to_one"
    )


def load_inputs(
    cfg: StatsConfig,
    echo: Callable[[str], None] | None = None,
    *,
    linked: LinkedSubmissions | None = None,
) -> StatsInputs:
    """Validate and read every file; link the victims when a linkage config is given.

    Parameters
    ----------
    cfg : StatsConfig
    echo : callable, optional
        Called with each line of progress.
    linked : LinkedSubmissions, optional
        The linkage of ``cfg.link`` already made (the annual run's): its records and persons
        are used instead of linking again.
    """
    say = echo or (lambda s: None)
    registry = ProviderRegistry.read_csv(cfg.registry) if cfg.registry else None
    regions = registry.regions_of() if registry else None
    providers = registry.providers if registry else None
    received: dict[str, list[tuple[str, str]]] = {}
    rejected: list[str] = []
    linked_run = False
    if cfg.link is not None:
        if linked is None:
            from fl_estimate.providers.linkrun import link_submissions

            say(N_("linking the victim files of {config} ...", config=cfg.link.name))
            linked = link_submissions(cfg.link)
        victims = linked_victims(linked)
        linked_run = True
        loaded_v = linked.loaded
    else:
        loaded_v = load_submissions(cfg.victims, regions=regions, providers=providers)
        victims = _without_identifiers(loaded_v.records())
    received["victims"] = list(loaded_v.accepted)
    rejected += [r.source for r in loaded_v.rejected]
    frames = {}
    for kind, paths in (("events", cfg.events), ("perpetrators", cfg.perpetrators)):
        loaded = load_case_files(paths, kind, regions=regions, providers=providers)
        frames[kind] = loaded.records()
        received[kind] = list(loaded.accepted)
        rejected += [r.source for r in loaded.rejected]
        for r in loaded.rejected:
            say(N_("rejected {file}: {n} problem(s)", file=r.source, n=len(r.problems)))
            for p in r.problems:
                say(N_("  - {problem}", problem=problem_message(p)))
    return StatsInputs(
        victims, linked_run, frames["events"], frames["perpetrators"], registry, received,
        rejected,
    )  # fmt: skip


def statistics_tables(
    inputs: StatsInputs,
    *,
    levels: tuple[str, ...],
    threshold: int,
    country: str | None = None,
) -> dict[str, PublishedTable]:
    """Every table, keyed ``<table>_<unit>_<level>`` (unit ``records`` or ``persons`` for the
    victim tables), all protected together (:func:`fl_estimate.stats.release.release_tables`)."""
    return statistics_release(inputs, levels=levels, threshold=threshold, country=country)[0]


def statistics_release(
    inputs: StatsInputs,
    *,
    levels: tuple[str, ...],
    threshold: int,
    country: str | None = None,
    partner: Partner | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> tuple[dict[str, PublishedTable], LinkedProtection]:
    """:func:`statistics_tables` and the joint protection (its audit of every hidden count);
    ``partner``: the annual run's tables, protected with the linked persons; ``previous``: the
    previous publication's pattern, held (:func:`fl_estimate.disclosure.protect_tables`)."""
    regions = inputs.registry.regions if inputs.registry is not None else None
    persons = victim_persons(inputs.victims) if inputs.linked and len(inputs.victims) else None
    return release_tables(
        inputs.victims if len(inputs.victims) else None,
        persons,
        inputs.events,
        inputs.perpetrators,
        levels=levels,
        threshold=threshold,
        regions=regions,
        country=country,
        forms=(*(f for f in EXPLOITATION_FORMS if f != "Unknown"), MULTIPLE, "Unknown"),
        partner=partner,
        previous=previous,
    )


def completeness_table(inputs: StatsInputs, as_of: str | None) -> pd.DataFrame | None:
    """Provider, entity type, submission type, period, due date and status (registry needed)."""
    reg = inputs.registry
    if reg is None:
        return None
    when = as_of or pd.Timestamp.today().date().isoformat()
    types = dict(zip(reg.table["provider"], reg.table["entity_type"], strict=True))
    parts = []
    for kind, got in inputs.received.items():
        table = reg.completeness(got, when, kind)
        if len(table):
            parts.append(table.assign(submission=kind))
    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True)
    table.insert(1, "entity_type", table["provider"].map(types))
    return table[["provider", "entity_type", "submission", "period", "due", "status"]]


#: statistics.md text (translated when rendered)
def _counts_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The table for the workbook: its counts as numbers (the publication holds them as text
    beside the ``c`` of hidden cells, and Excel would show them as text), ``c`` kept."""

    def cell(v: Any) -> Any:
        return int(v) if isinstance(v, str) and re.fullmatch(r"-?\d+", v) else v

    out = frame.copy()
    for col in out.columns[2:]:  # after the period and the region (their labels stay text)
        out[col] = out[col].map(cell)
    return out


def _numbered_sheets(
    sheets: dict[str, pd.DataFrame], headings: list[tuple[str, str]], lang: str
) -> dict[str, pd.DataFrame]:
    """The statistics' sheets as "Table 1", "Table 2"... in ``lang``, after a contents sheet
    giving each sheet's title and CSV file (the tables' names are longer than Excel's 31
    characters allow for a sheet's title). The completeness table keeps its own title."""
    out: dict[str, pd.DataFrame] = {}
    rows = []
    for k, ((heading, file), frame) in enumerate(
        zip(headings, [f for n, f in sheets.items() if n != "completeness"], strict=True),
        start=1,
    ):
        title = _TEXT["sheet_table"].render(lang).format(n=k)
        rows.append({"sheet": title, "title": heading, "file": file})
        out[title] = frame
    if "completeness" in sheets:
        title = table_title("completeness", lang)[:31]
        rows.append({"sheet": title, "title": table_title("completeness", lang),
                     "file": "completeness.csv"})  # fmt: skip
        out[title] = sheets["completeness"]
    contents = pd.DataFrame(rows, columns=["sheet", "title", "file"])
    contents = contents.rename(columns={c: _TEXT[f"contents_{c}"].render(lang) for c in contents})
    return {_TEXT["contents"].render(lang): contents, **out}


_TEXT = {
    "sheet_table": N_("Table {n}"),
    "contents": N_("Contents"),
    "contents_sheet": N_("sheet"),
    "contents_title": N_("title"),
    "contents_file": N_("file"),
    "intro": N_(
        "Counts of the identified victims, cases and perpetrators the providers reported, by "
        "region and period, classified as in the International Classification for "
        "Administrative Data on Trafficking in Persons (IC-TIP). They are counts of what was "
        "recorded, not estimates of the number of victims."
    ),
    "records": N_(
        "Records: every record the providers sent (a victim reported by three providers "
        "counts three times)."
    ),
    "persons": N_(
        "Persons: the records linked into persons (a victim reported by three providers "
        "counts once, in the region and period of their first identification)."
    ),
    "no_link": N_("The victim files were not linked: only counts of records are published."),
    "disclosure": N_(
        "Cells from 1 to {low} are hidden (c), with as many other cells as needed so that no "
        "hidden count can be narrowed, from everything these tables publish (every table, "
        "period and level together: a half-year is the sum of its quarters, the same victims "
        "appear in several tables), to fewer than {values} possible values."
    ),
    "level_quarter": N_("by quarter"),
    "level_half-year": N_("by half-year"),
    "level_year": N_("by year"),
    "unit_records": N_("records"),
    "unit_persons": N_("linked persons"),
    "rejected": N_("Files rejected (not counted): {files}."),
    "region": N_("region"),
    "period": N_("period"),
    "provider": N_("provider"),
    "entity_type": N_("type of reporting entity"),
    "submission": N_("submission type"),
    "due": N_("due"),
    "status": N_("status"),
}


def _labelled(table: PublishedTable, lang: str) -> pd.DataFrame:
    shown = table.publication().reset_index()
    shown["region"] = shown["region"].map(lambda r: category_label(str(r), lang))
    return shown.rename(
        columns={
            "period": _TEXT["period"].render(lang),
            "region": _TEXT["region"].render(lang),
            **{c: category_label(str(c), lang) for c in shown.columns[2:]},
        }
    )


def _split_name(name: str) -> tuple[str, str, str]:
    """``victims_sex_age_records_year`` -> (``victims_sex_age``, ``records``, ``year``)."""
    stem, level = name.rsplit("_", 1)
    for unit in ("records", "persons"):
        if stem.endswith(f"_{unit}"):
            return stem[: -len(unit) - 1], unit, level
    return stem, "", level


def _markdown(frame: pd.DataFrame) -> list[str]:
    cells = [[escape_markdown_html(str(c), table_cell=True) for c in frame.columns]]
    cells += [[escape_markdown_html(str(v), table_cell=True) for v in row]
              for row in frame.itertuples(index=False)]  # fmt: skip
    head = "| " + " | ".join(cells[0]) + " |"
    rule = "|" + "|".join("---" for _ in cells[0]) + "|"
    return [head, rule, *("| " + " | ".join(r) + " |" for r in cells[1:]), ""]


@dataclass
class WrittenStatistics:
    """What :func:`write_statistics` wrote.

    Attributes
    ----------
    files : list of str
        File names inside the folder.
    headings : list of (str, str)
        Each table's heading in the language and its CSV file name, in order.
    linked : bool
        Whether the victims were also counted as linked persons.
    protection : LinkedProtection
        The joint disclosure control: hidden cells and the audit of every primary count
        (internal: the audit holds the hidden counts).
    """

    files: list[str]
    headings: list[tuple[str, str]]
    linked: bool
    protection: LinkedProtection


def write_statistics(
    cfg: StatsConfig,
    folder: Path,
    *,
    echo: Callable[[str], None] | None = None,
    linked: LinkedSubmissions | None = None,
    partner: Partner | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> WrittenStatistics:
    """Load, tabulate and write the statistics into ``folder`` (created).

    ``linked``: the linkage of ``cfg.link`` already made (the annual run's), used instead of
    linking again; ``partner``: the annual run's tables, protected with the linked persons
    (:class:`fl_estimate.stats.protect.Partner`; the protection returned holds its cells too);
    ``previous``: the previous publication's suppression pattern, held where a cell is
    published again with the same value.
    """
    lang = cfg.language
    inputs = load_inputs(cfg, echo, linked=linked)
    if echo is not None:
        echo(N_("disclosure control across the statistics tables ..."))
    tables, protection = statistics_release(
        inputs,
        levels=cfg.levels,
        threshold=cfg.threshold,
        country=cfg.country,
        partner=partner,
        previous=previous,
    )
    folder.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    headings: list[tuple[str, str]] = []
    sheets: dict[str, pd.DataFrame] = {}
    md = [f"# {escape_markdown_html(cfg.title)}", "", _TEXT["intro"].render(lang), ""]
    md += [f"- {_TEXT['records'].render(lang)}"]
    md += [f"- {_TEXT['persons' if inputs.linked else 'no_link'].render(lang)}", ""]
    md += [
        _TEXT["disclosure"].render(lang).format(low=cfg.threshold - 1, values=cfg.threshold + 1),
        "",
    ]
    if inputs.rejected:
        md += [_TEXT["rejected"].render(lang).format(files=", ".join(inputs.rejected)), ""]
    for name, table in tables.items():
        write_csv(table.publication().reset_index(), folder / f"{name}.csv")
        files.append(f"{name}.csv")
        stem, unit, level = _split_name(name)
        heading = table_title(stem, lang)
        detail = [_TEXT[f"level_{level}"].render(lang)]
        if unit:
            detail.insert(0, _TEXT[f"unit_{unit}"].render(lang))
        md += [f"## {heading} ({', '.join(detail)})", ""]
        headings.append((f"{heading} ({', '.join(detail)})", f"{name}.csv"))
        labelled = _labelled(table, lang)
        md += _markdown(labelled)
        sheets[name] = _counts_as_numbers(labelled)
    completeness = completeness_table(inputs, cfg.as_of)
    if completeness is not None:
        write_csv(completeness, folder / "completeness.csv")
        files.append("completeness.csv")
        shown = completeness.copy()
        for col in ("entity_type", "submission", "status"):
            shown[col] = shown[col].map(lambda v: category_label(str(v), lang))
        shown = shown.rename(columns={c: _TEXT[c].render(lang) for c in shown.columns})
        md += [f"## {table_title('completeness', lang)}", ""]
        md += _markdown(shown)
        sheets["completeness"] = shown
    if lang != "en":  # a reader's workbook: "Tableau 1"..., a contents sheet first, counts
        sheets = _numbered_sheets(sheets, headings, lang)  # grouped in the reader's locale
        write_xlsx(
            sheets, folder / "statistics.xlsx", number_formats=True, date_format="dd/mm/yyyy"
        )
    else:
        write_xlsx(sheets, folder / "statistics.xlsx")
    atomic_write_text(folder / "statistics.md", "\n".join(md))
    files += ["statistics.xlsx", "statistics.md"]
    return WrittenStatistics(files, headings, inputs.linked, protection)


def run_section(
    config: str | Path,
    folder: Path,
    *,
    language: str,
    echo: Callable[[str], None] | None = None,
    linked: LinkedSubmissions | None = None,
    partner: Partner | None = None,
    previous: Mapping[Hashable, tuple[int, bool]] | None = None,
) -> WrittenStatistics:
    """The statistics as a section of the annual run: written into ``folder`` (the run's
    ``statistics/``) in the run's language, from the run's linkage (``linked``) when it made
    one; the files are relative to the run's folder. Called by
    :func:`fl_estimate.pipeline.run.run` when its configuration has a ``[stats]``."""
    import dataclasses

    cfg = dataclasses.replace(read_stats_config(config), language=language_of(language))
    if echo is not None:
        echo(N_("periodic statistics (IC-TIP) ..."))
    if linked is not None and (
        cfg.link is None
        or linked.config.path is None
        or Path(linked.config.path).resolve() != cfg.link
    ):
        linked = None  # [stats] names another linkage than the run's
    written = write_statistics(
        cfg, folder, echo=echo, linked=linked, partner=partner, previous=previous
    )
    written.files = [f"{folder.name}/{f}" for f in written.files]
    written.headings = [(h, f"{folder.name}/{f}") for h, f in written.headings]
    return written


def stats_inputs(cfg: StatsConfig) -> list[Path]:
    """Every file the statistics read (the output folder may hold none of them)."""
    files = [cfg.path, *cfg.victims, *cfg.events, *cfg.perpetrators]
    if cfg.registry is not None:
        files.append(cfg.registry)
    if cfg.link is not None:
        from fl_estimate.providers.linkrun import link_inputs

        files += link_inputs(cfg.link)
    return files


@dataclass
class StatsResult:
    """What ``fl-estimate stats`` wrote."""

    out: Path
    files: list[str]


def run_stats(
    config: StatsConfig | str | Path,
    *,
    out: str | Path | None = None,
    lang: str | None = None,
    echo: Callable[[str], None] | None = None,
    cache: bool | str | Path | None = None,
) -> StatsResult:
    """``fl-estimate stats``: the statistics in an output folder of their own (replaced whole and
    atomically), with a manifest.

    The suppression pattern of the last publication of the same series (title, levels,
    country, threshold) is held: a cell published again with the same value is hidden or shown
    as it was, so that two periods' publications cannot be differenced (docs/providers.md,
    section 5, "Across publications"). It is kept in the fit cache's folder
    (:func:`fl_estimate.pipeline.cache.default_cache_folder`; ``cache``: False for none, or a
    folder), like the annual run's.
    """
    import dataclasses

    from fl_estimate.pipeline.cache import FitCache, default_cache_folder

    cfg = config if isinstance(config, StatsConfig) else read_stats_config(config)
    if lang is not None:
        cfg = dataclasses.replace(cfg, language=language_of(lang))
    target = Path(out) if out is not None else cfg.out
    inputs = stats_inputs(cfg)
    folder: Path | None = None
    if cache is None or cache is True:
        folder = default_cache_folder()
    elif cache is not False:
        folder = Path(cache)
    store = FitCache(folder)
    series = {
        "kind": "stats",
        "title": cfg.title,
        "levels": list(cfg.levels),
        "country": cfg.country,
        "threshold": cfg.threshold,
    }
    with publish_folder(target, kind="stats", inputs=inputs) as stage:
        written = write_statistics(
            cfg, stage, echo=echo, previous=store.previous_publication(series)
        )
        files = written.files
        labels = relative_labels(inputs, cfg.path.parent)
        write_manifest(stage / "manifest.json", kind="stats", inputs=labels, config=cfg.raw)
        files.append("manifest.json")
    store.remember_publication(series, written.protection.pattern)  # once published
    return StatsResult(target, files)
