"""Horizontal probability bars with eighth-block resolution, one text row per class.

Exact to 1/8 of a cell: a 0.01 and a 0.02 bar really differ, and every bar sits on its own
row. (plotext's bar rasteriser, tried first, smears adjacent bars at 10 rows high.)
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar_string(fraction: float, width: int) -> str:
    """A bar ``fraction`` (0..1) of ``width`` cells long, padded to ``width``."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[part] if part else "")
    return bar.ljust(width)[:width]


def probability_bars(
    probs: np.ndarray | None,
    true_label: int | None,
    class_names: tuple[str, ...],
    width: int,
    *,
    bar_style: str = "blue",
    predicted_style: str = "bold red",
) -> Text:
    """Ten rows: marker, class name, bar, probability. Predicted bar red, true class marked."""
    name_w = max(len(n) for n in class_names)
    bar_w = max(5, width - name_w - 27)  # marker 6, name, space, number 7, ' ◂ predicted' 12
    text = Text(no_wrap=True, overflow="crop")
    pred = int(np.argmax(probs)) if probs is not None else -1
    for k, name in enumerate(class_names):
        is_true = k == true_label
        text.append("true▸ " if is_true else "      ", style="bold green" if is_true else "")
        text.append(f"{name:>{name_w}} ", style="bold" if is_true else "")
        if probs is None:
            text.append(" " * bar_w + "      -")
        else:
            p = float(probs[k])
            text.append(bar_string(p, bar_w), style=predicted_style if k == pred else bar_style)
            text.append(f" {p:6.3f}", style=predicted_style if k == pred else "")
            if k == pred:
                text.append(" ◂ predicted", style=predicted_style)
        if k < len(class_names) - 1:
            text.append("\n")
    return text
