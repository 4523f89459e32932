"""A fast, deterministic stand-in for the trainer process, and a run source that runs it.

``FakeTrainer`` emits the same event types in the same order as the real trainer, honours
pause and stop the same way, and uses 200 genuine MNIST test digits, so UI tests and
snapshots run in milliseconds and always draw the same thing. ``FakeRunSource`` has the
shape of ``mnist_tui.runs.source.ProcessRunSource`` but runs the fake in a thread and
delivers its events straight to the app; control requests go to the fake's TrainControl
and are acknowledged the way a trainer acknowledges them.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_tui.config import PRESETS, TrainConfig
from mnist_tui.events import (
    CHECKPOINT,
    DONE,
    FAILED,
    LOADING,
    PAUSE,
    RESUME,
    STOP,
    STOPPED,
    TRAINING,
    BatchEnd,
    ControlApplied,
    DataReady,
    Emit,
    EpochEnd,
    Event,
    NetworkSaved,
    PhaseChanged,
    Predictions,
    RunFinished,
    TrainerStarted,
)
from mnist_tui.models.network_record import kernels, network_record
from mnist_tui.models.spec import forward_spec, input_shape, layers_for
from mnist_tui.runs.follow import FollowThread, RunFollower
from mnist_tui.runs.source import RunHandle
from mnist_tui.training.control import TrainControl

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mnist-test-200.npz"


def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(SAMPLE, allow_pickle=False) as npz:
        return npz["x"], npz["y"]


def fake_probabilities(labels: np.ndarray, epoch: int, seed: int = 0) -> np.ndarray:
    """Softmax-like outputs that get more confident and more right with each epoch."""
    rng = np.random.default_rng(seed + epoch)
    logits = rng.normal(0.0, 1.0, (len(labels), 10))
    logits[np.arange(len(labels)), labels] += 1.5 + 1.0 * epoch
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fake_snapshot(cfg: TrainConfig, epoch: int = 1, seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Checkpoint arrays shaped like the trainer's snapshot for ``cfg``: Glorot-sized random
    weights whose first dense layer drifts, epoch by epoch, towards the digits' class means
    (so the Network tab's unit pictures look learned), every array deterministic."""
    rng = np.random.default_rng([seed, epoch])
    x, y = sample_digits()
    flat = x.reshape(len(x), -1).astype(np.float32) / 255
    templates = np.stack([flat[y == k].mean(axis=0) for k in range(10)]) - flat.mean(axis=0)
    learned = min(1.0, epoch / 3)
    shape, weights, first = input_shape(cfg), [], True
    for layer in layers_for(cfg):
        if layer.kind == "dense":
            fan_in = shape[-1]
            limit = scale * np.sqrt(6 / (fan_in + layer.units))
            kernel = rng.uniform(-limit, limit, (fan_in, layer.units))
            if first and fan_in == 784:
                picks = templates[np.arange(layer.units) % 10].T
                kernel = (1 - learned) * kernel + learned * picks / np.abs(picks).max() * limit * 2
            bias = rng.normal(0, 0.05, layer.units)
            if first and layer.units > 8:
                bias[:3] = -50.0 * learned  # a few dead units once it has "learned"
            weights += [kernel, bias]
            shape, first = (*shape[:-1], layer.units), False
        elif layer.kind == "conv":
            weights += [rng.uniform(-0.2, 0.2, (layer.kernel, layer.kernel, shape[-1], layer.units)) * scale,
                        np.zeros(layer.units)]
            shape, first = (shape[0], shape[1], layer.units), False
        elif layer.kind == "pool":
            shape = (shape[0] // 2, shape[1] // 2, shape[2])
        elif layer.kind == "flatten":
            shape = (int(np.prod(shape)),)
    arrays = {f"w{i:03d}": w.astype(np.float32) for i, w in enumerate(weights)}
    arrays["meta"] = np.array(json.dumps({"format": "mnist-tui-checkpoint", "version": 1, "epoch": epoch,
                                          "preset": cfg.preset, "input": PRESETS[cfg.preset].layout,
                                          "layers": forward_spec(cfg)}))
    return arrays


def fake_network(cfg: TrainConfig, epoch: int, x_test: np.ndarray) -> NetworkSaved:
    """The network record the real recorder would write for ``fake_snapshot(cfg, epoch)``."""
    previous = kernels(fake_snapshot(cfg, epoch - 1)) if epoch > 0 else None
    return NetworkSaved(epoch, network_record(fake_snapshot(cfg, epoch), x_test, previous))


@dataclass
class FakeTrainer:
    steps: int = 40
    batch_delay: float = 0.0
    gate: threading.Event | None = None  # if set, every batch waits for it (tests hold the run)
    hold_after: tuple[int, ...] = ()  # batch numbers (whole run) after which the fake clears the gate
    fail: BaseException | None = None  # raised after DataReady
    nan_at: int | None = None  # batch number (1-based, whole run) whose loss is NaN
    network: bool = True  # emit network records (epoch 0, then every epoch end) as the recorder does
    calls: list[TrainConfig] = field(default_factory=list)
    controls: list[TrainControl] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)

    def __call__(self, cfg: TrainConfig, emit: Emit, control: TrainControl, runs_dir: object = None) -> RunFinished:
        self.calls.append(cfg)
        self.controls.append(control)
        self.finished.clear()
        try:
            return self._run(cfg, emit, control)
        finally:
            self.finished.set()

    def _run(self, cfg: TrainConfig, emit: Emit, control: TrainControl) -> RunFinished:
        x, y = sample_digits()
        emit(PhaseChanged(LOADING, cfg.dataset))
        n_train = self.steps * cfg.batch_size
        emit(DataReady(n_train, 0, len(y), self.steps, cfg.epochs, cfg.batch_size,
                       tuple(str(i) for i in range(10)), "fake data", "test set", x, y))
        if self.fail is not None:
            emit(PhaseChanged(FAILED, str(self.fail)))
            raise self.fail
        if self.network:
            emit(fake_network(cfg, 0, x))
        emit(PhaseChanged(TRAINING))
        done, k, failure = 0, 0, ""
        for epoch in range(1, cfg.epochs + 1):
            loss_sum = acc_sum = 0.0
            last = None
            for step in range(1, self.steps + 1):
                if self.gate is not None:
                    while not self.gate.wait(0.05):
                        if control.stop_requested:
                            break
                if self.batch_delay:
                    time.sleep(self.batch_delay)
                k += 1
                b_loss = math.nan if k == self.nan_at else 2.3 * math.exp(-k / 15) + 0.1 + 0.05 * math.sin(k)
                b_acc = min(1.0, 0.1 + 0.85 * (1 - math.exp(-k / 12)) + 0.03 * math.cos(k))
                loss_sum += b_loss
                acc_sum += b_acc
                last = BatchEnd(epoch, step, self.steps, step * cfg.batch_size, loss_sum / step, acc_sum / step,
                                b_loss, b_acc, 1000.0, 0.01 * k)
                emit(last)
                if self.gate is not None and k in self.hold_after:
                    self.gate.clear()  # held exactly here, however late the test looks
                if not math.isfinite(b_loss):
                    failure = f"loss became nan at epoch {epoch} step {step} — learning rate too high?"
                    break
                if control.paused:
                    emit(PhaseChanged("paused"))
                    while control.paused:
                        time.sleep(0.01)
                    if not control.stop_requested:
                        emit(PhaseChanged(TRAINING))
                if control.stop_requested:
                    break
            if failure or (control.stop_requested and last is not None and last.step < self.steps):
                break
            probs = fake_probabilities(y, epoch)
            emit(Predictions(epoch, probs))
            correct = float((probs.argmax(1) == y).mean())
            assert last is not None
            emit(EpochEnd(epoch, cfg.epochs, last.loss, last.accuracy, 0.5 / epoch, correct, 0.01 * self.steps))
            if self.network:
                emit(fake_network(cfg, epoch, x))
            done = epoch
            if control.stop_requested:
                break
        status = FAILED if failure else STOPPED if control.stop_requested and done < cfg.epochs else DONE
        probs = fake_probabilities(y, max(done, 1))
        acc = float((probs.argmax(1) == y).mean()) if not failure else math.nan
        conf = np.zeros((10, 10), dtype=int)
        np.add.at(conf, (y, probs.argmax(1)), 1)
        result = RunFinished(status, failure or ("stopped by user" if status == STOPPED else ""), done,
                             0.5 if not failure else math.nan, acc, tuple([acc] * 10),
                             tuple(tuple(int(v) for v in row) for row in conf), 0.01 * k, 0.02 * k, None)
        emit(result)
        emit(PhaseChanged(status, result.reason))
        return result


class FakeHandle:
    """A run handle whose "trainer" is a thread in this process."""

    def __init__(self, control: TrainControl, on_events: Callable[[list[Event]], None]) -> None:
        self.path: Path | None = None
        self.control = control
        self.on_events = on_events
        self.finished = threading.Event()
        self.controllable = True
        self.sent: list[str] = []

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def send(self, command: str, **detail: object) -> str:
        self.sent.append(command)
        if command == PAUSE:
            self.control.pause()
        elif command == RESUME:
            self.control.resume()
        elif command == STOP:
            self.control.stop(quick=bool(detail.get("quick", True)))
        elif command == CHECKPOINT:
            self.control.request_checkpoint()
        self.on_events([ControlApplied(command, f"fake-{len(self.sent)}")])
        return f"fake-{len(self.sent)}"

    def attach(self) -> None:
        pass

    def detach(self, reason: str) -> None:
        pass

    def close(self, *, wait: bool = True) -> None:
        pass


class FakeRunSource:
    """Runs a FakeTrainer per launch, in a thread; ``attach`` follows real run directories."""

    def __init__(self, trainer: FakeTrainer | None = None) -> None:
        self.trainer = trainer or FakeTrainer()
        self.prepared: list[TrainConfig] = []
        self.handles: list[FakeHandle] = []
        self.shut_down = False

    def prepare(self, cfg: TrainConfig, key: str | None = None, *, idle: bool = True) -> None:
        self.prepared.append(cfg)

    def status(self) -> str:
        return ""

    def launch(self, cfg: TrainConfig, on_events: Callable[[list[Event]], None], *, save: bool = True) -> FakeHandle:
        control = TrainControl()
        handle = FakeHandle(control, on_events)
        self.handles.append(handle)

        def emit(event: Event) -> None:
            on_events([event])

        def run() -> None:
            try:
                emit(TrainerStarted(0, "fake", "fake", 0, cfg.epochs))
                self.trainer(cfg, emit, control)
            except Exception as err:  # a real trainer records its failure in the run
                reason = str(err)
                emit(RunFinished(FAILED, reason, 0, math.nan, math.nan, (), (), 0.0, 0.0, None, evaluated=False))
                emit(PhaseChanged(FAILED, reason))
            finally:
                handle.finished.set()

        threading.Thread(target=run, name="fake trainer", daemon=True).start()
        return handle

    def attach(self, path: Path, on_events: Callable[[list[Event]], None]) -> RunHandle:
        return RunHandle(path, FollowThread(RunFollower(path), on_events).start(), controllable=False)

    def open_model(self, model: Path, cfg: TrainConfig, on_events: Callable[[list[Event]], None]) -> RunHandle:
        raise NotImplementedError("the fake source does not open models")

    def evaluate(self, path: Path) -> None:
        return None

    def shutdown(self) -> None:
        self.shut_down = True
