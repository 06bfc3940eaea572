"""The linkage run: from provider files to capture histories, driven by a linkage config (TOML).

:func:`link_submissions` validates every submission (rejected files are reported and left out),
checks completeness against the provider registry, pseudonymises and links, in memory;
:func:`write_link_outputs` writes one output folder (atomically: a failed run leaves the previous
folder as it was):

=============================  =============================================================
``capture_histories.csv``      one row per linked person: ``person``, 0/1 per provider, strata
``capture_counts.csv``         the same aggregated: strata, 0/1 per provider, ``count``
``linkage_report.json/.html``  pairs compared, match weights, clusters, duplicates removed,
                               model parameters, N̂ across thresholds, file reports
``linkage_report.xlsx``        the report's tables, one sheet each
``submissions.csv``            one row per file: used, replaced or rejected
``validation_problems.csv``    every problem of every rejected file (identifiers redacted)
``completeness.csv``           expected provider-periods: received, late, not yet due
``provider_regions.csv``       the registry's mapping of providers by region (1 = reports)
``sensitivity.csv``            N̂ at a range of match thresholds (when given)
``persons_by_region_year.csv`` linked persons by region and year, after disclosure control
``link.log``, ``manifest.json`` what was done; input hashes and settings (never the key)
=============================  =============================================================

``fl-estimate link`` is both steps with the table of N̂ across match thresholds between them;
that table needs an estimator, so the whole command is composed in the pipeline layer
(:func:`fl_estimate.pipeline.linkage_sensitivity.run_link`).

Examples
--------
>>> cfg = read_link_config("data_samples/country/link.toml")
>>> cfg.threshold, cfg.strata, cfg.thresholds
(0.9, ['region', 'year'], [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
"""

from __future__ import annotations

import glob
import html
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from fl_estimate._io import atomic_output_dir, atomic_write_text, write_manifest
from fl_estimate.disclosure import suppress
from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.providers.linkage import LinkageResult, RecordLinker, prepare_records
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
from fl_estimate.results import json_safe
from fl_estimate.tabular import read_toml

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LinkConfig",
    "LinkRun",
    "LinkedSubmissions",
    "link_submissions",
    "read_link_config",
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
    threshold: float = 0.9
    thresholds: list[float] = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    output: str = "linkage_output"
    as_of: str | None = None
    suppression_threshold: int = 5
    sensitivity_model: str | None = None
    seed: int = 1
    base_dir: str = "."

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
    "output": str,
    "as_of": str,
    "suppression_threshold": int,
    "sensitivity_model": str,
    "seed": int,
}


def read_link_config(path: str | Path) -> LinkConfig:
    """Read and check a linkage config; every problem is reported at once."""
    path = Path(path)
    src = path.name
    doc = read_toml(path)
    table = doc.get("linkage")
    if not isinstance(table, dict):
        raise InputValidationError([Problem("expected a [linkage] table", src)])
    problems = []
    values: dict[str, Any] = {}
    for key, value in table.items():
        want = _TYPES.get(key)
        if want is None:
            problems.append(
                Problem(f"unknown setting (known: {', '.join(_TYPES)})", src, column=key)
            )
            continue
        if want is float and isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        if want is str and isinstance(value, date):
            value = value.isoformat()
        if want is list and isinstance(value, str):
            value = [value]
        if not isinstance(value, want) or isinstance(value, bool):
            problems.append(Problem(f"expected a {want.__name__}", src, column=key, value=value))
            continue
        values[key] = value
    if "submissions" not in values and not any(p.column == "submissions" for p in problems):
        problems.append(Problem("required setting is missing", src, column="submissions"))
    if "threshold" in values and not 0 < values["threshold"] < 1:
        problems.append(
            Problem("expected a probability between 0 and 1", src, column="threshold",
                    value=values["threshold"])
        )  # fmt: skip
    problems.extend(_check_values(values, src, path.resolve().parent))
    if values.get("method", "probabilistic") not in ("probabilistic", "deterministic"):
        problems.append(
            Problem("expected probabilistic or deterministic", src, column="method",
                    value=values["method"])
        )  # fmt: skip
    if problems:
        raise InputValidationError(problems)
    return LinkConfig(**values, base_dir=str(path.resolve().parent))


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
                Problem("expected a non-empty list of probabilities between 0 and 1 (exclusive)",
                        src, column="thresholds", value=bad or ts)
            )  # fmt: skip
    if "as_of" in values:
        try:
            date.fromisoformat(values["as_of"])
        except ValueError:
            problems.append(
                Problem("expected a date as YYYY-MM-DD", src, column="as_of",
                        value=values["as_of"])
            )  # fmt: skip
    if values.get("suppression_threshold", 5) < 1:
        problems.append(
            Problem("expected a whole number of at least 1", src,
                    column="suppression_threshold", value=values["suppression_threshold"])
        )  # fmt: skip
    if values.get("seed", 1) < 0:
        problems.append(
            Problem("expected a non-negative whole number", src, column="seed",
                    value=values["seed"])
        )  # fmt: skip
    for key in ("submissions", "strata"):
        if key in values and not all(isinstance(v, str) and v for v in values[key]):
            problems.append(Problem("expected a list of names", src, column=key,
                                    value=values[key]))  # fmt: skip
    if "strata" in values and all(isinstance(v, str) for v in values["strata"]):
        unknown = [v for v in values["strata"] if v not in STRATUM_COLUMNS]
        if unknown:
            problems.append(
                Problem(f"unknown stratum column(s) {', '.join(unknown)}; expected some of "
                        f"{', '.join(STRATUM_COLUMNS)}", src, column="strata", value=unknown)
            )  # fmt: skip
    for key in ("registry", "key_file"):
        if key not in values:
            continue
        p = Path(values[key]) if Path(values[key]).is_absolute() else base / values[key]
        if not p.is_file():
            what = "is a folder, not a file" if p.is_dir() else "file not found"
            problems.append(Problem(f"{what}: {p}", src, column=key, value=values[key]))
    for pattern in values.get("submissions", []):
        if isinstance(pattern, str) and pattern:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            if not any(Path(m).is_file() for m in glob.glob(full)):
                problems.append(
                    Problem("no file matches", src, column="submissions", value=pattern)
                )
    return problems


@dataclass(frozen=True)
class LinkRun:
    """What a linkage run wrote and found."""

    output: Path
    files: list[str]
    report: dict[str, Any]
    rejected: list[str]


def _expand(cfg: LinkConfig) -> list[Path]:
    files: list[Path] = []
    problems = []
    for pattern in cfg.submissions:
        matched = sorted(glob.glob(str(cfg.resolve(pattern))))
        if not matched:
            problems.append(
                Problem("no file matches", "link config", column="submissions", value=pattern)
            )
        files.extend(Path(m) for m in matched)
    if problems:
        raise InputValidationError(problems)
    seen: dict[Path, None] = {}
    for f in files:
        seen.setdefault(f.resolve(), None)
    return list(seen)


def _html(report: dict[str, Any], tables: dict[str, pd.DataFrame]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Linkage report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>",
        "</head><body><h1>Linkage report</h1>",
    ]
    facts = {
        k: report["linkage"][k]
        for k in ("method", "threshold", "records", "unlinkable_records", "pairs_compared",
                  "links_probabilistic", "links_deterministic", "persons",
                  "clusters_spanning_strata")
    }  # fmt: skip
    parts.append(pd.Series(facts, name="value").to_frame().to_html())
    for title, frame in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(frame.to_html(index=False, na_rep=""))
    parts.append("</body></html>")
    return "\n".join(parts)


def _excel(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """The report's tables, one sheet each (sheet names cut to Excel's 31 characters)."""
    tmp = path.with_name(f".{path.name}.tmp.xlsx")
    with pd.ExcelWriter(tmp) as xw:
        for title, frame in tables.items():
            frame.to_excel(xw, sheet_name=title[:31], index=False)
    tmp.replace(path)


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
    log: list[str] = []

    def say(msg: str) -> None:
        log.append(msg)
        if echo is not None:
            echo(msg)

    if cfg.key_file:  # a bad key file is refused before any submission is read
        Pseudonymiser.from_env(cfg.key_env, cfg.resolve(cfg.key_file))
    registry = ProviderRegistry.read_csv(cfg.resolve(cfg.registry)) if cfg.registry else None
    files = _expand(cfg)
    loaded = load_submissions(
        files,
        regions=registry.regions_of() if registry else None,
        providers=registry.providers if registry else None,
    )
    used = loaded.report_frame()
    say(
        f"{len(files)} submission files: {int((used['status'] == 'used').sum())} used, "
        f"{int((used['status'] == 'replaced').sum())} replaced by a later file, "
        f"{len(loaded.rejected)} rejected"
    )
    for r in loaded.rejected:
        say(f"rejected {r.source}: {len(r.problems)} problem(s); see validation_problems.csv")
    records = loaded.records()
    if records.empty:
        raise InputValidationError(
            [Problem("no accepted submission to link", "config", column="submissions")]
        )
    needs_key = any(c in records and records[c].notna().any() for c in IDENTIFIER_COLUMNS)
    pseudo = None
    if needs_key:
        pseudo = Pseudonymiser.from_env(
            cfg.key_env, cfg.resolve(cfg.key_file) if cfg.key_file else None
        )
    if pseudo is None and (cfg.key_file or os.environ.get(cfg.key_env)):
        pseudo = Pseudonymiser.from_env(
            cfg.key_env, cfg.resolve(cfg.key_file) if cfg.key_file else None
        )
    check_key_fingerprints(loaded, registry, pseudo)
    prepared = prepare_records(records, pseudo)
    del records  # clear identifiers go no further
    linker = RecordLinker(method=cfg.method, threshold=cfg.threshold, seed=cfg.seed)
    result = linker.fit(prepared)
    lists = registry.providers if registry else sorted(set(prepared["provider"]))
    lists = [p for p in lists if p in set(prepared["provider"])]
    link_report = result.report()
    say(
        f"{link_report['records']} records, {link_report['pairs_compared']} pairs compared, "
        f"{link_report['persons']} persons at match probability >= {cfg.threshold}"
    )
    as_of = cfg.as_of or date.today().isoformat()
    completeness = (
        registry.completeness(loaded.accepted.keys(), as_of) if registry is not None else None
    )
    if completeness is not None:
        late = completeness[completeness["status"] == "late"]
        for p, q in zip(late["provider"], late["period"], strict=True):
            say(f"late: {p} {q}")
    return LinkedSubmissions(
        cfg, files, loaded, registry, result, lists, completeness, link_report, log
    )


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
        for name, fp in (("the registry's key_fingerprint", listed), (source, given)):
            if fp is None:
                continue
            if ours is not None and fp != ours:
                bad.append(f"provider {provider} ({name}: {fp}) does not match the linkage key "
                           f"({ours})")  # fmt: skip
            elif ours is None and listed is not None and fp != listed:
                bad.append(f"provider {provider}: {source} fingerprint {fp} differs from the "
                           f"registry's ({listed})")  # fmt: skip
    if bad:
        raise LinkageKeyError(
            "pseudonymous keys made with another key: "
            + "; ".join(dict.fromkeys(bad))
            + ". Ask the provider to pseudonymise again with the current key, or correct the "
            "registry's key_fingerprint"
        )


def write_link_outputs(
    linked: LinkedSubmissions,
    *,
    out: str | Path | None = None,
    sensitivity: pd.DataFrame | None = None,
    sensitivity_note: str = "",
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
    report: dict[str, Any] = {"linkage": linked.report}
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
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("base_dir",)}
    settings["linker"] = result.settings
    target = Path(out) if out is not None else cfg.resolve(cfg.output)
    written: list[str] = []
    with atomic_output_dir(target) as stage:

        def put(name: str, text: str) -> None:
            atomic_write_text(stage / name, text)
            written.append(name)

        put("capture_histories.csv", hist.to_csv(index=False, lineterminator="\n"))
        put("capture_counts.csv", data.to_frame().to_csv(index=False, lineterminator="\n"))
        put("submissions.csv", used.to_csv(index=False, lineterminator="\n"))
        put("validation_problems.csv", problems.to_csv(index=False, lineterminator="\n"))
        if completeness is not None and registry is not None:
            put("completeness.csv", completeness.to_csv(index=False, lineterminator="\n"))
            put("provider_regions.csv", registry.coverage().reset_index().to_csv(
                index=False, lineterminator="\n"))  # fmt: skip
        if sensitivity is not None:
            put("sensitivity.csv", sensitivity.to_csv(index=False, lineterminator="\n"))
        put(
            "persons_by_region_year.csv",
            published.to_frame().reset_index().to_csv(index=False, lineterminator="\n"),
        )
        put("linkage_report.json", json.dumps(json_safe(report), indent=2) + "\n")
        tables = {} if sensitivity is None else {"N-hat across match thresholds": sensitivity}
        tables |= {
            "Submission files": used,
            "Validation problems": problems,
            "Linked persons by stratum (after disclosure control)": (
                published.to_frame().reset_index()
            ),
        }
        if completeness is not None:
            tables["Completeness"] = completeness
        put("linkage_report.html", _html(report, tables))
        _excel(stage / "linkage_report.xlsx", tables)
        written.append("linkage_report.xlsx")
        put("link.log", "\n".join(linked.log) + "\n")
        write_manifest(
            stage / "manifest.json",
            inputs=[*linked.files, *([cfg.resolve(cfg.registry)] if cfg.registry else [])],
            config=settings,
            seed=cfg.seed,
            outputs=[stage / w for w in written],
            command=["fl-estimate", "link"],
        )
        written.append("manifest.json")
    return LinkRun(target, written, report, [r.source for r in loaded.rejected])
