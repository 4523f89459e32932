"""App-wide messages, and the bridge that turns a run's events into them.

The bridge runs in the thread that delivers events (a run follower, or a test's fake run
source), after ``RunSession`` has recorded them into the shared ``RunHistory``. It posts
with ``post_message`` (thread-safe, never blocks the delivering thread): one coalescing
``TrainingProgress`` for any number of new batches, and an ``EngineEvent`` for every other
event, which are few and never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from mnist_tui.config import TrainConfig
from mnist_tui.events import BatchEnd, Event


@dataclass
class TrainingProgress(Message):
    """New batches were recorded; ``batch`` is the latest. Coalesces with its predecessors."""

    batch: BatchEnd

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingProgress)


@dataclass
class EngineEvent(Message):
    """Any non-batch event of the followed run (phase, data, epoch, predictions, finish)."""

    event: Event


@dataclass
class ConfigChanged(Message):
    """The setup form holds a valid config (``config``) or errors per field (``errors``)."""

    config: TrainConfig | None
    errors: dict[str, str]


class EventBridge:
    """The ``deliver`` callable the app hands to its ``RunSession``."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self.post = post

    def __call__(self, events: list[Event]) -> None:
        latest: BatchEnd | None = None
        for event in events:
            if type(event) is BatchEnd:
                latest = event
            else:
                if latest is not None:  # batches before an epoch end are painted with it
                    self.post(TrainingProgress(latest))
                    latest = None
                self.post(EngineEvent(event))
        if latest is not None:
            self.post(TrainingProgress(latest))
