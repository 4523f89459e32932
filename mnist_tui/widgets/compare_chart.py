"""Two runs' per-epoch curves on one chart, on a shared x axis in epochs or in samples seen.

Epochs compare how far each run got per pass over the data; samples seen compare runs whose
training sets differ (``--limit``), which per epoch would not line up.
"""

from __future__ import annotations

import numpy as np

from mnist_tui.render.palette import SERIES
from mnist_tui.render.ticks import ticks_for_columns, ticks_for_rows
from mnist_tui.runs.milestones import EpochCurve
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry

AXES = ("epochs", "samples")
METRICS = ("val_accuracy", "val_loss")


class CompareChart(CachedPlot):
    """``set_curves([(label, EpochCurve), ...])``; ``axis`` epochs|samples, ``metric`` val_accuracy|val_loss."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.curves: list[tuple[str, EpochCurve]] = []
        self.axis = "epochs"
        self.metric = "val_accuracy"
        self.x_ranges: dict[str, tuple[float, float]] = {}  # what the last redraw drew, per label

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_curves(self, curves: list[tuple[str, EpochCurve]]) -> None:
        self.curves = curves
        self.redraw()

    def toggle_axis(self) -> None:
        self.axis = AXES[(AXES.index(self.axis) + 1) % len(AXES)]
        self.redraw()

    def toggle_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        self.x_ranges = {}
        scale = 100.0 if self.metric == "val_accuracy" else 1.0
        drawn: list[tuple[str, np.ndarray, np.ndarray]] = []
        for label, curve in self.curves:
            x = np.array(curve.epochs if self.axis == "epochs" else curve.samples, dtype=np.float64)
            y = np.array(getattr(curve, self.metric), dtype=np.float64) * scale
            keep = np.isfinite(x) & np.isfinite(y)
            if keep.any():
                drawn.append((label, x[keep], y[keep]))
        markers = self.markers(len(drawn), "braille")
        what = "validation accuracy %" if self.metric == "val_accuracy" else "validation loss"
        other = "samples seen" if self.axis == "epochs" else "epochs"
        self.set_header(f"{what} per epoch (z: x in {other} · a: {'loss' if scale > 1 else 'accuracy'})",
                        [LegendEntry(label, markers[i], SERIES[i % len(SERIES)]) for i, (label, _, _) in
                         enumerate(drawn)])
        for i, (label, x, y) in enumerate(drawn):
            plt.plot(x.tolist(), y.tolist(), marker=markers[i], color=self.colour(SERIES[i % len(SERIES)]))
            self.x_ranges[label] = (float(x[0]), float(x[-1]))
        if drawn:
            lo = min(float(y.min()) for _, _, y in drawn)
            hi = max(float(y.max()) for _, _, y in drawn)
            if hi > lo:
                plt.ylim(lo, hi)
                plt.yticks(*ticks_for_rows(lo, hi, self.plot_rows))
            x0 = min(float(x.min()) for _, x, _ in drawn)
            x1 = max(float(x.max()) for _, x, _ in drawn)
            if x1 > x0:
                plt.xlim(x0, x1)
                plt.xticks(*ticks_for_columns(x0, x1, self.plot_columns))
        plt.xlabel("epoch" if self.axis == "epochs" else "samples seen")
        self.changed()
