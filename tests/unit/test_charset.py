"""The charset decision (Unicode or ASCII), the symbol tables, the colours that survive 16
colours, and the axis ticks: the pure parts behind "it reads right in any terminal"."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys

import pytest
from rich.text import Text

from mnist_tui.render import charset, palette
from mnist_tui.render.charset import ASCII, UNICODE, ascii_mode, symbols
from mnist_tui.render.ticks import nice_ticks, tick_labels, ticks_for_rows
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(("env", "expected"), [
    ({"MNIST_TUI_ASCII": "1"}, True),
    ({"MNIST_TUI_ASCII": "yes"}, True),
    ({"MNIST_TUI_ASCII": "0"}, False),
    ({"MNIST_TUI_ASCII": "1", "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}, True),
])
def test_the_environment_variable_decides_first(env: dict[str, str], expected: bool) -> None:
    assert ascii_mode(env) is expected


def test_a_non_utf8_locale_means_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charset, "locale_encoding", lambda: "ANSI_X3.4-1968")
    assert ascii_mode({}) is True
    assert ascii_mode({"MNIST_TUI_ASCII": "0"}) is False  # the way out if detection is wrong
    assert ascii_mode({"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}) is False  # a browser tab
    monkeypatch.setattr(charset, "locale_encoding", lambda: "UTF-8")
    assert ascii_mode({}) is False


def _child_mode(env: dict[str, str]) -> str:
    code = "from mnist_tui.render.charset import ascii_mode; print(ascii_mode())"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "MNIST_TUI_ASCII"))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**keep, "PYTHONPATH": str(REPO_ROOT), **env}, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_detection_in_a_real_c_locale() -> None:
    """LANG=C LC_ALL=C: Python's UTF-8 mode says utf-8, the locale says ASCII; we believe the locale."""
    assert _child_mode({"LANG": "C", "LC_ALL": "C"}) == "True"
    assert _child_mode({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}) == "False"
    assert _child_mode({"LANG": "C", "LC_ALL": "C", "MNIST_TUI_ASCII": "0"}) == "False"


def test_ascii_symbols_are_ascii_and_unicode_ones_are_not_touched() -> None:
    for name, value in vars(ASCII).items():
        values = value if isinstance(value, tuple) else (value,)
        assert all(str(v).isascii() for v in values), name
    assert symbols({"MNIST_TUI_ASCII": "1"}) is ASCII and symbols({"MNIST_TUI_ASCII": "0"}) is UNICODE
    line = "←/→ step · m/M wrong · ✓ correct ✗ wrong · ⌈60,000 / 128⌉ · x ∈ [-5, 5] · 😀"
    assert UNICODE.text(line) == line
    out = ASCII.text(line)
    assert out.isascii() and "<-/-> step - m/M wrong - ok correct x wrong - ceil(60,000 / 128)" in out
    assert ASCII.text("┌──┬┐\n│x┤") == "+--++\n|x+"  # plotext's frame


def test_rich_text_keeps_its_styles_in_ascii() -> None:
    text = Text("true▸ ")
    text.append("7 ██▌", style="bold red")
    out = ASCII.rich(text)
    assert out.plain == "true> 7 ##:" and out.plain.isascii()
    assert [(s.start, s.end, str(s.style)) for s in out.spans] == [(6, 11, "bold red")]


def test_markers_tell_series_apart_without_colour() -> None:
    assert UNICODE.series_markers(2, "braille", distinct=False) == ["braille", "braille"]
    assert len(set(UNICODE.series_markers(3, "hd", distinct=True))) == 3
    ascii_markers = ASCII.series_markers(3, "braille", distinct=False)
    assert len(set(ascii_markers)) == 3 and all(len(m) == 1 and m.isascii() for m in ascii_markers)


@pytest.mark.parametrize(("name", "ansi"), [
    ("PREDICTED", "red"), ("WRONG", "red"), ("TRUE", "green"), ("RAW", "white"), ("LOSS", "cyan"),
    ("ACCURACY", "green"), ("TRAIN", "cyan"), ("VAL", "yellow"), ("AXIS", "cyan"), ("BAR", "bright_blue"),
])
def test_colours_keep_their_meaning_in_16_colours(name: str, ansi: str) -> None:
    assert palette.ansi16(getattr(palette, name)) == ansi


def test_series_colours_stay_distinct_in_16_colours() -> None:
    assert len({palette.ansi16(c) for c in palette.SERIES}) == len(palette.SERIES)
    assert len({palette.ansi16(c) for c in palette.ACTIVATIONS.values()}) == 3


@pytest.mark.parametrize(("lo", "hi", "count"), [
    (0.45, 1.26, 4), (0.12, 2.31, 5), (87.3, 100.0, 3), (-1.1, 5.1, 4), (0.0499, 0.0512, 3), (1, 800, 6),
    (0.0, 1e-7, 4), (-3.0, -2.5, 5), (0.1, 0.1000001, 3),
])
def test_ticks_are_nice_evenly_spaced_and_inside(lo: float, hi: float, count: int) -> None:
    ticks = nice_ticks(lo, hi, count)
    assert 2 <= len(ticks) <= count
    assert all(lo - 1e-12 <= t <= hi + 1e-12 for t in ticks)
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(steps) - min(steps) < 1e-9 * max(1.0, abs(hi))
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]) + 1e-9)
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    labels = tick_labels(ticks)
    assert len(set(labels)) == len(labels)  # no two ticks read the same
    assert all(abs(float(label) - t) <= steps[0] / 100 for label, t in zip(labels, ticks, strict=True))


def test_the_reported_axis_gets_every_tick() -> None:
    """The tester's axis read 1.26, 1.06, 0.85, 0.45: a tick had vanished."""
    _, labels = ticks_for_rows(0.45, 1.26, rows=8)
    assert labels == ["0.6", "0.8", "1.0", "1.2"]
    assert nice_ticks(1, 3, 5, integer=True) == [1.0, 2.0, 3.0]


def test_a_snapped_range_holds_its_data_and_moves_only_when_a_value_crosses_a_tick() -> None:
    from mnist_tui.render.ticks import snapped_range

    assert snapped_range(0.08, 0.67, rows=9) == (0.0, 0.8)
    assert snapped_range(0.02, 0.79, rows=9) == (0.0, 0.8)  # new values inside: the same frame
    assert snapped_range(77.5, 99.5, rows=9) == (70.0, 100.0)
    assert snapped_range(0.08, 0.81, rows=9)[1] > 0.8  # crossed the top tick: the frame grows
    assert snapped_range(3.0, 3.0, rows=9) == (3.0, 3.0)  # flat: left to the caller


def test_the_screen_in_ascii_keeps_every_cell_and_its_meaning() -> None:
    """What Textual draws itself (tab underline, scrollbar, border, select arrow, header icon)
    and anything else outside ASCII: one ASCII character per cell, escape sequences untouched."""
    from mnist_tui.render.charset import screen_ascii

    chrome = "\x1b[1;1H⭘ tabs ╸━━━━╺ border ▎│┃ corner ┌┐└┘ arrow ▼▲ bars ▁▄█ braille ⣿⠀ ← → ✓ … wide 中"
    out = screen_ascii(chrome)
    assert out.isascii()
    assert out == "\x1b[1;1Ho tabs ------ border ||| corner ++++ arrow v^ bars _## braille .  < > v . wide ??"
    assert screen_ascii("plain \x1b[31mred\x1b[0m") == "plain \x1b[31mred\x1b[0m"  # ASCII passes as is
    import random

    from rich.cells import cell_len

    rng = random.Random(0)
    for _ in range(200):  # any text: ASCII out, and no cell gained or lost
        import unicodedata

        s = "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(40))
        s = "".join(c for c in s if unicodedata.category(c)[0] != "C")
        width = cell_len(s)  # as Textual lays the cells out
        out = screen_ascii(s)
        assert out.isascii() and len(out) == width, (s, out)
