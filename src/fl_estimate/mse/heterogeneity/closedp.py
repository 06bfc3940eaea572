"""Rcapture's closed-population family: every model's abundance, standard error and fit.

:class:`ClosedPopulationModels` fits the table Rcapture's ``closedp.t`` prints (M0, Mt, the four
Mh and Mth heterogeneity models, Mb and Mbh) and, on request, the multinomial profile-likelihood
interval of each model ``closedpCI.t`` offers. :func:`fit_closedp_model` fits one model.

The estimates
-------------
For M0, Mt, Mh and Mth (and with added interactions) ``N = n + exp(a)``, the *Poisson* estimate of
``closedp.t``, with ``se = sqrt(exp(a) + exp(2a) var(a))`` (Rivest & Baillargeon 2007). For the
behavioural models, with first-capture and recapture log-odds ``b1`` and ``b2``
(``D = 1 + exp(b2) - exp(b1)``)::

    Mb:  N = exp(a) (1 + exp(b2))**K / D
    Mbh: N = exp(a) (1 + exp(b2))**(K-1) (1 + exp(m + b1) / D)

and ``se = sqrt(g' V g - N)`` with ``g`` the gradient of ``N``. ``D <= 0`` gives a negative ``N``,
and an ``N`` below the observed count is no better: no estimate.

The fit flag
------------
``infoFit`` in Rcapture's table is 0 when ``glm`` gave no warning and 1 when it did not converge
or the asymptotic bias of ``exp(a)`` exceeds 10% of ``N``. Here the flag says what happened
(``flags``, joined by ``+``):

- ``boundary``: the maximum-likelihood estimate does not exist (a zero cell must be fitted at 0;
  see :mod:`fl_estimate.mse.heterogeneity.fitting`); the extended MLE is reported, and its ``N``
  is the observed count when the unobserved cell is sent to zero, none when it goes to infinity;
- ``not-identifiable``: the design has dependent columns;
- ``not-converged``: IRLS did not converge;
- ``large-bias``: the second-order bias of ``exp(a)`` (Cordeiro & McCullagh 1991 bias of the
  coefficients plus the log-normal term ``exp(a) var(a) / 2``; Rivest & Lévesque 2001) is more
  than 10% of ``N``;
- ``impossible-estimate``: Mb or Mbh with ``N`` below the number observed (negative when
  ``D <= 0``); Rcapture flags only the negative ones (through its bias warning);
- ``unbounded``: every direction of recession sends the unobserved count to infinity.

``info_fit`` is 0 with no flag, 2 for ``not-identifiable`` alone, 1 otherwise (Rcapture's codes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_, join_semicolons
from fl_estimate.mse.data import CaptureData
from fl_estimate.mse.heterogeneity.design import ClosedpModel, closedp_catalogue
from fl_estimate.mse.heterogeneity.fitting import PoissonFit, Support, fit_removing_negative
from fl_estimate.mse.heterogeneity.profile import ProfileInterval, profile_interval
from fl_estimate.results import EstimationResult, provenance

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ClosedPopulationModels",
    "ClosedpFit",
    "ClosedpResult",
    "closedp_table",
    "fit_closedp_counts",
    "fit_closedp_model",
    "lognormal_interval",
    "result_from_fit",
]

#: Rcapture warns when the asymptotic bias exceeds this share of N.
BIAS_SHARE = 0.1

FLAG_TEXT = {
    "boundary": N_(
        "the maximum-likelihood estimate does not exist (a capture pattern nobody has must be "
        "fitted at zero); the extended MLE is reported"
    ),
    "not-identifiable": N_(
        "the design has dependent columns: some parameters are not identifiable"
    ),
    "not-converged": N_("the fit did not converge"),
    "large-bias": N_("the asymptotic bias of the estimate is more than 10% of it"),
    "impossible-estimate": N_(
        "the behavioural model's estimate is below the number of people observed (its capture "
        "probabilities are impossible): no estimate"
    ),
    "unbounded": N_("the fit sends the unobserved count to infinity: no finite estimate"),
}

#: The flags in a word or two, for the ``flag`` column of a summary in a language other than
#: English (the English summary and :meth:`ClosedpResult.to_frame` keep the codes).
FLAG_WORDS = {
    "ok": N_("ok"),
    "boundary": N_("boundary"),
    "not-identifiable": N_("not identifiable"),
    "not-converged": N_("not converged"),
    "large-bias": N_("large bias"),
    "impossible-estimate": N_("impossible estimate"),
    "unbounded": N_("unbounded"),
}

#: Decimals of :class:`ClosedpSummary`'s numbers (as Rcapture prints them; others 1).
_DIGITS = {"abundance": 1, "stderr": 1, "deviance": 3, "AIC": 3, "BIC": 3}

#: Column labels of :class:`ClosedpSummary` in a language other than English.
SUMMARY_LABELS = {
    "model": N_("model"),
    "abundance": N_("abundance"),
    "stderr": N_("standard error"),
    "deviance": N_("deviance"),
    "df": N_("df"),
    "infoFit": N_("infoFit"),
    "flag": N_("flag"),
    "abundance_multinomial": N_("abundance (multinomial)"),
    "ci_low": N_("lower limit"),
    "ci_high": N_("upper limit"),
    "interval_note": N_("interval note"),
}


@dataclass(frozen=True)
class ClosedpFit:
    """One model of the closed-population family fitted to one table.

    Attributes
    ----------
    model : ClosedpModel
    lists : tuple of str
    observed : int
    estimate : float or None
        Poisson estimate of N (``None`` when there is none).
    stderr : float or None
    deviance, df, aic, bic : float
        As Rcapture: ``df`` = observable patterns minus the rank of the design; AIC and BIC from
        the Poisson likelihood of the observed patterns with that rank as the parameter count
        (``log n`` in BIC, ``n`` observed).
    bias : float or None
        Second-order bias of ``exp(intercept)`` (the statistic behind Rcapture's bias warning).
    flags : tuple of str
        What went wrong (empty when nothing did); see the module notes.
    removed : tuple of str
        Chao's lower bound: the heterogeneity columns whose negative coefficient was removed.
    counts : ndarray
        Counts of the observable patterns (cell order of :class:`CaptureData`).
    fit : PoissonFit
    """

    model: ClosedpModel
    lists: tuple[str, ...]
    observed: int
    estimate: float | None
    stderr: float | None
    deviance: float
    df: int
    aic: float
    bic: float
    bias: float | None
    flags: tuple[str, ...]
    removed: tuple[str, ...]
    counts: np.ndarray = field(repr=False)
    fit: PoissonFit = field(repr=False)

    @property
    def label(self) -> str:
        return self.model.describe(self.lists)

    @property
    def info_fit(self) -> int:
        """0 no problem, 2 only dependent columns, 1 anything else (Rcapture's codes)."""
        if not self.flags:
            return 0
        return 2 if self.flags == ("not-identifiable",) else 1

    @property
    def flag(self) -> str:
        return "+".join(self.flags) or "ok"

    @property
    def ok(self) -> bool:
        """True when nothing was flagged."""
        return not self.flags

    @property
    def usable(self) -> bool:
        """True when the estimate can be used: only ``large-bias`` (a warning) may be flagged."""
        return self.estimate is not None and set(self.flags) <= {"large-bias"}

    @property
    def reason(self) -> str:
        """The flags in words (empty when there is none)."""
        return join_semicolons(FLAG_TEXT[f] for f in self.flags) if self.flags else ""

    @property
    def coefficients(self) -> pd.DataFrame:
        """Columns ``term``, ``estimate``, ``std_error`` (removed Chao columns omitted)."""
        _, names = self.model.design(len(self.lists), self.lists)
        kept = [names[c] for c in self.fit.columns]
        se = np.sqrt(np.where(np.isfinite(np.diag(self.fit.cov)), np.diag(self.fit.cov), np.nan))
        return pd.DataFrame({"term": kept, "estimate": self.fit.beta, "std_error": se})


def _cm_bias(x: np.ndarray, fit: PoissonFit) -> float:
    """Second-order bias of ``exp(beta_0)``: ``exp(b0) (B_0 + V_00 / 2)`` with the
    Cordeiro–McCullagh (1991) bias ``B = -V X' W h / 2`` of a Poisson log-link GLM
    (``h`` the diagonal of ``X V X'``, ``W`` the fitted means)."""
    v = fit.cov
    mu = fit.mu
    h = np.einsum("ij,jk,ik->i", x, v, x)
    b = -0.5 * v @ (x.T @ (mu * h))
    return float(np.exp(fit.beta[0]) * (b[0] + 0.5 * v[0, 0]))


def _behavioural_n(model: ClosedpModel, beta: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """N of Mb / Mbh and its gradient in the coefficients (see the module notes)."""
    if model.base == "Mb":
        a, b1, b2 = beta
        d = 1.0 + math.exp(b2) - math.exp(b1)
        n = math.exp(a) * (1.0 + math.exp(b2)) ** k / d
        q = math.exp(b2) / (1.0 + math.exp(b2))
        dlog = np.array([1.0, math.exp(b1) / d, k * q - math.exp(b2) / d])
        return n, n * dlog
    a, m, b1, b2 = beta
    d = 1.0 + math.exp(b2) - math.exp(b1)
    r = math.exp(m + b1) / d
    n = math.exp(a) * (1.0 + math.exp(b2)) ** (k - 1) * (1.0 + r)
    q = math.exp(b2) / (1.0 + math.exp(b2))
    s = r / (1.0 + r)
    dlog = np.array([1.0, s, s * (1.0 + math.exp(b1) / d), (k - 1) * q - s * math.exp(b2) / d])
    return n, n * dlog


def fit_closedp_model(model: ClosedpModel, data: CaptureData) -> ClosedpFit:
    """Fit one model of the family to a table (Poisson likelihood of the observed patterns).

    Parameters
    ----------
    model : ClosedpModel
    data : CaptureData

    Returns
    -------
    ClosedpFit
    """
    return fit_closedp_counts(model, data.cell_counts()[1:], data.lists)


def fit_closedp_counts(
    model: ClosedpModel,
    counts: np.ndarray,
    lists: Sequence[str],
    *,
    cache: dict[tuple[tuple[int, ...], bytes], Support] | None = None,
) -> ClosedpFit:
    """:func:`fit_closedp_model` on the counts of the observable patterns (cells 1 .. 2**K - 1,
    list ``j`` = bit ``j``), e.g. a bootstrap replicate. ``cache`` keeps the linear programs'
    answers between calls on tables with the same zeros (see
    :func:`~fl_estimate.mse.heterogeneity.fitting.fit_removing_negative`)."""
    k = len(lists)
    x, names = model.design(k, lists)
    y = np.asarray(counts, dtype=float)
    if y.shape != (x.shape[0],):
        raise ModelSpecificationError(
            N_("expected {n} pattern counts, got {shape}", n=x.shape[0], shape=y.shape)
        )
    n = float(y.sum())
    first = model.n_core(k) if model.is_chao else x.shape[1]
    fit, cols = fit_removing_negative(x, y, first, cache=cache)
    xk = x[:, cols]
    flags: list[str] = []
    if not fit.facial.all():
        flags.append("boundary")
    if not fit.identifiable:
        flags.append("not-identifiable")
    if not fit.converged:
        flags.append("not-converged")
    estimate: float | None
    stderr: float | None
    bias: float | None = None
    if fit.mle_exists:
        bias = _cm_bias(xk, fit)
    if model.behavioural:
        if fit.mle_exists:
            nb, g = _behavioural_n(model, fit.beta, k)
            estimate = nb
            var = float(g @ fit.cov @ g) - nb
            stderr = math.sqrt(var) if var >= 0 else None
            if nb < n:
                flags.append("impossible-estimate")
        else:
            estimate = stderr = None
    else:
        mu0 = fit.mu0
        if np.isnan(mu0):
            estimate = stderr = None
        elif np.isinf(mu0):
            estimate = stderr = None
            flags.append("unbounded")
        else:
            estimate = n + mu0
            var_log = fit.se_log_mu0**2
            # at a boundary with the unobserved count sent to 0 there is no standard error
            stderr = math.sqrt(mu0 + mu0**2 * var_log) if mu0 > 0 and np.isfinite(var_log) else None
    if bias is not None and estimate is not None and abs(bias) > BIAS_SHARE * estimate:
        flags.append("large-bias")
    p = fit.rank
    df = len(y) - p
    aic = -2.0 * fit.loglik + 2.0 * p
    bic = -2.0 * fit.loglik + math.log(n) * p
    removed = tuple(names[c] for c in range(x.shape[1]) if c not in cols)
    return ClosedpFit(
        model=model,
        lists=tuple(lists),
        observed=int(n),
        estimate=estimate,
        stderr=stderr,
        deviance=fit.deviance,
        df=df,
        aic=aic,
        bic=bic,
        bias=bias,
        flags=tuple(dict.fromkeys(flags)),
        removed=removed,
        counts=y,
        fit=fit,
    )


# ---------------------------------------------------------------------------- one result

#: Status codes of fits that give no usable estimate, by flag (first match wins).
STATUS_CODES = (
    ("impossible-estimate", "impossible-estimate"),
    ("unbounded", "no-mle"),
    ("not-identifiable", "not-identifiable"),
    ("boundary", "boundary"),
    ("not-converged", "not-converged"),
)


def lognormal_interval(
    observed: float, estimate: float, stderr: float, level: float
) -> tuple[float, float]:
    """Chao's (1987) interval: the unobserved count ``f0 = N - n`` log-normal with the model's
    standard error, ``(n + f0 / C, n + f0 C)``, ``C = exp(z sqrt(log(1 + se**2 / f0**2)))``."""
    from scipy.stats import norm

    f0 = estimate - observed
    if f0 <= 0:
        return float(observed), float(observed)
    spread = math.sqrt(math.log1p((stderr / f0) ** 2))
    c = math.exp(float(norm.ppf(0.5 + level / 2.0)) * spread)
    return observed + f0 / c, observed + f0 * c


def _status(fit: ClosedpFit) -> tuple[str, str]:
    """(status text, status code) of one fit for an :class:`EstimationResult`."""
    lists = fit.lists
    for flag, code in STATUS_CODES:
        if flag not in fit.flags:
            continue
        if flag == "boundary" and fit.estimate is not None:
            missing = [int(k) for k, v in _capture_frequencies(fit).items() if v == 0 and k > 0]
            what = (
                N_(
                    "the unobserved count is sent to zero, so the estimate is the observed "
                    "count ({observed:,}): an artefact of the boundary, not an estimate of N",
                    observed=fit.observed,
                )
                if fit.estimate == fit.observed
                else N_(
                    "the estimate {estimate:,.1f} is the extended MLE",
                    estimate=fit.estimate,
                )
            )
            if missing:
                text = N_(
                    "{label} has no maximum-likelihood estimate on these data: nobody was "
                    "caught on exactly {counts} of the {k} lists, and the model must fit some "
                    "capture patterns at zero; {what}. Use a model with fewer heterogeneity "
                    "parameters (M0, Mt or Chao's lower bound) or more lists",
                    label=fit.label,
                    counts=", ".join(map(str, missing)),
                    k=len(lists),
                    what=what,
                )
            else:
                text = N_(
                    "{label} has no maximum-likelihood estimate on these data: the model must "
                    "fit some capture patterns at zero; {what}. Use a model with fewer "
                    "heterogeneity parameters (M0, Mt or Chao's lower bound) or more lists",
                    label=fit.label,
                    what=what,
                )
            return text, code
        return N_("{label}: {reason}", label=fit.label, reason=FLAG_TEXT[flag]), code
    return "ok", "ok"


def _capture_frequencies(fit: ClosedpFit) -> dict[int, float]:
    """Observed number of people caught on exactly k lists, k = 1..K (from the fit's counts)."""
    k = len(fit.lists)
    ncap = np.array([c.bit_count() for c in range(1, 1 << k)])
    return {j: float(fit.counts[ncap == j].sum()) for j in range(1, k + 1)}


def result_from_fit(
    method: str,
    fit: ClosedpFit,
    *,
    interval: str = "profile",
    profile: ProfileInterval | None = None,
    boot: tuple[tuple[float | None, float | None], dict[str, Any], np.ndarray] | None = None,
    level: float = 0.95,
    prov: dict[str, Any] | None = None,
    stratum: dict[str, Any] | None = None,
    selected: bool = False,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    extra_diag: dict[str, Any] | None = None,
) -> EstimationResult:
    """An :class:`EstimationResult` for one fitted model.

    The estimate is the Poisson one (Rcapture's ``closedp.t``); with a profile interval the
    multinomial estimate is in ``diagnostics["multinomial_estimate"]``. A fit at the boundary
    keeps its extended-MLE estimate and interval but its ``status_code`` is ``"boundary"`` (not
    ``"ok"``) and ``status`` says why; behavioural fits with an impossible ``N``, fits whose
    unobserved count goes to infinity and non-identifiable fits give no estimate.
    """
    status, code = _status(fit)
    diag: dict[str, Any] = {
        "deviance": fit.deviance,
        "df_residual": fit.df,
        "loglik": fit.fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "n_params": fit.fit.rank,
        "stderr": fit.stderr,
        "bias": fit.bias,
        "fit_flag": fit.flag,
        "info_fit": fit.info_fit,
        "fit_warning": fit.reason,
        "removed_columns": ", ".join(fit.removed) or "none",
        "heterogeneity": fit.model.h or "none",
        "irls_iterations": fit.fit.iterations,
    }
    if fit.model.theta is not None:
        diag["theta"] = fit.model.theta
    diag.update(extra_diag or {})
    tables = {"coefficients": fit.coefficients, **(extra_tables or {})}
    common: dict[str, Any] = {
        "method": method,
        "model": fit.label,
        "observed": fit.observed,
        "level": level,
        "provenance": dict(prov or {}),
        "stratum": dict(stratum or {}),
        "tables": tables,
        "diagnostics": diag,
    }
    if fit.estimate is None or code in ("impossible-estimate", "no-mle", "not-identifiable"):
        return EstimationResult(estimate=None, status=status, status_code=code, **common)
    ci: tuple[float | None, float | None] = (None, None)
    kind: str | None = None
    note: str | None = None
    draws = None
    if interval == "profile" and profile is not None:
        ci, kind, note = (profile.low, profile.high), "profile", profile.note
        diag["multinomial_estimate"] = profile.estimate
    elif interval == "bootstrap" and boot is not None:
        ci, extra, draws = boot
        kind = "bootstrap-percentile"
        diag.update(extra)
    elif interval == "wald":
        kind = "wald-log"
        if fit.stderr is not None:
            ci = lognormal_interval(fit.observed, fit.estimate, fit.stderr, level)
        else:
            note = N_("no standard error at the boundary: no Wald interval")
    return EstimationResult(
        estimate=fit.estimate,
        interval=ci,
        interval_kind=kind,
        status=status,
        status_code=code,
        conditional_on_model=selected and interval != "bootstrap",
        draws=draws,
        interval_notes=note,
        **common,
    )


# ---------------------------------------------------------------------------- the whole table

#: Columns of :meth:`ClosedpResult.to_frame`, Rcapture's first.
TABLE_COLUMNS = [
    "model",
    "abundance",
    "stderr",
    "deviance",
    "df",
    "AIC",
    "BIC",
    "infoFit",
    "flag",
    "bias",
    "removed",
]
PROFILE_COLUMNS = ["abundance_multinomial", "ci_low", "ci_high", "interval_note"]


@dataclass(frozen=True)
class ClosedpResult:
    """Every closed-population model fitted to one table (Rcapture's ``closedp.t``).

    Attributes
    ----------
    fits : tuple of ClosedpFit
    observed : int
    lists : tuple of str
    profiles : dict
        Model label -> :class:`~fl_estimate.mse.heterogeneity.profile.ProfileInterval` (or the
        reason it could not be computed), filled when the intervals were asked for.
    level : float
    provenance : dict
    stratum : dict
    """

    fits: tuple[ClosedpFit, ...]
    observed: int
    lists: tuple[str, ...]
    profiles: dict[str, ProfileInterval | str] = field(default_factory=dict)
    level: float = 0.95
    provenance: dict[str, Any] = field(default_factory=dict)
    stratum: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, label: str) -> ClosedpFit:
        for f in self.fits:
            if f.label == label or f.model.label == label:
                return f
        raise KeyError(
            N_(
                "no model {label!r}; models: {models}",
                label=label,
                models=", ".join(f.label for f in self.fits),
            )
        )

    def to_frame(self) -> pd.DataFrame:
        """The whole table, one row per model.

        Columns: ``model``, ``abundance`` (Poisson estimate), ``stderr``, ``deviance``, ``df``,
        ``AIC``, ``BIC``, ``infoFit`` (0 fine, 1 flagged, 2 dependent columns), ``flag`` (what
        was flagged: ``ok``, ``boundary``, ``large-bias``, ... joined by ``+``), ``bias`` (of the
        unobserved count), ``removed`` (Chao columns removed); with intervals also
        ``abundance_multinomial``, ``ci_low``, ``ci_high`` (None: open above) and
        ``interval_note``. Missing numbers are NaN.
        """
        rows = []
        for f in self.fits:
            row: dict[str, Any] = {
                "model": f.label,
                "abundance": _nan(f.estimate),
                "stderr": _nan(f.stderr),
                "deviance": f.deviance,
                "df": f.df,
                "AIC": f.aic,
                "BIC": f.bic,
                "infoFit": f.info_fit,
                "flag": f.flag,
                "bias": _nan(f.bias),
                "removed": ", ".join(f.removed),
            }
            if self.profiles:
                pi = self.profiles.get(f.label)
                if pi is None or isinstance(pi, str):
                    row.update(
                        abundance_multinomial=np.nan,
                        ci_low=np.nan,
                        ci_high=np.nan,
                        interval_note=pi or "",
                    )
                else:
                    row.update(
                        abundance_multinomial=pi.estimate,
                        ci_low=_nan(pi.low),
                        ci_high=_nan(pi.high),
                        interval_note=pi.note or "",
                    )
            rows.append(row)
        cols = TABLE_COLUMNS + (PROFILE_COLUMNS if self.profiles else [])
        return pd.DataFrame(rows, columns=cols)

    def best(self, criterion: str = "AIC", *, behavioural: bool = False) -> ClosedpFit:
        """The model with the lowest AIC (or BIC) among the usable fits (no flag other than
        ``large-bias``).

        Mb and Mbh take part only with ``behavioural=True``: they model a response to being
        caught on an *earlier* list, which needs the lists in time order (trapping occasions);
        the lists of multiple systems estimation seldom are.

        Raises
        ------
        ModelSpecificationError
            If no model fitted without a flag.
        """
        key = {"aic": "aic", "bic": "bic"}.get(criterion.lower())
        if key is None:
            raise ModelSpecificationError(
                N_("criterion must be 'AIC' or 'BIC', got {value!r}", value=criterion)
            )
        ok = [f for f in self.fits if f.usable and (behavioural or not f.model.behavioural)]
        if not ok:
            raise ModelSpecificationError(
                N_(
                    "no model of the closed-population family gave a usable estimate on this "
                    "table ({fits})",
                    fits=", ".join(f"{f.label}: {f.flag}" for f in self.fits),
                )
            )
        return min(ok, key=lambda f: getattr(f, key))

    def summary(self, lang: str = "en") -> ClosedpSummary:
        """Readable table: text in a terminal, HTML in Jupyter.

        In a language other than English (``"fr"``) the heading, column labels, flags, notes and
        numbers (``7 608,4``) are in that language; in English the table is Rcapture's layout with
        :meth:`to_frame`'s column names.
        """
        return ClosedpSummary(self, lang)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, ax: Axes | None = None, *, lang: str = "en") -> Axes:
        """Every model's estimate with its interval (profile if computed, else ±2 se).

        Flagged models are drawn hollow and named with their flag; the observed count is the
        dashed line. ``lang`` is the language of the axis label and the flags. Returns the Axes.
        """
        import matplotlib.pyplot as plt

        from fl_estimate._palette import OKABE_ITO
        from fl_estimate.i18n import translate

        colours = list(OKABE_ITO.values()) if isinstance(OKABE_ITO, dict) else list(OKABE_ITO)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.45 * len(self.fits) + 1.4))
        ypos = np.arange(len(self.fits))[::-1]
        labels = []
        for yi, f in zip(ypos, self.fits, strict=True):
            flag = f.flag
            if lang != "en":
                flag = "+".join(translate(FLAG_WORDS.get(c, c), lang) for c in f.flag.split("+"))
            labels.append(f.label if f.ok else f"{f.label} [{flag}]")
            if f.estimate is None:
                continue
            pi = self.profiles.get(f.label)
            if pi is not None and not isinstance(pi, str):
                lo, hi = pi.low, pi.high
            elif f.stderr is not None:
                lo, hi = max(f.estimate - 2 * f.stderr, self.observed), f.estimate + 2 * f.stderr
            else:
                lo = hi = None
            colour = colours[0] if f.ok else colours[1]
            if lo is not None:
                ax.plot([lo, hi if hi is not None else f.estimate], [yi, yi], color=colour, lw=2)
                if hi is None:
                    ax.annotate(
                        "",
                        xy=(f.estimate * 1.5, yi),
                        xytext=(f.estimate, yi),
                        arrowprops={"arrowstyle": "->", "color": colour},
                    )
            ax.plot([f.estimate], [yi], "o", color=colour, mfc=colour if f.ok else "white")
        ax.axvline(self.observed, color="0.4", ls="--", lw=1)
        ax.set_yticks(ypos)
        ax.set_yticklabels(labels)
        ax.set_xlabel(translate(N_("Estimated population size N (dashed: observed)"), lang))
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        return ax


def _nan(v: float | None) -> float:
    return np.nan if v is None else float(v)


class ClosedpSummary:
    """Text and HTML rendering of a :class:`ClosedpResult` (as Rcapture prints it)."""

    def __init__(self, result: ClosedpResult, lang: str = "en") -> None:
        self.result = result
        self.lang = lang

    def _frame(self) -> pd.DataFrame:
        df = self.result.to_frame().drop(columns=["bias", "removed"])
        df = df.round(_DIGITS)
        if self.lang == "en":
            return df
        return self._localised(df)

    def _localised(self, df: pd.DataFrame) -> pd.DataFrame:
        """The table in :attr:`lang`: numbers as text in the language's format, flags and notes
        in words, labelled columns (``—`` for a missing number)."""
        from fl_estimate.i18n import format_number, translate

        lang = self.lang
        out = pd.DataFrame(index=df.index)
        for col in df.columns:
            if col == "flag":
                values = [
                    "+".join(translate(FLAG_WORDS.get(c, c), lang) for c in f.flag.split("+"))
                    for f in self.result.fits
                ]
            elif col == "interval_note":
                values = []
                for f in self.result.fits:
                    pi = self.result.profiles.get(f.label)
                    note = pi if isinstance(pi, str) else (pi.note if pi is not None else "")
                    values.append(translate(note, lang) if note else "")
            elif col in ("model", "df", "infoFit"):
                values = [str(v) for v in df[col]]
            else:
                digits = _DIGITS.get(col, 1)
                values = [
                    "—" if pd.isna(v) else format_number(float(v), lang, digits) for v in df[col]
                ]
            label = SUMMARY_LABELS.get(col)
            out[translate(label, lang) if label is not None else col] = values
        return out

    def __str__(self) -> str:
        from fl_estimate.i18n import translate

        r, lang = self.result, self.lang
        head = N_("Number of captured units: {n:,} ({k} lists)", n=r.observed, k=len(r.lists))
        notes = [
            translate(N_("{label}: {reason}", label=f.label, reason=f.reason), lang)
            for f in r.fits
            if f.flags
        ]
        body = self._frame().to_string(index=False)
        flags = translate(N_("Flags:"), lang)
        return "\n".join([translate(head, lang), "", body, *(["", flags, *notes] if notes else [])])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return str(self._frame().to_html(index=False))


class ClosedPopulationModels:
    """Rcapture's closed-population family (``closedp.t``), with optional profile intervals
    (``closedpCI.t``).

    Parameters
    ----------
    models : iterable of ClosedpModel, optional
        Default: Rcapture's twelve (M0, Mt, Mh and Mth with Chao, Poisson2, Darroch and Gamma3.5,
        Mb, Mbh; M0, Mt and Mb only for two lists).

    Examples
    --------
    >>> import pandas as pd
    >>> from fl_estimate.mse import CaptureData
    >>> from fl_estimate.mse.heterogeneity import ClosedPopulationModels
    >>> data = CaptureData.from_counts(pd.DataFrame({  # the Korean table (tests/data/mse)
    ...     "b": [0, 0, 1, 1, 1, 0, 1], "c": [0, 1, 0, 1, 0, 1, 1], "d": [1, 0, 0, 0, 1, 1, 1],
    ...     "count": [41, 5, 5, 54, 6, 0, 12]}))
    >>> res = ClosedPopulationModels().fit(data)
    >>> res.to_frame()[["model", "abundance", "infoFit"]].round(1).head(3)
              model  abundance  infoFit
    0            M0      142.6        0
    1            Mt      142.0        0
    2  Mh Chao (LB)      142.6        0
    """

    def __init__(self, models: Iterable[ClosedpModel] | None = None) -> None:
        self.models = None if models is None else tuple(models)
        if self.models is not None:
            for m in self.models:
                if not isinstance(m, ClosedpModel):
                    raise ModelSpecificationError(
                        N_(
                            "models must be ClosedpModel objects, got {kind}",
                            kind=type(m).__name__,
                        )
                    )

    def fit(
        self,
        data: CaptureData,
        *,
        intervals: bool = False,
        level: float = 0.95,
    ) -> ClosedpResult:
        """Fit every model; with ``intervals=True`` also each profile interval (M0..Mth).

        Parameters
        ----------
        data : CaptureData
        intervals : bool
            Compute the multinomial profile-likelihood interval of every model that has one
            (all but Mb and Mbh).
        level : float

        Returns
        -------
        ClosedpResult
        """
        if not isinstance(data, CaptureData):
            raise TypeError(
                "fit() takes one CaptureData table; for stratified data fit each stratum "
                "(for key, table in data.items())"
            )
        models = self.models or tuple(closedp_catalogue(data.n_lists))
        fits = tuple(fit_closedp_model(m, data) for m in models)
        profiles: dict[str, ProfileInterval | str] = {}
        if intervals:
            for f in fits:
                if f.model.behavioural:
                    profiles[f.label] = N_("no profile interval for behavioural models")
                elif f.estimate is None:
                    profiles[f.label] = N_("no estimate ({flag})", flag=f.flag)
                else:
                    profiles[f.label] = profile_interval(f.model, data, f.estimate, level=level)
        prov = provenance(
            data.data_hash,
            None,
            method="closedp",
            models=[f.label for f in fits],
            intervals=intervals,
            level=level,
        )
        return ClosedpResult(
            fits=fits,
            observed=data.n_observed,
            lists=tuple(data.lists),
            profiles=profiles,
            level=level,
            provenance=prov,
            stratum=dict(data.stratum),
        )


def closedp_table(
    data: CaptureData, *, intervals: bool = False, level: float = 0.95
) -> pd.DataFrame:
    """Rcapture's ``closedp.t`` table as a DataFrame (see :meth:`ClosedpResult.to_frame`).

    Examples
    --------
    >>> import io
    >>> import pandas as pd
    >>> from fl_estimate.mse import CaptureData
    >>> from fl_estimate.mse.heterogeneity import closedp_table
    >>> korea = "b,c,d,count\\n0,0,1,41\\n0,1,0,5\\n1,0,0,5\\n1,1,0,54\\n1,0,1,6\\n0,1,1,0\\n1,1,1,12"
    >>> data = CaptureData.from_counts(pd.read_csv(io.StringIO(korea)))
    >>> table = closedp_table(data).set_index("model")
    >>> round(float(table.loc["Mh Darroch", "abundance"]), 1), int(table.loc["Mh Darroch", "df"])
    (130.4, 4)
    """
    return ClosedPopulationModels().fit(data, intervals=intervals, level=level).to_frame()
