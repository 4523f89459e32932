"""A 10×10 confusion matrix as a shaded, keyboard-navigable text grid (rows true, columns predicted).

Each cell's shade is its share of its row (so rare classes compare fairly with common ones):
green on the diagonal (right), red off it (wrong). Off-diagonal shares are scaled so the
worst confusion anywhere is full red, because a 1 % confusion would otherwise be invisible
next to a 99 % diagonal. Without colour (NO_COLOR) the counts are plain, the
diagonal bold and the cursor reversed. In ASCII mode (``render.charset``) the rule is ``|``
and empty cells are ``.``.
"""

from __future__ import annotations

import os

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.message import Message
from textual.widget import Widget

from mnist_tui.render.charset import symbols
from mnist_tui.render.palette import AXIS

RIGHT = Color(46, 160, 67)  # green: correct predictions
WRONG = Color(218, 54, 51)  # red: confusions
LABEL_W = 4  # row label: "{k:>2} │"


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def _app_no_color(widget: Widget) -> bool:
    """Textual's own reading of NO_COLOR (it takes the variable in), else the environment."""
    try:
        return bool(widget.app.no_color) or no_color()
    except Exception:  # not in an app
        return no_color()


class ConfusionGrid(Widget, can_focus=True):
    DEFAULT_CSS = """
    ConfusionGrid {
        width: auto;
        height: auto;
        min-width: 24;
    }
    """

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", id="confusion.up", show=False),
        Binding("down", "move(1, 0)", "Down", id="confusion.down", show=False),
        Binding("left", "move(0, -1)", "Left", id="confusion.left", show=False),
        Binding("right", "move(0, 1)", "Right", id="confusion.right", show=False),
        Binding("enter", "select", "Open these digits", id="confusion.open"),
    ]

    class CellSelected(Message):
        """Enter on a cell: the app shows exactly these test digits (true ``true_cls``, predicted ``pred_cls``)."""

        def __init__(self, grid: ConfusionGrid, true_cls: int, pred_cls: int, count: int) -> None:
            super().__init__()
            self.grid = grid
            self.true_cls = true_cls
            self.pred_cls = pred_cls
            self.count = count

        @property
        def control(self) -> ConfusionGrid:
            return self.grid

    class CursorMoved(Message):
        """The highlighted cell changed (the inspect view describes it)."""

        def __init__(self, grid: ConfusionGrid, true_cls: int, pred_cls: int) -> None:
            super().__init__()
            self.grid = grid
            self.true_cls = true_cls
            self.pred_cls = pred_cls

        @property
        def control(self) -> ConfusionGrid:
            return self.grid

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.matrix: np.ndarray | None = None
        self.class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
        self.cursor: tuple[int, int] = (0, 0)
        self.message = "no confusion matrix yet"
        self.symbols = symbols()

    # -- data
    def show(self, matrix: np.ndarray, class_names: tuple[str, ...] | list[str]) -> None:
        """Draw ``matrix`` (rows true, columns predicted); the cursor stays where it was."""
        m = np.asarray(matrix, dtype=np.int64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"a confusion matrix must be square, got shape {m.shape}")
        self.matrix = m
        self.class_names = tuple(class_names)
        n = m.shape[0]
        self.cursor = (min(self.cursor[0], n - 1), min(self.cursor[1], n - 1))
        self.refresh(layout=True)

    def clear(self, message: str) -> None:
        self.matrix = None
        self.message = message
        self.refresh(layout=True)

    @property
    def cell_width(self) -> int:
        """One space plus the widest count: 1135 needs 5 cells, the 200-digit sample only 3."""
        if self.matrix is None or self.matrix.size == 0:
            return 3
        return max(3, len(str(int(self.matrix.max()))) + 1)

    def count_at(self, true_cls: int, pred_cls: int) -> int:
        return 0 if self.matrix is None else int(self.matrix[true_cls, pred_cls])

    # -- layout
    def get_content_width(self, container: object, viewport: object) -> int:
        if self.matrix is None:
            return len(self.message)
        return LABEL_W + self.cell_width * self.matrix.shape[1]

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 if self.matrix is None else 1 + self.matrix.shape[0]

    # -- drawing
    @staticmethod
    def shares(matrix: np.ndarray) -> np.ndarray:
        """Each count as a fraction of its row (true class); 0 for an empty row."""
        m = np.asarray(matrix, dtype=np.float64)
        return m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)

    def _shade(self, share: float, worst: float, right: bool, base: Color) -> Style:
        if share <= 0.0:
            return Style(dim=True)
        if right:
            tint, alpha = RIGHT, 0.2 + 0.8 * share
        else:
            tint, alpha = WRONG, 0.15 + 0.85 * share / worst
        bg = base.blend(tint, min(alpha, 1.0))
        return Style(bgcolor=bg.rich_color, color=bg.get_contrast_text(1.0).rich_color, bold=right)

    def render(self) -> Text:
        if self.matrix is None:
            return Text(self.message, style="dim", no_wrap=True, overflow="crop")
        m = self.matrix
        n = m.shape[0]
        w = self.cell_width
        plain = _app_no_color(self)
        sym = self.symbols
        base = self.background_colors[1]
        ct, cp = self.cursor
        cursor_style = Style(reverse=True, bold=True) if self.has_focus else Style(underline=True, bold=True)
        axis = Style(bold=True) if plain else Style(bold=True, color=AXIS)
        shares = self.shares(m)
        off = shares[~np.eye(n, dtype=bool)]
        worst = float(off.max()) if off.size and off.max() > 0 else 1.0
        text = Text(no_wrap=True, overflow="crop")
        text.append(sym.corner.ljust(LABEL_W), style="dim")
        for p in range(n):
            text.append(f"{p:>{w}}", style=axis if p == cp else Style(dim=True))
        for t in range(n):
            text.append("\n")
            text.append(f"{t:>2} ", style=axis if t == ct else Style(dim=True))
            text.append(sym.vbar, style="dim")
            for p in range(n):
                count = int(m[t, p])
                cell = f"{count:>{w}}" if count else f"{sym.empty_cell:>{w}}"
                if plain:
                    style = Style(bold=True) if t == p else Style(dim=count == 0)
                else:
                    style = self._shade(float(shares[t, p]), worst, t == p, base)
                if (t, p) == (ct, cp):
                    style = style + cursor_style
                text.append(cell, style=style)
        return text

    # -- interaction
    def _set_cursor(self, t: int, p: int) -> None:
        if self.matrix is None:
            return
        n = self.matrix.shape[0]
        cursor = (min(max(t, 0), n - 1), min(max(p, 0), n - 1))
        if cursor != self.cursor:
            self.cursor = cursor
            self.refresh()
            self.post_message(self.CursorMoved(self, *cursor))

    def action_move(self, dt: int, dp: int) -> None:
        self._set_cursor(self.cursor[0] + dt, self.cursor[1] + dp)

    def action_select(self) -> None:
        if self.matrix is not None:
            t, p = self.cursor
            self.post_message(self.CellSelected(self, t, p, self.count_at(t, p)))

    def on_click(self, event: events.Click) -> None:
        """Click a cell to highlight it; click the highlighted cell to open its digits."""
        if self.matrix is None:
            return
        x, y = event.x - self.gutter.left, event.y - self.gutter.top
        t, p = y - 1, (x - LABEL_W) // self.cell_width
        n = self.matrix.shape[0]
        if 0 <= t < n and x >= LABEL_W and 0 <= p < n:
            if (t, p) == self.cursor:
                self.action_select()
            else:
                self._set_cursor(t, p)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
