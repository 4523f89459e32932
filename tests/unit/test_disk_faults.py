"""A run directory that fails mid-run (disk full) stops the run cleanly with a clear reason."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from mnist_tui.config import preset_config
from mnist_tui.runs import rundir
from mnist_tui.runs.rundir import RunStoreError
from mnist_tui.training.events import PhaseChanged
from mnist_tui.training.trainer import train


def test_disk_full_mid_run_stops_cleanly_with_the_reason(tiny_idx_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_flush = rundir.RunRecorder.flush
    calls = {"n": 0}

    def flaky_flush(self: rundir.RunRecorder) -> None:
        calls["n"] += 1
        if calls["n"] >= 3:  # the first epochs are written, then the disk fills up
            self._metrics.write = _raise_enospc  # type: ignore[method-assign]
        real_flush(self)

    def _raise_enospc(_text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir.RunRecorder, "flush", flaky_flush)
    events: list[object] = []
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=6)
    with pytest.raises(RunStoreError) as info:
        train(cfg, events.append, runs_dir=tmp_path / "runs")
    message = str(info.value)
    assert "No space left on device" in message and "metrics.csv" in message and "\n" not in message
    assert isinstance(events[-1], PhaseChanged) and events[-1].phase == "failed"
    (run_dir,) = list((tmp_path / "runs").iterdir())
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("kind,") and any(r.startswith("epoch,1,") for r in rows)  # earlier epochs kept


def test_a_crash_mid_run_records_the_epochs_that_completed(tiny_idx_dir: Path, tmp_path: Path) -> None:
    import json

    from mnist_tui.training.events import EpochEnd

    def emit(event: object) -> None:
        if isinstance(event, EpochEnd) and event.epoch == 2:
            raise RuntimeError("simulated crash in a listener")

    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=4)
    with pytest.raises(RuntimeError):
        train(cfg, emit, runs_dir=tmp_path / "runs")
    (run_dir,) = list((tmp_path / "runs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "simulated crash" in summary["reason"]
    assert summary["epochs_completed"] == 2  # the recorder saw epoch 2's row before the listener failed
