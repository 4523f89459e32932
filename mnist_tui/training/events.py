"""Events the trainer streams to its listeners.

Frozen dataclasses of plain ints, floats and strings (plus the test arrays, which the digit
viewer needs), so they can be written to CSV/JSON, compared in tests and replayed into the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Run phases as shown in the status line.
LOADING = "loading data"
COMPILING = "compiling"
TRAINING = "training"
PAUSED = "paused"
EVALUATING = "evaluating"
STOPPING = "stopping"
DONE = "done"
STOPPED = "stopped"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    phase: str
    detail: str = ""


@dataclass(frozen=True, eq=False)
class DataReady:
    """The data is loaded and prepared; carries the raw test set for the digit viewer."""

    n_train: int
    n_val: int
    n_test: int
    steps_per_epoch: int
    epochs: int
    batch_size: int
    class_names: tuple[str, ...]
    source: str
    validation: str
    x_test: np.ndarray = field(repr=False)  # uint8 (n_test, 28, 28)
    y_test: np.ndarray = field(repr=False)  # uint8 (n_test,)
    x_train: np.ndarray | None = field(default=None, repr=False)  # uint8, after --limit (for the explorer)
    y_train: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class BatchEnd:
    """One optimisation step.

    ``loss``/``accuracy`` are Keras's running means since the start of the epoch;
    ``batch_loss``/``batch_accuracy`` are this batch's own values.
    """

    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps: int
    seen: int  # samples seen this epoch
    loss: float
    accuracy: float
    batch_loss: float
    batch_accuracy: float
    samples_per_sec: float
    elapsed: float  # training seconds since the run started, pauses excluded


@dataclass(frozen=True, slots=True)
class EpochEnd:
    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float


@dataclass(frozen=True, eq=False)
class Predictions:
    """Softmax outputs on the whole test set, computed in the training thread."""

    epoch: int
    probabilities: np.ndarray = field(repr=False)  # float32 (n_test, 10)


@dataclass(frozen=True)
class RunFinished:
    """The run ended; ``status`` is done, stopped or failed (with ``reason``)."""

    status: str
    reason: str
    epochs_completed: int
    test_loss: float
    test_accuracy: float
    per_class_accuracy: tuple[float, ...]
    confusion: tuple[tuple[int, ...], ...]
    train_seconds: float
    total_seconds: float
    run_dir: str | None


@dataclass(frozen=True, eq=False)
class ModelReady:
    """The trained (or loaded) model as a predict function: uint8 (N, 28, 28) → softmax (N, 10).

    Sent once training has ended, so calling it from another thread never races the trainer.
    Not written to the run directory.
    """

    label: str
    predict: Callable[[np.ndarray], np.ndarray] = field(repr=False)


Event = PhaseChanged | DataReady | BatchEnd | EpochEnd | Predictions | ModelReady | RunFinished
Emit = Callable[[Event], None]
