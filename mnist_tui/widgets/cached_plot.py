"""A PlotextPlot that rebuilds its picture only when its data, size or theme changed.

textual-plotext rebuilds the whole plot on every render, and Textual renders a widget again
whenever it is shown (e.g. switching back to the Training tab) — 10–15 ms of pure Python per
chart, holding the GIL the training thread needs.
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot


class CachedPlot(PlotextPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._version = 0
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: RenderResult | None = None
        self.build_seconds = 0.0  # what the last new picture cost: the app paces redraws by it

    def changed(self) -> None:
        """Call after replotting: the next render builds a new picture."""
        self._version += 1
        self.refresh()

    def render(self) -> RenderResult:
        key = (self.size, self._version, self.app.theme, self.theme)
        if key != self._cache_key or self._cache is None:
            t0 = time.perf_counter()
            self._cache = super().render()
            self.build_seconds = time.perf_counter() - t0
            self._cache_key = key
        return self._cache
