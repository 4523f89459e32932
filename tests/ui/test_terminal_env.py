"""The real app in a real pseudo-terminal: colour depth follows TERM/COLORTERM, NO_COLOR means no colour."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.ptyapp import PtyApp

TRUECOLOR = re.compile(rb"\x1b\[(?:38|48);2;")
ANY_COLOR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;[25];|48;[25];)")


def first_screen(env_extra: dict[str, str], tmp_path) -> bytes:
    """Start the app, read until the setup form is drawn, then quit."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TERM")}
    env.update({"XDG_DATA_HOME": str(tmp_path), **env_extra})
    app = PtyApp([], env)
    try:
        app.read_until(b"Hidden units", 30)
        time.sleep(0.3)  # the rest of the first frame
        app.drain()
        code = app.quit()
    finally:
        app.close()
    assert b"Hidden units" in app.out, app.out[-500:]
    assert code == 0
    return app.out


@pytest.mark.parametrize(("env", "truecolor"), [
    ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, True),
    ({"TERM": "xterm-256color"}, False),
    ({"TERM": "xterm"}, False),
])
def test_colour_depth_follows_the_terminal(tmp_path, env: dict[str, str], truecolor: bool) -> None:
    out = first_screen(env, tmp_path)
    assert bool(TRUECOLOR.search(out)) == truecolor
    assert ANY_COLOR.search(out) or TRUECOLOR.search(out)  # colour is still used, just fewer of them
    assert b"Traceback" not in out and b"cuda" not in out.lower()  # no Python or TF noise on screen


def test_no_color_draws_only_greys(tmp_path) -> None:
    """Textual honours NO_COLOR by desaturating: every colour it still sends is a grey."""
    out = first_screen({"TERM": "xterm-256color", "COLORTERM": "truecolor", "NO_COLOR": "1"}, tmp_path)
    colours = re.findall(rb"(?:38|48);2;(\d+);(\d+);(\d+)", out)
    assert colours, "expected the desaturated palette"
    assert all(r == g == b for r, g, b in colours), {c for c in colours if len(set(c)) > 1}
    assert not chromatic_sgr_codes(out)


def chromatic_sgr_codes(out: bytes) -> list[int]:
    """Basic/bright colour codes other than black, white and grey, in every SGR sequence."""
    found = []
    for params in re.findall(rb"\x1b\[([0-9;]*)m", out):
        codes = [int(p) for p in params.split(b";") if p]
        i = 0
        while i < len(codes):
            if codes[i] in (38, 48):  # extended colour: skip its arguments
                i += 5 if i + 1 < len(codes) and codes[i + 1] == 2 else 3
                continue
            if codes[i] in (*range(31, 37), *range(41, 47), *range(91, 97), *range(101, 107)):
                found.append(codes[i])
            i += 1
    return found


def test_start_right_away_while_tensorflow_is_still_loading(tmp_path, real_data_dir) -> None:
    """A newcomer presses s at once: the run must wait for the warm-up import, not trip over it."""
    env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path),
           "MNIST_TUI_DATA": str(real_data_dir)}
    app = PtyApp(["--limit", "2000", "--epochs", "1"], env)
    try:
        app.read_until(b"Hidden units", 30)
        time.sleep(0.5)  # the warm-up import starts 0.3 s after the first frame
        os.write(app.master, b"s")
        app.read_until(b"DONE", 90, stop_on=b"FAILED")
        assert b"DONE" in app.out and b"FAILED" not in app.out, app.out[-2000:]
        app.quit()
    finally:
        app.close()
    runs = list((tmp_path / "mnist-tui" / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file()
