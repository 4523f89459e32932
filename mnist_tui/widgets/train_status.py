"""The status line: state, epoch i/n, step j/m, samples/s, elapsed, ETA, and the final result."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from mnist_tui.training.events import DONE, FAILED, PAUSED, STOPPED
from mnist_tui.training.history import RunHistory

OVERFIT_GAP = 0.02  # train − test accuracy above this is called overfitting


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


STATE_STYLE = {DONE: "bold green", FAILED: "bold red", PAUSED: "bold yellow", STOPPED: "bold yellow"}


class TrainStatus(Static):
    def show(self, history: RunHistory, idle_hint: str = "") -> None:
        text = Text(no_wrap=False)
        phase = history.phase or "idle"
        text.append(f" {phase.upper()} ", style=STATE_STYLE.get(phase, "bold reverse"))
        if history.phase_detail and phase not in (DONE,):
            text.append(f" {history.phase_detail}")
        last = history.last_batch
        data = history.data
        if data is not None and last is not None:
            text.append(f"  epoch {last.epoch}/{data.epochs}  step {last.step}/{last.steps}")
            text.append(f"  {last.samples_per_sec:,.0f} samples/s")
            text.append(f"  elapsed {fmt_seconds(last.elapsed)}")
            if history.finished is None:
                text.append(f"  ETA {fmt_seconds(history.eta_seconds())}")
            text.append(f"  loss {last.loss:.4f}  acc {last.accuracy:.2%}")
        elif not history.phase and idle_hint:
            text.append(f"  {idle_hint}")
        fin = history.finished
        if fin is not None:
            text.append("\n")
            if math.isfinite(fin.test_accuracy):
                text.append(f" test accuracy {fin.test_accuracy:.2%}  test loss {fin.test_loss:.4f}", style="bold")
                if history.epochs:
                    train_acc = history.epochs[-1].accuracy
                    gap = train_acc - fin.test_accuracy
                    note = (f"  overfitting: train {train_acc:.2%} vs test {fin.test_accuracy:.2%}"
                            f" (gap {gap * 100:.1f} pp)") if gap > OVERFIT_GAP else (
                            f"  train {train_acc:.2%}: no sign of overfitting")
                    text.append(note, style="bold yellow" if gap > OVERFIT_GAP else "")
            if fin.reason:
                text.append(f"  ({fin.reason})")
            if fin.run_dir:
                text.append(f"\n saved to {fin.run_dir}", style="dim")
        self.update(text)
