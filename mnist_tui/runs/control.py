"""Controlling a run through its directory: a small command queue that the trainer polls.

Any follower (an app, ``mnist-tui runs pause``, an app on another machine over a shared
filesystem) drops a request into ``control/`` as its own atomically created file, so two
followers never overwrite each other's commands. The trainer's poller reads the directory
every ``POLL_SECONDS`` (off the training thread), carries the requests out in the order they
were made, deletes them and logs a ``ControlApplied`` event: that line is the acknowledgement
a follower waits for. Requests from another user are refused: only the owner of a run may
control it (the directory is 0700 as well).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from mnist_tui.events import (
    ATTACH,
    CHECKPOINT,
    COMMANDS,
    DETACH,
    PAUSE,
    RESUME,
    STOP,
    ControlApplied,
    Emit,
)
from mnist_tui.runs.rundir import CONTROL, FILE_MODE, OWNER, RunStoreError, atomic_write_json, read_json
from mnist_tui.training.control import TrainControl

POLL_SECONDS = 0.1


def send(run_dir: str | os.PathLike[str], command: str, **detail: Any) -> str:
    """Queue ``command`` for the run's trainer; returns the request's name (for its ack)."""
    if command not in COMMANDS:
        raise RunStoreError(f"unknown control command {command!r} (choose from {', '.join(COMMANDS)})")
    folder = Path(run_dir) / CONTROL
    # Sortable by time, unique across processes and machines.
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
    body = json.dumps({"command": command, "pid": os.getpid(), **detail}).encode()
    tmp = folder / f".{name}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        os.replace(tmp, folder / name)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunStoreError(f"cannot control the run in {run_dir}: {err.strerror or err}") from err
    return name


class ControlPoller:
    """The trainer's side: a daemon thread applying the requests that arrive in ``control/``."""

    def __init__(self, run_dir: Path, control: TrainControl, emit: Emit, interval: float = POLL_SECONDS) -> None:
        self.run_dir = run_dir
        self.folder = run_dir / CONTROL
        self.control = control
        self.emit = emit
        self.interval = interval
        self.watchers: set[int] = set()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="control poller", daemon=True)

    def start(self) -> ControlPoller:
        self._thread.start()
        return self

    def close(self) -> None:
        self._halt.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._halt.wait(self.interval):
            self.poll()

    def poll(self) -> int:
        """Apply every waiting request once; returns how many were applied."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return 0
        applied = 0
        uid = os.getuid()
        for name in names:
            path = self.folder / name
            try:
                st = path.stat()
                body = json.loads(path.read_bytes()) if st.st_uid == uid else None
            except (OSError, ValueError):
                body = {}
            with contextlib.suppress(OSError):
                path.unlink()
            if body is None:
                detail = f"request from uid {st.st_uid}: only the owner controls a run"
                self.emit(ControlApplied("refused", name, detail))
                continue
            command = body.get("command") if isinstance(body, dict) else None
            if command not in COMMANDS:
                self.emit(ControlApplied("refused", name, f"not a control request: {str(command)[:40]!r}"))
                continue
            detail = self._apply(command, body)
            self.emit(ControlApplied(command, name, detail))
            applied += 1
        return applied

    def _apply(self, command: str, body: dict[str, Any]) -> str:
        pid = body.get("pid") if isinstance(body.get("pid"), int) else 0
        reason = str(body.get("reason", ""))[:200]
        if command == PAUSE:
            self.control.pause()
        elif command == RESUME:
            self.control.resume()
        elif command == STOP:
            self.control.stop(quick=bool(body.get("quick", True)))
        elif command == CHECKPOINT:
            self.control.request_checkpoint()
        elif command == ATTACH:
            self.watchers.add(pid)
            self._record_watchers()
            return f"pid {pid}"
        elif command == DETACH:
            self.watchers.discard(pid)
            self._record_watchers()
            return f"pid {pid}" + (f": {reason}" if reason else "")
        return reason

    def _record_watchers(self) -> None:
        """run.json lists who follows the run, so ``runs list`` can say that nobody does."""
        owner = read_json(self.run_dir / OWNER)
        if isinstance(owner, dict):
            owner["watchers"] = sorted(self.watchers)
            with contextlib.suppress(OSError, ValueError):
                atomic_write_json(self.run_dir / OWNER, owner)
