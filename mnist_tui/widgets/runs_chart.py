"""Several saved runs' per-batch curves on one chart, to compare them.

The x axis is in epochs (batch step / steps per epoch), so runs with different batch sizes
line up; each curve is smoothed (centred moving average) and reduced to about twice the
pane width, so a 100k-batch run costs the same to draw as a short one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual import events

from mnist_tui.render.series import reduce, smooth
from mnist_tui.runs.store import epoch_positions
from mnist_tui.widgets.cached_plot import CachedPlot

PALETTE = ("cyan+", "orange+", "green+", "magenta+", "blue+", "red+", "yellow", "gray+")
METRICS = {"loss": ("batch_loss", 1.0), "accuracy": ("batch_accuracy", 100.0)}


class RunsChart(CachedPlot):
    """Overlays runs given as ``(run id, read_metrics(...)["batches"])`` pairs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.metric = "loss"
        self.marker = "braille"
        self.plotted_ids: list[str] = []  # what the last redraw really drew (runs with data)
        self.x_ranges: dict[str, tuple[float, float]] = {}  # per plotted run, in epochs

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.redraw()  # the reduction depends on the width

    def set_runs(self, runs: list[tuple[str, dict[str, Any]]]) -> None:
        self.runs = runs
        self.redraw()

    def set_metric(self, metric: str) -> None:
        self.metric = metric
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_figure()  # not clear_data: ylim from the accuracy view must not stick
        column, scale = METRICS[self.metric]
        self.plotted_ids, self.x_ranges = [], {}
        buckets = max(10, 2 * max(self.size.width - 10, 10))
        low = np.inf
        for rid, batches in self.runs:
            x, y = epoch_positions(batches), batches.get(column, np.empty(0)) * scale
            keep = np.isfinite(x)
            x, y = x[keep], y[keep]
            if not len(y) or not np.isfinite(y).any():
                continue
            _, xr = reduce(x, buckets, "mean")
            _, yr = reduce(smooth(y, max(5, len(y) // 40)), buckets, "mean")
            ok = np.isfinite(xr) & np.isfinite(yr)
            color = PALETTE[len(self.plotted_ids) % len(PALETTE)]
            plt.plot(xr[ok].tolist(), yr[ok].tolist(), marker=self.marker, color=color, label=rid)
            low = min(low, float(np.nanmin(yr[ok])))
            self.plotted_ids.append(rid)
            self.x_ranges[rid] = (float(xr[ok][0]), float(xr[ok][-1]))
        if self.plotted_ids:
            what = "loss" if self.metric == "loss" else "accuracy %"
            plt.title(f"{what} per batch, smoothed (a: {'accuracy' if self.metric == 'loss' else 'loss'})")
            if self.metric == "accuracy":
                plt.ylim(max(0.0, low), 100.0)
        else:
            plt.title("space: select runs · o: overlay them here")
            plt.xlim(0, 1)
        plt.xlabel("epoch")
        self.changed()
