"""Several saved runs' per-batch curves on one chart, to compare them.

The x axis is in epochs (batch step / steps per epoch), so runs with different batch sizes
line up; each curve is smoothed (centred moving average) and reduced to about twice the
pane width, so a 100k-batch run costs the same to draw as a short one.

Runs of one seed group (the same config, other seeds; ``groups`` names them) are drawn as
one curve: their mean, between the group's min and max (the seed band, in dots of the same
colour), so a difference between two configs can be told from seed noise at a glance.
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
Curve = tuple[str, np.ndarray, np.ndarray]  # label, x, y
Band = tuple[np.ndarray, np.ndarray, list[str]]  # low, high, the runs it stands for
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
        self.groups: dict[str, str] = {}  # run id → its seed group's label
        self.bands: dict[str, list[str]] = {}  # what the last redraw drew as bands: label → run ids

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        if self.resized(event):
            self.redraw()  # the reduction depends on the width

    def set_runs(self, runs: list[tuple[str, dict[str, Any]]], groups: dict[str, str] | None = None) -> None:
        """``groups``: run id → seed-group label; two or more plotted runs of one label make a band."""
        self.runs = runs
        self.groups = dict(groups or {})
        self.redraw()

    def set_metric(self, metric: str) -> None:
        self.metric = metric
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_figure()  # not clear_data: ylim from the accuracy view must not stick
        column, scale = METRICS[self.metric]
        self.plotted_ids, self.x_ranges, self.bands = [], {}, {}
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
        curves, bands = self._banded(curves, buckets)
        markers = self.markers(len(curves), self.marker)
        legend = [LegendEntry(rid, markers[i], PALETTE[i % len(PALETTE)]) for i, (rid, _, _) in enumerate(curves)]
        if curves:
            what = "loss" if self.metric == "loss" else "accuracy %"
            self.set_header(f"{what} per batch, smoothed (a: {'accuracy' if self.metric == 'loss' else 'loss'})",
                            legend)
        else:
            self.set_header("space: select runs · o: overlay them here")
        for i, (rid, xr, yr) in enumerate(curves):
            colour = self.colour(PALETTE[i % len(PALETTE)])
            if rid in bands:
                low, high, members = bands[rid]
                edge = self.symbols.markers[1] if self.symbols.ascii else "dot"
                plt.plot(xr.tolist(), low.tolist(), marker=edge, color=colour)
                plt.plot(xr.tolist(), high.tolist(), marker=edge, color=colour)
                self.bands[rid] = members
                self.plotted_ids.extend(members)
                for member in members:
                    self.x_ranges[member] = (float(xr[0]), float(xr[-1]))
            plt.plot(xr.tolist(), yr.tolist(), marker=markers[i], color=colour)
            if rid not in bands:
                self.plotted_ids.append(rid)
                self.x_ranges[rid] = (float(xr[0]), float(xr[-1]))
        if curves:
            lows = [bands[rid][0] if rid in bands else yr for rid, _, yr in curves]
            highs = [bands[rid][1] if rid in bands else yr for rid, _, yr in curves]
            lo = min(float(y.min()) for y in lows)
            hi = max(float(y.max()) for y in highs)
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

    def _banded(self, curves: list[Curve], buckets: int) -> tuple[list[Curve], dict[str, Band]]:
        """Replace the curves of each seed group (two or more plotted runs) by their mean on a
        shared x grid (where every run has data); the band is that grid's min and max."""
        members: dict[str, list[Curve]] = {}
        for curve in curves:
            label = self.groups.get(curve[0])
            if label is not None:
                members.setdefault(label, []).append(curve)
        out: list[Curve] = []
        bands: dict[str, Band] = {}
        done: set[str] = set()
        for rid, xr, yr in curves:
            label = self.groups.get(rid)
            group = members.get(label, []) if label is not None else []
            if len(group) < 2:
                out.append((rid, xr, yr))
                continue
            if label in done:
                continue
            assert label is not None
            done.add(label)
            x0 = max(float(c[1][0]) for c in group)
            x1 = min(float(c[1][-1]) for c in group)
            if not x1 > x0:
                out.extend(group)
                continue
            grid = np.linspace(x0, x1, max(2, buckets // 2))
            ys = np.stack([np.interp(grid, c[1], c[2]) for c in group])
            name = f"{label} (mean of {len(group)} seeds, min–max band)"
            out.append((name, grid, ys.mean(axis=0)))
            bands[name] = (ys.min(axis=0), ys.max(axis=0), [c[0] for c in group])
        return out, bands
