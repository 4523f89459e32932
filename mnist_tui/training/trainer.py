"""Runs one training job end to end and streams its events.

``train()`` is what the CLI calls in its main thread and the app calls in a thread worker:
load data → prepare → build → fit with the streaming callback → evaluate → save. Every
event goes first to the run recorder (if any), then to the caller's ``emit``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.config import PRESETS, TrainConfig, check_against_data, check_backend, resolve_backend, validate
from mnist_tui.data import Dataset, load_dataset, one_hot, shape_for, split_validation, take_subset
from mnist_tui.training.control import BatchMeter, TrainClock, TrainControl
from mnist_tui.training.events import (
    COMPILING,
    DONE,
    EVALUATING,
    FAILED,
    LOADING,
    STOPPED,
    STOPPING,
    TRAINING,
    DataReady,
    Emit,
    EpochEnd,
    Event,
    ModelReady,
    PhaseChanged,
    Predictions,
    RunFinished,
)

KERAS_EPSILON = 1e-7  # Keras clips probabilities the same way in its cross-entropy
CHECKPOINT_ENV = "MNIST_TUI_CHECKPOINT_SECONDS"
DEFAULT_CHECKPOINT_SECONDS = 30.0


_frozen = False
_freeze_lock = threading.Lock()


def freeze_import_garbage(warm_up: bool = False) -> None:
    """Move what the Keras/TensorFlow import left behind out of the GC's sight, once.

    Hundreds of thousands of long-lived objects made every full GC pass take 120-250 ms,
    stalling training and the UI alike. Only once per process, before any model exists: frozen
    objects are never collected, and a model frozen with them would leak when the next run
    replaces it. ``warm_up`` (the app) first fits and predicts a throwaway model, because the
    first ``fit`` imports and caches another ~250k objects that would otherwise stay in sight;
    the CLI skips it (a second more of start-up, for pauses nobody watches).
    """
    global _frozen
    with _freeze_lock:
        if _frozen:
            return
        if warm_up:
            with contextlib.suppress(Exception):  # a failed warm-up only costs the pauses it would save
                _fit_throwaway_model()
        gc.collect()
        gc.freeze()
        _frozen = True


def _fit_throwaway_model() -> None:
    """One tiny fit/predict, then forget it: Keras's lazily built machinery stays, the model goes."""
    import keras

    keras.utils.set_random_seed(0)  # imports TensorFlow for its RNG even on JAX: ~1,600 modules
    x = np.zeros((8, 4), np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")], name="warm_up")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.zeros(8, np.int64), batch_size=4, epochs=1, verbose=0, callbacks=[keras.callbacks.Callback()])
    model.predict_on_batch(x)
    del model
    keras.backend.clear_session()  # layer-name counters back to zero: the real model's names are unchanged


def checkpoint_interval() -> float:
    """Seconds between epoch-end model saves (0 = every epoch); the final model is always saved.

    Saving a 38 MB cnn every epoch costs little, but on short epochs it would be several
    per cent of training time, so by default a save needs 30 s of training since the last.
    """
    raw = os.environ.get(CHECKPOINT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_CHECKPOINT_SECONDS
    except ValueError:
        return DEFAULT_CHECKPOINT_SECONDS


@dataclass
class Prepared:
    """Arrays shaped and labelled the way the preset's model and loss want them."""

    x_train: np.ndarray
    y_train: np.ndarray  # one-hot or sparse, as the loss needs
    x_val: np.ndarray
    y_val_int: np.ndarray
    x_test: np.ndarray
    y_test_int: np.ndarray


def prepare(cfg: TrainConfig, ds: Dataset) -> Prepared:
    layout = PRESETS[cfg.preset].layout
    (xt, yt), (xv, yv) = split_validation(ds.x_train, ds.y_train, cfg.val_split)
    sparse = cfg.loss == "sparse" and cfg.preset != "scratch"
    return Prepared(
        x_train=shape_for(xt, layout),  # type: ignore[arg-type]
        y_train=yt.astype(np.int32) if sparse else one_hot(yt),
        x_val=shape_for(xv, layout),  # type: ignore[arg-type]
        y_val_int=yv.astype(np.int64),
        x_test=shape_for(ds.x_test, layout),  # type: ignore[arg-type]
        y_test_int=ds.y_test.astype(np.int64),
    )


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
               run_dir: str | None) -> RunFinished:
    """The run's result from its test-set confusion matrix (trained or loaded, same shape)."""
    return RunFinished(
        status=status, reason=reason, epochs_completed=epochs, test_loss=test_loss,
        test_accuracy=test_accuracy,
        per_class_accuracy=tuple(float(a) for a in per_class_accuracy(confusion)),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        train_seconds=train_seconds, total_seconds=total_seconds, run_dir=run_dir,
    )


class _Fanout:
    """Sends each event to the recorder first (so disk is never behind the UI), then the caller."""

    def __init__(self, sinks: list[Callable[[Event], None]]) -> None:
        self.sinks = sinks

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)


def train(
    cfg: TrainConfig,
    emit: Emit | None = None,
    control: TrainControl | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    dataset: Dataset | None = None,
) -> RunFinished:
    """Run ``cfg`` to completion, stop or failure and return how it ended.

    User errors (bad data, bad config, unwritable run dir) raise ``MnistTuiError`` before
    training starts. A NaN loss ends the run with status ``failed`` and its reason; other
    exceptions propagate after a ``failed`` phase event so the caller can show them.
    """
    from mnist_tui.runs.rundir import RunRecorder  # local: keeps import cheap for --help

    validate(cfg)
    if cfg.preset != "scratch":  # the run directory records the backend that really ran
        cfg = cfg.with_changes(backend=resolve_backend(cfg.backend))
    control = control or TrainControl()
    t_start = time.perf_counter()
    sinks: list[Callable[[Event], None]] = [emit] if emit else []
    out = _Fanout(sinks)
    out(PhaseChanged(LOADING, cfg.dataset))
    try:
        ds = dataset or load_dataset(
            cfg.dataset, cfg.data_path, progress=lambda msg: out(PhaseChanged(LOADING, msg))
        )
        ds = take_subset(ds, cfg.limit)
        n_val = int(len(ds.x_train) * cfg.val_split)
        check_against_data(cfg, len(ds.x_train) - n_val)
        data = prepare(cfg, ds)
        recorder = RunRecorder(runs_dir, cfg) if runs_dir is not None else None
    except BaseException as err:
        out(PhaseChanged(FAILED, str(err)))
        raise
    if recorder is not None:
        sinks.insert(0, recorder)
    n_train = len(data.x_train)
    steps = math.ceil(n_train / cfg.batch_size)
    try:
        out(DataReady(
            n_train=n_train, n_val=len(data.x_val), n_test=len(data.x_test), steps_per_epoch=steps,
            epochs=cfg.epochs, batch_size=cfg.batch_size, class_names=ds.class_names, source=ds.source,
            validation=cfg.validation_label, x_test=ds.x_test, y_test=ds.y_test, x_train=ds.x_train,
            y_train=ds.y_train,
        ))
        loop = _ScratchLoop if cfg.preset == "scratch" else _KerasLoop
        result = loop(cfg, data, out, control, recorder).run(t_start)
    except BaseException as err:
        out(PhaseChanged(FAILED, f"{type(err).__name__}: {err}"))
        if recorder is not None:
            _finish_quietly(recorder, cfg, err, time.perf_counter() - t_start)
        raise
    if recorder is not None:
        recorder.close()
    return result


def _finish_quietly(recorder: Any, cfg: TrainConfig, err: BaseException, total: float) -> None:
    """Record a crashed run as failed; never mask the original error."""
    try:
        epochs_done = len(getattr(recorder, "_epochs", ()))  # every epoch row it wrote
        recorder(RunFinished(FAILED, f"{type(err).__name__}: {err}", epochs_done, math.nan, math.nan, (), (),
                             0.0, total, str(recorder.path)))
        recorder.close()
    except Exception:
        pass


class _Loop:
    """What the Keras and NumPy loops share: epoch-end evaluation, saving, the final result."""

    def __init__(self, cfg: TrainConfig, data: Prepared, emit: Emit, control: TrainControl,
                 recorder: Any) -> None:
        self.cfg = cfg
        self.data = data
        self.emit = emit
        self.control = control
        self.recorder = recorder
        self.clock = TrainClock()
        self.meter = BatchMeter(len(data.x_train), cfg.batch_size, self.clock)
        self.latest_probs: np.ndarray | None = None
        self.latest_probs_epoch = 0
        self.checkpoint_every = checkpoint_interval()
        self._last_save = 0.0  # training seconds (pauses excluded) at the last save
        self._saved_epoch = -1  # epoch whose end state model.keras holds

    # -- hooks for subclasses
    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def fit(self) -> tuple[int, str]:
        """Train; return (epochs completed, failure reason or "")."""
        raise NotImplementedError

    def predict_images(self, x: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28) images → softmax, for draw-a-digit once training has ended."""
        return self.predict(shape_for(x, PRESETS[self.cfg.preset].layout))  # type: ignore[arg-type]

    # -- shared
    def end_of_epoch(self, epoch: int, loss: float, acc: float) -> tuple[float, float]:
        """Predict the test set (for the viewer), compute validation and checkpoint the model."""
        probs = self.predict(self.data.x_test)
        self.latest_probs, self.latest_probs_epoch = probs, epoch
        self.emit(Predictions(epoch, probs))
        if len(self.data.x_val):
            val = loss_and_accuracy(self.predict(self.data.x_val), self.data.y_val_int)
        else:
            val = loss_and_accuracy(probs, self.data.y_test_int)
        if self.clock.elapsed() - self._last_save >= self.checkpoint_every:
            self.checkpoint(epoch)
        return val

    def checkpoint(self, epoch: int = -1) -> None:
        """Save the model atomically: a reader sees the previous file or the new one, never half."""
        if self.recorder is not None:
            from mnist_tui.runs.rundir import atomic_save

            atomic_save(self.recorder.model_path, self.save)
        self._last_save = self.clock.elapsed()
        self._saved_epoch = epoch

    def run(self, t_start: float) -> RunFinished:
        epochs_done, failure = self.fit()
        train_seconds = self.clock.elapsed()
        stopped = self.control.stop_requested and not failure and epochs_done < self.cfg.epochs
        status = FAILED if failure else STOPPED if stopped else DONE
        probs = self.latest_probs
        fresh = epochs_done == self.latest_probs_epoch and not stopped
        test_loss = test_acc = math.nan
        conf = np.zeros((10, 10), dtype=np.int64)
        if not failure and not (self.control.quick and stopped):
            if not fresh or probs is None:
                self.emit(PhaseChanged(EVALUATING if not stopped else STOPPING, "test set"))
                probs = self.predict(self.data.x_test)
                self.emit(Predictions(epochs_done, probs))
            test_loss, test_acc = loss_and_accuracy(probs, self.data.y_test_int)
            conf = confusion_matrix(self.data.y_test_int, probs.argmax(axis=1))
        if not failure and (stopped or self._saved_epoch != epochs_done):
            self.checkpoint(epochs_done)  # the final model; after a stop, what the partial epoch learned
        result = run_result(
            status, failure or ("stopped by user" if stopped else ""), epochs_done, test_loss, test_acc, conf,
            train_seconds, time.perf_counter() - t_start,
            str(self.recorder.path) if self.recorder is not None else None,
        )
        if not failure:
            name = Path(result.run_dir).name if result.run_dir else self.cfg.preset
            self.emit(ModelReady(f"{name} ({status}, {epochs_done} epochs)", self.predict_images))
        self.emit(result)
        self.emit(PhaseChanged(status, result.reason))
        return result


class _KerasLoop(_Loop):
    def fit(self) -> tuple[int, str]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        backend = check_backend(self.cfg.backend)
        self.emit(PhaseChanged(COMPILING, f"importing Keras ({backend})"))
        import keras

        from mnist_tui.models.keras_models import build_model
        from mnist_tui.training.callbacks import StreamingCallback, predict_chunks

        keras.utils.set_random_seed(self.cfg.seed)
        self.emit(PhaseChanged(COMPILING, "building model"))
        freeze_import_garbage()  # before the model exists, or it would be frozen (and leak) with it
        self.model = build_model(self.cfg)
        self._predict_chunks = predict_chunks
        callback = StreamingCallback(
            self.emit, self.control, self.meter, self.clock, self.cfg.epochs, self.end_of_epoch
        )
        self.emit(PhaseChanged(TRAINING))
        self.clock.restart()
        if not self.control.stop_requested:
            self.model.fit(
                self.data.x_train, self.data.y_train, batch_size=self.cfg.batch_size,
                epochs=self.cfg.epochs, verbose=0, callbacks=[callback], shuffle=True,
            )
        return callback.epochs_completed, callback.failure

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._predict_chunks(self.model, x)

    def save(self, path: Path) -> None:
        self.model.save(path)


class _ScratchLoop(_Loop):
    def fit(self) -> tuple[int, str]:
        from mnist_tui.models.scratch import ScratchNet

        cfg = self.cfg
        self.net = ScratchNet(784, cfg.hidden_units, 10, cfg.activation, seed=cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        x, y = self.data.x_train, self.data.y_train
        bs, done = cfg.batch_size, 0
        self.emit(PhaseChanged(TRAINING))
        self.clock.restart()
        for epoch in range(1, cfg.epochs + 1):
            self.meter.start_epoch(epoch)
            t0 = self.clock.elapsed()
            order = rng.permutation(len(x))
            last = None
            for step, start in enumerate(range(0, len(x), bs), start=1):
                idx = order[start:start + bs]
                b_loss, b_acc = self.net.train_batch(x[idx], y[idx], cfg.learning_rate, cfg.momentum)
                last = self.meter.from_batch_values(step, b_loss, b_acc)
                self.emit(last)
                if not math.isfinite(b_loss):
                    return done, f"loss became {b_loss} at epoch {epoch} step {step} — learning rate too high?"
                if self.control.paused:
                    self.clock.wait_while_paused(self.control, self.emit)
                if self.control.stop_requested:
                    break
            if self.control.stop_requested and (last is None or last.step < last.steps):
                return done, ""
            assert last is not None
            val_loss, val_acc = self.end_of_epoch(epoch, last.loss, last.accuracy)
            done = epoch
            self.emit(EpochEnd(epoch, cfg.epochs, last.loss, last.accuracy, val_loss, val_acc,
                               self.clock.elapsed() - t0))
            if self.control.stop_requested:
                break
        return done, ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net.predict_proba(x)

    def save(self, path: Path) -> None:
        self.net.save(path)
