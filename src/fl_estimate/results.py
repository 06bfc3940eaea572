"""One results object for every population-size estimator, and :func:`compare`.

Every estimator in the package (Lincoln–Petersen, log-linear models, latent-class and
graphical-model Bayesian estimators, ...) returns an :class:`EstimationResult`, so that a user can
swap methods without rewriting code and put any set of results side by side with :func:`compare`.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate._palette import OKABE_ITO
from fl_estimate._version import __version__
from fl_estimate.i18n import N_, Message, language_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "DIAGNOSTIC_LABELS",
    "DIAGNOSTIC_VALUES",
    "INTERVAL_KINDS",
    "LOWER_BOUND",
    "METHOD_FAMILIES",
    "Comparison",
    "EstimationResult",
    "compare",
    "diagnostic_label",
    "json_safe",
    "model_words",
    "plot_comparison",
]

#: ``status`` and ``status_code`` of a result that is a lower bound only (the default policy when the
#: heterogeneity diagnosis fires; covariate models with a level nobody was seen twice in).
LOWER_BOUND = "lower_bound"

#: Interval kinds used across the package, with the words a report prints for them.
#: The values are English text that :func:`fl_estimate.i18n.translate` renders in another language.
INTERVAL_KINDS: dict[str, str] = {
    "wald": N_("Wald interval on N"),
    "wald-log": N_("Wald interval on the log of the unobserved count"),
    "profile": N_("profile-likelihood interval"),
    "bootstrap-percentile": N_("bootstrap percentile interval"),
    "bootstrap-bca": N_("bootstrap BCa interval"),
    "credible-eti": N_("equal-tailed posterior credible interval"),
    "credible-hdi": N_("highest-density posterior credible interval"),
    "design-based": N_("design-based interval"),
}


#: The family of every method :func:`fl_estimate.mse.estimate` knows, by its name there:
#: ``log-linear`` (maximum likelihood, one model or one chosen from the data), ``latent-class``
#: (maximum likelihood), ``closed-form`` (two-list and lower-bound formulas) or ``bayesian``
#: (posterior draws of N).
METHOD_FAMILIES: dict[str, str] = {
    "independence": "log-linear",
    "loglinear": "log-linear",
    "stepwise": "log-linear",
    "aic": "log-linear",
    "bic": "log-linear",
    "auto": "log-linear",
    "search": "log-linear",
    "latent-class": "latent-class",
    "chao": "closed-form",
    "lincoln-petersen": "closed-form",
    "chapman": "closed-form",
    "lcmcr": "bayesian",
    "dga": "bayesian",
    "bayes-loglinear": "bayesian",
    "bayes-threshold": "bayesian",
    "exhaustive": "log-linear",
    "default": "log-linear",
    "lower-bound": "lower-bound",
    "closedp": "heterogeneity",
    "mh": "heterogeneity",
    "mth": "heterogeneity",
}


#: The words of the estimators' model descriptions, translated where a reader sees them (a
#: summary, the report's tables), the most specific first. Each message is found in a
#: description as its English text, its placeholders standing for whole numbers (given to the
#: message as numbers, so French groups them). List names, terms, formulas and the
#: closed-population models' names (``Mh Darroch``) stay as they are.
_MODEL_MESSAGES: tuple[Message, ...] = (
    N_("latent classes, K*={k}, Dirichlet process"),
    N_("{n} latent classes, lists independent within a class"),
    N_("average over {n} decomposable graphs"),
    N_("two lists, independence ({n1} and {n2} people, {m} on both)"),
    N_("hierarchical log-linear, partially pooled main effects"),
    N_(" ({n} strata, total)"),
    N_("(bias-corrected, f2 = 0)"),
    N_("(normal prior on interactions)"),
    N_("(horseshoe prior on interactions)"),
    N_("(retained by thresholding; proper prior on interactions"),
    N_("(retained by thresholding; improper prior on interactions"),
    N_(" at minus infinity (margin zero)"),
    N_("(list-specific effects)"),
    N_("(effects shared by the lists)"),
    N_("(same probability on every list)"),
    N_("(covariate x list)"),
    N_(" per level of "),
    N_("main effects"),
    N_("(independence)"),
    N_("Chao lower bound"),
)  # fmt: skip


def _english_pattern(message: Message) -> re.Pattern[str]:
    """Where ``message``'s English stands in a text: its words as they are, each placeholder a
    whole number in the group of its name."""
    parts = re.split(r"\{(\w+)\}", message.msgid)
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>\\d+)" for i, p in enumerate(parts))
    )


_MODEL_WORDS: tuple[tuple[re.Pattern[str], Message], ...] = tuple(
    (_english_pattern(m), m) for m in _MODEL_MESSAGES
)


def model_words(text: Any, lang: str) -> Any:
    """A model's description (:attr:`EstimationResult.model`) in ``lang``; English, and anything
    that is not text, as it is.

    The one place the words of the estimators' model descriptions are translated: the
    summaries and the report's tables call it. List names and terms stay as they are.

    >>> model_words("main effects + police:courts", "fr")
    'effets principaux + police:courts'
    >>> model_words("main effects (independence)", "fr")
    'effets principaux (indépendance)'
    >>> model_words("latent classes, K*=10, Dirichlet process", "fr")
    'classes latentes, K*=10, processus de Dirichlet'
    """
    if not isinstance(text, str) or not text or language_of(lang) == "en":
        return text

    def say(message: Message) -> Callable[[re.Match[str]], str]:
        def one(match: re.Match[str]) -> str:
            params = {k: int(v) if v.isdigit() else v for k, v in match.groupdict().items()}
            return Message(message.msgid, params).render(lang)

        return one

    for pattern, message in _MODEL_WORDS:
        text = pattern.sub(say(message), text)
    return text


def json_safe(obj: Any) -> Any:
    """Convert numpy/pandas values, tuples and non-finite floats to JSON-safe Python objects.

    Non-finite floats become ``None`` (JSON has no infinity); mappings keep string keys.

    >>> json_safe({"n": np.int64(3), "ci": (1.5, float("inf")), 2021: np.array([1, 2])})
    {'n': 3, 'ci': [1.5, None], '2021': [1, 2]}
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return json_safe(obj.to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return json_safe(obj.to_dict())
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, str | int | bool) or obj is None:
        return obj
    return str(obj)


@dataclass(frozen=True)
class EstimationResult:
    """The result of a population-size estimate, whatever the method.

    Attributes
    ----------
    method : str
        Method name, e.g. ``"lincoln-petersen"``, ``"loglinear"``, ``"stepwise"``, ``"lcmcr"``.
    model : str
        Readable model, e.g. ``"main effects + LA:NG + PF:GO"``.
    observed : int
        People observed on at least one list.
    estimate : float or None
        Estimated total population N (observed plus unobserved); ``None`` when it does not
        exist (then :attr:`status` says why).
    interval : tuple of (float or None, float or None)
        ``(low, high)``; an end is ``None`` when it does not exist (e.g. an open profile interval),
        and :attr:`interval_notes` says why.
    interval_kind : str or None
        One of :data:`INTERVAL_KINDS`.
    level : float
        Nominal coverage of the interval, e.g. 0.95.
    status : str
        ``"ok"``, or the reason there is no estimate.
    status_code : str
        ``"ok"`` or a short code such as ``"no-mle"``, ``"not-identifiable"``, ``"not-estimable"``.
    conditional_on_model : bool
        True when the interval ignores the uncertainty of a data-driven model choice.
    diagnostics : dict
        Method-specific numbers (deviance, AIC, BIC, R-hat, ESS, number of models searched, ...).
    provenance : dict
        Data hash, seed, package version, settings.
    stratum : dict
        Stratum values when the result belongs to one stratum.
    tables : dict of DataFrame
        Extra tables (coefficients, models searched, bootstrap limits against k, ...).
    draws : object
        Posterior or bootstrap draws of N (ndarray, or an ArviZ object for MCMC).
    """

    method: str
    model: str
    observed: int
    estimate: float | None
    interval: tuple[float | None, float | None] = (None, None)
    interval_kind: str | None = None
    level: float = 0.95
    status: str = "ok"
    status_code: str = "ok"
    conditional_on_model: bool = False
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    stratum: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    draws: Any = field(default=None, repr=False)
    interval_notes: str | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def failed(
        cls,
        *,
        method: str,
        model: str,
        observed: int,
        reason: str,
        code: str = "does-not-exist",
        **kwargs: Any,
    ) -> EstimationResult:
        """A result that says why there is no estimate (``estimate`` is ``None``)."""
        return cls(
            method=method,
            model=model,
            observed=observed,
            estimate=None,
            status=reason,
            status_code=code,
            **kwargs,
        )

    # ------------------------------------------------------------------ properties
    @property
    def ok(self) -> bool:
        """True when there is an estimate."""
        return self.status_code == "ok" and self.estimate is not None

    @property
    def is_lower_bound(self) -> bool:
        """True when the result is a lower bound only (``status`` ``"lower_bound"``: the default
        policy when the heterogeneity diagnosis fires); ``estimate`` and ``ci_low`` are set."""
        return self.status_code == LOWER_BOUND and self.estimate is not None

    @property
    def ci_low(self) -> float | None:
        return self.interval[0]

    @property
    def ci_high(self) -> float | None:
        return self.interval[1]

    @property
    def unobserved(self) -> float | None:
        """Estimated number never observed (the dark figure)."""
        return None if self.estimate is None else self.estimate - self.observed

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; the CLI's ``--format json`` prints exactly this.

        Keys: ``method``, ``model``, ``observed``, ``estimate``, ``ci_low``, ``ci_high``,
        ``interval_kind``, ``level``, ``status``, ``status_code``, ``conditional_on_model``,
        ``interval_notes``, ``stratum``, ``diagnostics``, ``provenance``, ``tables``.
        """
        out = {
            "method": self.method,
            "model": self.model,
            "observed": self.observed,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "interval_kind": self.interval_kind,
            "level": self.level,
            "status": self.status,
            "status_code": self.status_code,
            "conditional_on_model": self.conditional_on_model,
            "interval_notes": self.interval_notes,
            "stratum": dict(self.stratum),
            "diagnostics": dict(self.diagnostics),
            "provenance": dict(self.provenance),
            "tables": {k: v for k, v in self.tables.items()},
        }
        return json_safe(out)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame.

        Columns: stratum columns (if any), ``method``, ``model``, ``observed``, ``estimate``,
        ``ci_low``, ``ci_high``, ``interval_kind``, ``level``, ``conditional_on_model``,
        ``status``, ``status_code``.
        """
        row: dict[str, Any] = dict(self.stratum)
        row.update(
            method=self.method,
            model=self.model,
            observed=self.observed,
            estimate=np.nan if self.estimate is None else float(self.estimate),
            ci_low=np.nan if self.ci_low is None else float(self.ci_low),
            ci_high=np.nan if self.ci_high is None else float(self.ci_high),
            interval_kind=self.interval_kind,
            level=self.level,
            conditional_on_model=self.conditional_on_model,
            status=self.status,
            status_code=self.status_code,
        )
        return pd.DataFrame([row])

    def summary(self, lang: str = "en") -> Summary:
        """Readable summary: text in a terminal (``print``), HTML in Jupyter; headings, notes and
        numbers in ``lang`` (``"fr"``: ``8 500 000``, ``intervalle à 95 %``; the diagnostics keep
        their names and values)."""
        return Summary(self, lang)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, ax: Axes | None = None, *, label: str | None = None) -> Axes:
        """Point estimate with its interval, and the observed count for reference.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is made if omitted.
        label : str, optional
            Row label; default the method name.

        Returns
        -------
        Axes
        """
        return Comparison([self], [label or self.method]).plot(ax=ax)


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:,.{digits}f}"


#: Status codes in words in a summary in a language other than English (other statuses are
#: catalog messages themselves).
_STATUS_WORDS: dict[str, str] = {"ok": N_("estimated"), LOWER_BOUND: N_("lower bound only")}


#: The diagnostics' names in words, for a summary in a language other than English (which
#: shows ``words (name)``: the name is the key of :attr:`EstimationResult.diagnostics`, kept as
#: documented). A name not here is shown as it is.
DIAGNOSTIC_LABELS: dict[str, Message] = {
    # log-linear fits and model searches
    "deviance": N_("deviance"),
    "df_residual": N_("residual degrees of freedom"),
    "loglik": N_("log-likelihood"),
    "aic": N_("AIC"),
    "bic": N_("BIC"),
    "n_params": N_("number of parameters"),
    "log_unobserved": N_("log of the unobserved count"),
    "se_log_unobserved": N_("standard error of the log of the unobserved count"),
    "boundary_terms": N_("terms on the boundary"),
    "irls_iterations": N_("IRLS iterations"),
    "model_reference_notation": N_("model in the reference notation"),
    "candidates_refused": N_("candidate models refused"),
    "models_searched": N_("models searched"),
    "models_refused": N_("models refused"),
    "models_evaluated": N_("models evaluated"),
    "max_order": N_("highest interaction order"),
    "criterion": N_("criterion"),
    "lp_calls": N_("linear programs solved"),
    "search": N_("search"),
    "search_note": N_("note on the search"),
    "catalogue_size": N_("models in the catalogue"),
    "exhaustive": N_("exhaustive search"),
    "starts": N_("starting models"),
    "starts_agreeing": N_("starting models agreeing"),
    "chosen_method": N_("method chosen"),
    "chosen_max_order": N_("highest order chosen"),
    "choice_reason": N_("reason for the choice"),
    "heterogeneity_flag": N_("heterogeneity flagged"),
    "policy": N_("policy"),
    "upper_limit_source": N_("source of the upper limit"),
    "selected_ci_high": N_("upper limit of the selected model"),
    "selected_estimate": N_("estimate of the selected model"),
    "chao_estimate": N_("Chao's estimate"),
    "lower_bound_source": N_("source of the lower bound"),
    # bootstrap
    "n_boot": N_("bootstrap replicates"),
    "n_failed": N_("replicates without an estimate"),
    "boot_failures": N_("replicates without an estimate"),
    "acceleration": N_("BCa acceleration"),
    "bootstrap": N_("bootstrap"),
    "top_models": N_("top models"),
    "share_selecting_best_model": N_("share of replicates selecting the best model"),
    # closed-population models, latent classes, closed forms
    "stderr": N_("standard error"),
    "bias": N_("bias"),
    "fit_flag": N_("fit flag"),
    "info_fit": N_("fit code (infoFit)"),
    "fit_warning": N_("fit warning"),
    "removed_columns": N_("columns removed"),
    "heterogeneity": N_("heterogeneity form"),
    "multinomial_estimate": N_("multinomial estimate"),
    "n_classes": N_("latent classes"),
    "max_loglik": N_("highest log-likelihood"),
    "search_limit": N_("search limit"),
    "f1": N_("people on one list only"),
    "f2": N_("people on exactly two lists"),
    "variance": N_("variance"),
    # Bayesian
    "draws_per_chain": N_("draws per chain"),
    "rhat_N": N_("R-hat of N"),
    "ess_bulk_N": N_("effective sample size of N (bulk)"),
    "ess_tail_N": N_("effective sample size of N (tails)"),
    "mcse_median_N": N_("Monte Carlo error of the median of N"),
    "mcse_low_N": N_("Monte Carlo error of the lower limit"),
    "mcse_high_N": N_("Monte Carlo error of the upper limit"),
    "converged": N_("converged"),
    "posterior_mean_N": N_("posterior mean of N"),
    "chain_spread": N_("spread between chains"),
    "iterations_per_chain": N_("iterations per chain"),
    "iterations_per_second_per_chain": N_("iterations per second and chain"),
    "seconds": N_("seconds"),
    "capped_draws": N_("capped draws"),
    "mean_occupied_classes": N_("mean number of occupied classes"),
    "thin": N_("thinning"),
    "rounds": N_("rounds"),
    "tempered": N_("tempered"),
    "replica_sweeps_per_chain": N_("replica sweeps per chain"),
    "posterior_mode": N_("posterior mode"),
    "posterior_mean": N_("posterior mean"),
    "n_graphs": N_("graphs"),
    "n_graphs_kept": N_("graphs kept"),
    "top_model": N_("most probable model"),
    "top_model_prob": N_("posterior probability of the most probable model"),
    "delta": N_("prior parameter delta"),
    "grid_upper": N_("end of the grid (unobserved)"),
    "grid_upper_N": N_("end of the grid (N)"),
    "grid_points": N_("grid points"),
    "tail_mass": N_("posterior mass beyond the grid"),
    "exact": N_("exact"),
    "divergences": N_("divergent transitions"),
    "max_rhat_coefficients": N_("highest R-hat of the coefficients"),
    "posterior_mean_unobserved_rate": N_("posterior mean of the unobserved cell's rate"),
    "sampler_used": N_("sampler used"),
    "imh_thin": N_("thinning of the independence sampler"),
    "threshold": N_("threshold"),
    "prior": N_("prior"),
    "prior_variance": N_("prior variance"),
    "retained_interactions": N_("interactions retained"),
    "near_threshold": N_("interactions near the threshold"),
    "first_fit_max_rhat": N_("highest R-hat of the first fit"),
    "first_fit_divergences": N_("divergent transitions of the first fit"),
}

#: Code values of the diagnostics in words (a summary in a language other than English).
DIAGNOSTIC_VALUES: dict[str, Message] = {
    "none": N_("none"),
    "ok": N_("ok"),
    "selected": N_("selected model"),
    "heterogeneity extension": N_("heterogeneity extension"),
    "nonparametric": N_("nonparametric"),
    "parametric": N_("parametric"),
    "proper": N_("proper"),
    "improper": N_("improper"),
}


def diagnostic_label(name: str, lang: str) -> str:
    """A diagnostic's name as a summary in ``lang`` shows it: the name in English, ``words
    (name)`` in another language when :data:`DIAGNOSTIC_LABELS` has it.

    >>> diagnostic_label("deviance", "fr"), diagnostic_label("deviance", "en")
    ('déviance (deviance)', 'deviance')
    """
    label = DIAGNOSTIC_LABELS.get(name)
    if label is None or language_of(lang) == "en":
        return name
    return f"{label.render(lang)} ({name})"


class Summary:
    """Text and HTML rendering of an :class:`EstimationResult`."""

    def __init__(self, result: EstimationResult, lang: str = "en") -> None:
        self.result = result
        self.lang = lang

    def _say(self, text: str) -> str:
        from fl_estimate.i18n import translate

        return str(text) if self.lang == "en" else translate(text, self.lang)

    def _num(self, x: float | None) -> str:
        if self.lang == "en" or x is None or (isinstance(x, float) and not math.isfinite(x)):
            return _fmt(x)
        from fl_estimate.i18n import format_number

        return format_number(x, self.lang, 1)

    def _rows(self) -> list[tuple[str, str]]:
        from fl_estimate.i18n import format_int, format_percent

        r, say, num = self.result, self._say, self._num
        en = self.lang == "en"
        kind = INTERVAL_KINDS.get(r.interval_kind or "", r.interval_kind or "")
        level = f"{r.level:.0%}" if en else format_percent(r.level, self.lang, 0)
        rows = [
            (say(N_("Method")), r.method),
            (say(N_("Model")), model_words(r.model, self.lang)),
            (say(N_("Observed")), f"{r.observed:,}" if en else format_int(r.observed, self.lang)),
            (say(N_("Estimate N")), num(r.estimate)),
            (
                say(N_("{level} interval", level=level)),
                f"{num(r.ci_low)} – {num(r.ci_high)}"
                if r.ok
                else (
                    say(N_("at least {low} (no upper limit)", low=num(r.ci_low)))
                    if r.is_lower_bound
                    else "—"
                ),
            ),
            (say(N_("Interval kind")), say(kind) if kind else "—"),
            (say(N_("Status")), say(r.status if en else _STATUS_WORDS.get(r.status, r.status))),
        ]
        if r.conditional_on_model:
            rows.append((say(N_("Note")), say(N_("interval is conditional on the selected model"))))
        if r.interval_notes:
            rows.append((say(N_("Interval note")), say(r.interval_notes)))
        for k, v in r.stratum.items():
            rows.insert(0, (say(N_("Stratum {name}", name=k)), str(v)))
        for k, v in r.diagnostics.items():
            if isinstance(v, int | float | str | bool | np.generic):
                rows.append((diagnostic_label(k, self.lang), self._diagnostic(v)))
        return rows

    def _diagnostic(self, v: Any) -> str:
        """A diagnostic's value: Python's text in English; in another language the language's
        numbers (``14 341,6638``), yes/no in words and a catalog message translated (the names
        of the diagnostics and their code values stay as documented)."""
        if self.lang == "en":
            return _fmt(float(v), 4) if isinstance(v, float) else str(v)
        from fl_estimate.i18n import format_number

        if isinstance(v, bool | np.bool_):
            return self._say(N_("yes") if v else N_("no"))
        if isinstance(v, float | np.floating):
            return format_number(float(v), self.lang, 4) if math.isfinite(v) else "—"
        if isinstance(v, int | np.integer):
            return str(v)
        if isinstance(v, Message):
            return self._say(v)
        if str(v) in DIAGNOSTIC_VALUES:
            return self._say(DIAGNOSTIC_VALUES[str(v)])
        return str(model_words(str(v), self.lang))

    def __str__(self) -> str:
        rows = self._rows()
        w = max(len(k) for k, _ in rows)
        title = self._say(N_("Population size estimate"))
        lines = [title, "=" * max(len(title), 40)]
        lines += [f"{k:<{w}}  {v}" for k, v in rows]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._rows()
        )
        caption = html.escape(self._say(N_("Population size estimate")))
        return f"<table><caption>{caption}</caption>{body}</table>"


class Comparison:
    """Several results side by side (see :func:`compare`)."""

    def __init__(self, results: Sequence[EstimationResult], names: Sequence[str]) -> None:
        self.results = list(results)
        self.names = list(names)

    def to_frame(self) -> pd.DataFrame:
        """One row per result: ``name`` plus the columns of :meth:`EstimationResult.to_frame`."""
        frames = [r.to_frame() for r in self.results]
        df = pd.concat(frames, ignore_index=True)
        df.insert(0, "name", self.names)
        return df

    def summary(self) -> pd.DataFrame:
        return self.to_frame()

    def __repr__(self) -> str:
        cols = ["name", "estimate", "ci_low", "ci_high", "interval_kind", "status"]
        return self.to_frame()[cols].to_string(index=False)

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False))

    def plot(self, ax: Axes | None = None, *, lang: str = "en") -> Axes:
        """Forest plot: one row per result, estimate and interval; observed count as a dashed line.

        Results without an estimate are listed with their status instead of a point. The same
        chart as :func:`plot_comparison` of :meth:`to_frame`; ``lang`` is the language of the
        axis label, the numbers and the names given as catalog messages.
        """
        frame = self.to_frame()
        if lang != "en":
            from fl_estimate.i18n import translate

            frame["name"] = [translate(n, lang) for n in self.names]
        return plot_comparison(frame, ax, lang=lang)


def plot_comparison(table: pd.DataFrame, ax: Axes | None = None, *, lang: str = "en") -> Axes:
    """Forest plot of a comparison table (:meth:`Comparison.to_frame`): one row per result,
    estimate and interval; observed counts as dashed lines; a result without an estimate is
    listed with its ``status_code``.

    Parameters
    ----------
    table : DataFrame
        Columns ``name``, ``observed``, ``estimate``, ``ci_low``, ``ci_high``, ``status_code``.
    ax : Axes, optional
    lang : str
        Language of the axis label, the "no estimate" notes and the numbers (``"fr"``:
        ``8 500``).

    Returns
    -------
    Axes
    """
    from matplotlib.ticker import FuncFormatter

    from fl_estimate._figures import subplots
    from fl_estimate.i18n import format_int, translate

    n = len(table)
    if ax is None:
        _, ax = subplots((7, 0.55 * n + 1.4))
    y = np.arange(n)[::-1]
    colour = OKABE_ITO[0]
    est, lows, highs = (
        pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        for c in ("estimate", "ci_low", "ci_high")
    )
    for yi, e, lo, hi, code in zip(y, est, lows, highs, table["status_code"], strict=True):
        if code != "ok" or np.isnan(e):
            ax.text(
                0.01,
                yi,
                translate(N_("no estimate: {code}", code=code), lang),
                va="center",
                transform=ax.get_yaxis_transform(),
                color="#D55E00",
                fontsize=8,
            )
            continue
        if not np.isnan(lo) and not np.isnan(hi):
            ax.plot([lo, hi], [yi, yi], color=colour, lw=2, solid_capstyle="butt")
        elif not np.isnan(lo):
            ax.annotate(
                "",
                xy=(ax.get_xlim()[1], yi),
                xytext=(lo, yi),
                arrowprops={"arrowstyle": "->", "color": colour},
            )
        ax.plot([e], [yi], "o", color=colour, ms=6)
    for obs in sorted(set(table["observed"])):
        ax.axvline(obs, color="0.4", ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([str(v) for v in table["name"]])
    if lang == "en":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_int(v, lang)))
    ax.set_xlabel(translate(N_("Estimated population size N (dashed: observed)"), lang))
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_ylim(-0.7, n - 0.3)
    return ax


def compare(
    results: Sequence[EstimationResult] | Mapping[str, EstimationResult],
    names: Sequence[str] | None = None,
) -> Comparison:
    """Put several results side by side: a table (``.to_frame()``) and a forest plot (``.plot()``).

    Parameters
    ----------
    results : sequence of EstimationResult, or mapping name -> result
    names : sequence of str, optional
        Row labels; default ``"method: model"``.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> a = EstimationResult("chapman", "two lists", 100, 150.0, (120.0, 190.0), "wald-log")
    >>> b = EstimationResult.failed(method="loglinear", model="A:B", observed=100, reason="no MLE")
    >>> compare({"Chapman": a, "A:B": b}).to_frame()[["name", "estimate", "status"]]
          name  estimate  status
    0  Chapman     150.0      ok
    1      A:B       NaN  no MLE
    """
    if isinstance(results, Mapping):
        names = list(results.keys())
        results = list(results.values())
    results = list(results)
    if names is None:
        names = [f"{r.method}: {r.model}" if r.model else r.method for r in results]
    if len(names) != len(results):
        raise ValueError(f"{len(names)} names for {len(results)} results")
    return Comparison(results, names)


def provenance(data_hash: str | None, seed: Any = None, **settings: Any) -> dict[str, Any]:
    """The provenance block every estimator attaches to its result."""
    return {
        "data_hash": data_hash,
        "seed": seed if seed is None or isinstance(seed, int) else str(seed),
        "package_version": __version__,
        "settings": json_safe(settings),
    }
