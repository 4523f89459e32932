"""Training configuration: the presets, their defaults and field-level validation.

Pure Python on purpose: the CLI's ``--help`` and the TUI's form both need the presets and
their validation without paying for a TensorFlow import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from mnist_tui.errors import ConfigError

OPTIMIZERS = ("sgd", "rmsprop", "adam")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("categorical", "sparse")
DATASET_NAMES = ("mnist", "fashion-mnist")
BACKENDS = ("auto", "tensorflow", "jax", "torch")

# Upper bounds that catch typos (an extra zero or three) before they eat hours or RAM.
MAX_EPOCHS = 10_000
MAX_BATCH = 1_000_000
MAX_UNITS = 100_000
MAX_LR = 1e6


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run; every field can be overridden."""

    preset: str = "mlp"
    dataset: str = "mnist"
    data_path: str | None = None
    optimizer: str = "rmsprop"
    learning_rate: float = 0.001
    momentum: float = 0.0
    epochs: int = 5
    batch_size: int = 128
    hidden_units: int = 512
    activation: str = "relu"
    dropout: float = 0.0
    loss: str = "categorical"
    limit: int | None = None
    val_split: float = 0.0
    seed: int = 0
    jit: bool = False  # XLA-compile the train step: faster steps, but seconds of compiling first
    backend: str = "auto"  # Keras backend: auto = the fastest installed (devices.auto_backend)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validated(self) -> TrainConfig:
        """Return self after checking every field; raise ConfigError naming the first bad one."""
        validate(self)
        return self

    def with_changes(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    @property
    def validation_label(self) -> str:
        return "test set" if self.val_split == 0 else f"last {self.val_split:.0%} of train"


@dataclass(frozen=True)
class Preset:
    """A tutorial recipe: its default config and what it is known to reach."""

    name: str
    title: str
    config: TrainConfig
    layout: str  # input shape the model wants: "flat", "image" or "image_channels"
    reference: str  # accuracy the tutorial reports, for the README and --help


PRESETS: dict[str, Preset] = {
    "mlp": Preset(
        name="mlp",
        title="Dense 512 relu → 10 softmax (Chollet's first MNIST net)",
        config=TrainConfig(
            preset="mlp", optimizer="rmsprop", learning_rate=0.001, epochs=5, batch_size=128,
            hidden_units=512, activation="relu", dropout=0.0, loss="categorical",
        ),
        layout="flat",
        reference="≈97.8 % test (full MNIST); 96.6 % on mnist-20k",
    ),
    "mlp-small": Preset(
        name="mlp-small",
        title="Flatten → Dense 100 relu → 10 softmax",
        config=TrainConfig(
            preset="mlp-small", optimizer="adam", learning_rate=0.001, epochs=10, batch_size=100,
            hidden_units=100, activation="relu", dropout=0.0, loss="categorical",
        ),
        layout="image",
        reference="≈97.7 % test (full MNIST); 95.9 % on mnist-20k",
    ),
    "cnn": Preset(
        name="cnn",
        title="Conv 32@5×5 → pool → Conv 64@2×2 → pool → dropout → Dense 1000 → 10",
        config=TrainConfig(
            preset="cnn", optimizer="adam", learning_rate=0.001, epochs=5, batch_size=32,
            hidden_units=1000, activation="relu", dropout=0.25, loss="sparse",
        ),
        layout="image_channels",
        reference=">99 % test (full MNIST); 98.4 % on mnist-20k",
    ),
    "scratch": Preset(
        name="scratch",
        title="NumPy-only 784 → 100 sigmoid → 10 softmax, mini-batch SGD",
        config=TrainConfig(
            preset="scratch", optimizer="sgd", learning_rate=0.5, epochs=3, batch_size=32,
            hidden_units=100, activation="sigmoid", dropout=0.0, loss="categorical",
        ),
        layout="flat",
        reference=">90 % test in 3 epochs on mnist-20k",
    ),
}

FIELD_HELP: dict[str, str] = {
    "preset": "model recipe: " + ", ".join(PRESETS),
    "dataset": "dataset: " + ", ".join(DATASET_NAMES),
    "data_path": "directory of IDX files or a .npz (else $MNIST_TUI_DATA, else Keras's cache/download)",
    "optimizer": "optimizer: " + ", ".join(OPTIMIZERS),
    "learning_rate": "learning rate (> 0)",
    "momentum": "SGD momentum in [0, 1)",
    "epochs": "number of passes over the training data",
    "batch_size": "samples per gradient step",
    "hidden_units": "units in the hidden dense layer",
    "activation": "hidden activation: " + ", ".join(ACTIVATIONS),
    "dropout": "dropout rate in [0, 1) (0 = no dropout layer)",
    "loss": "categorical (one-hot labels) or sparse (integer labels)",
    "limit": "train on only the first N training images",
    "val_split": "hold out this fraction of train for validation (0 = validate on the test set)",
    "seed": "random seed for weights and shuffling",
    "jit": "XLA-compile the Keras train step (on/off): faster per step after a compile of several seconds",
    "backend": "Keras backend: " + ", ".join(BACKENDS)
               + " (auto = jax when installed, the fastest at the same accuracy, else tensorflow)",
}


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return PRESETS[name].config


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, f"unknown {name} {value!r} (choose from {', '.join(choices)})")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be a whole number, got {value!r}")
    if value < low:
        raise ConfigError(name, f"must be at least {low}, got {value}")
    if value > high:
        raise ConfigError(name, f"must be at most {high:,}, got {value:,}")


def _check_float(name: str, value: float, low: float, high: float, *, low_open: bool, high_open: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {value}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ConfigError(name, f"must be in {lb}{low:g}, {high:g}{hb}, got {value:g}")


def validate(cfg: TrainConfig) -> None:
    """Check every field; the first bad one raises ConfigError with its name."""
    _check_choice("preset", cfg.preset, tuple(PRESETS))
    _check_choice("dataset", cfg.dataset, DATASET_NAMES)
    _check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _check_float("learning_rate", cfg.learning_rate, 0.0, MAX_LR, low_open=True, high_open=False)
    _check_float("momentum", cfg.momentum, 0.0, 1.0, low_open=False, high_open=True)
    _check_int("epochs", cfg.epochs, 1, MAX_EPOCHS)
    _check_int("batch_size", cfg.batch_size, 1, MAX_BATCH)
    _check_int("hidden_units", cfg.hidden_units, 1, MAX_UNITS)
    _check_choice("activation", cfg.activation, ACTIVATIONS)
    _check_float("dropout", cfg.dropout, 0.0, 1.0, low_open=False, high_open=True)
    _check_choice("loss", cfg.loss, LOSSES)
    if cfg.limit is not None:
        _check_int("limit", cfg.limit, 1, 100_000_000)
    _check_float("val_split", cfg.val_split, 0.0, 1.0, low_open=False, high_open=True)
    _check_int("seed", cfg.seed, 0, 2**32 - 1)
    if not isinstance(cfg.jit, bool):
        raise ConfigError("jit", f"must be on or off, got {cfg.jit!r}")
    _check_choice("backend", cfg.backend, BACKENDS)
    if cfg.preset == "scratch":
        if cfg.optimizer != "sgd":
            raise ConfigError("optimizer", "the scratch network trains with sgd only")
        if cfg.activation not in ("sigmoid", "relu"):
            raise ConfigError("activation", "the scratch network supports sigmoid and relu")
        if cfg.dropout:
            raise ConfigError("dropout", "the scratch network has no dropout")
        if cfg.jit:
            raise ConfigError("jit", "the scratch network is plain NumPy: XLA applies to the Keras presets")
        if cfg.backend not in ("auto", "tensorflow"):
            raise ConfigError("backend", "the scratch network is plain NumPy: backends apply to the Keras presets")
    if cfg.data_path is not None and not str(cfg.data_path).strip():
        raise ConfigError("data_path", "is empty")


def resolve_backend(backend: str) -> str:
    """The concrete backend for ``backend``; "auto" is whatever Keras already runs on in this
    process, else ``$KERAS_BACKEND``, else one that can use this machine's accelerator, else
    jax, else tensorflow (``mnist_tui.devices.auto_backend``)."""
    import os
    import sys

    if backend != "auto":
        return backend
    if "keras" in sys.modules:
        import keras  # waits for a warm-up import still in progress (module import lock)

        return str(keras.config.backend())
    env = os.environ.get("KERAS_BACKEND", "")
    if env in BACKENDS and env != "auto":
        return env
    from mnist_tui import devices

    return devices.auto_backend(devices.installed_backends(), devices.probe_accelerator())


def check_backend(backend: str) -> str:
    """The Keras backend must be installed, and the same one Keras was already loaded with.
    Returns the concrete backend ("auto" resolved).

    Keras reads KERAS_BACKEND once, at its first import: set it here, before that happens.
    """
    import importlib.util
    import os
    import sys

    backend = resolve_backend(backend)
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if backend != "tensorflow" and importlib.util.find_spec(module) is None:
        raise ConfigError("backend", f"{backend} is not installed (pip install 'mnist-tui[{backend}]')")
    if "keras" in sys.modules:
        # Possibly still being imported by the app's warm-up thread: this import waits for
        # that one to finish (module import lock) instead of reading a half-made module.
        import keras

        current = keras.config.backend()
        if current != backend:
            raise ConfigError("backend", f"Keras is already running on {current} in this process; "
                                         f"restart mnist-tui with --backend {backend}")
        return backend
    os.environ["KERAS_BACKEND"] = backend
    return backend


def check_against_data(cfg: TrainConfig, n_train: int) -> None:
    """Checks that need the data size: the batch must fit in the training set."""
    if cfg.batch_size > n_train:
        raise ConfigError(
            "batch_size", f"{cfg.batch_size:,} is larger than the {n_train:,} training samples"
        )


_INT_FIELDS = {"epochs", "batch_size", "hidden_units", "limit", "seed"}
_FLOAT_FIELDS = {"learning_rate", "momentum", "dropout", "val_split"}
FIELD_NAMES = tuple(f.name for f in fields(TrainConfig))


def parse_field(name: str, text: Any) -> Any:
    """Turn user text (CLI flag or form input) into a field value, with field-named errors."""
    if name not in FIELD_NAMES:
        raise ConfigError(name, "is not a config field")
    if not isinstance(text, str):
        return text
    raw = text.strip()
    if name in _INT_FIELDS:
        if raw == "" and name == "limit":
            return None
        if raw == "":
            raise ConfigError(name, "is empty")
        try:
            as_float = float(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
        if not math.isfinite(as_float):
            raise ConfigError(name, f"must be a finite whole number, got {raw!r}")
        if as_float != int(as_float):
            raise ConfigError(name, f"must be a whole number, got {raw!r}")
        return int(as_float)
    if name in _FLOAT_FIELDS:
        if raw == "":
            raise ConfigError(name, "is empty")
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if name == "data_path":
        return raw or None
    if name == "jit":
        flag = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False,
                "0": False}.get(raw.lower())
        if flag is None:
            raise ConfigError(name, f"must be on or off, got {raw!r}")
        return flag
    if raw == "":
        raise ConfigError(name, "is empty")
    return raw.lower()


def config_from_mapping(values: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """Build a validated config from a preset's defaults overridden by ``values``.

    ``values`` may hold strings (they are parsed) or typed values; a ``preset`` entry picks
    the base defaults when ``base`` is not given.
    """
    if base is None:
        preset = parse_field("preset", values.get("preset", "mlp"))
        base = preset_config(preset)
    changes = {k: parse_field(k, v) for k, v in values.items()}
    cfg = replace(base, **changes)
    validate(cfg)
    return cfg
