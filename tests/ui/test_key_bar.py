"""The key bar: shows what the keys do where the focus is, stays put when nothing changed,
keeps the command palette key on screen at 80 columns, and a click presses the key."""

from __future__ import annotations

from textual.widgets import TabbedContent

from mnist_tui.widgets.key_bar import KeyBar
from tests.ui.conftest import wait_for

SIZE = (110, 34)


def descriptions(app) -> list[str]:
    return [entry.description for entry in app.query_one(KeyBar).entries]


def screen_line(app, y: int) -> str:
    return "".join(segment.text for segment in app.screen._compositor.render_strips()[y])


async def test_entries_follow_the_focus(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        on_setup = descriptions(app)
        assert {"Start", "Quit", "Charts", "Viewer"} <= set(on_setup)
        assert "Next" not in on_setup
        await pilot.press("v")
        await pilot.pause()
        on_viewer = descriptions(app)
        assert on_viewer[:3] == ["Next", "Prev", "Next wrong"]  # the focused view's keys come first
        assert "Only 3s" not in on_viewer  # show=False bindings stay hidden
        bottom = screen_line(app, SIZE[1] - 1)
        assert "→ Next" in bottom and "^p palette" in bottom
        await pilot.press("t")
        await pilot.pause()
        assert "Next" not in descriptions(app)


async def test_unchanged_bindings_do_not_repaint(make) -> None:
    """Textual refreshes bindings on every focus change; the bar repaints only on a real change."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        bar = app.query_one(KeyBar)
        calls: list[bool] = []
        original = bar.refresh
        bar.refresh = lambda *a, **k: (calls.append(True), original(*a, **k))[1]  # type: ignore[method-assign]
        app.screen.refresh_bindings()
        await pilot.pause()
        assert calls == []
        await pilot.press("v")
        await pilot.pause()
        assert calls, "new bindings must repaint the bar"


async def test_palette_key_stays_visible_when_entries_overflow(make) -> None:
    app = make()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        bottom = screen_line(app, 23)
        assert bottom.rstrip().endswith("^p palette")
        assert bottom.startswith(" → Next")
        assert len(bottom) == 80


async def test_click_presses_the_key(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        bar = app.query_one(KeyBar)
        start, _end, entry = next(span for span in bar._spans if span[2].description == "Viewer")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "viewer")
        assert entry.key == "v"
