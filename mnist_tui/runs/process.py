"""A run is a process: the trainer that owns one run directory, from start to summary.

``run_job`` trains (or resumes, or evaluates) the run in a directory, in this process:
``mnist-tui train`` calls it in the foreground. ``python -m mnist_tui.runs.process`` is the
same job in a process of its own, started by a launcher (``mnist_tui.runs.launch``):

* ``--run DIR --action train|resume|evaluate`` — a detached run (``train --detach``,
  ``resume --detach``, the Runs tab's evaluate key);
* ``--warm --backend B`` — a warm trainer: imports Keras on backend B and warms it up, says
  ``ready`` on stdout, then waits on stdin for one job line (JSON: run, action). An app
  keeps one of these ready so that ``s`` starts at once. If stdin closes first (the app
  quit or died), it exits.

Once it has its job, the process owns nothing but the run directory: its output goes to
``trainer.log`` there, it sits in a session of its own (a closed terminal or SSH drop does
not reach it), and it is controlled only through ``control/``. SIGTERM and SIGINT stop the
run after the current batch and save it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.config import TrainConfig, check_backend, resolve_backend
from mnist_tui.data.sources import Dataset, load_dataset, local_source, source_stamp
from mnist_tui.errors import MnistTuiError
from mnist_tui.events import (
    DONE,
    EVALUATING,
    FAILED,
    LOADING,
    STOPPED,
    DataReady,
    Emit,
    EpochEnd,
    Event,
    PhaseChanged,
    Predictions,
    RunFinished,
    TrainerStarted,
)
from mnist_tui.runs.control import ControlPoller
from mnist_tui.runs.follow import LogReader, counted
from mnist_tui.runs.launch import HINT, HINTED, READY, WARM, WARMED
from mnist_tui.runs.recorder import RunRecorder
from mnist_tui.runs.rundir import (
    CHECKPOINT,
    CONFIG,
    OWNER,
    SUMMARY,
    TRAINER_LOG,
    RunStoreError,
    atomic_write_json,
    owner_record,
    read_config,
    read_json,
)
from mnist_tui.training.control import TrainControl

ACTIONS = ("train", "resume", "evaluate", "open")


@dataclass(frozen=True)
class History:
    """What a run directory already holds, for a resume: counted epochs and how it ended."""

    epochs: list[EpochEnd]
    checkpoint_epoch: int  # -1: no checkpoint
    status: str  # done | stopped | failed | "" (no summary: crashed or killed)
    reason: str


def read_history(path: Path) -> History:
    events = counted(LogReader(path).read_all())
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    summary = read_json(path / SUMMARY)
    status = summary.get("status", "") if isinstance(summary, dict) else ""
    reason = summary.get("reason", "") if isinstance(summary, dict) else ""
    epoch = -1
    with contextlib.suppress(OSError, ValueError, KeyError), np.load(path / CHECKPOINT, allow_pickle=False) as npz:
        epoch = int(json.loads(str(npz["meta"]))["epoch"])
    return History(epochs, epoch, str(status), str(reason))


def resume_problem(path: Path, history: History, cfg: TrainConfig) -> str:
    """Why this run cannot be resumed, or "" when it can."""
    if history.status == DONE and len(history.epochs) >= cfg.epochs:
        return f"run {path.name} is done ({cfg.epochs} epochs); resume it with more --epochs to train on"
    if history.status == FAILED and "loss became" in history.reason:
        return f"run {path.name} failed ({history.reason}): resuming would fail the same way"
    return ""


def take_ownership(path: Path) -> None:
    """run.json names this process from now on (keeping the run's original start time)."""
    old = read_json(path / OWNER)
    record = owner_record()
    if isinstance(old, dict) and isinstance(old.get("started"), str):
        record["started"] = old["started"]
    atomic_write_json(path / OWNER, record)


def run_job(path: str | os.PathLike[str], action: str = "train", *, emit: Emit | None = None,
            control: TrainControl | None = None, model: str | None = None) -> RunFinished:
    """Train, resume or evaluate the run in ``path`` here, until it ends. ``emit`` also gets
    every event (the CLI's progress printer); ``control`` may be shared with signal handlers."""
    run_dir = Path(path)
    control = control or TrainControl()
    if action == "open":
        return _open_model(run_dir, model or "", emit)
    cfg = read_config(run_dir)
    if action == "evaluate":
        return _evaluate_run(run_dir, cfg, emit)
    from mnist_tui.training.trainer import Resume, train

    resume: Resume | None = None
    prior: list[EpochEnd] = []
    if action == "resume":
        history = read_history(run_dir)
        problem = resume_problem(run_dir, history, cfg)
        if problem:
            raise RunStoreError(problem)
        start = max(history.checkpoint_epoch, 0)
        if history.checkpoint_epoch > 0:
            with np.load(run_dir / CHECKPOINT, allow_pickle=False) as npz:
                resume = Resume(start, {k: npz[k] for k in npz.files})
        else:
            resume = Resume(0, {})
        prior = [e for e in history.epochs if e.epoch <= start]
        with contextlib.suppress(OSError):
            (run_dir / SUMMARY).unlink()  # running again: summary.json is written when it ends
    if cfg.preset != "scratch" and cfg.backend == "auto":
        # config.json names the backend that really trains, so the run can be reproduced anywhere.
        cfg = cfg.with_changes(backend=resolve_backend(cfg.backend))
        atomic_write_json(run_dir / CONFIG, cfg.to_dict())
    take_ownership(run_dir)
    started = _started(run_dir)
    recorder = RunRecorder(run_dir, cfg, prior_epochs=prior, started=started)
    backend = "numpy" if cfg.preset == "scratch" else check_backend(cfg.backend)
    started_event = TrainerStarted(os.getpid(), socket.gethostname(), backend, resume.epoch if resume else 0,
                                   cfg.epochs, _device(backend))
    recorder(started_event)
    if emit is not None:
        emit(started_event)
    poller = ControlPoller(run_dir, control, recorder).start()
    t0 = time.perf_counter()
    try:
        result = train(cfg, emit, control, sink=recorder, dataset=_PREFETCH.dataset_for(cfg),
                       resume=resume if resume and resume.arrays else None)
    except BaseException as err:
        with contextlib.suppress(Exception):
            reason = str(err) if isinstance(err, MnistTuiError) else f"{type(err).__name__}: {err}"
            if isinstance(err, KeyboardInterrupt):
                reason = "aborted"
            fin = RunFinished(FAILED, reason, recorder.epochs_recorded, math.nan, math.nan, (), (), 0.0,
                              time.perf_counter() - t0, str(run_dir), evaluated=False)
            recorder(fin)
        raise
    finally:
        poller.close()
        with contextlib.suppress(RunStoreError):
            recorder.close()
    return result


def _device(backend: str) -> str:
    """The device the run trains on (a warm trainer has Keras loaded already; a foreground
    run loads it here instead of a moment later in ``train``)."""
    from mnist_tui.devices import device_name

    try:
        return device_name(backend)
    except Exception:  # naming the device must never fail the run
        return ""


def _both(first: Emit, second: Emit) -> Emit:
    def emit(event: Event) -> None:
        first(event)
        second(event)

    return emit


def _started(run_dir: Path) -> Any:
    from datetime import datetime

    owner = read_json(run_dir / OWNER)
    with contextlib.suppress(TypeError, ValueError):
        return datetime.fromisoformat(owner["started"])  # type: ignore[index]
    return None


# ----------------------------------------------------------------------------- evaluation
def _evaluate_run(run_dir: Path, cfg: TrainConfig, emit: Emit | None) -> RunFinished:
    """The final test evaluation a stop skipped: the saved model on the test set, then the
    summary updated in place (``evaluated`` true)."""
    from mnist_tui.data import load_dataset
    from mnist_tui.models.saved import evaluate, load_model
    from mnist_tui.runs.rundir import model_file
    from mnist_tui.training.metrics import result_from_probabilities

    say = emit or (lambda event: None)
    summary = read_json(run_dir / SUMMARY)
    if not isinstance(summary, dict):
        raise RunStoreError(f"run {run_dir.name} has no summary yet (still running, or crashed: resume it first)")
    path = run_dir / model_file(cfg.preset)
    if not path.is_file():
        raise RunStoreError(f"run {run_dir.name} has no saved model ({path.name}) to evaluate")
    t0 = time.perf_counter()
    say(PhaseChanged(LOADING, f"model {path.name}"))
    model = load_model(path)
    ds = load_dataset(cfg.dataset, cfg.data_path)
    say(PhaseChanged(EVALUATING, "test set"))
    probs = evaluate(model, ds.x_test, ds.y_test)
    fin = result_from_probabilities(
        str(summary.get("status", STOPPED)), "final test evaluation of the saved model", int(
            summary.get("epochs_completed", 0)), probs, ds.y_test.astype(np.int64),
        float((summary.get("timings") or {}).get("train_seconds", 0.0)), time.perf_counter() - t0, str(run_dir))
    summary.update({
        "evaluated": True, "test_loss": _finite(fin.test_loss), "test_accuracy": _finite(fin.test_accuracy),
        "per_class_accuracy": [_finite(a) for a in fin.per_class_accuracy],
        "confusion_matrix": [list(r) for r in fin.confusion],
        "reason": (str(summary.get("reason", "")).split(";")[0] + "; evaluated afterwards").strip("; "),
    })
    atomic_write_json(run_dir / SUMMARY, summary)
    say(fin)
    return fin


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _open_model(run_dir: Path, model_path: str, emit: Emit | None) -> RunFinished:
    """``mnist-tui open``: evaluate a saved model into a scratch run directory, so the app
    shows it (viewer, inspect, draw) the way it shows any run."""
    from mnist_tui.data import load_dataset
    from mnist_tui.models.saved import evaluate, load_model
    from mnist_tui.runs.recorder import npz_bytes
    from mnist_tui.runs.rundir import atomic_write_bytes
    from mnist_tui.training.metrics import result_from_probabilities

    cfg = read_config(run_dir)
    take_ownership(run_dir)
    recorder = RunRecorder(run_dir, cfg)
    out = recorder if emit is None else _both(recorder, emit)
    t0 = time.perf_counter()
    try:
        out(TrainerStarted(os.getpid(), socket.gethostname(), "", 0, 0))
        out(PhaseChanged(LOADING, f"model {model_path}"))
        model = load_model(model_path)
        out(PhaseChanged(LOADING, cfg.dataset))
        ds = load_dataset(cfg.dataset, cfg.data_path)
        out(DataReady(len(ds.x_train), 0, len(ds.x_test), 0, 0, 0, ds.class_names, ds.source, "test set",
                      ds.x_test, ds.y_test))

        def progress(done: int, total: int) -> None:
            out(PhaseChanged(EVALUATING, f"{model.name}: {done:,}/{total:,} test images ({done / total:.0%})"))

        probs = evaluate(model, ds.x_test, ds.y_test, progress)
        arrays = model.forward
        if arrays is not None:
            atomic_write_bytes(run_dir / CHECKPOINT, npz_bytes(arrays))
            recorder.network_record(0, arrays, ds.x_test)  # the Network tab shows a loaded model too
        out(Predictions(0, probs))
        fin = result_from_probabilities(DONE, f"loaded {model_path} ({model.param_count:,} params)", 0, probs,
                                        ds.y_test.astype(np.int64), 0.0, time.perf_counter() - t0, None)
        out(fin)
        out(PhaseChanged(DONE, fin.reason))
    except BaseException as err:
        reason = str(err) if isinstance(err, MnistTuiError) else f"{type(err).__name__}: {err}"
        with contextlib.suppress(Exception):
            out(RunFinished(FAILED, reason, 0, math.nan, math.nan, (), (), 0.0, time.perf_counter() - t0, None,
                            evaluated=False))
            out(PhaseChanged(FAILED, reason))
        raise
    finally:
        with contextlib.suppress(RunStoreError):
            recorder.close()
    return fin


# ----------------------------------------------------------------------------- the process
def _detach_output(run_dir: Path) -> None:
    """From here on the run directory is the only connection: output to trainer.log."""
    fd = os.open(run_dir / TRAINER_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)


def _install_stop_signals(control: TrainControl) -> None:
    """SIGTERM/SIGINT: stop after this batch and save; a second one aborts. SIGHUP: ignored
    (there is no terminal to lose: the run goes on)."""
    def on_signal(signum: int, frame: Any) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        control.stop(quick=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _import(backend: str, idle: bool = False) -> None:
    """Import Keras on ``backend`` now, not at the user's ``s``.

    ``idle`` (the app readies its next trainer while a run trains, and on a small machine a
    normal-priority import would take cores from that run): the imports, seconds of CPU, run
    in a thread at idle priority. Only the imports: thread pools inherit their creator's
    policy, so the throwaway fit that creates them (``WARM``) runs in the main thread, at
    normal priority, when the app says nothing else trains.
    """
    import threading

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    check_backend(backend)
    importer = threading.Thread(target=_import_modules, args=(idle,), name="import keras", daemon=True)
    importer.start()
    importer.join()


def _import_modules(idle: bool) -> None:
    import importlib
    import importlib.util

    if idle:
        with contextlib.suppress(AttributeError, OSError):  # Linux only; this thread's own policy
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    # set_random_seed imports TensorFlow even on JAX: import it here too, when installed.
    for name in ("keras", "tensorflow", "h5py", "keras.src.saving.saving_lib"):  # h5py: the first save
        if importlib.util.find_spec(name) is not None:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_tui.runs.process")
    parser.add_argument("--run", help="the run directory")
    parser.add_argument("--action", choices=ACTIONS, default="train")
    parser.add_argument("--model", help="the model file (--action open)")
    parser.add_argument("--warm", action="store_true", help="warm up, then wait on stdin for the job")
    parser.add_argument("--idle-import", action="store_true", help="import Keras at idle priority (a run trains)")
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args(argv)
    control = TrainControl()
    _install_stop_signals(control)
    if args.warm:
        job = _wait_for_job(args.backend, idle=args.idle_import)
        if job is None:
            return 0
        run, action, model = job["run"], job.get("action", "train"), job.get("model")
    else:
        run, action, model = args.run, args.action, args.model
    if not run:
        parser.error("--run is required")
    _detach_output(Path(run))
    code = 0
    try:
        result = run_job(run, action, control=control, model=model)
        code = 1 if result.status == FAILED else 0
    except MnistTuiError as err:
        print(f"mnist-tui trainer: {err}", file=sys.stderr)
        code = 1
    except BaseException as err:  # recorded in the run as failed; the log keeps the traceback
        import traceback

        traceback.print_exception(err)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: TensorFlow's can take seconds, and all is on disk


def _wait_for_job(backend: str, *, idle: bool = False) -> dict[str, Any] | None:
    """Import (backend "none": a trainer for the NumPy net, nothing to import), say ready,
    then read lines: ``warm`` (nothing else trains now: fit a throwaway model, so the first
    real fit and save find Keras's lazy machinery built), ``hint CONFIG`` (the run the form
    shows: load its data and build its model once, see ``_Prefetch``), then the job. A job
    sent early waits in the pipe until the imports are done; a hint that a newer line
    already follows is skipped."""
    if backend != "none":
        _quietly(_import, backend, idle)
    try:
        print(READY, flush=True)
    except OSError:
        return None  # nobody is listening
    lines = _Lines(sys.stdin.fileno())
    while True:
        line = lines.next()
        if line is None:
            return None  # the app went away before it needed us
        word, _, rest = line.strip().partition(" ")
        if word == WARM:
            if backend != "none":
                from mnist_tui.training.trainer import freeze_import_garbage

                _quietly(freeze_import_garbage, True)
            try:
                print(WARMED, flush=True)
            except OSError:
                return None
        elif word == HINT:
            if lines.pending():
                continue  # a newer hint, or the job, is already here
            readied = _quietly(_PREFETCH.hint, rest, backend, lines.pending) or []
            try:
                print(" ".join([HINTED, *readied]), flush=True)
            except OSError:
                return None
        elif line.strip():
            break
    try:
        job = json.loads(line)
    except ValueError:
        return None
    return job if isinstance(job, dict) and isinstance(job.get("run"), str) else None


class _Lines:
    """Lines from a pipe, read with ``os.read`` so that ``pending`` can tell whether more are
    already there (``select`` cannot see what a buffered ``sys.stdin`` holds)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.closed = False

    def _fill(self, block: bool) -> None:
        import select

        if self.closed or (not block and not select.select([self.fd], [], [], 0)[0]):
            return
        chunk = os.read(self.fd, 65536)
        if chunk:
            self.buffer += chunk
        else:
            self.closed = True

    def next(self) -> str | None:
        """The next line; None at the end of the input."""
        while b"\n" not in self.buffer:
            if self.closed:
                tail, self.buffer = self.buffer, b""
                return tail.decode(errors="replace") if tail.strip() else None
            self._fill(block=True)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode(errors="replace")

    def pending(self) -> bool:
        """Whether another complete line is already waiting."""
        with contextlib.suppress(OSError):
            self._fill(block=False)
        return b"\n" in self.buffer


class _Prefetch:
    """What a warm trainer readied for the run the app's form shows (its ``hint``): the data
    (about 0.2 s of the start on mnist-20k), taken by the job only while the files are
    unchanged, and that model built once (``warm_model``: 1 s of the mlp's start on JAX)."""

    def __init__(self) -> None:
        self.data_key: tuple[Any, ...] | None = None
        self.dataset: Dataset | None = None
        self.model_key: str | None = None

    def hint(self, text: str, backend: str, pending: Callable[[], bool] = lambda: False) -> list[str]:
        """Ready what ``text`` (a config as JSON) needs and this process has not readied
        yet; what it readied ("data", "model"). The data is read in a thread of its own, and
        given up on (left to finish, or hang, by itself) once ``pending()`` says a line is
        waiting: a data path on a hung file system must not hold back the job that follows."""
        from mnist_tui.config import config_from_mapping

        try:
            cfg = config_from_mapping(json.loads(text))
        except (ValueError, TypeError, MnistTuiError):
            return []  # a hint is only a hint
        readied: list[str] = []
        reader = threading.Thread(target=self._fetch_data, args=(cfg, readied), name="prefetch data", daemon=True)
        reader.start()
        if backend != "none" and cfg.preset != "scratch":  # here: Keras's global state is this thread's
            from mnist_tui.models.spec import layers_for
            from mnist_tui.training.trainer import warm_model

            model_key = repr((cfg.preset, cfg.batch_size, layers_for(cfg)))
            if model_key != self.model_key:
                warm_model(cfg)
                self.model_key = model_key
                readied.append("model")
        while reader.is_alive() and not pending():
            reader.join(0.05)
        return list(readied)

    def _fetch_data(self, cfg: TrainConfig, readied: list[str]) -> None:
        try:
            key = self._data_key(cfg)  # stats the files: on a hung file system, this is what hangs
            if key is not None and key != self.data_key:
                self.data_key, self.dataset = None, None
                self.dataset = load_dataset(cfg.dataset, cfg.data_path)
                self.data_key = key  # last: a job that looks meanwhile sees no match
                readied.append("data")
        except Exception as err:  # the job meets the same error and records it in its run
            with contextlib.suppress(OSError):
                print(f"mnist-tui trainer: prefetching the data failed: {err}", file=sys.stderr, flush=True)

    def dataset_for(self, cfg: TrainConfig) -> Dataset | None:
        """The prefetched data if it is what ``cfg`` would load now, else None (load it)."""
        if self.dataset is None:
            return None
        return self.dataset if self._data_key(cfg) == self.data_key else None

    @staticmethod
    def _data_key(cfg: TrainConfig) -> tuple[Any, ...] | None:
        source = local_source(cfg.dataset, cfg.data_path)
        if source is None:
            return None  # it would ask the network: not before the user says start
        return (cfg.dataset, str(source), source_stamp(source))


_PREFETCH = _Prefetch()


def _quietly(step: Any, *args: Any) -> Any:
    """``step(*args)``, or None if it failed (said on stderr: the warm trainer's log)."""
    try:
        return step(*args)
    except Exception as err:  # the job will meet the same error and record it in its run
        print(f"mnist-tui trainer: warm-up failed: {err}", file=sys.stderr, flush=True)
        return None


if __name__ == "__main__":
    sys.exit(main())
