"""Score respondents (or case records) against a framework, with three-valued logic.

Every indicator answer is three-valued: ``True`` (present), ``False`` (asked and absent) or ``None``
(don't know, refused, missing, not asked in a skip pattern). The answer's *status* (``yes``, ``no``,
``dont_know``, ``refused``, ``missing``) is kept next to the value, so "don't know" is never
confused with "no". A rule evaluates to ``True`` when the positive condition is met by ``True``
answers alone, ``False`` when it cannot become ``True`` whatever the unknown answers turn out to be,
and ``None`` (indeterminate) otherwise (Kleene logic). ``missing="as_absent"`` gives
publication-style minimum counts instead.

Indicators a questionnaire does not measure at all (no column) are *excluded* from the rule, not
unknown: otherwise no respondent could ever be classified negative. The scored table lists which
indicators were measured (:attr:`ScoredRecords.measured`).

Everything is vectorised over respondents; the reason strings are built once per distinct answer
pattern, not once per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.indicators.frameworks import Framework, load_framework

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "STATUS",
    "IndicatorScorer",
    "ScoredRecords",
    "indicator_keys",
]

#: answer status codes (int8) and their names
STATUS: dict[int, str] = {0: "no", 1: "yes", 2: "dont_know", 3: "refused", 4: "missing"}
_STATUS_CODE = {v: k for k, v in STATUS.items()}
_STATUS_DTYPE = pd.CategoricalDtype([STATUS[i] for i in range(5)])
YES, NO, DK, REF, MISSING = 1, 0, 2, 3, 4

#: Delphi outcome labels, in the order they are evaluated (§3.4 of the specification)
DELPHI_LABELS = (
    "victim",
    "indeterminate",
    "recruitment_means_and_exploitation",
    "destination_means_and_exploitation",
    "exploitation_only",
    "means_without_exploitation",
    "not_indicated",
)

#: name of the main outcome column per rule
OUTCOME = {
    "involuntariness_and_coercion": "forced_labour",
    "paired_dimensions": "forced_labour",
    "delphi": "trafficking_victim",
    "count": "indicated",
}


def _categorical(codes: Any, categories: Sequence[Any]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


def indicator_keys(framework: Framework) -> list[str]:
    """Column names a scored table uses for a framework's indicators.

    Penalties of the ILO 2012 rule are recorded per dimension they were applied in:
    ``"HTS.PEN.03@D1"``. Every other indicator is its id.
    """
    keys = []
    for ind in framework.indicators:
        if framework.rule == "paired_dimensions" and ind.kind == "penalty":
            keys += [f"{ind.id}@{d}" for d in framework.dimension_ids]
        else:
            keys.append(ind.id)
    return keys


# --------------------------------------------------------------------------------------------
# three-valued arrays


@dataclass(frozen=True)
class _Tri:
    t: np.ndarray  # definitely true
    f: np.ndarray  # definitely false

    @property
    def u(self) -> np.ndarray:
        return ~self.t & ~self.f

    def __and__(self, o: _Tri) -> _Tri:
        return _Tri(self.t & o.t, self.f | o.f)

    def __or__(self, o: _Tri) -> _Tri:
        return _Tri(self.t | o.t, self.f & o.f)

    def to_array(self) -> pd.arrays.BooleanArray:
        """Nullable boolean array: True, False, <NA> for indeterminate."""
        return pd.arrays.BooleanArray(self.t.copy(), ~self.t & ~self.f)


def _false(n: int) -> _Tri:
    return _Tri(np.zeros(n, bool), np.ones(n, bool))


def _any(items: Iterable[_Tri], n: int) -> _Tri:
    out = _false(n)
    for it in items:
        out = out | it
    return out


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ScoredRecords:
    """Per-respondent scoring: indicators, dimensions, classification and reason.

    Attributes
    ----------
    table : DataFrame
        One row per respondent (per person when spells were pooled). Columns: the kept columns of
        the input (ids, design and domain variables); for each measured indicator key its value
        (nullable boolean: True / False / <NA>) and ``"<key>:answer"`` (the status: yes, no,
        dont_know, refused, missing); ``"dim:<id>"`` per dimension (nullable boolean);
        ``population`` (adults / children); the outcome column (``forced_labour``,
        ``trafficking_victim`` or ``indicated``, nullable boolean: <NA> = indeterminate);
        ``classification`` (text label); ``reason`` (which indicators made it, or which unknown
        answers it depends on); ``review`` (cross-spell or cross-dimension pairs to look at).
    framework : Framework
        Framework and parameters used.
    outcome : str
        Name of the outcome column.
    measured : list of str
        Indicator keys the input measured (the others were excluded from the rules).
    missing : str
        ``"indeterminate"`` or ``"as_absent"``.
    """

    table: pd.DataFrame
    framework: Framework
    outcome: str
    measured: list[str]
    missing: str = "indeterminate"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-respondent table (a copy)."""
        return self.table.copy()

    def counts(self) -> pd.DataFrame:
        """Unweighted counts of each classification (columns: classification, n, share)."""
        c = self.table["classification"].value_counts().rename("n").reset_index()
        c["share"] = c["n"] / c["n"].sum()
        return c

    def summary(self) -> str:
        """Text: framework, rule parameters, measured indicators and classification counts."""
        fw = self.framework
        params = ", ".join(f"{k}={v!r}" for k, v in fw.parameters.items())
        lines = [
            f"{fw.title} [{fw.id}, data {fw.data_version}]",
            f"rule: {fw.rule} ({params}); missing answers: {self.missing}",
            f"{len(self.table)} records; {len(self.measured)} indicator columns measured",
            self.counts().to_string(index=False),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ScoredRecords({self.framework.id}, n={len(self.table)}, outcome={self.outcome!r})"

    def explain(self, row: int | str) -> str:
        """Reason for one record (by position, or by id when an id column was kept)."""
        if isinstance(row, str) and "id" in self.settings:
            sel = self.table[self.table[self.settings["id"]] == row]
            if sel.empty:
                raise KeyError(row)
            r = sel.iloc[0]
        else:
            r = self.table.iloc[int(row)]
        return f"{r['classification']}: {r['reason']}"

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the share of records in which each measured indicator is present."""
        import matplotlib.pyplot as plt

        from fl_estimate.plotting import OKABE_ITO

        if ax is None:
            _, ax = plt.subplots(figsize=(6, max(2.0, 0.25 * len(self.measured))))
        shares = [float(self.table[k].astype("Float64").mean()) for k in self.measured]
        ax.barh(self.measured, shares, color=OKABE_ITO[1])
        ax.set_xlabel("share present (among known answers)")
        ax.set_title(f"{self.framework.id}: indicators present")
        return ax


# --------------------------------------------------------------------------------------------
# scorer


def _value_code(v: object) -> int | None:
    if isinstance(v, bool | np.bool_):
        return YES if v else NO
    if isinstance(v, str):
        return _STATUS_CODE.get(v.strip().lower())
    if isinstance(v, int | float | np.integer | np.floating):
        return YES if v == 1 else NO if v == 0 else None
    return None


def _status_matrix(
    data: pd.DataFrame, keys: Sequence[str], source: str
) -> tuple[np.ndarray, list[str]]:
    """Status codes (n, k) int8 for the indicator columns present in ``data``."""
    present = [k for k in keys if k in data.columns]
    n = len(data)
    S = np.full((n, len(present)), MISSING, dtype=np.int8, order="F")
    problems: list[Problem] = []
    for j, k in enumerate(present):
        col = data[k]
        if col.dtype == np.int8:
            arr = col.to_numpy()
            if n == 0 or (arr.min() >= 0 and arr.max() <= MISSING):
                S[:, j] = arr
                continue
        if col.dtype == bool:
            S[:, j] = col.to_numpy().astype(np.int8)
            continue
        isna = col.isna().to_numpy()
        vals = col.astype(object).where(~col.isna(), None).to_numpy()
        out = np.full(n, MISSING, dtype=np.int8)
        bad = np.zeros(n, bool)
        for i_val in pd.unique(vals[~isna]):
            m = (vals == i_val) & ~isna
            code = _value_code(i_val)
            if code is None:
                bad |= m
            else:
                out[m] = code
        for i in np.flatnonzero(bad)[:20]:
            problems.append(
                Problem(
                    "indicator value must be True/False/1/0, empty, or one of "
                    + ", ".join(_STATUS_CODE),
                    source, int(i) + 2, k, vals[i],
                )
            )  # fmt: skip
        S[:, j] = out
    if problems:
        raise InputValidationError(problems)
    return S, present


class IndicatorScorer:
    """Classify records under a framework's rules (ILO 2012, ICLS 2018, Delphi 2009, ILO 11).

    Parameters
    ----------
    framework : str or Framework
        Shipped id (``"ilo2012"``, ``"icls2018"``, ``"delphi2009"``, ``"ilo11"``), a path to a
        framework file, or a :class:`~fl_estimate.indicators.frameworks.Framework`.
    missing : {"indeterminate", "as_absent"}
        Keep unknown answers unknown (default; indeterminate classifications are reported
        separately) or treat them as absent (minimum counts).
    **parameters
        Rule parameters overriding the framework file's (e.g. ``require_strong=True``,
        ``pairing="any"``).

    Examples
    --------
    Worked example H of the specification (ILO 2012, §2.7):

    >>> import pandas as pd
    >>> s = IndicatorScorer("ilo2012")
    >>> df = pd.DataFrame({"HTS.D1.INV.06": [True], "HTS.PEN.03@D1": [True]})
    >>> row = s.score_indicators(df).table.iloc[0]
    >>> bool(row["forced_labour"]), row["classification"], row["reason"]
    (True, 'forced_labour', 'D1: HTS.D1.INV.06 with HTS.PEN.03@D1')
    """

    def __init__(
        self,
        framework: str | Framework = "ilo2012",
        *,
        missing: str = "indeterminate",
        **parameters: Any,
    ) -> None:
        if missing not in ("indeterminate", "as_absent"):
            raise ModelSpecificationError(
                f"missing must be 'indeterminate' or 'as_absent', not {missing!r}"
            )
        fw = framework if isinstance(framework, Framework) else load_framework(framework)
        if parameters:
            fw = fw.with_parameters(**parameters)
        self.framework = fw
        self.missing = missing
        self.keys = indicator_keys(fw)

    def __repr__(self) -> str:
        return f"IndicatorScorer({self.framework.id!r}, missing={self.missing!r})"

    # -- public
    def score(
        self, data: pd.DataFrame, mapping: Any, *, source: str = "<DataFrame>"
    ) -> ScoredRecords:
        """Score questionnaire answers through a mapping file.

        Parameters
        ----------
        data : DataFrame
            One row per respondent (or per respondent × work spell, see the mapping's
            ``spell_column``).
        mapping : Mapping, str or Path
            A :class:`~fl_estimate.indicators.mapping.Mapping` or the path of a mapping file.
        source : str
            Data file name, for error messages.

        Raises
        ------
        InputValidationError
            All problems of the mapping against the framework and the data, at once.
        """
        from fl_estimate.indicators.mapping import Mapping as _Mapping
        from fl_estimate.indicators.mapping import load_mapping

        m = mapping if isinstance(mapping, _Mapping) else load_mapping(mapping)
        if m.framework not in (self.framework.id, self.framework.path):
            mapped_fw = load_framework(m.framework)
            if mapped_fw.id != self.framework.id:
                raise InputValidationError(
                    [
                        Problem(
                            f"the mapping is written for framework {mapped_fw.id!r}, not "
                            f"{self.framework.id!r}",
                            m.source, None, "framework", m.framework,
                        )
                    ]
                )  # fmt: skip
        coded = m.apply(data, self.framework, source=source)
        return self.score_indicators(
            coded, age=m.age_column, person=m.spell_person, keep=m.keep_columns(data)
        )

    def score_indicators(
        self,
        indicators: pd.DataFrame,
        *,
        age: str | None = None,
        person: str | None = None,
        keep: Sequence[str] | None = None,
        source: str = "<DataFrame>",
    ) -> ScoredRecords:
        """Score a table whose columns are indicator keys (see :func:`indicator_keys`).

        Values: True/False/1/0, empty (missing), or a status word (``"dont_know"``,
        ``"refused"``, ``"missing"``, ``"yes"``, ``"no"``). Key columns absent from the table are
        indicators the survey did not measure: they are excluded from the rules.

        Parameters
        ----------
        age : str, optional
            Age column; records below the framework's ``child_age`` are scored with the children's
            rule (missing age: adults' rule, and the reason says so).
        person : str, optional
            Person id column when rows are work spells (ICLS): spells are pooled per person, the
            pairing within a spell decided by the ``pairing`` parameter.
        keep : list of str, optional
            Columns copied to the output (default: every column that is not an indicator key).
        """
        S, present = _status_matrix(indicators, self.keys, source)
        if self.missing == "as_absent":
            S = np.asfortranarray(np.where(S == YES, YES, NO).astype(np.int8))
        n = len(indicators)
        idx = indicators.index
        child = np.zeros(n, bool)
        if age is not None:
            if age not in indicators.columns:
                raise ModelSpecificationError(f"age column {age!r} is not in the data")
            a = pd.to_numeric(indicators[age], errors="coerce").to_numpy(dtype=float)
            child = a < self.framework.parameters.get("child_age", 18)
        if keep is None:
            keep = [c for c in indicators.columns if c not in self.keys]
        keep = list(keep)
        if person is not None and self.framework.rule == "involuntariness_and_coercion":
            return self._score_spells(indicators, S, present, child, person, keep)
        rule = _RULES[self.framework.rule]
        tri = {k: _Tri(S[:, j] == YES, S[:, j] == NO) for j, k in enumerate(present)}
        res = rule(self.framework, tri, child, n)
        out = self._assemble(indicators[keep].copy(), S, present, res, child, idx)
        return ScoredRecords(
            out, self.framework, OUTCOME[self.framework.rule], present, self.missing,
            {"id": keep[0]} if keep else {},
        )  # fmt: skip

    # -- assembly
    def _assemble(
        self,
        out: pd.DataFrame,
        S: np.ndarray,
        present: list[str],
        res: dict[str, Any],
        child: np.ndarray,
        idx: pd.Index,
    ) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for j, k in enumerate(present):
            cols[k] = pd.arrays.BooleanArray(S[:, j] == YES, S[:, j] > YES)
            cols[f"{k}:answer"] = pd.Categorical.from_codes(S[:, j], dtype=_STATUS_DTYPE)
        for d, tri in res["dimensions"].items():
            cols[f"dim:{d}"] = tri.to_array()
        cols["population"] = _categorical(child.astype(np.int64), categories=["adults", "children"])
        outcome: _Tri = res["outcome"]
        cols[OUTCOME[self.framework.rule]] = outcome.to_array()
        for name, tri in res.get("extra", {}).items():
            cols[name] = tri.to_array()
        if "count" in res:
            cols["indicators_present"] = res["count"]
        labels: pd.Categorical = res["labels"]
        cols["classification"] = labels
        cols["review"] = res.get("review", np.zeros(len(idx), bool))
        cols["reason"] = self._reasons(S, present, child, labels, res)
        extra = pd.DataFrame(cols, index=idx)
        return pd.concat([out, extra], axis=1)

    def _reasons(
        self,
        S: np.ndarray,
        present: list[str],
        child: np.ndarray,
        labels: pd.Categorical,
        res: dict[str, Any],
    ) -> pd.Categorical:
        """Reason per row, computed once per distinct pattern of what the reason shows.

        The reason lists the indicators present and, for indeterminate rows only, the unknown
        answers with their status; the pattern key is reduced to that, so the number of
        distinct patterns (and of explainer calls) stays small.
        """
        n = S.shape[0]
        if n == 0:
            return _categorical(np.array([], dtype=np.int8), [])
        lab_codes = np.asarray(labels.codes, dtype=np.int64)
        cats = list(labels.categories)
        indet = (
            lab_codes == cats.index("indeterminate") if "indeterminate" in cats
            else np.zeros(n, bool)
        )  # fmt: skip
        # yes -> 1; for indeterminate rows unknown statuses kept (2, 3, 4); everything else 0
        if self.framework.rule == "count":
            K = S  # the count rule's reason lists unknown answers on every row
        elif indet.any():
            K = np.where((S == YES) | indet[:, None], S, np.int8(0))
        else:
            K = np.where(S == YES, S, np.int8(0))
        # exact row key: 3 bits per column, 20 columns per int64 chunk, chunks combined by
        # successive factorisation (hash-based, linear time)
        inverse, _ = pd.factorize(child.astype(np.int64) * 8 + lab_codes)
        inverse = inverse.astype(np.int64)
        for c0 in range(0, K.shape[1], 20):
            h = np.zeros(n, dtype=np.int64)
            for j in range(c0, min(c0 + 20, K.shape[1])):
                h = h * 8 + K[:, j]
            hc, hu = pd.factorize(h)
            inverse, _ = pd.factorize(inverse * (len(hu) + 1) + hc)
            inverse = inverse.astype(np.int64)
        # factorize numbers codes by first appearance: first rows are where the running max grows
        run = np.maximum.accumulate(inverse)
        first = np.flatnonzero(np.r_[True, run[1:] > run[:-1]])
        explain = _EXPLAIN[self.framework.rule]
        texts = []
        rows = K[first].tolist()
        kids = child[first].tolist()
        labs = [cats[c] for c in lab_codes[first].tolist()]
        for u in range(len(first)):
            status = dict(zip(present, rows[u], strict=True))  # NO == 0: folded answers
            texts.append(explain(self.framework, status, kids[u], labs[u]))
        rcodes, runiq = pd.factorize(np.array(texts, dtype=object))
        return _categorical(rcodes[inverse], categories=list(runiq))

    # -- ICLS work spells
    def _score_spells(
        self,
        data: pd.DataFrame,
        S: np.ndarray,
        present: list[str],
        child: np.ndarray,
        person: str,
        keep: list[str],
    ) -> ScoredRecords:
        fw = self.framework
        codes, uniq = pd.factorize(data[person])
        npers = len(uniq)
        tri = {k: _Tri(S[:, j] == YES, S[:, j] == NO) for j, k in enumerate(present)}
        n = len(data)
        inv = _any((tri[i.id] for i in fw.indicators if i.kind == "involuntariness"
                    and i.id in tri), n)  # fmt: skip
        coe = _any((tri[i.id] for i in fw.indicators if i.kind == "coercion" and i.id in tri), n)

        def any_p(x: _Tri) -> _Tri:
            t = np.bincount(codes, weights=x.t, minlength=npers) > 0
            nf = np.bincount(codes, weights=x.f, minlength=npers)
            cnt = np.bincount(codes, minlength=npers)
            return _Tri(t, nf == cnt)

        pinv, pcoe = any_p(inv), any_p(coe)
        spell_fl = any_p(inv & coe)
        fl_adult = spell_fl if fw.parameters.get("pairing") == "same_spell" else pinv & pcoe
        # person-level answers: a key is True if True in any spell, False if False in all
        PS = np.full((npers, len(present)), MISSING, dtype=np.int8)
        for j, k in enumerate(present):
            p = any_p(tri[k])
            PS[:, j] = np.where(p.t, YES, np.where(p.f, NO, MISSING))
        pchild = np.bincount(codes, weights=child, minlength=npers) > 0
        routes = _any((any_p(tri[i.id]) for i in fw.indicators if i.kind == "child_route"
                       and i.id in tri), npers)  # fmt: skip
        outcome = _Tri(
            np.where(pchild, routes.t, fl_adult.t), np.where(pchild, routes.f, fl_adult.f)
        )
        review = pinv.t & pcoe.t & ~spell_fl.t & ~pchild
        labels = _labels_fl(outcome)
        res = {
            "dimensions": {
                "involuntariness": pinv,
                "coercion": pcoe,
                **{d: any_p(x) for d, x in _icls_stages(fw, tri, n).items()},
            },
            "outcome": outcome,
            "labels": labels,
            "review": review,
        }
        first = np.unique(codes, return_index=True)[1]
        base = data[keep].iloc[first].reset_index(drop=True)
        out = self._assemble(base, PS, present, res, pchild, base.index)
        out["reason"] = out["reason"].astype(object)
        out.loc[review, "reason"] = (
            out.loc[review, "reason"]
            + "; involuntariness and coercion were found in different work spells: "
            "flagged for review"
        )
        return ScoredRecords(
            out, fw, OUTCOME[fw.rule], present, self.missing,
            {"id": person, "spells": True},
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# rules (vectorised)


def _labels_fl(outcome: _Tri) -> pd.Categorical:
    codes = np.where(outcome.t, 0, np.where(outcome.f, 1, 2)).astype(np.int8)
    return _categorical(codes, categories=["forced_labour", "not_forced_labour", "indeterminate"])


def _rule_icls(fw: Framework, tri: dict[str, _Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    inv = _any((tri[i.id] for i in fw.indicators if i.kind == "involuntariness" and i.id in tri), n)
    coe = _any((tri[i.id] for i in fw.indicators if i.kind == "coercion" and i.id in tri), n)
    routes = _any((tri[i.id] for i in fw.indicators if i.kind == "child_route" and i.id in tri), n)
    adult = inv & coe
    outcome = _Tri(np.where(child, routes.t, adult.t), np.where(child, routes.f, adult.f))
    return {
        "dimensions": {"involuntariness": inv, "coercion": coe, **_icls_stages(fw, tri, n)},
        "outcome": outcome,
        "labels": _labels_fl(outcome),
    }


def _icls_stages(fw: Framework, tri: dict[str, _Tri], n: int) -> dict[str, _Tri]:
    """Involuntariness by stage (recruitment, employment, exit), recorded as the ICLS asks."""
    return {
        d: _any((tri[i.id] for i in fw.indicators
                 if i.kind == "involuntariness" and i.dimension == d and i.id in tri), n)
        for d in fw.dimension_ids
    }  # fmt: skip


def _rule_paired(fw: Framework, tri: dict[str, _Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    strict = bool(fw.parameters.get("require_strong", False))
    pairing = fw.parameters.get("pairing", "same_dimension")
    dims = fw.dimension_ids

    def evaluate(pop: str) -> tuple[dict[str, _Tri], _Tri, np.ndarray]:
        inds = [i for i in fw.indicators if i.population == pop]
        inv = {d: [i for i in inds if i.kind == "involuntariness" and i.dimension == d
                   and i.id in tri] for d in dims}  # fmt: skip
        pens = [i for i in inds if i.kind == "penalty"]
        pen = {d: [(i, f"{i.id}@{d}") for i in pens if f"{i.id}@{d}" in tri] for d in dims}
        if pairing == "any":
            allpen = [p for d in dims for p in pen[d]]
            pen = {d: allpen for d in dims}
        dim_res = {}
        for d in dims:
            inv_any = _any((tri[i.id] for i in inv[d]), n)
            pen_any = _any((tri[k] for _, k in pen[d]), n)
            if strict:
                inv_s = _any((tri[i.id] for i in inv[d] if i.strength == "strong"), n)
                pen_s = _any((tri[k] for i, k in pen[d] if i.strength == "strong"), n)
                dim_res[d] = (inv_s & pen_any) | (inv_any & pen_s)
            else:
                dim_res[d] = inv_any & pen_any
        fl = _any(dim_res.values(), n)
        # cross-dimension pairs (involuntariness in one dimension, penalty only in another)
        inv_t = [_any((tri[i.id] for i in inv[d]), n).t for d in dims]
        pen_t = [_any((tri[k] for _, k in pen[d]), n).t for d in dims]
        cross = np.zeros(n, bool)
        for a in range(len(dims)):
            for b in range(len(dims)):
                if a != b:
                    cross |= inv_t[a] & pen_t[b]
        return dim_res, fl, cross & ~fl.t

    dims_a, fl_a, review_a = evaluate("adults")
    if child.any():
        dims_c, fl_c, review_c = evaluate("children")
        routes = _any(
            (tri[i.id] for i in fw.indicators if i.kind == "child_route" and i.id in tri), n
        )
        fl_c = fl_c | routes
        outcome = _Tri(np.where(child, fl_c.t, fl_a.t), np.where(child, fl_c.f, fl_a.f))
        dim_res = {
            d: _Tri(np.where(child, dims_c[d].t, dims_a[d].t),
                    np.where(child, dims_c[d].f, dims_a[d].f))
            for d in dims
        }  # fmt: skip
        review = np.where(child, review_c, review_a)
    else:
        outcome, dim_res, review = fl_a, dims_a, review_a
    extra = {}
    moves = [tri[i.id] for i in fw.indicators if i.kind == "movement" and i.id in tri]
    rec = fw.parameters.get("recruitment_dimension", dims[0])
    if moves and rec in dim_res:
        others = _any((dim_res[d] for d in dims if d != rec), n)
        # trafficking for forced labour (ILO 2012, section 2.5 of the specification)
        extra["trafficking_for_forced_labour"] = dim_res[rec] & others & _any(moves, n)
    return {"dimensions": dim_res, "outcome": outcome, "labels": _labels_fl(outcome),
            "review": review, "extra": extra}  # fmt: skip


def _meets(combos: list[dict[str, int]], s: np.ndarray, m: np.ndarray, w: np.ndarray) -> np.ndarray:
    ok = np.zeros(s.shape, bool)
    for c in combos:
        cond = np.ones(s.shape, bool)
        for k, v in c.items():
            x = {"strong": s, "medium": m, "weak": w, "medium_or_weak": m + w, "any": s + m + w}[k]
            cond &= x >= v
        ok |= cond
    return ok


def _rule_delphi(fw: Framework, tri: dict[str, _Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    combos = fw.parameters["dimension_rule"]
    dim_res: dict[str, _Tri] = {}
    for d in fw.dimension_ids:
        cnt: dict[str, np.ndarray] = {}
        unk: dict[str, np.ndarray] = {}
        for s in ("strong", "medium", "weak"):
            items = [tri[i.id] for i in fw.indicators
                     if i.dimension == d and i.strength == s and i.id in tri]  # fmt: skip
            cnt[s] = sum((x.t.astype(np.int16) for x in items), np.zeros(n, np.int16))
            unk[s] = sum((x.u.astype(np.int16) for x in items), np.zeros(n, np.int16))
        lo = _meets(combos, cnt["strong"], cnt["medium"], cnt["weak"])
        hi = _meets(
            combos, cnt["strong"] + unk["strong"], cnt["medium"] + unk["medium"],
            cnt["weak"] + unk["weak"],
        )  # fmt: skip
        dim_res[d] = _Tri(lo, ~hi)
    p = fw.parameters
    rec = _any((dim_res[d] for d in p.get("recruitment_dimensions", ["DR", "CR", "VR"])), n)
    ex = _any((dim_res[d] for d in p.get("exploitation_dimensions", ["EX"])), n)
    dest = _any((dim_res[d] for d in p.get("destination_dimensions", ["CD", "VD"])), n)
    act = _any((tri[i.id] for i in fw.indicators if i.kind == "act" and i.id in tri), n)
    adult = rec & ex & dest
    kid = (act | rec) & ex
    victim = _Tri(np.where(child, kid.t, adult.t), np.where(child, kid.f, adult.f))
    means = rec | dest
    codes = np.select(
        [
            victim.t,
            victim.u,
            rec.t & ex.t & ~dest.t & ~child,
            dest.t & ex.t & ~rec.t & ~child,
            ex.t & ~means.t,
            means.t & ~ex.t,
        ],
        [0, 1, 2, 3, 4, 5],
        default=6,
    ).astype(np.int8)
    labels = _categorical(codes, categories=list(DELPHI_LABELS))
    return {"dimensions": dim_res, "outcome": victim, "labels": labels}


def _rule_count(fw: Framework, tri: dict[str, _Tri], child: np.ndarray, n: int) -> dict[str, Any]:
    items = [tri[i.id] for i in fw.indicators if i.id in tri]
    cnt = sum((x.t.astype(np.int16) for x in items), np.zeros(n, np.int16))
    unk = sum((x.u.astype(np.int16) for x in items), np.zeros(n, np.int16))
    k = int(fw.parameters.get("min_present", 1))
    outcome = _Tri(cnt >= k, cnt + unk < k)
    labels = _categorical(
        np.where(outcome.t, 0, np.where(outcome.f, 1, 2)).astype(np.int8),
        categories=["indicated", "not_indicated", "indeterminate"],
    )
    return {"dimensions": {}, "outcome": outcome, "labels": labels, "count": cnt}


_RULES: dict[str, Callable[..., dict[str, Any]]] = {
    "involuntariness_and_coercion": _rule_icls,
    "paired_dimensions": _rule_paired,
    "delphi": _rule_delphi,
    "count": _rule_count,
}


# --------------------------------------------------------------------------------------------
# reasons (once per distinct pattern)


def _names(status: Mapping[str, int], keys: Iterable[str], code: int = YES) -> list[str]:
    return [k for k in keys if status.get(k) == code]


def _unknown(status: Mapping[str, int], keys: Iterable[str] | None = None) -> list[str]:
    """Unknown answers with their status (all of ``status`` when ``keys`` is None)."""
    if keys is None:
        return [f"{k} ({STATUS[v]})" for k, v in status.items() if v > YES]
    return [f"{k} ({STATUS[status[k]]})" for k in keys if status.get(k, NO) > YES]


def _explain_icls(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    inv = [i.id for i in fw.indicators if i.kind == "involuntariness"]
    coe = [i.id for i in fw.indicators if i.kind == "coercion"]
    routes = [i.id for i in fw.indicators if i.kind == "child_route"]
    if child:
        if label == "forced_labour":
            return "child; route(s) " + ", ".join(_names(status, routes))
        if label == "indeterminate":
            return "child; depends on " + ", ".join(_unknown(status, routes))
        return "child; no route of forced labour of children present"
    ti, tc = _names(status, inv), _names(status, coe)
    if label == "forced_labour":
        return f"involuntariness {', '.join(ti)} + coercion {', '.join(tc)}"
    if label == "indeterminate":
        return "depends on " + ", ".join(_unknown(status, inv + coe))
    if ti:
        return f"involuntariness {', '.join(ti)} but no coercion"
    if tc:
        return f"coercion {', '.join(tc)} but no involuntariness"
    return "neither involuntariness nor coercion"


@cache
def _paired_structure(fw: Framework, pop: str) -> list[tuple[str, list[str], list[str]]]:
    """Per dimension: involuntariness keys and the penalty keys that pair with them."""
    inds = [i for i in fw.indicators if i.population == pop]
    pairing = fw.parameters.get("pairing")
    out = []
    for d in fw.dimension_ids:
        inv = [i.id for i in inds if i.kind == "involuntariness" and i.dimension == d]
        pdims = fw.dimension_ids if pairing == "any" else [d]
        pen = [f"{i.id}@{e}" for i in inds if i.kind == "penalty" for e in pdims]
        out.append((d, inv, pen))
    return out


def _explain_paired(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    if label == "indeterminate":
        return ("child; " if child else "") + "depends on " + ", ".join(_unknown(status))
    yes = {k for k, v in status.items() if v == YES}
    parts = []
    for d, inv, pen in _paired_structure(fw, "children" if child else "adults"):
        ti = [k for k in inv if k in yes]
        tp = [k for k in pen if k in yes]
        if ti and tp:
            parts.append(f"{d}: {' + '.join(ti)} with {' + '.join(tp)}")
    prefix = "child; " if child else ""
    rule = " (require_strong)" if fw.parameters.get("require_strong") else ""
    if label == "forced_labour":
        routes = _names(status, [i.id for i in fw.indicators if i.kind == "child_route"])
        return prefix + "; ".join(parts + ([f"route(s) {', '.join(routes)}"] if routes else []))
    if label == "indeterminate":
        return prefix + "depends on " + ", ".join(_unknown(status))
    if parts:
        return (
            prefix + "pairs found but none with a strong indicator" + rule + ": " + "; ".join(parts)
        )
    if not yes:
        return prefix + "no indicator present"
    found = [k for k in status if k in yes]
    return (
        prefix
        + "no dimension has both involuntariness and a penalty (present: "
        + (", ".join(found) + ")")
    )


def _explain_delphi(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    parts = []
    for d in fw.dimension_ids:
        present = [i for i in fw.indicators if i.dimension == d and status.get(i.id) == YES]
        if present:
            parts.append(
                f"{d}: "
                + ", ".join(
                    f"{i.id.split('.', 2)[-1]} ({(i.strength or '?')[0].upper()})" for i in present
                )
            )
    if status.get("DEL.ACT") == YES:
        parts.append("act of recruitment/movement")
    text = "; ".join(parts) if parts else "no indicator present"
    if label == "indeterminate":
        text += "; depends on " + ", ".join(_unknown(status))
    return ("child; " if child else "") + text


def _explain_count(fw: Framework, status: Mapping[str, int], child: bool, label: str) -> str:
    present = _names(status, [i.id for i in fw.indicators])
    text = f"{len(present)} of {len(status)} measured indicators present"
    if present:
        text += ": " + ", ".join(present)
    unk = _unknown(status)
    if unk:
        text += "; unknown: " + ", ".join(unk)
    return text


_EXPLAIN: dict[str, Callable[[Framework, Mapping[str, int], bool, str], str]] = {
    "involuntariness_and_coercion": _explain_icls,
    "paired_dimensions": _explain_paired,
    "delphi": _explain_delphi,
    "count": _explain_count,
}
