"""Training configuration: the presets, the TrainConfig dataclass and validation.

Each field (type, default, range, choices, help, flag, label) is defined once, in
``mnist_tui.fields``; this module builds ``TrainConfig`` from those definitions and adds the
recipes and the rules across fields. Pure Python on purpose: the CLI's ``--help`` and the
TUI's form both need the presets and their validation without paying for a TensorFlow import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, make_dataclass, replace
from dataclasses import field as dataclass_field
from typing import Any

from mnist_tui.errors import ConfigError
from mnist_tui.fields import (
    ACTIVATIONS,
    BACKENDS,
    DATASET_NAMES,
    FIELD_NAMES,
    FIELDS,
    LOSSES,
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LR,
    MAX_UNITS,
    OPTIMIZERS,
    PRESET_NAMES,
    get_field,
)

__all__ = [
    "ACTIVATIONS", "BACKENDS", "DATASET_NAMES", "FIELD_HELP", "FIELD_NAMES", "LOSSES", "MAX_BATCH",
    "MAX_EPOCHS", "MAX_LR", "MAX_UNITS", "OPTIMIZERS", "PRESETS", "Preset", "TrainConfig", "check_against_data",
    "check_backend", "config_errors", "config_from_mapping", "parse_field", "preset_config", "resolve_backend",
    "validate",
]



class _ConfigMethods:
    """TrainConfig's behaviour; its fields come from ``mnist_tui.fields.FIELDS``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def validated(self) -> Any:
        """Return self after checking every field; raise ConfigError naming the first bad one."""
        validate(self)  # type: ignore[arg-type]
        return self

    def with_changes(self, **changes: Any) -> Any:
        return replace(self, **changes)  # type: ignore[type-var]

    @property
    def validation_label(self) -> str:
        split = self.val_split  # type: ignore[attr-defined]
        return "test set" if split == 0 else f"last {split:.0%} of train"


# Everything that defines one training run; every field can be overridden. A frozen dataclass
# generated from FIELDS (name, type, default), so a new field is one entry in fields.py.
TrainConfig = make_dataclass(
    "TrainConfig",
    [(f.name, f.annotation, dataclass_field(default=f.default)) for f in FIELDS],
    bases=(_ConfigMethods,),
    frozen=True,
    namespace={"__module__": __name__,
               "__doc__": "Everything that defines one training run; every field can be overridden."},
)


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

if tuple(PRESETS) != PRESET_NAMES:  # the preset field's choices are the recipes above
    raise RuntimeError(f"fields.PRESET_NAMES {PRESET_NAMES} must list config.PRESETS {tuple(PRESETS)}")

FIELD_HELP: dict[str, str] = {f.name: f.help for f in FIELDS}


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return PRESETS[name].config


# Rules across fields: (field, is it wrong with the scratch preset, why).
_SCRATCH_RULES: tuple[tuple[str, Any, str], ...] = (
    ("optimizer", lambda v: v != "sgd", "the scratch network trains with sgd only"),
    ("activation", lambda v: v not in ("sigmoid", "relu"), "the scratch network supports sigmoid and relu"),
    ("dropout", bool, "the scratch network has no dropout"),
    ("jit", bool, "the scratch network is plain NumPy: XLA applies to the Keras presets"),
    ("backend", lambda v: v not in ("auto", "tensorflow"),
     "the scratch network is plain NumPy: backends apply to the Keras presets"),
)


def config_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """Every problem at once, field → message: each field's own rule, then the rules across
    fields (between fields that are fine on their own). ``values`` may be partial (the form
    passes what parsed); an unknown name raises ConfigError."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        message = get_field(name).problem(value)
        if message is not None:
            errors[name] = message

    def fine(name: str) -> bool:
        return name in values and name not in errors

    if fine("preset") and values["preset"] == "scratch":
        for name, wrong, message in _SCRATCH_RULES:
            if fine(name) and wrong(values[name]):
                errors[name] = message
    return errors


def validate(cfg: TrainConfig) -> None:
    """Check every field; the first bad one raises ConfigError with its name."""
    errors = config_errors(cfg.to_dict())
    if errors:
        name, message = next(iter(errors.items()))
        raise ConfigError(name, message)


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


def parse_field(name: str, text: Any) -> Any:
    """Turn user text (CLI flag or form input) into a field value, with field-named errors."""
    return get_field(name).parse(text)


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
