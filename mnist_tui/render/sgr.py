"""Fewer bytes per frame: terminal output with its colour codes (SGR) written as changes only.

Textual writes every segment as ``ESC[<style>m text ESC[0m``: the full style before each run of
text and a reset after it, even when the next segment has the same style or differs only in
its foreground colour. Over SSH those codes were half of every frame. ``compact`` rewrites a
frame so that each code says only what changes: a segment in the style already in force gets
no code at all, one that differs in colour gets just the new colour, and a reset is written
only when an attribute (bold, reverse …) must go. What the terminal shows is the same cell for
cell; cursor moves between segments keep the style (SGR state is not tied to the cursor).

Pure string work and no Textual import: ``mnist_tui.app`` installs it on the driver's writes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A CSI sequence, an OSC string (hyperlinks), any other escape, or a run of plain text.
_TOKEN = re.compile(r"\x1b\[[0-9;?<>=!]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|[^\x1b]+", re.S)
_SGR = re.compile(r"\x1b\[([0-9;]*)m\Z")
_MOVE = re.compile(r"\x1b\[[0-9;]*[HfABCDGd]\Z")  # cursor positioning: SGR state carries over


class Style(NamedTuple):
    """The SGR state that matters here: attribute codes and the two colours (None: default)."""

    attrs: frozenset[str]
    fg: str | None
    bg: str | None


RESET = Style(frozenset(), None, None)
UNKNOWN = Style(frozenset({"?"}), "?", "?")  # after a code not modelled here: only a reset is sure


def parse(params: str, current: Style) -> Style | None:
    """The state after ``ESC[<params>m`` applied to ``current``; None when the code holds
    something this module does not model (then it is passed through, and the state forgotten)."""
    codes = params.split(";") if params else ["0"]
    if current == UNKNOWN and codes[0] not in ("", "0"):
        return None
    attrs, fg, bg = set(current.attrs), current.fg, current.bg
    i = 0
    while i < len(codes):
        code = codes[i]
        if not code.isdigit():
            return None
        n = int(code)
        if n == 0:
            attrs, fg, bg = set(), None, None
        elif n in (38, 48):
            kind = codes[i + 1] if i + 1 < len(codes) else ""
            width = 3 if kind == "5" else 5 if kind == "2" else 0
            if not width or i + width > len(codes):
                return None
            colour = ";".join(codes[i:i + width])
            if n == 38:
                fg = colour
            else:
                bg = colour
            i += width
            continue
        elif 30 <= n <= 37 or 90 <= n <= 97:
            fg = code
        elif 40 <= n <= 47 or 100 <= n <= 107:
            bg = code
        elif n == 39:
            fg = None
        elif n == 49:
            bg = None
        elif 1 <= n <= 9 or n in (21, 51, 52, 53):
            attrs.add(code)
        else:
            return None  # attribute resets (22-29) and the rest: not modelled
        i += 1
    return Style(frozenset(attrs), fg, bg)


def transition(old: Style, new: Style) -> str:
    """The shortest SGR sequence this module writes to go from ``old`` to ``new``."""
    if new in (old, UNKNOWN):
        return ""
    if new == RESET:
        return "\x1b[0m"
    if old == UNKNOWN or not old.attrs <= new.attrs:  # an attribute must go: reset, then the whole new style
        old, codes = RESET, ["0"]
    else:
        codes = []
    codes += sorted(new.attrs - old.attrs, key=int)
    if new.fg != old.fg:
        codes.append(new.fg or "39")
    if new.bg != old.bg:
        codes.append(new.bg or "49")
    return f"\x1b[{';'.join(codes)}m"


def compact(frame: str) -> str:
    """``frame`` with the same look and its SGR codes written as changes. It assumes the
    terminal is in the default style when the frame starts, and leaves it there."""
    if "\x1b[" not in frame:
        return frame
    out: list[str] = []
    state = RESET  # what the terminal has now
    want = RESET  # what the next text must be drawn in
    for token in _TOKEN.findall(frame):
        if token[0] != "\x1b":
            if "\n" in token and state != RESET:
                # A newline may scroll, and a scrolled-in line takes the current background: be plain there.
                head, _, tail = token.partition("\n")
                if head:
                    out.append(transition(state, want))
                    out.append(head)
                out.append("\x1b[0m\n")
                state = RESET
                token = tail
                if not token:
                    continue
            out.append(transition(state, want))
            out.append(token)
            state = want
            continue
        sgr = _SGR.match(token)
        if sgr is not None:
            parsed = parse(sgr.group(1), want)
            if parsed is None:  # not modelled: write what is pending, then the code as it came
                out.append(transition(state, want))
                out.append(token)
                state = want = UNKNOWN
                continue
            want = parsed
            continue
        if _MOVE.match(token) is None:
            out.append(transition(state, want))  # any other control: the style it expects is in force
            state = want
        out.append(token)
    if state != RESET:
        out.append("\x1b[0m")
    return "".join(out)
