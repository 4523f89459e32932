"""Runs one training job end to end and streams its events.

``train()`` is the engine of a trainer process (``mnist_tui.runs.process``): load data →
prepare → build (or restore from a checkpoint) → fit with the streaming callback →
evaluate → save. It knows nothing of run directories: every event goes to the ``sink``
first (so the record is never behind a listener), then to the caller's ``emit``, and
checkpoints and the final model are handed to the sink to write.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mnist_tui.config import PRESETS, TrainConfig, check_against_data, check_backend, resolve_backend, validate
from mnist_tui.data import Dataset, load_dataset, one_hot, shape_for, split_validation, take_subset
from mnist_tui.errors import MnistTuiError
from mnist_tui.events import (
    COMPILING,
    DONE,
    EVALUATING,
    FAILED,
    LOADING,
    STOPPED,
    TRAINING,
    Checkpointed,
    DataReady,
    Emit,
    EpochEnd,
    Event,
    PhaseChanged,
    Predictions,
    RunFinished,
)
from mnist_tui.models.spec import forward_spec
from mnist_tui.training.control import BatchMeter, TrainClock, TrainControl
from mnist_tui.training.metrics import loss_and_accuracy, result_from_probabilities

CHECKPOINT_FORMAT = "mnist-tui-checkpoint"


class RunSink(Protocol):
    """Where a run is recorded (``mnist_tui.runs.recorder.RunRecorder``)."""

    path: Path

    def __call__(self, event: Event) -> None: ...

    def checkpoint(self, epoch: int, arrays: dict[str, np.ndarray]) -> None: ...

    def initial_weights(self, arrays: dict[str, np.ndarray]) -> None: ...

    def wait_for_checkpoint(self) -> None: ...

    def save_model(self, save: Callable[[Path], None]) -> None: ...


@dataclass(frozen=True, eq=False)
class Resume:
    """Where a resumed run starts: a checkpoint's arrays, taken at the end of ``epoch``."""

    epoch: int
    arrays: dict[str, np.ndarray] = field(repr=False)


_frozen = False
_freeze_lock = threading.Lock()


def freeze_import_garbage(warm_up: bool = False) -> None:
    """Move what the Keras/TensorFlow import left behind out of the GC's sight, once.

    Hundreds of thousands of long-lived objects made every full GC pass take 120-250 ms,
    stalling training. Only once per process, before any model exists: frozen objects are
    never collected, and a model frozen with them would leak. ``warm_up`` (a warm trainer
    waiting for its run) first fits, predicts and saves a throwaway model: the first ``fit``
    imports and caches another ~250k objects, and the first ``save`` costs ~4 s of imports
    that would otherwise land on the first checkpoint.
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
    """One tiny fit/predict/save, then forget it: Keras's lazily built machinery stays."""
    import keras

    if keras.backend.backend() == "jax":  # its compiles too are read back from disk next time
        from mnist_tui.training.fastloop import enable_compile_cache

        enable_compile_cache()
    keras.utils.set_random_seed(0)  # imports TensorFlow for its RNG even on JAX: ~1,600 modules
    x = np.zeros((8, 4), np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")], name="warm_up")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.zeros(8, np.int64), batch_size=4, epochs=1, verbose=0, callbacks=[keras.callbacks.Callback()])
    model.predict_on_batch(x)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "warm.keras")
    del model
    keras.backend.clear_session()  # layer-name counters back to zero: the real model's names are unchanged


def warm_model(cfg: TrainConfig) -> None:
    """Build ``cfg``'s model once and forget it: a warm trainer told which run comes next.

    On JAX, Keras's weight initializers compile once per weight shape (the mlp's first
    build takes 1.0 s, 0.15 s from the disk cache); the run's own build then finds them
    compiled in memory and takes milliseconds. The run re-seeds before it builds, so its
    weights are what they would have been without this.
    """
    import keras

    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training import fastloop

    on_jax = keras.backend.backend() == "jax"
    if on_jax:
        fastloop.enable_compile_cache()
    model = build_model(cfg)
    if on_jax and fastloop.wanted(cfg):  # its optimizer slots compile once per shape too
        x = np.zeros((cfg.batch_size, *model.input_shape[1:]), np.float32)
        y = np.zeros((cfg.batch_size,) if cfg.loss == "sparse" else (cfg.batch_size, 10), np.float32)
        fastloop.Steps(model, cfg, x, y, cfg.seed)
    del model
    keras.backend.clear_session()  # layer-name counters back to zero: the real model's names are unchanged


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


class _Fanout:
    """Sends each event to the sink first (so disk is never behind a listener), then the caller."""

    def __init__(self, sinks: list[Callable[[Event], None]]) -> None:
        self.sinks = sinks

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)

    def last_word(self, event: Event) -> None:
        """The failure notice reaches every listener even when one of them is what failed."""
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                sink(event)


def train(
    cfg: TrainConfig,
    emit: Emit | None = None,
    control: TrainControl | None = None,
    sink: RunSink | None = None,
    dataset: Dataset | None = None,
    resume: Resume | None = None,
) -> RunFinished:
    """Run ``cfg`` to completion, stop or failure and return how it ended.

    User errors (bad data, bad config) raise ``MnistTuiError`` before training starts. A
    NaN loss ends the run with status ``failed`` and its reason; other exceptions propagate
    after a ``failed`` phase event so the caller can record and show them.
    """
    validate(cfg)
    if cfg.preset != "scratch":  # the run directory records the backend that really ran
        cfg = cfg.with_changes(backend=resolve_backend(cfg.backend))
    control = control or TrainControl()
    t_start = time.perf_counter()
    out = _Fanout([s for s in (sink, emit) if s is not None])
    out(PhaseChanged(LOADING, cfg.dataset))
    try:
        ds = dataset or load_dataset(
            cfg.dataset, cfg.data_path, progress=lambda msg: out(PhaseChanged(LOADING, msg))
        )
        ds = take_subset(ds, cfg.limit)
        n_val = int(len(ds.x_train) * cfg.val_split)
        check_against_data(cfg, len(ds.x_train) - n_val)
        data = prepare(cfg, ds)
    except BaseException as err:
        out.last_word(PhaseChanged(FAILED, str(err)))
        raise
    n_train = len(data.x_train)
    try:
        out(DataReady(
            n_train=n_train, n_val=len(data.x_val), n_test=len(data.x_test),
            steps_per_epoch=math.ceil(n_train / cfg.batch_size), epochs=cfg.epochs, batch_size=cfg.batch_size,
            class_names=ds.class_names, source=ds.source, validation=cfg.validation_label, x_test=ds.x_test,
            y_test=ds.y_test, x_train=ds.x_train, y_train=ds.y_train,
        ))
        loop = _ScratchLoop if cfg.preset == "scratch" else _keras_loop(cfg)
        return loop(cfg, data, out, control, sink, resume).run(t_start)
    except BaseException as err:
        reason = str(err) if isinstance(err, MnistTuiError) else f"{type(err).__name__}: {err}"
        out.last_word(PhaseChanged(FAILED, reason))
        raise


def _keras_loop(cfg: TrainConfig) -> type[_KerasLoop]:
    """On JAX, the loop that runs several steps per call (``fastloop``); else Keras's ``fit``."""
    from mnist_tui.training import fastloop

    return fastloop.FastKerasLoop if fastloop.wanted(cfg) else _KerasLoop


class _Loop:
    """What the Keras and NumPy loops share: epoch-end evaluation, checkpoints, the result."""

    def __init__(self, cfg: TrainConfig, data: Prepared, emit: Emit, control: TrainControl,
                 sink: RunSink | None, resume: Resume | None) -> None:
        self.cfg = cfg
        self.data = data
        self.emit = emit
        self.control = control
        self.sink = sink
        self.resume = resume
        self.first_epoch = resume.epoch if resume else 0  # epochs already trained before this process
        self.clock = TrainClock()
        self.meter = BatchMeter(len(data.x_train), cfg.batch_size, self.clock)
        self.latest_probs: np.ndarray | None = None
        self.latest_probs_epoch = -1

    # -- hooks for subclasses
    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def state(self) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
        """(weights, optimizer state) as (name, array copy) pairs, in a fixed order."""
        raise NotImplementedError

    def restore(self, weights: list[np.ndarray], optimizer: list[np.ndarray]) -> None:
        raise NotImplementedError

    def fit(self) -> tuple[int, str]:
        """Train; return (epochs completed in all, failure reason or "")."""
        raise NotImplementedError

    # -- shared
    def end_of_epoch(self, epoch: int, loss: float, acc: float) -> tuple[float, float]:
        """Predict the test set (for the viewer), compute validation and checkpoint."""
        probs = self.predict(self.data.x_test)
        self.latest_probs, self.latest_probs_epoch = probs, epoch
        self.emit(Predictions(epoch, probs))
        if len(self.data.x_val):
            val = loss_and_accuracy(self.predict(self.data.x_val), self.data.y_val_int)
        else:
            val = loss_and_accuracy(probs, self.data.y_test_int)
        if self.sink is not None:
            self.sink.checkpoint(epoch, self.snapshot(epoch))  # written in the background
        return val

    def snapshot(self, epoch: int) -> dict[str, np.ndarray]:
        """checkpoint.npz's content: weights, optimizer state and what they mean."""
        weights, optimizer = self.state()
        arrays = {f"w{i:03d}": a for i, (_, a) in enumerate(weights)}
        arrays |= {f"o{i:03d}": a for i, (_, a) in enumerate(optimizer)}
        meta = {"format": CHECKPOINT_FORMAT, "version": 1, "epoch": epoch, "preset": self.cfg.preset,
                "backend": self.cfg.backend, "input": PRESETS[self.cfg.preset].layout,
                "weights": [name for name, _ in weights], "optimizer": [name for name, _ in optimizer],
                "layers": forward_spec(self.cfg)}
        arrays["meta"] = np.array(json.dumps(meta))
        return arrays

    def save_initial(self) -> None:
        """Before the first step of a new run: the initial weights, for the Network tab's epoch
        0 and the loss landscape (written in the background; a resume already has them)."""
        if self.sink is not None and self.first_epoch == 0:
            self.sink.initial_weights(self.snapshot(0))

    def restore_checkpoint(self) -> None:
        if self.resume is None:
            return
        arrays = self.resume.arrays
        weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("w"))]
        optimizer = [arrays[k] for k in sorted(k for k in arrays if k.startswith("o"))]
        self.restore(weights, optimizer)

    def after_batch(self) -> None:
        """Per batch, off the hot path unless asked: "checkpoint now" saves the model as it is."""
        if self.control.take_checkpoint_request() and self.sink is not None:
            t0 = time.perf_counter()
            self.sink.save_model(self.save)
            self.emit(Checkpointed(-1, time.perf_counter() - t0))

    def run(self, t_start: float) -> RunFinished:
        epochs_done, failure = self.fit()
        train_seconds = self.clock.elapsed()
        stopped = self.control.stop_requested and not failure and epochs_done < self.cfg.epochs
        status = FAILED if failure else STOPPED if stopped else DONE
        run_dir = str(self.sink.path) if self.sink is not None else None
        labels = self.data.y_test_int
        if failure:
            result = result_from_probabilities(status, failure, epochs_done, None, labels, train_seconds,
                                               time.perf_counter() - t_start, run_dir, evaluated=False)
        else:
            if self.sink is not None:
                self.sink.save_model(self.save)  # the last completed batch, after a stop too
            probs = self.latest_probs if self.latest_probs_epoch == epochs_done else None
            if stopped:
                # Not waiting for a final evaluation: a stop must be quick. The figures are the
                # last completed epoch's, which the summary says; `runs evaluate` does the rest.
                reason = "stopped by user; final test evaluation skipped"
                if probs is not None:
                    reason += f" (test figures are after epoch {epochs_done})"
                result = result_from_probabilities(status, reason, epochs_done, probs, labels, train_seconds,
                                                   time.perf_counter() - t_start, run_dir, evaluated=False)
            else:
                if probs is None:
                    self.emit(PhaseChanged(EVALUATING, "test set"))
                    probs = self.predict(self.data.x_test)
                    self.emit(Predictions(epochs_done, probs))
                result = result_from_probabilities(status, "", epochs_done, probs, labels, train_seconds,
                                                   time.perf_counter() - t_start, run_dir)
        if self.sink is not None:
            self.sink.wait_for_checkpoint()
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

        if backend == "jax":  # before the build: its initializers compile too (the fast loop's steps after)
            from mnist_tui.training.fastloop import enable_compile_cache

            enable_compile_cache()
        keras.utils.set_random_seed(self.cfg.seed + self.first_epoch)  # a resume shuffles anew
        self.emit(PhaseChanged(COMPILING, "building model"))
        freeze_import_garbage()  # before the model exists, or it would be frozen (and leak) with it
        self.model = build_model(self.cfg)
        self.restore_checkpoint()
        self.save_initial()
        self._predict_chunks = predict_chunks
        callback = StreamingCallback(
            self.emit, self.control, self.meter, self.clock, self.cfg.epochs, self.end_of_epoch, self.after_batch
        )
        callback.epochs_completed = self.first_epoch
        self.emit(PhaseChanged(TRAINING))
        self.clock.restart()
        if not self.control.stop_requested and self.first_epoch < self.cfg.epochs:
            return self.train_model(callback)
        return callback.epochs_completed, callback.failure

    def train_model(self, callback: Any) -> tuple[int, str]:
        """Keras's own ``fit``, every batch through the streaming callback (the JAX loop of
        ``fastloop`` replaces this)."""
        self.model.fit(
            self.data.x_train, self.data.y_train, batch_size=self.cfg.batch_size, epochs=self.cfg.epochs,
            initial_epoch=self.first_epoch, verbose=0, callbacks=[callback], shuffle=True,
        )
        return callback.epochs_completed, callback.failure

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._predict_chunks(self.model, x)

    def save(self, path: Path) -> None:
        # On JAX the variables live outside the model during an epoch (Keras reattaches them
        # at its end): a save between two batches ("checkpoint now") must reattach first.
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()
        self.model.save(path)

    def state(self) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
        weights = [(v.path, np.asarray(v.numpy())) for v in self.model.weights]
        optimizer = [(v.path, np.asarray(v.numpy())) for v in self.model.optimizer.variables]
        return weights, optimizer

    def restore(self, weights: list[np.ndarray], optimizer: list[np.ndarray]) -> None:
        model = self.model
        model.optimizer.build(model.trainable_variables)
        _assign(model.weights, weights, "weights")
        _assign(model.optimizer.variables, optimizer, "optimizer state")


def _assign(variables: list[Any], values: list[np.ndarray], what: str) -> None:
    from mnist_tui.errors import MnistTuiError

    if len(variables) != len(values) or any(tuple(v.shape) != a.shape for v, a in zip(variables, values,
                                                                                        strict=False)):
        raise MnistTuiError(f"the checkpoint's {what} do not fit this model (was the config changed?)")
    for var, value in zip(variables, values, strict=True):
        var.assign(value)


class _ScratchLoop(_Loop):
    def fit(self) -> tuple[int, str]:
        from mnist_tui.models.scratch import ScratchNet

        cfg = self.cfg
        self.net = ScratchNet(784, cfg.hidden_units, 10, cfg.activation, seed=cfg.seed)
        self.restore_checkpoint()
        self.save_initial()
        rng = np.random.default_rng([cfg.seed, self.first_epoch])
        x, y = self.data.x_train, self.data.y_train
        bs, done = cfg.batch_size, self.first_epoch
        self.emit(PhaseChanged(TRAINING))
        self.clock.restart()
        for epoch in range(self.first_epoch + 1, cfg.epochs + 1):
            if self.control.stop_requested:
                break
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
                self.after_batch()
                if self.control.stop_requested:
                    break
            if self.control.stop_requested and (last is None or last.step < last.steps):
                return done, ""
            assert last is not None
            val_loss, val_acc = self.end_of_epoch(epoch, last.loss, last.accuracy)
            done = epoch
            self.emit(EpochEnd(epoch, cfg.epochs, last.loss, last.accuracy, val_loss, val_acc,
                               self.clock.elapsed() - t0))
        return done, ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net.predict_proba(x)

    def save(self, path: Path) -> None:
        self.net.save(path)

    def state(self) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
        weights = [(k, self.net.params[k].copy()) for k in ("W1", "b1", "W2", "b2")]
        velocity = self.net.velocity()
        return weights, [(f"velocity/{k}", velocity[k].copy()) for k in ("W1", "b1", "W2", "b2")]

    def restore(self, weights: list[np.ndarray], optimizer: list[np.ndarray]) -> None:
        from mnist_tui.errors import MnistTuiError

        keys = ("W1", "b1", "W2", "b2")
        if len(weights) != 4 or any(self.net.params[k].shape != w.shape for k, w in zip(keys, weights,
                                                                                           strict=True)):
            raise MnistTuiError("the checkpoint's weights do not fit this network (was the config changed?)")
        for k, w in zip(keys, weights, strict=True):
            self.net.params[k] = w.astype(self.net.dtype, copy=True)
        if len(optimizer) == len(keys):
            self.net.set_velocity(dict(zip(keys, optimizer, strict=True)))
