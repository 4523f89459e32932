"""The real app in a real pseudo-terminal: a 16-colour terminal gets the intended ANSI
colours, and a C locale (or --ascii) gets ASCII charts."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.ptyapp import PtyApp

pytestmark = pytest.mark.xdist_group("processes")  # real trainers and ptys: one after another, on one worker

SGR_TEXT = re.compile(rb"\x1b\[([0-9;]*)m([^\x1b]*)")
BRAILLE_UTF8 = re.compile(rb"\xe2[\xa0-\xa3][\x80-\xbf]")


def explore_activations(env_extra: dict[str, str], tmp_path, args: list[str] | None = None) -> bytes:
    """Open Explore → Activations (a chart with three curves, no training needed), then quit."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TERM", "MNIST_TUI_ASCII")}
    env.update({"XDG_DATA_HOME": str(tmp_path), "TERM": "xterm-256color", **env_extra})
    app = PtyApp(args or [], env)
    try:
        app.read_until(b"Hidden units", 30)
        time.sleep(0.5)
        app.write(b"\x1b")  # leave the model picker
        # l (Explore) then 2 (Activations), again until the chart shows: on a loaded machine
        # the escape and the l can reach the app in one read, which is Alt+L, not two keys.
        for _ in range(5):
            time.sleep(0.3)
            app.write(b"l")
            time.sleep(0.5)
            app.write(b"2")
            app.read_until(b"activations on x", 5)
            if b"activations on x" in app.out:
                break
        time.sleep(0.5)
        app.drain()
        assert b"activations on x" in app.out, app.out[-1000:]
        app.quit()
    finally:
        app.close()
    return app.out


def curve_colours(out: bytes) -> set[int]:
    """Foreground codes of the SGR runs that draw braille (the curves)."""
    codes: set[int] = set()
    for params, text in SGR_TEXT.findall(out):
        if BRAILLE_UTF8.search(text):
            codes |= {int(p) for p in params.split(b";") if p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97)}
    return codes


def test_a_16_colour_terminal_gets_the_intended_colours(tmp_path) -> None:
    """TERM=xterm: relu yellow, sigmoid cyan, tanh bright magenta, as the legend says, and no
    truecolor or 256-colour codes sneak in."""
    out = explore_activations({"TERM": "xterm"}, tmp_path)
    assert {33, 36, 95} <= curve_colours(out), curve_colours(out)
    assert not re.search(rb"\x1b\[[0-9;]*(?:38|48);[25];", out)


@pytest.mark.parametrize(("env", "args"), [
    ({"LANG": "C", "LC_ALL": "C"}, []),
    ({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, ["--ascii"]),
], ids=["c-locale", "ascii-flag"])
def test_a_c_locale_or_ascii_flag_draws_ascii_charts(tmp_path, env: dict[str, str], args: list[str]) -> None:
    out = explore_activations(env, tmp_path, args)
    assert b"activations on x in [-5, 5]" in out  # the title, transliterated
    assert not BRAILLE_UTF8.search(out)  # ASCII markers, not braille
    plain = re.sub(rb"\x1b\[[0-9;?<>$]*[A-Za-z]", b"", out)
    assert b"** relu" in plain and b"oo sigmoid" in plain  # the legend's ASCII swatches
    stray = sorted({chr(c) for c in out.decode("utf-8", "replace").encode("utf-32-le")[::4] if c > 127})
    assert out.isascii(), f"non-ASCII bytes reached the terminal: {stray}"  # Textual's chrome too


def test_unicode_stays_in_a_utf8_locale(tmp_path) -> None:
    out = explore_activations({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, tmp_path)
    assert "activations on x ∈ [-5, 5]".encode() in out
    assert BRAILLE_UTF8.search(out)
