"""Which cells of a picture changed: so a widget repaints those, not all of itself.

Textual repaints a widget whole when it is refreshed, and over SSH every repainted cell is
bytes: the status line changes a few digits ten times a second, a chart a part of its curve.
``changed_spans`` compares two pictures (lists of rich ``Text`` lines) cell by cell, text and
style, and returns, per changed line, the span from its first to its last changed cell; the
widget then refreshes those regions only (``Widget.refresh(region)``).
"""

from __future__ import annotations

from rich.text import Text

Span = tuple[int, int, int]  # (line, first cell, end cell)


def _cells(line: Text) -> list[tuple[str, str]] | None:
    """(character, style) per cell; None when a character is not one cell wide."""
    plain = line.plain
    if line.cell_len != len(plain):
        return None
    base = str(line.style)
    styles = [base] * len(plain)
    for span in line.spans:
        style = str(span.style)
        for i in range(max(0, span.start), min(len(plain), span.end)):
            styles[i] = f"{styles[i]}+{style}"
    return list(zip(plain, styles, strict=True))


def changed_spans(old: list[Text] | None, new: list[Text], width: int) -> list[Span] | None:
    """The cells of ``new`` that differ from ``old``, as spans per line; None: repaint it all
    (no old picture, another line count, wide characters)."""
    if old is None or len(old) != len(new):
        return None
    spans: list[Span] = []
    for y, (before, after) in enumerate(zip(old, new, strict=True)):
        if before.plain == after.plain and before.spans == after.spans and before.style == after.style:
            continue
        a, b = _cells(before), _cells(after)
        if a is None or b is None:
            spans.append((y, 0, width))
            continue
        n = max(len(a), len(b))
        a += [(" ", "")] * (n - len(a))
        b += [(" ", "")] * (n - len(b))
        first = next((i for i in range(n) if a[i] != b[i]), None)
        if first is None:
            continue
        last = next(i for i in range(n - 1, -1, -1) if a[i] != b[i])
        spans.append((y, first, min(width, last + 1) if last + 1 < n else width))
    return spans
