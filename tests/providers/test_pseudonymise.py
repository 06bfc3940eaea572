from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.exceptions import FLEstimateError
from fl_estimate.providers.pseudonymise import (
    IDENTIFIER_COLUMNS,
    KEY_COLUMNS,
    Pseudonymiser,
    bloom_dice,
    bloom_hex_to_words,
    normalise_date,
    normalise_document,
    normalise_name,
    normalise_phone,
    phonetic_key,
)

KEY = "test-key-0123456789abcdef"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Aïssata  ", "AISSATA"),
        ("aissata", "AISSATA"),
        ("Zeïnabou  EL-Mansour", "ZEINABOU EL MANSOUR"),
        ("O'Neil", "ONEIL"),
        ("Мухаммед", "MUKHAMMED"),  # Cyrillic transliterated
        ("Muhammad", "MOHAMED"),  # transliteration variant folded
        ("MOHAMMED", "MOHAMED"),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_normalise_name(raw: object, expected: str | None) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["1991-03-07", "07/03/1991", "07.03.1991", "07-03-1991", "1991/03/07", "19910307"]
)
def test_normalise_date_formats_agree(raw: str) -> None:
    assert normalise_date(raw) == "1991-03-07"


def test_normalise_date_rejects_impossible_dates() -> None:
    with pytest.raises(ValueError, match="unreadable"):
        normalise_date("31/02/1991")
    assert normalise_date("") is None


def test_document_and_phone_normalisation() -> None:
    assert normalise_document("ne 123-45.67") == normalise_document("NE1234567") == "NE1234567"
    assert normalise_phone("+999 90 12 34 56") == normalise_phone("90123456") == "90123456"
    assert normalise_phone("123") is None


def test_phonetic_key_ignores_vowel_typos() -> None:
    assert phonetic_key("HAROUNA") == phonetic_key("HARUNA")
    assert phonetic_key("HAROUNA") != phonetic_key("GARBA")


def test_tokens_are_keyed_and_field_specific() -> None:
    a, b = Pseudonymiser(KEY), Pseudonymiser(KEY + "x")
    assert a.token("given", "AMINA") == Pseudonymiser(KEY).token("given", "AMINA")
    assert a.token("given", "AMINA") != b.token("given", "AMINA")  # another key, another token
    assert a.token("given", "AMINA") != a.token("family", "AMINA")  # field is in the message
    assert len(a.token("given", "AMINA") or "") == 32
    assert a.token("given", None) is None


def test_same_person_written_differently_gets_the_same_keys() -> None:
    p = Pseudonymiser(KEY)
    df = pd.DataFrame(
        {
            "given_name": ["Aïssata", "AISSATA "],
            "family_name": ["Djibo", "djibo"],
            "date_of_birth": ["07/03/1991", "1991-03-07"],
            "document_number": ["NE 123-4567", "ne1234567"],
            "phone": ["+999 90 12 34 56", "90123456"],
        }
    )
    keys = p.key_columns(df)
    for c in KEY_COLUMNS:
        assert keys.at[0, c] == keys.at[1, c], c


def test_bloom_similarity_orders_names_sensibly() -> None:
    # Dice of bigram sets: identical 1; one letter changed in a 7-letter name leaves about 3/4
    # of the bigrams shared (>= 0.7 allowing for hash collisions); unrelated names share few.
    p = Pseudonymiser(KEY)
    names = [["AMINA", "GARBA"], ["AMINA", "GARBA"], ["AMINA", "GARBAA"], ["SEYDOU", "MOUSSA"]]
    words = bloom_hex_to_words([format(p.bloom(n), "0128x") for n in names])
    same = bloom_dice(words[:1], words[1:2])[0]
    typo = bloom_dice(words[:1], words[2:3])[0]
    other = bloom_dice(words[:1], words[3:4])[0]
    assert same == 1.0
    assert typo >= 0.8
    assert other < 0.4
    assert np.isnan(bloom_dice(np.zeros((1, 8), np.int64), np.zeros((1, 8), np.int64))[0])


def test_pseudonymise_drops_clear_identifiers() -> None:
    df = pd.DataFrame({"record_id": ["a"], "given_name": ["Amina"], "family_name": ["Garba"]})
    out = Pseudonymiser(KEY).pseudonymise(df)
    assert not set(IDENTIFIER_COLUMNS) & set(out.columns)
    assert set(KEY_COLUMNS) <= set(out.columns)
    assert "Amina" not in out.to_csv()


def test_key_is_never_shown_or_pickled(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    p = Pseudonymiser(KEY)
    assert KEY not in repr(p)
    assert KEY not in str(vars(p))  # held in a closure, not in the instance dict
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(p)
    monkeypatch.setenv("FL_ESTIMATE_LINKAGE_KEY", KEY)
    assert Pseudonymiser.from_env().token("f", "x") == p.token("f", "x")
    key_file = tmp_path / "k.key"
    key_file.write_text(KEY + "\n")
    assert Pseudonymiser.from_env(key_file=key_file).token("f", "x") == p.token("f", "x")
    monkeypatch.delenv("FL_ESTIMATE_LINKAGE_KEY")
    with pytest.raises(FLEstimateError, match="FL_ESTIMATE_LINKAGE_KEY"):
        Pseudonymiser.from_env()
    with pytest.raises(FLEstimateError, match="at least 16 bytes"):
        Pseudonymiser("short")


def test_key_file_must_hold_one_line(tmp_path: Path) -> None:
    from fl_estimate.exceptions import LinkageKeyError
    from fl_estimate.providers.pseudonymise import Pseudonymiser, read_key_file

    key = "0123456789abcdef0123456789abcdef"
    (tmp_path / "ok.key").write_text(f"\n  {key}  \n\n", encoding="utf-8")
    assert read_key_file(tmp_path / "ok.key") == key.encode()
    (tmp_path / "two.key").write_text(f"{key}\n# rotated\n", encoding="utf-8")
    with pytest.raises(LinkageKeyError, match=r"two\.key has 2 non-empty lines"):
        Pseudonymiser.from_env(key_file=tmp_path / "two.key")


def test_fingerprint_identifies_the_key_and_is_checked_at_linkage() -> None:
    import pandas as pd

    from fl_estimate.exceptions import LinkageKeyError
    from fl_estimate.providers.linkrun import check_key_fingerprints
    from fl_estimate.providers.pseudonymise import Pseudonymiser
    from fl_estimate.providers.registry import ProviderRegistry
    from fl_estimate.providers.submissions import LoadedSubmissions

    a = Pseudonymiser("a" * 32)
    b = Pseudonymiser("b" * 32)
    assert a.fingerprint == Pseudonymiser("a" * 32).fingerprint != b.fingerprint
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0
    frame = pd.DataFrame({"provider": ["ngo"], "key_dob": ["0" * 32],
                          "key_fingerprint": [b.fingerprint]})  # fmt: skip
    loaded = LoadedSubmissions.__new__(LoadedSubmissions)
    loaded.accepted = {("ngo", "2021-Q1"): ("ngo_2021-Q1.csv", frame)}
    with pytest.raises(LinkageKeyError, match="provider ngo"):
        check_key_fingerprints(loaded, None, a)
    check_key_fingerprints(loaded, None, b)  # the key that made the tokens: accepted
    reg = ProviderRegistry.from_frame(
        pd.DataFrame({"provider": ["ngo"], "entity_type": ["ngo_service_provider"],
                      "frequency": ["quarterly"], "regions": ["North"],
                      "first_period": ["2021-Q1"], "key_fingerprint": [a.fingerprint]})
    )  # fmt: skip
    with pytest.raises(LinkageKeyError, match="registry's key_fingerprint"):
        check_key_fingerprints(loaded, reg, b)
