"""Everything a UI needs to know about the current run, filled from the event stream.

Written only by the training thread (through ``record``), read by the UI thread. Appends
are atomic under the GIL and readers take consistent prefixes, so no lock is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_tui.render.series import Series
from mnist_tui.training.events import BatchEnd, DataReady, EpochEnd, Event, PhaseChanged, Predictions, RunFinished


@dataclass
class RunHistory:
    batch_loss: Series = field(default_factory=Series)
    batch_accuracy: Series = field(default_factory=Series)
    epochs: list[EpochEnd] = field(default_factory=list)
    epoch_boundaries: list[int] = field(default_factory=list)  # batch count at each epoch end
    data: DataReady | None = None
    last_batch: BatchEnd | None = None
    predictions: Predictions | None = None
    finished: RunFinished | None = None
    phase: str = ""
    phase_detail: str = ""

    def reset(self) -> None:
        """Forget the previous run (in place, so every widget holding this object sees it)."""
        self.__init__()  # type: ignore[misc]

    def record(self, event: Event) -> None:
        """Update from one engine event; cheap for BatchEnd (the per-batch hot path)."""
        if isinstance(event, BatchEnd):
            self.batch_loss.append(event.batch_loss)
            self.batch_accuracy.append(event.batch_accuracy)
            self.last_batch = event
        elif isinstance(event, EpochEnd):
            self.epochs.append(event)
            self.epoch_boundaries.append(len(self.batch_loss))
        elif isinstance(event, PhaseChanged):
            self.phase, self.phase_detail = event.phase, event.detail
        elif isinstance(event, Predictions):
            self.predictions = event
        elif isinstance(event, DataReady):
            self.data = event
        elif isinstance(event, RunFinished):
            self.finished = event

    @property
    def batches(self) -> int:
        return len(self.batch_loss)

    def total_steps(self) -> int:
        return 0 if self.data is None else self.data.steps_per_epoch * self.data.epochs

    def eta_seconds(self) -> float | None:
        """Remaining training time from the average pace so far (pauses excluded)."""
        last = self.last_batch
        if last is None or self.data is None or self.batches == 0 or last.elapsed <= 0:
            return None
        done = (last.epoch - 1) * last.steps + last.step
        remaining = self.total_steps() - done
        return max(0.0, remaining * last.elapsed / max(done, 1))

    def probabilities(self) -> np.ndarray | None:
        return None if self.predictions is None else self.predictions.probabilities
