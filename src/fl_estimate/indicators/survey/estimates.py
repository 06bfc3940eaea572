"""Design-based estimates (means, totals, ratios, proportions) with their intervals.

:class:`BaseDesign` computes every statistic as a ratio of weighted totals over the whole design
(a domain keeps all rows, those outside it with a zero contribution, as R's ``svyby`` does), the
interval that fits the statistic (:data:`CI_METHODS`, as R's ``svyciprop``) and the design effect;
each design (:mod:`.design`) supplies the variance of the linearised values and the degrees of
freedom.

Examples
--------
Prevalence of forced labour (per 1,000) in the sample survey, with the Korn–Graubard interval:

>>> import pandas as pd
>>> from fl_estimate.indicators import IndicatorScorer, load_design
>>> survey = pd.read_csv("data_samples/survey/survey.csv")
>>> scored = IndicatorScorer("ilo2012").score(survey, "data_samples/survey/mapping.toml")
>>> design = load_design("data_samples/survey/design.toml").build(scored.table)
>>> s = design.proportion("forced_labour", method="beta")
>>> [round(1000 * v, 1) for v in (s.estimate, s.ci_low, s.ci_high)], s.df, round(s.deff, 2)
([26.3, 20.6, 33.1], 156.0, 1.52)
>>> s = design.proportion("forced_labour", domain={"region": "North"}, method="beta")
>>> [round(1000 * v, 1) for v in (s.estimate, s.ci_low, s.ci_high)], s.n
([8.9, 4.3, 16.5], 1000)
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fl_estimate.exceptions import ModelSpecificationError, SmallSampleWarning
from fl_estimate.i18n import N_
from fl_estimate.indicators.survey.variance import expit, logit

__all__ = ["CI_METHODS", "BaseDesign", "SurveyStat", "as_list", "korn_graubard"]

#: Interval methods for proportions, with the words a report prints for them.
CI_METHODS: dict[str, str] = {
    "wald": "Wald interval (normal quantile), may leave [0, 1]",
    "logit": "logit interval (t quantile on the design's df), as R svyciprop(method='logit')",
    "xlogit": "logit interval by the delta method, as R svyciprop(method='xlogit')",
    "beta": "Korn–Graubard (beta) interval, as R svyciprop(method='beta')",
}


@dataclass(frozen=True)
class SurveyStat:
    """One design-based estimate with its standard error and interval.

    Attributes
    ----------
    statistic : str
        ``"mean"``, ``"total"``, ``"ratio"`` or ``"proportion"``.
    variable : str
        Variable (``"y/x"`` for a ratio).
    domain : str
        ``"all"`` or ``"column=value"``.
    estimate, se, ci_low, ci_high : float
        Estimate, standard error and interval ends (NaN when the estimate does not exist, e.g. an
        empty domain; :attr:`note` says why).
    ci_method : str
        Interval method actually used (a key of :data:`CI_METHODS`, with a note when it had to
        change).
    level : float
        Confidence level.
    deff : float or None
        Design effect against simple random sampling without replacement of the same size (R's
        ``deff=TRUE``); ``None`` for ratios and where it does not exist.
    n : int
        Unweighted number of respondents contributing (in the domain, with the variable not
        missing).
    n_clusters : int
        Number of first-stage units with at least one such respondent.
    df : float
        Degrees of freedom used for t quantiles (R's ``degf`` of the design restricted to the
        domain).
    note : str
        Why an estimate or interval is missing or was replaced; empty otherwise.
    """

    statistic: str
    variable: str
    domain: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    ci_method: str
    level: float
    deff: float | None
    n: int
    n_clusters: int
    df: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_list(x: str | Sequence[str] | None) -> list[str]:
    """A column name or a list of them, as a list."""
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def _values(data: pd.DataFrame, y: str | Sequence[float] | np.ndarray) -> tuple[str, np.ndarray]:
    if isinstance(y, str):
        if y not in data.columns:
            raise ModelSpecificationError(
                N_("variable {y!r} is not a column of the survey data", y=y)
            )
        col = data[y]
        name = y
    else:
        col = pd.Series(np.asarray(y))
        name = getattr(y, "name", None) or "y"
        if len(col) != len(data):
            raise ModelSpecificationError(
                N_(
                    "variable has {values} values but the design has {rows} rows",
                    values=len(col),
                    rows=len(data),
                )
            )
    if col.dtype == bool or str(col.dtype) == "boolean":
        vals = col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    else:
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return str(name), vals


def _domain_mask(
    data: pd.DataFrame, domain: str | dict[str, Any] | np.ndarray | pd.Series | None
) -> tuple[str, np.ndarray]:
    n = len(data)
    if domain is None:
        return "all", np.ones(n, dtype=bool)
    if isinstance(domain, dict):
        mask = np.ones(n, dtype=bool)
        parts = []
        for k, v in domain.items():
            if k not in data.columns:
                raise ModelSpecificationError(
                    N_("domain column {k!r} is not in the survey data", k=k)
                )
            mask &= (data[k] == v).to_numpy(dtype=bool, na_value=False)
            parts.append(f"{k}={v}")
        return ",".join(parts), mask
    arr = np.asarray(domain)
    if arr.dtype != bool or arr.shape != (n,):
        raise ModelSpecificationError(
            N_("a domain must be a dict {column: value} or a boolean mask")
        )
    return str(getattr(domain, "name", None) or "domain"), arr


def _tq(level: float, df: float) -> float:
    a = (1 - level) / 2
    if not np.isfinite(df) or df <= 0:
        return float(stats.norm.ppf(1 - a))
    return float(stats.t.ppf(1 - a, df))


def korn_graubard(
    p: float, var: float, n_rows: int, df: float, level: float = 0.95
) -> tuple[float, float, str]:
    """Korn–Graubard interval for a proportion, as R's ``svyciprop(method="beta")``.

    ``n_eff = p(1-p)/var × (t_{n_rows-1}/t_{df})²`` and the interval is
    ``(qbeta(α/2, n_eff p, n_eff (1-p) + 1), qbeta(1-α/2, n_eff p + 1, n_eff (1-p)))``. When the
    variance is zero (no positive case, or no negative case, in the domain) the design effect is
    taken as 1, i.e. ``n_eff`` = the unweighted number of respondents (times the same df factor), so
    that a domain with no positive case gets ``[0, 1 - (α/2)^(1/n_eff)]`` instead of R's degenerate
    result. Returns ``(low, high, note)``.
    """
    alpha = 1 - level
    note = ""
    if var > 0 and 0 < p < 1:
        n_eff = p * (1 - p) / var
    else:
        n_eff = float(n_rows)
        # whole sentences, so that the note, a plain string in the table, is a catalog key
        note = (
            N_("no positive case in the domain; Korn–Graubard interval with effective n = "
               "unweighted n") if p <= 0
            else N_("no negative case in the domain; Korn–Graubard interval with effective n = "
                    "unweighted n") if p >= 1
            else N_("zero estimated variance; Korn–Graubard interval with effective n = "
                    "unweighted n")
        )  # fmt: skip
    if n_rows > 1 and np.isfinite(df) and df > 0:
        n_eff *= (stats.t.ppf(alpha / 2, n_rows - 1) / stats.t.ppf(alpha / 2, df)) ** 2
    lo = 0.0 if p <= 0 else float(stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1))
    hi = 1.0 if p >= 1 else float(stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)))
    return lo, hi, note


class BaseDesign(ABC):
    """A survey design: statistics as ratios of weighted totals, domains, intervals, deff.

    The base class of :class:`~fl_estimate.indicators.survey.SurveyDesign` (Taylor
    linearisation) and :class:`~fl_estimate.indicators.survey.ReplicateDesign` (replicate
    weights); use it in ``isinstance`` checks and type hints for "any design".

    Attributes
    ----------
    data : DataFrame
        One row per respondent (index 0..n-1).
    weights : array (n,)
        Sampling weights.
    psu_codes, stratum_codes : array (n,)
        First-stage unit and stratum of each row (for a replicate design: each row its own unit,
        one stratum).
    """

    data: pd.DataFrame
    weights: np.ndarray
    psu_codes: np.ndarray
    stratum_codes: np.ndarray

    # -- to be provided by the subclasses
    @abstractmethod
    def _variance(
        self, a: np.ndarray, b: np.ndarray | None, est: float
    ) -> tuple[float, float | None]:
        """Variance of the estimate and, for replicate designs, the replicate variance of its logit
        (``None`` where the logit's variance is the delta method's, NaN where it does not exist)."""

    @abstractmethod
    def _df(self, mask: np.ndarray) -> float:
        """Degrees of freedom for intervals over the rows in ``mask``."""

    # -- public statistics
    def __len__(self) -> int:
        return len(self.data)

    @property
    def degf(self) -> float:
        """Degrees of freedom of the whole design (R's ``degf``)."""
        return self._df(self.weights != 0)

    def mean(
        self,
        y: str | np.ndarray,
        *,
        domain: str | dict[str, Any] | np.ndarray | None = None,
        level: float = 0.95,
    ) -> SurveyStat:
        """Weighted mean of ``y`` (missing values dropped) over the design or a domain.

        Notes
        -----
        ``ȳ = Σ w d y / Σ w d``; linearised values ``z = w d (y − ȳ) / Σ w d``. The Wald interval
        uses the normal quantile, as R's ``confint(svymean(...))``.
        """
        return self._ratio_stat("mean", y, None, domain, level)

    def total(
        self,
        y: str | np.ndarray,
        *,
        domain: str | dict[str, Any] | np.ndarray | None = None,
        level: float = 0.95,
    ) -> SurveyStat:
        """Weighted total of ``y`` (missing values dropped) over the design or a domain."""
        return self._ratio_stat("total", y, None, domain, level)

    def ratio(
        self,
        y: str | np.ndarray,
        x: str | np.ndarray,
        *,
        domain: str | dict[str, Any] | np.ndarray | None = None,
        level: float = 0.95,
    ) -> SurveyStat:
        """Ratio of weighted totals ``Σ w y / Σ w x`` (rows with either missing dropped)."""
        return self._ratio_stat("ratio", y, x, domain, level)

    def proportion(
        self,
        y: str | np.ndarray,
        *,
        domain: str | dict[str, Any] | np.ndarray | None = None,
        method: str = "logit",
        level: float = 0.95,
        df: float | None = None,
    ) -> SurveyStat:
        """Proportion of a 0/1 variable with an interval that stays in [0, 1].

        Parameters
        ----------
        y : str or array
            0/1 (or boolean) variable; missing values are dropped (the domain becomes the
            respondents with an answer).
        domain : dict, boolean mask or None
            Subpopulation, estimated on the whole design.
        method : {"logit", "xlogit", "beta", "wald"}
            Interval, as R's ``svyciprop``; ``"wald"`` is R's ``confint(svymean(...))``.
        level : float
            Confidence level.
        df : float, optional
            Degrees of freedom for the t quantile; default: the design's ``degf`` restricted to the
            domain (as R's ``svyciprop(df = degf(subset))``).

        Notes
        -----
        With no positive case (``p̂ = 0``) or no negative case in the domain the standard error is 0
        and the logit interval does not exist (R returns a meaningless interval around 1e-11). This
        method then returns the Korn–Graubard interval ``[0, 1 − (α/2)^(1/n_eff)]`` with ``n_eff``
        the unweighted number of respondents in the domain (times R's df factor), and says so in
        :attr:`SurveyStat.note` and :attr:`SurveyStat.ci_method`. The Wald interval is returned
        as it is (``[0, 0]``): use ``"beta"`` or ``"logit"`` for rare outcomes.
        """
        if method not in CI_METHODS:
            raise ModelSpecificationError(
                N_(
                    "unknown interval method {method!r}; expected one of {methods}",
                    method=method,
                    methods=", ".join(CI_METHODS),
                )
            )
        return self._ratio_stat("proportion", y, None, domain, level, method=method, df=df)

    # -- machinery
    def _ratio_stat(
        self,
        statistic: str,
        y: str | np.ndarray,
        x: str | np.ndarray | None,
        domain: Any,
        level: float,
        method: str = "wald",
        df: float | None = None,
    ) -> SurveyStat:
        yname, yv = _values(self.data, y)
        dname, dmask = _domain_mask(self.data, domain)
        ok = dmask & ~np.isnan(yv) & (self.weights != 0)
        if x is not None:
            xname, xv = _values(self.data, x)
            ok &= ~np.isnan(xv)
            varname = f"{yname}/{xname}"
        else:
            varname = yname
        if statistic == "proportion":
            bad = ok & ~np.isin(yv, (0.0, 1.0))
            if bad.any():
                raise ModelSpecificationError(
                    N_(
                        "proportion of {variable!r}: values must be 0/1 (found {value!r})",
                        variable=yname,
                        value=yv[bad][0],
                    )
                )
        d = ok.astype(float)
        a = np.where(ok, yv, 0.0)
        if statistic == "ratio":
            b: np.ndarray | None = np.where(ok, xv, 0.0)
        elif statistic == "total":
            b = None
        else:
            b = d
        n = int(ok.sum())
        n_clusters = len(np.unique(self.psu_codes[ok])) if n else 0
        ddf = self._df(ok) if df is None else float(df)
        w = self.weights
        if n == 0 or (b is not None and float(np.dot(w, b)) == 0.0):
            return SurveyStat(
                statistic, varname, dname, math.nan, math.nan, math.nan, math.nan,
                method, level, None, n, n_clusters, ddf,
                note=N_(
                    "no respondent in the domain with this variable: the estimate does not exist"
                ),
            )  # fmt: skip
        num = float(np.dot(w, a))
        est = num if b is None else num / float(np.dot(w, b))
        var, var_logit = self._variance(a, b, est)
        se = math.sqrt(max(var, 0.0))
        deff = self._deff(statistic, yv, ok, var)
        note = ""
        if method == "wald":
            z = float(stats.norm.ppf(1 - (1 - level) / 2))
            lo, hi = est - z * se, est + z * se
        elif method in ("logit", "xlogit") and 0 < est < 1 and se > 0:
            t = _tq(level, ddf)
            if method == "xlogit" or var_logit is None:
                sl = se / (est * (1 - est))
            elif not np.isfinite(var_logit):
                sl = se / (est * (1 - est))
                note = N_(
                    "a replicate has no positive (or no negative) case in the domain, so the "
                    "replicate variance of the logit does not exist; delta-method logit used"
                )
                method = "xlogit (instead of logit: a replicate has no positive case)"
            else:
                sl = math.sqrt(var_logit)
            lo, hi = (float(v) for v in expit(logit(est) + np.array([-t, t]) * sl))
        else:
            n_rows = int((dmask & (self.weights != 0)).sum())
            lo, hi, note = korn_graubard(est, var, n_rows, ddf, level)
            if method != "beta":
                method = f"beta (instead of {method}: {note.split(';')[0]})"
        return SurveyStat(
            statistic, varname, dname, float(est), se, float(lo), float(hi), method, level,
            deff, n, n_clusters, ddf, note,
        )  # fmt: skip

    def _deff(self, statistic: str, yv: np.ndarray, ok: np.ndarray, var: float) -> float | None:
        if statistic == "ratio":
            return None
        w = self.weights[ok]
        y = yv[ok]
        n = len(y)
        psum = float(w.sum())
        if n < 2 or psum <= n:
            return None
        ybar = float(np.dot(w, y) / psum)
        s2 = float(np.dot(w, (y - ybar) ** 2) / psum) * n / (n - 1)
        vsrs = s2 * (psum - n) / (psum * n)
        if statistic == "total":
            vsrs *= psum**2
        if vsrs <= 0:
            return None
        return var / vsrs

    def by(
        self,
        y: str,
        by: str | Sequence[str],
        *,
        statistic: str = "proportion",
        method: str = "logit",
        level: float = 0.95,
        min_n: int = 30,
        min_clusters: int = 2,
    ) -> pd.DataFrame:
        """One estimate per domain of ``by`` (each a subpopulation of the whole design).

        Warns with :class:`~fl_estimate.exceptions.SmallSampleWarning` for domains with fewer than
        ``min_n`` respondents or fewer than ``min_clusters`` first-stage units. Returns a DataFrame
        with the fields of :class:`SurveyStat`, one row per domain.
        """
        cols = as_list(by)
        rows = []
        keys = self.data[cols].drop_duplicates().dropna().sort_values(cols)
        for _, key in keys.iterrows():
            dom = {c: key[c] for c in cols}
            if statistic == "proportion":
                s = self.proportion(y, domain=dom, method=method, level=level)
            else:
                s = getattr(self, statistic)(y, domain=dom, level=level)
            _warn_small(s, min_n, min_clusters)
            rows.append(s.to_dict())
        return pd.DataFrame(rows)


def _warn_small(s: SurveyStat, min_n: int, min_clusters: int) -> bool:
    if s.n < min_n or s.n_clusters < min_clusters:
        warnings.warn(
            N_(
                "domain {domain} of {variable}: {n} respondents in {clusters} first-stage units "
                "(thresholds: {min_n} respondents, {min_clusters} units); the estimate and its "
                "interval are unreliable",
                domain=s.domain,
                variable=s.variable,
                n=s.n,
                clusters=s.n_clusters,
                min_n=min_n,
                min_clusters=min_clusters,
            ),
            SmallSampleWarning,
            stacklevel=3,
        )
        return True
    return False
