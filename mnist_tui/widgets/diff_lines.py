"""A widget of fixed lines that repaints only the cells that changed (``render.linediff``).

Textual repaints a refreshed widget whole, and over SSH every repainted cell is bytes: the
status line changes a few digits ten times a second, the Viewer's bars a few cells an epoch.
Subclasses say what their lines are for a width (``build``) and call ``changed`` when that
changes; the widget works out which cells differ from what is on screen and refreshes those.

Textual resends a refreshed region from the start of the segment it falls in, and a run of
one style is one segment: "step 94/157" changing in the middle of the status line resent the
whole line. So lines are painted (line API) cut at every word boundary: a changed word is
resent, not its line (the driver's SGR compaction makes the extra cuts free).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from mnist_tui.render.linediff import changed_spans


class DiffLines(Widget):
    OVERFLOW = "crop"  # what a line too long for the width does ("ellipsis": ends in …)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] | None = None  # what is on screen
        self._width = -1  # the width they were built for

    def build(self, width: int) -> list[Text]:
        """The widget's lines at ``width`` cells (its content width)."""
        raise NotImplementedError

    def changed(self) -> None:
        """What ``build`` returns changed: repaint the cells that differ (all, off screen or
        at a new width: ``render`` builds them then)."""
        width = self.size.width
        if not width or width != self._width or self._lines is None:
            self._lines = None
            self.refresh()
            return
        lines = self.build(width)
        spans = changed_spans(self._lines, lines, width)
        self._lines = lines
        if spans is None:
            self.refresh()  # fixed size (app.tcss): no layout pass
        elif spans:
            self.refresh(*(Region(x0, y, x1 - x0, 1) for y, x0, x1 in spans if x1 > x0))  # inside the padding

    def _ensure(self) -> list[Text]:
        width = self.size.width
        if self._lines is None or width != self._width:
            self._lines, self._width = self.build(width), width
        return self._lines

    def render(self) -> Text:
        """The lines as one text (what readers and tests see; painting goes through render_line)."""
        return Text("\n", no_wrap=True, overflow=self.OVERFLOW).join(self._ensure())  # type: ignore[arg-type]

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        lines = self._ensure()
        if y >= len(lines):
            return Strip.blank(width, base)
        line = lines[y].copy()
        line.truncate(width, overflow=self.OVERFLOW)  # type: ignore[arg-type]
        console = self.app.console
        under = base + console.get_style(line.style) if line.style else base  # the line's own style too
        segments = list(Segment.apply_style(line.render(console, end=""), under))
        plain = line.plain
        cuts = [i for i in range(1, len(plain)) if (plain[i] == " ") != (plain[i - 1] == " ")]
        strip = Strip(segments, line.cell_len)
        if cuts and line.cell_len == len(plain):  # one cell a character: cuts are cells
            strip = Strip.join(strip.divide([*cuts, len(plain)]))
        return strip.crop_extend(0, width, base)
