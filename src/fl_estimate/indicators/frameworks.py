"""Indicator frameworks as versioned data files, and the schema that validates them.

The frameworks shipped with the package live in ``fl_estimate/indicators/frameworks/*.toml``:

============  ==================================================================================
``icls2018``  ILO 20th ICLS (2018): involuntariness × coercion in the same work spell; children
``ilo2012``   ILO 2012 survey guidelines: three dimensions, involuntariness paired with penalty
``delphi2009`` ILO–EC 2009 Delphi operational indicators (adults, labour exploitation)
``ilo11``     ILO's eleven indicators of forced labour (no combination rule: counted)
============  ==================================================================================

A user adds or adjusts a framework by writing such a file (see ``docs/indicators.md`` for the
schema) and passing its path to :func:`load_framework`; every problem in the file is reported at
once, with the line it is on. Rule parameters the specification marks as package choices
(``pairing``, ``require_strong``, the Delphi dimension rule, ...) are parameters of the file,
overridable with :meth:`Framework.with_parameters`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from fl_estimate.exceptions import InputValidationError, ModelSpecificationError, Problem
from fl_estimate.i18n import N_, Message
from fl_estimate.tabular import parse_toml

__all__ = [
    "Framework",
    "Indicator",
    "available_frameworks",
    "indicator_keys",
    "load_framework",
]

RULES = ("involuntariness_and_coercion", "paired_dimensions", "delphi", "count")
CONFIDENCE = ("verified", "recalled", "package-choice")
STRENGTHS = ("strong", "medium", "weak")
POPULATIONS = ("adults", "children")
#: indicator kinds each rule understands
KINDS: dict[str, tuple[str, ...]] = {
    "involuntariness_and_coercion": ("involuntariness", "coercion", "child_route"),
    "paired_dimensions": ("involuntariness", "penalty", "child_route", "movement"),
    "delphi": ("indicator", "act"),
    "count": ("indicator",),
}


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


#: parameters each rule accepts: name -> (type check, description of what is expected)
_PARAMS: dict[str, dict[str, tuple[Any, Message]]] = {
    "involuntariness_and_coercion": {
        "pairing": (lambda v: v in ("same_spell", "any"), N_("'same_spell' or 'any'")),
        "child_age": (lambda v: isinstance(v, int) and 0 < v < 30, N_("an age in years")),
    },
    "paired_dimensions": {
        "pairing": (lambda v: v in ("same_dimension", "any"), N_("'same_dimension' or 'any'")),
        "require_strong": (lambda v: isinstance(v, bool), N_("true or false")),
        "recruitment_dimension": (lambda v: isinstance(v, str), N_("a dimension id")),
        "child_age": (lambda v: isinstance(v, int) and 0 < v < 30, N_("an age in years")),
    },
    "delphi": {
        "child_age": (lambda v: isinstance(v, int) and 0 < v < 30, N_("an age in years")),
        "recruitment_dimensions": (_is_str_list, N_("a list of dimension ids")),
        "exploitation_dimensions": (_is_str_list, N_("a list of dimension ids")),
        "destination_dimensions": (_is_str_list, N_("a list of dimension ids")),
        "dimension_rule": (
            lambda v: isinstance(v, list) and len(v) > 0 and all(
                isinstance(c, dict) and c and all(
                    k in ("strong", "medium", "weak", "medium_or_weak", "any")
                    and isinstance(n, int) and n >= 0 for k, n in c.items()
                ) for c in v
            ),
            N_(
                "a non-empty list of tables of minimum counts (keys strong, medium, weak, "
                "medium_or_weak, any)"
            ),
        ),
    },
    "count": {
        "min_present": (lambda v: isinstance(v, int) and v >= 1, N_("a positive integer")),
    },
}  # fmt: skip
_FRAMEWORK_KEYS = {"id", "title", "source", "version", "data_version", "rule", "changelog"}
_INDICATOR_KEYS = {
    "id", "kind", "dimension", "text", "strength", "confidence", "population", "note",
}  # fmt: skip
ALIASES = {"hts2012": "ilo2012", "ilo2018": "icls2018", "icls": "icls2018", "delphi": "delphi2009"}


@dataclass(frozen=True)
class Indicator:
    """One indicator of a framework.

    Attributes
    ----------
    id : str
        Identifier, e.g. ``"HTS.D1.INV.06"``.
    kind : str
        ``"involuntariness"``, ``"coercion"``, ``"penalty"``, ``"indicator"``, ``"child_route"``
        or ``"act"``.
    text : str
        The indicator in words.
    dimension : str or None
        Dimension (stage) it belongs to; ``None`` for penalties (their dimension is the one they
        were applied in, given by the mapping).
    strength : str or None
        ``"strong"``, ``"medium"``, ``"weak"`` where the framework grades indicators.
    confidence : str
        ``"verified"``, ``"recalled"`` or ``"package-choice"``.
    population : str
        ``"adults"`` or ``"children"``.
    note : str
        Free note (e.g. disagreement between sources).
    """

    id: str
    kind: str
    text: str
    dimension: str | None = None
    strength: str | None = None
    confidence: str = "recalled"
    population: str = "adults"
    note: str = ""


@dataclass(frozen=True, eq=False)
class Framework:
    """An indicator framework read from a data file (see :func:`load_framework`)."""

    id: str
    title: str
    source: str
    version: str
    data_version: str
    rule: str
    parameters: Mapping[str, Any]
    dimensions: tuple[tuple[str, str], ...]
    indicators: tuple[Indicator, ...]
    path: str = ""
    changelog: tuple[str, ...] = ()
    parameter_confidence: Mapping[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """Indicator ids in file order."""
        return [i.id for i in self.indicators]

    @property
    def dimension_ids(self) -> list[str]:
        return [d for d, _ in self.dimensions]

    def indicator(self, id: str) -> Indicator:
        """The indicator with this id (``KeyError`` naming the framework otherwise)."""
        for ind in self.indicators:
            if ind.id == id:
                return ind
        raise KeyError(
            N_("{id!r} is not an indicator of framework {framework!r}", id=id, framework=self.id)
        )

    def with_parameters(self, **params: Any) -> Framework:
        """A copy with some rule parameters changed (validated like the file's).

        Examples
        --------
        >>> strict = load_framework("ilo2012").with_parameters(require_strong=True)
        >>> strict.parameters["require_strong"]
        True
        """
        problems = _check_params(self.rule, params, self.path or self.id, None)
        if problems:
            raise InputValidationError(problems, summary=N_("bad parameters for {id}", id=self.id))
        return replace(self, parameters={**self.parameters, **params})

    def to_frame(self) -> pd.DataFrame:
        """The indicators as a DataFrame (columns: id, kind, dimension, strength, population,
        confidence, text, note)."""
        return pd.DataFrame(
            [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "dimension": i.dimension,
                    "strength": i.strength,
                    "population": i.population,
                    "confidence": i.confidence,
                    "text": i.text,
                    "note": i.note,
                }
                for i in self.indicators
            ]
        )

    def describe(self, lang: str = "en") -> str:
        """A short text: title, source, version, rule and parameters.

        ``lang`` is the language of the words around them (the title and source are the
        framework file's).
        """
        params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        source = " ".join(self.source.split())
        if lang == "en":
            return (
                f"{self.title}\nsource: {source}\nversion: {self.version} "
                f"(data {self.data_version})\nrule: {self.rule} ({params})\n"
                f"{len(self.indicators)} indicators in {len(self.dimensions)} dimensions"
            )
        from fl_estimate.i18n import translate

        lines = [
            N_("source: {source}", source=source),
            N_("version: {version} (data {data})", version=self.version, data=self.data_version),
            N_("rule: {rule} ({params})", rule=self.rule, params=params),
            N_(
                "{n} indicators in {m} dimensions",
                n=len(self.indicators),
                m=len(self.dimensions),
            ),
        ]
        return "\n".join([self.title, *(translate(line, lang) for line in lines)])


def indicator_keys(framework: Framework) -> list[str]:
    """Column names a scored table uses for a framework's indicators.

    Penalties of the ILO 2012 rule are recorded per dimension they were applied in:
    ``"HTS.PEN.03@D1"``. Every other indicator is its id.

    Examples
    --------
    >>> keys = indicator_keys(load_framework("ilo2012"))
    >>> [k for k in keys if k.startswith("HTS.PEN.03")]
    ['HTS.PEN.03@D1', 'HTS.PEN.03@D2', 'HTS.PEN.03@D3']
    """
    keys = []
    for ind in framework.indicators:
        if framework.rule == "paired_dimensions" and ind.kind == "penalty":
            keys += [f"{ind.id}@{d}" for d in framework.dimension_ids]
        else:
            keys.append(ind.id)
    return keys


def available_frameworks() -> list[str]:
    """Ids of the frameworks shipped with the package."""
    files = resources.files("fl_estimate.indicators").joinpath("frameworks")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def _line_of(text: str, needle: str) -> int | None:
    m = re.search(rf'^\s*id\s*=\s*"{re.escape(needle)}"', text, flags=re.M)
    return text[: m.start()].count("\n") + 1 if m else None


def _check_params(
    rule: str, params: Mapping[str, Any], source: str, text: str | None
) -> list[Problem]:
    problems = []
    spec = _PARAMS.get(rule, {})
    for k, v in params.items():
        line = None
        if text is not None:
            m = re.search(rf"^\s*\[*\s*(parameters\.)?{re.escape(k)}\b", text, flags=re.M)
            line = text[: m.start()].count("\n") + 1 if m else None
        if k not in spec:
            problems.append(
                Problem(
                    N_(
                        "unknown parameter for rule {rule!r}; known: {known}",
                        rule=rule,
                        known=", ".join(spec) or N_("none"),
                    ),
                    source,
                    line,
                    f"parameters.{k}",
                    v,
                )
            )
        elif not spec[k][0](v):
            problems.append(
                Problem(N_("expected {spec}", spec=spec[k][1]), source, line, f"parameters.{k}", v)
            )
    return problems


def load_framework(name_or_path: str | Path) -> Framework:
    """Read and validate a framework: a shipped id (``"ilo2012"``...) or a path to a TOML file.

    Raises
    ------
    InputValidationError
        Listing every problem in the file (line, key, value, what was expected).
    ModelSpecificationError
        Unknown framework name.

    Examples
    --------
    >>> available_frameworks()
    ['delphi2009', 'icls2018', 'ilo11', 'ilo2012']
    >>> fw = load_framework("icls2018")
    >>> fw.rule, len(fw.indicators), fw.dimension_ids
    ('involuntariness_and_coercion', 19, ['recruitment', 'employment', 'exit'])
    """
    name = str(name_or_path)
    shipped = available_frameworks()
    key = ALIASES.get(name, name)
    if key in shipped and not Path(name).suffix:
        return _shipped(key)
    else:
        path = Path(name)
        if not path.exists():
            raise ModelSpecificationError(
                N_(
                    "unknown framework {name!r}: not one of {shipped} and no such file",
                    name=name,
                    shipped=", ".join(shipped),
                )
            )
        text = path.read_text(encoding="utf-8")
        source = str(path)
    return parse_framework(text, source)


@cache
def _shipped(key: str) -> Framework:
    res = resources.files("fl_estimate.indicators").joinpath("frameworks", f"{key}.toml")
    return parse_framework(res.read_text(encoding="utf-8"), f"{key}.toml (shipped)")


def parse_framework(text: str, source: str = "<framework>") -> Framework:
    """Validate a framework given as TOML text (see :func:`load_framework`)."""
    doc = parse_toml(text, source, summary=N_("cannot read {source}", source=source))
    problems: list[Problem] = []
    fw = doc.get("framework")
    if not isinstance(fw, dict):
        problems.append(Problem(N_("missing [framework] table"), source))
        fw = {}
    for k in ("id", "title", "source", "version", "rule"):
        if not isinstance(fw.get(k), str) or not fw.get(k):
            problems.append(Problem(N_("required text missing"), source, None, f"framework.{k}"))
    for k in fw:
        if k not in _FRAMEWORK_KEYS:
            problems.append(Problem(N_("unknown key"), source, None, f"framework.{k}"))
    rule = fw.get("rule", "")
    if rule and rule not in RULES:
        problems.append(
            Problem(
                N_("unknown rule; expected one of {values}", values=", ".join(RULES)),
                source,
                None,
                "framework.rule",
                rule,
            )
        )
    for k in doc:
        if k not in ("framework", "parameters", "dimensions", "indicators"):
            problems.append(Problem(N_("unknown top-level table"), source, None, k))
    params = dict(doc.get("parameters", {}))
    pconf = params.pop("confidence", {})
    if rule in RULES:
        problems += _check_params(rule, params, source, text)
    for k, v in pconf.items():
        if v not in CONFIDENCE:
            problems.append(
                Problem(N_("expected one of {values}", values=', '.join(CONFIDENCE)), source, None,
                        f"parameters.confidence.{k}", v)
            )  # fmt: skip
    dims: list[tuple[str, str]] = []
    for j, d in enumerate(doc.get("dimensions", []), 1):
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            problems.append(
                Problem(N_("dimension #{j} needs an id", j=j), source, None, "dimensions")
            )
            continue
        if d["id"] in dict(dims):
            problems.append(
                Problem(
                    N_("duplicate dimension id"), source, _line_of(text, d["id"]), "id", d["id"]
                )
            )
        dims.append((d["id"], str(d.get("name", d["id"]))))
    dim_ids = {d for d, _ in dims}
    inds: list[Indicator] = []
    seen: set[str] = set()
    raw = doc.get("indicators", [])
    if not raw:
        problems.append(Problem(N_("no [[indicators]]"), source))
    kinds = KINDS.get(rule, ())
    for j, d in enumerate(raw, 1):
        iid = d.get("id") if isinstance(d, dict) else None
        if not isinstance(iid, str) or not iid:
            problems.append(
                Problem(N_("indicator #{j} needs an id", j=j), source, None, "indicators")
            )
            continue
        line = _line_of(text, iid)

        def bad(
            msg: str, col: str, val: object = None, line: int | None = line, iid: str = iid
        ) -> None:
            problems.append(
                Problem(
                    N_("indicator {iid}: {problem}", iid=iid, problem=msg), source, line, col, val
                )
            )

        if iid in seen:
            bad(N_("duplicate id"), "id", iid)
        seen.add(iid)
        for k in d:
            if k not in _INDICATOR_KEYS:
                bad(
                    N_(
                        "unknown key (known: {known})",
                        known=", ".join(sorted(_INDICATOR_KEYS)),
                    ),
                    k,
                )
        kind = d.get("kind")
        if kind not in kinds:
            bad(
                N_(
                    "kind must be one of {kinds} for rule {rule!r}",
                    kinds=", ".join(kinds),
                    rule=rule,
                ),
                "kind",
                kind,
            )
        dim = d.get("dimension")
        if dim is not None and dim not in dim_ids:
            bad(
                N_("unknown dimension; known: {dim_ids}", dim_ids=", ".join(sorted(dim_ids))),
                "dimension",
                dim,
            )
        if dim is None and (
            (rule == "paired_dimensions" and kind == "involuntariness")
            or (rule == "delphi" and kind == "indicator")
        ):
            bad(N_("needs a dimension"), "dimension")
        strength = d.get("strength")
        if strength is not None and strength not in STRENGTHS:
            bad(
                N_("strength must be one of {values}", values=", ".join(STRENGTHS)),
                "strength",
                strength,
            )
        if rule == "delphi" and kind == "indicator" and strength is None:
            bad(N_("needs a strength (the Delphi rule counts strong/medium/weak)"), "strength")
        conf = d.get("confidence", "recalled")
        if conf not in CONFIDENCE:
            bad(
                N_("confidence must be one of {values}", values=", ".join(CONFIDENCE)),
                "confidence",
                conf,
            )
        pop = d.get("population", "adults")
        if pop not in POPULATIONS:
            bad(
                N_("population must be one of {values}", values=", ".join(POPULATIONS)),
                "population",
                pop,
            )
        if not isinstance(d.get("text"), str) or not d.get("text"):
            bad(N_("needs a text"), "text")
        inds.append(
            Indicator(
                id=iid, kind=str(kind), text=str(d.get("text", "")), dimension=dim,
                strength=strength, confidence=str(conf), population=str(pop),
                note=str(d.get("note", "")),
            )
        )  # fmt: skip
    if rule == "delphi":
        for key in ("recruitment_dimensions", "exploitation_dimensions", "destination_dimensions"):
            for dd in params.get(key, []) or []:
                if dd not in dim_ids:
                    problems.append(
                        Problem(N_("unknown dimension"), source, None, f"parameters.{key}", dd)
                    )
    if problems:
        raise InputValidationError(problems)
    all_defaults: dict[str, dict[str, Any]] = {
        "involuntariness_and_coercion": {"pairing": "same_spell", "child_age": 18},
        "paired_dimensions": {
            "pairing": "same_dimension",
            "require_strong": False,
            "child_age": 18,
        },
        "delphi": {"child_age": 18},
        "count": {"min_present": 1},
    }
    defaults = all_defaults[rule]  # fmt: skip
    return Framework(
        id=fw["id"],
        title=fw["title"],
        source=" ".join(fw["source"].split()),
        version=fw["version"],
        data_version=str(fw.get("data_version", "")),
        rule=rule,
        parameters={**defaults, **params},
        dimensions=tuple(dims),
        indicators=tuple(inds),
        path=source,
        changelog=tuple(fw.get("changelog", ())),
        parameter_confidence=dict(pconf),
    )
