"""Live per-batch metric chart: raw values faint, a smoothed line over them."""

from __future__ import annotations

import math

import numpy as np
from textual import events

from mnist_tui.render.palette import ACCURACY, LOSS, RAW
from mnist_tui.render.series import Series
from mnist_tui.render.ticks import ticks_for_columns, ticks_for_rows
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry

MARKERS = ("braille", "hd", "dot")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least ``value``."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= value * (1 - 1e-12))


class BatchChart(CachedPlot):
    """Plots a ``Series`` reduced to about twice the pane width, whatever its length:
    the raw per-batch values in grey, a centred moving average over them in colour. The
    header names both with their markers (told apart by marker too when there is no colour),
    and the axes carry evenly spaced 1/2/5 ticks.

    Drawing is pure Python holding the GIL, so the app calls ``redraw`` a few times a
    second at most and never for a hidden chart.

    ``span`` (set by the app: ``app.chart_span``) fixes the frame: x runs over ``span``
    batches, y from 0 (to 100 % for accuracy), the buckets and the smoothing window follow
    the span, so what is drawn stays put and a repaint sends only the cells at the curve's
    growing end.
    """

    def __init__(self, title: str, *, percent: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.percent = percent
        self.series: Series | None = None
        self.marker = MARKERS[0]
        self.points_plotted = 0
        self.boundaries: list[int] = []
        self.yticks: list[float] = []
        self.xticks: list[float] = []
        self.span: int | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        if self.resized(event):
            self.redraw()  # how many ticks fit depends on the size

    def set_series(self, series: Series | None, boundaries: list[int] | None = None) -> None:
        self.series = series
        self.boundaries = boundaries if boundaries is not None else []
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.xlabel("batch")
        n = len(self.series) if self.series is not None else 0
        raw_marker, smooth_marker = self.markers(2, self.marker)
        colour = ACCURACY if self.percent else LOSS
        self.set_header(self.title, [LegendEntry("raw", raw_marker, RAW),
                                     LegendEntry("smoothed", smooth_marker, colour)])
        self.points_plotted = 0
        self.yticks, self.xticks = [], []
        if self.series is not None and n:
            buckets = max(10, 2 * max(self.size.width - 10, 10))
            scale = 100.0 if self.percent else 1.0
            span = self.span if self.span is not None and self.span >= n else None
            xs, ys, ye = self.series.chart_points(buckets, max(5, (span or n) // 40), span)
            ys, ye = ys * scale, ye * scale
            plt.plot(xs.tolist(), ys.tolist(), marker=raw_marker, color=self.colour(RAW))
            plt.plot(xs.tolist(), ye.tolist(), marker=smooth_marker, color=self.colour(colour))
            self._axes(xs, np.concatenate([ys, ye]), span or n, fixed=span is not None)
            self.points_plotted = 2 * len(xs)
        else:
            plt.xlim(0, 1)
        self.changed()

    def _axes(self, xs: np.ndarray, ys: np.ndarray, n: int, *, fixed: bool = False) -> None:
        """Limits from the data, and ticks of our own: plotext's skip labels (see render.ticks).
        ``fixed``: y from 0, so a falling loss or a rising accuracy moves nothing drawn."""
        plt = self.plt
        finite = ys[np.isfinite(ys)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            if self.percent:
                lo, hi = (0.0 if fixed else max(0.0, lo)), 100.0
            elif fixed and lo >= 0:
                lo, hi = 0.0, nice_ceiling(hi)  # a top that a slightly higher batch leaves alone
            if hi > lo:
                plt.ylim(lo, hi)
                ticks, labels = ticks_for_rows(lo, hi, self.plot_rows)
                plt.yticks(ticks, labels)
                self.yticks = ticks
        if n > 1:
            plt.xlim(1, n)
        ticks, labels = ticks_for_columns(1, max(n, 1), self.plot_columns, integer=True)
        plt.xticks(ticks, labels)
        self.xticks = ticks
