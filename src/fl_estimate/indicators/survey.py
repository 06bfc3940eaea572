"""Design-based estimation for complex survey samples (means, totals, ratios, proportions).

Two designs are provided, both written directly with NumPy and checked against the R ``survey``
package (Lumley) to 1e-6 relative on estimates and standard errors:

* :class:`SurveyDesign`: stratified, clustered (one or more stages), weighted samples, with or
without
  finite-population corrections; variances by Taylor linearisation, exactly as R's ``svydesign`` +
  ``svyrecvar`` (with-replacement PSU variance within strata, plus later-stage variance when the
  stage's fpc is given).
* :class:`ReplicateDesign`: replicate weights (JK1, JKn, bootstrap, BRR or any other scheme
described
  by ``scale``, ``rscales`` and ``mse``), as R's ``svrepdesign``.

Domains (subpopulations) are estimated on the whole design, never by subsetting the data: rows
outside
the domain keep their place in the design with a zero contribution (as R's ``svyby`` does), so the
number of PSUs per stratum, the fpc and the degrees of freedom come from the full design.

Intervals for proportions follow R's ``svyciprop``: ``"wald"`` (normal quantile, R's ``confint`` of
``svymean``), ``"logit"`` (Wald on the logit scale with a t quantile on ``df`` degrees of freedom;
for
replicate designs the logit's standard error comes from the replicates of the logit, as R's
``svyglm``),
``"xlogit"`` (delta method on the logit) and ``"beta"`` (Korn–Graubard). When a domain has no
positive
case (or only positive cases) the logit interval does not exist; the Korn–Graubard interval is
returned
instead, ``[0, upper]`` with the effective sample size taken as the unweighted domain size (see
:meth:`SurveyDesign.proportion`).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.exceptions import (
    InputValidationError,
    ModelSpecificationError,
    Problem,
    SmallSampleWarning,
)

__all__ = [
    "CI_METHODS",
    "ReplicateDesign",
    "SurveyDesign",
    "SurveyStat",
]

#: Interval methods for proportions, with the words a report prints for them.
CI_METHODS: dict[str, str] = {
    "wald": "Wald interval (normal quantile), may leave [0, 1]",
    "logit": "logit interval (t quantile on the design's df), as R svyciprop(method='logit')",
    "xlogit": "logit interval by the delta method, as R svyciprop(method='xlogit')",
    "beta": "Korn–Graubard (beta) interval, as R svyciprop(method='beta')",
}

LonelyPSU = Literal["fail", "certainty", "remove", "average"]


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


# ---------------------------------------------------------------------------------------------
# helpers


def _codes(values: Any) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _group_sum(codes: np.ndarray, ngroups: int, z: np.ndarray) -> np.ndarray:
    """Column sums of ``z`` (n, k) by group code; returns (ngroups, k)."""
    out = np.empty((ngroups, z.shape[1]))
    for j in range(z.shape[1]):
        out[:, j] = np.bincount(codes, weights=z[:, j], minlength=ngroups)
    return out


def _column(data: pd.DataFrame, name: str, source: str, problems: list[Problem]) -> Any:
    if name not in data.columns:
        problems.append(
            Problem(
                f"design column not in the data (columns: {', '.join(map(str, data.columns))})",
                source=source,
                column=name,
            )
        )
        return None
    return data[name]


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def _values(data: pd.DataFrame, y: str | Sequence[float] | np.ndarray) -> tuple[str, np.ndarray]:
    if isinstance(y, str):
        if y not in data.columns:
            raise ModelSpecificationError(f"variable {y!r} is not a column of the survey data")
        col = data[y]
        name = y
    else:
        col = pd.Series(np.asarray(y))
        name = getattr(y, "name", None) or "y"
        if len(col) != len(data):
            raise ModelSpecificationError(
                f"variable has {len(col)} values but the design has {len(data)} rows"
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
                raise ModelSpecificationError(f"domain column {k!r} is not in the survey data")
            mask &= (data[k] == v).to_numpy(dtype=bool, na_value=False)
            parts.append(f"{k}={v}")
        return ",".join(parts), mask
    arr = np.asarray(domain)
    if arr.dtype != bool or arr.shape != (n,):
        raise ModelSpecificationError("a domain must be a dict {column: value} or a boolean mask")
    return str(getattr(domain, "name", None) or "domain"), arr


def _logit(p: np.ndarray | float) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p) - np.log1p(-np.asarray(p))


def _expit(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


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
        why = (
            "no positive case in the domain" if p <= 0
            else "no negative case in the domain" if p >= 1
            else "zero estimated variance"
        )  # fmt: skip
        note = why + "; Korn–Graubard interval with effective n = unweighted n"
    if n_rows > 1 and np.isfinite(df) and df > 0:
        n_eff *= (stats.t.ppf(alpha / 2, n_rows - 1) / stats.t.ppf(alpha / 2, df)) ** 2
    lo = 0.0 if p <= 0 else float(stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1))
    hi = 1.0 if p >= 1 else float(stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)))
    return lo, hi, note


# ---------------------------------------------------------------------------------------------
# designs


class _Design(ABC):
    """Shared machinery: statistics as ratios of weighted totals, domains, intervals, deff."""

    data: pd.DataFrame
    weights: np.ndarray
    _psu_codes: np.ndarray
    _stratum_codes: np.ndarray

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
                f"unknown interval method {method!r}; expected one of {', '.join(CI_METHODS)}"
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
                    f"proportion of {yname!r}: values must be 0/1 (found {yv[bad][0]!r})"
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
        n_clusters = len(np.unique(self._psu_codes[ok])) if n else 0
        ddf = self._df(ok) if df is None else float(df)
        w = self.weights
        if n == 0 or (b is not None and float(np.dot(w, b)) == 0.0):
            return SurveyStat(
                statistic, varname, dname, math.nan, math.nan, math.nan, math.nan,
                method, level, None, n, n_clusters, ddf,
                note="no respondent in the domain with this variable: the estimate does not exist",
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
                note = (
                    "a replicate has no positive (or no negative) case in the domain, so the "
                    "replicate variance of the logit does not exist; delta-method logit used"
                )
                method = "xlogit (instead of logit: a replicate has no positive case)"
            else:
                sl = math.sqrt(var_logit)
            lo, hi = (float(v) for v in _expit(_logit(est) + np.array([-t, t]) * sl))
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
        cols = _as_list(by)
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
            f"domain {s.domain} of {s.variable}: {s.n} respondents in {s.n_clusters} "
            f"first-stage units (thresholds: {min_n} respondents, {min_clusters} units); "
            "the estimate and its interval are unreliable",
            SmallSampleWarning,
            stacklevel=3,
        )
        return True
    return False


class SurveyDesign(_Design):
    """A stratified, clustered, weighted sample; variances by Taylor linearisation.

    Parameters
    ----------
    data : DataFrame
        One row per respondent.
    weights : str, optional
        Column of sampling weights. Default: from ``fpc`` (``1/Π n_s/N_s``), else 1.
    strata : str, optional
        First-stage strata column.
    ids : str or list of str, optional
        Cluster columns, one per stage (first-stage PSU first). Default: each row its own PSU.
    fpc : str or list of str, optional
        Finite-population corrections, one per stage: population sizes (numbers of units in the
        stratum, or within the higher-stage unit) or, if all are ≤ 1, sampling fractions. When a
        stage's fpc is given, later stages contribute their own variance (R's multistage formula).
    nest : bool
        PSU ids are only unique within strata (R's ``nest=TRUE``).
    lonely_psu : {"fail", "certainty", "remove", "average"}
        What to do with a stratum that has a single PSU (R's ``survey.lonely.psu``).
    source : str
        Name used in error messages (file name).

    Notes
    -----
    With first-stage PSU totals ``t_hc`` of the linearised values, ``n_h`` PSUs in stratum ``h``
    and ``f_h = (N_h − n_h)/N_h`` (1 without fpc),
    ``V = Σ_h f_h n_h/(n_h−1) Σ_c (t_hc − t̄_h)²`` + for each PSU ``(n_h/N_h) V_c`` where ``V_c`` is
    the same formula applied to the second-stage units inside the PSU (only when the first-stage
    fpc is given), and so on (R ``svyrecvar``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [0, 1, 0, 1, 1, 0], "w": [2.0] * 6, "s": list("aabbcc")})
    >>> SurveyDesign(df, weights="w", strata="s").mean("y").estimate
    0.5
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: str | None = None,
        strata: str | None = None,
        ids: str | Sequence[str] | None = None,
        fpc: str | Sequence[str] | None = None,
        nest: bool = False,
        lonely_psu: LonelyPSU = "fail",
        source: str = "<DataFrame>",
    ) -> None:
        if lonely_psu not in ("fail", "certainty", "remove", "average"):
            raise ModelSpecificationError(f"unknown lonely_psu option {lonely_psu!r}")
        problems: list[Problem] = []
        data = data.reset_index(drop=True)
        n = len(data)
        id_cols = _as_list(ids)
        fpc_cols = _as_list(fpc)
        if fpc_cols and id_cols and len(fpc_cols) > len(id_cols):
            problems.append(
                Problem(f"{len(fpc_cols)} fpc columns for {len(id_cols)} stages", source=source)
            )
        for c in [*id_cols, *fpc_cols]:
            _column(data, c, source, problems)
        wcol = _column(data, weights, source, problems) if weights else None
        scol = _column(data, strata, source, problems) if strata else None
        if problems:
            raise InputValidationError(problems)
        for c in [*id_cols, *([strata] if strata else [])]:
            miss = data[c].isna().to_numpy()
            for i in np.flatnonzero(miss)[:20]:
                problems.append(Problem("missing design value", source, int(i) + 2, c))
        w = None
        if wcol is not None:
            w = pd.to_numeric(wcol, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(~np.isfinite(w) | (w < 0))[:20]:
                problems.append(
                    Problem(
                        "weight must be a non-negative number", source, int(i) + 2, weights,
                        wcol.iloc[i],
                    )
                )  # fmt: skip
        if problems:
            raise InputValidationError(problems)

        self.data = data
        self.source = source
        self.lonely_psu = lonely_psu
        self.strata_name, self.ids_names, self.fpc_names = strata, id_cols, fpc_cols
        self.weights_name = weights
        strat_codes, n_strata = _codes(scol) if scol is not None else (np.zeros(n, np.int64), 1)
        # unit codes per stage, nested within strata and within higher-stage units
        stage_keys: list[np.ndarray] = []
        parent = strat_codes.copy()
        if not id_cols:
            id_arrays = [np.arange(n)]
        else:
            id_arrays = [data[c].to_numpy() for c in id_cols]
        for s, ids_s in enumerate(id_arrays):
            if s == 0 and not nest and scol is not None:
                # PSU ids must not repeat across strata
                chk = pd.DataFrame({"p": ids_s, "h": strat_codes}).drop_duplicates()
                dup = chk["p"].duplicated(keep=False)
                if dup.any():
                    bad = chk.loc[dup, "p"].iloc[0]
                    raise InputValidationError(
                        [
                            Problem(
                                "the same PSU id appears in more than one stratum; pass "
                                "nest=True if ids are only unique within strata",
                                source, None, id_cols[0], bad,
                            )
                        ]
                    )  # fmt: skip
            idc, nid = _codes(ids_s)
            key, _ = _codes(parent * np.int64(nid) + idc)  # unit nested in its parent
            stage_keys.append(key)
            parent = key
        self._stratum_codes = strat_codes
        self._n_strata = n_strata
        self._structure: dict[int, tuple[np.ndarray, int, np.ndarray, np.ndarray, int]] = {}
        self._stage_keys = stage_keys
        self._psu_codes = stage_keys[0]
        # sample sizes and population sizes per stage
        self._n_stage: list[np.ndarray] = []  # per row: number of units sampled in its group
        parent_codes = strat_codes
        for key in stage_keys:
            grp = pd.DataFrame({"g": parent_codes, "u": key})
            counts = grp.groupby("g")["u"].nunique()
            self._n_stage.append(counts.reindex(parent_codes).to_numpy(dtype=float))
            parent_codes = key
        self._N_stage: list[np.ndarray | None] = []
        for s in range(len(stage_keys)):
            if s < len(fpc_cols):
                f = pd.to_numeric(data[fpc_cols[s]], errors="coerce").to_numpy(dtype=float)
                bad = ~np.isfinite(f) | (f <= 0)
                for i in np.flatnonzero(bad)[:20]:
                    problems.append(
                        Problem("fpc must be a positive number", source, int(i) + 2, fpc_cols[s])
                    )
                self._N_stage.append(f)
            else:
                self._N_stage.append(None)
        if problems:
            raise InputValidationError(problems)
        if fpc_cols:
            allf = np.concatenate([fs for fs in self._N_stage if fs is not None])
            if np.all(allf <= 1):  # sampling fractions -> population sizes
                self._N_stage = [
                    None if fs is None else ns / fs
                    for fs, ns in zip(self._N_stage, self._n_stage, strict=True)
                ]
            for s, Ns in enumerate(self._N_stage):
                if Ns is not None and np.any(Ns < self._n_stage[s] - 1e-9):
                    i = int(np.flatnonzero(Ns < self._n_stage[s] - 1e-9)[0])
                    raise InputValidationError(
                        [
                            Problem(
                                f"population size {Ns[i]:g} is smaller than the "
                                f"{self._n_stage[s][i]:g} units sampled at this stage",
                                source, i + 2, fpc_cols[s], data[fpc_cols[s]].iloc[i],
                            )
                        ]
                    )  # fmt: skip
        if w is None:
            if fpc_cols:
                prob = np.ones(n)
                for Ns, ns in zip(self._N_stage, self._n_stage, strict=True):
                    if Ns is not None:
                        prob *= ns / Ns
                w = 1.0 / prob
            else:
                w = np.ones(n)
        self.weights = np.asarray(w, dtype=float)

    def __repr__(self) -> str:
        return (
            f"SurveyDesign(n={len(self.data)}, strata={self._n_strata}, "
            f"psus={len(np.unique(self._psu_codes))}, stages={len(self._stage_keys)}, "
            f"fpc={'yes' if self.fpc_names else 'no'})"
        )

    # -- variance
    def _stage_structure(self, stage: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, int]:
        """Unit codes per row, number of units, first row of each unit, parent code of each unit
        and number of parents (strata at stage 0); computed once per design."""
        cached = self._structure.get(stage)
        if cached is None:
            key = self._stage_keys[stage]
            parent = self._stratum_codes if stage == 0 else self._stage_keys[stage - 1]
            unit_codes, n_units = _codes(key)
            first = np.unique(unit_codes, return_index=True)[1]
            pcodes, npar = _codes(parent[first])
            cached = (unit_codes, n_units, first, pcodes, npar)
            self._structure[stage] = cached
        return cached

    def _stage_var(self, z: np.ndarray, stage: int, mult: np.ndarray | None) -> float:
        """Variance contribution of ``stage`` (0-based) and, recursively, of later stages.

        ``mult`` (per row) is the product of the sampling fractions ``n/N`` of the earlier stages
        (R's ``multistage``), ``None`` at the first stage.
        """
        unit_codes, n_units, first, pcodes, npar = self._stage_structure(stage)
        n_s = self._n_stage[stage]
        N_s = self._N_stage[stage]
        tot = np.bincount(unit_codes, weights=z, minlength=n_units)
        u_n = n_s[first]
        if N_s is None:
            u_f = np.ones(n_units)
        else:
            u_N = N_s[first]
            u_f = np.where(np.isinf(u_N), 1.0, (u_N - u_n) / u_N)
        gsum = np.bincount(pcodes, weights=tot, minlength=npar)
        gn = np.bincount(pcodes, minlength=npar).astype(float)
        dev2 = (tot - (gsum / gn)[pcodes]) ** 2
        scale = np.where(u_n > 1, u_f * u_n / np.maximum(u_n - 1, 1), 0.0)
        if mult is not None:
            scale = scale * mult[first]
        contrib = np.bincount(pcodes, weights=scale * dev2, minlength=npar)
        v = float(contrib.sum())
        if stage == 0:
            g_first = np.unique(pcodes, return_index=True)[1]
            lonely = (u_n[g_first] <= 1) & (u_f[g_first] > 1e-7)
            if lonely.any():
                if self.lonely_psu == "fail":
                    raise InputValidationError(
                        [
                            Problem(
                                f"{int(lonely.sum())} strata have only one PSU; set "
                                "lonely_psu='certainty', 'remove' or 'average'",
                                self.source, None, self.strata_name,
                            )
                        ]
                    )  # fmt: skip
                if self.lonely_psu == "average":
                    ok = int((~lonely).sum())
                    v *= npar / ok if ok else 0.0
        # later stages contribute only when this stage's fpc is given
        if stage + 1 < len(self._stage_keys) and N_s is not None:
            frac = np.where(np.isinf(N_s), 0.0, n_s / N_s)
            v += self._stage_var(z, stage + 1, frac if mult is None else mult * frac)
        return v

    def _variance(
        self, a: np.ndarray, b: np.ndarray | None, est: float
    ) -> tuple[float, float | None]:
        w = self.weights
        if b is None:
            z = w * a
        else:
            z = w * (a - est * b) / float(np.dot(w, b))
        return self._stage_var(z, 0, None), None

    def _df(self, mask: np.ndarray) -> float:
        inset = mask & (self.weights != 0)
        if not inset.any():
            return math.nan
        return float(
            len(np.unique(self._psu_codes[inset])) - len(np.unique(self._stratum_codes[inset]))
        )

    # -- conversion to replicate weights
    def to_replicate(
        self, type: str = "JKn", *, replicates: int = 100, seed: SeedLike = None
    ) -> ReplicateDesign:
        """Replicate-weight version of this design (R's ``as.svrepdesign``).

        Parameters
        ----------
        type : {"JK1", "JKn", "bootstrap"}
            ``"JK1"``: delete-one-PSU jackknife ignoring strata (unstratified designs),
            ``scale = (n−1)/n``; ``"JKn"``: delete one PSU within its stratum,
            ``rscales = (n_h−1)/n_h`` (× ``1 − f_h`` with fpc); ``"bootstrap"``: Rao–Wu rescaled
            bootstrap, ``n_h − 1`` PSUs drawn with replacement in each stratum, ``scale = 1/(R−1)``.
        replicates, seed
            For the bootstrap.
        """
        psu = self._psu_codes
        npsu = int(psu.max()) + 1
        first = np.unique(psu, return_index=True)[1]
        p_stratum = self._stratum_codes[first]
        n_h = np.bincount(p_stratum).astype(float)
        w = self.weights
        if type == "JK1":
            if self._n_strata > 1:
                raise ModelSpecificationError(
                    "JK1 ignores strata; use type='JKn' for a stratified design"
                )
            mult = np.full((npsu, npsu), npsu / (npsu - 1.0))
            np.fill_diagonal(mult, 0.0)
            rep = w[:, None] * mult[psu]
            return ReplicateDesign(
                self.data, repweights=rep, type="JK1", scale=(npsu - 1) / npsu, rscales=1.0,
                weights=w, source=self.source,
            )  # fmt: skip
        if type == "JKn":
            mult = np.ones((npsu, npsu))
            same = p_stratum[:, None] == p_stratum[None, :]
            fac = n_h[p_stratum] / (n_h[p_stratum] - 1.0)
            mult = np.where(same, fac[None, :], 1.0)
            np.fill_diagonal(mult, 0.0)
            rscales = (n_h[p_stratum] - 1.0) / n_h[p_stratum]
            if self._N_stage[0] is not None:
                Nf = self._N_stage[0][first]
                rscales = rscales * np.where(np.isinf(Nf), 1.0, (Nf - n_h[p_stratum]) / Nf)
            rep = w[:, None] * mult[psu]
            return ReplicateDesign(
                self.data, repweights=rep, type="JKn", scale=1.0, rscales=rscales, weights=w,
                source=self.source,
            )  # fmt: skip
        if type == "bootstrap":
            rng = as_generator(seed)
            mult = np.zeros((npsu, replicates))
            for h in range(len(n_h)):
                members = np.flatnonzero(p_stratum == h)
                nh = len(members)
                if nh < 2:
                    mult[members] = 1.0
                    continue
                draws = rng.integers(0, nh, size=(nh - 1, replicates))
                counts = np.zeros((nh, replicates))
                for r in range(replicates):
                    counts[:, r] = np.bincount(draws[:, r], minlength=nh)
                mult[members] = counts * nh / (nh - 1.0)
            rep = w[:, None] * mult[psu]
            return ReplicateDesign(
                self.data, repweights=rep, type="bootstrap", scale=1.0 / (replicates - 1),
                rscales=1.0, weights=w, source=self.source,
            )  # fmt: skip
        raise ModelSpecificationError(f"unknown replicate type {type!r}; use JK1, JKn, bootstrap")


class ReplicateDesign(_Design):
    """A sample described by replicate weights (R's ``svrepdesign``, ``combined.weights=TRUE``).

    Parameters
    ----------
    data : DataFrame
        One row per respondent.
    repweights : array (n, R), DataFrame or list of column names
        Replicate analysis weights (already multiplied by the sampling weight).
    type : str
        ``"JK1"``, ``"JKn"``, ``"bootstrap"``, ``"BRR"``, ``"Fay"`` or ``"other"`` (for reports).
    scale : float
        Overall multiplier of the variance.
    rscales : float or array (R,)
        Per-replicate multipliers.
    mse : bool
        Centre the replicates on the full-sample estimate (``True``) or on their mean (R's default,
        ``False``).
    weights : str or array, optional
        Full-sample weights (column name or array); default 1.
    df : float, optional
        Degrees of freedom; default R's ``degf``: rank of the replicate weights − 1.

    Notes
    -----
    ``V = scale Σ_r rscales_r (θ̂_r − θ̄)²`` with ``θ̄`` the mean of the replicate estimates (or
    ``θ̂`` when ``mse``). For the logit interval of a proportion the standard error of the logit is
    computed from the replicates of the logit, as R's ``svyglm`` on a replicate design.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        repweights: np.ndarray | pd.DataFrame | Sequence[str],
        type: str = "other",
        scale: float = 1.0,
        rscales: float | Sequence[float] | np.ndarray = 1.0,
        mse: bool = False,
        weights: str | np.ndarray | None = None,
        df: float | None = None,
        source: str = "<DataFrame>",
    ) -> None:
        data = data.reset_index(drop=True)
        n = len(data)
        if isinstance(repweights, pd.DataFrame):
            rep = repweights.to_numpy(dtype=float)
        elif isinstance(repweights, np.ndarray):
            rep = np.asarray(repweights, dtype=float)
        else:
            missing = [c for c in repweights if c not in data.columns]
            if missing:
                raise InputValidationError(
                    [Problem("replicate-weight column not in the data", source, None, c)
                     for c in missing]
                )  # fmt: skip
            rep = data[list(repweights)].to_numpy(dtype=float)
        if rep.ndim != 2 or rep.shape[0] != n:
            raise ModelSpecificationError(
                f"replicate weights must be (rows={n}, replicates); got {rep.shape}"
            )
        if not np.all(np.isfinite(rep)):
            i, j = np.argwhere(~np.isfinite(rep))[0]
            raise InputValidationError(
                [Problem("replicate weight is missing or not a number", source, int(i) + 2,
                         f"replicate {int(j) + 1}")]
            )  # fmt: skip
        if weights is None:
            w = np.ones(n)
        elif isinstance(weights, str):
            w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
        self.data = data
        self.source = source
        self.weights = w
        self.repweights = rep
        self.type = type
        self.scale = float(scale)
        self.rscales = np.broadcast_to(np.asarray(rscales, dtype=float), (rep.shape[1],)).copy()
        self.mse = bool(mse)
        self._fixed_df = df
        self._df_cache: dict[bytes, float] = {}
        self._psu_codes = np.arange(n)
        self._stratum_codes = np.zeros(n, dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"ReplicateDesign(n={len(self.data)}, type={self.type!r}, "
            f"replicates={self.repweights.shape[1]}, scale={self.scale:g}, mse={self.mse})"
        )

    def _repvar(self, theta_r: np.ndarray, theta: float) -> float:
        ok = np.isfinite(theta_r)
        tr = theta_r[ok]
        centre = theta if self.mse else float(tr.mean())
        return float(self.scale * np.sum(self.rscales[ok] * (tr - centre) ** 2))

    def _variance(
        self, a: np.ndarray, b: np.ndarray | None, est: float
    ) -> tuple[float, float | None]:
        R = self.repweights
        num = a @ R
        if b is None:
            theta_r = num
        else:
            den = b @ R
            with np.errstate(divide="ignore", invalid="ignore"):
                theta_r = num / den
        v = self._repvar(theta_r, est)
        vl: float | None = None
        if b is not None and 0 < est < 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                lr = _logit(theta_r)
            vl = self._repvar(lr, float(_logit(est))) if np.all(np.isfinite(lr)) else math.nan
        return v, vl

    def _df(self, mask: np.ndarray) -> float:
        if self._fixed_df is not None:
            return float(self._fixed_df)
        key = np.packbits(mask).tobytes()
        cached = self._df_cache.get(key)
        if cached is not None:
            return cached
        sub = self.repweights[mask]
        if sub.shape[0] == 0:
            return math.nan
        # rank of the replicate weights (R: qr(..., tol=1e-5)$rank), from the Gram matrix
        g = sub.T @ sub
        ev = np.linalg.eigvalsh(g)
        rank = int(np.sum(ev > ev.max() * 1e-10))
        self._df_cache[key] = float(rank - 1)
        return float(rank - 1)
