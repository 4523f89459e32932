"""Load a saved model (``.keras`` or the scratch net's ``.npz``) safely and predict with it.

Keras models load with ``safe_mode=True`` (a Lambda layer or other deserialised code is
refused) and the scratch net never unpickles: opening a file never runs code from it.
Reading is bounded (``mnist_tui.fsguard``: regular files only, zip sizes checked first) and
a loaded model must take one MNIST image and give probabilities over 10 classes. Every
failure is a one-line ``ModelFileError`` naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.errors import ModelFileError
from mnist_tui.fsguard import member_names, open_regular, open_zip, size_text, stat_path, user_path
from mnist_tui.models.scratch import SAVED_KEYS, ScratchNet

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


KERAS_MEMBERS = ("config.json", "model.weights.h5")
MAX_KERAS_CONFIG_BYTES = 16 * 1024 * 1024  # an MNIST model's architecture is a few KB of JSON
_KINDS = {".keras": "a Keras model", ".npz": "a scratch model"}


def check_model_path(path: str | os.PathLike[str]) -> Path:
    """Cheap checks that need no TensorFlow, so the CLI can refuse a bad file before the app opens.

    Both formats are zip archives: the file must be a regular file (a FIFO would block
    the load), readable, and hold the members its format needs, with declared sizes an
    MNIST model can have. Only the zip directory is read, never a member.
    """
    p = user_path(path)
    if stat.S_ISDIR(stat_path(p, ModelFileError).st_mode):
        raise ModelFileError(f"{p}: is a directory, not a model file (.keras or .npz)")
    if p.suffix not in _KINDS:
        raise ModelFileError(f"{p}: not a model file (expected .keras or .npz)")
    kind = _KINDS[p.suffix]
    with open_regular(p, ModelFileError) as fh, open_zip(fh, ModelFileError, p, kind) as zf:
        names = set(zf.namelist())
        needed = KERAS_MEMBERS if p.suffix == ".keras" else tuple(f"{k}.npy" for k in SAVED_KEYS)
        missing = [n for n in needed if n not in names]
        if missing:
            lacks = ", ".join(n.removesuffix(".npy") for n in missing)
            found = ", ".join(member_names(zf, ".npy" if p.suffix == ".npz" else "")) or "nothing"
            raise ModelFileError(f"{p}: not {kind}: this zip lacks {lacks} (found: {found})")
        if p.suffix == ".keras" and zf.getinfo("config.json").file_size > MAX_KERAS_CONFIG_BYTES:
            raise ModelFileError(f"{p}: config.json is {size_text(zf.getinfo('config.json').file_size)}, more "
                                 f"than the {size_text(MAX_KERAS_CONFIG_BYTES)} limit for a model's architecture")
    return p


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """The full load (Keras in safe mode, or the scratch net), then a check on its outputs."""
    p = check_model_path(path)
    model = _load_scratch(p) if p.suffix == ".npz" else _load_keras(p)
    _check_outputs(model)
    return model


def _check_outputs(model: LoadedModel) -> None:
    """Probe a blank and a random image: the outputs must be probabilities over 10 classes.

    A model ending in raw logits loads and predicts fine, and then reports a negative
    loss; refusing it here is the only place the mistake can be named.
    """
    probes = np.stack([np.zeros((28, 28), np.uint8),
                       np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)])
    try:
        out = np.asarray(model.predict(probes), dtype=np.float64)
    except Exception as err:  # a model that loads but cannot run is a bad file, whatever the error
        raise ModelFileError(f"{model.path}: cannot run the model: {_first_line(err)}") from None
    if out.shape != (2, 10):
        raise ModelFileError(f"{model.path}: predicts shape {out.shape[1:]} per image, not 10 classes")
    if not (np.all(np.isfinite(out)) and out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
        raise ModelFileError(f"{model.path}: outputs are not probabilities (no softmax on the last layer?)")


def _load_scratch(p: Path) -> LoadedModel:
    net = ScratchNet.load(p)  # raises ModelFileError itself
    if net.n_in != 28 * 28:
        raise ModelFileError(f"{p}: input size is {net.n_in}, not an MNIST image (784 = 28×28 pixels)")
    if net.n_out != 10:
        raise ModelFileError(f"{p}: output size is {net.n_out}, not 10 classes")

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
        raise ModelFileError(f"{p}: cannot load: {_first_line(err)}") from None
    try:
        return _keras_loaded_model(p, model)
    except ModelFileError:
        raise
    except Exception as err:  # an odd graph (shared layers, nested outputs) is a bad file, not a crash
        raise ModelFileError(f"{p}: not an MNIST model: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _keras_loaded_model(p: Path, model: Any) -> LoadedModel:
    """Check a loaded Keras model is one image in, 10 classes out, and wrap it."""
    for what, tensors in (("inputs", getattr(model, "inputs", None)), ("outputs", getattr(model, "outputs", None))):
        if isinstance(tensors, (list, tuple)) and len(tensors) > 1:
            one = "takes one image" if what == "inputs" else "gives one 10-class prediction"
            raise ModelFileError(f"{p}: the model has {len(tensors)} {what}; an MNIST model {one}")
    input_shape = _single_shape(model.input_shape)
    output_shape = _single_shape(model.output_shape)
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


def _single_shape(shape: object) -> tuple[int | None, ...]:
    """A Keras ``input_shape``/``output_shape``: a tuple, or a list holding one."""
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    return tuple(shape) if isinstance(shape, tuple) else ()


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
