"""The linkage model's own words as catalog messages: comparison levels, where each ``m`` and
``u`` came from, and why an EM session was skipped or retried.

The training record and the linkage report keep these as English text (``linkage_report.json``,
the CSV files and the model file a later run reads back); :func:`linkage_message` turns such a
text back into a :class:`~fl_estimate.i18n.Message`, so a report in another language shows it
in words of that language. Comparison names (``dob``), session rules (``key_dob``), numbers as
numbers and other libraries' error texts are kept as they are.

Examples
--------
>>> from fl_estimate.i18n import translate
>>> translate(linkage_message("same year (one date unknown)"), "fr")
'même année (une date inconnue)'
>>> translate(linkage_message("prior 0.12: level never seen in the EM sessions (key_dob)"), "fr")
'a priori 0,12\\xa0: niveau jamais vu dans les sessions EM (key_dob)'
>>> linkage_message("some text of a custom model")
'some text of a custom model'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fl_estimate.i18n import N_, Message

__all__ = ["LEVEL_WORDS", "level_message", "linkage_message"]

#: The default model's comparison levels (:func:`~fl_estimate.providers.linkage.comparisons.
#: default_comparisons`) as catalog messages, by their English label.
LEVEL_WORDS: dict[str, Message] = {
    str(m): m
    for m in (
        N_("different"),
        N_("same full name"),
        N_("same given name, same first family name"),
        N_("same sounds of given and family name"),
        N_("same family name, one given name missing"),
        N_("same family name, other given name"),
        N_("same date of birth"),
        N_("same year (one date unknown)"),
        N_("same year, both dates unknown"),
        N_("same year, one date unknown, one full"),
        N_("same year, other day"),
        N_("one full date, no date on the other"),
        N_("one date unknown, no date on the other"),
        N_("age within 1 year"),
        N_("same document number"),
        N_("same phone"),
        N_("same sex"),
        N_("same region"),
        N_("same year of identification"),
        N_("same nationality"),
        N_("same provider"),
    )
}


def _dice(groups: dict[str, str]) -> Message:
    return N_("name Dice >= {x}", x=float(groups["x"]))


def _years(groups: dict[str, str]) -> Message:
    return N_("age within {n} years", n=int(groups["n"]))


def _levels(text: str) -> Any:
    """``comparison / level, comparison / level`` with the levels in words (a label may hold a
    comma: a piece without `` / `` belongs to the one before)."""
    items: list[str] = []
    for piece in text.split(", "):
        if items and " / " not in piece:
            items[-1] += ", " + piece
        else:
            items.append(piece)
    if not all(" / " in i for i in items):
        return text
    out = []
    for item in items:
        comparison, level = item.split(" / ", 1)
        out.append(N_("{comparison} / {level}", comparison=comparison, level=level_message(level)))
    first, *rest = out
    for item in rest:
        first = N_("{first}, {second}", first=first, second=item)
    return first


_Rule = tuple[re.Pattern[str], Callable[[dict[str, str]], Message]]

#: Full-match patterns of the texts the training writes, most specific first.
_RULES: tuple[_Rule, ...] = tuple(
    (re.compile(pattern), make)
    for pattern, make in (
        (r"name Dice >= (?P<x>[0-9.]+)", _dice),
        (r"age within (?P<n>\d+) years", _years),
        (r"(?P<head>.+); capped at its documented bound (?P<bound>\S+) \(EM gave (?P<last>[^)]+)\)",
         lambda g: N_("{head}; capped at its documented bound {bound:g} (EM gave {last:.3g})",
                      head=linkage_message(g["head"]), bound=float(g["bound"]),
                      last=float(g["last"]))),
        (r"(?P<head>.+); raised to its documented least value (?P<bound>\S+) \(EM gave (?P<last>[^)]+)\)",
         lambda g: N_("{head}; raised to its documented least value {bound:g} (EM gave {last:.3g})",
                      head=linkage_message(g["head"]), bound=float(g["bound"]),
                      last=float(g["last"]))),
        (r"EM: (?P<sessions>.+)", lambda g: N_("EM: {sessions}", sessions=g["sessions"])),
        (r"prior (?P<m>\S+): (?P<why>.+)",
         lambda g: N_("prior {m:g}: {why}", m=float(g["m"]), why=linkage_message(g["why"]))),
        (r"no EM session could estimate this comparison",
         lambda g: N_("no EM session could estimate this comparison")),
        (r"level never seen in the EM sessions \((?P<sessions>.+)\)",
         lambda g: N_("level never seen in the EM sessions ({sessions})",
                      sessions=g["sessions"])),
        (r"random sample", lambda g: N_("random sample")),
        (r"value frequencies \(no pair in the random sample\)",
         lambda g: N_("value frequencies (no pair in the random sample)")),
        (r"rule of half \(no pair in a random sample of (?P<n>\d+)\)",
         lambda g: N_("rule of half (no pair in a random sample of {n})", n=int(g["n"]))),
        (r"(?P<pairs>\d+) pairs agree on (?P<rule>.+), fewer than (?P<floor>\d+)",
         lambda g: N_("{pairs} pairs agree on {rule}, fewer than {floor}",
                      pairs=int(g["pairs"]), rule=g["rule"], floor=int(g["floor"]))),
        (r"only (?P<pairs>\d+) pairs \(fewer than (?P<least>\d+)\): unreliable",
         lambda g: N_("only {pairs} pairs (fewer than {least}): unreliable",
                      pairs=int(g["pairs"]), least=int(g["least"]))),
        (r"m of (?P<levels>.+) held at (?P<floor>\S+) \(EM drove it to zero; (?P<error>.*)\)",
         lambda g: N_("m of {levels} held at {floor:g} (EM drove it to zero; {error})",
                      levels=_levels(g["levels"]), floor=float(g["floor"]), error=g["error"])),
    )
)  # fmt: skip


def level_message(label: str) -> Any:
    """A comparison level's label as a catalog message (a custom level's label as it is)."""
    if isinstance(label, Message) or not isinstance(label, str):
        return label
    if label in LEVEL_WORDS:
        return LEVEL_WORDS[label]
    return linkage_message(label)


def linkage_message(text: Any) -> Any:
    """``text`` (a level, an ``m``/``u`` source, an EM session's reason) as a catalog message
    whose English is ``text`` exactly; a text it does not know, and a non-text, as they are."""
    if isinstance(text, Message) or not isinstance(text, str) or not text:
        return text
    if text in LEVEL_WORDS:
        return LEVEL_WORDS[text]
    for pattern, make in _RULES:
        match = pattern.fullmatch(text)
        if match:
            try:
                message = make(match.groupdict())
            except ValueError:  # a number that does not read back: keep the text
                return text
            return message if str(message) == text else text
    return text
