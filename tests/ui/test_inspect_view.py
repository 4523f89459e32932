"""InspectView in a bare host app: cursor keys, Enter → CellSelected, the per-class table, 80×24, NO_COLOR."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console
from textual.app import App, ComposeResult

from mnist_tui.app import APP_CSS
from mnist_tui.screens.inspect import ClassAccuracy, InspectView, accuracy_table
from mnist_tui.widgets.confusion_grid import ConfusionGrid

NAMES = tuple(str(i) for i in range(10))


def known_matrix() -> np.ndarray:
    """100 of each class; 4 is right 86 times and mistaken for a 9 14 times; 1135 1s."""
    m = np.diag([100] * 10)
    m[4, 4], m[4, 9] = 86, 14
    m[7, 7], m[7, 1], m[7, 2] = 97, 2, 1
    m[1, 1] = 1135
    return m


class Host(App[None]):
    CSS_PATH = APP_CSS  # the views are styled by the app's one stylesheet

    def __init__(self) -> None:
        super().__init__()
        self.selected: list[tuple[int, int, int]] = []

    def compose(self) -> ComposeResult:
        yield InspectView(id="inspect")

    def on_confusion_grid_cell_selected(self, message: ConfusionGrid.CellSelected) -> None:
        self.selected.append((message.true_cls, message.pred_cls, message.count))


def plain(renderable: object, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_arrows_move_and_enter_posts_the_cell_to_the_app() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(InspectView)
        view.show(known_matrix(), NAMES, "test set, final")
        view.focus()
        await pilot.pause()
        grid = app.query_one(ConfusionGrid)
        assert app.focused is grid and grid.cursor == (0, 0)
        await pilot.press("down", "down", "down", "down")
        assert grid.cursor == (4, 0)
        await pilot.press(*["right"] * 12)  # clamps at the last column
        assert grid.cursor == (4, 9)
        await pilot.press("up", "down", "left", "right")
        assert grid.cursor == (4, 9)
        cell = str(app.query_one("#inspect-cell").render())
        assert "true 4 → predicted 9: 14" in cell and "14.0% of the 100 4s" in cell
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [(4, 9, 14)]
        view.show(known_matrix() * 2, NAMES, "after epoch 2")  # a new epoch keeps the cursor
        await pilot.pause()
        assert grid.cursor == (4, 9)
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected[-1] == (4, 9, 28)


async def test_clicking_a_cell_moves_then_opens() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(InspectView)
        view.show(known_matrix(), NAMES, "test set, final")
        await pilot.pause()
        grid = app.query_one(ConfusionGrid)
        w = grid.cell_width
        offset = (grid.gutter.left + 4 + 1 * w + w - 1, grid.gutter.top + 1 + 7)  # row 7, column 1
        await pilot.click(ConfusionGrid, offset=offset)
        assert grid.cursor == (7, 1) and app.selected == []
        await pilot.click(ConfusionGrid, offset=offset)
        await pilot.pause()
        assert app.selected == [(7, 1, 2)]


def test_per_class_table_shows_the_right_percentages() -> None:
    text = plain(accuracy_table(known_matrix(), NAMES, 60))
    lines = text.splitlines()
    assert lines[0].split() == ["overall", "99.2%", "(2018/2035)"]  # 7×100 + 1135 + 86 + 97 of 2035
    row4 = next(line for line in lines if line.startswith("4 "))
    assert "86.0%" in row4 and "86/100" in row4
    row7 = next(line for line in lines if line.startswith("7 "))
    assert "97.0%" in row7 and "97/100" in row7
    assert "100.0%" in next(line for line in lines if line.startswith("0 "))
    assert "hardest: 4 (86.0%)" in text


def test_narrow_table_drops_counts_but_keeps_bars() -> None:
    lines = plain(accuracy_table(known_matrix(), NAMES, 21), width=21).splitlines()
    row4 = next(line for line in lines if line.startswith("4 "))
    assert "86.0%" in row4 and "/" not in row4 and "█" in row4
    assert all(len(line.rstrip()) <= 21 for line in lines)


async def test_fits_80x24_with_a_full_test_set() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(InspectView)
        view.show(known_matrix(), NAMES, "loaded model runs/20261122-mlp")
        await pilot.pause()
        grid = app.query_one(ConfusionGrid)
        table = app.query_one(ClassAccuracy)
        assert grid.cell_width == 5  # 1135 needs four digits and a space
        for widget in (grid, table, app.query_one("#inspect-cell")):
            region = widget.region
            assert region.width > 0 and region.right <= 80 and region.bottom <= 24, (widget, region)
        assert grid.region.width == 4 + 10 * 5 + 2  # labels, ten cells, the border
        assert "hardest: 4" in plain(table.render(), table.size.width)


async def test_clear_shows_the_message_and_enter_does_nothing() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(InspectView)
        assert "No predictions yet" in str(app.query_one("#inspect-title").render())
        view.show(known_matrix(), NAMES, "test set, final")
        view.clear("Training again: the matrix appears after the first epoch.")
        view.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == []
        assert "Training again" in str(app.query_one("#inspect-title").render())


@pytest.mark.parametrize("no_color", [False, True])
async def test_counts_render_with_and_without_colour(monkeypatch: pytest.MonkeyPatch, no_color: bool) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(InspectView)
        view.show(known_matrix(), NAMES, "test set, final")
        view.focus()
        await pilot.press("down")
        grid = app.query_one(ConfusionGrid)
        text = grid.render()
        lines = text.plain.split("\n")
        assert len(lines) == 11
        assert lines[5].split()[:2] == ["4", "│"] and lines[5].split()[-1] == "14"
        assert lines[2].split()[3] == "1135"
        backgrounds = [span.style.bgcolor for span in text.spans if hasattr(span.style, "bgcolor")]
        if no_color:
            assert not any(backgrounds)  # shading would be meaningless: plain counts
        else:
            assert any(backgrounds)
        # The cursor cell (1, 0) is reversed either way, so it shows without colour too.
        start = len("\n".join(lines[:2])) + 1 + 4
        cursor_styles = [s.style for s in text.spans if s.start == start and hasattr(s.style, "reverse")]
        assert any(style.reverse for style in cursor_styles)


async def test_hidden_view_paints_when_its_tab_opens(make) -> None:
    """Epoch ends while another tab shows leave the matrix unpainted (no relayout of a hidden
    pane); opening the tab paints the latest numbers."""
    from textual.widgets import TabbedContent

    from tests.ui.conftest import wait_for

    app = make()
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        view = app.query_one(InspectView)
        grid = app.query_one(ConfusionGrid)
        assert view.matrix is not None and view.matrix.sum() > 0
        assert grid.matrix is None  # never shown: nothing painted yet
        await pilot.press("i")
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "inspect" and grid.matrix is not None)
        assert np.array_equal(grid.matrix, view.matrix)
        assert view.title and view.title in str(app.query_one("#inspect-title").render())
