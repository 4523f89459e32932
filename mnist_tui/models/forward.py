"""Run a model with NumPy alone, from a checkpoint's weights and layer list.

The app never imports TensorFlow or JAX: the trainer is another process. Yet draw-a-digit
and a look inside the network need the model's output (and every layer's activation) for a
single image, at once. These models are small enough that NumPy does that in milliseconds:
dense and convolution layers are a matmul each (convolution as im2col), pooling a reshape.
A test checks that the outputs equal Keras's own to float32 precision for every preset.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.errors import ModelFileError

LAYOUTS = ("flat", "image", "image_channels")
KINDS = ("dense", "conv", "pool", "flatten", "dropout")
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")


def _activate(z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 0.5 * (np.tanh(0.5 * z) + 1.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def _conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Stride-1 'same' convolution of NHWC ``x`` with an HWIO kernel, Keras's padding rule
    (the extra row/column of an even kernel goes after)."""
    n, h, w, c = x.shape
    kh, kw, _, out = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    cols = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))  # n,h,w,c,kh,kw
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, kh * kw * c)
    return (cols @ kernel.reshape(kh * kw * c, out) + bias).reshape(n, h, w, out)


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    n, h, w, c = x.shape
    h2, w2 = h // size, w // size
    return x[:, : h2 * size, : w2 * size].reshape(n, h2, size, w2, size, c).max(axis=(2, 4))


@dataclass(frozen=True, eq=False)
class ForwardModel:
    """A feed-forward model as layers + weights; ``activations`` returns every layer's output."""

    layers: tuple[dict[str, Any], ...]
    weights: tuple[np.ndarray, ...]
    layout: str
    epoch: int = 0  # the epoch whose end these weights are (0: unknown or a loaded model)

    def _input(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28) / np.float32(255.0)
        if self.layout == "flat":
            return x.reshape(len(x), 784)
        return x[..., None] if self.layout == "image_channels" else x

    def activations(self, images: np.ndarray) -> list[np.ndarray]:
        """uint8 (N, 28, 28) images → the output of every layer, the softmax last."""
        x = self._input(images)
        outs: list[np.ndarray] = []
        w = iter(self.weights)
        for layer in self.layers:
            kind = layer["kind"]
            if kind == "dense":
                kernel, bias = next(w), next(w)
                x = _activate(x @ kernel + bias, layer.get("activation", "linear"))
            elif kind == "conv":
                if x.ndim == 3:
                    x = x[..., None]
                kernel, bias = next(w), next(w)
                x = _activate(_conv_same(x, kernel, bias), layer.get("activation", "linear"))
            elif kind == "pool":
                x = _pool(x, int(layer.get("size", 2)))
            elif kind == "flatten":
                x = x.reshape(len(x), -1)
            outs.append(x)  # dropout: the identity at inference
        return outs

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.activations(images)[-1].astype(np.float32, copy=False)


def check_spec(layers: Any, weights: list[np.ndarray], layout: str) -> None:
    """Refuse a layer list the interpreter cannot run, or weights that do not fit it."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown input layout {layout!r}")
    if not isinstance(layers, list) or not layers:
        raise ValueError("no layers")
    needed = 0
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("kind") not in KINDS:
            raise ValueError(f"unsupported layer {layer!r}")
        if layer.get("activation", "linear") not in ACTIVATIONS:
            raise ValueError(f"unsupported activation {layer.get('activation')!r}")
        needed += 2 if layer["kind"] in ("dense", "conv") else 0
    if needed != len(weights):
        raise ValueError(f"{len(weights)} weight arrays for layers that need {needed}")
    out = ForwardModel(tuple(layers), tuple(weights), layout).predict(np.zeros((1, 28, 28), np.uint8))
    if out.shape != (1, 10):
        raise ValueError(f"the model's output has shape {out.shape[1:]}, not 10 classes")


def load_checkpoint(path: str | Path) -> ForwardModel:
    """The weights of a run's ``checkpoint.npz`` (written by the trainer) as a ForwardModel."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            names = sorted(k for k in data.files if k.startswith("w"))
            weights = [np.asarray(data[k], dtype=np.float32) for k in names]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{p}: not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{p}: not a checkpoint")
    layers, layout = meta.get("layers"), meta.get("input", "")
    try:
        check_spec(layers, weights, layout)
    except ValueError as err:
        raise ModelFileError(f"{p}: {err}") from None
    epoch = meta.get("epoch") if isinstance(meta.get("epoch"), int) else 0
    return ForwardModel(tuple(layers), tuple(weights), layout, epoch)
