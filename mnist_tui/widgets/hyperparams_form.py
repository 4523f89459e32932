"""The setup form: preset picker plus one field per config value, validated as you type.

A bad value shows its message right under the field; the form posts ``ConfigChanged``
with either a valid config or the per-field errors, so Start can refuse with a reason.
"""

from __future__ import annotations

import math
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select

from mnist_tui.config import (
    ACTIVATIONS,
    BACKENDS,
    DATASET_NAMES,
    FIELD_HELP,
    LOSSES,
    OPTIMIZERS,
    PRESETS,
    TrainConfig,
    parse_field,
    preset_config,
    validate,
)
from mnist_tui.data.sources import peek_train_count
from mnist_tui.errors import ConfigError
from mnist_tui.messages import ConfigChanged

SELECTS: dict[str, tuple[str, ...]] = {
    "preset": tuple(PRESETS),
    "dataset": DATASET_NAMES,
    "optimizer": OPTIMIZERS,
    "activation": ACTIVATIONS,
    "loss": LOSSES,
    "jit": ("off", "on"),
    "backend": BACKENDS,
}
INPUTS = ("learning_rate", "momentum", "epochs", "batch_size", "hidden_units", "dropout", "limit",
          "val_split", "seed", "data_path")
ORDER = ("preset", "dataset", "data_path", "optimizer", "learning_rate", "momentum", "epochs", "batch_size",
         "hidden_units", "activation", "dropout", "loss", "limit", "val_split", "seed", "jit", "backend")
LABELS = {
    "preset": "Model", "dataset": "Dataset", "data_path": "Data path", "optimizer": "Optimizer",
    "learning_rate": "Learning rate", "momentum": "Momentum", "epochs": "Epochs", "batch_size": "Batch size",
    "hidden_units": "Hidden units", "activation": "Activation", "dropout": "Dropout", "loss": "Loss",
    "limit": "Train limit", "val_split": "Val split", "seed": "Seed", "jit": "XLA (jit)", "backend": "Backend",
}


def field_text(cfg: TrainConfig, name: str) -> str:
    value = getattr(cfg, name)
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class HyperparamsForm(VerticalScroll):
    """Every config field, laid out label | control, with an inline error line each."""

    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = config
        self.errors: dict[str, str] = {}
        self.config: TrainConfig | None = config
        self._filling = False
        self._preset = config.preset
        self._count_key: tuple[str, str | None] | None = None
        self._count = 0

    def compose(self) -> ComposeResult:
        for name in ORDER:
            with Horizontal(classes="field-row", id=f"row-{name}"):
                yield Label(LABELS[name], classes="field-label")
                if name in SELECTS:
                    yield Select(
                        [(v, v) for v in SELECTS[name]], value=field_text(self._initial, name), allow_blank=False,
                        compact=True, id=f"field-{name}",
                    )
                else:
                    placeholder = {"limit": "all", "data_path": "$MNIST_TUI_DATA or Keras cache"}.get(name, "")
                    yield Input(field_text(self._initial, name), placeholder=placeholder, compact=True,
                                id=f"field-{name}", tooltip=FIELD_HELP[name])
            yield Label("", classes="field-error", id=f"error-{name}")
            if name == "batch_size":
                yield Label("", classes="field-hint", id="hint-steps")

    def on_mount(self) -> None:
        self._revalidate()

    # -- reading
    def _raw_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ORDER:
            widget = self.query_one(f"#field-{name}")
            values[name] = widget.value
        return values

    def _revalidate(self) -> None:
        """Parse every field; errors go next to their fields; post the outcome."""
        errors: dict[str, str] = {}
        parsed: dict[str, Any] = {}
        for name, raw in self._raw_values().items():
            try:
                parsed[name] = parse_field(name, raw)
            except ConfigError as err:
                errors[name] = err.reason
        cfg: TrainConfig | None = None
        if not errors:
            try:
                cfg = preset_config(parsed["preset"]).with_changes(**parsed)
                validate(cfg)
            except ConfigError as err:
                errors[err.field] = err.reason
                cfg = None
        self.errors = errors
        self.config = cfg
        for name in ORDER:
            label = self.query_one(f"#error-{name}", Label)
            message = errors.get(name, "")
            label.update(f"↳ {message}" if message else "")
            label.set_class(bool(message), "-visible")
            self.query_one(f"#row-{name}").set_class(bool(message), "-invalid")
        self._show_steps(cfg)
        self.post_message(ConfigChanged(cfg, dict(errors)))

    def _show_steps(self, cfg: TrainConfig | None) -> None:
        """Steps per epoch = ceil(N / batch size), next to the batch size: the tutorial's arithmetic."""
        hint = self.query_one("#hint-steps", Label)
        hint.display = cfg is not None  # no empty row under the field while the form has errors
        if cfg is None:
            return
        key = (cfg.dataset, cfg.data_path)
        if key != self._count_key:
            self._count_key, self._count = key, peek_train_count(cfg.dataset, cfg.data_path)
        n = self._count if cfg.limit is None else min(cfg.limit, self._count)
        n -= int(n * cfg.val_split)
        steps = math.ceil(n / cfg.batch_size)
        hint.update(f"↳ {steps:,} steps/epoch = ⌈{n:,} / {cfg.batch_size:,}⌉")

    def fill(self, cfg: TrainConfig) -> None:
        """Put a config's values into the fields (used when a preset is picked)."""
        self._filling = True
        self._preset = cfg.preset
        try:
            for name in ORDER:
                widget = self.query_one(f"#field-{name}")
                if name in SELECTS or name != "data_path":
                    widget.value = field_text(cfg, name)  # type: ignore[attr-defined]
        finally:
            self._filling = False
        self._revalidate()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self._filling:
            return
        if event.select.id == "field-preset" and isinstance(event.value, str) and event.value != self._preset:
            # A different preset: load its recipe (Select also posts Changed on mount: ignore that).
            self._preset = event.value
            base = preset_config(event.value)
            keep = {"dataset": self.query_one("#field-dataset", Select).value}
            self.fill(base.with_changes(**keep))
            return
        self._revalidate()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._filling:
            self._revalidate()
