"""Tests for the run directory: files, CSV rows, summary, atomic writes and crash safety."""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.data import load_dataset
from mnist_tui.errors import MnistTuiError
from mnist_tui.models.scratch import ScratchNet
from mnist_tui.runs import rundir
from mnist_tui.runs.rundir import METRICS_COLUMNS, RunRecorder, RunStoreError, atomic_save, atomic_write_json
from mnist_tui.training.events import (
    BatchEnd,
    DataReady,
    EpochEnd,
    Event,
    PhaseChanged,
    Predictions,
    RunFinished,
)
from mnist_tui.training.trainer import train
from tests.conftest import paused_child

SUMMARY_KEYS = {"status", "reason", "preset", "config", "dataset", "epochs_completed", "test_loss", "test_accuracy",
                "per_class_accuracy", "confusion_matrix", "epochs", "timings", "model_file"}


def read_metrics(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    assert all(len(r) == len(METRICS_COLUMNS) for r in rows), "a truncated or ragged row"
    return header, [dict(zip(header, r, strict=True)) for r in rows]


def leftovers(run_dir: Path) -> list[str]:
    return [p.name for p in run_dir.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]


def data_ready(n_train: int = 64, n_test: int = 20) -> DataReady:
    return DataReady(n_train, 0, n_test, 2, 1, 32, tuple("0123456789"), "synthetic", "test set",
                     np.zeros((n_test, 28, 28), np.uint8), np.zeros(n_test, np.uint8))


def batch(step: int, loss: float = 1.0) -> BatchEnd:
    return BatchEnd(1, step, 2, 32 * step, loss, 0.5, loss, 0.5, 1000.0, 0.1 * step)


def finished(status: str = "done", test_loss: float = 0.5) -> RunFinished:
    conf = tuple(tuple(2 if i == j else 0 for j in range(10)) for i in range(10))
    return RunFinished(status, "", 1, test_loss, 1.0, (1.0,) * 10, conf, 1.5, 2.5, None)


# ------------------------------------------------------------------ synthetic events
def test_recorder_files_and_rows(tmp_path: Path) -> None:
    cfg = replace(preset_config("mlp"), epochs=1, batch_size=32)
    rec = RunRecorder(tmp_path / "runs", cfg)
    assert rec.path.parent == tmp_path / "runs" and rec.path.name.endswith("-mlp")
    assert json.loads((rec.path / "config.json").read_text()) == cfg.to_dict()
    header, rows = read_metrics(rec.path)
    assert tuple(header) == METRICS_COLUMNS and rows == []
    for ev in (PhaseChanged("training"), data_ready(), batch(1, 2.0), batch(2, math.nan),
               EpochEnd(1, 1, 1.5, 0.5, 0.4, 0.9, 0.25), finished()):
        rec(ev)
    rec.close()
    _, rows = read_metrics(rec.path)
    assert [r["kind"] for r in rows] == ["batch", "batch", "epoch"]
    assert rows[0]["batch_loss"] == "2" and rows[1]["batch_loss"] == ""  # NaN → empty cell
    assert (rows[1]["epoch"], rows[1]["step"], rows[1]["steps"], rows[1]["seen"]) == ("1", "2", "2", "64")
    assert rows[2]["val_accuracy"] == "0.9" and rows[2]["step"] == "" and rows[2]["elapsed_s"] == "0.250"
    summary = json.loads((rec.path / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "done" and summary["test_accuracy"] == 1.0
    assert summary["dataset"]["n_train"] == 64 and summary["dataset"]["n_test"] == 20
    assert np.array(summary["confusion_matrix"]).sum() == 20
    assert summary["epochs"] == [{"epoch": 1, "loss": 1.5, "accuracy": 0.5, "val_loss": 0.4,
                                  "val_accuracy": 0.9, "seconds": 0.25}]
    assert set(summary["timings"]) == {"started", "finished", "train_seconds", "total_seconds"}
    assert summary["model_file"] is None  # nothing was saved
    assert leftovers(rec.path) == []


def test_run_json_names_the_owner_process(tmp_path: Path) -> None:
    rec = RunRecorder(tmp_path, preset_config("mlp"))
    owner = json.loads((rec.path / "run.json").read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert owner["started"] == rec.started.isoformat(timespec="seconds")
    if Path("/proc/self/stat").exists():
        assert owner["proc_start"] == rundir.process_start_ticks(os.getpid()) and owner["boot_id"]
    rec.close()
    assert (rec.path / "run.json").exists()  # kept after the run: summary.json marks completion
    assert leftovers(rec.path) == []


def test_nan_test_metrics_become_null(tmp_path: Path) -> None:
    rec = RunRecorder(tmp_path, preset_config("mlp"))
    rec(finished("failed", test_loss=math.nan))
    rec.close()
    text = (rec.path / "summary.json").read_text()
    assert "NaN" not in text
    assert json.loads(text)["test_loss"] is None


def test_batches_are_buffered_until_epoch_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rundir, "FLUSH_SECONDS", 3600.0)
    rec = RunRecorder(tmp_path, preset_config("mlp"))
    rec(batch(1))
    rec(batch(2))
    assert read_metrics(rec.path)[1] == []  # hot path: no disk write per batch
    rec(EpochEnd(1, 1, 1.0, 0.5, 1.0, 0.5, 0.2))
    assert [r["kind"] for r in read_metrics(rec.path)[1]] == ["batch", "batch", "epoch"]
    rec.close()


def test_time_based_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rundir, "FLUSH_SECONDS", -1.0)
    rec = RunRecorder(tmp_path, preset_config("mlp"))
    rec(batch(1))
    assert len(read_metrics(rec.path)[1]) == 1
    rec.close()
    assert rec._metrics.closed


def test_unique_run_dirs(tmp_path: Path) -> None:
    cfg = preset_config("scratch")
    paths = [RunRecorder(tmp_path, cfg).path for _ in range(3)]
    assert len(set(paths)) == 3
    assert all(p.name.endswith(("-scratch", "-scratch-1", "-scratch-2")) for p in paths)
    assert RunRecorder(tmp_path, cfg).model_path.name == "model.npz"
    assert RunRecorder(tmp_path, preset_config("cnn")).model_path.name == "model.keras"


@pytest.mark.parametrize("below", ["a-file", "a-file/deeper"])
def test_unwritable_parent_is_one_line_error(tmp_path: Path, below: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(RunStoreError) as info:
        RunRecorder(tmp_path / below / "runs", preset_config("mlp"))
    message = str(info.value)
    assert isinstance(info.value, MnistTuiError)
    assert "\n" not in message and "cannot write run directory" in message and "a-file" in message
    assert blocker.read_text() == "not a directory"


def test_train_with_unwritable_runs_dir_fails_before_training(tmp_path: Path, tiny_idx_dir: Path) -> None:
    (tmp_path / "f").write_text("x")
    events: list[Event] = []
    cfg = replace(preset_config("scratch"), data_path=str(tiny_idx_dir), batch_size=8)
    with pytest.raises(RunStoreError):
        train(cfg, events.append, runs_dir=tmp_path / "f" / "runs")
    assert events[-1].phase == "failed" and "cannot write run directory" in events[-1].detail
    assert not [e for e in events if isinstance(e, (DataReady, BatchEnd))]


# ------------------------------------------------------------------------ atomicity
def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"v": 1})
    assert json.loads(target.read_text()) == {"v": 1}
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode

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
def test_real_run_rows_match_events(real_data_dir: Path, tmp_path: Path) -> None:
    ds = load_dataset("mnist", real_data_dir)
    events: list[Event] = []
    cfg = replace(preset_config("scratch"), epochs=2, limit=1000, batch_size=64)
    result = train(cfg, events.append, runs_dir=tmp_path, dataset=ds)
    run_dir = Path(result.run_dir or "")
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "metrics.csv", "model.npz", "run.json",
                                                          "summary.json"]
    header, rows = read_metrics(run_dir)
    assert tuple(header) == METRICS_COLUMNS
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(batches) == 2 * 16 and len(epochs) == 2
    assert len(rows) == len(batches) + len(epochs)
    # Rows come in event order: every epoch row follows its epoch's batches.
    kinds = [r["kind"] for r in rows]
    assert kinds == (["batch"] * 16 + ["epoch"]) * 2
    for row, ev in zip([r for r in rows if r["kind"] == "batch"], batches, strict=True):
        assert (int(row["epoch"]), int(row["step"]), int(row["seen"])) == (ev.epoch, ev.step, ev.seen)
        assert float(row["batch_loss"]) == pytest.approx(ev.batch_loss, rel=1e-5)
        assert float(row["loss_running_mean"]) == pytest.approx(ev.loss, rel=1e-5)
    for row, ev in zip([r for r in rows if r["kind"] == "epoch"], epochs, strict=True):
        assert float(row["val_accuracy"]) == pytest.approx(ev.val_accuracy, rel=1e-5)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["status"] == "done" and summary["epochs_completed"] == 2
    assert summary["test_accuracy"] == pytest.approx(result.test_accuracy)
    conf = np.array(summary["confusion_matrix"])
    assert conf.shape == (10, 10) and conf.sum() == 10_000 == summary["dataset"]["n_test"]
    assert np.allclose(summary["per_class_accuracy"], np.diag(conf) / conf.sum(axis=1))
    assert summary["timings"]["train_seconds"] > 0 and summary["model_file"] == "model.npz"
    assert json.loads((run_dir / "config.json").read_text()) == cfg.to_dict()
    net = ScratchNet.load(run_dir / "model.npz")
    probs = [e for e in events if isinstance(e, Predictions)][-1].probabilities
    assert np.allclose(net.predict_proba(ds.x_test[:50].reshape(50, -1) / np.float32(255)), probs[:50], atol=1e-5)
    assert leftovers(run_dir) == []


# ------------------------------------------------------------------------ hard crash
CHILD = textwrap.dedent("""
    import sys, time
    from mnist_tui.config import preset_config
    from mnist_tui.runs import rundir
    from mnist_tui.training.events import BatchEnd
    from mnist_tui.training.trainer import train

    rundir.FLUSH_SECONDS = float(sys.argv[2])

    def emit(ev):
        if isinstance(ev, BatchEnd) and ev.epoch == 2 and ev.step == 10:
            print("SLEEPING", flush=True)
            time.sleep(120)

    train(preset_config("scratch").with_changes(limit=2000, epochs=3), emit, runs_dir=sys.argv[1])
""")


@pytest.mark.parametrize(("flush_seconds", "expected_rows"), [
    (5.0, 63 + 1),  # default: flushed at the end of epoch 1 only
    (-1.0, 63 + 1 + 10),  # flushing every batch: everything up to the one being emitted
])
def test_sigkill_mid_run_leaves_readable_files(
    real_data_dir: Path, tmp_path: Path, flush_seconds: float, expected_rows: int
) -> None:
    runs = tmp_path / "runs"
    with paused_child(CHILD, [str(runs), str(flush_seconds)], real_data_dir):
        pass  # asleep mid-epoch 2: leaving the block kills it with SIGKILL
    (run_dir,) = list(runs.iterdir())
    assert json.loads((run_dir / "config.json").read_text())["preset"] == "scratch"
    assert not (run_dir / "summary.json").exists()
    header, rows = read_metrics(run_dir)
    assert tuple(header) == METRICS_COLUMNS
    assert len(rows) == expected_rows
    assert [int(r["step"]) for r in rows[:63]] == list(range(1, 64))
    assert rows[63]["kind"] == "epoch" and rows[63]["epoch"] == "1"
    assert [int(r["step"]) for r in rows[64:]] == list(range(1, expected_rows - 63))
    assert ScratchNet.load(run_dir / "model.npz").hidden == 100  # epoch-1 checkpoint is intact
    assert leftovers(run_dir) == []
