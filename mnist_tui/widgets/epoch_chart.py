"""Epoch curves: train vs validation, the tutorial's loss/val_loss and accuracy/val_accuracy plot."""

from __future__ import annotations

import math

from textual import events

from mnist_tui.events import EpochEnd
from mnist_tui.render.palette import TRAIN, VAL
from mnist_tui.render.ticks import snapped_range, ticks_for_columns, ticks_for_rows
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry


class EpochChart(CachedPlot):
    """Train and validation per epoch; the header's legend (not plotext's box over the
    curves) names them, each with its own marker when there is no colour.

    ``span`` (set by the app, as for the batch charts) fixes the x range to epochs 1..span,
    and y runs between tick multiples: a new epoch then adds its points without moving the
    axes (short JAX epochs end several times a second, and a rescaled chart is resent whole)."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric  # "loss" or "accuracy"
        self.epochs: list[EpochEnd] = []
        self.marker = "braille"
        self.yticks: list[float] = []
        self.span: int | None = None  # the x range's last epoch (None: the last one run)

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        if self.resized(event):
            self.redraw()  # how many ticks fit depends on the size

    def set_epochs(self, epochs: list[EpochEnd]) -> None:
        self.epochs = list(epochs)
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        pct = self.metric == "accuracy"
        scale = 100.0 if pct else 1.0
        xs = [e.epoch for e in self.epochs]
        train = [getattr(e, self.metric) * scale for e in self.epochs]
        val = [getattr(e, f"val_{self.metric}") * scale for e in self.epochs]
        train_marker, val_marker = self.markers(2, self.marker)
        has_val = bool(xs) and all(math.isfinite(v) for v in val)
        legend = [LegendEntry("train", train_marker, TRAIN)] if xs else []
        if has_val:
            legend.append(LegendEntry("val", val_marker, VAL))
        when = "" if xs else " (after the first epoch)"
        self.set_header(f"epoch {self.metric}{' %' if pct else ''}{when}", legend)  # before the ticks: rows
        self.yticks = []
        if xs:
            plt.plot(xs, train, marker=train_marker, color=self.colour(TRAIN))
            plotted = [v for v in train if math.isfinite(v)]
            if has_val:
                plt.plot(xs, val, marker=val_marker, color=self.colour(VAL))
                plotted += val
            if plotted and max(plotted) > min(plotted):
                lo, hi = snapped_range(min(plotted), max(plotted), self.plot_rows)
                lo, hi = max(lo, 0.0), min(hi, 100.0) if pct else hi  # neither below 0 nor above 100 %
                plt.ylim(lo, hi)
                ticks, labels = ticks_for_rows(lo, hi, self.plot_rows)
                plt.yticks(ticks, labels)
                self.yticks = ticks
            first, last = min(xs), max(xs)
            if self.span is not None and self.span > last:
                last = self.span
            if last > first:
                plt.xlim(first, last)
            ticks, labels = ticks_for_columns(first, last, self.plot_columns, integer=True)
            plt.xticks(ticks, labels)
        plt.xlabel("epoch")
        self.changed()
