"""Where the app's runs come from: trainer processes it launches, or runs it attaches to.

``ProcessRunSource`` is the real one. It keeps a warm trainer ready for the form's backend
(so ``s`` does not wait for Keras to import) and hands it a new run directory on
``launch``; the app readies the next one once that run is under way (``prepare``).
``attach`` follows any run directory, whoever started it. Either way the app gets a
``RunHandle``: the run's directory, a thread delivering its events, and control through
the directory. Tests substitute a source of their own with the same shape.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any, Protocol

from mnist_tui.config import TrainConfig, resolve_backend
from mnist_tui.events import ATTACH, DETACH, STOP, Event
from mnist_tui.runs import control
from mnist_tui.runs.follow import FollowThread, RunFollower
from mnist_tui.runs.launch import WarmTrainer, spawn
from mnist_tui.runs.rundir import RunStoreError, create_run_dir, owner_alive

OnEvents = Callable[[list[Event]], None]


class RunHandle:
    """One run the app follows (and, when it is alive, controls)."""

    def __init__(self, path: Path, follower: FollowThread, proc: Popen[Any] | None = None, *,
                 temporary: bool = False, controllable: bool = True) -> None:
        self.path = path
        self.follower = follower
        self.proc = proc
        self.temporary = temporary  # an unsaved run or an opened model: deleted when done with
        self.controllable = controllable
        self.attached = False

    @property
    def done(self) -> bool:
        """The follower has delivered the run's end (or the trainer's death)."""
        return self.follower.done.is_set()

    def send(self, command: str, **detail: Any) -> str:
        return control.send(self.path, command, **detail)

    def attach(self) -> None:
        with contextlib.suppress(RunStoreError):
            self.send(ATTACH)
            self.attached = True

    def detach(self, reason: str) -> None:
        """Say that this follower leaves (the trainer records who still watches)."""
        if self.attached and not self.done:
            with contextlib.suppress(RunStoreError):
                self.send(DETACH, reason=reason)
        self.attached = False

    def close(self, *, wait: bool = True) -> None:
        """Stop following. A temporary run (unsaved, or an opened model) has no one left to
        look at it: its trainer is stopped and (``wait``: once it is gone) its scratch
        directory removed."""
        self.follower.stop()
        if not self.temporary:
            return
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(RunStoreError):
                self.send(STOP, quick=True)
            if not wait:
                return  # leaving in a hurry: the trainer stops by itself; the scratch dir is in /tmp
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.path.parent if self.path.parent.name.startswith("mnist-tui-") else self.path,
                      ignore_errors=True)


class RunSource(Protocol):
    """What the app needs to start and follow runs."""

    def prepare(self, cfg: TrainConfig, key: str | None = None, *, idle: bool = True) -> None: ...

    def status(self) -> str: ...

    def launch(self, cfg: TrainConfig, on_events: OnEvents, *, save: bool = True) -> RunHandle: ...

    def attach(self, path: Path, on_events: OnEvents) -> RunHandle: ...

    def open_model(self, model: Path, cfg: TrainConfig, on_events: OnEvents) -> RunHandle: ...

    def evaluate(self, path: Path) -> Popen[Any] | None: ...

    def shutdown(self) -> None: ...


def warm_key(cfg: TrainConfig) -> str:
    """Which warm trainer a config needs: the Keras backend it will run on, or "none"."""
    return "none" if cfg.preset == "scratch" else resolve_backend(cfg.backend)


class ProcessRunSource:
    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self._warm: WarmTrainer | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ warm trainers
    def prepare(self, cfg: TrainConfig, key: str | None = None, *, idle: bool = True) -> None:
        """Have a warm trainer ready for ``cfg`` (replacing one for another backend). ``idle``:
        no run trains now, so it may also warm up fully (see WarmTrainer.warm_up)."""
        key = key or warm_key(cfg)
        with self._lock:
            warm = self._warm
            if warm is not None and (warm.backend != key or not warm.alive()
                                     or (idle and warm.background and not warm.ready.is_set())):
                warm.discard()  # another backend, dead, or still importing at idle priority
                self._warm = None
            if self._warm is None:
                self._warm = WarmTrainer(key, background=not idle)
            if idle:
                self._warm.warm_up()
                self._warm.hint(cfg.to_dict())

    def status(self) -> str:
        """For the status line: is the next run's trainer ready?"""
        warm = self._warm
        if warm is None:
            return ""
        name = {"none": "NumPy", "tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(
            warm.backend, warm.backend)
        if warm.ready.is_set():
            return f"Trainer ready ({name})."
        if not warm.alive():
            return f"Trainer failed to start: {warm.failure()}"
        return f"Trainer warming up ({name})…"

    def _take(self, cfg: TrainConfig, key: str | None = None) -> WarmTrainer:
        """The trainer for a run starting now: the warm one, unless it is for another backend,
        dead, or still importing at idle priority (it could starve on a busy machine): then a
        new one at full priority."""
        key = key or warm_key(cfg)
        with self._lock:
            warm, self._warm = self._warm, None
            if warm is None or warm.backend != key or not warm.alive() or (warm.background and
                                                                           not warm.ready.is_set()):
                if warm is not None:
                    warm.discard()
                warm = WarmTrainer(key)
        return warm

    # ------------------------------------------------------------------ runs
    def launch(self, cfg: TrainConfig, on_events: OnEvents, *, save: bool = True) -> RunHandle:
        parent = self.runs_dir if save else Path(tempfile.mkdtemp(prefix="mnist-tui-unsaved-"))
        warm = self._take(cfg)
        try:
            path = create_run_dir(parent, cfg, owner_pid=warm.pid)
        except BaseException:
            warm.discard()
            raise
        proc = warm.take(path)
        handle = RunHandle(path, FollowThread(RunFollower(path, proc), on_events).start(), proc, temporary=not save)
        handle.attach()
        return handle

    def attach(self, path: Path, on_events: OnEvents) -> RunHandle:
        alive = owner_alive(path)
        handle = RunHandle(path, FollowThread(RunFollower(path), on_events).start(), controllable=alive)
        if alive:
            handle.attach()
        return handle

    def open_model(self, model: Path, cfg: TrainConfig, on_events: OnEvents) -> RunHandle:
        """Evaluate a saved model in a trainer process; followed like a run, deleted afterwards."""
        parent = Path(tempfile.mkdtemp(prefix="mnist-tui-open-"))
        warm = self._take(cfg, warm_key(cfg.with_changes(preset="mlp")) if model.suffix == ".keras" else "none")
        path = create_run_dir(parent, cfg, owner_pid=warm.pid)
        proc = warm.take(path, action="open", model=str(model))
        return RunHandle(path, FollowThread(RunFollower(path, proc), on_events).start(), proc, temporary=True,
                         controllable=False)

    def evaluate(self, path: Path) -> Popen[Any]:
        """The final evaluation a stopped run skipped, in a process of its own."""
        log = open(path / "trainer.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            return spawn(["--run", str(path), "--action", "evaluate"], stdout=log, stderr=log)
        finally:
            log.close()

    def shutdown(self) -> None:
        with self._lock:
            if self._warm is not None:
                self._warm.discard()
                self._warm = None
