"""Evaluate a saved model on the test set, streaming the same events a training run ends with.

The app replays these into the status line, viewer, confusion matrix and draw canvas, so a
loaded model gets every view a trained one does, with no training.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from mnist_tui.config import TrainConfig
from mnist_tui.data import load_dataset
from mnist_tui.training.events import (
    DONE,
    EVALUATING,
    FAILED,
    LOADING,
    DataReady,
    Emit,
    ModelReady,
    PhaseChanged,
    Predictions,
    RunFinished,
)
from mnist_tui.training.trainer import confusion_matrix, loss_and_accuracy, run_result


def evaluate_saved(path: str | os.PathLike[str], cfg: TrainConfig, emit: Emit) -> RunFinished:
    """Load ``path`` (safe mode), evaluate on ``cfg``'s test set, emit the results."""
    from mnist_tui.models.saved import evaluate, load_model

    t0 = time.perf_counter()
    try:
        emit(PhaseChanged(LOADING, f"model {path}"))
        model = load_model(path)
        emit(PhaseChanged(LOADING, cfg.dataset))
        ds = load_dataset(cfg.dataset, cfg.data_path)
    except BaseException as err:
        emit(PhaseChanged(FAILED, str(err)))
        raise
    emit(DataReady(n_train=len(ds.x_train), n_val=0, n_test=len(ds.x_test), steps_per_epoch=0, epochs=0,
                   batch_size=0, class_names=ds.class_names, source=ds.source, validation="test set",
                   x_test=ds.x_test, y_test=ds.y_test, x_train=ds.x_train, y_train=ds.y_train))

    def progress(done: int, total: int) -> None:
        emit(PhaseChanged(EVALUATING, f"{model.name}: {done:,}/{total:,} test images ({done / total:.0%})"))

    probs = evaluate(model, ds.x_test, ds.y_test, progress)
    labels = ds.y_test.astype(np.int64)
    loss, acc = loss_and_accuracy(probs, labels)
    conf = confusion_matrix(labels, probs.argmax(axis=1))
    emit(Predictions(0, probs))
    emit(ModelReady(f"{model.name} from {path}", model.predict))
    seconds = time.perf_counter() - t0
    result = run_result(DONE, f"loaded {path} ({model.param_count:,} params)", 0,
                        loss if math.isfinite(loss) else math.nan, acc, conf, 0.0, seconds, None)
    emit(result)
    emit(PhaseChanged(DONE, result.reason))
    return result
