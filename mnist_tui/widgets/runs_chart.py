"""Several saved runs' per-batch curves on one chart, to compare them.

The x axis is in epochs (batch step / steps per epoch), so runs with different batch sizes
line up; each curve is smoothed (centred moving average) and reduced to about twice the
pane width, so a 100k-batch run costs the same to draw as a short one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual import events

from mnist_tui.render.palette import SERIES
from mnist_tui.render.series import reduce, smooth
from mnist_tui.render.ticks import ticks_for_columns, ticks_for_rows
from mnist_tui.runs.store import epoch_positions
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry

PALETTE = SERIES  # eight colours that stay eight different ANSI colours in a 16-colour terminal
METRICS = {"loss": ("batch_loss", 1.0), "accuracy": ("batch_accuracy", 100.0)}


class RunsChart(CachedPlot):
    """Overlays runs given as ``(run id, read_metrics(...)["batches"])`` pairs. The legend
    (run ids, each with its colour and marker) is in the header, never over a curve; without
    colour every run has its own marker."""

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
        curves: list[tuple[str, np.ndarray, np.ndarray]] = []
        for rid, batches in self.runs:
            x, y = epoch_positions(batches), batches.get(column, np.empty(0)) * scale
            keep = np.isfinite(x)
            x, y = x[keep], y[keep]
            if not len(y) or not np.isfinite(y).any():
                continue
            _, xr = reduce(x, buckets, "mean")
            _, yr = reduce(smooth(y, max(5, len(y) // 40)), buckets, "mean")
            ok = np.isfinite(xr) & np.isfinite(yr)
            curves.append((rid, xr[ok], yr[ok]))
        markers = self.markers(len(curves), self.marker)
        legend = [LegendEntry(rid, markers[i], PALETTE[i % len(PALETTE)]) for i, (rid, _, _) in enumerate(curves)]
        if curves:
            what = "loss" if self.metric == "loss" else "accuracy %"
            self.set_header(f"{what} per batch, smoothed (a: {'accuracy' if self.metric == 'loss' else 'loss'})",
                            legend)
        else:
            self.set_header("space: select runs · o: overlay them here")
        for i, (rid, xr, yr) in enumerate(curves):
            plt.plot(xr.tolist(), yr.tolist(), marker=markers[i], color=self.colour(PALETTE[i % len(PALETTE)]))
            self.plotted_ids.append(rid)
            self.x_ranges[rid] = (float(xr[0]), float(xr[-1]))
        if curves:
            lo = min(float(yr.min()) for _, _, yr in curves)
            hi = max(float(yr.max()) for _, _, yr in curves)
            if self.metric == "accuracy":
                lo, hi = max(0.0, lo), 100.0
            if hi > lo:
                plt.ylim(lo, hi)
                plt.yticks(*ticks_for_rows(lo, hi, self.plot_rows))
            x0 = min(r[0] for r in self.x_ranges.values())
            x1 = max(r[1] for r in self.x_ranges.values())
            if x1 > x0:
                plt.xlim(x0, x1)
                plt.xticks(*ticks_for_columns(x0, x1, self.plot_columns))
        else:
            plt.xlim(0, 1)
        plt.xlabel("epoch")
        self.changed()
