"""The status line: state, epoch i/n, step j/m, samples/s, elapsed, ETA, and the final result.

A fixed three rows, repainted without a layout pass and only where its text changed: it
updates several times a second while training.
"""

from __future__ import annotations

import math

from rich.text import Text

from mnist_tui.events import COMPILING, DONE, EVALUATING, FAILED, LOADING, PAUSED, STOPPED, STOPPING, TRAINING
from mnist_tui.history import RunHistory
from mnist_tui.render import palette
from mnist_tui.render.charset import symbols
from mnist_tui.widgets.diff_lines import DiffLines

OVERFIT_GAP = 0.02  # train − test accuracy above this is called overfitting
STATE_STYLE = {DONE: f"bold {palette.TRUE}", FAILED: f"bold {palette.WRONG}", PAUSED: f"bold {palette.VAL}",
               STOPPED: f"bold {palette.VAL}"}  # colours that keep their meaning in 16 colours


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


ACTIVE = frozenset({LOADING, COMPILING, TRAINING, PAUSED, EVALUATING, STOPPING, "starting"})


def status_lines(history: RunHistory, idle_hint: str = "", run: str = "", saved: bool = True) -> list[Text]:
    """Three lines: progress, metrics/result, and details (run, backend, reason, directory)."""
    first, second, third = Text(), Text(), Text()
    phase = history.phase or "idle"
    first.append(f" {phase.upper()} ", style=STATE_STYLE.get(phase, "bold reverse"))
    last, data, fin = history.last_batch, history.data, history.finished
    if data is not None and last is not None:
        first.append(f" epoch {last.epoch}/{data.epochs} · step {last.step}/{last.steps}"
                     f" · {last.samples_per_sec:,.0f} samples/s · {fmt_seconds(last.elapsed)}")
        if fin is None:
            first.append(f" · ETA {fmt_seconds(history.eta_seconds())}")
        second.append(f" loss {last.loss:.4f} · accuracy {last.accuracy:.2%} (epoch so far)")
    elif history.phase_detail:
        first.append(f" {history.phase_detail}")
    elif phase == TRAINING and data is not None:  # under way, its first batch not in yet
        first.append(f" epoch 1/{data.epochs} · waiting for the first batch")
    elif idle_hint and phase not in ACTIVE:  # "Press s to start" only when nothing runs
        first.append(f" {idle_hint}")
    if fin is not None and math.isfinite(fin.test_accuracy):
        label = "test accuracy" if fin.evaluated else f"test accuracy after epoch {fin.epochs_completed}"
        second = Text(f" {label} {fin.test_accuracy:.2%} · test loss {fin.test_loss:.4f}", style="bold")
        if history.epochs:
            train_acc = history.epochs[-1].accuracy
            gap = train_acc - fin.test_accuracy
            if gap > OVERFIT_GAP:
                second.append(f" · overfitting: train {train_acc:.2%}, gap {gap * 100:.1f} pp",
                              style=f"bold {palette.VAL}")
            else:
                second.append(f" · train {train_acc:.2%}: no sign of overfitting", style="")
    if fin is not None:
        if fin.reason:
            third.append(f" {fin.reason}", style="bold" if fin.status == FAILED else "")
        if fin.run_dir and saved:
            third.append(" · " if fin.reason else " ")
            third.append(f"saved to {fin.run_dir}", style="dim")
        elif not saved:
            third.append(" · not saved" if fin.reason else " not saved (the run store is not writable)",
                         style="dim")
    elif phase == FAILED and history.phase_detail and data is not None:
        third.append(f" {history.phase_detail}", style="bold")
    elif run:
        started = history.started
        third.append(f" run {run}", style="dim")
        if started is not None and (started.device or started.backend):
            third.append(f" · {started.device or started.backend} · pid {started.pid}", style="dim")
            if started.from_epoch:
                third.append(f" · resumed after epoch {started.from_epoch}", style="dim")
        if phase == TRAINING and history.phase_detail:  # e.g. "batches arrive in groups of 8" (JAX)
            third.append(f" · {history.phase_detail}", style="dim")
    sym = symbols()
    lines = [sym.rich(line) for line in (first, second, third)]
    for line in lines:
        line.no_wrap = True
        line.overflow = "ellipsis"
    return lines


class TrainStatus(DiffLines):
    """Repaints only the cells that changed (the step, the rate…): over SSH, bytes a tick."""

    DEFAULT_CSS = """
    TrainStatus { height: 3; }
    """
    OVERFLOW = "ellipsis"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._status: list[Text] = [Text()]

    def show(self, history: RunHistory, idle_hint: str = "", run: str = "", saved: bool = True) -> None:
        lines = status_lines(history, idle_hint, run, saved)
        if [line.plain for line in lines] != [line.plain for line in self._status]:
            self._status = lines
            self.changed()

    def build(self, width: int) -> list[Text]:
        return self._status
