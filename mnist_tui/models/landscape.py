"""The loss landscape in one dimension: the test loss along the line from the initial weights
to the trained ones, θ(α) = (1 − α)·θ₀ + α·θ₁ (Goodfellow, Vinyals & Saxe, 2015).

The classic picture of what training did: at α = 0 the loss of a random net (≈ ln 10), at
α = 1 the trained one's, and in between, usually, a smooth descent with no bump (the
optimizer could have walked straight there), rising again past α = 1. NumPy only (the
``ForwardModel`` of both checkpoints), on a subset of the test set, so the app computes it
in a worker thread in a second or two without a framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_tui.models.forward import ForwardModel

ALPHAS = np.linspace(-0.25, 1.25, 25)  # 0 and 1 are among them (every 1/16)
DENSE_IMAGES, CONV_IMAGES = 1000, 250  # test images per point: a cnn point costs ~10× a dense one


@dataclass(frozen=True, eq=False)
class LossLine:
    alphas: np.ndarray
    losses: np.ndarray
    accuracies: np.ndarray
    images: int  # how many test images each point was measured on
    epoch: int  # the epoch whose weights are θ₁


def images_for(model: ForwardModel) -> int:
    """How many test images a point is measured on: fewer for convolutions, which cost more."""
    return CONV_IMAGES if any(layer.get("kind") == "conv" for layer in model.layers) else DENSE_IMAGES


def loss_line(start: ForwardModel, end: ForwardModel, images: np.ndarray, labels: np.ndarray,
              alphas: np.ndarray = ALPHAS) -> LossLine:
    """Cross-entropy and accuracy of the blended weights at every α, on ``images`` (uint8)."""
    if len(start.weights) != len(end.weights) or any(a.shape != b.shape for a, b in zip(start.weights, end.weights,
                                                                                          strict=True)):
        raise ValueError("the two checkpoints are not the same network")
    y = np.asarray(labels, dtype=np.int64)
    losses, accuracies = [], []
    for alpha in alphas:
        a = np.float32(alpha)
        weights = tuple((np.float32(1) - a) * w0 + a * w1 for w0, w1 in zip(start.weights, end.weights, strict=True))
        probs = ForwardModel(end.layers, weights, end.layout).predict(images)
        picked = np.clip(probs[np.arange(len(y)), y], 1e-12, None)
        losses.append(float(-np.mean(np.log(picked))))
        accuracies.append(float(np.mean(probs.argmax(axis=1) == y)))
    return LossLine(np.asarray(alphas, dtype=np.float64), np.array(losses), np.array(accuracies), len(y), end.epoch)
