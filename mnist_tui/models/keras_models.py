"""Keras builders for the presets, generated from the declarative layer lists in ``spec``.

Importing this module imports Keras (and TensorFlow), so only the training thread does it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from mnist_tui.config import TrainConfig
from mnist_tui.models.spec import Layer, input_shape, layers_for


def _keras_layer(layer: Layer) -> keras.layers.Layer:
    if layer.kind == "dense":
        return keras.layers.Dense(layer.units, activation=layer.activation)
    if layer.kind == "conv":
        return keras.layers.Conv2D(
            layer.units, (layer.kernel, layer.kernel), strides=1, padding="same",
            activation=layer.activation,
        )
    if layer.kind == "pool":
        return keras.layers.MaxPooling2D(pool_size=(2, 2), strides=2)
    if layer.kind == "dropout":
        return keras.layers.Dropout(layer.rate)
    if layer.kind == "flatten":
        return keras.layers.Flatten()
    raise ValueError(f"unknown layer kind {layer.kind!r}")


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=cfg.learning_rate)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate)


def build_model(cfg: TrainConfig) -> keras.Model:
    """A compiled Sequential model: the preset's layers, optimizer, loss and accuracy metric."""
    model = keras.Sequential(
        [keras.Input(shape=input_shape(cfg)), *(_keras_layer(la) for la in layers_for(cfg))],
        name=cfg.preset.replace("-", "_"),
    )
    loss = "categorical_crossentropy" if cfg.loss == "categorical" else "sparse_categorical_crossentropy"
    # JAX runs through XLA by nature: turning its jit off would only make it slow (~4x). Ask
    # Keras which backend it runs on: cfg.backend may be "auto".
    jit = True if keras.config.backend() == "jax" else cfg.jit
    model.compile(optimizer=make_optimizer(cfg), loss=loss, metrics=["accuracy"], jit_compile=jit)
    return model
