"""French for what issue 22 left in English: option help of ``mse``, ``describe``, ``demo`` and
``indicators``; ``describe``'s headings and the "wrote ..." lines; why pydantic refused an option
value; the closed-population models' boundary notes; option errors of the Bayesian, covariate and
heterogeneity estimators. The English output is the text of before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fl_estimate.cli import main
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.i18n import Message, message_of, translate
from tests._refs import MSE_DATA

ROOT = Path(__file__).resolve().parents[2]
KOSOVO = str(MSE_DATA / "kosovo.csv")


def _flat(text: str) -> str:
    """One line, ordinary spaces (typer wraps help; French puts no-break spaces before ':')."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


@pytest.mark.parametrize(
    ("command", "french", "english"),
    [
        (["mse"], "Graine aléatoire (bootstrap, MCMC).", "Random seed (bootstrap, MCMC)."),
        (["mse"], "Chaînes MCMC (méthodes bayésiennes).", "MCMC chains (Bayesian methods)."),
        (["mse"], "Table de captures CSV : colonnes 0/1 des listes plus `count`",
         "Capture table CSV: 0/1 list columns plus `count`"),
        (["describe"], "Colonnes de strate séparées par des virgules (par ex. region,year).",
         "Comma-separated stratum columns (e.g. region,year)."),
        (["demo"], "Dossier de sortie (remplacé en entier).", "Output folder (replaced whole)."),
        (["indicators", "prevalence"], "Seuil des petits domaines (répondants).",
         "Small-domain threshold (respondents)."),
        (["indicators", "score"], "Fichier de correspondance (TOML) : variables du "
         "questionnaire -> indicateurs.", "Mapping file (TOML): questionnaire variables -> "
         "indicators."),
    ],
)  # fmt: skip
def test_option_help_in_french(
    command: list[str], french: str, english: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lang", "fr", *command, "--help"]) == 0
    out = _flat(capsys.readouterr().out)
    assert french in out and english not in out
    assert main([*command, "--help"]) == 0
    assert english in _flat(capsys.readouterr().out)


def test_describe_headings_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "fr", "describe", KOSOVO]) == 0
    out = _flat(capsys.readouterr().out)
    assert out.startswith("Vue d'ensemble ")
    assert "Recoupements deux à deux (jamais recoupées" in out
    assert out.rstrip().endswith("15 des 15 profils de capture possibles observés.")
    assert main(["describe", KOSOVO]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Overview\n")
    assert out.rstrip().endswith("15 of 15 possible capture patterns observed.")


def test_template_wrote_line_in_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "police_2024-Q1.xlsx"
    args = ["submissions", "template", "--registry", str(ROOT / "data_samples/pays/registry.csv"),
            "--provider", "police", "--period", "2024-Q1", "--out", str(out)]  # fmt: skip
    assert main(["--lang", "fr", *args]) == 0
    assert capsys.readouterr().out.strip() == f"{out} écrit"
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"


@pytest.mark.parametrize(
    ("option", "french", "english"),
    [
        (["--n-boot", "abc"], "Valeur non valide pour '--n-boot' : un nombre entier est attendu",
         "Input should be a valid integer, unable to parse string as an integer"),
        (["--n-boot", "1.5"], "Valeur non valide pour '--n-boot' : un nombre entier est attendu",
         "Input should be a valid integer"),
        (["--level", "x"], "Valeur non valide pour '--level' : un nombre est attendu",
         "Input should be a valid number, unable to parse string as a number"),
    ],
)  # fmt: skip
def test_bad_option_value_in_french_exit_2(
    option: list[str], french: str, english: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """typer converts option values with pydantic; its reason (``Input should be ...``) is
    translated from the error's type code."""
    assert main(["--lang", "fr", "mse", KOSOVO, *option]) == 2
    err = _flat(capsys.readouterr().err)
    assert f"Erreur : {french}" in err and "Input should" not in err
    assert main(["mse", KOSOVO, *option]) == 2
    assert english in _flat(capsys.readouterr().err)


def test_pydantic_reasons_from_real_validation_errors() -> None:
    """Each mapped pydantic error type, raised by pydantic itself, reads in French with its
    numbers and choices; an unmapped type is left to the English text (None)."""
    from typing import Annotated, Literal

    from pydantic import Field, TypeAdapter, ValidationError

    from fl_estimate.cli.usage import pydantic_reason

    cases = [
        (int, "x", "un nombre entier est attendu"),
        (float, "x", "un nombre est attendu"),
        (bool, "peut-être", "true ou false est attendu (ou yes/no, on/off, 1/0)"),
        (Literal["table", "json", "csv"], "xml", "attendu : 'table' ou 'json' ou 'csv'"),
        (Annotated[int, Field(ge=1)], 0, "un nombre supérieur ou égal à 1 est attendu"),
        (Annotated[float, Field(gt=0)], -1.0, "un nombre supérieur à 0,0 est attendu"),
        (Annotated[int, Field(le=6)], 7, "un nombre inférieur ou égal à 6 est attendu"),
        (Annotated[str, Field(min_length=2)], "a", "au moins 2 caractère(s) attendu(s)"),
    ]
    for annotation, value, french in cases:
        with pytest.raises(ValidationError) as exc:
            TypeAdapter(annotation).validate_python(value)
        assert _flat(pydantic_reason(exc.value, "fr") or "") == french, annotation
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(list[int]).validate_python(3)  # list_type: not mapped
    assert pydantic_reason(exc.value, "fr") is None
    assert pydantic_reason(ValueError("not pydantic"), "fr") is None


@pytest.mark.parametrize(
    ("args", "french", "english"),
    [
        (["--method", "mh", "--h", "foo"],
         "le modèle Mh nécessite une forme d'hétérogénéité h : l'une de chao, poisson, darroch, "
         "gamma (reçu 'foo')",
         "model Mh needs a heterogeneity form h: one of chao, poisson, darroch, gamma (got 'foo')"),
        (["--method", "mh", "--h", "poisson", "--theta", "1"],
         "theta doit être un nombre positif (et différent de 1 pour la forme de Poisson), reçu "
         "1.0", "theta must be a positive number (and not 1 for the Poisson form), got 1.0"),
        (["--method", "mh", "--h", "chao", "--interactions", "EXH:ZZZ"],
         "l'interaction 'EXH:ZZZ' nomme 'ZZZ', qui n'est pas une liste de cette table",
         "interaction 'EXH:ZZZ' names 'ZZZ', which is not a list of this table"),
    ],
)  # fmt: skip
def test_estimator_option_errors_in_french(
    args: list[str], french: str, english: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lang", "fr", "mse", KOSOVO, *args]) == 2
    assert french in _flat(capsys.readouterr().err)
    assert main(["mse", KOSOVO, *args]) == 2
    assert english in capsys.readouterr().err


def test_bayes_and_covariate_option_errors_are_messages() -> None:
    from fl_estimate.mse.bayes import DGA, LCMCR
    from fl_estimate.mse.bayes.common import NutsOptions, check_count
    from fl_estimate.mse.covariates import PostStratifiedMSE
    from fl_estimate.mse.covariates.records import parse_terms

    cases = [
        (lambda: check_count("draws", 0, 1), "draws doit être un entier >= 1, reçu 0",
         "draws must be an integer >= 1, got 0"),
        (lambda: NutsOptions(sampler="gibbs"), "sampler doit être l'un de",
         "sampler must be one of"),
        (lambda: DGA(delta=-1.0), "delta doit être positif, reçu -1.0",
         "delta must be positive, got -1.0"),
        (lambda: LCMCR(init="random"), "init doit être 'lcmcr' ou 'dispersed', reçu 'random'",
         "init must be 'lcmcr' or 'dispersed', got 'random'"),
        (lambda: PostStratifiedMSE([]), "la post-stratification nécessite au moins une covariable",
         "post-stratification needs at least one covariate"),
        (lambda: parse_terms("sex + age band"), "impossible de lire le terme de covariable",
         "cannot read the covariate term 'age band'"),
    ]  # fmt: skip
    for make, french, english in cases:
        with pytest.raises(ModelSpecificationError) as exc:
            make()
        message = message_of(exc.value)
        assert isinstance(message, Message), english
        assert str(message).startswith(english), str(message)
        assert _flat(translate(message, "fr")).startswith(french), translate(message, "fr")


def test_closed_population_boundary_notes_in_french() -> None:
    """Rcapture's Mh Poisson model on a table where it sits on the boundary: the status says
    why, in French; the flag texts and the profile interval's note too."""
    from fl_estimate.mse.heterogeneity import closedp
    from fl_estimate.mse.heterogeneity.profile import ProfileInterval

    for flag, text in closedp.FLAG_TEXT.items():
        assert isinstance(text, Message), flag
        assert translate(text, "fr") != str(text), flag
    fit = closedp.ClosedpFit.__new__(closedp.ClosedpFit)  # only the fields _status reads
    object.__setattr__(fit, "flags", ("unbounded",))
    object.__setattr__(fit, "model", closedp.ClosedpModel("Mb"))
    object.__setattr__(fit, "lists", ("a", "b", "c"))
    status, code = closedp._status(fit)
    assert code == "no-mle"
    assert str(status) == (
        f"{fit.label}: the fit sends the unobserved count to infinity: no finite estimate"
    )
    assert _flat(translate(status, "fr")) == (
        f"{fit.label} : l'ajustement envoie l'effectif non observé à l'infini : pas d'estimation "
        "finie"
    )
    note = ProfileInterval(
        estimate=10.0, low=5.0, high=None, level=0.95, low_at_observed=True,
        search_limit=12345.0, loglik_max=0.0,
    ).note  # fmt: skip
    assert str(note) == (
        "the profile likelihood stays above the cut-off up to N = 12,345: the data do not bound "
        "N above; the lower limit is the observed count"
    )
    assert _flat(translate(note, "fr")) == (
        "la vraisemblance profilée reste au-dessus du seuil jusqu'à N = 12 345 : les données ne "
        "bornent pas N par le haut ; la borne inférieure est l'effectif observé"
    )


@pytest.mark.parametrize(
    ("args", "french", "english"),
    [
        (["demo", "--out"], "Erreur : L'option '--out' demande un argument.",
         "Error: Option '--out' requires an argument."),
        (["run", "--progress=x", "cfg.toml"],
         "Erreur : L'option '--progress' ne prend pas de valeur.",
         "Error: Option '--progress' does not take a value."),
    ],
)  # fmt: skip
def test_option_usage_errors_in_french(
    args: list[str], french: str, english: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lang", "fr", *args]) == 2
    assert _flat(capsys.readouterr().err).rstrip().endswith(french)
    assert main(args) == 2
    assert capsys.readouterr().err.rstrip().endswith(english)


def test_estimate_summary_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    """``fl-estimate --lang fr mse`` prints the result's headings, interval words and numbers in
    French (``4 400``, ``Intervalle à 95 %``); the English summary is the text of before."""
    assert main(["--lang", "fr", "mse", KOSOVO]) == 0
    out = _flat(capsys.readouterr().out)
    assert out.startswith("Estimation de la taille de la population ===")
    for text in ("Observés 4 400", "Intervalle à 95 % au moins 12 541,3 (pas de borne supérieure)",
                 "Type d'intervalle intervalle de Wald", "Remarque sur l'intervalle Seulement une "
                 "borne inférieure : les personnes vues sur plusieurs listes"):  # fmt: skip
        assert text in out, text
    assert main(["mse", KOSOVO]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Population size estimate\n")
    assert "95% interval              at least 12,541.3 (no upper limit)" in out
    assert "Interval note             Only a lower bound: people seen on several lists" in out
