"""The setup form as a first-time user meets it: every bad field says so at once, Start names
them all, huge numbers are "too large", and the data path is checked as it is typed, off
the UI thread, whatever the path is (a FIFO, a loop, 500 characters, the wrong files)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from mnist_tui.render import datapath
from mnist_tui.widgets import hyperparams_form
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeTrainer

SIZE = (110, 34)


def error_text(app, field: str) -> str:
    label = app.query_one(f"#error-{field}", Label)
    return str(label.render()) if label.has_class("-visible") else ""


async def type_into(pilot, app, field: str, text: str) -> None:
    widget = app.query_one(f"#field-{field}", Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_every_invalid_field_shows_its_message_at_once(make, fake: FakeTrainer) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, app, "learning_rate", "-1")
        await type_into(pilot, app, "epochs", "abc")
        await type_into(pilot, app, "batch_size", "1e99")
        assert "must be in (0, 1e+06]" in error_text(app, "learning_rate")  # still there after epochs went bad
        assert "must be a whole number" in error_text(app, "epochs")
        assert error_text(app, "batch_size").endswith("too large (max 1,000,000)")
        assert set(app.config_errors) == {"learning_rate", "epochs", "batch_size"}
        await pilot.press("escape", "s")
        await pilot.pause()
        assert fake.calls == []
        refusal = [n.message for n in app._notifications if "Cannot start" in n.message][-1]
        for name in ("learning rate", "epochs", "batch size"):
            assert name in refusal
        assert "3 fields" in refusal and len(refusal) < 300  # no 100-digit number in it


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "fifo")
    return str(tmp / "fifo")


def _loop(tmp: Path) -> str:
    (tmp / "a").symlink_to(tmp / "b")
    (tmp / "b").symlink_to(tmp / "a")
    return str(tmp / "a")


def _wrong_files(tmp: Path) -> str:
    d = tmp / "photos"
    d.mkdir()
    (d / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    (d / "notes.txt").write_text("hello")
    return str(d)


def _fifo_as_idx(tmp: Path) -> str:
    d = tmp / "idx"
    d.mkdir()
    os.mkfifo(d / "train-images-idx3-ubyte")
    return str(d)


BAD_PATHS = [
    ("fifo", _fifo, "is not a regular file (a FIFO)"),
    ("fifo-as-idx", _fifo_as_idx, "train-images-idx3-ubyte: is not a regular file (a FIFO)"),
    ("long", lambda tmp: "/tmp/" + "x" * 500, "file name too long"),
    ("loop", _loop, "symlink loop"),
    ("wrong-files", _wrong_files, "no train images IDX file"),
    ("missing", lambda tmp: str(tmp / "nowhere"), "no such file or directory"),
    ("not-npz", lambda tmp: (tmp / "x.npz").write_text("no zip") and str(tmp / "x.npz"), "not an .npz archive"),
]


async def test_data_path_is_checked_as_you_type(make, fake: FakeTrainer, tmp_path: Path) -> None:
    """Each bad path in turn, in one app: its message (not the path) inline, Start refused,
    and clearing the field clears the message."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for kind, make_path, message in BAD_PATHS:
            home = tmp_path / kind
            home.mkdir()
            app.clear_notifications()
            app.query_one("#field-data_path", Input).value = make_path(home)
            await wait_for(pilot, lambda m=message: m in error_text(app, "data_path"), timeout=5)
            text = error_text(app, "data_path")
            assert len(text) < 130 and "x" * 100 not in text, kind  # the message, not the path typed
            assert app.config is None, kind
            await pilot.press("escape", "s")
            await pilot.pause()
            assert fake.calls == [], kind
            assert any("data path" in n.message for n in app._notifications if "Cannot start" in n.message), kind
            app.query_one("#field-data_path", Input).value = ""  # fixing it clears the message
            await wait_for(pilot, lambda: not error_text(app, "data_path") and app.config is not None, timeout=5)


async def test_a_good_data_path_gives_its_size(make, tiny_idx_dir: Path) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#field-data_path", Input).value = str(tiny_idx_dir)
        hint = app.query_one("#hint-steps", Label)
        await wait_for(pilot, lambda: "⌈64 / 128⌉" in str(hint.render()), timeout=5)
        assert not error_text(app, "data_path") and app.config is not None


async def test_a_hung_file_system_never_blocks_the_ui(make, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stat on a dead network mount can hang for minutes: the check runs in a thread, the
    form keeps answering, and the result lands once the file system answers."""
    release = threading.Event()
    calls: list[str] = []

    def hung(text: str, dataset: str = "mnist") -> datapath.DataPathReport:
        calls.append(text)
        if text:
            release.wait(30)
        return datapath.DataPathReport("no such file or directory" if text else None, None)

    monkeypatch.setattr(hyperparams_form, "check_data_path", hung)
    # A loaded machine takes ~0.3 s a key under Pilot: a debounce a person never outwaits mid-word.
    debounce = 2.0
    monkeypatch.setattr(hyperparams_form.HyperparamsForm, "path_debounce", debounce)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        started = time.monotonic()
        await type_into(pilot, app, "data_path", "/mnt/dead")
        await wait_for(pilot, lambda: "/mnt/dead" in calls, timeout=debounce + 5)
        await type_into(pilot, app, "epochs", "0")  # the UI thread is free meanwhile
        assert "at least 1" in error_text(app, "epochs")
        assert time.monotonic() - started < debounce + 8
        assert not error_text(app, "data_path")  # no answer yet, no message yet
        assert calls.count("/mnt/dead") == 1  # typed key by key, checked once (debounced)
        assert set(calls) == {"", "/mnt/dead"}  # no prefix of it was checked
        app.query_one("#field-data_path", Input).value = "/mnt/other"
        await pilot.pause(debounce * 1.25)
        assert "/mnt/other" not in calls  # one check at a time: a hung mount holds one thread
        release.set()
        await wait_for(pilot, lambda: "/mnt/other" in calls, timeout=5)  # then the latest text
        await wait_for(pilot, lambda: "no such file" in error_text(app, "data_path"), timeout=5)
