"""Epoch curves: train vs validation, the tutorial's loss/val_loss and accuracy/val_accuracy plot."""

from __future__ import annotations

import math

from mnist_tui.events import EpochEnd
from mnist_tui.widgets.cached_plot import CachedPlot


class EpochChart(CachedPlot):
    def __init__(self, metric: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric  # "loss" or "accuracy"
        self.epochs: list[EpochEnd] = []
        self.marker = "braille"

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

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
        if xs:
            plt.plot(xs, train, marker=self.marker, color="cyan", label="train")
            if all(math.isfinite(v) for v in val):
                plt.plot(xs, val, marker=self.marker, color="orange", label="val")
            plt.xticks(xs)
        when = "" if xs else " (after the first epoch)"
        plt.title(f"epoch {self.metric}{' %' if pct else ''}: train vs val{when}")
        plt.xlabel("epoch")
        self.changed()
