"""What a French user meets beyond validation: warnings, estimator errors, typer's usage errors and
``--help``, progress lines, status values in the report's tables.

Each French text comes from the catalog (``fl_estimate.i18n``); the English output of the same
command is compared with the text the code printed before the strings were catalogued, so the
English path is byte-identical.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fl_estimate.cli import main
from fl_estimate.exceptions import (
    ConvergenceWarning,
    EstimateDoesNotExistError,
    HeterogeneityWarning,
)
from fl_estimate.i18n import Message, message_of, translate
from fl_estimate.mse import read_capture_csv
from tests._refs import MSE_DATA
from tests.pipeline.test_report_reads_results import (  # noqa: F401 (histories: a fixture)
    histories,
    write_config,
)

NB = "\u00a0"  # French puts a no-break space before ':' and ';'
HARE = str(MSE_DATA / "snowshoe_hare.csv")

#: The heterogeneity warning on the snowshoe hare table as the code wrote it (an f-string) before.
HARE_WARNING_EN = (
    "fl-estimate: warning: snowshoe_hare.csv: people seen on several lists are more common than "
    "any pattern of list dependence explains (heterogeneity column Darroch, one-sided p = "
    "0.0029 < 0.025): some people are much harder to find than others, so a log-linear estimate "
    "is too low. Read a log-linear estimate as a lower bound; the default method ('default') "
    "reports it as one, and the heterogeneity models (methods 'mth', 'closedp', 'latent-class') "
    "show how much higher N may be."
)


def test_heterogeneity_warning_in_french_on_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fl-estimate --lang fr mse`` on a table with capture heterogeneity: the warning's text is
    French (p-value and file name as they are); English is the text of before, byte for byte."""
    assert main(["mse", HARE, "--method", "independence"]) == 0
    english = capsys.readouterr().err.strip()
    assert english == HARE_WARNING_EN
    assert main(["--lang", "fr", "mse", HARE, "--method", "independence"]) == 0
    french = capsys.readouterr().err.strip()
    assert french == (
        f"fl-estimate: avertissement{NB}: snowshoe_hare.csv{NB}: les personnes vues sur plusieurs "
        "listes sont plus nombreuses qu'aucune structure de dépendance entre listes ne l'explique "
        "(colonne d'hétérogénéité Darroch, p unilatéral = 0,0029 < 0,025)"
        f"{NB}: certaines personnes sont bien plus difficiles à repérer que d'autres, donc une "
        "estimation log-linéaire est trop basse. Lisez une estimation log-linéaire comme une "
        f"borne inférieure{NB}; la méthode par défaut ('default') la présente comme telle, et les "
        "modèles d'hétérogénéité (méthodes 'mth', 'closedp', 'latent-class') montrent de combien "
        "N peut être plus élevé."
    )
    monkeypatch.setenv("FL_ESTIMATE_LANG", "fr")  # the variable alone does the same
    assert main(["mse", HARE, "--method", "independence"]) == 0
    assert capsys.readouterr().err.strip() == french


def test_warnings_kept_by_the_fit_cache_stay_translatable() -> None:
    """The annual run records each fit's warnings (fit cache, worker processes, the report's
    warnings section): the record keeps the catalog message, also through pickling."""
    from fl_estimate.mse import estimate
    from fl_estimate.pipeline.cache import capture

    data = read_capture_csv(HARE)
    fit = pickle.loads(pickle.dumps(capture(lambda: estimate(data, "independence"))))
    (text,) = fit.messages
    assert isinstance(text, Message)
    assert text == HARE_WARNING_EN.removeprefix("fl-estimate: warning: ")
    assert translate(text, "fr").startswith(f"snowshoe_hare.csv{NB}: les personnes vues")
    with pytest.warns(HeterogeneityWarning) as got:
        fit.replay()
    assert message_of(got[0].message) == text


def test_convergence_warning_in_french() -> None:
    """The convergence warning of an MCMC method: the diagnostics and the advice in French."""
    from fl_estimate.mse.bayes.common import convergence_problems, result_from_draws
    from fl_estimate.simulate import simulate

    problems = convergence_problems({"rhat_N": 1.05, "ess_bulk_N": 900.0, "ess_tail_N": 250.0})
    assert problems == ["R-hat of N is 1.050 (> 1.01): the chains disagree",
                        "tail ESS of N is 250 (< 400)"]  # fmt: skip
    data = simulate(500, ["a", "b", "c"], capture_probs=0.4, seed=2).data
    # four chains stuck at different values: R-hat far above 1.01
    n = np.repeat([[400.0], [450.0], [500.0], [550.0]], 200, axis=1)
    n += np.random.default_rng(1).normal(0, 1, n.shape)
    with pytest.warns(ConvergenceWarning) as got:
        result_from_draws(method="demo", model="toy", data=data, n_draws=n, level=0.9, seed=1,
                          settings={})  # fmt: skip
    message = message_of(got[0].message)
    assert str(message).endswith(
        "The estimate is not reliable yet: run longer chains (increase draws or thin) or more "
        "chains."
    )
    french = translate(message, "fr")
    assert f"les chaînes ne concordent pas{NB};" in french
    assert french.endswith(
        f"L'estimation n'est pas encore fiable{NB}: faites tourner des chaînes plus longues "
        "(augmentez draws ou thin) ou davantage de chaînes."
    )


def test_existence_reason_and_estimator_errors_in_french(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Why a log-linear model has no estimate (the result's status, the error) and an unknown
    list in --model, in French on the command line; English as before."""
    from fl_estimate.mse import LogLinearMSE

    res = LogLinearMSE("A:B").fit(read_capture_csv(MSE_DATA / "artificial_3.csv"))
    assert res.status_code == "no-mle" and isinstance(res.status, Message)
    assert str(res.status).startswith(
        "model 'main effects + A:B' has no maximum-likelihood estimate"
    )
    assert translate(res.status, "fr").startswith(
        "le modèle 'main effects + A:B' n'a pas d'estimation du maximum de vraisemblance"
    )
    assert translate(res.status, "fr").endswith(
        "fusionnez des listes qui se chevauchent peu, ou utilisez une méthode de sélection de "
        "modèle qui écarte de tels modèles"
    )
    args = ["mse", HARE, "--method", "loglinear", "--model", "c1:z"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "fl-estimate: error: unknown list 'z' in term 'c1:z'; the lists are c1, c2, c3, c4, c5, "
        "c6\n"
    )
    assert main(["--lang", "fr", *args]) == 2
    assert capsys.readouterr().err == (
        f"fl-estimate: erreur{NB}: liste 'z' inconnue dans le terme 'c1:z'{NB}; les listes sont "
        "c1, c2, c3, c4, c5, c6\n"
    )
    with pytest.raises(EstimateDoesNotExistError) as exc:
        from fl_estimate.mse.loglinear.fit import inverse_information

        inverse_information(np.ones((3, 2)), np.ones(3), "A:B")
    assert translate(message_of(exc.value), "fr").startswith(
        f"modèle 'A:B'{NB}: l'information de Fisher est singulière"
    )


@pytest.mark.parametrize(
    ("args", "english", "french"),
    [
        (["frobnicate"], "Error: No such command 'frobnicate'.",
         f"Erreur{NB}: Commande 'frobnicate' inconnue."),
        (["run"], "Error: Missing argument 'config'.", f"Erreur{NB}: Argument manquant 'config'."),
        (["submissions", "check", "--bogus", "x"], "Error: No such option: --bogus",
         f"Erreur{NB}: Option inconnue{NB}: --bogus"),
        (["describe", "x.csv", "--format", "zz"],
         "Error: Invalid value for '--format': Value error, 'zz' is not one of 'table', 'json'.",
         f"Erreur{NB}: Valeur non valide pour '--format'{NB}: 'zz' ne fait pas partie de "
         "'table', 'json'."),
        (["describe", "a.csv", "b.csv"], "Error: Got unexpected extra argument(s) (b.csv)",
         f"Erreur{NB}: Argument(s) supplémentaire(s) inattendu(s) (b.csv)"),
    ],
)  # fmt: skip
def test_usage_errors_in_french_exit_2(
    args: list[str], english: str, french: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """typer's usage errors (unknown command or option, missing argument, bad choice, extra
    argument): exit code 2 in both languages, the usage line, the hint and the error in French;
    English as typer prints it (a French run before does not leave French behind)."""
    assert main(["--lang", "fr", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Utilisation{NB}: fl-estimate "), err
    assert "Essayez 'fl-estimate" in err and "--help' pour l'aide." in err
    assert err.rstrip().endswith(french), err
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: fl-estimate ") and err.rstrip().endswith(english), err
    assert "Try 'fl-estimate" in err


def test_help_in_french(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """``--help`` with FL_ESTIMATE_LANG=fr: typer's headings, our commands' and options' texts."""
    monkeypatch.setenv("FL_ESTIMATE_LANG", "fr")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Utilisation{NB}: fl-estimate [OPTIONS] COMMAND [ARGS]...")
    for text in ("Commandes:", "Affiche ce message et quitte.", "Affiche la version.",
                 "Lance l'estimation annuelle", "Statistiques administratives périodiques"):  # fmt: skip
        assert text in out, text
    assert main(["run", "--help"]) == 0
    out = re.sub("[ \n]+", " ", capsys.readouterr().out)  # wrapped lines; no-break spaces kept
    assert f"Configuration du traitement (TOML){NB}; voir docs/config.md. [obligatoire]" in out
    assert "Barre de progression." in out and "[par défaut" in out
    monkeypatch.setenv("FL_ESTIMATE_LANG", "en")
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: fl-estimate run [OPTIONS] {config}")
    assert "Run configuration (TOML); see docs/config.md." in out


def test_unknown_message_language_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "de", "describe", HARE]) == 2
    assert "unsupported language 'de'" in capsys.readouterr().err


def test_usage_messages_still_match_typer() -> None:
    """typer.core's gettext strings we translate are still in typer (an upgrade that rewords
    them would silently bring English back), and the English texts :mod:`fl_estimate.cli.usage`
    reads from typer's errors are still what typer writes."""
    import inspect

    import typer.core
    from typer._click import core, exceptions

    from fl_estimate.cli.usage import TYPER_MESSAGES

    source = inspect.getsource(typer.core)
    for msgid in TYPER_MESSAGES:
        assert f'_("{msgid.msgid}")' in source, msgid.msgid
    assert 'f"No such option: {' in inspect.getsource(exceptions)
    assert 'f"Got unexpected extra argument(s) ({extra_args})"' in inspect.getsource(core)


def test_annual_run_in_french_progress_and_status_values(
    tmp_path: Path,
    histories: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``fl-estimate run --lang fr``: the progress lines are French, and the report's tables and
    the workbook show statuses, interval kinds, kinds and variants in French while the CSV files
    keep the codes; the English run prints the lines of before."""
    import openpyxl

    cfg = write_config(tmp_path / "fr", histories, 'methods = ["stepwise"]\ninterval = "wald"')
    assert main(["run", str(cfg), "--no-progress", "--no-cache", "--lang", "fr"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ajustement de \d+ strates et de \d+ table\(s\) nationale\(s\) agrégée\(s\)"
                     r" \.\.\.$", out, re.M), out  # fmt: skip
    assert re.search(r"^\d+ fichiers écrits dans .+/ \(ouvrez report\.html\)$", out, re.M), out
    folder = tmp_path / "fr" / "out"
    sens = pd.read_csv(folder / "sensitivity.csv")
    assert set(sens["variant"]) == {"all lists"} and set(sens["status"]) == {"ok"}
    assert set(pd.read_csv(folder / "national_estimates.csv")["kind"]) >= {"sum of strata"}
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "| toutes les listes | stepwise |" in report
    assert "| somme des strates | stepwise |" in report
    assert "intervalle de Wald sur le logarithme du nombre non observé" in report
    assert "| estimé |" in report and "| ok |" not in report and "Project-Id" not in report
    book = openpyxl.load_workbook(folder / "tables.xlsx", read_only=True)
    rows = list(book["analyses de sensibilité"].values)
    status = rows[0].index("statut")
    assert {r[status] for r in rows[1:]} == {"estimé"}

    cfg = write_config(tmp_path / "en", histories, 'methods = ["stepwise"]\ninterval = "wald"')
    assert main(["run", str(cfg), "--no-progress", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^fitting \d+ strata and \d+ pooled national table\(s\) \.\.\.$", out, re.M)
    assert re.search(r"^wrote \d+ files to .+/ \(open report\.html\)$", out, re.M), out
    report = (tmp_path / "en" / "out" / "report.md").read_text(encoding="utf-8")
    assert "| all lists | stepwise |" in report and "| ok |" in report


def test_problem_lines_of_the_statistics_in_french() -> None:
    """A rejected file's problems in the progress lines of ``fl-estimate stats``."""
    from fl_estimate.exceptions import Problem
    from fl_estimate.i18n import N_, problem_message, render_problem

    p = Problem(N_("a value is required"), source="affaires.csv", row=3, column="case_type")
    line = N_("  - {problem}", problem=problem_message(p))
    assert line == "  - affaires.csv, row 3, column 'case_type': a value is required"
    assert translate(line, "fr") == "  - " + render_problem(p, "fr")
    assert "ligne 3" in translate(line, "fr")
    assert pickle.loads(pickle.dumps(line)) == line


def test_perpetrators_by_stage_and_age_group() -> None:
    """The IC-TIP perpetrator table by stage and age group: under the joint disclosure control
    (a small cell hidden), age from ``age`` or ``age_band``, French title and headings."""
    from fl_estimate.stats.labels import category_label, table_title
    from fl_estimate.stats.release import release_tables

    perps = pd.DataFrame(
        {
            "region": ["Nord"] * 7 + ["Sud"] * 5,
            "date_recorded": ["2023-03-01"] * 12,
            "offence": ["trafficking_in_persons"] * 12,
            "stage": ["suspected"] * 12,
            "sex": ["M"] * 12,
            "citizenship": ["NER"] * 12,
            "age": [30, 40, 50, 35, 45, 16, None, 30, 31, 32, 33, 34],
            "age_band": [None] * 6 + ["child"] + [None] * 5,
        }
    )
    tables, protection = release_tables(None, None, None, perps, levels=("year",), threshold=3)
    table = tables["perpetrators_age_trafficking_year"].publication()
    assert {"suspected|child", "suspected|adult"} <= set(table.columns)
    by_region = table.droplevel("period")  # one period: the year 2023
    assert by_region.loc["Sud", "suspected|adult"] == "5"  # 5 adults: published
    assert by_region.loc["Nord", "suspected|child"] == "c"  # 2 children: below 3, hidden
    assert by_region.loc["Nord", "suspected|adult"] == "c"  # else Total - adults gives it away
    assert bool(protection.intervals["protected"].all())
    assert table_title("perpetrators_age_trafficking", "fr") == (
        "Auteurs de traite des personnes par étape et groupe d'âge"
    )
    assert category_label("suspected|child", "fr") == (
        f"{translate('suspected', 'fr')}, {translate('child', 'fr')}"
    )
