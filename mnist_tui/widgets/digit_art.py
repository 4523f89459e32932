"""A test digit drawn as text art (half blocks, or an ASCII ramp without colour or Unicode)."""

from __future__ import annotations

import os

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from mnist_tui.render.charset import symbols
from mnist_tui.render.digits import digit_segments

EMPTY = "no test data loaded yet"


def art_mode() -> str:
    """ASCII when the user asked for no colour (grey levels would vanish) or the terminal
    cannot show half blocks (a non-UTF-8 locale, ``--ascii``)."""
    return "ascii" if os.environ.get("NO_COLOR") else symbols().digit_mode


class DigitArt(Widget):
    """Paints its rows as ready strips (the line API): stepping through digits is the Viewer's
    hottest key, and a Static would convert every styled cell to Textual's content on each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = art_mode()
        self._shown: bytes | None = None
        self._rows: list[Strip] = [Strip([Segment(EMPTY, Style())])]

    def show(self, image: np.ndarray | None) -> None:
        key = None if image is None else image.tobytes()  # not id(): x_test[i] is a new view each time
        if self._shown is not None and key == self._shown:
            return  # the same digit (a new epoch changes the bars only): no repaint, no bytes
        self._shown = key
        if image is None:
            self._rows = [Strip([Segment(EMPTY, Style())])]
        else:
            self._rows = [Strip(segments) for segments in digit_segments(image, self.mode)]
        self.refresh()  # fixed size (app.tcss): no layout pass

    def render_line(self, y: int) -> Strip:
        """Row ``y`` inside the padding, on the widget's own colours (as a Static's text is)."""
        width, base = self.content_size.width, self.rich_style
        row = self._rows[y] if 0 <= y < len(self._rows) else Strip.blank(width)
        return row.apply_style(base).crop_extend(0, width, base)
