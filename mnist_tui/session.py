"""The run lifecycle on the app's side: launch, follow, control, leave.

``MnistApp`` holds layout, keys and messages; this object holds the run. It starts runs
through a run source (trainer processes, or a test's fake), records every event the
source delivers into the shared ``RunHistory`` (in the delivering thread), passes them on
to ``deliver`` (the app's message bridge), and controls the run through its handle. It
imports no Textual, so tests drive it directly as well as through the app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from mnist_tui.config import TrainConfig
from mnist_tui.events import CHECKPOINT, PAUSE, PAUSED, RESUME, STOP, Event
from mnist_tui.history import RunHistory
from mnist_tui.runs.source import RunHandle, RunSource

Deliver = Callable[[list[Event]], None]
TRAIN, ATTACH, OPEN = "train", "attach", "open"


class RunSession:
    def __init__(self, source: RunSource, history: RunHistory, deliver: Deliver) -> None:
        self.source = source
        self.history = history
        self.deliver = deliver
        self.handle: RunHandle | None = None
        self.kind = ""
        self._generation = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        """A run is being followed and has not ended yet."""
        return self.handle is not None and not self.handle.done and self.history.finished is None

    @property
    def live(self) -> bool:
        """The followed run is training and can be controlled (not an evaluation)."""
        return self.active and self.handle is not None and self.handle.controllable and self.kind != OPEN

    @property
    def path(self) -> Path | None:
        return self.handle.path if self.handle is not None else None

    # ------------------------------------------------------------------ following
    def _receiver(self) -> Callable[[list[Event]], None]:
        with self._lock:
            self._generation += 1
            generation = self._generation

        def receive(events: list[Event]) -> None:
            if generation != self._generation:
                return  # a run we stopped following: its late events must not mix in
            for event in events:
                self.history.record(event)
            self.deliver(events)

        return receive

    def _follow(self, kind: str, make: Callable[[Callable[[list[Event]], None]], RunHandle]) -> RunHandle:
        self.leave("followed another run")
        self.history.reset()
        self.kind = kind
        self.handle = make(self._receiver())
        return self.handle

    def start(self, cfg: TrainConfig, *, save: bool = True) -> RunHandle:
        """Launch a new run of ``cfg`` (a RunStoreError when its directory cannot be made)."""
        return self._follow(TRAIN, lambda receive: self.source.launch(cfg, receive, save=save))

    def attach(self, path: Path) -> RunHandle:
        """Follow the run in ``path``: its whole history at once, then live if it still trains."""
        return self._follow(ATTACH, lambda receive: self.source.attach(path, receive))

    def open_model(self, model: Path, cfg: TrainConfig) -> RunHandle:
        return self._follow(OPEN, lambda receive: self.source.open_model(model, cfg, receive))

    # ------------------------------------------------------------------ control
    def toggle_pause(self) -> str:
        """Ask a running run to pause, or a paused one to resume; returns the command sent."""
        assert self.handle is not None
        command = RESUME if self.history.phase == PAUSED else PAUSE
        self.handle.send(command)
        return command

    def stop(self, quick: bool = True) -> None:
        assert self.handle is not None
        self.handle.send(STOP, quick=quick)

    def checkpoint(self) -> None:
        assert self.handle is not None
        self.handle.send(CHECKPOINT)

    def leave(self, reason: str, *, wait: bool = True) -> None:
        """Stop following (the run itself carries on if it still trains)."""
        with self._lock:
            self._generation += 1
        if self.handle is not None:
            self.handle.detach(reason)
            self.handle.close(wait=wait)
            self.handle = None
        self.kind = ""

    def shutdown(self, reason: str, *, wait: bool = True) -> None:
        self.leave(reason, wait=wait)
        self.source.shutdown()
