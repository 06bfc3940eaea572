"""The method registry and the interval options (issue 18): one place maps a method name to its
class and options; an option a method does not take is an error naming the valid ones."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

from fl_estimate import read_capture_csv
from fl_estimate.cli import main
from fl_estimate.exceptions import ModelSpecificationError
from fl_estimate.mse import (
    ExhaustiveSearchMSE,
    IntervalOptions,
    StepwiseMSE,
    available_methods,
    estimate,
    registry,
)
from fl_estimate.mse.loglinear import GreedySearchMSE, LogLinearMSE
from tests._refs import MSE_DATA

OLD_CLI_METHODS = (
    "independence",
    "loglinear",
    "stepwise",
    "aic",
    "bic",
    "auto",
    "search",
    "latent-class",
    "chao",
    "lincoln-petersen",
    "chapman",
    "bayes-threshold",
    "lcmcr",
    "dga",
    "bayes-loglinear",
)


@pytest.fixture(scope="module")
def korea():  # type: ignore[no-untyped-def]
    return read_capture_csv(MSE_DATA / "korea.csv")


def test_every_method_name_of_the_old_cli_is_available() -> None:
    assert set(OLD_CLI_METHODS) <= set(available_methods())
    assert registry.get("independence") is registry.get("loglinear")
    assert registry.get("greedy").load() is GreedySearchMSE
    assert registry.get("search").load() is GreedySearchMSE  # not the exhaustive search
    assert registry.get("exhaustive").load() is ExhaustiveSearchMSE
    assert registry.get("Lincoln_Petersen").name == "lincoln-petersen"


def test_options_come_from_the_class_signatures() -> None:
    spec = registry.get("stepwise")
    assert spec.constructor_options() == {"pthresh": 0.02, "criterion": "pvalue"}
    fit_opts = spec.fit_options()
    assert fit_opts["n_boot"] == 1000 and fit_opts["boot_interval"] == "bca"
    assert set(IntervalOptions.names()) <= set(fit_opts)
    assert registry.get("aic").constructor_options() == {"max_order": 2}  # criterion fixed
    assert registry.get("chao").fit_options() == {"level": 0.95, "seed": None}


def test_methods_table_lists_every_method_without_name_clashes() -> None:
    # constructor and fit options share no name (else resolve could not split them)
    for spec in registry.METHOD_SPECS:
        assert not set(spec.constructor_options()) & set(spec.fit_options()), spec.name
    table = registry.methods_table()
    assert list(table["method"]) == [s.name for s in registry.METHOD_SPECS]
    assert "threshold=2.0" in table.set_index("method").loc["bayes-threshold", "options"]


def test_misspelt_option_is_an_error_naming_the_valid_ones(korea) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelSpecificationError) as err:
        estimate(korea, "bic", intreval="bootstrap")
    msg = str(err.value)
    assert "'intreval'" in msg and "did you mean 'interval'" in msg
    assert "top_models" in msg and "n_boot" in msg


@pytest.mark.parametrize(
    ("method", "option", "value"),
    [
        ("chao", "n_boot", 10),
        ("stepwise", "max_order", 3),
        ("stepwise", "model", "b:c"),
        ("latent-class", "pthresh", 0.1),
        ("dga", "prior", "improper"),
    ],
)
def test_inapplicable_option_is_an_error(korea, method: str, option: str, value: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelSpecificationError, match=f"takes no option '{option}'"):
        estimate(korea, method, **{option: value})


def test_option_fixed_by_the_method_name(korea) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelSpecificationError, match="fixes criterion='aic'"):
        registry.resolve("aic", criterion="bic")
    assert registry.resolve("aic", criterion="aic").ctor_kwargs == {}
    assert registry.resolve("aic").build().criterion == "aic"


@pytest.mark.parametrize(
    ("method", "interval", "words"),
    [
        ("chao", "bootstrap", "closed-form"),
        ("lincoln-petersen", "profile", "closed-form"),
        ("latent-class", "wald", "profile-likelihood"),
        ("lcmcr", "wald", "credible"),
        ("stepwise", "credible", "Wald, profile-likelihood or bootstrap"),
    ],
)
def test_interval_kinds_per_method(method: str, interval: str, words: str) -> None:
    with pytest.raises(ModelSpecificationError, match=words):
        registry.resolve(method, interval=interval)


def test_none_means_the_default(korea) -> None:  # type: ignore[no-untyped-def]
    # the same call with every option None and with none given: identical results (the registry
    # passes no restated default of its own)
    a = estimate(korea, "stepwise", pthresh=None, criterion=None, interval=None, n_boot=None)
    b = StepwiseMSE().fit(korea)
    assert a.estimate == b.estimate and a.interval == b.interval
    assert registry.resolve("stepwise", pthresh=None).ctor_kwargs == {}
    # an explicit 0 is not "the default" (the old adapters' `or 0.02` turned it into 0.02)
    assert registry.resolve("stepwise", pthresh=0.05).ctor_kwargs == {"pthresh": 0.05}
    with pytest.raises(ModelSpecificationError, match="pthresh"):
        registry.resolve("stepwise", pthresh=0)  # a given value is checked: (0, 1)


def test_level_is_checked_for_every_method() -> None:
    for method in ("stepwise", "chao", "lcmcr", "latent-class"):
        with pytest.raises(ModelSpecificationError, match=r"level=1\.5 is not valid"):
            registry.resolve(method, level=1.5)


def test_interval_options_travel_as_one_object(korea) -> None:  # type: ignore[no-untyped-def]
    call = registry.resolve("bic", interval="bootstrap", n_boot=20, seed=4, top_models=3)
    assert call.ctor_kwargs == {"top_models": 3}
    assert call.fit_kwargs == {
        "options": IntervalOptions(interval="bootstrap", n_boot=20, seed=4),
    }
    whole = registry.resolve("stepwise", options=IntervalOptions(interval="profile"), level=0.9)
    assert whole.fit_kwargs["options"] == IntervalOptions(interval="profile", level=0.9)
    settings = whole.settings()
    assert settings["pthresh"] == 0.02 and settings["interval"] == "profile"
    assert settings["level"] == 0.9 and "executor" not in settings


def test_fit_keywords_and_options_object_give_the_same_result(korea) -> None:  # type: ignore[no-untyped-def]
    kw = LogLinearMSE().fit(korea, interval="bootstrap", n_boot=60, seed=2, n_jobs=1)
    ob = LogLinearMSE().fit(
        korea, options=IntervalOptions(interval="bootstrap", n_boot=60, seed=2, n_jobs=1)
    )
    assert kw.interval == ob.interval and kw.provenance == ob.provenance


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("interval", "boot", "one of 'wald', 'profile', 'bootstrap'"),
        ("level", 0.0, "strictly between 0 and 1"),
        ("level", 95, "strictly between 0 and 1"),
        ("n_boot", 0, "a whole number >= 1"),
        ("n_boot", 10.5, "a whole number >= 1"),
        ("bootstrap", "jackknife", "'nonparametric', 'parametric'"),
        ("boot_interval", "basic", "'bca', 'percentile'"),
        ("seed", -1, "a whole number >= 0"),
        ("n_jobs", 0, "a whole number >= 1 or None"),
        ("executor", "dask", "concurrent.futures.Executor"),
    ],
)
def test_interval_options_are_validated(field: str, value: object, expected: str) -> None:
    with pytest.raises(ModelSpecificationError) as err:
        IntervalOptions(**{field: value})  # type: ignore[arg-type]
    msg = str(err.value)
    assert f"option {field}={value!r}" in msg and expected in msg


def test_interval_options_are_frozen_and_merge() -> None:
    opts = IntervalOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.level = 0.9  # type: ignore[misc]
    assert opts.merged(level=None, n_boot=5) == IntervalOptions(n_boot=5)
    with pytest.raises(ModelSpecificationError, match="unknown interval option 'nboot'"):
        opts.merged(nboot=5)


def test_search_mse_is_a_deprecated_alias() -> None:
    import fl_estimate.mse as mse

    with pytest.warns(DeprecationWarning, match="ExhaustiveSearchMSE"):
        cls = mse.SearchMSE
    assert cls is ExhaustiveSearchMSE
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mse.ExhaustiveSearchMSE is ExhaustiveSearchMSE


def test_old_class_name_loglinear_fit_is_kept() -> None:
    from fl_estimate.mse.loglinear import LogLinearFit, LoglinearFit

    assert LoglinearFit is LogLinearFit


def test_cli_rejects_an_option_the_method_does_not_take(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(MSE_DATA / "korea.csv")
    assert main(["mse", path, "--method", "chao", "--n-boot", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'n_boot' (--n-boot)" in err and "level, seed" in err
    assert main(["mse", path, "--method", "independence", "--level", "1.2"]) == 2
    assert "level=1.2" in capsys.readouterr().err
    # options not given keep each method's defaults: the same estimate as the class
    assert main(["mse", path, "--method", "search", "--format", "json"]) == 0
    assert '"method": "search"' in capsys.readouterr().out
