"""A PlotextPlot that rebuilds its picture only when its data, size or theme changed, and
draws its title and legend on lines of their own above the plot.

textual-plotext rebuilds the whole plot on every render, and Textual renders a widget again
whenever it is shown (e.g. switching back to the Training tab) — 10–15 ms of pure Python per
chart, holding the GIL the training thread needs.

plotext's legend is a box drawn over the canvas, on top of whatever curve runs there; the
header here never covers a curve. Each legend entry shows its series' marker in its colour,
so series stay apart without colour (NO_COLOR: each gets its own marker) and in ASCII mode
(ASCII markers; plotext's frame is transliterated too).
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.geometry import Region, Size
from textual_plotext import PlotextPlot

from mnist_tui.render.charset import Symbols, symbols
from mnist_tui.render.linediff import changed_spans
from mnist_tui.render.palette import rgb

# How a plotext marker looks in a legend swatch.
SWATCH = {"braille": "⠒⠒", "hd": "▀▀", "fhd": "▀▀", "dot": "••", "sd": "██"}
MAX_HEADER_ROWS = 3  # the title, and a legend of many runs on two more lines
AXIS_ROWS = 4  # rows of the widget that are not canvas: the frame above and below, x ticks, x label


class LegendEntry(NamedTuple):
    label: str
    marker: str  # a plotext marker: braille, hd, dot … or one character
    colour: str  # hex (mnist_tui.render.palette)


class CachedPlot(PlotextPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._version = 0
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: RenderResult | None = None
        self._drawn_size: Size | None = None  # the size of the last redraw
        self.build_seconds = 0.0  # what the last new picture cost: the app paces redraws by it
        self.symbols: Symbols = symbols()
        self.header_title = ""
        self.legend: list[LegendEntry] = []

    # -- what the charts draw with
    @property
    def monochrome(self) -> bool:
        """No colour (NO_COLOR, which Textual takes in as ``app.no_color``): series must differ
        by marker, not by colour."""
        try:
            return bool(self.app.no_color)
        except Exception:  # no app yet (built outside one, in a unit test)
            return bool(os.environ.get("NO_COLOR"))

    def markers(self, n: int, primary: str) -> list[str]:
        """One marker per series: the chosen ``primary`` in colour, distinct ones without."""
        return self.symbols.series_markers(n, primary, distinct=self.monochrome)

    @staticmethod
    def colour(hex_colour: str) -> tuple[int, int, int]:
        """A palette colour as plotext takes it (RGB skips Textual's ANSI theme: see palette.py)."""
        return rgb(hex_colour)

    @property
    def plot_rows(self) -> int:
        """Rows of the plot's canvas, for choosing how many y ticks fit."""
        header = len(self.header_lines(self.size.width)) if self.size.width else 1
        return max(1, self.size.height - header - AXIS_ROWS)

    @property
    def plot_columns(self) -> int:
        """Columns of the canvas (less the y tick labels), for choosing the x ticks."""
        return max(1, self.size.width - 8)

    # -- the header: title and legend
    def set_header(self, title: str, legend: list[LegendEntry] | None = None) -> None:
        """What goes above the plot: ``title`` on the left, the legend on the right."""
        self.header_title = self.symbols.text(title)
        self.legend = list(legend or [])

    def _entry(self, entry: LegendEntry) -> Text:
        swatch = SWATCH.get(entry.marker, entry.marker * 2)
        text = Text(no_wrap=True, end="")
        text.append("  ")
        text.append(self.symbols.text(swatch), style=f"bold {entry.colour}")
        text.append(" " + self.symbols.text(entry.label))
        return text

    def header_lines(self, width: int) -> list[Text]:
        """The title and the legend in ``width`` cells: one line when the legend fits beside
        some of the title (which gives way first), else the legend wraps onto more lines."""
        entries = [self._entry(e) for e in self.legend]
        title = Text(self.header_title, style="bold", no_wrap=True, end="")
        if not entries or sum(e.cell_len for e in entries) + min(title.cell_len, 12) <= width:
            return [self._line(title, entries, width)]
        lines = [self._line(title, [], width)]
        row: list[Text] = []
        for entry in entries:
            if row and sum(e.cell_len for e in row) + entry.cell_len > width:
                lines.append(self._line(Text(end=""), row, width))
                row = []
            row.append(entry)
        if row:
            lines.append(self._line(Text(end=""), row, width))
        if len(lines) > MAX_HEADER_ROWS:
            lines = lines[:MAX_HEADER_ROWS]
            more = " " + self.symbols.ellipsis
            lines[-1].truncate(max(0, width - len(more)))
            lines[-1].append(more)
        return lines

    def _line(self, title: Text, entries: list[Text], width: int) -> Text:
        legend = Text(no_wrap=True, end="")
        for entry in entries:
            legend.append_text(entry)
        room = max(0, width - legend.cell_len)
        title = title.copy()
        if title.cell_len > room:  # "…" is not ASCII: there the title is just cut
            title.truncate(room, overflow="crop" if self.symbols.ascii else "ellipsis")
        line = Text(no_wrap=True, overflow="crop", end="")
        line.append_text(title)
        line.append(" " * max(0, width - title.cell_len - legend.cell_len))
        line.append_text(legend)
        line.truncate(width)
        return line

    # -- rendering
    def resized(self, event: events.Resize) -> bool:
        """Whether a Resize is a new size to redraw for. Textual sends one each time a hidden
        tab is shown again, at the size it had: redrawing there cost 20–30 ms a chart, all
        before the tab's first frame (the Training tab's four: 100 ms after ``t``)."""
        return event.size != self._drawn_size

    def changed(self) -> None:
        """Call after replotting: the next render builds a new picture. On screen, it is built
        now and only the cells that differ from the last one are repainted (a chart's frame,
        ticks and most of its curve stay as they were: over SSH each repainted cell is bytes)."""
        self._version += 1
        self._drawn_size = self.size
        old = self._cache
        if not (self.is_on_screen and self.size.width and isinstance(old, Text)):
            self.refresh()
            return
        self.render()  # builds the new picture (and caches it for the repaint)
        new = self._cache
        spans = changed_spans(old.split("\n"), new.split("\n"), self.size.width) \
            if isinstance(new, Text) else None
        if spans is None:
            self.refresh()
        elif spans:
            self.refresh(*(Region(x0, y, x1 - x0, 1) for y, x0, x1 in spans if x1 > x0))

    def render(self) -> RenderResult:
        key = (self.size, self._version, self.app.theme, self.theme)
        if key != self._cache_key or self._cache is None:
            t0 = time.perf_counter()
            self._cache = self._build()
            self.build_seconds = time.perf_counter() - t0
            self._cache_key = key
        return self._cache

    def _build(self) -> RenderResult:
        """textual-plotext's render, with the header lines above a plot that many rows shorter."""
        header = self.header_lines(self.size.width)
        width, height = self.size.width, max(1, self.size.height - len(header))
        plt = self.plt
        plt.title("")
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        drawn = plt.build()
        if self.symbols.ascii:
            drawn = self.symbols.text(drawn)  # the frame and tick marks are box drawing
        text = Text(no_wrap=True, end="")
        for line in header:
            text.append_text(line)
            text.append("\n")
        text.append_text(Text.from_ansi(drawn, no_wrap=True, end=""))
        return text
