"""Tests for the model specs and the Keras models built from them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mnist_tui.config import PRESETS, preset_config
from mnist_tui.models import spec

PARAMS = {"mlp": 407_050, "mlp-small": 79_510, "cnn": 3_156_098}
KERAS_PRESETS = list(PARAMS)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def build(keras):
    from mnist_tui.models.keras_models import build_model

    return build_model


@pytest.mark.parametrize(("name", "count"), PARAMS.items())
def test_spec_param_counts(name: str, count: int) -> None:
    assert spec.param_count(preset_config(name)) == count


def test_scratch_spec_matches_scratch_net() -> None:
    from mnist_tui.models.scratch import ScratchNet

    cfg = preset_config("scratch")
    net = ScratchNet(784, cfg.hidden_units, 10, cfg.activation)
    assert spec.param_count(cfg) == net.param_count == 79_510
    assert [(r.name, r.shape_text, r.params) for r in spec.summary(cfg)] == [
        ("dense (sigmoid)", "(None, 100)", 78_500), ("dense_1 (softmax)", "(None, 10)", 1_010)]


def test_cnn_summary_rows() -> None:
    rows = spec.summary(preset_config("cnn"))
    assert [(r.name, r.output_shape, r.params) for r in rows] == [
        ("conv2d (relu)", (28, 28, 32), 832),
        ("max_pooling2d", (14, 14, 32), 0),
        ("conv2d_1 (relu)", (14, 14, 64), 8_256),
        ("max_pooling2d_1", (7, 7, 64), 0),
        ("dropout", (7, 7, 64), 0),
        ("flatten", (3136,), 0),
        ("dense (relu)", (1000,), 3_137_000),
        ("dense_1 (softmax)", (10,), 10_010),
    ]
    assert rows[0].shape_text == "(None, 28, 28, 32)"


@pytest.mark.parametrize("name", KERAS_PRESETS)
def test_keras_model_matches_spec(build, name: str) -> None:
    cfg = preset_config(name)
    model = build(cfg)
    assert model.count_params() == PARAMS[name]
    rows = spec.summary(cfg)
    assert len(model.layers) == len(rows)
    for layer, row in zip(model.layers, rows, strict=True):
        assert tuple(layer.output.shape) == (None, *row.output_shape), (layer.name, row.name)
        assert layer.count_params() == row.params, (layer.name, row.name)
        assert layer.name.split("_")[0] in row.name  # dense/conv2d/max/dropout/flatten kind agrees
    assert tuple(model.inputs[0].shape) == (None, *spec.input_shape(cfg))


@pytest.mark.parametrize(("name", "optimizer", "loss"), [
    ("mlp", "RMSprop", "categorical_crossentropy"),
    ("mlp-small", "Adam", "categorical_crossentropy"),
    ("cnn", "Adam", "sparse_categorical_crossentropy"),
])
def test_keras_model_compile_matches_config(build, name: str, optimizer: str, loss: str) -> None:
    cfg = preset_config(name)
    model = build(cfg)
    assert type(model.optimizer).__name__ == optimizer
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(cfg.learning_rate)
    assert model.loss == loss
    assert model.name == name.replace("-", "_")


def test_keras_sgd_momentum_and_lr(build) -> None:
    cfg = replace(preset_config("mlp"), optimizer="sgd", learning_rate=0.05, momentum=0.9)
    model = build(cfg)
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    assert model.optimizer.momentum == pytest.approx(0.9)


def test_overrides_are_honoured(build, keras) -> None:
    cfg = replace(preset_config("mlp"), hidden_units=64, activation="tanh", dropout=0.3, loss="sparse")
    rows = spec.summary(cfg)
    assert [r.name for r in rows] == ["dense (tanh)", "dropout", "dense_1 (softmax)"]
    model = build(cfg)
    kinds = [type(la).__name__ for la in model.layers]
    assert kinds == ["Dense", "Dropout", "Dense"]
    hidden, drop, out = model.layers
    assert hidden.units == 64 and hidden.activation is keras.activations.tanh
    assert drop.rate == pytest.approx(0.3)
    assert out.activation is keras.activations.softmax
    assert model.count_params() == spec.param_count(cfg) == 784 * 64 + 64 + 64 * 10 + 10
    assert model.loss == "sparse_categorical_crossentropy"


def test_cnn_overrides(build, keras) -> None:
    cfg = replace(preset_config("cnn"), hidden_units=16, activation="sigmoid", dropout=0.0)
    model = build(cfg)
    kinds = [type(la).__name__ for la in model.layers]
    assert "Dropout" not in kinds  # dropout 0 means no layer at all
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    convs = [la for la in model.layers if type(la).__name__ == "Conv2D"]
    assert all(c.activation is keras.activations.sigmoid for c in convs)
    assert model.count_params() == spec.param_count(cfg) == 832 + 8_256 + 3136 * 16 + 16 + 170


@pytest.mark.parametrize("name", list(PRESETS))
def test_layers_for_every_preset_ends_in_softmax(name: str) -> None:
    layers = spec.layers_for(preset_config(name))
    assert layers[-1] == spec.Layer("dense", 10, activation="softmax")


def test_jax_always_compiles_even_when_the_config_says_auto() -> None:
    """In a JAX process, build_model jit-compiles whatever cfg.backend says ("auto" included):
    eager JAX trains ~4x slower."""
    pytest.importorskip("jax")
    import subprocess
    import sys

    code = ("import os; os.environ['KERAS_BACKEND'] = 'jax'\n"
            "from mnist_tui.config import preset_config\n"
            "from mnist_tui.models.keras_models import build_model\n"
            "print(build_model(preset_config('mlp')).jit_compile, build_model(preset_config('mlp').with_changes("
            "backend='jax')).jit_compile)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stdout.split()[-2:] == ["True", "True"]
