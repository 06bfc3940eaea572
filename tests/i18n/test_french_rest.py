"""French for the last English of issue 22: ``describe``'s column names, the demo's labels and
charts, the indicators' summaries, the closed-population models' summary, numbers inside French
messages, the linkage report, and the estimators' and linkage errors that were f-strings. Each
test runs the surface in French and looks for the French text and for the English it replaced;
the English output is the text of before (other tests hold it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fl_estimate.cli import main
from fl_estimate.i18n import N_, translate
from tests._refs import MSE_DATA

ROOT = Path(__file__).resolve().parents[2]
KOSOVO = str(MSE_DATA / "kosovo.csv")
NNBSP = "\u202f"  # French grouping separator (CLDR)


def _flat(text: str) -> str:
    """One line, ordinary spaces (French puts no-break spaces before ':' and inside numbers)."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


# ---------------------------------------------------------------- numbers inside messages
@pytest.mark.parametrize(
    ("msgid", "params", "english", "french"),
    [
        ("R-hat of N is {rhat:.3f} (> {limit}): the chains disagree", {"rhat": 1.23456, "limit": 1.01},
         "R-hat of N is 1.235 (> 1.01): the chains disagree",
         "le R-hat de N vaut 1,235 (> 1,01)\u00a0: les chaînes ne concordent pas"),
        ("Capture patterns: {n:,} people on {k} lists", {"n": 4400, "k": 4},
         "Capture patterns: 4,400 people on 4 lists",
         f"Profils de capture\u00a0: 4{NNBSP}400 personnes sur 4 listes"),
        # whole numbers without a format: grouped from five digits (a year stays 2024)
        ("{first} or {second}", {"first": 2024, "second": 123456},
         "2024 or 123456", f"2024 ou 123{NNBSP}456"),
        # a value shown with !r is the value as written, not a number to localise
        ("unsupported language {lang!r}: expected one of {languages}", {"lang": 1.5, "languages": 0.5},
         "unsupported language 1.5: expected one of 0.5",
         "langue non prise en charge 1.5\u00a0: langues disponibles 0,5"),
        ("{first} or {second}", {"first": True, "second": float("nan")}, "True or nan", "True ou nan"),
    ],
)  # fmt: skip
def test_numbers_in_french_messages(
    msgid: str, params: dict[str, Any], english: str, french: str
) -> None:
    msg = N_(msgid, **params)
    assert str(msg) == translate(msg, "en") == english
    assert translate(msg, "fr") == french


def test_numpy_numbers_in_french_messages() -> None:
    import numpy as np

    msg = N_("{first} or {second}", first=np.int64(98765), second=np.float64(0.25))
    assert str(msg) == "98765 or 0.25"
    assert translate(msg, "fr") == f"98{NNBSP}765 ou 0,25"


# ---------------------------------------------------------------- describe
def test_describe_columns_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "fr", "describe", KOSOVO]) == 0
    out = capsys.readouterr().out
    for french in ("profils observés", "profils possibles", "paires sans recoupement",
                   "sur cette seule liste", "part sur cette seule liste", "recoupement",
                   "n (liste A)", "jamais recoupées", "personnes"):  # fmt: skip
        assert french in out, french
    assert f"4{NNBSP}400" in out and "0,592" in out and " non\n" in out
    for english in ("patterns_observed", "pairs_never_overlapping", "only_this_list", "share_only",
                    "list_a", "never_overlap", "False", "4400", "0.592"):  # fmt: skip
        assert english not in out, english
    # the English table keeps the column names and Python's numbers
    assert main(["describe", KOSOVO]) == 0
    out = capsys.readouterr().out
    assert "lists observed patterns_observed patterns_possible singletons" in out
    assert "list_a list_b overlap  n_a  n_b never_overlap" in out and "0.592" in out


# ---------------------------------------------------------------- demo and its charts
def _texts(fig: Any) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_demo_charts_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's chart texts in French (labels of the methods, title, axes, numbers); the CSV
    keeps the English labels."""
    import pandas as pd

    from fl_estimate import _figures

    charts: dict[str, list[str]] = {}
    real_save = _figures.save

    def keep(fig: Any, folder: Path, name: str, **kw: Any) -> list[Path]:
        fig.canvas.draw()  # tick labels are made at drawing
        charts[name] = _texts(fig)
        return real_save(fig, folder, name, **kw)

    monkeypatch.setattr(_figures, "save", keep)
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--data", KOSOVO, "--n-boot", "20"]
    assert main(["--lang", "fr", *args]) == 0
    raw = " | ".join(charts["estimates"])
    est = _flat(raw)
    for french in ("indépendance, vraisemblance profilée", "pas à pas, Wald (conditionnel)",
                   "pas à pas, bootstrap BCa", "BIC (deux à deux), Wald (conditionnel)",
                   "borne inférieure de Chao", "kosovo.csv : estimations par méthode "
                   "(intervalles à 95\u00a0%)", "Taille estimée de la population N (tirets : "
                   "observés)"):  # fmt: skip
        assert _flat(french) in est, french
    assert re.search(rf"\d{NNBSP}\d00", raw), raw  # axis ticks grouped the French way
    assert "95\u00a0%" in raw and "estimations par méthode (" in raw
    for english in ("independence, profile", "stepwise", "Chao lower bound", "estimates by method",
                    "Estimated population"):  # fmt: skip
        assert english not in est, english
    ovl = " | ".join(charts["overlaps"])
    assert f"Profils de capture\u00a0: 4{NNBSP}400 personnes sur 4 listes" in ovl, ovl
    assert "Personnes ayant ce profil" in ovl and f"EXH (1{NNBSP}910)" in ovl
    assert "Capture patterns" not in ovl and "People" not in ovl and "1,910" not in ovl
    names = pd.read_csv(out / "estimates.csv")["name"].tolist()
    assert names[0] == "independence, profile" and names[-1] == "Chao lower bound"


def test_charts_in_english_unchanged() -> None:
    from fl_estimate._figures import detached
    from fl_estimate.mse.data import read_capture_csv
    from fl_estimate.plotting import plot_overlaps

    with detached():
        ax = plot_overlaps(read_capture_csv(KOSOVO))
        assert ax.get_title(loc="left") == "Capture patterns: 4,400 people on 4 lists"
        assert ax.get_ylabel() == "People with this pattern"


# ---------------------------------------------------------------- closed-population models
def test_closedp_summary_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    """``mse --method closedp`` prints Rcapture's table: in French its heading, column labels,
    flags, notes and numbers (artificial_3: large bias and boundary fits, behavioural models
    without a profile interval)."""
    data = str(MSE_DATA / "artificial_3.csv")
    assert main(["--lang", "fr", "mse", data, "--method", "closedp"]) == 0
    out = capsys.readouterr().out
    flat = _flat(out)
    assert flat.startswith("Nombre d'unités capturées : 96 (3 listes)")
    for french in ("modèle", "effectif", "erreur type", "déviance", "ddl", "signalement",
                   "effectif (multinomial)", "borne inférieure", "borne supérieure",
                   "note sur l'intervalle", "biais important", "frontière",
                   "pas d'intervalle de vraisemblance profilée pour les modèles comportementaux",
                   "Signalements :", "M0 : le biais asymptotique de l'estimation dépasse 10 %",
                   "566,4", "1 337,4"):  # fmt: skip
        assert french in flat, french
    for english in ("Number of captured", "abundance", "stderr", "deviance", "flag",
                    "large-bias", "boundary", "behavioural", "Flags:", "interval_note",
                    "ci_low", "566.4", "NaN"):  # fmt: skip
        assert english not in out, english
    assert main(["mse", data, "--method", "closedp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Number of captured units: 96 (3 lists)\n")
    assert "large-bias" in out and "Flags:\nM0: the asymptotic bias" in out
    assert "no profile interval for behavioural models" in out


def test_closedp_result_lookup_error_is_a_message() -> None:
    from fl_estimate.i18n import message_of
    from fl_estimate.mse.data import read_capture_csv
    from fl_estimate.mse.heterogeneity import ClosedPopulationModels

    res = ClosedPopulationModels().fit(read_capture_csv(MSE_DATA / "korea.csv"))
    with pytest.raises(KeyError) as exc:
        res["Mzz"]
    msg = message_of(exc.value)
    assert (
        msg == "no model 'Mzz'; models: M0, Mt, Mh Chao (LB), Mh Poisson2, Mh Darroch, "
        "Mh Gamma3.5, Mth Chao (LB), Mth Poisson2, Mth Darroch, Mth Gamma3.5, Mb, Mbh"
    )
    assert _flat(translate(msg, "fr")).startswith("aucun modèle 'Mzz' ; modèles : M0, Mt")


def test_mse_summary_in_french_numbers_statuses_and_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The default method on Kosovo (the heterogeneity diagnosis fires: a lower bound): status,
    policy, the note's numbers and the diagnostics' values in French; the diagnostics' names in
    words, their documented names beside."""
    assert main(["--lang", "fr", "mse", KOSOVO]) == 0
    out = capsys.readouterr().out
    flat = _flat(out)
    for french in ("Statut borne inférieure seulement", "p unilatéral = 1,2e-29 < 0,025",
                   "le niveau de confiance de 95 % porte sur", "déviance (deviance) 39,8936",
                   "log-vraisemblance (loglik) -70,6588",
                   "hétérogénéité signalée (heterogeneity_flag) oui",
                   "règle appliquée (policy) borne inférieure (le diagnostic d'hétérogénéité a "
                   "signalé",
                   "estimation du modèle sélectionné (selected_estimate) 14 341,6638",
                   "Modèle max(borne inférieure de Chao, stepwise: effets principaux"):  # fmt: skip
        assert french in flat, french
    for english in ("lower_bound\n", "1.2e-29", "95%", "True", "diagnosis fired", "14,341.6638",
                    "39.8936"):  # fmt: skip
        assert english not in out, english
    assert main(["mse", KOSOVO]) == 0
    out = capsys.readouterr().out
    assert "Status                    lower_bound" in out
    assert "heterogeneity_flag        True" in out
    assert "policy                    lower bound (heterogeneity diagnosis fired)" in out
    assert "selected_estimate         14,341.6638" in out
    assert "one-sided p = 1.2e-29 < 0.025" in out and "and 95% confidence goes with" in out


# ---------------------------------------------------------------- indicators
SURVEY = ROOT / "data_samples" / "survey"


def test_indicators_summaries_in_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``indicators score`` and ``prevalence`` (with a small-domain threshold that flags the
    regions) and ``frameworks`` in French: words, classifications, column labels, notes and
    numbers; the English summaries are the text of before."""
    scored = tmp_path / "scored.csv"
    score = ["indicators", "score", str(SURVEY / "survey.csv"), "--mapping",
             str(SURVEY / "mapping.toml"), "--out", str(scored)]  # fmt: skip
    assert main(["--lang", "fr", *score]) == 0
    out = capsys.readouterr().out
    flat = _flat(out)
    for french in ("[ilo2012, données 1.1.0]", "règle : paired_dimensions (pairing=",
                   "; réponses manquantes : indeterminate", "4 000 enregistrements ; 26 colonnes "
                   "d'indicateurs mesurées", "classification", "part",
                   "pas de travail forcé 3 890 0,9725", "travail forcé 110 0,0275",
                   "indéterminé 0 0,0000"):  # fmt: skip
        assert french in flat, french
    for english in ("rule:", "missing answers", "records;", "not_forced_labour", "share",
                    "0.9725"):  # fmt: skip
        assert english not in out, english
    prevalence = ["indicators", "prevalence", str(scored), "--by", "region", "--design",
                  str(SURVEY / "design.toml"), "--outcome", "forced_labour,HTS.PEN.12@D1",
                  "--min-n", "1500"]  # fmt: skip
    assert main(["--lang", "fr", *prevalence]) == 0
    out = capsys.readouterr().out
    flat = _flat(out)
    for french in ("Prévalence pour 1 000 (inférence fondée sur le plan de sondage ; SurveyDesign(",
                   "intervalle : beta à 95 % ; réponses indéterminées : exclude",
                   "variable par domaine estimation borne inférieure borne supérieure effet de "
                   "plan n non pondéré n positifs n indéterminés ddl",
                   "forced_labour ensemble ensemble 26,30 20,59 33,08 1,52 4 000 110 0 156,0",
                   "remarque : HTS.PEN.12@D1 West : aucun cas positif dans le domaine ; "
                   "intervalle de Korn-Graubard", "8 estimation(s) reposent sur un petit domaine "
                   "(< 1500 répondants ou < 2 grappes) : forced_labour East"):  # fmt: skip
        assert french in flat, french
    for english in ("Prevalence per", "design-based", "indeterminate answers", "outcome", "deff",
                    "n_unweighted", "note:", "no positive case", "rest on a small domain",
                    "26.30"):  # fmt: skip
        assert english not in out, english
    assert main(prevalence) == 0
    out = capsys.readouterr().out
    assert out.startswith("Prevalence per 1000 (design-based; SurveyDesign(")
    assert "note: HTS.PEN.12@D1 West: no positive case in the domain; Korn–Graubard" in out
    assert "8 estimate(s) rest on a small domain (< 1500 respondents or < 2 clusters)" in out
    assert main(["--lang", "fr", "indicators", "frameworks"]) == 0
    out = _flat(capsys.readouterr().out)
    assert "source : International Labour Office" in out and "68 indicateurs en 6 dimensions" in out
    assert "version : 2009" in out and "(données 1.0.0)" in out and "règle : delphi (" in out
    assert main(["indicators", "frameworks"]) == 0
    out = capsys.readouterr().out
    assert "\nsource: International Labour Office" in out and "68 indicators in 6 dimensions" in out


# ---------------------------------------------------------------- estimator and linkage errors
def _error_cases() -> list[tuple[str, Any, type[Exception], str, str]]:
    from fl_estimate.exceptions import ModelSpecificationError
    from fl_estimate.mse.heterogeneity.estimator import ClosedpMSE, bootstrap_closedp
    from fl_estimate.mse.loglinear.greedy import GreedySearchMSE
    from fl_estimate.mse.options import IntervalOptions
    from fl_estimate.providers.country_profiles import load_name_pool, make_profile_country
    from fl_estimate.providers.linkage import RecordLinker
    from fl_estimate.providers.pseudonymise import normalise_date

    ms = ModelSpecificationError
    return [
        ("closedp criterion", lambda: ClosedpMSE(criterion="xyz"), ms,
         "criterion must be 'AIC' or 'BIC', got 'xyz'",
         "criterion doit être 'AIC' ou 'BIC', reçu 'xyz'"),
        ("n_boot", lambda: bootstrap_closedp(None, None, n_boot=0), ms,  # type: ignore[arg-type]
         "n_boot must be at least 1, got 0", "n_boot doit être au moins 1, reçu 0"),
        ("greedy criterion", lambda: GreedySearchMSE(criterion="cp"), ms,
         "criterion must be 'aic' or 'bic', got 'cp'",
         "criterion doit être 'aic' ou 'bic', reçu 'cp'"),
        ("interval option", lambda: IntervalOptions().merged(speed=1), ms,
         "unknown interval option 'speed'; the interval options are ",
         "option d'intervalle inconnue 'speed' ; les options d'intervalle sont "),
        ("linker method", lambda: RecordLinker(method="fuzzy"), ms,
         "method must be 'probabilistic' or 'deterministic', not 'fuzzy'",
         "method doit valoir 'probabilistic' ou 'deterministic', pas 'fuzzy'"),
        ("linker threshold", lambda: RecordLinker(threshold=1.5), ms,
         "threshold must lie in (0, 1) or be 'auto', got 1.5",
         "threshold doit être compris dans (0, 1) ou valoir 'auto', reçu 1.5"),
        ("prior_recall", lambda: RecordLinker(prior_recall=1.5), ms,
         "prior_recall must lie in (0, 1], got 1.5",
         "prior_recall doit être compris dans (0, 1], reçu 1,5"),
        ("rule", lambda: RecordLinker(blocking=(("nope",),)), ms,
         "blocking rule ['nope'] names unknown columns ['nope']; rules may use ",
         "la règle blocking ['nope'] nomme des colonnes inconnues ['nope'] ; les règles peuvent "
         "utiliser "),
        ("name pool", lambda: load_name_pool("atlantis"), ms,
         "no name pool 'atlantis' (known: ", "aucun réservoir de noms 'atlantis' (connus : "),
        ("profile", lambda: make_profile_country("atlantis", "small", seed=1), ms,
         "unknown profile 'atlantis'; choose one of ", "profil inconnu 'atlantis' ; choisissez "
         "l'un de "),
        ("size", lambda: make_profile_country("sahel", -3, seed=1), ms,
         "size must be a positive number of records, not -3",
         "size doit être un nombre positif d'enregistrements, pas -3"),
        ("date", lambda: normalise_date("31/02/2024"), ValueError,
         "unreadable date '31/02/2024'", "date illisible '31/02/2024'"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _error_cases(), ids=lambda c: c[0])
def test_estimator_and_linkage_errors_are_catalog_messages(case: tuple[Any, ...]) -> None:
    """The errors that were f-strings: the English text is what the f-string made; French from
    the catalog (numbers the French way where a number is inserted)."""
    from fl_estimate.i18n import Message, message_of

    _name, call, kind, english, french = case
    with pytest.raises(kind) as exc:
        call()
    msg = message_of(exc.value)
    assert isinstance(msg, Message)
    assert str(exc.value).startswith(english), str(exc.value)
    assert _flat(translate(msg, "fr")).startswith(_flat(french)), translate(msg, "fr")


# ---------------------------------------------------------------- internal linkage report
def test_linkage_report_html_in_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``fl-estimate --lang fr link`` on the sample country (about 15 s): the internal report's
    headings, fact labels, column labels, codes, warnings, validation messages and numbers in
    French (the JSON and CSV files keep the codes; the English page is unchanged, checked in
    tests/providers/test_linkage_training.py)."""
    import html as html_lib

    out = tmp_path / "linkage"
    assert main(["--lang", "fr", "link", str(ROOT / "data_samples/country/link.toml"),
                 "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    page = (tmp_path / "linkage.internal" / "linkage_report.html").read_text(encoding="utf-8")
    text = _flat(html_lib.unescape(page))
    assert "<html lang='fr'>" in page and "<h1>Rapport de couplage</h1>" in page
    for french in ("<h2>Avertissements</h2>", "<h2>N̂ selon le seuil de concordance</h2>",
                   "<h2>Fusions au sein d'un même fournisseur</h2>", "<h2>Paramètres du modèle</h2>",
                   "<h2>Sessions d'entraînement EM</h2>", "<h2>Fichiers transmis</h2>",
                   "<h2>Problèmes de validation</h2>", "<h2>Complétude</h2>",
                   "<h2>Personnes couplées par strate (après contrôle de la divulgation)</h2>",
                   "<th>seuil de concordance</th>", "<th>paires comparées</th>",
                   "<th>poids de concordance médian</th>", "<th>dédoublonnage</th>",
                   "<td>activé</td>", "<td>utilisé</td>", "<td>reçu</td>", "<td>entraîné</td>",
                   "<td>tiré des données</td>", "N̂ : écart de 6 % sur l'éventail des seuils de "
                   "concordance plausibles 0,8-0,99", "attendu : F, M, other (autre) ou unknown "
                   "(inconnu)", "<td>0,9000</td>", "<td>2 783</td>", "<td>0,000468</td>"):  # fmt: skip
        assert _flat(french) in text, french
    for english in ("Linkage report", "Warnings", "Model parameters", "Submission files",
                    "Validation problems", "pairs_compared", "median_match_weight",
                    "records_removed", ">value<", ">used<", ">received<", ">trained<",
                    "move by", "expected F, M", "2783", ">0.9<"):  # fmt: skip
        assert english not in page, english
    summary = (out / "linkage_summary.json").read_text(encoding="utf-8")
    assert "Rapport" not in summary and "couplage" not in summary


# ---------------------------------------------------------------- estimators' notes and reasons
def test_mcmc_reasons_in_french_with_french_numbers() -> None:
    """The convergence reasons that were f-strings (the doctests' draws): same English, French
    from the catalog with grouped numbers and ``10 %``."""
    import numpy as np

    from fl_estimate.mse.bayes.common import several_modes
    from fl_estimate.mse.bayes.imh import ImhDraws, imh_problems

    rng = np.random.default_rng(0)
    one = rng.lognormal(np.log(1000), 0.1, size=(4, 1000))
    two = several_modes(np.vstack([one[:2], 3 * one[2:]]))
    assert (
        two == "chains 0 and 2 do not overlap (medians 993 and 2,964, interquartile ranges apart)"
    )
    assert translate(two, "fr") == (
        f"les chaînes 0 et 2 ne se recouvrent pas (médianes 993 et 2{NNBSP}964, écarts "
        "interquartiles disjoints)"
    )
    fit = ImhDraws(np.zeros((2, 5, 1)), np.zeros((2, 5, 1)), np.zeros((2, 5), bool),
                   np.array([0.9, 0.1]), 0.5, 8.0)  # fmt: skip
    (problem,) = imh_problems(fit)
    assert problem == "chain 1 accepted 10% of its proposals (< 30%)"
    assert translate(problem, "fr") == (
        "la chaîne 1 a accepté 10\u00a0% de ses propositions (< 30\u00a0%)"
    )


def test_closedp_and_prevalence_charts_in_french() -> None:
    import pandas as pd

    from fl_estimate._figures import detached
    from fl_estimate.mse.data import read_capture_csv
    from fl_estimate.mse.heterogeneity import ClosedPopulationModels
    from fl_estimate.reporting import plot_indicator_prevalence

    res = ClosedPopulationModels().fit(read_capture_csv(MSE_DATA / "artificial_3.csv"))
    table = pd.DataFrame({"domain": ["Nord", "Sud"], "estimate": [12.5, 30.25],
                          "ci_low": [8.0, 20.0], "ci_high": [18.0, 41.5]})  # fmt: skip
    with detached():
        ax = res.plot(lang="fr")
        assert _flat(ax.get_xlabel()) == "Taille estimée de la population N (tirets : observés)"
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert "M0 [biais important]" in ticks and "Mh Darroch [frontière]" in ticks
        assert res.plot().get_xlabel() == "Estimated population size N (dashed: observed)"
        ax = plot_indicator_prevalence(table, lang="fr")
        assert _flat(ax.get_xlabel()) == "Prévalence pour 1 000 (intervalle à 95 %)"
        assert plot_indicator_prevalence(table).get_xlabel() == (
            "Prevalence per 1,000 (95% interval)"
        )


def test_preformatted_numbers_now_take_the_french_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Messages that inserted numbers already formatted the English way (``9,007,...``) pass
    the number with its format: the same English, grouped the French way in French."""
    big = tmp_path / "big.csv"
    big.write_text("a,b,count\n1,0,99999999999999999999\n0,1,3\n1,1,2\n", encoding="utf-8")
    assert main(["describe", str(big)]) == 2
    assert "at most 2^53 = 9,007,199,254,740,992 (value" in capsys.readouterr().err
    assert main(["--lang", "fr", "describe", str(big)]) == 2
    err = capsys.readouterr().err
    assert f"d'au plus 2^53 = 9{NNBSP}007{NNBSP}199{NNBSP}254{NNBSP}740{NNBSP}992" in err
    assert "9,007" not in err


def test_model_descriptions_in_french_tables() -> None:
    """The report's tables and workbook (``_relabel``) give the log-linear models' words in
    French; list names and terms stay as they are, and English is unchanged."""
    import pandas as pd

    from fl_estimate.reporting.report import _relabel

    models = ["main effects (independence)", "main effects + police:courts", None]
    df = pd.DataFrame({"model": models, "note": models})  # a national fit's note: its model
    for col in (0, 1):
        assert _relabel(df, "fr").iloc[:2, col].tolist() == [
            "effets principaux (indépendance)",
            "effets principaux + police:courts",
        ]
        assert _relabel(df, "en").iloc[:2, col].tolist() == models[:2]
