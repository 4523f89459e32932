"""Tests for ``train()``: accuracy on real MNIST, the event stream, stop/pause/NaN handling."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.data import Dataset, load_dataset
from mnist_tui.errors import ConfigError
from mnist_tui.events import (
    EVALUATING,
    FAILED,
    LOADING,
    PAUSED,
    TRAINING,
    BatchEnd,
    Checkpointed,
    DataReady,
    EpochEnd,
    Event,
    PhaseChanged,
    Predictions,
    RunFinished,
)
from mnist_tui.runs import recorder as recorder_mod
from mnist_tui.runs.follow import LogReader
from mnist_tui.runs.process import run_job
from mnist_tui.runs.rundir import create_run_dir
from mnist_tui.runs.store import read_metrics
from mnist_tui.training.control import BatchMeter, TrainClock, TrainControl
from mnist_tui.training.trainer import train

_DATA: dict[Path, Dataset] = {}
_RUNS: dict[str, tuple[RunFinished, list[Event]]] = {}


@pytest.fixture
def mnist(real_data_dir: Path) -> Dataset:
    """The real 20k/10k dataset, loaded once per session."""
    if real_data_dir not in _DATA:
        _DATA[real_data_dir] = load_dataset("mnist", real_data_dir)
    return _DATA[real_data_dir]


def run(cfg: Any, ds: Dataset, **kwargs: Any) -> tuple[RunFinished, list[Event]]:
    events: list[Event] = []
    result = train(cfg, events.append, dataset=ds, **kwargs)
    return result, events


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def mlp_run(mnist: Dataset) -> tuple[RunFinished, list[Event]]:
    """The mlp preset for 2 epochs on the full 20k train set (shared by several tests)."""
    if "mlp" not in _RUNS:
        _RUNS["mlp"] = run(replace(preset_config("mlp"), epochs=2), mnist)
    return _RUNS["mlp"]


# ------------------------------------------------------------------ accuracy & stream
def test_mlp_reaches_93_percent(mlp_run: tuple[RunFinished, list[Event]], mnist: Dataset) -> None:
    # One epoch lands anywhere from 90.6 % to 93.8 % depending on the seed (plain Keras
    # does the same), so the bound is checked after two epochs, where every seed is > 94.5 %.
    result, events = mlp_run
    assert result.status == "done" and result.reason == ""
    assert result.epochs_completed == 2
    assert result.test_accuracy >= 0.93, result.test_accuracy
    probs = of(events, Predictions)[-1].probabilities
    labels = mnist.y_test.astype(np.int64)
    assert result.test_accuracy == pytest.approx(float((probs.argmax(1) == labels).mean()))
    conf = np.array(result.confusion)
    assert conf.shape == (10, 10) and conf.sum() == 10_000
    assert np.array_equal(conf.sum(axis=1), np.bincount(labels, minlength=10))
    assert np.allclose(result.per_class_accuracy, np.diag(conf) / conf.sum(axis=1))
    assert 0 < result.test_loss < 0.5
    assert 0 < result.train_seconds < result.total_seconds
    assert result.run_dir is None


def test_event_stream_order_and_counts(mlp_run: tuple[RunFinished, list[Event]]) -> None:
    result, events = mlp_run
    assert events[0] == PhaseChanged(LOADING, "mnist")
    content = [e for e in events if not isinstance(e, PhaseChanged)]
    assert isinstance(content[0], DataReady)
    assert content[-1] is result
    assert events[-1] == PhaseChanged("done", "")
    ready: DataReady = content[0]
    steps = math.ceil(20_000 / 128)
    assert (ready.n_train, ready.n_val, ready.n_test) == (20_000, 0, 10_000)
    assert (ready.steps_per_epoch, ready.epochs, ready.batch_size) == (steps, 2, 128)
    assert ready.x_test.shape == (10_000, 28, 28) and ready.y_test.shape == (10_000,)
    assert ready.class_names == tuple("0123456789") and ready.validation == "test set"

    batches = of(events, BatchEnd)
    assert len(batches) == 2 * steps
    for epoch in (1, 2):
        mine = [b for b in batches if b.epoch == epoch]
        assert [b.step for b in mine] == list(range(1, steps + 1))
        assert all(b.steps == steps for b in mine)
        assert [b.seen for b in mine] == [min(s * 128, 20_000) for s in range(1, steps + 1)]
    elapsed = [b.elapsed for b in batches]
    assert elapsed == sorted(elapsed)
    assert all(b.samples_per_sec > 0 and math.isfinite(b.loss) for b in batches)

    # Each epoch: its last batch, then Predictions, then EpochEnd; nothing after RunFinished but a phase.
    kinds = [(type(e).__name__, getattr(e, "epoch", None)) for e in content]
    for epoch in (1, 2):
        i = kinds.index(("EpochEnd", epoch))
        assert kinds[i - 1] == ("Predictions", epoch)
        assert isinstance(content[i - 2], BatchEnd) and content[i - 2].step == steps
    epochs = of(events, EpochEnd)
    assert [e.epoch for e in epochs] == [1, 2] and all(e.epochs == 2 for e in epochs)
    assert epochs[-1].val_accuracy == pytest.approx(result.test_accuracy)  # validation is the test set
    assert epochs[1].loss < epochs[0].loss
    assert epochs[0].loss == batches[steps - 1].loss  # epoch row = last running mean

    preds = of(events, Predictions)
    assert [p.epoch for p in preds] == [1, 2]  # final eval reuses the last epoch's predictions
    for p in preds:
        assert p.probabilities.shape == (10_000, 10) and p.probabilities.dtype == np.float32
        assert np.allclose(p.probabilities.sum(axis=1), 1.0, atol=1e-4)
        assert (p.probabilities >= 0).all()
    assert of(events, RunFinished) == [result]


# ---------------------------------------------------------------- per-batch values
def test_batch_values_are_the_batch_own(mnist: Dataset) -> None:
    cfg = replace(preset_config("mlp"), epochs=1, batch_size=8, limit=204)
    result, events = run(cfg, mnist)
    assert result.status == "done"
    batches = of(events, BatchEnd)
    assert len(batches) == 26 and batches[-1].seen == 204
    prev_seen, prev_loss, prev_acc = 0, 0.0, 0.0
    for b in batches:
        n = b.seen - prev_seen
        assert n == (8 if b.step < 26 else 4)
        own_loss = (b.seen * b.loss - prev_seen * prev_loss) / n
        own_acc = (b.seen * b.accuracy - prev_seen * prev_acc) / n
        assert b.batch_loss == pytest.approx(own_loss, rel=1e-4, abs=1e-5)
        assert b.batch_accuracy == pytest.approx(own_acc, abs=1e-4)
        # A batch's own accuracy is k/n for a whole number k; a running mean usually is not.
        assert abs(b.batch_accuracy * n - round(b.batch_accuracy * n)) < 1e-4 * n, (b.step, b.batch_accuracy)
        assert 0.0 <= b.batch_accuracy <= 1.0
        prev_seen, prev_loss, prev_acc = b.seen, b.loss, b.accuracy
    weights = np.array([8] * 25 + [4])
    assert np.average([b.batch_loss for b in batches], weights=weights) == pytest.approx(batches[-1].loss, rel=1e-4)
    assert any(abs(b.batch_accuracy - b.accuracy) > 0.05 for b in batches)
    assert any(abs(b.batch_loss - b.loss) > 0.05 for b in batches)


def test_batch_loss_matches_independent_forward_pass(mnist: Dataset) -> None:
    """Compute each batch's loss ourselves (pre-update weights, unshuffled) and compare."""
    import keras

    from mnist_tui.data import one_hot, shape_for
    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training.callbacks import StreamingCallback

    keras.utils.set_random_seed(3)
    cfg = replace(preset_config("mlp"), batch_size=16)
    x = shape_for(mnist.x_train[:200], "flat")
    y = one_hot(mnist.y_train[:200])
    model = build_model(cfg)
    expected: list[tuple[float, float]] = []

    class Oracle(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            xb, yb = x[batch * 16:(batch + 1) * 16], y[batch * 16:(batch + 1) * 16]
            probs = np.asarray(self.model(xb, training=False))
            loss = float(np.mean(keras.losses.categorical_crossentropy(yb, probs)))
            expected.append((loss, float((probs.argmax(1) == yb.argmax(1)).mean())))

    got: list[BatchEnd] = []
    clock = TrainClock()
    cb = StreamingCallback(lambda e: got.append(e) if isinstance(e, BatchEnd) else None, TrainControl(),
                           BatchMeter(200, 16, clock), clock, 1, lambda *a: (math.nan, math.nan))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[Oracle(), cb])
    assert len(got) == len(expected) == 13
    for event, (loss, acc) in zip(got, expected, strict=True):
        assert event.batch_loss == pytest.approx(loss, rel=2e-4, abs=1e-5), event.step
        assert event.batch_accuracy == pytest.approx(acc, abs=1e-4), event.step
    assert cb.epochs_completed == 1


# ------------------------------------------------------------------------ control
@pytest.mark.parametrize("preset", ["mlp", "scratch"])
def test_stop_after_step_5(real_data_dir: Path, tmp_path: Path, preset: str) -> None:
    """A stop ends the run after the current batch without waiting for a final evaluation,
    and the run directory keeps every batch and the model of the last one."""
    control = TrainControl()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, BatchEnd) and event.step == 5:
            control.stop()

    cfg = replace(preset_config(preset), epochs=2, batch_size=32, limit=2000, data_path=str(real_data_dir))
    run_dir = create_run_dir(tmp_path, cfg)
    result = run_job(run_dir, emit=emit, control=control)
    assert result.status == "stopped" and result.reason.startswith("stopped by user; final test evaluation skipped")
    assert result.epochs_completed == 0 and not result.evaluated
    batches = of(events, BatchEnd)
    assert 5 <= len(batches) <= 6 and max(b.step for b in batches) <= 6
    assert of(events, EpochEnd) == []
    assert math.isnan(result.test_accuracy)  # no epoch ended: no test figures to give
    assert not of(events, PhaseChanged) or PhaseChanged(EVALUATING, "test set") not in events

    assert Path(result.run_dir or "") == run_dir
    m = read_metrics(run_dir)
    assert m["batches"]["step"].tolist() == [float(b.step) for b in batches] and m["n_epochs"] == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 0 and summary["evaluated"] is False
    if preset == "scratch":
        from mnist_tui.models.scratch import ScratchNet

        assert summary["model_file"] == "model.npz"
        assert ScratchNet.load(run_dir / "model.npz").param_count == 79_510
    else:
        import keras

        assert summary["model_file"] == "model.keras"
        assert keras.saving.load_model(run_dir / "model.keras").count_params() == 407_050


def test_a_stop_after_an_epoch_reports_that_epochs_test_figures(mnist: Dataset) -> None:
    control = TrainControl()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, BatchEnd) and event.epoch == 2 and event.step == 3:
            control.stop()

    cfg = replace(preset_config("scratch"), epochs=3, batch_size=32, limit=1000)
    result = train(cfg, emit, control, dataset=mnist)
    epoch1 = of(events, EpochEnd)[0]
    assert result.status == "stopped" and result.epochs_completed == 1 and not result.evaluated
    assert result.test_accuracy == pytest.approx(epoch1.val_accuracy)  # validation is the test set here
    assert "after epoch 1" in result.reason and np.array(result.confusion).sum() == 10_000


@pytest.mark.parametrize("preset", ["mlp", "scratch"])
def test_pause_and_resume(mnist: Dataset, preset: str) -> None:
    control = TrainControl()
    stamped: list[tuple[float, Event]] = []
    timers: list[threading.Timer] = []

    def emit(event: Event) -> None:
        stamped.append((time.perf_counter(), event))
        if isinstance(event, BatchEnd) and event.step == 3 and not timers:
            control.pause()
            timers.append(threading.Timer(0.3, control.resume))
            timers[0].start()

    cfg = replace(preset_config(preset), epochs=1, batch_size=32, limit=640)
    result = train(cfg, emit, control, dataset=mnist)
    assert result.status == "done" and result.epochs_completed == 1
    events = [e for _, e in stamped]
    assert len(of(events, BatchEnd)) == 20
    i3 = next(i for i, e in enumerate(events) if isinstance(e, BatchEnd) and e.step == 3)
    i4 = next(i for i, e in enumerate(events) if isinstance(e, BatchEnd) and e.step == 4)
    assert events[i3 + 1:i4] == [PhaseChanged(PAUSED), PhaseChanged(TRAINING)]
    wall_gap = stamped[i4][0] - stamped[i3][0]
    elapsed_gap = events[i4].elapsed - events[i3].elapsed
    assert wall_gap >= 0.29
    assert elapsed_gap < wall_gap - 0.25, (elapsed_gap, wall_gap)
    assert result.train_seconds < stamped[-1][0] - stamped[0][0] - 0.25


def test_stop_while_paused_releases_the_loop(mnist: Dataset) -> None:
    control = TrainControl()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, BatchEnd) and event.step == 2:
            control.pause()
            threading.Timer(0.1, control.stop).start()

    cfg = replace(preset_config("scratch"), epochs=1, batch_size=32, limit=640)
    result = train(cfg, emit, control, dataset=mnist)
    assert result.status == "stopped"
    assert len(of(events, BatchEnd)) == 2
    after_pause = events[events.index(PhaseChanged(PAUSED)) + 1:]
    assert PhaseChanged(TRAINING) not in after_pause  # stopped from the pause, never resumed


def test_nan_loss_fails_the_run(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = replace(preset_config("mlp"), optimizer="sgd", learning_rate=1e6, epochs=2, batch_size=32, limit=2000,
                  data_path=str(real_data_dir))
    events: list[Event] = []
    run_dir = create_run_dir(tmp_path, cfg)
    result = run_job(run_dir, emit=events.append)
    assert result.status == "failed"
    assert "loss became" in result.reason and "learning rate too high" in result.reason
    batches = of(events, BatchEnd)
    assert len(batches) <= 10, len(batches)
    assert f"step {batches[-1].step}" in result.reason
    assert not math.isfinite(batches[-1].batch_loss)
    assert math.isnan(result.test_accuracy) and of(events, EpochEnd) == []
    assert events[-1] == PhaseChanged(FAILED, result.reason)
    m = read_metrics(run_dir)
    assert m["n_batches"] == len(batches)  # the rows leading up to the failure are kept
    assert np.isfinite(m["batches"]["batch_loss"][0]) and np.isnan(m["batches"]["batch_loss"][-1])  # null
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["test_accuracy"] is None
    assert "loss became" in summary["reason"]


def test_batch_larger_than_train_set_is_config_error(mnist: Dataset) -> None:
    events: list[Event] = []
    with pytest.raises(ConfigError) as info:
        train(replace(preset_config("mlp"), limit=100), events.append, dataset=mnist)
    assert info.value.field == "batch_size"
    assert isinstance(events[-1], PhaseChanged) and events[-1].phase == FAILED
    assert not of(events, DataReady)


# ------------------------------------------------------------------ other presets
def test_scratch_preset_through_train(mnist: Dataset) -> None:
    result, events = run(preset_config("scratch"), mnist)
    assert result.status == "done" and result.epochs_completed == 3
    assert result.test_accuracy > 0.90, result.test_accuracy
    epochs = of(events, EpochEnd)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert epochs[0].loss > epochs[1].loss > epochs[2].loss
    assert len(of(events, BatchEnd)) == 3 * math.ceil(20_000 / 32)
    preds = of(events, Predictions)[-1].probabilities
    assert preds.shape == (10_000, 10) and np.allclose(preds.sum(1), 1.0, atol=1e-4)


def test_cnn_small_run(mnist: Dataset) -> None:
    result, events = run(replace(preset_config("cnn"), epochs=1, limit=256), mnist)
    assert result.status == "done" and result.epochs_completed == 1
    assert len(of(events, BatchEnd)) == 8
    preds = of(events, Predictions)
    assert len(preds) == 1 and preds[0].probabilities.shape == (10_000, 10)
    assert np.allclose(preds[0].probabilities.sum(1), 1.0, atol=1e-4)
    assert result.test_accuracy > 0.3  # 8 steps on 256 images: well above chance already


def test_val_split_holds_out_train_tail(mnist: Dataset) -> None:
    result, events = run(replace(preset_config("mlp"), epochs=1, limit=2000, val_split=0.1), mnist)
    ready = of(events, DataReady)[0]
    assert (ready.n_train, ready.n_val, ready.n_test) == (1800, 200, 10_000)
    assert ready.validation == "last 10% of train" and ready.steps_per_epoch == 15
    (epoch,) = of(events, EpochEnd)
    assert epoch.val_accuracy * 200 == pytest.approx(round(epoch.val_accuracy * 200))
    assert epoch.val_accuracy != result.test_accuracy
    assert epoch.val_loss != result.test_loss
    assert 0.5 < epoch.val_accuracy <= 1.0


@pytest.mark.parametrize("preset", ["mlp", "scratch"])
def test_stop_on_last_batch_keeps_the_complete_epoch(mnist: Dataset, preset: str) -> None:
    """A stop that lands on an epoch's final batch still counts that epoch, in both loops."""
    control = TrainControl()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, BatchEnd) and event.step == event.steps:
            control.stop()

    cfg = replace(preset_config(preset), epochs=3, batch_size=32, limit=320)
    result = train(cfg, emit, control, dataset=mnist)
    assert result.status == "stopped"
    assert result.epochs_completed == 1
    assert [e.epoch for e in of(events, EpochEnd)] == [1]
    assert len(of(events, BatchEnd)) == 10
    assert {p.epoch for p in of(events, Predictions)} == {1}


def test_every_epoch_is_checkpointed_off_the_training_thread(real_data_dir: Path, tmp_path: Path) -> None:
    """Each epoch end hands a snapshot to a writer thread (training does not wait for the disk);
    the checkpoint holds weights, optimizer state and what they are, and the final model is saved."""
    writers: list[str] = []
    real_write = recorder_mod.atomic_write_bytes

    def spy(path: Path, data: bytes) -> None:
        if path.name == "checkpoint.npz":
            writers.append(threading.current_thread().name)
        real_write(path, data)

    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=3, momentum=0.9)
    run_dir = create_run_dir(tmp_path, cfg)
    events: list[Event] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recorder_mod, "atomic_write_bytes", spy)
        run_job(run_dir, emit=events.append)
    logged = LogReader(run_dir).read_all()
    assert [e.epoch for e in logged if isinstance(e, Checkpointed)] == [1, 2, 3]
    assert writers == ["checkpoint writer"] * 3
    with np.load(run_dir / "checkpoint.npz") as npz:
        meta = json.loads(str(npz["meta"]))
        assert meta["epoch"] == 3 and meta["preset"] == "scratch" and meta["weights"] == ["W1", "b1", "W2", "b2"]
        assert len([k for k in npz.files if k.startswith("o")]) == 4  # the momentum buffers
        assert np.abs(npz["o000"]).sum() > 0
    assert (run_dir / "model.npz").is_file()


WARM_UP_CHILD = """
import gc, json, sys
from mnist_tui.config import preset_config
from mnist_tui.training.trainer import freeze_import_garbage, train
freeze_import_garbage(warm_up=True)
frozen = gc.get_freeze_count()
seen = []
result = train(preset_config("mlp").with_changes(epochs=1, limit=1000, data_path=sys.argv[1]), emit=seen.append)

print(json.dumps({"frozen": frozen, "tracked": len(gc.get_objects()), "status": result.status,
                  "tf": "tensorflow" in sys.modules}))
"""


def test_app_warm_up_leaves_full_gc_passes_little_to_scan(real_data_dir: Path) -> None:
    """The app fits a throwaway model before gc.freeze(): Keras's lazily built machinery (and
    TensorFlow, which set_random_seed imports even on JAX) is frozen with the import, so a run
    afterwards leaves tens of thousands of objects in sight of full GC passes, not 250k+."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", WARM_UP_CHILD, str(real_data_dir)], capture_output=True,
                          text=True, timeout=300, env={**os.environ}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "done"
    assert out["frozen"] > 200_000  # Keras and TensorFlow, frozen before the run
    assert out["tracked"] < 60_000, out


def test_warm_up_does_not_rename_the_real_model() -> None:
    """The throwaway model clears Keras's name counters: the real layers keep their names."""
    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training.trainer import _fit_throwaway_model

    _fit_throwaway_model()
    names = [layer.name for layer in build_model(preset_config("mlp")).layers]
    assert names == ["dense", "dense_1"]
