"""The linkage run: from provider files to capture histories, driven by a linkage config (TOML).

:func:`link_submissions` validates every submission (rejected files are reported and left out),
checks completeness against the provider registry, pseudonymises and links, in memory;
:func:`write_link_outputs` writes two output folders (each atomically: a failed run leaves the
previous ones as they were): the published ``OUT`` and the internal ``OUT.internal`` (mode 0700,
never published; docs/config.md, "Published and internal outputs").

Internal (``OUT.internal``):

=============================  =============================================================
``capture_histories.csv``      one row per linked person: ``person``, 0/1 per provider, strata
``capture_counts.csv``         the same aggregated: strata, 0/1 per provider, ``count``
``linkage_report.json/.html``  warnings, pairs compared, match weights, clusters, duplicates
                               removed, model parameters and how each was trained, N̂ across
                               thresholds, file reports
``linkage_report.xlsx``        the report's tables, one sheet each
``warnings.csv``               what may have gone wrong in the linkage (``scope, code, message``)
``within_provider_merges.csv`` pairs of one provider's records merged into one person, with the
                               evidence (the provider's record numbers; no identifier)
``submissions.csv``            one row per file: used, replaced or rejected
``validation_problems.csv``    every problem of every rejected file (identifiers redacted)
``sensitivity.csv``            N̂ at a range of match thresholds (when given)
``link.log``, ``manifest.json`` what was done; input hashes and settings (never the key)
=============================  =============================================================

Published (``OUT``):

=============================  =============================================================
``persons_by_region_year.csv`` linked persons by region and year, after disclosure control
``completeness.csv``           expected provider-periods: received, late, not yet due
``provider_regions.csv``       the registry's mapping of providers by region (1 = reports)
``linkage_summary.json``       share of records merged, persons, N̂ range across thresholds,
                               linkage warning codes (counts at or above the disclosure
                               threshold only)
``manifest.json``              input hashes and settings
=============================  =============================================================

``fl-estimate link`` is both steps with the table of N̂ across match thresholds between them;
that table needs an estimator, so the whole command is composed in the pipeline layer
(:func:`fl_estimate.pipeline.linkage_sensitivity.run_link`).

Examples
--------
>>> cfg = read_link_config("data_samples/country/link.toml")
>>> cfg.threshold, cfg.strata, cfg.thresholds
(0.3, ['region', 'year'], [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
"""

from __future__ import annotations

import glob
import html
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from fl_estimate._io import atomic_write_text
from fl_estimate.disclosure import suppress
from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.outputs import publish_folders, relative_labels, write_json, write_manifest
from fl_estimate.outputs.cells import write_csv, write_xlsx
from fl_estimate.providers.linkage import (
    DEFAULT_DETERMINISTIC_RULES,
    DEFAULT_THRESHOLD,
    LinkageResult,
    RecordLinker,
    prepare_records,
)
from fl_estimate.providers.pseudonymise import (
    FINGERPRINT_COLUMN,
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    KEY_ENV_VAR,
    Pseudonymiser,
)
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import (
    SUBMISSION_COLUMNS,
    LoadedSubmissions,
    load_submissions,
)
from fl_estimate.tabular import read_toml

__all__ = [
    "DEFAULT_THRESHOLDS",
    "REMADE_SETTINGS",
    "LinkConfig",
    "LinkRun",
    "LinkedSubmissions",
    "extend_submissions",
    "internal_folder",
    "link_inputs",
    "link_submissions",
    "read_link_config",
    "submission_inputs",
    "write_link_outputs",
]

#: Columns a linkage config's ``strata`` may name: ``year`` (of ``date_identified``) and every
#: submission column that is neither an identifier nor a pseudonymous key.
STRATUM_COLUMNS = (
    "year",
    *(
        c
        for c, _req, _doc in SUBMISSION_COLUMNS
        if c not in IDENTIFIER_COLUMNS and c not in KEY_COLUMNS
    ),
)

#: Settings of a linkage config that do not change how files are linked (the files are compared
#: by their bytes; completeness, outputs and the tables across thresholds are made again by every
#: run): an earlier linkage whose other settings are the same can be extended with new
#: submissions (:func:`extend_submissions`).
REMADE_SETTINGS = (
    "submissions", "as_of", "incremental", "output", "base_dir", "path", "thresholds",
    "plausible_thresholds", "sensitivity_share", "linkage_draws", "sensitivity_model",
    "suppression_threshold",
)  # fmt: skip

#: Match-probability thresholds of the N̂-across-thresholds table.
DEFAULT_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


@dataclass(frozen=True)
class LinkConfig:
    """Settings of a linkage run (the ``[linkage]`` table of a TOML file; see docs/config.md)."""

    submissions: list[str]
    registry: str | None = None
    key_env: str = KEY_ENV_VAR
    key_file: str | None = None
    strata: list[str] = field(default_factory=lambda: ["region", "year"])
    method: str = "probabilistic"
    threshold: float | str = DEFAULT_THRESHOLD
    thresholds: list[float] = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    no_dedupe: list[str] = field(default_factory=list)
    max_cluster_size: int = 12
    cannot_link: float = 0.01
    max_pairs: int = 40_000_000
    duckdb_memory_limit: str = "4GB"
    fixed_links: list[list[str]] = field(
        default_factory=lambda: [list(r) for r in DEFAULT_DETERMINISTIC_RULES]
    )
    plausible_thresholds: list[float] = field(default_factory=lambda: [0.8, 0.99])
    sensitivity_share: float = 0.05
    linkage_draws: int = 0
    output: str = "linkage_output"
    as_of: str | None = None
    suppression_threshold: int = 5
    sensitivity_model: str | None = None
    seed: int = 1
    incremental: bool = True
    base_dir: str = "."
    path: str | None = None

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p


_TYPES: dict[str, Any] = {
    "submissions": list,
    "registry": str,
    "key_env": str,
    "key_file": str,
    "strata": list,
    "method": str,
    "threshold": float,
    "thresholds": list,
    "no_dedupe": list,
    "max_cluster_size": int,
    "cannot_link": float,
    "max_pairs": int,
    "duckdb_memory_limit": str,
    "fixed_links": list,
    "plausible_thresholds": list,
    "sensitivity_share": float,
    "linkage_draws": int,
    "output": str,
    "as_of": str,
    "suppression_threshold": int,
    "sensitivity_model": str,
    "seed": int,
    "incremental": bool,
}


def read_link_config(path: str | Path) -> LinkConfig:
    """Read and check a linkage config; every problem is reported at once."""
    path = Path(path)
    src = path.name
    doc = read_toml(path)
    table = doc.get("linkage")
    if not isinstance(table, dict):
        raise InputValidationError([Problem(N_("expected a [linkage] table"), src)])
    problems = []
    values: dict[str, Any] = {}
    for key, value in table.items():
        want = _TYPES.get(key)
        if want is None:
            problems.append(
                Problem(
                    N_("unknown setting (known: {known})", known=", ".join(_TYPES)), src, column=key
                )
            )
            continue
        if key == "threshold" and value == "auto":
            values[key] = value  # the data-driven threshold
            continue
        if want is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        if want is str and isinstance(value, date):
            value = value.isoformat()
        if want is list and isinstance(value, str):
            value = [value]
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            problems.append(
                Problem(N_("expected a {type}", type=want.__name__), src, column=key, value=value)
            )
            continue
        values[key] = value
    if "submissions" not in values and not any(p.column == "submissions" for p in problems):
        problems.append(Problem(N_("required setting is missing"), src, column="submissions"))
    if values.get("threshold", "auto") != "auto" and not 0 < values["threshold"] < 1:
        problems.append(
            Problem(N_("expected a probability between 0 and 1, or \"auto\""), src,
                    column="threshold", value=values["threshold"])
        )  # fmt: skip
    problems.extend(_check_values(values, src, path.resolve().parent))
    if values.get("method", "probabilistic") not in ("probabilistic", "deterministic"):
        problems.append(
            Problem(N_("expected probabilistic or deterministic"), src, column="method",
                    value=values["method"])
        )  # fmt: skip
    if problems:
        raise InputValidationError(problems)
    return LinkConfig(**values, base_dir=str(path.resolve().parent), path=str(path))


def _probability(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


def _check_values(values: dict[str, Any], src: str, base: Path) -> list[Problem]:
    """Ranges, dates and files of a linkage config, checked before any file is read."""
    problems: list[Problem] = []
    if "thresholds" in values:
        ts = values["thresholds"]
        bad = [t for t in ts if not _probability(t)]
        if not ts or bad:
            problems.append(
                Problem(N_("expected a non-empty list of probabilities between 0 and 1 "
                           "(exclusive)"), src, column="thresholds", value=bad or ts)
            )  # fmt: skip
    plausible = values.get("plausible_thresholds", [0.8, 0.99])
    bad = [t for t in plausible if not _probability(t)]
    if bad or len(plausible) != 2:
        problems.append(
            Problem(N_("expected two probabilities between 0 and 1: [lowest, highest]"), src,
                    column="plausible_thresholds", value=bad[0] if bad else plausible)
        )  # fmt: skip
    if values.get("max_cluster_size", 12) < 0 or values.get("max_cluster_size", 12) == 1:
        problems.append(Problem(N_("expected 0 (no limit) or at least 2"), src,
                                column="max_cluster_size", value=values["max_cluster_size"]))  # fmt: skip
    cannot = values.get("cannot_link", 0.01)
    if cannot != 0 and not 0 < cannot < 0.5:
        problems.append(Problem(N_("expected 0 (off) or a match probability below 0.5"), src,
                                column="cannot_link", value=cannot))  # fmt: skip
    if values.get("max_pairs", 0) < 0:
        problems.append(Problem(N_("expected 0 (no limit) or a number of pairs"), src,
                                column="max_pairs", value=values["max_pairs"]))  # fmt: skip
    if values.get("duckdb_memory_limit"):
        from fl_estimate.exceptions import ModelSpecificationError
        from fl_estimate.providers.linkage.model import check_memory_limit

        try:
            check_memory_limit(values["duckdb_memory_limit"])
        except ModelSpecificationError:
            problems.append(Problem(N_("expected a size such as \"4GB\" or \"500MB\" (\"\": "
                                       "DuckDB's default)"), src, column="duckdb_memory_limit",
                                    value=values["duckdb_memory_limit"]))  # fmt: skip
    if "fixed_links" in values:
        problems.extend(_check_fixed_links(values["fixed_links"], src))
    if not 0 < values.get("sensitivity_share", 0.05) < 1:
        problems.append(Problem(N_("expected a share between 0 and 1"), src,
                                column="sensitivity_share", value=values["sensitivity_share"]))  # fmt: skip
    if values.get("linkage_draws", 0) < 0:
        problems.append(Problem(N_("expected 0 (off) or a number of draws"), src,
                                column="linkage_draws", value=values["linkage_draws"]))  # fmt: skip
    bad_names = [v for v in values.get("no_dedupe", []) if not isinstance(v, str)]
    if bad_names:
        problems.append(Problem(N_("expected provider names"), src, column="no_dedupe",
                                value=bad_names[0]))  # fmt: skip
    if "as_of" in values:
        try:
            date.fromisoformat(values["as_of"])
        except ValueError:
            problems.append(
                Problem(N_("expected a date as YYYY-MM-DD"), src, column="as_of",
                        value=values["as_of"])
            )  # fmt: skip
    if values.get("suppression_threshold", 5) < 1:
        problems.append(
            Problem(N_("expected a whole number of at least 1"), src,
                    column="suppression_threshold", value=values["suppression_threshold"])
        )  # fmt: skip
    if values.get("seed", 1) < 0:
        problems.append(
            Problem(N_("expected a non-negative whole number"), src, column="seed",
                    value=values["seed"])
        )  # fmt: skip
    for key in ("submissions", "strata"):
        if key in values and not all(isinstance(v, str) and v for v in values[key]):
            problems.append(Problem(N_("expected a list of names"), src, column=key,
                                    value=values[key]))  # fmt: skip
    if "strata" in values and all(isinstance(v, str) for v in values["strata"]):
        unknown = [v for v in values["strata"] if v not in STRATUM_COLUMNS]
        if unknown:
            problems.append(
                Problem(N_("unknown stratum column(s) {unknown}; expected some of {columns}",
                           unknown=", ".join(unknown), columns=", ".join(STRATUM_COLUMNS)),
                        src, column="strata", value=unknown)
            )  # fmt: skip
    for key in ("registry", "key_file"):
        if key not in values:
            continue
        p = Path(values[key]) if Path(values[key]).is_absolute() else base / values[key]
        if not p.is_file():
            what = N_("is a folder, not a file") if p.is_dir() else N_("file not found")
            problems.append(
                Problem(N_("{what}: {path}", what=what, path=p), src, column=key,
                        value=values[key])
            )  # fmt: skip
    for pattern in values.get("submissions", []):
        if isinstance(pattern, str) and pattern:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            if not any(Path(m).is_file() for m in glob.glob(full)):
                problems.append(
                    Problem(N_("no file matches"), src, column="submissions", value=pattern)
                )
    return problems


def _check_fixed_links(rules: list[Any], src: str) -> list[Problem]:
    """``fixed_links``: a list of rules, each a non-empty list of the prepared records' columns
    (``age~6``: a window; at least one column must be an equality), checked before any work."""
    from fl_estimate.exceptions import ModelSpecificationError
    from fl_estimate.providers.linkage.prepare import BLOOM_COLUMNS, SPLINK_COLUMNS
    from fl_estimate.providers.linkage.rules import check_rules

    allowed = set(SPLINK_COLUMNS)
    shown = ", ".join(sorted(allowed - {"unique_id", "bloom_n"} - set(BLOOM_COLUMNS)))
    problems = []
    for rule in rules:
        if not isinstance(rule, list) or not rule or not all(isinstance(c, str) for c in rule):
            problems.append(Problem(N_("expected a list of rules, each a list of column names "
                                       "(e.g. [[\"key_doc\"], [\"key_name\", \"key_dob\"]])"),
                                    src, column="fixed_links", value=rule))  # fmt: skip
            continue
        try:
            check_rules("fixed_links", [tuple(rule)], allowed)
        except ModelSpecificationError:
            problems.append(Problem(N_("a rule names columns the records do not have, or has "
                                       "no equality; columns: {columns}", columns=shown),
                                    src, column="fixed_links", value=rule))  # fmt: skip
    return problems


@dataclass(frozen=True)
class LinkRun:
    """What a linkage run wrote and found."""

    output: Path
    files: list[str]
    report: dict[str, Any]
    rejected: list[str]
    internal: Path | None = None
    internal_files: list[str] = field(default_factory=list)
    #: The linkage in memory (confidential), for a caller that reuses it (the annual run's
    #: statistics count linked persons with it instead of linking again).
    linked: LinkedSubmissions | None = field(default=None, repr=False, compare=False)


def _expand(cfg: LinkConfig) -> list[Path]:
    files: list[Path] = []
    problems = []
    for pattern in cfg.submissions:
        matched = sorted(glob.glob(str(cfg.resolve(pattern))))
        if not matched:
            problems.append(
                Problem(N_("no file matches"), "link config", column="submissions", value=pattern)
            )
        files.extend(Path(m) for m in matched)
    if problems:
        raise InputValidationError(problems)
    seen: dict[Path, None] = {}
    for f in files:
        seen.setdefault(f.resolve(), None)
    return list(seen)


def link_inputs(config: LinkConfig | str | Path) -> list[Path]:
    """Every input of a linkage config: the config file (when given as one), the submission
    files its patterns match, the registry and the key file.

    An output folder may not be, hold or lie inside any of them
    (:func:`fl_estimate.outputs.publish_folder`).
    """
    cfg = config if isinstance(config, LinkConfig) else read_link_config(config)
    out = [Path(cfg.path)] if cfg.path else []
    out += _expand(cfg)
    out += [cfg.resolve(p) for p in (cfg.registry, cfg.key_file) if p]
    return out


#: The linkage facts at the top of the internal report, in words (HTML in a language other
#: than English; the JSON keeps the keys).
LINKAGE_FACTS: dict[str, str] = {
    "method": N_("method"),
    "threshold": N_("match threshold"),
    "data_threshold": N_("data-driven threshold"),
    "records": N_("records"),
    "unlinkable_records": N_("records that cannot be linked"),
    "pairs_compared": N_("pairs compared"),
    "links_probabilistic": N_("probabilistic links"),
    "links_deterministic": N_("deterministic links"),
    "persons": N_("persons"),
    "largest_cluster": N_("largest cluster"),
    "clusters_spanning_strata": N_("clusters spanning strata"),
}
#: Column labels of the internal report's tables (others: :data:`fl_estimate.i18n.COLUMN_LABELS`,
#: else the name).
LINKAGE_COLUMNS: dict[str, str] = {
    "code": N_("code"),
    "message": N_("message"),
    "links": N_("links"),
    "n_hat": N_("N-hat"),
    "low": N_("lower limit"),
    "high": N_("upper limit"),
    "records_removed": N_("records removed"),
    "pairs_deterministic": N_("pairs merged by rule"),
    "pairs_probabilistic": N_("pairs merged by the model"),
    "pairs_through_other_records": N_("pairs merged through other records"),
    "median_match_weight": N_("median match weight"),
    "deduplication": N_("deduplication"),
    "comparison": N_("comparison"),
    "level": N_("level"),
    "m_source": N_("source of m"),
    "u_source": N_("source of u"),
    "rule": N_("rule"),
    "pairs": N_("pairs"),
    "comparisons": N_("comparisons"),
    "reason": N_("reason"),
    "rows": N_("rows"),
    "problems": N_("problems"),
    "due": N_("due"),
    "retried": N_("retried"),
    "Total": N_("Total"),
}
#: Codes in the internal report's tables, in words.
LINKAGE_VALUES: dict[str, str] = {
    "fixed": N_("fixed"),
    "data-driven": N_("data-driven"),
    "on": N_("on"),
    "off": N_("off"),
    "used": N_("used"),
    "rejected": N_("rejected"),
    "replaced": N_("replaced"),
    "received": N_("received"),
    "late": N_("late"),
    "not yet due": N_("not yet due"),
    "unexpected": N_("unexpected"),
    "trained": N_("trained"),
    "skipped": N_("skipped"),
    "failed": N_("failed"),
    "linkage": N_("linkage"),
    "sensitivity": N_("sensitivity"),
    "ok": N_("estimated"),
    "random sample": N_("random sample"),
    "default": N_("default"),
}
#: Columns whose text values are codes or catalog messages (other text is data: names, files).
_CODED = frozenset({"scope", "kind", "status", "deduplication", "interval_kind", "u_source"})
#: Columns whose text is the linkage model's words (levels, m and u sources, EM sessions'
#: reasons: :func:`~fl_estimate.providers.linkage.words.linkage_message`).
_MODEL_TEXT = frozenset({"level", "m_source", "u_source", "reason", "retried"})


def _cell(value: Any, column: str, lang: str, numbers_as_text: bool = True) -> Any:
    """One cell of the internal report in ``lang``: numbers in its format, codes in words,
    catalog messages translated; data (names, files, periods, years) as they are.
    ``numbers_as_text=False`` (the workbook) keeps numbers as numbers."""
    import math
    import numbers

    from fl_estimate.i18n import Message, format_int, format_number, translate
    from fl_estimate.providers.linkage.words import linkage_message
    from fl_estimate.results import INTERVAL_KINDS, model_words

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column in _MODEL_TEXT:
        value = linkage_message(value)
    if isinstance(value, Message):
        return translate(value, lang)
    if isinstance(value, bool):
        return translate(N_("yes") if value else N_("no"), lang)
    if isinstance(value, numbers.Real) and not numbers_as_text:
        return value
    if isinstance(value, numbers.Integral):
        return str(value) if column in ("year", "row", "period") else format_int(value, lang)
    if isinstance(value, numbers.Real):
        v = float(value)
        if abs(v) >= 100:
            return format_number(v, lang, 1)
        if abs(v) >= 0.01 or v == 0:
            return format_number(v, lang, 4)
        return format_number(v, lang, significant=3)
    if column in _CODED and isinstance(value, str):
        if value in INTERVAL_KINDS:
            return translate(INTERVAL_KINDS[value], lang)
        if value in LINKAGE_VALUES:
            return translate(LINKAGE_VALUES[value], lang)
        parts = value.split(", ")  # a threshold's kinds: "fixed, default"
        if len(parts) > 1 and all(p in LINKAGE_VALUES for p in parts):
            return ", ".join(translate(LINKAGE_VALUES[p], lang) for p in parts)
    if column == "model":
        return model_words(value, lang)
    return value


def _localised(frame: pd.DataFrame, lang: str, numbers_as_text: bool = True) -> pd.DataFrame:
    """A copy of a report table with the labels and cells of ``lang`` (object columns keep
    their catalog messages: :func:`_cell` translates them); ``numbers_as_text=False`` keeps
    the numbers as numbers (the workbook)."""
    from fl_estimate.i18n import column_label, translate

    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        name = str(col)
        label = LINKAGE_COLUMNS.get(name)
        title = translate(label, lang) if label is not None else column_label(name, lang)
        out[title] = pd.Series(
            [_cell(v, name, lang, numbers_as_text) for v in frame[col].astype(object)],
            index=frame.index,
            dtype=object,
        )
    if frame.columns.name is not None:
        out.columns.name = column_label(str(frame.columns.name), lang)
    return out


def _html(report: dict[str, Any], tables: dict[str, pd.DataFrame], lang: str = "en") -> str:
    """The internal linkage report as one HTML page: English as before; in another language the
    headings, labels, codes, warnings and numbers of ``lang``."""
    from fl_estimate.i18n import translate

    en = lang == "en"

    def say(text: str) -> str:
        return str(text) if en else translate(text, lang)

    title = html.escape(say(N_("Linkage report")))
    lang_attr = "" if en else f" lang='{html.escape(lang)}'"
    parts = [
        f"<!doctype html><html{lang_attr}><head><meta charset='utf-8'><title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>",
        f"</head><body><h1>{title}</h1>",
    ]
    link = report["linkage"]
    warned = report.get("warnings", [])
    if warned:
        parts.append(f"<h2>{html.escape(say(N_('Warnings')))}</h2><ul>")
        parts += [f"<li>{html.escape(say(w['message']))}</li>" for w in warned]
        parts.append("</ul>")
    else:
        no_warnings = N_("No warnings: every model parameter was trained on these records.")
        parts.append(f"<p>{html.escape(say(no_warnings))}</p>")
    facts = {
        k: link[k]
        for k in ("method", "threshold", "data_threshold", "records", "unlinkable_records",
                  "pairs_compared", "links_probabilistic", "links_deterministic", "persons",
                  "largest_cluster", "clusters_spanning_strata")
    }  # fmt: skip
    prior = link.get("training", {}).get("prior", {})
    if prior:
        facts["prior match probability (counted)"] = prior.get("rules")
        facts["prior match probability (fitted, used)"] = prior.get("used")
    if en:
        parts.append(pd.Series(facts, name="value").to_frame().to_html())
    else:
        labels = {
            **LINKAGE_FACTS,
            "prior match probability (counted)": N_("prior match probability (counted)"),
            "prior match probability (fitted, used)": N_("prior match probability (fitted, used)"),
        }
        shown = pd.Series(
            {translate(labels[k], lang): _cell(v, k, lang) for k, v in facts.items()},
            name=translate(N_("value"), lang),
            dtype=object,
        )
        parts.append(shown.to_frame().to_html())
    for name, frame in tables.items():
        parts.append(f"<h2>{html.escape(say(name))}</h2>")
        parts.append((frame if en else _localised(frame, lang)).to_html(index=False, na_rep=""))
    parts.append("</body></html>")
    return "\n".join(parts)


def _workbook(
    tables: dict[str, pd.DataFrame], localised: dict[str, pd.DataFrame], lang: str
) -> dict[str, pd.DataFrame]:
    """The sheets of ``linkage_report.xlsx``: in English the tables as they are (titles, column
    names and codes); in another language the sheet titles, headings, codes and messages in
    ``lang`` (``localised``: the tables whose messages are kept as messages), numbers kept as
    numbers."""
    if lang == "en":
        return tables
    from fl_estimate.i18n import translate

    return {
        translate(name, lang): _localised(localised.get(name, frame), lang, False)
        for name, frame in tables.items()
    }


def _merge_summary(merges: pd.DataFrame, report: dict[str, Any]) -> pd.DataFrame:
    """Within-provider merges by provider: records removed, pairs merged directly (by rule or by
    the model) or only through other records, and the median match weight of the direct ones."""
    rows = []
    for prov, removed in report["duplicates_removed"].items():
        sub = merges[merges["provider"] == prov]
        direct = sub[sub["link"] != "through other records"]
        rows.append(
            {
                "provider": prov,
                "records_removed": removed,
                "pairs_deterministic": int(direct["link"].str.startswith("deterministic").sum()),
                "pairs_probabilistic": int((direct["link"] == "probabilistic").sum()),
                "pairs_through_other_records": len(sub) - len(direct),
                "median_match_weight": float(direct["match_weight"].median())
                if direct["match_weight"].notna().any()
                else None,
                "deduplication": "off" if prov in report.get("no_dedupe", []) else "on",
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class LinkedSubmissions:
    """Submissions validated, pseudonymised and linked, in memory (nothing written yet).

    Attributes
    ----------
    config : LinkConfig
    files : list of Path
        The submission files read, in order.
    loaded : LoadedSubmissions
        Every file's report; the accepted records.
    registry : ProviderRegistry or None
    result : LinkageResult
        The linkage (confidential: holds keyed tokens).
    lists : list of str
        Providers as capture lists, in registry order.
    completeness : DataFrame or None
        Expected provider-periods and their status (with a registry).
    report : dict
        The linkage report at the config's threshold (:meth:`LinkageResult.report`).
    log : list of str
        What was done, line by line (no identifiers).
    """

    config: LinkConfig
    files: list[Path]
    loaded: LoadedSubmissions
    registry: ProviderRegistry | None
    result: LinkageResult
    lists: list[str]
    completeness: pd.DataFrame | None
    report: dict[str, Any]
    log: list[str]


def _logger(echo: Callable[[str], None] | None) -> tuple[list[str], Callable[[str], None]]:
    log: list[str] = []

    def say(msg: str) -> None:
        log.append(msg)
        if echo is not None:
            echo(msg)

    return log, say


def _registry(cfg: LinkConfig) -> ProviderRegistry | None:
    if cfg.key_file:  # a bad key file is refused before any submission is read
        Pseudonymiser.from_env(cfg.key_env, cfg.resolve(cfg.key_file))
    return ProviderRegistry.read_csv(cfg.resolve(cfg.registry)) if cfg.registry else None


def _say_loaded(loaded: LoadedSubmissions, files: list[Path], say: Callable[[str], None]) -> None:
    used = loaded.report_frame()
    say(
        N_(
            "{files} submission files: {used} used, {replaced} replaced by a later file, "
            "{rejected} rejected",
            files=len(files),
            used=int((used["status"] == "used").sum()),
            replaced=int((used["status"] == "replaced").sum()),
            rejected=len(loaded.rejected),
        )
    )
    for r in loaded.rejected:
        say(
            N_(
                "rejected {file}: {n} problem(s); see validation_problems.csv",
                file=r.source,
                n=len(r.problems),
            )
        )


def _prepare(
    cfg: LinkConfig,
    loaded: LoadedSubmissions,
    registry: ProviderRegistry | None,
    records: pd.DataFrame,
) -> pd.DataFrame:
    """``records`` (accepted, of ``loaded``) pseudonymised with the config's key, after the
    checks of the settings that name providers and of the key's fingerprints."""
    known = set(registry.providers) if registry else set(records["provider"])
    unknown = [p for p in cfg.no_dedupe if p not in known]
    if unknown:
        raise InputValidationError(
            [Problem(N_("not a provider (providers: {known})", known=", ".join(sorted(known))),
                     "config", column="no_dedupe", value=p) for p in unknown]
        )  # fmt: skip
    needs_key = any(c in records and records[c].notna().any() for c in IDENTIFIER_COLUMNS)
    pseudo = None
    if needs_key or cfg.key_file or os.environ.get(cfg.key_env):
        pseudo = Pseudonymiser.from_env(
            cfg.key_env, cfg.resolve(cfg.key_file) if cfg.key_file else None
        )
    check_key_fingerprints(loaded, registry, pseudo)
    return prepare_records(records, pseudo)


def _linked(
    cfg: LinkConfig,
    files: list[Path],
    loaded: LoadedSubmissions,
    registry: ProviderRegistry | None,
    result: LinkageResult,
    log: list[str],
    say: Callable[[str], None],
) -> LinkedSubmissions:
    """The linked submissions of a fitted linkage: lists, report and completeness."""
    present = set(result.records["provider"])
    lists = registry.providers if registry else sorted(present)
    lists = [p for p in lists if p in present]
    link_report = result.report()
    say(
        N_(
            "{records} records, {pairs} pairs compared, {persons} persons at match probability "
            ">= {threshold:g}{auto}",
            records=link_report["records"],
            pairs=link_report["pairs_compared"],
            persons=link_report["persons"],
            threshold=result.threshold,
            auto=N_(" (data-driven threshold)") if cfg.threshold == "auto" else "",
        )
    )
    for w in link_report["warnings"]:
        say(N_("warning ({code}): {message}", code=w["code"], message=w["message"]))
    as_of = cfg.as_of or date.today().isoformat()
    completeness = (
        registry.completeness(loaded.accepted.keys(), as_of) if registry is not None else None
    )
    if completeness is not None:
        late = completeness[completeness["status"] == "late"]
        for p, q in zip(late["provider"], late["period"], strict=True):
            say(N_("late: {provider} {period}", provider=p, period=q))
    return LinkedSubmissions(
        cfg, files, loaded, registry, result, lists, completeness, link_report, log
    )


def _no_records() -> InputValidationError:
    return InputValidationError(
        [Problem(N_("no accepted submission to link"), "config", column="submissions")]
    )


def link_submissions(
    config: LinkConfig | str | Path, *, echo: Callable[[str], None] | None = None
) -> LinkedSubmissions:
    """Validate, check completeness, pseudonymise and link the submissions of a linkage config.

    Parameters
    ----------
    config : LinkConfig or path
        The config, or a TOML file holding it.
    echo : callable, optional
        Called with each log line (the CLI prints them).

    Raises
    ------
    InputValidationError
        A pattern matching no file, or no accepted submission.
    """
    cfg = config if isinstance(config, LinkConfig) else read_link_config(config)
    log, say = _logger(echo)
    registry = _registry(cfg)
    files = _expand(cfg)
    loaded = load_submissions(
        files,
        regions=registry.regions_of() if registry else None,
        providers=registry.providers if registry else None,
    )
    _say_loaded(loaded, files, say)
    records = loaded.records()
    if records.empty:
        raise _no_records()
    prepared = _prepare(cfg, loaded, registry, records)
    del records  # clear identifiers go no further
    linker = RecordLinker(
        method=cfg.method,
        threshold=cfg.threshold,
        seed=cfg.seed,
        no_dedupe=tuple(cfg.no_dedupe),
        max_cluster_size=cfg.max_cluster_size or None,
        cannot_link=cfg.cannot_link or None,
        max_pairs=cfg.max_pairs or None,
        duckdb_memory_limit=cfg.duckdb_memory_limit or None,
        deterministic_rules=tuple(tuple(r) for r in cfg.fixed_links),
    )
    return _linked(cfg, files, loaded, registry, linker.fit(prepared), log, say)


def submission_inputs(config: LinkConfig, files: list[Path] | None = None) -> dict[str, Path]:
    """The submission files of a config (default: those its patterns match now) by their path
    relative to its folder (POSIX)."""
    base = Path(config.base_dir).resolve()
    found = _expand(config) if files is None else files
    return {Path(os.path.relpath(Path(f).resolve(), base)).as_posix(): Path(f) for f in found}


def extend_submissions(
    config: LinkConfig | str | Path,
    base: LinkedSubmissions,
    unchanged: set[str],
    *,
    echo: Callable[[str], None] | None = None,
) -> LinkedSubmissions | None:
    """The submissions of ``config`` linked by adding its new files to an earlier linkage.

    Parameters
    ----------
    config : LinkConfig or path
    base : LinkedSubmissions
        An earlier linkage of the same settings (its accepted frames may be empty: only their
        reports and the pseudonymised records of ``base.result`` are read).
    unchanged : set of str
        The files (relative to each config's folder, :func:`submission_inputs`) of ``base``
        that are still inputs, byte for byte: they are not read again.

    Returns
    -------
    LinkedSubmissions or None
        None, saying why, when the earlier linkage cannot be extended: one of its files is no
        longer an input, there is no new file, or a new accepted file is for a period that does
        not start after the last period of the earlier linkage (a late or replaced submission:
        earlier strata would change, so everything is linked again). Otherwise the new files'
        records linked by :func:`fl_estimate.providers.linkage.incremental.extend_linkage`.
    """
    from fl_estimate.providers.linkage.incremental import extend_linkage
    from fl_estimate.providers.submissions import load_files, period_bounds, validate_submission

    cfg = config if isinstance(config, LinkConfig) else read_link_config(config)
    log, say = _logger(echo)
    inputs = submission_inputs(cfg)
    earlier = submission_inputs(base.config, base.files)
    before = dict(zip(earlier, base.loaded.reports, strict=True))
    if not set(earlier) <= unchanged or not set(inputs) - unchanged:
        return None
    registry = _registry(cfg)
    kept = {src: frame for src, frame in base.loaded.accepted.values()}
    names = {path: rel for rel, path in inputs.items()}

    def validate(path: str | Path) -> tuple[Any, pd.DataFrame | None]:
        rel = names[Path(path)]
        if rel in unchanged:
            report = before[rel]
            return report, (kept.get(report.source, pd.DataFrame()) if report.accepted else None)
        return validate_submission(
            path,
            regions=registry.regions_of() if registry else None,
            providers=registry.providers if registry else None,
        )

    files = list(inputs.values())
    loaded = LoadedSubmissions()
    load_files(files, validate, loaded)
    new_sources = {path.name for rel, path in inputs.items() if rel not in unchanged}
    last = max(period_bounds(p)[1] for _, p in base.loaded.accepted)
    fresh = {k: v for k, v in loaded.accepted.items() if v[0] in new_sources}
    early = [(src, k[1]) for k, (src, _) in fresh.items() if period_bounds(k[1])[0] <= last]
    if early:
        say(
            f"linking every submission again: {early[0][0]} is for {early[0][1]}, which does not "
            f"start after the earlier linkage's last period (ending {last:%Y-%m-%d})"
        )
        return None
    _say_loaded(loaded, files, say)
    records = LoadedSubmissions(accepted=fresh).records()
    prepared = _prepare(cfg, loaded, registry, records) if len(records) else records
    del records  # clear identifiers go no further
    result = extend_linkage(base.result, prepared) if len(prepared) else base.result
    say(
        f"{len(prepared)} new records of {len(fresh)} new submission(s) linked against the "
        f"earlier linkage of {len(base.result.records)} records, whose model and persons are "
        'held (docs/config.md, "Incremental linkage")'
    )
    return _linked(cfg, files, loaded, registry, result, log, say)


def internal_folder(out: str | Path) -> Path:
    """The internal folder that goes with output folder ``out``: ``OUT.internal`` beside it."""
    out = Path(out)
    if not out.name:  # ".", "..", "/": name the folder it is (which is then refused as output)
        out = out.resolve()
    return out.with_name(f"{out.name}.internal") if out.name else out / ".internal"


def _summary(
    linked: LinkedSubmissions,
    sensitivity: pd.DataFrame | None,
    cfg: LinkConfig,
    warn_frame: pd.DataFrame,
    uncertainty: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The publishable linkage-quality facts: shares, and counts at or above the disclosure
    threshold only (a smaller count is ``None``).

    Keys: ``method, threshold`` (used), ``threshold_setting`` (``"auto"`` or the number),
    ``data_threshold, records, persons, share_of_records_merged, estimated_precision,
    estimated_recall`` (pairwise, from the match probabilities), ``disclosure_threshold``; with
    the table across thresholds: ``match_thresholds, n_hat_range_across_thresholds`` (every
    row), ``plausible_thresholds, persons_range_plausible, n_hat_range_plausible`` (rows within
    the plausible range and the data-driven one); ``warnings`` (scope and code of each linkage
    warning: their texts hold small counts and stay in the internal report); with linkage
    draws, ``linkage_uncertainty`` (N-hat and intervals with and without linkage error).
    """
    rep = linked.report
    thr = cfg.suppression_threshold

    def count(n: float) -> int | None:
        return int(n) if n >= thr else None

    def span(values: pd.Series) -> list[float | None] | None:
        v = pd.to_numeric(values, errors="coerce").dropna()
        return [count(v.min()), count(v.max())] if len(v) else None

    records, persons = int(rep["records"]), int(rep["persons"])
    quality = rep.get("estimated_quality", {})
    out: dict[str, Any] = {
        "method": rep["method"],
        "threshold": rep["threshold"],
        "threshold_setting": cfg.threshold,
        "data_threshold": rep.get("data_threshold"),
        "thresholds_by_generation": rep.get("thresholds"),
        "records": count(records),
        "persons": count(persons),
        "share_of_records_merged": (records - persons) / records if records else None,
        "estimated_precision": quality.get("precision"),
        "estimated_recall": quality.get("recall"),
        "disclosure_threshold": thr,
    }
    if sensitivity is not None and len(sensitivity):
        n_hat = pd.to_numeric(sensitivity["n_hat"], errors="coerce").dropna()
        out["n_hat_range_across_thresholds"] = (
            [float(n_hat.min()), float(n_hat.max())] if len(n_hat) else None
        )
        out["match_thresholds"] = [float(t) for t in sensitivity["threshold"]]
        lo, hi = min(cfg.plausible_thresholds), max(cfg.plausible_thresholds)
        kind = sensitivity.get("kind", pd.Series("", index=sensitivity.index)).astype(str)
        near = sensitivity[sensitivity["threshold"].between(lo, hi)
                           | kind.str.contains("data-driven|default")]  # fmt: skip
        out["plausible_thresholds"] = [lo, hi]
        out["persons_range_plausible"] = span(near["persons"])
        out["n_hat_range_plausible"] = span(near["n_hat"])
    out["warnings"] = [
        {"scope": str(sc), "code": str(c)}
        for sc, c in dict.fromkeys(zip(warn_frame["scope"], warn_frame["code"], strict=True))
    ]
    if uncertainty is not None and len(uncertainty):
        row = uncertainty.iloc[0]
        out["linkage_uncertainty"] = {
            k: count(float(row[k])) if pd.notna(row[k]) else None
            for k in ("n_hat", "low", "high", "n_hat_draws", "low_linkage", "high_linkage")
            if k in row
        }
    return out


def _config_inputs(cfg: LinkConfig) -> list[Path]:
    """The config file and the key file (inputs not hashed into the manifest)."""
    return [cfg.resolve(p) for p in (cfg.path, cfg.key_file) if p]


def check_key_fingerprints(
    loaded: LoadedSubmissions, registry: ProviderRegistry | None, pseudo: Pseudonymiser | None
) -> None:
    """Every pseudonymised submission was made with the linkage key.

    The key's fingerprint (:attr:`Pseudonymiser.fingerprint`), the registry's ``key_fingerprint``
    of the provider and the submission's ``key_fingerprint`` column must agree wherever they are
    known: tokens made with another key never match, and linking them would count each of their
    people twice without a word.

    Raises
    ------
    LinkageKeyError
        Naming each provider (and file) whose fingerprint differs.
    """
    from fl_estimate.exceptions import LinkageKeyError

    ours = pseudo.fingerprint if pseudo is not None else None
    bad: list[str] = []
    for (provider, _period), (source, frame) in sorted(loaded.accepted.items()):
        if not any(c in frame for c in KEY_COLUMNS):
            continue
        listed = registry.fingerprint_of(provider) if registry is not None else None
        given = None
        if FINGERPRINT_COLUMN in frame:
            values = {str(v) for v in frame[FINGERPRINT_COLUMN].dropna()}
            given = values.pop() if len(values) == 1 else ("several" if values else None)
        for name, fp in ((N_("the registry's key_fingerprint"), listed), (source, given)):
            if fp is None:
                continue
            if ours is not None and fp != ours:
                bad.append(N_("provider {provider} ({name}: {fingerprint}) does not match the "
                              "linkage key ({ours})", provider=provider, name=name,
                              fingerprint=fp, ours=ours))  # fmt: skip
            elif ours is None and listed is not None and fp != listed:
                bad.append(N_("provider {provider}: {source} fingerprint {fingerprint} differs "
                              "from the registry's ({listed})", provider=provider, source=source,
                              fingerprint=fp, listed=listed))  # fmt: skip
    if bad:
        raise LinkageKeyError(
            N_(
                "pseudonymous keys made with another key: {details}. Ask the provider to "
                "pseudonymise again with the current key, or correct the registry's "
                "key_fingerprint",
                details=join_semicolons(dict.fromkeys(bad)),
            )
        )


def write_link_outputs(
    linked: LinkedSubmissions,
    *,
    out: str | Path | None = None,
    sensitivity: pd.DataFrame | None = None,
    sensitivity_note: str = "",
    internal: str | Path | None = None,
    sensitivity_warnings: list[dict[str, str]] | None = None,
    uncertainty: pd.DataFrame | None = None,
    lang: str = "en",
) -> LinkRun:
    """Write the linkage folder of a linked set of submissions (see the module docstring).

    Parameters
    ----------
    linked : LinkedSubmissions
        From :func:`link_submissions`.
    out : path, optional
        Output folder (default: the config's ``output``, relative to the config file).
    sensitivity : DataFrame, optional
        N̂ across match thresholds
        (:func:`fl_estimate.pipeline.linkage_sensitivity.linkage_sensitivity`): written as
        ``sensitivity.csv`` and a report table when given.
    sensitivity_note : str
        What the sensitivity table is (the report prints it next to the table).
    internal : path, optional
        The internal folder (default: ``OUT.internal`` beside the output folder, mode 0700):
        per-person capture histories, capture counts with small cells, the linkage report
        (merge evidence, model parameters, per-threshold table), file reports and the log. Never
        publish it (docs/config.md, "Published and internal outputs").
    sensitivity_warnings : list of dict, optional
        ``{"code", "message"}`` findings on the sensitivity table, added to the linkage
        warnings (``warnings.csv`` and the report).
    uncertainty : DataFrame, optional
        N̂ with and without linkage error
        (:func:`fl_estimate.pipeline.linkage_uncertainty.linkage_uncertainty`): written as
        ``linkage_uncertainty.csv`` and a report table when given.
    lang : str
        Language of ``linkage_report.html`` (headings, labels, codes in words, warnings and
        validation messages, the model's levels and sources, numbers) and of
        ``linkage_report.xlsx`` (sheet titles, headings, codes in words and messages; numbers
        stay numbers); the JSON and CSV files keep the codes and English.
    """
    cfg, result, loaded = linked.config, linked.result, linked.loaded
    registry, completeness, lists = linked.registry, linked.completeness, linked.lists
    hist = result.capture_histories(strata=cfg.strata, lists=lists)
    data = result.capture_data(strata=cfg.strata, lists=lists)
    used = loaded.report_frame()
    by_stratum = (
        hist.groupby(cfg.strata[:2]).size().unstack(fill_value=0)
        if len(cfg.strata) >= 2
        else hist.groupby(cfg.strata[0]).size()
        if cfg.strata
        else pd.Series({"all": len(hist)}, name="persons")
    )
    published = suppress(by_stratum, threshold=cfg.suppression_threshold)
    problems = pd.concat(
        [r.to_frame() for r in loaded.rejected] or [pd.DataFrame(columns=["source"])],
        ignore_index=True,
    )
    link_warnings = [{"scope": "linkage", **w} for w in linked.report["warnings"]]
    link_warnings += [{"scope": "sensitivity", **w} for w in sensitivity_warnings or []]
    warn_frame = pd.DataFrame(link_warnings, columns=["scope", "code", "message"])
    merges = result.within_provider_merges()
    model = pd.DataFrame(linked.report["model"])
    sessions = pd.DataFrame(linked.report["training"].get("sessions", []))
    if "comparisons" in sessions:
        sessions["comparisons"] = sessions["comparisons"].map(", ".join)
    report: dict[str, Any] = {"linkage": linked.report, "warnings": link_warnings}
    if sensitivity is not None:
        report["sensitivity"] = sensitivity.to_dict(orient="records")
    report |= {
        "submissions": [r.to_dict() for r in loaded.reports],
        "replaced": [{"earlier": a, "later": b} for a, b in loaded.replaced],
        "completeness": None if completeness is None else completeness.to_dict(orient="records"),
        "published_persons": published.to_dict(),
        "lists": lists,
        "strata": cfg.strata,
    }
    if sensitivity is not None:
        report["sensitivity_note"] = sensitivity_note
    if uncertainty is not None:
        report["linkage_uncertainty"] = uncertainty.to_dict(orient="records")
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("base_dir", "path")}
    settings["linker"] = result.settings
    target = Path(out) if out is not None else cfg.resolve(cfg.output)
    files = [*linked.files, *([cfg.resolve(cfg.registry)] if cfg.registry else [])]
    written: list[str] = []
    # the titles are catalog messages (English keys of the workbook's sheets)
    tables: dict[str, pd.DataFrame] = {N_("Warnings"): warn_frame}
    if sensitivity is not None:
        tables[N_("N-hat across match thresholds")] = sensitivity
    if uncertainty is not None:
        tables[N_("N-hat with and without linkage error")] = uncertainty
    tables |= {
        N_("Within-provider merges"): _merge_summary(merges, linked.report),
        N_("Model parameters"): model,
        N_("EM training sessions"): sessions,
        N_("Submission files"): used,
        N_("Validation problems"): problems,
        N_("Linked persons by stratum (after disclosure control)"): (
            published.to_frame().reset_index()
        ),
    }
    if completeness is not None:
        tables[N_("Completeness")] = completeness
    html_tables = dict(tables)
    if lang != "en":  # the frames' text columns hold plain strings: messages from the sources
        html_tables[N_("Warnings")] = pd.DataFrame(
            {
                "scope": [w["scope"] for w in link_warnings],
                "code": [w["code"] for w in link_warnings],
                "message": pd.Series([w["message"] for w in link_warnings], dtype=object),
            }
        )
        problem_rows = [p for r in loaded.rejected for p in r.problems]
        html_tables[N_("Validation problems")] = pd.DataFrame(
            {
                "source": [p.source for p in problem_rows],
                "row": pd.Series([p.row for p in problem_rows], dtype=object),
                "column": [p.column for p in problem_rows],
                "value": [None if p.value is None else str(p.value) for p in problem_rows],
                "expected": pd.Series([p.message for p in problem_rows], dtype=object),
            }
        )
    inside = Path(internal) if internal is not None else internal_folder(target)
    inputs = [*files, *_config_inputs(cfg)]
    internal_written: list[str] = []
    with publish_folders(
        [(target, "link", 0o777), (inside, "link-internal", 0o700)], inputs=inputs
    ) as (stage, private):

        def put_csv(folder: Path, name: str, frame: pd.DataFrame) -> None:
            write_csv(frame, folder / name)
            (written if folder == stage else internal_written).append(name)

        put_csv(private, "capture_histories.csv", hist)
        put_csv(private, "capture_counts.csv", data.to_frame())
        put_csv(private, "submissions.csv", used)
        put_csv(private, "validation_problems.csv", problems)
        put_csv(private, "warnings.csv", warn_frame)
        put_csv(private, "within_provider_merges.csv", merges)
        if sensitivity is not None:
            put_csv(private, "sensitivity.csv", sensitivity)
        if uncertainty is not None:
            put_csv(private, "linkage_uncertainty.csv", uncertainty)
        write_json(private / "linkage_report.json", report)
        atomic_write_text(private / "linkage_report.html", _html(report, html_tables, lang))
        write_xlsx(_workbook(tables, html_tables, lang), private / "linkage_report.xlsx")
        atomic_write_text(private / "link.log", "\n".join(linked.log) + "\n")
        internal_written += ["linkage_report.json", "linkage_report.html", "linkage_report.xlsx"]
        internal_written.append("link.log")
        if completeness is not None and registry is not None:
            put_csv(stage, "completeness.csv", completeness)
            put_csv(stage, "provider_regions.csv", registry.coverage().reset_index())
        put_csv(stage, "persons_by_region_year.csv", published.to_frame().reset_index())
        write_json(
            stage / "linkage_summary.json",
            _summary(linked, sensitivity, cfg, warn_frame, uncertainty),
        )
        written.append("linkage_summary.json")
        for folder, kind, names in (
            (stage, "link", written),
            (private, "link-internal", internal_written),
        ):
            write_manifest(
                folder / "manifest.json",
                kind=kind,
                inputs=relative_labels(files, cfg.base_dir),
                config=settings,
                run={"output": str(Path(target).resolve()), "command": ["fl-estimate", "link"]},
            )
            names.append("manifest.json")
    return LinkRun(
        target, written, report, [r.source for r in loaded.rejected], inside, internal_written
    )
