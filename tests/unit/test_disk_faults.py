"""A run that fails mid-run (disk full, a crashing listener) ends cleanly with a clear reason."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from mnist_tui.config import preset_config
from mnist_tui.events import EpochEnd, PhaseChanged
from mnist_tui.runs import recorder as recorder_mod
from mnist_tui.runs.process import run_job
from mnist_tui.runs.rundir import RunStoreError, create_run_dir
from mnist_tui.runs.store import read_metrics


def test_disk_full_mid_run_stops_cleanly_with_the_reason(tiny_idx_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = recorder_mod.os.write
    calls = {"epochs": 0}

    def flaky_write(fd: int, data: bytes) -> int:
        if calls["epochs"] >= 2:  # the first epochs are written, then the disk fills up
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def emit(event: object) -> None:
        if isinstance(event, EpochEnd):
            calls["epochs"] += 1

    events: list[object] = []
    monkeypatch.setattr(recorder_mod.os, "write", flaky_write)
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=40)
    run_dir = create_run_dir(tmp_path / "runs", cfg)
    with pytest.raises(RunStoreError) as info:
        run_job(run_dir, emit=lambda e: (events.append(e), emit(e)))
    message = str(info.value)
    assert "No space left on device" in message and "events.jsonl" in message and "\n" not in message
    assert isinstance(events[-1], PhaseChanged) and events[-1].phase == "failed"
    assert read_metrics(run_dir)["n_epochs"] >= 1  # earlier epochs kept


def test_a_crash_mid_run_records_the_epochs_that_completed(tiny_idx_dir: Path, tmp_path: Path) -> None:
    def emit(event: object) -> None:
        if isinstance(event, EpochEnd) and event.epoch == 2:
            raise RuntimeError("simulated crash in a listener")

    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=4)
    run_dir = create_run_dir(tmp_path / "runs", cfg)
    with pytest.raises(RuntimeError):
        run_job(run_dir, emit=emit)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "simulated crash" in summary["reason"]
    assert summary["epochs_completed"] == 2  # the recorder saw epoch 2's row before the listener failed
