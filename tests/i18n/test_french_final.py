"""French for the last English surfaces of issue 22: the estimators' model descriptions and the
diagnostics' names and code values in ``summary()``, the report's derived column labels and
suppression flags, the linkage model's levels and m/u sources (internal report, warnings and
workbook), the indicators' parameter errors, and the language of ``run``'s own messages.

Each test runs the surface in French and looks for the French text and for the English it
replaced; the English text is checked to be what it was (the English outputs of before, byte
for byte, are held by the tests of each area).
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest

from fl_estimate.cli import main
from fl_estimate.i18n import column_label, translate
from fl_estimate.results import DIAGNOSTIC_LABELS, diagnostic_label, model_words

ROOT = Path(__file__).resolve().parents[2]
UK = ROOT / "data_samples" / "uk_2013.csv"
NNBSP = "\u202f"


def _flat(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


# ---------------------------------------------------------------- model descriptions
@pytest.mark.parametrize(
    ("english", "french"),
    [
        ("main effects + LA:NG + PF:GO", "effets principaux + LA:NG + PF:GO"),
        ("main effects (independence)", "effets principaux (indépendance)"),
        ("latent classes, K*=10, Dirichlet process",
         "classes latentes, K*=10, processus de Dirichlet"),
        ("2 latent classes, lists independent within a class",
         "2 classes latentes, listes indépendantes au sein d'une classe"),
        ("average over 18154 decomposable graphs",
         f"moyenne sur 18{NNBSP}154 graphes décomposables"),
        ("two lists, independence (120 and 80 people, 30 on both)",
         "deux listes, indépendance (120 et 80 personnes, 30 sur les deux)"),
        ("Chao lower bound, n + f1²/(2 f2)", "borne inférieure de Chao, n + f1²/(2 f2)"),
        ("Chao lower bound, n + f1(f1-1)/2 (bias-corrected, f2 = 0)",
         "borne inférieure de Chao, n + f1(f1-1)/2 (corrigée du biais, f2 = 0)"),
        ("max(Chao lower bound, stepwise: main effects + A:B)",
         "max(borne inférieure de Chao, stepwise: effets principaux + A:B)"),
        ("hierarchical log-linear, partially pooled main effects (24 strata, total)",
         "log-linéaire hiérarchique, effets principaux partiellement mis en commun "
         "(24 strates, total)"),
        ("main effects + A:B (normal prior on interactions)",
         "effets principaux + A:B (loi a priori normale sur les interactions)"),
        ("main effects + A:B (retained by thresholding; proper prior on interactions; C:D at "
         "minus infinity (margin zero))",
         "effets principaux + A:B (retenues par seuillage\u00a0; loi a priori propre sur les "
         "interactions; C:D à moins l'infini (marge nulle))"),
        ("police, ngo ~ sex (effects shared by the lists)",
         "police, ngo ~ sex (effets communs aux listes)"),
        ("stepwise per level of sex", "stepwise par modalité de sex"),
        ("Mh Darroch", "Mh Darroch"),  # the closed-population models' names stay
    ],
)  # fmt: skip
def test_model_words(english: str, french: str) -> None:
    assert model_words(english, "fr") == french
    assert model_words(english, "en") is english


@pytest.mark.parametrize("method", ["default", "stepwise", "bic", "auto", "search", "chao",
                                    "latent-class", "mh", "dga"])  # fmt: skip
def test_summary_model_and_diagnostics_in_french(method: str) -> None:
    """Every diagnostic of these methods on the UK table has its words (a new diagnostic without
    a label fails here); the model's description and the prose diagnostics are French."""
    from fl_estimate.mse import estimate, read_capture_csv

    res = estimate(read_capture_csv(UK), method)
    shown = [k for k, v in res.diagnostics.items() if isinstance(v, int | float | str | bool)]
    assert not [k for k in shown if k not in DIAGNOSTIC_LABELS], method
    french = str(res.summary("fr"))
    english = str(res.summary("en"))
    for k in shown:
        assert f"{translate(DIAGNOSTIC_LABELS[k], 'fr')} ({k})" in french
        assert re.search(rf"^{re.escape(k)} +", english, flags=re.M), k  # English: the name only
    for words in ("main effects", "latent classes", "decomposable graphs", "Chao lower bound",
                  "BIC over every", "stepwise selection of", "greedy search", "none\n",
                  "heterogeneity extension", "residual degrees"):  # fmt: skip
        assert words not in french, (method, words)
    assert res.model in english


def test_diagnostic_label() -> None:
    assert diagnostic_label("rhat_N", "fr") == "R-hat de N (rhat_N)"
    assert diagnostic_label("rhat_N", "en") == "rhat_N"
    assert diagnostic_label("not_a_diagnostic", "fr") == "not_a_diagnostic"


# ---------------------------------------------------------------- report tables
def test_report_columns_and_suppression_flags_in_french() -> None:
    import pandas as pd

    from fl_estimate.reporting.report import _protect_observed, _relabel

    frame = pd.DataFrame({"region": ["A", "B", "C"], "observed": [3, 40, 50],
                          "estimate_per_100000": [1.0, 2.0, 3.0]})  # fmt: skip
    out = _protect_observed(frame, 5, {("C",): "secondary"}, ["region"])
    assert out["observed_suppressed"].tolist() == [
        "below 5",
        "",
        "hidden so that totals do not reveal a small count",
    ]  # the CSV's English
    fr = _relabel(out, "fr")
    assert list(fr.columns) == ["région", "observés", f"estimation pour 100{NNBSP}000",
                                "observés\u00a0: motif du masquage"]  # fmt: skip
    assert fr.iloc[:, 3].tolist() == [
        "moins de 5",
        "",
        "masqué pour que les totaux ne révèlent pas un petit effectif",
    ]
    assert column_label("estimate_per_100000", "en") == "estimate_per_100000"
    assert column_label("rank", "fr") == "rang" and column_label("bic", "fr") == "BIC"
    assert column_label("bic", "en") == "bic"


def test_more_warnings_point_to_the_french_workbook() -> None:
    from fl_estimate.i18n import translator

    text = translator("fr").gettext("- ... and {n} more (warnings.csv)")
    assert "tables.xlsx" in text and "{n}" in text


# ---------------------------------------------------------------- linkage model's words
def test_linkage_messages_keep_their_english() -> None:
    from fl_estimate.providers.linkage.comparisons import default_comparisons
    from fl_estimate.providers.linkage.words import level_message, linkage_message

    for spec in default_comparisons():
        for level in spec.levels:
            message = level_message(level.label)
            assert str(message) == level.label
            assert translate(message, "fr") != level.label, level.label
    for text, french in [
        ("prior 0.12: level never seen in the EM sessions (key_dob; key_doc)",
         "a priori 0,12\u00a0: niveau jamais vu dans les sessions EM (key_dob; key_doc)"),
        ("EM: key_dob; capped at its documented bound 0.04 (EM gave 0.0712)",
         "EM\u00a0: key_dob\u00a0; plafonnée à sa borne documentée 0,04 (EM donnait 0,0712)"),
        ("rule of half (no pair in a random sample of 12000)",
         f"règle du demi (aucune paire dans un échantillon aléatoire de 12{NNBSP}000)"),
        ("m of dob / same year, other day, year / different held at 1e-06 (EM drove it to "
         "zero; splink said no)",
         "m de dob / même année, autre jour, year / différent maintenu à 1e-06 (EM le menait à "
         "zéro\u00a0; splink said no)"),
        ("only 12 pairs (fewer than 100): unreliable",
         "seulement 12 paires (moins de 100)\u00a0: peu fiable"),
    ]:  # fmt: skip
        message = linkage_message(text)
        assert str(message) == text
        assert translate(message, "fr") == french
    assert linkage_message("prior 0.1200: a custom reason") == "prior 0.1200: a custom reason"


def test_linkage_report_and_workbook_in_french(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fl-estimate --lang fr link`` on the French sample (about 10 s): the model's levels,
    m/u sources, the EM sessions' notes, the thresholds' kinds and the models in the internal
    report and the warnings in French; the workbook's sheets and headings too (numbers stay
    numbers)."""
    import openpyxl

    out = tmp_path / "linkage"
    assert main(["--lang", "fr", "link", str(ROOT / "data_samples/pays/link.toml"),
                 "--out", str(out)]) == 0  # fmt: skip
    printed = _flat(capsys.readouterr().out)
    inside = tmp_path / "linkage.internal"
    page = _flat(html_lib.unescape((inside / "linkage_report.html").read_text(encoding="utf-8")))
    for french in ("même nom complet", "même année, les deux dates inconnues", "nom, Dice >= 0,9",
                   "âge à 3 ans près", "EM : key_dob", "a priori 0,08 : niveau jamais vu dans les "
                   "sessions EM", "par défaut", "tiré des données", "effets principaux (indépendance)",
                   "maintenu à 1e-06 (EM le menait à zéro ;", "nouvelle tentative"):  # fmt: skip
        assert french in page, french
    for english in ("same full name", "same year, both dates unknown", "name Dice", "prior 0.08",
                    "level never seen", "fixed, default", "main effects", "EM drove it",
                    ">retried<"):  # fmt: skip
        assert english not in page, english
    assert "dob / même année, les deux dates inconnues (niveau jamais vu" in printed
    assert "level never seen" not in printed

    wb = openpyxl.load_workbook(inside / "linkage_report.xlsx")
    assert wb.sheetnames[:3] == ["Avertissements", "N̂ selon le seuil de concordanc",
                                 "Fusions au sein d'un même fourn"]  # fmt: skip
    params = wb["Paramètres du modèle"]
    rows = list(params.iter_rows(values_only=True))
    assert rows[0] == ("comparaison", "niveau", "m", "u", "origine de m", "origine de u")
    assert rows[1][:2] == ("name", "même nom complet") and isinstance(rows[1][2], float)
    texts = {str(v) for r in wb.worksheets for row in r.iter_rows(values_only=True) for v in row}
    for english in ("same full name", "random sample", "fixed", "level never seen", "used"):
        assert english not in texts, english

    # English: the workbook keeps its English titles, names and codes
    out_en = tmp_path / "linkage_en"
    assert main(["link", str(ROOT / "data_samples/pays/link.toml"), "--out", str(out_en)]) == 0
    capsys.readouterr()
    wb = openpyxl.load_workbook(tmp_path / "linkage_en.internal" / "linkage_report.xlsx")
    assert wb.sheetnames[0] == "Warnings" and "Model parameters" in wb.sheetnames
    rows = list(wb["Model parameters"].iter_rows(values_only=True))
    assert rows[0][:2] == ("comparison", "level") and rows[1][1] == "same full name"


# ---------------------------------------------------------------- indicators
def test_framework_parameter_errors_in_french() -> None:
    from fl_estimate.exceptions import InputValidationError
    from fl_estimate.i18n import render_error
    from fl_estimate.indicators import load_framework

    with pytest.raises(InputValidationError) as exc:
        load_framework("ilo2012").with_parameters(child_age="x", require_strong=3)
    english = exc.value.one_line(5)
    assert "bad parameters for ilo2012" in english and "expected an age in years" in english
    french = _flat(render_error(exc.value, "fr", 5))
    for words in ("paramètres incorrects pour ilo2012", "un âge en années", "true ou false"):
        assert words in french, french
    for words in ("bad parameters", "an age in years", "true or false"):
        assert words not in french, french


# ---------------------------------------------------------------- run's own messages
def test_run_speaks_the_language_of_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --lang or FL_ESTIMATE_LANG, ``run`` and ``stats`` speak the configuration's
    ``[report] language`` (the French sample: ``make demo-fr`` in French on any locale)."""
    from fl_estimate.cli import _lang

    pays, country = str(ROOT / "data_samples/pays.toml"), str(ROOT / "data_samples/country.toml")
    monkeypatch.delenv("FL_ESTIMATE_LANG")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert _lang(["run", pays]) == "fr" and _lang(["stats", pays, "--out", "x"]) == "fr"
    assert _lang(["run", country]) == "en"
    assert _lang(["run", pays, "--lang", "en"]) == "en"
    assert _lang(["run", "missing.toml"]) == "en" and _lang(["mse", pays]) == "en"
    monkeypatch.setenv("FL_ESTIMATE_LANG", "en")
    assert _lang(["run", pays]) == "en"


# ---------------------------------------------------------------- LCMCR's progress bar
def test_lcmcr_progress_bar_in_french(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar's words follow FL_ESTIMATE_LANG (no sampling: the bar alone)."""
    from fl_estimate.i18n import N_
    from fl_estimate.mse.bayes.lcmcr import _progress_bar

    for lang, words in (("fr", ("lcmcr sur uk.csv", "tour 1 (échange de répliques)",
                                "balayages par chaîne")),
                        ("en", ("lcmcr on uk.csv", "round 1 (replica exchange)",
                                "sweeps per chain"))):  # fmt: skip
        monkeypatch.setenv("FL_ESTIMATE_LANG", lang)
        with _progress_bar(True, N_("lcmcr on {source}", source="uk.csv")) as start:
            tick = start(N_("{round} (replica exchange)", round=N_("round {n}", n=1)), 10)
            tick(10)
        out = _flat(capsys.readouterr().out)
        for w in words:
            assert w in out, (lang, out)
