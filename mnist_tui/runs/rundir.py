"""The run directory: its layout, its marker, crash-safe writes, and the process that owns it.

A run directory is the whole record of a run and the whole protocol between its trainer and
any number of followers (the app, ``attach``, ``runs list``), on this machine or another one
over a shared filesystem::

    config.json        the full config (atomic)
    run.json           the marker (format + version) and the owner: pid, host, process start,
                       boot id; its mtime is the trainer's heartbeat
    events.jsonl       every event, one line each, append-only (mnist_tui.events codec)
    test-set.npz       the test images and labels the predictions refer to
    predictions/       epoch-NNNN.npy: float16 softmax outputs of every completed epoch
    checkpoint.npz     weights + optimizer state at the last checkpointed epoch end (resume)
    checkpoint-initial.npz  the weights before the first step (the loss landscape's start)
    network/           epoch-NNNN.npz: what the layers hold at each epoch end, 0 = initial
                       (mnist_tui.models.network_record)
    model.keras|.npz   the final model (the last completed batch), written at the end
    summary.json       written last: status, test figures, confusion matrix, timings
    control/           requests from followers, polled by the trainer (mnist_tui.runs.control)
    trainer.log        the trainer process's own output when it runs in the background

Only the owner may read or control a run: directories are 0700, files 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist_tui.config import TrainConfig
from mnist_tui.errors import MnistTuiError

RUN_FORMAT = "mnist-tui-run"
RUN_FORMAT_VERSION = 2
CONFIG, OWNER, LOG, SUMMARY = "config.json", "run.json", "events.jsonl", "summary.json"
TEST_SET, PREDICTIONS, CHECKPOINT, CONTROL, TRAINER_LOG = (
    "test-set.npz", "predictions", "checkpoint.npz", "control", "trainer.log")
NETWORK, INITIAL_CHECKPOINT = "network", "checkpoint-initial.npz"
MODEL_FILES = ("model.keras", "model.npz")
DIR_MODE, FILE_MODE = 0o700, 0o600


class RunStoreError(MnistTuiError):
    """The run directory cannot be written (read-only, disk full, ...), or a stored run
    cannot be found, read or deleted."""


def default_runs_dir() -> Path:
    """Where runs go unless told otherwise: the XDG data directory."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "mnist-tui" / "runs"


def predictions_file(epoch: int) -> str:
    return f"{PREDICTIONS}/epoch-{epoch:04d}.npy"


def network_file(epoch: int) -> str:
    return f"{NETWORK}/epoch-{epoch:04d}.npz"


def model_file(preset: str) -> str:
    return "model.npz" if preset == "scratch" else "model.keras"


# ----------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write to a temp file beside ``path`` then rename, so readers never see half a file.
    The file is 0600 (a run's files are its owner's only) unless ``mode`` says otherwise."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_output(target: Path, data: bytes) -> Path:
    """Write ``data`` to a path the user named, never destroying what is there.

    A regular file (or a new one) is replaced atomically, keeping its permissions; a
    symlink is followed, so the link survives; a character device or a FIFO (``/dev/null``,
    ``/dev/full``, a pipe someone reads) is written through, never replaced by a file;
    anything else is refused. Returns the path written.
    """
    import stat as st

    try:
        real = target.resolve() if target.is_symlink() else target
        info = real.stat()
    except FileNotFoundError:
        atomic_write_bytes(target, data)
        return target
    except RuntimeError as err:  # a symlink loop (Python 3.11)
        raise OSError(40, f"symlink loop ({err})") from None
    mode = info.st_mode
    if st.S_ISREG(mode):
        atomic_write_bytes(real, data, mode=st.S_IMODE(mode))
        return real
    if st.S_ISCHR(mode) or st.S_ISFIFO(mode):
        try:
            fd = os.open(real, os.O_WRONLY | os.O_NONBLOCK)  # a FIFO nobody reads: ENXIO, not a hang
        except OSError as err:
            if err.errno == 6:  # ENXIO
                raise OSError(err.errno, "no process is reading that FIFO") from None
            raise
        try:
            os.set_blocking(fd, True)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return real
    kind = "a directory" if st.S_ISDIR(mode) else "not a regular file, device or FIFO"
    raise OSError(21 if st.S_ISDIR(mode) else 22, f"is {kind}")


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n").encode())


def atomic_save(path: Path, save: Callable[[Path], None]) -> None:
    """Let ``save`` write a temp path with the same suffix (Keras insists on it), then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        save(Path(tmp))
        os.chmod(tmp, FILE_MODE)
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


def read_json(path: Path) -> Any:
    """The parsed file, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- the owner
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


def owner_record(pid: int | None = None, started: datetime | None = None) -> dict[str, Any]:
    """The content of run.json: the marker, and which process on which host owns the run."""
    pid = os.getpid() if pid is None else pid
    started = started or datetime.now(timezone.utc)
    return {"format": RUN_FORMAT, "version": RUN_FORMAT_VERSION, "pid": pid, "host": socket.gethostname(),
            "started": started.isoformat(timespec="seconds"), "proc_start": process_start_ticks(pid),
            "boot_id": boot_id()}


def is_marker(owner: Any) -> bool:
    """Whether a parsed run.json is the marker this project writes."""
    return isinstance(owner, dict) and owner.get("format") == RUN_FORMAT and isinstance(owner.get("version"), int)


def pid_alive(owner: dict[str, Any]) -> bool | None:
    """Whether run.json's process is alive: True/False on its own host, None elsewhere
    (the caller then judges by the heartbeat)."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname():
        return None
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # another user's live process
    except OSError:
        return False
    stat = proc_stat(pid)
    if stat is None:
        return True  # no /proc: trust the signal probe
    state, start_ticks = stat
    if state in ("Z", "X"):
        return False  # killed but not yet reaped
    recorded_boot = owner.get("boot_id")
    if recorded_boot and recorded_boot != boot_id():
        return False
    recorded_start = owner.get("proc_start")
    return not (isinstance(recorded_start, int) and recorded_start != start_ticks)  # else: pid reused


HEARTBEAT_SECONDS = 1.0  # the trainer touches run.json this often
REMOTE_DEAD_SECONDS = 30.0  # a run on another host whose heartbeat is older than this is gone


def heartbeat(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path / OWNER)


def owner_alive(path: Path, owner: dict[str, Any] | None = None) -> bool:
    """Whether the run's trainer still lives: by pid on this host, by heartbeat elsewhere."""
    owner = read_json(path / OWNER) if owner is None else owner
    if not isinstance(owner, dict):
        return False
    alive = pid_alive(owner)
    if alive is not None:
        return alive
    try:
        age = time.time() - (path / OWNER).stat().st_mtime
    except OSError:
        return False
    return age < REMOTE_DEAD_SECONDS


# ----------------------------------------------------------------------------- creation
def create_run_dir(parent: str | os.PathLike[str], cfg: TrainConfig, owner_pid: int | None = None) -> Path:
    """Make ``<parent>/<YYYYmmdd-HHMMSS>-<preset>[-n]/`` with its config and marker.

    ``owner_pid`` is the process that will train it (a launcher hands the directory to a
    warm trainer it started); the trainer rewrites run.json when it takes over.
    """
    parent = Path(parent).expanduser()
    path: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        started = datetime.now(timezone.utc)
        path = _unique_dir(parent, started, cfg.preset)
        atomic_write_json(path / CONFIG, cfg.to_dict())
        atomic_write_json(path / OWNER, owner_record(owner_pid, started))
        (path / CONTROL).mkdir(mode=DIR_MODE)
    except OSError as err:
        if path is not None:
            import shutil

            shutil.rmtree(path, ignore_errors=True)  # a half-made run dir would list as a run
        raise RunStoreError(f"cannot write run directory under {parent}: {err.strerror or err}") from err
    return path


def _unique_dir(parent: Path, started: datetime, preset: str) -> Path:
    stamp = started.astimezone().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = parent / (f"{stamp}-{preset}" + (f"-{n}" if n else ""))
        try:
            path.mkdir(mode=DIR_MODE)
            os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
            return path
        except FileExistsError:
            continue
    raise RunStoreError(f"cannot find a free run directory name in {parent}")


def read_config(path: Path) -> TrainConfig:
    """The run's config.json as a validated config (a RunStoreError names what is wrong)."""
    from mnist_tui.config import config_from_mapping
    from mnist_tui.errors import ConfigError

    raw = read_json(path / CONFIG)
    if not isinstance(raw, dict):
        raise RunStoreError(f"{path / CONFIG}: missing or not a JSON object")
    try:
        return config_from_mapping(raw)
    except ConfigError as err:
        raise RunStoreError(f"{path / CONFIG}: {err}") from None
