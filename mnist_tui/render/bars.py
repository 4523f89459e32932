"""Horizontal probability bars with eighth-block resolution, one text row per class.

Exact to 1/8 of a cell: a 0.01 and a 0.02 bar really differ, and every bar sits on its own
row. (plotext's bar rasteriser, tried first, smears adjacent bars at 10 rows high.) In ASCII
mode (``mnist_tui.render.charset``) bars are ``#`` with a coarser partial cell.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from mnist_tui.render.charset import UNICODE, Symbols
from mnist_tui.render.palette import BAR, PREDICTED, TRUE

EIGHTHS = UNICODE.eighths


def bar_string(fraction: float, width: int, sym: Symbols = UNICODE) -> str:
    """A bar ``fraction`` (0..1) of ``width`` cells long, padded to ``width``."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    bar = sym.full_block * full + (sym.eighths[part] if part else "")
    return bar.ljust(width)[:width]


def probability_bars(
    probs: np.ndarray | None,
    true_label: int | None,
    class_names: tuple[str, ...],
    width: int,
    *,
    bar_style: str = BAR,
    predicted_style: str = f"bold {PREDICTED}",
    true_style: str = f"bold {TRUE}",
    sym: Symbols = UNICODE,
) -> Text:
    """Ten rows: marker, class name, bar, probability. Predicted bar red, true class marked."""
    name_w = max(len(n) for n in class_names)
    mark_w = len(sym.true_mark)
    # marker, name, space, number 7, the predicted mark
    bar_w = max(5, width - name_w - 9 - mark_w - len(sym.predicted_mark))
    text = Text(no_wrap=True, overflow="crop")
    pred = int(np.argmax(probs)) if probs is not None else -1
    for k, name in enumerate(class_names):
        is_true = k == true_label
        text.append(sym.true_mark if is_true else " " * mark_w, style=true_style if is_true else "")
        text.append(f"{sym.text(name):>{name_w}} ", style="bold" if is_true else "")
        if probs is None:
            text.append(" " * bar_w + "      -")
        else:
            p = float(probs[k])
            text.append(bar_string(p, bar_w, sym), style=predicted_style if k == pred else bar_style)
            text.append(f" {p:6.3f}", style=predicted_style if k == pred else "")
            if k == pred:
                text.append(sym.predicted_mark, style=predicted_style)
        if k < len(class_names) - 1:
            text.append("\n")
    return text
