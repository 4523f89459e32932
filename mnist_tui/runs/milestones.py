"""Time to accuracy: how long, and how many samples, a run took to reach 97, 98 and 99 %.

Validation accuracy is measured at epoch ends only, so a milestone is the first counted epoch
whose ``val_accuracy`` reached the threshold: its time is the training seconds of that epoch
and every one before it (pauses excluded: each epoch row's own ``seconds``), its samples are
that many epochs of the run's training set. A finished run answers from ``summary.json``
(its counted epochs and data size, a few kB); a running or crashed one from the epoch, start
and data lines of its log, rows of abandoned attempts left out. Answers are cached per file
version, so the Runs tab and ``runs list`` can ask for every run every time.

Standard library and NumPy only, like the store that shows these.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_tui.events import DataReady, EpochEnd, TrainerStarted, UnknownEvent, decode
from mnist_tui.runs.follow import counted
from mnist_tui.runs.rundir import LOG, SUMMARY, read_json

THRESHOLDS = (0.97, 0.98, 0.99)
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Milestone:
    """The first epoch end at or above ``threshold`` validation accuracy."""

    threshold: float
    epoch: int
    seconds: float  # training seconds up to that epoch end
    samples: int  # training samples seen up to that epoch end (0: unknown)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seconds": round(self.seconds, 3), "samples": self.samples}


@dataclass(frozen=True)
class EpochCurve:
    """A run's counted epochs: what milestones, sparklines and the diff view's curves use."""

    epochs: tuple[int, ...]
    val_accuracy: tuple[float, ...]
    seconds: tuple[float, ...]  # each epoch's own training seconds
    n_train: int  # training samples per epoch (0: unknown)
    val_loss: tuple[float, ...] = ()

    @property
    def samples(self) -> tuple[int, ...]:
        """Samples seen at each epoch end."""
        return tuple(e * self.n_train for e in self.epochs)

    @property
    def elapsed(self) -> tuple[float, ...]:
        """Training seconds at each epoch end."""
        total, out = 0.0, []
        for s in self.seconds:
            total += s if math.isfinite(s) else 0.0
            out.append(total)
        return tuple(out)


EMPTY = EpochCurve((), (), (), 0, ())
_LINES = re.compile(rb'^\{"(?:epoch|start|data)":.*$', re.MULTILINE)
_CACHE: dict[Path, tuple[tuple[int, int, int, int], EpochCurve]] = {}


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """(log mtime, log size, summary mtime, summary size); zeros for a missing file."""
    out: list[int] = []
    for name in (LOG, SUMMARY):
        try:
            st = (path / name).stat()
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return out[0], out[1], out[2], out[3]


def epoch_curve(path: str | Path) -> EpochCurve:
    """The run's counted epochs (cached by file version); empty for anything unreadable."""
    path = Path(path)
    stamp = _stamp(path)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    curve = EMPTY
    with contextlib.suppress(Exception):  # a broken run has no milestones; it must still list
        curve = _from_summary(path) or _from_log(path)
    _CACHE[path] = (stamp, curve)
    return curve


def _from_summary(path: Path) -> EpochCurve | None:
    summary = read_json(path / SUMMARY)
    if not isinstance(summary, dict) or not isinstance(summary.get("epochs"), list):
        return None
    rows = [e for e in summary["epochs"] if isinstance(e, dict) and isinstance(e.get("epoch"), int)]
    data = summary.get("dataset") if isinstance(summary.get("dataset"), dict) else {}
    n_train = data.get("n_train") if isinstance(data.get("n_train"), int) else 0
    return EpochCurve(tuple(e["epoch"] for e in rows), tuple(_float(e.get("val_accuracy")) for e in rows),
                      tuple(_float(e.get("seconds")) for e in rows), n_train,
                      tuple(_float(e.get("val_loss")) for e in rows))


def _from_log(path: Path) -> EpochCurve:
    try:
        data = (path / LOG).read_bytes()
    except OSError:
        return EMPTY
    events = []
    for line in _LINES.findall(data[: data.rfind(b"\n") + 1]):
        with contextlib.suppress(UnknownEvent, ValueError):
            event = decode(line)
            if isinstance(event, (EpochEnd, TrainerStarted, DataReady)):
                events.append(event)
    kept = counted(events)
    n_train = next((e.n_train for e in reversed(kept) if isinstance(e, DataReady)), 0)
    rows = [e for e in kept if isinstance(e, EpochEnd)]
    return EpochCurve(tuple(e.epoch for e in rows), tuple(e.val_accuracy for e in rows),
                      tuple(e.seconds for e in rows), n_train, tuple(e.val_loss for e in rows))


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def milestones(curve: EpochCurve, thresholds: tuple[float, ...] = THRESHOLDS) -> dict[float, Milestone | None]:
    """threshold → the first epoch end reaching it, or None (not reached)."""
    out: dict[float, Milestone | None] = {}
    elapsed = curve.elapsed
    for t in thresholds:
        out[t] = None
        for i, acc in enumerate(curve.val_accuracy):
            if math.isfinite(acc) and acc >= t:
                out[t] = Milestone(t, curve.epochs[i], elapsed[i], curve.epochs[i] * curve.n_train)
                break
    return out


def time_to_accuracy(path: str | Path) -> dict[float, Milestone | None]:
    """The run's milestones at 97, 98 and 99 % validation accuracy."""
    return milestones(epoch_curve(path))


def seconds_to(path: str | Path, threshold: float) -> float | None:
    """Training seconds to ``threshold`` (a sort key: None, not reached, sorts last)."""
    reached = milestones(epoch_curve(path), (threshold,))[threshold]
    return None if reached is None else reached.seconds


def to_json(path: str | Path) -> dict[str, Any]:
    """``{"97": {"epoch", "seconds", "samples"} | null, "98": ..., "99": ...}`` for ``runs list --json``."""
    return {key(t): (m.to_json() if m else None) for t, m in time_to_accuracy(path).items()}


def key(threshold: float) -> str:
    return f"{round(threshold * 100):d}"


def format_samples(samples: int) -> str:
    if samples >= 1_000_000:
        return f"{samples / 1e6:.1f}M"
    if samples >= 10_000:
        return f"{samples / 1e3:.0f}k"
    return f"{samples:,}"


def describe(path: str | Path) -> str:
    """``97%: 12.3s/40k · 98%: 30.1s/100k · 99%: not reached`` for a detail line."""
    from mnist_tui.runs.store import format_duration

    parts = []
    for t, m in time_to_accuracy(path).items():
        what = NOT_REACHED if m is None else (f"{format_duration(m.seconds)}"
                                              + (f"/{format_samples(m.samples)}" if m.samples else ""))
        parts.append(f"{key(t)}%: {what}")
    return " · ".join(parts)
