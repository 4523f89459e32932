"""Text pictures for comparing runs: sparklines, confusion matrices and their difference,
flip counts per class. Rich ``Text`` only, drawn through the charset (ASCII mode has its own
ramp) and the 16-colour-safe palette."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from rich.text import Text

from mnist_tui.render import palette
from mnist_tui.render.charset import Symbols, symbols

SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-~=+*#"


def sparkline(values: Sequence[float], width: int, low: float | None = None, high: float | None = None,
              sym: Symbols | None = None) -> str:
    """The last ``width`` values as one row of eighth-height blocks, scaled to [low, high]
    (default: their own range), so a leaderboard with a shared scale compares curves."""
    sym = sym or symbols()
    ramp = SPARK_ASCII if sym.ascii else SPARK
    vals = [v for v in values if math.isfinite(v)][-width:]
    if not vals:
        return ""
    lo = min(vals) if low is None else low
    hi = max(vals) if high is None else high
    span = hi - lo
    out = []
    for v in vals:
        k = len(ramp) - 1 if span <= 0 else round((min(max(v, lo), hi) - lo) / span * (len(ramp) - 1))
        out.append(ramp[k])
    return "".join(out)


def _grid_text(matrix: np.ndarray, names: Sequence[str], title: str, cell: int,
               draw: Callable[[int, int, int], tuple[str, str]]) -> Text:
    """A 10×10 grid of counts with class names on both axes; ``draw(i, j, v)`` gives each
    cell's text and style."""
    sym = symbols()
    k = len(names)
    text = Text(no_wrap=True, overflow="crop")
    text.append(sym.text(title) + "\n", style="bold")
    text.append(sym.text(sym.corner).ljust(3) + "".join(f"{n[:cell - 1]:>{cell}}" for n in names) + "\n",
                style="dim")
    for i in range(k):
        text.append(f"{names[i][:2]:>2} ", style="bold")
        for j in range(k):
            shown, style = draw(i, j, int(matrix[i, j]))
            text.append(f"{shown:>{cell}}", style=style)
        if i < k - 1:
            text.append("\n")
    return text


def confusion_text(matrix: np.ndarray, names: Sequence[str], title: str, cell: int = 4) -> Text:
    """Rows true, columns predicted; the diagonal green, confusions red, zeros dimmed."""
    return _grid_text(matrix, names, title, cell, lambda i, j, v: (
        _fit(v, cell), palette.TRUE if i == j else (palette.WRONG if v else "dim")))


def delta_text(delta: np.ndarray, names: Sequence[str], title: str, cell: int = 4) -> Text:
    """B − A: green where B is better (more on the diagonal, fewer confusions), red where worse."""
    dot = symbols().dot

    def draw(i: int, j: int, v: int) -> tuple[str, str]:
        better = v > 0 if i == j else v < 0
        return (f"{v:+d}" if v else dot)[:cell], "dim" if v == 0 else (palette.TRUE if better else palette.WRONG)

    return _grid_text(delta, names, title, cell, draw)


def _fit(value: int, cell: int) -> str:
    """A count in ``cell − 1`` characters (1234 → 1.2k in a 4-wide cell)."""
    s = str(value)
    if len(s) < cell:
        return s
    return f"{value / 1000:.0f}k" if value >= 1000 else s[: cell - 1]


def flips_text(per_class: np.ndarray, names: Sequence[str], a: str, b: str) -> Text:
    """Per true class: how many digits B broke (right in A only) and fixed (right in B only)."""
    broke, fixed = per_class[:, 0], per_class[:, 1]
    text = Text(no_wrap=True, overflow="crop")
    width = max(4, *(len(n) + 1 for n in names))
    text.append("class      " + "".join(f"{n:>{width}}" for n in names) + "   all\n", style="bold")
    for label, counts, style in ((f"{b} broke", broke, palette.WRONG), (f"{b} fixed", fixed, palette.TRUE)):
        text.append(f"{label[:10]:<11}")
        for v in counts:
            text.append(f"{int(v):>{width}}", style=style if v else "dim")
        text.append(f"{int(counts.sum()):>6}\n", style=f"bold {style}")
    net = fixed - broke
    text.append(f"{'net':<11}")
    for v in net:
        text.append(f"{int(v):>+{width}d}" if v else f"{0:>{width}}",
                    style="dim" if not v else (palette.TRUE if v > 0 else palette.WRONG))
    text.append(f"{int(net.sum()):>+6d}", style="bold")
    return text
