"""Synthetic countries whose names look like real ones: the profiles of the linkage benchmark.

The sample country of :mod:`.synthetic` draws family names from invented syllables, so almost no
two people share a name and linkage is easy. Case records of a real country are not like that: a
few dozen given names and family names cover most people, the same name is spelled several ways,
families share a name, an address and a phone, birth dates are often unknown and written as 1
January of a guessed year. A :class:`CountryProfile` describes such a country; its defaults are
the documented parameters of issue 21, so that the benchmark's targets mean something:

==========================================  ======================================================
about 40 given names per sex                ``given_per_sex=40``, drawn with Zipf exponent 1.1
60 family names per region                  ``family_per_region=60``, Zipf 1.1; each region ranks
                                            the national list a little differently
30% of people in households of 2-5          ``household_share=0.30``; members share family name,
                                            address (not in the submission format: they share
                                            the region) and phone, and a provider that finds
                                            several often finds them on the same day
15% of name parts in a variant spelling     ``variant_rate=0.15`` (of the parts that have one)
20% of birth dates unknown, as 01/01/YYYY   ``dob_placeholder_rate=0.20``
10% of birth dates year only                ``dob_year_only_rate=0.10`` (see ``year_only_as``)
a typing error in 5% of name parts          ``typo_rate=0.05``
given and family name swapped in 5%         ``swap_rate=0.05`` (of records)
document numbers for 60% of police and      ``document_rate`` of the provider specs; the other
courts records only                         providers never record one
ages estimated to the nearest 5 years       ``age_rounded_rate=0.20`` (of records)
accents dropped or kept                     each provider keeps accents on 90% of its records
                                            or drops them on 90%
==========================================  ======================================================

Three profiles: ``sahel`` (French, Hausa, Zarma, Fulfulde and Arabic names; Mohamed / Mouhamed /
Mahamadou / Muhammad), ``latin`` (Spanish and Portuguese names, compound given names, two
family names of which providers often write one, accents) and ``south_asia`` (Bengali, Hindi,
Nepali and Urdu names, Md for Mohammad). Name pools are the TOML files of ``name_pools/`` (see
its README for their nature and source). Each profile comes in sizes ``small`` (about 500
records: 2 regions x 2 years, 4 providers), ``large`` (about 100,000: 8 regions x 3 years) and
``xlarge`` (about 1,000,000), or any number of records.

Beyond the issue's parameters, ``return_rate`` (0 in the profiles) makes some of each year's
population people of the same region the year before, with the same identity: a person can then
be identified in two years, as victims who return to a provider or are exploited again are. The
benchmark's variant ``sahel-return`` (``benchmarks/linkage.py --incremental``) measures whether
a linkage year by year finds them again.

Every random stream derives from one :class:`numpy.random.SeedSequence` by a stable key
(``("capture", region, year)``, ``("records", provider, region, year)``, ...), never by
position: adding a region, a year or a provider leaves the others' draws unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import resources
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import N_
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.providers.synthetic import SAMPLE_KEY, Country, typo_word
from fl_estimate.simulate import simulate

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROFILES",
    "PROFILE_NAMES",
    "SIZES",
    "CountryProfile",
    "NamePool",
    "ProviderSpec",
    "expected_records_per_person",
    "keyed_rng",
    "load_name_pool",
    "make_profile_country",
]


@dataclass(frozen=True)
class ProviderSpec:
    """One data provider of a profile country.

    Attributes
    ----------
    name, entity_type : str
        Provider code and IC-TIP reporting-entity type (as in the provider registry).
    frequency : {"quarterly", "annual"}
        Reporting period of its submissions.
    capture_prob : float
        Probability of finding a person of the hard-to-find latent class in their year; the
        easy class has ``CountryProfile.easy_class_factor`` times it (at most 0.9).
    document_rate : float
        Share of its records that carry the person's document number.
    phone_rate : float
        Share of its records of people with a phone that carry the number.
    date_format : str
        How it writes dates of birth (``strftime``).
    pseudonymous : bool
        Submits keyed tokens instead of clear identifiers.
    """

    name: str
    entity_type: str
    frequency: str
    capture_prob: float
    document_rate: float
    phone_rate: float
    date_format: str
    pseudonymous: bool = False


#: Police and courts record document numbers (60% of records), the others never (issue 21).
DEFAULT_PROVIDERS = (
    ProviderSpec("police", "law_enforcement", "quarterly", 0.25, 0.6, 0.3, "%d/%m/%Y"),
    ProviderSpec("courts", "court_judiciary", "annual", 0.12, 0.6, 0.0, "%Y-%m-%d"),
    ProviderSpec("ngo", "ngo_service_provider", "quarterly", 0.22, 0.0, 0.6, "%d/%m/%Y"),
    ProviderSpec("social_services", "other_government", "quarterly", 0.18, 0.0, 0.5, "%d.%m.%Y"),
)

_EXPLOITATION = (
    ("ForcedLabour", 0.42),
    ("SexualExploitation", 0.30),
    ("ForcedBegging", 0.10),
    ("ForcedMarriage", 0.06),
    ("Servitude", 0.07),
    ("ForcedLabour;SexualExploitation", 0.05),
)


@dataclass(frozen=True)
class CountryProfile:
    """What a synthetic country's people are called and how providers write them down.

    Rates are probabilities per record unless said otherwise. The defaults are the documented
    parameters of the linkage benchmark (issue 21; see the module docstring).

    Attributes
    ----------
    name : str
        Profile name.
    pool : str
        Name pool (a file ``name_pools/<pool>.toml``).
    regions : tuple of str
        Regions, in the order sizes use them (``small`` takes the first two).
    nationalities : tuple of (code, share)
        ISO 3166-1 alpha-3 codes and their shares (a household shares one).
    document_prefix : str
        Letters before the digits of a document number.
    document_digits, phone_digits : int
        Digits of a document number's serial and of a local phone number. A document number is
        the prefix, two digits of the issuing office (region and last digit of the year) and
        the serial, distinct within the stratum: no two people share one.
    phone_country : str
        International prefix written before some phone numbers.
    phone_lead : str
        First digit of local (mobile) phone numbers.
    providers : tuple of ProviderSpec
    given_per_sex : int
        Given names in use per sex (the first of the pool's list).
    family_per_region : int
        Family names in use per region.
    zipf_exponent : float
        Name of rank r drawn with probability proportional to ``r ** -zipf_exponent``.
    regional_spread : float
        Standard deviation of the noise added to the log national rank of a family name when a
        region ranks the list (0: every region uses the national order).
    second_given_rate : float
        Share of people with a second given name.
    second_given_dropped_rate : float
        Share of records of such people that write only the first.
    family_parts : {1, 2}
        Family names per person (2: paternal and maternal, as in Spanish and Portuguese usage).
    second_family_dropped_rate : float
        With two family names, share of records that write only the first.
    household_share : float
        Share of people (per stratum and latent class) living in a household of 2-5 people.
    household_size_weights : tuple of float
        Relative frequencies of household sizes 2, 3, 4, 5.
    household_phone_rate : float
        Share of households with a phone (shared by all members).
    household_together_rate : float
        Probability that a provider finding two members of a household records the second on
        the day it recorded the first.
    phone_rate : float
        Share of people outside households with a phone.
    variant_rate : float
        Probability that a name part with variant spellings is written in one of them.
    accent_consistency : float
        Share of a provider's records that follow its accent habit (keep or drop, half the
        providers each).
    typo_rate : float
        Probability of a typing error in a written name part.
    swap_rate : float
        Probability that a record has given and family names swapped.
    given_missing_rate : float
        Probability that a record has no given name.
    dob_placeholder_rate, dob_year_only_rate : float
        Shares of records whose date of birth is unknown and written as 1 January of the
        (true) year of birth, or as the year only. The person does not know the date: every
        record of them is one of the two, in these proportions.
    year_only_as : {"blank", "year"}
        How a year-only date of birth is written: ``blank`` leaves the field empty (the
        submission format has no year-only date; the age is still given), ``year`` writes the
        four digits (which the submission validation rejects today; pseudonymous providers
        leave it blank, as the pseudonymiser reads full dates only).
    dob_missing_rate : float
        Share of the records of people who know their date of birth that leave it out.
    day_month_swap_rate : float
        Share of those that swap day and month (when the day is 12 or less).
    age_rounded_rate : float
        Share of records whose age is an estimate to the nearest 5 years.
    age_missing_rate : float
        Share of records with an age band (child/adult) instead of an age.
    sex_unknown_rate : float
        Share of records with sex ``unknown``.
    document_format_rate : float
        Share of recorded document numbers written with spaces and a hyphen.
    duplicate_rate : float
        Probability that a provider records a person twice in the year.
    child_share, female_share : float
        Shares of children (8-17 years) and of women and girls.
    class_weights : tuple of float
        Shares of the hard- and easy-to-find latent classes (household members share one).
    easy_class_factor : float
        Capture probabilities of the easy class over those of the hard one.
    dependence : tuple of ((list_a, list_b), odds ratio)
        List dependence of :func:`fl_estimate.simulate.simulate` (courts mostly hear cases the
        police found).
    return_rate : float
        Share of a stratum's population, in each year after the first, who are people of the
        same region's population the year before: the same person (``person`` of the truth),
        sex, names, date of birth (and whether it is known), document, phone, nationality and
        household label; whether and by whom they are found is drawn again. Those who were
        found both years are identified again: the truth counts a person once, in the stratum
        of the first identification, as the linkage does. 0 (the default): every stratum holds
        other people.
    """

    name: str
    pool: str
    regions: tuple[str, ...]
    nationalities: tuple[tuple[str, float], ...]
    document_prefix: str
    document_digits: int
    phone_country: str
    phone_digits: int
    phone_lead: str = "9"
    providers: tuple[ProviderSpec, ...] = DEFAULT_PROVIDERS
    given_per_sex: int = 40
    family_per_region: int = 60
    zipf_exponent: float = 1.1
    regional_spread: float = 0.7
    second_given_rate: float = 0.10
    second_given_dropped_rate: float = 0.20
    family_parts: int = 1
    second_family_dropped_rate: float = 0.30
    household_share: float = 0.30
    household_size_weights: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
    household_phone_rate: float = 0.8
    household_together_rate: float = 0.7
    phone_rate: float = 0.5
    variant_rate: float = 0.15
    accent_consistency: float = 0.9
    typo_rate: float = 0.05
    swap_rate: float = 0.05
    given_missing_rate: float = 0.02
    dob_placeholder_rate: float = 0.20
    dob_year_only_rate: float = 0.10
    year_only_as: str = "blank"
    dob_missing_rate: float = 0.05
    day_month_swap_rate: float = 0.02
    age_rounded_rate: float = 0.20
    age_missing_rate: float = 0.10
    sex_unknown_rate: float = 0.02
    document_format_rate: float = 0.3
    duplicate_rate: float = 0.03
    child_share: float = 0.20
    female_share: float = 0.55
    class_weights: tuple[float, float] = (0.75, 0.25)
    easy_class_factor: float = 2.2
    dependence: tuple[tuple[tuple[str, str], float], ...] = ((("police", "courts"), 3.0),)
    return_rate: float = 0.0

    def __post_init__(self) -> None:
        rates = {
            k: v for k, v in asdict(self).items() if k.endswith(("_rate", "_share", "_consistency"))
        }
        bad = {k: v for k, v in rates.items() if not 0 <= v <= 1}
        if bad:
            raise ModelSpecificationError(N_("rates must lie in [0, 1]: {bad}", bad=bad))
        if self.dob_placeholder_rate + self.dob_year_only_rate > 1:
            raise ModelSpecificationError(N_("dob_placeholder_rate + dob_year_only_rate exceed 1"))
        if self.family_parts not in (1, 2):
            raise ModelSpecificationError(
                N_("family_parts must be 1 or 2, not {value}", value=self.family_parts)
            )
        if self.year_only_as not in ("blank", "year"):
            raise ModelSpecificationError(N_("year_only_as must be 'blank' or 'year'"))
        if len(self.household_size_weights) != 4:
            raise ModelSpecificationError(N_("household_size_weights: 4 weights (sizes 2 to 5)"))
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names) or len(names) < 2:
            raise ModelSpecificationError(
                N_("need at least 2 distinct providers, got {names}", names=names)
            )
        unknown = sorted({x for pair, _ in self.dependence for x in pair} - set(names))
        if unknown:
            raise ModelSpecificationError(
                N_(
                    "dependence names providers {unknown} that the profile does not have ({names})",
                    unknown=unknown,
                    names=names,
                )
            )

    @property
    def provider_names(self) -> list[str]:
        return [p.name for p in self.providers]

    def capture_probs(self) -> np.ndarray:
        """``(2, K)`` capture probabilities of the hard and easy latent classes."""
        base = np.array([p.capture_prob for p in self.providers])
        return np.vstack([base, np.clip(base * self.easy_class_factor, 0.01, 0.9)])


#: Profiles whose country and names are the files ``name_pools/<name>.toml``.
PROFILE_NAMES = ("sahel", "latin", "south_asia")


def _profile_from_file(name: str) -> CountryProfile:
    table = dict(_read_pool_file(name)["profile"])
    table["regions"] = tuple(table["regions"])
    table["nationalities"] = tuple((str(k), float(v)) for k, v in table["nationalities"].items())
    return CountryProfile(name=name, pool=name, **table)


#: size name -> (records aimed at, regions used, years).
SIZES: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "small": (500, 2, (2022, 2023)),
    "large": (100_000, 8, (2021, 2022, 2023)),
    "xlarge": (1_000_000, 8, (2021, 2022, 2023)),
}


@dataclass(frozen=True)
class NamePool:
    """A profile's names: every entry is a tuple of spellings, the usual one first."""

    name: str
    description: str
    given: Mapping[str, tuple[tuple[str, ...], ...]]
    family: tuple[tuple[str, ...], ...]


@cache
def _read_pool_file(name: str) -> dict[str, Any]:
    res = resources.files("fl_estimate.providers").joinpath("name_pools", f"{name}.toml")
    if not res.is_file():
        raise ModelSpecificationError(
            N_("no name pool {name!r} (known: {known})", name=name, known=", ".join(PROFILE_NAMES))
        )
    return tomllib.loads(res.read_text(encoding="utf-8"))


def load_name_pool(name: str) -> NamePool:
    """The names of ``name_pools/<name>.toml`` (see its README for the format and nature)."""
    doc = _read_pool_file(name)

    def entries(values: Sequence[str]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(s.strip() for s in v.split("|")) for v in values)

    return NamePool(
        name=doc["name"],
        description=" ".join(doc["description"].split()),
        given={sex: entries(doc["given"][sex]) for sex in ("F", "M")},
        family=entries(doc["family"]["names"]),
    )


PROFILES: dict[str, CountryProfile] = {name: _profile_from_file(name) for name in PROFILE_NAMES}


def keyed_rng(seed: int | np.random.SeedSequence, *key: object) -> np.random.Generator:
    """A random generator derived from ``seed`` by a stable key (not by position).

    The key's text is hashed (SHA-256) into the ``spawn_key`` of a child
    :class:`~numpy.random.SeedSequence`, so that the stream of ``("records", "police",
    "Niamey", 2022)`` is the same whatever other streams exist.
    """
    text = "\x1f".join(map(str, key)).encode()
    digest = hashlib.sha256(text).digest()
    words = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    if isinstance(seed, np.random.SeedSequence):
        ss = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *words))
    else:
        ss = np.random.SeedSequence(int(seed), spawn_key=words)
    return np.random.default_rng(ss)


def _zipf(n: int, s: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=float) ** -s
    return w / w.sum()


def expected_records_per_person(profile: CountryProfile) -> tuple[float, float]:
    """Expected records per member of the population, and the expected share observed.

    Exact for the profile's capture model (latent classes and list dependence), by enumerating
    the capture patterns; duplicates included in the first.
    """
    probs = profile.capture_probs()
    names = profile.provider_names
    k = len(names)
    log_or = np.zeros((k, k))
    for (a, b), ratio in profile.dependence:
        log_or[names.index(a), names.index(b)] = np.log(ratio)
    records = observed = 0.0
    for w, p in zip(profile.class_weights, probs, strict=True):
        lp = np.log(p) - np.log1p(-p)
        for pattern in product((0, 1), repeat=k):
            x = np.array(pattern, dtype=float)
            prob = 1.0
            for j in range(k):
                pj = 1.0 / (1.0 + np.exp(-(lp[j] + x[:j] @ log_or[:j, j])))
                prob *= pj if x[j] else 1 - pj
            records += w * prob * x.sum()
            observed += w * prob * (x.sum() > 0)
    return records * (1 + profile.duplicate_rate), observed


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def _regional_family(
    profile: CountryProfile, pool: NamePool, region: str, seed: int | np.random.SeedSequence
) -> tuple[tuple[str, ...], ...]:
    """The region's family names, in its own order of frequency (first ``family_per_region``)."""
    n = min(profile.family_per_region, len(pool.family))
    rng = keyed_rng(seed, "family_pool", region)
    score = np.log(np.arange(1, len(pool.family) + 1)) + profile.regional_spread * rng.normal(
        size=len(pool.family)
    )
    order = np.argsort(score, kind="stable")[:n]
    return tuple(pool.family[i] for i in order)


def _households(
    latent: np.ndarray, share: float, weights: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Household number of each person (-1: lives alone), households within a latent class."""
    out = np.full(len(latent), -1, dtype=np.int64)
    p = np.asarray(weights, float) / np.sum(weights)
    next_id = 0
    for cls in np.unique(latent):
        members = rng.permutation(np.flatnonzero(latent == cls))
        target = round(share * len(members))
        pos = 0
        while target - pos >= 2:
            size = min(int(rng.choice(4, p=p)) + 2, target - pos)
            out[members[pos : pos + size]] = next_id
            next_id += 1
            pos += size
    return out


def _distinct(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """``values`` made distinct without further draws: a repeat moves to the next free number."""
    out = values.copy()
    seen: set[int] = set()
    for i, v in enumerate(out.tolist()):
        while v in seen:
            v = low + (v + 1 - low) % (high - low)
        seen.add(v)
        out[i] = v
    return out


def _people(
    profile: CountryProfile,
    pool: NamePool,
    family_pool: tuple[tuple[str, ...], ...],
    region: str,
    year: int,
    population: pd.DataFrame,
    seed: int | np.random.SeedSequence,
) -> pd.DataFrame:
    """Identities of a stratum's population (observed or not), households included."""
    n = len(population)
    rng = keyed_rng(seed, "people", region, year)
    hh = _households(
        population["latent_class"].to_numpy(),
        profile.household_share,
        profile.household_size_weights,
        keyed_rng(seed, "households", region, year),
    )
    n_given = {s: min(profile.given_per_sex, len(pool.given[s])) for s in ("F", "M")}
    sex = np.where(rng.random(n) < profile.female_share, "F", "M")
    wg = {s: _zipf(n_given[s], profile.zipf_exponent) for s in ("F", "M")}
    wf = _zipf(len(family_pool), profile.zipf_exponent)
    given1 = np.empty(n, dtype=np.int64)
    given2 = np.full(n, -1, dtype=np.int64)
    second = rng.random(n) < profile.second_given_rate
    for s in ("F", "M"):
        idx = np.flatnonzero(sex == s)
        g1 = rng.choice(n_given[s], size=len(idx), p=wg[s])
        g2 = rng.choice(n_given[s], size=len(idx), p=wg[s])
        g2 = np.where(g2 == g1, (g1 + 1) % n_given[s], g2)  # a second name unlike the first
        given1[idx] = g1
        given2[idx] = np.where(second[idx], g2, -1)
    fam = rng.choice(len(family_pool), size=(n, 2), p=wf)
    fam[:, 1] = np.where(fam[:, 1] == fam[:, 0], (fam[:, 1] + 1) % len(family_pool), fam[:, 1])
    if profile.family_parts == 1:
        fam[:, 1] = -1
    child = rng.random(n) < profile.child_share
    age_mid = np.where(child, rng.integers(8, 18, size=n), rng.integers(18, 61, size=n))
    # born in the 365 days up to 1 July of (year - age_mid): aged age_mid on 1 July of the year
    offset = rng.integers(0, 365, size=n)
    dob = pd.to_datetime(
        {"year": year - age_mid, "month": np.full(n, 7), "day": np.full(n, 1)}
    ) - pd.to_timedelta(offset, unit="D")
    dob_unknown = rng.random(n) < profile.dob_placeholder_rate + profile.dob_year_only_rate
    low, high = 10 ** (profile.document_digits - 1), 10**profile.document_digits
    serial = _distinct(rng.integers(low, high, n), low, high)
    # two digits of the issuing office (region and year): unique across strata as well
    office = f"{(profile.regions.index(region) + 1) % 10 if region in profile.regions else 0}"
    doc = [f"{profile.document_prefix}{office}{year % 10}{v}" for v in serial]
    own_phone = rng.random(n) < profile.phone_rate
    phone = np.array(
        [
            f"{profile.phone_lead}{v:0{profile.phone_digits - 1}d}"
            for v in rng.integers(0, 10 ** (profile.phone_digits - 1), n)
        ],
        dtype=object,
    )
    codes = [c for c, _ in profile.nationalities]
    shares = np.array([s for _, s in profile.nationalities])
    nationality = rng.choice(codes, size=n, p=shares / shares.sum())
    forms = [f for f, _ in _EXPLOITATION]
    fshares = np.array([s for _, s in _EXPLOITATION])
    exploit = rng.choice(forms, size=n, p=fshares / fshares.sum())
    # households share the first member's family name(s), phone and nationality
    frame = pd.DataFrame({"hh": hh, "i": np.arange(n)})
    in_hh = hh >= 0
    head = frame[in_hh].groupby("hh")["i"].transform("min").to_numpy()
    members = np.flatnonzero(in_hh)
    fam[members] = fam[head]
    nationality[members] = nationality[head]
    hh_phone = rng.random(n) < profile.household_phone_rate
    phone[members] = phone[head]
    own_phone[members] = hh_phone[head]
    return pd.DataFrame(
        {
            "household": hh,
            "sex": sex,
            "given1": given1,
            "given2": given2,
            "family1": fam[:, 0],
            "family2": fam[:, 1],
            "child": child,
            "date_of_birth": dob.dt.strftime("%Y-%m-%d").to_numpy(),
            "dob_known": ~dob_unknown,
            "document": doc,
            "phone": np.where(own_phone, phone, ""),
            "nationality": nationality,
            "exploitation": exploit,
        }
    )


@dataclass(frozen=True)
class _Habits:
    """How one provider writes names (drawn once per provider and seed)."""

    keep_accents: bool
    style: str  # title, upper, or mixed (family name upper-case on half the records)


def _habits(spec: ProviderSpec, seed: int | np.random.SeedSequence) -> _Habits:
    rng = keyed_rng(seed, "habits", spec.name)
    keep = bool(rng.random() < 0.5)
    style = str(rng.choice(["title", "upper", "mixed"], p=[0.4, 0.3, 0.3]))
    return _Habits(keep, style)


# columns of the per-record uniform draws
_U_SWAP, _U_NOGIVEN, _U_DROP_G2, _U_DROP_F2 = 0, 1, 2, 3
_U_VARIANT, _U_CHOICE, _U_TYPO = 4, 8, 12  # 4 name slots each: given1, given2, family1, family2
_U_ACCENT, _U_CASE, _U_DOB_KIND, _U_DOB_MISSING, _U_DM_SWAP = 16, 17, 18, 19, 20
_U_AGE, _U_SEX, _U_DOC, _U_DOC_FMT, _U_PHONE, _U_PHONE_FMT = 21, 22, 23, 24, 25, 26
_N_U = 27


def _records(
    profile: CountryProfile,
    pool: NamePool,
    family_pool: tuple[tuple[str, ...], ...],
    spec: ProviderSpec,
    habits: _Habits,
    region: str,
    year: int,
    who: pd.DataFrame,
    seed: int | np.random.SeedSequence,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One provider's records of the people it found in a stratum, and their truth."""
    rng = keyed_rng(seed, "records", spec.name, region, year)
    n0 = len(who)
    copies = 1 + (rng.random(n0) < profile.duplicate_rate).astype(np.int64)
    idx = np.repeat(np.arange(n0), copies)
    copy = np.concatenate([np.arange(c) for c in copies]) if n0 else np.zeros(0, np.int64)
    n = len(idx)
    start = dt.date(year, 1, 1).toordinal()
    n_days = dt.date(year, 12, 31).toordinal() - start + 1
    day = rng.integers(0, n_days, size=n)
    hh = who["household"].to_numpy()[idx]
    grouped = (hh >= 0) & (copy == 0)
    key = np.where(grouped, hh, -1 - np.arange(n))
    by_key = pd.Series(day).groupby(key)
    first_day = by_key.transform("first").to_numpy()
    later = grouped & (by_key.cumcount().to_numpy() > 0)  # not the first member it found
    together = later & (rng.random(n) < profile.household_together_rate)
    day = np.where(together, first_day, day)
    u = rng.random((n, _N_U))
    unknown_split = profile.dob_placeholder_rate / max(
        profile.dob_placeholder_rate + profile.dob_year_only_rate, 1e-12
    )
    cols = {c: who[c].to_numpy() for c in who.columns}
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    for r in range(n):
        i = int(idx[r])
        sex = str(cols["sex"][i])
        given_pool = pool.given[sex]
        slots: list[tuple[int, tuple[str, ...]]] = []  # (slot, entry)
        no_given = u[r, _U_NOGIVEN] < profile.given_missing_rate
        if not no_given:
            slots.append((0, given_pool[cols["given1"][i]]))
            if cols["given2"][i] >= 0 and u[r, _U_DROP_G2] >= profile.second_given_dropped_rate:
                slots.append((1, given_pool[cols["given2"][i]]))
        slots.append((2, family_pool[cols["family1"][i]]))
        if cols["family2"][i] >= 0 and u[r, _U_DROP_F2] >= profile.second_family_dropped_rate:
            slots.append((3, family_pool[cols["family2"][i]]))
        keep_accents = habits.keep_accents == (u[r, _U_ACCENT] < profile.accent_consistency)
        given_parts: list[str] = []
        family_parts: list[str] = []
        eligible = variants = typos = 0
        for slot, entry in slots:
            word = entry[0]
            if len(entry) > 1:
                eligible += 1
                if u[r, _U_VARIANT + slot] < profile.variant_rate:
                    word = entry[1 + int(u[r, _U_CHOICE + slot] * (len(entry) - 1))]
                    variants += 1
            if not keep_accents:
                word = _strip_accents(word)
            if u[r, _U_TYPO + slot] < profile.typo_rate:
                word = typo_word(word, rng)
                typos += 1
            (given_parts if slot < 2 else family_parts).append(word)
        given, family = " ".join(given_parts), " ".join(family_parts)
        swapped = bool(u[r, _U_SWAP] < profile.swap_rate)
        if swapped:
            given, family = family, given
        if habits.style == "upper":
            given, family = given.upper(), family.upper()
        elif habits.style == "mixed" and u[r, _U_CASE] < 0.5:
            family = family.upper()
        date = dt.date.fromordinal(start + int(day[r]))
        born = dt.date.fromisoformat(str(cols["date_of_birth"][i]))
        dm_swapped = False
        if cols["dob_known"][i]:
            if u[r, _U_DOB_MISSING] < profile.dob_missing_rate:
                dob_kind, dob = "missing", ""
            else:
                dob_kind, shown = "full", born
                if u[r, _U_DM_SWAP] < profile.day_month_swap_rate and born.day <= 12 != born.month:
                    shown = dt.date(born.year, born.day, born.month)
                    dm_swapped = shown != born
                dob = shown.strftime(spec.date_format)
        elif u[r, _U_DOB_KIND] < unknown_split:
            dob_kind = "placeholder"
            dob = dt.date(born.year, 1, 1).strftime(spec.date_format)
        else:
            dob_kind = "year_only"
            as_year = profile.year_only_as == "year" and not spec.pseudonymous
            dob = str(born.year) if as_year else ""
        age = date.year - born.year - ((date.month, date.day) < (born.month, born.day))
        a = u[r, _U_AGE]
        rec_age: Any = age
        band = ""
        if a < profile.age_missing_rate:
            age_kind, rec_age, band = "missing", "", ("child" if age < 18 else "adult")
        elif a < profile.age_missing_rate + profile.age_rounded_rate:
            age_kind, rec_age = "rounded", max(5, 5 * round(age / 5))
        else:
            age_kind = "exact"
        doc = ""
        if u[r, _U_DOC] < spec.document_rate:
            doc = str(cols["document"][i])
            if u[r, _U_DOC_FMT] < profile.document_format_rate:
                doc = f"{doc[:2]} {doc[2:5]}-{doc[5:]}"
        phone = ""
        own = str(cols["phone"][i])
        if own and u[r, _U_PHONE] < spec.phone_rate:
            phone = own
            if u[r, _U_PHONE_FMT] < 0.5:
                phone = f"{profile.phone_country} {own[:2]} {own[2:4]} {own[4:6]} {own[6:]}"
        rows.append(
            {
                "provider": spec.name,
                "period": str(year)
                if spec.frequency == "annual"
                else f"{year}-Q{(date.month - 1) // 3 + 1}",
                "record_id": "",
                "region": region,
                "date_identified": date.isoformat(),
                "sex": sex if u[r, _U_SEX] >= profile.sex_unknown_rate else "unknown",
                "age": rec_age,
                "age_band": band,
                "nationality": cols["nationality"][i],
                "exploitation": cols["exploitation"][i],
                "given_name": given,
                "family_name": family,
                "date_of_birth": dob,
                "document_number": doc,
                "phone": phone,
            }
        )
        truth.append(
            {
                "provider": spec.name,
                "record_id": "",
                "person": int(cols["person"][i]),
                "household": int(cols["household"][i]),
                "region": region,
                "year": year,
                "copy": int(copy[r]),
                "together": bool(together[r]),
                "name_parts": len(slots),
                "variant_eligible": eligible,
                "variant_parts": variants,
                "typo_parts": typos,
                "swapped": swapped,
                "given_missing": bool(no_given),
                "dob_kind": dob_kind,
                "day_month_swapped": dm_swapped,
                "age_kind": age_kind,
                "document_recorded": doc != "",
                "phone_recorded": phone != "",
            }
        )
    return rows, truth


def _layout(
    size: str | int, regions: Sequence[str] | int | None, years: Sequence[int] | None
) -> tuple[int, int | Sequence[str], tuple[int, ...]]:
    if isinstance(size, str):
        if size not in SIZES:
            raise ModelSpecificationError(
                N_("size must be one of {sizes} or a number", sizes=", ".join(SIZES))
            )
        target, n_regions, default_years = SIZES[size]
    else:
        target = int(size)
        if target < 1:
            raise ModelSpecificationError(
                N_("size must be a positive number of records, not {size}", size=size)
            )
        _, n_regions, default_years = SIZES["large" if target > 20_000 else "small"]
    return (
        target,
        n_regions if regions is None else regions,
        tuple(default_years if years is None else years),
    )


def make_profile_country(
    profile: str | CountryProfile = "sahel",
    size: str | int = "small",
    *,
    regions: Sequence[str] | int | None = None,
    years: Sequence[int] | None = None,
    seed: int | np.random.SeedSequence = 20240601,
    key: str = SAMPLE_KEY,
    **overrides: Any,
) -> Country:
    """A synthetic country of a profile, with its providers' submissions and the known truth.

    Parameters
    ----------
    profile : str or CountryProfile
        ``sahel``, ``latin``, ``south_asia`` (see :data:`PROFILES`) or a profile.
    size : {"small", "large", "xlarge"} or int
        About 500, 100,000 or 1,000,000 records, or the number of records aimed at. The
        population of every stratum is the same, ``records / (strata x expected records per
        person)`` (see :func:`expected_records_per_person`), so the count is near, not equal.
    regions : int or sequence of str, optional
        How many of the profile's regions, or which (default: 2 for ``small``, 8 otherwise).
    years : sequence of int, optional
        Years of identification (default 2022-2023 for ``small``, 2021-2023 otherwise).
    seed : int or SeedSequence
        Root of every random stream; the same seed gives the same country.
    key : str
        Linkage key of the pseudonymous providers.
    **overrides
        Profile attributes to change (e.g. ``typo_rate=0.1``).

    Returns
    -------
    Country
        ``submissions`` (the submission format of :mod:`.submissions`), ``registry``,
        ``population`` (``region, year, N``), ``truth`` (one row per record: ``provider,
        record_id, person, household, region, year, copy`` (0, or 1 for a within-provider
        duplicate), ``together`` (recorded on the day of a household member), ``name_parts,
        variant_eligible, variant_parts, typo_parts, swapped, given_missing, dob_kind`` (full,
        placeholder, year_only, missing), ``day_month_swapped, age_kind`` (exact, rounded,
        missing), ``document_recorded, phone_recorded``), ``histories`` (true capture
        histories: ``person``, 0/1 per provider, ``region, year``) and ``people`` (each
        observed person's ``person, region, year, household, sex, given_name, family_name,
        date_of_birth, dob_known, document, phone``).

    Examples
    --------
    >>> c = make_profile_country("sahel", "small", seed=1)
    >>> sorted(c.population["region"].unique())
    ['Niamey', 'Tillaberi']
    """
    prof = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else profile
    if not isinstance(prof, CountryProfile):
        raise ModelSpecificationError(
            N_(
                "unknown profile {profile!r}; choose one of {choices}",
                profile=profile,
                choices=", ".join(PROFILES),
            )
        )
    if overrides:
        prof = replace(prof, **overrides)
    target, reg, yrs = _layout(size, regions, years)
    region_list = list(prof.regions[:reg]) if isinstance(reg, int) else list(reg)
    if not region_list or not yrs:
        raise ModelSpecificationError("need at least one region and one year")
    pool = load_name_pool(prof.pool)
    per_person, _ = expected_records_per_person(prof)
    n_strata = len(region_list) * len(yrs)
    size_n = max(1, round(target / (n_strata * per_person)))
    names = prof.provider_names
    habits = {s.name: _habits(s, seed) for s in prof.providers}
    rows: dict[str, list[dict[str, Any]]] = {p: [] for p in names}
    truth: dict[str, list[dict[str, Any]]] = {p: [] for p in names}
    people_frames, history_frames, population = [], [], []
    offset = 0
    for region in region_list:
        family_pool = _regional_family(prof, pool, region, seed)
        before: pd.DataFrame | None = None  # the region's population of the year before
        for year in yrs:
            sim = simulate(
                size_n,
                names,
                capture_probs=prof.capture_probs().tolist(),
                class_weights=list(prof.class_weights),
                dependence=dict(prof.dependence),
                seed=keyed_rng(seed, "capture", region, year),
            )
            pop = sim.population.reset_index(drop=True)
            people = _people(prof, pool, family_pool, region, year, pop, seed)
            people["person"] = offset + pop["person"].to_numpy()
            people["household"] = np.where(
                people["household"] >= 0, offset + people["household"], -1
            )
            if before is not None and prof.return_rate > 0:
                people = _returning(people, before, prof.return_rate, seed, region, year)
            before = people.copy()
            people["region"], people["year"] = region, year
            for p in names:
                people[p] = pop[p].to_numpy()
            offset += size_n
            population.append({"region": region, "year": year, "N": size_n})
            seen = people[pop["observed"].to_numpy()].reset_index(drop=True)
            for spec in prof.providers:
                who = seen[seen[spec.name] == 1].reset_index(drop=True)
                r, t = _records(
                    prof, pool, family_pool, spec, habits[spec.name], region, year, who, seed
                )
                rows[spec.name].extend(r)
                truth[spec.name].extend(t)
            history_frames.append(seen[["person", *names, "region", "year"]])
            people_frames.append(_canonical_people(seen, pool, family_pool))
    pseudo = Pseudonymiser(key)
    submissions: dict[tuple[str, str], pd.DataFrame] = {}
    truth_frames = []
    for spec in prof.providers:
        frame = pd.DataFrame(rows[spec.name])
        known = pd.DataFrame(truth[spec.name])
        if frame.empty:
            continue
        order = np.lexsort(
            (
                known["copy"].to_numpy(),
                known["person"].to_numpy(),
                frame["date_identified"].to_numpy(),
            )
        )
        frame = frame.iloc[order].reset_index(drop=True)
        known = known.iloc[order].reset_index(drop=True)
        ids = [f"{spec.name[:3].upper()}-{k + 1:06d}" for k in range(len(frame))]
        frame["record_id"] = ids
        known["record_id"] = ids
        truth_frames.append(known)
        for period, part in frame.groupby("period", sort=True):
            part = part.reset_index(drop=True)
            if spec.pseudonymous:
                part = pseudo.pseudonymise(part)
            submissions[(spec.name, str(period))] = part
    first = {"annual": f"{yrs[0]}", "quarterly": f"{yrs[0]}-Q1"}
    registry = pd.DataFrame(
        {
            "provider": names,
            "entity_type": [s.entity_type for s in prof.providers],
            "frequency": [s.frequency for s in prof.providers],
            "regions": [";".join(region_list)] * len(names),
            "first_period": [first[s.frequency] for s in prof.providers],
            "pseudonymous": [s.pseudonymous for s in prof.providers],
            "file_format": ["csv"] * len(names),
        }
    )
    settings = {
        "profile": prof.name,
        "size": size,
        "records_aimed_at": target,
        "regions": region_list,
        "years": list(yrs),
        "seed": seed if isinstance(seed, int) else str(seed),
        "overrides": dict(overrides),
        "parameters": asdict(prof),
    }
    return Country(
        submissions=submissions,
        registry=registry,
        population=pd.DataFrame(population),
        truth=pd.concat(truth_frames, ignore_index=True),
        settings=settings,
        histories=pd.concat(history_frames, ignore_index=True),
        people=pd.concat(people_frames, ignore_index=True),
    )


#: What a returning person keeps of the year before (:func:`_returning`).
_IDENTITY = ("person", "household", "sex", "given1", "given2", "family1", "family2", "child",
             "date_of_birth", "dob_known", "document", "phone", "nationality")  # fmt: skip


def _returning(
    people: pd.DataFrame,
    before: pd.DataFrame,
    rate: float,
    seed: int | np.random.SeedSequence,
    region: str,
    year: int,
) -> pd.DataFrame:
    """``people`` with ``rate`` of its rows (at random) taking the identity of people of
    ``before`` (at random, each at most once): the same people in a later year."""
    rng = keyed_rng(seed, "return", region, year)
    k = min(round(rate * len(people)), len(before))
    new = rng.choice(len(people), size=k, replace=False)
    old = rng.choice(len(before), size=k, replace=False)
    out = people.copy()
    for col in _IDENTITY:
        values = out[col].to_numpy().copy()
        values[new] = before[col].to_numpy()[old]
        out[col] = values
    return out


def _canonical_people(
    seen: pd.DataFrame, pool: NamePool, family_pool: tuple[tuple[str, ...], ...]
) -> pd.DataFrame:
    """Observed people with their names as the generator gave them (usual spellings)."""

    def given(row: Any) -> str:
        forms = pool.given[row.sex]
        parts = [forms[row.given1][0]] + ([forms[row.given2][0]] if row.given2 >= 0 else [])
        return " ".join(parts)

    def family(row: Any) -> str:
        parts = [family_pool[row.family1][0]]
        if row.family2 >= 0:
            parts.append(family_pool[row.family2][0])
        return " ".join(parts)

    rows = list(seen.itertuples(index=False))
    return pd.DataFrame(
        {
            "person": seen["person"].to_numpy(),
            "region": seen["region"].to_numpy(),
            "year": seen["year"].to_numpy(),
            "household": seen["household"].to_numpy(),
            "sex": seen["sex"].to_numpy(),
            "given_name": [given(r) for r in rows],
            "family_name": [family(r) for r in rows],
            "date_of_birth": seen["date_of_birth"].to_numpy(),
            "dob_known": seen["dob_known"].to_numpy(),
            "document": seen["document"].to_numpy(),
            "phone": seen["phone"].to_numpy(),
        }
    )
