"""Survey designs: stratified clustered samples (Taylor linearisation) and replicate weights.

Two designs are provided, both written directly with NumPy and checked against the R ``survey``
package (Lumley) to 1e-6 relative on estimates and standard errors:

* :class:`SurveyDesign`: stratified, clustered (one or more stages), weighted samples, with or
  without finite-population corrections; variances by Taylor linearisation, exactly as R's
  ``svydesign`` + ``svyrecvar`` (:class:`~fl_estimate.indicators.survey.variance.StageVariance`).
* :class:`ReplicateDesign`: replicate weights (JK1, JKn, bootstrap, BRR or any other scheme
  described by ``scale``, ``rscales`` and ``mse``), as R's ``svrepdesign``.

A design is described in a small TOML file (``design.toml``, read by :func:`load_design`)::

    [design]
    weights = "weight"
    strata = "region"
    ids = ["ea", "hh"]          # clusters by stage (first-stage PSU first)
    fpc = ["ea_total", "hh_total"]   # optional: population sizes by stage
    nest = false
    lonely_psu = "fail"

    [replicates]                # optional instead of ids/strata: replicate weights
    columns = "repw_"           # prefix (or a list of column names)
    type = "JK1"
    scale = 0.9333
    rscales = 1.0
    mse = false

Examples
--------
>>> import pandas as pd
>>> survey = pd.read_csv("data_samples/survey/survey.csv")
>>> design = load_design("data_samples/survey/design.toml").build(survey)
>>> design
SurveyDesign(n=4000, strata=4, psus=160, stages=2, fpc=yes)
>>> design.to_replicate("JKn")
ReplicateDesign(n=4000, type='JKn', replicates=160, scale=1, mse=False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._typing import SeedLike
from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_
from fl_estimate.indicators.survey.estimates import BaseDesign, as_list
from fl_estimate.indicators.survey.variance import (
    LonelyPSU,
    StageVariance,
    group_codes,
    logit,
    replicate_df,
    replicate_variance,
    replicate_weights,
)

__all__ = ["DesignSpec", "ReplicateDesign", "SurveyDesign", "load_design"]


def _column(data: pd.DataFrame, name: str, source: str, problems: list[Problem]) -> Any:
    if name not in data.columns:
        problems.append(
            Problem(
                N_(
                    "design column not in the data (columns: {columns})",
                    columns=", ".join(map(str, data.columns)),
                ),
                source=source,
                column=name,
            )
        )
        return None
    return data[name]


class SurveyDesign(BaseDesign):
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
            raise ModelSpecificationError(
                N_("unknown lonely_psu option {lonely_psu!r}", lonely_psu=lonely_psu)
            )
        problems: list[Problem] = []
        data = data.reset_index(drop=True)
        n = len(data)
        id_cols = as_list(ids)
        fpc_cols = as_list(fpc)
        if fpc_cols and id_cols and len(fpc_cols) > len(id_cols):
            problems.append(
                Problem(
                    N_(
                        "{fpc_cols} fpc columns for {id_cols} stages",
                        fpc_cols=len(fpc_cols),
                        id_cols=len(id_cols),
                    ),
                    source=source,
                )
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
                problems.append(Problem(N_("missing design value"), source, int(i) + 2, c))
        w = None
        if wcol is not None:
            w = pd.to_numeric(wcol, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for i in np.flatnonzero(~np.isfinite(w) | (w < 0))[:20]:
                problems.append(
                    Problem(
                        N_("weight must be a non-negative number"), source, int(i) + 2, weights,
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
        strat_codes, n_strata = (
            group_codes(scol) if scol is not None else (np.zeros(n, np.int64), 1)
        )
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
                                N_("the same PSU id appears in more than one stratum; pass "
                                "nest=True if ids are only unique within strata"),
                                source, None, id_cols[0], bad,
                            )
                        ]
                    )  # fmt: skip
            idc, nid = group_codes(ids_s)
            key, _ = group_codes(parent * np.int64(nid) + idc)  # unit nested in its parent
            stage_keys.append(key)
            parent = key
        self.stratum_codes = strat_codes
        self._n_strata = n_strata
        self._stage_keys = stage_keys
        self.psu_codes = stage_keys[0]
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
                        Problem(
                            N_("fpc must be a positive number"), source, int(i) + 2, fpc_cols[s]
                        )
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
                                N_(
                                    "population size {size:g} is smaller than the {sampled:g} units sampled "
                                    "at this stage",
                                    size=Ns[i],
                                    sampled=self._n_stage[s][i],
                                ),
                                source,
                                i + 2,
                                fpc_cols[s],
                                data[fpc_cols[s]].iloc[i],
                            )
                        ]
                    )
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
        self._taylor = StageVariance(
            strat_codes, stage_keys, self._n_stage, self._N_stage, lonely_psu,
            source=source, strata_name=strata,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"SurveyDesign(n={len(self.data)}, strata={self._n_strata}, "
            f"psus={len(np.unique(self.psu_codes))}, stages={len(self._stage_keys)}, "
            f"fpc={'yes' if self.fpc_names else 'no'})"
        )

    # -- variance
    def _variance(
        self, a: np.ndarray, b: np.ndarray | None, est: float
    ) -> tuple[float, float | None]:
        w = self.weights
        if b is None:
            z = w * a
        else:
            z = w * (a - est * b) / float(np.dot(w, b))
        return self._taylor(z), None

    def _df(self, mask: np.ndarray) -> float:
        inset = mask & (self.weights != 0)
        if not inset.any():
            return math.nan
        return float(
            len(np.unique(self.psu_codes[inset])) - len(np.unique(self.stratum_codes[inset]))
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
        rep, scale, rscales = replicate_weights(
            self.weights, self.psu_codes, self.stratum_codes, self._N_stage[0], type,
            replicates=replicates, seed=seed,
        )  # fmt: skip
        return ReplicateDesign(
            self.data, repweights=rep, type=type, scale=scale, rscales=rscales,
            weights=self.weights, source=self.source,
        )  # fmt: skip


class ReplicateDesign(BaseDesign):
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
                    [Problem(N_("replicate-weight column not in the data"), source, None, c)
                     for c in missing]
                )  # fmt: skip
            rep = data[list(repweights)].to_numpy(dtype=float)
        if rep.ndim != 2 or rep.shape[0] != n:
            raise ModelSpecificationError(
                N_(
                    "replicate weights must be (rows={n}, replicates); got {shape}",
                    n=n,
                    shape=rep.shape,
                )
            )
        if not np.all(np.isfinite(rep)):
            i, j = np.argwhere(~np.isfinite(rep))[0]
            raise InputValidationError(
                [Problem(N_("replicate weight is missing or not a number"), source, int(i) + 2,
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
        self.psu_codes = np.arange(n)
        self.stratum_codes = np.zeros(n, dtype=np.int64)

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
        v = replicate_variance(theta_r, est, self.scale, self.rscales, self.mse)
        vl: float | None = None
        if b is not None and 0 < est < 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                lr = logit(theta_r)
            vl = (
                replicate_variance(lr, float(logit(est)), self.scale, self.rscales, self.mse)
                if np.all(np.isfinite(lr))
                else math.nan
            )
        return v, vl

    def _df(self, mask: np.ndarray) -> float:
        if self._fixed_df is not None:
            return float(self._fixed_df)
        key = np.packbits(mask).tobytes()
        cached = self._df_cache.get(key)
        if cached is not None:
            return cached
        df = replicate_df(self.repweights[mask])
        if np.isfinite(df):
            self._df_cache[key] = df
        return df

    def __repr__(self) -> str:
        return (
            f"ReplicateDesign(n={len(self.data)}, type={self.type!r}, "
            f"replicates={self.repweights.shape[1]}, scale={self.scale:g}, mse={self.mse})"
        )


_DESIGN_KEYS = {"weights", "strata", "ids", "fpc", "nest", "lonely_psu"}
_REP_KEYS = {"columns", "type", "scale", "rscales", "mse", "df"}


@dataclass(frozen=True)
class DesignSpec:
    """How to build a survey design from a data table (see :func:`load_design`)."""

    weights: str | None = None
    strata: str | None = None
    ids: tuple[str, ...] = ()
    fpc: tuple[str, ...] = ()
    nest: bool = False
    lonely_psu: str = "fail"
    replicates: dict[str, Any] | None = None
    source: str = "<design>"

    def build(self, data: pd.DataFrame, *, source: str = "<data>") -> BaseDesign:
        """The :class:`SurveyDesign` or :class:`ReplicateDesign` on ``data``."""
        if self.replicates:
            cols = self.replicates.get("columns")
            if isinstance(cols, str):
                reps = [c for c in data.columns if str(c).startswith(cols)]
                if not reps:
                    raise InputValidationError(
                        [Problem(N_("no replicate-weight column starts with this prefix"), source,
                                 None, cols)]
                    )  # fmt: skip
            else:
                reps = list(cols or [])
            return ReplicateDesign(
                data,
                repweights=reps,
                type=str(self.replicates.get("type", "other")),
                scale=float(self.replicates.get("scale", 1.0)),
                rscales=self.replicates.get("rscales", 1.0),
                mse=bool(self.replicates.get("mse", False)),
                weights=self.weights,
                df=self.replicates.get("df"),
                source=source,
            )
        return SurveyDesign(
            data,
            weights=self.weights,
            strata=self.strata,
            ids=list(self.ids) or None,
            fpc=list(self.fpc) or None,
            nest=self.nest,
            lonely_psu=self.lonely_psu,  # type: ignore[arg-type]
            source=source,
        )


def load_design(path: str | Path | dict[str, Any]) -> DesignSpec:
    """Read a design description (TOML file, or the same content as a dict).

    Raises
    ------
    InputValidationError
        Every problem in the file at once.
    """
    if isinstance(path, dict):
        doc, source = path, "<design>"
    else:
        p = Path(path)
        source = str(p)
        from fl_estimate.tabular import read_toml

        doc = read_toml(p, what="design file")
    problems: list[Problem] = []
    for k in doc:
        if k not in ("design", "replicates"):
            problems.append(Problem(N_("unknown table (expected [design], [replicates])"), source,
                                    None, k))  # fmt: skip
    d = doc.get("design", {})
    r = doc.get("replicates")
    for k in d:
        if k not in _DESIGN_KEYS:
            problems.append(
                Problem(
                    N_("unknown key; known: {known}", known=", ".join(sorted(_DESIGN_KEYS))),
                    source,
                    None,
                    f"design.{k}",
                )
            )
    for k in r or {}:
        if k not in _REP_KEYS:
            problems.append(
                Problem(
                    N_("unknown key; known: {known}", known=", ".join(sorted(_REP_KEYS))),
                    source,
                    None,
                    f"replicates.{k}",
                )
            )

    def strs(v: Any, key: str) -> tuple[str, ...]:
        if v is None:
            return ()
        if isinstance(v, str):
            return (v,)
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return tuple(v)
        problems.append(
            Problem(N_("expected a column name or a list of them"), source, None, key, v)
        )
        return ()

    for key in ("weights", "strata"):
        if key in d and not isinstance(d[key], str):
            problems.append(Problem(N_("expected a column name"), source, None, f"design.{key}",
                                    d[key]))  # fmt: skip
    if d.get("lonely_psu", "fail") not in ("fail", "certainty", "remove", "average"):
        problems.append(Problem(N_("expected fail, certainty, remove or average"), source, None,
                                "design.lonely_psu", d.get("lonely_psu")))  # fmt: skip
    spec = DesignSpec(
        weights=d.get("weights") if isinstance(d.get("weights"), str) else None,
        strata=d.get("strata") if isinstance(d.get("strata"), str) else None,
        ids=strs(d.get("ids"), "design.ids"),
        fpc=strs(d.get("fpc"), "design.fpc"),
        nest=bool(d.get("nest", False)),
        lonely_psu=str(d.get("lonely_psu", "fail")),
        replicates=dict(r) if r else None,
        source=source,
    )
    if problems:
        raise InputValidationError(problems)
    return spec
