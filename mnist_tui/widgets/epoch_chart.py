"""Epoch curves: train vs validation, the tutorial's loss/val_loss and accuracy/val_accuracy plot."""

from __future__ import annotations

import math

from textual import events

from mnist_tui.events import EpochEnd
from mnist_tui.render.palette import TRAIN, VAL
from mnist_tui.render.ticks import ticks_for_columns, ticks_for_rows
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry


class EpochChart(CachedPlot):
    """Train and validation per epoch; the header's legend (not plotext's box over the
    curves) names them, each with its own marker when there is no colour."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric  # "loss" or "accuracy"
        self.epochs: list[EpochEnd] = []
        self.marker = "braille"
        self.yticks: list[float] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
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
                lo, hi = min(plotted), max(plotted)
                plt.ylim(lo, hi)
                ticks, labels = ticks_for_rows(lo, hi, self.plot_rows)
                plt.yticks(ticks, labels)
                self.yticks = ticks
            ticks, labels = ticks_for_columns(min(xs), max(xs), self.plot_columns, integer=True)
            plt.xticks(ticks, labels)
        plt.xlabel("epoch")
        self.changed()
