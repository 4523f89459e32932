"""The run store: every run directory under one parent, listed, read, exported and deleted.

There is no database: the run directories ``RunRecorder`` writes are the store. A run is
finished when its summary.json exists (written last, atomically); without one, run.json's
owner process tells a live run ("running") from a crashed or killed one ("incomplete"),
whose completed epochs are still in metrics.csv. Nothing here raises on a broken run: a
store shared by the app, the CLI and killed processes must always list.

Imports only the standard library and NumPy (no Textual, no TensorFlow), so the CLI's
``runs`` commands answer at once.
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
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.runs.rundir import METRICS_COLUMNS, RunStoreError, atomic_write_bytes, boot_id, proc_stat

FINAL_STATUSES = ("done", "stopped", "failed")
RUNNING, INCOMPLETE = "running", "incomplete"
RUN_MARKERS = ("config.json", "run.json", "metrics.csv", "summary.json")
MODEL_FILES = ("model.keras", "model.npz")
INT_COLUMNS = frozenset({"epoch", "step", "steps", "seen"})
EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True)
class RunInfo:
    """One run as listed: what the Runs screen and ``runs list`` show."""

    id: str  # the directory name
    path: Path
    preset: str
    config: dict[str, Any]
    status: str  # done | stopped | failed | running | incomplete
    started: str  # ISO 8601 with UTC offset; "" when unknown
    duration_s: float | None  # total seconds (summary), else training seconds so far (metrics.csv)
    test_accuracy: float | None
    epochs_completed: int
    model_file: Path | None
    reason: str = ""  # why it stopped, failed or is incomplete

    def to_json(self) -> dict[str, Any]:
        """JSON-safe fields, for ``runs list --json``."""
        return {
            "id": self.id, "path": str(self.path), "status": self.status, "reason": self.reason,
            "preset": self.preset, "started": self.started, "duration_s": self.duration_s,
            "test_accuracy": self.test_accuracy, "epochs_completed": self.epochs_completed,
            "model_file": str(self.model_file) if self.model_file else None, "config": self.config,
        }


# ----------------------------------------------------------------------------- listing
def is_run_dir(path: Path) -> bool:
    """A directory holding any file RunRecorder writes (config.json comes first, atomically)."""
    return path.is_dir() and not path.name.startswith(".") and any((path / m).is_file() for m in RUN_MARKERS)


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunInfo]:
    """Every run under ``runs_dir``, newest first; other entries are skipped, broken runs listed."""
    root = Path(runs_dir).expanduser()
    try:
        entries = list(root.iterdir())
    except OSError:  # missing or unreadable: an empty store, not an error
        return []
    runs = []
    for path in entries:
        try:
            if not is_run_dir(path):
                continue
        except OSError:
            continue
        runs.append(load_run(path))
    return sort_runs(runs, "started")


def load_run(path: Path) -> RunInfo:
    """Read one run directory; never raises, whatever state a crash left it in."""
    try:
        return _load_run(path)
    except Exception as err:  # a run the store cannot make sense of must still be listed
        return RunInfo(path.name, path, _preset_from_name(path.name), {}, INCOMPLETE, _mtime_iso(path), None,
                       None, 0, None, f"unreadable: {type(err).__name__}: {err}")


def _load_run(path: Path) -> RunInfo:
    config = _read_json(path / "config.json")
    owner = _read_json(path / "run.json")
    summary = _read_json(path / "summary.json")
    config = config if isinstance(config, dict) else {}
    owner = owner if isinstance(owner, dict) else {}
    summary = summary if isinstance(summary, dict) else None
    if not config and summary and isinstance(summary.get("config"), dict):
        config = summary["config"]
    timings = summary.get("timings") if summary and isinstance(summary.get("timings"), dict) else {}
    started = _str(owner.get("started")) or _str(timings.get("started")) or _mtime_iso(path)
    preset = _str(config.get("preset")) or _str((summary or {}).get("preset")) or _preset_from_name(path.name)

    if summary is not None and summary.get("status") in FINAL_STATUSES:
        status, reason = summary["status"], _str(summary.get("reason"))
        duration = _number(timings.get("total_seconds"))
        accuracy = _number(summary.get("test_accuracy"))
        epochs = summary.get("epochs_completed")
        epochs = epochs if isinstance(epochs, int) else _count_epoch_rows(path)
        named = _str(summary.get("model_file"))
        model = path / named if named and (path / named).is_file() else None
    else:
        if (path / "summary.json").exists():
            status, reason = INCOMPLETE, "summary.json is unreadable"
        elif owner_alive(owner):
            status, reason = RUNNING, ""
        else:
            status, reason = INCOMPLETE, "no summary: the process ended before the run finished (crash or kill)"
        duration, accuracy = _last_elapsed(path), None
        epochs = _count_epoch_rows(path)
        model = next((path / m for m in MODEL_FILES if (path / m).is_file()), None)
    return RunInfo(path.name, path, preset, config, status, started, duration, accuracy, epochs, model, reason)


def owner_alive(owner: dict[str, Any]) -> bool:
    """Whether run.json's process is still alive on this host (and is the same process)."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
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


def _read_json(path: Path) -> Any:
    """The parsed file, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _mtime_iso(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    except OSError:
        return ""


def _preset_from_name(name: str) -> str:
    """``20261122-101530-mlp-small-2`` → ``mlp-small``: the best guess without config.json."""
    parts = name.split("-")[2:]
    if parts and parts[-1].isdigit():
        parts = parts[:-1]
    return "-".join(parts) or "?"


def _metrics_bytes(path: Path) -> bytes:
    """metrics.csv up to its last complete line (a kill can leave half a line)."""
    try:
        data = (path / "metrics.csv").read_bytes()
    except OSError:
        return b""
    return data[: data.rfind(b"\n") + 1]


_EPOCH_COUNTS: dict[Path, tuple[tuple[int, int], int]] = {}


def _count_epoch_rows(path: Path) -> int:
    """Epoch rows in metrics.csv, cached by (mtime, size): the Runs tab lists on the UI thread,
    and a long crashed run's metrics can be many megabytes."""
    try:
        st = (path / "metrics.csv").stat()
    except OSError:
        return 0
    key = (st.st_mtime_ns, st.st_size)
    cached = _EPOCH_COUNTS.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    count = _metrics_bytes(path).count(b"\nepoch,")
    _EPOCH_COUNTS[path] = (key, count)
    return count


def _last_elapsed(path: Path) -> float | None:
    """Training seconds at the last flushed row: the duration of a run without a summary."""
    try:
        with open(path / "metrics.csv", "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            tail = fh.read()
    except OSError:
        return None
    lines = tail[: tail.rfind(b"\n") + 1].splitlines()
    if len(lines) < 2:
        return None  # the header at most
    try:
        value = float(lines[-1].rsplit(b",", 1)[1])
    except (IndexError, ValueError):
        return None
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------- sorting
def _started_key(run: RunInfo) -> float:
    try:
        return datetime.fromisoformat(run.started).timestamp()
    except ValueError:
        return 0.0


# key → (value or None, descending by default). None values always sort last.
SORTS: dict[str, tuple[Callable[[RunInfo], Any], bool]] = {
    "started": (_started_key, True),
    "accuracy": (lambda r: r.test_accuracy, True),
    "duration": (lambda r: r.duration_s, False),
    "preset": (lambda r: r.preset, False),
    "status": (lambda r: r.status, False),
    "epochs": (lambda r: r.epochs_completed, True),
    "batch": (lambda r: _config_number(r, "batch_size"), False),
    "lr": (lambda r: _config_number(r, "learning_rate"), False),
    "optimizer": (lambda r: _str(r.config.get("optimizer")) or None, False),
    "id": (lambda r: r.id, False),
}
SORT_KEYS = tuple(SORTS)


def _config_number(run: RunInfo, name: str) -> float | None:
    return _number(run.config.get(name))


def sort_runs(runs: Iterable[RunInfo], key: str = "started", descending: bool | None = None) -> list[RunInfo]:
    """Runs ordered by ``key`` (see ``SORT_KEYS``), ties newest first, unknown values last."""
    if key not in SORTS:
        raise RunStoreError(f"unknown sort key {key!r} (choose from {', '.join(SORT_KEYS)})")
    value, default_desc = SORTS[key]
    desc = default_desc if descending is None else descending
    newest_first = sorted(runs, key=lambda r: (_started_key(r), r.id), reverse=True)
    known = [r for r in newest_first if value(r) is not None]
    unknown = [r for r in newest_first if value(r) is None]
    known.sort(key=value, reverse=desc)  # stable: ties keep newest first
    return known + unknown


# ----------------------------------------------------------------------------- lookup
def resolve_run(runs_dir: str | os.PathLike[str], run_id: str) -> RunInfo:
    """The run whose id is ``run_id`` or, failing that, the only one it prefixes."""
    runs = list_runs(runs_dir)
    if not run_id:
        raise RunStoreError("empty run id")
    for run in runs:
        if run.id == run_id:
            return run
    matches = [r for r in runs if r.id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunStoreError(f"no run '{run_id}' in {runs_dir} (see: mnist-tui runs list)")
    shown = ", ".join(r.id for r in matches[:3]) + (", …" if len(matches) > 3 else "")
    raise RunStoreError(f"run id '{run_id}' is ambiguous: {len(matches)} runs match ({shown})")


def _run_path(run: RunInfo | str | os.PathLike[str]) -> Path:
    return run.path if isinstance(run, RunInfo) else Path(run)


# ----------------------------------------------------------------------------- metrics
def read_rows(run: RunInfo | str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    """metrics.csv as (header, rows of strings); a torn last line and ragged rows are dropped."""
    path = _run_path(run)
    if not path.is_dir():
        raise RunStoreError(f"{path} is not a run directory")
    text = _metrics_bytes(path).decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or list(METRICS_COLUMNS)
    if "kind" not in header:
        raise RunStoreError(f"{path / 'metrics.csv'}: not a metrics file (no 'kind' column)")
    width = len(header)
    return header, [row for row in reader if len(row) == width]


def _float_or_nan(value: str) -> float:
    try:
        return float(value) if value else math.nan
    except ValueError:
        return math.nan


def _table_fast(lines: list[str], width: int) -> np.ndarray | None:
    """Parse numeric CSV lines in C (~10× faster than csv + float); None if any line is odd."""
    if not lines:
        return np.empty((0, width))
    body = ",".join(lines)
    body = body.replace(",,", ",nan,").replace(",,", ",nan,")  # two passes fill runs of empty cells
    if body.startswith(","):
        body = "nan" + body
    if body.endswith(","):
        body += "nan"
    try:
        with warnings.catch_warnings():  # older NumPy warns on unparsed text, newer raises
            warnings.simplefilter("ignore")
            flat = np.fromstring(body, sep=",")
    except ValueError:
        return None
    return flat.reshape(len(lines), width) if flat.size == len(lines) * width else None


def _table_slow(lines: list[str], header: list[str], name: str) -> np.ndarray:
    """The careful path: ragged rows dropped, a garbage cell becomes NaN."""
    kind = header.index("kind")
    rows = [[_float_or_nan(v) for i, v in enumerate(r) if i != kind]
            for r in csv.reader(lines) if len(r) == len(header) and r[kind] == name]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(header) - 1)


def _read_lines(run: RunInfo | str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """(header, data lines) of metrics.csv: complete lines only, the csv module not involved."""
    path = _run_path(run)
    if not path.is_dir():
        raise RunStoreError(f"{path} is not a run directory")
    lines = _metrics_bytes(path).decode("utf-8", errors="replace").split("\n")[:-1]
    header = next(csv.reader(lines[:1]), None) or list(METRICS_COLUMNS)
    if "kind" not in header:
        raise RunStoreError(f"{path / 'metrics.csv'}: not a metrics file (no 'kind' column)")
    return header, [ln for ln in lines[1:] if ln]


def read_metrics(run: RunInfo | str | os.PathLike[str]) -> dict[str, Any]:
    """Parsed metrics.csv: ``batches`` and ``epochs`` map each column (but kind) to a float64
    array (empty cell → NaN), in file order; also ``columns`` and the row counts.

    A torn last line (a kill mid-write) and ragged rows are dropped. 100k rows take ~0.3 s.
    """
    header, lines = _read_lines(run)
    columns = [c for c in header if c != "kind"]
    out: dict[str, Any] = {"columns": header}
    for name, plural in (("batch", "batches"), ("epoch", "epochs")):
        table = None
        if header[0] == "kind":  # as RunRecorder writes it: the C fast path applies
            prefix = name + ","
            table = _table_fast([ln[len(prefix):] for ln in lines if ln.startswith(prefix)], len(columns))
        if table is None:
            table = _table_slow(lines, header, name)
        out[plural] = {col: table[:, i].copy() for i, col in enumerate(columns)}
        out[f"n_{plural}"] = len(table)
    return out


def epoch_positions(batches: dict[str, np.ndarray]) -> np.ndarray:
    """x for each batch row in epochs (epoch − 1 + step/steps): runs with different batch sizes align."""
    epoch, step, steps = batches["epoch"], batches["step"], batches["steps"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (epoch - 1) + step / np.where(steps > 0, steps, np.nan)


# ----------------------------------------------------------------------------- export
def _cell(column: str, value: str) -> int | float | None:
    if value == "":
        return None
    try:
        if column in INT_COLUMNS:
            return int(value)
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def export_text(run: RunInfo | str | os.PathLike[str], fmt: str) -> str:
    """A run's metrics as CSV (metrics.csv's complete rows) or JSON (config, summary, rows)."""
    if fmt not in EXPORT_FORMATS:
        raise RunStoreError(f"unknown export format {fmt!r} (choose csv or json)")
    header, rows = read_rows(run)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()
    path = _run_path(run)
    info = run if isinstance(run, RunInfo) else load_run(path)
    kind = header.index("kind")
    records: dict[str, list[dict[str, Any]]] = {"batch": [], "epoch": []}
    for row in rows:
        if row[kind] in records:
            records[row[kind]].append({c: _cell(c, v) for i, (c, v) in enumerate(zip(header, row, strict=True))
                                       if i != kind})
    head = {
        "id": info.id, "status": info.status, "reason": info.reason, "started": info.started,
        "config": info.config, "summary": _read_json(path / "summary.json"),
    }
    # One row per line: readable and greppable, a third the size of an indented dump.
    parts = [json.dumps(head, indent=1, allow_nan=False)[:-2]]
    for key, items in (("batches", records["batch"]), ("epochs", records["epoch"])):
        body = ",\n  ".join(json.dumps(r, allow_nan=False, separators=(",", ":")) for r in items)
        parts.append(f',\n "{key}": [' + (f"\n  {body}\n ]" if items else "]"))
    return "".join(parts) + "\n}\n"


def export_run(
    run: RunInfo | str | os.PathLike[str], fmt: str, out: str | os.PathLike[str] | None = None
) -> Path | str:
    """Export ``run`` as ``fmt``: the text itself when ``out`` is None, else written atomically to ``out``."""
    text = export_text(run, fmt)
    if out is None:
        return text
    target = Path(out).expanduser()
    try:
        atomic_write_bytes(target, text.encode("utf-8"))
    except OSError as err:
        raise RunStoreError(f"cannot write {target}: {err.strerror or err}") from err
    return target


# ----------------------------------------------------------------------------- delete
def delete_run(run: RunInfo | str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None) -> None:
    """Remove a run directory, refusing anything that is not a finished run inside ``runs_dir``
    (default: the run's own parent) so a bad id or path can never delete other files."""
    path = _run_path(run)
    if path.is_symlink() or not is_run_dir(path):
        raise RunStoreError(f"{path} is not a run directory")
    if runs_dir is not None and path.resolve().parent != Path(runs_dir).expanduser().resolve():
        raise RunStoreError(f"{path} is not inside the run store {runs_dir}")
    if load_run(path).status == RUNNING:
        raise RunStoreError(f"run {path.name} is still running; stop it first")
    try:
        shutil.rmtree(path)
    except OSError as err:
        raise RunStoreError(f"cannot delete {path}: {err.strerror or err}") from err


# ----------------------------------------------------------------------------- display
def format_accuracy(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_started(iso: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time shown in the local time zone."""
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(iso).astimezone().strftime(fmt)
    return iso or "—"


def format_epochs(run: RunInfo) -> str:
    total = run.config.get("epochs")
    return f"{run.epochs_completed}/{total}" if isinstance(total, int) else str(run.epochs_completed)


def format_config(run: RunInfo, name: str) -> str:
    value = run.config.get(name)
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None else str(value)
