"""Declarative layer lists for every preset, with output shapes and parameter counts.

Kept free of TensorFlow so the TUI can show a ``model.summary()``-style table that updates
as the user types, before (or without) TensorFlow being loaded. ``keras_models`` turns the
same lists into Keras layers, and a test checks both agree with Keras's own counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_tui.config import PRESETS, TrainConfig

IMAGE = (28, 28)
N_CLASSES = 10


@dataclass(frozen=True)
class Layer:
    """One layer: ``kind`` is dense, conv, pool, dropout or flatten."""

    kind: str
    units: int = 0  # dense units or conv filters
    kernel: int = 0
    activation: str = ""
    rate: float = 0.0


@dataclass(frozen=True)
class SummaryRow:
    name: str
    output_shape: tuple[int, ...]
    params: int

    @property
    def shape_text(self) -> str:
        return "(None, " + ", ".join(str(d) for d in self.output_shape) + ")"


def input_shape(cfg: TrainConfig) -> tuple[int, ...]:
    layout = PRESETS[cfg.preset].layout
    return {"flat": (784,), "image": IMAGE, "image_channels": (*IMAGE, 1)}[layout]


def layers_for(cfg: TrainConfig) -> list[Layer]:
    """The preset's layers with the config's overrides applied."""
    act = cfg.activation
    drop = [Layer("dropout", rate=cfg.dropout)] if cfg.dropout > 0 else []
    out = Layer("dense", N_CLASSES, activation="softmax")
    if cfg.preset in ("mlp", "scratch"):
        return [Layer("dense", cfg.hidden_units, activation=act), *drop, out]
    if cfg.preset == "mlp-small":
        return [Layer("flatten"), Layer("dense", cfg.hidden_units, activation=act), *drop, out]
    if cfg.preset == "cnn":
        return [
            Layer("conv", 32, kernel=5, activation=act),
            Layer("pool"),
            Layer("conv", 64, kernel=2, activation=act),
            Layer("pool"),
            *drop,
            Layer("flatten"),
            Layer("dense", cfg.hidden_units, activation=act),
            out,
        ]
    raise ValueError(f"unknown preset {cfg.preset!r}")


def summary(cfg: TrainConfig) -> list[SummaryRow]:
    """Output shape and parameter count per layer, computed the way Keras does."""
    shape = input_shape(cfg)
    rows: list[SummaryRow] = []
    counters: dict[str, int] = {}
    for layer in layers_for(cfg):
        params = 0
        if layer.kind == "dense":
            fan_in = shape[-1]
            params = fan_in * layer.units + layer.units
            shape = (*shape[:-1], layer.units)
        elif layer.kind == "conv":
            channels = shape[-1]
            params = layer.kernel * layer.kernel * channels * layer.units + layer.units
            shape = (shape[0], shape[1], layer.units)  # padding="same", stride 1
        elif layer.kind == "pool":
            shape = (shape[0] // 2, shape[1] // 2, shape[2])
        elif layer.kind == "flatten":
            total = 1
            for d in shape:
                total *= d
            shape = (total,)
        base = {"conv": "conv2d", "pool": "max_pooling2d"}.get(layer.kind, layer.kind)
        index = counters.get(base, 0)
        counters[base] = index + 1
        name = base if index == 0 else f"{base}_{index}"
        if layer.activation:
            name += f" ({layer.activation})"
        rows.append(SummaryRow(name, shape, params))
    return rows


def param_count(cfg: TrainConfig) -> int:
    return sum(row.params for row in summary(cfg))


def forward_spec(cfg: TrainConfig) -> list[dict[str, object]]:
    """The layers as plain data for ``mnist_tui.models.forward``: what a checkpoint carries so
    that the app can run the model with NumPy alone (draw-a-digit, activations)."""
    spec: list[dict[str, object]] = []
    for layer in layers_for(cfg):
        if layer.kind in ("dense", "conv"):
            item: dict[str, object] = {"kind": layer.kind, "activation": layer.activation or "linear"}
            if layer.kind == "conv":
                item["padding"] = "same"
            spec.append(item)
        elif layer.kind == "pool":
            spec.append({"kind": "pool", "size": 2})
        else:
            spec.append({"kind": layer.kind})
    return spec
