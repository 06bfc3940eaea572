"""Training the Fellegi–Sunter model so that it never fails silently.

Every parameter of the model comes from the data or from a documented fallback, and the source is
recorded (:class:`Training`):

* the prior (probability that two random records match) is first counted from pairs agreeing on
  near-certain rules (:func:`rules_prior`), and after prediction fitted to the scored pairs
  (:func:`fit_prior`, the EM update of the prior with ``m`` and ``u`` held);
* ``u`` probabilities come from a random sample of pairs; an exact level that the sample never
  saw gets ``u`` from the frequencies of the column's values (exact, no sampling), any other
  level the rule of half (half a pair in the sample);
* ``m`` probabilities come from EM sessions, each blocked on one rule (splink leaves out the
  comparisons the rule reads). The pairs of each rule are counted first: a session with too few
  pairs is not started. (splink 5 removes the session's comparisons and changes the prior of the
  live model when a session STARTS, and does not put them back when it then fails for want of
  pairs: the model would predict without those comparisons and with the session's prior. The
  model is also saved before each session and restored if splink fails anyway.) A level that no
  session trained gets the level's documented prior (:class:`.comparisons.Level`), the other
  levels of the comparison rescaled so the ``m`` still sum to one.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import EstimateDoesNotExistError
from fl_estimate.i18n import N_
from fl_estimate.providers.linkage.comparisons import ComparisonSpec
from fl_estimate.providers.linkage.rules import (
    Rule,
    count_rule_pairs,
    rule_columns,
    rule_label,
    splink_rule,
)

logger = logging.getLogger(__name__)

__all__ = ["Training", "fit_prior", "logit2", "probability", "rules_prior", "train_model"]


def probability(match_weight: np.ndarray) -> np.ndarray:
    """Match probability of a match weight (log2 odds), without overflow."""
    from scipy.special import expit

    return np.asarray(expit(np.asarray(match_weight, float) * math.log(2)))


def logit2(p: float) -> float:
    """``log2(p / (1 - p))``: a prior probability as splink's prior match weight."""
    return math.log2(p / (1 - p))


@dataclass
class Training:
    """How each parameter of a fitted model was obtained.

    Attributes
    ----------
    levels : list of dict
        One per non-null level: ``comparison, level, m, u, m_source, u_source`` (``m_source``
        names the EM sessions, or says ``prior`` and why; ``u_source`` says ``random sample``,
        ``value frequencies`` or ``rule of half``).
    sessions : list of dict
        One per EM rule: ``rule, pairs, status`` (``trained`` / ``skipped`` / ``failed``),
        ``comparisons`` (those it estimated), ``reason``.
    prior : dict
        ``rules`` (counted from the prior rules), ``fitted`` (after prediction), ``used``.
    blocking : list
        The blocking rules of the prediction (with the extra rules the budget let in).
    notes : list of str
        One line per fallback, for the report.
    """

    levels: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    prior: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blocking: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "sessions": self.sessions,
            "prior": self.prior,
            "notes": self.notes,
            "blocking": self.blocking,
        }


def _total_pairs(n: int) -> float:
    return n * (n - 1) / 2


def rules_prior(records: pd.DataFrame, rules: Sequence[Rule], recall: float) -> tuple[float, str]:
    """Prior match probability counted from pairs agreeing on near-certain rules.

    ``(pairs agreeing on any rule) / recall / (all pairs)``; pairs agreeing on several rules are
    counted once per rule (a slight overcount). With no such pair, one pair is assumed.
    """
    total = _total_pairs(len(records))
    found = sum(count_rule_pairs(records, r) for r in rules)
    how = f"{found} pairs agree on {', '.join(rule_label(r) for r in rules)}; recall {recall}"
    if found == 0:
        how += " (none: one pair assumed)"
    return min(max(found, 1) / recall / total, 0.5), how


def fit_prior(
    match_weight: np.ndarray,
    prior: float,
    n_records: int,
    *,
    tol: float = 1e-7,
    pairs: float | None = None,
) -> tuple[float, int]:
    """The prior that agrees with the scored pairs: EM update with ``m`` and ``u`` held.

    With prior ``λ``, pair ``i`` has match probability ``p_i(λ)`` (its Bayes factor times the
    prior odds); pairs not scored are taken as non-matches. The update ``λ ← Σ p_i(λ) / (n(n-1)/2)``
    is iterated to its fixed point. Returns the prior and the number of iterations. ``pairs``:
    the number of pairs the scored ones were drawn from, when not all ``n(n-1)/2`` (records
    added to a linkage are compared with each other and with the earlier records only).

    Two sure matches among the 6 pairs of 4 records (weights computed with prior 0.01):

    >>> lam, _ = fit_prior(np.array([20.0, 20.0, -20.0]), 0.01, 4)
    >>> round(lam, 3)
    0.333
    """
    total = _total_pairs(n_records) if pairs is None else float(pairs)
    if total <= 0 or not len(match_weight):
        return prior, 0
    base = np.asarray(match_weight, float) - logit2(prior)
    lam = prior
    for i in range(1, 1001):
        p = probability(base + logit2(lam))
        new = float(np.clip(p.sum() / total, 1e-12, 0.5))
        if abs(math.log(new) - math.log(lam)) < tol:
            return new, i
        lam = new
    return lam, 1000


def _non_null_levels(comp: dict[str, Any]) -> list[dict[str, Any]]:
    return [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]


def _exact_u(records: pd.DataFrame, spec: ComparisonSpec, column: str) -> float | None:
    """``u`` of "same value of column" among pairs non-null for the comparison (exact)."""
    if spec.null_column is None or spec.null_column not in records or column not in records:
        return None
    nonnull = records[spec.null_column].notna()
    m = int(nonnull.sum())
    if m < 2:
        return None
    counts = records.loc[nonnull, column].dropna().value_counts().to_numpy(np.int64)
    agree = float((counts * (counts - 1) / 2).sum())
    # the pairs the comparison does not hold null: both sides known (or, null_both, either)
    if spec.null_both:
        pairs = _total_pairs(len(records)) - _total_pairs(len(records) - m)
    else:
        pairs = _total_pairs(m)
    return max(agree, 0.5) / pairs


def train_model(
    make_linker: Callable[[dict[str, Any] | None], Any],
    records: pd.DataFrame,
    specs: Sequence[ComparisonSpec],
    *,
    em_rules: Sequence[Rule],
    u_max_pairs: float,
    em_max_pairs: float,
    min_em_pairs: int,
    seed: int,
) -> tuple[dict[str, Any], Training]:
    """Train ``u`` then ``m`` (see the module docstring); returns the splink model and how.

    ``make_linker(model)`` gives a splink ``Linker`` on the records: with ``None``, from the
    initial settings; with a model dict, from that model.

    Raises
    ------
    EstimateDoesNotExistError
        When ``u`` cannot be estimated, or no EM session could run.
    """
    record = Training()
    linker = make_linker(None)
    t0 = time.perf_counter()
    try:
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    except Exception as exc:  # splink raises plain exceptions on untrainable data
        raise EstimateDoesNotExistError(
            N_(
                "the probabilistic linkage model could not be trained on these records "
                "({error}); with few records use method='deterministic'",
                error=" ".join(str(exc).split())[:200],
            ),
            code="linkage-untrainable",
        ) from exc
    sample = min(u_max_pairs, _total_pairs(len(records)))
    logger.info("u from %.0f random pairs in %.1f s", sample, time.perf_counter() - t0)
    model = copy.deepcopy(linker.misc.save_model_to_json(out_path=None))
    comp_columns = {s.name: _spec_columns(s) for s in specs}
    trained_by: dict[str, list[str]] = {s.name: [] for s in specs}
    estimates: dict[tuple[str, int], list[float]] = {}
    counts = [count_rule_pairs(records, rule) for rule in em_rules]
    floor = min_em_pairs
    if counts and max(counts) < min_em_pairs:  # too few pairs everywhere: use what there is
        floor = 1
        record.notes.append(
            f"no EM rule has {min_em_pairs} pairs: sessions run on as few as 1 pair (unreliable)"
        )
    for rule, pairs in zip(em_rules, counts, strict=True):
        label = rule_label(rule)
        used = set(rule_columns(rule))
        estimable = [s.name for s in specs if not comp_columns[s.name] & used]
        entry: dict[str, Any] = {"rule": label, "pairs": pairs, "comparisons": estimable}
        if pairs < floor:
            entry |= {
                "status": "skipped",
                "reason": f"{pairs} pairs agree on {label}, fewer than {floor}",
            }
            record.notes.append(f"EM session blocked on {label} skipped: {entry['reason']}")
            record.sessions.append(entry)
            continue
        t0 = time.perf_counter()
        trained, reason = _Session(make_linker, rule, pairs, em_max_pairs).train(model)
        logger.info("EM session %s (%d pairs) in %.1f s", label, pairs, time.perf_counter() - t0)
        if trained is None:
            entry |= {"status": "failed", "reason": reason}
            record.notes.append(f"EM session blocked on {label} failed: {reason}")
            record.sessions.append(entry)
            continue
        entry |= {"status": "trained", "reason": ""}
        if pairs < min_em_pairs:
            entry["reason"] = f"only {pairs} pairs (fewer than {min_em_pairs}): unreliable"
        if reason:
            entry["retried"] = reason
        record.sessions.append(entry)
        by_name = {c["output_column_name"]: c for c in trained["comparisons"]}
        before = {c["output_column_name"]: c for c in model["comparisons"]}
        for name in estimable:
            # a level the session did not see keeps its m unchanged: not an estimate of it
            new = [lv.get("m_probability") for lv in _non_null_levels(by_name[name])]
            old = [lv.get("m_probability") for lv in _non_null_levels(before[name])]
            held = [bool(lv.get("fl_estimate_held")) for lv in _non_null_levels(by_name[name])]
            seen = [m is not None and (m != o or h) for m, o, h in zip(new, old, held, strict=True)]
            if any(seen):
                trained_by[name].append(label)
            for i, (m, ok) in enumerate(zip(new, seen, strict=True)):
                if ok and m is not None:
                    estimates.setdefault((name, i), []).append(float(m))
        model = _floored(trained)  # the next session starts from these m
    if not any(s["status"] == "trained" for s in record.sessions):
        raise EstimateDoesNotExistError(
            "no EM training session could be run on these records ("
            + "; ".join(record.notes)
            + "); with few records use method='deterministic'",
            code="linkage-untrainable",
        )
    by_name = {c["output_column_name"]: c for c in model["comparisons"]}
    for spec in specs:
        levels = _non_null_levels(by_name[spec.name])
        for i, lv in enumerate(levels):  # median over the sessions, as splink does
            vals = estimates.get((spec.name, i))
            if vals:
                lv["m_probability"] = float(np.median(vals))
            else:
                lv.pop("m_probability", None)
        _fill_m(spec, levels, trained_by[spec.name], record)
        _fill_u(spec, levels, records, sample, record)
        for lv in levels:
            for key in ("m_probability", "u_probability"):
                if isinstance(lv.get(key), float):
                    lv[key] = float(f"{lv[key]:.{_DIGITS}g}")
    return model, record


#: Significant digits the trained probabilities keep. DuckDB sums in parallel threads, in an
#: order that changes from run to run, so the last digits of u and of EM's m differed between
#: two runs of the same records and seed (the internal linkage_report.xlsx was not the same
#: bytes); 12 digits are far more than the training's own precision and the same on every run.
_DIGITS = 12


#: m probabilities below this are raised to it between EM sessions (an m that EM drives towards
#: 0 underflows in the next session, and splink then fails).
M_FLOOR = 1e-6
#: Lengths of the short EM runs that look for collapsing m (the first that runs is used).
PROBE_ITERATIONS = (5, 2, 1)


def _floored(model: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(model)
    for comp in out["comparisons"]:
        for lv in _non_null_levels(comp):
            lv.pop("fl_estimate_held", None)
            m = lv.get("m_probability")
            if m is not None and m < M_FLOOR:
                lv["m_probability"] = M_FLOOR
    return out


@dataclass(frozen=True)
class _Session:
    """One EM session: a rule, its pair count, and how to build a linker from a model."""

    make_linker: Callable[[dict[str, Any] | None], Any]
    rule: Rule
    pairs: int
    em_max_pairs: float

    def run(self, model: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """EM on a fresh linker built from ``model``: the trained model, or ``None`` and why."""
        linker = self.make_linker(copy.deepcopy(model))
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                splink_rule(self.rule),
                estimate_without_term_frequencies=True,  # EM on agreement-pattern counts: fast
                max_pairs=self.em_max_pairs if self.pairs > self.em_max_pairs else None,
            )
        except Exception as exc:  # splink raises plain exceptions
            return None, " ".join(str(exc).split())[:160]
        return copy.deepcopy(linker.misc.save_model_to_json(out_path=None)), ""

    def train(self, model: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """The session, on a fresh linker (so a failure leaves no trace). Returns the trained
        model (``None`` if it failed) and what was done about trouble.

        EM can drive the ``m`` of a level that no match falls in (a different region, in a
        country where each person is found in one region) to exactly zero, and splink then
        fails: each such ``m`` roughly squares from one iteration to the next. When that
        happens, a short run (5 iterations, or 2 or 1 when that fails too:
        :data:`PROBE_ITERATIONS`) finds the collapsing levels, whose ``m`` is then
        held at :data:`M_FLOOR` while the session runs again (up to three times).
        """
        base = copy.deepcopy(model)
        held: list[str] = []
        first = ""
        for _ in range(4):
            out, error = self.run(base)
            if out is not None:
                for comp in out["comparisons"]:
                    for lv in _non_null_levels(comp):
                        if lv.get("fix_m_probability"):  # held at the floor: an estimate of ~0
                            lv["fl_estimate_held"] = True
                        lv["fix_m_probability"] = False
                note = (
                    f"m of {', '.join(held)} held at {M_FLOOR:g} (EM drove it to zero; {first})"
                    if held
                    else ""
                )
                return out, note
            first = first or error
            probe = None
            for iterations in PROBE_ITERATIONS:  # m may collapse within the first iterations
                probe, _ = self.run(base | {"max_iterations": iterations})
                if probe is not None:
                    break
            if probe is None:
                break
            new = _collapsing(probe, base)
            if not new:
                break
            held += new
        return None, first


def _collapsing(probe: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """Levels whose m fell below 1e-12 in a short run: held at the floor in ``base``."""
    found = []
    targets = {c["output_column_name"]: c for c in base["comparisons"]}
    for comp in probe["comparisons"]:
        name = comp["output_column_name"]
        for lv, tgt in zip(_non_null_levels(comp), _non_null_levels(targets[name]), strict=True):
            m = lv.get("m_probability")
            if m is not None and m < 1e-12 and not tgt.get("fix_m_probability"):
                tgt["m_probability"] = M_FLOOR
                tgt["fix_m_probability"] = True
                found.append(f"{name} / {lv.get('label_for_charts')}")
    return found


def _spec_columns(spec: ComparisonSpec) -> set[str]:
    """Input columns a comparison reads (from its SQL: names before ``_l``/``_r``)."""
    import re

    text = " ".join([spec.null_sql, *(lv.sql for lv in spec.levels)])
    return set(re.findall(r"\b([a-z][a-z0-9_]*?)_[lr]\b", text))


def _fill_m(
    spec: ComparisonSpec, levels: list[dict[str, Any]], sessions: list[str], record: Training
) -> None:
    """Trained ``m`` kept (rescaled), untrained ``m`` from the level's prior."""
    trained = [lv.get("m_probability") is not None for lv in levels]
    prior_mass = sum(sp.m_prior for sp, ok in zip(spec.levels, trained, strict=True) if not ok)
    have = sum(lv["m_probability"] for lv, ok in zip(levels, trained, strict=True) if ok)
    if have <= 0:  # nothing trained: the priors, which sum to one
        trained, prior_mass = [False] * len(levels), 1.0
    for lv, sp, ok in zip(levels, spec.levels, trained, strict=True):
        if ok:
            lv["m_probability"] = lv["m_probability"] * (1 - prior_mass) / have
            source = "EM: " + "; ".join(sessions)
        else:
            lv["m_probability"] = sp.m_prior
            why = (
                "no EM session could estimate this comparison"
                if not sessions
                else "level never seen in the EM sessions (" + "; ".join(sessions) + ")"
            )
            source = f"prior {sp.m_prior:g}: {why}"
            record.notes.append(f"m of {spec.name} / {sp.label} set from its prior: {why}")
        record.levels.append(
            {"comparison": spec.name, "level": sp.label, "m": lv["m_probability"],
             "m_source": source}
        )  # fmt: skip
    _cap_disagreement(spec, levels, trained, record)
    _raise_to_least(spec, levels, record)


def _raise_to_least(spec: ComparisonSpec, levels: list[dict[str, Any]], record: Training) -> None:
    """The ``m`` of a level with a documented least value (:attr:`.comparisons.Level.m_min`)
    raised to it where training gave less, the other levels rescaled (the ``m`` still sum to
    one).

    In the synthetic countries a person's birth date is either known or not, so the pairs of
    one person never have a full date on one side and 1 January of the same year on the other,
    and EM drives that level's ``m`` to zero (a proof of two people). Real registrations do
    write a known date as 1 January now and then (a provider that asks for no document): the
    least value keeps such a pair weak evidence against a match.
    """
    low = [
        i for i, (lv, sp) in enumerate(zip(levels, spec.levels, strict=True))
        if sp.m_min > 0 and lv["m_probability"] < sp.m_min
    ]  # fmt: skip
    if not low:
        return
    rest = sum(lv["m_probability"] for i, lv in enumerate(levels) if i not in low)
    need = sum(spec.levels[i].m_min for i in low)
    if rest <= 0 or need >= 1:
        return
    scale = (1 - need) / rest
    rows = [r for r in record.levels if r["comparison"] == spec.name]
    for i, (lv, row) in enumerate(zip(levels, rows, strict=True)):
        if i in low:
            was, bound = lv["m_probability"], spec.levels[i].m_min
            lv["m_probability"] = bound
            row["m"] = bound
            row["m_source"] += (
                f"; raised to its documented least value {bound:g} (EM gave {was:.3g})"
            )
            record.notes.append(
                f"m of {spec.name} / {spec.levels[i].label} raised to its documented least value "
                f"{bound:g} (EM gave {was:.3g})"
            )
        else:
            lv["m_probability"] *= scale
            row["m"] = lv["m_probability"]


def _cap_disagreement(
    spec: ComparisonSpec, levels: list[dict[str, Any]], trained: list[bool], record: Training
) -> None:
    """The trained ``m`` of a comparison's last level (``different``) held at most at its
    documented prior, the other trained levels rescaled.

    EM sessions blocked on names put namesakes and members of one household (same name sounds,
    phone, nationality; other dates of birth) partly in the match class, so in name-dense
    countries they found 10-30% of true matches with different dates of birth, document
    numbers or ages (benchmarks/linkage.py --diagnose: none in the truth), and two such people
    were then linked on their shared name. The prior of a ``different`` level is an upper
    bound from the literature on civil records (typing errors in dates and numbers): where EM
    exceeds it, the bound is used and the report says so.
    """
    if not levels or not trained[-1] or spec.levels[-1].sql != "ELSE":
        return
    bound = spec.levels[-1].m_prior
    last = levels[-1]["m_probability"]
    if last <= bound:
        return
    rest = sum(lv["m_probability"] for lv, ok in zip(levels[:-1], trained[:-1], strict=True) if ok)
    if rest <= 0:
        return
    scale = (1 - bound - sum(
        lv["m_probability"] for lv, ok in zip(levels[:-1], trained[:-1], strict=True) if not ok
    )) / rest  # fmt: skip
    rows = [r for r in record.levels if r["comparison"] == spec.name]
    for lv, ok, row in zip(levels[:-1], trained[:-1], rows[:-1], strict=True):
        if ok:
            lv["m_probability"] *= scale
            row["m"] = lv["m_probability"]
    levels[-1]["m_probability"] = bound
    rows[-1]["m"] = bound
    rows[-1]["m_source"] += f"; capped at its documented bound {bound:g} (EM gave {last:.3g})"
    record.notes.append(
        f"m of {spec.name} / {spec.levels[-1].label} capped at its documented bound {bound:g} "
        f"(EM gave {last:.3g}: namesakes or household members taken as matches)"
    )


def _fill_u(
    spec: ComparisonSpec,
    levels: list[dict[str, Any]],
    records: pd.DataFrame,
    sample: float,
    record: Training,
) -> None:
    rows = [r for r in record.levels if r["comparison"] == spec.name]
    for lv, sp, row in zip(levels, spec.levels, rows, strict=True):
        if lv.get("u_probability") is not None:
            row |= {"u": lv["u_probability"], "u_source": "random sample"}
            continue
        u = _exact_u(records, spec, sp.exact) if sp.exact else None
        if u is not None:
            source = "value frequencies (no pair in the random sample)"
        else:
            u = 0.5 / max(sample, 1.0)
            source = f"rule of half (no pair in a random sample of {sample:.0f})"
            record.notes.append(f"u of {spec.name} / {sp.label} set by the rule of half")
        lv["u_probability"] = u
        row |= {"u": u, "u_source": source}
