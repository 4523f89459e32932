"""Live per-batch metric chart: raw values faint, a smoothed line over them."""

from __future__ import annotations

import numpy as np

from mnist_tui.render.series import Series, nice_ticks
from mnist_tui.widgets.cached_plot import CachedPlot

MARKERS = ("braille", "hd", "dot")


class BatchChart(CachedPlot):
    """Plots a ``Series`` reduced to about twice the pane width, whatever its length:
    the raw per-batch values in gray, a centred moving average over them in colour.

    Drawing is pure Python holding the GIL, so the app calls ``redraw`` a few times a
    second at most and never for a hidden chart.
    """

    def __init__(self, title: str, *, percent: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.percent = percent
        self.series: Series | None = None
        self.marker = MARKERS[0]
        self.points_plotted = 0
        self.boundaries: list[int] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_series(self, series: Series | None, boundaries: list[int] | None = None) -> None:
        self.series = series
        self.boundaries = boundaries if boundaries is not None else []
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(self.title)
        plt.xlabel("batch")
        n = len(self.series) if self.series is not None else 0
        self.points_plotted = 0
        if self.series is not None and n:
            buckets = max(10, 2 * max(self.size.width - 10, 10))
            scale = 100.0 if self.percent else 1.0
            xs, ys, ye = self.series.chart_points(buckets, max(5, n // 40))
            xe = xs
            plt.plot(xs.tolist(), (ys * scale).tolist(), marker=self.marker, color="gray")
            plt.plot(xe.tolist(), (ye * scale).tolist(), marker=self.marker,
                     color="cyan" if not self.percent else "green")
            if self.percent:
                plt.ylim(max(0.0, float(np.nanmin(ys)) * scale), 100.0)
            plt.xticks(nice_ticks(n))
            self.points_plotted = len(xs) + len(xe)
        else:
            plt.xlim(0, 1)
        plt.title(self.title)
        self.changed()
