"""Scores of softmax outputs against labels: loss, accuracy, the confusion matrix, a run's result.

Plain NumPy, shared by the trainer, the evaluation of saved models and the app (which draws
the confusion matrix of any epoch), so none of them needs the others to compute a score.
"""

from __future__ import annotations

import math

import numpy as np

from mnist_tui.events import RunFinished

KERAS_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy


def loss_and_accuracy(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of softmax outputs against integer labels."""
    if len(labels) == 0:
        return math.nan, math.nan
    p = np.clip(probs[np.arange(len(labels)), labels], KERAS_EPSILON, 1.0)
    return float(-np.log(p).mean()), float((probs.argmax(axis=1) == labels).mean())


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n: int = 10) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    return np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)


def run_result(status: str, reason: str, epochs: int, test_loss: float, test_accuracy: float,
               confusion: np.ndarray, train_seconds: float, total_seconds: float,
               run_dir: str | None, evaluated: bool = True) -> RunFinished:
    """The run's result from its test-set confusion matrix (trained or loaded, same shape)."""
    return RunFinished(
        status=status, reason=reason, epochs_completed=epochs, test_loss=test_loss,
        test_accuracy=test_accuracy,
        per_class_accuracy=tuple(float(a) for a in per_class_accuracy(confusion)),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        train_seconds=train_seconds, total_seconds=total_seconds, run_dir=run_dir, evaluated=evaluated,
    )


def result_from_probabilities(status: str, reason: str, epochs: int, probs: np.ndarray | None,
                              labels: np.ndarray, train_seconds: float, total_seconds: float,
                              run_dir: str | None, evaluated: bool = True) -> RunFinished:
    """The result of softmax outputs on the test set (NaN figures when there are none)."""
    if probs is None:
        return run_result(status, reason, epochs, math.nan, math.nan, np.zeros((10, 10), np.int64),
                          train_seconds, total_seconds, run_dir, evaluated)
    loss, acc = loss_and_accuracy(probs, labels)
    conf = confusion_matrix(labels, probs.argmax(axis=1), probs.shape[1])
    return run_result(status, reason, epochs, loss, acc, conf, train_seconds, total_seconds, run_dir, evaluated)
