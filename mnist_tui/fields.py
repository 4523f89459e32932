"""Every training-config field, defined once: type, default, range or choices, help, CLI flag
and form label.

``TrainConfig`` (config.py) is generated from ``FIELDS``; the CLI flags, the setup form, the
validation and the help text all read the same entries, so adding a field is one entry here
(after harlequin's ``options.py``: each option knows its flag, label, help, parser and
checker). Pure Python and no Textual, like config.py: ``--help`` must stay instant.

Messages are written for a person who just typed the value: they name the rule, echo short
input and never print a 100-digit number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from mnist_tui.errors import ConfigError

PRESET_NAMES = ("mlp", "mlp-small", "cnn", "scratch")  # the recipes themselves are in config.PRESETS
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
MAX_LIMIT = 100_000_000
MAX_SEED = 2**32 - 1

ON_OFF = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}
SHOWN_CHARS = 24  # of a bad input echoed in a message: a pasted paragraph must not fill the screen

Kind = Literal["choice", "int", "float", "bool", "path"]


def shown(value: Any) -> str:
    """A bad input as a message quotes it: repr, cut to SHOWN_CHARS."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def number_text(x: float) -> str:
    """1000000 → "1,000,000", 0.5 → "0.5": bounds as a person reads them."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


@dataclass(frozen=True)
class Field:
    """One config value and everything that presents or checks it."""

    name: str  # the TrainConfig attribute
    kind: Kind
    default: Any
    flag: str  # the CLI flag
    label: str  # the setup form's label
    help: str  # CLI --help and the form's tooltip
    choices: tuple[str, ...] = ()  # kind "choice" and "bool" (as the form offers them)
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the bound itself is excluded
    high_open: bool = False
    optional: bool = False  # None is a value: empty text means "not set" (limit: all images)
    placeholder: str = ""  # the form's text for an empty optional field
    metavar: str | None = None  # CLI; None: {choices} for choice fields, the flag's name otherwise

    # -- types
    @property
    def annotation(self) -> Any:
        """The Python type TrainConfig declares for this field."""
        base: Any = {"choice": str, "int": int, "float": float, "bool": bool, "path": str}[self.kind]
        return base | None if self.optional or self.kind == "path" else base

    @property
    def cli_metavar(self) -> str | None:
        if self.metavar is not None:
            return self.metavar
        return "{" + ",".join(self.choices) + "}" if self.choices else None

    # -- text ↔ value
    def text(self, value: Any) -> str:
        """A value as the form shows it and as a user would type it back."""
        if isinstance(value, bool):
            return "on" if value else "off"
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def parse(self, text: Any) -> Any:
        """User text (a CLI flag or form input) → a value of this field's type; typed values
        pass through untouched (validation checks them). Raises ConfigError naming the field."""
        if not isinstance(text, str):
            return text
        raw = text.strip()
        if raw == "":
            if self.optional or self.kind == "path":
                return None
            raise ConfigError(self.name, "is empty")
        if self.kind == "int":
            return self._parse_int(raw)
        if self.kind == "float":
            try:
                return float(raw)
            except ValueError:
                raise ConfigError(self.name, f"must be a number, got {shown(raw)}") from None
        if self.kind == "bool":
            flag = ON_OFF.get(raw.lower())
            if flag is None:
                raise ConfigError(self.name, f"must be on or off, got {shown(raw)}")
            return flag
        if self.kind == "path":
            return raw
        return raw.lower()

    def _parse_int(self, raw: str) -> int:
        """Whole numbers, also written 1e3, 4.0 or 1_024 (as Python and the CLI accept them)."""
        try:
            return int(raw)  # digits (a sign, underscores) are exact however long; the range check follows
        except ValueError:
            pass
        try:
            as_float = float(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(self.name, f"must be a whole number, got {shown(raw)}") from None
        if not math.isfinite(as_float):
            raise ConfigError(self.name, f"must be a finite whole number, got {shown(raw)}")
        if as_float != int(as_float):
            raise ConfigError(self.name, f"must be a whole number, got {shown(raw)}")
        return int(as_float)

    # -- checks
    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` on its own (None: nothing); rules across fields are
        in config.validate."""
        if value is None and (self.optional or self.kind == "path"):
            return None
        if self.kind == "choice":
            if value not in self.choices:
                return f"unknown {self.name} {shown(value)} (choose from {', '.join(self.choices)})"
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be on or off, got {shown(value)}"
        if self.kind == "path":
            if not isinstance(value, str):
                return f"must be a path, got {shown(value)}"
            return "is empty" if not value.strip() else None
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, got {shown(value)}"
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {shown(value)}"
        elif not math.isfinite(value):
            return f"must be a finite number, got {value}"
        return self._range_problem(value)

    def _range_problem(self, value: float) -> str | None:
        low, high = self.low, self.high
        if low is not None and (value <= low if self.low_open else value < low):
            if self.kind == "int":
                got = f", got {value}" if abs(value) < 10**12 else ""
                return f"must be at least {number_text(low)}{got}"
            return f"must be in {self.range_text()}, got {value:g}"
        if high is not None and (value >= high if self.high_open else value > high):
            return self._too_large()
        return None

    def _too_large(self) -> str:
        assert self.high is not None
        if self.high_open:
            return f"too large (must be below {number_text(self.high)})"
        return f"too large (max {number_text(self.high)})"

    def range_text(self) -> str:
        """The allowed interval, e.g. ``(0, 1e+06]`` or ``[0, 1)``."""
        lb = "(" if self.low_open else "["
        hb = ")" if self.high_open else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{lb}{low}, {high}{hb}"

    def check(self, value: Any) -> None:
        """Raise ConfigError when ``problem`` finds something."""
        message = self.problem(value)
        if message is not None:
            raise ConfigError(self.name, message)


FIELDS: tuple[Field, ...] = (
    Field("preset", "choice", "mlp", "--model", "Model", "model recipe: " + ", ".join(PRESET_NAMES),
          choices=PRESET_NAMES),
    Field("dataset", "choice", "mnist", "--dataset", "Dataset", "dataset: " + ", ".join(DATASET_NAMES),
          choices=DATASET_NAMES),
    Field("data_path", "path", None, "--data", "Data path",
          "directory of IDX files or a .npz (else $MNIST_TUI_DATA, else Keras's cache/download)",
          placeholder="$MNIST_TUI_DATA or Keras cache", metavar="PATH"),
    Field("optimizer", "choice", "rmsprop", "--optimizer", "Optimizer", "optimizer: " + ", ".join(OPTIMIZERS),
          choices=OPTIMIZERS),
    Field("learning_rate", "float", 0.001, "--lr", "Learning rate", "learning rate (> 0)",
          low=0.0, high=MAX_LR, low_open=True),
    Field("momentum", "float", 0.0, "--momentum", "Momentum", "SGD momentum in [0, 1)",
          low=0.0, high=1.0, high_open=True),
    Field("epochs", "int", 5, "--epochs", "Epochs", "number of passes over the training data",
          low=1, high=MAX_EPOCHS),
    Field("batch_size", "int", 128, "--batch-size", "Batch size", "samples per gradient step",
          low=1, high=MAX_BATCH),
    Field("hidden_units", "int", 512, "--hidden-units", "Hidden units", "units in the hidden dense layer",
          low=1, high=MAX_UNITS),
    Field("activation", "choice", "relu", "--activation", "Activation",
          "hidden activation: " + ", ".join(ACTIVATIONS), choices=ACTIVATIONS),
    Field("dropout", "float", 0.0, "--dropout", "Dropout", "dropout rate in [0, 1) (0 = no dropout layer)",
          low=0.0, high=1.0, high_open=True),
    Field("loss", "choice", "categorical", "--loss", "Loss",
          "categorical (one-hot labels) or sparse (integer labels)", choices=LOSSES),
    Field("limit", "int", None, "--limit", "Train limit", "train on only the first N training images",
          low=1, high=MAX_LIMIT, optional=True, placeholder="all"),
    Field("val_split", "float", 0.0, "--val-split", "Val split",
          "hold out this fraction of train for validation (0 = validate on the test set)",
          low=0.0, high=1.0, high_open=True),
    Field("seed", "int", 0, "--seed", "Seed", "random seed for weights and shuffling", low=0, high=MAX_SEED),
    Field("jit", "bool", False, "--jit", "XLA (jit)",
          "XLA-compile the Keras train step (on/off): faster per step after a compile of several seconds",
          choices=("off", "on")),
    Field("backend", "choice", "auto", "--backend", "Backend",
          "Keras backend: " + ", ".join(BACKENDS)
          + " (auto = jax when installed, the fastest at the same accuracy, else tensorflow)",
          choices=BACKENDS),
)
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELD_BY_NAME)


def get_field(name: str) -> Field:
    """The field called ``name``; ConfigError (naming it) for anything else."""
    try:
        return FIELD_BY_NAME[name]
    except KeyError:
        raise ConfigError(name, "is not a config field") from None
