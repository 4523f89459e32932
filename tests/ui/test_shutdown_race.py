"""The UI's heartbeat during shutdown: Textual prunes the screen child by child, and a tick
that lands meanwhile must not query widgets already gone (seen on a loaded CI machine)."""

from __future__ import annotations

from pathlib import Path

from mnist_tui.app import make_app
from mnist_tui.screens.runs import RunsView
from tests.runs_helpers import write_run
from tests.ui.fakes import FakeRunSource


async def test_a_tick_while_the_runs_view_is_being_removed_touches_nothing(tmp_path: Path,
                                                                           monkeypatch) -> None:
    write_run(tmp_path, "20260102-120000-mlp")
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), seed=0)
    ticked: list[bool] = []

    def tick_on_unmount(view: RunsView) -> None:
        app._next_runs_refresh = 0.0
        app._tick()  # what the 10 Hz timer may do at this very moment
        ticked.append(True)

    # The view's children are gone by its own Unmount; the tabs before it may still be there.
    monkeypatch.setattr(RunsView, "on_unmount", tick_on_unmount, raising=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("u")
        await pilot.pause(0.3)
        assert app.tabs.active == "runs"
    assert ticked  # the tick did run mid-teardown, and raised nothing (run_test re-raises)
