"""Normalise identifying fields and turn them into keyed tokens (HMAC-SHA256) and Bloom filters.

Clear identifiers (names, date of birth, document number, phone) are normalised so that the same
person written differently by two providers gives the same text, then replaced by keyed tokens
``HMAC-SHA256(key, field || value)``. Without the key a token cannot be reversed or recomputed from
a guessed name. For approximate matching of noisy names, each name is also encoded as a Bloom filter
of its letter bigrams (the cryptographic long-term key of Schnell, Bachteler and Reiher 2009), whose
bit positions come from the same keyed hash; two spellings of one name share most of their bits.

The key is read from an environment variable or a key file and never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anyascii import anyascii

from fl_estimate.exceptions import LinkageKeyError
from fl_estimate.i18n import N_, message_of

__all__ = [
    "BLOOM_BITS",
    "BLOOM_WORDS",
    "FINGERPRINT_COLUMN",
    "FINGERPRINT_LABEL",
    "IDENTIFIER_COLUMNS",
    "KEY_COLUMNS",
    "KEY_ENV_VAR",
    "Pseudonymiser",
    "bloom_dice",
    "bloom_hex_to_words",
    "first_name_part",
    "normalise_birth_date",
    "normalise_date",
    "normalise_document",
    "normalise_name",
    "normalise_phone",
    "phonetic_key",
    "read_key_file",
]

#: Environment variable holding the linkage key (any string of at least 16 characters).
KEY_ENV_VAR = "FL_ESTIMATE_LINKAGE_KEY"
#: Clear identifying columns of a submission; never written to any output.
IDENTIFIER_COLUMNS = ("given_name", "family_name", "date_of_birth", "document_number", "phone")
#: Pseudonymous key columns (what a provider submitting "keys only" sends instead).
#: Message of the key fingerprint (:attr:`Pseudonymiser.fingerprint`); fixed, versioned.
FINGERPRINT_LABEL = b"fl_estimate linkage key fingerprint v1"
#: Column of the fingerprint in pseudonymised submissions and in the provider registry.
FINGERPRINT_COLUMN = "key_fingerprint"

KEY_COLUMNS = (
    "key_given",
    "key_family",
    "key_name",
    "key_given_ph",
    "key_family_ph",
    "key_name_ph",
    "key_dob",
    "key_yob",
    "key_doc",
    "key_phone",
    "key_bloom",
)
BLOOM_BITS = 512
BLOOM_WORDS = BLOOM_BITS // 64
_BLOOM_HASHES = 12
_TOKEN_HEX = 32  # 128 bits of the HMAC: collisions negligible, files smaller
_MIN_KEY_BYTES = 16

# Common transliteration variants folded to one spelling (after upper-casing and accent removal).
# Kept short on purpose: the Bloom filter catches the rest approximately.
_VARIANTS = {
    "MOHAMMED": "MOHAMED",
    "MOHAMMAD": "MOHAMED",
    "MUHAMMAD": "MOHAMED",
    "MUHAMMED": "MOHAMED",
    "MOHAMAD": "MOHAMED",
    "MAHAMADOU": "MAHAMADOU",
    "MAMADOU": "MAHAMADOU",
    "OUSMANE": "OUSMANE",
    "USMAN": "OUSMANE",
    "OUSMAN": "OUSMANE",
    "USMANE": "OUSMANE",
    "IBRAHIMA": "IBRAHIM",
    "IBRAHIME": "IBRAHIM",
    "AICHA": "AISSA",
    "AISHA": "AISSA",
    "AICHATOU": "AISSATOU",
    "AISHATU": "AISSATOU",
    "FATIMATA": "FATOUMATA",
    "FATIMATOU": "FATOUMATA",
    "YOUSSOUF": "YOUSSOUF",
    "YUSUF": "YOUSSOUF",
    "YOUSOUF": "YOUSSOUF",
    "ABDOULAYE": "ABDOULAYE",
    "ABDULLAHI": "ABDOULAYE",
    "ABDALLAH": "ABDOULAYE",
    "HADIZA": "HADIZA",
    "HADIZATOU": "HADIZA",
    "MARIAM": "MARIAMA",
    "MARYAM": "MARIAMA",
}

_NON_LETTER = re.compile(r"[^A-Z ]+")
_SPACES = re.compile(r"\s+")


def normalise_name(value: Any) -> str | None:
    """Normalise a name: transliterate to ASCII, upper-case, drop punctuation, fold variants.

    Returns ``None`` for a missing or empty name.

    Examples
    --------
    >>> normalise_name("  Aïssata  el-Mansour ")
    'AISSATA EL MANSOUR'
    >>> normalise_name("Muhammad")
    'MOHAMED'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = anyascii(unicodedata.normalize("NFKC", str(value))).upper()
    text = _NON_LETTER.sub(" ", text.replace("'", ""))
    parts = [_VARIANTS.get(p, p) for p in _SPACES.split(text.strip()) if p]
    return " ".join(parts) if parts else None


_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%Y%m%d", "%d %m %Y")


def normalise_date(value: Any) -> str | None:
    """Parse a date written as ISO ``YYYY-MM-DD`` or day first (``DD/MM/YYYY``, ``DD.MM.YYYY``...).

    Returns the ISO form, or ``None`` when missing; raises ``ValueError`` when unreadable.

    Examples
    --------
    >>> normalise_date("07/03/1991")
    '1991-03-07'
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return None
    if "T" in text or (len(text) > 10 and text[10] == " "):  # Excel datetime rendered as text
        text = text[:10]
    m = _DAY_FIRST.fullmatch(text)
    if m:  # fast path for the common forms DD/MM/YYYY, DD.MM.YYYY, DD-MM-YYYY
        try:
            return date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        except ValueError:
            raise ValueError(N_("unreadable date {text!r}", text=text)) from None
    if _ISO.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(N_("unreadable date {text!r}", text=text)) from None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(N_("unreadable date {text!r}", text=text))


_YEAR = re.compile(r"(\d{4})")


def normalise_birth_date(value: Any) -> tuple[str | None, str | None]:
    """A date of birth as ``(full date, year)``; an unknown day and month give ``(None, year)``.

    A date of birth is often unknown and written as the year only (``"1987"``) or as 1 January of
    a guessed year (``01/01/1987``, as in many civil registrations). Both are read as the year
    only: a 1 January date is taken as a placeholder, so it is never evidence that two records
    share a birth date (people really born on 1 January lose their day and month; one in 365).

    Returns ``(None, None)`` when missing; raises ``ValueError`` when unreadable.

    Examples
    --------
    >>> normalise_birth_date("07/03/1991"), normalise_birth_date("01/01/1991")
    (('1991-03-07', '1991'), (None, '1991'))
    >>> normalise_birth_date("1991"), normalise_birth_date(None)
    ((None, '1991'), (None, None))
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = str(value)  # a spreadsheet cell holding the year as a number
    if isinstance(value, float) and not np.isnan(value) and value == int(value):
        value = str(int(value))
    if isinstance(value, str) and _YEAR.fullmatch(value.strip()):
        return None, value.strip()
    iso = normalise_date(value)
    if iso is None:
        return None, None
    return (None if iso[5:] == "01-01" else iso), iso[:4]


def normalise_document(value: Any) -> str | None:
    """Upper-case letters and digits only (spaces, hyphens and dots removed)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = re.sub(r"[^A-Z0-9]", "", anyascii(str(value)).upper())
    return text or None


def normalise_phone(value: Any, digits: int = 8) -> str | None:
    """The last ``digits`` digits of a phone number (drops country code, spaces and punctuation)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = re.sub(r"\D", "", str(value))
    if len(text) < min(digits, 6):
        return None
    return text[-digits:]


_PHONETIC_GROUPS = {
    **dict.fromkeys("AEIOUYHW", ""),
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}


#: Particles skipped when taking the first part of a family name for its phonetic key.
_PARTICLES = frozenset(
    {"AL", "EL", "BEN", "BIN", "IBN", "DA", "DE", "DI", "DO", "DOS", "DAS", "DEL", "LA", "Y"}
)


def first_name_part(parts: Sequence[str]) -> str | None:
    """The first part of a normalised family name that is not a particle (``AL``, ``DE``...).

    Of two family names the first is kept: providers often leave out the second.

    >>> first_name_part(["EL", "MANSOUR"]), first_name_part(["GARCIA", "LOPEZ"]), first_name_part([])
    ('MANSOUR', 'GARCIA', None)
    """
    for p in parts:
        if p not in _PARTICLES:
            return p
    return parts[0] if parts else None


def phonetic_key(part: str | None) -> str | None:
    """A Soundex-like key of one normalised name part (first letter + up to 4 consonant codes).

    Used only for blocking (which pairs to compare), never as evidence of a match.
    """
    if not part:
        return None
    first = part[0]
    codes = []
    prev = _PHONETIC_GROUPS.get(first, "")
    for ch in part[1:]:
        code = _PHONETIC_GROUPS.get(ch, "")
        if code and code != prev:
            codes.append(code)
        prev = code
    return (first + "".join(codes))[:5]


def _bigrams(parts: Iterable[str]) -> set[str]:
    grams: set[str] = set()
    for p in parts:
        padded = f"_{p}_"
        grams.update(padded[i : i + 2] for i in range(len(padded) - 1))
    return grams


def bloom_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice similarity of Bloom filters stored as ``(n, BLOOM_WORDS)`` int64 arrays, row by row."""
    a = np.asarray(a, dtype=np.int64).view(np.uint64)
    b = np.asarray(b, dtype=np.int64).view(np.uint64)
    inter = np.bitwise_count(a & b).sum(axis=-1).astype(float)
    total = np.bitwise_count(a).sum(axis=-1) + np.bitwise_count(b).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * inter / total, np.nan)


class Pseudonymiser:
    """Keyed tokens and Bloom filters of identifying fields.

    Parameters
    ----------
    key : bytes or str
        Secret key (at least 16 bytes). Prefer :meth:`from_env`, which reads it from the
        environment or a key file so that it never appears in code or configuration.

    Notes
    -----
    Token of field ``f`` with normalised value ``v``: the first 128 bits, in hex, of
    ``HMAC-SHA256(key, f + "\\x1f" + v)``. The field name is part of the message so that equal
    values in different fields give different tokens. Bloom filter: ``BLOOM_BITS`` bits; each
    letter bigram of each name part (padded with ``_``) sets ``12`` bits at positions taken from
    ``HMAC-SHA256(key, "bloom\\x1f" + bigram)``.

    Keyed Bloom filters resist dictionary attacks by someone without the key, but are known to be
    open to frequency-based cryptanalysis by someone holding many of them (Christen et al. 2017):
    treat files with ``key_bloom`` as confidential, like the tokens.

    Examples
    --------
    With the sample country's demonstration key (a real key never lives in the repository):

    >>> import pandas as pd
    >>> p = Pseudonymiser.from_env(key_file="data_samples/country/linkage.key")
    >>> p
    Pseudonymiser(key=<hidden>)
    >>> t = p.token("family_name", "GARBA")
    >>> len(t), t == p.token("family_name", "GARBA"), t == p.token("given_name", "GARBA")
    (32, True, False)
    >>> keys = p.key_columns(pd.DataFrame({"given_name": ["Aïssata"], "family_name": ["Garba"],
    ...                                    "date_of_birth": ["07/03/1991"]}))
    >>> keys.iloc[0].notna().to_dict()
    {'key_given': True, 'key_family': True, 'key_name': True, 'key_given_ph': True, 'key_family_ph': True, 'key_name_ph': True, 'key_dob': True, 'key_yob': True, 'key_doc': False, 'key_phone': False, 'key_bloom': True}
    """

    def __init__(self, key: bytes | str) -> None:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if len(raw) < _MIN_KEY_BYTES:
            raise LinkageKeyError(
                N_(
                    "the linkage key must be at least {min} bytes long (got {n}); generate one "
                    'with `python -c "import secrets; print(secrets.token_hex(32))"`',
                    min=_MIN_KEY_BYTES,
                    n=len(raw),
                )
            )

        def mac(message: bytes) -> hmac.HMAC:
            return hmac.new(raw, message, hashlib.sha256)

        self._mac = mac  # the key lives only in this closure: not in vars(), repr or logs
        self._bloom_cache: dict[str, int] = {}
        self._token_cache: dict[str, str] = {}  # in memory only, never written

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"

    @property
    def fingerprint(self) -> str:
        """A fingerprint of the key: the first 64 bits, in hex, of ``HMAC-SHA256(key,
        FINGERPRINT_LABEL)``. It identifies the key (two keys give different fingerprints) without
        revealing it or any token; the provider registry's ``key_fingerprint`` column and the
        ``key_fingerprint`` column of a pseudonymised submission record it, and linkage checks
        that they match the linkage key."""
        return self._mac(FINGERPRINT_LABEL).hexdigest()[:16]

    def __reduce__(self) -> Any:  # never pickle the key by accident
        raise TypeError("a Pseudonymiser holds the secret key and cannot be pickled")

    @classmethod
    def from_env(
        cls, env_var: str = KEY_ENV_VAR, key_file: str | Path | None = None
    ) -> Pseudonymiser:
        """Read the key from ``key_file`` if given, else from the environment variable ``env_var``.

        Raises
        ------
        LinkageKeyError
            When neither gives a key, or the key is shorter than 16 bytes.
        """
        if key_file is not None:
            key = read_key_file(key_file)
            try:
                return cls(key)
            except LinkageKeyError as exc:
                raise LinkageKeyError(
                    N_("key file {path}: {error}", path=key_file, error=message_of(exc))
                ) from None
        value = os.environ.get(env_var)
        if not value or not value.strip():
            raise LinkageKeyError(
                N_(
                    "no linkage key: set the environment variable {variable} or give a key file",
                    variable=env_var,
                )
            )
        try:
            return cls(value.strip())
        except LinkageKeyError as exc:
            raise LinkageKeyError(
                N_("environment variable {variable}: {error}", variable=env_var,
                   error=message_of(exc))
            ) from None  # fmt: skip

    # -- tokens -----------------------------------------------------------------------------
    def token(self, field: str, value: str | None) -> str | None:
        """Keyed token of an already normalised value (``None`` stays ``None``)."""
        if value is None:
            return None
        msg = f"{field}\x1f{value}"
        tok = self._token_cache.get(msg)
        if tok is None:
            if len(self._token_cache) > 500_000:  # names and dates repeat: bounded memo
                self._token_cache.clear()
            tok = self._mac(msg.encode()).hexdigest()[:_TOKEN_HEX]
            self._token_cache[msg] = tok
        return tok

    def _bigram_mask(self, gram: str) -> int:
        mask = self._bloom_cache.get(gram)
        if mask is None:
            digest = self._mac(f"bloom\x1f{gram}".encode()).digest()
            mask = 0
            for i in range(_BLOOM_HASHES):
                pos = int.from_bytes(digest[2 * i : 2 * i + 2], "big") % BLOOM_BITS
                mask |= 1 << pos
            self._bloom_cache[gram] = mask
        return mask

    def bloom(self, parts: Sequence[str]) -> int:
        """Bloom filter (as a Python int of ``BLOOM_BITS`` bits) of the bigrams of name parts."""
        mask = 0
        for gram in _bigrams(parts):
            mask |= self._bigram_mask(gram)
        return mask

    # -- frames -----------------------------------------------------------------------------
    def key_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Key columns (``KEY_COLUMNS``) computed from the clear identifiers of ``frame``.

        Missing identifier columns are treated as empty. Dates must already be readable (see
        :func:`normalise_birth_date`: a year only, or 1 January, gives ``key_yob`` and no
        ``key_dob``); unreadable ones raise ``ValueError``. ``key_given_ph`` and
        ``key_family_ph`` are phonetic keys of the FIRST given and the FIRST family name part
        (a second family name is often left out); ``key_name_ph`` is the token of both keys
        sorted, the same when given and family names are swapped.
        """
        n = len(frame)

        def col(name: str) -> list[Any]:
            return list(frame[name]) if name in frame.columns else [None] * n

        name_cols = ("key_given", "key_family", "key_name", "key_given_ph", "key_family_ph",
                     "key_name_ph", "key_bloom")  # fmt: skip
        # each distinct name and date keyed once in this call (names repeat: 1,000,000 records
        # held about 100,000 distinct names); nothing is kept after the call
        names: dict[tuple[Any, Any], tuple[str | None, ...]] = {}
        dates: dict[Any, tuple[str | None, str | None]] = {}
        out: dict[str, list[Any]] = {c: [] for c in KEY_COLUMNS}
        for given, family, dob, doc, phone in zip(
            col("given_name"),
            col("family_name"),
            col("date_of_birth"),
            col("document_number"),
            col("phone"),
            strict=True,
        ):
            keyed = names.get((given, family))
            if keyed is None:
                keyed = names[(given, family)] = self._name_keys(given, family)
            for c, v in zip(name_cols, keyed, strict=True):
                out[c].append(v)
            dy = dates.get(dob)
            if dy is None:
                d, y = normalise_birth_date(dob)
                dy = dates[dob] = (self.token("dob", d), self.token("yob", y))
            out["key_dob"].append(dy[0])
            out["key_yob"].append(dy[1])
            out["key_doc"].append(self.token("doc", normalise_document(doc)))
            out["key_phone"].append(self.token("phone", normalise_phone(phone)))
        return pd.DataFrame(out, index=frame.index, dtype=object)

    def _name_keys(self, given: Any, family: Any) -> tuple[str | None, ...]:
        """``key_given, key_family, key_name, key_given_ph, key_family_ph, key_name_ph,
        key_bloom`` of one given and family name."""
        g = normalise_name(given)
        f = normalise_name(family)
        gp = g.split() if g else []
        fp = f.split() if f else []
        given_ph = phonetic_key(gp[0] if gp else None)
        family_ph = phonetic_key(first_name_part(fp))
        return (
            self.token("given", g),
            self.token("family", f),
            self.token("name", " ".join(sorted(gp + fp))) if (gp and fp) else None,
            self.token("given_ph", given_ph),
            self.token("family_ph", family_ph),
            self.token("name_ph", " ".join(sorted((given_ph, family_ph))))
            if given_ph and family_ph
            else None,
            format(self.bloom(gp + fp), f"0{BLOOM_BITS // 4}x") if (gp or fp) else None,
        )

    def pseudonymise(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its clear identifier columns replaced by the key columns, and a
        ``key_fingerprint`` column (:attr:`fingerprint`) saying which key made them."""
        keys = self.key_columns(frame)
        rest = frame.drop(columns=[c for c in IDENTIFIER_COLUMNS if c in frame.columns])
        rest = rest.drop(columns=[c for c in (*KEY_COLUMNS, FINGERPRINT_COLUMN) if c in rest])
        out = pd.concat([rest, keys], axis=1)
        out[FINGERPRINT_COLUMN] = self.fingerprint
        return out


def bloom_hex_to_words(values: Sequence[str | None]) -> np.ndarray:
    """``(n, BLOOM_WORDS)`` int64 array from hex Bloom filters (missing -> all zero)."""
    out = np.zeros((len(values), BLOOM_WORDS), dtype=np.uint64)
    nhex = BLOOM_BITS // 4
    for i, v in enumerate(values):
        if isinstance(v, str) and v:
            raw = bytes.fromhex(v.rjust(nhex, "0"))
            out[i] = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
    return out.view(np.int64)


def read_key_file(path: str | Path) -> bytes:
    """The key held by a key file: UTF-8 text of exactly one line (surrounding spaces and a
    final newline ignored).

    A file with a second non-empty line (a comment, a rotated key) is refused rather than used
    whole or cut silently: a wrong key links nothing with the providers' tokens and says nothing.

    Raises
    ------
    LinkageKeyError
        Naming the file: missing, a folder, not UTF-8 text, empty, more than one line, or a key
        shorter than 16 bytes.
    """
    from fl_estimate.exceptions import InputValidationError
    from fl_estimate.tabular import read_text_file

    path = Path(path)
    try:
        text = read_text_file(path, what="key file")
    except InputValidationError as exc:
        raise LinkageKeyError(
            N_("key file {path}: {error}", path=path, error=exc.problems[0].message)
        ) from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise LinkageKeyError(
            N_("key file {path} is empty; it must hold the key on one line", path=path)
        )
    if len(lines) > 1:
        raise LinkageKeyError(
            N_(
                "key file {path} has {n} non-empty lines; it must hold the key alone on one line "
                "(remove comments and old keys)",
                path=path,
                n=len(lines),
            )
        )
    try:
        return lines[0].encode("utf-8")
    except UnicodeEncodeError:  # pragma: no cover - decoded from UTF-8 above
        raise LinkageKeyError(N_("key file {path} is not UTF-8 text", path=path)) from None
