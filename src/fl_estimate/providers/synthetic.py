"""A synthetic country: provider submissions made from a simulated population of known size.

Eight regions, six data providers and several years. A population of known size by region and year
is drawn with :func:`fl_estimate.simulate.simulate` (two latent classes of catchability, police and
courts positively dependent); every capture becomes a record in the provider's quarterly (courts:
annual) submission, with the identifying fields written the way real files are: name variants and
typos, accents or not, different date formats, missing dates of birth, within-provider duplicates.
Two providers (``ngo``, ``iom``) submit pseudonymous keys only. The truth (who is who, and the
population size) is kept beside the submissions for tests and benchmarks.

Every name is invented from syllables or common given names; dates of birth fall at least eight
years before the first date of identification, so no date of birth equals a date of identification.
"""

from __future__ import annotations

import string
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fl_estimate._io import atomic_write_text
from fl_estimate._typing import SeedLike, as_generator
from fl_estimate.providers.pseudonymise import Pseudonymiser
from fl_estimate.simulate import simulate

__all__ = ["REGIONS", "SAMPLE_KEY", "Country", "make_country", "typo_word", "write_country"]

REGIONS = ("North", "South", "East", "West", "Central", "Lakes", "Highlands", "Coast")
_BASE_SIZES = (120, 80, 60, 70, 160, 50, 40, 60)

#: A demonstration key for the sample country only. Real keys never go in code or files in a repo.
SAMPLE_KEY = "sample-country-demo-key-not-secret-0001"

# provider, reporting-entity type (IC-TIP), frequency, pseudonymous, capture prob (class 0),
# missing-dob rate, dob format, share of documents recorded, share of phones recorded, file type
_PROVIDERS: tuple[tuple[Any, ...], ...] = (
    ("police", "law_enforcement", "quarterly", False, 0.22, 0.10, "%d/%m/%Y", 0.6, 0.3, "csv"),
    ("gendarmerie", "law_enforcement", "quarterly", False, 0.18, 0.15, "%d.%m.%Y", 0.5, 0.2, "csv"),
    ("courts", "court_judiciary", "annual", False, 0.12, 0.05, "%Y-%m-%d", 0.8, 0.0, "xlsx"),
    (
        "social_services",
        "other_government",
        "quarterly",
        False,
        0.18,
        0.25,
        "%d/%m/%Y",
        0.2,
        0.5,
        "csv",
    ),
    ("ngo", "ngo_service_provider", "quarterly", True, 0.22, 0.30, "%Y-%m-%d", 0.1, 0.6, "csv"),
    (
        "iom",
        "international_organisation",
        "quarterly",
        True,
        0.15,
        0.10,
        "%Y-%m-%d",
        0.6,
        0.4,
        "csv",
    ),
)
PROVIDERS = tuple(p[0] for p in _PROVIDERS)
_NOT_COVERED = {"gendarmerie": ("Central",), "ngo": ("Highlands", "Coast", "Lakes")}
_MISSING_FILES = {("ngo", "2023-Q4")}  # late: not yet received

_GIVEN_F = [
    ("Aïssata", "Aissata", "Aichatou"),
    ("Fatoumata", "Fatimata"),
    ("Mariama", "Mariam", "Maryam"),
    ("Hadiza", "Hadizatou"),
    ("Zeïnabou", "Zeinabou", "Zaynab"),
    ("Rakiatou", "Rakia"),
    ("Habsatou",),
    ("Balkissa", "Balkisa"),
    ("Hawaou", "Hawa"),
    ("Safiatou", "Safiya"),
    ("Ramatou",),
    ("Salamatou",),
    ("Kadidiatou", "Kadija"),
    ("Oumou",),
    ("Nafissa", "Nafisa"),
    ("Rahila",),
    ("Sahadatou",),
    ("Hamsatou",),
    ("Djamila", "Jamila"),
    ("Bintou",),
    ("Mounira",),
    ("Amina", "Aminatou"),
    ("Hadjara",),
    ("Zalika",),
    ("Roukaya", "Rukayya"),
    ("Firdaousi",),
    ("Farida",),
    ("Soueba",),
    ("Halimatou", "Halima"),
    ("Asmaou", "Asma"),
]
_GIVEN_M = [
    ("Mohamed", "Mohammed", "Muhammad"),
    ("Ousmane", "Usman"),
    ("Ibrahim", "Ibrahima"),
    ("Abdoulaye", "Abdullahi"),
    ("Mahamadou", "Mamadou"),
    ("Youssouf", "Yusuf"),
    ("Issoufou",),
    ("Boubacar", "Bubakar"),
    ("Hamidou",),
    ("Souleymane", "Sulaiman"),
    ("Harouna", "Haruna"),
    ("Idrissa", "Idris"),
    ("Oumarou", "Umaru"),
    ("Moussa", "Musa"),
    ("Adamou", "Adamu"),
    ("Yacouba", "Yakubu"),
    ("Hassane", "Hassan"),
    ("Amadou", "Ahmadu"),
    ("Seydou",),
    ("Alassane",),
    ("Laouali",),
    ("Saidou",),
    ("Tahirou",),
    ("Kalilou",),
    ("Bachir", "Bashir"),
    ("Chaibou",),
    ("Zakari", "Zakariya"),
    ("Nouhou",),
    ("Maazou",),
    ("Djibrilla", "Jibril"),
]
_SYLLABLES = (
    "ba bou da dou dji ga gou ha hou ka kou la lou ma mou na nou ra rou sa sou ta tou "
    "za zou ya you wa kan man ssa dan gar har kad mar"
).split()


def _family_names(rng: np.random.Generator, n: int) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        k = rng.choice([2, 3, 3, 4], p=[0.3, 0.4, 0.2, 0.1])
        name = "".join(rng.choice(_SYLLABLES, size=k))
        if 5 <= len(name) <= 12:
            names.add(name.capitalize())
    return sorted(names)


def typo_word(word: str, rng: np.random.Generator) -> str:
    """``word`` with one typing error: a letter substituted, deleted, inserted or transposed.

    The first letter is kept (as in most real typing errors); words shorter than 3 letters are
    returned unchanged. Draws two or three numbers from ``rng``.
    """
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word)))  # keep the first letter (as most real typos do)
    kind = rng.integers(4)
    letter = str(rng.choice(list(string.ascii_lowercase)))
    if kind == 0:  # substitution
        return word[:i] + letter + word[i + 1 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    if kind == 2:  # insertion
        return word[:i] + letter + word[i:]
    j = min(i + 1, len(word) - 1)  # transposition
    chars = list(word)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@dataclass(frozen=True)
class Country:
    """A synthetic country.

    Attributes
    ----------
    submissions : dict
        ``(provider, period) -> DataFrame`` in the submission format (clear identifiers, or key
        columns for pseudonymous providers).
    registry : DataFrame
        The provider registry (see :mod:`fl_estimate.providers.registry`).
    population : DataFrame
        True population size by ``region`` and ``year`` (column ``N``).
    truth : DataFrame
        ``provider, record_id, person``: who each submitted record is.
    settings : dict
        Arguments that made it.
    histories : DataFrame or None
        True capture histories, one row per observed person: ``person``, 0/1 per provider,
        ``region, year`` (the profile countries of :mod:`.country_profiles` set it).
    people : DataFrame or None
        The observed people's true identities (profile countries only; see
        :func:`fl_estimate.providers.country_profiles.make_profile_country`).
    """

    submissions: dict[tuple[str, str], pd.DataFrame]
    registry: pd.DataFrame
    population: pd.DataFrame
    truth: pd.DataFrame
    settings: Mapping[str, Any]
    histories: pd.DataFrame | None = None
    people: pd.DataFrame | None = None

    @property
    def n_records(self) -> int:
        return int(sum(len(f) for f in self.submissions.values()))


def make_country(
    *,
    years: Sequence[int] = (2021, 2022, 2023),
    scale: float = 1.0,
    typo_rate: float = 0.08,
    duplicate_rate: float = 0.03,
    seed: SeedLike = 20240601,
    key: str = SAMPLE_KEY,
) -> Country:
    """Simulate the synthetic country's population and the providers' submissions.

    Parameters
    ----------
    years : sequence of int
        Years of identification.
    scale : float
        Multiplies the population sizes (1: about 2,000 people and 3,000 records; 33: about
        100,000 records).
    typo_rate : float
        Probability that a recorded name part carries a typing error.
    duplicate_rate : float
        Probability that a provider records the same person twice in a year.
    seed : int, Generator or None
        Random seed; the same seed gives the same country.
    key : str
        Linkage key used by the pseudonymous providers.

    Returns
    -------
    Country
    """
    rng = as_generator(seed)
    names = list(PROVIDERS)
    base = np.array([p[4] for p in _PROVIDERS])
    probs = np.vstack([base, np.clip(base * 2.2, 0.01, 0.9)])
    sizes: dict[Hashable, int] = {
        (r, y): max(1, round(b * scale * (1 + 0.1 * i)))
        for r, b in zip(REGIONS, _BASE_SIZES, strict=True)
        for i, y in enumerate(years)
    }
    sim = simulate(
        sizes,
        names,
        capture_probs=probs.tolist(),
        class_weights=[0.75, 0.25],
        dependence={("police", "courts"): 3.0},
        strata_names=["region", "year"],
        seed=rng,
    )
    people = sim.records.copy()
    for prov, regions in _NOT_COVERED.items():
        people.loc[people["region"].isin(regions), prov] = 0
    people = people[people[names].sum(axis=1) > 0].reset_index(drop=True)
    n = len(people)

    # identities
    fam_pool = _family_names(rng, max(400, int(60 * np.sqrt(max(scale, 1)) * 10)))
    sex = np.where(rng.random(n) < 0.55, "F", "M")
    given_idx = rng.integers(0, 30, size=n)
    family = rng.choice(fam_pool, size=n)
    second_given = rng.random(n) < 0.1
    child = rng.random(n) < 0.2
    age = np.where(child, rng.integers(8, 18, size=n), rng.integers(18, 61, size=n))
    birth_year = people["year"].to_numpy(int) - age - 1  # born before the year of identification
    dob = pd.to_datetime(
        {
            "year": birth_year,
            "month": rng.integers(1, 13, size=n),
            "day": rng.integers(1, 29, size=n),
        }
    )
    has_doc = rng.random(n) < 0.7
    doc = [f"NE{rng.integers(10**6, 10**7)}" for _ in range(n)]
    has_phone = rng.random(n) < 0.6
    phone = [f"9{rng.integers(10**6, 10**7)}" for _ in range(n)]
    nationality = rng.choice(
        ["NER", "NGA", "MLI", "BFA", "TCD", "BEN"], size=n, p=[0.6, 0.15, 0.1, 0.07, 0.05, 0.03]
    )
    exploit = rng.choice(
        [
            "ForcedLabour",
            "SexualExploitation",
            "ForcedBegging",
            "ForcedMarriage",
            "Servitude",
            "ForcedLabour;SexualExploitation",
        ],
        size=n,
        p=[0.42, 0.3, 0.1, 0.06, 0.07, 0.05],
    )

    def given_forms(i: int) -> tuple[str, ...]:
        pool = _GIVEN_F if sex[i] == "F" else _GIVEN_M
        return pool[given_idx[i]]

    rows: dict[str, list[dict[str, Any]]] = {p: [] for p in names}
    truth: list[tuple[str, str, int]] = []
    counters = dict.fromkeys(names, 0)
    years_arr = people["year"].to_numpy(np.int64)
    person_arr = people["person"].to_numpy(np.int64)
    for j, spec in enumerate(_PROVIDERS):
        prov, _, freq, _, _, miss_dob, dob_fmt, doc_rate, phone_rate, _ = spec
        style = rng.choice(["title", "upper", "mixed"], p=[0.5, 0.3, 0.2])
        caught = np.flatnonzero(people[prov].to_numpy() == 1)
        for i in (int(c) for c in caught):
            copies = 2 if rng.random() < duplicate_rate else 1
            for _ in range(copies):
                year = int(years_arr[i])
                day = pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(
                    days=int(rng.integers(0, 365))
                )
                period = str(year) if freq == "annual" else f"{year}-Q{(day.month - 1) // 3 + 1}"
                forms = given_forms(i)
                g = forms[0] if rng.random() < 0.8 else forms[int(rng.integers(len(forms)))]
                if "ï" in g and rng.random() < 0.5:
                    g = g.replace("ï", "i")
                if second_given[i]:
                    g = f"{g} {given_forms((i + 7) % n)[0]}"
                f = str(family[i])
                g = " ".join(
                    typo_word(w, rng) if rng.random() < typo_rate else w for w in g.split()
                )
                f = typo_word(f, rng) if rng.random() < typo_rate else f
                if rng.random() < 0.03:
                    g, f = f, g
                if style == "upper" or (style == "mixed" and rng.random() < 0.5):
                    f = f.upper()
                    g = g.upper() if rng.random() < 0.5 else g
                if rng.random() < 0.03:
                    g = ""
                d: pd.Timestamp | None = dob[i]
                if rng.random() < miss_dob:
                    d = None
                elif rng.random() < 0.03 and d is not None and d.day <= 12:
                    d = pd.Timestamp(year=d.year, month=d.day, day=d.month)  # day/month swapped
                docv = ""
                if has_doc[i] and rng.random() < doc_rate:
                    docv = (
                        doc[i] if rng.random() < 0.7 else f"{doc[i][:2]} {doc[i][2:5]}-{doc[i][5:]}"
                    )
                ph = ""
                if has_phone[i] and rng.random() < phone_rate:
                    ph = (
                        phone[i]
                        if rng.random() < 0.5
                        else (f"+999 {phone[i][:2]} {phone[i][2:4]} {phone[i][4:6]} {phone[i][6:]}")
                    )
                counters[prov] += 1
                rid = f"{prov[:3].upper()}-{counters[prov]:06d}"
                rec_age: Any = int(age[i]) if rng.random() < 0.9 else ""
                rows[prov].append(
                    {
                        "provider": prov,
                        "period": period,
                        "record_id": rid,
                        "region": people.at[i, "region"],
                        "date_identified": day.strftime("%Y-%m-%d"),
                        "sex": sex[i] if rng.random() < 0.97 else "unknown",
                        "age": rec_age,
                        "age_band": "" if rec_age != "" else ("child" if child[i] else "adult"),
                        "nationality": nationality[i],
                        "exploitation": exploit[i],
                        "given_name": g,
                        "family_name": f,
                        "date_of_birth": "" if d is None else d.strftime(dob_fmt),
                        "document_number": docv,
                        "phone": ph,
                    }
                )
                truth.append((prov, rid, int(person_arr[i])))
        del j

    pseudo = Pseudonymiser(key)
    submissions: dict[tuple[str, str], pd.DataFrame] = {}
    dropped: set[str] = set()
    for spec in _PROVIDERS:
        prov, pseudonymous = spec[0], spec[3]
        frame = pd.DataFrame(rows[prov])
        if frame.empty:
            continue
        frame = frame.sort_values(["period", "date_identified", "record_id"], kind="stable")
        for period_key, part in frame.groupby("period", sort=True):
            period = str(period_key)
            if (prov, period) in _MISSING_FILES:
                dropped.update(part["record_id"])
                continue
            part = part.reset_index(drop=True)
            if pseudonymous:
                part = pseudo.pseudonymise(part)
            submissions[(prov, period)] = part
    truth_df = pd.DataFrame(truth, columns=["provider", "record_id", "person"])
    truth_df = truth_df[~truth_df["record_id"].isin(dropped)].reset_index(drop=True)
    assert isinstance(sim.truth, pd.Series)
    population = sim.truth.rename("N").reset_index()
    registry = pd.DataFrame(
        {
            "provider": [p[0] for p in _PROVIDERS],
            "entity_type": [p[1] for p in _PROVIDERS],
            "frequency": [p[2] for p in _PROVIDERS],
            "regions": [
                ";".join(r for r in REGIONS if r not in _NOT_COVERED.get(p[0], ()))
                for p in _PROVIDERS
            ],
            "first_period": [
                f"{years[0]}" if p[2] == "annual" else f"{years[0]}-Q1" for p in _PROVIDERS
            ],
            "pseudonymous": [p[3] for p in _PROVIDERS],
            "file_format": [p[9] for p in _PROVIDERS],
        }
    )
    settings = {
        "years": list(years),
        "scale": scale,
        "typo_rate": typo_rate,
        "duplicate_rate": duplicate_rate,
        "seed": seed if isinstance(seed, int) or seed is None else str(seed),
    }
    return Country(submissions, registry, population, truth_df, settings)


_LINK_TOML = """\
# Linkage configuration of the synthetic {what} (see docs/config.md).
# Paths are relative to this file.
[linkage]
submissions = {submissions}
registry = "registry.csv"
# The sample key is a demonstration key; a real key lives outside the repository and is given
# with key_env (an environment variable name) or key_file.
key_file = "linkage.key"
strata = ["region", "year"]
threshold = 0.9
thresholds = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]
output = "linkage_output"
as_of = "{as_of}"
"""


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".xlsx":
        tmp = path.with_name(f".{path.name}.tmp.xlsx")
        frame.to_excel(tmp, index=False, sheet_name="submission")
        tmp.replace(path)
    else:
        atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))


def write_country(
    country: Country,
    out: str | Path,
    *,
    key: str = SAMPLE_KEY,
    resubmission_examples: bool = True,
    what: str = "sample country",
) -> Path:
    """Write a country's submissions, registry, truth, key and linkage config under ``out``.

    Layout: ``submissions/<provider>_<period>.{csv,xlsx}``, ``registry.csv``, ``link.toml``,
    ``linkage.key`` (the sample key), ``truth/population.csv``, ``truth/records.csv`` and, when
    the country has them, ``truth/histories.csv`` (true capture histories). With
    ``resubmission_examples``, two re-submissions show how they work: ``police_2022-Q3.csv`` has
    errors and is rejected, its correction ``police_2022-Q3_v2.csv`` is accepted;
    ``social_services_2022-Q1.csv`` is incomplete and replaced by
    ``social_services_2022-Q1_v2.csv``. The config's ``as_of`` date is 15 February of the year
    after the last year of identification. ``what`` names the country in the config's comment.
    """
    out = Path(out)
    sub = out / "submissions"
    sub.mkdir(parents=True, exist_ok=True)
    for stale in sub.glob("*"):
        stale.unlink()
    fmt = dict(zip(country.registry["provider"], country.registry["file_format"], strict=True))
    for (prov, period), frame in sorted(country.submissions.items()):
        ext = fmt.get(prov, "csv")
        if resubmission_examples and (prov, period) == ("police", "2022-Q3"):
            bad = frame.copy().astype(object)
            bad.loc[1, "sex"] = "X"
            bad.loc[3, "date_identified"] = "2022-13-01"
            bad.loc[5, "region"] = "Nort"
            bad.loc[6, "age"] = -4
            _write_frame(bad, sub / f"{prov}_{period}.{ext}")
            _write_frame(frame, sub / f"{prov}_{period}_v2.{ext}")
        elif resubmission_examples and (prov, period) == ("social_services", "2022-Q1"):
            first = frame.iloc[:-5].copy()
            _write_frame(first, sub / f"{prov}_{period}.{ext}")
            _write_frame(frame, sub / f"{prov}_{period}_v2.{ext}")
        else:
            _write_frame(frame, sub / f"{prov}_{period}.{ext}")
    atomic_write_text(
        out / "registry.csv", country.registry.to_csv(index=False, lineterminator="\n")
    )
    atomic_write_text(out / "linkage.key", key + "\n")
    as_of = f"{max(int(y) for y in country.settings['years']) + 1}-02-15"
    patterns = ", ".join(f'"submissions/*.{e}"' for e in sorted(set(fmt.values())))
    atomic_write_text(
        out / "link.toml",
        _LINK_TOML.format(what=what, as_of=as_of, submissions=f"[{patterns}]"),
    )
    (out / "truth").mkdir(exist_ok=True)
    tables = {"population": country.population, "records": country.truth}
    if country.histories is not None:
        tables["histories"] = country.histories
    for name, table in tables.items():
        atomic_write_text(
            out / "truth" / f"{name}.csv", table.to_csv(index=False, lineterminator="\n")
        )
    return out


# ------------------------------------------------------------ IC-TIP events and perpetrators
#: Providers of the synthetic events and perpetrators, and what each sends (registry ``sends``).
CASE_SENDS = {
    "police": "victims;events;perpetrators",
    "gendarmerie": "victims;events;perpetrators",
    "courts": "victims;perpetrators",
}
_MEANS_DRAW = ("deception", "fraud", "abuse_of_vulnerability", "threat_or_use_of_force",
               "other_coercion", "abduction", "payments_or_benefits")  # fmt: skip
_ROLES_DRAW = ("recruiter", "transporter", "harbourer", "exploiter", "organiser")
_CITIZENSHIP = (("NER", "NGA", "MLI", "BFA", "TCD", "LBY"), (0.55, 0.15, 0.1, 0.08, 0.07, 0.05))


@dataclass(frozen=True)
class Cases:
    """Synthetic IC-TIP events (cases) and perpetrators of a country.

    Attributes
    ----------
    events, perpetrators : dict
        ``(provider, period) -> DataFrame`` in the event and perpetrator file formats
        (:mod:`fl_estimate.providers.casefiles`): every row valid, so these frames are also the
        truth the statistics must count.
    sends : dict
        ``provider -> submission types`` (the registry's ``sends`` column).
    """

    events: dict[tuple[str, str], pd.DataFrame]
    perpetrators: dict[tuple[str, str], pd.DataFrame]
    sends: Mapping[str, str]


def make_cases(
    population: pd.DataFrame,
    *,
    coverage: Mapping[str, Sequence[str]] | None = None,
    seed: int = 20240603,
) -> Cases:
    """Cases of trafficking in persons and of smuggling of migrants, and their perpetrators.

    For each region and year of ``population`` (columns ``region, year, N``): about ``N / 6``
    trafficking cases and ``N / 10`` smuggling cases, recorded by the police (or, where it
    covers the region, the gendarmerie, two cases in five) in the quarter of the case; one to
    three suspects per case recorded by the same provider; half the suspects prosecuted and
    three in five of those convicted by the courts (annual files) later the same year.

    Parameters
    ----------
    population : DataFrame
        ``region, year, N`` (the country's :attr:`Country.population`).
    coverage : mapping provider -> regions, optional
        Regions each provider covers (default: all).
    seed : int
        Root seed; each region-year draws from its own stream (:func:`fl_estimate.seeds.seed_sequence`).
    """
    from fl_estimate.seeds import seed_sequence

    events: dict[str, list[dict[str, Any]]] = {"police": [], "gendarmerie": []}
    perps: dict[str, list[dict[str, Any]]] = {"police": [], "gendarmerie": [], "courts": []}
    counter = {"case": 0, "perp": 0}
    forms = (["ForcedLabour", "SexualExploitation", "ForcedBegging", "ForcedMarriage", "Servitude",
              "ForcedLabour;SexualExploitation"], [0.4, 0.3, 0.12, 0.06, 0.07, 0.05])  # fmt: skip

    def quarter(day: pd.Timestamp) -> str:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"

    rows = sorted(
        population[["region", "year", "N"]].itertuples(index=False),
        key=lambda r: (str(r[1]), str(r[0])),
    )
    for region, year, n in rows:
        rng = np.random.default_rng(seed_sequence(seed, "cases", str(region), int(year)))
        end = pd.Timestamp(int(year), 12, 31)
        for case_type, mean in (
            ("trafficking_in_persons", n / 6),
            ("smuggling_of_migrants", n / 10),
        ):
            for _ in range(int(rng.poisson(mean))):
                covered = coverage is None or region in coverage.get("gendarmerie", ())
                prov = "gendarmerie" if covered and rng.random() < 0.4 else "police"
                day = pd.Timestamp(int(year), 1, 1) + pd.Timedelta(days=int(rng.integers(0, 365)))
                counter["case"] += 1
                case_id = f"{prov[:3].upper()}-C{counter['case']:05d}"
                tip = case_type == "trafficking_in_persons"
                means = ";".join(
                    sorted(rng.choice(_MEANS_DRAW, size=int(rng.integers(1, 3)), replace=False))
                )
                events[prov].append({
                    "provider": prov, "period": quarter(day), "case_id": case_id, "region": region,
                    "date_recorded": day.strftime("%Y-%m-%d"), "case_type": case_type,
                    "exploitation": str(rng.choice(forms[0], p=forms[1])) if tip else "",
                    "means": means if tip else "",
                    "victims": int(rng.integers(1, 5)) if tip else int(rng.integers(2, 13)),
                })  # fmt: skip
                q_end = day + pd.offsets.QuarterEnd(0)
                for _k in range(int(rng.integers(1, 4))):
                    counter["perp"] += 1
                    age = int(rng.integers(18, 61))
                    base = {
                        "case_id": case_id, "region": region, "offence": case_type,
                        "sex": "M" if rng.random() < 0.7 else "F",
                        "age": "" if rng.random() < 0.05 else age,
                        "age_band": "adult" if rng.random() < 0.05 else "",
                        "citizenship": str(rng.choice(_CITIZENSHIP[0], p=_CITIZENSHIP[1])),
                        "role": str(rng.choice(_ROLES_DRAW)) if tip else "transporter",
                    }  # fmt: skip
                    if base["age"] == "":
                        base["age_band"] = "adult"
                    arrest = min(day + pd.Timedelta(days=int(rng.integers(0, 20))), q_end)
                    perps[prov].append({
                        "provider": prov, "period": quarter(arrest),
                        "perpetrator_id": f"{prov[:3].upper()}-P{counter['perp']:05d}",
                        "date_recorded": arrest.strftime("%Y-%m-%d"), "stage": "suspected", **base,
                    })  # fmt: skip
                    if rng.random() < 0.5:
                        charge = min(arrest + pd.Timedelta(days=int(rng.integers(20, 90))), end)
                        cid = f"COU-P{counter['perp']:05d}"
                        perps["courts"].append({
                            "provider": "courts", "period": str(year), "perpetrator_id": cid + "a",
                            "date_recorded": charge.strftime("%Y-%m-%d"), "stage": "prosecuted", **base,
                        })  # fmt: skip
                        if rng.random() < 0.6:
                            verdict = min(
                                charge + pd.Timedelta(days=int(rng.integers(30, 120))), end
                            )
                            perps["courts"].append({
                                "provider": "courts", "period": str(year), "perpetrator_id": cid + "b",
                                "date_recorded": verdict.strftime("%Y-%m-%d"), "stage": "convicted",
                                **base,
                            })  # fmt: skip

    def files(
        table: dict[str, list[dict[str, Any]]], columns: list[str]
    ) -> dict[tuple[str, str], pd.DataFrame]:
        out = {}
        for prov, recs in table.items():
            frame = pd.DataFrame(recs, columns=columns)
            frame = frame.sort_values(["period", "date_recorded", columns[2]], kind="stable")
            for period, part in frame.groupby("period", sort=True):
                out[(prov, str(period))] = part.reset_index(drop=True)
        return out

    ev_cols = ["provider", "period", "case_id", "region", "date_recorded", "case_type",
               "exploitation", "means", "victims"]  # fmt: skip
    pe_cols = ["provider", "period", "perpetrator_id", "case_id", "region", "date_recorded",
               "offence", "stage", "sex", "age", "age_band", "citizenship", "role"]  # fmt: skip
    return Cases(files(events, ev_cols), files(perps, pe_cols), dict(CASE_SENDS))


def write_cases(cases: Cases, out: str | Path) -> list[Path]:
    """Write ``events/<provider>_<period>.csv`` and ``perpetrators/...`` under ``out``.

    To show a rejected file and its correction: the first gendarmerie events file is written
    with one smuggling case carrying a form of exploitation (rejected) and again, corrected, as
    ``..._v2.csv``.
    """
    out = Path(out)
    written = []
    first_gendarmerie = min((k for k in cases.events if k[0] == "gendarmerie"), default=None)
    for kind, table in (("events", cases.events), ("perpetrators", cases.perpetrators)):
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*"):
            stale.unlink()
        for (prov, period), frame in sorted(table.items()):
            path = folder / f"{prov}_{period}.csv"
            if kind == "events" and (prov, period) == first_gendarmerie:
                bad = frame.copy()
                som = bad.index[bad["case_type"] == "smuggling_of_migrants"]
                if len(som):
                    bad.loc[som[0], "exploitation"] = "ForcedLabour"
                    _write_frame(bad, path)
                    path = folder / f"{prov}_{period}_v2.csv"
            _write_frame(frame, path)
            written.append(path)
    return written
