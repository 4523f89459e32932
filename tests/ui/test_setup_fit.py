"""Setup at 80×24: the Start button is on screen without scrolling, whatever the model and
however many fields are wrong, and the summary table keeps one line per layer."""

from __future__ import annotations

from textual.widgets import Button, Input, Select

from mnist_tui.models.spec import summary
from mnist_tui.widgets.model_summary import ModelSummary
from tests.ui.conftest import wait_for
from tests.ui.screen_text import widget_lines

SIZE = (80, 24)


def on_screen(app, widget) -> bool:
    r, screen = widget.region, app.screen.region
    return r.area > 0 and r.y >= screen.y and r.bottom <= screen.bottom - 1  # above the key bar


async def test_start_is_visible_and_the_summary_readable_at_80x24(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for preset in ("mlp-small", "cnn", "scratch", "mlp"):  # the app opens on mlp: it comes back last
            app.query_one("#field-preset", Select).value = preset  # as picking it does: the recipe fills in
            await pilot.pause(0.2)
            assert on_screen(app, app.query_one("#start-button", Button)), preset
            table = app.query_one(ModelSummary)
            lines = [line.rstrip() for line in widget_lines(table)]
            cfg = app.config
            assert cfg is not None and cfg.preset == preset
            for row in summary(cfg):  # one line per layer: name, shape and parameter count together
                assert any(row.name in line and line.endswith(f"{row.params:,}") for line in lines), (row, lines)
            total = sum(r.params for r in summary(cfg))
            assert any(line.endswith(f"{total:,}") and "Total params" in line for line in lines), preset
            assert all(len(line) <= table.size.width for line in lines), preset


async def test_start_stays_visible_with_many_errors(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for name, value in (("learning_rate", "-1"), ("epochs", "abc"), ("batch_size", "1e99"), ("dropout", "2"),
                            ("seed", "-4"), ("momentum", "7")):
            app.query_one(f"#field-{name}", Input).value = value
        await wait_for(pilot, lambda: len(app.config_errors) == 6)  # debounced: a fixed 0.2 s was short under load
        assert on_screen(app, app.query_one("#start-button", Button))
