"""Widgets that repaint only their changed cells (DiffLines) must leave the screen exactly as a
full repaint would: a region off by one leaves stale cells that no test of the model sees."""

from __future__ import annotations

import re

from textual.geometry import Region
from textual.widget import Widget

from mnist_tui.widgets.diff_lines import DiffLines
from mnist_tui.widgets.prob_histogram import ProbHistogram
from mnist_tui.widgets.train_status import TrainStatus
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeTrainer

SIZE = (110, 34)


def on_screen(widget: Widget) -> list[str]:
    """The widget's content area as the screen holds it (the compositor's cached lines)."""
    strips = widget.app.screen._compositor.render_strips()
    r = widget.content_region
    return ["".join(s.text for s in strips[y])[r.x:r.x + r.width].rstrip() for y in range(r.y, r.y + r.height)]


def fresh(widget: DiffLines) -> list[str]:
    lines = [line.plain[:widget.size.width].rstrip() for line in widget.build(widget.size.width)]
    return lines + [""] * (widget.size.height - len(lines))


def repaints(widget: Widget) -> list[tuple[Region, ...]]:
    """Record the regions of every refresh of ``widget`` (empty tuple: all of it)."""
    calls: list[tuple[Region, ...]] = []
    original = widget.refresh

    def refresh(*regions: Region, **kw: object) -> Widget:
        calls.append(regions)
        return original(*regions, **kw)  # type: ignore[arg-type]

    widget.refresh = refresh  # type: ignore[method-assign]
    return calls


async def test_the_histogram_and_status_show_what_a_full_repaint_would(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        status = app.query_one(TrainStatus)
        assert on_screen(status) == fresh(status)
        await pilot.press("v")
        await pilot.pause()
        hist = app.query_one(ProbHistogram)
        calls = repaints(hist)
        keys = ["right", "right", "m", "left_square_bracket", "right", "right_square_bracket", "left", "r",
                "left_square_bracket"]  # other digits, other epochs
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            assert on_screen(hist) == fresh(hist), key
        partial = [regions for regions in calls if regions]
        assert partial, calls  # the bars moved by parts, not the whole widget each time
        width, height = hist.size
        assert all(sum(r.width * r.height for r in regions) < width * height for regions in partial)


_TOKEN = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[([0-9;]*)m|(\n)|([^\x1b\n]+)|(\x1b.)")


def cells_written(output: str) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(column, row) -> (character, the SGR in force) for every cell a terminal write paints."""
    cells: dict[tuple[int, int], tuple[str, str | None]] = {}
    x = y = 0
    style: str | None = None
    for token in _TOKEN.finditer(output):
        row, col, sgr, _newline, text, _other = token.groups()
        if row is not None:
            x, y = int(col) - 1, int(row) - 1
        elif sgr is not None:
            style = None if sgr in ("", "0") else sgr
        elif text is not None:
            for ch in text:
                cells[(x, y)] = (ch, style)
                x += 1
    return cells


async def test_partial_updates_start_at_the_change_and_paint_what_textual_would(make) -> None:
    """Every frame while a run trains: the patched writer paints a subset of what Textual's
    own writes, identical cell for cell, and every cell of every changed span."""
    from textual._compositor import ChopsUpdate, Compositor

    from mnist_tui.widgets import partial_update

    assert partial_update.install() and partial_update.textual_render_segments is not None
    updates: list[ChopsUpdate] = []
    original = Compositor.render_update

    def render_update(self: Compositor, *args: object, **kw: object) -> object:
        update = original(self, *args, **kw)  # type: ignore[arg-type]
        if isinstance(update, ChopsUpdate):
            updates.append(update)
        return update

    Compositor.render_update = render_update  # type: ignore[method-assign]
    try:
        app = make(trainer=FakeTrainer(steps=40, batch_delay=0.02))  # ~2 s of frames, however loaded
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("escape", "s")
            await wait_for(pilot, lambda: app.history.finished is not None)
            console = app.console
            assert len(updates) > 5
            saved = 0
            for update in updates:
                ours = update.render_segments(console)
                theirs = partial_update.textual_render_segments(update, console)
                mine, textual = cells_written(ours), cells_written(theirs)
                assert all(textual.get(cell) == value for cell, value in mine.items())
                for y, x1, x2 in update.spans:
                    assert all((x, y) in mine for x in range(x1, x2) if (x, y) in textual), (y, x1, x2)
                saved += len(theirs) - len(ours)
            assert saved > 0  # and it writes less
    finally:
        Compositor.render_update = original  # type: ignore[method-assign]
