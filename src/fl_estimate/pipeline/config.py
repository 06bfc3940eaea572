"""The annual run's configuration file (TOML), read and validated with every problem named.

The format is documented in ``docs/config.md`` (section "Annual run").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fl_estimate.exceptions import InputValidationError, Problem
from fl_estimate.i18n import N_, join_or, message_of
from fl_estimate.tabular import read_toml

__all__ = ["RunConfig", "read_run_config"]


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (paths resolved against the config file's folder)."""

    path: Path
    title: str
    seed: int
    out: Path
    capture_histories: Path | None
    link: Path | None
    strata: tuple[str, ...]
    population: Path | None
    per: int
    methods: tuple[str, ...]
    interval: str | None
    level: float | None
    n_boot: int | None
    chains: int | None
    draws: int | None
    min_lists: int
    min_per_list: int
    leave_one_out: bool
    merge: tuple[tuple[str, ...], ...]
    top_models: int
    threshold: int
    workers: int | None
    scheduler: str | None
    truth: Path | None
    language: str = "en"
    #: the fit cache's folder (None: no cache); see :mod:`fl_estimate.pipeline.cache`
    cache: Path | None = None
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def headline(self) -> str:
        return self.methods[0]

    def options_for(self, method: str) -> dict[str, Any]:
        """The options the configuration sets for ``method``: the ``[estimation]`` keys that the
        file gives (``interval``, ``level``, ``n_boot``, ``chains``, ``draws``) and the method's own
        ``[estimation.<method>]`` table, which wins. Keys the file leaves out are not passed: the
        method's defaults apply. The method registry refuses an option the method does not take.
        """
        shared = {
            "interval": self.interval,
            "level": self.level,
            "n_boot": self.n_boot,
            "chains": self.chains,
            "draws": self.draws,
        }
        return {
            **{k: v for k, v in shared.items() if v is not None},
            **self.method_options.get(method, {}),
        }


_SECTIONS = {
    "run": {"title", "seed", "out", "cache"},
    "input": {"capture_histories", "link", "strata", "population", "per"},
    "estimation": {
        "methods",
        "interval",
        "level",
        "n_boot",
        "chains",
        "draws",
        "min_lists",
        "min_per_list",
    },
    "sensitivity": {"leave_one_out", "merge", "top_models"},
    "disclosure": {"threshold"},
    "executor": {"workers", "scheduler"},
    "report": {"truth", "language"},
    # the periodic statistics (fl_estimate.pipeline.stats; read and checked there)
    "stats": {
        "title", "out", "link", "victims", "events", "perpetrators", "registry", "levels",
        "as_of", "threshold", "language", "country",
    },
}  # fmt: skip


def read_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run configuration.

    Raises
    ------
    InputValidationError
        Every problem at once: unknown sections or keys, wrong types, missing files, an input
        that is neither capture histories nor a linkage configuration.
    """
    path = Path(path)
    src = path.name
    raw = read_toml(path)
    problems: list[Problem] = []
    base = path.resolve().parent

    def where(sec: str, key: str) -> str:
        return f"[{sec}] {key}"

    for sec, val in raw.items():
        if sec not in _SECTIONS:
            problems.append(
                Problem(
                    N_(
                        "unknown section [{sec}]; expected one of {sections}",
                        sec=sec,
                        sections=", ".join(sorted(_SECTIONS)),
                    ),
                    source=src,
                )
            )
            continue
        if not isinstance(val, dict):
            problems.append(Problem(N_("[{sec}] must be a table", sec=sec), source=src))
            continue
        for key, sub in val.items():
            if sec == "estimation" and isinstance(sub, dict):
                continue  # a method's own options: [estimation.<method>], checked below
            if key not in _SECTIONS[sec]:
                problems.append(
                    Problem(
                        N_(
                            "unknown key {key}; expected one of {keys}",
                            key=where(sec, key),
                            keys=", ".join(sorted(_SECTIONS[sec])),
                        ),
                        source=src,
                    )
                )

    def get(sec: str, key: str, typ: type | tuple[type, ...], default: Any) -> Any:
        val = raw.get(sec, {}).get(key, default) if isinstance(raw.get(sec), dict) else default
        if val is default:
            return default
        if not isinstance(val, typ) or (isinstance(val, bool) and typ in (int, (int,))):
            names = join_or(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            problems.append(
                Problem(
                    N_(
                        "{key} must be {names}, got {value!r}",
                        key=where(sec, key),
                        names=names,
                        value=val,
                    ),
                    source=src,
                )
            )
            return default
        return val

    def path_of(sec: str, key: str, must_exist: bool = True) -> Path | None:
        val = get(sec, key, str, None)
        if val is None:
            return None
        p = (base / val).resolve()
        if must_exist and not p.exists():
            problems.append(
                Problem(
                    N_("{key}: file not found: {path}", key=where(sec, key), path=p), source=src
                )
            )
        return p

    title = get("run", "title", str, "Estimates of the number of victims")
    seed = get("run", "seed", int, 20240601)
    out = path_of("run", "out", must_exist=False) or (base / "output")
    cache = _cache_folder(get("run", "cache", (str, bool), None), base)
    ch = path_of("input", "capture_histories", must_exist=False)
    link = path_of("input", "link")
    if ch is None and link is None:
        problems.append(
            Problem(
                N_(
                    "[input] needs capture_histories (one row per linked person) or link (a linkage "
                    "configuration to run first)"
                ),
                source=src,
            )
        )
    if ch is not None and link is None and not ch.exists():
        problems.append(
            Problem(N_("[input] capture_histories: file not found: {path}", path=ch), source=src)
        )
    strata = get("input", "strata", list, ["region", "year"])
    population = path_of("input", "population")
    per = get("input", "per", int, 100000)
    methods = get("estimation", "methods", list, ["stepwise"])
    if not methods:
        problems.append(
            Problem(N_("[estimation] methods must name at least one method"), source=src)
        )
    from fl_estimate.mse.api import available_methods

    for m in methods:
        if m not in available_methods():
            problems.append(
                Problem(
                    N_(
                        "[estimation] methods: unknown method {method!r}; choose from {methods}",
                        method=m,
                        methods=", ".join(available_methods()),
                    ),
                    source=src,
                )
            )
    method_options: dict[str, dict[str, Any]] = {}
    est_sec = raw.get("estimation", {}) if isinstance(raw.get("estimation"), dict) else {}
    for key, sub in est_sec.items():
        if not isinstance(sub, dict):
            continue
        if key not in methods:
            problems.append(
                Problem(
                    N_(
                        "[estimation.{key}]: {key!r} is not one of the methods ({methods}); a "
                        "method's own options go in [estimation.<method>]",
                        key=key,
                        methods=", ".join(map(str, methods)),
                    ),
                    source=src,
                )
            )
            continue
        method_options[key] = dict(sub)
    interval = get("estimation", "interval", str, None)
    if interval is not None and interval not in ("wald", "profile", "bootstrap"):
        problems.append(
            Problem(
                N_(
                    "[estimation] interval must be wald, profile or bootstrap, got {interval!r}",
                    interval=interval,
                ),
                source=src,
            )
        )
    level = get("estimation", "level", float, None)
    if level is not None and not 0 < level < 1:
        problems.append(
            Problem(
                N_("[estimation] level must be between 0 and 1, got {level!r}", level=level),
                source=src,
            )
        )
    n_boot = get("estimation", "n_boot", int, None)
    chains = get("estimation", "chains", int, None)
    draws = get("estimation", "draws", int, None)
    for key, val in (("n_boot", n_boot), ("chains", chains), ("draws", draws)):
        if val is not None and val < 1:
            problems.append(
                Problem(
                    N_("[estimation] {key} must be at least 1, got {value!r}", key=key, value=val),
                    source=src,
                )
            )
    min_lists = get("estimation", "min_lists", int, 3)
    min_per_list = get("estimation", "min_per_list", int, 5)
    loo = get("sensitivity", "leave_one_out", bool, True)
    merge = get("sensitivity", "merge", list, [])
    if not all(isinstance(g, list) and len(g) >= 2 for g in merge):
        problems.append(
            Problem(
                N_(
                    "[sensitivity] merge must be a list of lists of at least two list names, e.g. "
                    '[["ngo", "iom"]]'
                ),
                source=src,
            )
        )
        merge = []
    top_models = get("sensitivity", "top_models", int, 10)
    threshold = get("disclosure", "threshold", int, 5)
    if threshold < 1:
        problems.append(
            Problem(
                N_(
                    "[disclosure] threshold must be at least 1, got {threshold!r}",
                    threshold=threshold,
                ),
                source=src,
            )
        )
    if per <= 0:
        problems.append(
            Problem(N_("[input] per must be positive, got {per!r}", per=per), source=src)
        )
    workers = get("executor", "workers", int, None)
    scheduler = get("executor", "scheduler", str, None) or None
    truth = path_of("report", "truth")
    language = get("report", "language", str, "en")
    from fl_estimate.i18n import LANGUAGES

    if language.split("_")[0] not in LANGUAGES:
        problems.append(
            Problem(
                N_(
                    "[report] language must be one of {languages}, got {language!r}",
                    languages=", ".join(LANGUAGES),
                    language=language,
                ),
                source=src,
            )
        )
        language = "en"
    for key, val, low in (
        ("[run] seed", seed, 0),
        ("[estimation] min_lists", min_lists, 2),
        ("[estimation] min_per_list", min_per_list, 0),
        ("[sensitivity] top_models", top_models, 0),
        ("[executor] workers", workers, 1),
    ):
        if val is not None and val < low:
            problems.append(
                Problem(
                    N_("{key} must be at least {low}, got {value!r}", key=key, low=low, value=val),
                    source=src,
                )
            )
    if scheduler is not None:
        from urllib.parse import urlparse

        url = urlparse(scheduler)
        # tcp/tls need a port; inproc:// (a LocalCluster in this process) and others do not
        needs_port = url.scheme in ("tcp", "tls")
        if not url.scheme or not url.netloc or (needs_port and url.port is None):
            problems.append(
                Problem(
                    N_(
                        "[executor] scheduler must be an address such as tcp://host:8786, got "
                        "{scheduler!r}",
                        scheduler=scheduler,
                    ),
                    source=src,
                )
            )
    problems.extend(_method_option_problems(methods, method_options, raw, src))
    if isinstance(raw.get("stats"), dict) and not problems:
        from fl_estimate.pipeline.stats import read_stats_config

        try:
            read_stats_config(path)
        except InputValidationError as exc:
            problems.extend(exc.problems)
    if not problems:
        problems.extend(_input_problems(ch, link, population, list(strata), merge, src))
    if not problems and scheduler is not None:
        problems.extend(_scheduler_problems(scheduler, src))
    if problems:
        raise InputValidationError(problems)
    return RunConfig(
        path=path.resolve(),
        title=title,
        seed=seed,
        out=out,
        capture_histories=ch,
        link=link,
        strata=tuple(strata),
        population=population,
        per=per,
        methods=tuple(methods),
        interval=interval,
        level=level,
        n_boot=n_boot,
        chains=chains,
        draws=draws,
        min_lists=min_lists,
        min_per_list=min_per_list,
        leave_one_out=loo,
        merge=tuple(tuple(g) for g in merge),
        top_models=top_models,
        threshold=threshold,
        workers=workers,
        scheduler=scheduler,
        truth=truth,
        language=language,
        cache=cache,
        method_options=method_options,
        raw=raw,
    )


def _cache_folder(value: str | bool | None, base: Path) -> Path | None:
    """``[run] cache``: a folder (relative to the config's), ``false`` (no cache), or ``true`` /
    absent (the default folder, :func:`fl_estimate.pipeline.cache.default_cache_folder`)."""
    from fl_estimate.pipeline.cache import default_cache_folder

    if value is False:
        return None
    if value is None or value is True:
        return default_cache_folder()
    return (base / Path(value).expanduser()).resolve()


#: Seconds to wait for the Dask scheduler named in ``[executor] scheduler`` while validating.
SCHEDULER_TIMEOUT = 5.0


def _scheduler_problems(
    address: str, src: str, timeout: float = SCHEDULER_TIMEOUT
) -> list[Problem]:
    """Contact the Dask scheduler before any work: a TCP connection first (a refused or silent
    port fails at once or after ``timeout``), then a client's handshake within ``timeout``."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(address)
    why = None
    if url.scheme in ("tcp", "tls"):
        try:
            socket.create_connection((url.hostname or "", url.port or 0), timeout=timeout).close()
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
    if why is None:
        from distributed import Client

        try:
            Client(address, timeout=timeout, set_as_default=False).close()
        except (OSError, TimeoutError, ValueError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if why is None:
        return []
    return [
        Problem(
            N_(
                "[executor] scheduler: cannot reach the Dask scheduler at {address} "
                "within {timeout:g} s ({why}); start it, correct the address, or "
                "remove the key to fit on local processes",
                address=address,
                timeout=timeout,
                why=why,
            ),
            source=src,
        )
    ]


def _method_option_problems(
    methods: list[str],
    method_options: Mapping[str, Mapping[str, Any]],
    raw: dict[str, Any],
    src: str,
) -> list[Problem]:
    """Each method's options checked by the method registry (names, types, ranges)."""
    from fl_estimate.exceptions import ModelSpecificationError
    from fl_estimate.mse.api import available_methods
    from fl_estimate.mse.registry import resolve

    est = raw.get("estimation", {}) if isinstance(raw.get("estimation"), dict) else {}
    shared = {k: est[k] for k in ("interval", "level", "n_boot", "chains", "draws") if k in est}
    problems = []
    for m in methods:
        if m not in available_methods():
            continue
        opts = {**shared, **method_options.get(m, {})}
        if "interval" in opts and not isinstance(opts["interval"], str):
            continue  # reported as a type error
        try:
            resolve(m, **opts)
        except ModelSpecificationError as exc:
            section = f"[estimation.{m}]" if m in method_options else "[estimation]"
            problems.append(
                Problem(
                    N_(
                        "{section} {method}: {error}",
                        section=section,
                        method=m,
                        error=message_of(exc),
                    ),
                    source=src,
                )
            )
    return problems


def _input_problems(
    histories: Path | None,
    link: Path | None,
    population: Path | None,
    strata: list[str],
    merge: list[Any],
    src: str,
) -> list[Problem]:
    """The inputs read and checked before any work: capture histories (when given rather than a
    linkage), list names in ``merge``, and the population file (complete and positive)."""
    from fl_estimate.mse.data import CaptureData
    from fl_estimate.tabular import read_table

    problems: list[Problem] = []
    lists: list[str] | None = None
    keys: set[tuple[str, ...]] | None = None
    if histories is not None and link is None:
        try:
            frame, _ = read_table(histories, excel=False)
        except InputValidationError as exc:
            return list(exc.problems)
        missing = [s for s in strata if s not in frame.columns]
        if missing:
            return [
                Problem(
                    N_(
                        "stratum column named in {src} [input] strata not found (columns: "
                        "{columns})",
                        src=src,
                        columns=", ".join(frame.columns),
                    ),
                    source=histories.name,
                    row=1,
                    column=m,
                )
                for m in missing
            ]
        id_col = "person" if "person" in frame.columns else None
        lists = [c for c in frame.columns if c not in (*strata, "person")]
        try:
            CaptureData.from_records(frame, strata=strata, id_col=id_col, source=histories.name)
        except InputValidationError as exc:
            return list(exc.problems)
        keys = {tuple(str(v) for v in row) for row in frame[strata].itertuples(index=False)}
    elif link is not None:
        from fl_estimate.providers.linkrun import read_link_config
        from fl_estimate.providers.registry import ProviderRegistry

        cfg = read_link_config(link)
        if cfg.registry:
            lists = ProviderRegistry.read_csv(cfg.resolve(cfg.registry)).providers
    if lists is not None:
        for group in merge:
            unknown = [g for g in group if g not in lists]
            if unknown:
                problems.append(
                    Problem(
                        N_(
                            "[sensitivity] merge names {names}, not a list (lists: {lists})",
                            names=", ".join(map(repr, unknown)),
                            lists=", ".join(lists),
                        ),
                        source=src,
                        value=unknown,
                    )
                )
    if population is not None:
        problems.extend(_population_problems(population, strata, keys))
    return problems


def _population_problems(
    path: Path, strata: list[str], keys: set[tuple[str, ...]] | None
) -> list[Problem]:
    """Every row's population a positive whole number, one row per stratum, and (when the strata
    are known) a row for every stratum estimated."""
    from fl_estimate.tabular import read_table

    src = path.name
    try:
        frame, _ = read_table(path, excel=False)
    except InputValidationError as exc:
        return list(exc.problems)
    need = [c for c in (*strata, "population") if c not in frame.columns]
    if need:
        return [
            Problem(
                N_(
                    "column not found; the population file needs the stratum columns and 'population'"
                ),
                source=src,
                row=1,
                column=c,
            )
            for c in need
        ]
    problems: list[Problem] = []
    seen: dict[tuple[str, ...], int] = {}
    for i, rec in enumerate(frame[[*strata, "population"]].itertuples(index=False)):
        row = i + 2
        *key_parts, pop = (str(v).strip() for v in rec)
        key = tuple(key_parts)
        try:
            n = int(pop)
        except ValueError:
            n = -1
        if n <= 0:
            problems.append(
                Problem(N_("population must be a positive whole number"), source=src, row=row,
                        column="population", value=pop)
            )  # fmt: skip
        if key in seen:
            problems.append(
                Problem(N_("a second row for {stratum} (first: row {first})", stratum=", ".join(key),
                           first=seen[key]),
                        source=src, row=row)
            )  # fmt: skip
        seen.setdefault(key, row)
    if keys is not None:
        for key in sorted(keys - set(seen)):
            problems.append(
                Problem(
                    N_(
                        "no population for the stratum {stratum} ({strata}): every estimated "
                        "stratum needs one",
                        stratum=", ".join(key),
                        strata=", ".join(strata),
                    ),
                    source=src,
                )
            )
    return problems
