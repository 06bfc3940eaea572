"""Validation messages a French user meets, in French: submissions, case files, registry, configs.

The path of issue 22: blank template -> ``fl-estimate submissions check`` -> ``fl-estimate stats``
-> ``fl-estimate run``. Each problem is a :class:`~fl_estimate.i18n.Message` whose English text is
what it always was and whose French comes from the catalog; file, row, column and value are never
translated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from fl_estimate.exceptions import (
    InputValidationError,
    LinkageKeyError,
    ModelSpecificationError,
    Problem,
)
from fl_estimate.i18n import Message, join_or, render_error, render_problem, translate
from fl_estimate.i18n import catalogs as catalogs_module
from fl_estimate.providers.casefiles import validate_case_file
from fl_estimate.providers.pseudonymise import Pseudonymiser, read_key_file
from fl_estimate.providers.registry import ProviderRegistry
from fl_estimate.providers.submissions import validate_submission

NB = "\u00a0"  # French puts a no-break space before ':' and ';'
PAYS = Path(__file__).resolve().parents[2] / "data_samples" / "pays"

HEADER = (
    "provider;period;record_id;region;date_identified;sex;age;age_band;nationality;exploitation"
)
#: A police file for 2024-Q1 as French Excel saves it (';' and Windows-1252), with five mistakes:
#: row 3 sex "X"; row 4 a date outside the quarter; row 5 an unknown region and neither age nor
#: age group; row 6 an age that contradicts its age group.
BAD_ROWS = [
    "police;2024-Q1;P-1;Tillabéri;15/01/2024;F;23;;NER;ForcedLabour",
    "police;2024-Q1;P-2;Tillabéri;16/01/2024;X;30;;NER;ForcedLabour",
    "police;2024-Q1;P-3;Tillabéri;15/05/2024;M;41;;NER;ForcedLabour",
    "police;2024-Q1;P-4;Agadès;20/02/2024;M;;;MLI;ForcedBegging",
    "police;2024-Q1;P-5;Tillabéri;02/03/2024;F;12;adult;NER;SexualExploitation",
]


@pytest.fixture()
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "police_2024-Q1.csv"
    path.write_bytes(("\r\n".join([HEADER, *BAD_ROWS]) + "\r\n").encode("cp1252"))
    return path


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "registre.csv"
    path.write_text(
        "provider,entity_type,frequency,regions,first_period\n"
        "police,law_enforcement,quarterly,Tillabéri;Niamey,2024-Q1\n",
        encoding="utf-8",
    )
    return path


def test_submissions_check_in_french_names_file_row_column(
    bad_file: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``submissions check --lang fr``: the report on stdout and the error line on stderr are in
    French; file name, row, column and values stay as they are in the file."""
    from fl_estimate.cli import main

    code = main(
        ["submissions", "check", "--registry", str(registry), str(bad_file), "--lang", "fr"]
    )
    out, err = capsys.readouterr()
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"police_2024-Q1.csv{NB}: 5 lignes, REJETÉ (5 problèmes)"
    where = "  - police_2024-Q1.csv, ligne"
    assert lines[1:6] == [
        f"{where} 3, colonne 'sex'{NB}: attendu{NB}: F, M, other (autre) ou unknown (inconnu) "
        "(valeur 'X')",
        f"{where} 4, colonne 'date_identified'{NB}: date_identified doit se situer dans la "
        "période 2024-Q1 (valeur '15/05/2024')",
        f"{where} 5, colonne 'age'{NB}: age, age_band ou date_of_birth doit être renseigné",
        f"{where} 5, colonne 'region'{NB}: attendu{NB}: l'une des régions Tillabéri, Niamey "
        "(valeur 'Agadès')",
        f"{where} 6, colonne 'age_band'{NB}: l'âge 12 contredit age_band 'adult' "
        f"(attendu{NB}: 'child') (valeur 'adult')",
    ]
    assert lines[6] == "0 accepté(s), 1 rejeté(s)"
    assert err.startswith(
        f"fl-estimate: erreur{NB}: 1 fichier(s) sur 1 rejeté(s) (police_2024-Q1.csv){NB}: "
        f"police_2024-Q1.csv, ligne 3, colonne 'sex'{NB}: attendu{NB}: F, M"
    ), err
    assert "Traceback" not in out + err
    for english in ("expected", "row ", "column ", "must", "rejected"):
        assert english not in out + err.replace("fl-estimate", "")


def test_submissions_check_in_english_is_unchanged(
    bad_file: Path, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Without --lang (and no French locale) the same file gives the English report as before."""
    from fl_estimate.cli import main

    for var in ("FL_ESTIMATE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert main(["submissions", "check", "--registry", str(registry), str(bad_file)]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "police_2024-Q1.csv: 5 rows, REJECTED (5 problems)"
    assert lines[1] == (
        "  - police_2024-Q1.csv, row 3, column 'sex': expected F, M, other or unknown (value 'X')"
    )
    assert lines[4] == (
        "  - police_2024-Q1.csv, row 5, column 'region': expected one of the regions Tillabéri, "
        "Niamey (value 'Agadès')"
    )
    assert lines[6] == "0 accepted, 1 rejected"
    assert err.startswith("fl-estimate: error: 1 of 1 file(s) rejected (police_2024-Q1.csv): ")
    # FL_ESTIMATE_LANG=fr gives French without --lang
    monkeypatch.setenv("FL_ESTIMATE_LANG", "fr")
    assert main(["submissions", "check", str(bad_file)]) == 2
    assert "REJETÉ (4 problèmes)" in capsys.readouterr().out  # no registry: any region


def _all_french(problems: list[Problem]) -> None:
    """Every problem is a catalog message with a French text different from its English."""
    assert problems
    for p in problems:
        assert isinstance(p.message, Message), p
        assert translate(p.message, "fr") != str(p.message), p


def test_every_submission_problem_has_french(tmp_path: Path) -> None:
    """Each of the victim file's checks, made to fail once, reads in French."""
    frame = pd.DataFrame(
        {
            "provider": ["police", "ngo", "=cmd"],
            "period": ["2024-Q1", "2024-Q5", "2024-Q1"],
            "record_id": ["A", "A", "B"],
            "region": ["Nord", "Nord", None],
            "date_identified": ["2024-01-10", "31/02/2024", "2023-12-01"],
            "sex": ["F", "Q", "M"],
            "age": ["130", "40", "9"],
            "age_band": ["old", None, "adult"],
            "nationality": ["NER", "ZZZ", "unknown"],
            "exploitation": ["Fishing", "ForcedLabour", "ForcedLabour"],
            "date_of_birth": ["1850", "2030-01-01", "2010-01-01"],
            "key_name": ["xyz", None, None],
            "key_fingerprint": ["nothex", None, None],
        }
    )
    report, _ = validate_submission(frame, source="lot.csv", providers=["police", "ngo"])
    messages = {str(p.message) for p in report.problems}
    assert "expected one of police, ngo" in messages
    assert "must be unique in the file (duplicate record_id)" in messages
    assert "a value is required" in messages
    assert "expected one provider and one period per file" in messages
    _all_french(report.problems)
    header_only, _ = validate_submission(
        pd.DataFrame(columns=["provider", "given_name", "key_name", "extra"]), source="vide.csv"
    )
    _all_french(header_only.problems)
    assert render_problem(header_only.problems[0], "fr") == (
        f"vide.csv, ligne 1, colonne 'period'{NB}: colonne obligatoire manquante"
    )


def test_case_file_problems_in_both_languages() -> None:
    events = pd.DataFrame(
        {
            "provider": ["police"] * 3,
            "period": ["2023-Q1"] * 3,
            "case_id": ["C1", "C2", "C3"],
            "region": ["Nord"] * 3,
            "date_recorded": ["2023-01-05", "2023-07-01", "2023-02-01"],
            "case_type": ["smuggling", "enlèvement", "trafficking_in_persons"],
            "exploitation": ["ForcedLabour", None, None],
            "means": [None, "magic", None],
            "victims": ["2", "deux", "1"],
        }
    )
    report, clean = validate_case_file(events, "events", source="affaires.csv")
    assert clean is None
    _all_french(report.problems)
    by_row = {(p.row, p.column): p for p in report.problems}
    smuggling = by_row[(2, "exploitation")]
    assert str(smuggling.message).startswith("exploitation is for trafficking cases only")
    assert render_problem(smuggling, "fr") == (
        f"affaires.csv, ligne 2, colonne 'exploitation'{NB}: la colonne exploitation ne concerne "
        f"que les affaires de traite des personnes{NB}: laissez-la vide pour le trafic illicite "
        "de migrants (ou indiquez trafficking_in_persons dans case_type) (valeur 'ForcedLabour')"
    )
    assert translate(by_row[(3, "case_type")].message, "fr").startswith(
        f"attendu{NB}: l'une des valeurs trafficking_in_persons, smuggling_of_migrants"
    )
    perpetrators = pd.DataFrame(
        {
            "provider": ["courts"], "period": ["2023"], "perpetrator_id": ["P1"],
            "region": ["Nord"], "date_recorded": ["2023-03-01"], "offence": ["trafficking"],
            "stage": ["jailed"], "sex": ["M"], "citizenship": ["NER"],
        }
    )  # fmt: skip
    report, _ = validate_case_file(perpetrators, "perpetrators", source="auteurs.csv")
    _all_french(report.problems)
    assert [translate(p.message, "fr") for p in report.problems] == [
        "age ou age_band doit être renseigné",
        f"attendu{NB}: suspected, prosecuted, convicted",
    ]
    with pytest.raises(InputValidationError) as exc:
        validate_case_file(perpetrators, "victimes")
    assert render_error(exc.value, "fr").endswith(
        f"type de fichier 'victimes' inconnu{NB}; attendu{NB}: events ou perpetrators"
    )


def test_registry_problems_in_french() -> None:
    frame = pd.DataFrame(
        {
            "provider": ["police", "police"],
            "entity_type": ["police", "law_enforcement"],
            "frequency": ["monthly", "quarterly"],
            "regions": ["Nord", "Nord"],
            "first_period": ["2024", "2024-Q1"],
            "sends": ["victims", "victims;cases"],
        }
    )
    with pytest.raises(InputValidationError) as exc:
        ProviderRegistry.from_frame(frame, "registre.csv")
    _all_french(exc.value.problems)
    assert str(exc.value.problems[0].message).startswith("expected one of law_enforcement, ")
    assert translate(exc.value.problems[1].message, "fr") == (
        f"attendu{NB}: quarterly (trimestriel) ou annual (annuel)"
    )


def _config_error(kind: str, text: str, tmp_path: Path) -> InputValidationError:
    from fl_estimate.pipeline.config import read_run_config
    from fl_estimate.pipeline.stats import read_stats_config
    from fl_estimate.providers.linkrun import read_link_config

    path = tmp_path / f"{kind}.toml"
    path.write_text(text, encoding="utf-8")
    reader = {"link": read_link_config, "run": read_run_config, "stats": read_stats_config}[kind]
    with pytest.raises(InputValidationError) as exc:
        reader(path)
    return exc.value


def test_config_problems_in_both_languages(tmp_path: Path) -> None:
    """link.toml, the run config and [stats]: every problem in French; English as before."""
    link = _config_error(
        "link",
        '[linkage]\nsubmissions = ["absent/*.csv"]\nthreshold = 2\nmethod = "fuzzy"\n'
        'as_of = "31/12/2024"\nstrata = ["region", "commune"]\ncolour = "blue"\n',
        tmp_path,
    )
    _all_french(link.problems)
    english = {(p.column, str(p.message)) for p in link.problems}
    assert ("threshold", 'expected a probability between 0 and 1, or "auto"') in english
    assert any(
        c == "strata" and m.startswith("unknown stratum column(s) commune; expected some of ")
        for c, m in english
    )
    assert (
        f"link.toml, colonne 'as_of'{NB}: attendu{NB}: une date au format AAAA-MM-JJ "
        "(valeur '31/12/2024')"
    ) in {render_problem(p, "fr") for p in link.problems}

    run = _config_error(
        "run",
        '[run]\nseed = "un"\ncache = 3\n[input]\nper = 0\n[estimation]\nmethods = ["magique"]\n'
        "level = 95.0\n[disclosure]\nthreshold = 0\n[rapport]\nlangue = 'fr'\n",
        tmp_path,
    )
    _all_french(run.problems)
    texts = [str(p.message) for p in run.problems]
    assert "[run] seed must be int, got 'un'" in texts
    assert "[run] cache must be str or bool, got 3" in texts
    french = [translate(p.message, "fr") for p in run.problems]
    assert f"[run] cache doit être de type str ou bool, valeur reçue{NB}: 3" in french
    assert f"[estimation] level doit être compris entre 0 et 1, valeur reçue{NB}: 95.0" in french

    stats = _config_error(
        "stats", '[stats]\nvictims = ["rien/*.csv"]\nlevels = ["month"]\nthreshold = 0\n', tmp_path
    )
    _all_french(stats.problems)
    assert render_error(stats, "fr").startswith(f"3 problèmes trouvés dans stats.toml{NB}: ")
    assert f"[stats] levels{NB}: 'month' ne fait pas partie de quarter, half-year, year" in {
        translate(p.message, "fr") for p in stats.problems
    }


def test_linkage_key_errors_in_french(tmp_path: Path) -> None:
    """Key errors are raised with a Message: the command line's error line translates them."""
    with pytest.raises(LinkageKeyError) as exc:
        Pseudonymiser("court")
    assert str(exc.value).startswith("the linkage key must be at least 16 bytes long (got 5)")
    assert render_error(exc.value, "fr").startswith(
        "la clé de rapprochement doit compter au moins 16 octets (elle en a 5)"
    )
    key = tmp_path / "cle.key"
    key.write_text("a" * 40 + "\n# ancienne clé\n", encoding="utf-8")
    with pytest.raises(LinkageKeyError) as exc:
        read_key_file(key)
    assert render_error(exc.value, "fr") == (
        f"le fichier de clé {key} contient 2 lignes non vides{NB}; il doit contenir la clé seule, "
        "sur une seule ligne (supprimez les commentaires et les anciennes clés)"
    )
    key.write_text("trop court\n", encoding="utf-8")
    with pytest.raises(LinkageKeyError) as exc:
        Pseudonymiser.from_env(key_file=key)
    # the nested message (the key file, then why) is translated as a whole
    assert render_error(exc.value, "fr").startswith(
        f"fichier de clé {key}{NB}: la clé de rapprochement doit compter au moins 16 octets"
    )


def test_joined_messages_translate_their_parts() -> None:
    assert join_or(["str"]) == "str"
    assert join_or(["str", "bool", "int"]) == "str or bool or int"
    assert translate(join_or(["str", "bool", "int"]), "fr") == "str ou bool ou int"


def test_catalog_check_catches_an_untranslated_plural_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog test fails when one form of a French plural entry is empty (before, plural
    entries were not checked at all)."""
    from babel.messages.pofile import read_po

    fr = catalogs_module.po_path("fr")
    with open(fr, "rb") as fh:
        catalog = read_po(fh, locale="fr", domain=catalogs_module.DOMAIN)
    msg = catalog.get(("REJECTED ({n} problem)", "REJECTED ({n} problems)"))
    assert msg is not None and all(msg.string)
    msg.string = (msg.string[0], "", msg.string[2])
    (tmp_path / "fr").mkdir()
    fake = tmp_path / "fr" / "fl_estimate.po"
    fake.write_bytes(catalogs_module.render_po(catalog))
    shutil.copy(catalogs_module.po_path("fr", "mo"), tmp_path / "fr" / "fl_estimate.mo")
    monkeypatch.setattr(
        catalogs_module, "po_path", lambda lang, ext="po": tmp_path / lang / f"fl_estimate.{ext}"
    )
    (result,) = catalogs_module.check(["fr"])
    assert result.untranslated == ["REJECTED ({n} problem)"]
    assert result.stale_mo  # the committed .mo still has the form


def test_method_option_errors_in_the_run_config_are_french(tmp_path: Path) -> None:
    """A method option out of range in the run config: the config's framing and the estimator
    registry's message (mse.options / mse.registry) are both in French."""
    from fl_estimate.mse.registry import resolve

    run = _config_error(
        "run", "[estimation]\nmethods = ['stepwise']\n[estimation.stepwise]\npthresh = 5.0\n",
        tmp_path,
    )  # fmt: skip
    (problem,) = [p for p in run.problems if "pthresh" in p.message]
    assert str(problem.message) == (
        "[estimation.stepwise] stepwise: option pthresh=5.0 is not valid: expected a p-value "
        "cut-off strictly between 0 and 1 (e.g. 0.02)"
    )
    assert translate(problem.message, "fr") == (
        f"[estimation.stepwise] stepwise{NB}: l'option pthresh=5.0 n'est pas valide{NB}: "
        f"attendu{NB}: un seuil de p-valeur strictement compris entre 0 et 1 (par ex. 0.02)"
    )
    with pytest.raises(ModelSpecificationError) as exc:
        resolve("chao", interval="bootstrap")
    assert render_error(exc.value, "fr").startswith(
        "la méthode 'chao' donne seulement un intervalle de forme explicite (Wald log-normal)"
    )


def test_warning_lines_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    """The command line's warning line is framed in French, and a warning raised with a Message
    is translated; English is unchanged."""
    import warnings

    from fl_estimate.cli import _show_warning
    from fl_estimate.exceptions import DataWarning
    from fl_estimate.i18n import N_

    warning = DataWarning(N_("required column is missing"))
    _show_warning(warning, DataWarning, "x.py", 1)
    _show_warning(warning, DataWarning, "x.py", 1, lang="fr")
    _show_warning(DataWarning("plain text"), DataWarning, "x.py", 1, lang="fr")
    assert capsys.readouterr().err.splitlines() == [
        "fl-estimate: warning: required column is missing",
        f"fl-estimate: avertissement{NB}: colonne obligatoire manquante",
        f"fl-estimate: avertissement{NB}: plain text",
    ]
    assert warnings.showwarning is not _show_warning  # main() installs it only while it runs
