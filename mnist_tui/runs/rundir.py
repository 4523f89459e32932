"""The run directory: config.json, run.json (owner pid), metrics.csv (every batch), summary.json
and the model.

Writes are crash-safe: JSON files and the model go through a temp file + ``os.replace``;
metrics.csv is append-only and flushed at every epoch end, every few seconds and at the end,
so a killed process leaves every completed batch up to the last flush readable.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist_tui.config import TrainConfig
from mnist_tui.errors import MnistTuiError
from mnist_tui.training.events import BatchEnd, DataReady, EpochEnd, Event, RunFinished

METRICS_COLUMNS = (
    "kind",  # batch | epoch
    "epoch",
    "step",
    "steps",
    "seen",
    "loss_running_mean",  # Keras's logs['loss']: mean since the start of the epoch
    "accuracy_running_mean",
    "batch_loss",  # this batch's own value, recovered from the running means
    "batch_accuracy",
    "val_loss",
    "val_accuracy",
    "samples_per_sec",
    "elapsed_s",
)
FLUSH_SECONDS = 5.0


class RunStoreError(MnistTuiError):
    """The run directory cannot be written (read-only, disk full, ...), or a stored run
    cannot be found, read or deleted."""


def default_runs_dir() -> Path:
    """Where runs go unless told otherwise: the XDG data directory."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "mnist-tui" / "runs"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path`` then rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; a run's files are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n").encode())


def atomic_save(path: Path, save: Callable[[Path], None]) -> None:
    """Let ``save`` write a temp path with the same suffix (Keras insists on it), then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        save(Path(tmp))
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _num(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6g}"


def _finite_or_none(value: float) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def proc_stat(pid: int | str = "self") -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) from /proc (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def process_start_ticks(pid: int | str = "self") -> int | None:
    """The process start time, to detect a reused pid."""
    stat = proc_stat(pid)
    return None if stat is None else stat[1]


def boot_id() -> str | None:
    """Changes at every reboot (Linux); with the start ticks, pins down one process."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def run_owner(started: datetime) -> dict[str, Any]:
    """The content of run.json: which process on which host writes the run, since when."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started.isoformat(timespec="seconds"),
            "proc_start": process_start_ticks(), "boot_id": boot_id()}


class RunRecorder:
    """An event listener that keeps a run directory up to date as training goes."""

    def __init__(self, parent: str | os.PathLike[str], cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.started = datetime.now(timezone.utc)
        parent = Path(parent).expanduser()
        self.path = None  # type: ignore[assignment]
        self._metrics = None  # type: ignore[assignment]
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = self._make_unique_dir(parent)
            atomic_write_json(self.path / "config.json", cfg.to_dict())
            # Who owns the run: lets the store tell "still running" from "crashed / killed"
            # while summary.json (written last) is missing.
            atomic_write_json(self.path / "run.json", run_owner(self.started))
            self._metrics = open(self.path / "metrics.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._metrics.write(",".join(METRICS_COLUMNS) + "\n")
            self._metrics.flush()
        except OSError as err:
            # Leave nothing behind: a half-made run dir would list as "running" while we live.
            if self._metrics is not None:
                self._metrics.close()
            if self.path is not None:
                shutil.rmtree(self.path, ignore_errors=True)
            raise RunStoreError(f"cannot write run directory under {parent}: {err.strerror or err}") from err
        self._pending: list[BatchEnd | EpochEnd] = []
        self._last_flush = time.monotonic()
        self._data: DataReady | None = None
        self._epochs: list[EpochEnd] = []

    def _make_unique_dir(self, parent: Path) -> Path:
        stamp = self.started.astimezone().strftime("%Y%m%d-%H%M%S")
        for n in range(1000):
            path = parent / (f"{stamp}-{self.cfg.preset}" + (f"-{n}" if n else ""))
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise RunStoreError(f"cannot find a free run directory name in {parent}")

    @property
    def model_path(self) -> Path:
        return self.path / ("model.npz" if self.cfg.preset == "scratch" else "model.keras")

    def __call__(self, event: Event) -> None:
        """Hot path for BatchEnd: one list append and one clock read."""
        if isinstance(event, BatchEnd):
            self._pending.append(event)
            if time.monotonic() - self._last_flush > FLUSH_SECONDS:
                self.flush()
        elif isinstance(event, EpochEnd):
            self._pending.append(event)
            self._epochs.append(event)
            self.flush()
        elif isinstance(event, DataReady):
            self._data = event
        elif isinstance(event, RunFinished):
            self.flush()
            self.write_summary(event)

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending or self._metrics.closed:
            return
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for ev in self._pending:
            if isinstance(ev, BatchEnd):
                writer.writerow((
                    "batch", ev.epoch, ev.step, ev.steps, ev.seen, _num(ev.loss), _num(ev.accuracy),
                    _num(ev.batch_loss), _num(ev.batch_accuracy), "", "", f"{ev.samples_per_sec:.1f}",
                    f"{ev.elapsed:.3f}",
                ))
            else:
                writer.writerow((
                    "epoch", ev.epoch, "", "", "", _num(ev.loss), _num(ev.accuracy), "", "",
                    _num(ev.val_loss), _num(ev.val_accuracy), "", f"{ev.seconds:.3f}",
                ))
        self._pending.clear()
        try:
            self._metrics.write(buf.getvalue())
            self._metrics.flush()
            os.fsync(self._metrics.fileno())
        except OSError as err:
            raise RunStoreError(f"cannot write {self.path / 'metrics.csv'}: {err.strerror or err}") from err

    def write_summary(self, fin: RunFinished) -> None:
        data = self._data
        summary = {
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
        try:
            atomic_write_json(self.path / "summary.json", summary)
        except OSError as err:
            raise RunStoreError(f"cannot write {self.path / 'summary.json'}: {err.strerror or err}") from err

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._metrics.close()
