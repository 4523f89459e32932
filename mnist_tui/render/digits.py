"""Test digits as text art: 28×28 pixels in 28×14 character cells.

Half-block characters (▀ with foreground = upper pixel, background = lower pixel) keep
pixels square and the whole digit 14 rows tall, so it fits beside its histogram even at
80×24. Without colour (NO_COLOR) a 10-step ASCII ramp over pixel pairs is used instead.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

ASCII_RAMP = " .:-=+*#%@"
SHADE_RAMP = " ░▒▓█"


def _grey(value: int) -> str:
    return f"#{value:02x}{value:02x}{value:02x}"


_STYLES: dict[tuple[int, int], Style] = {}


def _style(top: int, bottom: int) -> Style:
    key = (top, bottom)
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=_grey(top), bgcolor=_grey(bottom))
    return style


def digit_text(image: np.ndarray, mode: str = "halfblock") -> Text:
    """Render a uint8 (28, 28) image; ``mode`` is halfblock, shade or ascii."""
    img = np.asarray(image, dtype=np.uint8)
    rows, cols = img.shape
    if rows % 2:
        img = np.vstack([img, np.zeros((1, cols), dtype=np.uint8)])
    top, bottom = img[0::2], img[1::2]
    text = Text(no_wrap=True, overflow="crop")
    n_rows = top.shape[0]
    if mode == "halfblock":
        # Quantise to 16 grey levels: same look, far fewer distinct styles.
        tq = (top // 17) * 17
        bq = (bottom // 17) * 17
        for r in range(tq.shape[0]):
            for c in range(cols):
                text.append("▀", _style(int(tq[r, c]), int(bq[r, c])))
            if r < n_rows - 1:
                text.append("\n")
    else:
        ramp = ASCII_RAMP if mode == "ascii" else SHADE_RAMP
        pair = ((top.astype(np.uint16) + bottom) // 2).astype(np.uint16)
        idx = (pair * (len(ramp) - 1) + 127) // 255
        for r in range(idx.shape[0]):
            text.append("".join(ramp[i] for i in idx[r]) + ("\n" if r < n_rows - 1 else ""))
    return text


def digit_segments(image: np.ndarray, mode: str = "halfblock") -> list[list[Segment]]:
    """The picture ``digit_text`` draws, as one list of segments per row, neighbouring cells of
    one colour pair merged: a widget paints these without Rich → Textual conversions
    (a Viewer step was ~15 ms of converting 392 styled cells)."""
    img = np.asarray(image, dtype=np.uint8)
    rows, cols = img.shape
    if rows % 2:
        img = np.vstack([img, np.zeros((1, cols), dtype=np.uint8)])
    top, bottom = img[0::2], img[1::2]
    lines: list[list[Segment]] = []
    if mode == "halfblock":
        pairs = (top // 17).astype(np.int32) * 16 + bottom // 17  # the 16 grey levels of digit_text
        for row in pairs.tolist():
            segments: list[Segment] = []
            start = 0
            for c in range(1, cols + 1):
                if c == cols or row[c] != row[start]:
                    t, b = divmod(row[start], 16)
                    segments.append(Segment("▀" * (c - start), _style(t * 17, b * 17)))
                    start = c
            lines.append(segments)
    else:
        ramp = ASCII_RAMP if mode == "ascii" else SHADE_RAMP
        pair = ((top.astype(np.uint16) + bottom) // 2).astype(np.uint16)
        idx = (pair * (len(ramp) - 1) + 127) // 255
        lines = [[Segment("".join(ramp[i] for i in row), Style())] for row in idx]
    return lines
