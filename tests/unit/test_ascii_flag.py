"""``mnist-tui --ascii`` reaches every process that draws: this one (MNIST_TUI_ASCII, which
trainer processes inherit) and each serve tab (the flag is replayed to it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_tui import cli
from mnist_tui.render.charset import ASCII_ENV, ascii_mode
from mnist_tui.serve import replay_flags


def test_the_flag_sets_the_variable_children_inherit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ASCII_ENV, "0")  # recorded, so the variable main() sets is undone after the test
    assert cli.main(["--ascii", "runs", "list", "--runs-dir", str(tmp_path)]) == 0
    assert os.environ[ASCII_ENV] == "1" and ascii_mode()
    assert cli.ASCII_ENV == ASCII_ENV  # one name for the flag's variable and the detection's


def test_serve_tabs_get_the_flag() -> None:
    parser = cli.build_parser()
    assert "--ascii" in replay_flags(parser, parser.parse_args(["--ascii", "--epochs", "2", "serve"]))
    assert "--ascii" not in replay_flags(parser, parser.parse_args(["serve"]))


def test_a_serve_tab_is_unicode_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser's xterm.js is UTF-8 whatever the server's locale; --ascii still wins."""
    web = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}
    monkeypatch.setattr("mnist_tui.render.charset.locale_encoding", lambda: "ANSI_X3.4-1968")
    assert ascii_mode(web) is False
    assert ascii_mode({**web, ASCII_ENV: "1"}) is True
