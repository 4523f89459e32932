"""Widgets that repaint only their changed cells (DiffLines) must leave the screen exactly as a
full repaint would: a region off by one leaves stale cells that no test of the model sees."""

from __future__ import annotations

from textual.geometry import Region
from textual.widget import Widget

from mnist_tui.widgets.diff_lines import DiffLines
from mnist_tui.widgets.prob_histogram import ProbHistogram
from mnist_tui.widgets.train_status import TrainStatus
from tests.ui.conftest import wait_for

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
