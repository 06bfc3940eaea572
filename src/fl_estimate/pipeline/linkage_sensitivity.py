"""N̂ across match thresholds, and the ``fl-estimate link`` run that reports it.

Missed links push N̂ up, false links pull it down: the table of N̂ at a range of match-probability
thresholds shows how much an estimate depends on the linkage. Computing it fits an estimator to the
linked records, so it is composed here, in the one layer that joins linkage and estimation: the
providers layer links (:func:`fl_estimate.providers.linkrun.link_submissions`) and writes the
linkage folder (:func:`fl_estimate.providers.linkrun.write_link_outputs`); :func:`run_link` runs
both with :func:`linkage_sensitivity` between them.

Examples
--------
The sample country's 2023 files, linked by the deterministic rules only:

>>> from pathlib import Path
>>> import fl_estimate.providers as fp
>>> loaded = fp.load_submissions(sorted(Path("data_samples/country/submissions").glob("*2023*")))
>>> key = fp.Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
>>> result = fp.RecordLinker(method="deterministic").fit(fp.prepare_records(loaded.records(), key))
>>> table = linkage_sensitivity(result, [0.9])        # independence model by default
>>> table[["threshold", "persons", "interval_kind", "status"]].to_dict("records")
[{'threshold': 0.9, 'persons': 739, 'interval_kind': 'wald-log', 'status': 'ok'}]
>>> round(table["n_hat"].iloc[0])
1298
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fl_estimate.mse import LogLinearMSE
from fl_estimate.mse.data import CaptureData
from fl_estimate.outputs import check_target
from fl_estimate.pipeline.cache import FitCache
from fl_estimate.providers.linkage import LinkageResult
from fl_estimate.providers.linkrun import (
    DEFAULT_THRESHOLDS,
    LinkConfig,
    LinkedSubmissions,
    LinkRun,
    internal_folder,
    link_inputs,
    link_submissions,
    read_link_config,
    write_link_outputs,
)

__all__ = ["linkage_sensitivity", "run_link"]


def linkage_sensitivity(
    result: LinkageResult,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    *,
    lists: Sequence[str] | None = None,
    estimator: Any = None,
) -> pd.DataFrame:
    """N̂ at a range of match thresholds (missed links push N̂ up, false links down).

    Parameters
    ----------
    result : LinkageResult
        A fitted linkage.
    thresholds : sequence of float
    lists : sequence of str, optional
        List order (default: providers in order of appearance).
    estimator : estimator, optional
        Any fl_estimate MSE estimator (``fit(CaptureData)`` returning an
        ``EstimationResult``), applied to the table pooled over strata. Default:
        ``LogLinearMSE()`` (independence), a simple reference; compare the rows with each
        other, not with the final estimate.

    Returns
    -------
    DataFrame
        ``threshold, persons, links, n_hat, low, high, level, interval_kind, method, model,
        status`` (``n_hat`` is NaN when the estimate does not exist; ``status`` says why).
    """
    est = estimator if estimator is not None else LogLinearMSE()
    rows = []
    for thr in thresholds:
        cd = result.capture_data(thr, strata=None, lists=lists)
        assert isinstance(cd, CaptureData)  # no strata: one table
        res = est.fit(cd)
        ok = res.status == "ok"
        rows.append(
            {
                "threshold": thr,
                "persons": cd.n_observed,
                "links": int((result.pairs["match_probability"] >= thr).sum()),
                "n_hat": res.estimate if ok else float("nan"),
                "low": res.interval[0] if ok else float("nan"),
                "high": res.interval[1] if ok else float("nan"),
                "level": res.level,
                "interval_kind": res.interval_kind,
                "method": res.method,
                "model": res.model,
                "status": res.status,
            }
        )
    return pd.DataFrame(rows)


def _without_records(linked: LinkedSubmissions) -> LinkedSubmissions:
    """``linked`` without the accepted submissions' records (clear names, dates of birth,
    documents): what the fit cache keeps of a linkage. The linkage folder does not read them; the
    linked records (``linked.result``) are pseudonymised."""
    accepted = {k: (src, frame.iloc[:0]) for k, (src, frame) in linked.loaded.accepted.items()}
    return dataclasses.replace(linked, loaded=dataclasses.replace(linked.loaded, accepted=accepted))


def run_link(
    config: LinkConfig | str | Path,
    *,
    out: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
    internal: str | Path | None = None,
    cache: FitCache | None = None,
) -> LinkRun:
    """``fl-estimate link``: link a config's submissions and write the linkage folder, with N̂
    across the config's match thresholds (``thresholds``, model ``sensitivity_model``).

    Parameters
    ----------
    config : LinkConfig or path
        The config, or a TOML file holding it.
    out : path, optional
        Output folder (default: the config's ``output``, relative to the config file).
    echo : callable, optional
        Called with each log line (the CLI prints them).
    internal : path, optional
        The internal folder (default ``OUT.internal``; see
        :func:`fl_estimate.providers.linkrun.write_link_outputs`).
    cache : FitCache, optional
        Where the linkage (the slow step) is cached by its inputs' bytes and settings
        (:mod:`fl_estimate.pipeline.cache`); the folders are written anew either way.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:     # the whole sample country: about 15 s
    ...     run = run_link("data_samples/country/link.toml", out=Path(tmp) / "linkage")
    >>> run.rejected, "sensitivity.csv" in run.internal_files
    (['police_2022-Q3.csv'], True)
    >>> [(row["threshold"], row["persons"]) for row in run.report["sensitivity"]]
    [(0.5, 1550), (0.8, 1561), (0.9, 1561), (0.95, 1583), (0.99, 1609), (0.999, 1807)]
    """
    cfg = config if isinstance(config, LinkConfig) else read_link_config(config)
    target = Path(out) if out is not None else cfg.resolve(cfg.output)
    inside = Path(internal) if internal is not None else internal_folder(target)
    check_target(target, kind="link", inputs=link_inputs(cfg))  # before any work
    check_target(inside, kind="link-internal", inputs=link_inputs(cfg))
    cache = cache if cache is not None else FitCache(None)
    if cache.enabled:
        key = cache.linkage_key(cfg, link_inputs(cfg))
        linked = cache.call(key, lambda: _without_records(link_submissions(cfg, echo=echo)))
    else:
        key, linked = "", link_submissions(cfg, echo=echo)
    sensitivity = cache.call(
        cache.key("linkage-sensitivity", linkage=key, model=cfg.sensitivity_model),
        lambda: linkage_sensitivity(
            linked.result,
            cfg.thresholds,
            lists=linked.lists,
            estimator=LogLinearMSE(cfg.sensitivity_model),
        ),
    )
    note = (
        "N-hat across match thresholds from the log-linear model "
        f"({cfg.sensitivity_model or 'independence'}) on the table pooled over strata: a "
        "reference to compare rows with each other, not the final estimate."
    )
    return write_link_outputs(
        linked, out=target, sensitivity=sensitivity, sensitivity_note=note, internal=inside
    )
