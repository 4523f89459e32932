"""Everything the UI knows about the run it shows, filled from that run's event stream.

UI state, not engine: a follower thread (reading the run directory) or a test's fake run
source writes it through ``record``; the UI thread reads it. Appends are atomic under the
GIL and readers take consistent prefixes, so no lock is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_tui.events import (
    BatchEnd,
    Checkpointed,
    ControlApplied,
    DataReady,
    EpochEnd,
    Event,
    NetworkSaved,
    PhaseChanged,
    Predictions,
    RunFinished,
    TrainerStarted,
)
from mnist_tui.render.series import Series


@dataclass
class RunHistory:
    batch_loss: Series = field(default_factory=Series)
    batch_accuracy: Series = field(default_factory=Series)
    epochs: list[EpochEnd] = field(default_factory=list)
    epoch_boundaries: list[int] = field(default_factory=list)  # batch count at each epoch end
    data: DataReady | None = None
    last_batch: BatchEnd | None = None
    predictions_by_epoch: dict[int, Predictions] = field(default_factory=dict)
    network_by_epoch: dict[int, NetworkSaved] = field(default_factory=dict)  # 0: the initial weights
    finished: RunFinished | None = None
    started: TrainerStarted | None = None
    last_control: ControlApplied | None = None
    checkpoint_epoch: int = -1
    phase: str = ""
    phase_detail: str = ""
    abandoned_batches: int = 0  # rows of partial epochs a resume threw away
    version: int = 0  # bumped by every non-batch event: cheap "did anything change?" for views

    def reset(self) -> None:
        """Forget the previous run (in place, so every widget holding this object sees it)."""
        self.__init__()  # type: ignore[misc]

    def record(self, event: Event) -> None:
        """Update from one engine event; cheap for BatchEnd (the per-batch hot path)."""
        if type(event) is BatchEnd:
            self.batch_loss.append(event.batch_loss)
            self.batch_accuracy.append(event.batch_accuracy)
            self.last_batch = event
            return
        self.version += 1
        if isinstance(event, EpochEnd):
            self.epochs.append(event)
            self.epoch_boundaries.append(len(self.batch_loss))
        elif isinstance(event, PhaseChanged):
            self.phase, self.phase_detail = event.phase, event.detail
        elif isinstance(event, Predictions):
            self.predictions_by_epoch[event.epoch] = event
        elif isinstance(event, NetworkSaved):
            if event.record is not None:
                self.network_by_epoch[event.epoch] = event
        elif isinstance(event, DataReady):
            self.data = event
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, TrainerStarted):
            self._resumed_from(event)
        elif isinstance(event, ControlApplied):
            self.last_control = event
        elif isinstance(event, Checkpointed) and event.epoch >= 0:
            self.checkpoint_epoch = event.epoch

    def _resumed_from(self, event: TrainerStarted) -> None:
        """A trainer (re)started from the end of epoch k: rows after it were abandoned."""
        self.started = event
        self.finished = None
        k = event.from_epoch
        keep = self.epoch_boundaries[k - 1] if 0 < k <= len(self.epoch_boundaries) else 0
        if self.batches > keep:
            self.abandoned_batches += self.batches - keep
            self.batch_loss.truncate(keep)
            self.batch_accuracy.truncate(keep)
        del self.epochs[k:]
        del self.epoch_boundaries[k:]
        for epoch in [e for e in self.predictions_by_epoch if e > k]:
            del self.predictions_by_epoch[epoch]
        for epoch in [e for e in self.network_by_epoch if e > k]:
            del self.network_by_epoch[epoch]
        self.last_batch = None

    @property
    def batches(self) -> int:
        return len(self.batch_loss)

    @property
    def predictions(self) -> Predictions | None:
        """The latest epoch's predictions (the ones the viewer shows by default)."""
        if not self.predictions_by_epoch:
            return None
        return self.predictions_by_epoch[max(self.predictions_by_epoch)]

    def prediction_epochs(self) -> list[int]:
        return sorted(self.predictions_by_epoch)

    def network_epochs(self) -> list[int]:
        return sorted(self.network_by_epoch)

    def total_steps(self) -> int:
        return 0 if self.data is None else self.data.steps_per_epoch * self.data.epochs

    def eta_seconds(self) -> float | None:
        """Remaining training time from the pace of this trainer so far (pauses excluded)."""
        last = self.last_batch
        if last is None or self.data is None or self.batches == 0 or last.elapsed <= 0:
            return None
        first = self.started.from_epoch if self.started else 0
        done = (last.epoch - 1 - first) * last.steps + last.step
        epochs = self.started.epochs if self.started and self.started.epochs else self.data.epochs
        remaining = (epochs - last.epoch) * last.steps + (last.steps - last.step)
        return max(0.0, remaining * last.elapsed / max(done, 1))

    def probabilities(self) -> np.ndarray | None:
        preds = self.predictions
        return None if preds is None else preds.probabilities
