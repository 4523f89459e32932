"""Tests for the run directory: layout, marker, permissions, the event log, atomic writes and crash safety."""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.errors import MnistTuiError
from mnist_tui.events import (
    BatchEnd,
    DataReady,
    EpochEnd,
    Event,
    PhaseChanged,
    Predictions,
    RunFinished,
    decode,
    encode,
)
from mnist_tui.models.scratch import ScratchNet
from mnist_tui.runs import recorder as recorder_mod
from mnist_tui.runs import rundir
from mnist_tui.runs.follow import LogReader, RunFollower, load_predictions
from mnist_tui.runs.recorder import RunRecorder
from mnist_tui.runs.rundir import RunStoreError, atomic_save, atomic_write_json, create_run_dir, is_marker
from mnist_tui.runs.store import is_run_dir, read_metrics
from tests.conftest import paused_child
from tests.runs_helpers import data_ready, train_run

SUMMARY_KEYS = {"status", "reason", "preset", "config", "dataset", "epochs_completed", "evaluated", "test_loss",
                "test_accuracy", "per_class_accuracy", "confusion_matrix", "epochs", "timings", "model_file"}


def leftovers(run_dir: Path) -> list[str]:
    return [p.name for p in run_dir.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def batch(step: int, loss: float = 1.0) -> BatchEnd:
    return BatchEnd(1, step, 2, 32 * step, loss, 0.5, loss, 0.5, 1000.0, 0.25 * step)  # exact in the codec


def finished(status: str = "done", test_loss: float = 0.5) -> RunFinished:
    conf = tuple(tuple(2 if i == j else 0 for j in range(10)) for i in range(10))
    return RunFinished(status, "", 1, test_loss, 1.0, (1.0,) * 10, conf, 1.5, 2.5, None)


def modes(path: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in [path, *path.rglob("*")]}


# ------------------------------------------------------------------ layout and marker
def test_create_run_dir_writes_config_and_marker_privately(tmp_path: Path) -> None:
    cfg = replace(preset_config("mlp"), epochs=1, batch_size=32)
    path = create_run_dir(tmp_path / "runs", cfg)
    assert path.parent == tmp_path / "runs" and path.name.endswith("-mlp")
    assert json.loads((path / "config.json").read_text()) == cfg.to_dict()
    owner = json.loads((path / "run.json").read_text())
    assert is_marker(owner) and owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    if Path("/proc/self/stat").exists():
        assert owner["proc_start"] == rundir.process_start_ticks(os.getpid()) and owner["boot_id"]
    assert (path / "control").is_dir() and is_run_dir(path)
    assert modes(path) <= {0o700, 0o600}, {oct(m) for m in modes(path)}  # only the owner reads or controls it


def test_unique_run_dirs(tmp_path: Path) -> None:
    cfg = preset_config("scratch")
    paths = [create_run_dir(tmp_path, cfg) for _ in range(3)]
    assert len(set(paths)) == 3
    assert all(p.name.endswith(("-scratch", "-scratch-1", "-scratch-2")) for p in paths)
    assert rundir.model_file("scratch") == "model.npz" and rundir.model_file("cnn") == "model.keras"


@pytest.mark.parametrize("below", ["a-file", "a-file/deeper"])
def test_unwritable_parent_is_one_line_error(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(RunStoreError) as info:
        create_run_dir(tmp_path / below / "runs", preset_config("mlp"))
    message = str(info.value)
    assert isinstance(info.value, MnistTuiError)
    assert "\n" not in message and "cannot write run directory" in message and "a-file" in message
    assert blocker.read_text() == "not a directory"


# ------------------------------------------------------------------ the event log
def test_recorder_writes_every_event_in_order_with_side_files_first(tmp_path: Path) -> None:
    cfg = replace(preset_config("mlp"), epochs=1, batch_size=32)
    path = create_run_dir(tmp_path, cfg)
    rec = RunRecorder(path, cfg)
    ready = data_ready()
    probs = np.full((20, 10), 0.1, np.float32)
    events: list[Event] = [PhaseChanged("training"), ready, batch(1, 2.0), batch(2, math.nan),
                           Predictions(1, probs), EpochEnd(1, 1, 1.5, 0.5, 0.4, 0.9, 0.25), finished()]
    for ev in events:
        rec(ev)
    rec.close()
    logged = LogReader(path).read_all()
    assert [type(e) for e in logged] == [type(e) for e in events]
    assert logged[2] == batch(1, 2.0) and math.isnan(logged[3].batch_loss)  # NaN travels as null
    assert logged[0] == events[0] and logged[5] == events[5] and logged[6] == finished()
    assert logged[1].x_test is None and logged[1].n_test == 20  # arrays travel beside the log
    follower = RunFollower(path)
    complete = follower.read()
    assert np.array_equal(complete[1].x_test, ready.x_test) and np.array_equal(complete[1].y_test, ready.y_test)
    assert complete[4].probabilities.dtype == np.float32 and np.allclose(complete[4].probabilities, 0.1, atol=1e-3)
    assert load_predictions(path, 1).shape == (20, 10)
    assert np.load(path / "predictions" / "epoch-0001.npy").dtype == np.float16  # compact: 200 KB an epoch
    summary = json.loads((path / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "done" and summary["test_accuracy"] == 1.0 and summary["evaluated"] is True
    assert summary["dataset"]["n_train"] == 64 and summary["dataset"]["n_test"] == 20
    assert np.array(summary["confusion_matrix"]).sum() == 20
    assert summary["epochs"] == [{"epoch": 1, "loss": 1.5, "accuracy": 0.5, "val_loss": 0.4,
                                  "val_accuracy": 0.9, "seconds": 0.25}]
    assert set(summary["timings"]) == {"started", "finished", "train_seconds", "total_seconds"}
    assert summary["model_file"] is None  # nothing was saved
    assert leftovers(path) == []


def test_codec_round_trips_every_event_kind() -> None:
    from mnist_tui.events import Checkpointed, ControlApplied, TrainerStarted

    for event in (PhaseChanged("paused", "after batch 3"), TrainerStarted(12, "host", "jax", 2, 5), batch(3),
                  EpochEnd(2, 5, 0.1, 0.97, 0.2, 0.96, 1.25), Checkpointed(2, 0.05),
                  ControlApplied("pause", "req-1", "mnist-tui runs pause"), finished("stopped")):
        assert decode(encode(event)) == event, event
    assert encode(batch(3)).startswith('{"batch":[1,3,2,96,')  # short lines, bulk-parsable
    with pytest.raises(ValueError):
        decode("not json")
    from mnist_tui.events import UnknownEvent

    with pytest.raises(UnknownEvent):
        decode('{"telemetry": {"x": 1}}')  # a kind from a newer version is skipped, not fatal


def test_batch_rows_are_readable_within_a_tenth_of_a_second_and_cost_the_trainer_nothing(tmp_path: Path) -> None:
    cfg = preset_config("mlp")
    path = create_run_dir(tmp_path, cfg)
    rec = RunRecorder(path, cfg)
    t0 = time.perf_counter()
    for step in range(1, 1001):
        rec(batch(step))
    hot = (time.perf_counter() - t0) / 1000
    reader = LogReader(path)
    seen: list[Event] = []
    deadline = time.monotonic() + 1.0
    while len(seen) < 1000 and time.monotonic() < deadline:
        seen += reader.read()
        time.sleep(0.01)
    readable_after = time.monotonic() - (deadline - 1.0)
    rec.close()
    assert len(seen) == 1000 and readable_after < 0.3  # flushed at 20 Hz by the writer thread
    assert hot < 50e-6, f"{hot * 1e6:.1f} µs per batch on the training thread"  # a deque append, no I/O


def test_reader_keeps_a_torn_line_for_later(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text(encode(batch(1)) + "\n" + encode(batch(2))[:15])
    reader = LogReader(tmp_path)
    assert reader.read() == [batch(1)]
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write(encode(batch(2))[15:] + "\n")
    assert reader.read() == [batch(2)]  # completed by the next write, read once
    assert reader.read() == []


def test_disk_full_mid_run_fails_the_run_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = preset_config("mlp")
    path = create_run_dir(tmp_path, cfg)
    rec = RunRecorder(path, cfg)
    rec(batch(1))
    time.sleep(0.2)  # written

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_mod.os, "write", full)
    rec(batch(2))
    deadline = time.monotonic() + 2
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(RunStoreError) as info:
        rec(EpochEnd(1, 1, 1.0, 0.5, 1.0, 0.5, 0.2))  # the training thread learns at its next event
    assert "No space left on device" in str(info.value) and "events.jsonl" in str(info.value)
    monkeypatch.undo()
    with pytest.raises(RunStoreError):
        rec.close()
    assert LogReader(path).read_all() == [batch(1)]  # what was written before stays readable


# ------------------------------------------------------------------------ atomicity
def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"v": 1})
    assert json.loads(target.read_text()) == {"v": 1}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # a run's files are its owner's only

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_atomic_write_rejects_nan_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"v": math.nan})
    assert list(tmp_path.iterdir()) == []


def test_atomic_save_failure_keeps_previous_model(tmp_path: Path) -> None:
    target = tmp_path / "model.npz"
    atomic_save(target, ScratchNet(hidden=4).save)
    before = target.read_bytes()

    def crash(path: Path) -> None:
        path.write_bytes(b"half a model")
        raise RuntimeError("disk yanked")

    with pytest.raises(RuntimeError):
        atomic_save(target, crash)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert ScratchNet.load(target).hidden == 4


# ------------------------------------------------------------------ real training run
def test_real_run_directory_holds_the_whole_record(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = replace(preset_config("scratch"), epochs=2, limit=1000, batch_size=64, data_path=str(real_data_dir))
    run_dir = train_run(tmp_path, cfg)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint-initial.npz", "checkpoint.npz", "config.json", "control", "events.jsonl", "model.npz", "network",
        "predictions", "run.json", "summary.json", "test-set.npz"]
    assert sorted(p.name for p in (run_dir / "network").iterdir()) == [f"epoch-000{e}.npz" for e in range(3)]
    assert sorted(p.name for p in (run_dir / "predictions").iterdir()) == ["epoch-0001.npy", "epoch-0002.npy"]
    events = RunFollower(run_dir).read()
    kinds = [type(e).__name__ for e in events if not isinstance(e, BatchEnd)]
    assert kinds[:2] == ["TrainerStarted", "PhaseChanged"] and kinds[-2:] == ["RunFinished", "PhaseChanged"]
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 2 * 16 and [b.step for b in batches[:16]] == list(range(1, 17))
    m = read_metrics(run_dir)
    assert (m["n_batches"], m["n_epochs"]) == (32, 2)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "done" and summary["epochs_completed"] == 2 and summary["evaluated"] is True
    conf = np.array(summary["confusion_matrix"])
    assert conf.shape == (10, 10) and conf.sum() == 10_000 == summary["dataset"]["n_test"]
    assert np.allclose(summary["per_class_accuracy"], np.diag(conf) / conf.sum(axis=1))
    assert summary["timings"]["train_seconds"] > 0 and summary["model_file"] == "model.npz"
    data = next(e for e in events if isinstance(e, DataReady))
    probs = [e for e in events if isinstance(e, Predictions)][-1].probabilities
    net = ScratchNet.load(run_dir / "model.npz")
    direct = net.predict_proba(data.x_test[:50].reshape(50, -1) / np.float32(255))
    assert np.allclose(direct, probs[:50], atol=2e-3)  # stored as float16
    assert leftovers(run_dir) == []


# ------------------------------------------------------------------------ hard crash
CHILD = textwrap.dedent("""
    import sys, time
    from mnist_tui.config import preset_config
    from mnist_tui.events import BatchEnd
    from mnist_tui.runs.process import run_job
    from mnist_tui.runs.rundir import create_run_dir

    def emit(ev):
        if isinstance(ev, BatchEnd) and ev.epoch == 2 and ev.step == 10:
            time.sleep(0.3)  # the writer thread's next flush
            print("SLEEPING", flush=True)
            time.sleep(120)

    run_job(create_run_dir(sys.argv[1], preset_config("scratch").with_changes(limit=2000, epochs=3)), emit=emit)
""")


def test_sigkill_mid_run_leaves_every_written_row_readable(real_data_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with paused_child(CHILD, [str(runs)], real_data_dir):
        pass  # asleep mid-epoch 2: leaving the block kills it with SIGKILL
    (run_dir,) = list(runs.iterdir())
    assert json.loads((run_dir / "config.json").read_text())["preset"] == "scratch"
    assert not (run_dir / "summary.json").exists()
    m = read_metrics(run_dir)
    assert m["n_epochs"] == 1 and m["n_batches"] == 63 + 10  # epoch 1 and epoch 2 up to the kill
    assert m["batches"]["step"].tolist() == list(range(1, 64)) + list(range(1, 11))
    with np.load(run_dir / "checkpoint.npz") as npz:  # the epoch-1 checkpoint is intact
        assert json.loads(str(npz["meta"]))["epoch"] == 1
    assert leftovers(run_dir) == []
