"""The linkage run: from provider files to capture histories, driven by a linkage config (TOML).

:func:`link_submissions` validates every submission (rejected files are reported and left out),
checks completeness against the provider registry, pseudonymises and links, in memory;
:func:`write_link_outputs` writes one output folder (atomically: a failed run leaves the previous
folder as it was):

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
``completeness.csv``           expected provider-periods: received, late, not yet due
``provider_regions.csv``       the registry's mapping of providers by region (1 = reports)
``sensitivity.csv``            N̂ at a range of match thresholds (when given)
``linkage_uncertainty.csv``    N̂ with and without linkage error (``linkage_draws > 0``)
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
import tomllib
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
from fl_estimate.providers.pseudonymise import IDENTIFIER_COLUMNS, KEY_ENV_VAR, Pseudonymiser
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import LoadedSubmissions, load_submissions
from fl_estimate.results import json_safe

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LinkConfig",
    "LinkRun",
    "LinkedSubmissions",
    "link_submissions",
    "read_link_config",
    "write_link_outputs",
]

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
    threshold: float | str = 0.9
    thresholds: list[float] = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    no_dedupe: list[str] = field(default_factory=list)
    max_cluster_size: int = 12
    plausible_thresholds: list[float] = field(default_factory=lambda: [0.8, 0.99])
    sensitivity_share: float = 0.05
    linkage_draws: int = 0
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
    "no_dedupe": list,
    "max_cluster_size": int,
    "plausible_thresholds": list,
    "sensitivity_share": float,
    "linkage_draws": int,
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
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputValidationError([Problem("config file not found", src)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError([Problem(f"not valid TOML ({exc})", src)]) from None
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
        if key == "threshold" and value == "auto":
            values[key] = value  # the data-driven threshold
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
    if values.get("threshold", 0.9) != "auto" and not 0 < values.get("threshold", 0.9) < 1:
        problems.append(
            Problem("expected a probability between 0 and 1, or \"auto\"", src,
                    column="threshold", value=values["threshold"])
        )  # fmt: skip
    for key in ("thresholds", "plausible_thresholds"):
        bad = [v for v in values.get(key, []) if isinstance(v, bool) or not (
            isinstance(v, int | float) and 0 < v < 1)]  # fmt: skip
        if bad:
            problems.append(Problem("expected probabilities between 0 and 1", src, column=key,
                                    value=bad[0]))  # fmt: skip
    if "plausible_thresholds" in values and len(values["plausible_thresholds"]) != 2:
        problems.append(Problem("expected two thresholds: [lowest, highest]", src,
                                column="plausible_thresholds"))  # fmt: skip
    if values.get("max_cluster_size", 12) < 0 or values.get("max_cluster_size", 12) == 1:
        problems.append(Problem("expected 0 (no limit) or at least 2", src,
                                column="max_cluster_size", value=values["max_cluster_size"]))  # fmt: skip
    if not 0 < values.get("sensitivity_share", 0.05) < 1:
        problems.append(Problem("expected a share between 0 and 1", src,
                                column="sensitivity_share", value=values["sensitivity_share"]))  # fmt: skip
    if values.get("linkage_draws", 0) < 0:
        problems.append(Problem("expected 0 (off) or a number of draws", src,
                                column="linkage_draws", value=values["linkage_draws"]))  # fmt: skip
    bad_names = [v for v in values.get("no_dedupe", []) if not isinstance(v, str)]
    if bad_names:
        problems.append(Problem("expected provider names", src, column="no_dedupe",
                                value=bad_names[0]))  # fmt: skip
    if values.get("method", "probabilistic") not in ("probabilistic", "deterministic"):
        problems.append(
            Problem("expected probabilistic or deterministic", src, column="method",
                    value=values["method"])
        )  # fmt: skip
    if problems:
        raise InputValidationError(problems)
    return LinkConfig(**values, base_dir=str(path.resolve().parent))


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
                Problem("no file matches", "config", column="submissions", value=pattern)
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
    link = report["linkage"]
    warned = report.get("warnings", [])
    if warned:
        parts.append("<h2>Warnings</h2><ul>")
        parts += [f"<li>{html.escape(w['message'])}</li>" for w in warned]
        parts.append("</ul>")
    else:
        parts.append("<p>No warnings: every model parameter was trained on these records.</p>")
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
    parts.append(pd.Series(facts, name="value").to_frame().to_html())
    for title, frame in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(frame.to_html(index=False, na_rep=""))
    parts.append("</body></html>")
    return "\n".join(parts)


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
    known = set(registry.providers) if registry else set(records["provider"])
    unknown = [p for p in cfg.no_dedupe if p not in known]
    if unknown:
        raise InputValidationError(
            [Problem(f"not a provider (providers: {', '.join(sorted(known))})", "config",
                     column="no_dedupe", value=p) for p in unknown]
        )  # fmt: skip
    needs_key = any(c in records and records[c].notna().any() for c in IDENTIFIER_COLUMNS)
    pseudo = None
    if needs_key:
        pseudo = Pseudonymiser.from_env(
            cfg.key_env, cfg.resolve(cfg.key_file) if cfg.key_file else None
        )
    prepared = prepare_records(records, pseudo)
    del records  # clear identifiers go no further
    linker = RecordLinker(
        method=cfg.method,
        threshold=cfg.threshold,
        seed=cfg.seed,
        no_dedupe=tuple(cfg.no_dedupe),
        max_cluster_size=cfg.max_cluster_size or None,
    )
    result = linker.fit(prepared)
    lists = registry.providers if registry else sorted(set(prepared["provider"]))
    lists = [p for p in lists if p in set(prepared["provider"])]
    link_report = result.report()
    say(
        f"{link_report['records']} records, {link_report['pairs_compared']} pairs compared, "
        f"{link_report['persons']} persons at match probability >= {result.threshold:g}"
        + (" (data-driven threshold)" if cfg.threshold == "auto" else "")
    )
    for w in link_report["warnings"]:
        say(f"warning ({w['code']}): {w['message']}")
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


def write_link_outputs(
    linked: LinkedSubmissions,
    *,
    out: str | Path | None = None,
    sensitivity: pd.DataFrame | None = None,
    sensitivity_note: str = "",
    sensitivity_warnings: list[dict[str, str]] | None = None,
    uncertainty: pd.DataFrame | None = None,
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
    sensitivity_warnings : list of dict, optional
        ``{"code", "message"}`` findings on the sensitivity table, added to the linkage
        warnings (``warnings.csv`` and the report).
    uncertainty : DataFrame, optional
        N̂ with and without linkage error
        (:func:`fl_estimate.pipeline.linkage_uncertainty.linkage_uncertainty`): written as
        ``linkage_uncertainty.csv`` and a report table when given.
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
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("base_dir",)}
    settings["linker"] = result.settings
    target = Path(out) if out is not None else cfg.resolve(cfg.output)
    written: list[str] = []
    with atomic_output_dir(target) as stage:

        def put(name: str, text: str) -> None:
            atomic_write_text(stage / name, text)
            written.append(name)

        put("capture_histories.csv", hist.to_csv(index=False, lineterminator="\n"))
        put("warnings.csv", warn_frame.to_csv(index=False, lineterminator="\n"))
        put("within_provider_merges.csv", merges.to_csv(index=False, lineterminator="\n"))
        put("capture_counts.csv", data.to_frame().to_csv(index=False, lineterminator="\n"))
        put("submissions.csv", used.to_csv(index=False, lineterminator="\n"))
        put("validation_problems.csv", problems.to_csv(index=False, lineterminator="\n"))
        if completeness is not None and registry is not None:
            put("completeness.csv", completeness.to_csv(index=False, lineterminator="\n"))
            put("provider_regions.csv", registry.coverage().reset_index().to_csv(
                index=False, lineterminator="\n"))  # fmt: skip
        if sensitivity is not None:
            put("sensitivity.csv", sensitivity.to_csv(index=False, lineterminator="\n"))
        if uncertainty is not None:
            put("linkage_uncertainty.csv", uncertainty.to_csv(index=False, lineterminator="\n"))
        put(
            "persons_by_region_year.csv",
            published.to_frame().reset_index().to_csv(index=False, lineterminator="\n"),
        )
        put("linkage_report.json", json.dumps(json_safe(report), indent=2) + "\n")
        tables: dict[str, pd.DataFrame] = {"Warnings": warn_frame}
        if sensitivity is not None:
            tables["N-hat across match thresholds"] = sensitivity
        if uncertainty is not None:
            tables["N-hat with and without linkage error"] = uncertainty
        tables |= {
            "Within-provider merges": _merge_summary(merges, linked.report),
            "Model parameters": model,
            "EM training sessions": sessions,
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
