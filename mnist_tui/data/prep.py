"""Preprocessing between raw uint8 data and what models consume."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from mnist_tui.errors import DatasetError

from .sources import Dataset

Layout = Literal["flat", "image", "image_channels"]


def normalise(x: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1], the range the models are tuned for."""
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def shape_for(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Normalise and reshape images for dense (flat) or convolutional models."""
    n = len(x)
    out = normalise(x)
    if layout == "flat":
        return out.reshape(n, 28 * 28)
    if layout == "image":
        return out.reshape(n, 28, 28)
    if layout == "image_channels":
        return out.reshape(n, 28, 28, 1)
    raise ValueError(f"unknown layout {layout!r}")


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """One-hot float32 labels, for losses that want categorical targets."""
    y = np.asarray(y).astype(np.int64).reshape(-1)
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def take_subset(ds: Dataset, limit: int | None) -> Dataset:
    """Keep the first ``limit`` training samples for quick runs; test set untouched."""
    if limit is None:
        return ds
    n = len(ds.x_train)
    if limit <= 0:
        raise DatasetError(f"training sample limit must be positive, got {limit}")
    if limit > n:
        raise DatasetError(f"training sample limit {limit} exceeds the {n} available training samples")
    return dataclasses.replace(
        ds,
        x_train=ds.x_train[:limit],
        y_train=ds.y_train[:limit],
        source=f"{ds.source} (first {limit} training samples)",
    )


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out the last ``fraction`` of samples, deterministic like Keras's split."""
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"validation fraction must be in [0, 1), got {fraction}")
    n = len(x)
    if len(y) != n:
        raise DatasetError(f"{n} images but {len(y)} labels")
    n_val = int(n * fraction)
    if n - n_val < 1:
        raise DatasetError(f"validation fraction {fraction} leaves no training samples out of {n}")
    cut = n - n_val
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
