"""Pure helpers behind the Explore view: the tutorials' data and maths facts, computed live.

No Textual and no TensorFlow here, so every number the view shows is unit-testable alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text

from mnist_tui.data.prep import normalise, one_hot
from mnist_tui.models.scratch import softmax as softmax_stable
from mnist_tui.render.digits import digit_text

__all__ = [
    "ACTIVATION_RANGES",
    "TEMPERATURES",
    "activation_curves",
    "count_ticks",
    "dataset_facts",
    "digits_row_text",
    "downsample2",
    "format_vector",
    "one_hot_text",
    "relu",
    "sample_grid",
    "sigmoid",
    "softmax_naive",
    "softmax_stable",
    "softmax_with_temperature",
    "steps_per_epoch",
]

# Half-widths of the activation plot's x range that `[` / `]` step through.
ACTIVATION_RANGES = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 20.0)


def dataset_facts(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                  num_classes: int = 10) -> dict[str, Any]:
    """Shapes, dtypes, pixel range before/after /255 and label counts of a dataset.

    The normalised range is computed from the raw extremes with the same ``normalise`` the
    models use (division is monotonic), so a 60 000-image set is never copied to float32 here.
    """
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    raw_min = min(int(np.min(x_train)), int(np.min(x_test)))
    raw_max = max(int(np.max(x_train)), int(np.max(x_test)))
    extremes = normalise(np.array([raw_min, raw_max], dtype=np.asarray(x_train).dtype))
    return {
        "arrays": {name: (tuple(np.shape(a)), str(np.asarray(a).dtype)) for name, a in arrays.items()},
        "raw_min": raw_min,
        "raw_max": raw_max,
        "raw_dtype": str(np.asarray(x_train).dtype),
        "norm_min": float(extremes[0]),
        "norm_max": float(extremes[1]),
        "norm_dtype": str(extremes.dtype),
        "train_counts": np.bincount(np.asarray(y_train, dtype=np.int64), minlength=num_classes),
        "test_counts": np.bincount(np.asarray(y_test, dtype=np.int64), minlength=num_classes),
    }


def format_vector(v: np.ndarray, digits: int = 3) -> str:
    """``[0.090 0.245 0.665]``, ``[1000 1001 1002]``, ``[nan inf]``: short and printed as-is."""
    def one(x: float) -> str:
        if not np.isfinite(x):
            return str(x)  # nan, inf, -inf
        return f"{x:.{digits}f}" if digits else f"{x:.0f}"

    return "[" + " ".join(one(float(x)) for x in np.asarray(v, dtype=np.float64).ravel()) + "]"


def count_ticks(top: int, count: int = 4) -> list[int]:
    """About ``count`` whole-number ticks from 0 on a 1-2-5 step (images are counted, not measured)."""
    if top <= 0:
        return [0]
    raw = top / count
    mag = 10 ** int(np.floor(np.log10(raw))) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return list(range(0, top + 1, int(step)))


def one_hot_text(label: int, num_classes: int = 10) -> str:
    """One label in the two forms the tutorials' losses take: sparse (the class index) for
    sparse_categorical_crossentropy, one-hot for categorical_crossentropy."""
    vec = one_hot(np.array([label]), num_classes)[0]
    return f"sparse   {int(label)}\none-hot  [{' '.join(str(int(v)) for v in vec)}]"


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Written via tanh so huge negative inputs give 0, not an overflow warning from exp(-x)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def activation_curves(xs: np.ndarray) -> dict[str, np.ndarray]:
    """relu, sigmoid and tanh at every x, and softmax of ``xs`` taken as one logit vector."""
    xs = np.asarray(xs, dtype=np.float64)
    return {"relu": relu(xs), "sigmoid": sigmoid(xs), "tanh": np.tanh(xs), "softmax": softmax_stable(xs)}


def softmax_naive(z: np.ndarray) -> np.ndarray:
    """Textbook exp(z)/Σexp(z): overflows to inf, then inf/inf = nan, for logits above ~709."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / np.sum(e, axis=-1, keepdims=True)


def steps_per_epoch(n: int, batch: int) -> int:
    """Batches Keras runs per epoch: ceil(n / batch), the last one possibly short."""
    if batch <= 0:
        raise ValueError(f"batch size must be positive, got {batch}")
    if n < 0:
        raise ValueError(f"sample count must not be negative, got {n}")
    return -(-n // batch)


def sample_grid(x: np.ndarray, y: np.ndarray, per_class: int = 1, num_classes: int = 10,
                start: int = 0) -> np.ndarray:
    """Indices of ``per_class`` samples of each class, shape (num_classes, per_class).

    Row k holds class k's samples number ``start``, ``start + 1``, … (wrapping around, so any
    ``start`` shows something); -1 where a class has no sample at all.
    """
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    out = np.full((num_classes, per_class), -1, dtype=np.int64)
    for k in range(num_classes):
        idx = np.flatnonzero(y == k)
        if len(idx):
            out[k] = idx[(start + np.arange(per_class)) % len(idx)]
    return out


def downsample2(img: np.ndarray) -> np.ndarray:
    """Average 2×2 pixel blocks: a 28×28 digit becomes 14×14, i.e. 14×7 half-block cells."""
    a = np.asarray(img, dtype=np.uint16)
    rows, cols = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:rows, :cols]
    return ((a[0::2, 0::2] + a[0::2, 1::2] + a[1::2, 0::2] + a[1::2, 1::2] + 2) // 4).astype(np.uint8)


def digits_row_text(images: list[np.ndarray], captions: list[str], mode: str = "halfblock",
                    gap: int = 1) -> Text:
    """Small digits side by side, each with a caption line above it."""
    arts = [digit_text(downsample2(img), mode).split("\n") for img in images]
    width = max((len(line.plain) for art in arts for line in art), default=0)
    height = max((len(art) for art in arts), default=0)
    text = Text(no_wrap=True, overflow="crop")
    text.append((" " * gap).join(c[:width].center(width) for c in captions), style="bold")
    for r in range(height):
        text.append("\n")
        for i, art in enumerate(arts):
            if i:
                text.append(" " * gap)
            if r < len(art):
                text.append_text(art[r])
            else:
                text.append(" " * width)
    return text


TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)  # what - and + step through


def softmax_with_temperature(z: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / T): T < 1 sharpens towards the largest logit, T > 1 flattens towards uniform."""
    return softmax_stable(np.asarray(z, dtype=np.float64) / float(temperature))
