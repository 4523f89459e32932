"""Following a run: read its directory incrementally, from any process, live or afterwards.

``LogReader`` reads ``events.jsonl`` from the byte offset where it stopped, never re-reading
what it has seen, and keeps a torn last line (a write in progress, or a kill mid-write)
for the next read. ``RunFollower`` adds what the log only refers to: the test images of
``DataReady``, the probabilities of ``Predictions`` and the records of ``NetworkSaved``,
loaded from their side files, and
whether the trainer is still alive. ``FollowThread`` is the watcher thread (toolong's file
watcher, in spirit): it polls, hands every new event to a callback in order, and reports a
trainer that died without finishing.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from subprocess import Popen
from typing import Any

import numpy as np

from mnist_tui.events import (
    FAILED,
    BatchEnd,
    DataReady,
    EpochEnd,
    Event,
    NetworkSaved,
    PhaseChanged,
    Predictions,
    RunFinished,
    TrainerStarted,
    UnknownEvent,
    decode,
)
from mnist_tui.models.network_record import read_record
from mnist_tui.runs.rundir import LOG, TEST_SET, network_file, owner_alive, predictions_file

READ_CHUNK = 8 << 20  # bytes per read: a long run's history arrives in pieces, never all at once
POLL_SECONDS = 0.05
ALIVE_CHECK_SECONDS = 0.5


class LogReader:
    """Incremental reader of one run's event log."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOG
        self.offset = 0
        self.skipped = 0  # lines that were not events (garbage, or kinds from a newer version)

    def read(self, limit: int = READ_CHUNK) -> list[Event]:
        """The events appended since the last call (at most ``limit`` bytes' worth)."""
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # replaced or truncated: not ours to trust, start over
                    self.offset = 0
                if size == self.offset:
                    return []
                fh.seek(self.offset)
                data = fh.read(limit)
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []  # not even one complete line yet
        self.offset += end
        events: list[Event] = []
        for line in data[:end].split(b"\n"):
            if not line:
                continue
            try:
                events.append(decode(line))
            except (UnknownEvent, ValueError):
                self.skipped += 1
        return events

    def read_all(self) -> list[Event]:
        events: list[Event] = []
        while chunk := self.read():
            events.extend(chunk)
        return events


def abandoned(events: list[Event]) -> list[bool]:
    """Which events belong to an abandoned attempt: a ``TrainerStarted`` that resumes from
    epoch k abandons every earlier batch, epoch or predictions record of an epoch after k
    (the rows of a partial epoch a stop cut short, or of epochs whose checkpoint a kill
    lost). They stay in the log, marked by that later line; they are not counted."""
    flags = [False] * len(events)
    lowest = None  # the smallest from_epoch of any later (re)start
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, TrainerStarted):
            lowest = event.from_epoch if lowest is None else min(lowest, event.from_epoch)
        elif lowest is not None and isinstance(event, (BatchEnd, EpochEnd, Predictions, NetworkSaved)):
            flags[i] = event.epoch > lowest
    return flags


def counted(events: Iterable[Event]) -> list[Event]:
    """The events without the records of abandoned attempts (see ``abandoned``)."""
    events = list(events)
    return [e for e, gone in zip(events, abandoned(events), strict=True) if not gone]


class RunFollower:
    """A run directory as a stream of complete events (arrays loaded) plus its liveness."""

    def __init__(self, run_dir: str | os.PathLike[str], proc: Popen[Any] | None = None) -> None:
        self.path = Path(run_dir)
        self.reader = LogReader(self.path)
        self.proc = proc  # our own child: its exit status beats any pid probe
        self.finished: RunFinished | None = None

    def read(self) -> list[Event]:
        events = [self._complete(e) for e in self.reader.read()]
        for event in events:
            if isinstance(event, RunFinished):
                self.finished = event
            elif isinstance(event, TrainerStarted):
                self.finished = None  # resumed: the run goes on
        return events

    def _complete(self, event: Event) -> Event:
        if isinstance(event, DataReady) and event.x_test is None:
            try:
                with np.load(self.path / TEST_SET, allow_pickle=False) as npz:
                    return replace(event, x_test=npz["x_test"], y_test=npz["y_test"])
            except (OSError, ValueError, KeyError):
                return event  # the viewer says it has no test images; charts still work
        if isinstance(event, Predictions) and event.probabilities is None:
            probs = load_predictions(self.path, event.epoch)
            return replace(event, probabilities=probs) if probs is not None else event
        if isinstance(event, NetworkSaved) and event.record is None:
            record = read_record(self.path / network_file(event.epoch))
            return replace(event, record=record) if record is not None else event
        return event

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return owner_alive(self.path)

    def death_notice(self) -> RunFinished:
        """What to report when the trainer ended without finishing the run."""
        how = "ended without finishing the run"
        if self.proc is not None and self.proc.returncode is not None:
            code = self.proc.returncode
            if code < 0:
                import signal

                try:
                    how = f"was killed by {signal.Signals(-code).name}"
                except ValueError:
                    how = f"was killed by signal {-code}"
            else:
                how = f"exited with code {code} before finishing"
        reason = (f"the trainer process {how}; every row up to its last write is kept"
                  f" (mnist-tui resume {self.path.name} continues it)")
        return RunFinished(FAILED, reason, 0, math.nan, math.nan, (), (), 0.0, 0.0, str(self.path), evaluated=False)


def load_predictions(run_dir: Path, epoch: int) -> np.ndarray | None:
    try:
        probs = np.load(run_dir / predictions_file(epoch), allow_pickle=False)
    except (OSError, ValueError):
        return None
    return probs.astype(np.float32) if probs.ndim == 2 else None


class FollowThread:
    """Polls a run directory and calls ``on_events`` with each batch of new events, in order,
    from its own thread. Ends after the run finishes (or its trainer dies: then a
    ``RunFinished`` with status failed and the reason is delivered, within a second)."""

    def __init__(self, follower: RunFollower, on_events: Callable[[list[Event]], None],
                 interval: float = POLL_SECONDS) -> None:
        self.follower = follower
        self.on_events = on_events
        self.interval = interval
        self._halt = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"follow {follower.path.name}", daemon=True)

    def start(self) -> FollowThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        last_check = time.monotonic()
        try:
            while not self._halt.is_set():
                events = self.follower.read()
                if events:
                    self.on_events(events)
                if self.follower.finished is not None and not self.follower.alive():
                    self.on_events(self.follower.read())  # the trainer is gone: nothing more will come
                    return
                now = time.monotonic()
                if not events and now - last_check >= ALIVE_CHECK_SECONDS:
                    last_check = now
                    if not self.follower.alive():
                        tail = self.follower.read()  # what it wrote just before dying
                        if tail:
                            self.on_events(tail)
                        if self.follower.finished is None:
                            notice = self.follower.death_notice()
                            self.on_events([notice, PhaseChanged(FAILED, notice.reason)])
                        return
                if not events:
                    self._halt.wait(self.interval)
        finally:
            self.done.set()
