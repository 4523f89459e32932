"""Run directories with chosen validation curves and test predictions, written by the
project's own code (``create_run_dir`` + ``RunRecorder``), for the experiments tests."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np

from mnist_tui.config import preset_config
from mnist_tui.events import BatchEnd, DataReady, EpochEnd, Predictions, RunFinished, TrainerStarted
from mnist_tui.runs.recorder import RunRecorder
from mnist_tui.runs.rundir import OWNER, RUN_FORMAT, RUN_FORMAT_VERSION, atomic_write_json, create_run_dir
from tests.runs_helpers import DEAD_OWNER, T0

N_TEST = 50


def labels(n: int = N_TEST) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def one_hot_predictions(pred: Sequence[int] | np.ndarray) -> np.ndarray:
    """Softmax-like rows: 0.9 on the predicted class."""
    pred = np.asarray(pred)
    probs = np.full((len(pred), 10), 0.1 / 9, dtype=np.float32)
    probs[np.arange(len(pred)), pred] = 0.9
    return probs


def curve_run(parent: Path, name: str, vals: Sequence[float], *, seconds: float = 10.0, n_train: int = 1000,
              lr: float = 1e-3, seed: int = 0, acc: float | None = None, minutes: int = 0,
              pred: np.ndarray | None = None, status: str | None = "done", batch_size: int = 100) -> Path:
    """A finished (or, ``status=None``, killed) mlp run whose epoch ``k`` reached ``vals[k-1]``
    validation accuracy in ``seconds`` each; ``pred`` (test predictions) is saved at every epoch."""
    epochs = len(vals)
    cfg = preset_config("mlp").with_changes(epochs=epochs, learning_rate=lr, seed=seed, backend="tensorflow",
                                            batch_size=batch_size)
    made = create_run_dir(parent, cfg)
    path = made.rename(parent / name)
    started = T0 + timedelta(minutes=minutes)
    rec = RunRecorder(path, cfg, started=started)
    steps = max(1, n_train // batch_size)
    y = labels()
    x = np.random.default_rng(seed).integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
    rec(TrainerStarted(1, "test", "tensorflow", 0, epochs))
    rec(DataReady(n_train, 0, N_TEST, steps, epochs, batch_size, tuple("0123456789"), "synthetic", "test set",
                  x, y))
    probs = one_hot_predictions(y if pred is None else pred)
    for e, v in enumerate(vals, start=1):
        for s in range(1, steps + 1):
            rec(BatchEnd(e, s, steps, s * batch_size, 1.0 / e, v, 1.0 / e, v, 100.0, (e - 1 + s / steps) * seconds))
        rec(EpochEnd(e, epochs, 1.0 / e, v, 1.0 / e, v, seconds))
        rec(Predictions(e, probs))
    if status is not None:
        final = float(acc if acc is not None else vals[-1])
        p = probs.argmax(axis=1)
        conf = np.bincount(y.astype(np.int64) * 10 + p, minlength=100).reshape(10, 10)
        rec(RunFinished(status, "", epochs, 0.3, final, (final,) * 10, tuple(tuple(int(v) for v in r) for r in conf),
                        seconds * epochs, seconds * epochs, str(path)))
    rec.close()
    record = {"format": RUN_FORMAT, "version": RUN_FORMAT_VERSION, "started": started.isoformat(timespec="seconds"),
              **DEAD_OWNER}
    atomic_write_json(path / OWNER, record)
    old = time.time() - 3600
    os.utime(path / OWNER, (old, old))
    return path
