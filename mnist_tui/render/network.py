"""Pictures of a network's insides as text: signed weights, activations, histograms, update sizes.

Pure (NumPy and Rich, no Textual), so every picture the Network tab shows is unit-testable.
Signed weights use a diverging palette in colour (blue negative, black zero, red positive,
each half a cell of a half block) and, without colour or Unicode, a signed ASCII ramp whose
characters say the sign (``- = #`` below zero, ``+ * @`` above). Activations (never
negative after relu) are grey levels, drawn like the test digits (``render.digits``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rich.style import Style
from rich.text import Text

from mnist_tui.render.charset import UNICODE, Symbols
from mnist_tui.render.digits import digit_text

LEVELS = 8  # colour steps on each side of zero
SIGNED_RAMP = "#=-' .+*@"  # most negative … zero (the space) … most positive, one character a pixel pair
SPARK = " ▁▂▃▄▅▆▇█"
ASCII_SPARK = " .:-=+*#@"
NEGATIVE_RGB = (60, 120, 255)  # blue: in 16 colours, bright blue
POSITIVE_RGB = (255, 60, 40)  # red: in 16 colours, bright red


def _level_colour(level: int) -> str:
    """The colour of a signed level in -LEVELS..LEVELS (0 is black)."""
    if level == 0:
        return "#000000"
    a = (abs(level) / LEVELS) ** 0.8
    r, g, b = NEGATIVE_RGB if level < 0 else POSITIVE_RGB
    return f"#{int(r * a):02x}{int(g * a):02x}{int(b * a):02x}"


_STYLES: dict[tuple[int, int], Style] = {}


def _style(top: int, bottom: int) -> Style:
    key = (top, bottom)
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=_level_colour(top), bgcolor=_level_colour(bottom))
    return style


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor × factor block (a 5×5 filter is unreadable at one cell a pixel)."""
    return np.kron(np.asarray(image), np.ones((factor, factor), dtype=np.asarray(image).dtype)) if factor > 1 \
        else np.asarray(image)


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of factor × factor blocks: a 28×28 unit as a 14×14 thumbnail."""
    a = np.asarray(image, dtype=np.float32)
    if factor <= 1:
        return a
    h, w = a.shape[0] // factor * factor, a.shape[1] // factor * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def signed_levels(image: np.ndarray, scale: float | None = None) -> np.ndarray:
    """-LEVELS..LEVELS per pixel, symmetric around 0 (``scale``: the value drawn darkest;
    default the image's own largest magnitude, so every unit uses the whole palette)."""
    a = np.nan_to_num(np.asarray(image, dtype=np.float32))
    top = float(np.abs(a).max()) if scale is None else float(scale)
    if top <= 0 or not math.isfinite(top):
        return np.zeros(a.shape, dtype=np.int64)
    return np.clip(np.rint(a / top * LEVELS), -LEVELS, LEVELS).astype(np.int64)


def signed_text(image: np.ndarray, mode: str = "halfblock", scale: float | None = None) -> Text:
    """Signed weights as text: half blocks in the diverging palette, or the signed ASCII ramp
    (``mode`` ascii, for no colour or no Unicode) over pixel pairs, like ``digit_text``."""
    levels = signed_levels(image, scale)
    rows, cols = levels.shape
    if rows % 2:
        levels = np.vstack([levels, np.zeros((1, cols), dtype=levels.dtype)])
    top, bottom = levels[0::2], levels[1::2]
    text = Text(no_wrap=True, overflow="crop")
    for r in range(top.shape[0]):
        if mode == "halfblock":
            for c in range(cols):
                text.append("▀", _style(int(top[r, c]), int(bottom[r, c])))
        else:
            pair = (top[r] + bottom[r]) / 2.0  # -LEVELS..LEVELS
            half = len(SIGNED_RAMP) // 2
            idx = np.clip(np.rint(pair / LEVELS * half), -half, half).astype(np.int64) + half
            text.append("".join(SIGNED_RAMP[i] for i in idx))
        if r < top.shape[0] - 1:
            text.append("\n")
    return text


def signed_legend(mode: str, sym: Symbols = UNICODE) -> Text:
    """What the signs look like in the current form."""
    text = Text(no_wrap=True, overflow="crop")
    if mode == "halfblock":
        text.append("negative ", style="dim")
        for level in range(-LEVELS, LEVELS + 1, 2):
            text.append(sym.full_block, style=Style(color=_level_colour(level)))
        text.append(" positive", style="dim")
    else:
        text.append(f"negative {SIGNED_RAMP[:4]} |{SIGNED_RAMP[4]}| {SIGNED_RAMP[5:]} positive", style="dim")
    return text


def activation_text(values: np.ndarray, mode: str = "halfblock", scale: float | None = None) -> Text:
    """A non-negative activation map as grey levels (brightest = ``scale``, default its max)."""
    a = np.nan_to_num(np.asarray(values, dtype=np.float32))
    top = float(a.max()) if scale is None else float(scale)
    grey = np.zeros(a.shape, np.uint8) if top <= 0 else np.clip(a / top * 255.0, 0, 255).astype(np.uint8)
    return digit_text(grey, mode)


def as_picture(vector: np.ndarray, width: int | None = None) -> np.ndarray:
    """A layer's units as a near-square picture (512 → 32×16, 100 → 10×10), zero-padded."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    cols = width or max(1, math.ceil(math.sqrt(len(v) * 2)) // 2 * 2)
    rows = math.ceil(len(v) / cols)
    out = np.zeros(rows * cols, np.float32)
    out[:len(v)] = v
    return out.reshape(rows, cols)


def tiles(pictures: Sequence[Text], captions: Sequence[str], per_row: int, gap: int = 1,
          highlight: int | None = None, marked: Sequence[bool] | None = None) -> Text:
    """Pictures side by side, ``per_row`` to a row, each with its caption above it; the
    ``highlight``ed caption is reversed, ``marked`` ones dim (dead units)."""
    out = Text(no_wrap=True, overflow="crop")
    if not pictures:
        return out
    lines = [p.split("\n") for p in pictures]
    width = max(max((line.cell_len for line in ls), default=0) for ls in lines)
    for first in range(0, len(pictures), per_row):
        chunk = range(first, min(first + per_row, len(pictures)))
        if first:
            out.append("\n")
        for n, i in enumerate(chunk):
            if n:
                out.append(" " * gap)
            caption = captions[i][:width].ljust(width)
            style = "reverse bold" if i == highlight else "dim" if marked is not None and marked[i] else "bold"
            out.append(caption, style=style)
        height = max(len(lines[i]) for i in chunk)
        for r in range(height):
            out.append("\n")
            for n, i in enumerate(chunk):
                if n:
                    out.append(" " * gap)
                if r < len(lines[i]):
                    piece = lines[i][r]
                    out.append_text(piece)
                    out.append(" " * (width - piece.cell_len))
                else:
                    out.append(" " * width)
    return out


def histogram_row(counts: np.ndarray, sym: Symbols = UNICODE) -> str:
    """One histogram as one row of block heights (ASCII: a density ramp), tallest = its max."""
    c = np.asarray(counts, dtype=np.float64)
    ramp = ASCII_SPARK if sym.ascii else SPARK
    top = c.max() if c.size else 0.0
    if top <= 0:
        return " " * len(c)
    idx = np.ceil(np.sqrt(c / top) * (len(ramp) - 1)).astype(np.int64)  # sqrt: the tails stay visible
    return "".join(ramp[i] for i in idx)


def histogram_rows(by_epoch: Sequence[tuple[int, np.ndarray]], edges: np.ndarray, current: int | None,
                   sym: Symbols = UNICODE) -> Text:
    """A layer's weight histogram at every epoch, one row each (a ridgeline seen from above):
    the bins are the same at every epoch, so spreading weights widen the rows. ``<`` and ``>``
    mark weights beyond the edges; the ``current`` epoch's row is highlighted."""
    text = Text(no_wrap=True, overflow="crop")
    lo, hi = f"{float(edges[0]):+.2g}", f"{float(edges[-1]):+.2g}"
    bins = len(edges) - 1
    middle = bins // 2
    axis = lo.ljust(middle) + "0"
    text.append(" " * 7 + axis.ljust(bins - len(hi)) + hi, style="dim")
    for epoch, counts in by_epoch:
        text.append("\n")
        here = epoch == current
        text.append(f"e{epoch:<4}", style="bold" if here else "dim")
        text.append("<" if counts[0] else " ", style="bold")
        text.append(histogram_row(counts, sym)[1:-1], style=("reverse" if sym.ascii else "bold") if here else "")
        text.append(">" if counts[-1] else " ", style="bold")
        out = int(counts[0] + counts[-1])
        if out:
            text.append(f" {out:,} beyond", style="dim")
    return text


def spark(values: Sequence[float], sym: Symbols = UNICODE) -> str:
    """Values as one row of block heights, the largest finite one full height (NaN: blank)."""
    ramp = ASCII_SPARK if sym.ascii else SPARK
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    top = finite.max() if finite.size else 0.0
    out = []
    for x in v:
        if not math.isfinite(x) or top <= 0:
            out.append(" ")
        else:
            out.append(ramp[max(1, math.ceil(x / top * (len(ramp) - 1)))])
    return "".join(out)


def grid_shape(width: int, tile_width: int, gap: int = 1) -> int:
    """How many tiles of ``tile_width`` fit in ``width`` cells."""
    return max(1, (width + gap) // (tile_width + gap))


def flow(blocks: Sequence[Text], width: int, gap: int = 3) -> Text:
    """Blocks of lines laid left to right, as many as fit in ``width``, then on below (the
    way words wrap): a digit, its hidden layer and its softmax side by side on one screen."""
    out = Text(no_wrap=True, overflow="crop")
    split = [b.split("\n") for b in blocks]
    widths = [max((line.cell_len for line in lines), default=0) for lines in split]
    rows: list[list[int]] = []
    used = 0
    for i, w in enumerate(widths):
        if rows and used + gap + w <= width:
            rows[-1].append(i)
            used += gap + w
        else:
            rows.append([i])
            used = w
    for r, row in enumerate(rows):
        if r:
            out.append("\n\n")
        height = max(len(split[i]) for i in row)
        for y in range(height):
            if y:
                out.append("\n")
            for n, i in enumerate(row):
                if n:
                    out.append(" " * gap)
                line = split[i][y] if y < len(split[i]) else Text("")
                out.append_text(line)
                if n < len(row) - 1:
                    out.append(" " * (widths[i] - line.cell_len))
    return out
