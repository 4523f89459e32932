"""Load a saved model (``.keras`` or the scratch net's ``.npz``) safely and predict with it.

Keras models load with ``safe_mode=True`` (a Lambda layer or other deserialised code is
refused) and the scratch net with ``allow_pickle=False``: opening a file never runs code
from it. Every failure is a one-line ``ModelFileError`` naming the file.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_tui.errors import ModelFileError

Predict = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) → softmax (N, 10)


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    kind: str  # "keras" or "scratch"
    name: str
    param_count: int
    summary_rows: tuple[tuple[str, str, int], ...]  # (layer, output shape, params)
    predict: Predict
    forward: dict[str, np.ndarray] | None = None  # checkpoint arrays for NumPy inference, when convertible


def _as_layout(x: np.ndarray, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """uint8 images → the float32 shape the model was built for (flat, image or channels)."""
    x = np.asarray(x, dtype=np.float32) / np.float32(255.0)
    dims = tuple(input_shape[1:])
    if dims == (784,):
        return x.reshape(len(x), 784)
    if dims == (28, 28):
        return x.reshape(len(x), 28, 28)
    if dims == (28, 28, 1):
        return x.reshape(len(x), 28, 28, 1)
    raise ValueError(f"unsupported input shape {dims}")


def check_model_path(path: str | os.PathLike[str]) -> Path:
    """Cheap checks that need no TensorFlow, so the CLI can refuse a bad file before the app opens.

    Both formats are zip archives (.keras, and NumPy's .npz): a truncated or foreign file
    fails ``is_zipfile`` (the central directory sits at the end of the file).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelFileError(f"{p}: no such file")
    if p.is_dir():
        raise ModelFileError(f"{p}: is a directory, not a model file (.keras or .npz)")
    if p.suffix not in (".keras", ".npz"):
        raise ModelFileError(f"{p}: not a model file (expected .keras or .npz)")
    try:
        ok = zipfile.is_zipfile(p)
    except OSError as err:
        raise ModelFileError(f"{p}: cannot read: {err.strerror or err}") from None
    if not ok:
        kind = "Keras model" if p.suffix == ".keras" else "scratch model (.npz)"
        raise ModelFileError(f"{p}: not a {kind} (not a zip archive; truncated or another format?)")
    return p


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    p = check_model_path(path)
    return _load_scratch(p) if p.suffix == ".npz" else _load_keras(p)


def _load_scratch(p: Path) -> LoadedModel:
    from mnist_tui.models.scratch import ScratchNet

    net = ScratchNet.load(p)  # raises ModelFileError itself

    def predict(x: np.ndarray) -> np.ndarray:
        return net.predict_proba(_as_layout(x, (None, 784)))

    layers = [{"kind": "dense", "activation": net.activation}, {"kind": "dense", "activation": "softmax"}]
    weights = [net.params[k] for k in ("W1", "b1", "W2", "b2")]
    return LoadedModel(p, "scratch", f"scratch ({net.hidden} {net.activation})", net.param_count,
                       tuple(net.summary_rows()), predict, _checkpoint_arrays(layers, weights, "flat"))


def _load_keras(p: Path) -> LoadedModel:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    try:
        model = keras.saving.load_model(p, safe_mode=True, compile=False)
    except ValueError as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else "invalid model"
        if "safe_mode" in str(err) or "lambda" in str(err).lower():
            raise ModelFileError(f"{p}: refused: the model contains code (a Lambda layer), which safe mode "
                                 "will not load") from None
        raise ModelFileError(f"{p}: cannot load: {text}") from None
    except Exception as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{p}: cannot load: {text}") from None
    input_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else ()
    output_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else ()
    try:
        _as_layout(np.zeros((1, 28, 28), np.uint8), input_shape)
    except ValueError:
        raise ModelFileError(f"{p}: input shape {input_shape[1:]} is not an MNIST image (784, 28×28 or "
                             "28×28×1)") from None
    if output_shape[1:] != (10,):
        raise ModelFileError(f"{p}: output shape {output_shape[1:]} is not 10 classes") from None
    rows = tuple(
        (f"{layer.name}", "(None, " + ", ".join(str(d) for d in tuple(layer.output.shape)[1:]) + ")",
         int(layer.count_params()))
        for layer in model.layers
    )

    def predict(x: np.ndarray) -> np.ndarray:
        arr = _as_layout(x, input_shape)
        out = [np.asarray(model.predict_on_batch(arr[i:i + 1000])) for i in range(0, len(arr), 1000)]
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros((0, 10), np.float32)

    return LoadedModel(p, "keras", model.name, int(model.count_params()), rows, predict,
                       _forward_from_keras(model, input_shape))


LAYOUT_OF = {(784,): "flat", (28, 28): "image", (28, 28, 1): "image_channels"}


def _checkpoint_arrays(layers: list[dict[str, object]], weights: list[np.ndarray],
                       layout: str) -> dict[str, np.ndarray] | None:
    """The arrays of a checkpoint.npz that ``mnist_tui.models.forward`` can run, or None."""
    import json

    from mnist_tui.models.forward import check_spec

    weights = [np.asarray(w, dtype=np.float32) for w in weights]
    try:
        check_spec(layers, weights, layout)
    except ValueError:
        return None
    arrays = {f"w{i:03d}": w for i, w in enumerate(weights)}
    arrays["meta"] = np.array(json.dumps({"format": "mnist-tui-checkpoint", "version": 1, "epoch": 0,
                                          "input": layout, "layers": layers}))
    return arrays


def _forward_from_keras(model: object, input_shape: tuple[int | None, ...]) -> dict[str, np.ndarray] | None:
    """A Sequential of Dense / Conv2D (stride 1, same) / MaxPooling2D / Flatten / Dropout
    layers converts to the NumPy interpreter; anything else stays Keras-only (None)."""
    layout = LAYOUT_OF.get(tuple(input_shape[1:]))
    if layout is None:
        return None
    layers: list[dict[str, object]] = []
    weights: list[np.ndarray] = []
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        config = layer.get_config()
        if kind in ("Dense", "Conv2D"):
            if not config.get("use_bias", True):
                return None
            if kind == "Conv2D" and (config.get("padding") != "same" or tuple(config.get("strides", (1, 1))) != (1, 1)
                                     or tuple(config.get("dilation_rate", (1, 1))) != (1, 1)):
                return None
            activation = config.get("activation", "linear")
            item: dict[str, object] = {"kind": "dense" if kind == "Dense" else "conv",
                                       "activation": activation if isinstance(activation, str) else "?"}
            layers.append(item)
            weights.extend(layer.get_weights())
        elif kind == "MaxPooling2D":
            size, strides = tuple(config.get("pool_size", (2, 2))), tuple(config.get("strides") or config["pool_size"])
            if size[0] != size[1] or size != strides or config.get("padding", "valid") != "valid":
                return None
            layers.append({"kind": "pool", "size": int(size[0])})
        elif kind in ("Flatten", "Dropout"):
            layers.append({"kind": kind.lower()})
        elif kind != "InputLayer":
            return None
    return _checkpoint_arrays(layers, weights, layout)


def evaluate(model: LoadedModel, x: np.ndarray, y: np.ndarray, progress: Callable[[int, int], None] | None = None,
             chunk: int = 1000) -> np.ndarray:
    """Softmax outputs on the whole set, in chunks so a progress bar can move."""
    out = []
    for start in range(0, len(x), chunk):
        out.append(model.predict(x[start:start + chunk]))
        if progress is not None:
            progress(min(start + chunk, len(x)), len(x))
    return np.concatenate(out) if out else np.zeros((0, 10), np.float32)
