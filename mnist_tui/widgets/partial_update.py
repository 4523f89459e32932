"""Partial repaints that start where the change starts, not at the widget's left edge.

Textual (8.2) writes a partial update line by line, each widget's part of the line ("chop")
from the chop's first cell to the end of the change: a changed ETA at the end of the status
line resent the whole line, a chart's new points the chart's whole row up to them. Over SSH
that was most of the bytes while training. ``install`` makes ``ChopsUpdate.render_segments``
skip the segments that end before the change, as its own ``__rich_console__`` already does;
widgets that cut their lines at word boundaries (``DiffLines``) then resend a word, not a line.
Whole segments are skipped, never split, so a wide character is never cut in half.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.control import Control

textual_render_segments: Any = None  # Textual's own, once patched (the tests compare the two)


def render_segments(self: Any, console: Console) -> str:
    """``ChopsUpdate.render_segments`` with the leading unchanged segments of each chop left out."""
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops, chop_ends = self.chops, self.chop_ends
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            if x < x1:  # skip whole segments before the change
                skip = 0
                for segment in strip:
                    width = cell_len(segment.text)
                    if x + skip + width > x1:
                        break
                    skip += width
                if skip:
                    strip = strip.crop(skip, strip.cell_length)
                    x += skip
            if end > x2:
                strip = strip.crop(0, x2 - x)
            append(move_to(x, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def install() -> bool:
    """Patch Textual's ChopsUpdate, once; False (and nothing patched) when it is not the shape
    this was written for: then partial updates stay as Textual writes them."""
    try:
        from textual._compositor import ChopsUpdate
    except ImportError:
        return False
    if getattr(ChopsUpdate, "_starts_at_change", False):
        return True
    probe = ChopsUpdate.__init__.__code__.co_varnames
    if not {"chops", "spans", "chop_ends"} <= set(probe) or not hasattr(ChopsUpdate, "render_segments"):
        return False
    global textual_render_segments
    textual_render_segments = ChopsUpdate.render_segments
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]
    ChopsUpdate._starts_at_change = True  # type: ignore[attr-defined]
    return True
