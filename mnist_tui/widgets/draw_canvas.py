"""A 28×28 drawing surface in 28×14 character cells, painted with the mouse or the keyboard.

Half blocks (▀: foreground = upper pixel, background = lower pixel) give square pixels
at MNIST's resolution, as the viewer's digit art does. The keyboard cursor is one pixel,
shown in colour, so the canvas is fully usable without a mouse (over SSH, in tmux).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from mnist_tui.render.charset import symbols
from mnist_tui.render.digits import ASCII_RAMP
from mnist_tui.render.preprocess import stamp, stamp_line

SIZE = 28
MIN_RADIUS, MAX_RADIUS = 1, 4
DEFAULT_RADIUS = 1
DRAG_POST_INTERVAL = 0.1  # s: at most ~10 Changed messages a second while a drag goes on
CURSOR = (255, 135, 0)  # orange: visible on black background and on white ink
CURSOR_DIM = (150, 80, 0)  # when the canvas does not have focus


def _rgb(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


_STYLES: dict[tuple[str, str], Style] = {}


def _style(fg: str, bg: str) -> Style:
    """Cached: a full canvas is 392 cells, mostly sharing a handful of styles."""
    key = (fg, bg)
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=fg, bgcolor=bg)
    return style


def _grey(v: float) -> str:
    g = round(min(max(v, 0.0), 1.0) * 255) // 17 * 17  # 16 levels, like digits.py
    return _rgb((g, g, g))


class DrawCanvas(Widget, can_focus=True):
    """Holds ``image``, float32 (28, 28) in 0..1, and posts ``Changed`` after every stroke."""

    DEFAULT_CSS = """
    DrawCanvas {
        width: 30;
        height: 16;
        border: round $foreground 40%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
    }
    DrawCanvas:focus {
        border: round $accent;
        border-title-color: $text;
    }
    """

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", id="draw.up", show=False),
        Binding("down", "move(1, 0)", "Down", id="draw.down", show=False),
        Binding("left", "move(0, -1)", "Left", id="draw.left", show=False),
        Binding("right", "move(0, 1)", "Right", id="draw.right", show=False),
        Binding("shift+up", "move(-1, 0, True)", "Draw up", id="draw.draw_up", show=False),
        Binding("shift+down", "move(1, 0, True)", "Draw down", id="draw.draw_down", show=False),
        Binding("shift+left", "move(0, -1, True)", "Draw left", id="draw.draw_left", show=False),
        Binding("shift+right", "move(0, 1, True)", "Draw right", id="draw.draw_right", show=False),
        Binding("space", "paint", "Paint", id="draw.paint"),
        Binding("backspace", "erase", "Erase", id="draw.erase"),
        Binding("c", "clear", "Clear", id="draw.clear"),
        Binding("plus,equals_sign", "brush(1)", "Brush+", id="draw.brush_up"),
        Binding("minus", "brush(-1)", "Brush-", id="draw.brush_down"),
    ]

    radius: reactive[int] = reactive(DEFAULT_RADIUS)

    class Changed(Message):
        """The drawing changed (one stroke, or a throttled step of a drag in progress)."""

        def __init__(self, canvas: DrawCanvas, image: np.ndarray) -> None:
            super().__init__()
            self.canvas = canvas
            self.image = image  # a copy: the canvas keeps drawing into its own array

        @property
        def control(self) -> DrawCanvas:
            return self.canvas

    class BrushChanged(Message):
        """The brush radius changed (so the view can show it)."""

        def __init__(self, canvas: DrawCanvas, radius: int) -> None:
            super().__init__()
            self.canvas = canvas
            self.radius = radius

        @property
        def control(self) -> DrawCanvas:
            return self.canvas

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.image = np.zeros((SIZE, SIZE), dtype=np.float32)
        self.cursor = (SIZE // 2, SIZE // 2)
        # Grey levels vanish without colour, half blocks without Unicode: a character ramp then.
        self.ascii = bool(os.environ.get("NO_COLOR")) or symbols().ascii
        self._drag: tuple[float, float] | None = None  # last brush point of a mouse stroke
        self._drag_erase = False
        self._last_post = 0.0
        self.border_title = "draw here"

    # -- drawing API (also used by tests and the view)
    def clear(self) -> None:
        self.image[:] = 0
        self.refresh()
        self._post()

    def set_image(self, image: np.ndarray) -> None:
        """Replace the drawing (values 0..1, or uint8 0..255) and classify it."""
        img = np.asarray(image, dtype=np.float32)
        if img.shape != (SIZE, SIZE):
            raise ValueError(f"expected a ({SIZE}, {SIZE}) image, got {img.shape}")
        self.image[:] = img / 255.0 if img.max(initial=0) > 1 else img
        self.refresh()
        self._post()

    def _post(self) -> None:
        self._last_post = time.monotonic()
        self.post_message(self.Changed(self, self.image.copy()))

    def watch_radius(self, radius: int) -> None:
        self.border_subtitle = f"brush {radius}"
        self.post_message(self.BrushChanged(self, radius))

    # -- keyboard
    def action_move(self, d_row: int, d_col: int, draw: bool = False) -> None:
        """Arrows move the pixel cursor; with shift they draw a line as they go."""
        start = self.cursor
        row = min(max(start[0] + d_row, 0), SIZE - 1)
        col = min(max(start[1] + d_col, 0), SIZE - 1)
        self.cursor = (row, col)
        if draw:
            stamp_line(self.image, start, self.cursor, self.radius)
            self._post()
        self.refresh()

    def action_paint(self) -> None:
        stamp(self.image, *self.cursor, self.radius)
        self.refresh()
        self._post()

    def action_erase(self) -> None:
        stamp(self.image, *self.cursor, self.radius, erase=True)
        self.refresh()
        self._post()

    def action_clear(self) -> None:
        self.clear()

    def action_brush(self, delta: int) -> None:
        self.radius = min(max(self.radius + delta, MIN_RADIUS), MAX_RADIUS)

    # -- mouse
    def _pixel_at(self, event: events.MouseEvent) -> tuple[float, float]:
        """Brush centre (row, col) in pixel-index units for a mouse position.

        A cell is one pixel wide and two tall. Terminals that report pixel positions give
        a fractional ``pointer_y`` and we hit the right half; otherwise the brush is centred
        between the cell's two pixels and paints both.
        """
        top, left = self.gutter.top, self.gutter.left
        y = event.pointer_y - top
        x = event.pointer_x - left
        if y == int(y):  # whole cells only: aim at the cell's middle
            y += 0.5
        return 2.0 * y - 0.5, float(math.floor(x))  # floor: a captured drag may leave the canvas

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (1, 3):
            return
        self.capture_mouse()
        self._drag_erase = event.button == 3  # right button erases
        point = self._pixel_at(event)
        self._drag = point
        self._last_post = time.monotonic()  # a click posts once, on mouse up
        stamp(self.image, *point, self.radius, erase=self._drag_erase)
        self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None:
            return
        point = self._pixel_at(event)
        stamp_line(self.image, self._drag, point, self.radius, erase=self._drag_erase)
        self._drag = point
        self.refresh()
        if time.monotonic() - self._last_post >= DRAG_POST_INTERVAL:
            self._post()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is None:
            return
        point = self._pixel_at(event)
        stamp_line(self.image, self._drag, point, self.radius, erase=self._drag_erase)
        self._drag = None
        self.release_mouse()
        row, col = round(min(max(point[0], 0), SIZE - 1)), int(min(max(point[1], 0), SIZE - 1))
        self.cursor = (row, col)  # keyboard editing continues where the mouse left off
        self.refresh()
        self._post()

    # -- rendering
    def render_line(self, y: int) -> Strip:
        """One text row = two pixel rows, as segments: repainting after a key stays ~1 ms."""
        width = self.size.width
        if y >= SIZE // 2:
            return Strip.blank(width, self.rich_style)
        img = self.image
        cur_r, cur_c = self.cursor
        on_row = cur_r // 2 == y
        if self.ascii:
            pair = (img[2 * y] + img[2 * y + 1]) / 2
            idx = np.rint(pair * (len(ASCII_RAMP) - 1)).astype(int)
            chars = "".join(ASCII_RAMP[i] for i in idx)
            plain = Style()  # not None: Textual's NO_COLOR filter reads every segment's style
            if on_row and self.has_focus:
                segments = [Segment(chars[:cur_c], plain), Segment(chars[cur_c], Style(reverse=True)),
                            Segment(chars[cur_c + 1 :], plain)]
            else:
                segments = [Segment(chars, plain)]
            return Strip(segments).adjust_cell_length(width, self.rich_style)
        top = [_grey(float(v)) for v in img[2 * y]]
        bottom = [_grey(float(v)) for v in img[2 * y + 1]]
        if on_row:
            cursor = _rgb(CURSOR if self.has_focus else CURSOR_DIM)
            if cur_r % 2:
                bottom[cur_c] = cursor
            else:
                top[cur_c] = cursor
        segments = [Segment("▀", _style(fg, bg)) for fg, bg in zip(top, bottom, strict=True)]
        return Strip(segments, SIZE).adjust_cell_length(width, self.rich_style)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
