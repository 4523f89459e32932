"""Sweeps: a grid of configs (× seeds) queued and trained one run after another.

A sweep is a process too, like a trainer: the *sweep runner* owns one sweep directory,
``<runs_dir>/.sweeps/<id>/`` (a dot name: the run store lists only runs), and nothing else::

    sweep.json   the grid, every point's run id and state, the runner's pid (atomic; only
                 the runner writes it once it runs)
    control/     requests (``stop``), the same file queue a trainer polls (runs.control)
    sweep.log    the runner's own output when it runs in the background

Each grid point is a normal run directory in the run store, trained by a normal trainer
process (``runs.launch.start_detached``) and tagged with a small ``sweep.json`` of its own
(sweep id, point index, the point's values). The runner waits for each trainer, recording
its state as it ends. Stopping the sweep (Ctrl+C, SIGTERM, ``mnist-tui sweep --stop``)
stops the current run after its batch (it is saved as ``stopped``) and leaves the rest
queued. ``--resume`` picks a stopped or crashed sweep up where it was: finished runs are
reused, a stopped or killed run is resumed from its checkpoint (``resume``), never started
over, and a point whose run directory was made just before a crash is found by its tag.

No Textual, no TensorFlow: the runner only starts and watches trainer processes.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist_tui.config import TrainConfig, config_from_mapping
from mnist_tui.errors import ConfigError
from mnist_tui.events import STOP, EpochEnd
from mnist_tui.fields import FIELD_BY_NAME, get_field
from mnist_tui.runs import control, store
from mnist_tui.runs.follow import LogReader
from mnist_tui.runs.launch import _env as trainer_env
from mnist_tui.runs.launch import start_detached
from mnist_tui.runs.milestones import EpochCurve, epoch_curve, milestones
from mnist_tui.runs.rundir import (
    CONTROL,
    DIR_MODE,
    RunStoreError,
    atomic_write_json,
    create_run_dir,
    owner_record,
    pid_alive,
    read_json,
)

SWEEPS_DIR = ".sweeps"
SWEEP_FILE = "sweep.json"
RUN_REF = "sweep.json"  # in a run directory: which sweep and grid point it is
SWEEP_LOG = "sweep.log"
SWEEP_FORMAT, SWEEP_VERSION = "mnist-tui-sweep", 1
QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
DONE, STOPPED, FAILED, INCOMPLETE = "done", "stopped", "failed", "incomplete"
POLL_SECONDS = 0.2
LIST_FIELDS = tuple(f.name for f in FIELD_BY_NAME.values() if f.kind != "path")  # a comma is legal in a path


# ----------------------------------------------------------------------------- the grid
def split_values(name: str, text: Any) -> list[Any]:
    """One flag's text as a list of values of that field, each parsed and checked by the
    field's own definition (fields.py); duplicates dropped, order kept. ConfigError names
    the field and the bad item."""
    f = get_field(name)
    if isinstance(text, (list, tuple)):
        items: list[Any] = list(text)
    elif isinstance(text, str) and name in LIST_FIELDS:
        items = [t.strip() for t in text.split(",")]
    else:
        items = [text]
    values: list[Any] = []
    for item in items:
        if isinstance(item, str) and not item and name in LIST_FIELDS and len(items) > 1:
            raise ConfigError(name, f"has an empty item in {text!r}")
        value = f.parse(item)
        problem = f.problem(value)
        if problem is not None:
            raise ConfigError(name, problem)
        if value not in values:
            values.append(value)
    return values


@dataclass(frozen=True)
class SweepPlan:
    """The axes (field → values, in the order given; seed last) and the grid's configs."""

    axes: dict[str, list[Any]]
    points: list[dict[str, Any]]  # each point's values of the axes with more than one value
    configs: list[TrainConfig]

    @property
    def varying(self) -> list[str]:
        return [k for k, v in self.axes.items() if len(v) > 1]

    def describe(self) -> str:
        """``4 runs: learning_rate × batch_size`` (and the seeds)."""
        names = " × ".join(f"{k} ({len(self.axes[k])})" for k in self.varying) or "one config"
        return f"{len(self.configs)} run{'s' * (len(self.configs) != 1)}: {names}"


def plan_sweep(values: Mapping[str, Any], seeds: Any = None) -> SweepPlan:
    """The cartesian product of every field's values (× seeds), each point a validated config.

    ``values`` maps field names to text (``"1e-4,1e-3"``) or lists; ``preset`` picks the
    defaults like ``train --model``. Raises ConfigError (field-named) for a bad value or the
    first grid point that breaks a rule across fields."""
    axes: dict[str, list[Any]] = {}
    for name, text in values.items():
        if text is None or (name == "seed" and seeds is not None):
            continue
        axes[name] = split_values(name, text)
    if seeds is not None:
        axes["seed"] = split_values("seed", seeds)
    elif "seed" in axes:
        axes["seed"] = axes.pop("seed")  # seeds vary fastest: a seed group's runs follow each other
    presets = axes.get("preset", [FIELD_BY_NAME["preset"].default])
    axes["preset"] = presets
    axes = {"preset": axes.pop("preset"), **axes}
    names = list(axes)
    points, configs = [], []
    for combo in itertools.product(*(axes[n] for n in names)):
        point = dict(zip(names, combo, strict=True))
        try:
            configs.append(config_from_mapping(point))
        except ConfigError as err:
            shown = {n: v for n, v in point.items() if len(axes[n]) > 1}
            raise ConfigError(err.field, f"{err.reason} (at grid point {point_label(shown)})") from None
        points.append({n: v for n, v in point.items() if len(axes[n]) > 1})
    return SweepPlan(axes, points, configs)


def point_label(values: Mapping[str, Any]) -> str:
    """``lr=0.1 batch=32 seed=1``: a point as the leaderboard and the progress lines name it."""
    short = {"learning_rate": "lr", "batch_size": "batch", "hidden_units": "hidden", "val_split": "val",
             "preset": "model"}
    return " ".join(f"{short.get(k, k)}={FIELD_BY_NAME[k].text(v) if k in FIELD_BY_NAME else v}"
                    for k, v in values.items()) or "(one config)"


# ----------------------------------------------------------------------------- the record
def sweeps_dir(runs_dir: str | os.PathLike[str]) -> Path:
    return Path(runs_dir).expanduser() / SWEEPS_DIR


def runs_dir_of(sweep_dir: Path) -> Path:
    return sweep_dir.parent.parent


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create_sweep(runs_dir: str | os.PathLike[str], plan: SweepPlan, parallel: int = 1) -> Path:
    """Make ``<runs_dir>/.sweeps/<YYYYmmdd-HHMMSS>-<preset>[-n]/`` holding the queued grid."""
    parent = sweeps_dir(runs_dir)
    preset = "+".join(plan.axes["preset"])
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for n in range(1000):
            path = parent / (f"{stamp}-{preset}" + (f"-{n}" if n else ""))
            try:
                path.mkdir(mode=DIR_MODE)
                break
            except FileExistsError:
                continue
        else:
            raise RunStoreError(f"cannot find a free sweep directory name in {parent}")
        (path / CONTROL).mkdir(mode=DIR_MODE)
        record = {
            "format": SWEEP_FORMAT, "version": SWEEP_VERSION, "id": path.name, "created": _now(), "updated": _now(),
            "parallel": parallel, "axes": plan.axes, "state": QUEUED, "reason": "", "owner": None,
            "points": [{"index": i, "values": values, "config": cfg.to_dict(), "run": None, "state": QUEUED,
                        "epochs": 0, "test_accuracy": None}
                       for i, (values, cfg) in enumerate(zip(plan.points, plan.configs, strict=True))],
        }
        atomic_write_json(path / SWEEP_FILE, record)
    except OSError as err:
        raise RunStoreError(f"cannot write the sweep under {parent}: {err.strerror or err}") from err
    return path


def read_sweep(sweep_dir: Path) -> dict[str, Any]:
    record = read_json(sweep_dir / SWEEP_FILE)
    if not (isinstance(record, dict) and record.get("format") == SWEEP_FORMAT
            and isinstance(record.get("points"), list)):
        raise RunStoreError(f"{sweep_dir / SWEEP_FILE}: not a sweep record")
    return record


def runner_alive(record: Mapping[str, Any]) -> bool:
    owner = record.get("owner")
    return isinstance(owner, dict) and pid_alive(owner) is not False


def sweep_state(record: Mapping[str, Any]) -> str:
    """The recorded state, except that a running sweep whose runner is gone is incomplete."""
    state = str(record.get("state", ""))
    if state in (RUNNING, STOPPING) and not runner_alive(record):
        return INCOMPLETE
    return state


@dataclass(frozen=True)
class SweepInfo:
    id: str
    path: Path
    record: dict[str, Any]

    @property
    def state(self) -> str:
        return sweep_state(self.record)

    @property
    def points(self) -> list[dict[str, Any]]:
        return list(self.record.get("points", []))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.points:
            out[str(p.get("state"))] = out.get(str(p.get("state")), 0) + 1
        return out

    def summary(self) -> str:
        """``done 3/4 · lr (2) × batch (2)``"""
        counts = self.counts()
        axes = self.record.get("axes", {})
        varying = " × ".join(f"{k} ({len(v)})" for k, v in axes.items() if isinstance(v, list) and len(v) > 1)
        return f"{counts.get(DONE, 0)}/{len(self.points)} done" + (f" · {varying}" if varying else "")


def list_sweeps(runs_dir: str | os.PathLike[str]) -> list[SweepInfo]:
    """Every sweep of the store, newest first; unreadable ones are skipped."""
    try:
        entries = sorted(sweeps_dir(runs_dir).iterdir(), key=lambda p: p.name, reverse=True)
    except OSError:
        return []
    out = []
    for path in entries:
        with contextlib.suppress(RunStoreError, OSError):
            out.append(SweepInfo(path.name, path, read_sweep(path)))
    return out


def resolve_sweep(runs_dir: str | os.PathLike[str], sweep_id: str) -> SweepInfo:
    sweeps = list_sweeps(runs_dir)
    exact = [s for s in sweeps if s.id == sweep_id]
    matches = exact or [s for s in sweeps if s.id.startswith(sweep_id)] if sweep_id else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunStoreError(f"no sweep '{sweep_id}' in {sweeps_dir(runs_dir)} (see: mnist-tui sweep --list)")
    raise RunStoreError(f"sweep id '{sweep_id}' is ambiguous: {', '.join(s.id for s in matches[:3])}")


def request_stop(sweep_dir: Path) -> str:
    """Ask the sweep's runner to stop: the current run is stopped and saved, the rest stays queued."""
    return control.send(sweep_dir, STOP, reason="stop the sweep")


# ----------------------------------------------------------------------------- the leaderboard
@dataclass(frozen=True)
class Row:
    """One grid point as the leaderboard shows it."""

    index: int
    values: dict[str, Any]
    state: str
    run: str | None
    path: Path | None
    epochs: int
    total_epochs: int
    best_val: float | None
    last_val: float | None
    seconds: float | None
    test_accuracy: float | None
    to_98: float | None  # training seconds to 98 % validation accuracy
    curve: EpochCurve = field(repr=False, default_factory=lambda: EpochCurve((), (), (), 0))

    @property
    def label(self) -> str:
        return point_label(self.values)


def leaderboard(sweep: SweepInfo) -> list[Row]:
    """Every point of the sweep with its run's live state and numbers, in grid order."""
    runs_dir = runs_dir_of(sweep.path)
    rows = []
    for p in sweep.points:
        name = p.get("run") if isinstance(p.get("run"), str) else None
        path = runs_dir / name if name else None
        cfg = p.get("config") if isinstance(p.get("config"), dict) else {}
        total = cfg.get("epochs") if isinstance(cfg.get("epochs"), int) else 0
        state, seconds, acc, epochs = str(p.get("state", QUEUED)), None, None, 0
        curve = EpochCurve((), (), (), 0)
        if path is not None and store.is_run_dir(path):
            info = store.load_run(path)
            state = info.status if state != QUEUED or info.status == store.RUNNING else state
            seconds, acc, epochs = info.duration_s, info.test_accuracy, info.epochs_completed
            total = info.config.get("epochs") if isinstance(info.config.get("epochs"), int) else total
            curve = epoch_curve(path)
        vals = [v for v in curve.val_accuracy if math.isfinite(v)]
        reached = milestones(curve, (0.98,))[0.98]
        rows.append(Row(int(p.get("index", len(rows))), dict(p.get("values") or {}), state, name, path, epochs,
                        total, max(vals) if vals else None, vals[-1] if vals else None, seconds, acc,
                        None if reached is None else reached.seconds, curve))
    return rows


# ----------------------------------------------------------------------------- the runner
@dataclass
class _Active:
    index: int
    path: Path
    proc: subprocess.Popen[bytes] | None  # None: a trainer adopted from a runner that died
    reader: LogReader
    stop_sent: bool = False

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return store.load_run(self.path).status == store.RUNNING


class SweepRunner:
    """Trains the sweep in ``sweep_dir``: its queued points, ``parallel`` at a time.

    ``stop`` (an Event, set by signal handlers or a ``stop`` request in control/) stops the
    queue: every current run is stopped after its batch and saved, the rest stays queued.
    ``say`` gets one progress line at a time."""

    def __init__(self, sweep_dir: Path, say: Callable[[str], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.path = sweep_dir
        self.runs_dir = runs_dir_of(sweep_dir)
        self.say = say or (lambda line: None)
        self.stop = stop or threading.Event()
        self.record = read_sweep(sweep_dir)
        self.active: dict[int, _Active] = {}

    # -- the record
    def _save(self) -> None:
        self.record["updated"] = _now()
        atomic_write_json(self.path / SWEEP_FILE, self.record)

    def _point(self, index: int) -> dict[str, Any]:
        return self.record["points"][index]  # type: ignore[no-any-return]

    def _name(self, index: int) -> str:
        return f"[{index + 1}/{len(self.record['points'])}] {point_label(self._point(index).get('values', {}))}"

    # -- the loop
    def run(self) -> str:
        """Train until every point has ended or a stop; returns the sweep's final state."""
        if runner_alive(self.record) and self.record["owner"].get("pid") != os.getpid():
            raise RunStoreError(f"sweep {self.path.name} is running already (pid {self.record['owner'].get('pid')})")
        self.record["owner"] = owner_record()
        self.record["state"], self.record["reason"] = RUNNING, ""
        self._save()
        queue = [p["index"] for p in self.record["points"]]  # a done point is checked, then reused
        left = sum(1 for p in self.record["points"] if p.get("state") != DONE)
        self.say(f"sweep {self.path.name}: {len(self.record['points'])} runs, {left} to train, "
                 f"{self.record.get('parallel', 1)} at a time (runs in {self.runs_dir})")
        parallel = max(1, int(self.record.get("parallel") or 1))
        try:
            while True:
                self._poll_control()
                if self.stop.is_set():
                    if self.record["state"] != STOPPING:
                        self.record["state"] = STOPPING  # followers show it until the current run is saved
                        self._save()
                    self._stop_active()
                elif queue and len(self.active) < parallel:
                    self._start(queue.pop(0))
                    continue
                for active in list(self.active.values()):
                    self._report(active)
                    if not active.alive():
                        self._finish(active)
                if not self.active and (not queue or self.stop.is_set()):
                    break
                time.sleep(POLL_SECONDS)
        except BaseException as err:
            self.record["state"], self.record["reason"] = FAILED, f"{type(err).__name__}: {err}"
            with contextlib.suppress(OSError):
                self._save()
            raise
        counts: dict[str, int] = {}
        for p in self.record["points"]:
            counts[p["state"]] = counts.get(p["state"], 0) + 1
        left = sum(n for s, n in counts.items() if s != DONE)
        if self.stop.is_set() and left:
            detail = ", ".join(f"{n} {s}" for s, n in counts.items())
            state, reason = STOPPED, f"{left} of {len(self.record['points'])} runs left ({detail})"
        else:
            state = DONE
            reason = ", ".join(f"{n} {s}" for s, n in counts.items() if s != DONE)
        self.record["state"], self.record["reason"] = state, reason
        self._save()
        self.say(f"sweep {self.path.name}: {state}" + (f" ({reason})" if reason else "")
                 + (f"; continue it: mnist-tui sweep --resume {self.path.name}" if state == STOPPED else ""))
        return state

    def _poll_control(self) -> None:
        folder = self.path / CONTROL
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return
        for name in names:
            body = read_json(folder / name)
            with contextlib.suppress(OSError):
                (folder / name).unlink()
            if isinstance(body, dict) and body.get("command") == STOP and not self.stop.is_set():
                self.say(f"sweep {self.path.name}: stop requested")
                self.stop.set()

    def _stop_active(self) -> None:
        for active in self.active.values():
            if not active.stop_sent:
                active.stop_sent = True
                with contextlib.suppress(RunStoreError):
                    control.send(active.path, STOP, reason="the sweep stops")
                self.say(f"{self._name(active.index)}: stopping after this batch (the run is saved)")

    # -- one point
    def _start(self, index: int) -> None:
        point = self._point(index)
        path = self._run_dir_of(index)
        action = "train"
        if path is not None:
            info = store.load_run(path)
            total = point["config"].get("epochs", 0)
            if info.status == store.RUNNING:
                self.say(f"{self._name(index)}: its trainer still runs ({path.name}); waiting for it")
                self.active[index] = _Active(index, path, None, _reader_at_end(path))
                point["state"] = RUNNING
                self._save()
                return
            if info.status == DONE and info.epochs_completed >= total:
                self._record_end(index, info, reused=True)
                return
            if info.status == FAILED and "loss became" in info.reason:
                self._record_end(index, info, reused=True)
                return
            action = "resume"  # from its checkpoint (or from the start when it has none): never a second run
        else:
            cfg = config_from_mapping(point["config"])
            path = create_run_dir(self.runs_dir, cfg)
            atomic_write_json(path / RUN_REF, {"sweep": self.path.name, "point": index,
                                               "values": point.get("values", {})})
            point["run"] = path.name
            self._save()  # the point names its run before its trainer starts
        try:
            proc = start_detached(path, action)  # run.json names the trainer at once
        except OSError as err:
            point["state"], point["reason"] = FAILED, f"cannot start the trainer process: {err.strerror or err}"
            self._save()
            self.say(f"{self._name(index)}: {point['reason']}")
            return
        point["state"] = RUNNING
        self._save()
        self.active[index] = _Active(index, path, proc, LogReader(path) if action == "train" else _reader_at_end(path))
        self.say(f"{self._name(index)}: {'resuming' if action == 'resume' else 'training'} {path.name}")

    def _run_dir_of(self, index: int) -> Path | None:
        """The point's run directory: the one it names, else one tagged with it (made just
        before a crash, before the record named it)."""
        point = self._point(index)
        name = point.get("run")
        if isinstance(name, str) and store.is_run_dir(self.runs_dir / name):
            return self.runs_dir / name
        try:
            entries = list(self.runs_dir.iterdir())
        except OSError:
            return None
        for path in entries:
            ref = read_json(path / RUN_REF) if not path.name.startswith(".") else None
            if isinstance(ref, dict) and ref.get("sweep") == self.path.name and ref.get("point") == index \
                    and store.is_run_dir(path):
                point["run"] = path.name
                self._save()
                return path
        return None

    def _report(self, active: _Active) -> None:
        for event in active.reader.read():
            if isinstance(event, EpochEnd):
                self.say(f"{self._name(active.index)}: epoch {event.epoch}/{event.epochs}"
                         f" val_acc {event.val_accuracy:.4f} loss {event.loss:.4f}")

    def _finish(self, active: _Active) -> None:
        del self.active[active.index]
        info = store.load_run(active.path)
        self._record_end(active.index, info)

    def _record_end(self, index: int, info: store.RunInfo, reused: bool = False) -> None:
        point = self._point(index)
        point["run"] = info.id
        point["state"] = info.status if info.status != store.RUNNING else INCOMPLETE
        point["epochs"] = info.epochs_completed
        point["test_accuracy"] = info.test_accuracy
        point["reason"] = info.reason
        self._save()
        acc = store.format_accuracy(info.test_accuracy)
        how = "finished earlier, reused" if reused else f"in {store.format_duration(info.duration_s)}"
        self.say(f"{self._name(index)}: {point['state']}, test {acc} after {info.epochs_completed} epoch(s) {how}"
                 f" ({info.id})" + (f": {info.reason}" if info.reason and point["state"] != DONE else ""))


def _reader_at_end(path: Path) -> LogReader:
    reader = LogReader(path)
    reader.read_all()  # report only what comes from now on
    return reader


# ----------------------------------------------------------------------------- the process
def start_detached_sweep(sweep_dir: Path) -> subprocess.Popen[bytes]:
    """The runner in a process and session of its own; its output goes to sweep.log."""
    fd = os.open(sweep_dir / SWEEP_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mnist_tui.runs.sweep", "--sweep", str(sweep_dir)],
                                stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, env=trainer_env(),
                                start_new_session=True, close_fds=True)
    finally:
        os.close(fd)
    record = read_sweep(sweep_dir)
    if not runner_alive(record):  # until the runner writes its own: the sweep is not "incomplete"
        record["owner"] = owner_record(proc.pid)
        record["state"] = RUNNING
        atomic_write_json(sweep_dir / SWEEP_FILE, record)
    return proc


def install_stop_signals(stop: threading.Event, say: Callable[[str], None]) -> None:
    """SIGINT/SIGTERM (and SIGHUP in the foreground): stop the queue cleanly, once."""
    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            say("mnist-tui sweep: still stopping: waiting for the current run to save")
            return
        stop.set()
        say(f"mnist-tui sweep: {signal.Signals(signum).name}: stopping after the current run's batch;"
            " the rest stays queued")

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, on_signal)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_tui.runs.sweep")
    parser.add_argument("--sweep", required=True, help="the sweep directory")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        with contextlib.suppress(OSError):
            print(line, flush=True)

    stop = threading.Event()
    install_stop_signals(stop, say)
    with contextlib.suppress(AttributeError):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # detached: no terminal to lose
    try:
        state = SweepRunner(Path(args.sweep), say, stop).run()
    except RunStoreError as err:
        say(f"mnist-tui sweep: {err}")
        return 1
    return 0 if state == DONE else 3


if __name__ == "__main__":
    sys.exit(main())
