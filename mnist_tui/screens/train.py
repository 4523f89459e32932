"""Live training view: status line, per-batch charts and epoch curves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Vertical

from mnist_tui.widgets.epoch_chart import EpochChart
from mnist_tui.widgets.metric_chart import BatchChart
from mnist_tui.widgets.train_status import TrainStatus


class TrainView(Vertical):
    def compose(self) -> ComposeResult:
        yield TrainStatus(id="train-status")
        with Grid(id="charts"):
            yield BatchChart("loss per batch", id="chart-loss")
            yield BatchChart("accuracy % per batch", percent=True, id="chart-acc")
            yield EpochChart("loss", id="chart-epoch-loss")
            yield EpochChart("accuracy", id="chart-epoch-acc")
