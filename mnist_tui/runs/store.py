"""The run store: every run directory under one parent, listed, read, exported and deleted.

There is no database: the run directories are the store, and a directory is a run only when
it carries run.json's marker. A run is finished when its summary.json exists (written last,
atomically); without one, run.json's owner process tells a live run ("running") from a
crashed or killed one ("incomplete"), whose flushed rows are still in its log. Nothing here
raises on a broken run: a store shared by the app, the CLI and killed processes must always
list.

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
import re
import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.events import (
    BATCH_FIELDS,
    BATCH_PREFIX,
    EPOCH_FIELDS,
    EPOCH_PREFIX,
    FINAL_STATUSES,
    BatchEnd,
    EpochEnd,
    decode,
    decode_numeric,
)
from mnist_tui.runs import milestones
from mnist_tui.runs.follow import LogReader, abandoned, counted
from mnist_tui.runs.rundir import (
    CONFIG,
    LOG,
    MODEL_FILES,
    OWNER,
    SUMMARY,
    RunStoreError,
    is_marker,
    owner_alive,
    read_json,
    write_output,
)

RUNNING, INCOMPLETE = "running", "incomplete"
INT_COLUMNS = frozenset({"epoch", "step", "steps", "seen", "abandoned"})
EXPORT_FORMATS = ("csv", "json")
# The CSV export's columns: one row per batch and per epoch, as spreadsheets and pandas want them.
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
    "abandoned",  # 1: a row of an attempt a resume abandoned (kept, not counted as trained)
)


@dataclass(frozen=True)
class RunInfo:
    """One run as listed: what the Runs screen and ``runs list`` show."""

    id: str  # the directory name
    path: Path
    preset: str
    config: dict[str, Any]
    status: str  # done | stopped | failed | running | incomplete
    started: str  # ISO 8601 with UTC offset; "" when unknown
    duration_s: float | None  # total seconds (summary), else training seconds so far (the log)
    test_accuracy: float | None
    epochs_completed: int
    model_file: Path | None
    reason: str = ""  # why it stopped, failed or is incomplete
    progress: str = ""  # a running run: "epoch 2/5 · step 40/157"
    evaluated: bool = True  # False: a stop skipped the final test evaluation
    watchers: int | None = None  # a running run: how many apps follow it (None: unknown, another host)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe fields, for ``runs list --json``."""
        return {
            "id": self.id, "path": str(self.path), "status": self.status, "reason": self.reason,
            "preset": self.preset, "started": self.started, "duration_s": self.duration_s,
            "test_accuracy": self.test_accuracy, "evaluated": self.evaluated,
            "epochs_completed": self.epochs_completed, "progress": self.progress, "watchers": self.watchers,
            "model_file": str(self.model_file) if self.model_file else None, "config": self.config,
            # training seconds and samples seen to 97/98/99 % validation accuracy (null: not reached)
            "time_to_accuracy": milestones.to_json(self.path),
        }


# ----------------------------------------------------------------------------- listing
def is_run_dir(path: Path) -> bool:
    """A directory carrying the marker this project writes (run.json with its format and
    version): nothing else is a run, however much it looks like one."""
    return (path.is_dir() and not path.is_symlink() and not path.name.startswith(".")
            and is_marker(read_json(path / OWNER)))


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
    config = read_json(path / CONFIG)
    owner = read_json(path / OWNER)
    summary = read_json(path / SUMMARY)
    config = config if isinstance(config, dict) else {}
    owner = owner if isinstance(owner, dict) else {}
    summary = summary if isinstance(summary, dict) else None
    if not config and summary and isinstance(summary.get("config"), dict):
        config = summary["config"]
    timings = summary.get("timings") if summary and isinstance(summary.get("timings"), dict) else {}
    started = _str(owner.get("started")) or _str(timings.get("started")) or _mtime_iso(path)
    preset = _str(config.get("preset")) or _str((summary or {}).get("preset")) or _preset_from_name(path.name)
    progress = ""
    evaluated = True
    watchers: int | None = None
    if summary is not None and summary.get("status") in FINAL_STATUSES:
        status, reason = summary["status"], _str(summary.get("reason"))
        duration = _number(timings.get("total_seconds"))
        accuracy = _number(summary.get("test_accuracy"))
        epochs = summary.get("epochs_completed")
        epochs = epochs if isinstance(epochs, int) else _count_epochs(path)
        evaluated = summary.get("evaluated", True) is not False
        named = _str(summary.get("model_file"))
        model = path / named if named and (path / named).is_file() else None
    else:
        if owner_alive(path, owner):
            status, reason = RUNNING, ""
        elif (path / SUMMARY).exists() and summary is None:
            status, reason = INCOMPLETE, "summary.json is unreadable"
        else:
            status, reason = INCOMPLETE, "no summary: the process ended before the run finished (crash or kill)"
        last = _last_batch(path)
        duration, accuracy = (last.elapsed if last else None), None
        epochs = _count_epochs(path)
        if status == RUNNING and last is not None:
            total = config.get("epochs") if isinstance(config.get("epochs"), int) else "?"
            progress = f"epoch {last.epoch}/{total} · step {last.step}/{last.steps}"
        if status == RUNNING:
            watchers = _live_watchers(owner)
        model = next((path / m for m in MODEL_FILES if (path / m).is_file()), None)
    return RunInfo(path.name, path, preset, config, status, started, duration, accuracy, epochs, model, reason,
                   progress, evaluated, watchers)


def _live_watchers(owner: dict[str, Any]) -> int | None:
    """How many of the apps that attached (run.json's watchers) still live; None on another host."""
    pids = owner.get("watchers", [])
    if owner.get("host") != socket.gethostname() or not isinstance(pids, list):
        return None
    alive = 0
    for pid in pids:
        if isinstance(pid, int) and pid > 0:
            try:
                os.kill(pid, 0)
                alive += 1
            except PermissionError:
                alive += 1
            except OSError:
                pass
    return alive


def owner_of(run: RunInfo) -> dict[str, Any]:
    owner = read_json(run.path / OWNER)
    return owner if isinstance(owner, dict) else {}


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


def _log_bytes(path: Path) -> bytes:
    """events.jsonl up to its last complete line (a kill can leave half a line)."""
    try:
        data = (path / LOG).read_bytes()
    except OSError:
        return b""
    return data[: data.rfind(b"\n") + 1]


_EPOCH_COUNTS: dict[Path, tuple[tuple[int, int], int]] = {}
_EPOCH_LINE = re.compile(rb'^\{"epoch":\[(\d+),', re.MULTILINE)


def _count_epochs(path: Path) -> int:
    """The highest completed epoch in the log (a resume redoes epochs under the same numbers),
    cached by (mtime, size): the Runs tab lists often, and a long run's log is megabytes."""
    try:
        st = (path / LOG).stat()
    except OSError:
        return 0
    key = (st.st_mtime_ns, st.st_size)
    cached = _EPOCH_COUNTS.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    count = max((int(m) for m in _EPOCH_LINE.findall(_log_bytes(path))), default=0)
    _EPOCH_COUNTS[path] = (key, count)
    return count


def _last_batch(path: Path) -> BatchEnd | None:
    """The last batch row in the log's tail: a running run's progress, a dead one's duration."""
    try:
        with open(path / LOG, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            tail = fh.read()
    except OSError:
        return None
    for line in reversed(tail[: tail.rfind(b"\n") + 1].splitlines()):
        if line.startswith(BATCH_PREFIX.encode()):
            with contextlib.suppress(ValueError):
                event = decode(line)
                if isinstance(event, BatchEnd):
                    return event
    return None


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
    "dataset": (lambda r: _str(r.config.get("dataset")) or None, False),
    "backend": (lambda r: format_backend(r) if format_backend(r) != "—" else None, False),
    "id": (lambda r: r.id, False),
    # time to 97/98/99 % validation accuracy, fastest first (not reached: last)
    **{f"to{milestones.key(t)}": ((lambda r, t=t: milestones.seconds_to(r.path, t)), False)
       for t in milestones.THRESHOLDS},
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


# ----------------------------------------------------------------------------- metrics
def _run_path(run: RunInfo | str | os.PathLike[str]) -> Path:
    return run.path if isinstance(run, RunInfo) else Path(run)


def read_metrics(run: RunInfo | str | os.PathLike[str]) -> dict[str, Any]:
    """The run's counted batch and epoch rows: ``batches`` and ``epochs`` map each field of
    BatchEnd / EpochEnd to a float64 array (NaN where the log has null), in order.

    A torn last line is left out; rows of attempts a resume abandoned are too. A log without
    resumes (the usual case) is parsed in C: 100k batches in well under a second.
    """
    path = _run_path(run)
    if not path.is_dir():
        raise RunStoreError(f"{path} is not a run directory")
    text = _log_bytes(path).decode("utf-8", errors="replace")
    lines = text.split("\n")[:-1]
    tables: dict[str, np.ndarray | None] = {"batches": None, "epochs": None}
    if sum(1 for ln in lines if ln.startswith('{"start":')) <= 1:
        for key, prefix, width in (("batches", BATCH_PREFIX, len(BATCH_FIELDS)),
                                   ("epochs", EPOCH_PREFIX, len(EPOCH_FIELDS))):
            tables[key] = decode_numeric([ln for ln in lines if ln.startswith(prefix)], prefix, width)
    if tables["batches"] is None or tables["epochs"] is None:  # resumes or odd lines: the careful path
        events = counted(LogReader(path).read_all())
        tables["batches"] = _table([e for e in events if type(e) is BatchEnd], BATCH_FIELDS)
        tables["epochs"] = _table([e for e in events if type(e) is EpochEnd], EPOCH_FIELDS)
    out: dict[str, Any] = {}
    for key, names in (("batches", BATCH_FIELDS), ("epochs", EPOCH_FIELDS)):
        table = tables[key]
        assert table is not None
        out[key] = {name: table[:, i].copy() for i, name in enumerate(names)}
        out[f"n_{key}"] = len(table)
    return out


def _table(events: list[Any], names: tuple[str, ...]) -> np.ndarray:
    rows = [[float(getattr(e, n)) for n in names] for e in events]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def epoch_positions(batches: dict[str, np.ndarray]) -> np.ndarray:
    """x for each batch row in epochs (epoch − 1 + step/steps): runs with different batch sizes align."""
    epoch, step, steps = batches["epoch"], batches["step"], batches["steps"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (epoch - 1) + step / np.where(steps > 0, steps, np.nan)


# ----------------------------------------------------------------------------- export
def _csv_cell(value: float, fmt: str = "%.6g") -> str:
    return fmt % value if isinstance(value, (int, float)) and math.isfinite(value) else ""


def metric_rows(run: RunInfo | str | os.PathLike[str]) -> list[tuple[str, ...]]:
    """Every batch and epoch row as METRICS_COLUMNS strings (empty cell: no value), rows of
    abandoned attempts included and marked."""
    path = _run_path(run)
    if not path.is_dir():
        raise RunStoreError(f"{path} is not a run directory")
    events = LogReader(path).read_all()
    rows: list[tuple[str, ...]] = []
    for e, gone in zip(events, abandoned(events), strict=True):
        mark = "1" if gone else "0"
        if type(e) is BatchEnd:
            rows.append(("batch", str(e.epoch), str(e.step), str(e.steps), str(e.seen), _csv_cell(e.loss),
                         _csv_cell(e.accuracy), _csv_cell(e.batch_loss), _csv_cell(e.batch_accuracy), "", "",
                         _csv_cell(e.samples_per_sec, "%.1f"), _csv_cell(e.elapsed, "%.3f"), mark))
        elif type(e) is EpochEnd:
            rows.append(("epoch", str(e.epoch), "", "", "", _csv_cell(e.loss), _csv_cell(e.accuracy), "", "",
                         _csv_cell(e.val_loss), _csv_cell(e.val_accuracy), "", _csv_cell(e.seconds, "%.3f"), mark))
    return rows


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
    """A run's metrics as CSV (one row per counted batch and epoch) or JSON (config, summary, rows)."""
    if fmt not in EXPORT_FORMATS:
        raise RunStoreError(f"unknown export format {fmt!r} (choose csv or json)")
    rows = metric_rows(run)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(METRICS_COLUMNS)
        writer.writerows(rows)
        return buf.getvalue()
    path = _run_path(run)
    info = run if isinstance(run, RunInfo) else load_run(path)
    records: dict[str, list[dict[str, Any]]] = {"batch": [], "epoch": []}
    for row in rows:
        records[row[0]].append({c: _cell(c, v) for c, v in zip(METRICS_COLUMNS[1:], row[1:], strict=True)})
    head = {
        "id": info.id, "status": info.status, "reason": info.reason, "started": info.started,
        "config": info.config, "summary": read_json(path / SUMMARY),
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
        return write_output(target, text.encode("utf-8"))
    except OSError as err:
        raise RunStoreError(f"cannot write {target}: {err.strerror or err}") from err


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


def describe_for_delete(run: RunInfo) -> str:
    """What a delete would remove, said before it is confirmed."""
    files, size = 0, 0
    for path in run.path.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                files += 1
                size += path.stat().st_size
    return (f"run {run.id} ({run.status}, {run.preset}, started {format_started(run.started)}): {run.path}, "
            f"{files} files, {size / 1e6:.1f} MB")


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


def format_status(run: RunInfo, short: bool = False) -> str:
    """``running (epoch 2/5 · step 40/157, unwatched)``, ``stopped*`` (final evaluation
    skipped); ``short`` for a table column: ``running 2/5 40/157 ∅``."""
    if short:
        progress = run.progress.replace("epoch ", "").replace(" · step ", " ")
        return " ".join(p for p in (run.status + ("" if run.evaluated else "*"), progress,
                                    "unwatched" if run.watchers == 0 else "") if p)
    detail = ", ".join(p for p in (run.progress, "unwatched" if run.watchers == 0 else "") if p)
    return run.status + (f" ({detail})" if detail else "") + ("" if run.evaluated else "*")


def format_dataset(run: RunInfo) -> str:
    name = run.config.get("dataset")
    return {"mnist": "mnist", "fashion-mnist": "fashion"}.get(name, str(name)) if name else "—"


def format_backend(run: RunInfo) -> str:
    if run.preset == "scratch":
        return "numpy"
    value = run.config.get("backend")
    return str(value) if value else "—"


def format_epochs(run: RunInfo) -> str:
    total = run.config.get("epochs")
    return f"{run.epochs_completed}/{total}" if isinstance(total, int) else str(run.epochs_completed)


def format_config(run: RunInfo, name: str) -> str:
    value = run.config.get(name)
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None else str(value)
