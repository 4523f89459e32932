"""Run directories for tests, written by the project's own code (never hand-made files).

``write_run`` makes a directory with ``create_run_dir`` and fills it through the real
``RunRecorder`` from synthetic events, so exact values, start times and owners can be
chosen; ``train_run`` trains a real (small) run in this process.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.config import TrainConfig, preset_config
from mnist_tui.events import BatchEnd, DataReady, EpochEnd, Event, PhaseChanged, RunFinished, TrainerStarted
from mnist_tui.runs.process import run_job
from mnist_tui.runs.recorder import RunRecorder
from mnist_tui.runs.rundir import OWNER, RUN_FORMAT, RUN_FORMAT_VERSION, atomic_write_json, create_run_dir

T0 = datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc)
DEAD_OWNER = {"pid": 999_999_999, "host": "vm-that-is-gone"}


def data_ready(n_train: int = 64, n_test: int = 20, steps: int = 2, epochs: int = 1, batch: int = 32) -> DataReady:
    rng = np.random.default_rng(0)
    return DataReady(n_train, 0, n_test, steps, epochs, batch, tuple("0123456789"), "synthetic", "test set",
                     rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), (np.arange(n_test) % 10).astype(np.uint8))


def write_run(parent: Path, name: str, *, preset: str = "mlp", status: str | None = "done", acc: float | None = 0.9,
              total: float = 10.0, minutes: int = 0, epochs: int = 2, steps: int = 10, batch_size: int = 128,
              lr: float = 1e-3, owner: dict[str, Any] | None = None, extra: list[Event] | None = None) -> Path:
    """A run directory named ``name``; ``status=None`` leaves it without a summary (killed)."""
    cfg = preset_config(preset).with_changes(epochs=epochs, batch_size=batch_size, learning_rate=lr,
                                             backend="auto" if preset == "scratch" else "tensorflow")
    made = create_run_dir(parent, cfg)
    path = made.rename(parent / name) if made.name != name else made
    started = T0 + timedelta(minutes=minutes)
    rec = RunRecorder(path, cfg, started=started)
    rec(TrainerStarted(1, "test", "tensorflow", 0, epochs))
    rec(data_ready(steps * batch_size, 20, steps, epochs, batch_size))
    rec(PhaseChanged("training"))
    for e in range(1, epochs + 1):
        for s in range(1, steps + 1):
            loss = 2.0 / (e * steps + s)
            rec(BatchEnd(e, s, steps, s * batch_size, loss, 0.5, loss, 0.75, 1000.0, float((e - 1) * steps + s)))
        rec(EpochEnd(e, epochs, 0.5, 0.5, 0.4, 0.8, float(e * steps)))
    for event in extra or []:
        rec(event)
    if status is not None:
        conf = tuple(tuple(2 if i == j else 0 for j in range(10)) for i in range(10))
        rec(RunFinished(status, "", epochs, 0.3, acc if acc is not None else float("nan"), (1.0,) * 10, conf,
                        total, total, str(path)))
    rec.close()
    record = {"format": RUN_FORMAT, "version": RUN_FORMAT_VERSION, "started": started.isoformat(timespec="seconds"),
              **(owner or DEAD_OWNER)}
    atomic_write_json(path / OWNER, record)
    if owner is None:  # a trainer on another host whose heartbeat stopped long ago
        old = time.time() - 3600
        os.utime(path / OWNER, (old, old))
    if status is not None:  # the summary's total_seconds as given (the recorder wrote train/total = total)
        summary = json.loads((path / "summary.json").read_text())
        assert summary["timings"]["total_seconds"] == round(total, 3)
    return path


def train_run(parent: Path, cfg: TrainConfig, action: str = "train") -> Path:
    """A real run of ``cfg`` trained here, the way ``mnist-tui train`` does it."""
    path = create_run_dir(parent, cfg)
    run_job(path, action)
    return path


def scratch(**changes: Any) -> TrainConfig:
    return replace(preset_config("scratch"), **changes)
