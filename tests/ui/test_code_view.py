"""The code behind a run in the app: Setup's g swaps the summary for the script of the form
(following every change; y copies, f saves), and Runs' g shows the cursor run's script in a
modal. Setup still fits 80×24 with the code shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Input

from mnist_tui.app import make_app
from mnist_tui.codegen import script_for
from mnist_tui.runs.rundir import read_config
from mnist_tui.screens.code import CodeScreen
from mnist_tui.screens.setup import SetupView
from mnist_tui.widgets.code_view import CodeView
from tests.runs_helpers import write_run
from tests.ui.fakes import FakeRunSource
from tests.ui.test_setup_fit import on_screen


async def test_setup_shows_the_code_of_the_form_and_follows_it(make, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "g")
        await pilot.pause()
        setup, code = app.query_one(SetupView), app.query_one("#setup-code", CodeView)
        assert setup.showing_code and app.focused is code and not app.query_one("#summary-scroll").display
        assert code.code == script_for(app.config)
        assert on_screen(app, app.query_one("#start-button", Button))  # Start stays in sight at 80×24
        app.query_one("#field-epochs", Input).value = "7"
        await pilot.pause(0.2)
        assert "epochs=7," in code.code and code.code == script_for(app.config)
        code.focus()
        await pilot.press("y")
        assert app.clipboard == code.code
        await pilot.press("f")
        saved = tmp_path / "mnist_mlp.py"
        assert saved.read_text() == code.code
        assert any("Saved the script" in str(n.message) for n in app._notifications)
        await pilot.press("g")
        assert not setup.showing_code and app.query_one("#summary-scroll").display
        await pilot.press("escape", "v", "g")  # from another tab: Setup, with the code
        assert app.tabs.active == "setup" and setup.showing_code


async def test_runs_shows_the_cursor_runs_code_in_a_modal(tmp_path: Path) -> None:
    run = write_run(tmp_path, "20260102-120000-cnn", preset="cnn", epochs=3, batch_size=64, lr=5e-4)
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), seed=0)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("escape", "u")
        await pilot.pause(0.3)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, CodeScreen)
        view = app.screen.query_one(CodeView)
        assert view.code == script_for(read_config(run)) and "learning_rate=0.0005" in view.code
        assert "epochs=3, batch_size=64" in view.code and "keras.layers.Conv2D(32, (5, 5)" in view.code
        await pilot.press("f")
        assert (run / "mnist_cnn.py").read_text() == view.code
        await pilot.press("escape")
        assert not isinstance(app.screen, CodeScreen)
