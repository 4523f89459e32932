"""Fewer bytes, the same screen: ``render.sgr.compact`` (colour codes as changes) and
``render.linediff.changed_spans`` (repaint only the cells that changed)."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from mnist_tui.render.linediff import changed_spans
from mnist_tui.render.sgr import compact

_TOKEN = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|([^\x1b])", re.S)


def screen(frame: str, width: int = 40, height: int = 6) -> dict[tuple[int, int], tuple[str, tuple]]:
    """A tiny terminal, written for this test (not the module's own model): each cell's
    character and the SGR state it was drawn in, after cursor moves, newlines and codes."""
    cells: dict[tuple[int, int], tuple[str, tuple]] = {}
    row = col = 0
    attrs: set[int] = set()
    fg = bg = "default"
    for params, final, char in _TOKEN.findall(frame):
        if char:
            if char == "\n":
                row, col = row + 1, 0
            else:
                cells[(row, col)] = (char, (frozenset(attrs), fg, bg))
                col += 1
            continue
        if final == "H":
            r, _, c = params.partition(";")
            row, col = int(r or 1) - 1, int(c or 1) - 1
            continue
        if final != "m":
            continue
        codes = [int(c) for c in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            n = codes[i]
            if n == 0:
                attrs, fg, bg = set(), "default", "default"
            elif n in (38, 48):
                width_ = 3 if codes[i + 1] == 5 else 5
                colour = tuple(codes[i + 1:i + width_])
                fg, bg = (colour, bg) if n == 38 else (fg, colour)
                i += width_
                continue
            elif 30 <= n <= 37:
                fg = n
            elif 40 <= n <= 47:
                bg = n
            elif n == 39:
                fg = "default"
            elif n == 49:
                bg = "default"
            else:
                attrs.add(n)
            i += 1
    return cells


def rich_frame() -> str:
    """A frame as Textual writes one: styled segments, each in its full style and reset after,
    placed by cursor moves."""
    console = Console(color_system="truecolor", width=40, force_terminal=True)
    parts = []
    lines = [
        Text.assemble(("EPOCH", "bold reverse"), " 1/5 · ", ("step", "#ff8800"), " ", ("12", "#ff8800 on #202020"),
                      " ", ("loss", "bold #00ff00"), " plain"),
        Text.assemble(("a", "red"), ("b", "red"), ("c", "red on blue"), ("d", "underline red"), ("e", "blue")),
        Text.assemble(("same", "#123456"), ("same", "#123456"), ("bold", "bold #123456"), ("back", "#123456")),
    ]
    for y, line in enumerate(lines):
        with console.capture() as cap:
            console.print(line, end="")
        parts.append(f"\x1b[{y + 1};3H{cap.get()}")
    return "".join(parts)


def test_compact_draws_the_same_cells_in_the_same_styles_with_fewer_bytes() -> None:
    frame = rich_frame()
    small = compact(frame)
    assert screen(small) == screen(frame)
    assert len(small.encode()) < 0.8 * len(frame.encode())
    assert small.endswith("\x1b[0m")  # the terminal is left in the default style


def test_compact_leaves_plain_text_and_unknown_codes_alone() -> None:
    assert compact("hello") == "hello"
    odd = "\x1b[1mA\x1b[22mB\x1b[0m"  # 22 (bold off) is not modelled: passed through as it came
    assert screen(compact(odd)) == screen(odd)


def test_changed_spans_name_only_the_cells_that_differ() -> None:
    old = [Text("epoch 1/5 · step 10/157"), Text.assemble("loss ", ("0.51", "red"))]
    new = [Text("epoch 1/5 · step 11/157"), Text.assemble("loss ", ("0.51", "green"))]
    assert changed_spans(old, new, 40) == [(0, 18, 19), (1, 5, 40)]
    # the same picture: nothing to repaint; another line count or no old picture: all of it
    assert changed_spans(new, [t.copy() for t in new], 40) == []
    assert changed_spans(None, new, 40) is None
    assert changed_spans(old[:1], new, 40) is None
