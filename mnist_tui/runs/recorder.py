"""The trainer's side of the run directory: every event to the log, arrays beside it.

The training thread only appends events to a queue (the per-batch hot path: one deque
append). A writer thread drains it at least ``1 / FLUSH_INTERVAL`` times a second: batch
rows reach the OS (readable by followers) within a tenth of a second, and are fsynced at
every epoch end and every ``FSYNC_SECONDS``. A side file (test set, predictions, summary)
is written atomically *before* the log line that announces it, so a follower that sees the
line can always open the file. Checkpoints are written by a thread of their own from a
snapshot of the weights, so saving never stalls training; the same thread then derives the
epoch's network record (``mnist_tui.models.network_record``) from that snapshot.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.config import TrainConfig
from mnist_tui.events import (
    BatchEnd,
    Checkpointed,
    DataReady,
    EpochEnd,
    Event,
    NetworkSaved,
    Predictions,
    RunFinished,
    encode,
)
from mnist_tui.models import network_record as nr
from mnist_tui.runs.rundir import (
    CHECKPOINT,
    DIR_MODE,
    FILE_MODE,
    HEARTBEAT_SECONDS,
    INITIAL_CHECKPOINT,
    LOG,
    NETWORK,
    PREDICTIONS,
    SUMMARY,
    TEST_SET,
    RunStoreError,
    atomic_save,
    atomic_write_bytes,
    atomic_write_json,
    heartbeat,
    model_file,
    network_file,
    predictions_file,
)

FLUSH_INTERVAL = 0.05  # seconds: batch rows readable by followers at least 10× a second
FSYNC_SECONDS = 3.0  # and durable at every epoch end and at least this often
NETWORK_ENV = "MNIST_TUI_NETWORK_RECORD"  # "0": no initial weights and no network records (benchmarks)


def _finite_or_none(value: float) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    """An .npz in memory; ``compressed`` deflates at level 1: the test set shrinks 4× in
    a third of the CPU time of NumPy's default level, CPU the training next to it needs."""
    if not compressed:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


class RunRecorder:
    """An event listener that keeps a run directory up to date as training goes.

    ``prior_epochs`` are the counted epochs of earlier attempts (a resumed run), so the
    summary covers the whole run. ``error`` is set when the directory stops accepting
    writes; the next event then raises it in the training thread, which ends the run.
    """

    def __init__(self, path: Path, cfg: TrainConfig, *, prior_epochs: Sequence[EpochEnd] = (),
                 started: datetime | None = None) -> None:
        self.path = path
        self.cfg = cfg
        self.started = started or datetime.now(timezone.utc)
        self.error: RunStoreError | None = None
        self._epochs: list[EpochEnd] = list(prior_epochs)
        self._data: DataReady | None = None
        self._queue: deque[Event] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._last_fsync = time.monotonic()
        self._last_beat = 0.0
        self._checkpointer: threading.Thread | None = None
        self.network = os.environ.get(NETWORK_ENV, "1").strip() != "0"
        self._x_test: np.ndarray | None = None  # dead units are counted on the test images
        self._x_scaled: np.ndarray | None = None  # ... converted to float once, not every epoch
        self._kernels: list[np.ndarray] | None = None  # the last snapshot's, for the next update sizes
        self._witnesses: np.ndarray | None = None  # a test image per live unit: next epoch's dead units cheaply
        try:
            (path / PREDICTIONS).mkdir(mode=DIR_MODE, exist_ok=True)
            if self.network:
                (path / NETWORK).mkdir(mode=DIR_MODE, exist_ok=True)
            self._fd = os.open(path / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        except OSError as err:
            raise RunStoreError(f"cannot write {path / LOG}: {err.strerror or err}") from err
        self._writer = threading.Thread(target=self._write_loop, name="run writer", daemon=True)
        self._writer.start()

    @property
    def model_path(self) -> Path:
        return self.path / model_file(self.cfg.preset)

    @property
    def epochs_recorded(self) -> int:
        return len(self._epochs)

    # ------------------------------------------------------------------ training thread
    def __call__(self, event: Event) -> None:
        """Hot path for BatchEnd: one attribute check and one deque append."""
        if self.error is not None and type(event) is not RunFinished:
            raise self.error
        self._queue.append(event)
        if type(event) is not BatchEnd:
            if type(event) is EpochEnd:
                self._epochs.append(event)  # counted here: a failure right after still knows it
            elif type(event) is DataReady:
                self._x_test = event.x_test
            self._wake.set()

    def checkpoint(self, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        """Write ``arrays`` (a snapshot: the caller must not change them) to checkpoint.npz
        in the background; a ``Checkpointed`` event follows once it is on disk."""
        self.wait_for_checkpoint()

        def write() -> None:
            t0 = time.perf_counter()
            if self.network and self._kernels is None and epoch > 1:
                self._kernels = self._kernels_on_disk()  # a resumed run: the checkpoint it resumed from
            try:
                atomic_write_bytes(self.path / CHECKPOINT, npz_bytes(arrays))
            except OSError as err:
                self.error = RunStoreError(f"cannot write {self.path / CHECKPOINT}: {err.strerror or err}")
                return
            self._queue.append(Checkpointed(epoch, time.perf_counter() - t0))
            self._wake.set()
            self._write_network(epoch, arrays)

        self._background(write)

    def initial_weights(self, arrays: dict[str, np.ndarray]) -> None:
        """The weights before the first step: ``checkpoint-initial.npz`` (the start of the
        loss landscape's line) and the network record of epoch 0, in the background."""
        if not self.network:
            return
        self.wait_for_checkpoint()
        weights = {k: v for k, v in arrays.items() if not k.startswith("o")}  # no optimizer state yet

        def write() -> None:
            try:
                atomic_write_bytes(self.path / INITIAL_CHECKPOINT, npz_bytes(weights))
            except OSError as err:
                self.error = RunStoreError(f"cannot write {self.path / INITIAL_CHECKPOINT}: {err.strerror or err}")
                return
            self._write_network(0, weights)

        self._background(write)

    def network_record(self, epoch: int, arrays: dict[str, np.ndarray], x_test: np.ndarray | None) -> None:
        """Write the record of ``arrays`` now, in this thread (``mnist-tui open``: a loaded model)."""
        if self.network:
            self._x_test, self._x_scaled = x_test, None
            self._write_network(epoch, arrays)

    def _background(self, job: Callable[[], None]) -> None:
        self._checkpointer = threading.Thread(target=job, name="checkpoint writer", daemon=True)
        self._checkpointer.start()

    def _write_network(self, epoch: int, arrays: dict[str, np.ndarray]) -> None:
        """The epoch's network record, then its log line. A record that cannot be computed
        (a layer list this version does not know) is skipped: it must never fail the run."""
        if not self.network:
            return
        try:
            if self._x_scaled is None and self._x_test is not None and len(self._x_test) \
                    and nr.counts_dead_units(arrays):
                self._x_scaled = nr.scaled_images(self._x_test)  # once per run: 31 MB for 10k images
            record = nr.network_record(arrays, self._x_scaled, self._kernels, self._witnesses)
            self._kernels, self._witnesses = nr.kernels(arrays), record.get("witness")
        except (ValueError, KeyError, TypeError, IndexError, StopIteration):
            return
        target = self.path / network_file(epoch)
        try:
            atomic_write_bytes(target, nr.record_bytes(record))
        except OSError as err:
            self.error = RunStoreError(f"cannot write {target}: {err.strerror or err}")
            return
        self._queue.append(NetworkSaved(epoch))
        self._wake.set()

    def _kernels_on_disk(self) -> list[np.ndarray] | None:
        try:
            with np.load(self.path / CHECKPOINT, allow_pickle=False) as npz:
                return nr.kernels({k: npz[k] for k in npz.files if not k.startswith("o")})
        except (OSError, ValueError, KeyError, StopIteration, zipfile.BadZipFile):
            return None

    def wait_for_checkpoint(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None

    def save_model(self, save: Callable[[Path], None]) -> None:
        try:
            atomic_save(self.model_path, save)
        except OSError as err:
            raise RunStoreError(f"cannot write {self.model_path}: {err.strerror or err}") from err

    def close(self) -> None:
        """Write everything still queued, fsync, and stop the threads."""
        self.wait_for_checkpoint()
        self._closing = True
        self._wake.set()
        self._writer.join()
        self._drain(final=True)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------ writer thread
    def _write_loop(self) -> None:
        while not self._closing:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self._drain()
            now = time.monotonic()
            if now - self._last_beat >= HEARTBEAT_SECONDS:
                self._last_beat = now
                heartbeat(self.path)

    def _drain(self, final: bool = False) -> None:
        if self.error is not None:
            self._queue.clear()
            return
        lines: list[str] = []
        durable = final
        try:
            while self._queue:
                event = self._queue.popleft()
                if type(event) is not BatchEnd:
                    durable |= self._before_line(event, lines)
                lines.append(encode(event))
            self._write(lines)
            if durable or (lines and time.monotonic() - self._last_fsync >= FSYNC_SECONDS):
                os.fsync(self._fd)
                self._last_fsync = time.monotonic()
        except OSError as err:
            self.error = RunStoreError(f"cannot write {self.path / LOG}: {err.strerror or err}")
        except RunStoreError as err:
            self.error = err

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        lines.clear()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _before_line(self, event: Event, pending: list[str]) -> bool:
        """Side files of ``event``, written before its line. Returns whether to fsync."""
        if isinstance(event, DataReady):
            self._data = event
            if event.x_test is not None and event.y_test is not None:
                self._side_file(TEST_SET, npz_bytes({"x_test": event.x_test, "y_test": event.y_test,
                                                     "class_names": np.array(event.class_names)}, compressed=True))
        elif isinstance(event, Predictions):
            if event.probabilities is not None:
                self._side_file(predictions_file(event.epoch), npy_bytes(event.probabilities.astype(np.float16)))
        elif isinstance(event, EpochEnd):
            return True
        elif isinstance(event, RunFinished):
            self._write(pending)  # every row before the summary
            self._side_file(SUMMARY, None, summary=self.summary(event))
            return True
        return False

    def _side_file(self, name: str, data: bytes | None, summary: dict[str, Any] | None = None) -> None:
        target = self.path / name
        try:
            if summary is not None:
                atomic_write_json(target, summary)
            else:
                atomic_write_bytes(target, data or b"")
        except OSError as err:
            raise RunStoreError(f"cannot write {target}: {err.strerror or err}") from err

    # ------------------------------------------------------------------ summary
    def summary(self, fin: RunFinished) -> dict[str, Any]:
        data = self._data
        return {
            "status": fin.status,
            "reason": fin.reason,
            "preset": self.cfg.preset,
            "config": self.cfg.to_dict(),
            "dataset": None if data is None else {
                "name": self.cfg.dataset, "source": data.source, "n_train": data.n_train,
                "n_val": data.n_val, "n_test": data.n_test, "validation": data.validation,
                "class_names": list(data.class_names),
            },
            "epochs_completed": fin.epochs_completed,
            "evaluated": fin.evaluated,
            "test_loss": _finite_or_none(fin.test_loss),
            "test_accuracy": _finite_or_none(fin.test_accuracy),
            "per_class_accuracy": [_finite_or_none(a) for a in fin.per_class_accuracy],
            "confusion_matrix": [list(row) for row in fin.confusion],
            "epochs": [
                {"epoch": e.epoch, "loss": _finite_or_none(e.loss), "accuracy": _finite_or_none(e.accuracy),
                 "val_loss": _finite_or_none(e.val_loss), "val_accuracy": _finite_or_none(e.val_accuracy),
                 "seconds": round(e.seconds, 3)}
                for e in self._epochs
            ],
            "timings": {
                "started": self.started.isoformat(timespec="seconds"),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "train_seconds": round(fin.train_seconds, 3),
                "total_seconds": round(fin.total_seconds, 3),
            },
            "model_file": self.model_path.name if self.model_path.exists() else None,
        }
