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
>>> table[["threshold", "kind", "persons", "status"]].to_dict("records")  # + the result's own
[{'threshold': 0.3, 'kind': 'default', 'persons': 749, 'status': 'ok'}, {'threshold': 0.9, 'kind': 'fixed', 'persons': 749, 'status': 'ok'}]
>>> round(table["n_hat"].iloc[0])
1353
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.i18n import N_
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
    extend_submissions,
    internal_folder,
    link_inputs,
    link_submissions,
    read_link_config,
    write_link_outputs,
)

__all__ = ["linkage_sensitivity", "run_link", "sensitivity_warnings"]


def linkage_sensitivity(
    result: LinkageResult,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    *,
    lists: Sequence[str] | None = None,
    estimator: Any = None,
    data_threshold: bool = True,
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
    data_threshold : bool
        Add a row at the data-driven threshold (:meth:`LinkageResult.data_threshold`). The
        result's own threshold always has a row.

    Returns
    -------
    DataFrame
        ``threshold, kind`` (``fixed``, ``data-driven``, ``default``: the result's threshold),
        ``persons, links, n_hat, low, high, level, interval_kind, method, model, status``
        (``n_hat`` is NaN when the estimate does not exist; ``status`` says why), in order of
        threshold.
    """
    est = estimator if estimator is not None else LogLinearMSE()
    rows = []
    kinds = {float(t): "fixed" for t in thresholds}
    if data_threshold and len(result.pairs):
        auto = round(result.data_threshold(), 4)
        kinds[auto] = "data-driven" if auto not in kinds else "fixed, data-driven"
    kinds[float(result.threshold)] = (
        "default" if float(result.threshold) not in kinds
        else kinds[float(result.threshold)] + ", default"
    )  # fmt: skip
    for thr in sorted(kinds):
        cd = result.capture_data(thr, strata=None, lists=lists)
        assert isinstance(cd, CaptureData)  # no strata: one table
        res = est.fit(cd)
        ok = res.status == "ok"
        rows.append(
            {
                "threshold": thr,
                "kind": kinds[thr],
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


def sensitivity_warnings(
    table: pd.DataFrame, plausible: Sequence[float] = (0.8, 0.99), share: float = 0.05
) -> list[dict[str, str]]:
    """Warnings when persons or N̂ move by more than ``share`` across the plausible thresholds.

    Parameters
    ----------
    table : DataFrame
        From :func:`linkage_sensitivity`.
    plausible : (float, float)
        The lowest and highest threshold a user could defend; rows between them (inclusive),
        the row of the threshold used (``default``) and the data-driven row are compared.
    share : float
        Largest relative change (highest over lowest value, minus one) accepted silently.

    Returns
    -------
    list of dict
        ``{"code": "threshold-persons" | "threshold-n-hat", "message"}``.

    Examples
    --------
    >>> t = pd.DataFrame({"threshold": [0.5, 0.8, 0.9, 0.99], "kind": ["fixed"] * 4,
    ...                   "persons": [300, 310, 320, 352], "n_hat": [500.0, 510, 530, 610]})
    >>> [w["code"] for w in sensitivity_warnings(t)]
    ['threshold-persons', 'threshold-n-hat']
    """
    lo, hi = min(plausible), max(plausible)
    kind = table["kind"] if "kind" in table else pd.Series("", index=table.index)
    rows = table[((table["threshold"] >= lo) & (table["threshold"] <= hi))
                 | kind.astype(str).str.contains("data-driven|default")]  # fmt: skip
    out = []
    for col, code, what in (("persons", "threshold-persons", N_("persons found")),
                            ("n_hat", "threshold-n-hat", N_("N-hat"))):  # fmt: skip
        vals = rows[["threshold", col]].dropna()
        if len(vals) < 2 or vals[col].min() <= 0:
            continue
        a = vals.iloc[int(np.argmin(vals[col].to_numpy()))]
        b = vals.iloc[int(np.argmax(vals[col].to_numpy()))]
        move = b[col] / a[col] - 1
        if move > share:
            out.append({"code": code, "message": N_(
                "{what} move by {move:.0%} across the plausible match thresholds {lo:g}-{hi:g} "
                "(and the ones used and chosen from the data): {low:,.0f} at {t_low:g}, {high:,.0f} at "
                "{t_high:g}. The linkage decides the estimate: report it with the threshold, "
                "and compare the estimates at the default and the data-driven thresholds",
                what=what, move=float(move), lo=lo, hi=hi, low=float(a[col]),
                t_low=float(a["threshold"]), high=float(b[col]), t_high=float(b["threshold"]),
            )})  # fmt: skip
    return out


def _without_records(linked: LinkedSubmissions) -> LinkedSubmissions:
    """``linked`` without the accepted submissions' identifiers (clear names, dates of birth,
    documents, and the pseudonymous keys): what the fit cache keeps of a linkage. The linkage
    folder does not read them; the linked records (``linked.result``) are pseudonymised. The
    records' characteristics (region, dates, sex, age, nationality, forms of exploitation) stay:
    the periodic statistics count them."""
    from fl_estimate.providers.pseudonymise import IDENTIFIER_COLUMNS, KEY_COLUMNS

    drop = {*IDENTIFIER_COLUMNS, *KEY_COLUMNS}
    accepted = {
        k: (src, frame.drop(columns=[c for c in frame.columns if c in drop]))
        for k, (src, frame) in linked.loaded.accepted.items()
    }
    return dataclasses.replace(linked, loaded=dataclasses.replace(linked.loaded, accepted=accepted))


def _link(
    cfg: LinkConfig, cache: FitCache, files: list[Path], echo: Callable[[str], None] | None
) -> LinkedSubmissions:
    """The config's submissions linked: by extending the largest cached linkage they extend
    (``incremental``, the default: earlier periods' persons held), else all of them."""
    if cfg.incremental:
        found = cache.earlier_linkage(cfg, files)
        if found is not None:
            extended = extend_submissions(cfg, *found, echo=echo)
            if extended is not None:
                return extended
    return link_submissions(cfg, echo=echo)


def run_link(
    config: LinkConfig | str | Path,
    *,
    out: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
    internal: str | Path | None = None,
    cache: FitCache | None = None,
    lang: str = "en",
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
        (:mod:`fl_estimate.pipeline.cache`); the folders are written anew either way. With a
        cache and ``incremental = true`` (the default), submissions that add new periods to a
        cached linkage's (its files unchanged) are linked against it, its persons held
        (docs/config.md, "Incremental linkage").
    lang : str
        Language of the internal ``linkage_report.html`` (the command line's; the annual run's
        report language).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:     # the whole sample country: about 15 s
    ...     run = run_link("data_samples/country/link.toml", out=Path(tmp) / "linkage")
    >>> run.rejected, "sensitivity.csv" in run.internal_files
    (['police_2022-Q3.csv'], True)
    >>> [(row["threshold"], row["persons"]) for row in run.report["sensitivity"]]
    [(0.3, 1541), (0.5, 1541), (0.7921, 1543), (0.8, 1543), (0.9, 1549), (0.95, 1563), (0.99, 1591), (0.999, 1769)]
    """
    cfg = config if isinstance(config, LinkConfig) else read_link_config(config)
    target = Path(out) if out is not None else cfg.resolve(cfg.output)
    inside = Path(internal) if internal is not None else internal_folder(target)
    check_target(target, kind="link", inputs=link_inputs(cfg))  # before any work
    check_target(inside, kind="link-internal", inputs=link_inputs(cfg))
    cache = cache if cache is not None else FitCache(None)
    if cache.enabled:
        files = link_inputs(cfg)
        key = cache.linkage_key(cfg, files)
        linked = cache.call(key, lambda: _without_records(_link(cfg, cache, files, echo)))
        cache.remember_linkage(cfg, files, key)
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
        "reference to compare rows with each other, not the final estimate. 'data-driven': the "
        "threshold at which expected false and missed links balance."
    )
    uncertainty = None
    if cfg.linkage_draws > 0 and len(linked.result.pairs):
        from fl_estimate.pipeline.linkage_uncertainty import linkage_uncertainty

        uncertainty = linkage_uncertainty(
            linked.result,
            estimator=LogLinearMSE(cfg.sensitivity_model),
            n_draws=cfg.linkage_draws,
            seed=cfg.seed,
            lists=linked.lists,
        )
        note += (
            f" N-hat with linkage error: {cfg.linkage_draws} draws of the links from their match "
            "probabilities, combined by Rubin's rules; the headline is the interval without."
        )
    found = sensitivity_warnings(sensitivity, cfg.plausible_thresholds, share=cfg.sensitivity_share)
    for w in found:
        if echo is not None:
            echo(N_("warning ({code}): {message}", code=w["code"], message=w["message"]))
    written = write_link_outputs(
        linked,
        out=target,
        internal=inside,
        sensitivity=sensitivity,
        sensitivity_note=note,
        sensitivity_warnings=found,
        uncertainty=uncertainty,
        lang=lang,
    )
    return dataclasses.replace(written, linked=linked)
