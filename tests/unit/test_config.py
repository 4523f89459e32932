"""Tests for the training config: preset recipes, parsing and field-named validation."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from mnist_tui.config import (
    FIELD_HELP,
    FIELD_NAMES,
    PRESETS,
    TrainConfig,
    check_against_data,
    config_from_mapping,
    parse_field,
    preset_config,
    validate,
)
from mnist_tui.errors import ConfigError, MnistTuiError

# The tutorial recipes each preset reproduces; a drifting default silently changes results.
RECIPES: dict[str, dict[str, Any]] = {
    "mlp": dict(optimizer="rmsprop", epochs=5, batch_size=128, hidden_units=512, activation="relu",
                dropout=0.0, loss="categorical", learning_rate=0.001),
    "mlp-small": dict(optimizer="adam", epochs=10, batch_size=100, hidden_units=100, activation="relu",
                      dropout=0.0, loss="categorical", learning_rate=0.001),
    "cnn": dict(optimizer="adam", epochs=5, batch_size=32, hidden_units=1000, activation="relu",
                dropout=0.25, loss="sparse", learning_rate=0.001),
    "scratch": dict(optimizer="sgd", epochs=3, batch_size=32, hidden_units=100, activation="sigmoid",
                    dropout=0.0, loss="categorical"),
}


def test_preset_names() -> None:
    assert list(PRESETS) == ["mlp", "mlp-small", "cnn", "scratch"]


@pytest.mark.parametrize("name", list(RECIPES))
def test_preset_defaults_match_recipe(name: str) -> None:
    cfg = preset_config(name)
    assert cfg.preset == name == PRESETS[name].name
    for field, expected in RECIPES[name].items():
        assert getattr(cfg, field) == expected, f"{name}.{field}"
    assert cfg.dataset == "mnist" and cfg.val_split == 0.0 and cfg.limit is None
    assert cfg.validated() is cfg  # every preset is valid as shipped


@pytest.mark.parametrize(("name", "layout"), [("mlp", "flat"), ("mlp-small", "image"),
                                              ("cnn", "image_channels"), ("scratch", "flat")])
def test_preset_layouts(name: str, layout: str) -> None:
    assert PRESETS[name].layout == layout


def test_every_field_has_help_and_config_round_trips() -> None:
    assert set(FIELD_HELP) == set(FIELD_NAMES)
    cfg = preset_config("cnn")
    assert TrainConfig(**cfg.to_dict()) == cfg
    assert cfg.with_changes(epochs=2).epochs == 2 and cfg.epochs == 5


def test_validation_label() -> None:
    assert TrainConfig().validation_label == "test set"
    assert TrainConfig(val_split=0.1).validation_label == "last 10% of train"


def _error(fn: Any, *args: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    err = info.value
    assert isinstance(err, MnistTuiError)
    assert str(err) == f"{err.field}: {err.reason}" and "\n" not in str(err)
    return err


BAD_TYPED: list[tuple[str, dict[str, Any], str]] = [
    ("epochs", {"epochs": 0}, "at least 1"),
    ("epochs", {"epochs": -3}, "at least 1"),
    ("epochs", {"epochs": 10_001}, "too large (max 10,000)"),
    ("epochs", {"epochs": 2.5}, "whole number"),
    ("epochs", {"epochs": True}, "whole number"),
    ("batch_size", {"batch_size": 0}, "at least 1"),
    ("batch_size", {"batch_size": -1}, "at least 1"),
    ("batch_size", {"batch_size": 10**9}, "too large (max 1,000,000)"),
    ("learning_rate", {"learning_rate": 0.0}, "(0, 1e+06]"),
    ("learning_rate", {"learning_rate": -0.1}, "(0, 1e+06]"),
    ("learning_rate", {"learning_rate": math.nan}, "finite"),
    ("learning_rate", {"learning_rate": math.inf}, "finite"),
    ("learning_rate", {"learning_rate": 1e7}, "too large (max 1,000,000)"),
    ("learning_rate", {"learning_rate": "0.1"}, "must be a number"),
    ("momentum", {"momentum": 1.0}, "too large (must be below 1)"),
    ("momentum", {"momentum": -math.inf}, "finite"),
    ("hidden_units", {"hidden_units": 0}, "at least 1"),
    ("hidden_units", {"hidden_units": 10**6}, "too large (max 100,000)"),
    ("dropout", {"dropout": 1.0}, "too large (must be below 1)"),
    ("dropout", {"dropout": -0.1}, "[0, 1)"),
    ("dropout", {"dropout": math.nan}, "finite"),
    ("val_split", {"val_split": 1.0}, "too large (must be below 1)"),
    ("limit", {"limit": 0}, "at least 1"),
    ("seed", {"seed": -1}, "at least 0"),
    ("preset", {"preset": "resnet"}, "unknown preset 'resnet'"),
    ("optimizer", {"optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
    ("activation", {"activation": "gelu"}, "unknown activation 'gelu'"),
    ("loss", {"loss": "mse"}, "unknown loss 'mse'"),
    ("dataset", {"dataset": "cifar10"}, "unknown dataset 'cifar10'"),
    ("data_path", {"data_path": "   "}, "is empty"),
]


@pytest.mark.parametrize(("field", "change", "fragment"), BAD_TYPED,
                         ids=[f"{f}-{next(iter(c.values()))!r}" for f, c, _ in BAD_TYPED])
def test_validate_names_the_bad_field(field: str, change: dict[str, Any], fragment: str) -> None:
    err = _error(validate, replace(TrainConfig(), **change))
    assert err.field == field
    assert fragment in err.reason


@pytest.mark.parametrize("name", ["optimizer", "activation", "loss", "dataset", "preset"])
def test_unknown_choice_lists_the_choices(name: str) -> None:
    err = _error(validate, replace(TrainConfig(), **{name: "bogus"}))
    assert err.field == name and "choose from" in err.reason


BAD_TEXT: list[tuple[str, str, str]] = [
    ("epochs", "five", "whole number"),
    ("epochs", "2.5", "whole number"),
    ("epochs", "", "is empty"),
    ("epochs", "nan", "finite"),
    ("epochs", "inf", "finite"),
    ("batch_size", "12x", "whole number"),
    ("batch_size", "-inf", "finite"),
    ("seed", "", "is empty"),
    ("learning_rate", "fast", "must be a number"),
    ("learning_rate", "", "is empty"),
    ("dropout", "half", "must be a number"),
    ("val_split", " ", "is empty"),
    ("optimizer", "", "is empty"),
]


@pytest.mark.parametrize(("field", "text", "fragment"), BAD_TEXT)
def test_parse_field_errors_are_field_named(field: str, text: str, fragment: str) -> None:
    err = _error(parse_field, field, text)
    assert err.field == field and fragment in err.reason


def test_parse_field_unknown_field() -> None:
    assert _error(parse_field, "colour", "red").field == "colour"


@pytest.mark.parametrize(("field", "text", "value"), [
    ("epochs", " 3 ", 3),
    ("epochs", "1e3", 1000),
    ("batch_size", "1_024", 1024),
    ("epochs", "4.0", 4),
    ("learning_rate", "1e-3", 0.001),
    ("limit", "", None),
    ("limit", "500", 500),
    ("data_path", "  ", None),
    ("data_path", " /tmp/x ", "/tmp/x"),
    ("optimizer", " ADAM ", "adam"),
    ("epochs", 7, 7),  # typed values pass through untouched
])
def test_parse_field_values(field: str, text: Any, value: Any) -> None:
    assert parse_field(field, text) == value


@pytest.mark.parametrize(("values", "field", "fragment"), [
    ({"epochs": "0"}, "epochs", "at least 1"),
    ({"epochs": "-2"}, "epochs", "at least 1"),
    ({"batch_size": "0"}, "batch_size", "at least 1"),
    ({"learning_rate": "0"}, "learning_rate", "(0, 1e+06]"),
    ({"learning_rate": "-1"}, "learning_rate", "(0, 1e+06]"),
    ({"learning_rate": "nan"}, "learning_rate", "finite"),
    ({"learning_rate": "inf"}, "learning_rate", "finite"),
    ({"learning_rate": "2e6"}, "learning_rate", "too large (max 1,000,000)"),
    ({"epochs": "99999999"}, "epochs", "too large (max 10,000)"),
    ({"hidden_units": "1e9"}, "hidden_units", "too large (max 100,000)"),
    ({"epochs": "lots"}, "epochs", "whole number"),
    ({"dropout": "1"}, "dropout", "too large (must be below 1)"),
    ({"dropout": "-0.5"}, "dropout", "[0, 1)"),
    ({"preset": "vgg"}, "preset", "unknown preset"),
    ({"optimizer": "adamw"}, "optimizer", "unknown optimizer"),
    ({"activation": "softplus"}, "activation", "unknown activation"),
    ({"loss": "hinge"}, "loss", "unknown loss"),
    ({"dataset": "emnist"}, "dataset", "unknown dataset"),
    ({"preset": "scratch", "optimizer": "adam"}, "optimizer", "sgd only"),
    ({"preset": "scratch", "activation": "tanh"}, "activation", "sigmoid and relu"),
    ({"preset": "scratch", "dropout": "0.2"}, "dropout", "no dropout"),
    ({"colour": "red"}, "colour", "not a config field"),
])
def test_config_from_mapping_errors(values: dict[str, Any], field: str, fragment: str) -> None:
    err = _error(config_from_mapping, values)
    assert err.field == field and fragment in err.reason


def test_config_from_mapping_uses_preset_defaults() -> None:
    cfg = config_from_mapping({"preset": "cnn", "epochs": "2", "dropout": "0"})
    assert cfg == replace(preset_config("cnn"), epochs=2, dropout=0.0)
    assert config_from_mapping({}) == preset_config("mlp")
    base = preset_config("mlp-small")
    assert config_from_mapping({"batch_size": 64}, base=base) == replace(base, batch_size=64)


def test_scratch_accepts_relu_and_momentum() -> None:
    cfg = config_from_mapping({"preset": "scratch", "activation": "relu", "momentum": "0.9"})
    assert (cfg.activation, cfg.momentum, cfg.optimizer) == ("relu", 0.9, "sgd")


def test_check_against_data() -> None:
    cfg = replace(preset_config("mlp"), batch_size=128)
    check_against_data(cfg, 128)  # exactly one full batch is fine
    err = _error(check_against_data, cfg, 100)
    assert err.field == "batch_size"
    assert "128" in err.reason and "100 training samples" in err.reason


def test_auto_backend_resolves_to_the_fastest_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto: Keras's backend if it is already loaded, else $KERAS_BACKEND, else jax when
    installed (fastest at the same accuracy, benchmarks/modes.py), else tensorflow."""
    import importlib.util
    import sys

    from mnist_tui.config import resolve_backend

    assert TrainConfig().backend == "auto"
    assert resolve_backend("torch") == "torch"  # explicit choices pass through
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert resolve_backend("auto") == "torch"
    monkeypatch.delenv("KERAS_BACKEND")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "jax" else real(name, *a))
    assert resolve_backend("auto") == "jax"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a))
    assert resolve_backend("auto") == "tensorflow"


def test_auto_backend_follows_a_keras_already_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from mnist_tui.config import check_backend, resolve_backend

    monkeypatch.setenv("KERAS_BACKEND", "jax")  # too late to matter: Keras is loaded
    assert resolve_backend("auto") == keras.config.backend()
    assert check_backend("auto") == keras.config.backend()  # auto never conflicts


def test_scratch_takes_auto_or_tensorflow_but_no_other_backend() -> None:
    scratch = preset_config("scratch")
    assert scratch.backend == "auto"
    validate(scratch.with_changes(backend="tensorflow"))
    with pytest.raises(ConfigError, match="plain NumPy"):
        validate(scratch.with_changes(backend="jax"))
