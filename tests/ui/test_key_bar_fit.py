"""The key bar at 80 and 100 columns: whole entries only, ? and q always there, and whatever
was dropped is still in the help panel and the command palette."""

from __future__ import annotations

import pytest

from mnist_tui.widgets.key_bar import KeyBar
from tests.ui.screen_text import widget_lines


@pytest.mark.parametrize("width", [80, 100])
async def test_help_and_quit_always_show_and_nothing_is_cut(make, width: int) -> None:
    app = make()
    async with app.run_test(size=(width, 30)) as pilot:
        for tab in ("t", "v", "l"):
            await pilot.press("escape", tab)
            await pilot.pause()
            bar = app.query_one(KeyBar)
            line = widget_lines(bar)[0]
            assert len(line) == width and line.rstrip().endswith("^p palette"), (tab, line)
            assert " ? Help" in line and " q Quit" in line, (tab, line)
            for entry in bar.shown:  # every entry shown is shown whole
                assert f" {entry.display} {entry.description}" in line, (tab, entry, line)
            hidden = [e for e in bar.entries if e not in bar.shown]
            if hidden:
                assert f"(+{len(hidden)})" in line, (tab, line)
            spans = {entry.description for _, _, entry in bar._spans}
            assert {e.description for e in bar.shown} <= spans, tab  # each still clickable


async def test_what_is_dropped_is_in_the_help_panel_and_the_palette(make) -> None:
    app = make()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "t")
        await pilot.pause()
        bar = app.query_one(KeyBar)
        hidden = [e for e in bar.entries if e not in bar.shown]
        assert "Explore" in {e.description for e in hidden}  # the tester's missing entry
        commands = {cmd.title for cmd in app.get_system_commands(app.screen)}
        assert "Explore the concepts" in commands
        await pilot.press("question_mark")
        await pilot.pause()
        panel = app.screen.query_one("HelpPanel")
        text = "\n".join(widget_lines(panel))
        for entry in hidden:
            assert entry.description in text or entry.display in text, entry


async def test_in_a_text_field_the_bar_says_how_to_leave_it(make) -> None:
    """Letters (and ?) type into the field, so their entries go; Esc is how to get them back."""
    app = make()
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one("#field-epochs").focus()
        await pilot.pause()
        line = widget_lines(app.query_one(KeyBar))[0]
        assert "esc Leave field" in line
        await pilot.press("escape")
        await pilot.pause()
        assert "? Help" in widget_lines(app.query_one(KeyBar))[0]
