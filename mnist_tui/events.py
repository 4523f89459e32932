"""The event vocabulary of a run, and its one codec to and from the run directory's log.

A leaf module: the trainer emits these, the run directory stores them (``events.jsonl``, one
line per event, in order) and every follower decodes them back, in this process or another
one. Frozen dataclasses of plain ints, floats and strings, so they compare in tests, replay
into the UI and survive the trip to disk unchanged. Arrays (the test set, the per-epoch
softmax outputs) travel beside the log as ``.npy``/``.npz`` files; the events only say that
they are there.

Line format: ``{"<kind>": payload}``. The hot kinds (batch, epoch) carry a positional list
so that a line is short and thousands of them parse in one NumPy call; the rest carry their
fields by name. Batch and epoch floats keep 7 significant digits (Keras computes them in
float32, which holds no more); elapsed times keep 0.1 ms. Non-finite floats are written as
``null`` (JSON has no NaN) and read back as NaN. Unknown kinds raise ``UnknownEvent`` so
that an older reader can skip what a newer trainer wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

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
FINAL_STATUSES = (DONE, STOPPED, FAILED)

# Control commands a follower can send to a run (see mnist_tui.runs.control).
PAUSE, RESUME, STOP, CHECKPOINT, ATTACH, DETACH = "pause", "resume", "stop", "checkpoint", "attach", "detach"
COMMANDS = (PAUSE, RESUME, STOP, CHECKPOINT, ATTACH, DETACH)


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    phase: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TrainerStarted:
    """A trainer process took the run: at its first start ``from_epoch`` is 0; a resume names
    the epoch its checkpoint ends, and every row logged before this line with a later epoch
    belongs to an abandoned attempt (not counted as trained)."""

    pid: int
    host: str
    backend: str
    from_epoch: int = 0
    epochs: int = 0  # the run's total epochs from here on (a resume may extend it)
    device: str = ""  # what trains it: "JAX · CPU", "TensorFlow · GPU 0: <name>", "NumPy · CPU"


@dataclass(frozen=True, eq=False)
class DataReady:
    """The data is loaded and prepared. The arrays are for in-process listeners and followers
    that loaded ``test-set.npz``; the log line carries only the description."""

    n_train: int
    n_val: int
    n_test: int
    steps_per_epoch: int
    epochs: int
    batch_size: int
    class_names: tuple[str, ...]
    source: str
    validation: str
    x_test: np.ndarray | None = field(default=None, repr=False)  # uint8 (n_test, 28, 28)
    y_test: np.ndarray | None = field(default=None, repr=False)  # uint8 (n_test,)
    x_train: np.ndarray | None = field(default=None, repr=False)  # uint8, after --limit (the explorer)
    y_train: np.ndarray | None = field(default=None, repr=False)

    ARRAYS: ClassVar[tuple[str, ...]] = ("x_test", "y_test", "x_train", "y_train")


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
    """Softmax outputs on the whole test set at the end of ``epoch`` (0: a loaded model).
    On disk: ``predictions/epoch-NNNN.npy`` (float16) beside the log line."""

    epoch: int
    probabilities: np.ndarray | None = field(default=None, repr=False)  # float32 (n_test, 10)

    ARRAYS: ClassVar[tuple[str, ...]] = ("probabilities",)


@dataclass(frozen=True, slots=True)
class Checkpointed:
    """``checkpoint.npz`` now holds the model (and optimizer state) at the end of ``epoch``."""

    epoch: int
    seconds: float = 0.0  # what writing it cost, off the training thread


@dataclass(frozen=True, eq=False)
class NetworkSaved:
    """What the layers hold at the end of ``epoch`` (0: the initial weights, or a loaded model):
    weight histograms, update sizes, first-layer units or filters, dead units. On disk:
    ``network/epoch-NNNN.npz`` beside the log line (``mnist_tui.training.network_record``)."""

    epoch: int
    record: dict[str, np.ndarray] | None = field(default=None, repr=False)

    ARRAYS: ClassVar[tuple[str, ...]] = ("record",)


@dataclass(frozen=True, slots=True)
class ControlApplied:
    """The trainer carried out a control request (``request`` is the file it came in)."""

    command: str
    request: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RunFinished:
    """The run ended; ``status`` is done, stopped or failed (with ``reason``).

    ``evaluated`` is False when the final test evaluation was skipped (a stop): the test
    figures are then the last completed epoch's, or NaN before the first epoch ends.
    """

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
    evaluated: bool = True


Event = (PhaseChanged | TrainerStarted | DataReady | BatchEnd | EpochEnd | Predictions | Checkpointed
         | NetworkSaved | ControlApplied | RunFinished)
Emit = Callable[[Event], None]


# ----------------------------------------------------------------------------- codec
class UnknownEvent(ValueError):
    """A line whose kind this version does not know (written by a newer trainer)."""


KINDS: dict[str, type[Any]] = {
    "phase": PhaseChanged, "start": TrainerStarted, "data": DataReady, "batch": BatchEnd, "epoch": EpochEnd,
    "predictions": Predictions, "checkpoint": Checkpointed, "control": ControlApplied, "finished": RunFinished,
    "network": NetworkSaved,
}
KIND_OF: dict[type[Any], str] = {cls: kind for kind, cls in KINDS.items()}
POSITIONAL = ("batch", "epoch")  # lists, in field order: short lines, bulk-parsable
BATCH_PREFIX, EPOCH_PREFIX = '{"batch":[', '{"epoch":['


def _num(value: float, fmt: str = "%.7g") -> str:
    return fmt % value if math.isfinite(value) else "null"


def encode(event: Event) -> str:
    """One log line (without the newline). BatchEnd is the hot path: plain string formatting."""
    if type(event) is BatchEnd:
        e = event
        return (f'{BATCH_PREFIX}{e.epoch},{e.step},{e.steps},{e.seen},{_num(e.loss)},{_num(e.accuracy)},'
                f'{_num(e.batch_loss)},{_num(e.batch_accuracy)},{_num(e.samples_per_sec, "%.1f")},'
                f'{_num(e.elapsed, "%.4f")}]}}')
    if type(event) is EpochEnd:
        e2 = event
        return (f'{EPOCH_PREFIX}{e2.epoch},{e2.epochs},{_num(e2.loss)},{_num(e2.accuracy)},{_num(e2.val_loss)},'
                f'{_num(e2.val_accuracy)},{_num(e2.seconds, "%.4f")}]}}')
    kind = KIND_OF.get(type(event))
    if kind is None:
        raise TypeError(f"not an event: {type(event).__name__}")
    skip = getattr(event, "ARRAYS", ())
    payload = {f.name: _plain(getattr(event, f.name)) for f in fields(event) if f.name not in skip}
    return json.dumps({kind: payload}, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    """JSON-safe: tuples to lists, non-finite floats to null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


_FLOAT_FIELDS: dict[type[Any], frozenset[str]] = {}


def _float_fields(cls: type[Any]) -> frozenset[str]:
    names = _FLOAT_FIELDS.get(cls)
    if names is None:
        names = frozenset(f.name for f in fields(cls) if f.type in ("float", float))
        _FLOAT_FIELDS[cls] = names
    return names


def decode(line: str | bytes) -> Event:
    """The event a log line holds. Raises ``UnknownEvent`` for a kind from the future and
    ``ValueError`` for a line that is not an event at all (garbage, a torn write)."""
    try:
        obj = json.loads(line)
    except ValueError as err:
        raise ValueError(f"not an event line: {err}") from None
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError("not an event line: expected one {kind: payload} object")
    ((kind, payload),) = obj.items()
    cls = KINDS.get(kind)
    if cls is None:
        raise UnknownEvent(f"unknown event kind {kind!r}")
    try:
        if kind in POSITIONAL:
            if not isinstance(payload, list):
                raise TypeError("payload must be a list")
            return cls(*(math.nan if v is None else v for v in payload))  # type: ignore[no-any-return]
        if not isinstance(payload, dict):
            raise TypeError("payload must be an object")
        floats = _float_fields(cls)
        names = {f.name for f in fields(cls)}
        values = {k: (math.nan if v is None and k in floats else _tuples(v)) for k, v in payload.items() if k in names}
        return cls(**values)  # type: ignore[no-any-return]
    except TypeError as err:
        raise ValueError(f"bad {kind} event: {err}") from None


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def decode_numeric(lines: list[str], prefix: str, width: int) -> np.ndarray | None:
    """Bulk-parse batch or epoch lines (all starting with ``prefix``) into a float64 table in
    C, ~10× faster than decoding each line; None when any line is odd (the caller then
    decodes one by one). null becomes NaN."""
    if not lines:
        return np.empty((0, width))
    cut = len(prefix)
    body = ",".join(ln[cut:-2] for ln in lines).replace("null", "nan")
    try:
        flat = np.array(body.split(","), dtype=np.float64)
    except ValueError:
        return None
    return flat.reshape(len(lines), width) if flat.size == len(lines) * width else None


BATCH_FIELDS = tuple(f.name for f in fields(BatchEnd))
EPOCH_FIELDS = tuple(f.name for f in fields(EpochEnd))
