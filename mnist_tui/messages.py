"""App-wide messages, and the bridge that turns engine events into them.

The bridge runs in the training thread: it records every event into the shared
``RunHistory`` and posts at most ~10 progress messages a second with ``post_message``
(thread-safe, never blocks training the way ``call_from_thread`` would). Progress messages
replace each other in the queue if the UI falls behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from mnist_tui.config import TrainConfig
from mnist_tui.training.events import BatchEnd, Event
from mnist_tui.training.history import RunHistory

PROGRESS_INTERVAL = 0.1  # seconds between progress messages: ≤ 10 Hz


@dataclass
class TrainingProgress(Message):
    """New batches were recorded; ``batch`` is the latest. Coalesces with its predecessors."""

    batch: BatchEnd

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingProgress)


@dataclass
class EngineEvent(Message):
    """Any non-batch engine event (phase, data, epoch, predictions, finish): never dropped."""

    event: Event


@dataclass
class ConfigChanged(Message):
    """The setup form holds a valid config (``config``) or errors per field (``errors``)."""

    config: TrainConfig | None
    errors: dict[str, str]


class EventBridge:
    """The ``emit`` callable the app hands to the trainer."""

    def __init__(self, history: RunHistory, post: Callable[[Message], object],
                 interval: float = PROGRESS_INTERVAL) -> None:
        self.history = history
        self.post = post
        self.interval = interval
        self._last_post = 0.0

    def __call__(self, event: Event) -> None:
        self.history.record(event)
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            if now - self._last_post >= self.interval or event.step == event.steps:
                self._last_post = now
                self.post(TrainingProgress(event))
        else:
            self.post(EngineEvent(event))
